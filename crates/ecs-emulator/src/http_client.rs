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
