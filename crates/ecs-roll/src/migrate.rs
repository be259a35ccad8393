//! The migration gate: before any service is touched, run the migration as a one-off task on the
//! NEW revision (so it runs the new code) with the service's network and capacity settings, wait
//! until it stops, and let the chosen container's exit code decide. A non-zero exit code, a task
//! that failed to start, or a RunTask that placed nothing stops the release with every service
//! untouched.
//!
//! RunTask carries a `clientToken` made once per call, so the SDK's own retries of a request that
//! timed out cannot start a second migration. A migration that outlives `--migrate-timeout` is
//! left running (killing a schema change half-way is worse than letting it finish) and the release
//! stops with `timed_out` (exit 4).

use std::time::Duration;

use aws_sdk_ecs::Client;
use aws_sdk_ecs::types::{ContainerOverride, Service, TaskOverride, TaskStopCode};
use dk_core::aws::sdk_error;
use dk_core::poll::{Deadline, Poll, PollError, poll_until};
use dk_core::{Error, Result, Ui};
use serde::Serialize;

/// What `--migrate-command` and `--migrate-container` asked for.
#[derive(Debug, Clone)]
pub struct Migration {
    pub container: String,
    pub command: Vec<String>,
    pub timeout: Duration,
}

/// `startedBy` of migration tasks, so they can be found (ListTasks --started-by).
pub const STARTED_BY: &str = "ecs-roll-migrate";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MigrationResult {
    Passed,
    Failed,
    TimedOut,
}

/// How the migration ended.
#[derive(Debug, Clone, Serialize)]
pub struct MigrationReport {
    pub result: MigrationResult,
    pub task_arn: Option<String>,
    pub task_definition_arn: String,
    pub container: String,
    pub command: Vec<String>,
    pub exit_code: Option<i32>,
    pub stop_code: Option<String>,
    pub stopped_reason: Option<String>,
    pub container_reason: Option<String>,
    #[serde(rename = "duration_s", serialize_with = "seconds")]
    pub duration: Duration,
}

fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_f64((d.as_secs_f64() * 10.0).round() / 10.0)
}

impl MigrationReport {
    /// One line for people: exit code and stop reason.
    pub fn describe(&self) -> String {
        let code = self
            .exit_code
            .map_or("no exit code".to_string(), |c| format!("exit code {c}"));
        let mut s = format!("container {} {code}", self.container);
        if let Some(r) = &self.stopped_reason {
            s.push_str(&format!("; stopped: {r}"));
        }
        if let Some(c) = &self.stop_code {
            s.push_str(&format!(" ({c})"));
        }
        if let Some(r) = &self.container_reason {
            s.push_str(&format!("; {r}"));
        }
        s
    }
}

/// Run the migration with `task_definition_arn` in the service's cluster and network.
pub async fn run_migration(
    ecs: &Client,
    ui: &Ui,
    migration: &Migration,
    cluster: &str,
    service: &Service,
    task_definition_arn: &str,
    interval: Duration,
) -> Result<MigrationReport> {
    let deadline = Deadline::after(migration.timeout);
    let mut report = MigrationReport {
        result: MigrationResult::Failed,
        task_arn: None,
        task_definition_arn: task_definition_arn.to_string(),
        container: migration.container.clone(),
        command: migration.command.clone(),
        exit_code: None,
        stop_code: None,
        stopped_reason: None,
        container_reason: None,
        duration: Duration::ZERO,
    };
    let token = format!(
        "ecs-roll-{:016x}{:016x}",
        fastrand::u64(..),
        fastrand::u64(..)
    );
    let mut req = ecs
        .run_task()
        .cluster(cluster)
        .task_definition(task_definition_arn)
        .count(1)
        .started_by(STARTED_BY)
        .client_token(token)
        .overrides(
            TaskOverride::builder()
                .container_overrides(
                    ContainerOverride::builder()
                        .name(&migration.container)
                        .set_command(Some(migration.command.clone()))
                        .build(),
                )
                .build(),
        );
    if let Some(nc) = service.network_configuration() {
        req = req.network_configuration(nc.clone());
    }
    if !service.capacity_provider_strategy().is_empty() {
        req =
            req.set_capacity_provider_strategy(Some(service.capacity_provider_strategy().to_vec()));
    } else if let Some(lt) = service.launch_type() {
        req = req.launch_type(lt.clone());
    }
    if let Some(pv) = service.platform_version() {
        req = req.platform_version(pv);
    }
    ui.info(&format!(
        "migration: RunTask {} in {cluster}, container {}: {}",
        crate::wire::short_name(task_definition_arn),
        migration.container,
        migration.command.join(" ")
    ));
    let out = req
        .send()
        .await
        .map_err(|e| sdk_error("RunTask (migration)", e))?;
    if let Some(f) = out.failures().first() {
        report.stopped_reason = Some(format!(
            "RunTask placed no task: {}{}",
            f.reason().unwrap_or("unknown reason"),
            f.detail().map(|d| format!(" ({d})")).unwrap_or_default()
        ));
        report.duration = deadline.elapsed();
        return Ok(report);
    }
    let Some(task_arn) = out
        .tasks()
        .first()
        .and_then(|t| t.task_arn())
        .map(str::to_owned)
    else {
        return Err(Error::runtime(
            "RunTask (migration) returned neither a task nor a failure",
        ));
    };
    report.task_arn = Some(task_arn.clone());
    ui.info(&format!("migration task {} started", short_task(&task_arn)));

    let polled = poll_until(&deadline, interval, |_| {
        let ecs = ecs.clone();
        let task_arn = task_arn.clone();
        let ui = ui.clone();
        let cluster = cluster.to_string();
        async move {
            let out = ecs
                .describe_tasks()
                .cluster(&cluster)
                .tasks(&task_arn)
                .send()
                .await
                .map_err(|e| sdk_error("DescribeTasks (migration)", e))?;
            // Eventual consistency: a task just started may not be describable yet.
            let Some(task) = out.tasks().first() else {
                return Ok(Poll::Pending);
            };
            let status = task.last_status().unwrap_or("PENDING");
            ui.status(&format!(
                "migration task {}: {status}",
                short_task(&task_arn)
            ));
            if status == "STOPPED" {
                Ok(Poll::Ready(task.clone()))
            } else {
                Ok::<_, Error>(Poll::Pending)
            }
        }
    })
    .await;
    ui.clear_status();
    report.duration = deadline.elapsed();
    let task = match polled {
        Ok(t) => t,
        Err(PollError::TimedOut) => {
            report.result = MigrationResult::TimedOut;
            return Ok(report);
        }
        Err(PollError::Failed(e)) => return Err(e),
    };
    report.stop_code = task.stop_code().map(|c| c.as_str().to_string());
    report.stopped_reason = task.stopped_reason().map(str::to_owned);
    if let Some(c) = task
        .containers()
        .iter()
        .find(|c| c.name() == Some(migration.container.as_str()))
    {
        report.exit_code = c.exit_code();
        report.container_reason = c.reason().map(str::to_owned);
    }
    let failed_to_start = task.stop_code() == Some(&TaskStopCode::TaskFailedToStart);
    if !failed_to_start && report.exit_code == Some(0) {
        report.result = MigrationResult::Passed;
    }
    Ok(report)
}

fn short_task(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}
