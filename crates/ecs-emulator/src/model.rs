//! The emulated account: clusters, task definitions, services, deployments and tasks.
//!
//! Everything lives in one [`State`] behind one mutex: operations and clock steps are short,
//! and a single lock makes every response a consistent snapshot, like a describe call on AWS
//! would be if AWS were consistent.

use std::collections::{BTreeMap, HashMap, VecDeque};

use serde_json::{Map, Value};

use crate::calls::CallLog;
use crate::faults::Faults;
use crate::scenario::Scenario;

/// At most this many events are kept and returned per service, as on AWS.
pub const MAX_EVENTS: usize = 100;
/// Stopped tasks stay describable at least this long (emulated seconds), as on AWS.
pub const STOPPED_TASK_RETENTION_SECONDS: f64 = 3600.0;

/// The whole emulated account.
#[derive(Debug)]
pub struct State {
    /// Emulated wall clock, epoch seconds.
    pub now: f64,
    /// Fractional seconds not yet stepped through (the scheduler works in whole seconds).
    pub unstepped: f64,
    pub scenario: Scenario,
    pub rng: fastrand::Rng,
    pub clusters: BTreeMap<String, Cluster>,
    /// Family → revisions in order (revision n at index n-1).
    pub task_definitions: BTreeMap<String, Vec<TaskDefinition>>,
    /// Resource ARN → tags, in insertion order.
    pub tags: HashMap<String, Vec<(String, String)>>,
    /// RunTask clientToken → (request fingerprint, response), for idempotent retries.
    pub run_task_tokens: HashMap<String, (Value, Value)>,
    pub faults: Faults,
    pub calls: CallLog,
    /// CloudWatch alarm name → state (`OK`, `ALARM`, `INSUFFICIENT_DATA`), set by the control
    /// API; an alarm never set is `INSUFFICIENT_DATA`.
    pub alarms: BTreeMap<String, String>,
    /// Process mode's children and load balancers (`process.rs`); `None` in unit tests that
    /// build a bare `State`, where process mode never starts anything.
    pub processes: Option<std::sync::Arc<crate::process_state::Supervisor>>,
}

impl State {
    pub fn new(scenario: Scenario, now: f64) -> Self {
        let rng = match scenario.seed {
            Some(seed) => fastrand::Rng::with_seed(seed),
            None => fastrand::Rng::new(),
        };
        State {
            now,
            unstepped: 0.0,
            scenario,
            rng,
            clusters: BTreeMap::new(),
            task_definitions: BTreeMap::new(),
            tags: HashMap::new(),
            run_task_tokens: HashMap::new(),
            faults: Faults::default(),
            calls: CallLog::default(),
            alarms: BTreeMap::new(),
            processes: None,
        }
    }
}

#[derive(Debug)]
pub struct Cluster {
    pub name: String,
    pub arn: String,
    pub status: String,
    pub settings: Value,
    pub configuration: Option<Value>,
    pub capacity_providers: Value,
    pub default_capacity_provider_strategy: Value,
    pub services: BTreeMap<String, Service>,
    /// Tasks in launch order (service and one-off tasks).
    pub tasks: Vec<Task>,
}

/// A registered task definition: the request as sent (minus `tags`) plus computed fields.
#[derive(Debug, Clone)]
pub struct TaskDefinition {
    pub family: String,
    pub revision: u32,
    pub arn: String,
    pub status: String,
    pub registered_at: f64,
    pub deregistered_at: Option<f64>,
    /// The request body fields, kept verbatim so describe returns what was registered.
    pub body: Map<String, Value>,
}

impl TaskDefinition {
    /// Container definitions as registered (an empty list if the shape is odd).
    pub fn containers(&self) -> Vec<ContainerSpec> {
        let Some(list) = self
            .body
            .get("containerDefinitions")
            .and_then(Value::as_array)
        else {
            return Vec::new();
        };
        list.iter()
            .map(|c| ContainerSpec {
                name: c
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                image: c
                    .get("image")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                essential: c.get("essential").and_then(Value::as_bool).unwrap_or(true),
                command: string_list(c.get("command")),
                has_health_check: c.get("healthCheck").is_some_and(|h| !h.is_null()),
            })
            .collect()
    }
}

/// Finds a task definition by `family` (latest ACTIVE revision), `family:revision` or ARN.
pub fn resolve_task_definition<'a>(
    definitions: &'a BTreeMap<String, Vec<TaskDefinition>>,
    reference: &str,
) -> Option<&'a TaskDefinition> {
    let tail = reference
        .strip_prefix("arn:")
        .and_then(|r| r.split_once(":task-definition/"))
        .map_or(reference, |(_, tail)| tail);
    match tail.rsplit_once(':') {
        Some((family, revision)) => {
            let revision: usize = revision.parse().ok()?;
            definitions.get(family)?.get(revision.checked_sub(1)?)
        }
        None => definitions
            .get(tail)?
            .iter()
            .rev()
            .find(|d| d.status == "ACTIVE"),
    }
}

/// The parts of a container definition the emulator acts on.
#[derive(Debug, Clone)]
pub struct ContainerSpec {
    pub name: String,
    pub image: String,
    pub essential: bool,
    pub command: Vec<String>,
    pub has_health_check: bool,
}

pub fn string_list(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// A service.
#[derive(Debug)]
pub struct Service {
    pub name: String,
    pub arn: String,
    pub cluster_name: String,
    pub cluster_arn: String,
    /// `ACTIVE`, `DRAINING` or `INACTIVE`.
    pub status: String,
    pub desired_count: u32,
    pub task_definition: String,
    /// `deploymentConfiguration` as it will be returned (defaults filled in).
    pub deployment_configuration: Map<String, Value>,
    pub deployment_controller: String,
    pub launch_type: Option<String>,
    pub capacity_provider_strategy: Option<Value>,
    pub platform_version: Option<String>,
    pub network_configuration: Option<Value>,
    pub load_balancers: Value,
    pub service_registries: Value,
    pub scheduling_strategy: String,
    pub propagate_tags: String,
    pub enable_ecs_managed_tags: bool,
    pub enable_execute_command: bool,
    pub health_check_grace_period_seconds: Option<Value>,
    pub placement_constraints: Value,
    pub placement_strategy: Value,
    /// `volumeConfigurations` as given (shown on deployments, not acted on).
    pub volume_configurations: Option<Value>,
    pub role_arn: Option<String>,
    pub created_at: f64,
    pub client_token: Option<String>,
    /// Newest first; includes INACTIVE ones, which describe does not show.
    pub deployments: Vec<Deployment>,
    /// Newest first, at most [`MAX_EVENTS`].
    pub events: VecDeque<ServiceEvent>,
    /// Newest first.
    pub service_deployments: Vec<ServiceDeployment>,
    pub current_service_deployment: Option<String>,
    /// The most recent deployment that reached COMPLETED and is not being re-deployed by a
    /// rollback: the circuit breaker's rollback target.
    pub last_completed: Option<RevisionRef>,
    /// The last "reached a steady state" still holds (no task started or stopped since).
    pub steady: bool,
    /// Service throttle logic: consecutive tasks that never reached RUNNING, the earliest
    /// time the next task may launch, and whether the throttle event was sent.
    pub start_failures: u32,
    pub launch_not_before: f64,
    pub throttle_reported: bool,
    /// Eventual consistency: what DescribeServices still shows after the last UpdateService.
    pub stale: Option<StaleView>,
}

/// The service as DescribeServices rendered it before the last UpdateService (tags included),
/// shown instead of the real one for `calls_left` more reads or until `until` (emulated).
#[derive(Debug, Clone)]
pub struct StaleView {
    pub snapshot: Value,
    pub calls_left: u32,
    pub until: f64,
}

impl StaleView {
    pub fn is_live(&self, now: f64) -> bool {
        self.calls_left > 0 || now < self.until
    }
}

/// `(task a) (task b)`: task ids as service events list them.
fn task_list(ids: &[String]) -> String {
    ids.iter()
        .map(|id| format!("(task {id})"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// What a rollback returns to.
#[derive(Debug, Clone)]
pub struct RevisionRef {
    pub deployment_id: String,
    pub task_definition: String,
    pub revision_arn: String,
}

impl Service {
    pub fn primary(&self) -> Option<&Deployment> {
        self.deployments
            .iter()
            .find(|d| d.status == DeploymentStatus::Primary)
    }

    pub fn primary_mut(&mut self) -> Option<&mut Deployment> {
        self.deployments
            .iter_mut()
            .find(|d| d.status == DeploymentStatus::Primary)
    }

    pub fn deployment_mut(&mut self, id: &str) -> Option<&mut Deployment> {
        self.deployments.iter_mut().find(|d| d.id == id)
    }

    pub fn service_deployment_mut(&mut self, arn: &str) -> Option<&mut ServiceDeployment> {
        self.service_deployments.iter_mut().find(|d| d.arn == arn)
    }

    /// The percentage bounds of a rolling deployment, with ECS's REPLICA defaults.
    pub fn percent_bounds(&self) -> (u64, u64) {
        let get = |k: &str, default: u64| {
            self.deployment_configuration
                .get(k)
                .and_then(Value::as_u64)
                .unwrap_or(default)
        };
        (
            get("minimumHealthyPercent", 100),
            get("maximumPercent", 200),
        )
    }

    /// A Classic Load Balancer is named by `loadBalancerName` (ALB/NLB by `targetGroupArn`).
    pub fn behind_classic_load_balancer(&self) -> bool {
        self.load_balancers.as_array().is_some_and(|lbs| {
            lbs.iter().any(|lb| {
                lb.get("loadBalancerName").is_some_and(|n| !n.is_null())
                    && lb.get("targetGroupArn").is_none_or(Value::is_null)
            })
        })
    }

    /// The circuit breaker settings, if enabled. It does not work for services behind a Classic
    /// Load Balancer (aws-sdk-ecs `DeploymentCircuitBreaker` docs).
    pub fn circuit_breaker(&self) -> Option<CircuitBreaker> {
        if self.behind_classic_load_balancer() {
            return None;
        }
        let cb = self
            .deployment_configuration
            .get("deploymentCircuitBreaker")?;
        if !cb.get("enable").and_then(Value::as_bool).unwrap_or(false) {
            return None;
        }
        let threshold = cb.get("thresholdConfiguration").map(|t| ThresholdConfig {
            kind: t
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("BOUNDED_PERCENT")
                .to_string(),
            value: t.get("value").and_then(Value::as_u64).unwrap_or(50),
        });
        Some(CircuitBreaker {
            rollback: cb.get("rollback").and_then(Value::as_bool).unwrap_or(false),
            reset_on_healthy_task: cb
                .get("resetOnHealthyTask")
                .and_then(Value::as_bool)
                .unwrap_or(true),
            threshold,
        })
    }

    /// `deploymentConfiguration.alarms` when enabled: (alarm names, rollback).
    pub fn deployment_alarms(&self) -> Option<(Vec<String>, bool)> {
        let alarms = self.deployment_configuration.get("alarms")?;
        if !alarms
            .get("enable")
            .and_then(Value::as_bool)
            .unwrap_or(false)
        {
            return None;
        }
        Some((
            string_list(alarms.get("alarmNames")),
            alarms
                .get("rollback")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        ))
    }

    /// Adds an event, newest first, keeping at most [`MAX_EVENTS`].
    pub fn push_event(&mut self, event: ServiceEvent) {
        self.events.push_front(event);
        self.events.truncate(MAX_EVENTS);
    }

    /// Adds a service event with a fresh id.
    pub fn emit(&mut self, rng: &mut fastrand::Rng, now: f64, message: String) {
        self.push_event(ServiceEvent {
            id: crate::ids::uuid(rng),
            created_at: now,
            message,
        });
    }

    /// The scheduler's event for the tasks (ids) it just stopped; none when it stopped none.
    pub fn emit_stopped(&mut self, rng: &mut fastrand::Rng, now: f64, ids: &[String]) {
        if !ids.is_empty() {
            let message = format!(
                "(service {}) has stopped {} running tasks: {}.",
                self.name,
                ids.len(),
                task_list(ids)
            );
            self.emit(rng, now, message);
        }
    }

    /// The scheduler's event for the tasks (ids) it just started; none when it started none.
    pub fn emit_started(&mut self, rng: &mut fastrand::Rng, now: f64, ids: &[String]) {
        if !ids.is_empty() {
            let message = format!(
                "(service {}) has started {} tasks: {}.",
                self.name,
                ids.len(),
                task_list(ids)
            );
            self.emit(rng, now, message);
        }
    }
}

/// Circuit breaker settings of a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CircuitBreaker {
    pub rollback: bool,
    pub reset_on_healthy_task: bool,
    pub threshold: Option<ThresholdConfig>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThresholdConfig {
    pub kind: String,
    pub value: u64,
}

impl CircuitBreaker {
    /// Failed tasks that trip the breaker for a service of `desired` tasks.
    ///
    /// Current AWS docs: half the desired count, rounded up, clamped to 3..=200; the newer
    /// `thresholdConfiguration` can ask for a fixed COUNT or an unclamped percentage.
    pub fn threshold(&self, desired: u32) -> u64 {
        let desired = u64::from(desired);
        let percent_of = |p: u64| (desired.saturating_mul(p)).div_ceil(100);
        match &self.threshold {
            None => percent_of(50).clamp(3, 200),
            Some(t) => match t.kind.as_str() {
                "COUNT" => t.value.max(1),
                "UNBOUNDED_PERCENT" => percent_of(t.value).max(1),
                _ => percent_of(t.value).clamp(3, 200),
            },
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeploymentStatus {
    Primary,
    Active,
    Inactive,
}

impl DeploymentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeploymentStatus::Primary => "PRIMARY",
            DeploymentStatus::Active => "ACTIVE",
            DeploymentStatus::Inactive => "INACTIVE",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RolloutState {
    InProgress,
    Completed,
    Failed,
}

impl RolloutState {
    pub fn as_str(self) -> &'static str {
        match self {
            RolloutState::InProgress => "IN_PROGRESS",
            RolloutState::Completed => "COMPLETED",
            RolloutState::Failed => "FAILED",
        }
    }
}

/// One entry of `service.deployments[]`.
#[derive(Debug, Clone)]
pub struct Deployment {
    pub id: String,
    pub status: DeploymentStatus,
    pub task_definition: String,
    pub failed_tasks: u64,
    pub created_at: f64,
    pub updated_at: f64,
    pub rollout_state: RolloutState,
    pub rollout_state_reason: String,
    pub launch_type: Option<String>,
    pub capacity_provider_strategy: Option<Value>,
    pub platform_version: Option<String>,
    pub network_configuration: Option<Value>,
    pub service_revision_arn: String,
    /// The service deployment that tracks this deployment's outcome (for a rollback
    /// deployment: the service deployment that failed and is being rolled back).
    pub service_deployment_arn: String,
    /// The deployment this one rolls back to, when it is a rollback.
    pub rollback_of: Option<String>,
    /// Launches nothing: FAILED, or a rollback with nothing to roll back to.
    pub stalled: bool,
    /// The "unable to stop or start tasks" event was already sent.
    pub stuck_reported: bool,
    /// With deployment alarms: when the bake time began (tasks in place, alarms still watched).
    pub bake_started: Option<f64>,
    /// Emulated and real (epoch seconds) time it became COMPLETED or FAILED.
    pub finished_emulated: Option<f64>,
    pub finished_real: Option<f64>,
}

impl Deployment {
    /// Ends the deployment FAILED with `reason` at `now` (emulated) and `real_now` (epoch
    /// seconds); a stalled deployment launches and stops nothing more.
    pub fn fail(&mut self, reason: String, now: f64, real_now: f64) {
        self.rollout_state = RolloutState::Failed;
        self.rollout_state_reason = reason;
        self.stalled = true;
        self.updated_at = now;
        self.finished_emulated = Some(now);
        self.finished_real = Some(real_now);
    }

    /// What a rollback to this deployment returns to.
    pub fn revision(&self) -> RevisionRef {
        RevisionRef {
            deployment_id: self.id.clone(),
            task_definition: self.task_definition.clone(),
            revision_arn: self.service_revision_arn.clone(),
        }
    }
}

/// A ServiceDeployment (the 2024 API that tracks one deployment to its outcome).
#[derive(Debug, Clone)]
pub struct ServiceDeployment {
    pub arn: String,
    pub deployment_id: String,
    pub created_at: f64,
    pub started_at: Option<f64>,
    pub finished_at: Option<f64>,
    pub stopped_at: Option<f64>,
    pub updated_at: f64,
    pub status: String,
    pub status_reason: Option<String>,
    pub source_revisions: Vec<String>,
    pub target_revision: String,
    pub deployment_configuration: Map<String, Value>,
    pub rollback: Option<RollbackInfo>,
    pub circuit_breaker_status: String,
    pub failure_count: u64,
    pub threshold: u64,
    /// Deployment alarms monitor: DISABLED, MONITORING, TRIGGERED, MONITORING_COMPLETE.
    pub alarms_status: String,
    pub alarm_names: Vec<String>,
    pub triggered_alarm_names: Vec<String>,
    /// Real (wall-clock, epoch seconds) time it reached a finished status.
    pub finished_real: Option<f64>,
    /// Stages, traffic and hooks of a BLUE_GREEN, LINEAR or CANARY deployment (`progressive.rs`).
    pub progressive: Option<crate::strategy::ProgressiveRun>,
}

impl ServiceDeployment {
    /// Statuses from which nothing changes any more.
    pub fn is_finished(&self) -> bool {
        matches!(
            self.status.as_str(),
            "SUCCESSFUL" | "STOPPED" | "ROLLBACK_SUCCESSFUL" | "ROLLBACK_FAILED"
        )
    }
}

#[derive(Debug, Clone)]
pub struct RollbackInfo {
    pub reason: String,
    pub started_at: f64,
    pub service_revision_arn: String,
}

#[derive(Debug, Clone)]
pub struct ServiceEvent {
    pub id: String,
    pub created_at: f64,
    pub message: String,
}

/// What the task's scenario makes it do, fixed at launch.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskPlan {
    /// Stops with TaskFailedToStart at `at`.
    FailToStart { at: f64, reason: String },
    /// Runs at `running_at`; healthy at `healthy_at`; the essential container exits at
    /// `exit_at` (crash images, one-off tasks) with the given code per container.
    Run {
        running_at: f64,
        healthy_at: Option<f64>,
        unhealthy_at: Option<f64>,
        exit_at: Option<f64>,
        exit_codes: Vec<i32>,
    },
}

/// A task (service or one-off).
#[derive(Debug, Clone)]
pub struct Task {
    pub id: String,
    pub arn: String,
    pub cluster_arn: String,
    pub task_definition_arn: String,
    pub family: String,
    pub group: String,
    pub started_by: Option<String>,
    /// For service tasks: the service and the deployment that launched it.
    pub service: Option<String>,
    pub deployment_id: Option<String>,
    pub last_status: String,
    pub desired_status: String,
    pub healthy: bool,
    pub health_checked: bool,
    pub created_at: f64,
    pub pull_started_at: Option<f64>,
    pub pull_stopped_at: Option<f64>,
    pub started_at: Option<f64>,
    pub stopping_at: Option<f64>,
    pub stopped_at: Option<f64>,
    pub execution_stopped_at: Option<f64>,
    pub stop_complete_at: Option<f64>,
    pub stop_code: Option<String>,
    pub stopped_reason: Option<String>,
    pub containers: Vec<TaskContainer>,
    pub launch_type: Option<String>,
    pub capacity_provider_strategy: Option<Value>,
    pub platform_version: Option<String>,
    pub network_configuration: Option<Value>,
    pub overrides: Value,
    pub cpu: Option<String>,
    pub memory: Option<String>,
    pub version: u64,
    pub plan: TaskPlan,
    pub stop_seconds: f64,
}

impl Task {
    /// Launched and not asked to stop.
    pub fn is_live(&self) -> bool {
        self.desired_status == "RUNNING" && self.last_status != "STOPPED"
    }

    /// Counts toward minimumHealthyPercent.
    pub fn is_healthy(&self) -> bool {
        self.is_live() && self.last_status == "RUNNING" && self.healthy
    }

    pub fn is_stopped(&self) -> bool {
        self.last_status == "STOPPED"
    }
}

#[derive(Debug, Clone)]
pub struct TaskContainer {
    pub name: String,
    pub image: String,
    pub runtime_id: String,
    pub last_status: String,
    pub exit_code: Option<i32>,
    pub reason: Option<String>,
    pub health_status: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker(threshold: Option<(&str, u64)>) -> CircuitBreaker {
        CircuitBreaker {
            rollback: true,
            reset_on_healthy_task: true,
            threshold: threshold.map(|(k, v)| ThresholdConfig {
                kind: k.to_string(),
                value: v,
            }),
        }
    }

    fn definition(family: &str, revision: u32, status: &str) -> TaskDefinition {
        TaskDefinition {
            family: family.into(),
            revision,
            arn: crate::ids::task_definition_arn(family, revision),
            status: status.into(),
            registered_at: 0.0,
            deregistered_at: None,
            body: Map::new(),
        }
    }

    /// family → latest ACTIVE revision; family:revision and ARNs → that revision, any status.
    #[test]
    fn task_definition_references() {
        let mut defs = BTreeMap::new();
        defs.insert(
            "web".to_string(),
            vec![
                definition("web", 1, "ACTIVE"),
                definition("web", 2, "ACTIVE"),
                definition("web", 3, "INACTIVE"),
            ],
        );
        let rev = |r: &str| resolve_task_definition(&defs, r).map(|d| d.revision);
        assert_eq!(rev("web"), Some(2));
        assert_eq!(rev("web:3"), Some(3));
        assert_eq!(
            rev("arn:aws:ecs:us-east-1:123456789012:task-definition/web:1"),
            Some(1)
        );
        assert_eq!(rev("web:0"), None);
        assert_eq!(rev("web:9"), None);
        assert_eq!(rev("web:x"), None);
        assert_eq!(rev("api"), None);
    }

    /// The table from the circuit-breaker guide: 1 → 3, 25 → 13, 400 → 200, 800 → 200.
    #[test]
    fn default_threshold_matches_the_guide() {
        let cb = breaker(None);
        assert_eq!(cb.threshold(1), 3);
        assert_eq!(cb.threshold(25), 13);
        assert_eq!(cb.threshold(400), 200);
        assert_eq!(cb.threshold(800), 200);
        assert_eq!(cb.threshold(0), 3);
    }

    /// thresholdConfiguration: COUNT as is, UNBOUNDED_PERCENT unclamped, BOUNDED clamped.
    #[test]
    fn configured_thresholds() {
        assert_eq!(breaker(Some(("COUNT", 7))).threshold(100), 7);
        assert_eq!(breaker(Some(("UNBOUNDED_PERCENT", 50))).threshold(800), 400);
        assert_eq!(breaker(Some(("UNBOUNDED_PERCENT", 10))).threshold(4), 1);
        assert_eq!(breaker(Some(("BOUNDED_PERCENT", 10))).threshold(4), 3);
        assert_eq!(
            breaker(Some(("BOUNDED_PERCENT", 100))).threshold(u32::MAX),
            200
        );
    }
}
