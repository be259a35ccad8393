//! The registry operations the push uses, each with its own retry policy: ping, blob HEAD,
//! cross-repository mount, monolithic streamed upload, blob GET, manifest HEAD/GET/PUT.

use std::sync::Mutex;

use dk_core::retry::retry;
use reqwest::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE, LOCATION};
use reqwest::{Method, Response, StatusCode, Url};

use super::error::{ErrorClass, RegistryError, Res, status_error};
use super::{
    FetchedManifest, MANIFEST_READ_TIMEOUT, MountResult, RegistryClient, backoff, content_length,
    header, is_safe_scheme, pull_scope, push_scope, read_limited, short,
};
use crate::manifest::{ACCEPT_ALL, sha256_digest};

impl RegistryClient {
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
