//! `export`: secrets for the rest of a job. Every value is registered with the runner
//! (`::add-mask::`) before anything is written, then the pairs go to `$GITHUB_ENV` (the runner's
//! `NAME<<DELIMITER` syntax with a random delimiter checked against the value, so multi-line
//! values are safe and cannot inject variables) or to a dotenv file created with mode 0600.

use std::io::Write;
use std::path::Path;

use dk_core::aws::AwsArgs;
use dk_core::{Error, Outcome, Result, Ui};
use serde_json::json;

use crate::location::ExportTo;
use crate::model::Entries;
use crate::redact::Redactor;
use crate::{ExportArgs, dotenv, sources};

/// An environment variable name: a letter or `_`, then letters, digits or `_`.
pub fn valid_env_name(k: &str) -> bool {
    k.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

pub async fn run(ui: &Ui, aws: &AwsArgs, args: &ExportArgs, r: &Redactor) -> Result<Outcome> {
    let ctx = ui.context();
    let (from, to) = args.validate(ctx)?;
    let client = aws_sdk_secretsmanager::Client::new(&dk_core::aws::sdk_config(ui, aws).await?);
    let all = sources::load_aws(&client, &from, r, 16).await?;
    // Masks first: nothing below may print before the runner knows every value.
    for v in all.values() {
        ui.mask(v);
    }
    let chosen = select(&all, &args.keys, &from.to_string())?;
    let pairs: Vec<(String, String)> = chosen
        .iter()
        .map(|(k, v)| (k.clone(), v.expose().clone()))
        .collect();
    let dest = match &to {
        ExportTo::GithubEnv => {
            let path = ctx
                .var(dk_core::env_vars::GITHUB_ENV)
                .ok_or_else(|| Error::usage("$GITHUB_ENV is not set"))?;
            dk_core::gha::write_outputs(Path::new(path), &pairs)
                .map_err(|e| Error::runtime(format!("cannot write $GITHUB_ENV: {e}")))?;
            "$GITHUB_ENV".to_string()
        }
        ExportTo::Dotenv(path) => {
            let refs: Vec<(&str, &str)> = pairs
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            write_private(path, &dotenv::render(&refs))
                .map_err(|e| Error::runtime(format!("cannot write {}: {e}", path.display())))?;
            path.display().to_string()
        }
    };
    let keys: Vec<&str> = chosen.keys().map(String::as_str).collect();
    Ok(Outcome::succeeded(
        "exported",
        format!(
            "exported {} key(s) from {from} to {dest}, masked",
            keys.len()
        ),
    )
    .output("keys", keys.join(","))
    .output("count", keys.len() as u64)
    .detail(json!({ "from": from.to_string(), "to": dest, "keys": keys }))
    .text(keys.join("\n")))
}

/// The requested keys (all when none are named); a missing one is named, and every key must be
/// a valid variable name.
fn select(all: &Entries, keys: &[String], from: &str) -> Result<Entries> {
    let chosen: Entries = if keys.is_empty() {
        all.clone()
    } else {
        let mut out = Entries::new();
        for k in keys {
            let v = all.get(k).ok_or_else(|| {
                let hint = dk_core::error::did_you_mean(k, all.keys().map(String::as_str))
                    .map(|m| format!("did you mean `{m}`?"))
                    .unwrap_or_else(|| format!("{from} has {} key(s)", all.len()));
                Error::failed(format!("`{k}` is not in {from}")).with_hint(hint)
            })?;
            out.insert(k.clone(), v.clone());
        }
        out
    };
    if let Some(bad) = chosen.keys().find(|k| !valid_env_name(k)) {
        return Err(
            Error::usage(format!("`{bad}` is not an environment variable name"))
                .with_hint("choose keys with --keys"),
        );
    }
    Ok(chosen)
}

/// Create or replace `path` with mode 0600 (also when it existed with wider permissions).
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)?;
    f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    f.set_len(0)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()
}
