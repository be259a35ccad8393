//! `scripts/demo` keeps working: it runs the whole pipeline on its own fresh stand-ins and must
//! show each stage's result — a successful release, a broken one rolled back, a manual rollback,
//! and a restore.

use std::process::Command;

use test_support::workspace_root;

/// The demo exits 0 and every stage reports what it promises.
#[test]
fn demo_runs_end_to_end() {
    // Make sure the emulator binary the demo starts is the one this test run built.
    test_support::bin_path("ecs-emulator");
    let out = Command::new(workspace_root().join("scripts/demo"))
        .env("DK_DEMO_NO_BUILD", "1")
        .env("DK_STANDINS_STATE", "") // the demo picks its own private stand-ins
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "demo failed:\n{stderr}");
    for expected in [
        "1 service(s) now runs demo-web:2",
        "ecs-roll exit code: 1, result: rolled_back",
        "rolled back to demo-web:1 and stable",
        "is available at app-db-restored.",
    ] {
        assert!(
            stderr.contains(expected),
            "`{expected}` missing from the demo's output:\n{stderr}"
        );
    }
    assert!(
        stdout.contains("pre-release-broken") && stdout.contains("aws (automated)"),
        "{stdout}"
    );
}
