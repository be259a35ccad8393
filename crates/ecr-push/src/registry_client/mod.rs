//! A small client for the registry HTTP API (distribution spec v2): blob HEAD, cross-repository
//! mount, monolithic streamed upload, manifest HEAD/GET/PUT. It answers 401 challenges itself
//! (Basic with the ECR credentials, or Bearer through the advertised token service) and classifies
//! every failure so callers know what to retry: 408/429/5xx, resets and timeouts are transient;
//! 401/403 are auth errors; anything else is permanent.
//!
//! Uploads are a monolithic `PUT` with a streamed body: ECR's chunked PATCH path is unreliable
//! (it answers 201 instead of 202 and may drop later chunks), and one PUT is also the fewest round
//! trips.
//!
//! Split along its seams: `error` (how a call failed), `credentials` (registry credentials and the
//! re-login trait), `auth_state` (challenge, Bearer tokens, renewal: the token state) and
//! `operations` (the calls themselves).

mod auth_state;
mod credentials;
mod error;
mod operations;

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use dk_core::retry::Backoff;
use reqwest::header::{CONTENT_LENGTH, HeaderMap};
use reqwest::{Response, Url};

use auth_state::AuthState;
pub use credentials::{Credentials, Relogin};
pub use error::{ErrorClass, RegistryError, Res};

/// What came of a mount request.
#[derive(Debug)]
pub enum MountResult {
    Mounted,
    /// The registry did not mount but opened an upload session instead (spec-allowed fallback).
    Session(Url),
}

/// Request retry policy for registry calls: jittered exponential backoff.
pub fn backoff(attempts: u32) -> Backoff {
    Backoff {
        base: Duration::from_millis(50),
        max: Duration::from_secs(4),
        max_attempts: attempts.max(1),
    }
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

#[cfg(test)]
mod tests {
    use super::credentials::refresh_due;
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
