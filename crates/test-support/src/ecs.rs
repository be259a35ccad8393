//! The one ECS fixture (feature `ecs`): the ECS emulator in-process, an aws-sdk-ecs client
//! pointed at it with test credentials, the cluster `prod`, and the task definitions and
//! services a test sets up through the SDK — the same calls a real account would answer.
//!
//! Async, so in-process tests (`#[tokio::test]`) use it directly; a plain `#[test]` driving the
//! real binaries starts it with [`EcsFixture::start_blocking`] and blocks on the same calls.

use aws_sdk_ecs::Client;
use aws_sdk_ecs::types::{
    ContainerDefinition, DeploymentCircuitBreaker, DeploymentConfiguration, KeyValuePair, Tag,
};
use ecs_emulator::{Config, Emulator, RunningEmulator};

/// The cluster every fixture creates.
pub const CLUSTER: &str = "prod";

/// An emulator, a client for it, and the cluster [`CLUSTER`].
pub struct EcsFixture {
    pub emulator: RunningEmulator,
    pub ecs: Client,
}

/// One container of a task definition to register.
#[derive(Debug, Clone, Copy)]
pub struct Container<'a> {
    pub name: &'a str,
    pub image: &'a str,
    /// One plain environment variable (`MODE=prod`) and one tag (`team=web`), as a real
    /// service's definition has, so renders must carry them.
    pub with_env_and_tags: bool,
}

impl<'a> Container<'a> {
    /// Container `name` running `image`, essential, nothing else.
    pub fn new(name: &'a str, image: &'a str) -> Self {
        Container {
            name,
            image,
            with_env_and_tags: false,
        }
    }
}

/// Rolling deployments with the circuit breaker on (and its rollback if `rollback`): 100 %
/// minimum healthy, 200 % maximum.
pub fn breaker(rollback: bool) -> DeploymentConfiguration {
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

/// Register a revision of `family` with one container; its ARN.
pub async fn register(ecs: &Client, family: &str, container: Container<'_>) -> String {
    let mut def = ContainerDefinition::builder()
        .name(container.name)
        .image(container.image)
        .essential(true);
    let mut req = ecs.register_task_definition().family(family);
    if container.with_env_and_tags {
        def = def.environment(KeyValuePair::builder().name("MODE").value("prod").build());
        req = req.tags(Tag::builder().key("team").value("web").build());
    }
    req.container_definitions(def.build())
        .send()
        .await
        .expect("RegisterTaskDefinition")
        .task_definition()
        .and_then(|t| t.task_definition_arn())
        .expect("a task definition ARN")
        .to_string()
}

/// Create service `name` in `cluster` running `task_definition` (not waited for).
pub async fn create_service(
    ecs: &Client,
    cluster: &str,
    name: &str,
    task_definition: &str,
    desired: i32,
    config: DeploymentConfiguration,
) {
    ecs.create_service()
        .cluster(cluster)
        .service_name(name)
        .task_definition(task_definition)
        .desired_count(desired)
        .deployment_configuration(config)
        .send()
        .await
        .expect("CreateService");
}

impl EcsFixture {
    /// Start the emulator with `config` and create the cluster.
    pub async fn start(config: Config) -> EcsFixture {
        let emulator = Emulator::start(config)
            .await
            .expect("start the ECS emulator");
        let ecs = Client::new(&crate::sdk_config(&emulator.url(), None).await);
        ecs.create_cluster()
            .cluster_name(CLUSTER)
            .send()
            .await
            .expect("CreateCluster");
        EcsFixture { emulator, ecs }
    }

    /// [`EcsFixture::start`] for plain `#[test]`s, with the runtime to block on.
    pub fn start_blocking(config: Config) -> (EcsFixture, tokio::runtime::Runtime) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let fixture = rt.block_on(EcsFixture::start(config));
        (fixture, rt)
    }

    /// [`register`] through this fixture's client.
    pub async fn register(&self, family: &str, container: Container<'_>) -> String {
        register(&self.ecs, family, container).await
    }

    /// [`create_service`] through this fixture's client.
    pub async fn create_service(
        &self,
        cluster: &str,
        name: &str,
        task_definition: &str,
        desired: i32,
        config: DeploymentConfiguration,
    ) {
        create_service(&self.ecs, cluster, name, task_definition, desired, config).await
    }
}
