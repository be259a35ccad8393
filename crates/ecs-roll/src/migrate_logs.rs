//! The migration's own log: with `--migrate-logs` its container's CloudWatch stream is followed
//! while the task runs, and when the migration fails its last lines are shown and kept in the
//! report (`detail.migration.log_tail`), so "why did it fail" is answered in the job log.
//!
//! The stream comes from the revision's `awslogs` configuration (core's `task_logs`); a missing
//! configuration, group or stream, or a refused read, is one line and never changes the verdict.

use std::convert::Infallible;
use std::time::Duration;

use aws_sdk_ecs::Client;
use dk_core::task_logs::{self, Follower, LogRead, TailLabels, TaskLogs};
use dk_core::{Result, Ui};
use tokio::sync::watch;

use crate::migrate::{self, Migration, MigrationReport, MigrationResult};
use crate::register::ServiceTarget;

/// Lines of a failed migration's log shown.
pub const TAIL_LINES: usize = 30;

/// Run the migration on `task_definition` (see `migrate::run_migration`), with its log followed
/// (`--migrate-logs`) and, when it failed, its last lines read. Without `logs` it is the plain run.
pub async fn run_with_logs(
    ecs: &Client,
    logs: Option<&TaskLogs>,
    ui: &Ui,
    m: &Migration,
    s: &ServiceTarget,
    task_definition: &str,
    interval: Duration,
) -> Result<MigrationReport> {
    let (cluster, service) = (&s.sref.cluster, &s.service);
    let Some(logs) = logs else {
        return migrate::run_migration(ecs, ui, m, cluster, service, task_definition, interval)
            .await;
    };
    let container = m.container.clone().unwrap_or_default();
    let (tx, mut rx) = watch::channel(None);
    let m = Migration {
        started: Some(tx),
        ..m.clone()
    };
    let migration =
        migrate::run_migration(ecs, ui, &m, cluster, service, task_definition, interval);
    let mut follower: Option<Follower> = None;
    let mut report = if m.follow_logs {
        let following = follow(
            ecs,
            logs,
            ui,
            &mut rx,
            &container,
            task_definition,
            interval,
            &mut follower,
        );
        tokio::select! {
            r = migration => r?,
            never = following => match never {},
        }
    } else {
        migration.await?
    };
    if let Some(f) = follower.as_mut() {
        // What the task wrote between the last poll and its stop.
        print(ui, f.poll().await);
    }
    if report.result == MigrationResult::Failed
        && let Some(task_arn) = report.task_arn.clone()
    {
        report.log_tail = last_lines(ecs, logs, ui, &container, task_definition, &task_arn).await;
    }
    Ok(report)
}

/// Wait for the task ARN, then print what the container logs, every `interval`. Never returns:
/// the caller drops it when the migration ends.
#[allow(clippy::too_many_arguments)]
async fn follow(
    ecs: &Client,
    logs: &TaskLogs,
    ui: &Ui,
    started: &mut watch::Receiver<Option<String>>,
    container: &str,
    task_definition: &str,
    interval: Duration,
    slot: &mut Option<Follower>,
) -> Infallible {
    let task_arn = loop {
        if let Some(arn) = started.borrow_and_update().clone() {
            break arn;
        }
        if started.changed().await.is_err() {
            return std::future::pending().await;
        }
    };
    let f = match task_logs::stream_of(ecs, task_definition, container, &task_arn).await {
        Ok(stream) => {
            ui.info(&format!("migration log: following {stream}"));
            slot.insert(logs.follow(stream))
        }
        Err(note) => {
            ui.info(&format!("migration log: {note}"));
            return std::future::pending().await;
        }
    };
    loop {
        print(ui, f.poll().await);
        tokio::time::sleep(interval).await;
    }
}

/// Lines the migration wrote, shown as they come (no heading).
fn print(ui: &Ui, read: LogRead) {
    let labels = TailLabels {
        heading: None,
        ..TAIL_LABELS
    };
    read.show(ui, None, &labels);
}

/// A migration's log tail: `migration log: last N line(s) of STREAM:`, then `migration | LINE`.
const TAIL_LABELS: TailLabels<'static> = TailLabels {
    heading: Some(&|n, from| format!("migration log: last {n} line(s) of {from}:")),
    line: "migration | ",
    note: "migration log: ",
};

/// The failed migration's last lines, printed; empty when there are none to read (the note
/// says why).
async fn last_lines(
    ecs: &Client,
    logs: &TaskLogs,
    ui: &Ui,
    container: &str,
    task_definition: &str,
    task_arn: &str,
) -> Vec<String> {
    let (stream, read) = logs
        .container_tail(ecs, task_definition, container, task_arn, TAIL_LINES)
        .await;
    read.show(ui, stream.as_ref(), &TAIL_LABELS)
}

/// The job-summary section for a failed migration's log tail (an indented code block: no line
/// of it can end the block or become Markdown).
pub fn summary_section(report: &MigrationReport) -> String {
    if report.log_tail.is_empty() {
        return String::new();
    }
    let mut md = format!(
        "\n**Migration log** (last {} lines of container {}):\n\n",
        report.log_tail.len(),
        report.container
    );
    for l in &report.log_tail {
        md.push_str(&format!("    {l}\n"));
    }
    md
}
