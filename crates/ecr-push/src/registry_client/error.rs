//! How a registry call failed, classified so callers know what to retry: 408/429/5xx, resets
//! and timeouts are transient; 401/403 are auth errors; a refused tag move, a digest mismatch
//! and anything else are permanent.

use dk_core::retry::Transient;
use reqwest::Response;

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

    pub(super) fn from_reqwest(doing: &str, e: &reqwest::Error) -> Self {
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

pub type Res<T> = std::result::Result<T, RegistryError>;

/// Turn an unexpected status into a classified error, with the registry's own error codes.
pub(super) async fn status_error(doing: &str, resp: Response) -> RegistryError {
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
