//! ECS response shapes: the emulator's state rendered with the exact field names of the ECS
//! API (botocore `ecs/2014-11-13/service-2.json`), timestamps as epoch seconds.
//!
//! Absent values are left out rather than sent as `null`, as AWS does.

use serde_json::{Map, Value, json};

use crate::model::{
    Cluster, Deployment, DeploymentStatus, Service, ServiceDeployment, State, Task, TaskDefinition,
};
use crate::task_lifecycle::task_health_status;

/// Epoch seconds with millisecond precision, as AWS sends them.
pub fn timestamp(t: f64) -> Value {
    json!((t * 1000.0).round() / 1000.0)
}

fn opt_timestamp(t: Option<f64>) -> Value {
    t.map_or(Value::Null, timestamp)
}

/// Removes `null` members recursively.
pub fn without_nulls(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, without_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(without_nulls).collect()),
        other => other,
    }
}

/// Tags as ECS lists them.
pub fn render_tags(state: &State, arn: &str) -> Value {
    Value::Array(
        state
            .tags
            .get(arn)
            .map(|tags| {
                tags.iter()
                    .map(|(k, v)| json!({"key": k, "value": v}))
                    .collect()
            })
            .unwrap_or_default(),
    )
}

pub fn render_cluster(state: &State, cluster: &Cluster, include_tags: bool) -> Value {
    let live_services = cluster
        .services
        .values()
        .filter(|s| s.status == "ACTIVE")
        .count();
    let running = cluster
        .tasks
        .iter()
        .filter(|t| t.last_status == "RUNNING")
        .count();
    let pending = cluster
        .tasks
        .iter()
        .filter(|t| matches!(t.last_status.as_str(), "PROVISIONING" | "PENDING"))
        .count();
    without_nulls(json!({
        "clusterArn": cluster.arn,
        "clusterName": cluster.name,
        "status": cluster.status,
        "registeredContainerInstancesCount": 0,
        "runningTasksCount": running,
        "pendingTasksCount": pending,
        "activeServicesCount": live_services,
        "statistics": [],
        "tags": if include_tags { render_tags(state, &cluster.arn) } else { Value::Null },
        "settings": cluster.settings,
        "configuration": cluster.configuration,
        "capacityProviders": cluster.capacity_providers,
        "defaultCapacityProviderStrategy": cluster.default_capacity_provider_strategy,
    }))
}

pub fn render_task_definition(td: &TaskDefinition) -> Value {
    let mut out: Map<String, Value> = td.body.clone();
    out.insert("taskDefinitionArn".into(), json!(td.arn));
    out.insert("revision".into(), json!(td.revision));
    out.insert("status".into(), json!(td.status));
    out.insert("registeredAt".into(), timestamp(td.registered_at));
    out.insert("registeredBy".into(), json!(crate::ids::CALLER_ARN));
    if let Some(at) = td.deregistered_at {
        out.insert("deregisteredAt".into(), timestamp(at));
    }
    let mut compatibilities = vec![json!("EC2")];
    if let Some(req) = td
        .body
        .get("requiresCompatibilities")
        .and_then(Value::as_array)
    {
        for c in req {
            if !compatibilities.contains(c) {
                compatibilities.push(c.clone());
            }
        }
    }
    out.insert("compatibilities".into(), Value::Array(compatibilities));
    out.entry("requiresAttributes").or_insert_with(|| json!([]));
    out.entry("volumes").or_insert_with(|| json!([]));
    out.entry("placementConstraints")
        .or_insert_with(|| json!([]));
    without_nulls(Value::Object(out))
}

/// (desired, pending, running) of one deployment.
pub fn deployment_counts(
    service: &Service,
    deployment: &Deployment,
    tasks: &[Task],
) -> (u64, u64, u64) {
    let mut live = 0;
    let mut pending = 0;
    let mut running = 0;
    for t in tasks
        .iter()
        .filter(|t| t.deployment_id.as_deref() == Some(deployment.id.as_str()) && t.is_live())
    {
        live += 1;
        match t.last_status.as_str() {
            "RUNNING" => running += 1,
            "PROVISIONING" | "PENDING" | "ACTIVATING" => pending += 1,
            _ => {}
        }
    }
    let desired = match deployment.status {
        DeploymentStatus::Primary => u64::from(service.desired_count),
        DeploymentStatus::Active => live,
        DeploymentStatus::Inactive => 0,
    };
    (desired, pending, running)
}

pub fn render_deployment(service: &Service, d: &Deployment, tasks: &[Task]) -> Value {
    let (desired, pending, running) = deployment_counts(service, d, tasks);
    let mut out = without_nulls(json!({
        "id": d.id,
        "status": d.status.as_str(),
        "taskDefinition": d.task_definition,
        "desiredCount": desired,
        "pendingCount": pending,
        "runningCount": running,
        "failedTasks": d.failed_tasks,
        "createdAt": timestamp(d.created_at),
        "updatedAt": timestamp(d.updated_at),
        "launchType": d.launch_type,
        "capacityProviderStrategy": d.capacity_provider_strategy,
        "platformVersion": d.platform_version,
        "networkConfiguration": d.network_configuration,
        "volumeConfigurations": service.volume_configurations,
    }));
    // ECS returns rolloutState only for services not behind a Classic Load Balancer (§1.2).
    if !service.behind_classic_load_balancer()
        && let Some(map) = out.as_object_mut()
    {
        map.insert("rolloutState".into(), json!(d.rollout_state.as_str()));
        map.insert("rolloutStateReason".into(), json!(d.rollout_state_reason));
    }
    out
}

/// Running and pending tasks of the service's deployments on a service revision.
fn revision_counts(service: &Service, revision: &str, tasks: &[Task]) -> (u64, u64) {
    let mut running = 0;
    let mut pending = 0;
    for d in service
        .deployments
        .iter()
        .filter(|d| d.service_revision_arn == revision)
    {
        let (_, p, r) = deployment_counts(service, d, tasks);
        running += r;
        pending += p;
    }
    (running, pending)
}

pub fn render_service(
    state: &State,
    service: &Service,
    tasks: &[Task],
    include_tags: bool,
) -> Value {
    let mine = |t: &&Task| {
        t.service.as_deref() == Some(service.name.as_str())
            && t.deployment_id
                .as_deref()
                .is_some_and(|id| service.deployments.iter().any(|d| d.id == id))
            && t.is_live()
    };
    let running = tasks
        .iter()
        .filter(mine)
        .filter(|t| t.last_status == "RUNNING")
        .count();
    let pending = tasks
        .iter()
        .filter(mine)
        .filter(|t| matches!(t.last_status.as_str(), "PROVISIONING" | "PENDING"))
        .count();
    let ecs = service.deployment_controller == "ECS";
    let deployments: Vec<Value> = if ecs {
        service
            .deployments
            .iter()
            .filter(|d| d.status != DeploymentStatus::Inactive)
            .map(|d| render_deployment(service, d, tasks))
            .collect()
    } else {
        Vec::new()
    };
    let mut revisions: Vec<Value> = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for d in service
        .deployments
        .iter()
        .filter(|d| d.status != DeploymentStatus::Inactive)
    {
        if seen.contains(&d.service_revision_arn.as_str()) {
            continue;
        }
        seen.push(&d.service_revision_arn);
        let (r, p) = revision_counts(service, &d.service_revision_arn, tasks);
        let requested = if d.status == DeploymentStatus::Primary {
            u64::from(service.desired_count)
        } else {
            r + p
        };
        revisions.push(json!({
            "arn": d.service_revision_arn,
            "requestedTaskCount": requested,
            "runningTaskCount": r,
            "pendingTaskCount": p,
        }));
    }
    let events: Vec<Value> = service
        .events
        .iter()
        .map(|e| json!({"id": e.id, "createdAt": timestamp(e.created_at), "message": e.message}))
        .collect();
    without_nulls(json!({
        "serviceArn": service.arn,
        "serviceName": service.name,
        "clusterArn": service.cluster_arn,
        "loadBalancers": service.load_balancers,
        "serviceRegistries": service.service_registries,
        "status": service.status,
        "desiredCount": service.desired_count,
        "runningCount": running,
        "pendingCount": pending,
        "launchType": service.launch_type,
        "capacityProviderStrategy": service.capacity_provider_strategy,
        "platformVersion": service.platform_version,
        "taskDefinition": service.task_definition,
        "deploymentConfiguration": service.deployment_configuration,
        "taskSets": if ecs { Value::Null } else { json!([]) },
        "deployments": deployments,
        "roleArn": service.role_arn,
        "events": events,
        "createdAt": timestamp(service.created_at),
        "currentServiceDeployment": if ecs { json!(service.current_service_deployment) } else { Value::Null },
        "currentServiceRevisions": if ecs { json!(revisions) } else { Value::Null },
        "placementConstraints": service.placement_constraints,
        "placementStrategy": service.placement_strategy,
        "networkConfiguration": service.network_configuration,
        "healthCheckGracePeriodSeconds": service.health_check_grace_period_seconds,
        "schedulingStrategy": service.scheduling_strategy,
        "deploymentController": {"type": service.deployment_controller},
        "tags": if include_tags { render_tags(state, &service.arn) } else { Value::Null },
        "createdBy": crate::ids::CALLER_ARN,
        "enableECSManagedTags": service.enable_ecs_managed_tags,
        "propagateTags": service.propagate_tags,
        "enableExecuteCommand": service.enable_execute_command,
        "availabilityZoneRebalancing": "DISABLED",
    }))
}

fn is_fargate(task: &Task) -> bool {
    task.launch_type.as_deref() == Some("FARGATE")
        || task
            .capacity_provider_strategy
            .as_ref()
            .and_then(|s| s.get(0))
            .and_then(|s| s.get("capacityProvider"))
            .and_then(Value::as_str)
            .is_some_and(|p| p.starts_with("FARGATE"))
}

/// Fargate tasks report the platform version `LATEST` resolved to (1.4.0 since 2020).
fn task_platform_version(task: &Task) -> Value {
    match task.platform_version.as_deref() {
        Some("LATEST") | None if is_fargate(task) => json!("1.4.0"),
        other => json!(other),
    }
}

pub fn render_task(state: &State, task: &Task, include_tags: bool) -> Value {
    let containers: Vec<Value> = task
        .containers
        .iter()
        .map(|c| {
            without_nulls(json!({
                "containerArn": format!("arn:aws:ecs:{}:{}:container/{}", crate::ids::REGION, crate::ids::ACCOUNT_ID, c.runtime_id),
                "taskArn": task.arn,
                "name": c.name,
                "image": c.image,
                "runtimeId": c.runtime_id,
                "lastStatus": c.last_status,
                "exitCode": c.exit_code,
                "reason": c.reason,
                "healthStatus": c.health_status,
                "networkBindings": [],
                "networkInterfaces": [],
                "cpu": "0",
            }))
        })
        .collect();
    without_nulls(json!({
        "taskArn": task.arn,
        "clusterArn": task.cluster_arn,
        "taskDefinitionArn": task.task_definition_arn,
        "overrides": task.overrides,
        "lastStatus": task.last_status,
        "desiredStatus": task.desired_status,
        "cpu": task.cpu,
        "memory": task.memory,
        "containers": containers,
        "startedBy": task.started_by,
        "version": task.version,
        "stoppedReason": task.stopped_reason,
        "stopCode": task.stop_code,
        "connectivity": if task.last_status == "PROVISIONING" { "DISCONNECTED" } else { "CONNECTED" },
        "createdAt": timestamp(task.created_at),
        "pullStartedAt": opt_timestamp(task.pull_started_at),
        "pullStoppedAt": opt_timestamp(task.pull_stopped_at),
        "startedAt": opt_timestamp(task.started_at),
        "stoppingAt": opt_timestamp(task.stopping_at),
        "stoppedAt": opt_timestamp(task.stopped_at),
        "executionStoppedAt": opt_timestamp(task.execution_stopped_at),
        "group": task.group,
        "launchType": task.launch_type,
        "capacityProviderName": task.capacity_provider_strategy.as_ref()
            .and_then(|s| s.get(0)).and_then(|s| s.get("capacityProvider")).cloned(),
        "platformVersion": task_platform_version(task),
        "platformFamily": is_fargate(task).then_some("Linux"),
        "healthStatus": task_health_status(task),
        "attachments": eni_attachments(task),
        "tags": if include_tags { render_tags(state, &task.arn) } else { Value::Null },
        "enableExecuteCommand": false,
        "availabilityZone": "us-east-1a",
    }))
}

/// awsvpc tasks carry an elastic network interface built from the networkConfiguration.
fn eni_attachments(task: &Task) -> Value {
    let Some(vpc) = task
        .network_configuration
        .as_ref()
        .and_then(|n| n.get("awsvpcConfiguration"))
    else {
        return json!([]);
    };
    let subnet = vpc
        .get("subnets")
        .and_then(|s| s.get(0))
        .cloned()
        .unwrap_or(Value::Null);
    let status = if task.is_stopped() {
        "DELETED"
    } else {
        "ATTACHED"
    };
    json!([{
        "id": format!("eni-attachment-{}", &task.id[..8.min(task.id.len())]),
        "type": "ElasticNetworkInterface",
        "status": status,
        "details": without_nulls(json!([
            {"name": "subnetId", "value": subnet},
            {"name": "privateIPv4Address", "value": "10.0.0.10"},
        ])),
    }])
}

fn revision_summary(service: &Service, revision: &str, requested: u64, tasks: &[Task]) -> Value {
    let (running, pending) = revision_counts(service, revision, tasks);
    json!({
        "arn": revision,
        "requestedTaskCount": requested,
        "runningTaskCount": running,
        "pendingTaskCount": pending,
    })
}

pub fn render_service_deployment(
    service: &Service,
    sd: &ServiceDeployment,
    tasks: &[Task],
) -> Value {
    let target_requested = if sd.is_finished() && sd.status != "SUCCESSFUL" {
        0
    } else {
        u64::from(service.desired_count)
    };
    let sources: Vec<Value> = sd
        .source_revisions
        .iter()
        .map(|r| {
            let (running, pending) = revision_counts(service, r, tasks);
            with_traffic_weights(
                revision_summary(service, r, running + pending, tasks),
                sd,
                false,
            )
        })
        .collect();
    without_nulls(json!({
        "serviceDeploymentArn": sd.arn,
        "serviceArn": service.arn,
        "clusterArn": service.cluster_arn,
        "createdAt": timestamp(sd.created_at),
        "startedAt": opt_timestamp(sd.started_at),
        "finishedAt": opt_timestamp(sd.finished_at),
        "stoppedAt": opt_timestamp(sd.stopped_at),
        "updatedAt": timestamp(sd.updated_at),
        "sourceServiceRevisions": sources,
        "targetServiceRevision": with_traffic_weights(revision_summary(service, &sd.target_revision, target_requested, tasks), sd, true),
        "status": sd.status,
        "statusReason": sd.status_reason,
        "lifecycleStage": sd.progressive.as_ref().map_or_else(|| lifecycle_stage(sd), |r| json!(r.stage)),
        "lifecycleHookDetails": sd.progressive.as_ref().map(render_hook_details),
        "deploymentConfiguration": sd.deployment_configuration,
        "rollback": sd.rollback.as_ref().map(|r| json!({
            "reason": r.reason,
            "startedAt": timestamp(r.started_at),
            "serviceRevisionArn": r.service_revision_arn,
        })),
        "deploymentCircuitBreaker": {
            "status": sd.circuit_breaker_status,
            "failureCount": sd.failure_count,
            "threshold": sd.threshold,
        },
        "alarms": if sd.alarms_status == "DISABLED" {
            json!({"status": "DISABLED"})
        } else {
            json!({
                "status": sd.alarms_status,
                "alarmNames": sd.alarm_names,
                "triggeredAlarmNames": sd.triggered_alarm_names,
            })
        },
    }))
}

/// `lifecycleHookDetails[]` of an ECS-native deployment (`DeploymentLifecycleHookDetail`).
fn render_hook_details(run: &crate::strategy::ProgressiveRun) -> Value {
    run.hook_runs
        .iter()
        .map(|h| {
            without_nulls(json!({
                "hookId": h.hook_id,
                "targetType": h.target_type,
                "targetArn": h.target_arn,
                "status": h.status,
                "expiresAt": timestamp(h.expires_at),
                "timeoutAction": h.timeout_action,
            }))
        })
        .collect()
}

/// `requestedTestTrafficWeight`/`requestedProductionTrafficWeight` of an ECS-native
/// deployment: the green (target) revision's share, the rest on the source revisions.
fn with_traffic_weights(mut summary: Value, sd: &ServiceDeployment, target: bool) -> Value {
    let Some(run) = &sd.progressive else {
        return summary;
    };
    // A rollback (StopServiceDeployment, a hook, the circuit breaker) returns all traffic to blue.
    let rolled_back = sd.rollback.is_some();
    let share = |green: f64| {
        let green = if rolled_back { 0.0 } else { green };
        if target { green } else { 100.0 - green }
    };
    summary["requestedTestTrafficWeight"] = json!(share(run.test_weight));
    summary["requestedProductionTrafficWeight"] = json!(share(run.production_weight));
    summary
}

/// Rolling deployments on AWS report SCALE_UP while tasks move and CLEAN_UP at the end.
fn lifecycle_stage(sd: &ServiceDeployment) -> Value {
    match sd.status.as_str() {
        "PENDING" => Value::Null,
        s if sd.is_finished() || s == "STOP_REQUESTED" => json!("CLEAN_UP"),
        _ => json!("SCALE_UP"),
    }
}

pub fn render_service_deployment_brief(service: &Service, sd: &ServiceDeployment) -> Value {
    without_nulls(json!({
        "serviceDeploymentArn": sd.arn,
        "serviceArn": service.arn,
        "clusterArn": service.cluster_arn,
        "startedAt": opt_timestamp(sd.started_at),
        "createdAt": timestamp(sd.created_at),
        "finishedAt": opt_timestamp(sd.finished_at),
        "targetServiceRevisionArn": sd.target_revision,
        "status": sd.status,
        "statusReason": sd.status_reason,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Nulls disappear at every depth; other values stay.
    #[test]
    fn nulls_are_removed() {
        let v = without_nulls(json!({"a": null, "b": {"c": null, "d": 1}, "e": [{"f": null}]}));
        assert_eq!(v, json!({"b": {"d": 1}, "e": [{}]}));
    }

    #[test]
    fn timestamps_have_millisecond_precision() {
        assert_eq!(timestamp(1.23456), json!(1.235));
    }
}
