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
        // The HTTP answers through the emulator's load balancer: v2, v3 failing, v2 again. v3's
        // 500s are asserted as the smoke gate measured them (200 requests, exactly half fail),
        // not from the demo's watcher, whose few samples may all land on v3's good half.
        r#"/health → 200 {"status":"ok","version":"2.0.0"}"#,
        "is above the threshold 1%",
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

/// `scripts/demo --pipeline kit|peer` (what `scripts/bench` times): each releases v2 on its
/// own stand-ins — the kit, and the teams' aws CLI + skopeo + curl + jq script — and both end
/// with v2 answering on the load balancer, said in a JSON last line of stdout.
#[test]
fn pipeline_modes_end_with_v2_answering() {
    test_support::bin_path("ecs-emulator");
    test_support::bin_path("demo-api");
    for mode in ["kit", "peer"] {
        let out = Command::new(workspace_root().join("scripts/demo"))
            .args(["--pipeline", mode])
            .env("DK_DEMO_NO_BUILD", "1")
            .env("DK_STANDINS_STATE", "")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{mode} failed:\n{stderr}");
        let last: serde_json::Value =
            serde_json::from_str(stdout.lines().last().unwrap_or_default())
                .unwrap_or_else(|e| panic!("{mode}: last line is not JSON ({e}):\n{stdout}"));
        assert_eq!(last["pipeline"], mode, "{last}");
        assert_eq!(last["ok"], true, "{last}\n{stderr}");
        assert_eq!(last["version"], "2.0.0", "{last}");
        assert_eq!(last["exit_code"], 0, "{last}");
        assert!(last["seconds"].as_f64().is_some_and(|s| s > 0.0), "{last}");
        let marker = match mode {
            "kit" => "smoke test passed (5 check(s))",
            _ => "teams-release: released",
        };
        assert!(
            stderr.contains(marker),
            "{mode}: `{marker}` missing:\n{stderr}"
        );
    }
}
