//! The ECS deployment controller for rolling updates, one emulated second at a time: it moves
//! tasks along, counts failures (and throttles launches that keep failing), then lets the
//! circuit breaker (`circuit_breaker.rs`), the scheduler (`scheduler.rs`) and the deployment
//! bookkeeping (`deployments.rs`) act on each service.
//!
//! The rules and wording follow `ecs-deployments.md` §2, §3 and §13; where AWS documents
//! nothing, the README says what the emulator chose.

use std::collections::BTreeMap;

use crate::alarms::check_alarms;
use crate::circuit_breaker::check_circuit_breaker;
use crate::deployments::advance_service_deployments;
use crate::model::{Cluster, RolloutState, Service, State, TaskDefinition};
use crate::scenario::Scenario;
use crate::scheduler::{check_completion, drain_service, schedule_service};
use crate::task_lifecycle::{self, TaskChange};

/// Service throttle logic: after this many consecutive tasks fail to reach RUNNING, launches
/// wait, starting at [`THROTTLE_FIRST_DELAY_SECONDS`] and doubling up to 27 minutes (AWS
/// documents the maximum and the event, not the schedule).
const THROTTLE_AFTER_FAILURES: u32 = 3;
const THROTTLE_FIRST_DELAY_SECONDS: f64 = 10.0;
const THROTTLE_MAX_DELAY_SECONDS: f64 = 27.0 * 60.0;

/// Advances the emulated clock by `seconds`, one scheduler step per whole second.
pub fn advance(state: &mut State, seconds: f64, real_now: f64) {
    if !seconds.is_finite() || seconds <= 0.0 {
        return;
    }
    state.unstepped += seconds;
    // A cap keeps a huge request (or a clock that was suspended for hours at a high time
    // scale) from holding the lock for minutes; an emulated day per call is plenty.
    let mut budget: u32 = 24 * 3600;
    while state.unstepped >= 1.0 && budget > 0 {
        state.unstepped -= 1.0;
        budget -= 1;
        step(state, real_now);
    }
    if budget == 0 {
        state.unstepped = 0.0;
    }
}

/// One emulated second.
pub fn step(state: &mut State, real_now: f64) {
    state.now += 1.0;
    let State {
        now,
        clusters,
        task_definitions,
        scenario,
        rng,
        alarms,
        processes,
        ..
    } = state;
    // Process mode: real processes move their tasks' plans before the tasks advance.
    if let (Some(supervisor), Some(mode)) = (processes.as_deref(), &scenario.processes) {
        for cluster in clusters.values_mut() {
            supervisor.sync_cluster(cluster, task_definitions, mode, *now);
            supervisor.sync_one_off(cluster, task_definitions, mode, *now);
        }
    }
    for cluster in clusters.values_mut() {
        step_cluster(
            cluster,
            *now,
            real_now,
            task_definitions,
            scenario,
            alarms,
            rng,
        );
    }
    // Process mode: the load balancers follow this second's traffic weights.
    if let Some(supervisor) = processes.as_deref() {
        clusters.values().for_each(|c| supervisor.route_cluster(c));
    }
}

fn step_cluster(
    cluster: &mut Cluster,
    now: f64,
    real_now: f64,
    definitions: &BTreeMap<String, Vec<TaskDefinition>>,
    scenario: &Scenario,
    alarms: &BTreeMap<String, String>,
    rng: &mut fastrand::Rng,
) {
    // 1. Tasks move along their plans.
    let mut changes = Vec::new();
    for task in &mut cluster.tasks {
        for change in task_lifecycle::advance_task(task, now) {
            if let (Some(service), Some(deployment)) = (&task.service, &task.deployment_id) {
                changes.push((service.clone(), deployment.clone(), task.id.clone(), change));
            }
        }
    }
    // 2. Their services count failures and health. The breaker is checked after each failure,
    //    so tasks failing in the same second cannot push the count past the threshold.
    for (service_name, deployment_id, task_id, change) in changes {
        if let Some(service) = cluster.services.get_mut(&service_name) {
            record_task_change(service, &deployment_id, &task_id, change, now, rng);
            if service.status == "ACTIVE" && service.deployment_controller == "ECS" {
                check_circuit_breaker(service, &mut cluster.tasks, now, real_now, rng);
            }
        }
    }
    // 3. Each service's controller acts.
    let cluster_name = cluster.name.clone();
    for service in cluster.services.values_mut() {
        if service.status == "INACTIVE" {
            continue;
        }
        if service.status == "DRAINING" {
            drain_service(service, &mut cluster.tasks, now, rng);
            continue;
        }
        if service.deployment_controller != "ECS" {
            continue;
        }
        check_alarms(service, &mut cluster.tasks, alarms, now, real_now, rng);
        check_circuit_breaker(service, &mut cluster.tasks, now, real_now, rng);
        if crate::progressive::drives(service) {
            let env = crate::progressive::Env {
                cluster_name: &cluster_name,
                definitions,
                scenario,
                now,
                real_now,
            };
            if crate::progressive::step_service(service, &mut cluster.tasks, &env, rng) {
                let bake = scenario.alarm_bake_seconds;
                check_completion(service, &cluster.tasks, now, real_now, bake, rng);
            }
            advance_service_deployments(service, now);
            continue;
        }
        schedule_service(
            service,
            &cluster_name,
            &mut cluster.tasks,
            definitions,
            scenario,
            rng,
            now,
        );
        let bake = scenario.alarm_bake_seconds;
        check_completion(service, &cluster.tasks, now, real_now, bake, rng);
        if service.behind_classic_load_balancer() {
            retire_drained_deployments(service, &cluster.tasks, now);
        }
        advance_service_deployments(service, now);
    }
    // 4. Stopped tasks are forgotten after the retention AWS documents.
    cluster.tasks.retain(|t| {
        t.stopped_at
            .is_none_or(|at| now - at <= crate::model::STOPPED_TASK_RETENTION_SECONDS)
    });
}

/// An ACTIVE deployment "still has running tasks" (§1.2): once its last task has stopped it
/// leaves `deployments[]`. Applied to services without `rolloutState` (Classic Load Balancer),
/// where the deployment count is all a poller has to go on.
fn retire_drained_deployments(service: &mut Service, tasks: &[crate::model::Task], now: f64) {
    for d in &mut service.deployments {
        if d.status != crate::model::DeploymentStatus::Active {
            continue;
        }
        let busy = tasks
            .iter()
            .any(|t| t.deployment_id.as_deref() == Some(d.id.as_str()) && !t.is_stopped());
        if !busy {
            d.status = crate::model::DeploymentStatus::Inactive;
            d.updated_at = now;
        }
    }
}

fn record_task_change(
    service: &mut Service,
    deployment_id: &str,
    task_id: &str,
    change: TaskChange,
    now: f64,
    rng: &mut fastrand::Rng,
) {
    let reset = service
        .circuit_breaker()
        .is_none_or(|cb| cb.reset_on_healthy_task);
    match change {
        TaskChange::FailedToStart => throttle_launches(service, now, rng),
        TaskChange::Running => {
            service.start_failures = 0;
            service.launch_not_before = 0.0;
            service.throttle_reported = false;
        }
        _ => {}
    }
    if change == TaskChange::FailedHealthChecks {
        let message = format!(
            "(service {}) (task {task_id}) failed container health checks.",
            service.name
        );
        service.emit(rng, now, message);
    }
    let Some(deployment) = service.deployment_mut(deployment_id) else {
        return;
    };
    if deployment.rollout_state != RolloutState::InProgress {
        return;
    }
    match change {
        TaskChange::Healthy if reset => {
            deployment.failed_tasks = 0;
            deployment.updated_at = now;
        }
        TaskChange::FailedToStart | TaskChange::Exited | TaskChange::FailedHealthChecks => {
            deployment.failed_tasks += 1;
            deployment.updated_at = now;
        }
        _ => {}
    }
}

/// The service throttle logic: tasks that keep failing to reach RUNNING are relaunched with
/// growing delays, announced once by an event. Tasks that stop after RUNNING (crashes, failed
/// health checks) are never throttled, as AWS documents.
fn throttle_launches(service: &mut Service, now: f64, rng: &mut fastrand::Rng) {
    service.start_failures = service.start_failures.saturating_add(1);
    let Some(over) = service.start_failures.checked_sub(THROTTLE_AFTER_FAILURES) else {
        return;
    };
    let delay = (THROTTLE_FIRST_DELAY_SECONDS * 2f64.powi(over.min(16) as i32))
        .min(THROTTLE_MAX_DELAY_SECONDS);
    service.launch_not_before = now + delay;
    if !service.throttle_reported {
        service.throttle_reported = true;
        let message = format!(
            "(service {}) is unable to consistently start tasks successfully.",
            service.name
        );
        service.emit(rng, now, message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::dispatch;
    use crate::ops::testing::{call, create_service, register, service, state_with_cluster};
    use serde_json::{Value, json};

    const SCENARIO: &str = r#"
images:
  good: {behavior: healthy, start_seconds: 2, healthy_after_seconds: 3}
  flaky: {behavior: crash, start_seconds: 1, after_seconds: 3, healthy_after_seconds: 2}
  crash: {behavior: crash, start_seconds: 1, after_seconds: 2}
  nopull: {behavior: fail_to_start, start_seconds: 2}
"#;

    /// The service `s` on family `f` running `image`.
    fn setup(image: &str, desired: u32, config: Value) -> State {
        let mut state = state_with_cluster(SCENARIO);
        register(&mut state, "f", image);
        create_service(&mut state, "f", desired, config);
        state
    }

    fn events(state: &mut State) -> Vec<String> {
        service(state)["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["message"].as_str().unwrap().to_string())
            .collect()
    }

    /// Fractions of a second accumulate; each whole second is one scheduler step.
    #[test]
    fn advance_steps_whole_seconds() {
        let mut state = setup("good", 1, json!({}));
        advance(&mut state, 0.5, 0.0);
        assert_eq!(state.now, 1000.0);
        advance(&mut state, 0.6, 0.0);
        assert_eq!(state.now, 1001.0);
        advance(&mut state, f64::NAN, 0.0);
        advance(&mut state, -3.0, 0.0);
        assert_eq!(state.now, 1001.0);
    }

    /// Scaling a completed service starts tasks without a new deployment, then reports a
    /// steady state again.
    #[test]
    fn scaling_after_completion_reports_steady_state_again() {
        let mut state = setup("good", 1, json!({}));
        advance(&mut state, 30.0, 0.0);
        let before = service(&mut state);
        assert_eq!(before["deployments"][0]["rolloutState"], "COMPLETED");
        call(
            &mut state,
            "UpdateService",
            json!({"cluster": "c", "service": "s", "desiredCount": 3}),
        );
        advance(&mut state, 30.0, 0.0);
        let after = service(&mut state);
        assert_eq!(after["deployments"].as_array().unwrap().len(), 1);
        assert_eq!(
            after["deployments"][0]["id"],
            before["deployments"][0]["id"]
        );
        assert_eq!(after["runningCount"], 3);
        let ev = events(&mut state);
        assert_eq!(ev[0], "(service s) has reached a steady state.");
        assert!(ev[1].starts_with("(service s) has started 2 tasks:"));
    }

    /// resetOnHealthyTask=false keeps counting failures across healthy tasks; the default
    /// resets them, so tasks that turn healthy before crashing never trip the breaker.
    #[test]
    fn reset_on_healthy_task() {
        let run = |reset: bool| {
            let mut state = setup(
                "good",
                2,
                json!({"maximumPercent": 150, "minimumHealthyPercent": 100,
                       "deploymentCircuitBreaker": {"enable": true, "rollback": false, "resetOnHealthyTask": reset}}),
            );
            advance(&mut state, 30.0, 0.0);
            call(
                &mut state,
                "RegisterTaskDefinition",
                json!({"family": "g", "containerDefinitions": [{"name": "a", "image": "flaky"}]}),
            );
            call(
                &mut state,
                "UpdateService",
                json!({"cluster": "c", "service": "s", "taskDefinition": "g"}),
            );
            advance(&mut state, 120.0, 0.0);
            service(&mut state)["deployments"][0].clone()
        };
        let resetting = run(true);
        assert_eq!(resetting["rolloutState"], "IN_PROGRESS");
        assert!(
            resetting["failedTasks"].as_u64().unwrap() < 3,
            "{resetting}"
        );
        let counting = run(false);
        assert_eq!(counting["rolloutState"], "FAILED");
        assert_eq!(counting["failedTasks"], 3);
    }

    /// thresholdConfiguration COUNT trips at exactly its value.
    #[test]
    fn count_threshold() {
        let mut state = setup(
            "crash",
            1,
            json!({"deploymentCircuitBreaker": {"enable": true, "rollback": false,
                   "thresholdConfiguration": {"type": "COUNT", "value": 5}}}),
        );
        advance(&mut state, 200.0, 0.0);
        let s = service(&mut state);
        assert_eq!(s["deployments"][0]["rolloutState"], "FAILED");
        assert_eq!(s["deployments"][0]["failedTasks"], 5);
        let ev = events(&mut state);
        assert!(
            ev.iter()
                .any(|m| m.ends_with("deployment failed: tasks failed to start."))
        );
    }

    /// Tasks that keep failing to start are relaunched with growing delays and one event; a
    /// new deployment lifts the throttle at once.
    #[test]
    fn failing_launches_are_throttled() {
        let mut state = setup("nopull", 1, json!({}));
        advance(&mut state, 300.0, 0.0);
        let s = service(&mut state);
        let failed = s["deployments"][0]["failedTasks"].as_u64().unwrap();
        // Unthrottled, a task failing every 2 s would fail ~150 times in 300 s.
        assert!((5..=10).contains(&failed), "failedTasks {failed}");
        let ev = events(&mut state);
        let throttle = "(service s) is unable to consistently start tasks successfully.";
        assert_eq!(ev.iter().filter(|m| *m == throttle).count(), 1);
        call(
            &mut state,
            "UpdateService",
            json!({"cluster": "c", "service": "s", "forceNewDeployment": true}),
        );
        advance(&mut state, 1.0, 0.0);
        let s = service(&mut state);
        assert_eq!(s["pendingCount"], 1, "the new deployment launched at once");
    }

    /// DeleteService drains the tasks, then the service turns INACTIVE.
    #[test]
    fn deleted_service_drains_then_goes_inactive() {
        let mut state = setup("good", 2, json!({}));
        advance(&mut state, 30.0, 0.0);
        let refused = dispatch(
            &mut state,
            "DeleteService",
            &json!({"cluster": "c", "service": "s"}),
            0.0,
        );
        assert_eq!(refused.unwrap_err().code, "InvalidParameterException");
        let deleted = call(
            &mut state,
            "DeleteService",
            json!({"cluster": "c", "service": "s", "force": true}),
        );
        assert_eq!(deleted["service"]["status"], "DRAINING");
        advance(&mut state, 10.0, 0.0);
        let s = service(&mut state);
        assert_eq!(s["status"], "INACTIVE");
        assert_eq!(s["runningCount"], 0);
        let listed = call(&mut state, "ListServices", json!({"cluster": "c"}));
        assert_eq!(listed["serviceArns"], json!([]));
        let err = dispatch(
            &mut state,
            "UpdateService",
            &json!({"cluster": "c", "service": "s", "desiredCount": 1}),
            0.0,
        );
        assert_eq!(err.unwrap_err().code, "ServiceNotActiveException");
    }

    /// A user-stopped task of a completed service is replaced by the scheduler and does not
    /// count as a failure.
    #[test]
    fn stopped_task_is_replaced() {
        let mut state = setup("good", 1, json!({}));
        advance(&mut state, 30.0, 0.0);
        let arns = call(
            &mut state,
            "ListTasks",
            json!({"cluster": "c", "serviceName": "s"}),
        );
        let arn = arns["taskArns"][0].as_str().unwrap().to_string();
        let stopped = call(
            &mut state,
            "StopTask",
            json!({"cluster": "c", "task": arn, "reason": "testing"}),
        );
        assert_eq!(stopped["task"]["stopCode"], "UserInitiated");
        assert_eq!(stopped["task"]["stoppedReason"], "testing");
        advance(&mut state, 30.0, 0.0);
        let s = service(&mut state);
        assert_eq!(s["runningCount"], 1);
        assert_eq!(s["deployments"][0]["failedTasks"], 0);
        let arns = call(
            &mut state,
            "ListTasks",
            json!({"cluster": "c", "serviceName": "s"}),
        );
        assert_ne!(arns["taskArns"][0], json!(arn));
    }
}
