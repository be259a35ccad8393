//! The waiter: follow ECS deployments (not services) until each one is done, one poll loop for
//! every service in every cluster. `wait-stable` is a thin CLI over [`wait`]; `ecs-roll` calls the
//! very same function after its UpdateService, so both tools print the same progress and reach
//! the same verdicts.
//!
//! Contract:
//! - [`wait`] returns `Err` only for problems with the request or the infrastructure: a cluster
//!   or service that does not exist, is DRAINING or INACTIVE, a deployment id that is not the
//!   service's, credentials refused. Those are found on the first poll, before any waiting.
//! - Every rollout outcome, a timeout included, comes back as a [`ServiceOutcome`], in the order
//!   of `targets`. A service is decided the moment its verdict is visible (a rollback is not
//!   waited out to the deadline); the others keep being polled until they are decided too.
//! - The deadline in [`WaitOptions`] is exact: when it passes, the undecided services are
//!   `TimedOut` with their last observed state.

use std::time::Duration;

use serde::Serialize;

/// One service to wait for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Cluster name or ARN.
    pub cluster: String,
    /// Service name or ARN.
    pub service: String,
    /// Which deployment of the service decides the result.
    pub track: Track,
}

/// How the tracked deployment is chosen on the first poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Track {
    /// The deployment that is PRIMARY when the wait starts.
    CurrentPrimary,
    /// A deployment id (`ecs-svc/…`) or a ServiceDeployment ARN (`arn:…:service-deployment/…`).
    DeploymentId(String),
    /// The deployment running this task definition (full ARN or `family:revision`).
    TaskDefinition(String),
}

/// When a deployment counts as done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Until {
    /// The tracked deployment is COMPLETED and the old ones are drained: one deployment left and
    /// `runningCount == desiredCount`.
    #[default]
    Stable,
    /// The tracked deployment is COMPLETED (old tasks may still be stopping).
    Deployed,
}

/// How long and how often to poll.
#[derive(Debug, Clone, Copy)]
pub struct WaitOptions {
    pub deadline: dk_core::poll::Deadline,
    pub interval: Duration,
    pub until: Until,
}

/// How one service's deployment ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceResult {
    Succeeded,
    /// The circuit breaker (or someone) put the previous task definition back.
    RolledBack,
    /// The deployment FAILED and nothing rolled it back.
    Failed,
    /// A newer deployment took over before this one finished.
    Replaced,
    /// The deadline passed first.
    TimedOut,
}

impl ServiceResult {
    /// The machine word used in outputs (`succeeded`, `rolled_back`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceResult::Succeeded => "succeeded",
            ServiceResult::RolledBack => "rolled_back",
            ServiceResult::Failed => "failed",
            ServiceResult::Replaced => "replaced",
            ServiceResult::TimedOut => "timed_out",
        }
    }
}

/// A service event (`DescribeServices` `events[]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceEvent {
    pub id: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    pub message: String,
}

/// A stopped task of the tracked deployment: what a user would open the console for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoppedTask {
    pub task_arn: String,
    pub task_definition: Option<String>,
    pub stop_code: Option<String>,
    pub stopped_reason: Option<String>,
    /// RFC 3339, UTC.
    pub stopped_at: Option<String>,
    pub containers: Vec<ContainerExit>,
}

/// One container of a stopped task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContainerExit {
    pub name: String,
    pub exit_code: Option<i32>,
    pub reason: Option<String>,
}

/// How one service ended, with everything needed to explain it.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceOutcome {
    pub cluster: String,
    pub service: String,
    pub result: ServiceResult,
    /// The tracked deployment (`ecs-svc/…`), once resolved.
    pub deployment_id: Option<String>,
    /// The tracked deployment's task definition ARN.
    pub task_definition: Option<String>,
    /// The service's task definition when the verdict was reached (after a rollback: the old one).
    pub primary_task_definition: Option<String>,
    pub running_count: i32,
    pub desired_count: i32,
    /// From the start of the wait to the verdict.
    #[serde(rename = "duration_s", serialize_with = "serialize_seconds")]
    pub duration: Duration,
    /// One line: why it failed, or the last state at the deadline.
    pub reason: Option<String>,
    /// Circuit-breaker failures and threshold of the tracked deployment, when known.
    pub failed_tasks: i32,
    pub failure_threshold: Option<i32>,
    pub stopped_tasks: Vec<StoppedTask>,
    /// Events since the tracked deployment started, oldest first.
    pub events: Vec<ServiceEvent>,
}

fn serialize_seconds<S: serde::Serializer>(d: &Duration, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_f64((d.as_secs_f64() * 10.0).round() / 10.0)
}

/// Wait for every target's deployment; see the module docs for the contract.
pub async fn wait(
    ecs: &aws_sdk_ecs::Client,
    ui: &dk_core::Ui,
    targets: &[Target],
    opts: &WaitOptions,
) -> dk_core::Result<Vec<ServiceOutcome>> {
    let _ = (ecs, ui, targets, opts);
    Err(dk_core::Error::runtime("the waiter is being written"))
}

/// The job-summary Markdown for a set of outcomes: a table per service and the events timeline.
pub fn summary_markdown(outcomes: &[ServiceOutcome]) -> String {
    let _ = outcomes;
    String::new()
}
