//! The teams' API the tests run against: `demo-api` (crates/demo-api, the one home of this
//! stand-in, also what the ECS emulator's process mode and `scripts/demo` deploy), started in
//! process by each test with the behaviour it needs: a login handing out a bearer token, a slow
//! endpoint, a health check answering 503 for a while after start, an endpoint failing on a
//! fraction of requests, and one that leaks the caller's token and hostile text in an error
//! body.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

/// The canary secrets: neither may appear in any output except `::add-mask::` lines.
pub const PASSWORD: &str = "pw-CANARY-55d1e0";
pub const TOKEN: &str = "tok-CANARY-7f3a9b1e42";

#[derive(Debug, Clone, Default)]
pub struct Behaviour {
    /// /health answers 503 for this long after start.
    pub unhealthy_for: Duration,
    /// /flaky answers 500 on every n-th request (0: never).
    pub error_every: u64,
    /// /slow (and /recipes when `slow_recipes`) waits this long.
    pub slow: Duration,
    pub slow_recipes: bool,
}

pub struct Api {
    pub url: String,
    /// Requests served so far.
    pub hits: Arc<AtomicU64>,
    _api: demo_api::RunningApi,
}

pub fn start(b: Behaviour) -> Api {
    let api = demo_api::spawn(demo_api::Config {
        version: "1.4.2".to_string(),
        user_password: PASSWORD.to_string(),
        fixed_token: Some(TOKEN.to_string()),
        unhealthy_for: b.unhealthy_for,
        flaky_every: b.error_every,
        latency: b.slow,
        slow_recipes: b.slow_recipes,
        ..demo_api::Config::default()
    })
    .expect("start the demo API");
    Api {
        url: api.url.clone(),
        hits: api.hits.clone(),
        _api: api,
    }
}
