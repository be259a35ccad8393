//! Bad input exits 2 before any network call.

use super::*;

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
