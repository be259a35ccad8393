//! Rendering task definitions: pure functions from JSON to JSON, with no SDK types and no I/O, so
//! they can be unit-tested and fuzzed (`parse_task_definition`, `parse_image_override`, …).
//!
//! ecs-roll works on task definitions as JSON, as ecspresso does: what DescribeTaskDefinition
//! returns (or a file, which may be that very output) is turned into RegisterTaskDefinition input
//! through an **allow-list** of the request's members ([`REGISTER_FIELDS`], [`CONTAINER_FIELDS`]).
//! Read-only fields (`revision`, `status`, `registeredAt`, …) and any field a future API version
//! adds to the description are dropped instead of breaking the registration; tags, which
//! DescribeTaskDefinition returns beside the definition, are carried into the request.
//!
//! Before registering, the rendered definition is compared with the current one in a canonical
//! form ([`canonical`]): key order, list order where ECS ignores it (environment, secrets, tags)
//! and the defaults DescribeTaskDefinition fills in do not count as changes, so an unchanged
//! release never churns a new revision.

use dk_core::image_ref::ImageRef;
use serde_json::{Map, Value};

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

/// Tags recording where a revision came from (`github:run-id`, `github:sha`, …). They say who
/// registered it, not what it runs, so equality ignores them.
pub const PROVENANCE_PREFIX: &str = "github:";

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

/// Family and container names: 1–255 of `[A-Za-z0-9_-]`.
pub fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 255
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// `--image CONTAINER=IMAGE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageOverride {
    pub container: String,
    pub image: String,
}

/// Parse `CONTAINER=IMAGE`; the image must be a valid reference.
pub fn parse_image_override(text: &str) -> Result<ImageOverride, String> {
    let Some((container, image)) = text.split_once('=') else {
        return Err(format!("`{text}` is not CONTAINER=IMAGE"));
    };
    if !valid_name(container) {
        return Err(format!(
            "`{container}` in `{text}` is not a container name (1–255 letters, digits, `_` or `-`)"
        ));
    }
    let parsed = ImageRef::parse(image).map_err(|e| e.to_string())?;
    if parsed.tag.is_none() && parsed.digest.is_none() {
        return Err(format!(
            "image `{image}` has neither a tag nor a digest; name the release explicitly (e.g. `{image}:v1.2.3`)"
        ));
    }
    Ok(ImageOverride {
        container: container.to_string(),
        image: image.to_string(),
    })
}

/// `--env CONTAINER:NAME=VALUE` or `--secret CONTAINER:NAME=VALUE_FROM`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VarOverride {
    pub container: String,
    pub name: String,
    pub value: String,
}

/// Parse `CONTAINER:NAME=VALUE` (the value may itself hold `:` and `=`).
pub fn parse_env_override(text: &str) -> Result<VarOverride, String> {
    let (container, rest) = text
        .split_once(':')
        .ok_or_else(|| format!("`{text}` is not CONTAINER:NAME=VALUE"))?;
    let (name, value) = rest
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not CONTAINER:NAME=VALUE (no `=`)"))?;
    if !valid_name(container) {
        return Err(format!("`{container}` in `{text}` is not a container name"));
    }
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-')
    {
        return Err(format!(
            "`{name}` in `{text}` is not a variable name (letters, digits, `_`, `.`, `-`)"
        ));
    }
    Ok(VarOverride {
        container: container.to_string(),
        name: name.to_string(),
        value: value.to_string(),
    })
}

/// Parse `CONTAINER:NAME=ARN`: a Secrets Manager or SSM parameter ARN, or an SSM parameter name
/// in the task's own Region.
pub fn parse_secret_override(text: &str) -> Result<VarOverride, String> {
    let v = parse_env_override(text).map_err(|e| e.replace("NAME=VALUE", "NAME=ARN"))?;
    let from = v.value.as_str();
    let ok = if let Some(rest) = from.strip_prefix("arn:") {
        let parts: Vec<&str> = rest.splitn(5, ':').collect();
        parts.len() == 5
            && !parts[0].is_empty()
            && matches!(parts[1], "secretsmanager" | "ssm")
            && !parts[4].is_empty()
    } else {
        !from.is_empty()
            && from
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-/".contains(&b))
    };
    if ok {
        Ok(v)
    } else {
        Err(format!(
            "`{from}` in `{text}` is neither a Secrets Manager/SSM ARN (arn:aws:secretsmanager:… or arn:aws:ssm:…) nor an SSM parameter name"
        ))
    }
}

/// Split a migration command: a JSON array of strings as is, otherwise shell-like words with
/// single quotes, double quotes and backslashes (no expansion, no operators: ECS runs the words
/// directly, so `sh -c '…'` is how to get a shell).
pub fn split_command(text: &str) -> Result<Vec<String>, String> {
    let trimmed = text.trim();
    if trimmed.starts_with('[') {
        let words: Vec<String> = serde_json::from_str(trimmed).map_err(|e| {
            format!("the command looks like a JSON array but is not one of strings: {e}")
        })?;
        if words.is_empty() {
            return Err("the command is an empty list".into());
        }
        return Ok(words);
    }
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = trimmed.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(ch) => cur.push(ch),
                        None => return Err("unterminated single quote in the command".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(ch @ ('"' | '\\' | '$' | '`')) => cur.push(ch),
                            Some(ch) => {
                                cur.push('\\');
                                cur.push(ch);
                            }
                            None => return Err("unterminated double quote in the command".into()),
                        },
                        Some(ch) => cur.push(ch),
                        None => return Err("unterminated double quote in the command".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(ch) => cur.push(ch),
                    None => return Err("the command ends with a lone backslash".into()),
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    if words.is_empty() {
        return Err("the command is empty".into());
    }
    Ok(words)
}

/// Everything a deploy changes in a definition.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    pub images: Vec<ImageOverride>,
    pub env: Vec<VarOverride>,
    pub secrets: Vec<VarOverride>,
}

impl Overrides {
    pub fn is_empty(&self) -> bool {
        self.images.is_empty() && self.env.is_empty() && self.secrets.is_empty()
    }

    /// Every container the overrides name, in order, without repeats.
    pub fn containers(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        let all = self.images.iter().map(|i| i.container.as_str());
        let all = all.chain(
            self.env
                .iter()
                .chain(&self.secrets)
                .map(|v| v.container.as_str()),
        );
        for c in all {
            if !out.contains(&c) {
                out.push(c);
            }
        }
        out
    }
}

/// A container named by an override is not in the definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownContainer {
    pub container: String,
    pub family: String,
    pub known: Vec<String>,
}

impl std::fmt::Display for UnknownContainer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "task definition `{}` has no container `{}` (it has: {})",
            self.family,
            self.container,
            self.known.join(", ")
        )
    }
}

/// Check that every container the overrides name exists.
pub fn check_containers(
    doc: &TaskDefinitionDoc,
    overrides: &Overrides,
) -> Result<(), UnknownContainer> {
    let known = doc.container_names();
    for c in overrides.containers() {
        if !known.contains(&c) {
            return Err(UnknownContainer {
                container: c.to_string(),
                family: doc.family().to_string(),
                known: known.iter().map(|s| s.to_string()).collect(),
            });
        }
    }
    Ok(())
}

/// Apply images, environment and secrets. Images are set per container in one step; a variable
/// that exists is replaced in place, a new one appended. Every container named must exist.
pub fn apply_overrides(
    doc: &TaskDefinitionDoc,
    overrides: &Overrides,
) -> Result<TaskDefinitionDoc, UnknownContainer> {
    check_containers(doc, overrides)?;
    Ok(apply_present_overrides(doc, overrides))
}

/// Apply the overrides whose container this definition has, ignoring the others: services of
/// different families in one release each take the overrides meant for their containers (the
/// caller checks that every override matched some definition).
pub fn apply_present_overrides(
    doc: &TaskDefinitionDoc,
    overrides: &Overrides,
) -> TaskDefinitionDoc {
    let mut out = doc.clone();
    let Some(Value::Array(list)) = out.definition.get_mut("containerDefinitions") else {
        return out;
    };
    for c in list.iter_mut() {
        let Value::Object(c) = c else { continue };
        let name = c
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        for i in overrides.images.iter().filter(|i| i.container == name) {
            c.insert("image".into(), Value::String(i.image.clone()));
        }
        for v in overrides.env.iter().filter(|v| v.container == name) {
            set_pair(c, "environment", "value", &v.name, &v.value);
        }
        for v in overrides.secrets.iter().filter(|v| v.container == name) {
            set_pair(c, "secrets", "valueFrom", &v.name, &v.value);
        }
    }
    out
}

fn set_pair(
    container: &mut Map<String, Value>,
    list: &str,
    value_key: &str,
    name: &str,
    value: &str,
) {
    let entry = container
        .entry(list.to_string())
        .or_insert_with(|| Value::Array(Vec::new()));
    if !entry.is_array() {
        *entry = Value::Array(Vec::new());
    }
    let Value::Array(items) = entry else { return };
    let mut pair = Map::new();
    pair.insert("name".into(), Value::String(name.to_string()));
    pair.insert(value_key.into(), Value::String(value.to_string()));
    match items
        .iter_mut()
        .find(|p| p.get("name").and_then(Value::as_str) == Some(name))
    {
        Some(existing) => *existing = Value::Object(pair),
        None => items.push(Value::Object(pair)),
    }
}

/// The canonical form of a register request, for equality and diffs:
/// - object keys sorted; `null`, `[]` and `{}` members dropped (absent and empty mean the same);
/// - `environment`, `secrets` and `tags` sorted by name/key, `requiresCompatibilities` sorted;
/// - defaults DescribeTaskDefinition fills in dropped: container `cpu: 0`, `essential: true`,
///   port mapping `protocol: "tcp"` (and `hostPort` equal to `containerPort` under `awsvpc`);
/// - task `cpu` and `memory` as strings (the API takes strings; files often hold numbers).
pub fn canonical(request: &Value) -> Value {
    let Value::Object(top) = request else {
        return request.clone();
    };
    let awsvpc = top.get("networkMode").and_then(Value::as_str) == Some("awsvpc");
    let mut top = top.clone();
    for k in ["cpu", "memory"] {
        if let Some(Value::Number(n)) = top.get(k) {
            let s = n.to_string();
            top.insert(k.into(), Value::String(s));
        }
    }
    if let Some(Value::Array(tags)) = top.get_mut("tags") {
        tags.retain(|t| {
            !t.get("key")
                .and_then(Value::as_str)
                .is_some_and(|k| k.starts_with(PROVENANCE_PREFIX))
        });
    }
    sort_list_by(&mut top, "tags", "key");
    if let Some(Value::Array(rc)) = top.get_mut("requiresCompatibilities") {
        rc.sort_by_key(|v| v.as_str().unwrap_or("").to_string());
    }
    if let Some(Value::Array(list)) = top.get_mut("containerDefinitions") {
        for c in list.iter_mut() {
            let Value::Object(c) = c else { continue };
            if c.get("cpu").and_then(Value::as_i64) == Some(0) {
                c.remove("cpu");
            }
            if c.get("essential") == Some(&Value::Bool(true)) {
                c.remove("essential");
            }
            sort_list_by(c, "environment", "name");
            sort_list_by(c, "secrets", "name");
            if let Some(Value::Array(pms)) = c.get_mut("portMappings") {
                for pm in pms.iter_mut() {
                    let Value::Object(pm) = pm else { continue };
                    if pm.get("protocol").and_then(Value::as_str) == Some("tcp") {
                        pm.remove("protocol");
                    }
                    if awsvpc
                        && pm.get("hostPort").is_some()
                        && pm.get("hostPort") == pm.get("containerPort")
                    {
                        pm.remove("hostPort");
                    }
                }
            }
        }
    }
    tidy(&Value::Object(top)).unwrap_or(Value::Object(Map::new()))
}

fn sort_list_by(obj: &mut Map<String, Value>, list: &str, key: &str) {
    if let Some(Value::Array(items)) = obj.get_mut(list) {
        items.sort_by(|a, b| {
            let ka = a.get(key).and_then(Value::as_str).unwrap_or("");
            let kb = b.get(key).and_then(Value::as_str).unwrap_or("");
            ka.cmp(kb)
        });
    }
}

/// Sort keys, drop nulls and empty containers (recursively). `None` means "drop me".
fn tidy(v: &Value) -> Option<Value> {
    match v {
        Value::Null => None,
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let mut out = Map::new();
            for k in keys {
                if let Some(t) = tidy(&m[k]) {
                    out.insert(k.clone(), t);
                }
            }
            (!out.is_empty()).then_some(Value::Object(out))
        }
        Value::Array(a) => {
            let out: Vec<Value> = a.iter().map(|x| tidy(x).unwrap_or(Value::Null)).collect();
            (!out.is_empty()).then_some(Value::Array(out))
        }
        other => Some(other.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn described() -> Value {
        json!({
            "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/web:7",
            "family": "web",
            "revision": 7,
            "status": "ACTIVE",
            "registeredAt": 1_700_000_000.0,
            "registeredBy": "arn:aws:iam::123456789012:role/ci",
            "requiresAttributes": [{"name": "com.amazonaws.ecs.capability.docker-remote-api.1.18"}],
            "compatibilities": ["EC2", "FARGATE"],
            "someFutureField": {"x": 1},
            "networkMode": "awsvpc",
            "cpu": "256",
            "memory": "512",
            "requiresCompatibilities": ["FARGATE"],
            "containerDefinitions": [
                {"name": "web", "image": "app:v1", "cpu": 0, "essential": true,
                 "portMappings": [{"containerPort": 80, "hostPort": 80, "protocol": "tcp"}],
                 "environment": [{"name": "B", "value": "2"}, {"name": "A", "value": "1"}],
                 "mountPoints": [], "volumesFrom": [], "systemControls": []},
                {"name": "sidecar", "image": "envoy:1.30", "essential": false}
            ],
            "volumes": []
        })
    }

    fn tags() -> Vec<Value> {
        vec![
            json!({"key": "team", "value": "web"}),
            json!({"key": "aws:cloudformation:stack-name", "value": "x"}),
        ]
    }

    /// Read-only and unknown fields are dropped by the allow-list; register inputs stay.
    #[test]
    fn allow_list_drops_read_only_fields() {
        let doc = registerable(described().as_object().unwrap(), &[]);
        for k in READ_ONLY_FIELDS {
            assert!(!doc.definition.contains_key(*k), "{k} kept");
        }
        assert!(!doc.definition.contains_key("someFutureField"));
        assert_eq!(doc.ignored_fields, vec!["someFutureField".to_string()]);
        assert_eq!(doc.family(), "web");
        assert_eq!(doc.definition["cpu"], "256");
        assert_eq!(doc.container_names(), vec!["web", "sidecar"]);
    }

    /// Tags are carried into the request, without the reserved `aws:` ones.
    #[test]
    fn tags_are_carried_without_reserved_ones() {
        let doc = registerable(described().as_object().unwrap(), &tags());
        assert_eq!(doc.tags, vec![json!({"key": "team", "value": "web"})]);
        assert_eq!(
            doc.register_request()["tags"],
            json!([{"key": "team", "value": "web"}])
        );
    }

    /// Key order, env order and described defaults do not make a definition different.
    #[test]
    fn equality_ignores_ordering_and_defaults() {
        let a = registerable(described().as_object().unwrap(), &tags());
        let from_file = parse_task_definition(
            r#"{"family": "web", "networkMode": "awsvpc", "cpu": 256, "memory": 512,
                "requiresCompatibilities": ["FARGATE"],
                "tags": [{"value": "web", "key": "team"}],
                "containerDefinitions": [
                  {"image": "app:v1", "name": "web",
                   "environment": [{"name": "A", "value": "1"}, {"value": "2", "name": "B"}],
                   "portMappings": [{"containerPort": 80}]},
                  {"name": "sidecar", "essential": false, "image": "envoy:1.30"}]}"#,
        )
        .unwrap();
        assert!(
            a.same_as(&from_file),
            "{}\n---\n{}",
            a.pretty(),
            from_file.pretty()
        );
        let changed = apply_overrides(
            &a,
            &Overrides {
                images: vec![parse_image_override("web=app:v2").unwrap()],
                ..Default::default()
            },
        )
        .unwrap();
        assert!(!a.same_as(&changed));
        // Container order matters to nobody, but ECS keeps it; a swap is a change we show.
        let mut swapped = a.clone();
        if let Some(Value::Array(l)) = swapped.definition.get_mut("containerDefinitions") {
            l.reverse();
        }
        assert!(!a.same_as(&swapped));
    }

    /// Provenance tags are set on registration but never make a definition different.
    #[test]
    fn provenance_tags_do_not_count_as_changes() {
        let a = registerable(described().as_object().unwrap(), &tags());
        let b = a.clone().with_tags(&[
            ("github:run-id".into(), "42".into()),
            ("github:sha".into(), "abc".into()),
        ]);
        assert!(a.same_as(&b));
        assert_eq!(b.tags.len(), 3);
        let c = b
            .clone()
            .with_tags(&[("github:run-id".into(), "43".into())]);
        assert_eq!(c.tags.len(), 3, "replaced, not added");
        assert!(!a.same_as(&a.clone().with_tags(&[("team".into(), "api".into())])));
    }

    /// Images, env and secrets are set per container; existing variables are replaced in place.
    #[test]
    fn overrides_apply_per_container() {
        let doc = registerable(described().as_object().unwrap(), &[]);
        let o = Overrides {
            images: vec![
                parse_image_override("web=app:v2").unwrap(),
                parse_image_override("sidecar=envoy:1.31").unwrap(),
            ],
            env: vec![
                parse_env_override("web:A=one=1").unwrap(),
                parse_env_override("sidecar:LOG=debug").unwrap(),
            ],
            secrets: vec![
                parse_secret_override("web:DB=arn:aws:secretsmanager:us-east-1:1:secret:db-AbCdEf")
                    .unwrap(),
            ],
        };
        let out = apply_overrides(&doc, &o).unwrap();
        assert_eq!(
            out.images(),
            vec![
                ("web".into(), "app:v2".into()),
                ("sidecar".into(), "envoy:1.31".into())
            ]
        );
        let web = &out.definition["containerDefinitions"][0];
        assert_eq!(
            web["environment"][1],
            json!({"name": "A", "value": "one=1"})
        );
        assert_eq!(web["environment"].as_array().unwrap().len(), 2);
        assert_eq!(
            web["secrets"][0]["valueFrom"],
            "arn:aws:secretsmanager:us-east-1:1:secret:db-AbCdEf"
        );
        assert_eq!(
            out.definition["containerDefinitions"][1]["environment"][0]["value"],
            "debug"
        );
    }

    /// An override naming a missing container is refused with the containers that exist.
    #[test]
    fn unknown_container_is_refused() {
        let doc = registerable(described().as_object().unwrap(), &[]);
        let o = Overrides {
            images: vec![parse_image_override("wbe=app:v2").unwrap()],
            ..Default::default()
        };
        let e = apply_overrides(&doc, &o).unwrap_err();
        assert_eq!(e.container, "wbe");
        assert_eq!(e.known, vec!["web", "sidecar"]);
    }

    /// DescribeTaskDefinition output is accepted as a file, its tags carried.
    #[test]
    fn describe_output_is_a_valid_file() {
        let text = json!({"taskDefinition": described(), "tags": tags()}).to_string();
        let doc = parse_task_definition(&text).unwrap();
        assert_eq!(doc.family(), "web");
        assert_eq!(doc.tags.len(), 1);
    }

    /// JSON syntax errors carry line and column; semantic errors name the field.
    #[test]
    fn file_errors_name_the_place() {
        let e =
            parse_task_definition("{\n  \"family\": \"web\",\n  \"containerDefinitions\": [\n}")
                .unwrap_err();
        assert_eq!(e.position.map(|p| p.0), Some(4));
        assert!(e.to_string().starts_with("line 4, column 1:"), "{e}");
        for (text, needle) in [
            (r#"[]"#, "JSON object"),
            (
                r#"{"containerDefinitions": [{"name": "a", "image": "b"}]}"#,
                "family",
            ),
            (
                r#"{"family": "f b", "containerDefinitions": []}"#,
                "family `f b`",
            ),
            (
                r#"{"family": "f", "containerDefinitions": []}"#,
                "at least one",
            ),
            (
                r#"{"family": "f", "containerDefinitions": [{"name": "a"}]}"#,
                "no `image`",
            ),
            (
                r#"{"family": "f", "containerDefinitions": [{"name": "a", "image": "x"}, {"name": "a", "image": "y"}]}"#,
                "twice",
            ),
            (
                r#"{"family": "f", "containerDefinitions": [{"name": "a", "image": "x", "environment": {}}]}"#,
                "must be a list",
            ),
        ] {
            let e = parse_task_definition(text).unwrap_err();
            assert!(e.to_string().contains(needle), "{text}: {e}");
        }
    }

    /// Unknown fields in a file are reported, not fatal.
    #[test]
    fn unknown_file_fields_are_reported() {
        let doc = parse_task_definition(
            r#"{"family": "f", "colour": "blue", "containerDefinitions": [{"name": "a", "image": "x", "imagee": "y"}]}"#,
        )
        .unwrap();
        assert_eq!(
            doc.ignored_fields,
            vec!["colour".to_string(), "a.imagee".to_string()]
        );
    }

    /// `--image`, `--env` and `--secret` syntax errors say what is expected.
    #[test]
    fn flag_syntax_errors() {
        assert!(
            parse_image_override("app:v1")
                .unwrap_err()
                .contains("CONTAINER=IMAGE")
        );
        assert!(
            parse_image_override("web=App:v1")
                .unwrap_err()
                .contains("lowercase")
        );
        assert!(
            parse_image_override("web=app")
                .unwrap_err()
                .contains("neither a tag")
        );
        assert!(
            parse_image_override("w b=app:v1")
                .unwrap_err()
                .contains("container name")
        );
        assert!(
            parse_env_override("web=A")
                .unwrap_err()
                .contains("CONTAINER:NAME=VALUE")
        );
        assert!(parse_env_override("web:A").unwrap_err().contains("no `=`"));
        assert!(
            parse_env_override("web:=x")
                .unwrap_err()
                .contains("variable name")
        );
        assert!(parse_secret_override("web:DB=arn:aws:s3:::bucket").is_err());
        assert!(parse_secret_override("web:DB=/prod/db/password").is_ok());
        assert!(parse_secret_override("web:DB=arn:aws:ssm:us-east-1:1:parameter/prod/db").is_ok());
        assert!(parse_secret_override("web:DB=").is_err());
    }

    /// Commands split like a shell (quotes, escapes) or come as a JSON array.
    #[test]
    fn commands_split_like_a_shell() {
        assert_eq!(
            split_command("bin/rails db:migrate").unwrap(),
            vec!["bin/rails", "db:migrate"]
        );
        assert_eq!(
            split_command(r#"sh -c 'echo "a b" && run' x\ y "q\"d""#).unwrap(),
            vec!["sh", "-c", "echo \"a b\" && run", "x y", "q\"d"]
        );
        assert_eq!(
            split_command(r#"["npm", "run", "migrate"]"#).unwrap(),
            vec!["npm", "run", "migrate"]
        );
        assert_eq!(split_command("''").unwrap(), vec![""]);
        assert!(split_command("   ").is_err());
        assert!(split_command("echo 'x").is_err());
        assert!(split_command("[1, 2]").is_err());
    }

    /// A stable-toolchain stand-in for the cargo-fuzz target (fuzz/): thousands of seeded random
    /// mutations of valid inputs through every parser; none may panic and the rendering
    /// invariants must hold whenever a definition parses.
    #[test]
    fn mutated_inputs_never_panic() {
        let seeds = [
            described().to_string(),
            json!({"taskDefinition": described(), "tags": tags()}).to_string(),
            r#"{"family":"f","containerDefinitions":[{"name":"a","image":"x:1","environment":[{"name":"K","value":"v"}]}]}"#.to_string(),
            "web=123456789012.dkr.ecr.us-east-1.amazonaws.com/team/web:v1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef".to_string(),
            "web:DB=arn:aws:secretsmanager:us-east-1:1:secret:db".to_string(),
            r#"sh -c 'echo "a b"' x\ y ["a"]"#.to_string(),
        ];
        let alphabet: Vec<char> = "{}[]\":,\\'=@/ .-_0123456789abcAZ\n\té€".chars().collect();
        let mut rng = fastrand::Rng::with_seed(0x5eed);
        for i in 0..6000 {
            let mut chars: Vec<char> = seeds[i % seeds.len()].chars().collect();
            for _ in 0..rng.usize(1..6) {
                let at = rng.usize(0..=chars.len());
                match rng.u8(0..3) {
                    0 if at < chars.len() => {
                        chars.remove(at);
                    }
                    1 if at < chars.len() => chars[at] = alphabet[rng.usize(0..alphabet.len())],
                    _ => chars.insert(at, alphabet[rng.usize(0..alphabet.len())]),
                }
            }
            let text: String = chars.into_iter().collect();
            let _ = parse_image_override(&text);
            let _ = parse_env_override(&text);
            let _ = parse_secret_override(&text);
            let _ = split_command(&text);
            if let Ok(doc) = parse_task_definition(&text) {
                assert!(doc.same_as(&doc));
                let c = doc.canonical();
                assert_eq!(canonical(&c), c, "not idempotent for {text}");
                let o = Overrides {
                    images: vec![parse_image_override("a=x:2").unwrap()],
                    env: vec![parse_env_override("a:K=w").unwrap()],
                    secrets: Vec::new(),
                };
                let r = apply_present_overrides(&doc, &o);
                assert_eq!(r.container_names(), doc.container_names());
                assert!(validate(&r).is_ok(), "{text}");
            }
        }
    }
}
