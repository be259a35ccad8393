//! GitHub Actions secrets of a repository or an environment, through octocrab.
//!
//! Writing one: fetch the repository's (or environment's) public key, encrypt the value with a
//! libsodium sealed box (`crypto_box_seal`, X25519 + XSalsa20-Poly1305) and PUT the base64
//! ciphertext with the key id. GitHub never returns a value, so a plan can only say which names
//! exist: a key present on both sides is `unknown` and written again (see the README).
//!
//! Endpoints (GitHub REST, api version 2022-11-28):
//! `GET|PUT /repos/{owner}/{repo}/actions/secrets[/public-key|/{name}]` and
//! `GET|PUT /repos/{owner}/{repo}/environments/{env}/secrets[/public-key|/{name}]`.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use dk_core::github::ApiError;
use dk_core::poll::Deadline;
use dk_core::retry::Backoff;
use dk_core::{Error, Result, Secret, Ui};
use futures_util::stream::{self, StreamExt, TryStreamExt};
use octocrab::Octocrab;
use serde::Deserialize;

use crate::model::{Entries, PlanItem};
use crate::redact::neutralise;

/// Largest secret GitHub takes (48 KB).
pub const MAX_VALUE: usize = 48 * 1024;

/// How long one GitHub call may take, rate-limit waits and retries included: a limit asking
/// for longer is given up at once (exit 3), not waited for.
pub const CALL_BUDGET: Duration = Duration::from_secs(120);

pub struct GithubSecrets {
    crab: Octocrab,
    /// `/repos/o/r/actions/secrets` or `/repos/o/r/environments/e/secrets`.
    path: String,
    /// `o/r` or `o/r:e`, for messages.
    what: String,
    /// Where waits for GitHub are said.
    ui: Ui,
}

/// A GitHub name rule: `[A-Za-z0-9_]`, not starting with a digit or `GITHUB_`.
pub fn valid_secret_name(key: &str) -> bool {
    key.chars().next().is_some_and(|c| !c.is_ascii_digit())
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !key.to_ascii_uppercase().starts_with("GITHUB_")
}

/// Source keys as GitHub stores them (upper case); names GitHub refuses, values above its size
/// limit, and keys that collide once upper-cased are input errors.
pub fn normalise(source: Entries) -> Result<Entries> {
    let mut out = Entries::new();
    for (k, v) in source {
        if !valid_secret_name(&k) {
            return Err(Error::usage(format!("`{k}` cannot be a GitHub secret name"))
                .with_hint("GitHub secret names are letters, digits and `_`, not starting with a digit or GITHUB_"));
        }
        if v.expose().len() > MAX_VALUE {
            return Err(Error::usage(format!(
                "`{k}` is above GitHub's 48 KB secret size limit"
            )));
        }
        let upper = k.to_ascii_uppercase();
        if out.insert(upper.clone(), v).is_some() {
            return Err(Error::usage(format!(
                "two keys become the GitHub secret `{upper}` (names are case-insensitive)"
            )));
        }
    }
    Ok(out)
}

#[derive(Debug, Deserialize)]
struct PublicKey {
    key_id: String,
    key: String,
}

#[derive(Debug, Deserialize)]
struct SecretList {
    total_count: usize,
    secrets: Vec<SecretName>,
}

#[derive(Debug, Deserialize)]
struct SecretName {
    name: String,
}

#[derive(serde::Serialize)]
struct PutSecret<'a> {
    encrypted_value: &'a str,
    key_id: &'a str,
}

/// Encrypt for a GitHub public key (base64 X25519): a libsodium sealed box, base64.
pub fn seal(public_key_b64: &str, value: &Secret<String>) -> Result<String> {
    let bytes: [u8; 32] = B64
        .decode(public_key_b64.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| Error::runtime("GitHub's public key is not a base64 32-byte X25519 key"))?;
    let pk = crypto_box::PublicKey::from(bytes);
    let sealed = pk
        .seal(&mut crypto_box::aead::OsRng, value.expose().as_bytes())
        .map_err(|_| Error::runtime("cannot encrypt for GitHub's public key"))?;
    Ok(B64.encode(sealed))
}

impl GithubSecrets {
    pub fn new(
        ui: &Ui,
        api_url: &str,
        token: &Secret<String>,
        owner: &str,
        repo: &str,
        environment: Option<&str>,
    ) -> Result<GithubSecrets> {
        let crab = dk_core::github::client(api_url, token)?;
        let (path, what) = match environment {
            None => (
                format!("/repos/{owner}/{repo}/actions/secrets"),
                format!("{owner}/{repo}"),
            ),
            Some(e) => (
                format!("/repos/{owner}/{repo}/environments/{e}/secrets"),
                format!("{owner}/{repo} environment {e}"),
            ),
        };
        let ui = ui.clone();
        Ok(GithubSecrets {
            crab,
            path,
            what,
            ui,
        })
    }

    /// Names of every secret there (upper case).
    pub async fn list(&self) -> Result<Vec<String>> {
        let mut names = Vec::new();
        for page in 1..=50u32 {
            let route = format!("{}?per_page=100&page={page}", self.path);
            let list: SecretList = self
                .call("list secrets", || self.crab.get(&route, None::<&()>))
                .await?;
            let n = list.secrets.len();
            names.extend(
                list.secrets
                    .into_iter()
                    .map(|s| s.name.to_ascii_uppercase()),
            );
            if n < 100 || names.len() >= list.total_count {
                break;
            }
        }
        names.sort();
        Ok(names)
    }

    /// Encrypt and PUT every key the plan writes, a few at a time.
    pub async fn write(
        &self,
        source: &Entries,
        plan: &[PlanItem],
        concurrency: usize,
    ) -> Result<Vec<String>> {
        let route = format!("{}/public-key", self.path);
        let key: PublicKey = self
            .call("get the public key", || self.crab.get(&route, None::<&()>))
            .await?;
        let key = &key;
        let mut jobs = Vec::new();
        for item in plan.iter().filter(|i| i.change.acts()) {
            jobs.push(async move {
                let sealed = seal(&key.key, &source[&item.key])?;
                let route = format!("{}/{}", self.path, item.key);
                let body = PutSecret {
                    encrypted_value: &sealed,
                    key_id: &key.key_id,
                };
                self.call(&format!("write {}", item.key), || async {
                    let resp = self.crab._put(route.as_str(), Some(&body)).await?;
                    octocrab::map_github_error(resp).await.map(|_| ())
                })
                .await?;
                Ok::<_, Error>(item.key.clone())
            });
        }
        let mut done: Vec<String> = stream::iter(jobs)
            .buffer_unordered(concurrency.clamp(1, 8))
            .try_collect()
            .await?;
        done.sort();
        Ok(done)
    }

    /// One GitHub call through core's [`dk_core::github::call_keeping_source`]: rate limits
    /// waited out as GitHub asks (said on stderr), 5xx and unreachable retried with backoff, all
    /// within [`CALL_BUDGET`]; the last answer explained with the fix.
    async fn call<T, F, Fut>(&self, doing: &str, op: F) -> Result<T>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = octocrab::Result<T>>,
    {
        let backoff = Backoff {
            base: Duration::from_millis(200),
            max: Duration::from_secs(5),
            max_attempts: 4,
        };
        let deadline = Deadline::after(CALL_BUDGET);
        let on_wait = |e: &ApiError, wait: Duration| {
            self.ui.info(&format!(
                "GitHub {}: {doing}: {}; trying again in {:.1} s",
                self.what,
                e.describe(),
                wait.as_secs_f64()
            ));
        };
        dk_core::github::call_keeping_source(&deadline, backoff, on_wait, op)
            .await
            .map_err(|(e, source)| self.failure(doing, &e, source.as_ref()))
    }

    /// The error for GitHub's last answer `e` (`source`, when there was one, for GitHub's whole
    /// message: the redactor must see a value whole before anything shortens it).
    fn failure(&self, doing: &str, e: &ApiError, source: Option<&octocrab::Error>) -> Error {
        let what = &self.what;
        let (Some(status), Some(octocrab::Error::GitHub { source, .. })) = (e.status, source)
        else {
            return Error::runtime(format!(
                "GitHub {what}: {doing}: cannot reach the GitHub API: {}",
                neutralise(&e.message)
            ))
            .with_hint("check GITHUB_API_URL and the network");
        };
        let message = neutralise(&source.message);
        let base = format!("GitHub {what}: {doing}: {status} {message}");
        match status {
            401 => Error::runtime(base).with_hint("the token was refused: check GITHUB_TOKEN or --github-token"),
            403 if e.rate_limited.is_some() => Error::runtime(base),
            403 => Error::runtime(base).with_hint("the token may not write secrets: a fine-grained token needs `Secrets: read and write` (environments: also `Environments: read`); a classic token needs `repo`. A workflow's own GITHUB_TOKEN cannot manage secrets"),
            404 => Error::runtime(base).with_hint("check OWNER/REPO and the environment name; GitHub also answers 404 when the token cannot see the repository"),
            422 => Error::failed(base).with_hint("GitHub refused the secret (name or encrypted value); a changed public key mid-run also causes this — run again"),
            _ => Error::runtime(base),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// GitHub's name rules.
    #[test]
    fn names() {
        for ok in ["DB_URL", "_X", "a1"] {
            assert!(valid_secret_name(ok), "{ok}");
        }
        for bad in ["1A", "GITHUB_TOKEN", "github_x", "A-B", "A.B", ""] {
            assert!(!valid_secret_name(bad), "{bad}");
        }
    }

    /// A sealed box opens with the matching secret key, to the same bytes.
    #[test]
    fn seal_round_trip() {
        let sk = crypto_box::SecretKey::generate(&mut crypto_box::aead::OsRng);
        let pk = B64.encode(sk.public_key().as_bytes());
        let sealed = seal(&pk, &Secret::new("hello sealed".to_string())).unwrap();
        let opened = sk.unseal(&B64.decode(sealed).unwrap()).unwrap();
        assert_eq!(opened, b"hello sealed");
        assert!(seal("not-base64!", &Secret::new(String::new())).is_err());
    }
}
