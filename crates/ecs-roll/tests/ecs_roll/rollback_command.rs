//! `ecs-roll rollback`: the release manager's way back, from the deployment history or `--to`.

use super::*;

/// `rollback` returns a service to its previous completed revision, or to --to.
#[test]
fn manual_rollback() {
    let e = env();
    let v1 = e.web_service("app:v1", breaker(true));
    e.deploy_web("app:v2", &[]).assert_code(0);
    e.wait_stable("web");
    // The service named as --cluster + --service here, as prod/web below.
    let out = e
        .cmd()
        .args(["rollback", "--cluster", "prod", "--service", "web"])
        .args(["--interval", "200ms", "--output", "json"])
        .run();
    out.assert_code(0);
    let json = out.json();
    assert_eq!(json["result"], "rolled_back", "{}", out.stderr);
    assert_eq!(json["task_definition_arn"], v1.as_str());
    assert_eq!(e.wait_stable("web").task_definition(), Some(v1.as_str()));
    e.rollback("web", &["--to", "web:2"]).assert_code(0);
    assert_eq!(short(&e.primary("web").1), "web:2");
}

/// `rollback --dry-run` names the target and changes nothing; usage errors in JSON mode are one
/// JSON object with the error kind.
#[test]
fn rollback_dry_run_and_json_errors() {
    let e = env();
    let v1 = e.web_service("app:v1", breaker(true));
    e.deploy_web("app:v2", &[]).assert_code(0);
    let before = e.primary("web");
    let out = e
        .cmd()
        .args([
            "rollback",
            "--service",
            "prod/web",
            "--dry-run",
            "--output",
            "json",
        ])
        .run();
    out.assert_code(0);
    let json = out.json();
    assert_eq!(json["result"], "dry_run");
    assert_eq!(json["task_definition_arn"], v1.as_str());
    assert_eq!(e.primary("web"), before);
    // No --cluster and no cluster in the service name: a usage error.
    let out = e
        .cmd()
        .args(["deploy", "--service", "web", "--image", "app=app:v2"])
        .args(["--output", "json"])
        .run();
    out.assert_code(2);
    let json = out.json();
    assert_eq!(json["outcome"], "error");
    assert_eq!(json["error"]["kind"], "usage");
}

/// Regression (#9.3): re-running `rollback` while the first rollback (v2 → v1) was still in
/// flight picked the COMPLETED v2 deployment beside the PRIMARY as "the previous revision" and
/// sent the service back to the revision it was being rolled back from. The re-run must follow
/// the rollback in flight.
#[test]
fn rollback_rerun_during_rollback_follows_it() {
    let e = env();
    let v1 = e.web_service("app:v1", breaker(false));
    e.deploy_web("app:v2", &[]).assert_code(0);
    e.wait_stable("web");
    // v1 tasks now take minutes to start: the rollback to v1 stays in flight.
    e.image_behaves_like("app:v1", "app:slow");
    let first = e.rollback("web", &["--timeout", "1s"]);
    first.assert_code(4);
    assert_eq!(first.json()["task_definition_arn"], v1.as_str());
    assert_eq!(e.primary("web").1, v1);
    let again = e.rollback("web", &["--timeout", "1s"]);
    let json = again.json();
    assert_eq!(
        json["task_definition_arn"],
        v1.as_str(),
        "the re-run must not return to web:2: {}",
        again.stderr
    );
    assert_eq!(e.primary("web").1, v1, "{}", again.stderr);
    again.assert_code(4);
}

/// Regression (#9.3): after a completed rollback v2 → v1, the next `rollback` took the newest
/// SUCCESSFUL deployment not running v1 — v2's, the release just rolled back — and undid the
/// rollback. A rollback is not a release: the next one goes further back, to v0.
#[test]
fn rollback_after_rollback_goes_further_back() {
    let e = env();
    let v0 = e.web_service("app:v3", breaker(false));
    e.deploy_web("app:v1", &[]).assert_code(0);
    e.deploy_web("app:v2", &[]).assert_code(0);
    let first = e.rollback("web", &[]);
    first.assert_code(0);
    assert_eq!(
        short(first.json()["task_definition_arn"].as_str().unwrap()),
        "web:2"
    );
    e.wait_stable("web");
    let again = e.rollback("web", &["--dry-run"]);
    again.assert_code(0);
    assert_eq!(
        again.json()["task_definition_arn"],
        v0.as_str(),
        "{}",
        again.stderr
    );
}

/// Regression (#9.4): with the deployment history unreadable, `rollback` fell back to "the
/// family's previous ACTIVE revision": after good web:1 → crashing web:2 (rolled back) → good
/// web:3 it deployed the crashing web:2. Unreadable history is an error (exit 3) naming the
/// permission and --to; the service is not touched.
#[test]
fn rollback_with_unreadable_history_refuses_to_guess() {
    use ecs_emulator::FaultKind;
    let e = env();
    let v1 = e.web_service("app:v1", breaker(true));
    e.deploy_web("app:crash", &[]).assert_code(1);
    e.wait_stable("web");
    e.deploy_web("app:v2", &[]).assert_code(0);
    let before = e.wait_stable("web");
    assert_eq!(short(before.task_definition().unwrap()), "web:3");
    // With the history readable, the target is web:1 (web:2 never completed).
    let readable = e.rollback("web", &["--dry-run"]);
    readable.assert_code(0);
    assert_eq!(readable.json()["task_definition_arn"], v1.as_str());
    e.fail_calls("ListServiceDeployments", 1000, FaultKind::ServerError);
    let out = e.rollback("web", &[]);
    out.assert_code(3).assert_no_panic();
    let json = out.json();
    let text = format!("{} {}", json["error"]["message"], json["error"]["hint"]);
    assert!(text.contains("ecs:ListServiceDeployments"), "{text}");
    assert!(text.contains("--to"), "{text}");
    assert_eq!(short(&e.primary("web").1), "web:3", "service untouched");
    assert_eq!(e.describe("web").deployments().len(), 1);
}

/// Regression (#9.4): a release whose migration failed registers a revision that never runs on
/// the service. The history is read through every page: with more than one page of forced
/// redeploys of the current revision, reading only the first page found nothing and fell back to
/// the family's revision numbers — the never-deployed one.
#[test]
fn rollback_reads_every_page_of_history() {
    let e = env();
    let v1 = e.web_service("app:v1", breaker(true));
    let migrate = [
        "--migrate-container",
        "app",
        "--migrate-command",
        "migrate --fail",
    ];
    e.deploy_web("app:v2", &migrate).assert_code(1);
    assert_eq!(
        e.revisions("web").len(),
        2,
        "web:2 registered, never deployed"
    );
    e.deploy_web("app:v3", &[]).assert_code(0);
    e.wait_stable("web");
    for _ in 0..21 {
        e.force_redeploy("web");
    }
    let out = e.rollback("web", &["--dry-run"]);
    out.assert_code(0);
    assert_eq!(
        out.json()["task_definition_arn"],
        v1.as_str(),
        "{}",
        out.stderr
    );
}

/// #9.4: a role without ecs:ListServiceDeployments gets exit 3 naming that permission and --to.
#[test]
fn rollback_without_history_permission_names_it() {
    use ecs_emulator::FaultKind;
    let e = env();
    e.web_service("app:v1", breaker(true));
    e.deploy_web("app:v2", &[]).assert_code(0);
    for operation in ["ListServiceDeployments", "DescribeServiceRevisions"] {
        e.emulator.clear_faults();
        e.fail_calls(operation, 1_000_000, FaultKind::AccessDenied);
        let out = e.rollback("web", &[]);
        out.assert_code(3);
        let json = out.json();
        let message = json["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(&format!("ecs:{operation} denied")),
            "{message}"
        );
        assert!(json["error"]["hint"].as_str().unwrap().contains("--to"));
        assert_eq!(short(&e.primary("web").1), "web:2");
    }
}
