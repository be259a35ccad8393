//! TagResource, UntagResource, ListTagsForResource, and the tag rules other operations share.
//!
//! Tags live beside resources, keyed by ARN, because that is how ECS returns them: task
//! definition tags never appear inside the task definition, only beside it.

use serde_json::{Value, json};

use super::input::{Input, service_ref};
use crate::error::EcsError;
use crate::ids;
use crate::model::{State, resolve_task_definition};
use crate::render::render_tags;

/// Tags per resource, not counting `aws:` ones (AWS limit).
const MAX_TAGS: usize = 50;

/// Reads `[{key, value}]`, checking AWS's length rules.
pub fn parse_tags(value: Option<&Value>) -> Result<Vec<(String, String)>, EcsError> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let Some(items) = value.as_array() else {
        return Err(EcsError::serialization("Field tags must be a list."));
    };
    let mut tags = Vec::new();
    for item in items {
        let key = item.get("key").and_then(Value::as_str).unwrap_or("");
        let value = item.get("value").and_then(Value::as_str).unwrap_or("");
        if key.is_empty() || key.chars().count() > 128 || value.chars().count() > 256 {
            return Err(EcsError::invalid_parameter(
                "Tag keys must be 1-128 characters and values at most 256 characters.",
            ));
        }
        tags.push((key.to_string(), value.to_string()));
    }
    Ok(tags)
}

/// Adds or overwrites tags on `arn`.
pub fn apply_tags(state: &mut State, arn: &str, tags: Vec<(String, String)>) {
    if tags.is_empty() {
        return;
    }
    let existing = state.tags.entry(arn.to_string()).or_default();
    for (k, v) in tags {
        match existing.iter_mut().find(|(ek, _)| *ek == k) {
            Some(slot) => slot.1 = v,
            None => existing.push((k, v)),
        }
    }
}

/// Whether `arn` names something that exists (tags on unknown resources are refused).
fn resource_exists(state: &State, arn: &str) -> bool {
    let Some((_, tail)) = arn.split_once(&format!(":{}:", ids::ACCOUNT_ID)) else {
        return false;
    };
    let (kind, rest) = tail.split_once('/').unwrap_or((tail, ""));
    match kind {
        "cluster" => state
            .clusters
            .get(rest)
            .is_some_and(|c| c.status == "ACTIVE"),
        "service" => {
            let (cluster, name) = service_ref(arn);
            state
                .clusters
                .get(cluster.unwrap_or("default"))
                .and_then(|c| c.services.get(name))
                .is_some_and(|s| s.status != "INACTIVE")
        }
        "task" => {
            let (cluster, id) = rest.split_once('/').unwrap_or(("default", rest));
            state
                .clusters
                .get(cluster)
                .is_some_and(|c| c.tasks.iter().any(|t| t.id == id))
        }
        "task-definition" => resolve_task_definition(&state.task_definitions, arn).is_some(),
        _ => false,
    }
}

pub fn tag_resource(state: &mut State, input: &Input) -> Result<Value, EcsError> {
    let arn = input.required_str("resourceArn")?;
    let tags = parse_tags(input.value("tags"))?;
    if !resource_exists(state, arn) {
        return Err(EcsError::resource_not_found());
    }
    let user_tags = |list: &[(String, String)]| {
        list.iter()
            .filter(|(k, _)| !k.to_ascii_lowercase().starts_with("aws:"))
            .count()
    };
    let mut merged = state.tags.get(arn).cloned().unwrap_or_default();
    for (k, v) in &tags {
        match merged.iter_mut().find(|(ek, _)| ek == k) {
            Some(slot) => slot.1 = v.clone(),
            None => merged.push((k.clone(), v.clone())),
        }
    }
    if user_tags(&merged) > MAX_TAGS {
        return Err(EcsError::invalid_parameter(
            "A resource can have at most 50 tags.",
        ));
    }
    apply_tags(state, arn, tags);
    Ok(json!({}))
}

pub fn untag_resource(state: &mut State, input: &Input) -> Result<Value, EcsError> {
    let arn = input.required_str("resourceArn")?;
    let keys = input.strings("tagKeys")?.unwrap_or_default();
    if !resource_exists(state, arn) {
        return Err(EcsError::resource_not_found());
    }
    if let Some(tags) = state.tags.get_mut(arn) {
        tags.retain(|(k, _)| !keys.contains(&k.as_str()));
    }
    Ok(json!({}))
}

pub fn list_tags(state: &mut State, input: &Input) -> Result<Value, EcsError> {
    let arn = input.required_str("resourceArn")?;
    if !resource_exists(state, arn) {
        return Err(EcsError::resource_not_found());
    }
    Ok(json!({"tags": render_tags(state, arn)}))
}
