//! CreateService, UpdateService, DescribeServices, DeleteService, ListServices.
//!
//! Create and Update decide whether a new deployment starts (reference §2.1): a new task
//! definition, `forceNewDeployment`, or a change of network/launch settings. The rollout itself
//! is the controller's work, in `rollout.rs`.

use std::collections::VecDeque;

use serde_json::{Map, Value, json};

use super::input::{Input, cluster, cluster_mut, service_ref};
use super::tags::{apply_tags, parse_tags};
use crate::deployments;
use crate::error::EcsError;
use crate::ids;
use crate::model::{Service, StaleView, State, resolve_task_definition};
use crate::render::render_service;

/// Services per DescribeServices call (API limit).
const MAX_DESCRIBE_SERVICES: usize = 10;

/// The task definition ARN for a reference, or the error ECS gives for a missing/inactive one.
fn task_definition_arn(state: &State, reference: &str) -> Result<String, EcsError> {
    let td = resolve_task_definition(&state.task_definitions, reference)
        .ok_or_else(|| EcsError::invalid_parameter("TaskDefinition not found."))?;
    if td.status != "ACTIVE" {
        return Err(EcsError::invalid_parameter("TaskDefinition is inactive"));
    }
    Ok(td.arn.clone())
}

fn default_deployment_configuration() -> Map<String, Value> {
    let Value::Object(map) = json!({
        "deploymentCircuitBreaker": {"enable": false, "rollback": false},
        "maximumPercent": 200,
        "minimumHealthyPercent": 100,
        "strategy": "ROLLING",
    }) else {
        return Map::new();
    };
    map
}

/// Merges a requested deploymentConfiguration over the current one, validating what the
/// emulator acts on.
fn merged_deployment_configuration(
    current: &Map<String, Value>,
    requested: Option<&Map<String, Value>>,
) -> Result<Map<String, Value>, EcsError> {
    let mut out = current.clone();
    let Some(requested) = requested else {
        return Ok(out);
    };
    for (k, v) in requested {
        if !v.is_null() {
            out.insert(k.clone(), v.clone());
        }
    }
    for key in ["maximumPercent", "minimumHealthyPercent"] {
        if let Some(v) = out.get(key)
            && v.as_u64().is_none()
        {
            return Err(EcsError::invalid_parameter(format!(
                "{key} must be a non-negative integer."
            )));
        }
    }
    if out
        .get("minimumHealthyPercent")
        .and_then(Value::as_u64)
        .is_some_and(|m| m > 100)
    {
        return Err(EcsError::invalid_parameter(
            "minimumHealthyPercent must be between 0 and 100.",
        ));
    }
    if let Some(cb) = out.get("deploymentCircuitBreaker") {
        let ok = cb.get("enable").is_some_and(Value::is_boolean)
            && cb.get("rollback").is_some_and(Value::is_boolean);
        if !ok {
            return Err(EcsError::invalid_parameter(
                "deploymentCircuitBreaker requires the booleans enable and rollback.",
            ));
        }
        if let Some(t) = cb.get("thresholdConfiguration") {
            let kind_ok = matches!(
                t.get("type").and_then(Value::as_str),
                Some("COUNT" | "BOUNDED_PERCENT" | "UNBOUNDED_PERCENT")
            );
            if !kind_ok || t.get("value").and_then(Value::as_u64).is_none() {
                return Err(EcsError::invalid_parameter(
                    "thresholdConfiguration needs type COUNT, BOUNDED_PERCENT or UNBOUNDED_PERCENT and a non-negative integer value.",
                ));
            }
        }
    }
    if let Some(alarms) = out.get("alarms") {
        let names_ok = alarms
            .get("alarmNames")
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().all(Value::is_string));
        let ok = names_ok
            && alarms.get("enable").is_some_and(Value::is_boolean)
            && alarms.get("rollback").is_some_and(Value::is_boolean);
        if !ok {
            return Err(EcsError::invalid_parameter(
                "alarms requires alarmNames (a list of alarm names) and the booleans enable and rollback.",
            ));
        }
    }
    crate::strategy::validate(&out).map_err(EcsError::invalid_parameter)?;
    Ok(out)
}

pub fn create_service(state: &mut State, input: &Input, real_now: f64) -> Result<Value, EcsError> {
    let cluster_name = input.cluster_name()?;
    cluster(state, &cluster_name)?;
    let name = input.required_str("serviceName")?;
    if !ids::valid_name(name) {
        return Err(EcsError::invalid_parameter(
            "Service name can have up to 255 letters (uppercase and lowercase), numbers, underscores, and hyphens.",
        ));
    }
    let client_token = input.str("clientToken")?.map(str::to_string);
    if let Some(existing) = state
        .clusters
        .get(&cluster_name)
        .and_then(|c| c.services.get(name))
        .filter(|s| s.status != "INACTIVE")
    {
        if client_token.is_some() && existing.client_token == client_token {
            let c = cluster(state, &cluster_name)?;
            return Ok(json!({"service": render_service(state, existing, &c.tasks, false)}));
        }
        return Err(EcsError::invalid_parameter(
            "Creation of service was not idempotent.",
        ));
    }
    let controller = input
        .object("deploymentController")?
        .and_then(|c| c.get("type"))
        .and_then(Value::as_str)
        .unwrap_or("ECS")
        .to_string();
    if !matches!(controller.as_str(), "ECS" | "CODE_DEPLOY" | "EXTERNAL") {
        return Err(EcsError::invalid_parameter(
            "deploymentController type must be ECS, CODE_DEPLOY or EXTERNAL.",
        ));
    }
    let scheduling = input.str("schedulingStrategy")?.unwrap_or("REPLICA");
    if scheduling != "REPLICA" {
        return Err(EcsError {
            status: 400,
            code: "UnsupportedFeatureException",
            message: "The ECS emulator emulates only REPLICA services.".to_string(),
        });
    }
    let task_definition = match input.str("taskDefinition")? {
        Some(r) => task_definition_arn(state, r)?,
        None if controller == "ECS" => {
            return Err(EcsError::invalid_parameter(
                "TaskDefinition can not be blank.",
            ));
        }
        None => String::new(),
    };
    let desired_count = input.count("desiredCount")?.ok_or_else(|| {
        EcsError::invalid_parameter("desiredCount is required for a REPLICA service.")
    })?;
    let launch_type = input.str("launchType")?.map(str::to_string);
    let capacity_provider_strategy = input.value("capacityProviderStrategy").cloned();
    if launch_type.is_some() && capacity_provider_strategy.is_some() {
        return Err(EcsError::invalid_parameter(
            "Specifying both a launch type and capacity provider strategy is not supported. Remove one and try again.",
        ));
    }
    let (launch_type, capacity_provider_strategy) = super::input::default_launch(
        cluster(state, &cluster_name)?,
        launch_type,
        capacity_provider_strategy,
    );
    let fargate = launch_type.as_deref() == Some("FARGATE");
    let platform_version = input
        .str("platformVersion")?
        .map(str::to_string)
        .or_else(|| fargate.then(|| "LATEST".to_string()));
    let deployment_configuration = merged_deployment_configuration(
        &default_deployment_configuration(),
        input.object("deploymentConfiguration")?,
    )?;
    let tags = parse_tags(input.value("tags"))?;
    let arn = ids::service_arn(&cluster_name, name);
    let now = state.now;
    let mut service = Service {
        name: name.to_string(),
        arn: arn.clone(),
        cluster_name: cluster_name.clone(),
        cluster_arn: ids::cluster_arn(&cluster_name),
        status: "ACTIVE".to_string(),
        desired_count,
        task_definition,
        deployment_configuration,
        deployment_controller: controller,
        launch_type,
        capacity_provider_strategy,
        platform_version,
        network_configuration: input.value("networkConfiguration").cloned(),
        load_balancers: input.value_or_empty_list("loadBalancers"),
        service_registries: input.value_or_empty_list("serviceRegistries"),
        scheduling_strategy: scheduling.to_string(),
        propagate_tags: input.str("propagateTags")?.unwrap_or("NONE").to_string(),
        enable_ecs_managed_tags: input.bool("enableECSManagedTags")?.unwrap_or(false),
        enable_execute_command: input.bool("enableExecuteCommand")?.unwrap_or(false),
        health_check_grace_period_seconds: input.value("healthCheckGracePeriodSeconds").cloned(),
        placement_constraints: input.value_or_empty_list("placementConstraints"),
        placement_strategy: input.value_or_empty_list("placementStrategy"),
        volume_configurations: input.value("volumeConfigurations").cloned(),
        role_arn: input.str("role")?.map(str::to_string),
        created_at: now,
        client_token,
        deployments: Vec::new(),
        events: VecDeque::new(),
        service_deployments: Vec::new(),
        current_service_deployment: None,
        last_completed: None,
        steady: false,
        start_failures: 0,
        launch_not_before: 0.0,
        throttle_reported: false,
        stale: None,
    };
    if service.deployment_controller == "ECS" {
        deployments::start_deployment(&mut service, &mut state.rng, now, real_now);
    }
    apply_tags(state, &arn, tags);
    let c = cluster_mut(state, &cluster_name)?;
    c.services.insert(name.to_string(), service);
    service_response(state, &cluster_name, name)
}

/// The cluster and service a request names (`service` may be an ARN carrying the cluster).
fn service_location(input: &Input, key: &str) -> Result<(String, String), EcsError> {
    let reference = input.required_str(key)?;
    let (arn_cluster, name) = service_ref(reference);
    let cluster = match (input.str("cluster")?, arn_cluster) {
        (Some(c), _) => ids::last_segment(c).to_string(),
        (None, Some(c)) => c.to_string(),
        (None, None) => "default".to_string(),
    };
    Ok((cluster, name.to_string()))
}

pub fn update_service(state: &mut State, input: &Input, real_now: f64) -> Result<Value, EcsError> {
    let (cluster_name, name) = service_location(input, "service")?;
    let task_definition = match input.str("taskDefinition")? {
        Some(r) => Some(task_definition_arn(state, r)?),
        None => None,
    };
    let desired = input.count("desiredCount")?;
    let force = input.bool("forceNewDeployment")?.unwrap_or(false);
    let requested_config = input.object("deploymentConfiguration")?;
    let launch_type = input.str("launchType")?.map(str::to_string);
    let capacity = input.value("capacityProviderStrategy").cloned();
    let platform = input.str("platformVersion")?.map(str::to_string);
    let network = input.value("networkConfiguration").cloned();
    let now = state.now;
    let before = stale_snapshot(state, &cluster_name, &name);
    let consistency = state.scenario.eventual_consistency.clone();
    let State { clusters, rng, .. } = state;
    let c = clusters
        .get_mut(&cluster_name)
        .filter(|c| c.status == "ACTIVE")
        .ok_or_else(EcsError::cluster_not_found)?;
    let service = c
        .services
        .get_mut(&name)
        .ok_or_else(EcsError::service_not_found)?;
    if service.status != "ACTIVE" {
        return Err(EcsError::service_not_active());
    }
    let config =
        merged_deployment_configuration(&service.deployment_configuration, requested_config)?;
    let mut new_deployment = force;
    if let Some(td) = task_definition
        && td != service.task_definition
    {
        service.task_definition = td;
        new_deployment = true;
    }
    if launch_type.is_some() && launch_type != service.launch_type {
        service.launch_type = launch_type;
        service.capacity_provider_strategy = None;
        new_deployment = true;
    }
    if capacity.is_some() && capacity != service.capacity_provider_strategy {
        service.capacity_provider_strategy = capacity;
        service.launch_type = None;
        new_deployment = true;
    }
    if platform.is_some() && platform != service.platform_version {
        service.platform_version = platform;
        new_deployment = true;
    }
    if network.is_some() && network != service.network_configuration {
        service.network_configuration = network;
        new_deployment = true;
    }
    if let Some(d) = desired {
        service.desired_count = d;
    }
    service.deployment_configuration = config;
    if let Some(v) = input.str("propagateTags")? {
        service.propagate_tags = v.to_string();
    }
    if let Some(v) = input.bool("enableECSManagedTags")? {
        service.enable_ecs_managed_tags = v;
    }
    if let Some(v) = input.bool("enableExecuteCommand")? {
        service.enable_execute_command = v;
    }
    if let Some(v) = input.value("healthCheckGracePeriodSeconds") {
        service.health_check_grace_period_seconds = Some(v.clone());
    }
    if let Some(v) = input.value("loadBalancers") {
        service.load_balancers = v.clone();
    }
    if new_deployment && service.deployment_controller == "ECS" {
        deployments::start_deployment(service, rng, now, real_now);
    }
    let window = &consistency.describe_services;
    service.stale = match &before {
        Some(snapshot) if window.is_on() => Some(StaleView {
            snapshot: snapshot.clone(),
            calls_left: window.calls,
            until: now + window.seconds,
        }),
        _ => None,
    };
    if consistency.update_service_response
        && let Some(snapshot) = before
    {
        return Ok(json!({"service": without_tags(snapshot)}));
    }
    service_response(state, &cluster_name, &name)
}

/// The service as it really is just before an UpdateService (tags included), when stale reads
/// are configured.
fn stale_snapshot(state: &State, cluster_name: &str, name: &str) -> Option<Value> {
    let c = &state.scenario.eventual_consistency;
    if !c.describe_services.is_on() && !c.update_service_response {
        return None;
    }
    let cluster = state.clusters.get(cluster_name)?;
    let service = cluster.services.get(name)?;
    Some(render_service(state, service, &cluster.tasks, true))
}

fn without_tags(mut service: Value) -> Value {
    if let Some(map) = service.as_object_mut() {
        map.remove("tags");
    }
    service
}

pub fn describe_services(state: &mut State, input: &Input) -> Result<Value, EcsError> {
    let refs = input.strings("services")?.unwrap_or_default();
    if refs.is_empty() || refs.len() > MAX_DESCRIBE_SERVICES {
        return Err(EcsError::invalid_parameter(format!(
            "services can have at most {MAX_DESCRIBE_SERVICES} items and cannot be empty."
        )));
    }
    let include_tags = input.include_tags()?;
    let cluster_name = match input.str("cluster")? {
        Some(c) => ids::last_segment(c).to_string(),
        None => refs
            .iter()
            .find_map(|r| service_ref(r).0)
            .unwrap_or("default")
            .to_string(),
    };
    let now = state.now;
    let c = cluster(state, &cluster_name)?;
    let mut services = Vec::new();
    let mut failures = Vec::new();
    let mut stale_reads = Vec::new();
    for r in refs {
        let (_, name) = service_ref(r);
        match c.services.get(name) {
            Some(s) => match s.stale.as_ref().filter(|v| v.is_live(now)) {
                Some(view) => {
                    stale_reads.push(name.to_string());
                    let shown = view.snapshot.clone();
                    services.push(if include_tags {
                        shown
                    } else {
                        without_tags(shown)
                    });
                }
                None => services.push(render_service(state, s, &c.tasks, include_tags)),
            },
            None => failures.push(json!({
                "arn": ids::service_arn(&cluster_name, name),
                "reason": "MISSING",
            })),
        }
    }
    // Each stale read uses up one of the window's calls.
    let c = cluster_mut(state, &cluster_name)?;
    for name in stale_reads {
        if let Some(view) = c.services.get_mut(&name).and_then(|s| s.stale.as_mut()) {
            view.calls_left = view.calls_left.saturating_sub(1);
        }
    }
    Ok(json!({"services": services, "failures": failures}))
}

pub fn delete_service(state: &mut State, input: &Input) -> Result<Value, EcsError> {
    let (cluster_name, name) = service_location(input, "service")?;
    let force = input.bool("force")?.unwrap_or(false);
    let c = cluster_mut(state, &cluster_name)?;
    let service = c
        .services
        .get_mut(&name)
        .ok_or_else(EcsError::service_not_found)?;
    if service.status == "INACTIVE" {
        return Err(EcsError::service_not_active());
    }
    if service.desired_count > 0 && !force {
        return Err(EcsError::invalid_parameter(
            "The service cannot be stopped while it is scaled above 0.",
        ));
    }
    service.desired_count = 0;
    service.status = "DRAINING".to_string();
    service_response(state, &cluster_name, &name)
}

/// `{"service": …}` as CreateService, UpdateService and DeleteService answer: the service as
/// it now is, tags left out.
fn service_response(state: &State, cluster_name: &str, name: &str) -> Result<Value, EcsError> {
    let c = cluster(state, cluster_name)?;
    let s = c
        .services
        .get(name)
        .ok_or_else(EcsError::service_not_found)?;
    Ok(json!({"service": render_service(state, s, &c.tasks, false)}))
}

pub fn list_services(state: &mut State, input: &Input) -> Result<Value, EcsError> {
    let cluster_name = input.cluster_name()?;
    let launch_type = input.str("launchType")?;
    let scheduling = input.str("schedulingStrategy")?;
    let c = cluster(state, &cluster_name)?;
    let arns: Vec<String> = c
        .services
        .values()
        .filter(|s| s.status != "INACTIVE")
        .filter(|s| launch_type.is_none_or(|l| s.launch_type.as_deref() == Some(l)))
        .filter(|s| scheduling.is_none_or(|l| s.scheduling_strategy == l))
        .map(|s| s.arn.clone())
        .collect();
    let (page, next) = input.page(arns, 10, 100)?;
    Ok(json!({"serviceArns": page, "nextToken": next}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::dispatch;
    use crate::scenario::Scenario;

    fn state() -> State {
        let mut state = State::new(Scenario::default(), 0.0);
        for (op, body) in [
            ("CreateCluster", json!({"clusterName": "c"})),
            (
                "RegisterTaskDefinition",
                json!({"family": "f", "containerDefinitions": [{"name": "a", "image": "i"}]}),
            ),
        ] {
            dispatch(&mut state, op, &body, 0.0).unwrap();
        }
        state
    }

    fn create(state: &mut State, extra: Value) -> Result<Value, EcsError> {
        let mut body =
            json!({"cluster": "c", "serviceName": "s", "taskDefinition": "f:1", "desiredCount": 1});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        dispatch(state, "CreateService", &body, 0.0)
    }

    /// Defaults are filled in as ECS returns them; bad settings are refused with a reason.
    #[test]
    fn deployment_configuration_defaults_and_validation() {
        let merged =
            merged_deployment_configuration(&default_deployment_configuration(), None).unwrap();
        assert_eq!(merged["maximumPercent"], 200);
        assert_eq!(merged["minimumHealthyPercent"], 100);
        assert_eq!(
            merged["deploymentCircuitBreaker"],
            json!({"enable": false, "rollback": false})
        );
        let bad = |v: Value| {
            merged_deployment_configuration(&default_deployment_configuration(), v.as_object())
                .unwrap_err()
        };
        assert_eq!(
            bad(json!({"minimumHealthyPercent": 101})).code,
            "InvalidParameterException"
        );
        assert_eq!(
            bad(json!({"maximumPercent": -5})).code,
            "InvalidParameterException"
        );
        assert_eq!(
            bad(json!({"deploymentCircuitBreaker": {"enable": true}})).code,
            "InvalidParameterException"
        );
        assert_eq!(
            bad(
                json!({"deploymentCircuitBreaker": {"enable": true, "rollback": true,
                "thresholdConfiguration": {"type": "SOMETIMES", "value": 3}}})
            )
            .code,
            "InvalidParameterException"
        );
        assert_eq!(
            bad(json!({"strategy": "SIDEWAYS"})).code,
            "InvalidParameterException"
        );
        let blue_green = json!({"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 5});
        assert!(
            merged_deployment_configuration(
                &default_deployment_configuration(),
                blue_green.as_object()
            )
            .is_ok()
        );
    }

    /// A second CreateService with the same name is refused unless it repeats the clientToken.
    #[test]
    fn create_service_idempotency() {
        let mut s = state();
        create(&mut s, json!({"clientToken": "t1"})).unwrap();
        let again = create(&mut s, json!({"clientToken": "t1"})).unwrap();
        assert_eq!(again["service"]["serviceName"], "s");
        let err = create(&mut s, json!({"clientToken": "t2"})).unwrap_err();
        assert_eq!(err.message, "Creation of service was not idempotent.");
    }

    /// Missing pieces of a CreateService request get ECS-style errors.
    #[test]
    fn create_service_errors() {
        let mut s = state();
        let no_count = dispatch(
            &mut s,
            "CreateService",
            &json!({"cluster": "c", "serviceName": "s", "taskDefinition": "f"}),
            0.0,
        );
        assert_eq!(no_count.unwrap_err().code, "InvalidParameterException");
        let missing_td = create(&mut s, json!({"taskDefinition": "nope:3"})).unwrap_err();
        assert_eq!(missing_td.message, "TaskDefinition not found.");
        let both = create(
            &mut s,
            json!({"launchType": "FARGATE", "capacityProviderStrategy": []}),
        )
        .unwrap_err();
        assert_eq!(both.code, "InvalidParameterException");
        let bad_name = create(&mut s, json!({"serviceName": "no spaces"})).unwrap_err();
        assert_eq!(bad_name.code, "InvalidParameterException");
        let no_cluster = create(&mut s, json!({"cluster": "other"})).unwrap_err();
        assert_eq!(no_cluster.code, "ClusterNotFoundException");
    }

    /// desiredCount alone starts no deployment; forceNewDeployment does.
    #[test]
    fn what_starts_a_deployment() {
        let mut s = state();
        create(&mut s, json!({})).unwrap();
        let update = |s: &mut State, body: Value| {
            dispatch(s, "UpdateService", &body, 0.0).unwrap()["service"]["deployments"]
                .as_array()
                .unwrap()
                .len()
        };
        assert_eq!(
            update(
                &mut s,
                json!({"cluster": "c", "service": "s", "desiredCount": 3})
            ),
            1
        );
        assert_eq!(
            update(
                &mut s,
                json!({"cluster": "c", "service": "s", "taskDefinition": "f:1"})
            ),
            1
        );
        assert_eq!(
            update(
                &mut s,
                json!({"cluster": "c", "service": "s", "forceNewDeployment": true})
            ),
            2
        );
        let arn = crate::ids::service_arn("c", "s");
        assert_eq!(
            update(&mut s, json!({"service": arn, "forceNewDeployment": true})),
            3
        );
    }
}
