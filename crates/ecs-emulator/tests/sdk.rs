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
    assert!(cb.failure_count() >= 3);

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
