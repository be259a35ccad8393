//! RegisterTaskDefinition, DescribeTaskDefinition, DeregisterTaskDefinition,
//! ListTaskDefinitions, ListTaskDefinitionFamilies.
//!
//! The registered body is kept verbatim (minus `tags`, which AWS returns beside the task
//! definition, never inside it), so a describe → re-register round trip behaves as on AWS.

use serde_json::{Value, json};

use super::input::Input;
use super::tags::{apply_tags, parse_tags};
use crate::error::EcsError;
use crate::ids;
use crate::model::{State, TaskDefinition, resolve_task_definition};
use crate::render::{render_tags, render_task_definition};

/// Containers per task definition (service quota, not adjustable).
const MAX_CONTAINERS: usize = 10;

pub fn register(state: &mut State, input: &Input) -> Result<Value, EcsError> {
    let family = input.required_str("family")?;
    if !ids::valid_name(family) {
        return Err(EcsError::client_exception(
            "Family contains invalid characters: up to 255 letters (uppercase and lowercase), numbers, underscores, and hyphens are allowed.",
        ));
    }
    let containers = input
        .value("containerDefinitions")
        .and_then(Value::as_array)
        .ok_or_else(|| EcsError::client_exception("Container list cannot be empty."))?;
    if containers.is_empty() {
        return Err(EcsError::client_exception(
            "Container list cannot be empty.",
        ));
    }
    if containers.len() > MAX_CONTAINERS {
        return Err(EcsError::client_exception(
            "Too many containers: a task definition can have at most 10 containers.",
        ));
    }
    for c in containers {
        let name = c.get("name").and_then(Value::as_str).unwrap_or("");
        let image = c.get("image").and_then(Value::as_str).unwrap_or("");
        if name.is_empty() {
            return Err(EcsError::client_exception(
                "Container.name should not be null or empty.",
            ));
        }
        if image.is_empty() {
            return Err(EcsError::client_exception(
                "Container.image should not be null or empty.",
            ));
        }
    }
    let tags = parse_tags(input.value("tags"))?;
    let mut body = input.map().clone();
    body.remove("tags");
    body.retain(|_, v| !v.is_null());
    let revisions = state
        .task_definitions
        .entry(family.to_string())
        .or_default();
    let revision = u32::try_from(revisions.len() + 1).unwrap_or(u32::MAX);
    let arn = ids::task_definition_arn(family, revision);
    revisions.push(TaskDefinition {
        family: family.to_string(),
        revision,
        arn: arn.clone(),
        status: "ACTIVE".to_string(),
        registered_at: state.now,
        deregistered_at: None,
        body,
    });
    apply_tags(state, &arn, tags);
    let td = resolve_task_definition(&state.task_definitions, &arn)
        .ok_or_else(|| EcsError::server("Registered task definition vanished."))?;
    Ok(json!({"taskDefinition": render_task_definition(td), "tags": render_tags(state, &arn)}))
}

pub fn describe(state: &mut State, input: &Input) -> Result<Value, EcsError> {
    let reference = input.required_str("taskDefinition")?;
    let td = resolve_task_definition(&state.task_definitions, reference)
        .ok_or_else(EcsError::task_definition_missing)?;
    let mut out = json!({"taskDefinition": render_task_definition(td)});
    if input.include_tags()? {
        out["tags"] = render_tags(state, &td.arn);
    }
    Ok(out)
}

pub fn deregister(state: &mut State, input: &Input) -> Result<Value, EcsError> {
    let reference = input.required_str("taskDefinition")?;
    let tail = reference
        .split_once(":task-definition/")
        .map_or(reference, |(_, t)| t);
    if !tail.contains(':') {
        return Err(EcsError::client_exception(
            "The specified task definition does not exist: a revision is required (family:revision or full ARN).",
        ));
    }
    let arn = resolve_task_definition(&state.task_definitions, reference)
        .map(|td| td.arn.clone())
        .ok_or_else(|| {
            EcsError::client_exception("The specified task definition does not exist.")
        })?;
    let now = state.now;
    let td = state
        .task_definitions
        .values_mut()
        .flat_map(|v| v.iter_mut())
        .find(|td| td.arn == arn)
        .ok_or_else(|| {
            EcsError::client_exception("The specified task definition does not exist.")
        })?;
    if td.status == "ACTIVE" {
        td.status = "INACTIVE".to_string();
        td.deregistered_at = Some(now);
    }
    Ok(json!({"taskDefinition": render_task_definition(td)}))
}

pub fn list(state: &mut State, input: &Input) -> Result<Value, EcsError> {
    let family = input.str("familyPrefix")?;
    let status = input.str("status")?.unwrap_or("ACTIVE");
    if !matches!(status, "ACTIVE" | "INACTIVE" | "DELETE_IN_PROGRESS") {
        return Err(EcsError::invalid_parameter(
            "status must be one of ACTIVE, INACTIVE, DELETE_IN_PROGRESS.",
        ));
    }
    let descending = match input.str("sort")? {
        None | Some("ASC") => false,
        Some("DESC") => true,
        Some(_) => return Err(EcsError::invalid_parameter("sort must be ASC or DESC.")),
    };
    // familyPrefix is in fact the full family name (API reference).
    let mut arns: Vec<String> = state
        .task_definitions
        .iter()
        .filter(|(f, _)| family.is_none_or(|p| p == f.as_str()))
        .flat_map(|(_, revs)| revs.iter())
        .filter(|td| td.status == status)
        .map(|td| td.arn.clone())
        .collect();
    if descending {
        arns.reverse();
    }
    let (page, next) = input.page(arns, 100, 100)?;
    Ok(json!({"taskDefinitionArns": page, "nextToken": next}))
}

pub fn list_families(state: &mut State, input: &Input) -> Result<Value, EcsError> {
    let prefix = input.str("familyPrefix")?.unwrap_or("");
    let status = input.str("status")?.unwrap_or("ACTIVE");
    let families: Vec<String> = state
        .task_definitions
        .iter()
        .filter(|(f, _)| f.starts_with(prefix))
        .filter(|(_, revs)| match status {
            "ALL" => true,
            "INACTIVE" => revs.iter().all(|td| td.status != "ACTIVE"),
            _ => revs.iter().any(|td| td.status == "ACTIVE"),
        })
        .map(|(f, _)| f.clone())
        .collect();
    let (page, next) = input.page(families, 100, 100)?;
    Ok(json!({"families": page, "nextToken": next}))
}
