//! End-to-end tests: the real `ecr-push` binary against the real Distribution registry (open and
//! with Basic auth matching moto's ECR token), moto's ECR API, and skopeo as the reference client
//! that checks every result.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use support::fault_proxy;
use support::*;
use test_support::{Cmd, Output, standins, unique, unused_port};

/// moto's default account: its ECR token decodes to the auth registry's htpasswd pair.
fn default_account_env() -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ACCESS_KEY_ID", "testing".into()),
        ("AWS_SECRET_ACCESS_KEY", "testing".into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_ENDPOINT_URL", standins().moto),
    ]
}

const MOTO_TOKEN_PASSWORD: &str = "123456789012-auth-token";
const MOTO_TOKEN_B64: &str = "QVdTOjEyMzQ1Njc4OTAxMi1hdXRoLXRva2Vu";
const AUTH_CREDS: &str = "AWS:123456789012-auth-token";

fn registry() -> String {
    standins().registry
}

/// `ecr-push` against the open registry with no AWS at all.
fn push_open(source: &str, repo: &str, tags: &[&str]) -> Cmd {
    let mut cmd = Cmd::bin("ecr-push").args([
        "--source",
        source,
        "--repository",
        repo,
        "--registry",
        &format!("http://{}", registry()),
        "--no-ecr-auth",
        "--output",
        "json",
    ]);
    for t in tags {
        cmd = cmd.args(["--tag", t]);
    }
    cmd
}

fn num(out: &Output, key: &str) -> u64 {
    out.json()[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} in {}", out.stdout))
}

fn seed() -> u64 {
    fastrand::u64(..1 << 40)
}

/// A cold push uploads every blob; skopeo sees the same digest and round-trips it byte for byte.
#[test]
fn cold_push_uploads_every_blob_and_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let img = oci_layout(dir.path(), seed(), &[150_000, 40_000], "v1");
    let repo = unique("cold");
    let out = push_open(&format!("oci:{}", dir.path().display()), &repo, &["v1"]).run();
    out.assert_code(0).assert_no_panic();
    let j = out.json();
    assert_eq!(j["result"], "pushed");
    assert_eq!(j["digest"], img.manifest_digest.as_str());
    assert_eq!(num(&out, "blobs_pushed"), 3);
    assert_eq!(num(&out, "blobs_skipped"), 0);
    assert!(num(&out, "bytes_uploaded") > 150_000);
    let host = registry();
    assert_eq!(j["image_uri"], format!("{host}/{repo}:v1").as_str());
    assert_eq!(
        j["image"],
        format!("{host}/{repo}@{}", img.manifest_digest).as_str()
    );
    let reference = format!("{host}/{repo}:v1");
    assert_eq!(
        skopeo_inspect(&reference, None)["Digest"],
        img.manifest_digest.as_str()
    );
    assert_eq!(skopeo_digest(&reference, None), img.manifest_digest);
    assert_eq!(skopeo_roundtrip_oci(&reference, None), img.manifest_digest);
}

/// Re-pushing the same tag uploads nothing; a new tag in the same repo uploads nothing either.
#[test]
fn warm_repush_and_new_tag_upload_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let img = oci_layout(dir.path(), seed(), &[60_000, 20_000], "v1");
    let repo = unique("warm");
    let src = format!("oci:{}", dir.path().display());
    push_open(&src, &repo, &["v1"]).run().assert_code(0);

    let again = push_open(&src, &repo, &["v1"]).run();
    again.assert_code(0);
    assert_eq!(again.json()["result"], "unchanged");
    assert_eq!(num(&again, "blobs_skipped"), img.blob_count as u64);
    assert_eq!(num(&again, "blobs_pushed"), 0);
    assert_eq!(num(&again, "bytes_uploaded"), 0);

    let tagged = push_open(&src, &repo, &["v2"]).run();
    tagged.assert_code(0);
    assert_eq!(tagged.json()["result"], "pushed");
    assert_eq!(num(&tagged, "blobs_skipped"), img.blob_count as u64);
    assert_eq!(
        num(&tagged, "blobs_pushed") + num(&tagged, "blobs_mounted"),
        0
    );
    let reference = format!("{}/{repo}:v2", registry());
    assert_eq!(skopeo_digest(&reference, None), img.manifest_digest);

    // In text mode stdout is only the pinned image, ready for `ecs-roll --image "$(…)"`.
    let text = Cmd::bin("ecr-push")
        .args([
            "--source",
            &src,
            "--repository",
            &repo,
            "--tag",
            "v2",
            "--no-ecr-auth",
        ])
        .args(["--registry", &format!("http://{}", registry())])
        .run();
    text.assert_code(0);
    assert_eq!(
        text.stdout,
        format!("{}/{repo}@{}\n", registry(), img.manifest_digest)
    );
    assert_eq!(skopeo_roundtrip_oci(&reference, None), img.manifest_digest);
}

/// Pushing the same image to a new repository mounts every blob instead of uploading it, both
/// from the remembered repositories and from --mount-from.
#[test]
fn new_repository_mounts_blobs() {
    let dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let img = oci_layout(dir.path(), seed(), &[80_000, 10_000], "v1");
    let src = format!("oci:{}", dir.path().display());
    let first = unique("mount-a");
    push_open(&src, &first, &["v1"])
        .env("XDG_CACHE_HOME", cache.path().display().to_string())
        .run()
        .assert_code(0);

    let second = unique("mount-b");
    let out = push_open(&src, &second, &["v1"])
        .env("XDG_CACHE_HOME", cache.path().display().to_string())
        .run();
    out.assert_code(0);
    assert_eq!(
        num(&out, "blobs_mounted"),
        img.blob_count as u64,
        "{}",
        out.stdout
    );
    assert_eq!(num(&out, "bytes_uploaded"), 0);
    assert_eq!(
        skopeo_roundtrip_oci(&format!("{}/{second}:v1", registry()), None),
        img.manifest_digest
    );

    // No cache at all: --mount-from names the repository.
    let third = unique("mount-c");
    let fresh = tempfile::tempdir().unwrap();
    let out = push_open(&src, &third, &["v1"])
        .env("XDG_CACHE_HOME", fresh.path().display().to_string())
        .args(["--mount-from", &first])
        .run();
    out.assert_code(0);
    assert_eq!(num(&out, "blobs_mounted"), img.blob_count as u64);
}

/// Several tags (repeated and comma-separated) all point at the one digest.
#[test]
fn several_tags_point_at_one_digest() {
    let dir = tempfile::tempdir().unwrap();
    let img = oci_layout(dir.path(), seed(), &[30_000], "v1");
    let repo = unique("tags");
    let out = push_open(
        &format!("oci:{}", dir.path().display()),
        &repo,
        &["a", "b,c"],
    )
    .run();
    out.assert_code(0);
    assert_eq!(out.json()["tags"], "a,b,c");
    for t in ["a", "b", "c"] {
        assert_eq!(
            skopeo_digest(&format!("{}/{repo}:{t}", registry()), None),
            img.manifest_digest,
            "tag {t}"
        );
    }
}

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

/// An immutable repository (created through moto's ECR): the same digest again succeeds, a
/// different image under the same tag exits 1 naming both digests and changes nothing.
#[test]
fn immutable_tags_same_digest_ok_different_digest_fails() {
    let dir1 = tempfile::tempdir().unwrap();
    let dir2 = tempfile::tempdir().unwrap();
    let first = oci_layout(dir1.path(), seed(), &[20_000], "v1");
    let second = oci_layout(dir2.path(), seed(), &[20_000], "v1");
    let repo = unique("immutable");
    let push = |dir: &Path| {
        Cmd::bin("ecr-push")
            .envs(default_account_env())
            .args([
                "--source",
                &format!("oci:{}", dir.display()),
                "--repository",
                &repo,
                "--tag",
                "v1",
            ])
            .args([
                "--registry",
                &format!("http://{}", registry()),
                "--create-repository",
                "--immutable-tags",
                "--scan-on-push",
            ])
            .args(["--output", "json"])
            .run()
    };
    let out = push(dir1.path());
    out.assert_code(0);
    assert_eq!(out.json()["result"], "pushed");
    let again = push(dir1.path());
    again.assert_code(0);
    assert_eq!(again.json()["result"], "unchanged");

    let clash = push(dir2.path());
    clash.assert_code(1).assert_no_panic();
    assert_eq!(clash.json()["result"], "tag_conflict");
    assert!(
        clash.stderr.contains(&first.manifest_digest),
        "{}",
        clash.stderr
    );
    assert!(
        clash.stderr.contains(&second.manifest_digest),
        "{}",
        clash.stderr
    );
    assert_eq!(
        clash.json()["existing_digest"],
        first.manifest_digest.as_str()
    );
    assert_eq!(
        skopeo_digest(&format!("{}/{repo}:v1", registry()), None),
        first.manifest_digest
    );
}

/// The auth registry accepts moto's ECR token (used as Basic credentials); the token never
/// appears in stdout, outputs or the summary, and on stderr only inside `::add-mask::`.
#[test]
fn auth_registry_with_ecr_token_and_masking() {
    let dir = tempfile::tempdir().unwrap();
    let img = oci_layout(dir.path(), seed(), &[40_000], "v1");
    let repo = unique("auth");
    let out = Cmd::bin("ecr-push")
        .github_actions()
        .envs(default_account_env())
        .args([
            "--source",
            &format!("oci:{}", dir.path().display()),
            "--repository",
            &repo,
            "--tag",
            "v1",
        ])
        .args([
            "--registry",
            &format!("http://{}", standins().registry_auth),
            "--create-repository",
            "--output",
            "json",
        ])
        .run();
    out.assert_code(0);
    assert_eq!(out.output("digest"), img.manifest_digest);
    assert_eq!(
        out.output("image_uri"),
        format!("{}/{repo}:v1", standins().registry_auth)
    );
    assert_eq!(out.output("blobs_pushed"), "2");
    assert!(
        out.summary.contains(&img.manifest_digest),
        "{}",
        out.summary
    );
    assert!(out.summary.contains("| Blobs |"), "{}", out.summary);
    for secret in [MOTO_TOKEN_PASSWORD, MOTO_TOKEN_B64] {
        assert!(!out.stdout.contains(secret));
        assert!(!out.summary.contains(secret));
        assert!(out.outputs.values().all(|v| !v.contains(secret)));
        for line in out.stderr.lines().filter(|l| l.contains(secret)) {
            assert!(
                line.starts_with("::add-mask::"),
                "unmasked secret on stderr: {line}"
            );
        }
    }
    assert!(
        out.stderr
            .contains(&format!("::add-mask::{MOTO_TOKEN_PASSWORD}"))
    );
    let reference = format!("{}/{repo}:v1", standins().registry_auth);
    assert_eq!(
        skopeo_digest(&reference, Some(AUTH_CREDS)),
        img.manifest_digest
    );
    assert_eq!(
        skopeo_roundtrip_oci(&reference, Some(AUTH_CREDS)),
        img.manifest_digest
    );

    // Outside Actions nothing registers masks, so the token must not be on stderr at all.
    let out = Cmd::bin("ecr-push")
        .envs(default_account_env())
        .args([
            "--source",
            &format!("oci:{}", dir.path().display()),
            "--repository",
            &repo,
            "--tag",
            "v1",
        ])
        .args([
            "--registry",
            &format!("http://{}", standins().registry_auth),
        ])
        .run();
    out.assert_code(0);
    assert!(
        !out.stderr.contains(MOTO_TOKEN_PASSWORD) && !out.stderr.contains(MOTO_TOKEN_B64),
        "{}",
        out.stderr
    );
}

/// Behind token authentication (a `Bearer` challenge), the ECR credentials are traded for a
/// token at the advertised realm and the push completes.
#[test]
fn bearer_challenge_is_answered_through_the_token_service() {
    let dir = tempfile::tempdir().unwrap();
    let img = oci_layout(dir.path(), seed(), &[30_000], "v1");
    let gate = fault_proxy::BearerGate {
        basic: format!("Basic {MOTO_TOKEN_B64}"),
        token: "test-bearer-token".into(),
    };
    let proxy = fault_proxy::start_bearer(&registry(), gate);
    let repo = unique("bearer");
    let out = Cmd::bin("ecr-push")
        .envs(default_account_env())
        .args([
            "--source",
            &format!("oci:{}", dir.path().display()),
            "--repository",
            &repo,
            "--tag",
            "v1",
        ])
        .args([
            "--registry",
            &format!("http://{}", proxy.addr),
            "--create-repository",
            "--output",
            "json",
        ])
        .run();
    out.assert_code(0);
    assert_eq!(out.json()["digest"], img.manifest_digest.as_str());
    assert!(
        proxy
            .counts
            .tokens
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 1
    );
    assert_eq!(
        skopeo_digest(&format!("{}/{repo}:v1", registry()), None),
        img.manifest_digest
    );
}

/// A repository that does not exist is not created behind the user's back: exit 3 with the
/// flag that would create it.
#[test]
fn missing_repository_needs_create_repository() {
    let dir = tempfile::tempdir().unwrap();
    oci_layout(dir.path(), seed(), &[5_000], "v1");
    let out = Cmd::bin("ecr-push")
        .envs(default_account_env())
        .args([
            "--source",
            &format!("oci:{}", dir.path().display()),
            "--repository",
            &unique("absent"),
            "--tag",
            "v1",
        ])
        .args(["--registry", &format!("http://{}", registry())])
        .run();
    out.assert_code(3).assert_no_panic();
    assert!(
        out.stderr.contains("does not exist") && out.stderr.contains("--create-repository"),
        "{}",
        out.stderr
    );
}

/// Another account's token is refused by the auth registry: exit 3, nothing pushed, no secret.
#[test]
fn wrong_registry_password_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    oci_layout(dir.path(), seed(), &[10_000], "v1");
    let account = test_support::moto_account();
    let out = Cmd::bin("ecr-push")
        .aws(&account)
        .args([
            "--source",
            &format!("oci:{}", dir.path().display()),
            "--repository",
            &unique("denied"),
            "--tag",
            "v1",
        ])
        .args([
            "--registry",
            &format!("http://{}", standins().registry_auth),
            "--create-repository",
        ])
        .run();
    out.assert_code(3).assert_no_panic();
    assert!(
        out.stderr.contains("refused our credentials"),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr
            .contains(&format!("{}-auth-token", account.account_id))
    );
}

/// A registry nobody listens on: exit 3, quickly.
#[test]
fn unreachable_registry_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    oci_layout(dir.path(), seed(), &[10_000], "v1");
    let start = Instant::now();
    let out = Cmd::bin("ecr-push")
        .args([
            "--source",
            &format!("oci:{}", dir.path().display()),
            "--repository",
            "web",
            "--tag",
            "v1",
        ])
        .args([
            "--registry",
            &format!("http://127.0.0.1:{}", unused_port()),
            "--no-ecr-auth",
        ])
        .run();
    out.assert_code(3).assert_no_panic();
    assert!(
        out.stderr.contains("cannot reach the registry"),
        "{}",
        out.stderr
    );
    assert!(start.elapsed() < Duration::from_secs(10));
}

/// Every bad input exits 2 with the reason before any network call: AWS and the registry point
/// at a dead port, which would otherwise give exit 3.
#[test]
fn bad_inputs_exit_2_before_any_network() {
    let dead = format!("http://127.0.0.1:{}", unused_port());
    let good = tempfile::tempdir().unwrap();
    let img = oci_layout(good.path(), seed(), &[10_000], "v1");
    let good_src = format!("oci:{}", good.path().display());

    let not_layout = tempfile::tempdir().unwrap();
    std::fs::write(not_layout.path().join("hello.txt"), "hi").unwrap();

    // The manifest blob rewritten in place: digest mismatch in the layout.
    let tampered = tempfile::tempdir().unwrap();
    let t = oci_layout(tampered.path(), seed(), &[10_000], "v1");
    let mpath = blob_file(tampered.path(), &t.manifest_digest);
    let mut m = std::fs::read(&mpath).unwrap();
    let last = m.len() - 1;
    m[last - 1] = b' ';
    std::fs::write(&mpath, m).unwrap();

    // A layer missing.
    let missing = tempfile::tempdir().unwrap();
    let mi = oci_layout(missing.path(), seed(), &[10_000], "v1");
    std::fs::remove_file(blob_file(missing.path(), &mi.layer_digests[0])).unwrap();

    let archive_dir = tempfile::tempdir().unwrap();
    let truncated = archive_dir.path().join("truncated.tar");
    let full = archive_dir.path().join("full.tar");
    docker_archive(&full, seed(), &[30_000]);
    let bytes = std::fs::read(&full).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    // A layer byte flipped inside an intact tar: only the diff-id check can tell.
    let flipped = archive_dir.path().join("flipped.tar");
    let mut fb = bytes.clone();
    let middle = fb.len() / 2;
    fb[middle] ^= 0xff;
    std::fs::write(&flipped, fb).unwrap();
    let garbage = archive_dir.path().join("garbage.tar");
    std::fs::write(&garbage, random_bytes(1, 5000)).unwrap();

    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["--source".into(), "oci:/no/such/dir".into()],
            "no such directory",
        ),
        (
            vec![
                "--source".into(),
                format!("oci:{}", not_layout.path().display()),
            ],
            "not an OCI image layout",
        ),
        (
            vec![
                "--source".into(),
                format!("oci:{}", tampered.path().display()),
            ],
            "digest mismatch",
        ),
        (
            vec![
                "--source".into(),
                format!("oci:{}", missing.path().display()),
            ],
            "missing",
        ),
        (
            vec![
                "--source".into(),
                format!("oci:{}:nope", good.path().display()),
            ],
            "no image named `nope`",
        ),
        (
            vec![
                "--source".into(),
                format!("docker-archive:{}", truncated.display()),
            ],
            "corrupt",
        ),
        (
            vec![
                "--source".into(),
                format!("docker-archive:{}", flipped.display()),
            ],
            "but the config records",
        ),
        (
            vec![
                "--source".into(),
                format!("docker-archive:{}", garbage.display()),
            ],
            "tarball",
        ),
        (
            vec!["--source".into(), "docker-archive:/no/such.tar".into()],
            "no such file",
        ),
        (
            vec!["--source".into(), good.path().display().to_string()],
            "oci:",
        ),
        (
            vec![
                "--source".into(),
                good_src.clone(),
                "--repository".into(),
                "Team/Web".into(),
            ],
            "lowercase",
        ),
        (
            vec![
                "--source".into(),
                good_src.clone(),
                "--repository".into(),
                "web--".into(),
            ],
            "repository",
        ),
        (
            vec![
                "--source".into(),
                good_src.clone(),
                "--tag".into(),
                "-bad".into(),
            ],
            "tag",
        ),
        (
            vec![
                "--source".into(),
                good_src.clone(),
                "--tag".into(),
                "a b".into(),
            ],
            "tag",
        ),
        (
            vec![
                "--source".into(),
                good_src.clone(),
                "--platform".into(),
                "linux".into(),
            ],
            "os/arch",
        ),
        (
            vec![
                "--source".into(),
                good_src.clone(),
                "--jobs".into(),
                "0".into(),
            ],
            "--jobs",
        ),
        (
            vec![
                "--source".into(),
                good_src.clone(),
                "--registry".into(),
                "http://10.1.2.3:5000".into(),
            ],
            "plain HTTP",
        ),
        (
            vec![
                "--source".into(),
                good_src.clone(),
                "--registry".into(),
                "127.0.0.1:5000".into(),
            ],
            "not a URL",
        ),
        (
            vec!["--source".into(), "docker://web:v1".into()],
            "registry host",
        ),
    ];
    for (args, expect) in cases {
        let mut all = args.clone();
        for (flag, default) in [
            ("--repository", "web"),
            ("--tag", "v1"),
            ("--registry", dead.as_str()),
        ] {
            if !all.iter().any(|a| a == flag) {
                all.extend([flag.to_string(), default.to_string()]);
            }
        }
        let start = Instant::now();
        let out = Cmd::bin("ecr-push")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ENDPOINT_URL", dead.clone())
            .args(all)
            .run();
        assert_eq!(
            out.code, 2,
            "{args:?}: expected exit 2\nstderr:\n{}",
            out.stderr
        );
        assert!(
            out.stderr.contains(expect),
            "{args:?}: expected `{expect}` in:\n{}",
            out.stderr
        );
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{args:?} took {:?}",
            start.elapsed()
        );
        out.assert_no_panic();
    }
    let _ = img;
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

/// `--output json` is one object with every documented output; $GITHUB_OUTPUT and the summary
/// carry the same values.
#[test]
fn json_and_github_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let img = oci_layout(dir.path(), seed(), &[10_000], "v1");
    let repo = unique("outputs");
    let out = push_open(
        &format!("oci:{}", dir.path().display()),
        &repo,
        &["v1", "latest"],
    )
    .github_actions()
    .run();
    out.assert_code(0);
    let j = out.json();
    for key in [
        "tool",
        "outcome",
        "exit_code",
        "result",
        "message",
        "image_uri",
        "image",
        "digest",
        "registry",
        "repository",
        "tags",
        "blobs_pushed",
        "blobs_skipped",
        "blobs_mounted",
        "bytes_uploaded",
        "duration_s",
        "detail",
    ] {
        assert!(j.get(key).is_some(), "no `{key}` in {j}");
    }
    assert_eq!(j["tool"], "ecr-push");
    assert_eq!(j["outcome"], "succeeded");
    assert!(j["duration_s"].as_f64().unwrap() > 0.0);
    assert_eq!(j["detail"]["blobs"].as_array().unwrap().len(), 2);
    assert_eq!(out.output("result"), "pushed");
    assert_eq!(out.output("digest"), img.manifest_digest);
    assert_eq!(
        out.output("image"),
        format!("{}/{repo}@{}", registry(), img.manifest_digest)
    );
    assert_eq!(out.output("image_uri"), format!("{}/{repo}:v1", registry()));
    assert_eq!(
        out.output("bytes_uploaded"),
        j["bytes_uploaded"].to_string()
    );
    assert!(
        out.summary
            .contains(&format!("`{}/{repo}@{}`", registry(), img.manifest_digest)),
        "{}",
        out.summary
    );
    assert!(out.summary.contains("`v1`, `latest`"), "{}", out.summary);
}

/// Memory stays bounded whatever the layer size: a 48 MiB layer streams through in a fraction
/// of its size (a regression to reading layers whole would need ≥ 48 MiB).
#[test]
fn memory_stays_bounded_on_a_large_layer() {
    let dir = tempfile::tempdir().unwrap();
    let img = oci_layout(dir.path(), seed(), &[48 << 20], "v1");
    let out = Cmd::new("/usr/bin/time")
        .args([
            "-f",
            "max-rss-kib=%M",
            test_support::bin_path("ecr-push")
                .display()
                .to_string()
                .as_str(),
        ])
        .args([
            "--source",
            &format!("oci:{}", dir.path().display()),
            "--repository",
            &unique("big"),
            "--tag",
            "v1",
        ])
        .args([
            "--registry",
            &format!("http://{}", registry()),
            "--no-ecr-auth",
            "--output",
            "json",
        ])
        .run();
    out.assert_code(0);
    assert_eq!(out.json()["digest"], img.manifest_digest.as_str());
    let kib: u64 = out
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("max-rss-kib="))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no RSS in {}", out.stderr));
    assert!(kib < 40 * 1024, "peak RSS {kib} KiB pushing a 48 MiB layer");
}

/// A large upload cut off halfway (the registry has half the bytes) is started over from a fresh
/// session and completes with the right digest — never committed short, never resumed onto a
/// stale session (Distribution pins each session's offset in its `_state` token and answers
/// `BLOB_UPLOAD_INVALID` once a broken PUT has left bytes behind, so it cannot be continued).
#[test]
fn broken_large_upload_restarts_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let img = oci_layout(dir.path(), seed(), &[24 << 20], "v1");
    let proxy = fault_proxy::start_truncating(&registry(), 1);
    let repo = unique("restart");
    let out = Cmd::bin("ecr-push")
        .args([
            "--source",
            &format!("oci:{}", dir.path().display()),
            "--repository",
            &repo,
            "--tag",
            "v1",
        ])
        .args([
            "--registry",
            &format!("http://{}", proxy.addr),
            "--no-ecr-auth",
            "--output",
            "json",
        ])
        .run();
    out.assert_code(0);
    assert_eq!(out.json()["digest"], img.manifest_digest.as_str());
    assert_eq!(
        proxy
            .counts
            .truncated
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    let total = num(&out, "bytes_uploaded");
    let sent = proxy
        .counts
        .body_bytes
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        sent >= total + total / 3,
        "{sent} body bytes for {total}: the broken half and a full retry"
    );
    assert_eq!(
        skopeo_roundtrip_oci(&format!("{}/{repo}:v1", registry()), None),
        img.manifest_digest
    );
}

/// Through a proxy that drops connections, answers 429 and 503 and stalls at random (seeded),
/// 50 pushes in a row all complete, each verified by digest. `DK_FAULTY_PUSHES=N` changes the
/// count (`scripts/reliability`, which also reads the recorded figures).
#[test]
fn fifty_pushes_through_a_faulty_proxy() {
    #[allow(clippy::disallowed_methods)]
    let pushes: u64 = std::env::var("DK_FAULTY_PUSHES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(50);
    let proxy = fault_proxy::start(&registry(), 0x5eed_fa17, 0.04);
    let dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let start = Instant::now();
    let mut digests = Vec::new();
    let mut failures = Vec::new();
    let run_id = fastrand::u32(..);
    for i in 0..pushes {
        // A few images over several repos: fresh uploads, skips, new tags and mounts all happen.
        let layout = dir.path().join(format!("img{}", i % 5));
        if !layout.exists() {
            std::fs::create_dir_all(&layout).unwrap();
            oci_layout(&layout, 77 + i, &[24_000, 6_000], "v1");
        }
        let repo = format!("faulty-{run_id:x}/r{}", i % 7);
        let out = Cmd::bin("ecr-push")
            .env("XDG_CACHE_HOME", cache.path().display().to_string())
            .args([
                "--source",
                &format!("oci:{}", layout.display()),
                "--repository",
                &repo,
                "--tag",
                &format!("t{i}"),
            ])
            .args([
                "--registry",
                &format!("http://{}", proxy.addr),
                "--no-ecr-auth",
                "--output",
                "json",
            ])
            .timeout(Duration::from_secs(60))
            .run();
        out.assert_no_panic();
        let digest = out.json()["digest"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let stored = if out.code == 0 && !digest.is_empty() {
            skopeo_digest(&format!("{}/{repo}:t{i}", registry()), None)
        } else {
            String::new()
        };
        if !stored.is_empty() && stored == digest {
            digests.push(digest);
        } else {
            failures.push(format!(
                "push {i}: exit {}, digest {digest:?}, registry holds {stored:?}\n{}",
                out.code, out.stderr
            ));
        }
    }
    let c = &proxy.counts;
    let faults = [&c.dropped, &c.too_many, &c.unavailable, &c.delayed]
        .map(|a| a.load(std::sync::atomic::Ordering::Relaxed));
    test_support::figures::record(
        "faulty_pushes",
        serde_json::json!({
            "pushes": pushes,
            "verified": digests.len(),
            "faults": faults.iter().sum::<u64>(),
            "seconds": start.elapsed().as_secs_f64(),
        }),
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        faults.iter().all(|&n| n > 0),
        "every fault kind happened: {faults:?}"
    );
    assert!(
        start.elapsed() < Duration::from_secs(60 * pushes / 50 + 10),
        "took {:?}",
        start.elapsed()
    );
    assert_eq!(digests.len() as u64, pushes);
}
