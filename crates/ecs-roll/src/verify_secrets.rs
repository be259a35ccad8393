//! Does every secret a task definition references exist? ECS only finds out when a task starts
//! ("ResourceInitializationError: unable to pull secrets or registry auth"), so a release with a
//! typo in a `valueFrom` ARN rolls out tasks that never start. `ecs-roll deploy` runs this check
//! on each rendered revision before registering it (`--no-verify-secrets` skips it), and
//! `secrets-sync verify` runs it on a file or a registered revision.
//!
//! Checked: Secrets Manager references in their full form
//! `arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME[:JSON-KEY:VERSION-STAGE:VERSION-ID]` — the
//! secret exists and is not scheduled for deletion, the version stage or version id exists, and
//! the JSON key is in that version's value (read in memory, never printed). SSM parameters
//! (`arn:aws:ssm:…:parameter/NAME` or a bare name) are listed as not checked.

use aws_sdk_secretsmanager::Client;
use dk_core::aws::sdk_error;
use dk_core::{Error, Result, Ui};
use serde::Serialize;
use serde_json::Value;

use crate::render::TaskDefinitionDoc;

/// Where a `valueFrom` points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    SecretsManager {
        /// The secret's ARN (full or without the random suffix), without the trailing parts.
        secret_id: String,
        json_key: Option<String>,
        version_stage: Option<String>,
        version_id: Option<String>,
    },
    /// An SSM parameter ARN or name: not checked.
    Ssm(String),
}

/// One `secrets[]` entry (or private-registry credentials) of a container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecretRef {
    pub container: String,
    /// The variable name (`secrets[].name`), or `repositoryCredentials`.
    pub name: String,
    pub value_from: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RefStatus {
    Present,
    Missing,
    NotChecked,
}

/// The verdict on one reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefCheck {
    #[serde(flatten)]
    pub reference: SecretRef,
    pub status: RefStatus,
    /// Why it is missing or was not checked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Parse a `valueFrom`. Secrets Manager ARNs have 7 parts up to the name, then optionally exactly
/// the three `json-key:version-stage:version-id` parts (each may be empty).
pub fn parse_value_from(value_from: &str) -> std::result::Result<Reference, String> {
    let parts: Vec<&str> = value_from.split(':').collect();
    let is_arn = parts.first() == Some(&"arn");
    if !is_arn || parts.get(2) == Some(&"ssm") {
        if value_from.is_empty() {
            return Err("an empty valueFrom".into());
        }
        return Ok(Reference::Ssm(value_from.to_string()));
    }
    if parts.get(2) != Some(&"secretsmanager") {
        return Err(format!(
            "`{value_from}` is neither a Secrets Manager nor an SSM parameter ARN"
        ));
    }
    if parts.len() < 7 || parts[5] != "secret" || parts[6].is_empty() {
        return Err(format!(
            "`{value_from}` is not a secret ARN (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME)"
        ));
    }
    if parts.len() != 7 && parts.len() != 10 {
        return Err(format!(
            "`{value_from}`: after the secret name ECS expects exactly JSON-KEY:VERSION-STAGE:VERSION-ID (each may be empty)"
        ));
    }
    let opt = |i: usize| {
        parts
            .get(i)
            .filter(|s| !s.is_empty())
            .map(|s| s.to_string())
    };
    let (version_stage, version_id) = (opt(8), opt(9));
    if version_stage.is_some() && version_id.is_some() {
        return Err(format!(
            "`{value_from}` names both a version stage and a version id; ECS takes one"
        ));
    }
    Ok(Reference::SecretsManager {
        secret_id: parts[..7].join(":"),
        json_key: opt(7),
        version_stage,
        version_id,
    })
}

/// Every secret reference of a task definition, in container order.
pub fn secret_refs(doc: &TaskDefinitionDoc) -> Vec<SecretRef> {
    let containers = doc
        .definition
        .get("containerDefinitions")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    let mut out = Vec::new();
    for c in containers {
        let container = c
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        for s in c
            .get("secrets")
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice)
        {
            let get = |k: &str| s.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            out.push(SecretRef {
                container: container.clone(),
                name: get("name"),
                value_from: get("valueFrom"),
            });
        }
        if let Some(p) = c
            .get("repositoryCredentials")
            .and_then(|r| r.get("credentialsParameter"))
            .and_then(Value::as_str)
        {
            out.push(SecretRef {
                container: container.clone(),
                name: "repositoryCredentials".into(),
                value_from: p.to_string(),
            });
        }
    }
    out
}

/// Check every reference against Secrets Manager. Missing ones are results, not errors; an error
/// means the check itself could not run (AWS unreachable, access denied).
pub async fn check_refs(sm: &Client, refs: &[SecretRef]) -> Result<Vec<RefCheck>> {
    let mut out = Vec::with_capacity(refs.len());
    for r in refs {
        let (status, reason) = match parse_value_from(&r.value_from) {
            Err(e) => (RefStatus::Missing, Some(e)),
            Ok(Reference::Ssm(_)) => (
                RefStatus::NotChecked,
                Some("SSM parameters are not checked".to_string()),
            ),
            Ok(Reference::SecretsManager {
                secret_id,
                json_key,
                version_stage,
                version_id,
            }) => match check_secret(
                sm,
                &secret_id,
                json_key.as_deref(),
                version_stage.as_deref(),
                version_id.as_deref(),
            )
            .await?
            {
                None => (RefStatus::Present, None),
                Some(why) => (RefStatus::Missing, Some(why)),
            },
        };
        out.push(RefCheck {
            reference: r.clone(),
            status,
            reason,
        });
    }
    Ok(out)
}

/// `None` when the reference resolves; else why not.
async fn check_secret(
    sm: &Client,
    secret_id: &str,
    json_key: Option<&str>,
    version_stage: Option<&str>,
    version_id: Option<&str>,
) -> Result<Option<String>> {
    let described = match sm.describe_secret().secret_id(secret_id).send().await {
        Ok(d) => d,
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            return Ok(Some("no such secret".into()));
        }
        Err(e) => return Err(sdk_error(&format!("DescribeSecret {secret_id}"), e)),
    };
    if described.deleted_date().is_some() {
        return Ok(Some("the secret is scheduled for deletion".into()));
    }
    let versions = described.version_ids_to_stages();
    if let Some(id) = version_id
        && !versions.is_some_and(|v| v.contains_key(id))
    {
        return Ok(Some(format!("no version `{id}`")));
    }
    let stage = version_stage.unwrap_or("AWSCURRENT");
    if version_id.is_none()
        && !versions.is_some_and(|v| v.values().any(|s| s.iter().any(|x| x == stage)))
    {
        return Ok(Some(format!("no version has the stage `{stage}`")));
    }
    let Some(key) = json_key else {
        return Ok(None);
    };
    let mut get = sm.get_secret_value().secret_id(secret_id);
    get = match version_id {
        Some(id) => get.version_id(id),
        None => get.version_stage(stage),
    };
    let value = get
        .send()
        .await
        .map_err(|e| sdk_error(&format!("GetSecretValue {secret_id}"), e))?;
    let has_key = value
        .secret_string()
        .and_then(|s| serde_json::from_str::<serde_json::Map<String, Value>>(s).ok())
        .is_some_and(|m| m.contains_key(key));
    Ok((!has_key).then(|| format!("the secret's value has no JSON key `{key}`")))
}

/// A one-line description of a missing reference, naming the container and the variable.
pub fn describe_missing(c: &RefCheck) -> String {
    format!(
        "{}: {} = {} ({})",
        c.reference.container,
        c.reference.name,
        c.reference.value_from,
        c.reason.as_deref().unwrap_or("missing")
    )
}

/// `ecs-roll deploy`'s gate: every secret referenced by the rendered definitions must exist,
/// else a usage error (exit 2) before anything is registered or any service is touched.
pub async fn check_definitions(sm: &Client, ui: &Ui, docs: &[&TaskDefinitionDoc]) -> Result<()> {
    let mut refs: Vec<SecretRef> = Vec::new();
    for d in docs {
        for r in secret_refs(d) {
            if !refs.contains(&r) {
                refs.push(r);
            }
        }
    }
    if refs.is_empty() {
        return Ok(());
    }
    ui.info(&format!("checking {} secret reference(s)", refs.len()));
    let checks = check_refs(sm, &refs).await?;
    for c in checks.iter().filter(|c| c.status == RefStatus::NotChecked) {
        ui.info(&format!("not checked: {}", describe_missing(c)));
    }
    let missing: Vec<String> = checks
        .iter()
        .filter(|c| c.status == RefStatus::Missing)
        .map(describe_missing)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(Error::usage(format!(
        "the task definition references secrets that do not exist; nothing was registered and no service was changed:\n  {}",
        missing.join("\n  ")
    ))
    .with_hint("create the secret (secrets-sync apply), fix the valueFrom ARN, or pass --no-verify-secrets"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf";

    /// Every documented valueFrom form parses into the secret and its optional parts.
    #[test]
    fn value_from_forms() {
        let sm = |json: Option<&str>, stage: Option<&str>, id: Option<&str>| {
            Ok(Reference::SecretsManager {
                secret_id: ARN.to_string(),
                json_key: json.map(str::to_owned),
                version_stage: stage.map(str::to_owned),
                version_id: id.map(str::to_owned),
            })
        };
        let cases: Vec<(String, std::result::Result<Reference, String>)> = vec![
            (ARN.to_string(), sm(None, None, None)),
            (
                format!("{ARN}:username::"),
                sm(Some("username"), None, None),
            ),
            (
                format!("{ARN}:password:AWSPREVIOUS:"),
                sm(Some("password"), Some("AWSPREVIOUS"), None),
            ),
            (
                format!("{ARN}::AWSCURRENT:"),
                sm(None, Some("AWSCURRENT"), None),
            ),
            (
                format!("{ARN}:::0b8e6d2a-1111-2222-3333-444455556666"),
                sm(None, None, Some("0b8e6d2a-1111-2222-3333-444455556666")),
            ),
            (
                "arn:aws:ssm:us-east-1:123456789012:parameter/app/db".into(),
                Ok(Reference::Ssm(
                    "arn:aws:ssm:us-east-1:123456789012:parameter/app/db".into(),
                )),
            ),
            ("/app/db".into(), Ok(Reference::Ssm("/app/db".into()))),
        ];
        for (input, want) in cases {
            assert_eq!(parse_value_from(&input), want, "{input}");
        }
    }

    /// Malformed references are refused with the reason.
    #[test]
    fn malformed_value_from() {
        for bad in [
            "",
            "arn:aws:s3:::bucket/key",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:",
            &format!("{ARN}:onlykey"),
            &format!("{ARN}:k:AWSCURRENT:some-id"),
        ] {
            assert!(parse_value_from(bad).is_err(), "{bad}");
        }
    }

    /// Secrets and private-registry credentials of every container are listed.
    #[test]
    fn refs_of_every_container() {
        let doc = crate::render::parse_task_definition(&format!(
            r#"{{"family":"web","containerDefinitions":[
              {{"name":"app","image":"a:1","secrets":[{{"name":"DB","valueFrom":"{ARN}"}}]}},
              {{"name":"side","image":"b:1","repositoryCredentials":{{"credentialsParameter":"{ARN}"}},
                "secrets":[{{"name":"K","valueFrom":"/p"}}]}}]}}"#
        ))
        .unwrap();
        let refs = secret_refs(&doc);
        let names: Vec<_> = refs
            .iter()
            .map(|r| format!("{}:{}", r.container, r.name))
            .collect();
        assert_eq!(names, ["app:DB", "side:K", "side:repositoryCredentials"]);
    }
}
