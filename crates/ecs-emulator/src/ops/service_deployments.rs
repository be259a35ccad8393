//! ListServiceDeployments, DescribeServiceDeployments, StopServiceDeployment: the 2024 API
//! that follows one deployment to its outcome (reference §4).

use serde_json::{Value, json};

use super::input::{Input, cluster, describe_by_arn};
use crate::deployments;
use crate::error::EcsError;
use crate::ids;
use crate::model::{Service, State, Task};
use crate::render::{render_service_deployment, render_service_deployment_brief};

/// ARNs per DescribeServiceDeployments call (API limit).
const MAX_DESCRIBE: usize = 20;

/// `(cluster, service)` from `…:service-deployment/<cluster>/<service>/<id>`.
pub(super) fn locate(arn: &str) -> Option<(&str, &str)> {
    let (_, tail) = arn.split_once(":service-deployment/")?;
    let mut parts = tail.split('/');
    Some((parts.next()?, parts.next()?))
}

/// What an action on a ServiceDeployment changes: the service its ARN names, that cluster's
/// tasks and the RNG (ServiceDeploymentNotFoundException when the cluster or service is gone).
pub(super) struct Target<'s> {
    pub cluster: String,
    pub service: &'s mut Service,
    pub tasks: &'s mut Vec<Task>,
    pub rng: &'s mut fastrand::Rng,
}

pub(super) fn target<'s>(state: &'s mut State, arn: &str) -> Result<Target<'s>, EcsError> {
    let (cluster_name, service_name) =
        locate(arn).ok_or_else(EcsError::service_deployment_not_found)?;
    let State { clusters, rng, .. } = state;
    let cluster = clusters
        .get_mut(cluster_name)
        .ok_or_else(EcsError::service_deployment_not_found)?;
    let service = cluster
        .services
        .get_mut(service_name)
        .ok_or_else(EcsError::service_deployment_not_found)?;
    Ok(Target {
        cluster: cluster_name.to_string(),
        service,
        tasks: &mut cluster.tasks,
        rng,
    })
}

fn find_service<'s>(state: &'s State, arn: &str) -> Option<&'s Service> {
    let (cluster, service) = locate(arn)?;
    let s = state.clusters.get(cluster)?.services.get(service)?;
    s.service_deployments
        .iter()
        .any(|sd| sd.arn == arn)
        .then_some(s)
}

pub fn list(state: &mut State, input: &Input) -> Result<Value, EcsError> {
    let reference = input.required_str("service")?;
    let (arn_cluster, name) = super::input::service_ref(reference);
    let cluster_name = match (input.str("cluster")?, arn_cluster) {
        (Some(c), _) => ids::last_segment(c).to_string(),
        (None, Some(c)) => c.to_string(),
        (None, None) => "default".to_string(),
    };
    let statuses = input.strings("status")?;
    let created = input.object("createdAt")?;
    let bound = |k: &str| created.and_then(|c| c.get(k)).and_then(Value::as_f64);
    let (after, before) = (bound("after"), bound("before"));
    let c = cluster(state, &cluster_name)?;
    let service = c
        .services
        .get(name)
        .ok_or_else(EcsError::service_not_found)?;
    let briefs: Vec<Value> = service
        .service_deployments
        .iter()
        .filter(|sd| {
            statuses
                .as_ref()
                .is_none_or(|s| s.contains(&sd.status.as_str()))
        })
        .filter(|sd| after.is_none_or(|a| sd.created_at >= a))
        .filter(|sd| before.is_none_or(|b| sd.created_at <= b))
        .map(|sd| render_service_deployment_brief(service, sd))
        .collect();
    let (page, next) = input.page(briefs, 20, 100)?;
    Ok(json!({"serviceDeployments": page, "nextToken": next}))
}

pub fn describe(state: &mut State, input: &Input) -> Result<Value, EcsError> {
    describe_by_arn(
        input,
        "serviceDeploymentArns",
        MAX_DESCRIBE,
        "serviceDeployments",
        |arn| {
            let service = find_service(state, arn)?;
            let (cluster_name, _) = locate(arn)?;
            let tasks = &state.clusters.get(cluster_name)?.tasks;
            let sd = service
                .service_deployments
                .iter()
                .find(|sd| sd.arn == arn)?;
            Some(render_service_deployment(service, sd, tasks))
        },
    )
}

pub fn stop(state: &mut State, input: &Input, real_now: f64) -> Result<Value, EcsError> {
    let arn = input.required_str("serviceDeploymentArn")?.to_string();
    match input.str("stopType")? {
        None | Some("ROLLBACK") => {}
        Some(_) => {
            return Err(EcsError::invalid_parameter("stopType must be ROLLBACK."));
        }
    }
    let now = state.now;
    let Target {
        service,
        tasks,
        rng,
        ..
    } = target(state, &arn)?;
    let sd = service
        .service_deployments
        .iter()
        .find(|sd| sd.arn == arn)
        .ok_or_else(EcsError::service_deployment_not_found)?;
    match sd.status.as_str() {
        "PENDING" | "IN_PROGRESS" => {}
        "STOP_REQUESTED" | "ROLLBACK_REQUESTED" | "ROLLBACK_IN_PROGRESS" => {
            return Ok(json!({"serviceDeploymentArn": arn}));
        }
        _ => {
            return Err(EcsError::conflict(
                "The service deployment has already finished and cannot be stopped.",
            ));
        }
    }
    let tracked = sd.deployment_id.clone();
    if service.primary().is_none_or(|p| p.id != tracked) {
        return Err(EcsError::conflict(
            "The service deployment is not the service's current deployment.",
        ));
    }
    let Some(target) = deployments::rollback_target(service, &arn) else {
        return Err(EcsError::conflict(
            "There is no previous service revision to roll back to.",
        ));
    };
    let Some(primary) = service.primary_mut() else {
        return Err(EcsError::conflict(
            "The service deployment is not the service's current deployment.",
        ));
    };
    primary.fail(
        format!("ECS deployment {tracked} stopped: rollback requested by StopServiceDeployment."),
        now,
        real_now,
    );
    let reason = format!(
        "Service deployment rolled back to deploymentId {} by StopServiceDeployment.",
        target.deployment_id
    );
    deployments::roll_back(service, tasks, target, reason, now, rng);
    if let Some(sd) = service.service_deployment_mut(&arn) {
        sd.status = "ROLLBACK_REQUESTED".to_string();
        sd.status_reason = Some("Rollback requested by StopServiceDeployment.".to_string());
        sd.updated_at = now;
    }
    Ok(json!({"serviceDeploymentArn": arn}))
}
