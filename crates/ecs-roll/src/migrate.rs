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
use aws_sdk_ecs::operation::run_task::builders::RunTaskFluentBuilder;
use aws_sdk_ecs::types::{
    CapacityProviderStrategyItem, ContainerOverride, Service, ServiceVolumeConfiguration, Task,
    TaskManagedEbsVolumeConfiguration, TaskOverride, TaskStopCode, TaskVolumeConfiguration,
};
use dk_core::aws::sdk_error;
use dk_core::poll::{Deadline, Poll, PollError, poll_until};
use dk_core::{Error, Result, Ui};
use serde::Serialize;
use serde_json::Value;

use crate::register::{Release, ServiceTarget};
use crate::render::TaskDefinitionDoc;

/// What `--migrate-command` and `--migrate-container` asked for.
#[derive(Debug, Clone)]
pub struct Migration {
    /// `None`: the task definition's only container, or its only essential one
    /// ([`default_container`]).
    pub container: Option<String>,
    pub command: Vec<String>,
    pub timeout: Duration,
    /// `--migrate-on-spot`: keep the service's FARGATE_SPOT capacity for the migration.
    pub on_spot: bool,
    /// `--migrate-logs`: stream the migration's log while it runs (`migrate_logs`).
    pub follow_logs: bool,
    /// Told the task ARN once RunTask started it (`migrate_logs` follows its log stream).
    pub started: Option<tokio::sync::watch::Sender<Option<String>>>,
}

/// The service whose new revision the migration runs on — the first whose rendered definition
/// has the container — and the migration with its container resolved.
pub fn migration_target<'r>(
    release: &'r Release,
    m: &Migration,
) -> Result<(&'r ServiceTarget, Migration)> {
    let doc = |s: &ServiceTarget| &release.definitions[s.definition].doc;
    let resolved = |s: &'r ServiceTarget, container: String| {
        (
            s,
            Migration {
                container: Some(container),
                ..m.clone()
            },
        )
    };
    match &m.container {
        Some(c) => release
            .services
            .iter()
            .find(|s| doc(s).container_names().contains(&c.as_str()))
            .map(|s| resolved(s, c.clone()))
            .ok_or_else(|| {
                Error::usage(format!(
                    "--migrate-container `{c}` is in none of the rendered task definitions"
                ))
            }),
        None => {
            let Some(s) = release.services.first() else {
                return Err(Error::usage("no service to run the migration for"));
            };
            default_container(doc(s))
                .map(|c| resolved(s, c))
                .map_err(|e| {
                    Error::usage(format!("--migrate-command: {e}"))
                        .with_hint("add --migrate-container NAME")
                })
        }
    }
}

/// The container a migration runs in when `--migrate-container` is not given: the only
/// container, else the only essential one (`essential` defaults to true). `Err` lists the
/// candidates.
pub fn default_container(doc: &TaskDefinitionDoc) -> std::result::Result<String, String> {
    let containers: Vec<(&str, bool)> = doc
        .definition
        .get("containerDefinitions")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|c| {
                    let name = c.get("name").and_then(Value::as_str)?;
                    let essential = c.get("essential").and_then(Value::as_bool).unwrap_or(true);
                    Some((name, essential))
                })
                .collect()
        })
        .unwrap_or_default();
    if let [(only, _)] = containers.as_slice() {
        return Ok((*only).to_string());
    }
    let essential: Vec<&str> = containers.iter().filter(|c| c.1).map(|c| c.0).collect();
    if let [only] = essential.as_slice() {
        return Ok((*only).to_string());
    }
    let names: Vec<&str> = containers.iter().map(|c| c.0).collect();
    Err(format!(
        "{} has {} containers ({}), {} of them essential: name the one to run the migration in with --migrate-container",
        doc.family(),
        names.len(),
        names.join(", "),
        essential.len()
    ))
}

/// The capacity a migration runs on: the service's, with FARGATE_SPOT replaced by FARGATE
/// unless `on_spot` (a Spot interruption would stop the migration half-way, and a stopped
/// migration must not be mistaken for a finished one). Weights are summed when both appear.
pub fn migration_capacity(
    service: &[CapacityProviderStrategyItem],
    on_spot: bool,
) -> Vec<CapacityProviderStrategyItem> {
    if on_spot {
        return service.to_vec();
    }
    let mut out: Vec<CapacityProviderStrategyItem> = Vec::new();
    for item in service {
        let provider = match item.capacity_provider() {
            "FARGATE_SPOT" => "FARGATE",
            other => other,
        };
        if let Some(existing) = out.iter_mut().find(|i| i.capacity_provider() == provider) {
            let merged = CapacityProviderStrategyItem::builder()
                .capacity_provider(provider)
                .weight(existing.weight() + item.weight())
                .base(existing.base().max(item.base()))
                .build();
            if let Ok(m) = merged {
                *existing = m;
            }
            continue;
        }
        let b = CapacityProviderStrategyItem::builder()
            .capacity_provider(provider)
            .weight(item.weight())
            .base(item.base());
        if let Ok(i) = b.build() {
            out.push(i);
        }
    }
    // A FARGATE_SPOT-only strategy with weight 0 would place nothing: give FARGATE a weight.
    if !out.is_empty() && out.iter().all(|i| i.weight() == 0) {
        out[0].weight = 1;
    }
    out
}

/// The service's EBS volume configurations as RunTask takes them.
pub fn task_volumes(service: &[ServiceVolumeConfiguration]) -> Vec<TaskVolumeConfiguration> {
    service
        .iter()
        .filter_map(|v| {
            let ebs = v.managed_ebs_volume().and_then(|e| {
                TaskManagedEbsVolumeConfiguration::builder()
                    .set_encrypted(e.encrypted())
                    .set_kms_key_id(e.kms_key_id().map(str::to_owned))
                    .set_volume_type(e.volume_type().map(str::to_owned))
                    .set_size_in_gib(e.size_in_gib())
                    .set_snapshot_id(e.snapshot_id().map(str::to_owned))
                    .set_volume_initialization_rate(e.volume_initialization_rate())
                    .set_iops(e.iops())
                    .set_throughput(e.throughput())
                    .set_tag_specifications(
                        (!e.tag_specifications().is_empty())
                            .then(|| e.tag_specifications().to_vec()),
                    )
                    .role_arn(e.role_arn())
                    .set_filesystem_type(e.filesystem_type().cloned())
                    .build()
                    .ok()
            });
            TaskVolumeConfiguration::builder()
                .name(v.name())
                .set_managed_ebs_volume(ebs)
                .build()
                .ok()
        })
        .collect()
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
    /// The container's last log lines (neutralised), read when the migration failed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub log_tail: Vec<String>,
    #[serde(
        rename = "duration_s",
        serialize_with = "dk_core::duration::serialize_seconds"
    )]
    pub duration: Duration,
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
    let mut report = MigrationReport::not_started(migration, task_definition_arn);
    let req = run_task_request(ecs, migration, cluster, task_definition_arn);
    let req = like_the_service(req, ui, migration, service);
    ui.info(&format!(
        "migration: RunTask {} in {cluster}, container {}: {}",
        crate::wire::short_name(task_definition_arn),
        report.container,
        migration.command.join(" ")
    ));
    let task_arn = match start_task(req, &mut report).await? {
        Some(task_arn) => task_arn,
        None => {
            report.duration = deadline.elapsed();
            return Ok(report);
        }
    };
    ui.info(&format!(
        "migration task {} started",
        dk_core::ecs::last_segment(&task_arn)
    ));
    if let Some(started) = &migration.started {
        started.send_replace(Some(task_arn.clone()));
    }
    let polled = wait_until_stopped(ecs, ui, cluster, &task_arn, &deadline, interval).await;
    report.duration = deadline.elapsed();
    match polled {
        Ok(task) => report.read_stopped(&task),
        Err(PollError::TimedOut) => report.result = MigrationResult::TimedOut,
        Err(PollError::Failed(e)) => return Err(e),
    }
    Ok(report)
}

impl MigrationReport {
    /// A failed report for `migration` on `task_definition_arn` that nothing has filled yet.
    fn not_started(migration: &Migration, task_definition_arn: &str) -> MigrationReport {
        MigrationReport {
            result: MigrationResult::Failed,
            task_arn: None,
            task_definition_arn: task_definition_arn.to_string(),
            container: migration.container.clone().unwrap_or_default(),
            command: migration.command.clone(),
            exit_code: None,
            stop_code: None,
            stopped_reason: None,
            container_reason: None,
            log_tail: Vec::new(),
            duration: Duration::ZERO,
        }
    }

    /// Fill in how the stopped task ended; it passed when the chosen container exited 0 in a
    /// task that started.
    fn read_stopped(&mut self, task: &Task) {
        self.stop_code = task.stop_code().map(|c| c.as_str().to_string());
        self.stopped_reason = task.stopped_reason().map(str::to_owned);
        let container = task
            .containers()
            .iter()
            .find(|c| c.name() == Some(self.container.as_str()));
        if let Some(c) = container {
            self.exit_code = c.exit_code();
            self.container_reason = c.reason().map(str::to_owned);
        }
        let failed_to_start = task.stop_code() == Some(&TaskStopCode::TaskFailedToStart);
        if !failed_to_start && self.exit_code == Some(0) {
            self.result = MigrationResult::Passed;
        }
    }
}

/// The RunTask request: one task of the new revision with the migration's command, with a
/// fresh client token (the SDK's retries cannot start a second migration).
fn run_task_request(
    ecs: &Client,
    migration: &Migration,
    cluster: &str,
    task_definition_arn: &str,
) -> RunTaskFluentBuilder {
    let container = migration.container.as_deref().unwrap_or_default();
    let token = format!(
        "ecs-roll-{:016x}{:016x}",
        fastrand::u64(..),
        fastrand::u64(..)
    );
    let command = ContainerOverride::builder()
        .name(container)
        .set_command(Some(migration.command.clone()));
    let overrides = TaskOverride::builder().container_overrides(command.build());
    ecs.run_task()
        .cluster(cluster)
        .task_definition(task_definition_arn)
        .count(1)
        .started_by(STARTED_BY)
        .client_token(token)
        .overrides(overrides.build())
}

/// `req` placed like the service's own tasks: network, capacity (FARGATE unless
/// `--migrate-on-spot`), placement, the PRIMARY deployment's EBS volumes, platform version.
fn like_the_service(
    mut req: RunTaskFluentBuilder,
    ui: &Ui,
    migration: &Migration,
    service: &Service,
) -> RunTaskFluentBuilder {
    if let Some(nc) = service.network_configuration() {
        req = req.network_configuration(nc.clone());
    }
    if !service.capacity_provider_strategy().is_empty() {
        let capacity = migration_capacity(service.capacity_provider_strategy(), migration.on_spot);
        if capacity.as_slice() != service.capacity_provider_strategy() {
            ui.info("migration: on FARGATE, not the service's FARGATE_SPOT (--migrate-on-spot keeps Spot)");
        }
        req = req.set_capacity_provider_strategy(Some(capacity));
    } else if let Some(lt) = service.launch_type() {
        req = req.launch_type(lt.clone());
    }
    if !service.placement_constraints().is_empty() {
        req = req.set_placement_constraints(Some(service.placement_constraints().to_vec()));
    }
    if !service.placement_strategy().is_empty() {
        req = req.set_placement_strategy(Some(service.placement_strategy().to_vec()));
    }
    // EBS volumes configured at deployment time live on the service's deployments.
    if let Some(d) = service
        .deployments()
        .iter()
        .find(|d| d.status() == Some("PRIMARY"))
        && !d.volume_configurations().is_empty()
    {
        req = req.set_volume_configurations(Some(task_volumes(d.volume_configurations())));
    }
    if let Some(pv) = service.platform_version() {
        req = req.platform_version(pv);
    }
    req
}

/// Send RunTask: the task's ARN, or `None` with the reason in `report` when it placed no task.
async fn start_task(
    req: RunTaskFluentBuilder,
    report: &mut MigrationReport,
) -> Result<Option<String>> {
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
        return Ok(None);
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
    Ok(Some(task_arn))
}

/// DescribeTasks every `interval` until the task is STOPPED (its last status shown meanwhile).
async fn wait_until_stopped(
    ecs: &Client,
    ui: &Ui,
    cluster: &str,
    task_arn: &str,
    deadline: &Deadline,
    interval: Duration,
) -> std::result::Result<Task, PollError<Error>> {
    let polled = poll_until(deadline, interval, |_| {
        let ecs = ecs.clone();
        let task_arn = task_arn.to_string();
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
                dk_core::ecs::last_segment(&task_arn)
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
    polled
}
