//! End to end: the seeds' release pipeline chained through the multi-call binary, each tool's
//! output feeding the next, against the real stand-ins (Distribution registry, moto RDS, the ECS
//! rollout emulator). State is read back from the stand-ins, not from the tools' own words.

use std::path::Path;
use std::process::Command;

use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, ContainerDefinition, DeploymentCircuitBreaker,
    DeploymentConfiguration, LaunchType, NetworkConfiguration,
};
use ecs_emulator::{Config, Emulator, Scenario};
use test_support::{Cmd, moto_account, standins, workspace_root};

const SCENARIO: &str = r#"
time_scale: 40
default: { behavior: healthy, start_seconds: 2, healthy_after_seconds: 4 }
images:
  "*:broken": { behavior: crash, start_seconds: 2, after_seconds: 2, exit_code: 1 }
run_task: { duration_seconds: 4, exit_code: 0, command_exit_codes: { "fail": 3 } }
"#;

fn oci_image(dir: &Path, tag: &str, version: &str) -> String {
    let out = Command::new("python3")
        .arg(workspace_root().join("scripts/make-oci-image.py"))
        .arg(dir)
        .args(["--tag", tag, "--version", version])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Push → snapshot → migrate + roll the pushed digest → a broken release rolled back by itself.
#[test]
fn release_pipeline() {
    let stand = standins();
    let account = moto_account();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let emulator = rt
        .block_on(Emulator::start(Config::new(
            Scenario::parse(SCENARIO).unwrap(),
        )))
        .unwrap();
    let ecs =
        aws_sdk_ecs::Client::new(&rt.block_on(test_support::sdk_config(&emulator.url(), None)));
    let rds = aws_sdk_rds::Client::new(
        &rt.block_on(test_support::sdk_config(&stand.moto, Some(&account))),
    );
    let repo = test_support::unique("pipeline/web");
    let registry = format!("http://{}", stand.registry);
    let tmp = tempfile::tempdir().unwrap();

    // Today's state: v1 running on a service with the circuit breaker; a database.
    let v1_digest = oci_image(&tmp.path().join("v1"), "v1", "1.0.0");
    let pushed = Cmd::bin("deploy-kit")
        .args([
            "ecr-push",
            "--source",
            &format!("oci:{}", tmp.path().join("v1").display()),
        ])
        .args([
            "--registry",
            &registry,
            "--no-ecr-auth",
            "--repository",
            &repo,
            "--tag",
            "v1",
            "--output",
            "json",
        ])
        .run();
    pushed.assert_code(0);
    let v1 = pushed.json()["image"].as_str().unwrap().to_string();
    assert!(
        v1.ends_with(&v1_digest),
        "{v1} should be pinned to {v1_digest}"
    );
    rt.block_on(async {
        ecs.create_cluster()
            .cluster_name("prod")
            .send()
            .await
            .unwrap();
        let td = ecs
            .register_task_definition()
            .family("web")
            .network_mode(aws_sdk_ecs::types::NetworkMode::Awsvpc)
            .requires_compatibilities(aws_sdk_ecs::types::Compatibility::Fargate)
            .cpu("256")
            .memory("512")
            .container_definitions(
                ContainerDefinition::builder()
                    .name("web")
                    .image(&v1)
                    .essential(true)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        ecs.create_service()
            .cluster("prod")
            .service_name("web")
            .task_definition(td.task_definition().unwrap().task_definition_arn().unwrap())
            .desired_count(2)
            .launch_type(LaunchType::Fargate)
            .network_configuration(
                NetworkConfiguration::builder()
                    .awsvpc_configuration(
                        AwsVpcConfiguration::builder()
                            .subnets("subnet-1")
                            .assign_public_ip(AssignPublicIp::Disabled)
                            .build()
                            .unwrap(),
                    )
                    .build(),
            )
            .deployment_configuration(
                DeploymentConfiguration::builder()
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
        rds.create_db_instance()
            .db_instance_identifier("app-db")
            .engine("postgres")
            .db_instance_class("db.t3.micro")
            .master_username("app")
            .master_user_password("correct-horse-battery")
            .allocated_storage(20)
            .send()
            .await
            .unwrap();
    });
    let ecs_env = [
        ("AWS_ENDPOINT_URL_ECS", emulator.url()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID", "testing".into()),
        ("AWS_SECRET_ACCESS_KEY", "testing".into()),
    ];
    Cmd::bin("deploy-kit")
        .envs(ecs_env.clone())
        .args([
            "wait-stable",
            "--cluster",
            "prod",
            "--service",
            "web",
            "--interval",
            "200ms",
            "--timeout",
            "60s",
        ])
        .run()
        .assert_code(0);

    // Release v2: push, snapshot, migrate + roll the pushed digest.
    oci_image(&tmp.path().join("v2"), "v2", "2.0.0");
    let pushed = Cmd::bin("deploy-kit")
        .github_actions()
        .args([
            "ecr-push",
            "--source",
            &format!("oci:{}", tmp.path().join("v2").display()),
        ])
        .args([
            "--registry",
            &registry,
            "--no-ecr-auth",
            "--repository",
            &repo,
            "--tag",
            "v2",
        ])
        .run();
    pushed.assert_code(0);
    let v2 = pushed.output("image").to_string();
    let snap = Cmd::bin("deploy-kit")
        .aws(&account)
        .github_actions()
        .env("GITHUB_RUN_ID", "4242")
        .args(["rds-snapshot", "create", "--db", "app-db"])
        .run();
    snap.assert_code(0);
    assert_eq!(snap.output("snapshot_id"), "pre-deploy-app-db-gh4242");
    let rolled = Cmd::bin("deploy-kit")
        .envs(ecs_env.clone())
        .args([
            "ecs-roll",
            "deploy",
            "--cluster",
            "prod",
            "--service",
            "web",
            "--image",
            &format!("web={v2}"),
        ])
        .args([
            "--migrate-command",
            "/app/migrate.sh",
            "--migrate-container",
            "web",
        ])
        .args([
            "--interval",
            "200ms",
            "--timeout",
            "60s",
            "--output",
            "json",
        ])
        .run();
    rolled.assert_code(0);
    let deployed_td = rolled.json()["task_definition_arn"]
        .as_str()
        .unwrap()
        .to_string();
    let running = rt.block_on(async {
        let svc = ecs
            .describe_services()
            .cluster("prod")
            .services("web")
            .send()
            .await
            .unwrap();
        let td_arn = svc.services()[0].task_definition().unwrap().to_string();
        let td = ecs
            .describe_task_definition()
            .task_definition(&td_arn)
            .send()
            .await
            .unwrap();
        (
            td_arn,
            td.task_definition().unwrap().container_definitions()[0]
                .image()
                .unwrap()
                .to_string(),
        )
    });
    assert_eq!(
        running,
        (deployed_td.clone(), v2.clone()),
        "the service must run exactly the pushed digest"
    );

    // A broken release: pushed by tag, crashes, rolled back by itself to the recorded revision.
    oci_image(&tmp.path().join("broken"), "broken", "3.0.0");
    Cmd::bin("deploy-kit")
        .args([
            "ecr-push",
            "--source",
            &format!("oci:{}", tmp.path().join("broken").display()),
        ])
        .args([
            "--registry",
            &registry,
            "--no-ecr-auth",
            "--repository",
            &repo,
            "--tag",
            "broken",
        ])
        .run()
        .assert_code(0);
    let broken = Cmd::bin("deploy-kit")
        .envs(ecs_env)
        .github_actions()
        .args([
            "ecs-roll",
            "deploy",
            "--cluster",
            "prod",
            "--service",
            "web",
        ])
        .args([
            "--image",
            &format!("web={}/{repo}:broken", stand.registry),
            "--interval",
            "200ms",
            "--timeout",
            "60s",
        ])
        .run();
    broken.assert_code(1);
    assert_eq!(broken.output("result"), "rolled_back");
    let now = rt.block_on(async {
        ecs.describe_services()
            .cluster("prod")
            .services("web")
            .send()
            .await
            .unwrap()
            .services()[0]
            .task_definition()
            .unwrap()
            .to_string()
    });
    assert_eq!(
        now, deployed_td,
        "after the rollback the service runs the release before the broken one"
    );
}
