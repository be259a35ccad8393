//! A fault-injecting HTTP/1.1 proxy on loopback, between `ecr-push` and the registry. Each request
//! gets its own upstream connection (`Connection: close`), so every request draws its own fate
//! from a seeded generator: dropped connections, `429`, `503`, slow answers, or a clean pass.
//! With a [`BearerGate`] it also plays a registry behind token authentication: every request
//! needs `Authorization: Bearer <token>`, which its `/token` endpoint hands out for the right
//! Basic credentials (the distribution spec's token flow, which the stand-ins lack).
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Default)]
pub struct FaultCounts {
    pub requests: AtomicU64,
    pub dropped: AtomicU64,
    pub too_many: AtomicU64,
    pub unavailable: AtomicU64,
    pub delayed: AtomicU64,
    pub tokens: AtomicU64,
    pub truncated: AtomicU64,
    /// Request-body bytes passed on to the registry.
    pub body_bytes: AtomicU64,
}

/// Token authentication in front of the registry.
#[derive(Debug, Clone)]
pub struct BearerGate {
    /// The `Authorization` value the token endpoint requires (`Basic …`).
    pub basic: String,
    pub token: String,
}

pub struct FaultProxy {
    pub addr: String,
    /// Big uploads (> 1 MiB bodies) still to cut off halfway.
    pub truncate_big_uploads: Arc<AtomicU64>,
    pub counts: Arc<FaultCounts>,
    stop: Arc<AtomicBool>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(&self.addr);
    }
}

enum Fate {
    Drop,
    Status(u16),
    Delay(Duration),
    Pass,
}

/// Start a proxy to `upstream` (`127.0.0.1:PORT`); `rate` is the chance of each fault kind.
pub fn start(upstream: &str, seed: u64, rate: f64) -> FaultProxy {
    start_with(upstream, seed, rate, None)
}

/// A fault-free proxy that demands Bearer tokens.
pub fn start_bearer(upstream: &str, gate: BearerGate) -> FaultProxy {
    start_with(upstream, 0, 0.0, Some(gate))
}

/// A fault-free proxy that forwards only the first half of the first `n` big uploads, then
/// cuts both connections (the registry keeps what arrived).
pub fn start_truncating(upstream: &str, n: u64) -> FaultProxy {
    let p = start_with(upstream, 0, 0.0, None);
    p.truncate_big_uploads.store(n, Ordering::Relaxed);
    p
}

/// What every connection handler shares.
struct Shared {
    upstream: String,
    /// The proxy's own address (the token realm).
    me: String,
    rng: Mutex<fastrand::Rng>,
    rate: f64,
    counts: Arc<FaultCounts>,
    gate: Option<BearerGate>,
    truncate: Arc<AtomicU64>,
}

fn start_with(upstream: &str, seed: u64, rate: f64, gate: Option<BearerGate>) -> FaultProxy {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let stop = Arc::new(AtomicBool::new(false));
    let shared = Arc::new(Shared {
        upstream: upstream.to_string(),
        me: addr.clone(),
        rng: Mutex::new(fastrand::Rng::with_seed(seed)),
        rate,
        counts: Arc::new(FaultCounts::default()),
        gate,
        truncate: Arc::new(AtomicU64::new(0)),
    });
    let (s, sh) = (stop.clone(), shared.clone());
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            if s.load(Ordering::Relaxed) {
                break;
            }
            let Ok(conn) = conn else { continue };
            let sh = sh.clone();
            std::thread::spawn(move || {
                let _ = handle(conn, &sh);
            });
        }
    });
    FaultProxy {
        addr,
        truncate_big_uploads: shared.truncate.clone(),
        counts: shared.counts.clone(),
        stop,
    }
}

fn read_head(conn: &mut TcpStream) -> std::io::Result<Option<(Vec<u8>, Vec<u8>)>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(pos + 4);
            return Ok(Some((buf, rest)));
        }
        let n = conn.read(&mut chunk)?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn respond(client: &mut TcpStream, status: &str, headers: &str, body: &str) -> std::io::Result<()> {
    let msg = format!(
        "HTTP/1.1 {status}\r\n{headers}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    client.write_all(msg.as_bytes())?;
    let _ = client.shutdown(Shutdown::Both);
    Ok(())
}

fn header_value(head: &str, name: &str) -> Option<String> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_string())
    })
}

fn handle(mut client: TcpStream, sh: &Shared) -> std::io::Result<()> {
    let (upstream, rng, rate, counts, gate, me, truncate) = (
        sh.upstream.as_str(),
        &sh.rng,
        sh.rate,
        &*sh.counts,
        sh.gate.as_ref(),
        sh.me.as_str(),
        &*sh.truncate,
    );
    client.set_read_timeout(Some(Duration::from_secs(30)))?;
    // One request per connection: the client learns it from `Connection: close`.
    let Some((head, mut body_start)) = read_head(&mut client)? else {
        return Ok(());
    };
    counts.requests.fetch_add(1, Ordering::Relaxed);
    let text = String::from_utf8_lossy(&head).to_string();
    let content_length: u64 = text
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    if let Some(g) = gate {
        let path = text.split_whitespace().nth(1).unwrap_or("");
        let auth = header_value(&text, "authorization").unwrap_or_default();
        if path.starts_with("/token") {
            counts.tokens.fetch_add(1, Ordering::Relaxed);
            return if auth == g.basic {
                respond(
                    &mut client,
                    "200 OK",
                    "",
                    &format!("{{\"token\":\"{}\",\"expires_in\":300}}", g.token),
                )
            } else {
                respond(
                    &mut client,
                    "401 Unauthorized",
                    "",
                    r#"{"errors":[{"code":"UNAUTHORIZED"}]}"#,
                )
            };
        }
        if auth != format!("Bearer {}", g.token) {
            let challenge = format!(
                "WWW-Authenticate: Bearer realm=\"http://{me}/token\",service=\"test-registry\"\r\n"
            );
            return respond(
                &mut client,
                "401 Unauthorized",
                &challenge,
                r#"{"errors":[{"code":"UNAUTHORIZED"}]}"#,
            );
        }
    }
    let fate = {
        let mut r = rng.lock().unwrap();
        let x = r.f64();
        if x < rate {
            Fate::Drop
        } else if x < 2.0 * rate {
            Fate::Status(429)
        } else if x < 3.0 * rate {
            Fate::Status(503)
        } else if x < 5.0 * rate {
            Fate::Delay(Duration::from_millis(r.u64(20..250)))
        } else {
            Fate::Pass
        }
    };
    match fate {
        Fate::Drop => {
            counts.dropped.fetch_add(1, Ordering::Relaxed);
            // Read part of the body (if any) so the client is mid-upload, then cut it off.
            let _ = client.shutdown(Shutdown::Both);
            return Ok(());
        }
        Fate::Status(code) => {
            if code == 429 {
                counts.too_many.fetch_add(1, Ordering::Relaxed);
            } else {
                counts.unavailable.fetch_add(1, Ordering::Relaxed);
            }
            let reason = if code == 429 {
                "Too Many Requests"
            } else {
                "Service Unavailable"
            };
            let msg = format!(
                "HTTP/1.1 {code} {reason}\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
            );
            client.write_all(msg.as_bytes())?;
            let _ = client.shutdown(Shutdown::Both);
            return Ok(());
        }
        Fate::Delay(d) => {
            counts.delayed.fetch_add(1, Ordering::Relaxed);
            std::thread::sleep(d);
        }
        Fate::Pass => {}
    }
    let mut up = TcpStream::connect(upstream)?;
    // Rewrite the head: force `Connection: close` so the upstream answer ends at EOF.
    let mut new_head = String::new();
    for (i, line) in text.split("\r\n").enumerate() {
        if line.is_empty() {
            continue;
        }
        if i > 0 && line.to_ascii_lowercase().starts_with("connection:") {
            continue;
        }
        new_head.push_str(line);
        new_head.push_str("\r\n");
    }
    new_head.push_str("Connection: close\r\n\r\n");
    up.write_all(new_head.as_bytes())?;
    body_start.truncate(content_length as usize);
    up.write_all(&body_start)?;
    let is_upload = text.starts_with("PUT ") || text.starts_with("PATCH ");
    let cut_at = (is_upload
        && content_length > 1 << 20
        && truncate
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok())
    .then_some(content_length / 2);
    counts
        .body_bytes
        .fetch_add(body_start.len() as u64, Ordering::Relaxed);
    let mut forwarded = body_start.len() as u64;
    let mut remaining = content_length - body_start.len() as u64;
    let mut buf = vec![0u8; 64 * 1024];
    while remaining > 0 {
        let n = client.read(&mut buf[..remaining.min(65536) as usize])?;
        if n == 0 {
            return Ok(());
        }
        let n = match cut_at {
            Some(cut) if forwarded + n as u64 >= cut => (cut - forwarded) as usize,
            _ => n,
        };
        up.write_all(&buf[..n])?;
        counts.body_bytes.fetch_add(n as u64, Ordering::Relaxed);
        forwarded += n as u64;
        remaining -= n as u64;
        if cut_at == Some(forwarded) {
            counts.truncated.fetch_add(1, Ordering::Relaxed);
            // Let the registry write what it got, then break both connections.
            std::thread::sleep(Duration::from_millis(100));
            let _ = up.shutdown(Shutdown::Both);
            let _ = client.shutdown(Shutdown::Both);
            return Ok(());
        }
    }
    // The answer, rewritten to close the client connection as well.
    let mut resp = Vec::new();
    up.read_to_end(&mut resp)?;
    client.write_all(&resp)?;
    let _ = client.shutdown(Shutdown::Both);
    Ok(())
}
