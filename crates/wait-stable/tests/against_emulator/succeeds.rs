//! Green only when the tracked deployment really completed: by PRIMARY, ServiceDeployment ARN, task definition, deployment id not yet visible.

use super::*;

/// A healthy rollout exits 0 with the deployment's outputs, one JSON object and a job summary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthy_rollout_succeeds_with_outputs_json_and_summary() {
    let env = env().await;
    env.service("prod", "web", true).await;
    let (deployment, td) = env.deploy("prod", "web", "web:v2").await;
    let out = env
        .run(env.wait_web(&["--output", "json"]).github_actions())
        .await;
    out.assert_code(0).assert_no_panic();
    assert_eq!(out.output("result"), "succeeded");
    assert_eq!(out.output("deployment_id"), deployment);
    assert_eq!(out.output("task_definition"), td);
    assert_eq!(out.output("running_count"), "2");
    assert!(out.output("duration_s").parse::<f64>().is_ok());
    let json = out.json();
    assert_eq!(json["tool"], "wait-stable");
    assert_eq!(json["exit_code"], 0);
    assert_eq!(json["result"], "succeeded");
    let d = &detail(&out)[0];
    assert_eq!(d["cluster"], "prod");
    assert_eq!(d["service"], "web");
    assert_eq!(d["result"], "succeeded");
    assert_eq!(d["deployment_id"], deployment.as_str());
    assert_eq!(d["running_count"], 2);
    assert!(d["duration_s"].is_number());
    let events: Vec<&str> = d["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    let completed = events
        .iter()
        .position(|m| m.contains("deployment completed"))
        .expect("completed event");
    let steady = events
        .iter()
        .position(|m| m.contains("reached a steady state"))
        .expect("steady event");
    assert!(completed < steady, "events are oldest first: {events:?}");
    // Live progress: per-deployment counts and each event once.
    assert!(
        out.stderr.contains("PRIMARY* ") && out.stderr.contains("running 2"),
        "{}",
        out.stderr
    );
    assert_eq!(
        out.stderr.matches("has reached a steady state").count(),
        1,
        "{}",
        out.stderr
    );
    assert!(
        out.summary.contains("#### ✅ web — succeeded"),
        "{}",
        out.summary
    );
    assert!(
        out.summary.contains("has reached a steady state"),
        "{}",
        out.summary
    );
}

/// --deployment-id also takes the ServiceDeployment ARN that UpdateService reports.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follows_a_service_deployment_arn() {
    let env = env().await;
    env.service("prod", "web", true).await;
    let arn = env.deploy_service_deployment("prod", "web", "web:v2").await;
    let out = env
        .run(
            env.wait_web(&["--deployment-id", arn.as_str()])
                .github_actions(),
        )
        .await;
    out.assert_code(0).assert_no_panic();
    assert_eq!(out.output("result"), "succeeded");
    assert!(out.output("deployment_id").starts_with("ecs-svc/"));
}

/// --task-definition as family:revision follows that revision's deployment; a crash of it is
/// reported against it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follows_a_task_definition_by_family_revision() {
    let env = env().await;
    env.service("prod", "web", true).await;
    let (deployment, td) = env.deploy("prod", "web", "web:crash").await;
    let short = td.rsplit('/').next().unwrap().to_string();
    let out = env
        .run(
            env.wait_web(&["--task-definition", short.as_str()])
                .github_actions(),
        )
        .await;
    out.assert_code(1).assert_no_panic();
    assert_eq!(out.output("result"), "rolled_back");
    assert_eq!(out.output("deployment_id"), deployment);
}

/// Twelve services: ten per DescribeServices call, so two calls per poll.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twelve_services_take_two_calls_per_poll() {
    let env = env().await;
    let names: Vec<String> = (0..12).map(|i| format!("svc{i:02}")).collect();
    for n in &names {
        env.service("prod", n, true).await;
    }
    for n in &names {
        env.deploy("prod", n, "web:v2").await;
    }
    let mut cmd = env.cmd().args(["--cluster", "prod"]);
    for n in &names {
        cmd = cmd.args(["--service", n.as_str()]);
    }
    let out = env.run(cmd).await;
    out.assert_code(0).assert_no_panic();
    let sizes = env.emulator.calls().describe_services_batch_sizes;
    let mut first_poll = sizes[..2].to_vec();
    first_poll.sort_unstable();
    assert_eq!(first_poll, [2, 10], "{sizes:?}");
    assert!(sizes.iter().all(|&n| n <= 10), "{sizes:?}");
}

/// Regression (issue 9 case 11): right after the user's own UpdateService, DescribeServices may
/// not show the new deployment yet (eventual consistency). `--deployment-id` was refused at once
/// (exit 2, "has no deployment"); it now gets the same short grace ecs-roll's waits get.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployment_id_not_yet_visible_is_waited_for() {
    let env = env().await;
    env.service("prod", "web", true).await;
    env.emulator.set_consistency(Consistency {
        describe_services: StaleWindow {
            calls: 3,
            seconds: 0.0,
        },
        update_service_response: false,
    });
    let (deployment, _) = env.deploy("prod", "web", "web:v2").await;
    let out = env
        .run(
            env.wait_web(&["--deployment-id", deployment.as_str()])
                .github_actions(),
        )
        .await;
    out.assert_code(0).assert_no_panic();
    assert_eq!(out.output("deployment_id"), deployment);
}
