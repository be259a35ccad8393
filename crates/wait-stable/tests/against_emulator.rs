//! `wait-stable`, the real binary, against the ECS rollout emulator.
//!
//! Each test starts its own emulator in-process with a manual clock, sets the cluster, task
//! definitions and services up through aws-sdk-ecs, starts a rollout with UpdateService and runs
//! `wait-stable` while the test moves emulated time one second per 20 ms — but only after the
//! tool's first DescribeServices, so the tool always sees the rollout from its start and the
//! outcome never depends on how fast the machine is.

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_sdk_ecs::Client;
use aws_sdk_ecs::config::Credentials;
use aws_sdk_ecs::types::LoadBalancer;
use aws_sdk_ecs::types::{ContainerDefinition, DeploymentCircuitBreaker, DeploymentConfiguration};
use ecs_emulator::{
    Config, Consistency, Emulator, Fault, FaultKind, RunningEmulator, Scenario, StaleWindow,
};
use serde_json::Value;
use test_support::{Cmd, Output};

mod native;

const SCENARIO: &str = r#"
images:
  "web:v1": { behavior: healthy, start_seconds: 2, healthy_after_seconds: 3, stop_seconds: 1 }
  "web:v2": { behavior: healthy, start_seconds: 2, healthy_after_seconds: 3, stop_seconds: 1 }
  "web:v3": { behavior: healthy, start_seconds: 2, healthy_after_seconds: 3, stop_seconds: 1 }
  "web:crash": { behavior: crash, start_seconds: 2, after_seconds: 2, exit_code: 137, stop_seconds: 1 }
  "web:nopull": { behavior: fail_to_start, start_seconds: 2, reason: "CannotPullContainerError: pull image manifest has been retried 1 time(s): failed to resolve ref 123456789012.dkr.ecr.us-east-1.amazonaws.com/web:nopull: not found" }
  "web:slow": { behavior: healthy, start_seconds: 100000 }
  "web:crashloop": { behavior: crash, start_seconds: 1, after_seconds: 6, exit_code: 1, stop_seconds: 1 }
  "web:sick": { behavior: never_healthy, start_seconds: 2, unhealthy_after_seconds: 3, stop_seconds: 1 }
"#;

/// Real milliseconds per emulated second while a tool runs (50x).
const TICK: Duration = Duration::from_millis(20);

struct Env {
    emulator: RunningEmulator,
    ecs: Client,
}

async fn env() -> Env {
    let emulator =
        Emulator::start(Config::manual().with_scenario(Scenario::parse(SCENARIO).unwrap()))
            .await
            .unwrap();
    let config = aws_config::defaults(BehaviorVersion::latest())
        .region("us-east-1")
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
        .endpoint_url(emulator.url())
        .load()
        .await;
    let ecs = Client::new(&config);
    ecs.create_cluster()
        .cluster_name("prod")
        .send()
        .await
        .unwrap();
    Env { emulator, ecs }
}

impl Env {
    async fn register(&self, image: &str) -> String {
        let out = self
            .ecs
            .register_task_definition()
            .family("web")
            .container_definitions(
                ContainerDefinition::builder()
                    .name("app")
                    .image(image)
                    .essential(true)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        out.task_definition()
            .unwrap()
            .task_definition_arn()
            .unwrap()
            .to_string()
    }

    /// A service of 2 tasks on `web:v1`, circuit breaker on, rolled out and settled.
    async fn service(&self, cluster: &str, name: &str, rollback: bool) {
        let v1 = self.register("web:v1").await;
        let breaker = DeploymentCircuitBreaker::builder()
            .enable(true)
            .rollback(rollback)
            .build();
        self.ecs
            .create_service()
            .cluster(cluster)
            .service_name(name)
            .task_definition(v1)
            .desired_count(2)
            .deployment_configuration(
                DeploymentConfiguration::builder()
                    .maximum_percent(200)
                    .minimum_healthy_percent(100)
                    .deployment_circuit_breaker(breaker)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        self.emulator.advance(Duration::from_secs(60));
        let d = self.describe(cluster, name).await;
        assert_eq!(
            d["deployments"].as_array().unwrap().len(),
            1,
            "setup did not settle: {d}"
        );
    }

    /// UpdateService to `image`; returns the new deployment id and task definition ARN.
    async fn deploy(&self, cluster: &str, name: &str, image: &str) -> (String, String) {
        let td = self.register(image).await;
        let out = self
            .ecs
            .update_service()
            .cluster(cluster)
            .service(name)
            .task_definition(&td)
            .send()
            .await
            .unwrap();
        let svc = out.service().unwrap();
        let primary = svc
            .deployments()
            .iter()
            .find(|d| d.status() == Some("PRIMARY"))
            .unwrap();
        (primary.id().unwrap().to_string(), td)
    }

    /// A service of `desired` tasks created straight on `image`, circuit breaker with rollback
    /// on, not waited for.
    async fn service_on(&self, name: &str, image: &str, desired: i32) -> String {
        let td = self.register(image).await;
        self.ecs
            .create_service()
            .cluster("prod")
            .service_name(name)
            .task_definition(&td)
            .desired_count(desired)
            .deployment_configuration(
                DeploymentConfiguration::builder()
                    .maximum_percent(200)
                    .minimum_healthy_percent(100)
                    .deployment_circuit_breaker(
                        DeploymentCircuitBreaker::builder()
                            .enable(true)
                            .rollback(true)
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .unwrap();
        td
    }

    /// UpdateService to `image`; returns the ServiceDeployment ARN the service reports.
    async fn deploy_service_deployment(&self, cluster: &str, name: &str, image: &str) -> String {
        let td = self.register(image).await;
        let out = self
            .ecs
            .update_service()
            .cluster(cluster)
            .service(name)
            .task_definition(&td)
            .send()
            .await
            .unwrap();
        out.service()
            .unwrap()
            .current_service_deployment()
            .expect("currentServiceDeployment")
            .to_string()
    }

    async fn describe(&self, cluster: &str, name: &str) -> Value {
        let out = self
            .ecs
            .describe_services()
            .cluster(cluster)
            .services(name)
            .send()
            .await
            .unwrap();
        let s = &out.services()[0];
        serde_json::json!({
            "deployments": s.deployments().iter().map(|d| serde_json::json!({
                "id": d.id(), "status": d.status(), "rollout": d.rollout_state().map(|r| r.as_str().to_string()),
            })).collect::<Vec<_>>(),
        })
    }

    fn cmd(&self) -> Cmd {
        Cmd::bin("wait-stable")
            .env("AWS_ENDPOINT_URL_ECS", self.emulator.url())
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .args(["--interval", "100ms"])
            .timeout(Duration::from_secs(120))
    }

    /// Run `cmd` while emulated time moves one second per tick, starting after its first poll.
    async fn run(&self, cmd: Cmd) -> Output {
        self.run_with(cmd, async |_| {}).await
    }

    /// Like `run`, calling `after_first_poll` once the tool has described the services once.
    async fn run_with(&self, cmd: Cmd, after_first_poll: impl AsyncFnOnce(&Env)) -> Output {
        self.emulator.reset_calls();
        let job = tokio::task::spawn_blocking(move || cmd.run());
        while self.emulator.calls().count("DescribeServices") == 0 && !job.is_finished() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        after_first_poll(self).await;
        while !job.is_finished() {
            self.emulator.advance(Duration::from_secs(1));
            tokio::time::sleep(TICK).await;
        }
        job.await.unwrap()
    }
}

fn detail(out: &Output) -> Vec<Value> {
    out.json()["detail"]
        .as_array()
        .cloned()
        .unwrap_or_else(|| panic!("no detail: {}", out.stdout))
}

/// A healthy rollout exits 0 with the deployment's outputs, one JSON object and a job summary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthy_rollout_succeeds_with_outputs_json_and_summary() {
    let env = env().await;
    env.service("prod", "web", true).await;
    let (deployment, td) = env.deploy("prod", "web", "web:v2").await;
    let out = env
        .run(
            env.cmd()
                .args(["--cluster", "prod", "--service", "web", "--output", "json"])
                .github_actions(),
        )
        .await;
    out.assert_code(0).assert_no_panic();
    assert_eq!(out.output("result"), "succeeded");
    assert_eq!(out.output("deployment_id"), deployment);
    assert_eq!(out.output("task_definition"), td);
    assert_eq!(out.output("running_count"), "2");
    assert!(out.output("duration_s").parse::<f64>().is_ok());
    let json = out.json();
    assert_eq!(json["tool"], "wait-stable");
    assert_eq!(json["exit_code"], 0);
    assert_eq!(json["result"], "succeeded");
    let d = &detail(&out)[0];
    assert_eq!(d["cluster"], "prod");
    assert_eq!(d["service"], "web");
    assert_eq!(d["result"], "succeeded");
    assert_eq!(d["deployment_id"], deployment.as_str());
    assert_eq!(d["running_count"], 2);
    assert!(d["duration_s"].is_number());
    let events: Vec<&str> = d["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    let completed = events
        .iter()
        .position(|m| m.contains("deployment completed"))
        .expect("completed event");
    let steady = events
        .iter()
        .position(|m| m.contains("reached a steady state"))
        .expect("steady event");
    assert!(completed < steady, "events are oldest first: {events:?}");
    // Live progress: per-deployment counts and each event once.
    assert!(
        out.stderr.contains("PRIMARY* ") && out.stderr.contains("running 2"),
        "{}",
        out.stderr
    );
    assert_eq!(
        out.stderr.matches("has reached a steady state").count(),
        1,
        "{}",
        out.stderr
    );
    assert!(
        out.summary.contains("#### ✅ web — succeeded"),
        "{}",
        out.summary
    );
    assert!(
        out.summary.contains("has reached a steady state"),
        "{}",
        out.summary
    );
}

/// --deployment-id also takes the ServiceDeployment ARN that UpdateService reports.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follows_a_service_deployment_arn() {
    let env = env().await;
    env.service("prod", "web", true).await;
    let arn = env.deploy_service_deployment("prod", "web", "web:v2").await;
    let out = env
        .run(
            env.cmd()
                .args([
                    "--cluster",
                    "prod",
                    "--service",
                    "web",
                    "--deployment-id",
                    arn.as_str(),
                ])
                .github_actions(),
        )
        .await;
    out.assert_code(0).assert_no_panic();
    assert_eq!(out.output("result"), "succeeded");
    assert!(out.output("deployment_id").starts_with("ecs-svc/"));
}

/// --task-definition as family:revision follows that revision's deployment; a crash of it is
/// reported against it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follows_a_task_definition_by_family_revision() {
    let env = env().await;
    env.service("prod", "web", true).await;
    let (deployment, td) = env.deploy("prod", "web", "web:crash").await;
    let short = td.rsplit('/').next().unwrap().to_string();
    let out = env
        .run(
            env.cmd()
                .args([
                    "--cluster",
                    "prod",
                    "--service",
                    "web",
                    "--task-definition",
                    short.as_str(),
                ])
                .github_actions(),
        )
        .await;
    out.assert_code(1).assert_no_panic();
    assert_eq!(out.output("result"), "rolled_back");
    assert_eq!(out.output("deployment_id"), deployment);
}

/// Crashing tasks trip the circuit breaker, which rolls back: exit 1, `rolled_back`, and the
/// stopped reason and exit code are named, as soon as the rollback is visible.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_with_rollback_is_rolled_back_and_names_exit_code() {
    let env = env().await;
    env.service("prod", "web", true).await;
    let (deployment, _) = env.deploy("prod", "web", "web:crash").await;
    let out = env
        .run(env.cmd().args([
            "--cluster",
            "prod",
            "--service",
            "web",
            "--timeout",
            "60s",
            "--output",
            "json",
        ]))
        .await;
    out.assert_code(1).assert_no_panic();
    let json = out.json();
    assert_eq!(json["result"], "rolled_back");
    let d = &detail(&out)[0];
    assert_eq!(d["result"], "rolled_back");
    assert_eq!(d["deployment_id"], deployment.as_str());
    assert!(
        d["reason"].as_str().unwrap().contains("circuit breaker"),
        "{d}"
    );
    let stopped = d["stopped_tasks"].as_array().unwrap();
    assert!(!stopped.is_empty(), "{d}");
    assert_eq!(stopped[0]["stop_code"], "EssentialContainerExited", "{d}");
    assert_eq!(stopped[0]["containers"][0]["exit_code"], 137, "{d}");
    assert!(out.stderr.contains("exit code 137"), "{}", out.stderr);
    assert!(
        json["message"]
            .as_str()
            .unwrap()
            .contains("EssentialContainerExited"),
        "{json}"
    );
    // Reported when seen, not at the deadline.
    assert!(out.elapsed < Duration::from_secs(30), "{:?}", out.elapsed);
    assert!(
        out.stderr.contains("circuit breaker 3/3") || out.stderr.contains("circuit breaker 2/3"),
        "{}",
        out.stderr
    );
}

/// The circuit breaker without rollback leaves a FAILED deployment: exit 1, `failed`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn circuit_breaker_without_rollback_is_failed() {
    let env = env().await;
    env.service("prod", "web", false).await;
    env.deploy("prod", "web", "web:crash").await;
    let out = env
        .run(
            env.cmd()
                .args(["--cluster", "prod", "--service", "web", "--timeout", "60s"])
                .github_actions(),
        )
        .await;
    out.assert_code(1).assert_no_panic();
    assert_eq!(out.output("result"), "failed");
    assert!(
        out.stderr.contains("tasks failed to start"),
        "{}",
        out.stderr
    );
}

/// Tasks that cannot pull their image: the CannotPullContainerError is named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_failing_to_start_name_the_pull_error() {
    let env = env().await;
    env.service("prod", "web", true).await;
    env.deploy("prod", "web", "web:nopull").await;
    let out = env
        .run(
            env.cmd()
                .args(["--cluster", "prod", "--service", "web", "--output", "json"]),
        )
        .await;
    out.assert_code(1).assert_no_panic();
    assert_eq!(out.json()["result"], "rolled_back");
    let d = &detail(&out)[0];
    assert_eq!(
        d["stopped_tasks"][0]["stop_code"], "TaskFailedToStart",
        "{d}"
    );
    assert!(
        out.stderr.contains("CannotPullContainerError"),
        "{}",
        out.stderr
    );
    assert!(
        out.json()["message"]
            .as_str()
            .unwrap()
            .contains("CannotPullContainerError")
    );
}

/// A newer UpdateService while waiting: the tracked deployment was replaced, exit 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployment_replaced_mid_wait_is_replaced() {
    let env = env().await;
    env.service("prod", "web", true).await;
    let (first, _) = env.deploy("prod", "web", "web:slow").await;
    let out = env
        .run_with(
            env.cmd()
                .args(["--cluster", "prod", "--service", "web", "--output", "json"]),
            async |env: &Env| {
                env.deploy("prod", "web", "web:v3").await;
            },
        )
        .await;
    out.assert_code(1).assert_no_panic();
    assert_eq!(out.json()["result"], "replaced");
    let d = &detail(&out)[0];
    assert_eq!(d["deployment_id"], first.as_str());
    assert!(d["reason"].as_str().unwrap().contains("web:"), "{d}");
}

/// A rollout slower than --timeout exits 4 at the deadline, not later, with the last state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_rollout_times_out_at_the_deadline() {
    let env = env().await;
    env.service("prod", "web", true).await;
    env.deploy("prod", "web", "web:slow").await;
    let out = env
        .run(
            env.cmd()
                .args([
                    "--cluster",
                    "prod",
                    "--service",
                    "web",
                    "--timeout",
                    "3s",
                    "--output",
                    "json",
                ])
                .github_actions(),
        )
        .await;
    out.assert_code(4).assert_no_panic();
    assert!(
        out.elapsed >= Duration::from_secs(3) && out.elapsed < Duration::from_secs(5),
        "{:?}",
        out.elapsed
    );
    assert_eq!(out.output("result"), "timed_out");
    let d = &detail(&out)[0];
    assert_eq!(d["result"], "timed_out");
    assert!(
        d["reason"].as_str().unwrap().contains("still IN_PROGRESS"),
        "{d}"
    );
}

/// A throttling storm on DescribeServices costs ticks, not the result.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_storm_is_ridden_out() {
    let env = env().await;
    env.service("prod", "web", true).await;
    env.deploy("prod", "web", "web:v2").await;
    env.emulator.inject_fault(Fault {
        operation: "DescribeServices".into(),
        count: 6,
        kind: FaultKind::Throttle,
    });
    let out = env
        .run(env.cmd().args([
            "--cluster",
            "prod",
            "--service",
            "web",
            "--max-attempts",
            "1",
        ]))
        .await;
    out.assert_code(0).assert_no_panic();
    assert!(out.stderr.contains("ThrottlingException"), "{}", out.stderr);
    assert!(
        out.stderr.contains("retrying at the next poll"),
        "{}",
        out.stderr
    );
}

/// Endless throttling keeps the deadline: exit 4 at --timeout, not a runtime error, not later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_throttling_still_ends_at_the_deadline() {
    let env = env().await;
    env.service("prod", "web", true).await;
    env.deploy("prod", "web", "web:v2").await;
    env.emulator.inject_fault(Fault {
        operation: "DescribeServices".into(),
        count: 100_000,
        kind: FaultKind::Throttle,
    });
    let out = env
        .run(
            env.cmd()
                .args(["--cluster", "prod", "--service", "web", "--timeout", "3s"]),
        )
        .await;
    out.assert_code(4).assert_no_panic();
    assert!(out.elapsed < Duration::from_secs(5), "{:?}", out.elapsed);
}

/// Several services in two clusters in one loop, one of them crashing: the combined result is
/// the failure, the healthy ones succeed, and each cluster's services share one DescribeServices.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_services_one_failing() {
    let env = env().await;
    env.ecs
        .create_cluster()
        .cluster_name("staging")
        .send()
        .await
        .unwrap();
    env.service("prod", "web", true).await;
    env.service("prod", "api", true).await;
    env.service("staging", "web", true).await;
    env.deploy("prod", "web", "web:v2").await;
    env.deploy("prod", "api", "web:crash").await;
    env.deploy("staging", "web", "web:v2").await;
    let out = env
        .run(
            env.cmd()
                .args([
                    "--service",
                    "prod/web",
                    "--service",
                    "prod/api,staging/web",
                    "--output",
                    "json",
                ])
                .github_actions(),
        )
        .await;
    out.assert_code(1).assert_no_panic();
    assert_eq!(out.output("result"), "rolled_back");
    let detail = detail(&out);
    let result = |c: &str, s: &str| {
        detail
            .iter()
            .find(|d| d["cluster"] == c && d["service"] == s)
            .map(|d| d["result"].as_str().unwrap().to_string())
    };
    assert_eq!(result("prod", "web").as_deref(), Some("succeeded"));
    assert_eq!(result("prod", "api").as_deref(), Some("rolled_back"));
    assert_eq!(result("staging", "web").as_deref(), Some("succeeded"));
    assert!(
        out.json()["message"]
            .as_str()
            .unwrap()
            .starts_with("2 of 3 services succeeded")
    );
    assert!(
        out.summary.contains("| api | prod | ❌ rolled_back |"),
        "{}",
        out.summary
    );
    let sizes = env.emulator.calls().describe_services_batch_sizes;
    assert!(
        sizes.iter().all(|&n| n <= 2),
        "prod's two services go in one call: {sizes:?}"
    );
    assert!(sizes.contains(&2), "{sizes:?}");
}

/// Twelve services: ten per DescribeServices call, so two calls per poll.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twelve_services_take_two_calls_per_poll() {
    let env = env().await;
    let names: Vec<String> = (0..12).map(|i| format!("svc{i:02}")).collect();
    for n in &names {
        env.service("prod", n, true).await;
    }
    for n in &names {
        env.deploy("prod", n, "web:v2").await;
    }
    let mut cmd = env.cmd().args(["--cluster", "prod"]);
    for n in &names {
        cmd = cmd.args(["--service", n.as_str()]);
    }
    let out = env.run(cmd).await;
    out.assert_code(0).assert_no_panic();
    let sizes = env.emulator.calls().describe_services_batch_sizes;
    let mut first_poll = sizes[..2].to_vec();
    first_poll.sort_unstable();
    assert_eq!(first_poll, [2, 10], "{sizes:?}");
    assert!(sizes.iter().all(|&n| n <= 10), "{sizes:?}");
}

/// A rollback that finished before the wait started is still a rollback for the tracked task
/// definition: never the false green `services-stable` gives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_finished_before_the_wait_is_not_green() {
    let env = env().await;
    env.service("prod", "web", true).await;
    let (_, td) = env.deploy("prod", "web", "web:crash").await;
    env.emulator.advance(Duration::from_secs(120));
    let out = env
        .run(
            env.cmd()
                .args([
                    "--cluster",
                    "prod",
                    "--service",
                    "web",
                    "--task-definition",
                    td.as_str(),
                ])
                .github_actions(),
        )
        .await;
    out.assert_code(1).assert_no_panic();
    assert_eq!(out.output("result"), "rolled_back");
    assert!(
        out.stderr
            .contains("deployment failed: tasks failed to start"),
        "the last events explain it: {}",
        out.stderr
    );
}

/// A missing service fails at once, naming it and the near miss.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_service_fails_fast_naming_it() {
    let env = env().await;
    env.service("prod", "web", true).await;
    let out = env
        .cmd()
        .args(["--cluster", "prod", "--service", "wbe"])
        .run();
    out.assert_code(2).assert_no_panic();
    assert!(
        out.stderr.contains("service wbe not found in cluster prod"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("did you mean `web`?"), "{}", out.stderr);
    assert!(out.elapsed < Duration::from_secs(5), "{:?}", out.elapsed);
}

/// A missing cluster fails at once, naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_cluster_fails_fast_naming_it() {
    let env = env().await;
    let out = env
        .cmd()
        .args(["--cluster", "nowhere", "--service", "web"])
        .run();
    out.assert_code(2).assert_no_panic();
    assert!(
        out.stderr.contains("cluster nowhere not found"),
        "{}",
        out.stderr
    );
    assert!(out.elapsed < Duration::from_secs(5), "{:?}", out.elapsed);
}

/// A deleted (DRAINING) service is refused by name instead of waited for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn draining_service_is_refused() {
    let env = env().await;
    env.service("prod", "web", true).await;
    env.ecs
        .delete_service()
        .cluster("prod")
        .service("web")
        .force(true)
        .send()
        .await
        .unwrap();
    let out = env
        .cmd()
        .args(["--cluster", "prod", "--service", "web"])
        .run();
    assert!(
        out.code == 1 || out.code == 2,
        "code {}: {}",
        out.code,
        out.stderr
    );
    assert!(
        out.stderr.contains("service web in cluster prod is"),
        "{}",
        out.stderr
    );
}

/// An endpoint nobody listens on is a runtime error (exit 3), quickly.
#[test]
fn unreachable_endpoint_is_a_runtime_error() {
    let out = Cmd::bin("wait-stable")
        .env(
            "AWS_ENDPOINT_URL_ECS",
            format!("http://127.0.0.1:{}", test_support::unused_port()),
        )
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .args([
            "--cluster",
            "prod",
            "--service",
            "web",
            "--max-attempts",
            "1",
        ])
        .run();
    out.assert_code(3).assert_no_panic();
    assert!(out.stderr.contains("cannot reach AWS"), "{}", out.stderr);
}

/// Bad flags exit 2 before any network call (the endpoint is a closed port).
#[test]
fn usage_errors_exit_2_without_network() {
    let closed = format!("http://127.0.0.1:{}", test_support::unused_port());
    let cases: &[(&[&str], &str)] = &[
        (&["--cluster", "prod"], "--service"),
        (&["--service", "web"], "needs a cluster"),
        (
            &[
                "--cluster",
                "prod",
                "--service",
                "web",
                "--interval",
                "10ms",
            ],
            "--interval",
        ),
        (
            &["--cluster", "prod", "--service", "web", "--timeout", "soon"],
            "90s",
        ),
        (
            &[
                "--cluster",
                "prod",
                "--service",
                "web",
                "--timeout",
                "2s",
                "--interval",
                "5s",
            ],
            "longer than --timeout",
        ),
        (
            &[
                "--cluster",
                "prod",
                "--service",
                "a",
                "--service",
                "b",
                "--deployment-id",
                "ecs-svc/1",
            ],
            "several services",
        ),
        (
            &[
                "--cluster",
                "prod",
                "--service",
                "web",
                "--deployment-id",
                "42",
            ],
            "not a deployment id",
        ),
        (
            &[
                "--cluster",
                "prod",
                "--service",
                "web",
                "--task-definition",
                "web",
            ],
            "family:revision",
        ),
        (
            &["--cluster", "prod", "--service", "web", "--until", "steady"],
            "stable",
        ),
        (
            &[
                "--cluster",
                "prod",
                "--service",
                "web",
                "--service",
                "prod/web",
            ],
            "given twice",
        ),
    ];
    for (args, needle) in cases {
        let out = Cmd::bin("wait-stable")
            .env("AWS_ENDPOINT_URL_ECS", closed.as_str())
            .env("AWS_REGION", "us-east-1")
            .args(args.iter().copied())
            .run();
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(
            out.stderr.contains(needle),
            "{args:?} should mention {needle}: {}",
            out.stderr
        );
        assert!(
            !out.stderr.contains("cannot reach"),
            "{args:?} touched the network: {}",
            out.stderr
        );
    }
}

/// --help teaches with examples and lists the results and exit codes.
#[test]
fn help_has_examples() {
    let out = Cmd::bin("wait-stable").arg("--help").run();
    out.assert_code(0);
    assert!(out.stdout.contains("Examples:"), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("wait-stable --cluster prod --service web"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("rolled_back"), "{}", out.stdout);
    assert!(out.stdout.contains("Exit codes"), "{}", out.stdout);
    for word in ["rollback_failed", "no_tasks", "--allow-empty"] {
        assert!(out.stdout.contains(word), "{word}: {}", out.stdout);
    }
}

/// Regression (issue 9 case 1): started with no --deployment-id after a circuit-breaker rollback
/// had already completed, the wait followed the rollback PRIMARY as "the current deployment" and
/// exited 0. The release was rolled back: exit 1, `rolled_back`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_completed_before_the_wait_is_rolled_back_for_the_current_primary() {
    let env = env().await;
    env.service("prod", "web", true).await;
    env.deploy("prod", "web", "web:crash").await;
    env.emulator.advance(Duration::from_secs(120));
    let out = env
        .run(
            env.cmd()
                .args(["--cluster", "prod", "--service", "web", "--output", "json"])
                .github_actions(),
        )
        .await;
    out.assert_code(1).assert_no_panic();
    assert_eq!(out.output("result"), "rolled_back", "{}", out.stderr);
}

/// Regression (issue 9 case 1, forced deployments): a forced new deployment of the same task
/// definition crashes (the image behind the tag broke) and the circuit breaker rolls back to its
/// twin on the same task definition. `--task-definition` then found the rollback PRIMARY running
/// exactly that revision and exited 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forced_deployment_rolled_back_to_its_twin_is_not_green() {
    let env = env().await;
    env.service("prod", "web", true).await;
    let v1 = env.register("web:v1").await;
    // From now on `web:v1` crashes; the running tasks keep running.
    env.emulator.set_scenario(
        Scenario::parse(&SCENARIO.replace(
            r#""web:v1": { behavior: healthy, start_seconds: 2, healthy_after_seconds: 3, stop_seconds: 1 }"#,
            r#""web:v1": { behavior: crash, start_seconds: 2, after_seconds: 2, exit_code: 1, stop_seconds: 1 }"#,
        ))
        .unwrap(),
    );
    let current = env.describe("prod", "web").await["deployments"][0]["id"].clone();
    env.ecs
        .update_service()
        .cluster("prod")
        .service("web")
        .force_new_deployment(true)
        .send()
        .await
        .unwrap();
    env.emulator.advance(Duration::from_secs(120));
    let after = env.describe("prod", "web").await;
    assert_ne!(
        after["deployments"][0]["id"], current,
        "a rollback deployment: {after}"
    );
    for extra in [&["--task-definition", v1.as_str()][..], &[][..]] {
        let out = env
            .run(
                env.cmd()
                    .args(["--cluster", "prod", "--service", "web"])
                    .args(extra.iter().copied())
                    .github_actions(),
            )
            .await;
        out.assert_code(1).assert_no_panic();
        assert_eq!(
            out.output("result"),
            "rolled_back",
            "{extra:?}: {}",
            out.stderr
        );
    }
}

/// Regression (issue 9 case 5): the circuit breaker trips with rollback on but there is no
/// COMPLETED deployment to return to (the service never ran a good revision). That was reported
/// `rolled_back`; it is `failed`, naming the service as stuck.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_with_nothing_to_return_to_is_failed_and_stuck() {
    let env = env().await;
    env.service_on("web", "web:crash", 2).await;
    let out = env
        .run(
            env.cmd()
                .args(["--cluster", "prod", "--service", "web", "--timeout", "60s"])
                .github_actions(),
        )
        .await;
    out.assert_code(1).assert_no_panic();
    assert_eq!(out.output("result"), "failed", "{}", out.stderr);
    assert!(
        out.stderr.contains("service web is stuck"),
        "{}",
        out.stderr
    );
}

/// Regression (issue 9 case 6): a new revision on a desiredCount-0 service completes without a
/// single task: that was green. It is `no_tasks` (exit 1) naming --allow-empty, which accepts it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn desired_zero_is_no_tasks_unless_allow_empty() {
    let env = env().await;
    env.service_on("web", "web:v1", 0).await;
    env.emulator.advance(Duration::from_secs(30));
    env.deploy("prod", "web", "web:v2").await;
    let out = env
        .run(
            env.cmd()
                .args(["--cluster", "prod", "--service", "web", "--output", "json"])
                .github_actions(),
        )
        .await;
    out.assert_code(1).assert_no_panic();
    assert_eq!(out.output("result"), "no_tasks", "{}", out.stderr);
    assert!(
        out.json()["message"]
            .as_str()
            .unwrap()
            .contains("--allow-empty"),
        "{}",
        out.stdout
    );
    let out = env
        .run(
            env.cmd()
                .args(["--cluster", "prod", "--service", "web", "--allow-empty"]),
        )
        .await;
    out.assert_code(0).assert_no_panic();
}

/// Regression (issue 9 case 5): the rollback's own tasks cannot start either, so the rollback
/// fails and the service is stuck half-way (ServiceDeployment ROLLBACK_FAILED). The wait said
/// `rolled_back` the moment the rollback began; a rollback under way is not final: the result is
/// `rollback_failed`, loudly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_rollback_is_rollback_failed() {
    let env = env().await;
    let v1 = env.register("web:v1").await;
    env.ecs
        .create_service()
        .cluster("prod")
        .service_name("web")
        .task_definition(v1)
        .desired_count(2)
        .deployment_configuration(
            DeploymentConfiguration::builder()
                .maximum_percent(200)
                .minimum_healthy_percent(0)
                .deployment_circuit_breaker(
                    DeploymentCircuitBreaker::builder()
                        .enable(true)
                        .rollback(true)
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    env.emulator.advance(Duration::from_secs(60));
    env.emulator.set_scenario(
        Scenario::parse(&format!(
            "{SCENARIO}rollback_tasks: {{ behavior: fail_to_start, start_seconds: 2 }}\n"
        ))
        .unwrap(),
    );
    env.deploy("prod", "web", "web:crash").await;
    let out = env
        .run(
            env.cmd()
                .args(["--cluster", "prod", "--service", "web", "--timeout", "60s"])
                .github_actions(),
        )
        .await;
    out.assert_code(1).assert_no_panic();
    assert_eq!(out.output("result"), "rollback_failed", "{}", out.stderr);
    assert!(out.stderr.contains("ROLLBACK FAILED"), "{}", out.stderr);
    assert!(out.stderr.contains("stuck"), "{}", out.stderr);
}

/// Regression (issue 9 case 7): behind a Classic Load Balancer there is no rolloutState and the
/// circuit breaker does not act. A crash loop shows, for a moment, one deployment with
/// runningCount == desiredCount: that one lucky poll was green. Success needs failedTasks == 0
/// and the steady state on two polls in a row; a crash loop never gets there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_loop_without_rollout_state_is_never_green() {
    let env = env().await;
    let v1 = env.register("web:v1").await;
    env.ecs
        .create_service()
        .cluster("prod")
        .service_name("web")
        .task_definition(v1)
        .desired_count(2)
        .load_balancers(
            LoadBalancer::builder()
                .load_balancer_name("web-clb")
                .container_name("app")
                .container_port(80)
                .build(),
        )
        .deployment_configuration(
            DeploymentConfiguration::builder()
                .maximum_percent(200)
                .minimum_healthy_percent(0)
                .build(),
        )
        .send()
        .await
        .unwrap();
    env.emulator.advance(Duration::from_secs(60));
    env.deploy("prod", "web", "web:crashloop").await;
    let out = env
        .run(
            env.cmd()
                .args(["--cluster", "prod", "--service", "web", "--timeout", "8s"])
                .github_actions(),
        )
        .await;
    assert_ne!(out.code, 0, "a crash loop was green: {}", out.stderr);
    out.assert_no_panic();
    assert_ne!(out.output("result"), "succeeded");
}

/// Regression (issue 9 case 11): right after the user's own UpdateService, DescribeServices may
/// not show the new deployment yet (eventual consistency). `--deployment-id` was refused at once
/// (exit 2, "has no deployment"); it now gets the same short grace ecs-roll's waits get.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployment_id_not_yet_visible_is_waited_for() {
    let env = env().await;
    env.service("prod", "web", true).await;
    env.emulator.set_consistency(Consistency {
        describe_services: StaleWindow {
            calls: 3,
            seconds: 0.0,
        },
        update_service_response: false,
    });
    let (deployment, _) = env.deploy("prod", "web", "web:v2").await;
    let out = env
        .run(
            env.cmd()
                .args([
                    "--cluster",
                    "prod",
                    "--service",
                    "web",
                    "--deployment-id",
                    deployment.as_str(),
                ])
                .github_actions(),
        )
        .await;
    out.assert_code(0).assert_no_panic();
    assert_eq!(out.output("deployment_id"), deployment);
}

/// A deployment-alarm rollback is a rollback: `rolled_back`, once the rollback completed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alarm_rollback_is_rolled_back() {
    use aws_sdk_ecs::types::DeploymentAlarms;
    let env = env().await;
    let v1 = env.register("web:v1").await;
    env.ecs
        .create_service()
        .cluster("prod")
        .service_name("web")
        .task_definition(v1)
        .desired_count(2)
        .deployment_configuration(
            DeploymentConfiguration::builder()
                .maximum_percent(200)
                .minimum_healthy_percent(100)
                .alarms(
                    DeploymentAlarms::builder()
                        .alarm_names("web-5xx")
                        .enable(true)
                        .rollback(true)
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    env.emulator.advance(Duration::from_secs(60));
    env.deploy("prod", "web", "web:slow").await;
    let out = env
        .run_with(
            env.cmd()
                .args(["--cluster", "prod", "--service", "web", "--timeout", "60s"])
                .github_actions(),
            async |env: &Env| env.emulator.set_alarm("web-5xx", "ALARM"),
        )
        .await;
    out.assert_code(1).assert_no_panic();
    assert_eq!(out.output("result"), "rolled_back", "{}", out.stderr);
    assert!(out.stderr.contains("alarm"), "{}", out.stderr);
}

/// The scenarios of the issue-9 matrix, each with the only acceptable result.
#[derive(Debug, Clone, Copy)]
enum Case {
    Healthy,
    CrashBreakerRollback,
    FailToStart,
    NeverHealthy,
    SlowPastDeadline,
    ThrottlingStorm,
    ReplacedMidWait,
    RollbackFinishedBeforeWait,
    RollbackFailed,
    NothingToReturnTo,
    DesiredZero,
    ClbCrashLoop,
    AlarmRollback,
}

impl Case {
    const ALL: [Case; 13] = [
        Case::Healthy,
        Case::CrashBreakerRollback,
        Case::FailToStart,
        Case::NeverHealthy,
        Case::SlowPastDeadline,
        Case::ThrottlingStorm,
        Case::ReplacedMidWait,
        Case::RollbackFinishedBeforeWait,
        Case::RollbackFailed,
        Case::NothingToReturnTo,
        Case::DesiredZero,
        Case::ClbCrashLoop,
        Case::AlarmRollback,
    ];

    fn expected(self) -> &'static str {
        match self {
            Case::Healthy | Case::ThrottlingStorm => "succeeded",
            Case::CrashBreakerRollback
            | Case::FailToStart
            | Case::NeverHealthy
            | Case::RollbackFinishedBeforeWait
            | Case::AlarmRollback => "rolled_back",
            Case::SlowPastDeadline | Case::ClbCrashLoop => "timed_out",
            Case::ReplacedMidWait => "replaced",
            Case::RollbackFailed => "rollback_failed",
            Case::NothingToReturnTo => "failed",
            Case::DesiredZero => "no_tasks",
        }
    }
}

/// A service on web:v1, settled, with the configuration `case` needs.
async fn matrix_service(env: &Env, case: Case) {
    use aws_sdk_ecs::types::DeploymentAlarms;
    let v1 = env.register("web:v1").await;
    let mut config = DeploymentConfiguration::builder()
        .maximum_percent(200)
        .minimum_healthy_percent(match case {
            Case::RollbackFailed | Case::ClbCrashLoop => 0,
            _ => 100,
        });
    if !matches!(case, Case::ClbCrashLoop) {
        config = config.deployment_circuit_breaker(
            DeploymentCircuitBreaker::builder()
                .enable(true)
                .rollback(true)
                .build(),
        );
    }
    if matches!(case, Case::AlarmRollback) {
        config = config.alarms(
            DeploymentAlarms::builder()
                .alarm_names("web-5xx")
                .enable(true)
                .rollback(true)
                .build()
                .unwrap(),
        );
    }
    let mut create = env
        .ecs
        .create_service()
        .cluster("prod")
        .service_name("web")
        .task_definition(v1)
        .desired_count(if matches!(case, Case::DesiredZero) {
            0
        } else {
            2
        })
        .deployment_configuration(config.build());
    if matches!(case, Case::ClbCrashLoop) {
        create = create.load_balancers(
            LoadBalancer::builder()
                .load_balancer_name("web-clb")
                .container_name("app")
                .container_port(80)
                .build(),
        );
    }
    create.send().await.unwrap();
    env.emulator.advance(Duration::from_secs(60));
}

/// Drive the real binary through `case`; `stale`: DescribeServices shows the service as before
/// each UpdateService for 3 calls (the wait is then told the task definition it waits for, as a
/// caller right after its own UpdateService would). Returns the `result` output.
async fn matrix_run(case: Case, stale: bool) -> String {
    let env = env().await;
    if matches!(case, Case::NothingToReturnTo) {
        env.service_on("web", "web:crash", 2).await;
    } else {
        matrix_service(&env, case).await;
    }
    if matches!(case, Case::RollbackFailed) {
        env.emulator.set_scenario(
            Scenario::parse(&format!(
                "{SCENARIO}rollback_tasks: {{ behavior: fail_to_start, start_seconds: 2 }}\n"
            ))
            .unwrap(),
        );
    }
    if stale {
        env.emulator.set_consistency(Consistency {
            describe_services: StaleWindow {
                calls: 3,
                seconds: 0.0,
            },
            update_service_response: false,
        });
    }
    let image = match case {
        Case::Healthy | Case::ThrottlingStorm | Case::DesiredZero => Some("web:v2"),
        Case::CrashBreakerRollback | Case::RollbackFinishedBeforeWait | Case::RollbackFailed => {
            Some("web:crash")
        }
        Case::FailToStart => Some("web:nopull"),
        Case::NeverHealthy => Some("web:sick"),
        Case::SlowPastDeadline | Case::ReplacedMidWait | Case::AlarmRollback => Some("web:slow"),
        Case::ClbCrashLoop => Some("web:crashloop"),
        Case::NothingToReturnTo => None,
    };
    let td = match image {
        Some(image) => Some(env.deploy("prod", "web", image).await.1),
        None => None,
    };
    if matches!(case, Case::RollbackFinishedBeforeWait) {
        env.emulator.advance(Duration::from_secs(120));
    }
    if matches!(case, Case::ThrottlingStorm) {
        env.emulator.inject_fault(Fault {
            operation: "DescribeServices".into(),
            count: 6,
            kind: FaultKind::Throttle,
        });
    }
    let timeout = match case {
        Case::SlowPastDeadline => "3s",
        Case::ClbCrashLoop => "8s",
        _ => "60s",
    };
    let mut cmd = env
        .cmd()
        .args([
            "--cluster",
            "prod",
            "--service",
            "web",
            "--timeout",
            timeout,
        ])
        .github_actions();
    if stale && let Some(td) = &td {
        cmd = cmd.args(["--task-definition", td.as_str()]);
    }
    let out = env
        .run_with(cmd, async |env: &Env| match case {
            Case::ReplacedMidWait => {
                env.deploy("prod", "web", "web:v3").await;
            }
            Case::AlarmRollback => env.emulator.set_alarm("web-5xx", "ALARM"),
            _ => {}
        })
        .await;
    out.assert_no_panic();
    out.output("result").to_string()
}

/// Issue 9's matrix for wait-stable: every emulator behaviour, eventual consistency off and on.
/// False greens (exit 0 where the release did not succeed) and wrong results must both be 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_matrix_has_no_false_green() {
    let mut rows = Vec::new();
    let (mut false_greens, mut wrong) = (0, 0);
    for case in Case::ALL {
        for stale in [false, true] {
            let got = matrix_run(case, stale).await;
            let want = case.expected();
            if got == "succeeded" && want != "succeeded" {
                false_greens += 1;
            }
            if got != want {
                wrong += 1;
            }
            rows.push(format!(
                "| {case:?} | {} | {want} | {got} |",
                if stale { "stale 3 calls" } else { "consistent" }
            ));
        }
    }
    eprintln!(
        "| scenario | DescribeServices | expected | wait-stable |\n|---|---|---|---|\n{}\nfalse greens: {false_greens}, wrong results: {wrong}",
        rows.join("\n")
    );
    assert_eq!((false_greens, wrong), (0, 0), "{}", rows.join("\n"));
}
