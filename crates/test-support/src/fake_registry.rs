//! A *fake* container registry on 127.0.0.1 — test equipment for what the real Distribution
//! registry will not do: answer with hostile error bodies, trickle a response forever, or commit
//! uploads without checking their digests. HTTP/1.1, keep-alive, `Content-Length` bodies only;
//! enough of the distribution API for ecr-push, nothing more.

use std::collections::BTreeMap;
use std::io::{BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::http_wire::{read_body, read_head};

/// How the fake answers.
#[derive(Clone)]
pub enum Behaviour {
    /// A registry that stores whatever it is sent — blobs under the digest the client names,
    /// never checked — as long as the whole announced body arrives.
    Store,
    /// `/v2/` answers 200, a HEAD 404; every other request `status` with `body` (an error body
    /// of the registry's choosing).
    ErrorBody { status: u16, body: String },
    /// `/v2/` answers 200; a manifest GET promises a large body and sends one byte every
    /// `every`, forever (each byte well inside any per-read timeout).
    Trickle { every: Duration },
}

#[derive(Default)]
struct Shared {
    blobs: BTreeMap<String, Vec<u8>>,
    manifests: BTreeMap<String, Vec<u8>>,
    uploads: u64,
    requests: Vec<String>,
}

pub struct FakeRegistry {
    port: u16,
    shared: Arc<Mutex<Shared>>,
}

impl FakeRegistry {
    pub fn start(behaviour: Behaviour) -> FakeRegistry {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let shared = Arc::new(Mutex::new(Shared::default()));
        let s = shared.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let (s, b) = (s.clone(), behaviour.clone());
                std::thread::spawn(move || serve(conn, &s, &b));
            }
        });
        FakeRegistry { port, shared }
    }
    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
    /// `127.0.0.1:PORT`
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
    /// Digests of the blobs committed so far.
    pub fn blobs(&self) -> Vec<String> {
        self.lock().blobs.keys().cloned().collect()
    }
    /// `repo:reference` of the manifests put so far.
    pub fn manifests(&self) -> Vec<String> {
        self.lock().manifests.keys().cloned().collect()
    }
    /// `METHOD path` of every request received.
    pub fn requests(&self) -> Vec<String> {
        self.lock().requests.clone()
    }
    /// [`FakeRegistry::requests`] once one of them satisfies `wanted`, or after `within` what
    /// came: each connection has a thread of its own, which may not have read its request yet
    /// when the client process has already exited.
    pub fn requests_once(&self, wanted: impl Fn(&str) -> bool, within: Duration) -> Vec<String> {
        let deadline = std::time::Instant::now() + within;
        loop {
            let seen = self.requests();
            if seen.iter().any(|r| wanted(r)) || std::time::Instant::now() >= deadline {
                return seen;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn serve(conn: TcpStream, shared: &Mutex<Shared>, behaviour: &Behaviour) {
    let mut reader = BufReader::new(conn.try_clone().expect("clone"));
    let mut out = conn;
    loop {
        let Some(head) = read_head(&mut reader) else {
            return;
        };
        let (method, target) = head.method_and_target();
        shared
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .requests
            .push(format!("{method} {target}"));
        // The client gave up before sending everything it announced: nothing is committed.
        let Some(body) = read_body(&mut reader, &head) else {
            return;
        };
        let mut st = shared.lock().unwrap_or_else(|p| p.into_inner());
        let reply = answer(&mut st, behaviour, &method, &target, body);
        drop(st);
        match reply {
            Reply::Full(bytes) => {
                if out.write_all(&bytes).is_err() {
                    return;
                }
            }
            Reply::Trickle(every) => {
                let head = "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\nContent-Length: 1000000\r\n\r\n";
                if out.write_all(head.as_bytes()).is_err() {
                    return;
                }
                loop {
                    std::thread::sleep(every);
                    if out.write_all(b" ").and_then(|_| out.flush()).is_err() {
                        return;
                    }
                }
            }
        }
    }
}

enum Reply {
    Full(Vec<u8>),
    Trickle(Duration),
}

fn reply(status: u16, headers: &[(&str, String)], body: &[u8]) -> Reply {
    let mut text = format!("HTTP/1.1 {status} X\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        text.push_str(&format!("{k}: {v}\r\n"));
    }
    text.push_str("\r\n");
    let mut bytes = text.into_bytes();
    bytes.extend_from_slice(body);
    Reply::Full(bytes)
}

fn answer(
    st: &mut Shared,
    behaviour: &Behaviour,
    method: &str,
    target: &str,
    body: Vec<u8>,
) -> Reply {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if path == "/v2/" || path == "/v2" {
        return reply(200, &[], b"{}");
    }
    match behaviour {
        // HEAD answers carry no body: "not there", so the client goes on to a request that does.
        Behaviour::ErrorBody { .. } if method == "HEAD" => return reply(404, &[], b""),
        Behaviour::ErrorBody { status, body } => {
            return reply(
                *status,
                &[("Content-Type", "application/json".into())],
                body.as_bytes(),
            );
        }
        Behaviour::Trickle { every } if method == "GET" && path.contains("/manifests/") => {
            return Reply::Trickle(*every);
        }
        _ => {}
    }
    let rest = path.strip_prefix("/v2/").unwrap_or(path);
    if let Some((repo, reference)) = rest.rsplit_once("/manifests/") {
        let key = format!("{repo}:{reference}");
        return match method {
            "PUT" => {
                let digest = sha256(&body);
                st.manifests
                    .insert(format!("{repo}:{digest}"), body.clone());
                st.manifests.insert(key, body);
                reply(201, &[("Docker-Content-Digest", digest)], b"")
            }
            _ => match st.manifests.get(&key) {
                Some(m) => reply(200, &[("Docker-Content-Digest", sha256(m))], b""),
                None => reply(404, &[], b""),
            },
        };
    }
    if let Some((_, digest)) = rest.rsplit_once("/blobs/")
        && digest.starts_with("sha256:")
    {
        return match st.blobs.get(digest) {
            // A HEAD answer: the blob's length, no body.
            Some(b) => Reply::Full(
                format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", b.len()).into_bytes(),
            ),
            None => reply(404, &[], b""),
        };
    }
    if method == "POST" && rest.ends_with("/blobs/uploads/") {
        st.uploads += 1;
        return reply(202, &[("Location", format!("/upload/{}", st.uploads))], b"");
    }
    if method == "PUT" && path.starts_with("/upload/") {
        // No digest check at all: the client must not send what it has not verified.
        let digest = query
            .split('&')
            .find_map(|kv| kv.strip_prefix("digest="))
            .unwrap_or("")
            .replace("%3A", ":");
        st.blobs.insert(digest, body);
        return reply(201, &[], b"");
    }
    if method == "DELETE" {
        return reply(204, &[], b"");
    }
    reply(404, &[], b"")
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}
