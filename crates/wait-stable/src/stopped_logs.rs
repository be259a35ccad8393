//! The stopped tasks' own last log lines: after a deployment failed, what the containers that
//! stopped it wrote last (core's `task_logs`: the awslogs stream from the task definition, then
//! GetLogEvents), printed and kept per container in the outcome (`containers[].log_tail`).
//! wait-stable calls it once its waiter has a verdict, ecs-roll once its services are settled.
//!
//! Bounded: the newest [`TASKS_WITH_LOGS`] tasks of each failed service, at most two containers
//! each, [`TAIL_LINES`] lines each, all within [`BUDGET`]. A missing configuration, group or
//! stream, or a refused read, is one line; the verdict never changes.

use std::time::Duration;

use aws_sdk_ecs::Client;
use dk_core::Ui;
use dk_core::ecs::last_segment;
use dk_core::poll::Deadline;
use dk_core::task_logs::{TailLabels, TaskLogs};

use crate::model::{ServiceOutcome, StoppedTask, WaitResult};

/// Stopped tasks per failed service whose logs are read (crash loops repeat themselves).
pub const TASKS_WITH_LOGS: usize = 2;
/// Lines per container.
pub const TAIL_LINES: usize = 20;
/// Time for all log reads of one run.
pub const BUDGET: Duration = Duration::from_secs(20);

/// The containers whose log explains a stop: those that exited non-zero or have a reason; when
/// none do, every container. At most two.
pub fn containers_to_read(t: &StoppedTask) -> Vec<usize> {
    let failed: Vec<usize> = (0..t.containers.len())
        .filter(|&i| {
            let c = &t.containers[i];
            c.exit_code.is_some_and(|x| x != 0) || c.reason.is_some()
        })
        .collect();
    let mut pick = if failed.is_empty() {
        (0..t.containers.len()).collect()
    } else {
        failed
    };
    pick.truncate(2);
    pick
}

/// Read, print and keep the last lines of the stopped tasks of every outcome that did not
/// succeed.
pub async fn attach<'a>(
    ecs: &Client,
    logs: &TaskLogs,
    ui: &Ui,
    outcomes: impl IntoIterator<Item = &'a mut ServiceOutcome>,
) {
    let deadline = Deadline::after(BUDGET);
    for o in outcomes {
        if o.result == WaitResult::Succeeded {
            continue;
        }
        let label = o.service.clone();
        for t in o.stopped_tasks.iter_mut().take(TASKS_WITH_LOGS) {
            let Some(td) = t.task_definition.clone() else {
                continue;
            };
            for i in containers_to_read(t) {
                let name = t.containers[i].name.clone();
                let read = logs.container_tail(ecs, &td, &name, &t.task_arn, TAIL_LINES);
                let Some((stream, read)) = deadline.run(read).await else {
                    ui.info("task logs: reading them took too long; skipped the rest");
                    return;
                };
                let id = last_segment(&t.task_arn);
                let heading = |n: usize, from: &str| {
                    format!(
                        "{label}: last {n} log line(s) of task {id}, container {name} ({from}):"
                    )
                };
                let labels = TailLabels {
                    heading: Some(&heading),
                    line: &format!("  {name} | "),
                    note: &format!("{label}: task {id}: "),
                };
                // Nothing kept after a note: the tail stays empty, as it started.
                t.containers[i].log_tail = read.show(ui, stream.as_ref(), &labels);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::waiter::ContainerExit;

    fn exit(name: &str, code: Option<i32>, reason: Option<&str>) -> ContainerExit {
        ContainerExit {
            name: name.into(),
            exit_code: code,
            reason: reason.map(str::to_owned),
            log_tail: Vec::new(),
        }
    }

    /// The containers that failed are read; when none did, all (at most two).
    #[test]
    fn picks_the_containers_that_explain_the_stop() {
        let mut t = StoppedTask {
            task_arn: "arn:aws:ecs:us-east-1:1:task/c/abc".into(),
            task_definition: None,
            stop_code: None,
            stopped_reason: None,
            stopped_at: None,
            containers: vec![
                exit("sidecar", Some(0), None),
                exit("app", Some(137), None),
                exit("init", None, Some("CannotPullContainerError")),
            ],
        };
        assert_eq!(containers_to_read(&t), vec![1, 2]);
        t.containers = vec![
            exit("a", Some(0), None),
            exit("b", None, None),
            exit("c", None, None),
        ];
        assert_eq!(containers_to_read(&t), vec![0, 1]);
    }
}
