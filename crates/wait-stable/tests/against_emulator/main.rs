//! `wait-stable`, the real binary, against the ECS rollout emulator.
//!
//! Each test starts its own emulator in-process with a manual clock, sets the cluster, task
//! definitions and services up through aws-sdk-ecs, starts a rollout with UpdateService and runs
//! `wait-stable` while the test moves emulated time one second per 20 ms — but only after the
//! tool's first DescribeServices, so the tool always sees the rollout from its start and the
//! outcome never depends on how fast the machine is.

use std::time::Duration;

use aws_sdk_ecs::types::{DeploymentCircuitBreaker, DeploymentConfiguration};
use aws_sdk_ecs::types::{LoadBalancer, Service};
use ecs_emulator::{Config, Consistency, Fault, FaultKind, Scenario, StaleWindow};
use serde_json::Value;
use test_support::ecs::{Container, EcsFixture, breaker};
use test_support::{Cmd, Output};

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

/// The shared ECS fixture (test-support), with this suite's steps on top.
struct Env(EcsFixture);

impl std::ops::Deref for Env {
    type Target = EcsFixture;
    fn deref(&self) -> &EcsFixture {
        &self.0
    }
}

async fn env() -> Env {
    Env(EcsFixture::start(Config::manual().with_scenario(Scenario::parse(SCENARIO).unwrap())).await)
}

impl Env {
    async fn register(&self, image: &str) -> String {
        self.0.register("web", Container::new("app", image)).await
    }

    /// A service of 2 tasks on `web:v1`, circuit breaker on, rolled out and settled.
    async fn service(&self, cluster: &str, name: &str, rollback: bool) {
        let v1 = self.register("web:v1").await;
        self.create_service(cluster, name, &v1, 2, breaker(rollback))
            .await;
        self.emulator.advance(Duration::from_secs(60));
        let d = self.describe(cluster, name).await;
        assert_eq!(
            d["deployments"].as_array().unwrap().len(),
            1,
            "setup did not settle: {d}"
        );
    }

    /// Service `prod/web` of 2 tasks on `web:v1` with `config` (and `clb`, a Classic Load
    /// Balancer, if given), created straight through the SDK and settled.
    async fn web_service_with(&self, config: DeploymentConfiguration, clb: Option<&str>) {
        let v1 = self.register("web:v1").await;
        let create = self
            .ecs
            .create_service()
            .cluster("prod")
            .service_name("web");
        let lb = clb.map(|name| {
            let lb = LoadBalancer::builder().load_balancer_name(name);
            lb.container_name("app").container_port(80).build()
        });
        create
            .task_definition(v1)
            .desired_count(2)
            .set_load_balancers(lb.map(|lb| vec![lb]))
            .deployment_configuration(config)
            .send()
            .await
            .unwrap();
        self.emulator.advance(Duration::from_secs(60));
    }

    /// Register `image` and UpdateService `cluster/name` to it; the service as answered and the
    /// revision's ARN.
    async fn update_to(&self, cluster: &str, name: &str, image: &str) -> (Service, String) {
        let td = self.register(image).await;
        let update = self.ecs.update_service().cluster(cluster).service(name);
        let out = update.task_definition(&td).send().await.unwrap();
        (out.service().unwrap().clone(), td)
    }

    /// UpdateService to `image`; returns the new deployment id and task definition ARN.
    async fn deploy(&self, cluster: &str, name: &str, image: &str) -> (String, String) {
        let (svc, td) = self.update_to(cluster, name, image).await;
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
        self.create_service("prod", name, &td, desired, breaker(true))
            .await;
        td
    }

    /// UpdateService to `image`; returns the ServiceDeployment ARN the service reports.
    async fn deploy_service_deployment(&self, cluster: &str, name: &str, image: &str) -> String {
        let (svc, _) = self.update_to(cluster, name, image).await;
        svc.current_service_deployment()
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

    /// `wait-stable --cluster prod --service web` with `extra` flags.
    fn wait_web(&self, extra: &[&str]) -> Cmd {
        let cmd = self.cmd().args(["--cluster", "prod", "--service", "web"]);
        cmd.args(extra.iter().copied())
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

// One test binary, a module per topic (ripgrep style).
mod deadline_and_faults;
mod failures;
mod native;
mod rollback_before_wait;
mod scenario_matrix;
mod succeeds;
mod usage;
