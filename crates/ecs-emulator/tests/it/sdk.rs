//! The emulator driven by the official aws-sdk-ecs, as the deploy-kit tools drive ECS.
//!
//! Every test uses the manual clock and steps it one emulated second at a time, so the
//! transitions checked here are deterministic and the whole file runs in a few seconds.

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_sdk_ecs::Client;
use aws_sdk_ecs::config::Credentials;
use aws_sdk_ecs::types::{
    ContainerDefinition, DeploymentCircuitBreaker, DeploymentConfiguration, DeploymentRolloutState,
    Service,
};
use ecs_emulator::{Config, Emulator, RunningEmulator, Scenario};

const SCENARIO: &str = r#"
images:
  "web:v1": { behavior: healthy, start_seconds: 3, healthy_after_seconds: 5 }
  "web:v2": { behavior: healthy, start_seconds: 3, healthy_after_seconds: 5 }
  "web:crash": { behavior: crash, start_seconds: 2, after_seconds: 4, exit_code: 137 }
  "web:nopull": { behavior: fail_to_start, start_seconds: 2, reason: "CannotPullContainerError: pull image manifest has been retried 1 time(s): ref not found" }
  "web:sick": { behavior: never_healthy, start_seconds: 2, unhealthy_after_seconds: 5 }
run_task: { duration_seconds: 5, exit_code: 0, command_exit_codes: { "fail": 3 } }
"#;

struct Env {
    emulator: RunningEmulator,
    ecs: Client,
}

async fn client(url: &str, retries: bool) -> Client {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region("us-east-1")
        .credentials_provider(Credentials::new(
            "AKIDEMULATOR",
            "secret",
            None,
            None,
            "test",
        ))
        .endpoint_url(url);
    if !retries {
        loader = loader.retry_config(aws_config::retry::RetryConfig::disabled());
    }
    Client::new(&loader.load().await)
}

async fn env() -> Env {
    let config = Config::manual().with_scenario(Scenario::parse(SCENARIO).unwrap());
    let emulator = Emulator::start(config).await.unwrap();
    let ecs = client(&emulator.url(), false).await;
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

    async fn create_service(
        &self,
        name: &str,
        task_definition: &str,
        desired: i32,
        config: DeploymentConfiguration,
    ) -> Service {
        self.ecs
            .create_service()
            .cluster("prod")
            .service_name(name)
            .task_definition(task_definition)
            .desired_count(desired)
            .deployment_configuration(config)
            .send()
            .await
            .unwrap()
            .service()
            .unwrap()
            .clone()
    }

    async fn update(&self, name: &str, task_definition: &str) -> Service {
        self.ecs
            .update_service()
            .cluster("prod")
            .service(name)
            .task_definition(task_definition)
            .send()
            .await
            .unwrap()
            .service()
            .unwrap()
            .clone()
    }

    async fn describe(&self, name: &str) -> Service {
        let out = self
            .ecs
            .describe_services()
            .cluster("prod")
            .services(name)
            .send()
            .await
            .unwrap();
        out.services()[0].clone()
    }

    /// Steps the clock a second at a time until `done` holds (or panics after `limit` seconds),
    /// calling `check` after every step.
    async fn step_until(
        &self,
        name: &str,
        limit: u32,
        mut check: impl FnMut(&Service, &serde_json::Value),
        done: impl Fn(&Service) -> bool,
    ) -> Service {
        for _ in 0..limit {
            self.emulator.advance(Duration::from_secs(1));
            let service = self.describe(name).await;
            check(&service, &self.emulator.state());
            if done(&service) {
                return service;
            }
        }
        panic!(
            "{name} did not reach the expected state in {limit} s: {:#?}",
            self.describe(name).await
        );
    }
}

fn rolling(min: i32, max: i32) -> DeploymentConfiguration {
    DeploymentConfiguration::builder()
        .minimum_healthy_percent(min)
        .maximum_percent(max)
        .build()
}

fn with_breaker(rollback: bool) -> DeploymentConfiguration {
    DeploymentConfiguration::builder()
        .deployment_circuit_breaker(
            DeploymentCircuitBreaker::builder()
                .enable(true)
                .rollback(rollback)
                .build(),
        )
        .build()
}

fn primary(service: &Service) -> &aws_sdk_ecs::types::Deployment {
    service
        .deployments()
        .iter()
        .find(|d| d.status() == Some("PRIMARY"))
        .expect("a PRIMARY deployment")
}

fn completed(service: &Service) -> bool {
    service.deployments().len() == 1
        && primary(service).rollout_state() == Some(&DeploymentRolloutState::Completed)
}

fn messages(service: &Service) -> Vec<String> {
    service
        .events()
        .iter()
        .map(|e| e.message().unwrap_or_default().to_string())
        .collect()
}

fn healthy_tasks(state: &serde_json::Value, name: &str) -> u64 {
    state["clusters"][0]["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service"]["serviceName"] == name)
        .map(|s| s["healthyTasks"].as_u64().unwrap())
        .unwrap()
}

/// A healthy rollout ends COMPLETED with one PRIMARY on the new revision, "deployment
/// completed" before "reached a steady state", and ServiceDeployment SUCCESSFUL.
#[tokio::test]
async fn healthy_rollout_completes() {
    let env = env().await;
    let v1 = env.register("web:v1").await;
    let v2 = env.register("web:v2").await;
    let created = env.create_service("web", &v1, 2, rolling(100, 200)).await;
    assert_eq!(
        primary(&created).rollout_state(),
        Some(&DeploymentRolloutState::InProgress)
    );
    env.step_until("web", 120, |_, _| {}, completed).await;

    let updated = env.update("web", &v2).await;
    assert_eq!(updated.task_definition(), Some(v2.as_str()));
    assert_eq!(updated.deployments().len(), 2);
    let new_id = primary(&updated).id().unwrap().to_string();
    assert!(new_id.starts_with("ecs-svc/") && new_id.len() == "ecs-svc/".len() + 19);
    assert_eq!(
        primary(&updated).rollout_state_reason(),
        Some(format!("ECS deployment {new_id} in progress.").as_str())
    );
    let old = updated
        .deployments()
        .iter()
        .find(|d| d.status() == Some("ACTIVE"))
        .unwrap();
    assert_eq!(old.task_definition(), Some(v1.as_str()));
    let sd_arn = updated.current_service_deployment().unwrap().to_string();
    assert!(sd_arn.starts_with("arn:aws:ecs:us-east-1:123456789012:service-deployment/prod/web/"));

    let done = env.step_until("web", 120, |_, _| {}, completed).await;
    let p = primary(&done);
    assert_eq!(p.id(), Some(new_id.as_str()));
    assert_eq!(p.task_definition(), Some(v2.as_str()));
    assert_eq!(p.running_count(), 2);
    assert_eq!(done.running_count(), 2);
    assert_eq!(
        p.rollout_state_reason(),
        Some(format!("ECS deployment {new_id} completed.").as_str())
    );
    let events = messages(&done);
    assert_eq!(events[0], "(service web) has reached a steady state.");
    assert_eq!(
        events[1],
        format!("(service web) (deployment {new_id}) deployment completed.")
    );
    assert!(
        events
            .iter()
            .any(|m| m.starts_with("(service web) has started 2 tasks: (task "))
    );
    assert!(
        events
            .iter()
            .any(|m| m.starts_with("(service web) has stopped 2 running tasks: (task "))
    );

    let sd = env
        .ecs
        .describe_service_deployments()
        .service_deployment_arns(&sd_arn)
        .send()
        .await
        .unwrap();
    let sd = &sd.service_deployments()[0];
    assert_eq!(sd.status().unwrap().as_str(), "SUCCESSFUL");
    assert!(sd.finished_at().is_some());

    // Old tasks were stopped by the scheduler, with the reason ECS gives.
    let stopped = env
        .ecs
        .list_tasks()
        .cluster("prod")
        .service_name("web")
        .desired_status(aws_sdk_ecs::types::DesiredStatus::Stopped)
        .send()
        .await
        .unwrap();
    let tasks = env
        .ecs
        .describe_tasks()
        .cluster("prod")
        .set_tasks(Some(stopped.task_arns().to_vec()))
        .send()
        .await
        .unwrap();
    assert_eq!(tasks.tasks().len(), 2);
    for t in tasks.tasks() {
        assert_eq!(t.stop_code().unwrap().as_str(), "ServiceSchedulerInitiated");
        assert_eq!(
            t.stopped_reason(),
            Some(format!("Scaling activity initiated by (deployment {new_id})").as_str())
        );
        assert_eq!(t.group(), Some("service:web"));
        assert_eq!(t.last_status(), Some("STOPPED"));
    }
}

/// Crashing tasks trip the circuit breaker; rollback deploys the last completed revision,
/// which completes; the ServiceDeployment ends ROLLBACK_SUCCESSFUL.
#[tokio::test]
async fn crash_with_circuit_breaker_rolls_back() {
    let env = env().await;
    let v1 = env.register("web:v1").await;
    let bad = env.register("web:crash").await;
    env.create_service("web", &v1, 2, with_breaker(true)).await;
    let first = env.step_until("web", 120, |_, _| {}, completed).await;
    let good_id = primary(&first).id().unwrap().to_string();
    let updated = env.update("web", &bad).await;
    let bad_id = primary(&updated).id().unwrap().to_string();
    let sd_arn = updated.current_service_deployment().unwrap().to_string();

    let mut saw_failed = false;
    let done = env
        .step_until(
            "web",
            300,
            |s, _| {
                saw_failed |= s.deployments().iter().any(|d| {
                    d.id() == Some(bad_id.as_str())
                        && d.rollout_state() == Some(&DeploymentRolloutState::Failed)
                });
            },
            completed,
        )
        .await;
    assert!(saw_failed, "the crashing deployment was never FAILED");
    let p = primary(&done);
    assert_ne!(p.id(), Some(bad_id.as_str()));
    assert_eq!(p.task_definition(), Some(v1.as_str()));
    assert_eq!(done.task_definition(), Some(v1.as_str()));
    assert_eq!(
        p.rollout_state_reason(),
        Some(
            format!("ECS deployment circuit breaker: rolling back to deploymentId {good_id}.")
                .as_str()
        )
    );
    let events = messages(&done);
    assert!(events.contains(&format!(
        "(service web) (deployment {bad_id}) deployment failed: tasks failed to start."
    )));
    // The rollback kept the old revision's tasks (minimumHealthyPercent 100 never let them
    // stop) instead of replacing them.
    let running = env
        .ecs
        .list_tasks()
        .cluster("prod")
        .service_name("web")
        .send()
        .await
        .unwrap();
    let running = env
        .ecs
        .describe_tasks()
        .cluster("prod")
        .set_tasks(Some(running.task_arns().to_vec()))
        .send()
        .await
        .unwrap();
    assert_eq!(running.tasks().len(), 2);
    for t in running.tasks() {
        assert_eq!(t.started_by(), Some(good_id.as_str()));
        assert_eq!(t.task_definition_arn(), Some(v1.as_str()));
    }

    let sd = env
        .ecs
        .describe_service_deployments()
        .service_deployment_arns(&sd_arn)
        .send()
        .await
        .unwrap();
    let sd = &sd.service_deployments()[0];
    assert_eq!(sd.status().unwrap().as_str(), "ROLLBACK_SUCCESSFUL");
    assert!(sd.rollback().is_some());
    let cb = sd.deployment_circuit_breaker().unwrap();
    assert_eq!(cb.status().unwrap().as_str(), "TRIGGERED");
    assert_eq!(cb.threshold(), 3);
    // Two tasks crash in the same second, yet the count stops at the threshold.
    assert_eq!(cb.failure_count(), 3);

    // The crashed tasks are describable with their exit code.
    let stopped = env
        .ecs
        .list_tasks()
        .cluster("prod")
        .started_by(&bad_id)
        .desired_status(aws_sdk_ecs::types::DesiredStatus::Stopped)
        .send()
        .await
        .unwrap();
    let tasks = env
        .ecs
        .describe_tasks()
        .cluster("prod")
        .set_tasks(Some(stopped.task_arns().to_vec()))
        .send()
        .await
        .unwrap();
    let crashed: Vec<_> = tasks
        .tasks()
        .iter()
        .filter(|t| t.stop_code().map(|c| c.as_str()) == Some("EssentialContainerExited"))
        .collect();
    assert!(crashed.len() >= 3);
    assert_eq!(crashed[0].containers()[0].exit_code(), Some(137));
    assert_eq!(
        crashed[0].stopped_reason(),
        Some("Essential container in task exited")
    );
}

/// maximumPercent (floor) and minimumHealthyPercent (ceil) hold after every step of a rollout,
/// for several settings.
#[tokio::test]
async fn rollout_bounds_hold_at_every_step() {
    let env = env().await;
    let v1 = env.register("web:v1").await;
    let v2 = env.register("web:v2").await;
    for (i, (min, max, desired)) in [
        (100, 200, 4),
        (50, 200, 4),
        (0, 100, 3),
        (50, 150, 5),
        (100, 125, 4),
        (34, 100, 3),
    ]
    .into_iter()
    .enumerate()
    {
        let name = format!("bounds{i}");
        env.create_service(&name, &v1, desired, rolling(min, max))
            .await;
        env.step_until(&name, 200, |_, _| {}, completed).await;
        env.update(&name, &v2).await;
        let max_tasks = (desired * max / 100) as u64;
        let min_healthy = ((desired * min) as u64).div_ceil(100);
        let done = env
            .step_until(
                &name,
                400,
                |s, state| {
                    let live = (s.running_count() + s.pending_count()) as u64;
                    assert!(live <= max_tasks, "{name}: {live} tasks > max {max_tasks}");
                    let healthy = healthy_tasks(state, &name);
                    assert!(
                        healthy >= min_healthy,
                        "{name}: {healthy} healthy < min {min_healthy}"
                    );
                },
                completed,
            )
            .await;
        assert_eq!(primary(&done).task_definition(), Some(v2.as_str()));
        assert_eq!(done.running_count(), desired);
    }
}

/// Without rollback the breaker leaves the deployment FAILED, launches nothing more, and the
/// ServiceDeployment ends STOPPED.
#[tokio::test]
async fn breaker_without_rollback_fails_and_stops() {
    let env = env().await;
    let v1 = env.register("web:v1").await;
    let bad = env.register("web:crash").await;
    env.create_service("web", &v1, 1, with_breaker(false)).await;
    env.step_until("web", 120, |_, _| {}, completed).await;
    let updated = env.update("web", &bad).await;
    let bad_id = primary(&updated).id().unwrap().to_string();
    let sd_arn = updated.current_service_deployment().unwrap().to_string();
    let failed = env
        .step_until(
            "web",
            200,
            |_, _| {},
            |s| primary(s).rollout_state() == Some(&DeploymentRolloutState::Failed),
        )
        .await;
    let p = primary(&failed);
    assert_eq!(p.id(), Some(bad_id.as_str()));
    assert_eq!(p.failed_tasks(), 3);
    assert_eq!(
        p.rollout_state_reason(),
        Some("ECS deployment circuit breaker: tasks failed to start.")
    );
    // The old task keeps running: minimumHealthyPercent 100 never let it stop.
    assert_eq!(failed.running_count(), 1);
    let launched = |env: &Env| {
        let state = env.emulator.state();
        state["clusters"][0]["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["startedBy"] == bad_id.as_str())
            .count()
    };
    let before = launched(&env);
    env.emulator.advance(Duration::from_secs(120));
    assert_eq!(launched(&env), before, "a FAILED deployment launched tasks");
    let still = env.describe("web").await;
    assert_eq!(
        primary(&still).rollout_state(),
        Some(&DeploymentRolloutState::Failed)
    );
    let sd = env
        .ecs
        .describe_service_deployments()
        .service_deployment_arns(&sd_arn)
        .send()
        .await
        .unwrap();
    let sd = &sd.service_deployments()[0];
    assert_eq!(sd.status().unwrap().as_str(), "STOPPED");
    assert!(sd.stopped_at().is_some());
}

/// Tasks that never reach RUNNING count one by one (stage 1) up to the threshold of 3.
#[tokio::test]
async fn fail_to_start_tasks_are_counted() {
    let env = env().await;
    let bad = env.register("web:nopull").await;
    let created = env.create_service("web", &bad, 1, with_breaker(true)).await;
    let sd_arn = created.current_service_deployment().unwrap().to_string();
    let mut seen = Vec::new();
    let failed = env
        .step_until(
            "web",
            200,
            |s, _| {
                let n = primary(s).failed_tasks();
                if seen.last() != Some(&n) {
                    seen.push(n);
                }
            },
            |s| primary(s).rollout_state() == Some(&DeploymentRolloutState::Failed),
        )
        .await;
    assert_eq!(seen, vec![0, 1, 2, 3]);
    assert_eq!(failed.running_count(), 0);
    // Nothing ever completed, so there is nothing to roll back to: the deployment stalls.
    let sd = env
        .ecs
        .describe_service_deployments()
        .service_deployment_arns(&sd_arn)
        .send()
        .await
        .unwrap();
    assert_eq!(
        sd.service_deployments()[0].status().unwrap().as_str(),
        "ROLLBACK_FAILED"
    );
    let stopped = env
        .ecs
        .list_tasks()
        .cluster("prod")
        .service_name("web")
        .desired_status(aws_sdk_ecs::types::DesiredStatus::Stopped)
        .send()
        .await
        .unwrap();
    let tasks = env
        .ecs
        .describe_tasks()
        .cluster("prod")
        .set_tasks(Some(stopped.task_arns().to_vec()))
        .send()
        .await
        .unwrap();
    assert_eq!(tasks.tasks().len(), 3);
    for t in tasks.tasks() {
        assert_eq!(t.stop_code().unwrap().as_str(), "TaskFailedToStart");
        assert!(
            t.stopped_reason()
                .unwrap()
                .starts_with("CannotPullContainerError")
        );
        assert!(t.started_at().is_none());
        assert_eq!(t.containers()[0].exit_code(), None);
    }
}

/// A deployment replaced mid-rollout becomes ACTIVE, its ServiceDeployment STOPPED, and the
/// newest one completes alone.
#[tokio::test]
async fn deployment_replaced_mid_rollout() {
    let env = env().await;
    let v1 = env.register("web:v1").await;
    let v2 = env.register("web:v2").await;
    let v3 = env.register("web:v3").await;
    env.create_service("web", &v1, 2, rolling(100, 200)).await;
    env.step_until("web", 120, |_, _| {}, completed).await;
    let second = env.update("web", &v2).await;
    let second_id = primary(&second).id().unwrap().to_string();
    let second_sd = second.current_service_deployment().unwrap().to_string();
    env.emulator.advance(Duration::from_secs(4));
    let third = env.update("web", &v3).await;
    let third_id = primary(&third).id().unwrap().to_string();
    assert_eq!(third.deployments().len(), 3);
    let replaced = third
        .deployments()
        .iter()
        .find(|d| d.id() == Some(second_id.as_str()))
        .unwrap();
    assert_eq!(replaced.status(), Some("ACTIVE"));
    assert_ne!(third.current_service_deployment(), Some(second_sd.as_str()));
    let sd = env
        .ecs
        .describe_service_deployments()
        .service_deployment_arns(&second_sd)
        .send()
        .await
        .unwrap();
    assert_eq!(
        sd.service_deployments()[0].status().unwrap().as_str(),
        "STOPPED"
    );
    let done = env.step_until("web", 300, |_, _| {}, completed).await;
    assert_eq!(primary(&done).id(), Some(third_id.as_str()));
    assert_eq!(primary(&done).task_definition(), Some(v3.as_str()));
}

/// Without a circuit breaker a crashing image is replaced forever: failedTasks grows and the
/// deployment never completes (what real ECS does).
#[tokio::test]
async fn crash_without_breaker_loops_forever() {
    let env = env().await;
    let bad = env.register("web:crash").await;
    env.create_service("web", &bad, 2, rolling(100, 200)).await;
    env.emulator.advance(Duration::from_secs(900));
    let s = env.describe("web").await;
    let p = primary(&s);
    assert_eq!(p.rollout_state(), Some(&DeploymentRolloutState::InProgress));
    assert!(p.failed_tasks() > 20, "failedTasks {}", p.failed_tasks());
    // Events: at most 100, newest first.
    let events = s.events();
    assert_eq!(events.len(), 100);
    for pair in events.windows(2) {
        assert!(pair[0].created_at().unwrap().secs() >= pair[1].created_at().unwrap().secs());
    }
}

/// A task that never passes its health check is replaced, with the ECS event.
#[tokio::test]
async fn never_healthy_tasks_are_replaced() {
    let env = env().await;
    let sick = env.register("web:sick").await;
    env.create_service("web", &sick, 1, rolling(100, 200)).await;
    env.emulator.advance(Duration::from_secs(60));
    let s = env.describe("web").await;
    assert!(primary(&s).failed_tasks() >= 3);
    let events = messages(&s);
    assert!(events.iter().any(|m| m.starts_with("(service web) (task ")
        && m.ends_with(") failed container health checks.")));
}

/// Settings that let no task stop or start give the documented event and stall.
#[tokio::test]
async fn impossible_bounds_stall_with_event() {
    let env = env().await;
    let v1 = env.register("web:v1").await;
    let v2 = env.register("web:v2").await;
    env.create_service("web", &v1, 2, rolling(100, 100)).await;
    env.step_until("web", 120, |_, _| {}, completed).await;
    env.update("web", &v2).await;
    env.emulator.advance(Duration::from_secs(60));
    let s = env.describe("web").await;
    assert_eq!(s.deployments().len(), 2);
    assert_eq!(primary(&s).running_count(), 0);
    assert_eq!(
        messages(&s)[0],
        "service (web) was unable to stop or start tasks during a deployment because of the service deployment configuration. Update the minimumHealthyPercent or maximumPercent value and try again."
    );
}

/// StopServiceDeployment(ROLLBACK) returns the service to the previous revision.
#[tokio::test]
async fn stop_service_deployment_rolls_back() {
    let env = env().await;
    let v1 = env.register("web:v1").await;
    let v2 = env.register("web:v2").await;
    env.create_service("web", &v1, 1, rolling(100, 200)).await;
    env.step_until("web", 120, |_, _| {}, completed).await;
    let updated = env.update("web", &v2).await;
    let sd_arn = updated.current_service_deployment().unwrap().to_string();
    env.emulator.advance(Duration::from_secs(2));
    env.ecs
        .stop_service_deployment()
        .service_deployment_arn(&sd_arn)
        .stop_type(aws_sdk_ecs::types::StopServiceDeploymentStopType::Rollback)
        .send()
        .await
        .unwrap();
    let done = env.step_until("web", 200, |_, _| {}, completed).await;
    assert_eq!(primary(&done).task_definition(), Some(v1.as_str()));
    let sd = env
        .ecs
        .describe_service_deployments()
        .service_deployment_arns(&sd_arn)
        .send()
        .await
        .unwrap();
    assert_eq!(
        sd.service_deployments()[0].status().unwrap().as_str(),
        "ROLLBACK_SUCCESSFUL"
    );
    let listed = env
        .ecs
        .list_service_deployments()
        .cluster("prod")
        .service("web")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.service_deployments().len(), 2);
    // A finished service deployment cannot be stopped again.
    let again = env
        .ecs
        .stop_service_deployment()
        .service_deployment_arn(&sd_arn)
        .stop_type(aws_sdk_ecs::types::StopServiceDeploymentStopType::Rollback)
        .send()
        .await
        .unwrap_err();
    assert!(again.into_service_error().is_conflict_exception());
}

/// RunTask one-off tasks exit with the scenario's code for their command, or fail to start.
#[tokio::test]
async fn run_task_exit_codes_and_failures() {
    let env = env().await;
    let td = env.register("web:v1").await;
    let nopull = env.register("web:nopull").await;
    let run = |command: &'static str, token: Option<&'static str>| {
        let ecs = env.ecs.clone();
        let td = td.clone();
        async move {
            ecs.run_task()
                .cluster("prod")
                .task_definition(td)
                .launch_type(aws_sdk_ecs::types::LaunchType::Fargate)
                .started_by("migrate")
                .set_client_token(token.map(str::to_string))
                .overrides(
                    aws_sdk_ecs::types::TaskOverride::builder()
                        .container_overrides(
                            aws_sdk_ecs::types::ContainerOverride::builder()
                                .name("app")
                                .command("sh")
                                .command("-c")
                                .command(command)
                                .build(),
                        )
                        .build(),
                )
                .send()
                .await
                .unwrap()
        }
    };
    let ok = run("migrate up", Some("token-1")).await;
    assert!(ok.failures().is_empty());
    let ok_arn = ok.tasks()[0].task_arn().unwrap().to_string();
    assert_eq!(ok.tasks()[0].group(), Some("family:web"));
    let again = run("migrate up", Some("token-1")).await;
    assert_eq!(
        again.tasks()[0].task_arn(),
        Some(ok_arn.as_str()),
        "clientToken is idempotent"
    );
    let bad = run("fail please", None).await;
    let bad_arn = bad.tasks()[0].task_arn().unwrap().to_string();
    let nopull_task = env
        .ecs
        .run_task()
        .cluster("prod")
        .task_definition(&nopull)
        .send()
        .await
        .unwrap();
    let nopull_arn = nopull_task.tasks()[0].task_arn().unwrap().to_string();
    env.emulator.advance(Duration::from_secs(30));
    let tasks = env
        .ecs
        .describe_tasks()
        .cluster("prod")
        .tasks(&ok_arn)
        .tasks(&bad_arn)
        .tasks(&nopull_arn)
        .tasks("0123456789abcdef0123456789abcdef")
        .send()
        .await
        .unwrap();
    let by_arn = |arn: &str| {
        tasks
            .tasks()
            .iter()
            .find(|t| t.task_arn() == Some(arn))
            .unwrap()
    };
    let ok = by_arn(&ok_arn);
    assert_eq!(ok.last_status(), Some("STOPPED"));
    assert_eq!(ok.stop_code().unwrap().as_str(), "EssentialContainerExited");
    assert_eq!(ok.containers()[0].exit_code(), Some(0));
    assert_eq!(ok.started_by(), Some("migrate"));
    assert_eq!(by_arn(&bad_arn).containers()[0].exit_code(), Some(3));
    let np = by_arn(&nopull_arn);
    assert_eq!(np.stop_code().unwrap().as_str(), "TaskFailedToStart");
    assert!(
        np.stopped_reason()
            .unwrap()
            .starts_with("CannotPullContainerError")
    );
    assert_eq!(tasks.failures().len(), 1);
    assert_eq!(tasks.failures()[0].reason(), Some("MISSING"));
}

/// An injected throttle reaches the SDK (retries off) as ThrottlingException; a 500 as
/// ServerException; the next call succeeds.
#[tokio::test]
async fn injected_faults_reach_the_sdk() {
    let env = env().await;
    env.emulator.inject_fault(ecs_emulator::Fault {
        operation: "DescribeServices".into(),
        count: 1,
        kind: ecs_emulator::FaultKind::Throttle,
    });
    let err = env
        .ecs
        .describe_services()
        .cluster("prod")
        .services("web")
        .send()
        .await
        .unwrap_err();
    let err = err.into_service_error();
    assert_eq!(
        aws_sdk_ecs::error::ProvideErrorMetadata::code(&err),
        Some("ThrottlingException")
    );
    assert_eq!(
        aws_sdk_ecs::error::ProvideErrorMetadata::message(&err),
        Some("Rate exceeded")
    );
    env.emulator.inject_fault(ecs_emulator::Fault {
        operation: "*".into(),
        count: 1,
        kind: ecs_emulator::FaultKind::ServerError,
    });
    let err = env
        .ecs
        .list_clusters()
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(
        aws_sdk_ecs::error::ProvideErrorMetadata::code(&err),
        Some("ServerException")
    );
    let ok = env
        .ecs
        .describe_services()
        .cluster("prod")
        .services("web")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.failures()[0].reason(), Some("MISSING"));
    // With retries on, a short throttling storm is absorbed by the SDK.
    let retrying = client(&env.emulator.url(), true).await;
    env.emulator.inject_fault(ecs_emulator::Fault {
        operation: "ListClusters".into(),
        count: 2,
        kind: ecs_emulator::FaultKind::Throttle,
    });
    retrying.list_clusters().send().await.unwrap();
    let calls = env.emulator.calls();
    assert_eq!(calls.count("DescribeServices"), 2);
    assert_eq!(calls.describe_services_batch_sizes, vec![1, 1]);
    assert_eq!(calls.faulted, 4);
}

/// Errors for limits and missing things are the ones ECS sends.
#[tokio::test]
async fn limits_and_missing_resources() {
    let env = env().await;
    let names: Vec<String> = (0..11).map(|i| format!("s{i}")).collect();
    let err = env
        .ecs
        .describe_services()
        .cluster("prod")
        .set_services(Some(names))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_invalid_parameter_exception(), "{err:?}");
    let err = env
        .ecs
        .describe_services()
        .cluster("nope")
        .services("web")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_cluster_not_found_exception());
    assert_eq!(
        aws_sdk_ecs::error::ProvideErrorMetadata::message(&err),
        Some("Cluster not found.")
    );
    let err = env
        .ecs
        .update_service()
        .cluster("prod")
        .service("ghost")
        .desired_count(1)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_service_not_found_exception());
    let missing = env
        .ecs
        .describe_services()
        .cluster("prod")
        .services("ghost")
        .send()
        .await
        .unwrap();
    assert_eq!(
        missing.failures()[0].arn(),
        Some("arn:aws:ecs:us-east-1:123456789012:service/prod/ghost")
    );
    assert_eq!(missing.failures()[0].reason(), Some("MISSING"));
    let err = env
        .ecs
        .describe_task_definition()
        .task_definition("ghost:1")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_client_exception());
}

/// Task definitions round-trip with tags beside them, list with paging, and deregister.
#[tokio::test]
async fn task_definitions_tags_and_listing() {
    let env = env().await;
    let out = env
        .ecs
        .register_task_definition()
        .family("api")
        .cpu("256")
        .memory("512")
        .requires_compatibilities(aws_sdk_ecs::types::Compatibility::Fargate)
        .container_definitions(
            ContainerDefinition::builder()
                .name("app")
                .image("api:1")
                .build(),
        )
        .tags(
            aws_sdk_ecs::types::Tag::builder()
                .key("team")
                .value("core")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let arn = out
        .task_definition()
        .unwrap()
        .task_definition_arn()
        .unwrap()
        .to_string();
    assert_eq!(
        arn,
        "arn:aws:ecs:us-east-1:123456789012:task-definition/api:1"
    );
    for _ in 0..2 {
        env.ecs
            .register_task_definition()
            .family("api")
            .container_definitions(
                ContainerDefinition::builder()
                    .name("app")
                    .image("api:2")
                    .build(),
            )
            .send()
            .await
            .unwrap();
    }
    let described = env
        .ecs
        .describe_task_definition()
        .task_definition("api:1")
        .include(aws_sdk_ecs::types::TaskDefinitionField::Tags)
        .send()
        .await
        .unwrap();
    assert_eq!(described.tags()[0].key(), Some("team"));
    assert_eq!(described.task_definition().unwrap().cpu(), Some("256"));
    let latest = env
        .ecs
        .describe_task_definition()
        .task_definition("api")
        .send()
        .await
        .unwrap();
    assert_eq!(latest.task_definition().unwrap().revision(), 3);
    assert!(latest.tags().is_empty());
    env.ecs
        .deregister_task_definition()
        .task_definition("api:3")
        .send()
        .await
        .unwrap();
    let page1 = env
        .ecs
        .list_task_definitions()
        .family_prefix("api")
        .sort(aws_sdk_ecs::types::SortOrder::Desc)
        .max_results(1)
        .send()
        .await
        .unwrap();
    assert_eq!(
        page1.task_definition_arns(),
        ["arn:aws:ecs:us-east-1:123456789012:task-definition/api:2"]
    );
    let page2 = env
        .ecs
        .list_task_definitions()
        .family_prefix("api")
        .sort(aws_sdk_ecs::types::SortOrder::Desc)
        .max_results(1)
        .next_token(page1.next_token().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(page2.task_definition_arns(), [arn.as_str()]);
    assert!(page2.next_token().is_none());
    let inactive = env
        .ecs
        .list_task_definitions()
        .status(aws_sdk_ecs::types::TaskDefinitionStatus::Inactive)
        .send()
        .await
        .unwrap();
    assert_eq!(inactive.task_definition_arns().len(), 1);
    env.ecs
        .tag_resource()
        .resource_arn(&arn)
        .tags(
            aws_sdk_ecs::types::Tag::builder()
                .key("env")
                .value("prod")
                .build(),
        )
        .send()
        .await
        .unwrap();
    env.ecs
        .untag_resource()
        .resource_arn(&arn)
        .tag_keys("team")
        .send()
        .await
        .unwrap();
    let tags = env
        .ecs
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tags().len(), 1);
    assert_eq!(tags.tags()[0].value(), Some("prod"));
}

/// The background clock at a high time scale finishes a rollout in well under a second.
#[tokio::test]
async fn background_clock_runs_a_rollout() {
    let mut scenario = Scenario::parse(SCENARIO).unwrap();
    scenario.time_scale = 2000.0;
    let emulator = Emulator::start(Config::new(scenario)).await.unwrap();
    let ecs = client(&emulator.url(), false).await;
    ecs.create_cluster()
        .cluster_name("prod")
        .send()
        .await
        .unwrap();
    let env = Env { emulator, ecs };
    let v1 = env.register("web:v1").await;
    env.create_service("web", &v1, 3, rolling(100, 200)).await;
    let started = std::time::Instant::now();
    loop {
        let s = env.describe("web").await;
        if completed(&s) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "rollout did not complete: {s:#?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let state = env.emulator.state();
    let history = &state["clusters"][0]["services"][0]["deploymentHistory"][0];
    assert!(history["finishedAt"].as_f64().is_some());
    assert!(history["finishedAtReal"].as_f64().is_some());
    env.emulator.shutdown().await;
}

/// A ServiceDeployment names its source and target revisions; DescribeServiceRevisions tells
/// which task definition and images each ran (what a rollback tool reads).
#[tokio::test]
async fn service_revisions_name_the_task_definitions() {
    let env = env().await;
    let v1 = env.register("web:v1").await;
    let v2 = env.register("web:v2").await;
    env.create_service("web", &v1, 1, rolling(100, 200)).await;
    env.step_until("web", 120, |_, _| {}, completed).await;
    let updated = env.update("web", &v2).await;
    let sd_arn = updated.current_service_deployment().unwrap().to_string();
    let sd = env
        .ecs
        .describe_service_deployments()
        .service_deployment_arns(&sd_arn)
        .send()
        .await
        .unwrap();
    let sd = &sd.service_deployments()[0];
    assert_eq!(sd.status().unwrap().as_str(), "PENDING");
    let source = sd.source_service_revisions()[0].arn().unwrap().to_string();
    let target = sd
        .target_service_revision()
        .unwrap()
        .arn()
        .unwrap()
        .to_string();
    let revisions = env
        .ecs
        .describe_service_revisions()
        .service_revision_arns(&source)
        .service_revision_arns(&target)
        .service_revision_arns("arn:aws:ecs:us-east-1:123456789012:service-revision/prod/web/1")
        .send()
        .await
        .unwrap();
    let td_of = |arn: &str| {
        revisions
            .service_revisions()
            .iter()
            .find(|r| r.service_revision_arn() == Some(arn))
            .and_then(|r| r.task_definition())
            .unwrap()
            .to_string()
    };
    assert_eq!(td_of(&source), v1);
    assert_eq!(td_of(&target), v2);
    assert_eq!(revisions.failures()[0].reason(), Some("MISSING"));
    let images = revisions.service_revisions()[0].container_images();
    assert!(images[0].image_digest().unwrap().starts_with("sha256:"));
    env.emulator.advance(Duration::from_secs(1));
    let listed = env
        .ecs
        .list_service_deployments()
        .cluster("prod")
        .service("web")
        .status(aws_sdk_ecs::types::ServiceDeploymentStatus::InProgress)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.service_deployments().len(), 1);
    assert_eq!(
        listed.service_deployments()[0].service_deployment_arn(),
        Some(sd_arn.as_str())
    );
}

/// Clusters, service listing with paging, tags on services and DeleteService through the SDK.
#[tokio::test]
async fn clusters_services_and_tags() {
    let env = env().await;
    let v1 = env.register("web:v1").await;
    for name in ["a", "b", "c"] {
        env.ecs
            .create_service()
            .cluster("prod")
            .service_name(name)
            .task_definition(&v1)
            .desired_count(1)
            .tags(
                aws_sdk_ecs::types::Tag::builder()
                    .key("svc")
                    .value(name)
                    .build(),
            )
            .send()
            .await
            .unwrap();
    }
    let clusters = env
        .ecs
        .describe_clusters()
        .clusters("prod")
        .clusters("nope")
        .send()
        .await
        .unwrap();
    assert_eq!(clusters.clusters()[0].cluster_name(), Some("prod"));
    assert_eq!(clusters.clusters()[0].active_services_count(), 3);
    assert_eq!(clusters.failures()[0].reason(), Some("MISSING"));
    let first = env
        .ecs
        .list_services()
        .cluster("prod")
        .max_results(2)
        .send()
        .await
        .unwrap();
    assert_eq!(first.service_arns().len(), 2);
    let rest = env
        .ecs
        .list_services()
        .cluster("prod")
        .next_token(first.next_token().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        rest.service_arns(),
        ["arn:aws:ecs:us-east-1:123456789012:service/prod/c"]
    );
    let tagged = env
        .ecs
        .describe_services()
        .cluster("prod")
        .services("b")
        .include(aws_sdk_ecs::types::ServiceField::Tags)
        .send()
        .await
        .unwrap();
    assert_eq!(tagged.services()[0].tags()[0].value(), Some("b"));
    let untagged = env.describe("b").await;
    assert!(untagged.tags().is_empty());
    env.emulator.advance(Duration::from_secs(60));
    let deleted = env
        .ecs
        .delete_service()
        .cluster("prod")
        .service("a")
        .force(true)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.service().unwrap().status(), Some("DRAINING"));
    env.emulator.advance(Duration::from_secs(10));
    assert_eq!(env.describe("a").await.status(), Some("INACTIVE"));
    let listed = env
        .ecs
        .list_services()
        .cluster("prod")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.service_arns().len(), 2);
}
