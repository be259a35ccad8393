//! The task definition as a document: the allow-list of RegisterTaskDefinition's members, parsing
//! a file or a description into a [`TaskDefinitionDoc`], and checking it before it is registered.

use dk_core::ecs::valid_name;
use serde_json::{Map, Value};

use super::canonical::canonical;

/// Members of RegisterTaskDefinition's input (aws-sdk-ecs 1.157 / botocore 2026-08).
pub const REGISTER_FIELDS: &[&str] = &[
    "family",
    "taskRoleArn",
    "executionRoleArn",
    "networkMode",
    "containerDefinitions",
    "volumes",
    "placementConstraints",
    "requiresCompatibilities",
    "cpu",
    "memory",
    "tags",
    "pidMode",
    "ipcMode",
    "proxyConfiguration",
    "inferenceAccelerators",
    "ephemeralStorage",
    "runtimePlatform",
    "enableFaultInjection",
];

/// Fields only DescribeTaskDefinition has: dropped without a warning.
pub const READ_ONLY_FIELDS: &[&str] = &[
    "taskDefinitionArn",
    "revision",
    "status",
    "requiresAttributes",
    "compatibilities",
    "registeredAt",
    "registeredBy",
    "deregisteredAt",
    "deleteRequestedAt",
];

/// Members of `ContainerDefinition` (the same shape in the request and the description).
pub const CONTAINER_FIELDS: &[&str] = &[
    "name",
    "image",
    "repositoryCredentials",
    "cpu",
    "memory",
    "memoryReservation",
    "links",
    "portMappings",
    "essential",
    "restartPolicy",
    "entryPoint",
    "command",
    "environment",
    "environmentFiles",
    "mountPoints",
    "volumesFrom",
    "linuxParameters",
    "secrets",
    "dependsOn",
    "startTimeout",
    "stopTimeout",
    "versionConsistency",
    "hostname",
    "user",
    "workingDirectory",
    "disableNetworking",
    "privileged",
    "readonlyRootFilesystem",
    "dnsServers",
    "dnsSearchDomains",
    "extraHosts",
    "dockerSecurityOptions",
    "interactive",
    "pseudoTerminal",
    "dockerLabels",
    "ulimits",
    "logConfiguration",
    "healthCheck",
    "systemControls",
    "resourceRequirements",
    "firelensConfiguration",
    "credentialSpecs",
];

/// Containers per task definition (service quota, not adjustable).
pub const MAX_CONTAINERS: usize = 10;

/// A task definition ready for RegisterTaskDefinition, with the tags to carry.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskDefinitionDoc {
    /// RegisterTaskDefinition members only, `tags` excluded.
    pub definition: Map<String, Value>,
    /// `[{key, value}]`, `aws:`-prefixed keys removed (they are reserved).
    pub tags: Vec<Value>,
    /// Fields that were neither register inputs nor known read-only fields, `container.field`
    /// for container members: dropped, and worth a warning when they came from a file.
    pub ignored_fields: Vec<String>,
}

impl TaskDefinitionDoc {
    pub fn family(&self) -> &str {
        self.definition
            .get("family")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    pub fn container_names(&self) -> Vec<&str> {
        containers(&self.definition)
            .iter()
            .filter_map(|c| c.get("name").and_then(Value::as_str))
            .collect()
    }

    /// The RegisterTaskDefinition request body: the definition plus tags (when any).
    pub fn register_request(&self) -> Value {
        let mut req = self.definition.clone();
        if !self.tags.is_empty() {
            req.insert("tags".into(), Value::Array(self.tags.clone()));
        }
        Value::Object(req)
    }

    /// Set (or replace) tags, e.g. the GitHub run registering this revision.
    pub fn with_tags(mut self, tags: &[(String, String)]) -> Self {
        for (k, v) in tags {
            self.tags
                .retain(|t| t.get("key").and_then(Value::as_str) != Some(k.as_str()));
            let mut t = Map::new();
            t.insert("key".into(), Value::String(k.clone()));
            t.insert("value".into(), Value::String(v.clone()));
            self.tags.push(Value::Object(t));
        }
        self
    }

    /// The canonical form used for equality and diffs (tags included, provenance tags not).
    pub fn canonical(&self) -> Value {
        canonical(&self.register_request())
    }

    /// Pretty canonical JSON, for diffs.
    pub fn pretty(&self) -> String {
        serde_json::to_string_pretty(&self.canonical()).unwrap_or_default()
    }

    /// Same task definition for ECS, ignoring order and filled-in defaults.
    pub fn same_as(&self, other: &TaskDefinitionDoc) -> bool {
        self.canonical() == other.canonical()
    }

    /// Image of each container, in definition order.
    pub fn images(&self) -> Vec<(String, String)> {
        containers(&self.definition)
            .iter()
            .map(|c| {
                let get = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or("").to_string();
                (get("name"), get("image"))
            })
            .collect()
    }
}

fn containers(def: &Map<String, Value>) -> &[Value] {
    def.get("containerDefinitions")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// Why a task definition could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskDefinitionError {
    /// 1-based line and column for JSON syntax errors.
    pub position: Option<(usize, usize)>,
    pub message: String,
}

impl std::fmt::Display for TaskDefinitionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.position {
            Some((l, c)) => write!(f, "line {l}, column {c}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for TaskDefinitionError {}

fn td_err(message: impl Into<String>) -> TaskDefinitionError {
    TaskDefinitionError {
        position: None,
        message: message.into(),
    }
}

/// Parse a task definition file: either the definition itself (as in `aws ecs
/// register-task-definition --cli-input-json`) or DescribeTaskDefinition's output
/// (`{"taskDefinition": {…}, "tags": […]}`), whose tags are then carried.
pub fn parse_task_definition(text: &str) -> Result<TaskDefinitionDoc, TaskDefinitionError> {
    let value: Value = serde_json::from_str(text).map_err(|e| TaskDefinitionError {
        position: (e.line() > 0).then(|| (e.line(), e.column())),
        message: e
            .to_string()
            .split(" at line ")
            .next()
            .unwrap_or_default()
            .to_string(),
    })?;
    let Value::Object(mut obj) = value else {
        return Err(td_err("a task definition must be a JSON object"));
    };
    let (def, tags) = match obj.remove("taskDefinition") {
        Some(Value::Object(inner)) => (inner, obj.remove("tags")),
        Some(_) => return Err(td_err("`taskDefinition` must be an object")),
        None => {
            let tags = obj.remove("tags");
            (obj, tags)
        }
    };
    let tags = match tags {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(t)) => t,
        Some(_) => {
            return Err(td_err(
                "`tags` must be a list of {\"key\": …, \"value\": …}",
            ));
        }
    };
    let doc = registerable(&def, &tags);
    validate(&doc)?;
    Ok(doc)
}

/// DescribeTaskDefinition's `taskDefinition` (and its sibling `tags`) → registerable document,
/// through the allow-list. Never fails: validation is separate ([`validate`]).
pub fn registerable(described: &Map<String, Value>, tags: &[Value]) -> TaskDefinitionDoc {
    let mut definition = Map::new();
    let mut ignored = Vec::new();
    for (k, v) in described {
        if k == "tags" || READ_ONLY_FIELDS.contains(&k.as_str()) {
            continue;
        }
        if !REGISTER_FIELDS.contains(&k.as_str()) {
            ignored.push(k.clone());
            continue;
        }
        if k == "containerDefinitions"
            && let Value::Array(list) = v
        {
            let filtered = list
                .iter()
                .map(|c| match c {
                    Value::Object(c) => {
                        let name = c.get("name").and_then(Value::as_str).unwrap_or("?");
                        let mut kept = Map::new();
                        for (ck, cv) in c {
                            if CONTAINER_FIELDS.contains(&ck.as_str()) {
                                kept.insert(ck.clone(), cv.clone());
                            } else {
                                ignored.push(format!("{name}.{ck}"));
                            }
                        }
                        Value::Object(kept)
                    }
                    other => other.clone(),
                })
                .collect();
            definition.insert(k.clone(), Value::Array(filtered));
            continue;
        }
        if !v.is_null() {
            definition.insert(k.clone(), v.clone());
        }
    }
    let tags = tags
        .iter()
        .filter(|t| {
            !t.get("key")
                .and_then(Value::as_str)
                .is_some_and(|k| k.to_ascii_lowercase().starts_with("aws:"))
        })
        .cloned()
        .collect();
    TaskDefinitionDoc {
        definition,
        tags,
        ignored_fields: ignored,
    }
}

/// What RegisterTaskDefinition would refuse for sure, caught before any call.
pub fn validate(doc: &TaskDefinitionDoc) -> Result<(), TaskDefinitionError> {
    let def = &doc.definition;
    match def.get("family") {
        Some(Value::String(f)) if valid_name(f) => {}
        Some(Value::String(f)) => {
            return Err(td_err(format!(
                "family `{f}` must be 1–255 letters, digits, `_` or `-`"
            )));
        }
        Some(_) => return Err(td_err("`family` must be a string")),
        None => return Err(td_err("`family` is missing")),
    }
    let list = match def.get("containerDefinitions") {
        Some(Value::Array(l)) if !l.is_empty() => l,
        Some(Value::Array(_)) | None => {
            return Err(td_err(
                "`containerDefinitions` must list at least one container",
            ));
        }
        Some(_) => return Err(td_err("`containerDefinitions` must be a list")),
    };
    if list.len() > MAX_CONTAINERS {
        return Err(td_err(format!(
            "{} containers; a task definition holds at most {MAX_CONTAINERS}",
            list.len()
        )));
    }
    let mut seen = Vec::new();
    for (i, c) in list.iter().enumerate() {
        let Value::Object(c) = c else {
            return Err(td_err(format!(
                "containerDefinitions[{i}] must be an object"
            )));
        };
        let name = match c.get("name") {
            Some(Value::String(n)) if valid_name(n) => n.as_str(),
            _ => {
                return Err(td_err(format!(
                    "containerDefinitions[{i}].name must be 1–255 letters, digits, `_` or `-`"
                )));
            }
        };
        if seen.contains(&name) {
            return Err(td_err(format!("container `{name}` is defined twice")));
        }
        seen.push(name);
        if !matches!(c.get("image"), Some(Value::String(s)) if !s.is_empty()) {
            return Err(td_err(format!("container `{name}` has no `image`")));
        }
        for list_field in ["environment", "secrets"] {
            match c.get(list_field) {
                None | Some(Value::Null) | Some(Value::Array(_)) => {}
                Some(_) => {
                    return Err(td_err(format!(
                        "container `{name}`: `{list_field}` must be a list"
                    )));
                }
            }
        }
    }
    for t in &doc.tags {
        if !t.get("key").is_some_and(Value::is_string) {
            return Err(td_err("every tag needs a string `key`"));
        }
    }
    Ok(())
}
