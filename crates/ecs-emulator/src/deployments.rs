//! Deployment bookkeeping: new PRIMARY deployments and their ServiceDeployments, rollbacks,
//! and the ServiceDeployment status moves (PENDING → IN_PROGRESS → a finished status).
//!
//! Which tasks run is the scheduler's business (`scheduler.rs`); this module only records what
//! ECS would show in `deployments[]` and DescribeServiceDeployments.

use crate::ids;
use crate::model::{
    Deployment, DeploymentStatus, RevisionRef, RollbackInfo, RolloutState, Service,
    ServiceDeployment, Task,
};

/// Ends a service deployment with a final status.
pub fn finish_service_deployment(
    service: &mut Service,
    arn: &str,
    status: &str,
    reason: &str,
    now: f64,
    real_now: f64,
) {
    if let Some(sd) = service.service_deployment_mut(arn) {
        sd.status = status.to_string();
        sd.status_reason = Some(reason.to_string());
        sd.started_at.get_or_insert(now);
        sd.finished_at = Some(now);
        if status == "STOPPED" || status == "ROLLBACK_FAILED" {
            sd.stopped_at = Some(now);
        }
        sd.updated_at = now;
        sd.finished_real = Some(real_now);
        if sd.circuit_breaker_status == "MONITORING" {
            sd.circuit_breaker_status = "MONITORING_COMPLETE".to_string();
        }
        if sd.alarms_status == "MONITORING" {
            sd.alarms_status = "MONITORING_COMPLETE".to_string();
        }
    }
}

/// The revision a rollback of service deployment `sd_arn` returns to: the last completed one
/// (taken from the service), else the revision the deployment replaced.
pub fn rollback_target(service: &mut Service, sd_arn: &str) -> Option<RevisionRef> {
    if let Some(target) = service.last_completed.take() {
        return Some(target);
    }
    let sd = service
        .service_deployments
        .iter()
        .find(|sd| sd.arn == sd_arn)?;
    let (tracked, source) = (&sd.deployment_id, sd.source_revisions.first()?);
    service
        .deployments
        .iter()
        .find(|d| &d.service_revision_arn == source && &d.id != tracked)
        .map(Deployment::revision)
}

/// Makes a new PRIMARY that runs `target`'s task definition again; the current PRIMARY becomes
/// ACTIVE and its tasks are replaced. The failed deployment's service deployment tracks it.
///
/// Tasks still running from the target deployment already run that revision, so the rollback
/// adopts them instead of replacing them (the CB guide says the target deployment itself goes
/// back to IN_PROGRESS); their `startedBy` keeps the id that launched them.
pub fn roll_back(
    service: &mut Service,
    tasks: &mut [Task],
    target: RevisionRef,
    reason: String,
    now: f64,
    rng: &mut fastrand::Rng,
) {
    let Some(current) = service.primary_mut() else {
        return;
    };
    current.status = DeploymentStatus::Active;
    let sd_arn = current.service_deployment_arn.clone();
    let template = current.clone();
    let deployment = Deployment {
        id: ids::deployment_id(rng),
        status: DeploymentStatus::Primary,
        task_definition: target.task_definition.clone(),
        failed_tasks: 0,
        created_at: now,
        updated_at: now,
        rollout_state: RolloutState::InProgress,
        rollout_state_reason: reason.clone(),
        service_revision_arn: target.revision_arn.clone(),
        service_deployment_arn: sd_arn.clone(),
        rollback_of: Some(target.deployment_id.clone()),
        stalled: false,
        stuck_reported: false,
        bake_started: None,
        finished_emulated: None,
        finished_real: None,
        ..template
    };
    let new_id = deployment.id.clone();
    for t in tasks.iter_mut() {
        if t.deployment_id.as_deref() == Some(target.deployment_id.as_str())
            && t.service.as_deref() == Some(service.name.as_str())
            && t.is_live()
        {
            t.deployment_id = Some(new_id.clone());
        }
    }
    for d in &mut service.deployments {
        if d.id == target.deployment_id && d.status == DeploymentStatus::Active {
            d.status = DeploymentStatus::Inactive;
            d.updated_at = now;
        }
    }
    service.task_definition = target.task_definition.clone();
    service.deployments.insert(0, deployment);
    if let Some(sd) = service.service_deployment_mut(&sd_arn) {
        sd.rollback = Some(RollbackInfo {
            reason,
            started_at: now,
            service_revision_arn: target.revision_arn,
        });
        sd.updated_at = now;
    }
}

/// Starts a new PRIMARY deployment of the service's current settings (CreateService, or
/// UpdateService with a new task definition or forceNewDeployment).
pub fn start_deployment(service: &mut Service, rng: &mut fastrand::Rng, now: f64, real_now: f64) {
    // A new deployment returns a throttled service to normal at once (AWS throttle logic).
    service.start_failures = 0;
    service.launch_not_before = 0.0;
    service.throttle_reported = false;
    for d in &mut service.deployments {
        if d.status == DeploymentStatus::Primary {
            d.status = DeploymentStatus::Active;
            d.updated_at = now;
        }
    }
    // A deployment still in flight is superseded; its service deployment ends STOPPED.
    let unfinished: Vec<String> = service
        .service_deployments
        .iter()
        .filter(|sd| !sd.is_finished())
        .map(|sd| sd.arn.clone())
        .collect();
    for arn in unfinished {
        finish_service_deployment(
            service,
            &arn,
            "STOPPED",
            "Service deployment stopped because a newer service deployment was started.",
            now,
            real_now,
        );
    }
    let digits = ids::nineteen_digits(rng);
    let id = format!("ecs-svc/{digits}");
    let revision = ids::service_revision_arn(&service.cluster_name, &service.name, &digits);
    let sd_arn = ids::service_deployment_arn(
        &service.cluster_name,
        &service.name,
        &ids::opaque_id(rng, 22),
    );
    let mut sources: Vec<String> = Vec::new();
    for d in &service.deployments {
        if d.status != DeploymentStatus::Inactive && !sources.contains(&d.service_revision_arn) {
            sources.push(d.service_revision_arn.clone());
        }
    }
    let breaker = service.circuit_breaker();
    let alarms = service.deployment_alarms();
    service.deployments.insert(
        0,
        Deployment {
            rollout_state_reason: format!("ECS deployment {id} in progress."),
            id,
            status: DeploymentStatus::Primary,
            task_definition: service.task_definition.clone(),
            failed_tasks: 0,
            created_at: now,
            updated_at: now,
            rollout_state: RolloutState::InProgress,
            launch_type: service.launch_type.clone(),
            capacity_provider_strategy: service.capacity_provider_strategy.clone(),
            platform_version: service.platform_version.clone(),
            network_configuration: service.network_configuration.clone(),
            service_revision_arn: revision.clone(),
            service_deployment_arn: sd_arn.clone(),
            rollback_of: None,
            stalled: false,
            stuck_reported: false,
            bake_started: None,
            finished_emulated: None,
            finished_real: None,
        },
    );
    service.service_deployments.insert(
        0,
        ServiceDeployment {
            arn: sd_arn.clone(),
            deployment_id: service.deployments[0].id.clone(),
            created_at: now,
            started_at: None,
            finished_at: None,
            stopped_at: None,
            updated_at: now,
            status: "PENDING".to_string(),
            status_reason: None,
            source_revisions: sources.clone(),
            target_revision: revision,
            deployment_configuration: service.deployment_configuration.clone(),
            rollback: None,
            circuit_breaker_status: if breaker.is_some() {
                "MONITORING"
            } else {
                "DISABLED"
            }
            .to_string(),
            failure_count: 0,
            threshold: breaker.map_or(0, |cb| cb.threshold(service.desired_count)),
            alarms_status: if alarms.is_some() {
                "MONITORING"
            } else {
                "DISABLED"
            }
            .to_string(),
            alarm_names: alarms.map(|(names, _)| names).unwrap_or_default(),
            triggered_alarm_names: Vec::new(),
            finished_real: None,
            // A first deployment has no blue revision to shift from: it rolls out.
            progressive: (!sources.is_empty())
                .then(|| crate::strategy::begin(&service.deployment_configuration))
                .flatten(),
        },
    );
    service.current_service_deployment = Some(sd_arn);
}

/// PENDING → IN_PROGRESS and ROLLBACK_REQUESTED → ROLLBACK_IN_PROGRESS one step after the
/// request, so a poller can see the first state.
pub fn advance_service_deployments(service: &mut Service, now: f64) {
    for sd in &mut service.service_deployments {
        let next = match sd.status.as_str() {
            "PENDING" if sd.created_at < now => "IN_PROGRESS",
            "ROLLBACK_REQUESTED" if sd.updated_at < now => "ROLLBACK_IN_PROGRESS",
            _ => continue,
        };
        sd.status = next.to_string();
        sd.started_at.get_or_insert(now);
        sd.updated_at = now;
    }
}
