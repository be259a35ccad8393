//! What real ECS does that a happy path never shows: throttling, server errors, stale reads, deployments that never become visible.

use super::*;

/// Throttling and server errors on the rendering and update calls are retried: the release
/// succeeds with exactly one new revision (the raw-JSON register body survives every attempt).
#[test]
fn retries_throttling_and_server_errors() {
    use ecs_emulator::{Fault, FaultKind};
    let e = env();
    e.web_service("app:v1", breaker(true));
    for (operation, kind) in [
        ("DescribeTaskDefinition", FaultKind::Throttle),
        ("RegisterTaskDefinition", FaultKind::ServerError),
        ("UpdateService", FaultKind::Throttle),
    ] {
        e.emulator.inject_fault(Fault {
            operation: operation.into(),
            count: 2,
            kind,
        });
    }
    let out = e.deploy_web("app:v2", &["--env", "app:MODE=canary"]);
    out.assert_code(0);
    assert_eq!(out.json()["result"], "succeeded", "{}", out.stderr);
    assert_eq!(e.revisions("web").len(), 2);
    assert!(e.emulator.calls().count("RegisterTaskDefinition") >= 3);
    let td = e.task_definition("web:2");
    let c = &td.container_definitions()[0];
    assert_eq!(
        (c.image(), c.environment()[0].value()),
        (Some("app:v2"), Some("canary"))
    );
}

/// Regression (#9.2): with --force-new-deployment and a stale UpdateService answer and
/// DescribeServices, ecs-roll fell back to following "the deployment running the target task
/// definition" — the old, COMPLETED one — and reported a crashing forced deployment green. The
/// new deployment is the one that did not exist before the call, waited for by id.
#[test]
fn forced_deployment_with_stale_reads_is_followed_by_id() {
    let e = env();
    e.web_service("app:v1", breaker(true));
    // New v1 tasks now crash (a bad config, say): the forced deployment must fail.
    e.image_behaves_like("app:v1", "app:crash");
    e.emulator.set_consistency(stale(3, true));
    let out = e.deploy(&[
        "--service",
        "web",
        "--force-new-deployment",
        "--timeout",
        "60s",
    ]);
    let json = out.json();
    assert_ne!(json["result"], "succeeded", "false green: {}", out.stderr);
    out.assert_code(1);
    assert_eq!(json["result"], "rolled_back", "{}", out.stderr);
    // Whichever deployment ecs-roll names as its own, it is never the old, COMPLETED one.
    let state = e.emulator.state();
    let history = state["clusters"][0]["services"][0]["deploymentHistory"]
        .as_array()
        .unwrap();
    let first = history.last().unwrap()["id"].as_str().unwrap();
    assert_ne!(json["deployment_id"], first, "{}", out.stderr);
}

/// Regression (#9.2): when DescribeServices never shows the deployment UpdateService started,
/// ecs-roll followed the old deployment on the old revision (stale view) as "ECS's rollback" and
/// reported rolled_back while the service really ran the new revision, unwatched. Not seeing the
/// deployment is exit 3, and the service is really returned to the recorded revision.
#[test]
fn deployment_never_visible_is_exit_3_not_rolled_back() {
    let e = env();
    let v1 = e.web_service("app:v1", breaker(true));
    e.emulator.set_consistency(stale(1_000_000, true));
    let out = e.deploy_web("app:v2", &["--timeout", "2s", "--rollback-timeout", "2s"]);
    out.assert_code(3).assert_no_panic();
    let json = out.json();
    assert!(
        json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("never appeared"),
        "{json}"
    );
    // The real service (the control API is not stale) was returned to web:1.
    let state = e.emulator.state();
    assert_eq!(
        state["clusters"][0]["services"][0]["service"]["taskDefinition"],
        v1.as_str()
    );
}

/// Regression (#9.8): UpdateService succeeded (stale answer) and the follow-up DescribeServices
/// failed past the SDK's retries: ecs-roll reported "UpdateService failed" and left the service
/// on the new revision, unwatched. It keeps reading inside the deadline and follows the release.
#[test]
fn failed_read_after_update_keeps_reading() {
    use ecs_emulator::{Fault, FaultKind};
    let e = env();
    e.web_service("app:v1", breaker(true));
    e.emulator.set_consistency(stale(0, true));
    // UpdateService is held 500 ms on its way, so the DescribeServices after it can be made to
    // fail from the test: every one after ecs-roll's render (1) and pre-update (2) reads fails,
    // 12 times (past the SDK's attempts, twice).
    let proxy = test_support::DelayProxy::start(
        &e.emulator.url(),
        vec![test_support::DelayRule {
            marker: "UpdateService".into(),
            skip: 0,
            delay: Duration::from_millis(500),
        }],
    );
    let cmd = e
        .cmd()
        .env("AWS_ENDPOINT_URL_ECS", proxy.url())
        .args(["deploy", "--cluster", "prod", "--service", "web"])
        .args(["--image", "app=app:v2", "--interval", "200ms"])
        .args(["--timeout", "60s", "--output", "json"]);
    let calls_before = e.emulator.calls().count("DescribeServices");
    let run = std::thread::spawn(move || cmd.run());
    let start = Instant::now();
    while e.emulator.calls().count("DescribeServices") < calls_before + 2 {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no DescribeServices"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(
        e.emulator.calls().count("UpdateService"),
        0,
        "armed too late"
    );
    e.emulator.inject_fault(Fault {
        operation: "DescribeServices".into(),
        count: 12,
        kind: FaultKind::ServerError,
    });
    let out = run.join().unwrap();
    assert!(e.emulator.calls().count("DescribeServices") > calls_before + 12);
    assert_eq!(out.json()["result"], "succeeded", "{}", out.stderr);
    out.assert_code(0);
    assert_eq!(short(&e.primary("web").1), "web:2");
}
