//! A FAKE of GitHub's REST API, for tests only — not GitHub. It follows GitHub's documented
//! endpoints, status codes and error bodies (docs.github.com/rest, api version 2022-11-28) for what
//! deploy-kit calls, and keeps its state in memory so tests can look inside:
//!
//! - Actions secrets of a repository and of an environment:
//!   `GET …/secrets` (paged with `per_page`/`page`), `GET …/secrets/public-key`,
//!   `GET|PUT|DELETE …/secrets/{name}` under `/repos/{owner}/{repo}/actions` and
//!   `/repos/{owner}/{repo}/environments/{env}`. PUT answers 201 (created) or 204 (updated).
//! - It holds a real X25519 keypair and **decrypts every sealed box it receives** (libsodium
//!   `crypto_box_seal`), so tests check the value that would reach a workflow; a body that does
//!   not decrypt, a wrong `key_id` or a name GitHub refuses is answered 422.
//! - Errors as GitHub sends them: 401 `Bad credentials` (no or wrong token), 403 `Resource not
//!   accessible by integration` (a read-only token writing), 404 `Not Found` (unknown repository,
//!   environment or secret), 422 `Validation Failed`; and armed faults ([`GithubFake::fail_next`])
//!   for any status, 429 and 5xx included.
//!
//! Other endpoints (Deployments, statuses…) can be added to [`route`] the same way.

use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};

const DOCS: &str = "https://docs.github.com/rest";

/// One secret as stored: the decrypted value and bookkeeping.
#[derive(Debug, Clone)]
pub struct StoredSecret {
    pub value: String,
    /// How many PUTs wrote it.
    pub writes: u32,
    pub created_at: String,
    pub updated_at: String,
}

/// A request as received (the body as sent: secrets in it are sealed).
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub authorization: Option<String>,
    pub body: String,
}

#[derive(Default)]
struct Repo {
    secrets: BTreeMap<String, StoredSecret>,
    environments: BTreeMap<String, BTreeMap<String, StoredSecret>>,
}

struct State {
    token: String,
    read_only_tokens: Vec<String>,
    repos: BTreeMap<String, Repo>,
    /// Armed answers: (only for this method, status).
    faults: VecDeque<(Option<String>, u16)>,
    requests: Vec<Request>,
    secret_key: crypto_box::SecretKey,
    key_id: String,
    clock: u64,
}

pub struct GithubFake {
    /// Base URL, for `GITHUB_API_URL`.
    pub url: String,
    state: Arc<Mutex<State>>,
}

impl GithubFake {
    /// Start the fake on a free loopback port; `token` is the one token it accepts for writes.
    pub fn start(token: &str) -> GithubFake {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind github fake");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State {
            token: token.to_string(),
            read_only_tokens: Vec::new(),
            repos: BTreeMap::new(),
            faults: VecDeque::new(),
            requests: Vec::new(),
            secret_key: crypto_box::SecretKey::generate(&mut crypto_box::aead::OsRng),
            key_id: "568250167242549743".to_string(),
            clock: 0,
        }));
        let shared = state.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let state = shared.clone();
                std::thread::spawn(move || serve(conn, &state));
            }
        });
        GithubFake { url, state }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A repository `owner/repo` that exists.
    pub fn add_repo(&self, full_name: &str) {
        self.lock().repos.entry(full_name.to_string()).or_default();
    }

    pub fn add_environment(&self, full_name: &str, env: &str) {
        self.lock()
            .repos
            .entry(full_name.to_string())
            .or_default()
            .environments
            .entry(env.to_string())
            .or_default();
    }

    /// A secret that exists before the test (as if written earlier).
    pub fn put_secret(&self, full_name: &str, env: Option<&str>, name: &str, value: &str) {
        let mut st = self.lock();
        let now = timestamp(&mut st.clock);
        let repo = st.repos.entry(full_name.to_string()).or_default();
        let map = match env {
            None => &mut repo.secrets,
            Some(e) => repo.environments.entry(e.to_string()).or_default(),
        };
        map.insert(
            name.to_ascii_uppercase(),
            StoredSecret {
                value: value.to_string(),
                writes: 0,
                created_at: now.clone(),
                updated_at: now,
            },
        );
    }

    /// A secret's decrypted value and bookkeeping.
    pub fn secret(&self, full_name: &str, env: Option<&str>, name: &str) -> Option<StoredSecret> {
        let st = self.lock();
        let repo = st.repos.get(full_name)?;
        match env {
            None => repo.secrets.get(name).cloned(),
            Some(e) => repo.environments.get(e)?.get(name).cloned(),
        }
    }

    pub fn secret_names(&self, full_name: &str, env: Option<&str>) -> Vec<String> {
        let st = self.lock();
        let Some(repo) = st.repos.get(full_name) else {
            return Vec::new();
        };
        match env {
            None => repo.secrets.keys().cloned().collect(),
            Some(e) => repo
                .environments
                .get(e)
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default(),
        }
    }

    /// A token that may read but not write (GitHub answers 403 to its writes).
    pub fn add_read_only_token(&self, token: &str) {
        self.lock().read_only_tokens.push(token.to_string());
    }

    /// Answer the next `count` requests with `status` and GitHub's body for it.
    pub fn fail_next(&self, status: u16, count: usize) {
        let mut st = self.lock();
        for _ in 0..count {
            st.faults.push_back((None, status));
        }
    }

    /// The same, for requests with this method only (`PUT`: the write after the reads).
    pub fn fail_next_on(&self, method: &str, status: u16, count: usize) {
        let mut st = self.lock();
        for _ in 0..count {
            st.faults.push_back((Some(method.to_string()), status));
        }
    }

    pub fn requests(&self) -> Vec<Request> {
        self.lock().requests.clone()
    }
}

fn timestamp(clock: &mut u64) -> String {
    *clock += 1;
    format!(
        "2026-01-01T00:{:02}:{:02}Z",
        (*clock / 60) % 60,
        *clock % 60
    )
}

fn serve(conn: TcpStream, state: &Arc<Mutex<State>>) {
    let Ok(read_half) = conn.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        if line == "\r\n" || line == "\n" {
            break;
        }
        head.push_str(&line);
    }
    let mut lines = head.lines();
    let mut first = lines.next().unwrap_or("").split_whitespace();
    let (method, target) = (
        first.next().unwrap_or("").to_string(),
        first.next().unwrap_or("").to_string(),
    );
    let mut length = 0usize;
    let mut authorization = None;
    for l in lines {
        if let Some((k, v)) = l.split_once(':') {
            match k.trim().to_ascii_lowercase().as_str() {
                "content-length" => length = v.trim().parse().unwrap_or(0),
                "authorization" => authorization = Some(v.trim().to_string()),
                _ => {}
            }
        }
    }
    let mut body = vec![0u8; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let request = Request {
        method,
        path: target,
        authorization,
        body: String::from_utf8_lossy(&body).to_string(),
    };
    let (status, reply) = {
        let mut st = state.lock().unwrap_or_else(|p| p.into_inner());
        st.requests.push(request.clone());
        let armed = st
            .faults
            .iter()
            .position(|(m, _)| m.as_ref().is_none_or(|m| *m == request.method));
        match armed.and_then(|i| st.faults.remove(i)) {
            Some((_, code)) => (code, error_body(code)),
            None => route(&mut st, &request),
        }
    };
    let text = match &reply {
        Some(v) => v.to_string(),
        None => String::new(),
    };
    let reason = match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        _ => "Error",
    };
    let mut extra = String::new();
    if status == 429 {
        extra.push_str("Retry-After: 0\r\nX-RateLimit-Remaining: 0\r\n");
    }
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json; charset=utf-8\r\nX-GitHub-Api-Version-Selected: 2022-11-28\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    );
    let mut conn = conn;
    let _ = conn.write_all(response.as_bytes());
    let _ = conn.flush();
}

/// GitHub's error body for a status.
fn error_body(status: u16) -> Option<Value> {
    let message = match status {
        401 => "Bad credentials",
        403 => "Resource not accessible by integration",
        404 => "Not Found",
        422 => "Validation Failed",
        429 => "API rate limit exceeded for installation.",
        500..=599 => "Server Error",
        _ => "Error",
    };
    Some(json!({ "message": message, "documentation_url": DOCS, "status": status.to_string() }))
}

type Reply = (u16, Option<Value>);

fn route(st: &mut State, req: &Request) -> Reply {
    let token = req
        .authorization
        .as_deref()
        .and_then(|a| {
            a.strip_prefix("Bearer ")
                .or_else(|| a.strip_prefix("token "))
        })
        .map(str::to_owned);
    let read_only = token
        .as_ref()
        .is_some_and(|t| st.read_only_tokens.contains(t));
    if token.as_deref() != Some(st.token.as_str()) && !read_only {
        return (401, error_body(401));
    }
    let (path, query) = req.path.split_once('?').unwrap_or((&req.path, ""));
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    // repos/{o}/{r}/actions/secrets[/x] or repos/{o}/{r}/environments/{e}/secrets[/x]
    let (repo, env, rest) = match parts.as_slice() {
        ["repos", o, r, "actions", "secrets", rest @ ..] => (format!("{o}/{r}"), None, rest),
        ["repos", o, r, "environments", e, "secrets", rest @ ..] => {
            (format!("{o}/{r}"), Some(e.to_string()), rest)
        }
        _ => return (404, error_body(404)),
    };
    if req.method != "GET" && read_only {
        return (403, error_body(403));
    }
    let now = timestamp(&mut st.clock);
    let key_id = st.key_id.clone();
    let public = B64.encode(st.secret_key.public_key().as_bytes());
    let secret_key = st.secret_key.clone();
    let Some(r) = st.repos.get_mut(&repo) else {
        return (404, error_body(404));
    };
    let secrets = match &env {
        None => &mut r.secrets,
        Some(e) => match r.environments.get_mut(e) {
            Some(m) => m,
            None => return (404, error_body(404)),
        },
    };
    match (req.method.as_str(), rest) {
        ("GET", []) => list(secrets, query),
        ("GET", ["public-key"]) => (200, Some(json!({ "key_id": key_id, "key": public }))),
        ("GET", [name]) => match secrets.get(&name.to_ascii_uppercase()) {
            Some(s) => (
                200,
                Some(
                    json!({ "name": name.to_ascii_uppercase(), "created_at": s.created_at, "updated_at": s.updated_at }),
                ),
            ),
            None => (404, error_body(404)),
        },
        ("PUT", [name]) => put(secrets, name, &req.body, &key_id, &secret_key, now),
        ("DELETE", [name]) => match secrets.remove(&name.to_ascii_uppercase()) {
            Some(_) => (204, None),
            None => (404, error_body(404)),
        },
        _ => (404, error_body(404)),
    }
}

fn list(secrets: &BTreeMap<String, StoredSecret>, query: &str) -> Reply {
    let param = |k: &str| {
        query
            .split('&')
            .find_map(|p| p.strip_prefix(&format!("{k}=")))
            .and_then(|v| v.parse::<usize>().ok())
    };
    let per_page = param("per_page").unwrap_or(30).clamp(1, 100);
    let page = param("page").unwrap_or(1).max(1);
    let items: Vec<Value> = secrets
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(|(n, s)| json!({ "name": n, "created_at": s.created_at, "updated_at": s.updated_at }))
        .collect();
    (
        200,
        Some(json!({ "total_count": secrets.len(), "secrets": items })),
    )
}

fn validation(field: &str, code: &str, message: &str) -> Reply {
    (
        422,
        Some(json!({
            "message": "Validation Failed",
            "errors": [{ "resource": "Secret", "field": field, "code": code, "message": message }],
            "documentation_url": DOCS,
        })),
    )
}

fn put(
    secrets: &mut BTreeMap<String, StoredSecret>,
    name: &str,
    body: &str,
    key_id: &str,
    key: &crypto_box::SecretKey,
    now: String,
) -> Reply {
    let valid_name = name.chars().next().is_some_and(|c| !c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.to_ascii_uppercase().starts_with("GITHUB_");
    if !valid_name {
        return validation(
            "name",
            "invalid",
            "Secret names can only contain alphanumeric characters ([a-z], [A-Z], [0-9]) or underscores (_).",
        );
    }
    let Ok(Value::Object(obj)) = serde_json::from_str::<Value>(body) else {
        return (
            400,
            Some(json!({ "message": "Problems parsing JSON", "documentation_url": DOCS })),
        );
    };
    let (Some(sealed), Some(kid)) = (
        obj.get("encrypted_value").and_then(Value::as_str),
        obj.get("key_id").and_then(Value::as_str),
    ) else {
        return validation(
            "encrypted_value",
            "missing_field",
            "encrypted_value and key_id are required",
        );
    };
    if kid != key_id {
        return validation(
            "key_id",
            "invalid",
            "key_id does not match the current public key",
        );
    }
    let Some(plain) = B64
        .decode(sealed)
        .ok()
        .and_then(|ct| key.unseal(&ct).ok())
        .and_then(|p| String::from_utf8(p).ok())
    else {
        return validation(
            "encrypted_value",
            "invalid",
            "encrypted_value could not be decrypted with the public key",
        );
    };
    let upper = name.to_ascii_uppercase();
    match secrets.get_mut(&upper) {
        Some(s) => {
            s.value = plain;
            s.writes += 1;
            s.updated_at = now;
            (204, None)
        }
        None => {
            secrets.insert(
                upper,
                StoredSecret {
                    value: plain,
                    writes: 1,
                    created_at: now.clone(),
                    updated_at: now,
                },
            );
            (201, None)
        }
    }
}
