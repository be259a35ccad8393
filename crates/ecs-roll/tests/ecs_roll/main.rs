//! The real `ecs-roll` binary against the ECS rollout emulator, as a workflow runs it.
//!
//! Each test starts its own emulator (accelerated clock) with healthy `app:v1`/`app:v2`, a
//! crashing `app:crash`, a `app:slow` that takes minutes to start, and one-off tasks whose
//! command containing `fail` exits 3. Fixtures (cluster, revisions, services) are made with
//! aws-sdk-ecs and waited until stable before the binary runs; assertions read the emulator's
//! state back through the SDK, so a tool that lies in its output still fails the test.

use std::time::{Duration, Instant};

use aws_sdk_ecs::Client;
use aws_sdk_ecs::types::{DeploymentConfiguration, Service, SortOrder, TaskDefinitionStatus};
use ecs_emulator::{Config, RunningEmulator, Scenario};
use test_support::ecs::{Container, EcsFixture, breaker};
use test_support::{Cmd, Output, unused_port};

mod smoke_gate;

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

/// The shared ECS fixture (test-support) with this suite's scenario, blocking.
fn env() -> Env {
    let scenario = Scenario::parse(SCENARIO).unwrap();
    let (EcsFixture { emulator, ecs }, rt) = EcsFixture::start_blocking(Config::new(scenario));
    Env { emulator, ecs, rt }
}

impl Env {
    /// Register `family` with one container `app` running `image` (plus tags).
    fn register(&self, family: &str, image: &str) -> String {
        self.register_container(family, "app", image)
    }

    fn register_container(&self, family: &str, container: &str, image: &str) -> String {
        let c = Container {
            with_env_and_tags: true,
            ..Container::new(container, image)
        };
        self.rt
            .block_on(test_support::ecs::register(&self.ecs, family, c))
    }

    fn create_service(
        &self,
        name: &str,
        task_definition: &str,
        desired: i32,
        config: DeploymentConfiguration,
    ) {
        self.rt.block_on(test_support::ecs::create_service(
            &self.ecs,
            "prod",
            name,
            task_definition,
            desired,
            config,
        ));
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

    /// Service `web` (desired 1, `config`) running a new revision of family `web` with `image`,
    /// waited stable; that revision's ARN.
    fn web_service(&self, image: &str, config: DeploymentConfiguration) -> String {
        let arn = self.register("web", image);
        self.create_service("web", &arn, 1, config);
        arn
    }

    /// Services `web` (container `app`) and `worker` (container `job`), both on `app:v1` under
    /// [`breaker`]`(rollback)`, waited stable; their revisions' ARNs.
    fn web_and_worker(&self, rollback: bool) -> (String, String) {
        let web = self.web_service("app:v1", breaker(rollback));
        let job = self.register_container("worker", "job", "app:v1");
        self.create_service("worker", &job, 1, breaker(rollback));
        (web, job)
    }

    /// `deploy --service web --image app=IMAGE` with `extra` flags (see [`Env::deploy`]).
    fn deploy_web(&self, image: &str, extra: &[&str]) -> Output {
        let app = format!("app={image}");
        let mut args = vec!["--service", "web", "--image", app.as_str()];
        args.extend_from_slice(extra);
        self.deploy(&args)
    }

    /// `deploy` of both [`Env::web_and_worker`] services: `app` to `web_image`, `job` to
    /// `job_image`, with `extra` flags.
    fn deploy_web_and_worker(&self, web_image: &str, job_image: &str, extra: &[&str]) -> Output {
        let (app, job) = (format!("app={web_image}"), format!("job={job_image}"));
        let mut args = vec!["--service", "web", "--service", "worker"];
        args.extend(["--image", app.as_str(), "--image", job.as_str()]);
        args.extend_from_slice(extra);
        self.deploy(&args)
    }

    /// `prune --family web --keep 1 --cluster prod --output json` with `extra` flags.
    fn prune_web(&self, extra: &[&str]) -> Output {
        self.cmd()
            .args([
                "prune",
                "--family",
                "web",
                "--keep",
                "1",
                "--cluster",
                "prod",
            ])
            .args(["--output", "json"])
            .args(extra.iter().copied())
            .run()
    }

    /// DescribeTaskDefinition of `revision` (`family:N` or an ARN).
    fn task_definition(&self, revision: &str) -> aws_sdk_ecs::types::TaskDefinition {
        let describe = self
            .ecs
            .describe_task_definition()
            .task_definition(revision);
        let out = self.rt.block_on(describe.send()).unwrap();
        out.task_definition().unwrap().clone()
    }

    /// ACTIVE revisions of a family as `family:N`, newest first.
    fn revision_names(&self, family: &str) -> Vec<String> {
        let arns = self.revisions(family);
        arns.iter().map(|a| short(a).to_string()).collect()
    }

    /// Make `operation` answer with `kind` for the next `count` calls.
    fn fail_calls(&self, operation: &str, count: u32, kind: ecs_emulator::FaultKind) {
        self.emulator.inject_fault(ecs_emulator::Fault {
            operation: operation.into(),
            count,
            kind,
        });
    }

    fn deploy(&self, extra: &[&str]) -> Output {
        self.cmd()
            .args(["deploy", "--cluster", "prod", "--interval", "200ms"])
            .args(["--output", "json"])
            .args(extra.iter().copied())
            .github_actions()
            .run()
    }
}

fn short(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap()
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

// One test binary, a module per topic (ripgrep style).
mod auto_rollback;
mod aws_faults;
mod deploy;
mod diff_prune;
mod github_deployment;
mod migration;
mod native;
mod process_migration;
mod rollback_command;
mod task_logs;
mod usage;
