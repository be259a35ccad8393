//! The `ecs-emulator` binary: flags, port file, exit codes, signals.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::http::request;

const BIN: &str = env!("CARGO_BIN_EXE_ecs-emulator");

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("ecs-emulator-test-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Bad flags and bad scenarios exit 2 with a message naming the problem.
#[test]
fn usage_errors_exit_2() {
    let out = Command::new(BIN).arg("--nope").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--nope"));

    let out = Command::new(BIN)
        .args(["--time-scale", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("time_scale"));

    let dir = scratch("bad");
    let file = dir.join("scenario.yaml");
    std::fs::write(&file, "images: {web: {behavior: explode}}").unwrap();
    let out = Command::new(BIN)
        .arg("--scenario")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("scenario.yaml") && stderr.contains("explode"),
        "{stderr}"
    );

    let out = Command::new(BIN)
        .args(["--scenario", "/nonexistent/s.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// The binary writes its port, serves, and exits 0 on SIGTERM.
#[tokio::test]
async fn serves_until_sigterm() {
    let dir = scratch("run");
    let port_file = dir.join("port");
    let _ = std::fs::remove_file(&port_file);
    let scenario = dir.join("scenario.json");
    std::fs::write(
        &scenario,
        r#"{"time_scale": 50, "images": {"web:v1": {"behavior": "healthy"}}}"#,
    )
    .unwrap();
    let child = Command::new(BIN)
        .args(["--port", "0", "--manual-clock", "--port-file"])
        .arg(&port_file)
        .arg("--scenario")
        .arg(&scenario)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let port: u16 = loop {
        if let Ok(text) = std::fs::read_to_string(&port_file)
            && let Ok(port) = text.trim().parse()
        {
            break port;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "no port file");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let (status, _) = request(port, "GET", "/_emulator/health", "").await;
    assert_eq!(status, 200);
    let (_, state) = request(port, "GET", "/_emulator/state", "").await;
    assert_eq!(state["manualClock"], true);
    assert_eq!(state["timeScale"], 50.0);
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "ecs-emulator listening on http://127.0.0.1:{port}"
        )),
        "{stderr}"
    );
}
