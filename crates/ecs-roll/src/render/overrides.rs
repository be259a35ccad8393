//! What `--image`, `--env`, `--secret` and `--migrate-command` say, parsed and checked, and
//! applied to a [`TaskDefinitionDoc`].

use dk_core::ecs::valid_name;
use dk_core::image_ref::ImageRef;
use serde_json::{Map, Value};

use super::task_definition::TaskDefinitionDoc;

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
