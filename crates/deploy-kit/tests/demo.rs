//! `scripts/demo` keeps working: it runs the whole pipeline on its own fresh stand-ins and must
//! show each stage's result — a successful release answering on the load balancer, a broken one
//! rolled back by itself (its 500s seen, then v2 answering again), a release stopped by its
//! failing migration (the migration process's own lines shown), a manual rollback, a restore,
//! and no task process left behind.

use std::process::Command;

use test_support::workspace_root;

/// The demo exits 0 and every stage reports what it promises.
#[test]
fn demo_runs_end_to_end() {
    // Make sure the emulator binary the demo starts is the one this test run built.
    test_support::bin_path("ecs-emulator");
    test_support::bin_path("demo-api");
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
        // The HTTP answers through the emulator's load balancer: v2, v3 failing, v2 again.
        r#"/health → 200 {"status":"ok","version":"2.0.0"}"#,
        "500 3.0.0:",
        "smoke test passed (5 check(s))",
        // The migrations are demo-api processes: v2's passes, the broken one's own lines are
        // read back from CloudWatch Logs and nothing is changed.
        "migration: container web exit code 0",
        r#"migration | ERROR: column "tags" of relation "recipes" already exists"#,
        "no service was changed",
        "exit 1, failed, version 2.0.0 answers (expected)",
        "0 left",
        "every expected outcome happened",
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
