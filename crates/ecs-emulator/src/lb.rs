//! A loopback "load balancer" for one service in process mode: an HTTP/1.1 listener that
//! forwards each request to one of the service's registered, healthy, not draining targets
//! (round robin), as an ALB target group does. No healthy target → 503; a target that does not
//! answer → 502; no answer in time → 504 (ALB's codes).
//!
//! It knows nothing of tasks: `targets` says, at each request, which loopback ports may take
//! it (the process supervisor decides membership from its health checks).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::HeaderValue;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::http_client::{self, SendError};

/// Which ports take requests now.
pub type Targets = Arc<dyn Fn() -> Vec<u16> + Send + Sync>;

/// Request bodies above this are refused (413).
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
/// How long a target may take to answer (ALB's idle timeout is 60 s; loopback apps are fast).
const TARGET_TIMEOUT: Duration = Duration::from_secs(30);
/// Headers that belong to one connection and are not forwarded.
const HOP_BY_HOP: [&str; 7] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

type Reply = Response<Full<Bytes>>;

/// Binds a free loopback port now (so its address can be reported at once) and serves until
/// `shutdown` turns true. Must be called within a tokio runtime.
pub fn start(targets: Targets, mut shutdown: watch::Receiver<bool>) -> std::io::Result<SocketAddr> {
    let std_listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    std_listener.set_nonblocking(true)?;
    let addr = std_listener.local_addr()?;
    let listener = TcpListener::from_std(std_listener)?;
    let next = Arc::new(AtomicUsize::new(0));
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                _ = shutdown.changed() => break,
            };
            let Ok((stream, peer)) = accepted else {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            };
            let (targets, next) = (targets.clone(), next.clone());
            let mut conn_shutdown = shutdown.clone();
            tokio::spawn(async move {
                let service =
                    service_fn(move |req| forward(targets.clone(), next.clone(), peer, req));
                let conn = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service);
                tokio::pin!(conn);
                tokio::select! {
                    _ = conn.as_mut() => {}
                    _ = conn_shutdown.changed() => conn.as_mut().graceful_shutdown(),
                }
            });
        }
    });
    Ok(addr)
}

fn error_page(status: StatusCode) -> Reply {
    let text = format!(
        "<html><body><center><h1>{} {}</h1></center></body></html>\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    );
    let mut r = Response::new(Full::new(Bytes::from(text)));
    *r.status_mut() = status;
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static("text/html"));
    r.headers_mut()
        .insert("server", HeaderValue::from_static("awselb/2.0"));
    r
}

/// Picks the next target round robin among those healthy right now.
pub fn pick(targets: &[u16], next: &AtomicUsize) -> Option<u16> {
    if targets.is_empty() {
        return None;
    }
    let i = next.fetch_add(1, Ordering::Relaxed) % targets.len();
    Some(targets[i])
}

async fn forward(
    targets: Targets,
    next: Arc<AtomicUsize>,
    peer: SocketAddr,
    request: Request<Incoming>,
) -> Result<Reply, Infallible> {
    let Some(port) = pick(&targets(), &next) else {
        return Ok(error_page(StatusCode::SERVICE_UNAVAILABLE));
    };
    let (mut parts, body) = request.into_parts();
    let Ok(body) = Limited::new(body, MAX_BODY_BYTES).collect().await else {
        return Ok(error_page(StatusCode::PAYLOAD_TOO_LARGE));
    };
    for name in HOP_BY_HOP {
        parts.headers.remove(name);
    }
    if let Ok(v) = HeaderValue::from_str(&peer.ip().to_string()) {
        parts.headers.insert("x-forwarded-for", v);
    }
    parts
        .headers
        .insert("x-forwarded-proto", HeaderValue::from_static("http"));
    // The target sees an origin-form URI, as behind an ALB.
    if let Some(pq) = parts.uri.path_and_query().cloned() {
        parts.uri = pq.as_str().parse().unwrap_or_default();
    }
    let upstream = Request::from_parts(parts, Full::new(body.to_bytes()));
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    Ok(
        match http_client::send(addr, upstream, TARGET_TIMEOUT).await {
            Ok(response) => response,
            Err(SendError::Timeout) => error_page(StatusCode::GATEWAY_TIMEOUT),
            Err(SendError::Connect(_)) => error_page(StatusCode::BAD_GATEWAY),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Round robin over the current targets; none → no pick (the caller answers 503).
    #[test]
    fn round_robin() {
        let next = AtomicUsize::new(0);
        let picks: Vec<_> = (0..4).map(|_| pick(&[1, 2], &next).unwrap()).collect();
        assert_eq!(picks, [1, 2, 1, 2]);
        assert_eq!(pick(&[], &next), None);
    }
}
