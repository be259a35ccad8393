//! The loopback HTTP/1.1 server: ECS JSON 1.1 requests on `POST /`, the control API under
//! `/_emulator/`, and the background clock that moves emulated time at `time_scale`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::accept::next_connection;
use crate::error::EcsError;
use crate::model::State;

/// The `X-Amz-Target` prefix of every ECS operation.
pub const TARGET_PREFIX: &str = "AmazonEC2ContainerServiceV20141113.";
/// Request bodies above this are refused (ECS's own limits are far lower).
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
/// How often the background clock wakes up (real time).
const TICK: Duration = Duration::from_millis(10);

/// State shared by connections and the clock.
pub struct Shared {
    state: Mutex<State>,
    /// `--manual-clock` / `Config::manual_clock`: stays manual whatever a scenario says.
    pub manual_forced: bool,
}

impl Shared {
    pub fn new(state: State, manual_forced: bool) -> Self {
        Shared {
            state: Mutex::new(state),
            manual_forced,
        }
    }

    /// The state; a panic elsewhere cannot poison the emulator for good.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Wall-clock epoch seconds.
pub fn real_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

type Body = Full<Bytes>;

fn json_response(status: u16, content_type: &'static str, body: &Value) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

fn ecs_response(result: Result<Value, EcsError>, request_id: &str) -> Response<Body> {
    let mut response = match result {
        Ok(body) => json_response(200, "application/x-amz-json-1.1", &body),
        Err(e) => {
            let mut r = json_response(e.status, "application/x-amz-json-1.1", &e.body());
            if let Ok(v) = HeaderValue::from_str(e.code) {
                r.headers_mut().insert("x-amzn-errortype", v);
            }
            r
        }
    };
    if let Ok(v) = HeaderValue::from_str(request_id) {
        response.headers_mut().insert("x-amzn-requestid", v);
    }
    response
}

/// Answers one ECS call: record it, apply an armed fault, else run the operation.
pub fn handle_ecs_call(
    shared: &Shared,
    target: Option<&str>,
    body: &[u8],
) -> (Result<Value, EcsError>, String) {
    let mut state = shared.lock();
    let request_id = crate::ids::uuid(&mut state.rng);
    let operation = match target.and_then(|t| t.strip_prefix(TARGET_PREFIX)) {
        Some(op) if !op.is_empty() => op.to_string(),
        _ => {
            let e = EcsError::unknown_operation(target.unwrap_or("(no X-Amz-Target header)"));
            return (Err(e), request_id);
        }
    };
    let parsed: Result<Value, _> = if body.iter().all(u8::is_ascii_whitespace) {
        Ok(json!({}))
    } else {
        serde_json::from_slice(body)
    };
    state.calls.record(&operation);
    if operation == "DescribeServices" {
        let named = parsed
            .as_ref()
            .ok()
            .and_then(|v| v.get("services"))
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        state.calls.describe_services_batch_sizes.push(named);
    }
    if operation == "RunTask"
        && let Ok(input) = &parsed
    {
        state.calls.run_task_inputs.push(input.clone());
    }
    if let Some(fault) = state.faults.take(&operation) {
        state.calls.faulted += 1;
        return (Err(fault), request_id);
    }
    let result = match parsed {
        Ok(body) => crate::ops::dispatch(&mut state, &operation, &body, real_now()),
        Err(e) => Err(EcsError::serialization(format!(
            "Request body is not valid JSON: {e}"
        ))),
    };
    (result, request_id)
}

async fn route(
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> Result<Response<Body>, std::convert::Infallible> {
    let method = request.method().as_str().to_string();
    let path = request.uri().path().to_string();
    let query = request.uri().query().map(str::to_string);
    let target = request
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = match Limited::new(request.into_body(), MAX_BODY_BYTES)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            let e = EcsError::serialization("Request body too large or unreadable.");
            return Ok(ecs_response(Err(e), "-"));
        }
    };
    if path.starts_with("/_emulator/") {
        let real = real_now();
        let (status, value) = {
            let mut state = shared.lock();
            crate::control::handle(
                &mut state,
                shared.manual_forced,
                &method,
                &path,
                query.as_deref(),
                &body,
                real,
            )
        };
        return Ok(json_response(status, "application/json", &value));
    }
    if method != "POST" || path != "/" {
        let e = EcsError::unknown_operation(&format!("{method} {path}"));
        return Ok(ecs_response(Err(e), "-"));
    }
    let (result, request_id) = handle_ecs_call(&shared, target.as_deref(), &body);
    Ok(ecs_response(result, &request_id))
}

/// Accepts connections until `shutdown` turns true.
pub async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    while let Some((stream, _)) = next_connection(&listener, &mut shutdown).await {
        let shared = shared.clone();
        let mut conn_shutdown = shutdown.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| route(shared.clone(), req));
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = conn_shutdown.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(Duration::from_secs(2), conn).await;
                }
            }
        });
    }
}

/// Moves emulated time at `time_scale` unless the clock is manual.
pub async fn run_clock(shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    let mut last = Instant::now();
    let mut interval = tokio::time::interval(TICK);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = shutdown.changed() => break,
        }
        let elapsed = last.elapsed().as_secs_f64();
        last = Instant::now();
        let mut state = shared.lock();
        if shared.manual_forced || state.scenario.manual_clock {
            continue;
        }
        let seconds = elapsed * state.scenario.time_scale;
        crate::rollout::advance(&mut state, seconds, real_now());
    }
}

/// Binds 127.0.0.1:`port` (0 picks a free port).
pub async fn bind(port: u16) -> std::io::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    Ok((listener, addr))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Scenario;

    fn shared() -> Shared {
        Shared::new(State::new(Scenario::default(), 0.0), true)
    }

    /// A missing or foreign X-Amz-Target is an UnknownOperationException.
    #[test]
    fn unknown_targets() {
        let s = shared();
        let (r, _) = handle_ecs_call(&s, None, b"{}");
        assert_eq!(r.unwrap_err().code, "UnknownOperationException");
        let (r, _) = handle_ecs_call(&s, Some("AmazonEC2ContainerServiceV20141113.Launch"), b"{}");
        assert_eq!(r.unwrap_err().code, "UnknownOperationException");
        assert_eq!(s.lock().calls.count("Launch"), 1);
    }

    /// Bad JSON is a SerializationException; an empty body is `{}`.
    #[test]
    fn bodies() {
        let s = shared();
        let target = Some("AmazonEC2ContainerServiceV20141113.ListClusters");
        assert_eq!(
            handle_ecs_call(&s, target, b"{oops").0.unwrap_err().code,
            "SerializationException"
        );
        assert!(handle_ecs_call(&s, target, b"").0.is_ok());
    }

    /// An armed fault answers the call before the operation runs.
    #[test]
    fn faults_come_first() {
        let s = shared();
        s.lock().faults.arm(crate::faults::Fault {
            operation: "CreateCluster".into(),
            count: 1,
            kind: crate::faults::FaultKind::ServerError,
        });
        let target = Some("AmazonEC2ContainerServiceV20141113.CreateCluster");
        assert_eq!(
            handle_ecs_call(&s, target, b"{}").0.unwrap_err().status,
            500
        );
        assert!(s.lock().clusters.is_empty());
        assert!(handle_ecs_call(&s, target, b"{}").0.is_ok());
        assert_eq!(s.lock().calls.faulted, 1);
    }
}
