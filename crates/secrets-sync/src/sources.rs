//! Reading a `--from`: a dotenv or JSON file, prefixed environment variables (through core's
//! Context), or Secrets Manager. Every value read is remembered by the redactor at once.

use aws_sdk_secretsmanager::Client;
use dk_core::{Context, Error, Result, Secret};

use crate::location::Location;
use crate::model::Entries;
use crate::redact::Redactor;
use crate::{dotenv, sm};

/// Whether reading this source needs no network (so its errors come before any AWS call).
pub fn is_local(from: &Location) -> bool {
    matches!(
        from,
        Location::Dotenv(_) | Location::JsonFile(_) | Location::Env(_)
    )
}

/// A local source (file or environment).
pub fn load_local(ctx: &Context, from: &Location, r: &Redactor) -> Result<Entries> {
    let entries = match from {
        Location::Dotenv(path) => {
            let text = read(path)?;
            dotenv::parse(&text).map_err(|e| {
                Error::usage(format!("{}: {e}", path.display()))
                    .with_hint("dotenv lines are KEY=VALUE; quote values with spaces or newlines")
            })?
        }
        Location::JsonFile(path) => {
            let text = read(path)?;
            let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
                Error::usage(format!(
                    "{}: not JSON (line {}, column {})",
                    path.display(),
                    e.line(),
                    e.column()
                ))
            })?;
            let serde_json::Value::Object(object) = value else {
                return Err(Error::usage(format!(
                    "{}: must hold one JSON object of keys, {{\"KEY\": \"value\"}}",
                    path.display()
                )));
            };
            sm::object_entries(&path.display().to_string(), &object)?
        }
        Location::Env(prefix) => ctx
            .vars_with_prefix(prefix)
            .filter_map(|(k, v)| {
                let key = k.strip_prefix(prefix.as_str())?;
                (!key.is_empty()).then(|| (key.to_string(), Secret::new(v.to_string())))
            })
            .collect(),
        other => {
            return Err(Error::usage(format!("{other} is not a local source")));
        }
    };
    for v in entries.values() {
        r.remember(v);
    }
    Ok(entries)
}

fn read(path: &std::path::Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| {
        Error::usage(format!("cannot read {}: {e}", path.display()))
            .with_hint("--from takes dotenv:FILE, json:FILE, env:PREFIX or aws:NAME")
    })
}

/// A Secrets Manager source: one JSON-object secret, or every secret under a prefix.
pub async fn load_aws(
    client: &Client,
    from: &Location,
    r: &Redactor,
    concurrency: usize,
) -> Result<Entries> {
    match from {
        Location::AwsSecret(name) => match sm::read_single(client, name, r).await? {
            Some(s) => sm::object_entries(name, &s.object),
            None => Err(Error::failed(format!("no secret named {name}"))
                .with_hint(format!("for one secret per key use aws:{name}/"))),
        },
        Location::AwsPrefix(prefix) => {
            let found = sm::read_prefix(client, prefix, r, concurrency).await?;
            Ok(sm::prefix_entries(&found))
        }
        other => Err(Error::usage(format!(
            "{other} is not a Secrets Manager source"
        ))),
    }
}
