//! Typed reads of request fields, with the errors ECS gives for wrong types and bad values,
//! plus the lookups most operations share (cluster by name or ARN, paging tokens).

use serde_json::{Map, Value, json};

use crate::error::EcsError;
use crate::ids;
use crate::model::{Cluster, State};

/// A request body (always a JSON object).
pub struct Input<'a> {
    map: &'a Map<String, Value>,
}

static EMPTY: std::sync::LazyLock<Map<String, Value>> = std::sync::LazyLock::new(Map::new);

fn wrong_type(key: &str, expected: &str) -> EcsError {
    EcsError::serialization(format!("Field {key} must be {expected}."))
}

impl<'a> Input<'a> {
    pub fn new(body: &'a Value) -> Result<Self, EcsError> {
        match body {
            Value::Object(map) => Ok(Input { map }),
            Value::Null => Ok(Input { map: &EMPTY }),
            _ => Err(EcsError::serialization(
                "The request body must be a JSON object.",
            )),
        }
    }

    pub fn map(&self) -> &'a Map<String, Value> {
        self.map
    }

    /// The raw value, treating `null` as absent.
    pub fn value(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// The raw value cloned, or `[]` when absent: the default ECS echoes for list fields a
    /// request leaves out (load balancers, placement, capacity providers).
    pub fn value_or_empty_list(&self, key: &str) -> Value {
        self.value(key)
            .cloned()
            .unwrap_or_else(|| Value::Array(Vec::new()))
    }

    pub fn str(&self, key: &str) -> Result<Option<&'a str>, EcsError> {
        match self.value(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(wrong_type(key, "a string")),
        }
    }

    pub fn required_str(&self, key: &str) -> Result<&'a str, EcsError> {
        match self.str(key)? {
            Some(s) if !s.is_empty() => Ok(s),
            _ => Err(EcsError::invalid_parameter(format!(
                "{key} can not be blank."
            ))),
        }
    }

    pub fn bool(&self, key: &str) -> Result<Option<bool>, EcsError> {
        match self.value(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(wrong_type(key, "a boolean")),
        }
    }

    /// A non-negative integer that fits in u32.
    pub fn count(&self, key: &str) -> Result<Option<u32>, EcsError> {
        match self.value(key) {
            None => Ok(None),
            Some(Value::Number(n)) => match n.as_i64() {
                Some(i) if i < 0 => Err(EcsError::invalid_parameter(format!(
                    "{key} must be greater than or equal to 0."
                ))),
                Some(i) => u32::try_from(i)
                    .map(Some)
                    .map_err(|_| EcsError::invalid_parameter(format!("{key} is too large."))),
                None => Err(wrong_type(key, "an integer")),
            },
            Some(_) => Err(wrong_type(key, "an integer")),
        }
    }

    pub fn strings(&self, key: &str) -> Result<Option<Vec<&'a str>>, EcsError> {
        match self.value(key) {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| {
                    v.as_str()
                        .ok_or_else(|| wrong_type(key, "a list of strings"))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(wrong_type(key, "a list of strings")),
        }
    }

    pub fn object(&self, key: &str) -> Result<Option<&'a Map<String, Value>>, EcsError> {
        match self.value(key) {
            None => Ok(None),
            Some(Value::Object(m)) => Ok(Some(m)),
            Some(_) => Err(wrong_type(key, "an object")),
        }
    }

    /// `include` contains `TAGS`.
    pub fn include_tags(&self) -> Result<bool, EcsError> {
        Ok(self
            .strings("include")?
            .is_some_and(|list| list.contains(&"TAGS")))
    }

    /// The cluster named by `cluster` (name or ARN), `default` when absent.
    pub fn cluster_name(&self) -> Result<String, EcsError> {
        Ok(self
            .str("cluster")?
            .map_or("default", ids::last_segment)
            .to_string())
    }

    /// `maxResults` within 1..=limit, else `default`.
    pub fn max_results(&self, default: usize, limit: usize) -> Result<usize, EcsError> {
        match self.count("maxResults")? {
            None => Ok(default),
            Some(n) if n >= 1 && (n as usize) <= limit => Ok(n as usize),
            Some(_) => Err(EcsError::invalid_parameter(format!(
                "maxResults must be between 1 and {limit}."
            ))),
        }
    }

    /// The page of `items` this request asks for, and the token for the next one.
    pub fn page<T>(
        &self,
        items: Vec<T>,
        default: usize,
        limit: usize,
    ) -> Result<(Vec<T>, Option<String>), EcsError> {
        let size = self.max_results(default, limit)?;
        let start = match self.str("nextToken")? {
            None | Some("") => 0,
            Some(token) => token
                .strip_prefix("emulator-page-")
                .and_then(|n| n.parse::<usize>().ok())
                .ok_or_else(|| EcsError::invalid_parameter("Invalid nextToken."))?,
        };
        let total = items.len();
        let page: Vec<T> = items.into_iter().skip(start).take(size).collect();
        let end = start.saturating_add(page.len());
        let next = (end < total).then(|| format!("emulator-page-{end}"));
        Ok((page, next))
    }
}

/// The cluster, or ClusterNotFoundException.
/// A Describe… by ARN (service deployments, service revisions): 1 to `max` ARNs in `key`,
/// each rendered or reported MISSING; the found ones are listed under `out`.
pub fn describe_by_arn(
    input: &Input,
    key: &str,
    max: usize,
    out: &str,
    mut render: impl FnMut(&str) -> Option<Value>,
) -> Result<Value, EcsError> {
    let arns = input.strings(key)?.unwrap_or_default();
    if arns.is_empty() || arns.len() > max {
        return Err(EcsError::invalid_parameter(format!(
            "{key} must have 1 to {max} items."
        )));
    }
    let mut found = Vec::new();
    let mut failures = Vec::new();
    for arn in arns {
        match render(arn) {
            Some(v) => found.push(v),
            None => failures.push(json!({"arn": arn, "reason": "MISSING"})),
        }
    }
    Ok(json!({out: found, "failures": failures}))
}

pub fn cluster<'s>(state: &'s State, name: &str) -> Result<&'s Cluster, EcsError> {
    state
        .clusters
        .get(name)
        .filter(|c| c.status == "ACTIVE")
        .ok_or_else(EcsError::cluster_not_found)
}

pub fn cluster_mut<'s>(state: &'s mut State, name: &str) -> Result<&'s mut Cluster, EcsError> {
    state
        .clusters
        .get_mut(name)
        .filter(|c| c.status == "ACTIVE")
        .ok_or_else(EcsError::cluster_not_found)
}

/// With neither a launch type nor a capacity provider strategy, ECS uses the cluster's default
/// strategy, else the EC2 launch type.
pub fn default_launch(
    cluster: &Cluster,
    launch_type: Option<String>,
    strategy: Option<Value>,
) -> (Option<String>, Option<Value>) {
    if launch_type.is_some() || strategy.is_some() {
        return (launch_type, strategy);
    }
    match cluster.default_capacity_provider_strategy.as_array() {
        Some(list) if !list.is_empty() => (
            None,
            Some(cluster.default_capacity_provider_strategy.clone()),
        ),
        _ => (Some("EC2".to_string()), None),
    }
}

/// Splits a service ARN `…:service/<cluster>/<name>` (or the old `service/<name>` form).
pub fn service_ref(reference: &str) -> (Option<&str>, &str) {
    if let Some((_, tail)) = reference
        .strip_prefix("arn:")
        .and_then(|r| r.split_once(":service/"))
    {
        return match tail.split_once('/') {
            Some((cluster, name)) => (Some(cluster), name),
            None => (None, tail),
        };
    }
    (None, reference)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Pages follow each other and the last one has no token.
    #[test]
    fn paging_walks_all_items() {
        let body = json!({"maxResults": 2});
        let input = Input::new(&body).unwrap();
        let (page, next) = input.page(vec![1, 2, 3], 10, 100).unwrap();
        assert_eq!(page, vec![1, 2]);
        let body = json!({"maxResults": 2, "nextToken": next.unwrap()});
        let (page, next) = Input::new(&body)
            .unwrap()
            .page(vec![1, 2, 3], 10, 100)
            .unwrap();
        assert_eq!(page, vec![3]);
        assert!(next.is_none());
        let body = json!({"nextToken": "garbage"});
        assert!(Input::new(&body).unwrap().page(vec![1], 10, 100).is_err());
        let body = json!({"maxResults": 0});
        assert!(Input::new(&body).unwrap().page(vec![1], 10, 100).is_err());
    }

    /// Wrong JSON types are refused, not panicked on.
    #[test]
    fn wrong_types_are_errors() {
        let body = json!({"cluster": 3, "desiredCount": -1, "flag": "yes"});
        let input = Input::new(&body).unwrap();
        assert!(input.cluster_name().is_err());
        assert!(input.count("desiredCount").is_err());
        assert!(input.bool("flag").is_err());
        assert!(Input::new(&json!([1])).is_err());
    }

    #[test]
    fn service_refs() {
        assert_eq!(service_ref("web"), (None, "web"));
        assert_eq!(
            service_ref("arn:aws:ecs:us-east-1:123456789012:service/prod/web"),
            (Some("prod"), "web")
        );
        assert_eq!(
            service_ref("arn:aws:ecs:us-east-1:123456789012:service/web"),
            (None, "web")
        );
    }
}
