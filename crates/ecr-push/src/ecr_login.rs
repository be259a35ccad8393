//! The ECR login: GetAuthorizationToken through the SDK, its token decoded into registry
//! [`Credentials`] and masked, and [`EcrRelogin`] to renew them. It uses the registry client's
//! credentials module, never the other way round.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use dk_core::{Error, Result, Secret, Ui};

use crate::registry_client::{Credentials, Relogin};

/// Decode an ECR `authorizationToken` (base64 of `AWS:<password>`). The token itself is a
/// secret, so errors never quote it.
pub fn decode_ecr_token(token: &Secret<String>) -> std::result::Result<Credentials, String> {
    let bytes = STANDARD
        .decode(token.expose().trim())
        .map_err(|_| "the ECR authorization token is not base64".to_string())?;
    let text = String::from_utf8(bytes)
        .map_err(|_| "the ECR authorization token is not UTF-8".to_string())?;
    let (user, pass) = text.split_once(':').ok_or_else(|| {
        "the ECR authorization token does not decode to user:password".to_string()
    })?;
    Ok(Credentials {
        username: user.to_string(),
        password: Secret::new(pass.to_string()),
    })
}

/// What ECR's GetAuthorizationToken gave us.
#[derive(Debug)]
pub struct EcrLogin {
    pub credentials: Credentials,
    /// `https://<account>.dkr.ecr.<region>.amazonaws.com`
    pub proxy_endpoint: String,
    /// When the token stops working; `None` when unknown or already past at issue (moto).
    pub expires_at: Option<std::time::SystemTime>,
}

/// GetAuthorizationToken → decoded, masked credentials and the registry endpoint. The token is
/// valid for 12 hours; the registry client renews it (see [`EcrRelogin`]) should a push last
/// that long.
pub async fn ecr_login(
    ui: &Ui,
    client: &aws_sdk_ecr::Client,
    registry_id: Option<&str>,
) -> Result<EcrLogin> {
    let mut req = client.get_authorization_token();
    if let Some(id) = registry_id {
        // Deprecated for permissions, but still what picks the other account's proxyEndpoint.
        #[allow(deprecated)]
        {
            req = req.registry_ids(id);
        }
    }
    let out = req
        .send()
        .await
        .map_err(|e| dk_core::aws::sdk_error("ECR GetAuthorizationToken", e))?;
    let data = out.authorization_data().first().ok_or_else(|| {
        Error::runtime("ECR GetAuthorizationToken returned no authorization data")
    })?;
    let token = Secret::new(data.authorization_token().unwrap_or_default().to_string());
    ui.mask(&token);
    let credentials = decode_ecr_token(&token).map_err(Error::runtime)?;
    ui.mask(&credentials.password);
    ui.mask(&credentials.basic_header());
    let proxy_endpoint = data
        .proxy_endpoint()
        .ok_or_else(|| {
            Error::runtime("ECR GetAuthorizationToken returned no proxyEndpoint")
                .with_hint("pass --registry URL")
        })?
        .to_string();
    let now = std::time::SystemTime::now();
    let expires_at = data
        .expires_at()
        .and_then(|t| std::time::SystemTime::try_from(*t).ok())
        .filter(|t| *t > now);
    Ok(EcrLogin {
        credentials,
        proxy_endpoint,
        expires_at,
    })
}

/// Logging in to ECR again, for the registry client to renew an expiring token.
#[derive(Clone)]
pub struct EcrRelogin {
    pub client: aws_sdk_ecr::Client,
    pub registry_id: Option<String>,
    pub ui: Ui,
}

impl Relogin for EcrRelogin {
    fn relogin(
        &self,
    ) -> futures_util::future::BoxFuture<
        '_,
        std::result::Result<(Credentials, Option<std::time::SystemTime>), String>,
    > {
        Box::pin(async move {
            ecr_login(&self.ui, &self.client, self.registry_id.as_deref())
                .await
                .map(|l| (l.credentials, l.expires_at))
                .map_err(|e| e.message().to_string())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// moto's token decodes to the htpasswd pair the auth registry accepts.
    #[test]
    fn decodes_moto_token() {
        let c =
            decode_ecr_token(&Secret::new("QVdTOjEyMzQ1Njc4OTAxMi1hdXRoLXRva2Vu".into())).unwrap();
        assert_eq!(c.username, "AWS");
        assert_eq!(c.password.expose(), "123456789012-auth-token");
        assert_eq!(
            c.basic_header().expose(),
            "Basic QVdTOjEyMzQ1Njc4OTAxMi1hdXRoLXRva2Vu"
        );
        assert!(!format!("{c:?}").contains("auth-token"));
        assert!(decode_ecr_token(&Secret::new("!!!".into())).is_err());
    }
}
