//! The teams' meal-planner API, small enough to start hundreds of times in tests: health,
//! login → bearer token, `GET /recipes`, `POST /meal-plans` — what smoke-test's example spec
//! (`crates/smoke-test/examples/meal-planner.yml`) checks.
//!
//! It is test equipment in one place (`publish = false`): smoke-test's tests start it in
//! process ([`spawn`]), the ECS emulator's process mode and `scripts/demo` run the binary as a
//! "container", whose version and behaviour come from its environment (see `main.rs`). Every
//! response carries the version (`x-app-version` header; `version` in `/health`), so a caller
//! behind a load balancer sees which release answered.

pub mod migrate;
mod routes;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// How this instance misbehaves (the demo's broken releases).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Behaviour {
    /// Answers as the teams' API should.
    #[default]
    Healthy,
    /// Exits with a non-zero code as soon as it starts (binary only).
    Crash,
    /// Starts listening late and answers every request late.
    Slow,
    /// Answers a fraction of the API requests (`/recipes`, `/meal-plans`) with 500.
    Errors,
    /// `/health` answers 503 for ever (a target group never marks it healthy).
    Unhealthy,
}

impl Behaviour {
    /// The names accepted in `DEMO_BEHAVIOUR`.
    pub const NAMES: [&str; 5] = ["healthy", "crash", "slow", "errors", "unhealthy"];

    pub fn parse(name: &str) -> Option<Behaviour> {
        Some(match name {
            "healthy" => Behaviour::Healthy,
            "crash" => Behaviour::Crash,
            "slow" => Behaviour::Slow,
            "errors" => Behaviour::Errors,
            "unhealthy" => Behaviour::Unhealthy,
            _ => return None,
        })
    }
}

/// Everything an instance needs; the binary fills it from its environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// Reported in every response.
    pub version: String,
    pub behaviour: Behaviour,
    /// Signs tokens (`JWT_SECRET`): the same secret gives the same token on every task, so a
    /// login on one task is accepted by another behind the load balancer.
    pub jwt_secret: String,
    /// The password `POST /auth/login` accepts (any email).
    pub user_password: String,
    /// A fixed token instead of a derived one (smoke-test's canary token).
    pub fixed_token: Option<String>,
    /// `/health` answers 503 for this long after start.
    pub unhealthy_for: Duration,
    /// Added to every `/slow` response (and every response when [`Behaviour::Slow`], and
    /// `/recipes` when `slow_recipes`).
    pub latency: Duration,
    pub slow_recipes: bool,
    /// [`Behaviour::Errors`]: the fraction (0..=1) of API requests answered 500.
    pub error_rate: f64,
    /// `/flaky` answers 500 on every n-th request (0: never).
    pub flaky_every: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            version: "0.0.0-dev".to_string(),
            behaviour: Behaviour::Healthy,
            jwt_secret: String::new(),
            user_password: String::new(),
            fixed_token: None,
            unhealthy_for: Duration::ZERO,
            latency: Duration::ZERO,
            slow_recipes: false,
            error_rate: 0.0,
            flaky_every: 0,
        }
    }
}

impl Config {
    /// The bearer token `POST /auth/login` hands out to `email`.
    pub fn token_for(&self, email: &str) -> String {
        if let Some(token) = &self.fixed_token {
            return token.clone();
        }
        use sha2::{Digest, Sha256};
        let digest = Sha256::new()
            .chain_update(self.jwt_secret.as_bytes())
            .chain_update(b"\n")
            .chain_update(email.as_bytes())
            .finalize();
        format!("tok-{}.{}", hex::encode(email), &hex::encode(digest)[..32])
    }

    /// Whether `token` is one this instance (or any instance with the same secret) issued.
    pub fn accepts(&self, token: &str) -> bool {
        if let Some(fixed) = &self.fixed_token {
            return token == fixed;
        }
        let email = token
            .strip_prefix("tok-")
            .and_then(|t| t.split_once('.'))
            .and_then(|(email, _)| hex::decode(email).ok())
            .and_then(|email| String::from_utf8(email).ok());
        !self.jwt_secret.is_empty() && email.is_some_and(|e| self.token_for(&e) == token)
    }
}

/// Shared by every connection of one instance.
struct App {
    config: Config,
    started: Instant,
    hits: Arc<AtomicU64>,
    api_requests: AtomicU64,
    flaky: AtomicU64,
    plans: AtomicU64,
}

impl App {
    /// Whether the n-th API request fails under [`Behaviour::Errors`]: exactly `error_rate` of
    /// any run of requests, spread evenly.
    fn api_request_fails(&self) -> bool {
        if self.config.behaviour != Behaviour::Errors {
            return false;
        }
        let n = self.api_requests.fetch_add(1, Ordering::SeqCst) + 1;
        let rate = self.config.error_rate.clamp(0.0, 1.0);
        (n as f64 * rate).floor() > ((n - 1) as f64 * rate).floor()
    }
}

/// Serves `config` on `listener` until `shutdown` resolves; in-flight requests then get a
/// second to finish (a draining task answers what it already accepted).
pub async fn serve(
    listener: TcpListener,
    config: Config,
    hits: Arc<AtomicU64>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let app = Arc::new(App {
        config,
        started: Instant::now(),
        hits,
        api_requests: AtomicU64::new(0),
        flaky: AtomicU64::new(0),
        plans: AtomicU64::new(0),
    });
    let connections = live_connections::Tracker::default();
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let Ok((stream, _)) = accepted else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let app = app.clone();
        let guard = connections.enter();
        tokio::spawn(async move {
            let svc = service_fn(move |req| routes::handle(app.clone(), req));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
            drop(guard);
        });
    }
    drop(listener);
    connections.wait(Duration::from_secs(1)).await;
}

/// Counts live connections so shutdown can wait for them (no extra dependency for this).
mod live_connections {
    use std::sync::Arc;
    use std::time::Duration;

    #[derive(Default, Clone)]
    pub struct Tracker(Arc<()>);

    impl Tracker {
        pub fn enter(&self) -> Arc<()> {
            self.0.clone()
        }

        pub async fn wait(&self, at_most: Duration) {
            let deadline = tokio::time::Instant::now() + at_most;
            while Arc::strong_count(&self.0) > 1 && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// An instance started in process on its own runtime (for synchronous tests).
pub struct RunningApi {
    /// `http://127.0.0.1:PORT`
    pub url: String,
    pub addr: SocketAddr,
    /// Requests served so far.
    pub hits: Arc<AtomicU64>,
    _runtime: tokio::runtime::Runtime,
}

/// Starts an instance on a free loopback port, on a runtime of its own that lives as long as
/// the returned value.
pub fn spawn(config: Config) -> std::io::Result<RunningApi> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let listener = runtime.block_on(TcpListener::bind(("127.0.0.1", 0)))?;
    let addr = listener.local_addr()?;
    let hits = Arc::new(AtomicU64::new(0));
    runtime.spawn(serve(
        listener,
        config,
        hits.clone(),
        std::future::pending(),
    ));
    Ok(RunningApi {
        url: format!("http://{addr}"),
        addr,
        hits,
        _runtime: runtime,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same secret and email give the same token (any task accepts it); another secret
    /// does not.
    #[test]
    fn tokens_are_derived_from_the_secret() {
        let a = Config {
            jwt_secret: "s1".into(),
            ..Config::default()
        };
        let b = Config {
            jwt_secret: "s2".into(),
            ..Config::default()
        };
        assert_eq!(a.token_for("x@y"), a.clone().token_for("x@y"));
        assert_ne!(a.token_for("x@y"), b.token_for("x@y"));
        assert_ne!(a.token_for("x@y"), a.token_for("z@y"));
        assert!(a.accepts(&a.token_for("x@y")));
        assert!(!b.accepts(&a.token_for("x@y")));
        assert!(!a.accepts("tok-00.00"));
        let fixed = Config {
            fixed_token: Some("tok-1".into()),
            ..a
        };
        assert_eq!(fixed.token_for("x@y"), "tok-1");
    }

    /// An error rate fails exactly that fraction of requests, evenly spread.
    #[test]
    fn error_rate_is_exact() {
        let app = |rate: f64| App {
            config: Config {
                behaviour: Behaviour::Errors,
                error_rate: rate,
                ..Config::default()
            },
            started: Instant::now(),
            hits: Arc::default(),
            api_requests: AtomicU64::new(0),
            flaky: AtomicU64::new(0),
            plans: AtomicU64::new(0),
        };
        for (rate, expected) in [(0.0, 0), (0.25, 25), (0.5, 50), (1.0, 100)] {
            let a = app(rate);
            let failed = (0..100).filter(|_| a.api_request_fails()).count();
            assert_eq!(failed, expected, "rate {rate}");
        }
        let a = app(0.5);
        let pattern: Vec<bool> = (0..4).map(|_| a.api_request_fails()).collect();
        assert_eq!(pattern, [false, true, false, true]);
    }

    #[test]
    fn behaviour_names_parse() {
        for name in Behaviour::NAMES {
            assert!(Behaviour::parse(name).is_some(), "{name}");
        }
        assert_eq!(Behaviour::parse("explode"), None);
    }
}
