//! The client's authentication state: the credentials (renewed through [`Relogin`] before they
//! expire), the registry's 401 challenge once seen, and the Bearer tokens traded for each scope
//! set; [`RegistryClient::send`] answers a challenge once and retries the request.

use std::collections::HashMap;
use std::time::SystemTime;

use dk_core::Secret;
use reqwest::header::{AUTHORIZATION, HeaderValue, WWW_AUTHENTICATE};
use reqwest::{RequestBuilder, Response, StatusCode, Url};

use super::credentials::{Credentials, refresh_due};
use super::error::{ErrorClass, RegistryError, Res, status_error};
use super::{RegistryClient, read_limited};
use crate::challenge::{Challenge, parse_challenge};

#[derive(Default)]
pub(super) struct AuthState {
    pub(super) challenge: Option<Challenge>,
    /// Bearer tokens by scope set.
    pub(super) tokens: HashMap<String, Secret<String>>,
}

impl RegistryClient {
    pub(super) fn credentials(&self) -> Option<Credentials> {
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
    pub(super) async fn refresh_if_due(&self, doing: &str) -> Res<()> {
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

    /// Same scheme, host and port as the registry endpoint.
    pub(super) fn is_own_origin(&self, url: &Url) -> bool {
        url.scheme() == self.base.scheme()
            && url.host_str() == self.base.host_str()
            && url.port_or_known_default() == self.base.port_or_known_default()
    }

    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, AuthState> {
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
    pub(super) async fn send(
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
}
