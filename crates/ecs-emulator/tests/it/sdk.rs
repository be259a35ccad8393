//! Shared set-up for the tests that drive the emulator with the official aws-sdk-ecs, as the
//! deploy-kit tools drive ECS: `rollouts` (deployments over time) and `operations` (the API).
//!
//! Every test uses the manual clock and steps it one emulated second at a time, so the
//! transitions checked here are deterministic and the whole file runs in a few seconds.

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_sdk_ecs::Client;
use aws_sdk_ecs::config::Credentials;
use aws_sdk_ecs::types::{
    ContainerDefinition, DeploymentCircuitBreaker, DeploymentConfiguration, DeploymentRolloutState,
    DesiredStatus, Service, ServiceDeployment, Task,
};
use ecs_emulator::{Config, Emulator, RunningEmulator, Scenario};

pub const SCENARIO: &str = r#"
images:
  "web:v1": { behavior: healthy, start_seconds: 3, healthy_after_seconds: 5 }
  "web:v2": { behavior: healthy, start_seconds: 3, healthy_after_seconds: 5 }
  "web:crash": { behavior: crash, start_seconds: 2, after_seconds: 4, exit_code: 137 }
  "web:nopull": { behavior: fail_to_start, start_seconds: 2, reason: "CannotPullContainerError: pull image manifest has been retried 1 time(s): ref not found" }
  "web:sick": { behavior: never_healthy, start_seconds: 2, unhealthy_after_seconds: 5 }
run_task: { duration_seconds: 5, exit_code: 0, command_exit_codes: { "fail": 3 } }
"#;

pub struct Env {
    pub emulator: RunningEmulator,
    pub ecs: Client,
}

/// What [`Env::redeploy`] set up.
pub struct Redeploy {
    /// v1's task definition ARN.
    pub v1: String,
    /// The deployment that completed on v1.
    pub old_id: String,
    /// The new image's task definition ARN.
    pub next: String,
    /// UpdateService's response.
    pub updated: Service,
    /// The PRIMARY deployment UpdateService started.
    pub new_id: String,
}

pub async fn client(url: &str, retries: bool) -> Client {
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

pub async fn env() -> Env {
    env_with(Config::manual().with_scenario(Scenario::parse(SCENARIO).unwrap())).await
}

/// An emulator started with `config`, an SDK client without retries, and the cluster `prod`.
pub async fn env_with(config: Config) -> Env {
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
    /// Registers family `web` with one essential container `app` running `image`.
    pub async fn register(&self, image: &str) -> String {
        let container = ContainerDefinition::builder()
            .name("app")
            .image(image)
            .essential(true)
            .build();
        register_container(&self.ecs, "web", container).await
    }

    pub async fn create_service(
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

    pub async fn update(&self, name: &str, task_definition: &str) -> Service {
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

    pub async fn describe(&self, name: &str) -> Service {
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

    /// Creates the service and steps until its first deployment completes (within `limit` s).
    pub async fn create_settled(
        &self,
        name: &str,
        task_definition: &str,
        desired: i32,
        config: DeploymentConfiguration,
        limit: u32,
    ) -> Service {
        self.create_service(name, task_definition, desired, config)
            .await;
        self.step_until(name, limit, |_, _| {}, completed).await
    }

    /// Registers `web:v1` and creates the service `web` on it, settled as [`Env::create_settled`]
    /// leaves it; returns v1's task definition ARN and the settled service.
    pub async fn settled_v1(
        &self,
        desired: i32,
        config: DeploymentConfiguration,
        limit: u32,
    ) -> (String, Service) {
        let v1 = self.register("web:v1").await;
        let settled = self
            .create_settled("web", &v1, desired, config, limit)
            .await;
        (v1, settled)
    }

    /// Registers `image` and UpdateService `web` to it; returns its task definition ARN and
    /// UpdateService's response.
    pub async fn deploy(&self, image: &str) -> (String, Service) {
        let task_definition = self.register(image).await;
        let updated = self.update("web", &task_definition).await;
        (task_definition, updated)
    }

    /// `web` settled on `web:v1` as [`Env::settled_v1`] leaves it, then updated to `image`
    /// as [`Env::deploy`] does.
    pub async fn redeploy(
        &self,
        desired: i32,
        config: DeploymentConfiguration,
        limit: u32,
        image: &str,
    ) -> Redeploy {
        let (v1, settled) = self.settled_v1(desired, config, limit).await;
        let (next, updated) = self.deploy(image).await;
        Redeploy {
            old_id: primary_id(&settled),
            new_id: primary_id(&updated),
            v1,
            next,
            updated,
        }
    }

    /// The ServiceDeployment with this ARN.
    pub async fn service_deployment(&self, arn: &str) -> ServiceDeployment {
        self.ecs
            .describe_service_deployments()
            .service_deployment_arns(arn)
            .send()
            .await
            .unwrap()
            .service_deployments()[0]
            .clone()
    }

    /// The ServiceDeployment the service currently reports.
    pub async fn current_service_deployment(&self, name: &str) -> ServiceDeployment {
        let service = self.describe(name).await;
        let arn = service.current_service_deployment().unwrap().to_string();
        self.service_deployment(&arn).await
    }

    /// The status of the ServiceDeployment the service currently reports.
    pub async fn current_service_deployment_status(&self, name: &str) -> String {
        let sd = self.current_service_deployment(name).await;
        sd.status().unwrap().as_str().to_string()
    }

    /// ListTasks of the service's tasks with this desired status (ListTasks' default: none).
    pub async fn task_arns(&self, name: &str, desired: Option<DesiredStatus>) -> Vec<String> {
        self.ecs
            .list_tasks()
            .cluster("prod")
            .service_name(name)
            .set_desired_status(desired)
            .send()
            .await
            .unwrap()
            .task_arns()
            .to_vec()
    }

    /// DescribeTasks of what [`Env::task_arns`] lists (none when it lists none).
    pub async fn tasks(&self, name: &str, desired: Option<DesiredStatus>) -> Vec<Task> {
        let arns = self.task_arns(name, desired).await;
        if arns.is_empty() {
            return Vec::new();
        }
        self.ecs
            .describe_tasks()
            .cluster("prod")
            .set_tasks(Some(arns))
            .send()
            .await
            .unwrap()
            .tasks()
            .to_vec()
    }

    /// Steps the clock a second at a time until `done` holds (or panics after `limit` seconds),
    /// calling `check` after every step.
    pub async fn step_until(
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

/// Registers `family` with `container`; the task definition ARN.
pub async fn register_container(
    ecs: &Client,
    family: &str,
    container: ContainerDefinition,
) -> String {
    ecs.register_task_definition()
        .family(family)
        .container_definitions(container)
        .send()
        .await
        .unwrap()
        .task_definition()
        .unwrap()
        .task_definition_arn()
        .unwrap()
        .to_string()
}

pub fn rolling(min: i32, max: i32) -> DeploymentConfiguration {
    DeploymentConfiguration::builder()
        .minimum_healthy_percent(min)
        .maximum_percent(max)
        .build()
}

pub fn with_breaker(rollback: bool) -> DeploymentConfiguration {
    DeploymentConfiguration::builder()
        .deployment_circuit_breaker(breaker(rollback))
        .build()
}

/// Rolling bounds with the circuit breaker on.
pub fn rolling_with_breaker(min: i32, max: i32, rollback: bool) -> DeploymentConfiguration {
    DeploymentConfiguration::builder()
        .minimum_healthy_percent(min)
        .maximum_percent(max)
        .deployment_circuit_breaker(breaker(rollback))
        .build()
}

fn breaker(rollback: bool) -> DeploymentCircuitBreaker {
    DeploymentCircuitBreaker::builder()
        .enable(true)
        .rollback(rollback)
        .build()
}

pub fn primary(service: &Service) -> &aws_sdk_ecs::types::Deployment {
    service
        .deployments()
        .iter()
        .find(|d| d.status() == Some("PRIMARY"))
        .expect("a PRIMARY deployment")
}

pub fn completed(service: &Service) -> bool {
    service.deployments().len() == 1
        && primary(service).rollout_state() == Some(&DeploymentRolloutState::Completed)
}

/// The PRIMARY deployment's id.
pub fn primary_id(service: &Service) -> String {
    primary(service).id().unwrap().to_string()
}

pub fn primary_failed(service: &Service) -> bool {
    primary(service).rollout_state() == Some(&DeploymentRolloutState::Failed)
}

pub fn messages(service: &Service) -> Vec<String> {
    service
        .events()
        .iter()
        .map(|e| e.message().unwrap_or_default().to_string())
        .collect()
}

pub fn healthy_tasks(state: &serde_json::Value, name: &str) -> u64 {
    state["clusters"][0]["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service"]["serviceName"] == name)
        .map(|s| s["healthyTasks"].as_u64().unwrap())
        .unwrap()
}
