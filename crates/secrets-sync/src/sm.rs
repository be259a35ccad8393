//! Secrets Manager: reading what a secret (or a prefix of secrets) holds, and writing only what a
//! plan says changed.
//!
//! - One secret holding a JSON object (`aws:NAME`): one read, at most one new version per apply.
//!   Keys are managed when the secret carries `managed-by=secrets-sync`.
//! - One secret per key (`aws:PREFIX/`): ListSecrets by name prefix (tags come with it),
//!   BatchGetSecretValue 20 at a time, then creates/puts/deletes run concurrently. A key is
//!   managed when its secret carries the tag; `--prune` deletes only those, always with a recovery
//!   window.
//!
//! Every write carries a ClientRequestToken derived from the content — secret name, the version
//! it replaces and that version's value, and the new value — so an SDK retry of a write that did
//! land is a no-op instead of a second version, while going back to an earlier value still makes
//! a new version (a token of the value alone would silently leave AWSCURRENT where it was).

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::types::{Filter, FilterNameStringType, Tag};
use dk_core::{Error, Result, Secret};
use futures_util::stream::{self, StreamExt, TryStreamExt};
use hmac::{Hmac, Mac};
use serde_json::{Map, Value};
use sha2::Sha256;

use crate::model::{Change, Entries, MANAGED_BY_KEY, MANAGED_BY_VALUE, PlanItem, TargetState};
use crate::redact::{Redactor, aws_error};

/// Largest SecretString Secrets Manager takes.
pub const MAX_VALUE: usize = 65_536;

/// Options for writes.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    pub kms_key_id: Option<String>,
    /// Tags for created secrets (ownership is added).
    pub tags: Vec<(String, String)>,
    pub recovery_window_days: i64,
    pub concurrency: usize,
}

/// What apply did, key by key.
#[derive(Debug, Default)]
pub struct Written {
    pub created: Vec<String>,
    pub updated: Vec<String>,
    pub deleted: Vec<String>,
}

/// The ClientRequestToken (and so the version id) of an update: an HMAC-SHA256 keyed by the value
/// it replaces, over the secret, the version it replaces and the new value (64 hex characters).
/// The same write gets the same token, so a retried write that landed is a no-op; going back to
/// an earlier value still makes a new version. Keyed by the old value, so someone who can list
/// version ids (but not read values) cannot test guesses of the new value against it.
pub fn update_token(
    id: &str,
    previous_version: &str,
    previous: &Secret<String>,
    value: &Secret<String>,
) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(previous.expose().as_bytes())
        .expect("HMAC takes a key of any length");
    for part in [
        b"secrets-sync/v2".as_slice(),
        id.as_bytes(),
        previous_version.as_bytes(),
    ] {
        mac.update(part);
        mac.update(b"\0");
    }
    mac.update(value.expose().as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The ClientRequestToken of a CreateSecret: random, not derived from the value (there is no
/// earlier value to key a hash with, and a plain hash would let guesses be tested). The SDK
/// reuses it on its own retries; a second run finds the secret and compares values instead.
pub fn create_token() -> String {
    (0..4)
        .map(|_| format!("{:016x}", fastrand::u64(..)))
        .collect()
}

fn owner_tags(user: &[(String, String)]) -> Vec<Tag> {
    let mut tags = vec![(MANAGED_BY_KEY.to_string(), MANAGED_BY_VALUE.to_string())];
    for (k, v) in user {
        tags.retain(|(e, _)| e != k);
        tags.push((k.clone(), v.clone()));
    }
    tags.into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

fn is_managed(tags: &[Tag]) -> bool {
    tags.iter()
        .any(|t| t.key() == Some(MANAGED_BY_KEY) && t.value() == Some(MANAGED_BY_VALUE))
}

/// A JSON object secret as read.
#[derive(Debug)]
pub struct SingleSecret {
    pub arn: String,
    pub version_id: String,
    pub raw: Secret<String>,
    pub object: Map<String, Value>,
    pub managed: bool,
}

/// Read `aws:NAME`. `None` when it does not exist.
pub async fn read_single(sm: &Client, name: &str, r: &Redactor) -> Result<Option<SingleSecret>> {
    let described = match sm.describe_secret().secret_id(name).send().await {
        Ok(d) => d,
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            return Ok(None);
        }
        Err(e) => return Err(aws_error(&format!("DescribeSecret {name}"), &e)),
    };
    if described.deleted_date().is_some() {
        return Err(
            Error::failed(format!("secret {name} is scheduled for deletion")).with_hint(format!(
                "restore it first: aws secretsmanager restore-secret --secret-id {name}"
            )),
        );
    }
    let got = sm
        .get_secret_value()
        .secret_id(name)
        .version_stage("AWSCURRENT")
        .send()
        .await
        .map_err(|e| aws_error(&format!("GetSecretValue {name}"), &e))?;
    let raw = Secret::new(got.secret_string().unwrap_or_default().to_string());
    r.remember(&raw);
    let object = match serde_json::from_str::<Value>(raw.expose()) {
        Ok(Value::Object(m)) => m,
        _ => {
            return Err(Error::failed(format!(
                "secret {name} does not hold a JSON object of keys"
            ))
            .with_hint(format!("use aws:{name}/ for one secret per key, or store a JSON object ({{\"KEY\": \"value\"}})")));
        }
    };
    for v in object.values() {
        if let Some(s) = v.as_str() {
            r.remember(&Secret::new(s.to_string()));
        }
    }
    Ok(Some(SingleSecret {
        arn: got.arn().unwrap_or(name).to_string(),
        version_id: got.version_id().unwrap_or_default().to_string(),
        raw,
        object,
        managed: is_managed(described.tags()),
    }))
}

/// A JSON object's members as entries: strings as they are, numbers and booleans as their JSON
/// text; anything else is refused naming the key.
pub fn object_entries(what: &str, object: &Map<String, Value>) -> Result<Entries> {
    let mut out = Entries::new();
    for (k, v) in object {
        let text = match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => {
                return Err(Error::usage(format!(
                    "{what}: `{k}` is not a string, number or boolean"
                )));
            }
        };
        out.insert(k.clone(), Secret::new(text));
    }
    Ok(out)
}

pub fn single_target(s: Option<&SingleSecret>) -> Result<TargetState> {
    let Some(s) = s else {
        return Ok(TargetState::default());
    };
    let values = object_entries(&s.arn, &s.object)?;
    Ok(TargetState {
        managed: if s.managed {
            values.keys().cloned().collect()
        } else {
            Vec::new()
        },
        values,
        opaque: Vec::new(),
    })
}

/// Write `aws:NAME` once, with every change of the plan; nothing when nothing changes.
pub async fn write_single(
    sm: &Client,
    name: &str,
    current: Option<&SingleSecret>,
    source: &Entries,
    plan: &[PlanItem],
    opts: &WriteOptions,
) -> Result<Written> {
    let mut written = Written::default();
    if !plan.iter().any(|i| i.change.acts()) {
        return Ok(written);
    }
    let mut object = current.map(|c| c.object.clone()).unwrap_or_default();
    for item in plan {
        match item.change {
            Change::Added | Change::Changed => {
                let v = source[&item.key].expose().clone();
                object.insert(item.key.clone(), Value::String(v));
                if item.change == Change::Added {
                    written.created.push(item.key.clone());
                } else {
                    written.updated.push(item.key.clone());
                }
            }
            Change::Removed => {
                object.shift_remove(&item.key);
                written.deleted.push(item.key.clone());
            }
            _ => {}
        }
    }
    let text = Secret::new(
        serde_json::to_string(&Value::Object(object))
            .map_err(|e| Error::runtime(format!("cannot encode {name}: {e}")))?,
    );
    if text.expose().len() > MAX_VALUE {
        return Err(Error::usage(format!(
            "the JSON for {name} would exceed Secrets Manager's {MAX_VALUE}-character limit"
        ))
        .with_hint(format!("use aws:{name}/ (one secret per key)")));
    }
    match current {
        Some(c) => put_value(sm, &c.arn, Some((c.version_id.as_str(), &c.raw)), &text).await,
        None => create(sm, name, &text, opts).await,
    }?;
    Ok(written)
}

async fn create(
    sm: &Client,
    name: &str,
    value: &Secret<String>,
    opts: &WriteOptions,
) -> Result<()> {
    let mut req = sm
        .create_secret()
        .name(name)
        .secret_string(value.expose())
        .client_request_token(create_token())
        .set_tags(Some(owner_tags(&opts.tags)))
        .description("Managed by secrets-sync");
    if let Some(k) = &opts.kms_key_id {
        req = req.kms_key_id(k);
    }
    req.send()
        .await
        .map(|_| ())
        .map_err(|e| aws_error(&format!("CreateSecret {name}"), &e))
}

async fn put_value(
    sm: &Client,
    id: &str,
    previous: Option<(&str, &Secret<String>)>,
    value: &Secret<String>,
) -> Result<()> {
    sm.put_secret_value()
        .secret_id(id)
        .secret_string(value.expose())
        .client_request_token(match previous {
            Some((version, old)) => update_token(id, version, old, value),
            None => create_token(),
        })
        .send()
        .await
        .map(|_| ())
        .map_err(|e| aws_error(&format!("PutSecretValue {id}"), &e))
}

/// One secret of a prefix, as read.
#[derive(Debug)]
pub struct PrefixSecret {
    pub key: String,
    pub arn: String,
    pub managed: bool,
    /// Scheduled for deletion: absent for planning, restored if written again.
    pub deleted: bool,
    /// AWSCURRENT version id and value (not for deleted ones).
    pub current: Option<(String, Secret<String>)>,
}

/// Every secret under `prefix` whose remainder is a valid key, with its current value.
pub async fn read_prefix(
    sm: &Client,
    prefix: &str,
    r: &Redactor,
    concurrency: usize,
) -> Result<Vec<PrefixSecret>> {
    let mut found = Vec::new();
    let mut token = None;
    loop {
        let out = sm
            .list_secrets()
            .filters(
                Filter::builder()
                    .key(FilterNameStringType::Name)
                    .values(prefix)
                    .build(),
            )
            .include_planned_deletion(true)
            .max_results(100)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| aws_error(&format!("ListSecrets {prefix}"), &e))?;
        for s in out.secret_list() {
            let (Some(name), Some(arn)) = (s.name(), s.arn()) else {
                continue;
            };
            let Some(key) = name.strip_prefix(prefix) else {
                continue;
            };
            if !crate::dotenv::valid_key(key) {
                continue;
            }
            found.push(PrefixSecret {
                key: key.to_string(),
                arn: arn.to_string(),
                managed: is_managed(s.tags()),
                deleted: s.deleted_date().is_some(),
                current: None,
            });
        }
        token = out.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    let live: Vec<String> = found
        .iter()
        .filter(|s| !s.deleted)
        .map(|s| s.arn.clone())
        .collect();
    let batches: Vec<Vec<String>> = live.chunks(20).map(<[String]>::to_vec).collect();
    // Futures collected first: a lazy iterator of closures inside a Send future trips the
    // compiler's higher-ranked lifetime check.
    let gets: Vec<_> = batches
        .into_iter()
        .map(|batch| batch_get(sm, batch))
        .collect();
    let values: Vec<Vec<(String, String, Secret<String>)>> = stream::iter(gets)
        .buffer_unordered(concurrency.max(1))
        .try_collect()
        .await?;
    for (arn, version, value) in values.into_iter().flatten() {
        r.remember(&value);
        if let Some(s) = found.iter_mut().find(|s| s.arn == arn) {
            s.current = Some((version, value));
        }
    }
    Ok(found)
}

async fn batch_get(
    sm: &Client,
    arns: Vec<String>,
) -> Result<Vec<(String, String, Secret<String>)>> {
    let out = sm
        .batch_get_secret_value()
        .set_secret_id_list(Some(arns))
        .send()
        .await
        .map_err(|e| aws_error("BatchGetSecretValue", &e))?;
    if let Some(e) = out.errors().first() {
        return Err(Error::runtime(format!(
            "BatchGetSecretValue {}: {}: {}",
            e.secret_id().unwrap_or("?"),
            e.error_code().unwrap_or("error"),
            crate::redact::neutralise(e.message().unwrap_or(""))
        )));
    }
    Ok(out
        .secret_values()
        .iter()
        .map(|v| {
            (
                v.arn().unwrap_or_default().to_string(),
                v.version_id().unwrap_or_default().to_string(),
                Secret::new(v.secret_string().unwrap_or_default().to_string()),
            )
        })
        .collect())
}

pub fn prefix_target(found: &[PrefixSecret]) -> TargetState {
    let mut t = TargetState::default();
    for s in found {
        if let Some((_, v)) = &s.current {
            t.values.insert(s.key.clone(), v.clone());
            if s.managed {
                t.managed.push(s.key.clone());
            }
        }
    }
    t
}

pub fn prefix_entries(found: &[PrefixSecret]) -> Entries {
    prefix_target(found).values
}

/// Apply a plan to `aws:PREFIX/`, `opts.concurrency` requests at a time.
pub async fn write_prefix(
    sm: &Client,
    prefix: &str,
    found: &[PrefixSecret],
    source: &Entries,
    plan: &[PlanItem],
    opts: &WriteOptions,
) -> Result<Written> {
    let acting: Vec<&PlanItem> = plan.iter().filter(|i| i.change.acts()).collect();
    let mut jobs = Vec::with_capacity(acting.len());
    for item in acting {
        jobs.push(async move {
            let existing = found.iter().find(|s| s.key == item.key);
            let name = format!("{prefix}{}", item.key);
            match (item.change, existing) {
                (Change::Removed, Some(s)) => {
                    sm.delete_secret()
                        .secret_id(&s.arn)
                        .recovery_window_in_days(opts.recovery_window_days)
                        .send()
                        .await
                        .map_err(|e| aws_error(&format!("DeleteSecret {name}"), &e))?;
                    Ok::<_, Error>((Change::Removed, item.key.clone()))
                }
                (_, Some(s)) => {
                    if s.deleted {
                        sm.restore_secret()
                            .secret_id(&s.arn)
                            .send()
                            .await
                            .map_err(|e| aws_error(&format!("RestoreSecret {name}"), &e))?;
                    }
                    let previous = s.current.as_ref().map(|(v, val)| (v.as_str(), val));
                    put_value(sm, &s.arn, previous, &source[&item.key]).await?;
                    Ok::<_, Error>((Change::Changed, item.key.clone()))
                }
                (_, None) => {
                    create(sm, &name, &source[&item.key], opts).await?;
                    Ok::<_, Error>((Change::Added, item.key.clone()))
                }
            }
        });
    }
    let done: Vec<(Change, String)> = stream::iter(jobs)
        .buffer_unordered(opts.concurrency.max(1))
        .try_collect()
        .await?;
    let mut w = Written::default();
    for (c, k) in done {
        match c {
            Change::Added => w.created.push(k),
            Change::Removed => w.deleted.push(k),
            _ => w.updated.push(k),
        }
    }
    w.created.sort();
    w.updated.sort();
    w.deleted.sort();
    Ok(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An update's token is stable for the same write, differs for another value, another
    /// starting version or another old value (so A→B→A makes a new version, and the token cannot
    /// be recomputed without the old value), and is 32–64 characters as AWS requires.
    #[test]
    fn update_tokens() {
        let a = Secret::new("value-a".to_string());
        let b = Secret::new("value-b".to_string());
        let c = Secret::new("value-c".to_string());
        let t = update_token("n", "v1", &b, &a);
        assert_eq!(t, update_token("n", "v1", &b, &a));
        assert_ne!(t, update_token("n", "v1", &b, &c));
        assert_ne!(t, update_token("n", "v1", &c, &a));
        assert_ne!(t, update_token("n", "v2", &b, &a));
        assert_ne!(t, update_token("m", "v1", &b, &a));
        assert!((32..=64).contains(&t.len()));
        assert!(!t.contains("value"));
    }

    /// A create's token is not a function of the value: two creates of one value differ.
    #[test]
    fn create_tokens_are_random() {
        let (x, y) = (create_token(), create_token());
        assert_ne!(x, y);
        assert!((32..=64).contains(&x.len()), "{x}");
        assert!(x.bytes().all(|b| b.is_ascii_hexdigit()));
    }
}
