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

use crate::log_driver::{self, LogTarget};
use crate::model::{Cluster, Task, TaskDefinition, resolve_task_definition};
use crate::process::{Launch, cluster_name, launch_for_task, run_container};
use crate::process_config::ProcessMode;
use crate::process_state::{Proc, ProcState, Supervisor, lock};

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
                let endpoint = mode.cloudwatch_logs_url.as_deref();
                let logs = log_driver::target_of(&definition.body, container, &task.id, endpoint);
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
        let run = run_container(
            self.inner.clone(),
            task.arn.clone(),
            launch,
            mode.clone(),
            None,
            logs,
            || {},
        );
        self.runtime.spawn(run);
    }
}
