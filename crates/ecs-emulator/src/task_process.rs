//! Process mode for one-off tasks (RunTask: migrations and the like): a task whose container
//! image the scenario's `processes:` names runs that image's command — or the program its
//! container command names (`ProcessImage::programs`, RunTask's override included) — as a real
//! child process, with the task definition's environment and resolved secrets as service tasks
//! get them (`process.rs`). The task is RUNNING once the process is, and STOPPED with the
//! process's own exit code when it exits (`EssentialContainerExited`); StopTask sends it
//! SIGTERM then SIGKILL, and the emulator reaps it with every other process.
//!
//! A container that logs with `awslogs` has its process's stdout and stderr written to
//! CloudWatch Logs (`log_driver.rs`); the last lines are written before the task shows
//! STOPPED, so whoever reads the log of a stopped task finds all of it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::mpsc;

use crate::log_driver::{self, LogTarget};
use crate::model::{Cluster, Task, TaskDefinition, resolve_task_definition};
use crate::process::{Launch, cluster_name, exit_code, launch_for_task, set_state, spawn};
use crate::process_config::ProcessMode;
use crate::process_state::{Inner, Proc, ProcState, Supervisor, lock};

/// How long the output pipes may stay open after the process exited (a grandchild holding
/// them).
const DRAIN: Duration = Duration::from_secs(2);
/// How long the last log lines may take to be written. Docker's awslogs driver flushes what
/// it holds when the container stops, however slow CloudWatch Logs answers; this bound is only
/// against an endpoint that never answers, and generous because a loaded CI machine can make
/// the moto server take seconds per PutLogEvents.
const SHIP_DRAIN: Duration = Duration::from_secs(15);

impl Supervisor {
    /// The clock step's hook for one-off tasks: start a process for each new one whose image
    /// runs as a process, and move the others' plans to what their processes did.
    pub fn sync_one_off(
        &self,
        cluster: &mut Cluster,
        definitions: &BTreeMap<String, Vec<TaskDefinition>>,
        mode: &ProcessMode,
        now: f64,
    ) {
        for task in cluster.tasks.iter_mut().filter(|t| t.service.is_none()) {
            if lock(&self.inner).procs.contains_key(&task.arn) {
                self.sync_task(task, mode, now);
                continue;
            }
            if task.last_status != "PROVISIONING" || !task.is_live() {
                continue;
            }
            let Some(definition) = resolve_task_definition(definitions, &task.task_definition_arn)
            else {
                continue;
            };
            if let Some((container, launch)) = launch_for_task(definition, mode, &task.overrides) {
                let logs = definition
                    .body
                    .get("containerDefinitions")
                    .and_then(|list| list.get(container))
                    .and_then(|c| {
                        log_driver::target(c, &task.id, mode.cloudwatch_logs_url.as_deref())
                    });
                self.start_one_off(task, container, launch, logs, mode);
            }
        }
    }

    fn start_one_off(
        &self,
        task: &mut Task,
        container: usize,
        launch: Launch,
        logs: Option<LogTarget>,
        mode: &ProcessMode,
    ) {
        // No service and no port: never a load balancer's target.
        let proc = Proc::new(
            task.id.clone(),
            cluster_name(&task.cluster_arn),
            String::new(),
            container,
            0,
            ProcState::Starting,
        );
        if !self.admit(task, proc) {
            return;
        }
        let run = run_one_off(
            self.inner.clone(),
            task.arn.clone(),
            launch,
            mode.clone(),
            logs,
        );
        self.runtime.spawn(run);
    }
}

/// Creates the log stream, starts the process, ships its output, waits for it; the exit code
/// is published only after its last lines are written.
async fn run_one_off(
    inner: Arc<Mutex<Inner>>,
    arn: String,
    launch: Launch,
    mode: ProcessMode,
    logs: Option<LogTarget>,
) {
    if let Some(target) = &logs
        && let Err(reason) = log_driver::open(target).await
    {
        return set_state(&inner, &arn, ProcState::FailedToStart(reason));
    }
    let Some(mut child) = spawn(&inner, &arn, launch, &mode, None, logs.is_some()).await else {
        return;
    };
    let (lines, received) = mpsc::unbounded_channel();
    let readers = [
        child
            .stdout
            .take()
            .map(|o| tokio::spawn(read_lines(o, lines.clone()))),
        child
            .stderr
            .take()
            .map(|e| tokio::spawn(read_lines(e, lines.clone()))),
    ];
    drop(lines);
    let shipper = logs.map(|target| tokio::spawn(ship(target, received)));
    let code = match child.wait().await {
        Ok(status) => exit_code(status),
        Err(_) => 137,
    };
    for reader in readers.into_iter().flatten() {
        let abort = reader.abort_handle();
        if tokio::time::timeout(DRAIN, reader).await.is_err() {
            abort.abort();
        }
    }
    if let Some(shipper) = shipper {
        let abort = shipper.abort_handle();
        if tokio::time::timeout(SHIP_DRAIN, shipper).await.is_err() {
            abort.abort();
        }
    }
    set_state(&inner, &arn, ProcState::Exited(code));
}

/// Each line of `output` (lossy UTF-8, without its line break) into `lines`.
async fn read_lines(output: impl AsyncRead + Unpin, lines: mpsc::UnboundedSender<String>) {
    let mut reader = BufReader::new(output);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                let text = String::from_utf8_lossy(&line);
                let _ = lines.send(text.trim_end_matches(['\n', '\r']).to_string());
            }
        }
    }
}

/// Writes the lines as they come, in batches, until every reader is done.
async fn ship(target: LogTarget, mut received: mpsc::UnboundedReceiver<String>) {
    let mut batch = Vec::new();
    while received.recv_many(&mut batch, log_driver::MAX_BATCH).await > 0 {
        let now_ms = epoch_ms();
        if let Err(e) = log_driver::put(&target, &batch, now_ms).await {
            eprintln!(
                "ecs-emulator: awslogs: {} line(s) for {}/{} lost: {e}",
                batch.len(),
                target.group,
                target.stream
            );
        }
        batch.clear();
    }
}

/// Milliseconds since the epoch (CloudWatch event timestamps).
fn epoch_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
