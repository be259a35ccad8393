//! Deployment alarms (reference §1.3; AWS Developer Guide "How CloudWatch alarms detect Amazon
//! ECS deployment failures"): while a deployment is in progress, or baking after its tasks are
//! in place, any listed CloudWatch alarm in `ALARM` fails it; with `rollback` the service
//! returns to the last COMPLETED deployment. Alarm states come from the control API.

use std::collections::BTreeMap;

use crate::deployments::{finish_service_deployment, roll_back};
use crate::model::{RolloutState, Service, Task};

/// The alarms among `names` that are in ALARM.
fn triggered(names: &[String], states: &BTreeMap<String, String>) -> Vec<String> {
    names
        .iter()
        .filter(|n| states.get(*n).map(String::as_str) == Some("ALARM"))
        .cloned()
        .collect()
}

/// Fails the PRIMARY deployment when one of its alarms is in ALARM.
pub fn check_alarms(
    service: &mut Service,
    tasks: &mut [Task],
    states: &BTreeMap<String, String>,
    now: f64,
    real_now: f64,
    rng: &mut fastrand::Rng,
) {
    let Some((names, rollback)) = service.deployment_alarms() else {
        return;
    };
    let Some(primary) = service.primary() else {
        return;
    };
    // A rollback deployment is not watched (the emulator's choice), nor a finished one.
    let watched = primary.rollout_state == RolloutState::InProgress
        && !primary.stalled
        && primary.rollback_of.is_none()
        && primary.created_at < now;
    let fired = triggered(&names, states);
    if !watched || fired.is_empty() {
        return;
    }
    let list = fired.join(", ");
    let name = service.name.clone();
    let sd_arn = primary.service_deployment_arn.clone();
    let failed_id = primary.id.clone();
    if let Some(p) = service.primary_mut() {
        p.fail(
            format!("ECS deployment alarms: {list} in ALARM state."),
            now,
            real_now,
        );
    }
    service.emit(
        rng,
        now,
        format!("(service {name}) (deployment {failed_id}) deployment failed: alarm detected."),
    );
    let sd_reason = format!("Service deployment failed: alarm detected ({list}).");
    if let Some(sd) = service.service_deployment_mut(&sd_arn) {
        sd.alarms_status = "TRIGGERED".to_string();
        sd.triggered_alarm_names = fired;
        sd.updated_at = now;
    }
    if !rollback {
        finish_service_deployment(service, &sd_arn, "STOPPED", &sd_reason, now, real_now);
        return;
    }
    let Some(target) = service.last_completed.take() else {
        let reason = format!("{sd_reason} There is no completed deployment to roll back to.");
        finish_service_deployment(service, &sd_arn, "ROLLBACK_FAILED", &reason, now, real_now);
        return;
    };
    let target_id = target.deployment_id.clone();
    service.emit(
        rng,
        now,
        format!("(service {name}) rolling back to deployment {target_id}."),
    );
    let reason = format!("ECS deployment alarms: rolling back to deploymentId {target_id}.");
    roll_back(service, tasks, target, reason, now, rng);
    if let Some(sd) = service.service_deployment_mut(&sd_arn) {
        sd.status = "ROLLBACK_IN_PROGRESS".to_string();
        sd.status_reason = Some(sd_reason);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only the listed alarms in ALARM count; OK, INSUFFICIENT_DATA and unknown ones do not.
    #[test]
    fn only_listed_alarms_in_alarm_trigger() {
        let mut states = BTreeMap::new();
        states.insert("a".to_string(), "ALARM".to_string());
        states.insert("b".to_string(), "OK".to_string());
        states.insert("c".to_string(), "ALARM".to_string());
        let names = vec!["a".to_string(), "b".to_string(), "d".to_string()];
        assert_eq!(triggered(&names, &states), vec!["a".to_string()]);
        assert!(triggered(&[], &states).is_empty());
    }
}
