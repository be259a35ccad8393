//! Every source: `docker save` tarballs (old and v25 layouts), a registry, multi-platform indexes, a corrupt layer.

use super::*;

/// A `docker save` tarball is pushed as a Docker v2 schema 2 image whose layers are the
/// uncompressed tars (digest = diff-id); skopeo reads it back unchanged.
#[test]
fn docker_archive_source() {
    let dir = tempfile::tempdir().unwrap();
    let tar = dir.path().join("web.tar");
    let diff_ids = docker_archive(&tar, seed(), &[70_000, 9_000]);
    let repo = unique("archive");
    let out = push_open(&format!("docker-archive:{}", tar.display()), &repo, &["v1"]).run();
    out.assert_code(0);
    let j = out.json();
    assert_eq!(
        j["media_type"],
        "application/vnd.docker.distribution.manifest.v2+json"
    );
    assert_eq!(num(&out, "blobs_pushed"), 3);
    let reference = format!("{}/{repo}:v1", registry());
    let inspect = skopeo_inspect(&reference, None);
    let layers: Vec<&str> = inspect["Layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert_eq!(
        layers,
        diff_ids.iter().map(String::as_str).collect::<Vec<_>>()
    );
    assert_eq!(
        skopeo_digest(&reference, None),
        j["digest"].as_str().unwrap()
    );
    assert_eq!(
        skopeo_roundtrip_dir(&reference),
        j["digest"].as_str().unwrap()
    );
    // By REPO:TAG inside the archive, too.
    let out = push_open(
        &format!("docker-archive:{}:web:latest", tar.display()),
        &repo,
        &["v2"],
    )
    .run();
    out.assert_code(0);
    assert_eq!(out.json()["digest"], j["digest"]);
}

/// A Docker 25+ archive (blobs, symlinked layer paths, a gzip layer) pushes with each layer's
/// own digest and media type; the diff-ids in the config still match.
#[test]
fn docker_archive_v25_layout_with_symlinks_and_gzip_layer() {
    let dir = tempfile::tempdir().unwrap();
    let tar = dir.path().join("v25.tar");
    let (diff_ids, digests) = docker_archive_v25(&tar, seed());
    let repo = unique("archive25");
    let out = push_open(&format!("docker-archive:{}", tar.display()), &repo, &["v1"]).run();
    out.assert_code(0);
    let j = out.json();
    let media: Vec<&str> = j["detail"]["blobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["media_type"].as_str().unwrap())
        .collect();
    assert!(
        media.contains(&"application/vnd.docker.image.rootfs.diff.tar"),
        "{media:?}"
    );
    assert!(
        media.contains(&"application/vnd.docker.image.rootfs.diff.tar.gzip"),
        "{media:?}"
    );
    let reference = format!("{}/{repo}:v1", registry());
    let raw = skopeo_inspect_raw(&reference);
    let layers: Vec<&str> = raw["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["digest"].as_str().unwrap())
        .collect();
    assert_eq!(
        layers,
        digests.iter().map(String::as_str).collect::<Vec<_>>()
    );
    assert_ne!(digests[1], diff_ids[1]);
    assert_eq!(
        skopeo_roundtrip_dir(&reference),
        out.json()["digest"].as_str().unwrap()
    );
}

/// Registry to registry: within one registry blobs are mounted from the source repository
/// (a promotion is just a manifest); into the auth registry they are copied blob by blob.
#[test]
fn registry_to_registry_copy() {
    let dir = tempfile::tempdir().unwrap();
    let img = oci_layout(dir.path(), seed(), &[50_000, 5_000], "v1");
    let src_repo = unique("src");
    push_open(
        &format!("oci:{}", dir.path().display()),
        &src_repo,
        &["rc1"],
    )
    .run()
    .assert_code(0);
    let source = format!("docker://{}/{src_repo}:rc1", registry());

    let promoted = unique("promoted");
    let fresh = tempfile::tempdir().unwrap();
    let out = push_open(&source, &promoted, &["v1"])
        .env("XDG_CACHE_HOME", fresh.path().display().to_string())
        .run();
    out.assert_code(0);
    assert_eq!(out.json()["digest"], img.manifest_digest.as_str());
    assert_eq!(num(&out, "blobs_mounted"), img.blob_count as u64);
    assert_eq!(
        skopeo_roundtrip_oci(&format!("{}/{promoted}:v1", registry()), None),
        img.manifest_digest
    );

    let copied = unique("copied");
    let out = Cmd::bin("ecr-push")
        .envs(default_account_env())
        .args([
            "--source",
            &source,
            "--repository",
            &copied,
            "--tag",
            "v1",
            "--create-repository",
            "--output",
            "json",
        ])
        .args([
            "--registry",
            &format!("http://{}", standins().registry_auth),
        ])
        .run();
    out.assert_code(0);
    assert_eq!(num(&out, "blobs_pushed"), img.blob_count as u64);
    let reference = format!("{}/{copied}:v1", standins().registry_auth);
    assert_eq!(
        skopeo_digest(&reference, Some(AUTH_CREDS)),
        img.manifest_digest
    );
    assert_eq!(
        skopeo_roundtrip_oci(&reference, Some(AUTH_CREDS)),
        img.manifest_digest
    );
}

/// A multi-platform index is pushed whole (same index digest back), and --platform pushes just
/// that platform's own manifest.
#[test]
fn multi_platform_index_and_platform_filter() {
    let dir = tempfile::tempdir().unwrap();
    let built = oci_index_layout(dir.path(), seed(), &["amd64", "arm64"], "multi");
    let src = format!("oci:{}:multi", dir.path().display());
    let repo = unique("multi");
    let out = push_open(&src, &repo, &["all"]).run();
    out.assert_code(0);
    assert_eq!(out.json()["digest"], built.index_digest.as_str());
    assert_eq!(out.json()["platforms"], "linux/amd64,linux/arm64");
    assert_eq!(num(&out, "blobs_pushed"), 6);
    let reference = format!("{}/{repo}:all", registry());
    assert_eq!(skopeo_digest(&reference, None), built.index_digest);
    assert_eq!(skopeo_roundtrip_oci(&reference, None), built.index_digest);
    for (platform, img) in &built.images {
        let by_digest = format!("{}/{repo}@{}", registry(), img.manifest_digest);
        assert_eq!(
            skopeo_digest(&by_digest, None),
            img.manifest_digest,
            "{platform}"
        );
    }

    let arm = &built.images[1].1;
    let out = push_open(&src, &repo, &["arm64"])
        .args(["--platform", "linux/arm64"])
        .run();
    out.assert_code(0);
    assert_eq!(out.json()["digest"], arm.manifest_digest.as_str());
    assert_eq!(
        skopeo_roundtrip_oci(&format!("{}/{repo}:arm64", registry()), None),
        arm.manifest_digest
    );

    // The index copied registry to registry, whole and filtered.
    let copy = unique("multi-copy");
    let source = format!("docker://{}/{repo}:all", registry());
    let out = push_open(&source, &copy, &["all"]).run();
    out.assert_code(0);
    assert_eq!(out.json()["digest"], built.index_digest.as_str());
    let amd = &built.images[0].1;
    let out = push_open(&source, &copy, &["amd64"])
        .args(["--platform", "linux/amd64"])
        .run();
    out.assert_code(0);
    assert_eq!(out.json()["digest"], amd.manifest_digest.as_str());
    assert_eq!(
        skopeo_roundtrip_oci(&format!("{}/{copy}:amd64", registry()), None),
        amd.manifest_digest
    );

    let out = push_open(&src, &repo, &["x"])
        .args(["--platform", "linux/s390x"])
        .run();
    out.assert_code(2);
    assert!(
        out.stderr.contains("linux/amd64, linux/arm64"),
        "{}",
        out.stderr
    );
}

/// A layer corrupted in place (same size, so only its hash can tell) is caught while streaming:
/// exit 2, and the registry never gets the blob or the tag.
#[test]
fn corrupt_layer_is_caught_while_streaming() {
    let dir = tempfile::tempdir().unwrap();
    let img = oci_layout(dir.path(), seed(), &[100_000], "v1");
    let path = blob_file(dir.path(), &img.layer_digests[0]);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[50_000] ^= 0xff;
    std::fs::write(&path, bytes).unwrap();
    let repo = unique("corrupt");
    let out = push_open(&format!("oci:{}", dir.path().display()), &repo, &["v1"]).run();
    out.assert_code(2).assert_no_panic();
    assert!(out.stderr.contains("digest mismatch"), "{}", out.stderr);
    let (status, _) = test_support::http_request(
        &format!("http://{}", registry()),
        "HEAD",
        &format!("/v2/{repo}/manifests/v1"),
        &[],
        b"",
    );
    assert_eq!(status, 404);
}
