//! What the end-to-end suites of the multi-call binary set up beside [`crate::ecs::EcsFixture`]
//! (feature `ecs`): a service as a Fargate account runs it, the wait until a service has
//! settled, and a command pointed at the emulator. One home for them, so the act runs, the
//! release pipeline, the hostile-text runs, the snapshots and the scenario matrix start from the
//! same state through the same calls.

use std::time::{Duration, Instant};

use aws_sdk_ecs::Client;
use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, Compatibility, ContainerDefinition, LaunchType,
    NetworkConfiguration, NetworkMode, Service,
};

use crate::Cmd;
use crate::ecs::breaker;

/// Register `name` as a Fargate revision (awsvpc, 256 CPU units, 512 MiB) with one essential
/// container `name` running `image`, and create service `name` in `cluster` on it: `desired`
/// tasks in `subnet-1` without a public IP, the circuit breaker on with rollback. Not waited for.
pub async fn create_fargate_service(
    ecs: &Client,
    cluster: &str,
    name: &str,
    image: &str,
    desired: i32,
) {
    let td = ecs
        .register_task_definition()
        .family(name)
        .network_mode(NetworkMode::Awsvpc)
        .requires_compatibilities(Compatibility::Fargate)
        .cpu("256")
        .memory("512")
        .container_definitions(
            ContainerDefinition::builder()
                .name(name)
                .image(image)
                .essential(true)
                .build(),
        )
        .send()
        .await
        .expect("RegisterTaskDefinition");
    let vpc = AwsVpcConfiguration::builder()
        .subnets("subnet-1")
        .assign_public_ip(AssignPublicIp::Disabled)
        .build()
        .expect("an awsvpc configuration");
    ecs.create_service()
        .cluster(cluster)
        .service_name(name)
        .task_definition(
            td.task_definition()
                .and_then(|t| t.task_definition_arn())
                .expect("a task definition ARN"),
        )
        .desired_count(desired)
        .launch_type(LaunchType::Fargate)
        .network_configuration(
            NetworkConfiguration::builder()
                .awsvpc_configuration(vpc)
                .build(),
        )
        .deployment_configuration(breaker(true))
        .send()
        .await
        .expect("CreateService");
}

/// `cluster/service` as DescribeServices shows it now.
pub async fn describe_service(ecs: &Client, cluster: &str, service: &str) -> Service {
    let out = ecs
        .describe_services()
        .cluster(cluster)
        .services(service)
        .send()
        .await
        .expect("DescribeServices");
    out.services().first().cloned().expect("the service")
}

/// The task definition `cluster/service` runs now.
pub async fn service_task_definition(ecs: &Client, cluster: &str, service: &str) -> String {
    let s = describe_service(ecs, cluster, service).await;
    s.task_definition().expect("a task definition").to_string()
}

/// Wait (polling every 200 ms, panicking after `within`) until `cluster/service` has settled:
/// one deployment, COMPLETED, running as many tasks as it desires.
pub async fn wait_settled(ecs: &Client, cluster: &str, service: &str, within: Duration) {
    let until = Instant::now() + within;
    loop {
        let s = describe_service(ecs, cluster, service).await;
        let done = s.deployments().len() == 1
            && s.running_count() == s.desired_count()
            && s.deployments()[0].rollout_state().map(|r| r.as_str()) == Some("COMPLETED");
        if done {
            return;
        }
        assert!(Instant::now() < until, "the service did not settle");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

impl Cmd {
    /// Talk to the ECS emulator at `url` (region us-east-1, test keys); other services stay
    /// wherever the test points them.
    pub fn ecs_emulator(self, url: &str) -> Self {
        self.envs([
            ("AWS_ENDPOINT_URL_ECS", url),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
        ])
    }
}
