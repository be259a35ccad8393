//! scripts/install: a release archive is installed only when its sha256 matches (fail closed),
//! and links named after every tool are created. Served from a loopback HTTP server.

use std::process::Command;

use test_support::{bin_path, workspace_root};

fn serve(dir: &std::path::Path) -> (std::process::Child, String) {
    let port = test_support::unused_port();
    let child = Command::new("python3")
        .args([
            "-m",
            "http.server",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--directory",
        ])
        .arg(dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(30));
    }
    (child, format!("http://127.0.0.1:{port}"))
}

const ARCHIVE: &str = "deploy-kit-v9.9.9-x86_64-unknown-linux-gnu.tar.gz";

fn release_dir(checksum_ok: bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let rel = dir.path().join("v9.9.9");
    std::fs::create_dir_all(&rel).unwrap();
    std::fs::copy(bin_path("deploy-kit"), dir.path().join("deploy-kit")).unwrap();
    let archive = rel.join(ARCHIVE);
    let st = Command::new("tar")
        .arg("-czf")
        .arg(&archive)
        .arg("-C")
        .arg(dir.path())
        .arg("deploy-kit")
        .status()
        .unwrap();
    assert!(st.success());
    let sum = Command::new("sha256sum").arg(&archive).output().unwrap();
    let mut text = String::from_utf8(sum.stdout).unwrap();
    if !checksum_ok {
        text = format!("{}{}", "0".repeat(64), &text[64..]);
    }
    std::fs::write(rel.join(format!("{ARCHIVE}.sha256")), text).unwrap();
    dir
}

fn install(base: &str, prefix: &std::path::Path) -> std::process::Output {
    Command::new(workspace_root().join("scripts/install"))
        .env("DK_VERSION", "v9.9.9")
        .env("DK_RELEASE_BASE_URL", base)
        .env_remove("GITHUB_PATH")
        .arg("--prefix")
        .arg(prefix)
        .output()
        .unwrap()
}

/// A release whose checksum matches is installed with a link per tool.
#[test]
fn verified_release_installs() {
    assert_eq!(
        std::env::consts::ARCH,
        "x86_64",
        "the fixture archive is named for x86_64"
    );
    let dir = release_dir(true);
    let (mut server, url) = serve(dir.path());
    let prefix = tempfile::tempdir().unwrap();
    let out = install(&url, prefix.path());
    server.kill().ok();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("sha256 verified"), "{stderr}");
    for tool in [
        "deploy-kit",
        "ecr-push",
        "ecs-roll",
        "wait-stable",
        "rds-snapshot",
    ] {
        assert!(
            prefix.path().join("bin").join(tool).exists(),
            "{tool} not installed"
        );
    }
}

/// A checksum mismatch installs nothing and exits non-zero.
#[test]
fn checksum_mismatch_fails_closed() {
    let dir = release_dir(false);
    let (mut server, url) = serve(dir.path());
    let prefix = tempfile::tempdir().unwrap();
    let out = install(&url, prefix.path());
    server.kill().ok();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("checksum mismatch"), "{stderr}");
    assert!(!prefix.path().join("bin/deploy-kit").exists());
}
