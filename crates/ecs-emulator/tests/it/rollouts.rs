//! Rollouts driven through aws-sdk-ecs with the manual clock: bounds, completion, the circuit
//! breaker, rollbacks, replaced and stuck deployments.

use std::time::Duration;

use aws_sdk_ecs::types::{DeploymentRolloutState, DesiredStatus};
use ecs_emulator::{Config, Scenario};

use super::sdk::*;

/// A healthy rollout ends COMPLETED with one PRIMARY on the new revision, "deployment
/// completed" before "reached a steady state", and ServiceDeployment SUCCESSFUL.
#[tokio::test]
async fn healthy_rollout_completes() {
    let env = env().await;
    let v1 = env.register("web:v1").await;
    let v2 = env.register("web:v2").await;
    let created = env.create_service("web", &v1, 2, rolling(100, 200)).await;
    assert_eq!(
        primary(&created).rollout_state(),
        Some(&DeploymentRolloutState::InProgress)
    );
    env.step_until("web", 120, |_, _| {}, completed).await;

    let updated = env.update("web", &v2).await;
    assert_eq!(updated.task_definition(), Some(v2.as_str()));
    assert_eq!(updated.deployments().len(), 2);
    let new_id = primary_id(&updated);
    assert!(new_id.starts_with("ecs-svc/") && new_id.len() == "ecs-svc/".len() + 19);
    assert_eq!(
        primary(&updated).rollout_state_reason(),
        Some(format!("ECS deployment {new_id} in progress.").as_str())
    );
    let old = updated
        .deployments()
        .iter()
        .find(|d| d.status() == Some("ACTIVE"))
        .unwrap();
    assert_eq!(old.task_definition(), Some(v1.as_str()));
    let sd_arn = updated.current_service_deployment().unwrap().to_string();
    assert!(sd_arn.starts_with("arn:aws:ecs:us-east-1:123456789012:service-deployment/prod/web/"));

    let done = env.step_until("web", 120, |_, _| {}, completed).await;
    let p = primary(&done);
    assert_eq!(p.id(), Some(new_id.as_str()));
    assert_eq!(p.task_definition(), Some(v2.as_str()));
    assert_eq!(p.running_count(), 2);
    assert_eq!(done.running_count(), 2);
    assert_eq!(
        p.rollout_state_reason(),
        Some(format!("ECS deployment {new_id} completed.").as_str())
    );
    let events = messages(&done);
    assert_eq!(events[0], "(service web) has reached a steady state.");
    assert_eq!(
        events[1],
        format!("(service web) (deployment {new_id}) deployment completed.")
    );
    assert!(
        events
            .iter()
            .any(|m| m.starts_with("(service web) has started 2 tasks: (task "))
    );
    assert!(
        events
            .iter()
            .any(|m| m.starts_with("(service web) has stopped 2 running tasks: (task "))
    );

    let sd = env.service_deployment(&sd_arn).await;
    assert_eq!(sd.status().unwrap().as_str(), "SUCCESSFUL");
    assert!(sd.finished_at().is_some());

    // Old tasks were stopped by the scheduler, with the reason ECS gives.
    let tasks = env.tasks("web", Some(DesiredStatus::Stopped)).await;
    assert_eq!(tasks.len(), 2);
    for t in &tasks {
        assert_eq!(t.stop_code().unwrap().as_str(), "ServiceSchedulerInitiated");
        assert_eq!(
            t.stopped_reason(),
            Some(format!("Scaling activity initiated by (deployment {new_id})").as_str())
        );
        assert_eq!(t.group(), Some("service:web"));
        assert_eq!(t.last_status(), Some("STOPPED"));
    }
}

/// Crashing tasks trip the circuit breaker; rollback deploys the last completed revision,
/// which completes; the ServiceDeployment ends ROLLBACK_SUCCESSFUL.
#[tokio::test]
async fn crash_with_circuit_breaker_rolls_back() {
    let env = env().await;
    let Redeploy {
        v1,
        old_id: good_id,
        updated,
        new_id: bad_id,
        ..
    } = env.redeploy(2, with_breaker(true), 120, "web:crash").await;
    let sd_arn = updated.current_service_deployment().unwrap().to_string();

    let mut saw_failed = false;
    let done = env
        .step_until(
            "web",
            300,
            |s, _| {
                saw_failed |= s.deployments().iter().any(|d| {
                    d.id() == Some(bad_id.as_str())
                        && d.rollout_state() == Some(&DeploymentRolloutState::Failed)
                });
            },
            completed,
        )
        .await;
    assert!(saw_failed, "the crashing deployment was never FAILED");
    let p = primary(&done);
    assert_ne!(p.id(), Some(bad_id.as_str()));
    assert_eq!(p.task_definition(), Some(v1.as_str()));
    assert_eq!(done.task_definition(), Some(v1.as_str()));
    assert_eq!(
        p.rollout_state_reason(),
        Some(
            format!("ECS deployment circuit breaker: rolling back to deploymentId {good_id}.")
                .as_str()
        )
    );
    let events = messages(&done);
    assert!(events.contains(&format!(
        "(service web) (deployment {bad_id}) deployment failed: tasks failed to start."
    )));
    // The rollback kept the old revision's tasks (minimumHealthyPercent 100 never let them
    // stop) instead of replacing them.
    let running = env.tasks("web", None).await;
    assert_eq!(running.len(), 2);
    for t in &running {
        assert_eq!(t.started_by(), Some(good_id.as_str()));
        assert_eq!(t.task_definition_arn(), Some(v1.as_str()));
    }

    let sd = env.service_deployment(&sd_arn).await;
    assert_eq!(sd.status().unwrap().as_str(), "ROLLBACK_SUCCESSFUL");
    assert!(sd.rollback().is_some());
    let cb = sd.deployment_circuit_breaker().unwrap();
    assert_eq!(cb.status().unwrap().as_str(), "TRIGGERED");
    assert_eq!(cb.threshold(), 3);
    // Two tasks crash in the same second, yet the count stops at the threshold.
    assert_eq!(cb.failure_count(), 3);

    // The crashed tasks are describable with their exit code (startedBy must be ListTasks' only
    // filter, so list the service's stopped tasks and pick the failed deployment's).
    let tasks = env.tasks("web", Some(DesiredStatus::Stopped)).await;
    let crashed: Vec<_> = tasks
        .iter()
        .filter(|t| t.started_by() == Some(bad_id.as_str()))
        .filter(|t| t.stop_code().map(|c| c.as_str()) == Some("EssentialContainerExited"))
        .collect();
    assert!(crashed.len() >= 3);
    assert_eq!(crashed[0].containers()[0].exit_code(), Some(137));
    assert_eq!(
        crashed[0].stopped_reason(),
        Some("Essential container in task exited")
    );
}

/// maximumPercent (floor) and minimumHealthyPercent (ceil) hold after every step of a rollout,
/// for several settings.
#[tokio::test]
async fn rollout_bounds_hold_at_every_step() {
    let env = env().await;
    let v1 = env.register("web:v1").await;
    let v2 = env.register("web:v2").await;
    for (i, (min, max, desired)) in [
        (100, 200, 4),
        (50, 200, 4),
        (0, 100, 3),
        (50, 150, 5),
        (100, 125, 4),
        (34, 100, 3),
    ]
    .into_iter()
    .enumerate()
    {
        let name = format!("bounds{i}");
        env.create_service(&name, &v1, desired, rolling(min, max))
            .await;
        env.step_until(&name, 200, |_, _| {}, completed).await;
        env.update(&name, &v2).await;
        let max_tasks = (desired * max / 100) as u64;
        let min_healthy = ((desired * min) as u64).div_ceil(100);
        let done = env
            .step_until(
                &name,
                400,
                |s, state| {
                    let live = (s.running_count() + s.pending_count()) as u64;
                    assert!(live <= max_tasks, "{name}: {live} tasks > max {max_tasks}");
                    let healthy = healthy_tasks(state, &name);
                    assert!(
                        healthy >= min_healthy,
                        "{name}: {healthy} healthy < min {min_healthy}"
                    );
                },
                completed,
            )
            .await;
        assert_eq!(primary(&done).task_definition(), Some(v2.as_str()));
        assert_eq!(done.running_count(), desired);
    }
}

/// Without rollback the breaker leaves the deployment FAILED, launches nothing more, and the
/// ServiceDeployment ends STOPPED.
#[tokio::test]
async fn breaker_without_rollback_fails_and_stops() {
    let env = env().await;
    let Redeploy {
        updated,
        new_id: bad_id,
        ..
    } = env.redeploy(1, with_breaker(false), 120, "web:crash").await;
    let sd_arn = updated.current_service_deployment().unwrap().to_string();
    let failed = env.step_until("web", 200, |_, _| {}, primary_failed).await;
    let p = primary(&failed);
    assert_eq!(p.id(), Some(bad_id.as_str()));
    assert_eq!(p.failed_tasks(), 3);
    assert_eq!(
        p.rollout_state_reason(),
        Some("ECS deployment circuit breaker: tasks failed to start.")
    );
    // The old task keeps running: minimumHealthyPercent 100 never let it stop.
    assert_eq!(failed.running_count(), 1);
    let launched = |env: &Env| {
        let state = env.emulator.state();
        state["clusters"][0]["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["startedBy"] == bad_id.as_str())
            .count()
    };
    let before = launched(&env);
    env.emulator.advance(Duration::from_secs(120));
    assert_eq!(launched(&env), before, "a FAILED deployment launched tasks");
    let still = env.describe("web").await;
    assert_eq!(
        primary(&still).rollout_state(),
        Some(&DeploymentRolloutState::Failed)
    );
    let sd = env.service_deployment(&sd_arn).await;
    assert_eq!(sd.status().unwrap().as_str(), "STOPPED");
    assert!(sd.stopped_at().is_some());
}

/// Tasks that never reach RUNNING count one by one (stage 1) up to the threshold of 3.
#[tokio::test]
async fn fail_to_start_tasks_are_counted() {
    let env = env().await;
    let bad = env.register("web:nopull").await;
    let created = env.create_service("web", &bad, 1, with_breaker(true)).await;
    let sd_arn = created.current_service_deployment().unwrap().to_string();
    let mut seen = Vec::new();
    let failed = env
        .step_until(
            "web",
            200,
            |s, _| {
                let n = primary(s).failed_tasks();
                if seen.last() != Some(&n) {
                    seen.push(n);
                }
            },
            primary_failed,
        )
        .await;
    assert_eq!(seen, vec![0, 1, 2, 3]);
    assert_eq!(failed.running_count(), 0);
    // Nothing ever completed, so there is nothing to roll back to: the deployment stalls.
    let sd = env.service_deployment(&sd_arn).await;
    assert_eq!(sd.status().unwrap().as_str(), "ROLLBACK_FAILED");
    let tasks = env.tasks("web", Some(DesiredStatus::Stopped)).await;
    assert_eq!(tasks.len(), 3);
    for t in &tasks {
        assert_eq!(t.stop_code().unwrap().as_str(), "TaskFailedToStart");
        assert!(
            t.stopped_reason()
                .unwrap()
                .starts_with("CannotPullContainerError")
        );
        assert!(t.started_at().is_none());
        assert_eq!(t.containers()[0].exit_code(), None);
    }
}

/// A deployment replaced mid-rollout becomes ACTIVE, its ServiceDeployment STOPPED, and the
/// newest one completes alone.
#[tokio::test]
async fn deployment_replaced_mid_rollout() {
    let env = env().await;
    env.settled_v1(2, rolling(100, 200), 120).await;
    let v2 = env.register("web:v2").await;
    let v3 = env.register("web:v3").await;
    let second = env.update("web", &v2).await;
    let second_id = primary_id(&second);
    let second_sd = second.current_service_deployment().unwrap().to_string();
    env.emulator.advance(Duration::from_secs(4));
    let third = env.update("web", &v3).await;
    let third_id = primary_id(&third);
    assert_eq!(third.deployments().len(), 3);
    let replaced = third
        .deployments()
        .iter()
        .find(|d| d.id() == Some(second_id.as_str()))
        .unwrap();
    assert_eq!(replaced.status(), Some("ACTIVE"));
    assert_ne!(third.current_service_deployment(), Some(second_sd.as_str()));
    let sd = env.service_deployment(&second_sd).await;
    assert_eq!(sd.status().unwrap().as_str(), "STOPPED");
    let done = env.step_until("web", 300, |_, _| {}, completed).await;
    assert_eq!(primary(&done).id(), Some(third_id.as_str()));
    assert_eq!(primary(&done).task_definition(), Some(v3.as_str()));
}

/// Without a circuit breaker a crashing image is replaced forever: failedTasks grows and the
/// deployment never completes (what real ECS does).
#[tokio::test]
async fn crash_without_breaker_loops_forever() {
    let env = env().await;
    let bad = env.register("web:crash").await;
    env.create_service("web", &bad, 2, rolling(100, 200)).await;
    env.emulator.advance(Duration::from_secs(900));
    let s = env.describe("web").await;
    let p = primary(&s);
    assert_eq!(p.rollout_state(), Some(&DeploymentRolloutState::InProgress));
    assert!(p.failed_tasks() > 20, "failedTasks {}", p.failed_tasks());
    // Events: at most 100, newest first.
    let events = s.events();
    assert_eq!(events.len(), 100);
    for pair in events.windows(2) {
        assert!(pair[0].created_at().unwrap().secs() >= pair[1].created_at().unwrap().secs());
    }
}

/// A task that never passes its health check is replaced, with the ECS event.
#[tokio::test]
async fn never_healthy_tasks_are_replaced() {
    let env = env().await;
    let sick = env.register("web:sick").await;
    env.create_service("web", &sick, 1, rolling(100, 200)).await;
    env.emulator.advance(Duration::from_secs(60));
    let s = env.describe("web").await;
    assert!(primary(&s).failed_tasks() >= 3);
    let events = messages(&s);
    assert!(events.iter().any(|m| m.starts_with("(service web) (task ")
        && m.ends_with(") failed container health checks.")));
}

/// Settings that let no task stop or start give the documented event and stall.
#[tokio::test]
async fn impossible_bounds_stall_with_event() {
    let env = env().await;
    env.settled_v1(2, rolling(100, 100), 120).await;
    let v2 = env.register("web:v2").await;
    env.update("web", &v2).await;
    env.emulator.advance(Duration::from_secs(60));
    let s = env.describe("web").await;
    assert_eq!(s.deployments().len(), 2);
    assert_eq!(primary(&s).running_count(), 0);
    assert_eq!(
        messages(&s)[0],
        "service (web) was unable to stop or start tasks during a deployment because of the service deployment configuration. Update the minimumHealthyPercent or maximumPercent value and try again."
    );
}

/// StopServiceDeployment(ROLLBACK) returns the service to the previous revision.
#[tokio::test]
async fn stop_service_deployment_rolls_back() {
    let env = env().await;
    let Redeploy { v1, updated, .. } = env.redeploy(1, rolling(100, 200), 120, "web:v2").await;
    let sd_arn = updated.current_service_deployment().unwrap().to_string();
    env.emulator.advance(Duration::from_secs(2));
    env.ecs
        .stop_service_deployment()
        .service_deployment_arn(&sd_arn)
        .stop_type(aws_sdk_ecs::types::StopServiceDeploymentStopType::Rollback)
        .send()
        .await
        .unwrap();
    let done = env.step_until("web", 200, |_, _| {}, completed).await;
    assert_eq!(primary(&done).task_definition(), Some(v1.as_str()));
    let sd = env.service_deployment(&sd_arn).await;
    assert_eq!(sd.status().unwrap().as_str(), "ROLLBACK_SUCCESSFUL");
    let listed = env
        .ecs
        .list_service_deployments()
        .cluster("prod")
        .service("web")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.service_deployments().len(), 2);
    // A finished service deployment cannot be stopped again.
    let again = env
        .ecs
        .stop_service_deployment()
        .service_deployment_arn(&sd_arn)
        .stop_type(aws_sdk_ecs::types::StopServiceDeploymentStopType::Rollback)
        .send()
        .await
        .unwrap_err();
    assert!(again.into_service_error().is_conflict_exception());
}

/// The background clock at a high time scale finishes a rollout in well under a second.
#[tokio::test]
async fn background_clock_runs_a_rollout() {
    let mut scenario = Scenario::parse(SCENARIO).unwrap();
    scenario.time_scale = 2000.0;
    let env = env_with(Config::new(scenario)).await;
    let v1 = env.register("web:v1").await;
    env.create_service("web", &v1, 3, rolling(100, 200)).await;
    let started = std::time::Instant::now();
    loop {
        let s = env.describe("web").await;
        if completed(&s) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "rollout did not complete: {s:#?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let state = env.emulator.state();
    let history = &state["clusters"][0]["services"][0]["deploymentHistory"][0];
    assert!(history["finishedAt"].as_f64().is_some());
    assert!(history["finishedAtReal"].as_f64().is_some());
    env.emulator.shutdown().await;
}
