//! End to end: the seeds' release pipeline chained through the multi-call binary, each tool's
//! output feeding the next, against the real stand-ins (Distribution registry, moto RDS, the ECS
//! rollout emulator). State is read back from the stand-ins, not from the tools' own words.

#[path = "../crates/deploy-kit/tests/common/mod.rs"]
mod common;

use std::path::Path;

use common::aws::{DEPLOY_PROD_WEB, WAIT_STABLE_PROD_WEB, create_database};
use common::make_oci_image;
use ecs_emulator::{Config, Scenario};
use test_support::ecs::{CLUSTER, EcsFixture};
use test_support::world::{create_fargate_service, service_task_definition};
use test_support::{Cmd, moto_account, standins};

const SCENARIO: &str = r#"
time_scale: 40
default: { behavior: healthy, start_seconds: 2, healthy_after_seconds: 4 }
images:
  "*:broken": { behavior: crash, start_seconds: 2, after_seconds: 2, exit_code: 1 }
run_task: { duration_seconds: 4, exit_code: 0, command_exit_codes: { "fail": 3 } }
"#;

/// How every wait of the pipeline polls and how long it may take.
const WAIT: [&str; 4] = ["--interval", "200ms", "--timeout", "60s"];

/// `ecr-push` of the OCI layout at `dir` to `registry/repo`, tagged `tag` (no ECR login).
fn push(dir: &Path, registry: &str, repo: &str, tag: &str) -> Cmd {
    Cmd::bin("deploy-kit")
        .args(["ecr-push", "--source", &format!("oci:{}", dir.display())])
        .args(["--registry", registry, "--no-ecr-auth"])
        .args(["--repository", repo, "--tag", tag])
}

/// Push → snapshot → migrate + roll the pushed digest → a broken release rolled back by itself.
#[test]
fn release_pipeline() {
    let stand = standins();
    let account = moto_account();
    let (EcsFixture { emulator, ecs }, rt) =
        EcsFixture::start_blocking(Config::new(Scenario::parse(SCENARIO).unwrap()));
    let repo = test_support::unique("pipeline/web");
    let registry = format!("http://{}", stand.registry);
    let tmp = tempfile::tempdir().unwrap();

    // Today's state: v1 running on a service with the circuit breaker; a database.
    let v1_digest = make_oci_image(&tmp.path().join("v1"), "v1", "1.0.0");
    let pushed = push(&tmp.path().join("v1"), &registry, &repo, "v1")
        .args(["--output", "json"])
        .run();
    pushed.assert_code(0);
    let v1 = pushed.json()["image"].as_str().unwrap().to_string();
    assert!(
        v1.ends_with(&v1_digest),
        "{v1} should be pinned to {v1_digest}"
    );
    rt.block_on(create_fargate_service(&ecs, CLUSTER, "web", &v1, 2));
    create_database(&account, "app-db");
    let url = emulator.url();
    Cmd::bin("deploy-kit")
        .ecs_emulator(&url)
        .args(WAIT_STABLE_PROD_WEB)
        .args(WAIT)
        .run()
        .assert_code(0);

    // Release v2: push, snapshot, migrate + roll the pushed digest.
    make_oci_image(&tmp.path().join("v2"), "v2", "2.0.0");
    let pushed = push(&tmp.path().join("v2"), &registry, &repo, "v2")
        .github_actions()
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
        .ecs_emulator(&url)
        .args(DEPLOY_PROD_WEB)
        .args(["--image", &format!("web={v2}")])
        .args([
            "--migrate-command",
            "/app/migrate.sh",
            "--migrate-container",
            "web",
        ])
        .args(WAIT)
        .args(["--output", "json"])
        .run();
    rolled.assert_code(0);
    let deployed_td = rolled.json()["task_definition_arn"]
        .as_str()
        .unwrap()
        .to_string();
    let running = rt.block_on(async {
        let td_arn = service_task_definition(&ecs, CLUSTER, "web").await;
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
    make_oci_image(&tmp.path().join("broken"), "broken", "3.0.0");
    push(&tmp.path().join("broken"), &registry, &repo, "broken")
        .run()
        .assert_code(0);
    let broken = Cmd::bin("deploy-kit")
        .ecs_emulator(&url)
        .github_actions()
        .args(DEPLOY_PROD_WEB)
        .args(["--image", &format!("web={}/{repo}:broken", stand.registry)])
        .args(WAIT)
        .run();
    broken.assert_code(1);
    assert_eq!(broken.output("result"), "rolled_back");
    let now = rt.block_on(service_task_definition(&ecs, CLUSTER, "web"));
    assert_eq!(
        now, deployed_td,
        "after the rollback the service runs the release before the broken one"
    );
}
