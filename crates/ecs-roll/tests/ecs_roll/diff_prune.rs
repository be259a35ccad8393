//! `diff`, `--dry-run` and `prune`: what would change, and deregistering old revisions while keeping every way back.

use super::*;

/// `diff` and `deploy --dry-run` show the change and change nothing.
#[test]
fn diff_and_dry_run_change_nothing() {
    let e = env();
    e.web_service("app:v1", breaker(true));
    let before = e.primary("web");
    let out = e
        .cmd()
        .args(["diff", "--cluster", "prod", "--service", "web"])
        .args(["--image", "app=app:v2", "--env", "app:MODE=canary"])
        .run();
    out.assert_code(0);
    assert!(out.stdout.contains("--- web:1"), "{}", out.stdout);
    assert!(
        out.stdout.contains("-      \"image\": \"app:v1\""),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("+      \"image\": \"app:v2\""),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("+          \"value\": \"canary\""),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("service prod/web: task definition web:1 → web (new revision)"),
        "{}",
        out.stdout
    );
    let flags = [
        "--dry-run",
        "--migrate-container",
        "app",
        "--migrate-command",
        "x",
    ];
    let out = e.deploy_web("app:v2", &flags);
    out.assert_code(0);
    let json = out.json();
    assert_eq!(json["result"], "changed");
    assert_eq!(json["dry_run"], true);
    assert!(out.summary.contains("```diff\n"), "{}", out.summary);
    assert!(
        json["detail"]["services"][0]["diff"]
            .as_str()
            .unwrap()
            .contains("+      \"image\": \"app:v2\"")
    );
    assert_eq!(e.revisions("web").len(), 1, "nothing registered");
    assert_eq!(e.primary("web"), before, "service untouched");
    assert_eq!(e.describe("web").deployments().len(), 1);
}

/// `prune` deregisters old revisions but keeps the newest, those in use and their rollback target.
#[test]
fn prune_keeps_in_use_and_rollback_revisions() {
    let e = env();
    let arns: Vec<String> = (1..=6)
        .map(|i| e.register("web", if i % 2 == 0 { "app:v2" } else { "app:v1" }))
        .collect();
    e.create_service("web", &arns[3], 1, breaker(true)); // web:4
    let out = e.prune_web(&["--dry-run"]);
    out.assert_code(0);
    assert_eq!(out.json()["result"], "dry_run");
    assert_eq!(e.revisions("web").len(), 6);
    let out = e.prune_web(&[]);
    out.assert_code(0);
    let kept = e.revision_names("web");
    assert_eq!(kept, vec!["web:6", "web:4", "web:3"], "{}", out.stderr);
    assert_eq!(out.json()["deregistered_count"], 3);
}

/// A file may be describe-task-definition output with extra fields: warned about, deployed.
/// Regression: after a failed release (rolled back) and then a good one, prune must keep the
/// revision `ecs-roll rollback` would return to — the last release that completed before the
/// good one — not just the revision numbered below the one in use (that is the failed release).
#[test]
fn prune_keeps_what_rollback_would_return_to() {
    let e = env();
    e.web_service("app:v1", breaker(true)); // web:1
    e.deploy_web("app:crash", &[]).assert_code(1); // web:2, rolled back
    e.deploy_web("app:v2", &[]).assert_code(0); // web:3
    assert_eq!(short(e.describe("web").task_definition().unwrap()), "web:3");
    let out = e.prune_web(&[]);
    out.assert_code(0);
    let kept = e.revision_names("web");
    assert!(
        kept.contains(&"web:1".to_string()),
        "the rollback target web:1 was deregistered: {kept:?}\n{}",
        out.stderr
    );
    let rollback = e
        .cmd()
        .args(["rollback", "--cluster", "prod", "--service", "web"])
        .args(["--interval", "200ms"])
        .run();
    rollback.assert_code(0);
    assert_eq!(short(e.describe("web").task_definition().unwrap()), "web:1");
}
