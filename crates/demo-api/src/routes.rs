//! The routes: the teams' API (`/health`, `/auth/login`, `/recipes`, `/meal-plans`,
//! `/version`) and the endpoints smoke-test's own tests need (`/slow`, `/flaky`, `/leak`,
//! `/redirect`).

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::HeaderValue;
use hyper::{Request, Response, StatusCode};
use serde_json::{Value, json};

use crate::{App, Behaviour};

type Reply = Response<Full<Bytes>>;

fn reply(status: u16, body: Value) -> Reply {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    r
}

fn with_header(mut r: Reply, name: &'static str, value: &str) -> Reply {
    if let Ok(v) = HeaderValue::from_str(value) {
        r.headers_mut().insert(name, v);
    }
    r
}

/// One request; every answer carries `x-app-version`.
pub async fn handle(app: Arc<App>, req: Request<Incoming>) -> Result<Reply, Infallible> {
    app.hits.fetch_add(1, Ordering::SeqCst);
    if app.config.behaviour == Behaviour::Slow {
        tokio::time::sleep(app.config.latency).await;
    }
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let auth = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let doc: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let response = route(&app, &method, &path, &auth, &doc).await;
    Ok(with_header(response, "x-app-version", &app.config.version))
}

async fn route(app: &App, method: &str, path: &str, auth: &str, doc: &Value) -> Reply {
    let config = &app.config;
    let version = config.version.as_str();
    match (method, path) {
        ("GET", "/health") => health(app),
        ("GET", "/version") => reply(200, json!({"version": version})),
        ("POST", "/auth/login") => login(app, doc),
        (_, "/recipes" | "/meal-plans") if !authorised(app, auth) => {
            reply(401, json!({"error": "missing or bad token"}))
        }
        (_, "/recipes" | "/meal-plans") if app.api_request_fails() => {
            reply(500, json!({"error": "internal error", "version": version}))
        }
        ("GET", "/recipes") => {
            if config.slow_recipes {
                tokio::time::sleep(config.latency).await;
            }
            let r = reply(
                200,
                json!({"data": [
                    {"id": 11, "name": "Soup", "kcal": 320},
                    {"id": 12, "name": "Stew", "kcal": 540},
                    {"id": 13, "name": "Salad", "kcal": 180}
                ], "total": 3, "version": version}),
            );
            with_header(r, "x-total-count", "3")
        }
        ("POST", "/meal-plans") => {
            let n = app.plans.fetch_add(1, Ordering::SeqCst) + 1;
            let recipes = doc["recipeIds"].as_array().map_or(0, Vec::len);
            let r = reply(
                201,
                json!({"data": {"id": format!("mp-{n}"), "name": doc["name"], "recipes": recipes}, "version": version}),
            );
            with_header(r, "location", &format!("/meal-plans/mp-{n}"))
        }
        _ => test_route(app, method, path, auth).await,
    }
}

fn health(app: &App) -> Reply {
    let version = app.config.version.as_str();
    let starting = app.started.elapsed() < app.config.unhealthy_for;
    if starting || app.config.behaviour == Behaviour::Unhealthy {
        return reply(503, json!({"status": "failing", "version": version}));
    }
    reply(200, json!({"status": "ok", "version": version}))
}

fn login(app: &App, doc: &Value) -> Reply {
    let password_ok = !app.config.user_password.is_empty()
        && doc["password"].as_str() == Some(app.config.user_password.as_str());
    match doc["email"].as_str() {
        Some(email) if password_ok => {
            let token = app.config.token_for(email);
            reply(
                200,
                json!({"data": {"tokens": {"accessToken": token, "refreshToken": "r-1"}, "user": {"email": email}}}),
            )
        }
        _ => reply(401, json!({"error": "bad credentials"})),
    }
}

fn authorised(app: &App, auth: &str) -> bool {
    auth.strip_prefix("Bearer ")
        .is_some_and(|token| app.config.accepts(token))
}

/// Endpoints for smoke-test's own tests: latency, intermittent errors, a hostile error body
/// that echoes the caller's token, and a redirect.
async fn test_route(app: &App, method: &str, path: &str, auth: &str) -> Reply {
    match (method, path) {
        ("GET", "/slow") => {
            tokio::time::sleep(app.config.latency).await;
            reply(200, json!({"ok": true}))
        }
        ("GET", "/flaky") => {
            let n = app.flaky.fetch_add(1, Ordering::SeqCst) + 1;
            let every = app.config.flaky_every;
            if every > 0 && n.is_multiple_of(every) {
                reply(500, json!({"error": "boom"}))
            } else {
                reply(200, json!({"ok": true}))
            }
        }
        ("GET", "/leak") => {
            let mut r = Response::new(Full::new(Bytes::from(format!(
                "token was {auth}\r::add-mask::x\n##[error]injected | <b>bold</b>"
            ))));
            *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            r
        }
        ("GET", "/redirect") => {
            let mut r = Response::new(Full::new(Bytes::new()));
            *r.status_mut() = StatusCode::FOUND;
            with_header(r, "location", "/health")
        }
        _ => reply(404, json!({"error": "not found"})),
    }
}
