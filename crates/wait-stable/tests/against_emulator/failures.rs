//! Every way a deployment fails is named, with the stopped tasks' reasons: rollbacks, breaker failures, pull errors, replaced, no tasks.

use super::*;

/// Crashing tasks trip the circuit breaker, which rolls back: exit 1, `rolled_back`, and the
/// stopped reason and exit code are named, as soon as the rollback is visible.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_with_rollback_is_rolled_back_and_names_exit_code() {
    let env = env().await;
    env.service("prod", "web", true).await;
    let (deployment, _) = env.deploy("prod", "web", "web:crash").await;
    let out = env
        .run(env.wait_web(&["--timeout", "60s", "--output", "json"]))
        .await;
    out.assert_code(1).assert_no_panic();
    let json = out.json();
    assert_eq!(json["result"], "rolled_back");
    let d = &detail(&out)[0];
    assert_eq!(d["result"], "rolled_back");
    assert_eq!(d["deployment_id"], deployment.as_str());
    assert!(
        d["reason"].as_str().unwrap().contains("circuit breaker"),
        "{d}"
    );
    let stopped = d["stopped_tasks"].as_array().unwrap();
    assert!(!stopped.is_empty(), "{d}");
    assert_eq!(stopped[0]["stop_code"], "EssentialContainerExited", "{d}");
    assert_eq!(stopped[0]["containers"][0]["exit_code"], 137, "{d}");
    assert!(out.stderr.contains("exit code 137"), "{}", out.stderr);
    assert!(
        json["message"]
            .as_str()
            .unwrap()
            .contains("EssentialContainerExited"),
        "{json}"
    );
    // Reported when seen, not at the deadline.
    assert!(out.elapsed < Duration::from_secs(30), "{:?}", out.elapsed);
    assert!(
        out.stderr.contains("circuit breaker 3/3") || out.stderr.contains("circuit breaker 2/3"),
        "{}",
        out.stderr
    );
}

/// The circuit breaker without rollback leaves a FAILED deployment: exit 1, `failed`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn circuit_breaker_without_rollback_is_failed() {
    let env = env().await;
    env.service("prod", "web", false).await;
    env.deploy("prod", "web", "web:crash").await;
    let out = env
        .run(env.wait_web(&["--timeout", "60s"]).github_actions())
        .await;
    out.assert_code(1).assert_no_panic();
    assert_eq!(out.output("result"), "failed");
    assert!(
        out.stderr.contains("tasks failed to start"),
        "{}",
        out.stderr
    );
}

/// Tasks that cannot pull their image: the CannotPullContainerError is named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_failing_to_start_name_the_pull_error() {
    let env = env().await;
    env.service("prod", "web", true).await;
    env.deploy("prod", "web", "web:nopull").await;
    let out = env.run(env.wait_web(&["--output", "json"])).await;
    out.assert_code(1).assert_no_panic();
    assert_eq!(out.json()["result"], "rolled_back");
    let d = &detail(&out)[0];
    assert_eq!(
        d["stopped_tasks"][0]["stop_code"], "TaskFailedToStart",
        "{d}"
    );
    assert!(
        out.stderr.contains("CannotPullContainerError"),
        "{}",
        out.stderr
    );
    assert!(
        out.json()["message"]
            .as_str()
            .unwrap()
            .contains("CannotPullContainerError")
    );
}

/// A newer UpdateService while waiting: the tracked deployment was replaced, exit 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployment_replaced_mid_wait_is_replaced() {
    let env = env().await;
    env.service("prod", "web", true).await;
    let (first, _) = env.deploy("prod", "web", "web:slow").await;
    let out = env
        .run_with(env.wait_web(&["--output", "json"]), async |env: &Env| {
            env.deploy("prod", "web", "web:v3").await;
        })
        .await;
    out.assert_code(1).assert_no_panic();
    assert_eq!(out.json()["result"], "replaced");
    let d = &detail(&out)[0];
    assert_eq!(d["deployment_id"], first.as_str());
    assert!(d["reason"].as_str().unwrap().contains("web:"), "{d}");
}

/// Several services in two clusters in one loop, one of them crashing: the combined result is
/// the failure, the healthy ones succeed, and each cluster's services share one DescribeServices.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_services_one_failing() {
    let env = env().await;
    env.ecs
        .create_cluster()
        .cluster_name("staging")
        .send()
        .await
        .unwrap();
    env.service("prod", "web", true).await;
    env.service("prod", "api", true).await;
    env.service("staging", "web", true).await;
    env.deploy("prod", "web", "web:v2").await;
    env.deploy("prod", "api", "web:crash").await;
    env.deploy("staging", "web", "web:v2").await;
    let out = env
        .run(
            env.cmd()
                .args([
                    "--service",
                    "prod/web",
                    "--service",
                    "prod/api,staging/web",
                    "--output",
                    "json",
                ])
                .github_actions(),
        )
        .await;
    out.assert_code(1).assert_no_panic();
    assert_eq!(out.output("result"), "rolled_back");
    let detail = detail(&out);
    let result = |c: &str, s: &str| {
        detail
            .iter()
            .find(|d| d["cluster"] == c && d["service"] == s)
            .map(|d| d["result"].as_str().unwrap().to_string())
    };
    assert_eq!(result("prod", "web").as_deref(), Some("succeeded"));
    assert_eq!(result("prod", "api").as_deref(), Some("rolled_back"));
    assert_eq!(result("staging", "web").as_deref(), Some("succeeded"));
    assert!(
        out.json()["message"]
            .as_str()
            .unwrap()
            .starts_with("2 of 3 services succeeded")
    );
    assert!(
        out.summary.contains("| api | prod | ❌ rolled_back |"),
        "{}",
        out.summary
    );
    let sizes = env.emulator.calls().describe_services_batch_sizes;
    assert!(
        sizes.iter().all(|&n| n <= 2),
        "prod's two services go in one call: {sizes:?}"
    );
    assert!(sizes.contains(&2), "{sizes:?}");
}

/// Regression (issue 9 case 5): the circuit breaker trips with rollback on but there is no
/// COMPLETED deployment to return to (the service never ran a good revision). That was reported
/// `rolled_back`; it is `failed`, naming the service as stuck.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_with_nothing_to_return_to_is_failed_and_stuck() {
    let env = env().await;
    env.service_on("web", "web:crash", 2).await;
    let out = env
        .run(env.wait_web(&["--timeout", "60s"]).github_actions())
        .await;
    out.assert_code(1).assert_no_panic();
    assert_eq!(out.output("result"), "failed", "{}", out.stderr);
    assert!(
        out.stderr.contains("service web is stuck"),
        "{}",
        out.stderr
    );
}

/// Regression (issue 9 case 6): a new revision on a desiredCount-0 service completes without a
/// single task: that was green. It is `no_tasks` (exit 1) naming --allow-empty, which accepts it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn desired_zero_is_no_tasks_unless_allow_empty() {
    let env = env().await;
    env.service_on("web", "web:v1", 0).await;
    env.emulator.advance(Duration::from_secs(30));
    env.deploy("prod", "web", "web:v2").await;
    let out = env
        .run(env.wait_web(&["--output", "json"]).github_actions())
        .await;
    out.assert_code(1).assert_no_panic();
    assert_eq!(out.output("result"), "no_tasks", "{}", out.stderr);
    assert!(
        out.json()["message"]
            .as_str()
            .unwrap()
            .contains("--allow-empty"),
        "{}",
        out.stdout
    );
    let out = env.run(env.wait_web(&["--allow-empty"])).await;
    out.assert_code(0).assert_no_panic();
}

/// Regression (issue 9 case 5): the rollback's own tasks cannot start either, so the rollback
/// fails and the service is stuck half-way (ServiceDeployment ROLLBACK_FAILED). The wait said
/// `rolled_back` the moment the rollback began; a rollback under way is not final: the result is
/// `rollback_failed`, loudly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_rollback_is_rollback_failed() {
    let env = env().await;
    let breaker = DeploymentCircuitBreaker::builder()
        .enable(true)
        .rollback(true);
    let config = DeploymentConfiguration::builder()
        .maximum_percent(200)
        .minimum_healthy_percent(0)
        .deployment_circuit_breaker(breaker.build());
    env.web_service_with(config.build(), None).await;
    env.emulator.set_scenario(
        Scenario::parse(&format!(
            "{SCENARIO}rollback_tasks: {{ behavior: fail_to_start, start_seconds: 2 }}\n"
        ))
        .unwrap(),
    );
    env.deploy("prod", "web", "web:crash").await;
    let out = env
        .run(env.wait_web(&["--timeout", "60s"]).github_actions())
        .await;
    out.assert_code(1).assert_no_panic();
    assert_eq!(out.output("result"), "rollback_failed", "{}", out.stderr);
    assert!(out.stderr.contains("ROLLBACK FAILED"), "{}", out.stderr);
    assert!(out.stderr.contains("stuck"), "{}", out.stderr);
}

/// Regression (issue 9 case 7): behind a Classic Load Balancer there is no rolloutState and the
/// circuit breaker does not act. A crash loop shows, for a moment, one deployment with
/// runningCount == desiredCount: that one lucky poll was green. Success needs failedTasks == 0
/// and the steady state on two polls in a row; a crash loop never gets there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_loop_without_rollout_state_is_never_green() {
    let env = env().await;
    let config = DeploymentConfiguration::builder()
        .maximum_percent(200)
        .minimum_healthy_percent(0);
    env.web_service_with(config.build(), Some("web-clb")).await;
    env.deploy("prod", "web", "web:crashloop").await;
    let out = env
        .run(env.wait_web(&["--timeout", "8s"]).github_actions())
        .await;
    assert_ne!(out.code, 0, "a crash loop was green: {}", out.stderr);
    out.assert_no_panic();
    assert_ne!(out.output("result"), "succeeded");
}

/// A deployment-alarm rollback is a rollback: `rolled_back`, once the rollback completed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alarm_rollback_is_rolled_back() {
    use aws_sdk_ecs::types::DeploymentAlarms;
    let env = env().await;
    let alarms = DeploymentAlarms::builder()
        .alarm_names("web-5xx")
        .enable(true)
        .rollback(true);
    let config = DeploymentConfiguration::builder()
        .maximum_percent(200)
        .minimum_healthy_percent(100)
        .alarms(alarms.build().unwrap());
    env.web_service_with(config.build(), None).await;
    env.deploy("prod", "web", "web:slow").await;
    let out = env
        .run_with(
            env.wait_web(&["--timeout", "60s"]).github_actions(),
            async |env: &Env| env.emulator.set_alarm("web-5xx", "ALARM"),
        )
        .await;
    out.assert_code(1).assert_no_panic();
    assert_eq!(out.output("result"), "rolled_back", "{}", out.stderr);
    assert!(out.stderr.contains("alarm"), "{}", out.stderr);
}
