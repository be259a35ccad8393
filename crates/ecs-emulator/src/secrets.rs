//! The task execution role's job in process mode: resolve a container's `secrets` from
//! Secrets Manager (moto) before the process starts. Any failure stops the task with ECS's
//! stopped reason, `ResourceInitializationError: unable to pull secrets or registry auth: …`.

use serde_json::{Value, json};

use crate::http_client;

/// The stopped reason's fixed start (ecs-deployments.md §5, observed wording).
pub const REASON_PREFIX: &str = "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed";

/// One `secrets[]` entry: the variable and where its value lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRef {
    pub name: String,
    pub value_from: String,
}

/// A Secrets Manager `valueFrom`: `arn:…:secret:NAME-AbCdEf[:json-key:version-stage:version-id]`
/// or a bare secret name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretLocation {
    pub secret_id: String,
    pub json_key: Option<String>,
    pub version_stage: Option<String>,
    pub version_id: Option<String>,
}

/// Splits a `valueFrom`; `Err` for what the emulator cannot resolve (SSM parameters).
pub fn parse_value_from(value_from: &str) -> Result<SecretLocation, String> {
    if value_from.starts_with("arn:aws:ssm:") || !value_from.starts_with("arn:") {
        if value_from.starts_with("arn:aws:ssm:") || value_from.starts_with('/') {
            return Err(format!(
                "unable to retrieve secrets from ssm: {value_from}: SSM parameters are not emulated (use a Secrets Manager ARN)"
            ));
        }
        return Ok(SecretLocation {
            secret_id: value_from.to_string(),
            json_key: None,
            version_stage: None,
            version_id: None,
        });
    }
    let parts: Vec<&str> = value_from.split(':').collect();
    if parts.len() < 7 || parts[2] != "secretsmanager" || parts[5] != "secret" {
        return Err(format!(
            "unable to retrieve secret from asm: {value_from} is not a Secrets Manager secret ARN"
        ));
    }
    let field = |i: usize| {
        parts
            .get(i)
            .filter(|s| !s.is_empty())
            .map(|s| s.to_string())
    };
    Ok(SecretLocation {
        secret_id: parts[..7].join(":"),
        json_key: field(7),
        version_stage: field(8),
        version_id: field(9),
    })
}

/// Resolves every secret, in order; `Err` is the task's stopped reason.
pub async fn resolve(
    endpoint: Option<&str>,
    secrets: &[SecretRef],
) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for secret in secrets {
        let value = resolve_one(endpoint, secret)
            .await
            .map_err(|e| format!("{REASON_PREFIX}: {e}"))?;
        out.push((secret.name.clone(), value));
    }
    Ok(out)
}

async fn resolve_one(endpoint: Option<&str>, secret: &SecretRef) -> Result<String, String> {
    let location = parse_value_from(&secret.value_from)?;
    let failed = |why: String| {
        format!(
            "unable to retrieve secret from asm: service call has been retried 1 time(s): failed to fetch secret {} from secrets manager: {why}",
            secret.value_from
        )
    };
    let Some(endpoint) = endpoint else {
        return Err(failed(
            "no Secrets Manager endpoint (set processes.secrets_manager_url in the scenario or --secrets-manager-url)".into(),
        ));
    };
    let string = get_secret_string(endpoint, &location)
        .await
        .map_err(failed)?;
    match &location.json_key {
        None => Ok(string),
        Some(key) => {
            let doc: Value = serde_json::from_str(&string)
                .map_err(|_| failed(format!("the secret is not JSON, so it has no key {key}")))?;
            match &doc[key.as_str()] {
                Value::String(s) => Ok(s.clone()),
                Value::Null => Err(failed(format!("the secret has no JSON key {key}"))),
                other => Ok(other.to_string()),
            }
        }
    }
}

/// `GetSecretValue` (JSON 1.1). The stage is always named: moto without a stage can return a
/// stale version (standins.md §2.4).
async fn get_secret_string(endpoint: &str, location: &SecretLocation) -> Result<String, String> {
    let mut body = json!({"SecretId": location.secret_id});
    match &location.version_id {
        Some(id) => body["VersionId"] = json!(id),
        None => {
            body["VersionStage"] = json!(location.version_stage.as_deref().unwrap_or("AWSCURRENT"))
        }
    }
    let doc = http_client::aws_json(
        endpoint,
        "secretsmanager.GetSecretValue",
        "secretsmanager",
        &body,
    )
    .await
    .map_err(|e| e.message)?;
    doc["SecretString"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| "the secret has no SecretString (binary secrets are not emulated)".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loc(
        id: &str,
        key: Option<&str>,
        stage: Option<&str>,
        version: Option<&str>,
    ) -> SecretLocation {
        SecretLocation {
            secret_id: id.into(),
            json_key: key.map(Into::into),
            version_stage: stage.map(Into::into),
            version_id: version.map(Into::into),
        }
    }

    /// valueFrom forms ECS accepts for Secrets Manager, and SSM refused with a reason.
    #[test]
    fn value_from_forms() {
        let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/api/JWT-AbCdEf";
        let table = [
            (arn.to_string(), Ok(loc(arn, None, None, None))),
            (
                format!("{arn}:password::"),
                Ok(loc(arn, Some("password"), None, None)),
            ),
            (
                format!("{arn}:password:AWSPREVIOUS:"),
                Ok(loc(arn, Some("password"), Some("AWSPREVIOUS"), None)),
            ),
            (
                format!("{arn}:::v-1"),
                Ok(loc(arn, None, None, Some("v-1"))),
            ),
            (
                "prod/api/JWT".to_string(),
                Ok(loc("prod/api/JWT", None, None, None)),
            ),
        ];
        for (input, expected) in table {
            assert_eq!(parse_value_from(&input), expected, "{input}");
        }
        assert!(
            parse_value_from("arn:aws:ssm:us-east-1:123456789012:parameter/db")
                .unwrap_err()
                .contains("ssm")
        );
        assert!(parse_value_from("arn:aws:s3:::bucket").is_err());
    }

    /// With no endpoint the task cannot start, and the reason says how to fix it.
    #[tokio::test]
    async fn no_endpoint_is_a_stopped_reason() {
        let secrets = [SecretRef {
            name: "JWT_SECRET".into(),
            value_from: "arn:aws:secretsmanager:us-east-1:123456789012:secret:jwt-AbCdEf".into(),
        }];
        let reason = resolve(None, &secrets).await.unwrap_err();
        assert!(
            reason.starts_with(
                "ResourceInitializationError: unable to pull secrets or registry auth: "
            ),
            "{reason}"
        );
        assert!(reason.contains("secrets_manager_url"), "{reason}");
        assert_eq!(resolve(None, &[]).await.unwrap(), vec![]);
    }
}
