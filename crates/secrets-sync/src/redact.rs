//! The last line of defence: error text from AWS, GitHub or the HTTP layer is third-party text
//! that might echo a request (and so a secret). Every error this tool returns is passed through a
//! [`Redactor`] that knows every value read in this run and replaces them, and third-party text
//! is neutralised (no workflow commands, no line breaks, bounded) before it is shown.

use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use dk_core::{Error, ErrorKind, Secret};

/// Third-party text, made safe to print by core's one neutraliser (control characters made
/// visible, workflow-command openers broken). Not shortened here: a value cut in half would no
/// longer be recognised by the redactor, so [`Redactor::scrub_error`] bounds the length after
/// scrubbing.
pub fn neutralise(text: &str) -> String {
    dk_core::untrusted::neutralise_capped(text, usize::MAX / 2)
}

/// At most `max` characters, marked when cut.
pub fn bound(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max).collect();
    out.push_str(" […]");
    out
}

/// Every secret value seen in this run, longest first, to be cut out of any text.
#[derive(Clone, Default)]
pub struct Redactor {
    values: Arc<Mutex<Vec<String>>>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Redactor")
    }
}

impl Redactor {
    pub fn remember(&self, value: &Secret<String>) {
        let v = value.expose();
        // Very short values would blank out ordinary words; they are never printed anyway.
        if v.chars().count() < 4 {
            return;
        }
        if let Ok(mut values) = self.values.lock() {
            let mut add = vec![v.clone()];
            // As it appears inside a JSON string (an echoed request body).
            if let Ok(json) = serde_json::to_string(v) {
                add.push(json.trim_matches('"').to_string());
            }
            // Multi-line values: each line alone, as the runner masks them.
            add.extend(
                v.lines()
                    .map(str::trim)
                    .filter(|l| l.chars().count() >= 4)
                    .map(str::to_owned),
            );
            for a in add {
                if !values.contains(&a) {
                    values.push(a);
                }
            }
            values.sort_by_key(|s| std::cmp::Reverse(s.len()));
        }
    }

    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        if let Ok(values) = self.values.lock() {
            for v in values.iter() {
                if out.contains(v.as_str()) {
                    out = out.replace(v.as_str(), "***");
                }
            }
        }
        out
    }

    /// The same error with every known value cut out of its message, causes and hint.
    pub fn scrub_error(&self, err: Error) -> Error {
        let causes = err.causes();
        let mut out = Error::new(err.kind(), bound(&self.scrub(err.message()), 4000));
        if let Some(h) = err.hint() {
            out = out.with_hint(bound(&self.scrub(h), 1000));
        }
        if !causes.is_empty() {
            let joined: Vec<String> = causes.iter().map(|c| self.scrub(c)).collect();
            out = out.with_source(Error::new(
                ErrorKind::Runtime,
                bound(&joined.join(": "), 1000),
            ));
        }
        out
    }
}

/// An AWS SDK error as a runtime error (exit 3) that never shows a request: the service's error
/// code and (neutralised) message, or the connection problem. Unlike core's `sdk_error` it never
/// prints a raw response (which could echo what was sent).
pub fn aws_error<E, R>(doing: &str, err: &SdkError<E, R>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match err {
        SdkError::ServiceError(s) => {
            let code = s.err().code().unwrap_or("unknown error");
            let message = neutralise(s.err().message().unwrap_or(""));
            let e = Error::runtime(format!("{doing}: {code}: {message}"));
            if dk_core::aws::THROTTLING_CODES.contains(&code) {
                e.with_hint("AWS kept throttling past the retries; raise --max-attempts or try --retry-mode adaptive")
            } else if code.contains("AccessDenied") || code.contains("Unrecognized") {
                e.with_hint("check the credentials and the role's permissions (--role-arn, --profile)")
            } else {
                e
            }
        }
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => {
            Error::runtime(format!("{doing}: cannot reach AWS"))
                .with_hint("check the endpoint (--endpoint-url, AWS_ENDPOINT_URL_SECRETS_MANAGER), the network, and the credentials chain")
                .with_source(Error::runtime(neutralise(&DisplayErrorContext(err).to_string())))
        }
        SdkError::ResponseError(_) => Error::runtime(format!("{doing}: AWS sent a response that could not be read")),
        _ => Error::runtime(format!("{doing}: the request could not be built or sent")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Known values are cut out of message, causes and hint, whole and line by line.
    #[test]
    fn scrubs_everywhere() {
        let r = Redactor::default();
        r.remember(&Secret::new("hunter2-long\nsecond-line".to_string()));
        r.remember(&Secret::new("ab".to_string()));
        let e = Error::runtime("failed: hunter2-long")
            .with_hint("see second-line")
            .with_source(std::io::Error::other("echo hunter2-long\nsecond-line"));
        let e = r.scrub_error(e);
        let all = format!("{} {:?} {:?}", e.message(), e.causes(), e.hint());
        assert!(
            !all.contains("hunter2") && !all.contains("second-line"),
            "{all}"
        );
        assert_eq!(e.kind(), ErrorKind::Runtime);
        assert_eq!(r.scrub("ab cd"), "ab cd");
    }

    /// Third-party text cannot start a workflow command or a new line.
    #[test]
    fn neutralises() {
        let t = neutralise("a\r::error::x\n##[warning]y");
        assert!(
            !t.contains('\r') && !t.contains('\n') && !t.contains("##["),
            "{t}"
        );
        assert!(!neutralise("::error::x").trim_start().starts_with("::"));
        assert_eq!(bound(&"x".repeat(1000), 300).chars().count(), 304);
        // Scrubbing comes before bounding: a long echo cannot cut a value in half.
        let r = Redactor::default();
        r.remember(&Secret::new("tail-secret-value".to_string()));
        let long = format!("{}tail-secret-value", "y".repeat(3990));
        let e = r.scrub_error(Error::runtime(long));
        assert!(!e.message().contains("tail-secret"), "{}", e.message());
        // Inside an echoed JSON body, escaped.
        r.remember(&Secret::new("quote\"d-secret".to_string()));
        assert_eq!(
            r.scrub(r#"{"SecretString":"quote\"d-secret"}"#),
            r#"{"SecretString":"***"}"#
        );
    }
}
