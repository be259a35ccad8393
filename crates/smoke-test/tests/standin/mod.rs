//! A local stand-in of the teams' API (hyper, HTTP/1.1 on 127.0.0.1), started by each test with
//! the behaviour it needs: a login handing out a bearer token, a slow endpoint, a health check
//! answering 503 for a while after start, an endpoint failing on a fraction of requests, and one
//! that leaks the caller's token and hostile text in an error body.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

/// The canary secrets: neither may appear in any output except `::add-mask::` lines.
pub const PASSWORD: &str = "pw-CANARY-55d1e0";
pub const TOKEN: &str = "tok-CANARY-7f3a9b1e42";

#[derive(Debug, Clone, Default)]
pub struct Behaviour {
    /// /health answers 503 for this long after start.
    pub unhealthy_for: Duration,
    /// /flaky answers 500 on every n-th request (0: never).
    pub error_every: u64,
    /// /slow (and /recipes when `slow_recipes`) waits this long.
    pub slow: Duration,
    pub slow_recipes: bool,
}

pub struct Api {
    pub url: String,
    /// Requests served so far.
    pub hits: Arc<AtomicU64>,
    _runtime: tokio::runtime::Runtime,
}

struct State {
    b: Behaviour,
    started: Instant,
    hits: Arc<AtomicU64>,
    flaky: AtomicU64,
    plans: AtomicU64,
}

pub fn start(b: Behaviour) -> Api {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let hits = Arc::new(AtomicU64::new(0));
    let state = Arc::new(State {
        b,
        started: Instant::now(),
        hits: hits.clone(),
        flaky: AtomicU64::new(0),
        plans: AtomicU64::new(0),
    });
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind(SocketAddr::from((
            [127, 0, 0, 1],
            0,
        ))))
        .unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    runtime.spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let state = state.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req| handle(state.clone(), req));
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    Api {
        url,
        hits,
        _runtime: runtime,
    }
}

fn reply(status: u16, body: Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap())
        .header("content-type", "application/json; charset=utf-8")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

fn authorised(req: &Request<Incoming>) -> bool {
    req.headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("Bearer {TOKEN}"))
}

async fn handle(
    s: Arc<State>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    s.hits.fetch_add(1, Ordering::SeqCst);
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let auth = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let ok = authorised(&req);
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let doc: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let resp = match (method.as_str(), path.as_str()) {
        ("GET", "/health") if s.started.elapsed() < s.b.unhealthy_for => {
            reply(503, json!({"status": "starting"}))
        }
        ("GET", "/health") => reply(200, json!({"status": "ok", "version": "1.4.2"})),
        ("POST", "/auth/login") if doc["password"] == PASSWORD && doc["email"].is_string() => {
            reply(
                200,
                json!({"data": {"tokens": {"accessToken": TOKEN, "refreshToken": "r-1"}, "user": {"email": doc["email"]}}}),
            )
        }
        ("POST", "/auth/login") => reply(401, json!({"error": "bad credentials"})),
        (_, "/recipes" | "/meal-plans") if !ok => {
            reply(401, json!({"error": "missing or bad token"}))
        }
        ("GET", "/recipes") => {
            if s.b.slow_recipes {
                tokio::time::sleep(s.b.slow).await;
            }
            let mut r = reply(
                200,
                json!({"data": [
                    {"id": 11, "name": "Soup", "kcal": 320},
                    {"id": 12, "name": "Stew", "kcal": 540},
                    {"id": 13, "name": "Salad", "kcal": 180}
                ], "total": 3}),
            );
            r.headers_mut()
                .insert("x-total-count", "3".parse().unwrap());
            r
        }
        ("POST", "/meal-plans") => {
            let n = s.plans.fetch_add(1, Ordering::SeqCst) + 1;
            let recipes = doc["recipeIds"].as_array().map_or(0, Vec::len);
            let mut r = reply(
                201,
                json!({"data": {"id": format!("mp-{n}"), "name": doc["name"], "recipes": recipes}}),
            );
            r.headers_mut()
                .insert("location", format!("/meal-plans/mp-{n}").parse().unwrap());
            r
        }
        ("GET", "/slow") => {
            tokio::time::sleep(s.b.slow).await;
            reply(200, json!({"ok": true}))
        }
        ("GET", "/flaky") => {
            let n = s.flaky.fetch_add(1, Ordering::SeqCst) + 1;
            if s.b.error_every > 0 && n.is_multiple_of(s.b.error_every) {
                reply(500, json!({"error": "boom"}))
            } else {
                reply(200, json!({"ok": true}))
            }
        }
        ("GET", "/leak") => Response::builder()
            .status(500)
            .body(Full::new(Bytes::from(format!(
                "token was {auth}\r::add-mask::x\n##[error]injected | <b>bold</b>"
            ))))
            .unwrap(),
        ("GET", "/redirect") => Response::builder()
            .status(302)
            .header("location", "/health")
            .body(Full::new(Bytes::new()))
            .unwrap(),
        _ => reply(404, json!({"error": "not found"})),
    };
    Ok(resp)
}
