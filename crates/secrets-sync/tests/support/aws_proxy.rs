//! A loopback HTTP proxy in front of moto that answers the first N AWS requests itself:
//! `ThrottlingException` (what AWS sends when a caller is too fast), or an error whose message
//! echoes the request body back (what a careless error path would print — with the secret in it).
//! Every request gets its own upstream connection (`Connection: close`).

use std::io::{BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use test_support::http_wire::{read_body, read_head};

#[derive(Clone, Copy)]
pub enum Fault {
    Throttle,
    EchoBody,
}

pub struct AwsProxy {
    pub url: String,
    /// Requests answered by the proxy itself so far.
    pub faulted: Arc<AtomicUsize>,
}

/// Start a proxy to moto (`http://127.0.0.1:PORT`) that faults the first `n` requests whose
/// body or headers contain `marker` (an operation name such as `PutSecretValue`; "" for all).
pub fn start(moto: &str, fault: Fault, n: usize, marker: &str) -> AwsProxy {
    let upstream = moto
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let faulted = Arc::new(AtomicUsize::new(0));
    let (count, marker) = (faulted.clone(), marker.to_string());
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let (upstream, count, marker) = (upstream.clone(), count.clone(), marker.clone());
            std::thread::spawn(move || handle(conn, &upstream, fault, n, &count, &marker));
        }
    });
    AwsProxy { url, faulted }
}

fn handle(
    conn: TcpStream,
    upstream: &str,
    fault: Fault,
    n: usize,
    count: &AtomicUsize,
    marker: &str,
) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let Some(request) = read_head(&mut reader) else {
        return;
    };
    let Some(body) = read_body(&mut reader, &request) else {
        return;
    };
    // Its own `Connection: close` goes upstream instead of the client's.
    let head: Vec<String> = request
        .lines
        .into_iter()
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
        .collect();
    let text = format!("{}{}", head.concat(), String::from_utf8_lossy(&body));
    let mut conn = conn;
    let take = text.contains(marker)
        && count
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |c| {
                (c < n).then_some(c + 1)
            })
            .is_ok();
    if take {
        let (kind, message) = match fault {
            Fault::Throttle => ("ThrottlingException", "Rate exceeded".to_string()),
            Fault::EchoBody => (
                "InvalidParameterException",
                format!(
                    "could not process request {}",
                    String::from_utf8_lossy(&body)
                ),
            ),
        };
        let reply = serde_json::json!({ "__type": kind, "message": message }).to_string();
        let resp = format!(
            "HTTP/1.1 400 Bad Request\r\nContent-Type: application/x-amz-json-1.1\r\nx-amzn-ErrorType: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
            reply.len()
        );
        let _ = conn.write_all(resp.as_bytes());
        return;
    }
    let Ok(mut up) = TcpStream::connect(upstream) else {
        return;
    };
    let mut req = head.concat();
    req.push_str("Connection: close\r\n\r\n");
    if up.write_all(req.as_bytes()).is_err() || up.write_all(&body).is_err() {
        return;
    }
    let _ = std::io::copy(&mut up, &mut conn);
    let _ = conn.shutdown(std::net::Shutdown::Both);
}
