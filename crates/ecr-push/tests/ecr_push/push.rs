//! Pushing an OCI layout: what is uploaded, mounted or skipped, tags, immutability, outputs.

use super::*;

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
        push_layout(dir, &repo, &format!("http://{}", registry()))
            .envs(default_account_env())
            .args(["--create-repository", "--immutable-tags", "--scan-on-push"])
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
