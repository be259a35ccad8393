//! ListTasks, DescribeTasks, RunTask, StopTask.
//!
//! RunTask starts one-off tasks (migrations and the like) whose exit code comes from the
//! scenario's `run_task` section — or, in process mode, from a real process
//! (`task_process.rs`); service tasks are started by the rollout controller.

use serde_json::{Value, json};

use super::input::{Input, cluster, cluster_mut};
use super::tags::{apply_tags, parse_tags};
use crate::error::EcsError;
use crate::ids;
use crate::model::{State, resolve_task_definition};
use crate::render::render_task;
use crate::task_lifecycle::{self, Launch, Placement};

/// The refusal of startedBy combined with another ListTasks filter (the API doc's sentence).
const STARTED_BY_ALONE: &str =
    "When you specify startedBy as the filter, it must be the only filter that you use.";
/// Tasks per DescribeTasks call (API limit).
const MAX_DESCRIBE_TASKS: usize = 100;
/// Tasks per RunTask call (API limit).
const MAX_RUN_TASK_COUNT: u32 = 10;

pub fn list_tasks(state: &mut State, input: &Input) -> Result<Value, EcsError> {
    let cluster_name = input.cluster_name()?;
    let service = input.str("serviceName")?.map(ids::last_segment);
    let started_by = input.str("startedBy")?;
    let family = input.str("family")?;
    let launch_type = input.str("launchType")?;
    // ListTasks doc (botocore model): "When you specify startedBy as the filter, it must be the
    // only filter that you use." The cluster scopes the search and is not a filter.
    if started_by.is_some() {
        let others = [
            "serviceName",
            "family",
            "containerInstance",
            "launchType",
            "desiredStatus",
        ];
        if others
            .iter()
            .any(|k| input.value(k).is_some_and(|v| !v.is_null()))
        {
            return Err(EcsError::invalid_parameter(STARTED_BY_ALONE));
        }
    }
    let desired = input.str("desiredStatus")?.unwrap_or("RUNNING");
    if !matches!(desired, "RUNNING" | "PENDING" | "STOPPED") {
        return Err(EcsError::invalid_parameter(
            "desiredStatus must be RUNNING, PENDING or STOPPED.",
        ));
    }
    let c = cluster(state, &cluster_name)?;
    if let Some(name) = service
        && !c.services.contains_key(name)
    {
        return Err(EcsError::service_not_found());
    }
    let arns: Vec<String> = c
        .tasks
        .iter()
        .filter(|t| t.desired_status == desired)
        .filter(|t| service.is_none_or(|s| t.service.as_deref() == Some(s)))
        .filter(|t| started_by.is_none_or(|s| t.started_by.as_deref() == Some(s)))
        .filter(|t| family.is_none_or(|f| t.family == f))
        .filter(|t| launch_type.is_none_or(|l| t.launch_type.as_deref() == Some(l)))
        .map(|t| t.arn.clone())
        .collect();
    let (page, next) = input.page(arns, 100, 100)?;
    Ok(json!({"taskArns": page, "nextToken": next}))
}

pub fn describe_tasks(state: &mut State, input: &Input) -> Result<Value, EcsError> {
    let refs = input.strings("tasks")?.unwrap_or_default();
    if refs.is_empty() {
        return Err(EcsError::invalid_parameter("Tasks cannot be empty."));
    }
    if refs.len() > MAX_DESCRIBE_TASKS {
        return Err(EcsError::invalid_parameter(format!(
            "tasks can have at most {MAX_DESCRIBE_TASKS} items."
        )));
    }
    let include_tags = input.include_tags()?;
    let cluster_name = input.cluster_name()?;
    let c = cluster(state, &cluster_name)?;
    let mut tasks = Vec::new();
    let mut failures = Vec::new();
    for r in refs {
        let id = ids::last_segment(r);
        match c.tasks.iter().find(|t| t.id == id) {
            Some(t) => tasks.push(render_task(state, t, include_tags)),
            None => failures.push(json!({
                "arn": if r.starts_with("arn:") { r.to_string() } else { ids::task_arn(&cluster_name, id) },
                "reason": "MISSING",
            })),
        }
    }
    Ok(json!({"tasks": tasks, "failures": failures}))
}

fn valid_started_by(s: &str) -> bool {
    s.len() <= 128
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '/' || c == '_')
}

pub fn run_task(state: &mut State, input: &Input) -> Result<Value, EcsError> {
    let cluster_name = input.cluster_name()?;
    cluster(state, &cluster_name)?;
    let client_token = input.str("clientToken")?.map(str::to_string);
    // Retrying with the same token returns the first answer; other parameters conflict.
    let mut fingerprint = input.map().clone();
    fingerprint.remove("clientToken");
    let fingerprint = Value::Object(fingerprint);
    if let Some(token) = &client_token {
        if token.is_empty() || token.len() > 64 {
            return Err(EcsError::invalid_parameter(
                "clientToken must be 1-64 characters.",
            ));
        }
        if let Some((seen, response)) = state.run_task_tokens.get(token) {
            if *seen == fingerprint {
                return Ok(response.clone());
            }
            return Err(EcsError::conflict(
                "The clientToken was already used with different parameters.",
            ));
        }
    }
    let reference = input.required_str("taskDefinition")?;
    let td = resolve_task_definition(&state.task_definitions, reference)
        .ok_or_else(|| EcsError::invalid_parameter("TaskDefinition not found."))?;
    if td.status != "ACTIVE" {
        return Err(EcsError::invalid_parameter("TaskDefinition is inactive"));
    }
    let count = input.count("count")?.unwrap_or(1);
    if count == 0 || count > MAX_RUN_TASK_COUNT {
        return Err(EcsError::invalid_parameter(
            "count must be between 1 and 10.",
        ));
    }
    let launch_type = input.str("launchType")?.map(str::to_string);
    let capacity_provider_strategy = input.value("capacityProviderStrategy").cloned();
    if launch_type.is_some() && capacity_provider_strategy.is_some() {
        return Err(EcsError::invalid_parameter(
            "Specifying both a launch type and capacity provider strategy is not supported. Remove one and try again.",
        ));
    }
    let started_by = input.str("startedBy")?.map(str::to_string);
    if started_by.as_deref().is_some_and(|s| !valid_started_by(s)) {
        return Err(EcsError::invalid_parameter(
            "startedBy can have up to 128 letters, numbers, hyphens, forward slashes and underscores.",
        ));
    }
    if input.str("propagateTags")? == Some("SERVICE") {
        return Err(EcsError::invalid_parameter(
            "propagateTags SERVICE is not valid for RunTask.",
        ));
    }
    let overrides = input.value("overrides").cloned().unwrap_or(Value::Null);
    if serde_json::to_string(&overrides).map_or(0, |s| s.len()) > 8192 {
        return Err(EcsError::invalid_parameter(
            "Container Overrides length must be at most 8192.",
        ));
    }
    let tags = parse_tags(input.value("tags"))?;
    let group = input
        .str("group")?
        .map_or_else(|| format!("family:{}", td.family), str::to_string);
    let (launch_type, capacity_provider_strategy) = super::input::default_launch(
        cluster(state, &cluster_name)?,
        launch_type,
        capacity_provider_strategy,
    );
    let fargate = launch_type.as_deref() == Some("FARGATE");
    let placement = Placement {
        launch_type,
        capacity_provider_strategy,
        platform_version: input
            .str("platformVersion")?
            .map(str::to_string)
            .or_else(|| fargate.then(|| "LATEST".to_string())),
        network_configuration: input.value("networkConfiguration").cloned(),
    };
    let td = td.clone();
    let now = state.now;
    let mut launched = Vec::new();
    for _ in 0..count {
        let task = task_lifecycle::launch_task(
            &mut state.rng,
            now,
            &cluster_name,
            &td,
            &state.scenario,
            Launch::OneOff {
                group: group.clone(),
                started_by: started_by.clone(),
                overrides: overrides.clone(),
            },
            placement.clone(),
        );
        launched.push(task);
    }
    let arns: Vec<String> = launched.iter().map(|t| t.arn.clone()).collect();
    cluster_mut(state, &cluster_name)?.tasks.extend(launched);
    for arn in &arns {
        apply_tags(state, arn, tags.clone());
    }
    let c = cluster(state, &cluster_name)?;
    let tasks: Vec<Value> = c
        .tasks
        .iter()
        .filter(|t| arns.contains(&t.arn))
        .map(|t| render_task(state, t, false))
        .collect();
    let response = json!({"tasks": tasks, "failures": []});
    if let Some(token) = client_token {
        state
            .run_task_tokens
            .insert(token, (fingerprint, response.clone()));
    }
    Ok(response)
}

pub fn stop_task(state: &mut State, input: &Input) -> Result<Value, EcsError> {
    let cluster_name = input.cluster_name()?;
    let id = ids::last_segment(input.required_str("task")?).to_string();
    let reason = input
        .str("reason")?
        .filter(|r| !r.is_empty())
        .unwrap_or("Task stopped by user")
        .to_string();
    let now = state.now;
    let c = cluster_mut(state, &cluster_name)?;
    let task = c
        .tasks
        .iter_mut()
        .find(|t| t.id == id)
        .ok_or_else(|| EcsError::invalid_parameter("The referenced task was not found."))?;
    task_lifecycle::request_stop(task, now, "UserInitiated", &reason);
    let c = cluster(state, &cluster_name)?;
    let task = c
        .tasks
        .iter()
        .find(|t| t.id == id)
        .ok_or_else(|| EcsError::invalid_parameter("The referenced task was not found."))?;
    Ok(json!({"task": render_task(state, task, false)}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::dispatch;
    use crate::scenario::Scenario;

    fn state() -> State {
        let mut state = State::new(Scenario::default(), 0.0);
        for (op, body) in [
            ("CreateCluster", json!({})),
            (
                "RegisterTaskDefinition",
                json!({"family": "f", "containerDefinitions": [{"name": "a", "image": "i"}]}),
            ),
        ] {
            dispatch(&mut state, op, &body, 0.0).unwrap();
        }
        state
    }

    /// RunTask limits: count 1..=10, valid startedBy, no SERVICE tag propagation.
    #[test]
    fn run_task_validation() {
        let mut s = state();
        for body in [
            json!({"taskDefinition": "f", "count": 11}),
            json!({"taskDefinition": "f", "count": 0}),
            json!({"taskDefinition": "f", "startedBy": "has spaces"}),
            json!({"taskDefinition": "f", "propagateTags": "SERVICE"}),
            json!({"taskDefinition": "nope"}),
        ] {
            let err = dispatch(&mut s, "RunTask", &body, 0.0).unwrap_err();
            assert_eq!(err.code, "InvalidParameterException", "{body}");
        }
        let ok = dispatch(
            &mut s,
            "RunTask",
            &json!({"taskDefinition": "f", "count": 3, "group": "g"}),
            0.0,
        )
        .unwrap();
        assert_eq!(ok["tasks"].as_array().unwrap().len(), 3);
        assert_eq!(ok["tasks"][0]["group"], "g");
        assert_eq!(ok["tasks"][0]["lastStatus"], "PROVISIONING");
    }

    /// The same clientToken with other parameters is a conflict.
    #[test]
    fn client_token_conflict() {
        let mut s = state();
        dispatch(
            &mut s,
            "RunTask",
            &json!({"taskDefinition": "f", "clientToken": "t"}),
            0.0,
        )
        .unwrap();
        let err = dispatch(
            &mut s,
            "RunTask",
            &json!({"taskDefinition": "f", "count": 2, "clientToken": "t"}),
            0.0,
        )
        .unwrap_err();
        assert_eq!(err.code, "ConflictException");
    }

    /// ListTasks filters by desired status (default RUNNING); PENDING never matches.
    #[test]
    fn list_tasks_by_desired_status() {
        let mut s = state();
        let run = dispatch(
            &mut s,
            "RunTask",
            &json!({"taskDefinition": "f", "count": 2}),
            0.0,
        )
        .unwrap();
        let arn = run["tasks"][0]["taskArn"].as_str().unwrap().to_string();
        dispatch(&mut s, "StopTask", &json!({"task": arn}), 0.0).unwrap();
        let list = |s: &mut State, status: &str| {
            dispatch(s, "ListTasks", &json!({"desiredStatus": status}), 0.0).unwrap()["taskArns"]
                .as_array()
                .unwrap()
                .len()
        };
        assert_eq!(list(&mut s, "RUNNING"), 1);
        assert_eq!(list(&mut s, "STOPPED"), 1);
        assert_eq!(list(&mut s, "PENDING"), 0);
        let err = dispatch(&mut s, "StopTask", &json!({"task": "0000"}), 0.0).unwrap_err();
        assert_eq!(err.code, "InvalidParameterException");
        let err = dispatch(&mut s, "ListTasks", &json!({"serviceName": "ghost"}), 0.0).unwrap_err();
        assert_eq!(err.code, "ServiceNotFoundException");
    }
}
