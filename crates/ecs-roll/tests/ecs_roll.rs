//! The real `ecs-roll` binary against the ECS rollout emulator, as a workflow runs it.
//!
//! Each test starts its own emulator (accelerated clock) with healthy `app:v1`/`app:v2`, a
//! crashing `app:crash`, a `app:slow` that takes minutes to start, and one-off tasks whose
//! command containing `fail` exits 3. Fixtures (cluster, revisions, services) are made with
//! aws-sdk-ecs and waited until stable before the binary runs; assertions read the emulator's
//! state back through the SDK, so a tool that lies in its output still fails the test.

use std::time::{Duration, Instant};

use aws_sdk_ecs::Client;
use aws_sdk_ecs::types::{
    ContainerDefinition, DeploymentCircuitBreaker, DeploymentConfiguration, KeyValuePair, Service,
    SortOrder, Tag, TaskDefinitionStatus,
};
use ecs_emulator::{Config, Emulator, RunningEmulator, Scenario};
use test_support::{Cmd, Output, unused_port};

mod smoke_gate;
mod task_logs;

const SCENARIO: &str = r#"
time_scale: 40
images:
  "app:v1": { behavior: healthy, start_seconds: 2, healthy_after_seconds: 4 }
  "app:v2": { behavior: healthy, start_seconds: 2, healthy_after_seconds: 4 }
  "app:v3": { behavior: healthy, start_seconds: 2, healthy_after_seconds: 4 }
  "sidecar:1": { behavior: healthy, start_seconds: 2, healthy_after_seconds: 4 }
  "app:crash": { behavior: crash, start_seconds: 2, after_seconds: 2, exit_code: 137 }
  "app:slow": { behavior: healthy, start_seconds: 100000 }
run_task: { duration_seconds: 4, exit_code: 0, command_exit_codes: { "fail": 3 } }
"#;

struct Env {
    emulator: RunningEmulator,
    ecs: Client,
    rt: tokio::runtime::Runtime,
}

fn env() -> Env {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let scenario = Scenario::parse(SCENARIO).unwrap();
    let emulator = rt.block_on(Emulator::start(Config::new(scenario))).unwrap();
    let ecs =
        rt.block_on(async { Client::new(&test_support::sdk_config(&emulator.url(), None).await) });
    rt.block_on(ecs.create_cluster().cluster_name("prod").send())
        .unwrap();
    Env { emulator, ecs, rt }
}

fn breaker(rollback: bool) -> DeploymentConfiguration {
    DeploymentConfiguration::builder()
        .minimum_healthy_percent(100)
        .maximum_percent(200)
        .deployment_circuit_breaker(
            DeploymentCircuitBreaker::builder()
                .enable(true)
                .rollback(rollback)
                .build(),
        )
        .build()
}

impl Env {
    /// Register `family` with one container `app` running `image` (plus tags).
    fn register(&self, family: &str, image: &str) -> String {
        self.register_container(family, "app", image)
    }

    fn register_container(&self, family: &str, container: &str, image: &str) -> String {
        let out = self
            .rt
            .block_on(
                self.ecs
                    .register_task_definition()
                    .family(family)
                    .container_definitions(
                        ContainerDefinition::builder()
                            .name(container)
                            .image(image)
                            .essential(true)
                            .environment(KeyValuePair::builder().name("MODE").value("prod").build())
                            .build(),
                    )
                    .tags(Tag::builder().key("team").value("web").build())
                    .send(),
            )
            .unwrap();
        out.task_definition()
            .unwrap()
            .task_definition_arn()
            .unwrap()
            .to_string()
    }

    fn create_service(
        &self,
        name: &str,
        task_definition: &str,
        desired: i32,
        config: DeploymentConfiguration,
    ) {
        self.rt
            .block_on(
                self.ecs
                    .create_service()
                    .cluster("prod")
                    .service_name(name)
                    .task_definition(task_definition)
                    .desired_count(desired)
                    .deployment_configuration(config)
                    .send(),
            )
            .unwrap();
        self.wait_stable(name);
    }

    fn describe(&self, name: &str) -> Service {
        let out = self
            .rt
            .block_on(
                self.ecs
                    .describe_services()
                    .cluster("prod")
                    .services(name)
                    .send(),
            )
            .unwrap();
        out.services()[0].clone()
    }

    /// Until one COMPLETED deployment runs the desired count (fixtures only).
    fn wait_stable(&self, name: &str) -> Service {
        let start = Instant::now();
        loop {
            let s = self.describe(name);
            let done = s.deployments().len() == 1
                && s.deployments()[0].rollout_state().map(|r| r.as_str()) == Some("COMPLETED")
                && s.running_count() == s.desired_count();
            if done {
                return s;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "{name} never stable: {s:#?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// ACTIVE revisions of a family, newest first.
    fn revisions(&self, family: &str) -> Vec<String> {
        let out = self
            .rt
            .block_on(
                self.ecs
                    .list_task_definitions()
                    .family_prefix(family)
                    .status(TaskDefinitionStatus::Active)
                    .sort(SortOrder::Desc)
                    .send(),
            )
            .unwrap();
        out.task_definition_arns().to_vec()
    }

    fn primary(&self, name: &str) -> (String, String) {
        let s = self.describe(name);
        let d = s
            .deployments()
            .iter()
            .find(|d| d.status() == Some("PRIMARY"))
            .unwrap();
        (
            d.id().unwrap().to_string(),
            d.task_definition().unwrap().to_string(),
        )
    }

    /// From now on, tasks of `image` behave as `like` does (tasks already running keep theirs).
    fn image_behaves_like(&self, image: &str, like: &str) {
        let mut scenario = Scenario::parse(SCENARIO).unwrap();
        let behavior = scenario
            .images
            .iter()
            .find(|(k, _)| k == like)
            .unwrap()
            .1
            .clone();
        scenario.images.retain(|(k, _)| k != image);
        scenario.images.insert(0, (image.into(), behavior));
        self.emulator.set_scenario(scenario);
    }

    /// `ecs-roll rollback --service prod/NAME` with the given flags, JSON output.
    fn rollback(&self, name: &str, extra: &[&str]) -> Output {
        self.cmd()
            .args(["rollback", "--service", &format!("prod/{name}")])
            .args(["--interval", "200ms", "--output", "json"])
            .args(extra.iter().copied())
            .run()
    }

    /// Start a new deployment of what the service runs and wait until it completes.
    fn force_redeploy(&self, name: &str) {
        self.rt
            .block_on(
                self.ecs
                    .update_service()
                    .cluster("prod")
                    .service(name)
                    .force_new_deployment(true)
                    .send(),
            )
            .unwrap();
        std::thread::sleep(Duration::from_millis(30));
        self.wait_stable(name);
    }

    fn cmd(&self) -> Cmd {
        Cmd::bin("ecs-roll")
            .env("AWS_ENDPOINT_URL_ECS", self.emulator.url())
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .timeout(Duration::from_secs(90))
    }

    fn deploy(&self, extra: &[&str]) -> Output {
        self.cmd()
            .args([
                "deploy",
                "--cluster",
                "prod",
                "--interval",
                "200ms",
                "--output",
                "json",
            ])
            .args(extra.iter().copied())
            .github_actions()
            .run()
    }
}

fn short(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap()
}

/// A clean deploy registers one revision, rolls the service to it and reports every output.
#[test]
fn deploys_one_service() {
    let e = env();
    let v1 = e.register("web", "app:v1");
    e.create_service("web", &v1, 2, breaker(true));
    let out = e
        .cmd()
        .args([
            "deploy",
            "--cluster",
            "prod",
            "--interval",
            "200ms",
            "--output",
            "json",
        ])
        .args(["--service", "web", "--image", "app=app:v2"])
        .env("GITHUB_RUN_ID", "4242")
        .env("GITHUB_SHA", "0123abc")
        .github_actions()
        .run();
    out.assert_code(0).assert_no_panic();
    let json = out.json();
    assert_eq!(json["result"], "succeeded", "{}", out.stderr);
    assert_eq!(
        short(json["task_definition_arn"].as_str().unwrap()),
        "web:2"
    );
    assert_eq!(json["previous_task_definition_arn"], v1.as_str());
    let (id, td) = e.primary("web");
    assert_eq!(short(&td), "web:2");
    assert_eq!(json["deployment_id"], id.as_str());
    assert_eq!(json["detail"]["services"][0]["result"], "succeeded");
    assert!(json["duration_s"].as_f64().unwrap() > 0.0);
    assert_eq!(out.output("result"), "succeeded");
    assert_eq!(out.output("deployment_id"), id);
    assert_eq!(short(out.output("task_definition_arn")), "web:2");
    assert!(
        out.summary
            .contains("| prod/web | ✅ succeeded | web:2 | web:1 |"),
        "{}",
        out.summary
    );
    assert!(out.summary.contains("Timeline"), "{}", out.summary);
    // Rendered from the service's definition: env and tags carried, image replaced.
    let td = e.rt.block_on(
        e.ecs
            .describe_task_definition()
            .task_definition("web:2")
            .include(aws_sdk_ecs::types::TaskDefinitionField::Tags)
            .send(),
    );
    let td = td.unwrap();
    let c = &td.task_definition().unwrap().container_definitions()[0];
    assert_eq!(c.image(), Some("app:v2"));
    assert_eq!(c.environment()[0].name(), Some("MODE"));
    let tags: Vec<(&str, &str)> = td
        .tags()
        .iter()
        .map(|t| (t.key().unwrap(), t.value().unwrap()))
        .collect();
    assert!(tags.contains(&("team", "web")), "{tags:?}");
    assert!(tags.contains(&("github:run-id", "4242")), "{tags:?}");
    assert!(tags.contains(&("github:sha", "0123abc")), "{tags:?}");
    assert_eq!(e.wait_stable("web").running_count(), 2);
}

/// Several services of one family share one new revision and all roll to it.
#[test]
fn deploys_several_services_with_one_revision() {
    let e = env();
    let v1 = e.register("web", "app:v1");
    e.create_service("web", &v1, 1, breaker(true));
    e.create_service("worker", &v1, 1, breaker(true));
    let out = e.deploy(&[
        "--service",
        "web",
        "--service",
        "prod/worker",
        "--image",
        "app=app:v2",
        "--max-parallel",
        "2",
    ]);
    out.assert_code(0);
    let json = out.json();
    assert_eq!(json["result"], "succeeded");
    assert_eq!(
        e.revisions("web").len(),
        2,
        "one new revision for both services"
    );
    assert_eq!(short(&e.primary("web").1), "web:2");
    assert_eq!(short(&e.primary("worker").1), "web:2");
    let services = json["detail"]["services"].as_array().unwrap();
    assert_eq!(services.len(), 2);
    assert!(services.iter().all(|s| s["result"] == "succeeded"));
    assert_eq!(json["services"].as_array().unwrap().len(), 2);
}

/// A deploy of what already runs registers nothing and starts no deployment.
#[test]
fn unchanged_definition_is_not_registered_again() {
    let e = env();
    let v1 = e.register("web", "app:v1");
    e.create_service("web", &v1, 1, breaker(true));
    let before = e.primary("web");
    let out = e.deploy(&["--service", "web", "--image", "app=app:v1"]);
    out.assert_code(0);
    assert_eq!(out.json()["result"], "unchanged");
    assert_eq!(out.json()["deployment_id"], before.0.as_str());
    assert_eq!(e.revisions("web").len(), 1);
    assert_eq!(e.primary("web"), before);
    assert_eq!(e.describe("web").deployments().len(), 1);
    assert!(out.stderr.contains("unchanged"), "{}", out.stderr);
}

/// A migration that exits 0 gates the roll open; the service then rolls.
#[test]
fn passing_migration_then_roll() {
    let e = env();
    let v1 = e.register("web", "app:v1");
    e.create_service("web", &v1, 1, breaker(true));
    let out = e.deploy(&[
        "--service",
        "web",
        "--image",
        "app=app:v2",
        "--migrate-container",
        "app",
        "--migrate-command",
        "bin/rails db:migrate",
    ]);
    out.assert_code(0);
    let json = out.json();
    assert_eq!(json["result"], "succeeded");
    assert!(
        out.stderr.contains("container app exit code 0"),
        "{}",
        out.stderr
    );
    assert_eq!(short(&e.primary("web").1), "web:2");
    // The one-off task ran the NEW revision with the overridden command (ListTasks takes
    // `startedBy` only alone, so stopped tasks are listed by family and told apart here).
    let tasks =
        e.rt.block_on(
            e.ecs
                .list_tasks()
                .cluster("prod")
                .family("web")
                .desired_status(aws_sdk_ecs::types::DesiredStatus::Stopped)
                .send(),
        )
        .unwrap();
    let t =
        e.rt.block_on(
            e.ecs
                .describe_tasks()
                .cluster("prod")
                .set_tasks(Some(tasks.task_arns().to_vec()))
                .send(),
        )
        .unwrap();
    let migrations: Vec<_> = t
        .tasks()
        .iter()
        .filter(|t| t.started_by() == Some("ecs-roll-migrate"))
        .collect();
    assert_eq!(migrations.len(), 1);
    assert_eq!(short(migrations[0].task_definition_arn().unwrap()), "web:2");
}

/// A migration that exits non-zero stops the release with the service untouched.
#[test]
fn failing_migration_leaves_service_untouched() {
    let e = env();
    let v1 = e.register("web", "app:v1");
    e.create_service("web", &v1, 1, breaker(true));
    let before = e.primary("web");
    let out = e.deploy(&[
        "--service",
        "web",
        "--image",
        "app=app:v2",
        "--migrate-container",
        "app",
        "--migrate-command",
        r#"["bin/migrate", "--fail"]"#,
    ]);
    out.assert_code(1);
    let json = out.json();
    assert_eq!(json["result"], "failed");
    assert!(
        json["message"].as_str().unwrap().contains("exit code 3"),
        "{json}"
    );
    assert_eq!(json["detail"]["migration"]["exit_code"], 3);
    assert_eq!(
        e.primary("web"),
        before,
        "same task definition, no new deployment"
    );
    assert_eq!(e.describe("web").deployments().len(), 1);
    assert_eq!(out.output("result"), "failed");
}

/// Crashing tasks tripped the circuit breaker: ecs-roll reports rolled_back (never green), and
/// the service ends stable on the revision recorded at the update.
#[test]
fn crash_is_rolled_back_to_recorded_revision() {
    let e = env();
    let v1 = e.register("web", "app:v1");
    // A newer revision exists that the service never ran: "N-1" would be wrong.
    e.register("web", "app:v3");
    e.create_service("web", &v1, 1, breaker(true));
    let out = e.deploy(&[
        "--service",
        "web",
        "--image",
        "app=app:crash",
        "--timeout",
        "60s",
    ]);
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
    let v1 = e.register("web", "app:v1");
    e.create_service("web", &v1, 1, breaker(false));
    let out = e.deploy(&[
        "--service",
        "web",
        "--image",
        "app=app:slow",
        "--timeout",
        "2s",
    ]);
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
    let v1 = e.register("web", "app:v1");
    e.create_service("web", &v1, 1, breaker(false));
    let out = e.deploy(&[
        "--service",
        "web",
        "--image",
        "app=app:slow",
        "--timeout",
        "1s",
        "--no-rollback",
    ]);
    out.assert_code(4);
    assert_eq!(out.json()["result"], "timed_out");
    assert_eq!(short(&e.primary("web").1), "web:2");
}

/// `rollback` returns a service to its previous completed revision, or to --to.
#[test]
fn manual_rollback() {
    let e = env();
    let v1 = e.register("web", "app:v1");
    e.create_service("web", &v1, 1, breaker(true));
    e.deploy(&["--service", "web", "--image", "app=app:v2"])
        .assert_code(0);
    e.wait_stable("web");
    let out = e
        .cmd()
        .args([
            "rollback",
            "--cluster",
            "prod",
            "--service",
            "web",
            "--interval",
            "200ms",
            "--output",
            "json",
        ])
        .run();
    out.assert_code(0);
    let json = out.json();
    assert_eq!(json["result"], "rolled_back", "{}", out.stderr);
    assert_eq!(json["task_definition_arn"], v1.as_str());
    assert_eq!(e.wait_stable("web").task_definition(), Some(v1.as_str()));
    let out = e
        .cmd()
        .args([
            "rollback",
            "--service",
            "prod/web",
            "--to",
            "web:2",
            "--interval",
            "200ms",
            "--output",
            "json",
        ])
        .run();
    out.assert_code(0);
    assert_eq!(short(&e.primary("web").1), "web:2");
}

/// `diff` and `deploy --dry-run` show the change and change nothing.
#[test]
fn diff_and_dry_run_change_nothing() {
    let e = env();
    let v1 = e.register("web", "app:v1");
    e.create_service("web", &v1, 1, breaker(true));
    let before = e.primary("web");
    let out = e
        .cmd()
        .args([
            "diff",
            "--cluster",
            "prod",
            "--service",
            "web",
            "--image",
            "app=app:v2",
            "--env",
            "app:MODE=canary",
        ])
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
    let out = e.deploy(&[
        "--service",
        "web",
        "--image",
        "app=app:v2",
        "--dry-run",
        "--migrate-container",
        "app",
        "--migrate-command",
        "x",
    ]);
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
    let out = e
        .cmd()
        .args([
            "prune",
            "--family",
            "web",
            "--keep",
            "1",
            "--cluster",
            "prod",
            "--dry-run",
            "--output",
            "json",
        ])
        .run();
    out.assert_code(0);
    assert_eq!(out.json()["result"], "dry_run");
    assert_eq!(e.revisions("web").len(), 6);
    let out = e
        .cmd()
        .args([
            "prune",
            "--family",
            "web",
            "--keep",
            "1",
            "--cluster",
            "prod",
            "--output",
            "json",
        ])
        .run();
    out.assert_code(0);
    let kept: Vec<String> = e
        .revisions("web")
        .iter()
        .map(|a| short(a).to_string())
        .collect();
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
    let v1 = e.register("web", "app:v1"); // web:1
    e.create_service("web", &v1, 1, breaker(true));
    e.deploy(&["--service", "web", "--image", "app=app:crash"])
        .assert_code(1); // web:2, rolled back
    e.deploy(&["--service", "web", "--image", "app=app:v2"])
        .assert_code(0); // web:3
    assert_eq!(short(e.describe("web").task_definition().unwrap()), "web:3");
    let out = e
        .cmd()
        .args([
            "prune",
            "--family",
            "web",
            "--keep",
            "1",
            "--cluster",
            "prod",
            "--output",
            "json",
        ])
        .run();
    out.assert_code(0);
    let kept: Vec<String> = e
        .revisions("web")
        .iter()
        .map(|a| short(a).to_string())
        .collect();
    assert!(
        kept.contains(&"web:1".to_string()),
        "the rollback target web:1 was deregistered: {kept:?}\n{}",
        out.stderr
    );
    let rollback = e
        .cmd()
        .args([
            "rollback",
            "--cluster",
            "prod",
            "--service",
            "web",
            "--interval",
            "200ms",
        ])
        .run();
    rollback.assert_code(0);
    assert_eq!(short(e.describe("web").task_definition().unwrap()), "web:1");
}

#[test]
fn deploys_from_a_file() {
    let e = env();
    let v1 = e.register("web", "app:v1");
    e.create_service("web", &v1, 1, breaker(true));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("web.json");
    std::fs::write(
        &file,
        r#"{"taskDefinition": {"family": "web", "revision": 9, "status": "ACTIVE", "someNewField": 1,
             "containerDefinitions": [{"name": "app", "image": "placeholder:0", "essential": true},
                                      {"name": "sidecar", "image": "sidecar:1", "essential": false}]},
            "tags": [{"key": "team", "value": "web"}]}"#,
    )
    .unwrap();
    let out = e.deploy(&[
        "--service",
        "web",
        "--task-definition",
        file.to_str().unwrap(),
        "--image",
        "app=app:v2",
    ]);
    out.assert_code(0);
    assert!(out.stderr.contains("someNewField"), "{}", out.stderr);
    let td =
        e.rt.block_on(
            e.ecs
                .describe_task_definition()
                .task_definition("web:2")
                .send(),
        )
        .unwrap();
    let names: Vec<_> = td
        .task_definition()
        .unwrap()
        .container_definitions()
        .iter()
        .map(|c| c.image().unwrap().to_string())
        .collect();
    assert_eq!(names, vec!["app:v2", "sidecar:1"]);
}

/// Every bad input exits 2 before any AWS call (the endpoint is a port nothing listens on).
#[test]
fn bad_input_exits_2_without_calling_aws() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("td.json");
    std::fs::write(
        &good,
        r#"{"family": "web", "containerDefinitions": [{"name": "app", "image": "app:v1"}]}"#,
    )
    .unwrap();
    let broken = dir.path().join("broken.json");
    std::fs::write(
        &broken,
        "{\n  \"family\": \"web\"\n  \"containerDefinitions\": []\n}",
    )
    .unwrap();
    let good = good.to_str().unwrap().to_string();
    let broken = broken.to_str().unwrap().to_string();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec![
                "deploy",
                "--cluster",
                "c",
                "--service",
                "s",
                "--task-definition",
                &good,
                "--image",
                "apq=app:v2",
            ],
            "did you mean `app`",
        ),
        (
            vec![
                "deploy",
                "--cluster",
                "c",
                "--service",
                "s",
                "--image",
                "app=App:V2",
            ],
            "lowercase",
        ),
        (
            vec![
                "deploy",
                "--cluster",
                "c",
                "--service",
                "s",
                "--image",
                "app",
            ],
            "CONTAINER=IMAGE",
        ),
        (
            vec![
                "deploy",
                "--cluster",
                "c",
                "--service",
                "s",
                "--task-definition",
                "missing/td.json",
            ],
            "cannot read task definition file",
        ),
        (
            vec![
                "deploy",
                "--cluster",
                "c",
                "--service",
                "s",
                "--task-definition",
                &broken,
            ],
            "line 3, column",
        ),
        (
            vec![
                "deploy",
                "--cluster",
                "c",
                "--service",
                "s",
                "--env",
                "app=X",
            ],
            "CONTAINER:NAME=VALUE",
        ),
        (
            vec![
                "deploy",
                "--cluster",
                "c",
                "--service",
                "s",
                "--secret",
                "app:X=arn:aws:s3:::b",
            ],
            "Secrets Manager",
        ),
        (
            vec![
                "deploy",
                "--cluster",
                "c",
                "--service",
                "s",
                "--image",
                "app=a:1",
                "--image",
                "app=a:2",
            ],
            "two images",
        ),
        (
            vec!["deploy", "--service", "s", "--image", "app=a:1"],
            "has no cluster",
        ),
        (
            vec![
                "deploy",
                "--cluster",
                "c",
                "--service",
                "s",
                "--smoke",
                "/nonexistent/smoke.yml",
            ],
            "cannot read the spec /nonexistent/smoke.yml",
        ),
        (
            vec![
                "deploy",
                "--cluster",
                "c",
                "--service",
                "s",
                "--timeout",
                "1s",
                "--interval",
                "5s",
            ],
            "--interval",
        ),
        (
            vec![
                "deploy",
                "--cluster",
                "c",
                "--service",
                "s",
                "--migrate-container",
                "app",
                "--migrate-command",
                "echo 'x",
            ],
            "unterminated",
        ),
        (
            vec![
                "deploy",
                "--cluster",
                "c",
                "--service",
                "s",
                "--task-definition",
                &good,
                "--migrate-container",
                "db",
                "--migrate-command",
                "x",
            ],
            "not in",
        ),
        (
            vec![
                "rollback",
                "--cluster",
                "c",
                "--service",
                "s",
                "--to",
                "web:zero",
            ],
            "not a task definition",
        ),
        (
            vec!["prune", "--family", "we b", "--keep", "2", "--cluster", "c"],
            "not a task definition family",
        ),
    ];
    let endpoint = format!("http://127.0.0.1:{}", unused_port());
    for (args, needle) in cases {
        let out = Cmd::bin("ecs-roll")
            .args(args.iter().copied())
            .env("AWS_ENDPOINT_URL_ECS", &endpoint)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .run();
        assert_eq!(out.code, 2, "{args:?}\n{}", out.stderr);
        assert!(
            out.stderr.contains(needle),
            "{args:?}: expected `{needle}` in\n{}",
            out.stderr
        );
        out.assert_no_panic();
    }
    // Conflicting flags are refused by the parser (exit 2 too).
    for args in [
        vec![
            "deploy",
            "--cluster",
            "c",
            "--service",
            "s",
            "--no-rollback",
            "--rollback-all",
        ],
        vec![
            "deploy",
            "--cluster",
            "c",
            "--service",
            "s",
            "--migrate-container",
            "app",
        ],
        vec![
            "deploy",
            "--cluster",
            "c",
            "--service",
            "s",
            "--max-parallel",
            "0",
        ],
    ] {
        let out = Cmd::bin("ecs-roll")
            .args(args.iter().copied())
            .env("AWS_ENDPOINT_URL_ECS", &endpoint)
            .run();
        assert_eq!(out.code, 2, "{args:?}\n{}", out.stderr);
    }
}

/// --help teaches with examples and names the policies.
#[test]
fn help_has_examples_and_policies() {
    let out = Cmd::bin("ecs-roll").arg("--help").run();
    out.assert_code(0);
    for needle in [
        "Examples:",
        "ecs-roll deploy --cluster prod",
        "--rollback-all",
        "replaced",
    ] {
        assert!(
            out.stdout.contains(needle),
            "{needle} missing:\n{}",
            out.stdout
        );
    }
}

/// Every input of actions/ecs-roll/action.yml is a flag of some ecs-roll command, and every
/// output the action promises is one the tool writes.
#[test]
fn action_inputs_are_flags() {
    use clap::CommandFactory;
    let root = test_support::workspace_root();
    let yaml = std::fs::read_to_string(root.join("actions/ecs-roll/action.yml")).unwrap();
    let cli = ecs_roll::Cli::command();
    let mut flags: Vec<String> = cli
        .get_arguments()
        .filter_map(|a| a.get_long().map(str::to_owned))
        .collect();
    for sub in cli.get_subcommands() {
        flags.extend(
            sub.get_arguments()
                .filter_map(|a| a.get_long().map(str::to_owned)),
        );
    }
    let mut section = "";
    let mut inputs = Vec::new();
    for line in yaml.lines() {
        if !line.starts_with(' ') && line.ends_with(':') {
            section = line.trim_end_matches(':');
        } else if section == "inputs"
            && let Some(name) = line.strip_prefix("  ").and_then(|l| l.strip_suffix(':'))
            && !name.starts_with(' ')
        {
            inputs.push(name.to_string());
        }
    }
    assert!(inputs.len() > 20, "{inputs:?}");
    // `command` picks the subcommand; `version` is the action's own (which deploy-kit to install).
    for i in inputs.iter().filter(|i| *i != "command" && *i != "version") {
        assert!(flags.contains(i), "input `{i}` is not an ecs-roll flag");
    }
    for out in [
        "task_definition_arn",
        "previous_task_definition_arn",
        "deployment_id",
        "result",
    ] {
        assert!(
            yaml.contains(&format!("  {out}:\n")),
            "output {out} missing"
        );
    }
}

/// Two families in one release: the failing service is rolled back by itself, the other keeps
/// the release (default policy), and the result is rolled_back.
#[test]
fn one_failing_service_rolls_back_alone() {
    let e = env();
    let web1 = e.register("web", "app:v1");
    let job1 = e.register_container("worker", "job", "app:v1");
    e.create_service("web", &web1, 1, breaker(true));
    e.create_service("worker", &job1, 1, breaker(true));
    let out = e.deploy(&[
        "--service",
        "web",
        "--service",
        "worker",
        "--image",
        "app=app:v2",
        "--image",
        "job=app:crash",
    ]);
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
    let web1 = e.register("web", "app:v1");
    let job1 = e.register_container("worker", "job", "app:v1");
    e.create_service("web", &web1, 1, breaker(true));
    e.create_service("worker", &job1, 1, breaker(true));
    let out = e.deploy(&[
        "--service",
        "web",
        "--service",
        "worker",
        "--image",
        "app=app:v2",
        "--image",
        "job=app:crash",
        "--rollback-all",
    ]);
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
    let web1 = e.register("web", "app:v1");
    let job1 = e.register_container("worker", "job", "app:v1");
    e.create_service("web", &web1, 1, breaker(true));
    e.create_service("worker", &job1, 1, breaker(true));
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
        .args([
            "deploy",
            "--cluster",
            "prod",
            "--service",
            "web",
            "--image",
            "app=app:slow",
            "--interval",
            "200ms",
        ])
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

/// Throttling and server errors on the rendering and update calls are retried: the release
/// succeeds with exactly one new revision (the raw-JSON register body survives every attempt).
#[test]
fn retries_throttling_and_server_errors() {
    use ecs_emulator::{Fault, FaultKind};
    let e = env();
    let v1 = e.register("web", "app:v1");
    e.create_service("web", &v1, 1, breaker(true));
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
    let out = e.deploy(&[
        "--service",
        "web",
        "--image",
        "app=app:v2",
        "--env",
        "app:MODE=canary",
    ]);
    out.assert_code(0);
    assert_eq!(out.json()["result"], "succeeded", "{}", out.stderr);
    assert_eq!(e.revisions("web").len(), 2);
    assert!(e.emulator.calls().count("RegisterTaskDefinition") >= 3);
    let td =
        e.rt.block_on(
            e.ecs
                .describe_task_definition()
                .task_definition("web:2")
                .send(),
        )
        .unwrap();
    let c = &td.task_definition().unwrap().container_definitions()[0];
    assert_eq!(
        (c.image(), c.environment()[0].value()),
        (Some("app:v2"), Some("canary"))
    );
}

/// An existing revision given with --task-definition and no overrides is deployed as is.
#[test]
fn deploys_an_existing_revision_as_is() {
    let e = env();
    let v1 = e.register("web", "app:v1");
    e.register("web", "app:v2");
    e.create_service("web", &v1, 1, breaker(true));
    let out = e.deploy(&["--service", "web", "--task-definition", "web:2"]);
    out.assert_code(0);
    assert_eq!(
        short(out.json()["task_definition_arn"].as_str().unwrap()),
        "web:2"
    );
    assert_eq!(e.revisions("web").len(), 2, "nothing registered");
    assert_eq!(short(&e.primary("web").1), "web:2");
    // A container no definition has is a usage error, even when found only after reading AWS.
    let out = e.deploy(&["--service", "web", "--image", "ap=app:v3"]);
    out.assert_code(2);
    assert!(out.stderr.contains("did you mean `app`"), "{}", out.stderr);
}

/// When even the rollback does not become stable, the result is rollback_failed: exit 1, an
/// error annotation, and the job summary says so.
#[test]
fn failed_rollback_is_loud() {
    let e = env();
    let v1 = e.register("web", "app:v1");
    e.create_service("web", &v1, 1, breaker(false));
    // From now on app:v1 tasks crash too (the running one stays healthy): returning to v1 fails.
    let mut scenario = Scenario::parse(SCENARIO).unwrap();
    scenario.images.retain(|(k, _)| k != "app:v1");
    scenario.images.insert(
        0,
        (
            "app:v1".into(),
            scenario
                .images
                .iter()
                .find(|(k, _)| k == "app:crash")
                .unwrap()
                .1
                .clone(),
        ),
    );
    e.emulator.set_scenario(scenario);
    let out = e.deploy(&[
        "--service",
        "web",
        "--image",
        "app=app:slow",
        "--timeout",
        "1s",
        "--rollback-timeout",
        "2s",
    ]);
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

/// `rollback --dry-run` names the target and changes nothing; usage errors in JSON mode are one
/// JSON object with the error kind.
#[test]
fn rollback_dry_run_and_json_errors() {
    let e = env();
    let v1 = e.register("web", "app:v1");
    e.create_service("web", &v1, 1, breaker(true));
    e.deploy(&["--service", "web", "--image", "app=app:v2"])
        .assert_code(0);
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
    let out = e
        .cmd()
        .args([
            "deploy",
            "--service",
            "web",
            "--image",
            "app=app:v2",
            "--output",
            "json",
        ])
        .run();
    out.assert_code(2);
    let json = out.json();
    assert_eq!(json["outcome"], "error");
    assert_eq!(json["error"]["kind"], "usage");
}

/// Regression: re-running the same deploy while the previous run's deployment is still
/// IN_PROGRESS (the job crashed or timed out mid-wait) reported `unchanged`, exit 0, because the
/// service was already set to the revision — a false green for a deployment that never completed.
/// The re-run must follow that deployment and, when it fails, return to the revision it replaced.
#[test]
fn rerun_during_in_progress_deployment_is_not_unchanged() {
    let e = env();
    let v1 = e.register("web", "app:v1");
    e.create_service("web", &v1, 1, breaker(false));
    // The first run leaves its deployment in flight (as a crash would).
    let first = e.deploy(&[
        "--service",
        "web",
        "--image",
        "app=app:slow",
        "--timeout",
        "1s",
        "--no-rollback",
    ]);
    first.assert_code(4);
    let (in_flight, td) = e.primary("web");
    assert_eq!(short(&td), "web:2");
    let again = e.deploy(&[
        "--service",
        "web",
        "--image",
        "app=app:slow",
        "--timeout",
        "2s",
    ]);
    again.assert_code(1);
    let json = again.json();
    assert_eq!(json["result"], "rolled_back", "{}", again.stderr);
    assert_eq!(json["deployment_id"], in_flight.as_str());
    assert_eq!(json["previous_task_definition_arn"], v1.as_str());
    assert_eq!(e.wait_stable("web").task_definition(), Some(v1.as_str()));
    assert_eq!(e.revisions("web").len(), 2, "nothing registered again");
}

/// Regression (#9.3): re-running `rollback` while the first rollback (v2 → v1) was still in
/// flight picked the COMPLETED v2 deployment beside the PRIMARY as "the previous revision" and
/// sent the service back to the revision it was being rolled back from. The re-run must follow
/// the rollback in flight.
#[test]
fn rollback_rerun_during_rollback_follows_it() {
    let e = env();
    let v1 = e.register("web", "app:v1");
    e.create_service("web", &v1, 1, breaker(false));
    e.deploy(&["--service", "web", "--image", "app=app:v2"])
        .assert_code(0);
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
    let v0 = e.register("web", "app:v3");
    e.create_service("web", &v0, 1, breaker(false));
    e.deploy(&["--service", "web", "--image", "app=app:v1"])
        .assert_code(0);
    e.deploy(&["--service", "web", "--image", "app=app:v2"])
        .assert_code(0);
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
    use ecs_emulator::{Fault, FaultKind};
    let e = env();
    let v1 = e.register("web", "app:v1");
    e.create_service("web", &v1, 1, breaker(true));
    e.deploy(&["--service", "web", "--image", "app=app:crash"])
        .assert_code(1);
    e.wait_stable("web");
    e.deploy(&["--service", "web", "--image", "app=app:v2"])
        .assert_code(0);
    let before = e.wait_stable("web");
    assert_eq!(short(before.task_definition().unwrap()), "web:3");
    // With the history readable, the target is web:1 (web:2 never completed).
    let readable = e.rollback("web", &["--dry-run"]);
    readable.assert_code(0);
    assert_eq!(readable.json()["task_definition_arn"], v1.as_str());
    e.emulator.inject_fault(Fault {
        operation: "ListServiceDeployments".into(),
        count: 1000,
        kind: FaultKind::ServerError,
    });
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
    let v1 = e.register("web", "app:v1");
    e.create_service("web", &v1, 1, breaker(true));
    e.deploy(&[
        "--service",
        "web",
        "--image",
        "app=app:v2",
        "--migrate-container",
        "app",
        "--migrate-command",
        "migrate --fail",
    ])
    .assert_code(1);
    assert_eq!(
        e.revisions("web").len(),
        2,
        "web:2 registered, never deployed"
    );
    e.deploy(&["--service", "web", "--image", "app=app:v3"])
        .assert_code(0);
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

/// Regression (#9.11): `--migrate-command` alone was exit 2 (`--migrate-container` required) even
/// for a one-container service; the only container is the default.
#[test]
fn migrate_command_alone_runs_in_the_only_container() {
    let e = env();
    let v1 = e.register("web", "app:v1");
    e.create_service("web", &v1, 1, breaker(true));
    let out = e.deploy(&[
        "--service",
        "web",
        "--image",
        "app=app:v2",
        "--migrate-command",
        "bin/migrate",
    ]);
    out.assert_code(0);
    assert!(
        out.stderr.contains("container app exit code 0"),
        "{}",
        out.stderr
    );
    let inputs = e.emulator.calls().run_task_inputs;
    assert_eq!(inputs.len(), 1);
    assert_eq!(
        inputs[0]["overrides"]["containerOverrides"][0]["name"],
        "app"
    );
    assert_eq!(short(&e.primary("web").1), "web:2");
}

/// Regression (#9.11): `--task-definition web` with a `web/` folder in the working directory
/// was read as a file (exit 2, "Is a directory"); it is the family.
#[test]
fn family_named_like_a_folder_is_a_family() {
    let e = env();
    let v1 = e.register("web", "app:v1");
    e.register("web", "app:v2");
    e.create_service("web", &v1, 1, breaker(true));
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("web")).unwrap();
    let out = e
        .cmd()
        .current_dir(dir.path())
        .args(["deploy", "--cluster", "prod", "--service", "web"])
        .args(["--task-definition", "web", "--interval", "200ms"])
        .args(["--output", "json"])
        .run();
    out.assert_code(0);
    assert_eq!(
        short(out.json()["task_definition_arn"].as_str().unwrap()),
        "web:2",
        "{}",
        out.stderr
    );
}

/// Regression (#9.11): the migration RunTask dropped the service's placement constraints,
/// placement strategy and EBS volume configurations, and ran on the service's FARGATE_SPOT
/// capacity, where a Spot interruption stops it half-way. It copies the first three and runs
/// on FARGATE unless --migrate-on-spot.
#[test]
fn migration_runs_like_the_service_but_on_demand() {
    let e = env();
    let v1 = e.register("web", "app:v1");
    let placement =
        serde_json::json!([{"type": "memberOf", "expression": "attribute:ecs.os-type == linux"}]);
    let strategy =
        serde_json::json!([{"type": "spread", "field": "attribute:ecs.availability-zone"}]);
    let volumes = serde_json::json!([{"name": "data", "managedEBSVolume": {"roleArn": "arn:aws:iam::123456789012:role/ebs", "sizeInGiB": 20, "volumeType": "gp3"}}]);
    // Created raw: the SDK types would do, but the JSON is what the assertions compare.
    e.rt.block_on(
        e.ecs
            .create_service()
            .cluster("prod")
            .service_name("web")
            .task_definition(&v1)
            .desired_count(1)
            .deployment_configuration(breaker(true))
            .placement_constraints(
                aws_sdk_ecs::types::PlacementConstraint::builder()
                    .r#type(aws_sdk_ecs::types::PlacementConstraintType::MemberOf)
                    .expression("attribute:ecs.os-type == linux")
                    .build(),
            )
            .placement_strategy(
                aws_sdk_ecs::types::PlacementStrategy::builder()
                    .r#type(aws_sdk_ecs::types::PlacementStrategyType::Spread)
                    .field("attribute:ecs.availability-zone")
                    .build(),
            )
            .volume_configurations(
                aws_sdk_ecs::types::ServiceVolumeConfiguration::builder()
                    .name("data")
                    .managed_ebs_volume(
                        aws_sdk_ecs::types::ServiceManagedEbsVolumeConfiguration::builder()
                            .role_arn("arn:aws:iam::123456789012:role/ebs")
                            .size_in_gib(20)
                            .volume_type("gp3")
                            .build()
                            .unwrap(),
                    )
                    .build()
                    .unwrap(),
            )
            .send(),
    )
    .unwrap();
    e.wait_stable("web");
    let spot = |provider: &str, weight: i32, base: i32| {
        aws_sdk_ecs::types::CapacityProviderStrategyItem::builder()
            .capacity_provider(provider)
            .weight(weight)
            .base(base)
            .build()
            .unwrap()
    };
    e.rt.block_on(
        e.ecs
            .create_service()
            .cluster("prod")
            .service_name("worker")
            .task_definition(&v1)
            .desired_count(1)
            .deployment_configuration(breaker(true))
            .capacity_provider_strategy(spot("FARGATE_SPOT", 3, 0))
            .capacity_provider_strategy(spot("FARGATE", 1, 1))
            .send(),
    )
    .unwrap();
    e.wait_stable("worker");
    for (service, extra) in [
        ("web", None),
        ("worker", None),
        ("worker", Some("--migrate-on-spot")),
    ] {
        let mut args = vec![
            "--service",
            service,
            "--image",
            "app=app:v2",
            "--migrate-command",
            "bin/migrate",
            "--force-new-deployment",
        ];
        args.extend(extra);
        e.deploy(&args).assert_code(0);
    }
    let inputs = e.emulator.calls().run_task_inputs;
    assert_eq!(inputs.len(), 3, "{inputs:#?}");
    assert_eq!(inputs[0]["placementConstraints"], placement);
    assert_eq!(inputs[0]["placementStrategy"], strategy);
    assert_eq!(inputs[0]["volumeConfigurations"], volumes);
    let capacity = |v: &serde_json::Value| -> Vec<(String, i64, i64)> {
        v["capacityProviderStrategy"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                (
                    i["capacityProvider"].as_str().unwrap().to_string(),
                    i["weight"].as_i64().unwrap_or(0),
                    i["base"].as_i64().unwrap_or(0),
                )
            })
            .collect()
    };
    assert_eq!(
        capacity(&inputs[1]),
        vec![("FARGATE".to_string(), 4, 1)],
        "Spot replaced by on-demand: {:#?}",
        inputs[1]
    );
    assert_eq!(
        capacity(&inputs[2]),
        vec![
            ("FARGATE_SPOT".to_string(), 3, 0),
            ("FARGATE".to_string(), 1, 1)
        ],
        "--migrate-on-spot keeps the service's strategy"
    );
}

/// Regression (#9.9): a service whose deployment failed was returned only when its whole wave
/// had settled, so it stayed broken while a slow sibling was still deploying (here: until the
/// sibling's --timeout). Each service is returned as soon as its own deployment fails.
#[test]
fn failed_service_is_rolled_back_before_its_wave_settles() {
    let e = env();
    let web1 = e.register("web", "app:v1");
    let job1 = e.register_container("worker", "job", "app:v1");
    e.create_service("web", &web1, 1, breaker(false));
    e.create_service("worker", &job1, 1, breaker(false));
    let out = e.deploy(&[
        "--service",
        "web",
        "--service",
        "worker",
        "--image",
        "app=app:slow",
        "--image",
        "job=app:crash",
        "--timeout",
        "6s",
    ]);
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

fn stale(calls: u32, update_service_response: bool) -> ecs_emulator::Consistency {
    ecs_emulator::Consistency {
        describe_services: ecs_emulator::StaleWindow {
            calls,
            seconds: 0.0,
        },
        update_service_response,
    }
}

/// Regression (#9.2): with --force-new-deployment and a stale UpdateService answer and
/// DescribeServices, ecs-roll fell back to following "the deployment running the target task
/// definition" — the old, COMPLETED one — and reported a crashing forced deployment green. The
/// new deployment is the one that did not exist before the call, waited for by id.
#[test]
fn forced_deployment_with_stale_reads_is_followed_by_id() {
    let e = env();
    let v1 = e.register("web", "app:v1");
    e.create_service("web", &v1, 1, breaker(true));
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
    let v1 = e.register("web", "app:v1");
    e.create_service("web", &v1, 1, breaker(true));
    e.emulator.set_consistency(stale(1_000_000, true));
    let out = e.deploy(&[
        "--service",
        "web",
        "--image",
        "app=app:v2",
        "--timeout",
        "2s",
        "--rollback-timeout",
        "2s",
    ]);
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
    let v1 = e.register("web", "app:v1");
    e.create_service("web", &v1, 1, breaker(true));
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
    let out = e.deploy(&["--service", "web", "--image", "app=app:v2"]);
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

/// #9.4: a role without ecs:ListServiceDeployments gets exit 3 naming that permission and --to.
#[test]
fn rollback_without_history_permission_names_it() {
    use ecs_emulator::{Fault, FaultKind};
    let e = env();
    let v1 = e.register("web", "app:v1");
    e.create_service("web", &v1, 1, breaker(true));
    e.deploy(&["--service", "web", "--image", "app=app:v2"])
        .assert_code(0);
    for operation in ["ListServiceDeployments", "DescribeServiceRevisions"] {
        e.emulator.clear_faults();
        e.emulator.inject_fault(Fault {
            operation: operation.into(),
            count: 1_000_000,
            kind: FaultKind::AccessDenied,
        });
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

/// #9.6 in ecs-roll: a release to a desiredCount-0 service proves nothing (no task ran the new
/// revision): not green, unless --allow-empty.
#[test]
fn empty_service_is_not_green_without_allow_empty() {
    let e = env();
    let v1 = e.register("web", "app:v1");
    e.create_service("web", &v1, 0, breaker(true));
    let out = e.deploy(&["--service", "web", "--image", "app=app:v2"]);
    out.assert_code(1);
    let json = out.json();
    assert_ne!(json["result"], "succeeded", "{}", out.stderr);
    assert_eq!(json["detail"]["services"][0]["wait"]["result"], "no_tasks");
    let out = e.deploy(&["--service", "web", "--image", "app=app:v2", "--allow-empty"]);
    out.assert_code(0);
    assert_eq!(out.json()["result"], "succeeded", "{}", out.stderr);
    assert_eq!(short(&e.primary("web").1), "web:2");
}
