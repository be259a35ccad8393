//! A wait that starts after a rollback reports that rollback, never the restored PRIMARY as a release.

use super::*;

/// A rollback that finished before the wait started is still a rollback for the tracked task
/// definition: never the false green `services-stable` gives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_finished_before_the_wait_is_not_green() {
    let env = env().await;
    env.service("prod", "web", true).await;
    let (_, td) = env.deploy("prod", "web", "web:crash").await;
    env.emulator.advance(Duration::from_secs(120));
    let out = env
        .run(
            env.wait_web(&["--task-definition", td.as_str()])
                .github_actions(),
        )
        .await;
    out.assert_code(1).assert_no_panic();
    assert_eq!(out.output("result"), "rolled_back");
    assert!(
        out.stderr
            .contains("deployment failed: tasks failed to start"),
        "the last events explain it: {}",
        out.stderr
    );
}

/// Regression (issue 9 case 1): started with no --deployment-id after a circuit-breaker rollback
/// had already completed, the wait followed the rollback PRIMARY as "the current deployment" and
/// exited 0. The release was rolled back: exit 1, `rolled_back`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_completed_before_the_wait_is_rolled_back_for_the_current_primary() {
    let env = env().await;
    env.service("prod", "web", true).await;
    env.deploy("prod", "web", "web:crash").await;
    env.emulator.advance(Duration::from_secs(120));
    let out = env
        .run(env.wait_web(&["--output", "json"]).github_actions())
        .await;
    out.assert_code(1).assert_no_panic();
    assert_eq!(out.output("result"), "rolled_back", "{}", out.stderr);
}

/// Regression (issue 9 case 1, forced deployments): a forced new deployment of the same task
/// definition crashes (the image behind the tag broke) and the circuit breaker rolls back to its
/// twin on the same task definition. `--task-definition` then found the rollback PRIMARY running
/// exactly that revision and exited 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forced_deployment_rolled_back_to_its_twin_is_not_green() {
    let env = env().await;
    env.service("prod", "web", true).await;
    let v1 = env.register("web:v1").await;
    // From now on `web:v1` crashes; the running tasks keep running.
    env.emulator.set_scenario(
        Scenario::parse(&SCENARIO.replace(
            r#""web:v1": { behavior: healthy, start_seconds: 2, healthy_after_seconds: 3, stop_seconds: 1 }"#,
            r#""web:v1": { behavior: crash, start_seconds: 2, after_seconds: 2, exit_code: 1, stop_seconds: 1 }"#,
        ))
        .unwrap(),
    );
    let current = env.describe("prod", "web").await["deployments"][0]["id"].clone();
    env.ecs
        .update_service()
        .cluster("prod")
        .service("web")
        .force_new_deployment(true)
        .send()
        .await
        .unwrap();
    env.emulator.advance(Duration::from_secs(120));
    let after = env.describe("prod", "web").await;
    assert_ne!(
        after["deployments"][0]["id"], current,
        "a rollback deployment: {after}"
    );
    for extra in [&["--task-definition", v1.as_str()][..], &[][..]] {
        let out = env
            .run(
                env.wait_web(&[])
                    .args(extra.iter().copied())
                    .github_actions(),
            )
            .await;
        out.assert_code(1).assert_no_panic();
        assert_eq!(
            out.output("result"),
            "rolled_back",
            "{extra:?}: {}",
            out.stderr
        );
    }
}
