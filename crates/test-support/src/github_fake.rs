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
//! - Deployments and deployment statuses (docs.github.com/rest/deployments):
//!   `POST|GET /repos/{owner}/{repo}/deployments` (list newest first, filtered by `sha`, `ref`,
//!   `environment`), `GET …/deployments/{id}`, `POST|GET …/deployments/{id}/statuses`.
//!   Create answers 201; a missing `ref` or a ref the repository does not have (when commits were
//!   added with [`GithubFake::add_commit`]) is 422, as are an unknown state or a description over
//!   140 characters. A status created with `auto_inactive` (default true) marks earlier `success`
//!   deployments of the same environment `inactive` — only non-transient, non-production ones,
//!   as GitHub documents; production deployments keep their status unless told.
//! - Rate limits as GitHub documents them ([`GithubFake::rate_limit_next`]): 403 or 429 with the
//!   secondary-limit message and either `retry-after` or `x-ratelimit-remaining: 0` with
//!   `x-ratelimit-reset` (UTC epoch seconds).

use std::collections::{BTreeMap, VecDeque};
use std::io::{BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};

use crate::http_wire::{read_body, read_head};

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
    /// When it arrived (tests check that a rate limit was waited out).
    pub at: Instant,
}

/// How a rate-limit answer tells the client to wait (GitHub sends one or the other).
#[derive(Debug, Clone, Copy)]
pub enum RateLimit {
    /// `retry-after: N` seconds.
    RetryAfter(u64),
    /// `x-ratelimit-remaining: 0` and `x-ratelimit-reset` N seconds from now.
    ResetIn(u64),
}

/// A deployment as stored, with its statuses oldest first.
#[derive(Debug, Clone)]
pub struct FakeDeployment {
    pub id: u64,
    pub sha: String,
    pub git_ref: String,
    pub environment: String,
    /// `deploy` unless the creator named another task (e.g. `rollback`).
    pub task: String,
    pub description: Option<String>,
    pub transient_environment: bool,
    pub production_environment: bool,
    pub created_at: String,
    pub statuses: Vec<FakeStatus>,
}

impl FakeDeployment {
    /// The states in the order they were posted.
    pub fn states(&self) -> Vec<String> {
        self.statuses.iter().map(|s| s.state.clone()).collect()
    }
}

#[derive(Debug, Clone)]
pub struct FakeStatus {
    pub id: u64,
    pub state: String,
    pub description: String,
    pub log_url: String,
    pub environment_url: String,
    pub created_at: String,
}

/// An armed answer.
struct Fault {
    /// Only for requests with this method…
    method: Option<String>,
    /// …and a path ending with this.
    path_suffix: Option<String>,
    status: u16,
    /// A rate limit: its headers and GitHub's secondary-limit message.
    limit: Option<RateLimit>,
}

impl Fault {
    fn matches(&self, req: &Request) -> bool {
        let path = req.path.split('?').next().unwrap_or("");
        self.method.as_ref().is_none_or(|m| *m == req.method)
            && self
                .path_suffix
                .as_ref()
                .is_none_or(|p| path.ends_with(p.as_str()))
    }
}

#[derive(Default)]
struct Repo {
    secrets: BTreeMap<String, StoredSecret>,
    environments: BTreeMap<String, BTreeMap<String, StoredSecret>>,
    deployments: Vec<FakeDeployment>,
    /// Commits refs may name; empty: any ref is accepted.
    commits: Vec<String>,
}

struct State {
    token: String,
    read_only_tokens: Vec<String>,
    repos: BTreeMap<String, Repo>,
    faults: VecDeque<Fault>,
    requests: Vec<Request>,
    secret_key: crypto_box::SecretKey,
    key_id: String,
    clock: u64,
    next_id: u64,
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
            next_id: 1000,
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
            st.faults.push_back(Fault {
                method: None,
                path_suffix: None,
                status,
                limit: None,
            });
        }
    }

    /// The same, for requests with this method only (`PUT`: the write after the reads).
    pub fn fail_next_on(&self, method: &str, status: u16, count: usize) {
        let mut st = self.lock();
        for _ in 0..count {
            st.faults.push_back(Fault {
                method: Some(method.to_string()),
                path_suffix: None,
                status,
                limit: None,
            });
        }
    }

    /// The same, for requests with this method to a path ending with `path_suffix` (`/statuses`).
    pub fn fail_next_at(&self, method: &str, path_suffix: &str, status: u16, count: usize) {
        let mut st = self.lock();
        for _ in 0..count {
            st.faults.push_back(Fault {
                method: Some(method.to_string()),
                path_suffix: Some(path_suffix.to_string()),
                status,
                limit: None,
            });
        }
    }

    /// Answer the next `count` requests (with `method`, or any) with a rate limit: `status` 403
    /// or 429, GitHub's secondary-limit message, and the headers `how` names.
    pub fn rate_limit_next(&self, method: Option<&str>, status: u16, how: RateLimit, count: usize) {
        let mut st = self.lock();
        for _ in 0..count {
            st.faults.push_back(Fault {
                method: method.map(str::to_owned),
                path_suffix: None,
                status,
                limit: Some(how),
            });
        }
    }

    pub fn requests(&self) -> Vec<Request> {
        self.lock().requests.clone()
    }

    /// A commit the repository has; once one is added, deployments must name a known one.
    pub fn add_commit(&self, full_name: &str, sha: &str) {
        self.lock()
            .repos
            .entry(full_name.to_string())
            .or_default()
            .commits
            .push(sha.to_string());
    }

    /// A deployment made before the test, with these states posted in order; returns its id.
    pub fn add_deployment(
        &self,
        full_name: &str,
        environment: &str,
        sha: &str,
        states: &[&str],
    ) -> u64 {
        let mut st = self.lock();
        let id = next_id(&mut st);
        let now = timestamp(&mut st.clock);
        let mut d = new_deployment(id, sha, sha, environment, None, None, None, now.clone());
        for state in states {
            let sid = next_id(&mut st);
            d.statuses.push(FakeStatus {
                id: sid,
                state: state.to_string(),
                description: String::new(),
                log_url: String::new(),
                environment_url: String::new(),
                created_at: now.clone(),
            });
        }
        st.repos
            .entry(full_name.to_string())
            .or_default()
            .deployments
            .push(d);
        id
    }

    /// Every deployment of a repository, oldest first.
    pub fn deployments(&self, full_name: &str) -> Vec<FakeDeployment> {
        self.lock()
            .repos
            .get(full_name)
            .map(|r| r.deployments.clone())
            .unwrap_or_default()
    }
}

fn next_id(st: &mut State) -> u64 {
    st.next_id += 1;
    st.next_id
}

fn epoch_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
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
    let Some(head) = read_head(&mut reader) else {
        return;
    };
    let Some(body) = read_body(&mut reader, &head) else {
        return;
    };
    let (method, target) = head.method_and_target();
    let authorization = head.header("authorization").map(str::to_owned);
    let request = Request {
        method,
        path: target,
        authorization,
        body: String::from_utf8_lossy(&body).to_string(),
        at: Instant::now(),
    };
    let mut extra = String::new();
    let (status, reply) = {
        let mut st = state.lock().unwrap_or_else(|p| p.into_inner());
        st.requests.push(request.clone());
        let armed = st.faults.iter().position(|f| f.matches(&request));
        match armed.and_then(|i| st.faults.remove(i)) {
            Some(Fault {
                status,
                limit: Some(how),
                ..
            }) => {
                extra = rate_limit_headers(how);
                (status, secondary_rate_limit_body(status))
            }
            Some(f) => (f.status, error_body(f.status)),
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
        202 => "Accepted",
        204 => "No Content",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        _ => "Error",
    };
    if status == 429 && extra.is_empty() {
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

/// The headers of a rate-limit answer, as GitHub documents them.
fn rate_limit_headers(how: RateLimit) -> String {
    match how {
        RateLimit::RetryAfter(secs) => format!("Retry-After: {secs}\r\n"),
        RateLimit::ResetIn(secs) => format!(
            "X-RateLimit-Limit: 5000\r\nX-RateLimit-Remaining: 0\r\nX-RateLimit-Used: 5000\r\nX-RateLimit-Reset: {}\r\nX-RateLimit-Resource: core\r\n",
            epoch_now() + secs
        ),
    }
}

fn secondary_rate_limit_body(status: u16) -> Option<Value> {
    Some(json!({
        "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID 0000:FAKE:0000000:0000000:00000000.",
        "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
        "status": status.to_string(),
    }))
}

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
    if let ["repos", o, r, "deployments", rest @ ..] = parts.as_slice() {
        if req.method != "GET" && read_only {
            return (403, error_body(403));
        }
        return deployments(st, &format!("{o}/{r}"), rest, req, query);
    }
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

// ---- Deployments and deployment statuses -------------------------------------------------------

const STATES: [&str; 7] = [
    "error",
    "failure",
    "inactive",
    "in_progress",
    "queued",
    "pending",
    "success",
];

#[allow(clippy::too_many_arguments)]
fn new_deployment(
    id: u64,
    sha: &str,
    git_ref: &str,
    environment: &str,
    description: Option<String>,
    transient: Option<bool>,
    production: Option<bool>,
    now: String,
) -> FakeDeployment {
    FakeDeployment {
        id,
        sha: sha.to_string(),
        git_ref: git_ref.to_string(),
        environment: environment.to_string(),
        task: "deploy".to_string(),
        description,
        transient_environment: transient.unwrap_or(false),
        // GitHub: `true` when the environment is `production`, else `false`.
        production_environment: production.unwrap_or(environment == "production"),
        created_at: now,
        statuses: Vec::new(),
    }
}

fn deployment_json(repo: &str, d: &FakeDeployment) -> Value {
    let url = format!("/repos/{repo}/deployments/{}", d.id);
    json!({
        "url": url, "id": d.id, "node_id": format!("DE_fake{}", d.id), "sha": d.sha, "ref": d.git_ref,
        "task": d.task, "payload": {}, "original_environment": d.environment,
        "environment": d.environment, "description": d.description,
        "creator": { "login": "github-actions[bot]", "id": 41898282, "type": "Bot" },
        "created_at": d.created_at, "updated_at": d.created_at,
        "statuses_url": format!("{url}/statuses"), "repository_url": format!("/repos/{repo}"),
        "transient_environment": d.transient_environment,
        "production_environment": d.production_environment,
    })
}

fn status_json(repo: &str, d: &FakeDeployment, s: &FakeStatus) -> Value {
    json!({
        "url": format!("/repos/{repo}/deployments/{}/statuses/{}", d.id, s.id), "id": s.id,
        "node_id": format!("DES_fake{}", s.id), "state": s.state,
        "creator": { "login": "github-actions[bot]", "id": 41898282, "type": "Bot" },
        "description": s.description, "environment": d.environment, "target_url": s.log_url,
        "log_url": s.log_url, "environment_url": s.environment_url,
        "created_at": s.created_at, "updated_at": s.created_at,
        "deployment_url": format!("/repos/{repo}/deployments/{}", d.id),
        "repository_url": format!("/repos/{repo}"),
    })
}

fn deployment_validation(resource: &str, field: &str, code: &str) -> Reply {
    (
        422,
        Some(json!({
            "message": "Validation Failed",
            "errors": [{ "resource": resource, "field": field, "code": code }],
            "documentation_url": "https://docs.github.com/rest/deployments/deployments#create-a-deployment",
            "status": "422",
        })),
    )
}

fn query_param<'a>(query: &'a str, key: &str) -> Option<&'a str> {
    query
        .split('&')
        .find_map(|p| p.strip_prefix(key)?.strip_prefix('='))
}

/// `/repos/{repo}/deployments[/{id}[/statuses]]`.
fn deployments(st: &mut State, repo: &str, rest: &[&str], req: &Request, query: &str) -> Reply {
    let now = timestamp(&mut st.clock);
    let id = next_id(st);
    let Some(r) = st.repos.get_mut(repo) else {
        return (404, error_body(404));
    };
    match (req.method.as_str(), rest) {
        ("POST", []) => create_deployment(r, repo, id, &req.body, now),
        ("GET", []) => {
            let per_page = query_param(query, "per_page")
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(30)
                .clamp(1, 100);
            let list: Vec<Value> = r
                .deployments
                .iter()
                .rev()
                .filter(|d| {
                    query_param(query, "environment").is_none_or(|e| e == d.environment)
                        && query_param(query, "sha").is_none_or(|s| s == d.sha)
                        && query_param(query, "ref").is_none_or(|x| x == d.git_ref)
                })
                .take(per_page)
                .map(|d| deployment_json(repo, d))
                .collect();
            (200, Some(Value::Array(list)))
        }
        (method, [did, tail @ ..]) => {
            let Some(pos) = r
                .deployments
                .iter()
                .position(|d| did.parse::<u64>().is_ok_and(|i| i == d.id))
            else {
                return (404, error_body(404));
            };
            match (method, tail) {
                ("GET", []) => (200, Some(deployment_json(repo, &r.deployments[pos]))),
                ("GET", ["statuses"]) => {
                    let d = &r.deployments[pos];
                    let list: Vec<Value> = d
                        .statuses
                        .iter()
                        .rev()
                        .map(|s| status_json(repo, d, s))
                        .collect();
                    (200, Some(Value::Array(list)))
                }
                ("POST", ["statuses"]) => create_status(r, repo, pos, id, &req.body, now),
                _ => (404, error_body(404)),
            }
        }
        _ => (404, error_body(404)),
    }
}

fn create_deployment(r: &mut Repo, repo: &str, id: u64, body: &str, now: String) -> Reply {
    let Ok(Value::Object(b)) = serde_json::from_str::<Value>(body) else {
        return (
            400,
            Some(json!({ "message": "Problems parsing JSON", "documentation_url": DOCS })),
        );
    };
    let Some(git_ref) = b
        .get("ref")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    else {
        return deployment_validation("Deployment", "ref", "missing_field");
    };
    if !r.commits.is_empty() && !r.commits.iter().any(|c| c == git_ref) {
        return (
            422,
            Some(json!({
                "message": format!("No ref found for: {git_ref}"),
                "documentation_url": "https://docs.github.com/rest/deployments/deployments#create-a-deployment",
                "status": "422",
            })),
        );
    }
    let environment = b
        .get("environment")
        .and_then(Value::as_str)
        .unwrap_or("production");
    let mut d = new_deployment(
        id,
        git_ref,
        git_ref,
        environment,
        b.get("description")
            .and_then(Value::as_str)
            .map(str::to_owned),
        b.get("transient_environment").and_then(Value::as_bool),
        b.get("production_environment").and_then(Value::as_bool),
        now,
    );
    if let Some(task) = b.get("task").and_then(Value::as_str) {
        d.task = task.to_string();
    }
    let answer = deployment_json(repo, &d);
    r.deployments.push(d);
    (201, Some(answer))
}

fn create_status(r: &mut Repo, repo: &str, pos: usize, id: u64, body: &str, now: String) -> Reply {
    let Ok(Value::Object(b)) = serde_json::from_str::<Value>(body) else {
        return (
            400,
            Some(json!({ "message": "Problems parsing JSON", "documentation_url": DOCS })),
        );
    };
    let state = b.get("state").and_then(Value::as_str).unwrap_or("");
    if !STATES.contains(&state) {
        return deployment_validation("DeploymentStatus", "state", "invalid");
    }
    let text = |k: &str| b.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let description = text("description");
    if description.chars().count() > 140 {
        return deployment_validation("DeploymentStatus", "description", "invalid");
    }
    let log_url = match text("log_url") {
        l if l.is_empty() => text("target_url"),
        l => l,
    };
    let status = FakeStatus {
        id,
        state: state.to_string(),
        description,
        log_url,
        environment_url: text("environment_url"),
        created_at: now.clone(),
    };
    // auto_inactive (default true): earlier non-transient, non-production deployments of the same
    // environment whose latest state is success get an inactive status.
    let auto_inactive = b
        .get("auto_inactive")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    if state == "success" && auto_inactive {
        let env = r.deployments[pos].environment.clone();
        let this = r.deployments[pos].id;
        for d in r.deployments.iter_mut().filter(|d| {
            d.id != this
                && d.environment == env
                && !d.transient_environment
                && !d.production_environment
                && d.statuses.last().is_some_and(|s| s.state == "success")
        }) {
            d.statuses.push(FakeStatus {
                id: id + 1_000_000,
                state: "inactive".into(),
                description: String::new(),
                log_url: String::new(),
                environment_url: String::new(),
                created_at: now.clone(),
            });
        }
    }
    let d = &mut r.deployments[pos];
    let answer = status_json(repo, d, &status);
    d.statuses.push(status);
    (201, Some(answer))
}
