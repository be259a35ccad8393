//! Test support for deploy-kit's integration and end-to-end tests.
//!
//! - [`standins`]: where the local stand-ins listen. `scripts/standins start` (run by
//!   `scripts/test`) starts them and writes `target/standins/env`; tests read it from there or
//!   from the environment.
//! - [`moto_account`]: a fresh AWS account in the shared moto server for each test, through moto's
//!   STS (credentials from AssumeRole map to the role's account), so tests never see each other's
//!   resources and never need a global reset; [`MotoSession`] adds a runtime and an SDK config.
//! - [`Cmd`]: runs a built binary the way a user or a workflow would — clean environment, optional
//!   GitHub Actions files — and collects exit code, stdout, stderr, JSON, outputs and summary.
//! - [`fake_registry`]: a *fake* registry for what Distribution will not do (hostile error
//!   bodies, trickling answers, uploads committed without a digest check).
//! - [`github_fake`]: a FAKE of GitHub's REST API (Actions secrets) with a real keypair.
//! - [`http_wire`]: reading an HTTP/1.1 request's head and body, for the hand-made servers.
//! - [`figures`]: counts recorded for `scripts/reliability` when `DK_RELIABILITY_LOG` is set.
//! - [`oci`]: the one generator of test images (OCI layouts, `docker save` tarballs).
//! - [`ecs`] (feature `ecs`): the one ECS fixture — emulator, client, cluster, task definitions,
//!   services.
//! - [`world`] (feature `ecs`): what the multi-call binary's end-to-end suites set up beside it
//!   — a Fargate service, the wait until a service settles, a command pointed at the emulator.

#[cfg(feature = "ecs")]
pub mod ecs;
pub mod fake_registry;
pub mod figures;
pub mod github_fake;
pub mod http_wire;
pub mod oci;
#[cfg(feature = "ecs")]
pub mod world;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Where the local stand-ins listen.
#[derive(Debug, Clone)]
pub struct Standins {
    /// moto server: RDS, ECR, Secrets Manager, STS.
    pub moto: String,
    /// Distribution registry without auth (`127.0.0.1:PORT`, no scheme).
    pub registry: String,
    /// Distribution registry with htpasswd Basic auth matching moto's ECR token.
    pub registry_auth: String,
}

/// The workspace root (two levels above this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

/// Read `target/standins/env` (KEY=VALUE lines) unless the variables are already set.
fn standin_var(name: &str) -> Option<String> {
    #[allow(clippy::disallowed_methods)]
    if let Ok(v) = std::env::var(name) {
        return Some(v);
    }
    let file = workspace_root().join("target/standins/env");
    let text = std::fs::read_to_string(file).ok()?;
    text.lines().find_map(|l| {
        let l = l.strip_prefix("export ").unwrap_or(l);
        let (k, v) = l.split_once('=')?;
        (k == name).then(|| v.trim_matches('"').to_string())
    })
}

/// The running stand-ins; panics with the fix when they are not running.
pub fn standins() -> Standins {
    let get = |n: &str| {
        standin_var(n).unwrap_or_else(|| {
            panic!("{n} is not set: start the stand-ins with `scripts/standins start` (scripts/test does this)")
        })
    };
    Standins {
        moto: get("DK_MOTO_URL"),
        registry: get("DK_REGISTRY"),
        registry_auth: get("DK_REGISTRY_AUTH"),
    }
}

/// Credentials for one isolated account in the shared moto server.
#[derive(Debug, Clone)]
pub struct AwsAccount {
    pub account_id: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
}

impl AwsAccount {
    /// The environment a tool needs to talk to moto as this account.
    pub fn env(&self, moto: &str) -> Vec<(String, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID".into(), self.access_key_id.clone()),
            (
                "AWS_SECRET_ACCESS_KEY".into(),
                self.secret_access_key.clone(),
            ),
            ("AWS_SESSION_TOKEN".into(), self.session_token.clone()),
            ("AWS_REGION".into(), "us-east-1".into()),
            ("AWS_ENDPOINT_URL".into(), moto.to_string()),
        ]
    }
}

/// A fresh account: AssumeRole in moto for a random 12-digit account id.
pub fn moto_account() -> AwsAccount {
    let moto = standins().moto;
    let account_id = format!(
        "{:012}",
        100_000_000_000u64 + fastrand_u64() % 800_000_000_000
    );
    let body = format!(
        "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A{account_id}%3Arole%2Ftest&RoleSessionName=test"
    );
    // moto routes a request by the service named in its signing scope.
    let auth = "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=0";
    let headers = [
        ("Content-Type", "application/x-www-form-urlencoded"),
        ("Authorization", auth),
    ];
    let (status, text) = http_request(&moto, "POST", "/", &headers, body.as_bytes());
    assert_eq!(status, 200, "moto AssumeRole failed: {text}");
    let tag = |t: &str| {
        let open = format!("<{t}>");
        let start = text
            .find(&open)
            .unwrap_or_else(|| panic!("no {t} in {text}"))
            + open.len();
        let end = text[start..].find(&format!("</{t}>")).expect("closing tag") + start;
        text[start..end].to_string()
    };
    AwsAccount {
        account_id,
        access_key_id: tag("AccessKeyId"),
        secret_access_key: tag("SecretAccessKey"),
        session_token: tag("SessionToken"),
    }
}

fn fastrand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(Instant::now().elapsed().as_nanos() ^ u128::from(std::process::id()));
    h.finish()
}

/// A minimal HTTP/1.1 request to a loopback `http://host:port` base URL; returns status and body.
pub fn http_request(
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String) {
    let authority = base.trim_start_matches("http://").trim_end_matches('/');
    let mut stream =
        TcpStream::connect(authority).unwrap_or_else(|e| panic!("connect {authority}: {e}"));
    stream.set_read_timeout(Some(Duration::from_secs(30))).ok();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    stream.write_all(req.as_bytes()).expect("write request");
    stream.write_all(body).expect("write body");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read response");
    let text = String::from_utf8_lossy(&raw).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    let chunked = text
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    (status, if chunked { dechunk(&body) } else { body })
}

fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || tail.len() < n {
            break;
        }
        out.push_str(&tail[..n]);
        rest = tail[n..].trim_start_matches("\r\n");
    }
    out
}

/// Path of a binary built in this workspace's target directory (next to the test executable).
pub fn bin_path(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is not built; run the tests through cargo (scripts/test)",
        path.display()
    );
    path
}

/// A command run the way a user or a workflow runs it.
pub struct Cmd {
    program: PathBuf,
    args: Vec<String>,
    env: BTreeMap<String, String>,
    github: Option<tempfile::TempDir>,
    timeout: Duration,
    stdin: Option<Vec<u8>>,
    dir: Option<PathBuf>,
}

/// What a run produced.
#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    /// `$GITHUB_OUTPUT` pairs, when run with [`Cmd::github_actions`].
    pub outputs: BTreeMap<String, String>,
    /// `$GITHUB_STEP_SUMMARY` content, when run with [`Cmd::github_actions`].
    pub summary: String,
    pub elapsed: Duration,
}

impl Output {
    /// stdout parsed as the one JSON object `--output json` promises.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not one JSON object ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }
    pub fn output(&self, name: &str) -> &str {
        self.outputs.get(name).unwrap_or_else(|| {
            panic!(
                "no output `{name}` in {:?}\nstderr:\n{}",
                self.outputs, self.stderr
            )
        })
    }
    /// Assert the exit code, showing everything when it differs.
    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "exit code\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
    /// Panics can never reach users: no panic message or backtrace in stderr.
    #[track_caller]
    pub fn assert_no_panic(&self) -> &Self {
        assert!(
            !self.stderr.contains("panicked at")
                && !self.stderr.contains("RUST_BACKTRACE")
                && !self.stderr.contains("internal error"),
            "panic in stderr:\n{}",
            self.stderr
        );
        self
    }
}

impl Cmd {
    pub fn new(program: impl Into<PathBuf>) -> Self {
        let mut env = BTreeMap::new();
        #[allow(clippy::disallowed_methods)]
        env.insert("PATH".into(), std::env::var("PATH").unwrap_or_default());
        // No ~/.aws files, no instance-metadata probes: only what the test gives.
        env.insert(
            "HOME".into(),
            std::env::temp_dir()
                .join("dk-test-home")
                .display()
                .to_string(),
        );
        env.insert("AWS_EC2_METADATA_DISABLED".into(), "true".into());
        env.insert("NO_COLOR".into(), "1".into());
        Cmd {
            program: program.into(),
            args: Vec::new(),
            env,
            github: None,
            timeout: Duration::from_secs(180),
            stdin: None,
            dir: None,
        }
    }
    /// Run in this working directory (default: the test's).
    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dir = Some(dir.into());
        self
    }
    /// A workspace binary by name (`rds-snapshot`, `deploy-kit`, …).
    pub fn bin(name: &str) -> Self {
        Self::new(bin_path(name))
    }
    pub fn arg(mut self, a: impl Into<String>) -> Self {
        self.args.push(a.into());
        self
    }
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }
    pub fn env(mut self, k: impl Into<String>, v: impl Into<String>) -> Self {
        self.env.insert(k.into(), v.into());
        self
    }
    pub fn envs<I, K, V>(mut self, vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        for (k, v) in vars {
            self.env.insert(k.into(), v.into());
        }
        self
    }
    /// Talk to moto as `account`.
    pub fn aws(self, account: &AwsAccount) -> Self {
        let moto = standins().moto;
        self.envs(account.env(&moto))
    }
    /// Run as a GitHub Actions step: `GITHUB_ACTIONS=true` and fresh output and summary files.
    pub fn github_actions(mut self) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("output");
        let sum = dir.path().join("summary");
        std::fs::write(&out, "").unwrap();
        std::fs::write(&sum, "").unwrap();
        self.env.insert("GITHUB_ACTIONS".into(), "true".into());
        self.env.insert("CI".into(), "true".into());
        self.env
            .insert("GITHUB_OUTPUT".into(), out.display().to_string());
        self.env
            .insert("GITHUB_STEP_SUMMARY".into(), sum.display().to_string());
        self.github = Some(dir);
        self
    }
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }
    pub fn stdin(mut self, data: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(data.into());
        self
    }

    /// Run to completion (killed after the timeout, which fails the test).
    pub fn run(self) -> Output {
        let start = Instant::now();
        let mut command = Command::new(&self.program);
        if let Some(dir) = &self.dir {
            command.current_dir(dir);
        }
        let mut child = command
            .args(&self.args)
            .env_clear()
            .envs(&self.env)
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", self.program.display()));
        if let Some(data) = &self.stdin {
            let mut si = child.stdin.take().unwrap();
            si.write_all(data).ok();
        }
        let mut so = child.stdout.take().unwrap();
        let mut se = child.stderr.take().unwrap();
        let t_out = std::thread::spawn(move || {
            let mut s = String::new();
            so.read_to_string(&mut s).ok();
            s
        });
        let t_err = std::thread::spawn(move || {
            let mut s = String::new();
            se.read_to_string(&mut s).ok();
            s
        });
        let status = loop {
            if let Some(st) = child.try_wait().expect("wait") {
                break st;
            }
            if start.elapsed() > self.timeout {
                child.kill().ok();
                panic!(
                    "{} {:?} did not finish within {:?}",
                    self.program.display(),
                    self.args,
                    self.timeout
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let stdout = t_out.join().unwrap();
        let stderr = t_err.join().unwrap();
        let (outputs, summary) = match &self.github {
            Some(dir) => {
                let out = std::fs::read_to_string(dir.path().join("output")).unwrap_or_default();
                let sum = std::fs::read_to_string(dir.path().join("summary")).unwrap_or_default();
                (dk_core::gha::parse_outputs(&out).into_iter().collect(), sum)
            }
            None => (BTreeMap::new(), String::new()),
        };
        Output {
            code: status.code().unwrap_or(-1),
            stdout,
            stderr,
            outputs,
            summary,
            elapsed: start.elapsed(),
        }
    }
}

/// A loopback port nothing listens on (bound, then released).
pub fn unused_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A unique, valid lowercase name for resources in tests: `prefix-<random>`.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{:08x}", fastrand_u64() as u32)
}

/// What a test that sets up and reads back AWS state needs: a fresh moto account
/// ([`moto_account`]), a current-thread runtime to drive the SDK from a plain `#[test]`, and an SDK
/// config for that account against moto ([`sdk_config`]).
pub struct MotoSession {
    pub account: AwsAccount,
    pub rt: tokio::runtime::Runtime,
    pub config: aws_config::SdkConfig,
}

impl MotoSession {
    pub fn start() -> MotoSession {
        let account = moto_account();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a current-thread tokio runtime");
        let config = rt.block_on(sdk_config(&standins().moto, Some(&account)));
        MotoSession {
            account,
            rt,
            config,
        }
    }
}

/// CreateDBInstance for the small PostgreSQL instance `id` that the RDS tests snapshot; `.send()`
/// it.
#[cfg(feature = "rds")]
pub fn postgres_instance(
    rds: &aws_sdk_rds::Client,
    id: &str,
) -> aws_sdk_rds::operation::create_db_instance::builders::CreateDBInstanceFluentBuilder {
    rds.create_db_instance()
        .db_instance_identifier(id)
        .engine("postgres")
        .db_instance_class("db.t3.micro")
        .master_username("app")
        .master_user_password("correct-horse-battery")
        .allocated_storage(20)
}

/// An SDK config for setting up fixtures: region us-east-1, the given endpoint, and this
/// account's credentials (or `testing`/`testing` for stand-ins that ignore them).
pub async fn sdk_config(endpoint: &str, account: Option<&AwsAccount>) -> aws_config::SdkConfig {
    let creds = match account {
        Some(a) => aws_credential_types::Credentials::new(
            &a.access_key_id,
            &a.secret_access_key,
            Some(a.session_token.clone()),
            None,
            "test",
        ),
        None => aws_credential_types::Credentials::new("testing", "testing", None, None, "test"),
    };
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(creds)
        .load()
        .await
}

/// A loopback TCP proxy that delays the client's bytes when they contain a marker (an AWS
/// operation name, say), after letting the first `skip` matches through: a real slow endpoint
/// for testing that deadlines fire when they say.
pub struct DelayProxy {
    pub addr: std::net::SocketAddr,
}

#[derive(Clone)]
pub struct DelayRule {
    pub marker: String,
    pub skip: usize,
    pub delay: Duration,
}

impl DelayProxy {
    pub fn start(upstream: &str, rules: Vec<DelayRule>) -> DelayProxy {
        use std::sync::{Arc, Mutex};
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(vec![0usize; rules.len()]));
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect(&upstream) else {
                    continue;
                };
                let (rules, seen) = (rules.clone(), seen.clone());
                let (mut c_read, mut s_write) =
                    (client.try_clone().unwrap(), server.try_clone().unwrap());
                let (mut s_read, mut c_write) = (server, client);
                std::thread::spawn(move || {
                    let mut buf = vec![0u8; 64 * 1024];
                    while let Ok(n) = c_read.read(&mut buf) {
                        if n == 0 {
                            break;
                        }
                        let text = String::from_utf8_lossy(&buf[..n]).to_string();
                        for (i, r) in rules.iter().enumerate() {
                            if text.contains(&r.marker) {
                                let count = {
                                    let mut s = seen.lock().unwrap();
                                    s[i] += 1;
                                    s[i]
                                };
                                if count > r.skip {
                                    std::thread::sleep(r.delay);
                                }
                            }
                        }
                        if s_write.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = s_write.shutdown(std::net::Shutdown::Write);
                });
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut s_read, &mut c_write);
                    let _ = c_write.shutdown(std::net::Shutdown::Write);
                });
            }
        });
        DelayProxy { addr }
    }
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// A FAKE of the GitHub Actions OIDC token endpoint (`ACTIONS_ID_TOKEN_REQUEST_URL`): answers
/// every request with `{"value": <token>}` and records what it was asked, so tests can check the
/// bearer token and audience a tool sent.
pub struct GithubOidcFake {
    pub url: String,
    pub requests: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl GithubOidcFake {
    pub fn start(id_token: &str) -> GithubOidcFake {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!(
            "http://{}/token?api-version=2.0",
            listener.local_addr().unwrap()
        );
        let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (log, body) = (
            requests.clone(),
            format!("{{\"count\":1,\"value\":\"{id_token}\"}}"),
        );
        std::thread::spawn(move || {
            for mut conn in listener.incoming().flatten() {
                let mut buf = vec![0u8; 16 * 1024];
                let n = conn.read(&mut buf).unwrap_or(0);
                log.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&buf[..n]).to_string());
                let resp = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = conn.write_all(resp.as_bytes());
            }
        });
        GithubOidcFake { url, requests }
    }
}
