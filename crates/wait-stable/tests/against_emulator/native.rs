//! `--service-deployment ARN` on ECS-native (BLUE_GREEN, CANARY) deployments: followed to
//! SUCCESSFUL (exit 0); a rollback is a failure (exit 1), never a green.

use aws_sdk_ecs::types::{
    DeploymentLifecycleHook, DeploymentLifecycleHookStage, DeploymentLifecycleHookTargetType,
    DeploymentLifecycleHookTimeoutConfiguration, DeploymentStrategy,
};

use super::*;

impl Env {
    /// A service on `web:v1` with `config`, rolled out.
    async fn native_service(&self, config: DeploymentConfiguration) {
        let td = self.register("web:v1").await;
        self.ecs
            .create_service()
            .cluster("prod")
            .service_name("web")
            .task_definition(&td)
            .desired_count(2)
            .deployment_configuration(config)
            .send()
            .await
            .unwrap();
        self.emulator.advance(Duration::from_secs(30));
    }

    /// A [`Env::native_service`] with `config` released to `web:v2`, followed with
    /// `--service-deployment` (JSON, under Actions) while emulated time moves.
    async fn release_natively(&self, config: DeploymentConfiguration) -> Output {
        self.native_service(config).await;
        let arn = self
            .deploy_service_deployment("prod", "web", "web:v2")
            .await;
        let cmd = self
            .cmd()
            .args(["--service-deployment", &arn, "--output", "json"]);
        self.run_advancing(cmd.github_actions()).await
    }

    /// Run `cmd` while emulated time moves one second per tick.
    async fn run_advancing(&self, cmd: Cmd) -> Output {
        let job = tokio::task::spawn_blocking(move || cmd.run());
        while !job.is_finished() {
            self.emulator.advance(Duration::from_secs(1));
            tokio::time::sleep(TICK).await;
        }
        job.await.unwrap()
    }
}

/// A BLUE_GREEN deployment is followed through its stages to SUCCESSFUL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_deployment_followed_to_successful() {
    let e = env().await;
    let config = DeploymentConfiguration::builder()
        .strategy(DeploymentStrategy::BlueGreen)
        .bake_time_in_minutes(1)
        .build();
    let out = e.release_natively(config).await;
    out.assert_code(0).assert_no_panic();
    assert_eq!(out.json()["result"], "succeeded", "{}", out.stderr);
    assert_eq!(out.output("status"), "SUCCESSFUL");
    assert!(out.stderr.contains("BAKE_TIME"), "{}", out.stderr);
}

/// A deployment whose PAUSE hook times out is rolled back by ECS: rolled_back, exit 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolled_back_service_deployment_is_a_failure() {
    let e = env().await;
    let hook = DeploymentLifecycleHook::builder()
        .target_type(DeploymentLifecycleHookTargetType::Pause)
        .lifecycle_stages(DeploymentLifecycleHookStage::PostScaleUp)
        .timeout_configuration(
            DeploymentLifecycleHookTimeoutConfiguration::builder()
                .timeout_in_minutes(1)
                .build(),
        )
        .build();
    let config = DeploymentConfiguration::builder()
        .strategy(DeploymentStrategy::Canary)
        .lifecycle_hooks(hook)
        .build();
    let out = e.release_natively(config).await;
    out.assert_code(1).assert_no_panic();
    assert_eq!(out.json()["result"], "rolled_back", "{}", out.stderr);
    assert_eq!(out.output("status"), "ROLLBACK_SUCCESSFUL");
}

/// Not a service deployment ARN: exit 2 before any call.
#[test]
fn bad_service_deployment_arn_exits_2() {
    let out = Cmd::bin("wait-stable")
        .args(["--service-deployment", "ecs-svc/123", "--output", "json"])
        .env("AWS_REGION", "us-east-1")
        .run();
    out.assert_code(2).assert_no_panic();
}
