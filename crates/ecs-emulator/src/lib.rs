//! An ECS rollout **emulator**: test equipment for deploy-kit, not ECS.
//!
//! moto answers ECS calls but never rolls anything out (`standins.md`), so this crate plays the
//! ECS deployment controller on loopback: it speaks the ECS JSON 1.1 protocol the official SDKs
//! use, runs rolling deployments against an emulated clock, and lets a scenario decide how
//! each image behaves. The README lists every known difference from real ECS.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let emulator = ecs_emulator::Emulator::start(ecs_emulator::Config::manual()).await?;
//! let endpoint = emulator.url(); // give this to aws-sdk-ecs as endpoint_url
//! emulator.advance(std::time::Duration::from_secs(60));
//! # Ok(()) }
//! ```

mod accept;
mod alarms;
mod calls;
mod circuit_breaker;
mod control;
mod deployments;
mod error;
mod faults;
mod http_client;
mod ids;
mod inject;
mod lb;
mod log_driver;
mod model;
mod ops;
mod patterns;
mod process;
mod process_config;
mod process_state;
mod progressive;
mod render;
mod rollout;
mod scenario;
mod scheduler;
mod secrets;
mod server;
mod strategy;
mod task_lifecycle;
mod task_process;

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use calls::CallLog;
pub use error::EcsError;
pub use faults::{Fault, FaultKind};
pub use ids::{ACCOUNT_ID, REGION};
pub use ops::OPERATIONS;
pub use process_config::{HealthCheck, ProcessImage, ProcessMode};
pub use scenario::{
    BehaviorKind, Consistency, DEFAULT_TIME_SCALE, ImageBehavior, RunTaskBehavior, Scenario,
    ScenarioError, StaleWindow,
};

use model::State;
use server::Shared;

/// How to start an emulator.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Image behaviours, time scale, one-off task results.
    pub scenario: Scenario,
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// Keep the clock manual whatever later scenarios say (tests stepping deterministically).
    pub manual_clock: bool,
}

impl Config {
    /// Default scenario, any free port, background clock at the default time scale.
    pub fn new(scenario: Scenario) -> Self {
        Config {
            scenario,
            port: 0,
            manual_clock: false,
        }
    }

    /// Default scenario with a manual clock: time moves only through `advance`.
    pub fn manual() -> Self {
        Config {
            manual_clock: true,
            ..Config::default()
        }
    }

    pub fn with_scenario(mut self, scenario: Scenario) -> Self {
        self.scenario = scenario;
        self
    }
}

/// Starts emulators.
pub struct Emulator;

impl Emulator {
    /// Binds 127.0.0.1 and starts serving on the current tokio runtime.
    pub async fn start(config: Config) -> std::io::Result<RunningEmulator> {
        let (listener, addr) = server::bind(config.port).await?;
        // Whole seconds keep emulated timestamps readable.
        let start = server::real_now().floor();
        let mut state = State::new(config.scenario, start);
        state.processes = Some(Arc::new(process::Supervisor::new(
            tokio::runtime::Handle::current(),
        )));
        let shared = Arc::new(Shared::new(state, config.manual_clock));
        let (shutdown, rx) = watch::channel(false);
        let server = tokio::spawn(server::serve(listener, shared.clone(), rx.clone()));
        let clock = tokio::spawn(server::run_clock(shared.clone(), rx));
        Ok(RunningEmulator {
            addr,
            shared,
            shutdown,
            tasks: vec![server, clock],
        })
    }
}

/// A running emulator; dropping it stops the server.
pub struct RunningEmulator {
    addr: std::net::SocketAddr,
    shared: Arc<Shared>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl RunningEmulator {
    /// `http://127.0.0.1:PORT`, the endpoint URL for an SDK client.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Replaces the scenario; tasks launched from now on follow it.
    pub fn set_scenario(&self, scenario: Scenario) {
        self.shared.lock().scenario = scenario;
    }

    /// Turns eventual consistency on or off (the scenario's `eventual_consistency`); it applies
    /// from the next UpdateService on.
    pub fn set_consistency(&self, consistency: Consistency) {
        self.shared.lock().scenario.eventual_consistency = consistency;
    }

    /// Sets a CloudWatch alarm's state (`OK`, `ALARM`, `INSUFFICIENT_DATA`) for deployment
    /// alarms; a deployment watching an alarm in `ALARM` fails at the next step.
    pub fn set_alarm(&self, name: &str, state: &str) {
        self.shared
            .lock()
            .alarms
            .insert(name.to_string(), state.to_string());
    }

    /// Arms a fault for the next `count` calls of an operation (or `*`).
    pub fn inject_fault(&self, fault: Fault) {
        self.shared.lock().faults.arm(fault);
    }

    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }

    /// Adds a service event with any text (test knob, see `inject.rs`); `Err` if the service
    /// does not exist.
    pub fn inject_event(
        &self,
        cluster: &str,
        service: &str,
        message: &str,
    ) -> Result<String, String> {
        let req = inject::InjectEvent {
            cluster: cluster.into(),
            service: service.into(),
            message: message.into(),
        };
        inject::inject_event(&mut self.shared.lock(), &req)
    }

    /// Moves emulated time forward (one scheduler step per emulated second).
    pub fn advance(&self, by: Duration) {
        let mut state = self.shared.lock();
        rollout::advance(&mut state, by.as_secs_f64(), server::real_now());
    }

    /// Emulated time, epoch seconds.
    pub fn now(&self) -> f64 {
        self.shared.lock().now
    }

    /// Calls received so far.
    pub fn calls(&self) -> CallLog {
        self.shared.lock().calls.clone()
    }

    /// Forgets every cluster, task definition, task, tag, fault and call; keeps the scenario
    /// and the clock.
    pub fn reset(&self) {
        control::reset(&mut self.shared.lock());
    }

    pub fn reset_calls(&self) {
        self.shared.lock().calls = CallLog::default();
    }

    /// The same JSON as `GET /_emulator/state`.
    pub fn state(&self) -> Value {
        let state = self.shared.lock();
        control::state_snapshot(&state, self.shared.manual_forced)
    }

    /// Process mode: `http://127.0.0.1:PORT` of a service's load balancer (its production
    /// listener), once one of its tasks ran as a process.
    pub fn load_balancer_url(&self, cluster: &str, service: &str) -> Option<String> {
        self.listener_url(cluster, service, lb::Listener::Production)
    }

    /// Process mode: the test listener of a service's load balancer (green once an ECS-native
    /// deployment shifted test traffic, blue otherwise).
    pub fn test_listener_url(&self, cluster: &str, service: &str) -> Option<String> {
        self.listener_url(cluster, service, lb::Listener::Test)
    }

    fn listener_url(&self, cluster: &str, service: &str, which: lb::Listener) -> Option<String> {
        let processes = self.shared.lock().processes.clone()?;
        processes
            .listener(cluster, service, which)
            .map(|addr| format!("http://{addr}"))
    }

    /// Process mode: the pid of every process started so far.
    pub fn started_pids(&self) -> Vec<u32> {
        let processes = self.shared.lock().processes.clone();
        processes.map(|p| p.started_pids()).unwrap_or_default()
    }

    /// Stops accepting connections, lets in-flight requests finish, and stops the clock.
    /// Process mode: SIGTERM to every task process, SIGKILL after the stop timeout.
    pub async fn shutdown(mut self) {
        let processes = self.shared.lock().processes.clone();
        if let Some(p) = processes {
            let grace = self
                .shared
                .lock()
                .scenario
                .processes
                .as_ref()
                .map_or(2.0, |m| m.stop_timeout_seconds);
            p.shutdown(Duration::from_secs_f64(grace)).await;
        }
        let _ = self.shutdown.send(true);
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
    }
}

impl Drop for RunningEmulator {
    fn drop(&mut self) {
        // No child outlives the emulator: every process group is killed now.
        if let Some(p) = self.shared.lock().processes.clone() {
            p.kill_all(true);
        }
        let _ = self.shutdown.send(true);
    }
}
