//! The deployment circuit breaker (reference §3): when the PRIMARY deployment's failed tasks
//! reach the threshold it becomes FAILED and, with rollback, the service returns to the last
//! COMPLETED deployment's task definition; without one to return to, it stalls.

use crate::deployments::{finish_service_deployment, roll_back};
use crate::model::{RolloutState, Service, Task};

/// The rolloutStateReason and event text of a circuit-breaker failure.
pub const BREAKER_FAILED_REASON: &str = "ECS deployment circuit breaker: tasks failed to start.";

/// Trips the breaker when the PRIMARY deployment's failures reach the threshold.
pub fn check_circuit_breaker(
    service: &mut Service,
    tasks: &mut [Task],
    now: f64,
    real_now: f64,
    rng: &mut fastrand::Rng,
) {
    let Some(cb) = service.circuit_breaker() else {
        return;
    };
    let threshold = cb.threshold(service.desired_count);
    let Some(primary) = service.primary() else {
        return;
    };
    let sd_arn = primary.service_deployment_arn.clone();
    let failures = primary.failed_tasks;
    let tracking = primary.rollout_state == RolloutState::InProgress && !primary.stalled;
    if let Some(sd) = service.service_deployment_mut(&sd_arn)
        && !sd.is_finished()
        && sd.circuit_breaker_status == "MONITORING"
    {
        sd.failure_count = failures;
        sd.threshold = threshold;
    }
    if !tracking || failures < threshold {
        return;
    }
    let name = service.name.clone();
    let Some(primary) = service.primary_mut() else {
        return;
    };
    primary.fail(BREAKER_FAILED_REASON.to_string(), now, real_now);
    let failed_id = primary.id.clone();
    // A rollback deployment that trips the breaker in turn: the rollback itself failed.
    let failed_rollback = primary.rollback_of.clone();
    service.emit(
        rng,
        now,
        format!(
            "(service {name}) (deployment {failed_id}) deployment failed: tasks failed to start."
        ),
    );
    if let Some(sd) = service.service_deployment_mut(&sd_arn) {
        sd.circuit_breaker_status = "TRIGGERED".to_string();
        sd.failure_count = failures;
        sd.updated_at = now;
    }
    if let Some(target) = failed_rollback {
        let reason = format!(
            "ECS deployment circuit breaker: the rollback to deploymentId {target} failed: tasks failed to start."
        );
        finish_service_deployment(service, &sd_arn, "ROLLBACK_FAILED", &reason, now, real_now);
        return;
    }
    if !cb.rollback {
        finish_service_deployment(
            service,
            &sd_arn,
            "STOPPED",
            BREAKER_FAILED_REASON,
            now,
            real_now,
        );
        return;
    }
    match service.last_completed.take() {
        Some(target) => {
            let reason = format!(
                "ECS deployment circuit breaker: rolling back to deploymentId {}.",
                target.deployment_id
            );
            roll_back(service, tasks, target, reason, now, rng);
            if let Some(sd) = service.service_deployment_mut(&sd_arn) {
                sd.status = "ROLLBACK_IN_PROGRESS".to_string();
                sd.status_reason = Some(BREAKER_FAILED_REASON.to_string());
            }
        }
        None => finish_service_deployment(
            service,
            &sd_arn,
            "ROLLBACK_FAILED",
            "ECS deployment circuit breaker: tasks failed to start. There is no completed deployment to roll back to.",
            now,
            real_now,
        ),
    }
}
