//! The plain data the waiter works with and hands back: what to wait for ([`Target`], [`Track`],
//! [`Until`]) and how each service ended ([`ServiceOutcome`] and what it holds). A leaf: it
//! imports nothing of this crate, and every other module reads it.

use std::time::Duration;

use dk_core::ecs::ServiceRef;
use serde::Serialize;

/// One service to wait for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The service and its cluster (names or ARNs), as core parses `--service`.
    pub sref: ServiceRef,
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
    /// The deployment an UpdateService just started, when its response did not name it: a
    /// deployment running `task_definition` whose id is not in `existing` (the service's
    /// deployment ids read before the call). Never one of those — with `forceNewDeployment` the
    /// old deployment runs the same task definition. Waited for until it shows; if it never
    /// does, [`wait`](crate::waiter::wait) fails with a runtime error (exit 3), never a green.
    NewDeployment {
        task_definition: String,
        existing: Vec<String>,
    },
    /// The service going back to this task definition, by ECS's own rollback or by a new
    /// deployment: the PRIMARY running it, whatever created it (ecs-roll's return path).
    Return(String),
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

/// How one service's deployment ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WaitResult {
    Succeeded,
    /// The release failed and a rollback (the circuit breaker's, an alarm's, or someone's) put
    /// the previous task definition back, and completed.
    RolledBack,
    /// The release failed and its rollback failed too: the service is stuck half-way.
    RollbackFailed,
    /// The deployment FAILED and nothing rolled it back (or there was nothing to return to).
    Failed,
    /// The deployment completed with no task of it ever running (desiredCount 0); accepted
    /// only with `allow_empty`.
    NoTasks,
    /// A newer deployment took over before this one finished.
    Replaced,
    /// The deadline passed first.
    TimedOut,
}

impl WaitResult {
    /// The machine word used in outputs (`succeeded`, `rolled_back`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            WaitResult::Succeeded => "succeeded",
            WaitResult::RolledBack => "rolled_back",
            WaitResult::RollbackFailed => "rollback_failed",
            WaitResult::Failed => "failed",
            WaitResult::NoTasks => "no_tasks",
            WaitResult::Replaced => "replaced",
            WaitResult::TimedOut => "timed_out",
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
    /// Its last log lines, neutralised (`stopped_logs`), when read.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub log_tail: Vec<String>,
}

/// How one service ended, with everything needed to explain it.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceOutcome {
    pub cluster: String,
    pub service: String,
    pub result: WaitResult,
    /// The tracked deployment (`ecs-svc/…`), once resolved.
    pub deployment_id: Option<String>,
    /// The tracked deployment's task definition ARN.
    pub task_definition: Option<String>,
    /// The service's task definition when the verdict was reached (after a rollback: the old one).
    pub primary_task_definition: Option<String>,
    pub running_count: i32,
    pub desired_count: i32,
    /// From the start of the wait to the verdict.
    #[serde(
        rename = "duration_s",
        serialize_with = "dk_core::duration::serialize_seconds"
    )]
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
