//! A loopback "load balancer" for one service in process mode: two HTTP/1.1 listeners, the
//! production listener and the test listener (`loadBalancers[].advancedConfiguration`'s
//! `productionListenerRule` and `testListenerRule`). Each forwards a request to one of two
//! target groups — blue (the primary target group) or green (the alternate one) — by the
//! listener's current green weight, then round robin to one of that group's registered,
//! healthy, not draining targets, as an ALB weighted forward action does. The chosen group has
//! no healthy target → 503; a target that does not answer → 502; no answer in time → 504
//! (ALB's codes).
//!
//! It knows nothing of tasks or deployments: `routes` says, at each request, which loopback
//! ports are in each group and the green weight of that listener (the process supervisor
//! decides from its health checks and the service's deployment).

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

use crate::accept::next_connection;
use crate::http_client::{self, SendError};

/// The two listeners of a service's load balancer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    Production,
    Test,
}

/// Where one listener sends requests now: the healthy ports of each target group and the
/// percentage (tenths count) that goes to green.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Pools {
    pub blue: Vec<u16>,
    pub green: Vec<u16>,
    pub green_weight: f64,
}

/// The routing of a listener, asked at each request.
pub type Routes = Arc<dyn Fn(Listener) -> Pools + Send + Sync>;

/// The bound addresses of one load balancer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Addresses {
    pub production: SocketAddr,
    pub test: SocketAddr,
}

/// Request counters of one listener: which request this is (for the weights) and the next
/// target of each group (round robin).
#[derive(Debug, Default)]
pub struct Counters {
    requests: AtomicUsize,
    blue: AtomicUsize,
    green: AtomicUsize,
}

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

/// Binds the production and the test listener on free loopback ports now (so their addresses
/// can be reported at once) and serves both until `shutdown` turns true. Must be called within
/// a tokio runtime.
pub fn start(routes: Routes, shutdown: watch::Receiver<bool>) -> std::io::Result<Addresses> {
    Ok(Addresses {
        production: listen(Listener::Production, routes.clone(), shutdown.clone())?,
        test: listen(Listener::Test, routes, shutdown)?,
    })
}

fn listen(
    which: Listener,
    routes: Routes,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<SocketAddr> {
    let std_listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    std_listener.set_nonblocking(true)?;
    let addr = std_listener.local_addr()?;
    let listener = TcpListener::from_std(std_listener)?;
    let counters = Arc::new(Counters::default());
    tokio::spawn(async move {
        while let Some((stream, peer)) = next_connection(&listener, &mut shutdown).await {
            let (routes, counters) = (routes.clone(), counters.clone());
            let mut conn_shutdown = shutdown.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| {
                    let port = pick(&routes(which), &counters);
                    forward(port, peer, req)
                });
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

/// Whether request number `n` of a listener goes to green at `weight` percent: spread evenly,
/// so any run of 1000 requests sends exactly `weight` × 10 of them (weights are tenths).
fn goes_green(n: usize, weight: f64) -> bool {
    let tenths = (weight.clamp(0.0, 100.0) * 10.0).round() as usize;
    (n % 1000 + 1) * tenths / 1000 > (n % 1000) * tenths / 1000
}

/// Picks the target group by weight, then the next target of that group round robin; `None`
/// when the chosen group has no healthy target (the caller answers 503).
pub fn pick(pools: &Pools, counters: &Counters) -> Option<u16> {
    let n = counters.requests.fetch_add(1, Ordering::Relaxed);
    let (targets, next) = if goes_green(n, pools.green_weight) {
        (&pools.green, &counters.green)
    } else {
        (&pools.blue, &counters.blue)
    };
    if targets.is_empty() {
        return None;
    }
    let i = next.fetch_add(1, Ordering::Relaxed) % targets.len();
    Some(targets[i])
}

async fn forward(
    port: Option<u16>,
    peer: SocketAddr,
    request: Request<Incoming>,
) -> Result<Reply, Infallible> {
    let Some(port) = port else {
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

    fn pools(blue: &[u16], green: &[u16], green_weight: f64) -> Pools {
        Pools {
            blue: blue.to_vec(),
            green: green.to_vec(),
            green_weight,
        }
    }

    /// Round robin over the current targets of a group; none → no pick (the caller answers 503).
    #[test]
    fn round_robin() {
        let counters = Counters::default();
        let all = pools(&[1, 2], &[], 0.0);
        let picks: Vec<_> = (0..4).map(|_| pick(&all, &counters).unwrap()).collect();
        assert_eq!(picks, [1, 2, 1, 2]);
        assert_eq!(pick(&pools(&[], &[3], 0.0), &counters), None);
    }

    /// The green weight is honoured exactly over any 1000 requests and spread evenly: 0 sends
    /// nothing to green, 100 everything, 20 every fifth, 0.1 one in a thousand.
    #[test]
    fn weights_split_requests_between_the_groups() {
        for (weight, per_thousand) in [(0.0, 0), (100.0, 1000), (20.0, 200), (0.1, 1), (33.3, 333)]
        {
            let counters = Counters::default();
            let p = pools(&[1, 2], &[7, 8], weight);
            let green = (0..1000)
                .filter(|_| matches!(pick(&p, &counters), Some(7 | 8)))
                .count();
            assert_eq!(green, per_thousand, "weight {weight}");
        }
        let counters = Counters::default();
        let p = pools(&[1], &[7], 20.0);
        let first: Vec<_> = (0..10).map(|_| pick(&p, &counters).unwrap()).collect();
        assert_eq!(first, [1, 1, 1, 1, 7, 1, 1, 1, 1, 7]);
        // Green chosen but empty: 503, never blue instead (a 0 % group is never asked).
        assert_eq!(pick(&pools(&[1], &[], 100.0), &Counters::default()), None);
        assert_eq!(pick(&pools(&[], &[7], 0.0), &Counters::default()), None);
    }
}
