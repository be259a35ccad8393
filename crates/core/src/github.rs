//! GitHub's REST API, for every tool that calls it (feature `github`): the one octocrab client
//! construction (API base from `GITHUB_API_URL`, a [`Secret`] token, bounded timeouts), and how
//! GitHub's error answers are read — above all its rate limits, which GitHub documents as
//! (docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api):
//!
//! > a 403 or 429 response. If the `retry-after` response header is present, do not retry until
//! > that many seconds have elapsed. If `x-ratelimit-remaining` is `0`, do not retry until the
//! > time in UTC epoch seconds given by `x-ratelimit-reset`. Otherwise wait at least one minute.
//!
//! [`call`] retries such answers (and 5xx and unreachable) after the wait GitHub asks for, inside
//! a deadline; every other answer is returned at once for the tool to explain.

use std::future::Future;
use std::time::Duration;

pub use octocrab::{self, Octocrab};

use crate::context::Context;
use crate::env_vars as ev;
use crate::poll::Deadline;
use crate::retry::Backoff;
use crate::untrusted::neutralise_capped;
use crate::{Error, Result, Secret};

/// `GITHUB_API_URL`, default `https://api.github.com`, without a trailing `/`.
pub fn api_url(ctx: &Context) -> String {
    ctx.var(ev::GITHUB_API_URL)
        .unwrap_or("https://api.github.com")
        .trim_end_matches('/')
        .to_string()
}

/// `GITHUB_SERVER_URL`, default `https://github.com`, without a trailing `/`.
pub fn server_url(ctx: &Context) -> String {
    ctx.var(ev::GITHUB_SERVER_URL)
        .unwrap_or("https://github.com")
        .trim_end_matches('/')
        .to_string()
}

/// An octocrab client for `api_url` authenticating with `token`.
pub fn client(api_url: &str, token: &Secret<String>) -> Result<Octocrab> {
    Octocrab::builder()
        .base_uri(api_url)
        .map_err(|_| Error::usage(format!("GITHUB_API_URL `{api_url}` is not a URL")))?
        .personal_token(token.expose().clone())
        .set_connect_timeout(Some(Duration::from_secs(10)))
        .set_read_timeout(Some(Duration::from_secs(30)))
        .build()
        .map_err(|e| {
            Error::runtime(format!(
                "cannot start the GitHub client: {}",
                neutralise_capped(&e.to_string(), 300)
            ))
        })
}

/// A GitHub answer other than success, read once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status; `None` when GitHub was not reached.
    pub status: Option<u16>,
    /// GitHub's `message` (or the transport error), neutralised and capped.
    pub message: String,
    /// A rate limit: how long GitHub asks us to wait before trying again.
    pub rate_limited: Option<Duration>,
}

impl ApiError {
    /// Worth another try: rate limited, a server error, or GitHub not reached.
    pub fn transient(&self) -> bool {
        self.rate_limited.is_some() || self.status.is_none_or(|s| s >= 500)
    }

    /// `403 Resource not accessible by integration`, or the transport error.
    pub fn describe(&self) -> String {
        match self.status {
            Some(s) => format!("{s} {}", self.message),
            None => format!("cannot reach the GitHub API: {}", self.message),
        }
    }

    /// Read an octocrab error; `now` is the current UTC epoch second (for `x-ratelimit-reset`).
    pub fn from_octocrab(e: &octocrab::Error, now: u64) -> ApiError {
        let octocrab::Error::GitHub { source, .. } = e else {
            let detail = match e {
                octocrab::Error::Hyper { source, .. } => source.to_string(),
                octocrab::Error::Service { source, .. } => source.to_string(),
                octocrab::Error::Serde { source, .. } => {
                    format!("unexpected answer: {source}")
                }
                other => other.to_string(),
            };
            return ApiError {
                status: None,
                message: neutralise_capped(&detail, 300),
                rate_limited: None,
            };
        };
        let status = source.status_code.as_u16();
        let header = |name: &str| {
            source
                .headers
                .as_ref()
                .and_then(|h| h.get(name))
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let limits = RateLimitHeaders {
            retry_after: header("retry-after"),
            remaining: header("x-ratelimit-remaining"),
            reset: header("x-ratelimit-reset"),
        };
        ApiError {
            status: Some(status),
            message: neutralise_capped(&source.message, 300),
            rate_limited: rate_limit_wait(status, &source.message, &limits, now),
        }
    }
}

/// The rate-limit headers of an answer, as sent.
#[derive(Debug, Default, Clone)]
pub struct RateLimitHeaders {
    pub retry_after: Option<String>,
    pub remaining: Option<String>,
    pub reset: Option<String>,
}

/// How long GitHub asks us to wait, when an answer is a (primary or secondary) rate limit; `None`
/// when it is not one (a 403 that is a permission error). Pure, after GitHub's documented rules.
pub fn rate_limit_wait(
    status: u16,
    message: &str,
    h: &RateLimitHeaders,
    now: u64,
) -> Option<Duration> {
    if status != 403 && status != 429 {
        return None;
    }
    if let Some(secs) = h
        .retry_after
        .as_deref()
        .and_then(|v| v.trim().parse::<u64>().ok())
    {
        return Some(Duration::from_secs(secs));
    }
    if h.remaining.as_deref().map(str::trim) == Some("0")
        && let Some(reset) = h
            .reset
            .as_deref()
            .and_then(|v| v.trim().parse::<u64>().ok())
    {
        return Some(Duration::from_secs(reset.saturating_sub(now)));
    }
    let says_limit = message.to_ascii_lowercase().contains("rate limit");
    (status == 429 || says_limit).then_some(Duration::from_secs(60))
}

/// Seconds since the epoch, for `x-ratelimit-reset`.
fn epoch_now() -> u64 {
    jiff::Timestamp::now().as_second().max(0).unsigned_abs()
}

/// Run `op` until it succeeds or GitHub gives an answer retrying cannot change. A rate limit is
/// waited out for as long as GitHub asks (plus up to a second, so the retry lands after the
/// reset); 5xx and unreachable are retried with jittered backoff (at most `backoff.max_attempts`
/// tries). Nothing waits past `deadline`: a wait that would is given up and the last answer
/// returned. `on_wait` hears about each wait (for a progress line).
pub async fn call<T, F, Fut>(
    deadline: &Deadline,
    backoff: Backoff,
    on_wait: impl FnMut(&ApiError, Duration),
    op: F,
) -> std::result::Result<T, ApiError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = octocrab::Result<T>>,
{
    call_keeping_source(deadline, backoff, on_wait, op)
        .await
        .map_err(|(e, _)| e)
}

/// [`call`], with the last octocrab error itself beside its reading (`None` when no answer came
/// before the deadline): for a caller that must see GitHub's whole message — secrets-sync cuts
/// the values it knows out of it before shortening it.
pub async fn call_keeping_source<T, F, Fut>(
    deadline: &Deadline,
    backoff: Backoff,
    mut on_wait: impl FnMut(&ApiError, Duration),
    mut op: F,
) -> std::result::Result<T, (ApiError, Option<octocrab::Error>)>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = octocrab::Result<T>>,
{
    let mut attempt = 1u32;
    loop {
        let (err, source) = match deadline.run(op()).await {
            Some(Ok(v)) => return Ok(v),
            Some(Err(e)) => (ApiError::from_octocrab(&e, epoch_now()), e),
            None => {
                let err = ApiError {
                    status: None,
                    message: "no answer before the deadline".into(),
                    rate_limited: None,
                };
                return Err((err, None));
            }
        };
        let wait = match err.rate_limited {
            Some(w) => w + Duration::from_millis(fastrand::u64(100..1000)),
            None if err.transient() && attempt < backoff.max_attempts => backoff.delay(attempt),
            None => return Err((err, Some(source))),
        };
        if wait >= deadline.remaining() {
            return Err((err, Some(source)));
        }
        on_wait(&err, wait);
        tokio::time::sleep(wait).await;
        attempt += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(
        retry_after: Option<&str>,
        remaining: Option<&str>,
        reset: Option<&str>,
    ) -> RateLimitHeaders {
        RateLimitHeaders {
            retry_after: retry_after.map(str::to_owned),
            remaining: remaining.map(str::to_owned),
            reset: reset.map(str::to_owned),
        }
    }

    /// GitHub's documented order: retry-after, then remaining 0 + reset, then a minute for an
    /// answer that says it is a rate limit; a plain 403 is a permission error, not a wait.
    #[test]
    fn rate_limit_waits_follow_the_docs() {
        let secondary = "You have exceeded a secondary rate limit. Please wait a few minutes.";
        let cases: [(u16, &str, RateLimitHeaders, Option<u64>); 9] = [
            (403, secondary, h(Some("7"), None, None), Some(7)),
            (429, "x", h(Some("3"), Some("0"), Some("1090")), Some(3)),
            (403, secondary, h(None, Some("0"), Some("1030")), Some(30)),
            (429, "x", h(None, Some("0"), Some("900")), Some(0)),
            (403, secondary, h(None, None, None), Some(60)),
            (429, "anything", h(None, Some("12"), Some("2000")), Some(60)),
            (
                403,
                "Resource not accessible by integration",
                h(None, Some("4999"), Some("2000")),
                None,
            ),
            (401, "Bad credentials", h(Some("5"), None, None), None),
            (500, "Server Error", h(Some("5"), None, None), None),
        ];
        for (status, msg, headers, want) in cases {
            assert_eq!(
                rate_limit_wait(status, msg, &headers, 1000),
                want.map(Duration::from_secs),
                "{status} {msg} {headers:?}"
            );
        }
    }

    /// Which answers are worth another try.
    #[test]
    fn transient_answers() {
        let e = |status, rate_limited| ApiError {
            status,
            message: String::new(),
            rate_limited,
        };
        assert!(e(None, None).transient());
        assert!(e(Some(502), None).transient());
        assert!(e(Some(403), Some(Duration::from_secs(1))).transient());
        for s in [401, 403, 404, 409, 422] {
            assert!(!e(Some(s), None).transient(), "{s}");
        }
    }

    /// The API and server URLs default to github.com and lose a trailing slash.
    #[test]
    fn urls_from_context() {
        let ctx = Context::from_map(
            [
                ("GITHUB_API_URL", "http://127.0.0.1:9/api/v3/"),
                ("GITHUB_SERVER_URL", "https://ghe.example"),
            ],
            false,
        );
        assert_eq!(api_url(&ctx), "http://127.0.0.1:9/api/v3");
        assert_eq!(server_url(&ctx), "https://ghe.example");
        assert_eq!(api_url(&Context::default()), "https://api.github.com");
        assert_eq!(server_url(&Context::default()), "https://github.com");
    }
}
