//! A small client for the registry HTTP API (distribution spec v2): blob HEAD, cross-repository
//! mount, monolithic streamed upload, manifest HEAD/GET/PUT. It answers 401 challenges itself
//! (Basic with the ECR credentials, or Bearer through the advertised token service) and classifies
//! every failure so callers know what to retry: 408/429/5xx, resets and timeouts are transient;
//! 401/403 are auth errors; anything else is permanent.
//!
//! Uploads are a monolithic `PUT` with a streamed body: ECR's chunked PATCH path is unreliable
//! (it answers 201 instead of 202 and may drop later chunks), and one PUT is also the fewest round
//! trips.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use dk_core::Secret;
use dk_core::retry::{Backoff, Transient, retry};
use reqwest::header::{
    ACCEPT, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, HeaderMap, HeaderValue, LOCATION,
    WWW_AUTHENTICATE,
};
use reqwest::{Method, RequestBuilder, Response, StatusCode, Url};

use crate::auth::{Challenge, Credentials, parse_challenge};
use crate::manifest::{ACCEPT_ALL, sha256_digest};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Worth another attempt: 408/429/5xx, connection reset, timeout.
    Transient,
    /// The connection could not be made at all (refused, DNS): retried a little, then exit 3.
    Unreachable,
    /// Still unreachable after the connection attempts: not retried further.
    Down,
    /// 401/403 after answering the challenge.
    Auth,
    /// The registry refused to move a tag (`TAG_INVALID`, as ECR does for immutable tags).
    TagInvalid,
    /// The bytes we streamed did not hash to the digest we announced: the source is corrupt.
    DigestMismatch,
    /// Anything else (bad request, unknown blob, …).
    Permanent,
}

#[derive(Debug)]
pub struct RegistryError {
    pub class: ErrorClass,
    pub message: String,
}

impl std::fmt::Display for RegistryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for RegistryError {}

impl Transient for RegistryError {
    fn is_transient(&self) -> bool {
        matches!(self.class, ErrorClass::Transient | ErrorClass::Unreachable)
    }
}

impl RegistryError {
    pub fn new(class: ErrorClass, message: impl Into<String>) -> Self {
        RegistryError {
            class,
            message: message.into(),
        }
    }

    fn from_reqwest(doing: &str, e: &reqwest::Error) -> Self {
        let mut text = e.to_string();
        let mut src = std::error::Error::source(e);
        while let Some(s) = src {
            text.push_str(&format!(": {s}"));
            src = s.source();
        }
        let class = if e.is_connect() {
            ErrorClass::Unreachable
        } else if e.is_redirect() {
            // A refused redirect (plain http elsewhere, a loop) will not change on retry.
            ErrorClass::Permanent
        } else {
            ErrorClass::Transient
        };
        RegistryError::new(class, format!("{doing}: {text}"))
    }
}

/// What came of a mount request.
#[derive(Debug)]
pub enum MountResult {
    Mounted,
    /// The registry did not mount but opened an upload session instead (spec-allowed fallback).
    Session(Url),
}

pub type Res<T> = std::result::Result<T, RegistryError>;

/// Request retry policy for registry calls: jittered exponential backoff.
pub fn backoff(attempts: u32) -> Backoff {
    Backoff {
        base: Duration::from_millis(50),
        max: Duration::from_secs(4),
        max_attempts: attempts.max(1),
    }
}

#[derive(Default)]
struct AuthState {
    challenge: Option<Challenge>,
    /// Bearer tokens by scope set.
    tokens: HashMap<String, Secret<String>>,
}

/// Log in again for fresh credentials (ECR: GetAuthorizationToken), with their expiry.
pub trait Relogin: Send + Sync {
    fn relogin(
        &self,
    ) -> futures_util::future::BoxFuture<'_, Result<(Credentials, Option<SystemTime>), String>>;
}

/// Credentials are renewed this long before they expire.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(15 * 60);

/// Whether credentials expiring at `expires_at` must be renewed at `now`. `None` (no expiry
/// known, or one that had already passed when the token was issued — moto's fixed 2015 date)
/// never is.
pub fn refresh_due(expires_at: Option<SystemTime>, now: SystemTime) -> bool {
    expires_at.is_some_and(|t| t <= now + REFRESH_MARGIN)
}

pub struct RegistryClient {
    http: reqwest::Client,
    base: Url,
    host: String,
    credentials: Mutex<Option<Credentials>>,
    expires_at: Mutex<Option<SystemTime>>,
    relogin: Option<Arc<dyn Relogin>>,
    /// One renewal at a time, however many uploads notice the expiry.
    renewing: tokio::sync::Mutex<()>,
    auth: Mutex<AuthState>,
    attempts: u32,
}

impl std::fmt::Debug for RegistryClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryClient")
            .field("base", &self.base.as_str())
            .finish_non_exhaustive()
    }
}

/// `repository:<repo>:pull,push`
pub fn push_scope(repo: &str) -> String {
    format!("repository:{repo}:pull,push")
}

/// The longest one manifest read may take, body included (the per-read timeout alone lets a
/// trickling registry go on for ever).
pub const MANIFEST_READ_TIMEOUT: Duration = Duration::from_secs(120);

/// `repository:<repo>:pull`
pub fn pull_scope(repo: &str) -> String {
    format!("repository:{repo}:pull")
}

impl RegistryClient {
    /// `base` is `scheme://host[:port]` (already checked: https, or http to loopback).
    pub fn new(
        base: &str,
        credentials: Option<Credentials>,
        attempts: u32,
    ) -> Result<Self, String> {
        let base = Url::parse(base).map_err(|e| format!("`{base}` is not a URL: {e}"))?;
        let host = match (base.host_str(), base.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_string(),
            _ => return Err(format!("`{base}` has no host")),
        };
        let mut builder = reqwest::Client::builder();
        if base.scheme() == "http" {
            // Plain HTTP is loopback only: skip loading the system's root certificates, which
            // is most of a warm push's start-up.
            builder = builder.tls_certs_only(Vec::<reqwest::Certificate>::new());
        }
        let http = builder
            .user_agent(concat!("deploy-kit-ecr-push/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(5))
            .read_timeout(Duration::from_secs(60))
            .pool_idle_timeout(Duration::from_secs(30))
            .http1_only()
            .redirect(redirect_policy())
            .build()
            .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
        Ok(RegistryClient {
            http,
            base,
            host,
            credentials: Mutex::new(credentials),
            expires_at: Mutex::new(None),
            relogin: None,
            renewing: tokio::sync::Mutex::new(()),
            auth: Mutex::new(AuthState::default()),
            attempts,
        })
    }

    /// Renew the credentials through `relogin` before `expires_at` (ECR tokens last 12 hours).
    pub fn with_relogin(
        mut self,
        relogin: Arc<dyn Relogin>,
        expires_at: Option<SystemTime>,
    ) -> Self {
        self.relogin = Some(relogin);
        *self.expires_at.get_mut().unwrap_or_else(|p| p.into_inner()) = expires_at;
        self
    }

    fn credentials(&self) -> Option<Credentials> {
        self.credentials
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn expiry(&self) -> Option<SystemTime> {
        *self.expires_at.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Log in again when the credentials are about to expire; Bearer tokens made from the old
    /// ones are dropped.
    async fn refresh_if_due(&self, doing: &str) -> Res<()> {
        let Some(relogin) = &self.relogin else {
            return Ok(());
        };
        if !refresh_due(self.expiry(), SystemTime::now()) {
            return Ok(());
        }
        let _one_at_a_time = self.renewing.lock().await;
        if !refresh_due(self.expiry(), SystemTime::now()) {
            return Ok(());
        }
        let (creds, expires_at) = relogin.relogin().await.map_err(|e| {
            RegistryError::new(
                ErrorClass::Auth,
                format!("{doing}: renewing the registry credentials: {e}"),
            )
        })?;
        *self.credentials.lock().unwrap_or_else(|p| p.into_inner()) = Some(creds);
        *self.expires_at.lock().unwrap_or_else(|p| p.into_inner()) = expires_at;
        self.lock().tokens.clear();
        Ok(())
    }

    /// `host[:port]`, as it appears in image references.
    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    fn url(&self, path: &str) -> Url {
        let mut u = self.base.clone();
        u.set_path(path);
        u
    }

    /// Same scheme, host and port as the registry endpoint.
    fn is_own_origin(&self, url: &Url) -> bool {
        url.scheme() == self.base.scheme()
            && url.host_str() == self.base.host_str()
            && url.port_or_known_default() == self.base.port_or_known_default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, AuthState> {
        self.auth.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The Authorization header for these scopes, if we know how to authenticate yet.
    fn auth_header(&self, scopes: &[String]) -> Option<Secret<String>> {
        let st = self.lock();
        match &st.challenge {
            Some(Challenge::Basic) => self.credentials().as_ref().map(Credentials::basic_header),
            Some(Challenge::Bearer { .. }) => st
                .tokens
                .get(&scopes.join(" "))
                .map(|t| Secret::new(format!("Bearer {}", t.expose()))),
            None => None,
        }
    }

    /// Send one request, answering a 401 challenge once. `build` may be called twice, so it
    /// must build a fresh request (and body) each time.
    async fn send(
        &self,
        doing: &str,
        scopes: &[String],
        build: impl Fn(&reqwest::Client) -> RequestBuilder,
    ) -> Res<Response> {
        self.refresh_if_due(doing).await?;
        let mut answered = false;
        loop {
            let mut req = build(&self.http)
                .build()
                .map_err(|e| RegistryError::new(ErrorClass::Permanent, format!("{doing}: {e}")))?;
            // Credentials go to the registry itself only: an upload Location on another host
            // gets none, and its 401 is not answered with them either.
            let own = self.is_own_origin(req.url());
            if own && let Some(h) = self.auth_header(scopes) {
                let mut value = HeaderValue::from_str(h.expose()).map_err(|_| {
                    RegistryError::new(
                        ErrorClass::Auth,
                        format!("{doing}: the credentials are not a valid HTTP header value"),
                    )
                })?;
                value.set_sensitive(true);
                req.headers_mut().insert(AUTHORIZATION, value);
            }
            let resp = self
                .http
                .execute(req)
                .await
                .map_err(|e| RegistryError::from_reqwest(doing, &e))?;
            if resp.status() != StatusCode::UNAUTHORIZED || answered || !own {
                return Ok(resp);
            }
            answered = true;
            let challenge = resp
                .headers()
                .get(WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
                .and_then(parse_challenge);
            match challenge {
                Some(Challenge::Basic) => {
                    if self.credentials().is_none() {
                        return Err(RegistryError::new(
                            ErrorClass::Auth,
                            format!(
                                "{doing}: the registry {} asks for credentials and none were given",
                                self.host
                            ),
                        ));
                    }
                    self.lock().challenge = Some(Challenge::Basic);
                }
                Some(bearer @ Challenge::Bearer { .. }) => {
                    let token = self.fetch_bearer_token(doing, &bearer, scopes).await?;
                    let mut st = self.lock();
                    st.challenge = Some(bearer);
                    st.tokens.insert(scopes.join(" "), token);
                }
                None => {
                    return Err(RegistryError::new(
                        ErrorClass::Auth,
                        format!(
                            "{doing}: 401 from {} without a challenge we understand",
                            self.host
                        ),
                    ));
                }
            }
        }
    }

    /// The token-service leg of the Bearer flow (distribution "token authentication").
    async fn fetch_bearer_token(
        &self,
        doing: &str,
        challenge: &Challenge,
        scopes: &[String],
    ) -> Res<Secret<String>> {
        let Challenge::Bearer {
            realm,
            service,
            scope,
        } = challenge
        else {
            return Err(RegistryError::new(
                ErrorClass::Auth,
                "not a bearer challenge",
            ));
        };
        let mut url = Url::parse(realm).map_err(|_| {
            RegistryError::new(
                ErrorClass::Auth,
                format!("{doing}: bad token realm `{realm}`"),
            )
        })?;
        if url.scheme() != "https"
            && !dk_core::aws::is_loopback_authority(url.host_str().unwrap_or(""))
        {
            return Err(RegistryError::new(
                ErrorClass::Auth,
                format!("{doing}: token realm `{realm}` is not https"),
            ));
        }
        {
            let mut q = url.query_pairs_mut();
            if let Some(s) = service {
                q.append_pair("service", s);
            }
            let mut all: Vec<&str> = scopes.iter().map(String::as_str).collect();
            if let Some(s) = scope
                && !all.contains(&s.as_str())
            {
                all.push(s);
            }
            for s in all {
                q.append_pair("scope", s);
            }
        }
        let mut req = self.http.get(url);
        if let Some(c) = self.credentials() {
            req = req.header(AUTHORIZATION, c.basic_header().expose());
        }
        let resp = req
            .send()
            .await
            .map_err(|e| RegistryError::from_reqwest(doing, &e))?;
        if !resp.status().is_success() {
            return Err(status_error(&format!("{doing} (token service)"), resp).await);
        }
        #[derive(serde::Deserialize)]
        struct Token {
            token: Option<String>,
            access_token: Option<String>,
        }
        let body = read_limited(doing, resp, 1 << 20, "the token service answer").await?;
        let t: Token = serde_json::from_slice(&body).map_err(|e| {
            RegistryError::new(
                ErrorClass::Transient,
                format!("{doing}: token service answer: {e}"),
            )
        })?;
        t.token.or(t.access_token).map(Secret::new).ok_or_else(|| {
            RegistryError::new(
                ErrorClass::Auth,
                format!("{doing}: the token service returned no token"),
            )
        })
    }

    /// `GET /v2/`: is the registry there, and do our credentials work?
    pub async fn ping(&self, connect_attempts: u32) -> Res<()> {
        let doing = format!("reaching the registry {}", self.host);
        retry(backoff(self.attempts), None, |attempt| {
            let doing = &doing;
            async move {
                let resp = match self.send(doing, &[], |c| c.get(self.url("/v2/"))).await {
                    Ok(r) => r,
                    // Nobody listening: give up after a few tries instead of the full budget
                    // that answers such as 503 get.
                    Err(e) if e.class == ErrorClass::Unreachable && attempt >= connect_attempts => {
                        return Err(RegistryError::new(ErrorClass::Down, e.message));
                    }
                    Err(e) => return Err(e),
                };
                if resp.status().is_success() {
                    Ok(())
                } else {
                    Err(status_error(doing, resp).await)
                }
            }
        })
        .await
    }

    /// The size of a blob when the repository has it.
    pub async fn blob_size(&self, repo: &str, digest: &str) -> Res<Option<u64>> {
        let doing = format!("checking blob {} in {repo}", short(digest));
        let scopes = [push_scope(repo)];
        retry(backoff(self.attempts), None, |_| async {
            let url = self.url(&format!("/v2/{repo}/blobs/{digest}"));
            let resp = self.send(&doing, &scopes, |c| c.head(url.clone())).await?;
            match resp.status() {
                s if s.is_success() => Ok(Some(content_length(resp.headers()).unwrap_or(0))),
                StatusCode::NOT_FOUND => Ok(None),
                _ => Err(status_error(&doing, resp).await),
            }
        })
        .await
    }

    /// Cross-repository mount. A registry that cannot mount opens a normal upload session.
    pub async fn mount_blob(&self, repo: &str, digest: &str, from: &str) -> Res<MountResult> {
        let doing = format!("mounting blob {} into {repo} from {from}", short(digest));
        let scopes = [push_scope(repo), pull_scope(from)];
        retry(backoff(self.attempts), None, |_| async {
            let mut url = self.url(&format!("/v2/{repo}/blobs/uploads/"));
            url.query_pairs_mut()
                .append_pair("mount", digest)
                .append_pair("from", from);
            let resp = self
                .send(&doing, &scopes, |c| {
                    c.post(url.clone()).header(CONTENT_LENGTH, "0")
                })
                .await?;
            match resp.status() {
                StatusCode::CREATED => Ok(MountResult::Mounted),
                StatusCode::ACCEPTED => Ok(MountResult::Session(self.location(&doing, &resp)?)),
                _ => Err(status_error(&doing, resp).await),
            }
        })
        .await
    }

    /// Open an upload session (one attempt: the caller retries the whole blob).
    pub async fn start_upload(&self, repo: &str) -> Res<Url> {
        let doing = format!("starting an upload to {repo}");
        let url = self.url(&format!("/v2/{repo}/blobs/uploads/"));
        let resp = self
            .send(&doing, &[push_scope(repo)], |c| {
                c.post(url.clone()).header(CONTENT_LENGTH, "0")
            })
            .await?;
        if resp.status() == StatusCode::ACCEPTED {
            self.location(&doing, &resp)
        } else {
            Err(status_error(&doing, resp).await)
        }
    }

    /// Finish a session with one `PUT ?digest=` carrying the whole blob (one attempt).
    pub async fn put_blob(
        &self,
        repo: &str,
        session: &Url,
        digest: &str,
        size: u64,
        body: impl Fn() -> Res<reqwest::Body>,
    ) -> Res<()> {
        let doing = format!("uploading blob {} to {repo}", short(digest));
        let mut url = session.clone();
        url.query_pairs_mut().append_pair("digest", digest);
        let body_err: Mutex<Option<RegistryError>> = Mutex::new(None);
        let resp = self
            .send(&doing, &[push_scope(repo)], |c| {
                let body = match body() {
                    Ok(b) => b,
                    Err(e) => {
                        *body_err.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                        reqwest::Body::from(Vec::new())
                    }
                };
                c.put(url.clone())
                    .header(CONTENT_TYPE, "application/octet-stream")
                    .header(CONTENT_LENGTH, size.to_string())
                    .body(body)
            })
            .await;
        if let Some(e) = body_err.into_inner().unwrap_or_else(|p| p.into_inner()) {
            return Err(e);
        }
        let resp = resp?;
        if resp.status() == StatusCode::CREATED {
            Ok(())
        } else {
            Err(status_error(&doing, resp).await)
        }
    }

    /// Abandon an upload session (best effort; registries expire them anyway).
    pub async fn cancel_upload(&self, repo: &str, session: &Url) {
        let _ = self
            .send("cancelling an upload", &[push_scope(repo)], |c| {
                c.delete(session.clone())
            })
            .await;
    }

    /// `GET` a blob for streaming (one attempt: the caller retries the whole copy).
    pub async fn get_blob(&self, repo: &str, digest: &str) -> Res<Response> {
        let doing = format!("downloading blob {} from {repo}", short(digest));
        let url = self.url(&format!("/v2/{repo}/blobs/{digest}"));
        let resp = self
            .send(&doing, &[pull_scope(repo)], |c| c.get(url.clone()))
            .await?;
        if resp.status().is_success() {
            Ok(resp)
        } else {
            Err(status_error(&doing, resp).await)
        }
    }

    /// The digest a tag (or digest) points at, if any.
    pub async fn manifest_digest(&self, repo: &str, reference: &str) -> Res<Option<String>> {
        let doing = format!("looking up {repo}:{reference}");
        let scopes = [push_scope(repo)];
        retry(backoff(self.attempts), None, |_| async {
            let url = self.url(&format!("/v2/{repo}/manifests/{reference}"));
            let resp = self
                .send(&doing, &scopes, |c| {
                    c.request(Method::HEAD, url.clone())
                        .header(ACCEPT, ACCEPT_ALL)
                })
                .await?;
            match resp.status() {
                StatusCode::NOT_FOUND => Ok(None),
                s if s.is_success() => match header(resp.headers(), "docker-content-digest") {
                    Some(d) => Ok(Some(d)),
                    // Some registries omit the header on HEAD: hash the body instead.
                    None => Ok(Some(
                        self.get_manifest_with(&doing, &scopes, repo, reference)
                            .await?
                            .0
                            .digest,
                    )),
                },
                _ => Err(status_error(&doing, resp).await),
            }
        })
        .await
    }

    /// A manifest's bytes and media type (for a registry source).
    pub async fn get_manifest(
        &self,
        repo: &str,
        reference: &str,
    ) -> Res<(FetchedManifest, String)> {
        let doing = format!("reading the manifest {repo}:{reference}");
        let scopes = [pull_scope(repo)];
        retry(backoff(self.attempts), None, |_| {
            self.get_manifest_with(&doing, &scopes, repo, reference)
        })
        .await
    }

    async fn get_manifest_with(
        &self,
        doing: &str,
        scopes: &[String],
        repo: &str,
        reference: &str,
    ) -> Res<(FetchedManifest, String)> {
        let url = self.url(&format!("/v2/{repo}/manifests/{reference}"));
        let resp = self
            .send(doing, scopes, |c| {
                // A whole manifest (≤ 4 MiB) in this time, however the bytes trickle in.
                c.get(url.clone())
                    .header(ACCEPT, ACCEPT_ALL)
                    .timeout(MANIFEST_READ_TIMEOUT)
            })
            .await?;
        if !resp.status().is_success() {
            return Err(status_error(doing, resp).await);
        }
        let media_type = header(resp.headers(), "content-type").unwrap_or_default();
        let bytes = read_limited(
            doing,
            resp,
            crate::manifest::MAX_MANIFEST_BYTES,
            "the manifest",
        )
        .await?;
        let digest = sha256_digest(&bytes);
        Ok((FetchedManifest { digest, bytes }, media_type))
    }

    /// `PUT` a manifest under a tag or digest; returns the digest the registry computed.
    pub async fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Res<String> {
        let doing = format!("putting the manifest {repo}:{reference}");
        let scopes = [push_scope(repo)];
        let expected = sha256_digest(bytes);
        retry(backoff(self.attempts), None, |_| async {
            let url = self.url(&format!("/v2/{repo}/manifests/{reference}"));
            let resp = self
                .send(&doing, &scopes, |c| {
                    c.put(url.clone())
                        .header(CONTENT_TYPE, media_type)
                        .body(bytes.to_vec())
                })
                .await?;
            if resp.status() == StatusCode::CREATED || resp.status() == StatusCode::OK {
                Ok(header(resp.headers(), "docker-content-digest")
                    .unwrap_or_else(|| expected.clone()))
            } else {
                Err(status_error(&doing, resp).await)
            }
        })
        .await
    }

    fn location(&self, doing: &str, resp: &Response) -> Res<Url> {
        let loc = header(resp.headers(), LOCATION.as_str()).ok_or_else(|| {
            RegistryError::new(
                ErrorClass::Permanent,
                format!("{doing}: no Location in the answer"),
            )
        })?;
        let url = self.base.join(&loc).map_err(|e| {
            RegistryError::new(
                ErrorClass::Permanent,
                format!("{doing}: bad Location `{loc}`: {e}"),
            )
        })?;
        if !is_safe_scheme(&url) {
            return Err(RegistryError::new(
                ErrorClass::Permanent,
                format!(
                    "{doing}: the registry sent us to `{}`, plain HTTP to a non-loopback host",
                    url.origin().ascii_serialization()
                ),
            ));
        }
        Ok(url)
    }
}

/// A manifest fetched from a registry, with the digest of its exact bytes.
#[derive(Debug, Clone)]
pub struct FetchedManifest {
    pub digest: String,
    pub bytes: Vec<u8>,
}

/// https, or plain http to a loopback host only.
fn is_safe_scheme(url: &Url) -> bool {
    url.scheme() == "https"
        || url.scheme() == "http"
            && dk_core::aws::is_loopback_authority(url.host_str().unwrap_or(""))
}

/// Redirects are followed (blob downloads go to storage hosts) but never to plain http on
/// another machine; reqwest drops the Authorization header when the host changes.
fn redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        if attempt.previous().len() >= 10 {
            attempt.error("too many redirects")
        } else if !is_safe_scheme(attempt.url()) {
            let to = attempt.url().origin().ascii_serialization();
            attempt.error(format!(
                "refused a redirect to {to}: plain HTTP to a non-loopback host"
            ))
        } else {
            attempt.follow()
        }
    })
}

/// Read a body of at most `limit` bytes; a larger one is refused before it is all read.
async fn read_limited(doing: &str, mut resp: Response, limit: u64, what: &str) -> Res<Vec<u8>> {
    let too_large = || {
        RegistryError::new(
            ErrorClass::Permanent,
            format!("{doing}: {what} is larger than {limit} bytes"),
        )
    };
    if content_length(resp.headers()).is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let mut out = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| RegistryError::from_reqwest(doing, &e))?
    {
        if out.len() as u64 + chunk.len() as u64 > limit {
            return Err(too_large());
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

fn header(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn content_length(h: &HeaderMap) -> Option<u64> {
    header(h, CONTENT_LENGTH.as_str()).and_then(|v| v.parse().ok())
}

/// `sha256:0123456789ab` — enough to tell blobs apart in messages.
pub fn short(digest: &str) -> &str {
    &digest[..digest.len().min(19)]
}

/// Turn an unexpected status into a classified error, with the registry's own error codes.
async fn status_error(doing: &str, resp: Response) -> RegistryError {
    let status = resp.status();
    // Only the start of an error body is worth reading: a hostile one may never end.
    let mut resp = resp;
    let mut raw = Vec::new();
    while raw.len() < 64 * 1024
        && let Ok(Some(chunk)) = resp.chunk().await
    {
        raw.extend_from_slice(&chunk);
    }
    let body = String::from_utf8_lossy(&raw).into_owned();
    #[derive(serde::Deserialize)]
    struct Errors {
        errors: Vec<ErrorEntry>,
    }
    #[derive(serde::Deserialize)]
    struct ErrorEntry {
        code: Option<String>,
        message: Option<String>,
    }
    let entries = serde_json::from_str::<Errors>(&body)
        .map(|e| e.errors)
        .unwrap_or_default();
    let codes: Vec<String> = entries.iter().filter_map(|e| e.code.clone()).collect();
    let detail = entries
        .iter()
        .map(|e| {
            format!(
                "{}: {}",
                e.code.as_deref().unwrap_or("?"),
                e.message.as_deref().unwrap_or("")
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    let class = match status.as_u16() {
        408 | 429 | 500..=599 => ErrorClass::Transient,
        401 | 403 => ErrorClass::Auth,
        _ if codes.iter().any(|c| c == "TAG_INVALID") => ErrorClass::TagInvalid,
        _ => ErrorClass::Permanent,
    };
    let detail = if detail.is_empty() {
        body.chars().take(200).collect()
    } else {
        detail
    };
    RegistryError::new(
        class,
        format!(
            "{doing}: HTTP {status}{}{detail}",
            if detail.is_empty() { "" } else { ": " }
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use dk_core::Secret;

    struct FakeLogin(std::sync::atomic::AtomicU32);

    impl Relogin for FakeLogin {
        fn relogin(
            &self,
        ) -> futures_util::future::BoxFuture<'_, Result<(Credentials, Option<SystemTime>), String>>
        {
            let n = self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            Box::pin(async move {
                let creds = Credentials {
                    username: "AWS".into(),
                    password: Secret::new(format!("fresh-{n}")),
                };
                Ok((
                    creds,
                    Some(SystemTime::now() + Duration::from_secs(12 * 3600)),
                ))
            })
        }
    }

    /// A one-request-per-connection HTTP server on loopback: `answer` gets each request head
    /// and returns the whole response; every head is recorded.
    fn serve(
        answer: impl Fn(&str) -> Vec<u8> + Send + 'static,
    ) -> (String, Arc<Mutex<Vec<String>>>) {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { break };
                let mut buf = Vec::new();
                let mut byte = [0u8; 1];
                while !buf.ends_with(b"\r\n\r\n") && conn.read(&mut byte).unwrap_or(0) == 1 {
                    buf.push(byte[0]);
                }
                let head = String::from_utf8_lossy(&buf).to_lowercase();
                let len = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                let mut body = vec![0u8; len];
                let _ = conn.read_exact(&mut body);
                log.lock().unwrap().push(head.clone());
                let _ = conn.write_all(&answer(&head));
            }
        });
        (base, seen)
    }

    fn reply(status: &str, headers: &str) -> Vec<u8> {
        format!("HTTP/1.1 {status}\r\n{headers}content-length: 0\r\nconnection: close\r\n\r\n")
            .into_bytes()
    }

    fn creds() -> Credentials {
        Credentials {
            username: "AWS".into(),
            password: Secret::new("ecr-password".into()),
        }
    }

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    /// Regression: the ECR Basic credentials went to whatever host an upload Location named.
    #[tokio::test]
    async fn credentials_stay_with_the_registry_when_the_upload_location_is_elsewhere() {
        let (other, other_seen) = serve(|_| reply("201 Created", ""));
        let location = format!("{other}/upload/1");
        let (registry, _) = serve(move |head| {
            if !head.contains("authorization:") {
                reply(
                    "401 Unauthorized",
                    "www-authenticate: Basic realm=\"r\"\r\n",
                )
            } else {
                reply("202 Accepted", &format!("location: {location}\r\n"))
            }
        });
        let client = RegistryClient::new(&registry, Some(creds()), 1).unwrap();
        let session = client.start_upload("app").await.unwrap();
        client
            .put_blob("app", &session, DIGEST, 0, || {
                Ok(reqwest::Body::from(Vec::new()))
            })
            .await
            .unwrap();
        let seen = other_seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 1);
        assert!(!seen[0].contains("authorization"), "{}", seen[0]);
    }

    /// Regression: an upload Location on plain http to another machine was used as is.
    #[tokio::test]
    async fn plain_http_upload_location_elsewhere_is_refused() {
        let (registry, _) = serve(|_| {
            reply(
                "202 Accepted",
                "location: http://registry.example/upload/1\r\n",
            )
        });
        let client = RegistryClient::new(&registry, Some(creds()), 1).unwrap();
        let e = client.start_upload("app").await.unwrap_err();
        assert_eq!(e.class, ErrorClass::Permanent);
        assert!(e.message.contains("plain HTTP"), "{}", e.message);
    }

    /// Regression: redirects to plain http on another machine were followed.
    #[tokio::test]
    async fn plain_http_redirect_elsewhere_is_refused() {
        let (registry, _) = serve(|_| {
            reply(
                "307 Temporary Redirect",
                "location: http://registry.example/v2/app/manifests/v1\r\n",
            )
        });
        let client = RegistryClient::new(&registry, None, 1).unwrap();
        let e = client.get_manifest("app", "v1").await.unwrap_err();
        assert_eq!(e.class, ErrorClass::Permanent, "{}", e.message);
        assert!(e.message.contains("plain HTTP"), "{}", e.message);
    }

    /// Regression: a manifest body was read whole before its size was checked, so an endless
    /// answer grew memory without bound.
    #[tokio::test]
    async fn endless_manifest_body_is_cut_off() {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { break };
                let mut b = [0u8; 4096];
                let _ = conn.read(&mut b);
                let _ = conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n");
                let chunk = vec![b' '; 1 << 16];
                // Endless: stops only when the client hangs up.
                while conn.write_all(&chunk).is_ok() {}
            }
        });
        let client = RegistryClient::new(&base, None, 1).unwrap();
        let r = tokio::time::timeout(Duration::from_secs(20), client.get_manifest("app", "v1"))
            .await
            .expect("the manifest read never ended");
        let e = r.unwrap_err();
        assert!(e.message.contains("larger than"), "{}", e.message);
    }

    /// Credentials are renewed within the margin before expiry, never for an unknown expiry.
    #[test]
    fn refresh_is_due_near_expiry_only() {
        let now = SystemTime::now();
        assert!(!refresh_due(None, now));
        assert!(!refresh_due(Some(now + Duration::from_secs(3600)), now));
        assert!(refresh_due(Some(now + Duration::from_secs(60)), now));
        assert!(refresh_due(Some(now - Duration::from_secs(60)), now));
    }

    /// A token about to expire is replaced once, and Bearer tokens made from it are dropped.
    #[tokio::test]
    async fn renews_credentials_before_they_expire() {
        let old = Credentials {
            username: "AWS".into(),
            password: Secret::new("old".into()),
        };
        let login = Arc::new(FakeLogin(Default::default()));
        let client = RegistryClient::new("http://127.0.0.1:9", Some(old), 1)
            .unwrap()
            .with_relogin(
                login.clone(),
                Some(SystemTime::now() + Duration::from_secs(30)),
            );
        client
            .lock()
            .tokens
            .insert("x".into(), Secret::new("t".into()));
        client.refresh_if_due("test").await.unwrap();
        client.refresh_if_due("test").await.unwrap();
        assert_eq!(client.credentials().unwrap().password.expose(), "fresh-1");
        assert_eq!(login.0.load(std::sync::atomic::Ordering::Relaxed), 1);
        assert!(client.lock().tokens.is_empty());
    }
}
