//! The service scheduler of a rolling deployment: which tasks to stop and start each second
//! within maximumPercent/minimumHealthyPercent, when the PRIMARY is COMPLETED, and how a
//! deleted service drains.

use std::collections::BTreeMap;

use crate::deployments::finish_service_deployment;
use crate::model::{
    DeploymentStatus, RolloutState, Service, Task, TaskDefinition, resolve_task_definition,
};
use crate::scenario::Scenario;
use crate::task_lifecycle::{self, Launch, Placement};

fn belongs_to(service: &Service, task: &Task) -> bool {
    task.service.as_deref() == Some(service.name.as_str())
        && task
            .deployment_id
            .as_deref()
            .is_some_and(|id| service.deployments.iter().any(|d| d.id == id))
}

/// Starts and stops tasks within the deployment configuration's bounds (reference §2.3):
/// live tasks ≤ floor(desired × max%) and healthy tasks ≥ ceil(desired × min%).
pub fn schedule_service(
    service: &mut Service,
    cluster_name: &str,
    tasks: &mut Vec<Task>,
    definitions: &BTreeMap<String, Vec<TaskDefinition>>,
    scenario: &Scenario,
    rng: &mut fastrand::Rng,
    now: f64,
) {
    let Some(primary) = service.primary() else {
        return;
    };
    if primary.stalled {
        // FAILED (or a rollback with nothing to roll back to) launches and stops nothing.
        return;
    }
    let primary_id = primary.id.clone();
    let desired = u64::from(service.desired_count);
    let (min_percent, max_percent) = service.percent_bounds();
    let max_tasks = desired.saturating_mul(max_percent) / 100;
    let min_healthy = desired.saturating_mul(min_percent).div_ceil(100);

    let mine: Vec<usize> = (0..tasks.len())
        .filter(|&i| belongs_to(service, &tasks[i]))
        .collect();
    let live: Vec<usize> = mine
        .iter()
        .copied()
        .filter(|&i| tasks[i].is_live())
        .collect();
    let mut healthy_total = live.iter().filter(|&&i| tasks[i].is_healthy()).count() as u64;
    let mut stopped = Vec::new();

    // Scale-in: the PRIMARY has more tasks than desired; drop unhealthy ones first.
    let mut primary_live: Vec<usize> = live
        .iter()
        .copied()
        .filter(|&i| tasks[i].deployment_id.as_deref() == Some(primary_id.as_str()))
        .collect();
    primary_live.sort_by_key(|&i| tasks[i].is_healthy());
    let excess = (primary_live.len() as u64).saturating_sub(desired) as usize;
    for &i in primary_live.iter().take(excess) {
        if tasks[i].is_healthy() {
            healthy_total -= 1;
        }
        stopped.push(task_lifecycle::stop_for_deployment(
            &mut tasks[i],
            now,
            &primary_id,
        ));
    }

    // Old deployments' tasks: unhealthy ones go at once, healthy ones while the minimum holds.
    let mut old: Vec<usize> = live
        .iter()
        .copied()
        .filter(|&i| tasks[i].deployment_id.as_deref() != Some(primary_id.as_str()))
        .collect();
    old.sort_by_key(|&i| tasks[i].is_healthy());
    for i in old {
        let healthy = tasks[i].is_healthy();
        if healthy {
            if healthy_total <= min_healthy {
                break;
            }
            healthy_total -= 1;
        }
        stopped.push(task_lifecycle::stop_for_deployment(
            &mut tasks[i],
            now,
            &primary_id,
        ));
    }

    // Start PRIMARY tasks up to desired, within maximumPercent.
    let live_count = mine.iter().filter(|&&i| tasks[i].is_live()).count() as u64;
    let primary_count = mine
        .iter()
        .filter(|&&i| {
            tasks[i].is_live() && tasks[i].deployment_id.as_deref() == Some(primary_id.as_str())
        })
        .count() as u64;
    let need = desired.saturating_sub(primary_count);
    let room = max_tasks.saturating_sub(live_count);
    let throttled = now < service.launch_not_before;
    let to_start = if throttled { 0 } else { need.min(room) };
    let mut started = Vec::new();
    let (definition, placement) = match service.primary() {
        Some(p) => (
            resolve_task_definition(definitions, &p.task_definition),
            Placement::of(p),
        ),
        None => (None, Placement::default()),
    };
    // Tasks a rollback launches may follow the scenario's `rollback_tasks` (ROLLBACK_FAILED).
    let rollback_scenario = service
        .primary()
        .filter(|p| p.rollback_of.is_some())
        .and_then(|_| scenario.rollback_tasks.clone())
        .map(|behavior| Scenario {
            default: behavior,
            images: Vec::new(),
            ..scenario.clone()
        });
    let scenario = rollback_scenario.as_ref().unwrap_or(scenario);
    if let Some(definition) = definition {
        for _ in 0..to_start {
            let task = task_lifecycle::launch_task(
                rng,
                now,
                cluster_name,
                definition,
                scenario,
                Launch::Service {
                    service: service.name.clone(),
                    deployment_id: primary_id.clone(),
                },
                placement.clone(),
            );
            started.push(task.id.clone());
            tasks.push(task);
        }
    }

    if !stopped.is_empty() || !started.is_empty() {
        service.steady = false;
    }
    service.emit_stopped(rng, now, &stopped);
    service.emit_started(rng, now, &started);

    // Stuck: nothing may start (max) and nothing may stop (min), with nothing in flight.
    if started.is_empty() && stopped.is_empty() && need > 0 && room == 0 {
        let in_flight = tasks.iter().any(|t| {
            belongs_to(service, t)
                && ((t.is_live() && !t.is_healthy()) || (!t.is_live() && !t.is_stopped()))
        });
        let report = service
            .primary()
            .is_some_and(|p| p.rollout_state == RolloutState::InProgress && !p.stuck_reported);
        if !in_flight && report {
            if let Some(p) = service.primary_mut() {
                p.stuck_reported = true;
            }
            let message = format!(
                "service ({}) was unable to stop or start tasks during a deployment because of the service deployment configuration. Update the minimumHealthyPercent or maximumPercent value and try again.",
                service.name
            );
            service.emit(rng, now, message);
        }
    }
}

/// COMPLETED once the PRIMARY runs `desired` healthy tasks and every other task is gone.
pub fn check_completion(
    service: &mut Service,
    tasks: &[Task],
    now: f64,
    real_now: f64,
    bake_seconds: f64,
    rng: &mut fastrand::Rng,
) {
    let Some(primary) = service.primary() else {
        return;
    };
    // A deployment is never complete in the step that created it, so every state (for
    // example FAILED with its rollback IN_PROGRESS) is visible for at least a second.
    if primary.stalled || primary.created_at >= now {
        return;
    }
    let scaled_after_completion = primary.rollout_state == RolloutState::Completed;
    if scaled_after_completion && service.steady {
        return;
    }
    let primary_id = primary.id.as_str();
    let desired = service.desired_count as usize;
    let mut primary_healthy = 0;
    let mut primary_live = 0;
    for t in tasks.iter().filter(|t| belongs_to(service, t)) {
        let is_primary = t.deployment_id.as_deref() == Some(primary_id);
        if is_primary && t.is_live() {
            primary_live += 1;
            if t.is_healthy() {
                primary_healthy += 1;
            }
        } else if !t.is_stopped() {
            // An old task still running or draining, or a PRIMARY task still stopping.
            return;
        }
    }
    if primary_live != desired || primary_healthy != desired {
        return;
    }
    // With deployment alarms, the tasks in place start a bake time during which the alarms are
    // still watched; the deployment completes after it.
    let baking = !scaled_after_completion
        && bake_seconds > 0.0
        && service.deployment_alarms().is_some()
        && service.primary().is_some_and(|p| p.rollback_of.is_none());
    if baking && let Some(p) = service.primary_mut() {
        let started = *p.bake_started.get_or_insert(now);
        if now - started < bake_seconds {
            return;
        }
    }
    let name = service.name.clone();
    service.steady = true;
    if scaled_after_completion {
        // Scaling (or replacing a task) after the rollout: steady again, nothing to complete.
        service.emit(
            rng,
            now,
            format!("(service {name}) has reached a steady state."),
        );
        return;
    }
    let Some(primary) = service.primary_mut() else {
        return;
    };
    primary.rollout_state = RolloutState::Completed;
    if primary.rollback_of.is_none() {
        primary.rollout_state_reason = format!("ECS deployment {} completed.", primary.id);
    }
    primary.updated_at = now;
    primary.finished_emulated = Some(now);
    primary.finished_real = Some(real_now);
    let completed = primary.revision();
    let was_rollback = primary.rollback_of.is_some();
    let sd_arn = primary.service_deployment_arn.clone();
    for d in &mut service.deployments {
        if d.status == DeploymentStatus::Active {
            d.status = DeploymentStatus::Inactive;
            d.updated_at = now;
        }
    }
    let id = completed.deployment_id.clone();
    service.last_completed = Some(completed);
    service.emit(
        rng,
        now,
        format!("(service {name}) (deployment {id}) deployment completed."),
    );
    service.emit(
        rng,
        now,
        format!("(service {name}) has reached a steady state."),
    );
    let (status, reason) = if was_rollback {
        (
            "ROLLBACK_SUCCESSFUL",
            "Service deployment rolled back successfully.",
        )
    } else {
        ("SUCCESSFUL", "Service deployment completed successfully.")
    };
    let (finished, cause) = service
        .service_deployment_mut(&sd_arn)
        .map_or((false, None), |sd| {
            (sd.is_finished(), sd.status_reason.clone())
        });
    // A rollback keeps the cause of the failure in its final statusReason.
    let reason = match cause {
        Some(cause) if was_rollback => format!("{cause} Rolled back successfully."),
        _ => reason.to_string(),
    };
    if !finished {
        finish_service_deployment(service, &sd_arn, status, &reason, now, real_now);
    }
}

/// A deleted service stops all its tasks, then becomes INACTIVE.
pub fn drain_service(service: &mut Service, tasks: &mut [Task], now: f64, rng: &mut fastrand::Rng) {
    let primary_id = service.primary().map_or(String::new(), |p| p.id.clone());
    let mut stopped = Vec::new();
    let mut remaining = false;
    for t in tasks.iter_mut() {
        if !belongs_to(service, t) {
            continue;
        }
        if t.is_live() {
            stopped.push(task_lifecycle::stop_for_deployment(t, now, &primary_id));
        }
        remaining |= !t.is_stopped();
    }
    service.emit_stopped(rng, now, &stopped);
    if !remaining {
        service.status = "INACTIVE".to_string();
    }
}
