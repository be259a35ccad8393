//! A failing release goes back to exactly what ran before: crashes, timeouts, several services, replaced deployments, failed rollbacks.

use super::*;

/// Crashing tasks tripped the circuit breaker: ecs-roll reports rolled_back (never green), and
/// the service ends stable on the revision recorded at the update.
#[test]
fn crash_is_rolled_back_to_recorded_revision() {
    let e = env();
    let v1 = e.register("web", "app:v1");
    // A newer revision exists that the service never ran: "N-1" would be wrong.
    e.register("web", "app:v3");
    e.create_service("web", &v1, 1, breaker(true));
    let out = e.deploy_web("app:crash", &["--timeout", "60s"]);
    out.assert_code(1).assert_no_panic();
    let json = out.json();
    assert_eq!(json["result"], "rolled_back", "{}", out.stderr);
    assert_eq!(json["previous_task_definition_arn"], v1.as_str());
    assert_eq!(
        short(json["task_definition_arn"].as_str().unwrap()),
        "web:3"
    );
    let s = e.wait_stable("web");
    assert_eq!(s.task_definition(), Some(v1.as_str()));
    assert_eq!(e.primary("web").1, v1);
    assert!(
        out.stderr.contains("rolling back to web:1"),
        "{}",
        out.stderr
    );
    assert!(
        json["message"]
            .as_str()
            .unwrap()
            .contains("app exit code 137"),
        "{json}"
    );
    assert!(out.summary.contains("rolled_back"), "{}", out.summary);
}

/// A deployment that does not complete in time is rolled back by ecs-roll itself.
#[test]
fn timeout_is_rolled_back() {
    let e = env();
    let v1 = e.web_service("app:v1", breaker(false));
    let out = e.deploy_web("app:slow", &["--timeout", "2s"]);
    out.assert_code(1);
    let json = out.json();
    assert_eq!(json["result"], "rolled_back", "{}", out.stderr);
    assert_eq!(json["detail"]["services"][0]["wait"]["result"], "timed_out");
    assert_eq!(e.wait_stable("web").task_definition(), Some(v1.as_str()));
}

/// With --no-rollback a timeout exits 4 and leaves the service on the new revision.
#[test]
fn timeout_without_rollback_exits_4() {
    let e = env();
    e.web_service("app:v1", breaker(false));
    let out = e.deploy_web("app:slow", &["--timeout", "1s", "--no-rollback"]);
    out.assert_code(4);
    assert_eq!(out.json()["result"], "timed_out");
    assert_eq!(short(&e.primary("web").1), "web:2");
}

/// Two families in one release: the failing service is rolled back by itself, the other keeps
/// the release (default policy), and the result is rolled_back.
#[test]
fn one_failing_service_rolls_back_alone() {
    let e = env();
    let (_, job1) = e.web_and_worker(true);
    let out = e.deploy_web_and_worker("app:v2", "app:crash", &[]);
    out.assert_code(1);
    let json = out.json();
    assert_eq!(json["result"], "rolled_back", "{}", out.stderr);
    let services = &json["detail"]["services"];
    assert_eq!(services[0]["result"], "succeeded");
    assert_eq!(services[1]["result"], "rolled_back");
    assert_eq!(short(&e.primary("web").1), "web:2");
    assert_eq!(
        e.wait_stable("worker").task_definition(),
        Some(job1.as_str())
    );
}

/// --rollback-all returns the services that succeeded too.
#[test]
fn rollback_all_returns_every_changed_service() {
    let e = env();
    let (web1, job1) = e.web_and_worker(true);
    let out = e.deploy_web_and_worker("app:v2", "app:crash", &["--rollback-all"]);
    out.assert_code(1);
    let json = out.json();
    assert_eq!(json["result"], "rolled_back");
    assert_eq!(
        json["detail"]["services"][0]["result"], "rolled_back",
        "{}",
        out.stderr
    );
    assert_eq!(e.wait_stable("web").task_definition(), Some(web1.as_str()));
    assert_eq!(
        e.wait_stable("worker").task_definition(),
        Some(job1.as_str())
    );
}

/// With one service at a time, a failure stops the release: later services are not touched.
#[test]
fn failure_skips_services_not_started() {
    let e = env();
    e.web_and_worker(true);
    let before = e.primary("web");
    let out = e.deploy(&[
        "--service",
        "worker",
        "--service",
        "web",
        "--image",
        "app=app:v2",
        "--image",
        "job=app:crash",
        "--max-parallel",
        "1",
    ]);
    out.assert_code(1);
    let json = out.json();
    assert_eq!(json["detail"]["services"][0]["result"], "rolled_back");
    assert_eq!(json["detail"]["services"][1]["result"], "skipped");
    assert_eq!(e.primary("web"), before, "web untouched");
}

/// Someone else's deployment replacing ours mid-wait is reported, never rolled back.
#[test]
fn replaced_deployment_is_not_rolled_back() {
    let e = env();
    let v1 = e.register("web", "app:v1");
    let v3 = e.register("web", "app:v3");
    e.create_service("web", &v1, 1, breaker(false));
    let cmd = e
        .cmd()
        .args(["deploy", "--cluster", "prod", "--service", "web"])
        .args(["--image", "app=app:slow", "--interval", "200ms"])
        .args(["--timeout", "60s", "--output", "json"]);
    let run = std::thread::spawn(move || cmd.run());
    // Wait until ecs-roll's deployment is PRIMARY, then release v3 over it.
    let start = Instant::now();
    while short(&e.primary("web").1) != "web:3" {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "ecs-roll never updated the service"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let mine = e.primary("web").0;
    e.rt.block_on(
        e.ecs
            .update_service()
            .cluster("prod")
            .service("web")
            .task_definition(&v3)
            .force_new_deployment(true)
            .send(),
    )
    .unwrap();
    let out = run.join().unwrap();
    out.assert_code(1);
    let json = out.json();
    assert_eq!(json["result"], "failed", "{}", out.stderr);
    assert_eq!(json["detail"]["services"][0]["result"], "replaced");
    assert_eq!(json["deployment_id"], mine.as_str());
    assert!(out.stderr.contains("not rolling back"), "{}", out.stderr);
    let (id, td) = e.primary("web");
    assert_ne!(id, mine);
    assert_eq!(td, v3, "the other release stays");
}

/// When even the rollback does not become stable, the result is rollback_failed: exit 1, an
/// error annotation, and the job summary says so.
#[test]
fn failed_rollback_is_loud() {
    let e = env();
    e.web_service("app:v1", breaker(false));
    // From now on app:v1 tasks crash too (the running one stays healthy): returning to v1 fails.
    e.image_behaves_like("app:v1", "app:crash");
    let out = e.deploy_web("app:slow", &["--timeout", "1s", "--rollback-timeout", "2s"]);
    out.assert_code(1);
    let json = out.json();
    assert_eq!(json["result"], "rollback_failed", "{}", out.stderr);
    assert!(
        json["message"]
            .as_str()
            .unwrap()
            .contains("ROLLBACK FAILED"),
        "{json}"
    );
    assert!(
        out.stderr
            .contains("::error title=ecs-roll::ROLLBACK FAILED"),
        "{}",
        out.stderr
    );
    assert_eq!(out.output("result"), "rollback_failed");
    assert!(
        out.summary.contains("🚨 rollback_failed"),
        "{}",
        out.summary
    );
}

/// Regression (#9.9): a service whose deployment failed was returned only when its whole wave
/// had settled, so it stayed broken while a slow sibling was still deploying (here: until the
/// sibling's --timeout). Each service is returned as soon as its own deployment fails.
#[test]
fn failed_service_is_rolled_back_before_its_wave_settles() {
    let e = env();
    let (_, job1) = e.web_and_worker(false);
    let out = e.deploy_web_and_worker("app:slow", "app:crash", &["--timeout", "6s"]);
    out.assert_code(1);
    let json = out.json();
    let steps = json["detail"]["timeline"].as_array().unwrap();
    let at = |service: &str, what: &str| {
        steps
            .iter()
            .find(|s| s["service"] == service && s["what"].as_str().unwrap().contains(what))
            .unwrap_or_else(|| panic!("no `{what}` step for {service}: {steps:#?}"))["at"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let worker_returned = at("prod/worker", "rollback: UpdateService");
    let web_timed_out = at("prod/web", "deployment timed_out");
    assert!(
        worker_returned < web_timed_out,
        "worker returned at {worker_returned}, only after web timed out at {web_timed_out}"
    );
    assert_eq!(json["detail"]["services"][1]["result"], "rolled_back");
    assert_eq!(
        e.wait_stable("worker").task_definition(),
        Some(job1.as_str())
    );
}

/// #9.10: a deployment failed by a deployment alarm with ECS rolling back (alarms.rollback) is
/// `rolled_back`, and ecs-roll starts no second, concurrent rollback of its own.
#[test]
fn alarm_rollback_is_rolled_back_without_a_second_rollback() {
    let e = env();
    let v1 = e.register("web", "app:v1");
    let config = DeploymentConfiguration::builder()
        .minimum_healthy_percent(100)
        .maximum_percent(200)
        .alarms(
            aws_sdk_ecs::types::DeploymentAlarms::builder()
                .alarm_names("web-5xx")
                .enable(true)
                .rollback(true)
                .build()
                .unwrap(),
        )
        .build();
    e.create_service("web", &v1, 1, config);
    e.emulator.set_alarm("web-5xx", "ALARM");
    let out = e.deploy_web("app:v2", &[]);
    out.assert_code(1);
    let json = out.json();
    assert_eq!(json["result"], "rolled_back", "{}", out.stderr);
    assert_eq!(
        e.emulator.calls().count("UpdateService"),
        1,
        "only the release's own UpdateService: {}",
        out.stderr
    );
    e.emulator.set_alarm("web-5xx", "OK");
    assert_eq!(e.wait_stable("web").task_definition(), Some(v1.as_str()));
}
