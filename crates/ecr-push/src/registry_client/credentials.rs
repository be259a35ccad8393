//! Registry credentials and how to renew them: a `user:password` pair that is never printed,
//! and the [`Relogin`] trait a login (such as ECR's GetAuthorizationToken) implements so that the
//! client can renew credentials before they expire. Knows nothing about ECR.

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use dk_core::Secret;

/// `user:password` for a registry, never printed.
#[derive(Clone)]
pub struct Credentials {
    pub username: String,
    pub password: Secret<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}:REDACTED)", self.username)
    }
}

impl Credentials {
    /// The `Authorization: Basic …` value.
    pub fn basic_header(&self) -> Secret<String> {
        Secret::new(format!(
            "Basic {}",
            STANDARD.encode(format!("{}:{}", self.username, self.password.expose()))
        ))
    }
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
