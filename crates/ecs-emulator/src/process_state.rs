//! The state of the process-mode children (`process.rs` drives them): which task runs as which
//! process, its target health, and the load balancers. A leaf, so `model::State` can hold the
//! supervisor without `model` and `process` importing each other (it imports only `lb`'s
//! plain address type).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::runtime::Handle;
use tokio::sync::watch;

use crate::lb::Addresses;

/// What became of a task's process.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ProcState {
    /// Resolving secrets or spawning.
    Starting,
    /// Never ran: the stopped reason.
    FailedToStart(String),
    Running,
    /// The exit code (128 + signal when killed by a signal, as Docker reports).
    Exited(i32),
}

/// Target health, as a target group reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TargetHealth {
    Initial,
    Healthy,
    Unhealthy,
}

#[derive(Debug)]
pub(crate) struct Proc {
    pub(crate) task_id: String,
    pub(crate) cluster: String,
    pub(crate) service: String,
    /// Index of the container that is the process (for its exit code).
    pub(crate) container: usize,
    pub(crate) port: u16,
    pub(crate) pid: Option<u32>,
    pub(crate) state: ProcState,
    pub(crate) health: TargetHealth,
    pub(crate) passes: u32,
    pub(crate) failures: u32,
    /// Deregistered: takes no new requests.
    pub(crate) draining: bool,
    /// In the alternate (green) target group: the task belongs to the revision an ECS-native
    /// deployment brings in; else in the primary (blue) one.
    pub(crate) green: bool,
    pub(crate) stop_sent: bool,
}

impl Proc {
    /// A task's process before it is spawned: no pid, no health checks yet, in rotation, blue.
    pub(crate) fn new(
        task_id: String,
        cluster: String,
        service: String,
        container: usize,
        port: u16,
        state: ProcState,
    ) -> Proc {
        Proc {
            task_id,
            cluster,
            service,
            container,
            port,
            pid: None,
            state,
            health: TargetHealth::Initial,
            passes: 0,
            failures: 0,
            draining: false,
            green: false,
            stop_sent: false,
        }
    }
}

/// The green weights of a service's listeners (percent); `None`: no ECS-native deployment owns
/// its traffic, every healthy target is in the primary (blue) target group.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct Route {
    pub(crate) test_weight: f64,
    pub(crate) production_weight: f64,
}

#[derive(Default)]
pub(crate) struct Inner {
    /// Task ARN → its process.
    pub(crate) procs: BTreeMap<String, Proc>,
    /// (cluster, service) → the load balancer's listener addresses.
    pub(crate) load_balancers: BTreeMap<(String, String), Addresses>,
    /// (cluster, service) → the green weights while an ECS-native deployment owns its traffic.
    pub(crate) routes: BTreeMap<(String, String), Route>,
    /// Every pid ever started (tests check none survives).
    pub(crate) started_pids: Vec<u32>,
    /// Shut down: nothing starts any more.
    pub(crate) closed: bool,
}

/// The children of one emulator.
pub struct Supervisor {
    pub(crate) inner: Arc<Mutex<Inner>>,
    pub(crate) runtime: Handle,
    pub(crate) shutdown: watch::Sender<bool>,
}

impl std::fmt::Debug for Supervisor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inner = lock(&self.inner);
        f.debug_struct("Supervisor")
            .field("processes", &inner.procs.len())
            .field("load_balancers", &inner.load_balancers.len())
            .finish()
    }
}

pub(crate) fn lock(inner: &Mutex<Inner>) -> MutexGuard<'_, Inner> {
    inner.lock().unwrap_or_else(|e| e.into_inner())
}
