//! A minimal HTTP/1.1 client over loopback TCP (one connection per request): what the load
//! balancer forwards with, health checks probe with, and secrets are fetched with.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Response bodies above this are refused (the demo's answers are tiny).
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// Why a request got no response.
#[derive(Debug)]
pub enum SendError {
    /// Nothing listens, or the connection was refused or reset before an answer.
    Connect(String),
    /// No complete answer within the timeout.
    Timeout,
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::Connect(e) => f.write_str(e),
            SendError::Timeout => f.write_str("timed out"),
        }
    }
}

/// Sends `request` to `addr` and reads the whole answer within `timeout`.
pub async fn send(
    addr: SocketAddr,
    request: Request<Full<Bytes>>,
    timeout: Duration,
) -> Result<Response<Full<Bytes>>, SendError> {
    let exchange = async {
        let connect = |e: std::io::Error| SendError::Connect(format!("connect {addr}: {e}"));
        let stream = TcpStream::connect(addr).await.map_err(connect)?;
        let protocol = |e: hyper::Error| SendError::Connect(format!("{addr}: {e}"));
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(protocol)?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        let response = sender.send_request(request).await.map_err(protocol)?;
        let (parts, body) = response.into_parts();
        let body = Limited::new(body, MAX_BODY_BYTES)
            .collect()
            .await
            .map_err(|e| SendError::Connect(format!("{addr}: reading the body: {e}")))?
            .to_bytes();
        Ok(Response::from_parts(parts, Full::new(body)))
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .unwrap_or(Err(SendError::Timeout))
}

/// `GET path` on a loopback port; the status code.
pub async fn get_status(port: u16, path: &str, timeout: Duration) -> Result<u16, SendError> {
    let request = Request::get(path)
        .header("host", format!("127.0.0.1:{port}"))
        .header("user-agent", "ELB-HealthChecker/2.0")
        .body(Full::new(Bytes::new()))
        .map_err(|e| SendError::Connect(e.to_string()))?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    Ok(send(addr, request, timeout).await?.status().as_u16())
}

/// An AWS JSON 1.1 call (`X-Amz-Target: target`) to a loopback stand-in at `endpoint`
/// (`http://IP:PORT`, moto), unsigned but for a dummy authorization header moto accepts.
/// `Ok` is the answer's JSON; `Err` is `Code: message status code: N`, or why there was none.
pub async fn aws_json(
    endpoint: &str,
    target: &str,
    service: &str,
    body: &serde_json::Value,
) -> Result<serde_json::Value, AwsError> {
    let authority = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let addr: SocketAddr = authority.parse().map_err(|_| AwsError {
        code: None,
        message: format!("the endpoint {endpoint} is not http://IP:PORT"),
    })?;
    let request = Request::post("/")
        .header("host", authority)
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", target)
        .header(
            "authorization",
            format!("AWS4-HMAC-SHA256 Credential=ecs-emulator/20260101/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=0"),
        )
        .body(Full::new(Bytes::from(body.to_string())))
        .map_err(|e| AwsError {
            code: None,
            message: e.to_string(),
        })?;
    let response = send(addr, request, Duration::from_secs(10))
        .await
        .map_err(|e| AwsError {
            code: None,
            message: format!("RequestError: send request failed: {e}"),
        })?;
    let status = response.status().as_u16();
    let bytes = response
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let doc: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    if status == 200 {
        return Ok(doc);
    }
    let code = doc["__type"].as_str().unwrap_or("UnknownError");
    let code = code.rsplit('#').next().unwrap_or(code).to_string();
    let message = doc["message"]
        .as_str()
        .or(doc["Message"].as_str())
        .unwrap_or("");
    Err(AwsError {
        message: format!("{code}: {message} status code: {status}"),
        code: Some(code),
    })
}

/// A refused or failed [`aws_json`] call.
#[derive(Debug, Clone)]
pub struct AwsError {
    /// The service's error code (`ResourceNotFoundException`), when it answered.
    pub code: Option<String>,
    /// One line for a stopped reason.
    pub message: String,
}
