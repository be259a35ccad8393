//! What real ECS does that a friendlier model would not, each off by default and switched on by
//! a scenario or the control API: stale reads after UpdateService, rollbacks that fail, circuit
//! breakers with nothing to return to, empty services, services without `rolloutState`,
//! deployment alarms, task retention and ListTasks' filter rule, denied history reads.

use std::time::Duration;

use aws_sdk_ecs::types::DesiredStatus;
use ecs_emulator::{Consistency, Fault, FaultKind, StaleWindow};

use super::sdk::*;

/// A settled v1 service with v2 registered; returns the v1 deployment id, v1 and v2.
async fn settled_with_v2(env: &Env) -> (String, String, String) {
    let (v1, done) = env.settled_v1(2, with_breaker(true), 60).await;
    let v2 = env.register("web:v2").await;
    (primary_id(&done), v1, v2)
}

/// Stale DescribeServices for N calls: no new deployment, old PRIMARY, old task definition;
/// then the real service. Off by default.
#[tokio::test]
async fn describe_services_is_stale_for_n_calls_after_update_service() {
    let env = env().await;
    let (old_id, v1, v2) = settled_with_v2(&env).await;
    env.emulator.set_consistency(Consistency {
        describe_services: StaleWindow {
            calls: 2,
            seconds: 0.0,
        },
        update_service_response: false,
    });
    let updated = env.update("web", &v2).await;
    assert_eq!(
        updated.task_definition(),
        Some(v2.as_str()),
        "response is fresh"
    );
    let new_id = primary_id(&updated);
    assert_ne!(new_id, old_id);
    for _ in 0..2 {
        let stale = env.describe("web").await;
        assert_eq!(stale.task_definition(), Some(v1.as_str()));
        assert_eq!(stale.deployments().len(), 1);
        assert_eq!(primary(&stale).id(), Some(old_id.as_str()));
    }
    let fresh = env.describe("web").await;
    assert_eq!(fresh.task_definition(), Some(v2.as_str()));
    assert_eq!(primary(&fresh).id(), Some(new_id.as_str()));
    assert_eq!(fresh.deployments().len(), 2);
}

/// Stale DescribeServices for T emulated seconds, however many calls.
#[tokio::test]
async fn describe_services_is_stale_for_t_seconds() {
    let env = env().await;
    let (old_id, _, v2) = settled_with_v2(&env).await;
    env.emulator.set_consistency(Consistency {
        describe_services: StaleWindow {
            calls: 0,
            seconds: 5.0,
        },
        update_service_response: false,
    });
    env.update("web", &v2).await;
    for _ in 0..4 {
        assert_eq!(
            primary(&env.describe("web").await).id(),
            Some(old_id.as_str())
        );
        env.emulator.advance(Duration::from_secs(1));
    }
    env.emulator.advance(Duration::from_secs(1));
    assert_eq!(
        env.describe("web").await.task_definition(),
        Some(v2.as_str())
    );
}

/// The UpdateService response can be stale on its own: the old PRIMARY, the old task
/// definition, while DescribeServices is already fresh.
#[tokio::test]
async fn update_service_response_can_be_stale() {
    let env = env().await;
    let (old_id, v1, v2) = settled_with_v2(&env).await;
    let fresh_update = env.update("web", &v1).await;
    assert_eq!(
        fresh_update.deployments().len(),
        1,
        "same revision: no deployment"
    );
    env.emulator.set_consistency(Consistency {
        describe_services: StaleWindow::default(),
        update_service_response: true,
    });
    let response = env.update("web", &v2).await;
    assert_eq!(response.task_definition(), Some(v1.as_str()));
    assert_eq!(response.deployments().len(), 1);
    assert_eq!(primary(&response).id(), Some(old_id.as_str()));
    let real = env.describe("web").await;
    assert_eq!(real.task_definition(), Some(v2.as_str()));
    assert_ne!(primary(&real).id(), Some(old_id.as_str()));
}

/// Off by default: the same sequence reads fresh at once.
#[tokio::test]
async fn consistent_by_default() {
    let env = env().await;
    let (old_id, _, v2) = settled_with_v2(&env).await;
    let response = env.update("web", &v2).await;
    assert_ne!(primary(&response).id(), Some(old_id.as_str()));
    assert_ne!(
        primary(&env.describe("web").await).id(),
        Some(old_id.as_str())
    );
}

/// An access-denied fault refuses the history reads a rollback tool needs.
#[tokio::test]
async fn history_reads_can_be_denied() {
    let env = env().await;
    settled_with_v2(&env).await;
    for op in ["ListServiceDeployments", "DescribeServiceRevisions"] {
        env.emulator.inject_fault(Fault {
            operation: op.into(),
            count: 1000,
            kind: FaultKind::AccessDenied,
        });
    }
    let err = env
        .ecs
        .list_service_deployments()
        .cluster("prod")
        .service("web")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_access_denied_exception(), "{err:?}");
    let err = env
        .ecs
        .describe_service_revisions()
        .service_revision_arns("arn:aws:ecs:us-east-1:123456789012:service-revision/prod/web/1")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_access_denied_exception(), "{err:?}");
    assert!(
        err.to_string().contains("ecs:DescribeServiceRevisions"),
        "{err}"
    );
}

/// ListServiceDeployments pages with maxResults/nextToken, newest first, every deployment once.
#[tokio::test]
async fn service_deployment_history_paginates() {
    let env = env().await;
    let (_, v1, v2) = settled_with_v2(&env).await;
    for i in 0..4 {
        env.update("web", if i % 2 == 0 { &v2 } else { &v1 }).await;
        env.step_until("web", 60, |_, _| {}, completed).await;
    }
    let mut seen = Vec::new();
    let mut token = None;
    let mut pages = 0;
    loop {
        let page = env
            .ecs
            .list_service_deployments()
            .cluster("prod")
            .service("web")
            .max_results(2)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        pages += 1;
        assert!(page.service_deployments().len() <= 2);
        seen.extend(page.service_deployments().iter().map(|d| {
            (
                d.created_at().unwrap().secs(),
                d.service_deployment_arn().unwrap().to_string(),
            )
        }));
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(seen.len(), 5);
    assert_eq!(pages, 3);
    assert!(seen.windows(2).all(|w| w[0].0 >= w[1].0), "{seen:?}");
}

/// A rollback whose target cannot start either (scenario `rollback_tasks`): the rollback
/// deployment FAILS in turn, the ServiceDeployment ends ROLLBACK_FAILED, and the service stays
/// stuck half-way (fewer tasks than desired, nothing launched any more).
#[tokio::test]
async fn rollback_whose_target_cannot_start_is_rollback_failed() {
    let env = env().await;
    let scenario =
        format!("{SCENARIO}rollback_tasks: {{behavior: fail_to_start, start_seconds: 2}}\n");
    env.emulator
        .set_scenario(ecs_emulator::Scenario::parse(&scenario).unwrap());
    let config = rolling_with_breaker(50, 200, true);
    let Redeploy {
        v1,
        old_id: good_id,
        ..
    } = env.redeploy(2, config, 60, "web:crash").await;
    let failed = env
        .step_until(
            "web",
            300,
            |_, _| {},
            |s| {
                primary(s).rollout_state()
                    == Some(&aws_sdk_ecs::types::DeploymentRolloutState::Failed)
                    && primary(s).task_definition() == Some(v1.as_str())
            },
        )
        .await;
    let p = primary(&failed);
    assert_eq!(
        p.rollout_state_reason(),
        Some("ECS deployment circuit breaker: tasks failed to start.")
    );
    let sd = env.current_service_deployment("web").await;
    assert_eq!(sd.status().unwrap().as_str(), "ROLLBACK_FAILED");
    assert!(
        sd.status_reason()
            .unwrap()
            .contains(&format!("rollback to deploymentId {good_id} failed")),
        "{sd:?}"
    );
    assert!(sd.rollback().is_some());
    // Stuck: some time later nothing has changed, fewer tasks run than desired.
    env.emulator.advance(Duration::from_secs(120));
    let later = env.describe("web").await;
    assert!(later.running_count() < 2, "{later:?}");
    assert_eq!(primary(&later).id(), p.id());
    assert_eq!(
        env.current_service_deployment_status("web").await,
        "ROLLBACK_FAILED"
    );
}

/// Off by default: without `rollback_tasks` the same rollback succeeds.
#[tokio::test]
async fn rollback_succeeds_without_the_scenario() {
    let env = env().await;
    let config = rolling_with_breaker(50, 200, true);
    let Redeploy { v1, .. } = env.redeploy(2, config, 60, "web:crash").await;
    let done = env
        .step_until(
            "web",
            300,
            |_, _| {},
            |s| completed(s) && primary(s).task_definition() == Some(v1.as_str()),
        )
        .await;
    assert_eq!(done.running_count(), 2);
    assert_eq!(
        env.current_service_deployment_status("web").await,
        "ROLLBACK_SUCCESSFUL"
    );
}

/// CB-guide's example: D1 COMPLETED; D2 fails → rollback to D1 in progress; D3 starts before
/// it completes and fails → FAILED with rollback on and no COMPLETED deployment to return to:
/// nothing launches, the ServiceDeployment ends ROLLBACK_FAILED, the service is stuck.
#[tokio::test]
async fn breaker_with_nothing_to_return_to_stalls() {
    let env = env().await;
    let (v1, _) = env.settled_v1(2, with_breaker(true), 60).await;
    let crash = env.register("web:crash").await;
    let nopull = env.register("web:nopull").await;
    env.update("web", &crash).await;
    // The rollback to D1 starts (a PRIMARY on v1, IN_PROGRESS)…
    env.step_until(
        "web",
        300,
        |_, _| {},
        |s| {
            primary(s).task_definition() == Some(v1.as_str())
                && primary(s).rollout_state()
                    == Some(&aws_sdk_ecs::types::DeploymentRolloutState::InProgress)
        },
    )
    .await;
    // …and D3 arrives before it completes.
    let d3 = env.update("web", &nopull).await;
    let d3_id = primary_id(&d3);
    let failed = env.step_until("web", 300, |_, _| {}, primary_failed).await;
    assert_eq!(primary(&failed).id(), Some(d3_id.as_str()));
    assert_eq!(
        failed.task_definition(),
        Some(nopull.as_str()),
        "no rollback happened"
    );
    let sd = env.current_service_deployment("web").await;
    assert_eq!(sd.status().unwrap().as_str(), "ROLLBACK_FAILED");
    assert!(
        sd.status_reason()
            .unwrap()
            .contains("no completed deployment"),
        "{sd:?}"
    );
    env.emulator.advance(Duration::from_secs(60));
    let later = env.describe("web").await;
    assert_eq!(primary(&later).id(), Some(d3_id.as_str()));
    assert_eq!(primary(&later).running_count(), 0);
    assert_eq!(primary(&later).pending_count(), 0);
}

/// desiredCount 0: a deployment with no task to start completes as soon as the old tasks are
/// gone, though no task ever ran its revision (the tools must not call that a release).
#[tokio::test]
async fn desired_zero_deployment_completes_without_running_anything() {
    let env = env().await;
    let Redeploy {
        next: crash,
        new_id,
        ..
    } = env.redeploy(0, with_breaker(true), 30, "web:crash").await;
    let done = env.step_until("web", 30, |_, _| {}, completed).await;
    assert_eq!(primary(&done).id(), Some(new_id.as_str()));
    assert_eq!(primary(&done).task_definition(), Some(crash.as_str()));
    assert_eq!(done.running_count(), 0);
    assert_eq!(primary(&done).failed_tasks(), 0);
    assert_eq!(
        env.current_service_deployment_status("web").await,
        "SUCCESSFUL"
    );
    let ran = env.task_arns("web", Some(DesiredStatus::Stopped)).await;
    assert!(ran.is_empty(), "no task ever ran");
}

/// A service scaled to 0 in the middle of a rollout: the PRIMARY's and the old tasks stop, and
/// the deployment completes with nothing running — before its revision ever became healthy.
#[tokio::test]
async fn scaled_to_zero_mid_rollout_completes_empty() {
    let env = env().await;
    let Redeploy { new_id, .. } = env.redeploy(2, with_breaker(true), 60, "web:sick").await;
    env.emulator.advance(Duration::from_secs(3));
    env.ecs
        .update_service()
        .cluster("prod")
        .service("web")
        .desired_count(0)
        .send()
        .await
        .unwrap();
    let done = env.step_until("web", 60, |_, _| {}, completed).await;
    assert_eq!(primary(&done).id(), Some(new_id.as_str()));
    assert_eq!(done.desired_count(), 0);
    assert_eq!(done.running_count(), 0);
    assert_eq!(
        env.current_service_deployment_status("web").await,
        "SUCCESSFUL"
    );
}

/// Behind a Classic Load Balancer ECS gives no `rolloutState` (§1.2) and the circuit breaker
/// does not act; `failedTasks` still counts, drained deployments leave the list, so a crash
/// loop can look steady for a moment (one deployment, running == desired) with failures > 0.
#[tokio::test]
async fn classic_load_balancer_has_no_rollout_state() {
    let env = env().await;
    let v1 = env.register("web:v1").await;
    let crash = env.register("web:crash").await;
    let config = rolling_with_breaker(0, 200, true);
    env.ecs
        .create_service()
        .cluster("prod")
        .service_name("web")
        .task_definition(&v1)
        .desired_count(2)
        .deployment_configuration(config)
        .load_balancers(
            aws_sdk_ecs::types::LoadBalancer::builder()
                .load_balancer_name("web-classic")
                .container_name("app")
                .container_port(80)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let settled = env
        .step_until(
            "web",
            60,
            |_, _| {},
            |s| s.deployments().len() == 1 && s.running_count() == 2,
        )
        .await;
    assert!(primary(&settled).rollout_state().is_none());
    assert!(primary(&settled).rollout_state_reason().is_none());
    env.update("web", &crash).await;
    let mut lucky = false;
    for _ in 0..120 {
        env.emulator.advance(Duration::from_secs(1));
        let s = env.describe("web").await;
        for d in s.deployments() {
            assert!(d.rollout_state().is_none(), "{d:?}");
        }
        lucky |=
            s.deployments().len() == 1 && s.running_count() == 2 && primary(&s).failed_tasks() > 0;
    }
    assert!(lucky, "a crash loop never looked steady for a moment");
    let s = env.describe("web").await;
    assert_eq!(
        primary(&s).task_definition(),
        Some(crash.as_str()),
        "no rollback"
    );
    assert!(
        primary(&s).failed_tasks() > 3,
        "failedTasks counts past the breaker's threshold"
    );
    let sd = env.current_service_deployment("web").await;
    assert_eq!(sd.status().unwrap().as_str(), "IN_PROGRESS");
    assert_eq!(
        sd.deployment_circuit_breaker()
            .unwrap()
            .status()
            .unwrap()
            .as_str(),
        "DISABLED"
    );
}

fn alarm_config(rollback: bool) -> aws_sdk_ecs::types::DeploymentConfiguration {
    aws_sdk_ecs::types::DeploymentConfiguration::builder()
        .minimum_healthy_percent(100)
        .maximum_percent(200)
        .alarms(
            aws_sdk_ecs::types::DeploymentAlarms::builder()
                .alarm_names("web-5xx")
                .alarm_names("web-latency")
                .enable(true)
                .rollback(rollback)
                .build()
                .unwrap(),
        )
        .build()
}

/// An alarm in ALARM during a deployment fails it and, with rollback, returns the service to
/// the last completed deployment, with ECS's event wording and the ServiceDeployment's alarms.
#[tokio::test]
async fn alarm_during_deployment_fails_and_rolls_back() {
    let env = env().await;
    let Redeploy {
        v1,
        old_id: good_id,
        new_id: bad_id,
        ..
    } = env.redeploy(2, alarm_config(true), 60, "web:v2").await;
    env.emulator.advance(Duration::from_secs(3));
    env.emulator.set_alarm("web-latency", "ALARM");
    let rolled = env
        .step_until(
            "web",
            120,
            |_, _| {},
            |s| completed(s) && s.task_definition() == Some(v1.as_str()),
        )
        .await;
    assert_eq!(
        primary(&rolled).rollout_state_reason(),
        Some(format!("ECS deployment alarms: rolling back to deploymentId {good_id}.").as_str())
    );
    let events = messages(&rolled);
    assert!(
        events.contains(&format!(
            "(service web) (deployment {bad_id}) deployment failed: alarm detected."
        )),
        "{events:?}"
    );
    assert!(
        events.contains(&format!(
            "(service web) rolling back to deployment {good_id}."
        )),
        "{events:?}"
    );
    let sd = env.current_service_deployment("web").await;
    assert_eq!(sd.status().unwrap().as_str(), "ROLLBACK_SUCCESSFUL");
    assert_eq!(
        sd.status_reason(),
        Some("Service deployment failed: alarm detected (web-latency). Rolled back successfully.")
    );
    assert_eq!(
        sd.rollback().unwrap().reason(),
        Some(format!("ECS deployment alarms: rolling back to deploymentId {good_id}.").as_str())
    );
    let alarms = sd.alarms().unwrap();
    assert_eq!(alarms.status().unwrap().as_str(), "TRIGGERED");
    assert_eq!(alarms.triggered_alarm_names(), ["web-latency".to_string()]);
    assert_eq!(alarms.alarm_names().len(), 2);
}

/// Without rollback the deployment stays FAILED and its ServiceDeployment ends STOPPED; alarms
/// in OK or never set do nothing, and the ServiceDeployment reports MONITORING_COMPLETE.
#[tokio::test]
async fn alarm_without_rollback_fails_and_ok_alarms_do_nothing() {
    let env = env().await;
    let v1 = env.register("web:v1").await;
    let v2 = env.register("web:v2").await;
    env.create_service("web", &v1, 2, alarm_config(false)).await;
    env.emulator.set_alarm("web-5xx", "OK");
    env.step_until("web", 60, |_, _| {}, completed).await;
    let sd = env.current_service_deployment("web").await;
    assert_eq!(sd.status().unwrap().as_str(), "SUCCESSFUL");
    assert_eq!(
        sd.alarms().unwrap().status().unwrap().as_str(),
        "MONITORING_COMPLETE"
    );
    env.update("web", &v2).await;
    env.emulator.set_alarm("web-5xx", "ALARM");
    let failed = env.step_until("web", 30, |_, _| {}, primary_failed).await;
    assert_eq!(failed.task_definition(), Some(v2.as_str()));
    assert_eq!(
        primary(&failed).rollout_state_reason(),
        Some("ECS deployment alarms: web-5xx in ALARM state.")
    );
    let sd = env.current_service_deployment("web").await;
    assert_eq!(sd.status().unwrap().as_str(), "STOPPED");
}

/// With a bake time (scenario `alarm_bake_seconds`), an alarm after the tasks are in place
/// still fails the deployment.
#[tokio::test]
async fn alarm_during_bake_time_fails_the_deployment() {
    let env = env().await;
    let scenario = format!("{SCENARIO}alarm_bake_seconds: 60\n");
    env.emulator
        .set_scenario(ecs_emulator::Scenario::parse(&scenario).unwrap());
    let (v1, _) = env.settled_v1(2, alarm_config(true), 120).await;
    let v2 = env.register("web:v2").await;
    env.update("web", &v2).await;
    // Tasks of v2 are in place after ~10 s; the deployment is still baking.
    env.emulator.advance(Duration::from_secs(30));
    let baking = env.describe("web").await;
    assert_eq!(
        primary(&baking).rollout_state(),
        Some(&aws_sdk_ecs::types::DeploymentRolloutState::InProgress)
    );
    assert_eq!(primary(&baking).running_count(), 2);
    env.emulator.set_alarm("web-5xx", "ALARM");
    env.step_until(
        "web",
        60,
        |_, _| {},
        |s| completed(s) && s.task_definition() == Some(v1.as_str()),
    )
    .await;
}

/// Stopped tasks stay describable for an hour (emulated), then disappear from DescribeTasks
/// (MISSING) and ListTasks.
#[tokio::test]
async fn stopped_tasks_are_forgotten_after_an_hour() {
    let env = env().await;
    let (v1, _) = env.settled_v1(1, with_breaker(true), 60).await;
    let crash = env.register("web:crash").await;
    env.update("web", &crash).await;
    env.step_until(
        "web",
        120,
        |_, _| {},
        |s| completed(s) && s.task_definition() == Some(v1.as_str()),
    )
    .await;
    let stopped = || env.task_arns("web", Some(DesiredStatus::Stopped));
    let arns = stopped().await;
    assert!(!arns.is_empty());
    env.emulator.advance(Duration::from_secs(3000));
    assert_eq!(stopped().await, arns, "still there after 50 minutes");
    env.emulator.advance(Duration::from_secs(1200));
    assert!(stopped().await.is_empty(), "gone after 70 minutes");
    let described = env
        .ecs
        .describe_tasks()
        .cluster("prod")
        .set_tasks(Some(arns.clone()))
        .send()
        .await
        .unwrap();
    assert!(described.tasks().is_empty());
    assert_eq!(described.failures().len(), arns.len());
    assert_eq!(described.failures()[0].reason(), Some("MISSING"));
}

/// ListTasks refuses startedBy combined with any other filter, as the API doc says; alone (with
/// the cluster) it works.
#[tokio::test]
async fn list_tasks_started_by_must_be_alone() {
    let env = env().await;
    let v1 = env.register("web:v1").await;
    let service = env.create_service("web", &v1, 1, with_breaker(true)).await;
    env.step_until("web", 60, |_, _| {}, completed).await;
    let id = primary_id(&service);
    let alone = env
        .ecs
        .list_tasks()
        .cluster("prod")
        .started_by(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(alone.task_arns().len(), 1);
    let with_status = env
        .ecs
        .list_tasks()
        .cluster("prod")
        .started_by(&id)
        .desired_status(aws_sdk_ecs::types::DesiredStatus::Stopped)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(
        with_status.is_invalid_parameter_exception(),
        "{with_status:?}"
    );
    assert!(
        with_status
            .to_string()
            .contains("startedBy as the filter, it must be the only filter"),
        "{with_status}"
    );
    let with_service = env
        .ecs
        .list_tasks()
        .cluster("prod")
        .started_by(&id)
        .service_name("web")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(with_service.is_invalid_parameter_exception());
}
