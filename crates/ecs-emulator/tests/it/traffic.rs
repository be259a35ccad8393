//! Process mode's production and test listeners during an ECS-native CANARY deployment, with
//! real processes: v1 (blue) answers `1.0.0`, v2 (green) `2.0.0`. While the deployment waits
//! at its PAUSE hook after TEST_TRAFFIC_SHIFT the test listener reaches only green and the
//! production listener only blue; the canary step splits production by its weight; a rollback
//! returns both listeners to blue at once.
//!
//! Seen failing against the round-robin load balancer (one listener over every healthy task):
//! production answered `2.0.0` while the deployment was paused at POST_TEST_TRAFFIC_SHIFT.

use std::time::{Duration, Instant};

use aws_sdk_ecs::types::{
    CanaryConfiguration, DeploymentConfiguration, DeploymentLifecycleHook,
    DeploymentLifecycleHookStage, DeploymentLifecycleHookTargetType, DeploymentStrategy,
    ServiceDeployment,
};

use super::processes::{
    get, load_balancer, marker, register, scenario, serving_v1, shut_down, start,
};
use super::sdk::Env;

/// Canary 20 % for a minute, a PAUSE hook after the test traffic shift.
fn canary() -> DeploymentConfiguration {
    DeploymentConfiguration::builder()
        .strategy(DeploymentStrategy::Canary)
        .canary_configuration(
            CanaryConfiguration::builder()
                .canary_percent(20.0)
                .canary_bake_time_in_minutes(1)
                .build(),
        )
        .lifecycle_hooks(
            DeploymentLifecycleHook::builder()
                .target_type(DeploymentLifecycleHookTargetType::Pause)
                .lifecycle_stages(DeploymentLifecycleHookStage::PostTestTrafficShift)
                .build(),
        )
        .build()
}

/// The service `api` on v1 (two healthy processes), then updated to v2 as a canary: returns
/// the service deployment's ARN.
async fn deploy_canary(env: &Env) -> String {
    serving_v1(env, 2).await;
    let v2 = register(&env.ecs, "web:v2", "2.0.0", None).await;
    env.ecs
        .update_service()
        .cluster("prod")
        .service("api")
        .task_definition(v2)
        .deployment_configuration(canary())
        .send()
        .await
        .unwrap()
        .service()
        .and_then(|s| s.current_service_deployment())
        .unwrap()
        .to_string()
}

/// Steps the clock a second per 50 ms of real time until the deployment satisfies `done`.
async fn step_until(
    env: &Env,
    arn: &str,
    done: impl Fn(&ServiceDeployment) -> bool,
) -> ServiceDeployment {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let sd = env.service_deployment(arn).await;
        if done(&sd) {
            return sd;
        }
        assert!(Instant::now() < deadline, "not there: {sd:#?}");
        env.emulator.advance(Duration::from_secs(1));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn awaiting_hook(sd: &ServiceDeployment) -> Option<String> {
    sd.lifecycle_hook_details()
        .iter()
        .find(|h| h.status().map(|s| s.as_str()) == Some("AWAITING_ACTION"))
        .and_then(|h| h.hook_id().map(String::from))
}

fn production_weight(sd: &ServiceDeployment) -> Option<f64> {
    sd.target_service_revision()?
        .requested_production_traffic_weight()
}

/// `n` GETs of /health through a listener: how many answered each version (anything else
/// fails the test).
async fn versions(url: &str, n: usize) -> (usize, usize) {
    let (mut old, mut new) = (0, 0);
    for _ in 0..n {
        match get(url, "/health").await {
            (200, body) if body.starts_with("1.0.0") => old += 1,
            (200, body) if body.starts_with("2.0.0") => new += 1,
            other => panic!("{url} answered {other:?}"),
        }
    }
    (old, new)
}

fn test_listener(env: &Env) -> String {
    env.emulator
        .test_listener_url("prod", "api")
        .expect("a test listener")
}

/// Paused at POST_TEST_TRAFFIC_SHIFT: test traffic reaches only the new version, production
/// only the old. After CONTINUE, at the canary step (20 %), production splits by the weight
/// while test traffic stays on green; the control API shows both listeners and the weights.
#[tokio::test]
async fn test_listener_reaches_green_and_production_follows_the_canary_weight() {
    let mark = marker();
    let env = start(scenario(&mark, None)).await;
    let arn = deploy_canary(&env).await;
    let production = load_balancer(&env, "api");
    let test = test_listener(&env);
    assert_ne!(production, test);
    let paused = step_until(&env, &arn, |sd| awaiting_hook(sd).is_some()).await;
    assert_eq!(
        paused.lifecycle_stage().map(|s| s.as_str()),
        Some("POST_TEST_TRAFFIC_SHIFT")
    );
    assert_eq!(versions(&production, 20).await, (20, 0), "production");
    assert_eq!(versions(&test, 20).await, (0, 20), "test");

    env.ecs
        .continue_service_deployment()
        .service_deployment_arn(&arn)
        .hook_id(awaiting_hook(&paused).unwrap())
        .send()
        .await
        .unwrap();
    step_until(&env, &arn, |sd| production_weight(sd) == Some(20.0)).await;
    let (old, new) = versions(&production, 50).await;
    assert!(
        (5..=15).contains(&new) && old + new == 50,
        "20 % of 50 production requests should reach v2: {old} old, {new} new"
    );
    assert_eq!(versions(&test, 10).await, (0, 10), "test");

    let port = env.emulator.port();
    let (_, view) = super::http::request(port, "GET", "/_emulator/load-balancers", "").await;
    let lb = &view["loadBalancers"][0];
    assert_eq!(lb["productionUrl"], production.as_str(), "{view:#}");
    assert_eq!(lb["testUrl"], test.as_str(), "{view:#}");
    assert_eq!(lb["greenWeights"]["production"], 20.0, "{view:#}");
    assert_eq!(lb["greenWeights"]["test"], 100.0, "{view:#}");
    let groups: Vec<_> = lb["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["targetGroup"].as_str().unwrap())
        .collect();
    assert_eq!(
        (
            groups.iter().filter(|g| **g == "blue").count(),
            groups.iter().filter(|g| **g == "green").count()
        ),
        (2, 2),
        "{view:#}"
    );

    step_until(&env, &arn, |sd| {
        sd.status().map(|s| s.as_str()) == Some("SUCCESSFUL")
    })
    .await;
    assert_eq!(
        versions(&production, 10).await,
        (0, 10),
        "production at the end"
    );
    shut_down(env, &mark).await;
}

/// ContinueServiceDeployment ROLLBACK while paused: production and test traffic reach only
/// the old version from the moment the call returns, and after the rollback has finished.
#[tokio::test]
async fn rollback_returns_production_and_test_traffic_to_blue() {
    let mark = marker();
    let env = start(scenario(&mark, None)).await;
    let arn = deploy_canary(&env).await;
    let production = load_balancer(&env, "api");
    let test = test_listener(&env);
    let paused = step_until(&env, &arn, |sd| awaiting_hook(sd).is_some()).await;
    assert_eq!(versions(&test, 4).await, (0, 4), "test before the rollback");
    env.ecs
        .continue_service_deployment()
        .service_deployment_arn(&arn)
        .hook_id(awaiting_hook(&paused).unwrap())
        .action("ROLLBACK".into())
        .send()
        .await
        .unwrap();
    assert_eq!(versions(&production, 10).await, (10, 0), "production");
    assert_eq!(versions(&test, 10).await, (10, 0), "test");
    step_until(&env, &arn, |sd| {
        sd.status().map(|s| s.as_str()) == Some("ROLLBACK_SUCCESSFUL")
    })
    .await;
    for _ in 0..5 {
        env.emulator.advance(Duration::from_secs(1));
        assert_eq!(versions(&production, 4).await, (4, 0), "production");
        assert_eq!(versions(&test, 4).await, (4, 0), "test");
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    shut_down(env, &mark).await;
}
