//! ecr-push against a hostile source (issue 10): an index built to exhaust memory, a registry
//! that trickles its answers, and a corrupt blob pushed to a registry that checks no digests.
//! Every case runs the real binary; the registries are loopback fakes (`test_support::fake_registry`)
//! because the real Distribution registry behaves too well.

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::*;
use test_support::Cmd;
use test_support::fake_registry::{Behaviour, FakeRegistry};

/// Regression (issue 10): a 7 MiB layout whose nested index lists one 4 MiB manifest 15 000
/// times drove ecr-push to 23 GiB of resident memory. Now a clear exit 2, before any child is
/// read and before any network call (the registry is a closed port).
#[test]
fn hostile_index_is_refused_before_reading_its_children() {
    let dir = tempfile::tempdir().unwrap();
    // One child manifest of almost 4 MiB (padded with an annotation, still a valid manifest).
    let img = write_image(dir.path(), 7, &[1000], "amd64");
    let small: serde_json::Value = serde_json::from_slice(
        &std::fs::read(blob_file(dir.path(), &img.manifest_digest)).unwrap(),
    )
    .unwrap();
    let mut big = small.clone();
    big["annotations"] = json!({"pad": "x".repeat(4 * 1024 * 1024 - 1024)});
    let big = serde_json::to_vec(&big).unwrap();
    let child = write_blob(dir.path(), &big);
    let entry = json!({"mediaType": OCI_MANIFEST, "digest": child, "size": big.len(),
                       "platform": {"os": "linux", "architecture": "amd64"}});
    let nested = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": vec![entry; 15_000],
    }))
    .unwrap();
    let nested_digest = write_blob(dir.path(), &nested);
    std::fs::write(
        dir.path().join("oci-layout"),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_INDEX, "digest": nested_digest, "size": nested.len()}]});
    std::fs::write(
        dir.path().join("index.json"),
        serde_json::to_vec(&index).unwrap(),
    )
    .unwrap();
    let layout_bytes: u64 = walk_size(dir.path());
    assert!(layout_bytes > 6 << 20, "the layout is {layout_bytes} bytes");

    let started = Instant::now();
    let out = Cmd::bin("ecr-push")
        .args([
            "--source",
            &format!("oci:{}", dir.path().display()),
            "--repository",
            "app",
            "--tag",
            "v1",
            "--registry",
            &format!("http://127.0.0.1:{}", test_support::unused_port()),
            "--no-ecr-auth",
        ])
        .timeout(Duration::from_secs(60))
        .run();
    out.assert_code(2).assert_no_panic();
    assert!(out.stderr.contains("15000 manifests"), "{}", out.stderr);
    eprintln!(
        "hostile index: {layout_bytes} byte layout refused in {:?}",
        started.elapsed()
    );
}

fn walk_size(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| {
            let m = e.metadata().unwrap();
            if m.is_dir() {
                walk_size(&e.path())
            } else {
                m.len()
            }
        })
        .sum()
}

/// A source registry that sends a manifest one byte every 200 ms (each read well inside the 60 s
/// per-read timeout) cannot hold the push: `--timeout` ends it, exit 4, on time.
#[test]
fn trickling_source_registry_cannot_hold_the_push() {
    let fake = FakeRegistry::start(Behaviour::Trickle {
        every: Duration::from_millis(200),
    });
    let started = Instant::now();
    let out = Cmd::bin("ecr-push")
        .args([
            "--source",
            &format!("docker://{}/app:v1", fake.host()),
            "--repository",
            "copy",
            "--tag",
            "v1",
            "--registry",
            &fake.url(),
            "--no-ecr-auth",
            "--timeout",
            "3s",
        ])
        .timeout(Duration::from_secs(60))
        .run();
    let took = started.elapsed();
    out.assert_code(4).assert_no_panic();
    assert!(out.stderr.contains("--timeout 3.0s"), "{}", out.stderr);
    assert!(
        fake.requests().iter().any(|r| r.contains("/manifests/v1")),
        "the trickled read really started: {:?}",
        fake.requests()
    );
    assert!(took < Duration::from_secs(10), "took {took:?}");
    eprintln!("trickling registry: ended after {took:?} with --timeout 3s");
}

/// Regression (issue 10): a layer corrupted on disk (same size) was streamed whole before its
/// hash was checked, so a registry that checks no digests committed it. Now the chunk that would
/// complete it is never sent: exit 2, and the registry holds neither the blob nor a manifest.
#[test]
fn corrupt_blob_is_not_committed_by_a_registry_that_checks_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let img = oci_layout(dir.path(), 11, &[300_000], "v1");
    let path = blob_file(dir.path(), &img.layer_digests[0]);
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&path, bytes).unwrap();
    let fake = FakeRegistry::start(Behaviour::Store);
    let push = |dir: &std::path::Path| {
        Cmd::bin("ecr-push")
            .args([
                "--source",
                &format!("oci:{}", dir.display()),
                "--repository",
                "app",
                "--tag",
                "v1",
                "--registry",
                &fake.url(),
                "--no-ecr-auth",
                "--jobs",
                "1",
            ])
            .timeout(Duration::from_secs(60))
            .run()
    };
    let out = push(dir.path());
    out.assert_code(2).assert_no_panic();
    assert!(out.stderr.contains("digest mismatch"), "{}", out.stderr);
    let layer = &img.layer_digests[0];
    let put_layer = |r: &str| r.starts_with("PUT /upload/") && r.contains(&layer[7..]);
    let requests = fake.requests_once(put_layer, Duration::from_secs(10));
    assert!(
        requests.iter().any(|r| put_layer(r)),
        "the upload was attempted: {requests:?}"
    );
    assert!(
        !fake.blobs().contains(layer),
        "the fake registry committed the corrupt layer: {:?}",
        fake.blobs()
    );
    assert!(fake.manifests().is_empty(), "{:?}", fake.manifests());

    // The same fake commits an intact image whole: it is the blob check that kept it out.
    let good = tempfile::tempdir().unwrap();
    let img = oci_layout(good.path(), 12, &[300_000], "v1");
    push(good.path()).assert_code(0);
    assert!(
        fake.blobs().contains(&img.layer_digests[0]),
        "{:?}",
        fake.blobs()
    );
}
