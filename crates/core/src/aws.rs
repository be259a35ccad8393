//! AWS configuration for every AWS tool: one flattened set of flags and one function that turns
//! them into an `SdkConfig` (after cargo-lambda's remote config). Each tool builds its own service
//! clients from that config and passes `&Client` into its domain functions.
//!
//! The SDK's standard environment is honoured as is — credentials chain, `AWS_PROFILE`,
//! `AWS_ENDPOINT_URL` and the per-service `AWS_ENDPOINT_URL_<SERVICE>` — so tests can point ECS at
//! one server and RDS at another. On top of it:
//! - a region must be known locally (flag, env or profile) — otherwise exit 2 instead of a slow
//!   instance-metadata probe;
//! - plain `http://` endpoints are accepted only for loopback addresses;
//! - `--role-arn` assumes a role: with GitHub OIDC when the job can request an ID token, with
//!   `AWS_WEB_IDENTITY_TOKEN_FILE` when set, else with the base credentials. The SDK's identity
//!   cache refreshes those credentials before they expire, so long waits keep working.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::{
    self, ProvideCredentials, SharedCredentialsProvider, error::CredentialsError,
};
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use clap::{Args, ValueEnum};

use crate::context::Context;
use crate::duration::RoleSession;
use crate::env_vars as ev;
use crate::error::{Error, Result};
use crate::secret::Secret;
use crate::ui::Ui;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum RetryMode {
    /// Exponential backoff with jitter on throttling and transient errors.
    #[default]
    Standard,
    /// Standard, plus client-side rate limiting when throttled.
    Adaptive,
}

/// AWS flags shared by every AWS tool.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "AWS")]
pub struct AwsArgs {
    /// AWS Region [default: AWS_REGION, AWS_DEFAULT_REGION, then the profile's region]
    #[arg(long, global = true, value_name = "REGION")]
    pub region: Option<String>,
    /// Named profile from ~/.aws/config [default: AWS_PROFILE]
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,
    /// Endpoint for every AWS service (per service: AWS_ENDPOINT_URL_ECS, AWS_ENDPOINT_URL_RDS, …)
    #[arg(long, global = true, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// Role to assume (GitHub OIDC when the job has `id-token: write`)
    #[arg(long, global = true, value_name = "ARN")]
    pub role_arn: Option<String>,
    /// Session name for the assumed role
    #[arg(long, global = true, value_name = "NAME", default_value = "deploy-kit")]
    pub role_session_name: String,
    /// Lifetime of the assumed role's credentials (15m to 12h)
    #[arg(long, global = true, value_name = "DUR", default_value = "1h")]
    pub role_duration: RoleSession,
    /// Attempts per AWS call, retrying throttling and transient errors (1 = no retries)
    #[arg(long, global = true, value_name = "N", default_value_t = 5)]
    pub max_attempts: u32,
    /// Retry strategy for AWS calls
    #[arg(long, global = true, value_enum, default_value_t = RetryMode::Standard)]
    pub retry_mode: RetryMode,
}

impl Default for AwsArgs {
    fn default() -> Self {
        AwsArgs {
            region: None,
            profile: None,
            endpoint_url: None,
            role_arn: None,
            role_session_name: "deploy-kit".into(),
            role_duration: RoleSession::clamped(Duration::from_secs(3600)),
            max_attempts: 5,
            retry_mode: RetryMode::Standard,
        }
    }
}

impl AwsArgs {
    /// Every check that needs no network: run before any AWS call so bad input exits 2.
    pub fn validate(&self, ctx: &Context) -> Result<()> {
        if !(1..=20).contains(&self.max_attempts) {
            return Err(Error::usage(format!(
                "--max-attempts {} is out of range",
                self.max_attempts
            ))
            .with_hint("use a number from 1 to 20"));
        }
        if let Some(arn) = &self.role_arn
            && !(arn.starts_with("arn:") && arn.contains(":role/"))
        {
            return Err(
                Error::usage(format!("--role-arn `{arn}` is not a role ARN"))
                    .with_hint("expected arn:aws:iam::<account>:role/<name>"),
            );
        }
        if let Some(url) = &self.endpoint_url {
            check_endpoint("--endpoint-url", url)?;
        }
        for (name, url) in ctx.vars_with_prefix(ev::AWS_ENDPOINT_URL) {
            if name == ev::AWS_ENDPOINT_URL || name.starts_with(ev::AWS_ENDPOINT_URL_PREFIX) {
                check_endpoint(name, url)?;
            }
        }
        Ok(())
    }
}

/// Endpoints must be URLs; plain HTTP only to loopback (tests and local stand-ins).
pub fn check_endpoint(what: &str, url: &str) -> Result<()> {
    let (scheme, rest) = url.split_once("://").ok_or_else(|| {
        Error::usage(format!("{what} `{url}` is not a URL"))
            .with_hint("use e.g. https://ecs.eu-west-1.amazonaws.com")
    })?;
    match scheme {
        "https" => Ok(()),
        "http" if is_loopback_authority(rest) => Ok(()),
        "http" => Err(Error::usage(format!(
            "{what} `{url}` uses plain HTTP to a non-loopback host"
        ))
        .with_hint("use https://, or http:// only for 127.0.0.1, [::1] or localhost")),
        _ => Err(
            Error::usage(format!("{what} `{url}` has scheme `{scheme}`"))
                .with_hint("use https:// (or http:// for loopback)"),
        ),
    }
}

/// `127.0.0.0/8`, `[::1]` and `localhost`, with or without a port or path.
pub fn is_loopback_authority(rest: &str) -> bool {
    // A backslash ends the authority too: URL parsers read it as `/` in http(s) URLs.
    let authority = rest.split(['/', '\\', '?', '#']).next().unwrap_or("");
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        authority.split(':').next().unwrap_or("")
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Resolve the region without any network call.
pub async fn resolve_region(ctx: &Context, args: &AwsArgs) -> Result<String> {
    if let Some(r) = args
        .region
        .as_deref()
        .or(ctx.var(ev::AWS_REGION))
        .or(ctx.var(ev::AWS_DEFAULT_REGION))
    {
        return Ok(r.to_string());
    }
    let mut provider = aws_config::profile::ProfileFileRegionProvider::builder();
    if let Some(p) = &args.profile {
        provider = provider.profile_name(p);
    }
    use aws_config::meta::region::ProvideRegion;
    match provider.build().region().await {
        Some(r) => Ok(r.to_string()),
        None => {
            Err(Error::usage("no AWS region configured")
                .with_hint("pass --region, or set AWS_REGION"))
        }
    }
}

/// The one place an `SdkConfig` is built.
pub async fn sdk_config(ui: &Ui, args: &AwsArgs) -> Result<SdkConfig> {
    let ctx = ui.context();
    args.validate(ctx)?;
    let region = resolve_region(ctx, args).await?;
    let loader = |creds: bool| {
        let retry = match args.retry_mode {
            RetryMode::Standard => RetryConfig::standard(),
            RetryMode::Adaptive => RetryConfig::adaptive(),
        }
        .with_max_attempts(args.max_attempts)
        .with_max_backoff(Duration::from_secs(10));
        let mut l = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(region.clone()))
            .retry_config(retry)
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(5))
                    .operation_attempt_timeout(Duration::from_secs(60))
                    .build(),
            );
        if let Some(p) = &args.profile {
            l = l.profile_name(p);
        }
        if let Some(e) = &args.endpoint_url {
            l = l.endpoint_url(e);
        }
        if !creds {
            l = l.no_credentials();
        }
        l
    };
    let base = loader(true).load().await;
    let Some(role_arn) = &args.role_arn else {
        return Ok(base);
    };

    let token_source = match (
        ctx.var(ev::ACTIONS_ID_TOKEN_REQUEST_URL),
        ctx.var(ev::ACTIONS_ID_TOKEN_REQUEST_TOKEN),
        ctx.var(ev::AWS_WEB_IDENTITY_TOKEN_FILE),
    ) {
        (Some(url), Some(token), _) => {
            check_endpoint(ev::ACTIONS_ID_TOKEN_REQUEST_URL, url)?;
            let token = Secret::new(token.to_string());
            ui.mask(&token);
            Some(TokenSource::GithubOidc {
                url: url.to_string(),
                request_token: token,
            })
        }
        (_, _, Some(file)) => Some(TokenSource::File(PathBuf::from(file))),
        _ => None,
    };
    let provider = match token_source {
        Some(source) => {
            let unsigned = loader(false).load().await;
            let http = reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .map_err(|e| Error::runtime("cannot build an HTTP client").with_source(e))?;
            SharedCredentialsProvider::new(WebIdentityProvider {
                source,
                role_arn: role_arn.clone(),
                session_name: args.role_session_name.clone(),
                duration: args.role_duration.get(),
                sts: aws_sdk_sts::Client::new(&unsigned),
                http,
                ui: ui.clone(),
            })
        }
        None => SharedCredentialsProvider::new(
            aws_config::sts::AssumeRoleProvider::builder(role_arn)
                .session_name(&args.role_session_name)
                .session_length(args.role_duration.get())
                .configure(&base)
                .build()
                .await,
        ),
    };
    Ok(base.to_builder().credentials_provider(provider).build())
}

enum TokenSource {
    GithubOidc {
        url: String,
        request_token: Secret<String>,
    },
    File(PathBuf),
}

/// AssumeRoleWithWebIdentity from a GitHub OIDC token (fetched fresh on every refresh) or a token
/// file. The SDK's identity cache calls this again before the credentials expire.
struct WebIdentityProvider {
    source: TokenSource,
    role_arn: String,
    session_name: String,
    duration: Duration,
    sts: aws_sdk_sts::Client,
    http: reqwest::Client,
    ui: Ui,
}

impl std::fmt::Debug for WebIdentityProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebIdentityProvider")
            .field("role_arn", &self.role_arn)
            .finish_non_exhaustive()
    }
}

impl WebIdentityProvider {
    async fn web_identity_token(&self) -> std::result::Result<Secret<String>, CredentialsError> {
        match &self.source {
            TokenSource::File(path) => tokio::fs::read_to_string(path)
                .await
                .map(|t| Secret::new(t.trim().to_string()))
                .map_err(|e| {
                    CredentialsError::invalid_configuration(format!(
                        "cannot read {}: {e}",
                        path.display()
                    ))
                }),
            TokenSource::GithubOidc { url, request_token } => {
                let sep = if url.contains('?') { '&' } else { '?' };
                let resp = self
                    .http
                    .get(format!("{url}{sep}audience=sts.amazonaws.com"))
                    .bearer_auth(request_token.expose())
                    .send()
                    .await
                    .and_then(|r| r.error_for_status())
                    .map_err(|e| {
                        CredentialsError::provider_error(format!(
                            "GitHub OIDC token request failed: {e}"
                        ))
                    })?;
                #[derive(serde::Deserialize)]
                struct IdToken {
                    value: String,
                }
                let body: IdToken = resp.json().await.map_err(|e| {
                    CredentialsError::provider_error(format!("GitHub OIDC token response: {e}"))
                })?;
                let token = Secret::new(body.value);
                self.ui.mask(&token);
                Ok(token)
            }
        }
    }

    async fn assume(&self) -> provider::Result {
        let token = self.web_identity_token().await?;
        let out = self
            .sts
            .assume_role_with_web_identity()
            .role_arn(&self.role_arn)
            .role_session_name(&self.session_name)
            .web_identity_token(token.expose())
            .duration_seconds(self.duration.as_secs() as i32)
            .send()
            .await
            .map_err(|e| {
                CredentialsError::provider_error(format!(
                    "AssumeRoleWithWebIdentity {}: {}",
                    self.role_arn,
                    DisplayErrorContext(&e)
                ))
            })?;
        let c = out.credentials().ok_or_else(|| {
            CredentialsError::provider_error("AssumeRoleWithWebIdentity returned no credentials")
        })?;
        let expiry = SystemTime::try_from(*c.expiration()).ok();
        Ok(Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_string()),
            expiry,
            "deploy-kit-web-identity",
        ))
    }
}

impl ProvideCredentials for WebIdentityProvider {
    fn provide_credentials<'a>(&'a self) -> provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        provider::future::ProvideCredentials::new(self.assume())
    }
}

/// Error codes that mean "your credentials are wrong", not "try again".
const AUTH_CODES: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "ExpiredToken",
    "ExpiredTokenException",
    "SignatureDoesNotMatch",
    "InvalidSignatureException",
];

/// Error codes AWS uses for throttling.
pub const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "RequestThrottled",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "SlowDown",
    "PriorRequestNotComplete",
];

/// Worth trying again at the next poll, after the SDK's own retries gave up: throttling, a 5xx,
/// or an endpoint that could not be reached or did not answer in time.
pub fn is_transient<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool
where
    R: HttpStatus,
{
    match err {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => true,
        SdkError::ServiceError(s) => {
            s.raw().is_server_error()
                || s.err()
                    .code()
                    .is_some_and(|c| THROTTLING_CODES.contains(&c) || c == "ServerException")
        }
        SdkError::ResponseError(r) => r.raw().is_server_error(),
        _ => false,
    }
}

/// The HTTP status of a raw response, for [`is_transient`].
pub trait HttpStatus {
    fn is_server_error(&self) -> bool;
}

impl HttpStatus for aws_smithy_runtime_api::http::Response {
    fn is_server_error(&self) -> bool {
        self.status().is_server_error()
    }
}

/// The error code of a service error, if the call got that far.
pub fn error_code<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> Option<&str> {
    match err {
        SdkError::ServiceError(s) => s.err().code(),
        _ => None,
    }
}

/// A describe or delete call's answer with the service's "not found" fault (as `not_found` tells
/// it) read as `None`: an absent resource is an answer, not an error. Any other error becomes
/// [`sdk_error`], saying what was being done (`doing`, built only then).
pub fn unless_not_found<T, E, R>(
    sent: std::result::Result<T, SdkError<E, R>>,
    not_found: impl FnOnce(&E) -> bool,
    doing: impl FnOnce() -> String,
) -> Result<Option<T>>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match sent {
        Ok(out) => Ok(Some(out)),
        Err(e) if e.as_service_error().is_some_and(not_found) => Ok(None),
        Err(e) => Err(sdk_error(&doing(), e)),
    }
}

/// Turn an SDK error into a runtime error (exit 3) that says what was being done and what to
/// check. Tools match the codes they handle themselves (not found, quota, …) before calling this.
pub fn sdk_error<E, R>(doing: &str, err: SdkError<E, R>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let detail = DisplayErrorContext(&err).to_string();
    match &err {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => Error::runtime(format!("{doing}: cannot reach AWS"))
            .with_hint("check the endpoint (--endpoint-url, AWS_ENDPOINT_URL_<SERVICE>), the network, and the credentials chain")
            .with_source(Error::runtime(detail)),
        SdkError::ServiceError(s) => {
            let code = s.err().code().unwrap_or("unknown error");
            let message = s.err().message().unwrap_or("");
            let e = Error::runtime(format!("{doing}: {code}: {message}"));
            if AUTH_CODES.contains(&code) {
                e.with_hint("check the credentials and the role's permissions (--role-arn, --profile)")
            } else if THROTTLING_CODES.contains(&code) {
                e.with_hint("AWS kept throttling past the retries; raise --max-attempts or try --retry-mode adaptive")
            } else {
                e
            }
        }
        _ => Error::runtime(format!("{doing}: {detail}")),
    }
}

/// A `--tag KEY=VALUE` flag value, checked against the AWS tag rules every service shares (key
/// 1–128 characters, value at most 256, no reserved `aws:` prefix) and against the keys the tool
/// sets itself (`own_keys`), which a user must not override.
pub fn parse_tag(
    text: &str,
    tool: &str,
    own_keys: &[&str],
) -> std::result::Result<(String, String), String> {
    let (k, v) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not KEY=VALUE"))?;
    if k.is_empty() || k.chars().count() > 128 {
        return Err(format!("tag key `{k}` must be 1–128 characters"));
    }
    if v.chars().count() > 256 {
        return Err(format!("tag value for `{k}` is longer than 256 characters"));
    }
    if k.to_ascii_lowercase().starts_with("aws:") {
        return Err(format!("tag key `{k}` uses the reserved `aws:` prefix"));
    }
    if own_keys.contains(&k) {
        return Err(format!("tag key `{k}` is set by {tool} itself"));
    }
    Ok((k.to_string(), v.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Plain HTTP is accepted for loopback only.
    #[test]
    fn endpoint_loopback_rule() {
        assert!(check_endpoint("x", "http://127.0.0.1:5000").is_ok());
        assert!(check_endpoint("x", "http://localhost:5000/").is_ok());
        assert!(check_endpoint("x", "http://[::1]:80").is_ok());
        assert!(check_endpoint("x", "https://ecs.eu-west-1.amazonaws.com").is_ok());
        assert!(check_endpoint("x", "http://10.0.0.1:5000").is_err());
        assert!(check_endpoint("x", "http://127.0.0.1.evil.com").is_err());
        assert!(check_endpoint("x", "ftp://127.0.0.1").is_err());
        assert!(check_endpoint("x", "127.0.0.1:5000").is_err());
    }

    /// Regression: `http://evil.example\\@127.0.0.1` passed as loopback, but URL parsers treat
    /// `\\` as `/` in http URLs and connect to evil.example in plain text.
    #[test]
    fn backslash_does_not_smuggle_a_remote_host_past_the_loopback_rule() {
        assert!(check_endpoint("x", "http://evil.example\\@127.0.0.1:5000").is_err());
        assert!(!is_loopback_authority("evil.example\\@127.0.0.1"));
        assert!(check_endpoint("x", "http://127.0.0.1:5000\\path").is_ok());
    }

    /// Endpoint variables in the environment are checked too, and bad flags exit 2.
    #[test]
    fn validate_checks_env_endpoints() {
        let ctx = Context::from_map([("AWS_ENDPOINT_URL_ECS", "http://192.168.1.5:80")], false);
        let err = AwsArgs::default().validate(&ctx).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.message().contains("AWS_ENDPOINT_URL_ECS"));
        let args = AwsArgs {
            max_attempts: 0,
            ..Default::default()
        };
        assert!(args.validate(&Context::default()).is_err());
        let args = AwsArgs {
            role_arn: Some("not-an-arn".into()),
            ..Default::default()
        };
        assert!(
            args.validate(&Context::default())
                .unwrap_err()
                .message()
                .contains("role ARN")
        );
    }

    /// The region comes from the flag first, then the environment.
    #[tokio::test]
    async fn region_from_flag_then_env() {
        let ctx = Context::from_map([("AWS_REGION", "eu-west-1")], false);
        assert_eq!(
            resolve_region(&ctx, &AwsArgs::default()).await.unwrap(),
            "eu-west-1"
        );
        let args = AwsArgs {
            region: Some("us-east-2".into()),
            ..Default::default()
        };
        assert_eq!(resolve_region(&ctx, &args).await.unwrap(), "us-east-2");
    }

    /// "Not found" is `None`, found is `Some`, and any other fault is an error naming the step.
    #[test]
    #[allow(clippy::result_large_err)] // the SDK's own error type, as calls return it
    fn unless_not_found_reads_only_the_not_found_fault_as_none() {
        use aws_smithy_runtime_api::http::{Response, StatusCode};
        use aws_smithy_types::body::SdkBody;
        use aws_smithy_types::error::ErrorMetadata;
        type Sent = std::result::Result<u8, SdkError<ErrorMetadata, Response>>;
        let fault = |code: &str| -> Sent {
            let raw = Response::new(StatusCode::try_from(400).unwrap(), SdkBody::empty());
            Err(SdkError::service_error(
                ErrorMetadata::builder().code(code).build(),
                raw,
            ))
        };
        let not_found = |e: &ErrorMetadata| e.code() == Some("NotFound");
        let doing = || "looking up x".to_string();
        let found: Sent = Ok(7);
        assert_eq!(unless_not_found(found, not_found, doing).unwrap(), Some(7));
        assert_eq!(
            unless_not_found(fault("NotFound"), not_found, doing).unwrap(),
            None
        );
        let err = unless_not_found(fault("Throttling"), not_found, doing).unwrap_err();
        assert_eq!(err.exit_code(), 3);
        assert!(err.message().starts_with("looking up x: Throttling"));
    }
}
