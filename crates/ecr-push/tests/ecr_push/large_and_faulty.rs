//! Large layers stream in bounded memory, and broken connections restart cleanly.

use super::*;

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
    let out = push_layout(dir.path(), &repo, &format!("http://{}", proxy.addr))
        .args(["--no-ecr-auth", "--output", "json"])
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
