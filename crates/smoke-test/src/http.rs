//! The HTTP client: rustls with the system roots (plus `--ca-file`), HTTP/1.1 and HTTP/2 (ALPN),
//! connection reuse, redirects off unless asked, the standard proxy variables read through the
//! Context. One request in, one [`Response`] (timed to the last body byte) out.

use std::path::Path;
use std::time::{Duration, Instant};

use dk_core::env_vars as ev;
use dk_core::{Context, Error, Result};
use reqwest::{Client, Proxy, Url};

use crate::assert::Response;
use crate::model::Method;

/// The most of a body kept for assertions; the rest is read (for timing) and dropped.
pub const MAX_BODY: usize = 4 << 20;

#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    pub ca_file: Option<std::path::PathBuf>,
    /// Follow up to this many redirects (0: report the 3xx itself).
    pub max_redirects: usize,
}

/// One client for the whole run, so connections are reused.
pub fn build_client(opts: &ClientOptions, ctx: &Context) -> Result<Client> {
    let redirect = if opts.max_redirects == 0 {
        reqwest::redirect::Policy::none()
    } else {
        reqwest::redirect::Policy::limited(opts.max_redirects)
    };
    let mut b = Client::builder()
        .redirect(redirect)
        .no_proxy()
        .pool_max_idle_per_host(1024)
        .user_agent(concat!("deploy-kit-smoke-test/", env!("CARGO_PKG_VERSION")));
    if let Some(path) = &opts.ca_file {
        b = b.tls_certs_merge(read_ca_file(path)?);
    }
    for proxy in proxies(ctx)? {
        b = b.proxy(proxy);
    }
    b.build()
        .map_err(|e| Error::runtime("cannot set up the HTTP client").with_source(e))
}

fn read_ca_file(path: &Path) -> Result<Vec<reqwest::Certificate>> {
    let pem = std::fs::read(path).map_err(|e| {
        Error::usage(format!("--ca-file {}: {e}", path.display()))
            .with_hint("give a PEM file with one or more CA certificates")
    })?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
        Error::usage(format!(
            "--ca-file {}: not a PEM certificate bundle ({e})",
            path.display()
        ))
    })?;
    if certs.is_empty() {
        return Err(Error::usage(format!(
            "--ca-file {} holds no certificate",
            path.display()
        )));
    }
    Ok(certs)
}

fn first_var<'a>(ctx: &'a Context, names: [&str; 2]) -> Option<&'a str> {
    names.into_iter().find_map(|n| ctx.var(n))
}

/// `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY` (either case), as curl reads them.
fn proxies(ctx: &Context) -> Result<Vec<Proxy>> {
    let no_proxy = first_var(ctx, ev::NO_PROXY).and_then(reqwest::NoProxy::from_string);
    let mut out = Vec::new();
    let all = first_var(ctx, ev::ALL_PROXY);
    let bad = |name: &str, e: reqwest::Error| {
        Error::usage(format!("{name} is not a proxy URL ({e})"))
            .with_hint("write e.g. http://proxy.internal:3128, or unset it")
    };
    if let Some(url) = first_var(ctx, ev::HTTPS_PROXY).or(all) {
        out.push(
            Proxy::https(url)
                .map_err(|e| bad("HTTPS_PROXY", e))?
                .no_proxy(no_proxy.clone()),
        );
    }
    if let Some(url) = first_var(ctx, ev::HTTP_PROXY).or(all) {
        out.push(
            Proxy::http(url)
                .map_err(|e| bad("HTTP_PROXY", e))?
                .no_proxy(no_proxy),
        );
    }
    Ok(out)
}

/// Plain HTTP goes only to loopback unless `--allow-http`: tokens must not cross a network in
/// clear text.
pub fn check_scheme(url: &Url, allow_http: bool) -> std::result::Result<(), String> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if allow_http || is_loopback(url) => Ok(()),
        "http" => Err(format!(
            "plain HTTP to {} is refused (only loopback); use https:// or pass --allow-http",
            url.host_str().unwrap_or("?")
        )),
        other => Err(format!("scheme `{other}` is not http or https")),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost" || d.ends_with(".localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// A request ready to send (every template rendered).
#[derive(Debug, Clone)]
pub struct Prepared {
    pub method: Method,
    pub url: Url,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
}

impl Prepared {
    /// `GET https://host/path?query`, for reports (masked by the caller).
    pub fn line(&self) -> String {
        format!("{} {}", self.method, self.url)
    }
}

/// Why no response came back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// Nothing listens, DNS failed, TLS refused: no HTTP exchange at all.
    Connect(String),
    Timeout(Duration),
    Other(String),
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::Connect(e) => write!(f, "cannot connect: {e}"),
            SendError::Timeout(d) => write!(f, "no complete response within {} ms", d.as_millis()),
            SendError::Other(e) => f.write_str(e),
        }
    }
}

pub async fn send(
    client: &Client,
    p: &Prepared,
    timeout: Duration,
) -> std::result::Result<Response, SendError> {
    let method = reqwest::Method::from_bytes(p.method.as_str().as_bytes())
        .map_err(|e| SendError::Other(e.to_string()))?;
    let mut req = client.request(method, p.url.clone());
    for (k, v) in &p.headers {
        req = req.header(k.as_str(), v.as_str());
    }
    if let Some(body) = &p.body {
        req = req.body(body.clone());
    }
    let started = Instant::now();
    let exchange = async {
        let mut resp = req.send().await?;
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await? {
            let room = MAX_BODY.saturating_sub(body.len());
            body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        }
        Ok::<_, reqwest::Error>((status, headers, body))
    };
    match tokio::time::timeout(timeout, exchange).await {
        Err(_) => Err(SendError::Timeout(timeout)),
        Ok(Err(e)) => Err(classify(&e)),
        Ok(Ok((status, headers, body))) => Ok(Response {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
            latency: started.elapsed(),
        }),
    }
}

fn classify(e: &reqwest::Error) -> SendError {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let t = s.to_string();
        if !text.contains(&t) {
            text.push_str(": ");
            text.push_str(&t);
        }
        source = s.source();
    }
    if e.is_connect() {
        SendError::Connect(text)
    } else if e.is_timeout() {
        SendError::Timeout(Duration::ZERO)
    } else {
        SendError::Other(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Plain HTTP only to loopback unless allowed; HTTPS anywhere.
    #[test]
    fn plain_http_only_to_loopback() {
        let u = |s: &str| Url::parse(s).unwrap();
        assert!(check_scheme(&u("http://127.0.0.1:8080/"), false).is_ok());
        assert!(check_scheme(&u("http://localhost/"), false).is_ok());
        assert!(check_scheme(&u("http://[::1]/"), false).is_ok());
        assert!(check_scheme(&u("https://api.example.com/"), false).is_ok());
        let e = check_scheme(&u("http://api.example.com/"), false).unwrap_err();
        assert!(e.contains("--allow-http"), "{e}");
        assert!(check_scheme(&u("http://api.example.com/"), true).is_ok());
        assert!(check_scheme(&u("ftp://x/"), true).is_err());
    }

    /// Proxy variables come from the Context; a bad one is a usage error naming it.
    #[test]
    fn proxies_from_context() {
        let ctx = Context::from_map(
            [
                ("https_proxy", "http://127.0.0.1:3128"),
                ("NO_PROXY", "localhost"),
            ],
            false,
        );
        assert_eq!(proxies(&ctx).unwrap().len(), 1);
        let ctx = Context::from_map([("ALL_PROXY", "http://127.0.0.1:3128")], false);
        assert_eq!(proxies(&ctx).unwrap().len(), 2);
        assert!(proxies(&Context::default()).unwrap().is_empty());
    }
}
