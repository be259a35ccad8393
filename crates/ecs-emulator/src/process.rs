//! Process mode's supervisor: a service task whose image the scenario's `processes:` names is a
//! real child process of the emulator, started with the task definition's environment and
//! resolved secrets plus `PORT`, health-checked on loopback, and put behind its service's
//! loopback load balancer (`lb.rs`): its production and test listeners send each request to
//! the blue or the green target group by the weights of the service's ECS-native deployment
//! (`progressive::traffic`), published after every clock step and every rollback.
//!
//! The emulated task lifecycle stays in charge (`task_lifecycle.rs`): at every clock step
//! [`Supervisor::sync_cluster`] rewrites a process task's plan from what really happened —
//! spawned → RUNNING, health checks passed → healthy, failed → replaced, exited → STOPPED with
//! its exit code, secrets unresolvable → stopped with ECS's reason — and the scheduler, the
//! circuit breaker and the events follow as for any task. A task asked to stop leaves the
//! load balancer at once, and its process gets SIGTERM after the deregistration delay, then
//! SIGKILL after the stop timeout.
//!
//! Every process leads its own process group, so whatever it forks goes with it. The
//! emulator kills every group when it is dropped, reset, or shut down (SIGTERM to the binary).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::runtime::Handle;
use tokio::sync::watch;

use crate::lb::{Listener, Pools};
use crate::log_driver::{self, LogTarget, Output};
use crate::model::{Cluster, Task, TaskDefinition, TaskPlan, resolve_task_definition};
use crate::process_config::{HealthCheck, ProcessMode};
pub(crate) use crate::process_state::Supervisor;
use crate::process_state::{Inner, Proc, ProcState, Route, TargetHealth, lock};
use crate::progressive::traffic;
use crate::secrets::{self, SecretRef};
use crate::{http_client, lb};

/// How long a shutdown waits for the processes it killed to be reaped.
const REAP_WAIT: Duration = Duration::from_secs(5);

/// What to run for one task.
pub(crate) struct Launch {
    pub(crate) command: Vec<String>,
    pub(crate) environment: Vec<(String, String)>,
    pub(crate) secrets: Vec<SecretRef>,
}

/// The emulated plan of a process task until something real happens: nothing moves.
fn waiting_plan(containers: usize) -> TaskPlan {
    TaskPlan::Run {
        running_at: f64::INFINITY,
        healthy_at: None,
        unhealthy_at: None,
        exit_at: None,
        exit_codes: vec![0; containers],
    }
}

pub(crate) fn cluster_name(cluster_arn: &str) -> String {
    cluster_arn
        .rsplit_once("cluster/")
        .map_or(cluster_arn, |(_, name)| name)
        .to_string()
}

fn name_value_pairs(list: Option<&Value>, value_key: &str) -> Vec<(String, String)> {
    list.and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|e| {
                    Some((
                        e.get("name")?.as_str()?.to_string(),
                        e.get(value_key)?.as_str()?.to_string(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The first container whose image the mode runs: its index and what to start.
fn launch_for(definition: &TaskDefinition, mode: &ProcessMode) -> Option<(usize, Launch)> {
    launch_for_task(definition, mode, &Value::Null)
}

/// [`launch_for`] with a task's `overrides` (RunTask's): the container's command, overridden
/// or not, picks one of the image's `programs`.
pub(crate) fn launch_for_task(
    definition: &TaskDefinition,
    mode: &ProcessMode,
    overrides: &Value,
) -> Option<(usize, Launch)> {
    let containers = definition.body.get("containerDefinitions")?.as_array()?;
    let specs = definition.containers();
    containers.iter().enumerate().find_map(|(i, c)| {
        let image = c.get("image")?.as_str()?;
        let process = mode.image(image)?;
        // The image's own environment first; the task definition overrides it.
        let mut environment: Vec<(String, String)> = process
            .environment
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        environment.extend(name_value_pairs(c.get("environment"), "value"));
        let secrets = name_value_pairs(c.get("secrets"), "valueFrom")
            .into_iter()
            .map(|(name, value_from)| SecretRef { name, value_from })
            .collect();
        let command = specs
            .get(i)
            .map(|spec| crate::task_lifecycle::effective_command(spec, overrides))
            .unwrap_or_default();
        Some((
            i,
            Launch {
                command: process.argv(&command),
                environment,
                secrets,
            },
        ))
    })
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind(("127.0.0.1", 0))?
        .local_addr()?
        .port())
}

/// The signals the supervisor sends.
#[derive(Debug, Clone, Copy)]
enum Signal {
    Term,
    Kill,
}

/// Sends `signal` to the process group led by `pid`; a group already gone is fine.
///
/// Through `kill(1)`: the crate forbids `unsafe` (so no `libc::kill`), and rustix's `process`
/// feature would rebuild every crate above rustix (tar, tempfile, clap…) in the workspace for
/// one call that runs a handful of times per test.
fn signal_group(pid: u32, signal: Signal) {
    let name = match signal {
        Signal::Term => "-TERM",
        Signal::Kill => "-KILL",
    };
    let _ = std::process::Command::new("kill")
        .args([name, "--", &format!("-{pid}")])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
}

impl Supervisor {
    pub fn new(runtime: Handle) -> Self {
        Supervisor {
            inner: Arc::default(),
            runtime,
            shutdown: watch::channel(false).0,
        }
    }

    /// The clock step's hook: start processes for new process-mode tasks, stop those of tasks
    /// asked to stop, and move every process task's plan to what really happened.
    pub fn sync_cluster(
        &self,
        cluster: &mut Cluster,
        definitions: &BTreeMap<String, Vec<TaskDefinition>>,
        mode: &ProcessMode,
        now: f64,
    ) {
        for task in cluster.tasks.iter_mut().filter(|t| t.service.is_some()) {
            let known = lock(&self.inner).procs.contains_key(&task.arn);
            if known {
                self.sync_task(task, mode, now);
            } else if task.last_status == "PROVISIONING" && task.is_live() {
                let Some(definition) =
                    resolve_task_definition(definitions, &task.task_definition_arn)
                else {
                    continue;
                };
                if let Some((container, launch)) = launch_for(definition, mode) {
                    let endpoint = mode.cloudwatch_logs_url.as_deref();
                    let logs =
                        log_driver::target_of(&definition.body, container, &task.id, endpoint);
                    self.start(task, container, launch, logs, mode);
                }
            }
        }
    }

    fn start(
        &self,
        task: &mut Task,
        container: usize,
        launch: Launch,
        logs: Option<LogTarget>,
        mode: &ProcessMode,
    ) {
        let cluster = cluster_name(&task.cluster_arn);
        let service = task.service.clone().unwrap_or_default();
        let mut state = ProcState::Starting;
        let port = free_port().unwrap_or_else(|e| {
            state = ProcState::FailedToStart(format!(
                "CannotStartContainerError: no free loopback port: {e}"
            ));
            0
        });
        let proc = Proc::new(
            task.id.clone(),
            cluster.clone(),
            service.clone(),
            container,
            port,
            state.clone(),
        );
        if !self.admit(task, proc) {
            return;
        }
        self.ensure_load_balancer(&cluster, &service);
        if state == ProcState::Starting {
            let checks = check_health(
                self.inner.clone(),
                task.arn.clone(),
                port,
                mode.health_check.clone(),
                self.shutdown.subscribe(),
            );
            let run = run_container(
                self.inner.clone(),
                task.arn.clone(),
                launch,
                mode.clone(),
                Some(port),
                logs,
                move || drop(tokio::spawn(checks)),
            );
            self.runtime.spawn(run);
        }
    }

    /// Records `task`'s process before it is spawned and sets the task's containers waiting
    /// for it; false once the supervisor has shut down (nothing starts any more).
    pub(crate) fn admit(&self, task: &mut Task, proc: Proc) -> bool {
        {
            let mut inner = lock(&self.inner);
            if inner.closed {
                return false;
            }
            inner.procs.insert(task.arn.clone(), proc);
        }
        task.plan = waiting_plan(task.containers.len());
        true
    }

    fn ensure_load_balancer(&self, cluster: &str, service: &str) {
        let key = (cluster.to_string(), service.to_string());
        if lock(&self.inner).load_balancers.contains_key(&key) {
            return;
        }
        let inner = self.inner.clone();
        let members = key.clone();
        let routes: lb::Routes = Arc::new(move |listener| pools(&lock(&inner), &members, listener));
        let _entered = self.runtime.enter();
        match lb::start(routes, self.shutdown.subscribe()) {
            Ok(addresses) => {
                lock(&self.inner).load_balancers.insert(key, addresses);
            }
            Err(e) => eprintln!("ecs-emulator: cannot start the load balancer of {service}: {e}"),
        }
    }

    /// Publishes where the cluster's load balancers send traffic now: each service's green
    /// weights, which target group each process task is in, and tasks asked to stop leave the
    /// rotation at once (their process is stopped by the next `sync_cluster`).
    pub fn route_cluster(&self, cluster: &Cluster) {
        let mut inner = lock(&self.inner);
        for service in cluster.services.values() {
            let key = (cluster.name.clone(), service.name.clone());
            let traffic = traffic(service);
            match &traffic {
                Some(t) => inner.routes.insert(
                    key,
                    Route {
                        test_weight: t.test_weight,
                        production_weight: t.production_weight,
                    },
                ),
                None => inner.routes.remove(&key),
            };
            let green = traffic.map(|t| t.green_deployment);
            let own = |t: &&Task| t.service.as_ref() == Some(&service.name);
            for task in cluster.tasks.iter().filter(own) {
                if let Some(p) = inner.procs.get_mut(&task.arn) {
                    p.green = green.is_some() && task.deployment_id == green;
                }
            }
        }
        for task in cluster
            .tasks
            .iter()
            .filter(|t| t.desired_status == "STOPPED")
        {
            if let Some(p) = inner.procs.get_mut(&task.arn) {
                p.draining = true;
            }
        }
    }

    pub(crate) fn sync_task(&self, task: &mut Task, mode: &ProcessMode, now: f64) {
        let mut inner = lock(&self.inner);
        let Some(proc) = inner.procs.get_mut(&task.arn) else {
            return;
        };
        if task.desired_status == "STOPPED" && !proc.stop_sent {
            proc.stop_sent = true;
            proc.draining = true;
            let stop = stop_process(
                self.inner.clone(),
                task.arn.clone(),
                Duration::from_secs_f64(mode.deregistration_delay_seconds),
                Duration::from_secs_f64(mode.stop_timeout_seconds),
            );
            self.runtime.spawn(stop);
        }
        apply_to_plan(task, proc, now);
        let finished = matches!(
            proc.state,
            ProcState::Exited(_) | ProcState::FailedToStart(_)
        ) || (proc.state == ProcState::Starting && proc.stop_sent);
        if task.is_stopped() && finished {
            inner.procs.remove(&task.arn);
        }
    }

    /// The production (or test) listener of a service, once one of its tasks ran in process
    /// mode.
    pub fn listener(&self, cluster: &str, service: &str, which: Listener) -> Option<SocketAddr> {
        let key = (cluster.to_string(), service.to_string());
        let addresses = lock(&self.inner).load_balancers.get(&key).copied()?;
        Some(match which {
            Listener::Production => addresses.production,
            Listener::Test => addresses.test,
        })
    }

    /// Every pid started so far.
    pub fn started_pids(&self) -> Vec<u32> {
        lock(&self.inner).started_pids.clone()
    }

    /// `GET /_emulator/load-balancers`: each service's listeners, weights and targets.
    pub fn control_view(&self) -> Value {
        let inner = lock(&self.inner);
        let lbs: Vec<Value> = inner
            .load_balancers
            .iter()
            .map(|(key, addresses)| {
                let (cluster, service) = key;
                let targets: Vec<Value> = inner
                    .procs
                    .iter()
                    .filter(|(_, p)| (&p.cluster, &p.service) == (cluster, service))
                    .map(|(arn, p)| target_view(arn, p))
                    .collect();
                let route = inner.routes.get(key);
                json!({
                    "cluster": cluster, "service": service,
                    "url": format!("http://{}", addresses.production),
                    "productionUrl": format!("http://{}", addresses.production),
                    "testUrl": format!("http://{}", addresses.test),
                    "greenWeights": route.map(|r| json!({"production": r.production_weight, "test": r.test_weight})),
                    "targets": targets,
                })
            })
            .collect();
        json!({"loadBalancers": lbs, "startedPids": inner.started_pids})
    }

    /// Kills every process group at once (emulator dropped, reset). Nothing new starts when
    /// `close` is set.
    pub fn kill_all(&self, close: bool) {
        let mut inner = lock(&self.inner);
        inner.closed |= close;
        for proc in inner.procs.values_mut() {
            proc.stop_sent = true;
            proc.draining = true;
            if let Some(pid) = proc.pid {
                signal_group(pid, Signal::Kill);
            }
        }
        if !close {
            inner.procs.clear();
        } else {
            let _ = self.shutdown.send(true);
        }
    }

    /// Graceful: SIGTERM to every group, SIGKILL to those still running after `grace`; then the
    /// load balancers stop. Returns once every killed process is reaped (bounded by
    /// [`REAP_WAIT`]): a container's PID 1 often reaps no orphan, so a process the emulator
    /// exits without waiting for stays a zombie that `kill -0` still finds.
    pub async fn shutdown(&self, grace: Duration) {
        let running: Vec<u32> = {
            let mut inner = lock(&self.inner);
            inner.closed = true;
            inner
                .procs
                .values_mut()
                .filter_map(|p| {
                    p.stop_sent = true;
                    p.draining = true;
                    p.pid.filter(|_| p.state == ProcState::Running)
                })
                .collect()
        };
        for &pid in &running {
            signal_group(pid, Signal::Term);
        }
        self.until_none_running(grace).await;
        self.kill_all(true);
        self.until_none_running(REAP_WAIT).await;
    }

    async fn until_none_running(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline && self.any_running() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn any_running(&self) -> bool {
        lock(&self.inner)
            .procs
            .values()
            .any(|p| p.state == ProcState::Running)
    }
}

/// The target groups of one listener of `service` now: healthy, running, not draining ports,
/// blue and green, and the listener's green weight (0 when no ECS-native deployment owns the
/// service's traffic: every target is then in blue).
fn pools(inner: &Inner, service: &(String, String), listener: Listener) -> Pools {
    let route = inner.routes.get(service);
    let mut pools = Pools {
        green_weight: route.map_or(0.0, |r| match listener {
            Listener::Production => r.production_weight,
            Listener::Test => r.test_weight,
        }),
        ..Pools::default()
    };
    let members = inner
        .procs
        .values()
        .filter(|p| (&p.cluster, &p.service) == (&service.0, &service.1))
        .filter(|p| p.state == ProcState::Running && !p.draining)
        .filter(|p| p.health == TargetHealth::Healthy);
    for p in members {
        if p.green && route.is_some() {
            pools.green.push(p.port);
        } else {
            pools.blue.push(p.port);
        }
    }
    pools
}

fn target_view(arn: &str, p: &Proc) -> Value {
    let (state, exit_code, reason) = match &p.state {
        ProcState::Starting => ("starting", None, None),
        ProcState::FailedToStart(r) => ("failed_to_start", None, Some(r.clone())),
        ProcState::Running => ("running", None, None),
        ProcState::Exited(code) => ("exited", Some(*code), None),
    };
    let health = match (p.draining, p.health) {
        (true, _) => "draining",
        (false, TargetHealth::Initial) => "initial",
        (false, TargetHealth::Healthy) => "healthy",
        (false, TargetHealth::Unhealthy) => "unhealthy",
    };
    json!({
        "taskArn": arn, "taskId": p.task_id, "port": p.port, "pid": p.pid,
        "process": state, "exitCode": exit_code, "stoppedReason": reason, "health": health,
        "targetGroup": if p.green { "green" } else { "blue" },
    })
}

/// Moves the emulated plan to what the process did; `advance_task` then makes the change.
fn apply_to_plan(task: &mut Task, proc: &Proc, now: f64) {
    if let ProcState::FailedToStart(reason) = &proc.state {
        if matches!(task.plan, TaskPlan::Run { .. }) && task.last_status != "RUNNING" {
            task.plan = TaskPlan::FailToStart {
                at: now,
                reason: reason.clone(),
            };
        }
        return;
    }
    let TaskPlan::Run {
        running_at,
        healthy_at,
        unhealthy_at,
        exit_at,
        exit_codes,
    } = &mut task.plan
    else {
        return;
    };
    let started = matches!(proc.state, ProcState::Running | ProcState::Exited(_));
    if started && running_at.is_infinite() {
        *running_at = now;
    }
    if let ProcState::Exited(code) = proc.state
        && exit_at.is_none()
    {
        *exit_at = Some(now);
        if let Some(slot) = exit_codes.get_mut(proc.container) {
            *slot = code;
        }
    }
    match proc.health {
        TargetHealth::Healthy if healthy_at.is_none() => *healthy_at = Some(now),
        TargetHealth::Unhealthy if unhealthy_at.is_none() => *unhealthy_at = Some(now),
        _ => {}
    }
}

pub(crate) fn set_state(inner: &Mutex<Inner>, arn: &str, state: ProcState) {
    if let Some(p) = lock(inner).procs.get_mut(arn) {
        p.state = state;
    }
}

/// Creates the log stream (when the container logs with awslogs), spawns the process in its own
/// group, calls `started` once it runs, ships its output, waits for it; the exit code is
/// published only after its last lines are written. A service task (`port`) and a one-off task
/// (none) alike.
pub(crate) async fn run_container(
    inner: Arc<Mutex<Inner>>,
    arn: String,
    launch: Launch,
    mode: ProcessMode,
    port: Option<u16>,
    logs: Option<LogTarget>,
    started: impl FnOnce(),
) {
    if let Some(target) = &logs
        && let Err(reason) = log_driver::open(target).await
    {
        return set_state(&inner, &arn, ProcState::FailedToStart(reason));
    }
    let Some(mut child) = spawn(&inner, &arn, launch, &mode, port, logs.is_some()).await else {
        return;
    };
    let output = Output::capture(&mut child, logs);
    started();
    let code = match child.wait().await {
        Ok(status) => exit_code(status),
        Err(_) => 137,
    };
    output.drain().await;
    set_state(&inner, &arn, ProcState::Exited(code));
}

/// Resolves the secrets and spawns the process of task `arn` in its own group, with the
/// environment, secrets and `PORT`; stdout (and stderr) piped when `capture`, else stdout
/// discarded and stderr the emulator's. Marks it Running with its pid, or FailedToStart with
/// ECS's reason; `None` when it did not start (or the task was stopped meanwhile).
pub(crate) async fn spawn(
    inner: &Arc<Mutex<Inner>>,
    arn: &str,
    launch: Launch,
    mode: &ProcessMode,
    port: Option<u16>,
    capture: bool,
) -> Option<tokio::process::Child> {
    let secrets = match secrets::resolve(mode.secrets_manager_url.as_deref(), &launch.secrets).await
    {
        Ok(s) => s,
        Err(reason) => {
            set_state(inner, arn, ProcState::FailedToStart(reason));
            return None;
        }
    };
    let mut command = tokio::process::Command::new(&launch.command[0]);
    command
        .args(&launch.command[1..])
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .envs(launch.environment)
        .envs(secrets)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .process_group(0)
        .kill_on_drop(true);
    if let Some(port) = port {
        command.env("PORT", port.to_string());
    }
    if capture {
        command
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
    }
    let mut guard = lock(inner);
    let closed = guard.closed;
    let proc = guard.procs.get_mut(arn)?;
    if closed || proc.stop_sent {
        return None;
    }
    match command.spawn() {
        Ok(child) => {
            proc.pid = child.id();
            proc.state = ProcState::Running;
            if let Some(pid) = child.id() {
                guard.started_pids.push(pid);
            }
            Some(child)
        }
        Err(e) => {
            proc.state = ProcState::FailedToStart(format!(
                "CannotStartContainerError: {}: {e}",
                launch.command[0]
            ));
            None
        }
    }
}

pub(crate) fn exit_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(137)
}

/// The target group's health checks of one target, until it stops running or drains.
async fn check_health(
    inner: Arc<Mutex<Inner>>,
    arn: String,
    port: u16,
    check: HealthCheck,
    mut shutdown: watch::Receiver<bool>,
) {
    let started = Instant::now();
    let grace = Duration::from_secs_f64(check.grace_seconds);
    let timeout = Duration::from_secs_f64(check.timeout_seconds);
    let mut interval = tokio::time::interval(Duration::from_secs_f64(check.interval_seconds));
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = shutdown.changed() => return,
        }
        let passed = matches!(
            http_client::get_status(port, &check.path, timeout).await,
            Ok(200)
        );
        let mut guard = lock(&inner);
        let Some(p) = guard.procs.get_mut(&arn) else {
            return;
        };
        if p.state != ProcState::Running || p.draining {
            return;
        }
        if passed {
            p.passes += 1;
            p.failures = 0;
            if p.passes >= check.healthy_threshold {
                p.health = TargetHealth::Healthy;
            }
        } else {
            p.failures += 1;
            p.passes = 0;
            let was_healthy = p.health == TargetHealth::Healthy;
            if p.failures >= check.unhealthy_threshold
                && (was_healthy || started.elapsed() >= grace)
            {
                p.health = TargetHealth::Unhealthy;
            }
        }
    }
}

/// Deregistration delay, then SIGTERM to the group, then SIGKILL after the stop timeout.
async fn stop_process(inner: Arc<Mutex<Inner>>, arn: String, delay: Duration, timeout: Duration) {
    tokio::time::sleep(delay).await;
    let running = |inner: &Mutex<Inner>| {
        lock(inner)
            .procs
            .get(&arn)
            .filter(|p| p.state == ProcState::Running)
            .and_then(|p| p.pid)
    };
    let Some(pid) = running(&inner) else {
        return;
    };
    signal_group(pid, Signal::Term);
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if running(&inner).is_none() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    signal_group(pid, Signal::Kill);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proc(state: ProcState, health: TargetHealth) -> Proc {
        Proc {
            health,
            ..Proc::new("t".into(), "c".into(), "s".into(), 0, 1, state)
        }
    }

    /// Revision 1 of family `f`, ACTIVE, with `body`.
    fn definition(body: Value) -> TaskDefinition {
        TaskDefinition {
            family: "f".into(),
            revision: 1,
            arn: crate::ids::task_definition_arn("f", 1),
            status: "ACTIVE".into(),
            registered_at: 0.0,
            deregistered_at: None,
            body: body.as_object().unwrap().clone(),
        }
    }

    fn plan_after(state: ProcState, health: TargetHealth) -> TaskPlan {
        let definition = definition(
            json!({"family": "f", "containerDefinitions": [{"name": "a", "image": "i"}]}),
        );
        let mut task = crate::task_lifecycle::launch_task(
            &mut fastrand::Rng::with_seed(1),
            10.0,
            "c",
            &definition,
            &crate::scenario::Scenario::default(),
            crate::task_lifecycle::Launch::Service {
                service: "s".into(),
                deployment_id: "d".into(),
            },
            crate::task_lifecycle::Placement::default(),
        );
        task.plan = waiting_plan(1);
        apply_to_plan(&mut task, &proc(state, health), 20.0);
        task.plan
    }

    /// What the process did becomes the plan the lifecycle then carries out.
    #[test]
    fn observations_become_the_plan() {
        assert_eq!(
            plan_after(ProcState::Starting, TargetHealth::Initial),
            waiting_plan(1)
        );
        let running = plan_after(ProcState::Running, TargetHealth::Healthy);
        assert!(matches!(
            running,
            TaskPlan::Run {
                running_at: 20.0,
                healthy_at: Some(20.0),
                exit_at: None,
                ..
            }
        ));
        let crashed = plan_after(ProcState::Exited(3), TargetHealth::Initial);
        assert!(matches!(
            crashed,
            TaskPlan::Run { running_at: 20.0, exit_at: Some(20.0), ref exit_codes, .. } if exit_codes == &[3]
        ));
        let sick = plan_after(ProcState::Running, TargetHealth::Unhealthy);
        assert!(matches!(
            sick,
            TaskPlan::Run {
                unhealthy_at: Some(20.0),
                ..
            }
        ));
        let failed = plan_after(ProcState::FailedToStart("R".into()), TargetHealth::Initial);
        assert_eq!(
            failed,
            TaskPlan::FailToStart {
                at: 20.0,
                reason: "R".into()
            }
        );
    }

    /// The task definition's environment overrides the image's; secrets are listed by name.
    #[test]
    fn launch_takes_environment_and_secrets_from_the_task_definition() {
        let mode: ProcessMode = serde_yaml_ng::from_str(
            "images: {'web:*': {command: [app], environment: {A: image, B: image}}}",
        )
        .unwrap();
        let definition = definition(json!({"containerDefinitions": [
            {"name": "side", "image": "envoy:1"},
            {"name": "app", "image": "web:v2",
             "environment": [{"name": "B", "value": "taskdef"}],
             "secrets": [{"name": "JWT_SECRET", "valueFrom": "arn:x"}]}
        ]}));
        let (index, launch) = launch_for(&definition, &mode).unwrap();
        assert_eq!(index, 1);
        assert_eq!(launch.command, ["app"]);
        let env: BTreeMap<_, _> = launch.environment.into_iter().collect();
        assert_eq!(env["A"], "image");
        assert_eq!(env["B"], "taskdef");
        assert_eq!(launch.secrets[0].name, "JWT_SECRET");
    }
}
