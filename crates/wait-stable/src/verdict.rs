//! The decision, kept pure: from what DescribeServices (and, when known, the ServiceDeployment)
//! shows, which deployment to track and whether it has succeeded, been rolled back, failed or
//! been replaced. No I/O here, so every rule — above all the one that refuses a false green after
//! a rollback — is unit-tested from literal states.
//!
//! The rules, in order:
//! 1. A DRAINING or INACTIVE service failed (it was deleted under us).
//! 2. A ServiceDeployment in `ROLLBACK_*` is rolled back.
//! 3. The tracked deployment `FAILED`: rolled back when anything shows a rollback (a PRIMARY
//!    "rolling back", the previous task definition back as PRIMARY, or the service's circuit
//!    breaker has `rollback` on), else failed.
//! 4. The tracked deployment is no longer PRIMARY, or is gone: rolled back when the PRIMARY shows
//!    a rollback, else replaced.
//! 5. A `STOPPED`/`STOP_REQUESTED` ServiceDeployment of a deployment that is still PRIMARY is
//!    failed (a superseded one is STOPPED too, and that is rule 4's "replaced").
//! 6. Success needs the tracked deployment PRIMARY, `COMPLETED`, *and* the service's task
//!    definition equal to the tracked one; with `Until::Stable` also a single deployment and
//!    `runningCount == desiredCount`. Without any `rolloutState` (Classic Load Balancer
//!    services) only the stable form counts.

use crate::waiter::{Track, Until};

/// What matters of a `Deployment`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeploymentView {
    pub id: String,
    /// `PRIMARY`, `ACTIVE` or `INACTIVE`.
    pub status: String,
    pub task_definition: String,
    /// `IN_PROGRESS`, `COMPLETED`, `FAILED`; absent for CLB services.
    pub rollout_state: Option<String>,
    pub rollout_state_reason: Option<String>,
    pub desired: i32,
    pub pending: i32,
    pub running: i32,
    pub failed: i32,
    /// Seconds since the epoch.
    pub created_at: Option<i64>,
}

impl DeploymentView {
    pub fn is_primary(&self) -> bool {
        self.status == "PRIMARY"
    }
    fn rollout(&self) -> Option<&str> {
        self.rollout_state.as_deref()
    }
    /// `rolloutStateReason` says the circuit breaker is rolling back.
    fn says_rolling_back(&self) -> bool {
        self.rollout_state_reason
            .as_deref()
            .is_some_and(|r| r.to_ascii_lowercase().contains("rolling back"))
    }
}

/// The service's circuit-breaker settings (`deploymentConfiguration.deploymentCircuitBreaker`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CircuitBreaker {
    pub enable: bool,
    pub rollback: bool,
    /// `COUNT`, `BOUNDED_PERCENT` or `UNBOUNDED_PERCENT`; absent means the default.
    pub threshold_type: Option<String>,
    pub threshold_value: Option<i32>,
}

/// What matters of a `Service`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceView {
    pub arn: String,
    pub name: String,
    /// `ACTIVE`, `DRAINING`, `INACTIVE`.
    pub status: String,
    pub task_definition: Option<String>,
    pub desired: i32,
    pub running: i32,
    pub pending: i32,
    pub deployments: Vec<DeploymentView>,
    pub current_service_deployment: Option<String>,
    pub circuit_breaker: Option<CircuitBreaker>,
    /// `ECS`, `CODE_DEPLOY`, `EXTERNAL`.
    pub controller: Option<String>,
}

impl ServiceView {
    pub fn primary(&self) -> Option<&DeploymentView> {
        self.deployments.iter().find(|d| d.is_primary())
    }
    pub fn deployment(&self, id: &str) -> Option<&DeploymentView> {
        self.deployments.iter().find(|d| d.id == id)
    }
}

/// What a ServiceDeployment (DescribeServiceDeployments) adds, when we have it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceDeploymentView {
    pub arn: String,
    /// `PENDING`, `IN_PROGRESS`, `SUCCESSFUL`, `ROLLBACK_*`, `STOP_REQUESTED`, `STOPPED`.
    pub status: String,
    pub status_reason: Option<String>,
    pub failure_count: Option<i32>,
    pub threshold: Option<i32>,
}

/// The deployment a wait follows, fixed on the first poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tracked {
    pub deployment_id: String,
    pub task_definition: String,
    /// Task definitions of the other deployments when the wait began: seeing one of them come
    /// back as PRIMARY means the release was rolled back.
    pub previous_task_definitions: Vec<String>,
    /// The ServiceDeployment ARN, when the service reports one for this deployment.
    pub service_deployment_arn: Option<String>,
    /// Seconds since the epoch; events before it belong to earlier deployments.
    pub created_at: Option<i64>,
}

/// Why the tracked deployment could not be chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolveError {
    /// A usage problem: the message names the service and what it has instead.
    Invalid { message: String, hint: String },
    /// Given a ServiceDeployment ARN that is not the service's current one: its status decides.
    NeedServiceDeployment(String),
}

/// How one poll judged a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Pending,
    Succeeded,
    RolledBack(String),
    Failed(String),
    Replaced(String),
}

impl Verdict {
    pub fn is_final(&self) -> bool {
        !matches!(self, Verdict::Pending)
    }
}

/// `arn:aws:ecs:…:task-definition/web:12` and `web:12` name the same revision.
pub fn same_task_definition(a: &str, b: &str) -> bool {
    fn short(s: &str) -> &str {
        s.rsplit_once("task-definition/").map_or(s, |(_, t)| t)
    }
    a == b || short(a) == short(b)
}

/// Whether `id` is a ServiceDeployment ARN rather than a deployment id.
pub fn is_service_deployment_arn(id: &str) -> bool {
    id.starts_with("arn:") && id.contains(":service-deployment/")
}

/// Choose the deployment to follow.
pub fn resolve(view: &ServiceView, track: &Track) -> Result<Tracked, ResolveError> {
    if let Some(c) = view.controller.as_deref()
        && c != "ECS"
    {
        return Err(ResolveError::Invalid {
            message: format!("service {} uses the {c} deployment controller", view.name),
            hint: "wait-stable follows ECS rolling deployments (deploymentController ECS); CODE_DEPLOY and EXTERNAL services deploy through task sets".into(),
        });
    }
    let list = || {
        view.deployments
            .iter()
            .map(|d| format!("{} ({}, {})", d.id, d.status, short_td(&d.task_definition)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    // A deployment asked for by id or task definition that is gone while the PRIMARY says the
    // circuit breaker rolled back: the rollback finished before the wait began. Track the
    // vanished deployment so `decide` reports the rollback (never the restored old revision).
    let gone = match track {
        Track::DeploymentId(id)
            if !is_service_deployment_arn(id) && view.deployment(id).is_none() =>
        {
            Some((id.clone(), String::new()))
        }
        Track::TaskDefinition(td)
            if !view.deployments.iter().any(|d| {
                d.status != "INACTIVE" && same_task_definition(&d.task_definition, td)
            }) =>
        {
            Some((String::new(), td.clone()))
        }
        _ => None,
    };
    if let (Some((deployment_id, task_definition)), Some(p)) = (gone, view.primary())
        && p.says_rolling_back()
    {
        return Ok(Tracked {
            deployment_id,
            task_definition,
            previous_task_definitions: vec![p.task_definition.clone()],
            service_deployment_arn: None,
            created_at: None,
        });
    }
    // The PRIMARY at start is the circuit breaker's rollback, still under way: the release it
    // undoes is what the caller waits for. Follow that one (or, when no longer listed, none) so
    // the verdict is the rollback, never the restored revision's success.
    if let (Track::CurrentPrimary, Some(p)) = (track, view.primary())
        && p.says_rolling_back()
        && p.rollout() != Some("COMPLETED")
    {
        let undone = view
            .deployments
            .iter()
            .filter(|d| {
                !d.is_primary()
                    && d.status != "INACTIVE"
                    && !same_task_definition(&d.task_definition, &p.task_definition)
            })
            .max_by_key(|d| (d.rollout() == Some("FAILED"), d.created_at));
        return Ok(match undone {
            Some(d) => Tracked {
                deployment_id: d.id.clone(),
                task_definition: d.task_definition.clone(),
                previous_task_definitions: vec![p.task_definition.clone()],
                service_deployment_arn: None,
                created_at: d.created_at,
            },
            None => Tracked {
                deployment_id: String::new(),
                task_definition: String::new(),
                previous_task_definitions: vec![p.task_definition.clone()],
                service_deployment_arn: None,
                created_at: None,
            },
        });
    }
    let chosen = match track {
        Track::CurrentPrimary => view.primary().ok_or_else(|| ResolveError::Invalid {
            message: format!("service {} has no PRIMARY deployment", view.name),
            hint: "check the service in the console; wait-stable needs an ECS rolling deployment to follow".into(),
        })?,
        Track::DeploymentId(id) if is_service_deployment_arn(id) => {
            if view.current_service_deployment.as_deref() == Some(id.as_str()) {
                view.primary().ok_or_else(|| ResolveError::NeedServiceDeployment(id.clone()))?
            } else {
                return Err(ResolveError::NeedServiceDeployment(id.clone()));
            }
        }
        Track::DeploymentId(id) => view.deployment(id).ok_or_else(|| ResolveError::Invalid {
            message: format!("service {} has no deployment {id}", view.name),
            hint: format!("its deployments are: {}; pass one of them, or leave --deployment-id out to follow the PRIMARY", list()),
        })?,
        Track::TaskDefinition(td) => {
            // An INACTIVE deployment has been fully replaced: never the one to follow.
            let mut matching = view.deployments.iter().filter(|d| {
                d.status != "INACTIVE" && same_task_definition(&d.task_definition, td)
            });
            let all: Vec<_> = matching.by_ref().collect();
            all.iter()
                .find(|d| d.is_primary())
                .or_else(|| all.first())
                .copied()
                .ok_or_else(|| ResolveError::Invalid {
                    message: format!("no deployment of service {} runs task definition {td}", view.name),
                    hint: format!("its deployments are: {}; was the service updated to {td}?", list()),
                })?
        }
    };
    let service_deployment_arn = match track {
        Track::DeploymentId(id) if is_service_deployment_arn(id) => Some(id.clone()),
        _ if chosen.is_primary() => view.current_service_deployment.clone(),
        _ => None,
    };
    Ok(Tracked {
        deployment_id: chosen.id.clone(),
        task_definition: chosen.task_definition.clone(),
        previous_task_definitions: view
            .deployments
            .iter()
            .filter(|d| {
                d.id != chosen.id
                    && !same_task_definition(&d.task_definition, &chosen.task_definition)
            })
            .map(|d| d.task_definition.clone())
            .collect(),
        service_deployment_arn,
        created_at: chosen.created_at,
    })
}

/// [`resolve`] for a deployment the caller has just created (`ecs-roll` right after
/// UpdateService): DescribeServices is eventually consistent and may still show the old
/// PRIMARY, so while `just_created` holds a deployment id or task definition the service does
/// not show yet is `Ok(None)` — not visible yet, poll again — instead of a usage error.
pub fn resolve_created(
    view: &ServiceView,
    track: &Track,
    just_created: bool,
) -> Result<Option<Tracked>, ResolveError> {
    let ecs_controller = view.controller.as_deref().is_none_or(|c| c == "ECS");
    match resolve(view, track) {
        Err(ResolveError::Invalid { .. })
            if just_created
                && ecs_controller
                && matches!(track, Track::DeploymentId(_) | Track::TaskDefinition(_)) =>
        {
            Ok(None)
        }
        r => r.map(Some),
    }
}

/// The verdict for a ServiceDeployment ARN that is no longer the service's current deployment.
pub fn decide_from_service_deployment(sd: &ServiceDeploymentView) -> Verdict {
    let reason = |what: &str| {
        sd.status_reason.clone().map_or_else(
            || format!("service deployment {what}"),
            |r| format!("service deployment {what}: {r}"),
        )
    };
    match sd.status.as_str() {
        s if s.starts_with("ROLLBACK_") => Verdict::RolledBack(reason(s)),
        "STOPPED" | "STOP_REQUESTED" => Verdict::Failed(reason(&sd.status)),
        "SUCCESSFUL" => Verdict::Replaced("a newer service deployment is current".into()),
        _ => Verdict::Pending,
    }
}

/// Judge one poll of one service.
pub fn decide(
    view: &ServiceView,
    tracked: &Tracked,
    until: Until,
    sd: Option<&ServiceDeploymentView>,
) -> Verdict {
    if view.status == "DRAINING" || view.status == "INACTIVE" {
        return Verdict::Failed(format!(
            "service {} is {} (deleted while waiting)",
            view.name, view.status
        ));
    }
    // A rollback shows in the ServiceDeployment before anywhere else. (A STOPPED one is judged
    // below: ECS also stops the service deployment that a newer one supersedes.)
    let primary = view.primary();
    let rollback_seen = |p: Option<&DeploymentView>| {
        p.filter(|p| p.id != tracked.deployment_id)
            .is_some_and(|p| {
                p.says_rolling_back()
                    || (!same_task_definition(&p.task_definition, &tracked.task_definition)
                        && tracked
                            .previous_task_definitions
                            .iter()
                            .any(|t| same_task_definition(t, &p.task_definition)))
            })
    };
    let describe_primary = |p: &DeploymentView| {
        let mut s = format!(
            "{} now runs {} (deployment {}",
            view.name,
            short_td(&p.task_definition),
            p.id
        );
        if let Some(r) = &p.rollout_state_reason {
            s.push_str(&format!(": {}", r.trim_end_matches('.')));
        }
        s.push(')');
        s
    };
    if let Some(sd) = sd
        && let Verdict::RolledBack(why) = decide_from_service_deployment(sd)
    {
        return match primary.filter(|p| p.id != tracked.deployment_id) {
            Some(p) => Verdict::RolledBack(format!("{why}; {}", describe_primary(p))),
            None => Verdict::RolledBack(why),
        };
    }
    let Some(d) = view.deployment(&tracked.deployment_id) else {
        // The tracked deployment is gone: it finished being replaced, or was rolled back.
        return match primary {
            None => Verdict::Failed(format!(
                "deployment {} is gone and {} has no PRIMARY deployment",
                tracked.deployment_id, view.name
            )),
            Some(p) if rollback_seen(Some(p)) => Verdict::RolledBack(describe_primary(p)),
            Some(p) => Verdict::Replaced(describe_primary(p)),
        };
    };
    if d.rollout() == Some("FAILED") {
        let why = d
            .rollout_state_reason
            .clone()
            .unwrap_or_else(|| format!("deployment {} FAILED", d.id));
        let rolls_back = rollback_seen(primary)
            || view
                .circuit_breaker
                .as_ref()
                .is_some_and(|cb| cb.enable && cb.rollback);
        return if rolls_back {
            match primary.filter(|p| p.id != d.id) {
                Some(p) => Verdict::RolledBack(format!("{why}; {}", describe_primary(p))),
                None => Verdict::RolledBack(format!(
                    "{why}; the circuit breaker rolls back to the last completed deployment"
                )),
            }
        } else {
            Verdict::Failed(why)
        };
    }
    if !d.is_primary() {
        let Some(p) = primary else {
            return Verdict::Failed(format!(
                "deployment {} is {} and {} has no PRIMARY deployment",
                d.id, d.status, view.name
            ));
        };
        return if rollback_seen(Some(p)) {
            Verdict::RolledBack(describe_primary(p))
        } else {
            Verdict::Replaced(describe_primary(p))
        };
    }
    // The tracked deployment is PRIMARY: a stopped service deployment means it was stopped.
    if let Some(sd) = sd
        && let v @ Verdict::Failed(_) = decide_from_service_deployment(sd)
    {
        return v;
    }
    // The service must also be set to the tracked task definition.
    if let Some(service_td) = &view.task_definition
        && !same_task_definition(service_td, &tracked.task_definition)
    {
        return Verdict::Replaced(format!(
            "{} is set to {} instead of {}",
            view.name,
            short_td(service_td),
            short_td(&tracked.task_definition)
        ));
    }
    // INACTIVE deployments have been fully replaced; DescribeServices may still list them.
    let live = view
        .deployments
        .iter()
        .filter(|d| d.status != "INACTIVE")
        .count();
    let stable =
        live == 1 && view.running == view.desired && d.running == d.desired && view.pending == 0;
    match d.rollout() {
        Some("COMPLETED") => match until {
            Until::Deployed => Verdict::Succeeded,
            Until::Stable if stable => Verdict::Succeeded,
            Until::Stable => Verdict::Pending,
        },
        // No rolloutState (Classic Load Balancer): only the service-wide steady state can tell.
        None if stable => Verdict::Succeeded,
        _ => Verdict::Pending,
    }
}

/// The circuit breaker's failure threshold for a deployment of `desired` tasks (M-ECS
/// `ServiceDeploymentCircuitBreaker.threshold`, `ThresholdConfiguration`): by default
/// 50 % of desired, rounded up, clamped to 3..=200.
pub fn failure_threshold(desired: i32, cb: &CircuitBreaker) -> Option<i32> {
    if !cb.enable {
        return None;
    }
    let desired = i64::from(desired.max(0));
    let percent = |v: i64| (desired * v + 99) / 100;
    let value = i64::from(cb.threshold_value.unwrap_or(50));
    let t = match cb.threshold_type.as_deref() {
        Some("COUNT") => value.max(1),
        Some("UNBOUNDED_PERCENT") => percent(value).max(1),
        _ => percent(value).clamp(3, 200),
    };
    i32::try_from(t).ok()
}

/// `arn:…:task-definition/web:12` → `web:12`, for messages.
pub fn short_td(td: &str) -> &str {
    td.rsplit_once("task-definition/").map_or(td, |(_, t)| t)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:1";
    const NEW: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:2";

    fn dep(id: &str, status: &str, td: &str, rollout: &str, running: i32) -> DeploymentView {
        DeploymentView {
            id: id.into(),
            status: status.into(),
            task_definition: td.into(),
            rollout_state: (!rollout.is_empty()).then(|| rollout.into()),
            rollout_state_reason: None,
            desired: 2,
            pending: 0,
            running,
            failed: 0,
            created_at: None,
        }
    }

    fn service(td: &str, deployments: Vec<DeploymentView>) -> ServiceView {
        let running = deployments.iter().map(|d| d.running).sum();
        ServiceView {
            arn: "arn:aws:ecs:us-east-1:123456789012:service/c/web".into(),
            name: "web".into(),
            status: "ACTIVE".into(),
            task_definition: Some(td.into()),
            desired: 2,
            running,
            pending: 0,
            deployments,
            current_service_deployment: None,
            circuit_breaker: Some(CircuitBreaker {
                enable: true,
                rollback: true,
                ..Default::default()
            }),
            controller: Some("ECS".into()),
        }
    }

    fn in_flight() -> ServiceView {
        service(
            NEW,
            vec![
                dep("ecs-svc/2", "PRIMARY", NEW, "IN_PROGRESS", 1),
                dep("ecs-svc/1", "ACTIVE", OLD, "COMPLETED", 2),
            ],
        )
    }

    fn tracked() -> Tracked {
        resolve(&in_flight(), &Track::CurrentPrimary).unwrap()
    }

    /// The PRIMARY at start is tracked, and the other deployments' task definitions are remembered.
    #[test]
    fn resolves_current_primary() {
        let t = tracked();
        assert_eq!(t.deployment_id, "ecs-svc/2");
        assert_eq!(t.task_definition, NEW);
        assert_eq!(t.previous_task_definitions, vec![OLD.to_string()]);
    }

    /// An in-progress rollout is pending, not a verdict.
    #[test]
    fn in_progress_is_pending() {
        assert_eq!(
            decide(&in_flight(), &tracked(), Until::Stable, None),
            Verdict::Pending
        );
    }

    /// COMPLETED and drained on the tracked task definition succeeds.
    #[test]
    fn completed_and_drained_succeeds() {
        let done = service(NEW, vec![dep("ecs-svc/2", "PRIMARY", NEW, "COMPLETED", 2)]);
        assert_eq!(
            decide(&done, &tracked(), Until::Stable, None),
            Verdict::Succeeded
        );
    }

    /// `--until stable` waits for old tasks to drain; `--until deployed` does not.
    #[test]
    fn until_decides_on_draining() {
        let draining = service(
            NEW,
            vec![
                dep("ecs-svc/2", "PRIMARY", NEW, "COMPLETED", 2),
                dep("ecs-svc/1", "ACTIVE", OLD, "COMPLETED", 1),
            ],
        );
        assert_eq!(
            decide(&draining, &tracked(), Until::Stable, None),
            Verdict::Pending
        );
        assert_eq!(
            decide(&draining, &tracked(), Until::Deployed, None),
            Verdict::Succeeded
        );
    }

    /// The false green `aws ecs wait services-stable` reports: one deployment, running == desired,
    /// but it is the OLD task definition after a rollback. Must be rolled back, never succeeded.
    #[test]
    fn steady_on_old_task_definition_after_rollback_is_rolled_back() {
        let mut p = dep("ecs-svc/3", "PRIMARY", OLD, "COMPLETED", 2);
        p.rollout_state_reason =
            Some("ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/1.".into());
        let rolled = service(OLD, vec![p.clone()]);
        assert!(matches!(
            decide(&rolled, &tracked(), Until::Stable, None),
            Verdict::RolledBack(_)
        ));
        // Even without the reason text, the previous task definition back as PRIMARY is a rollback.
        p.rollout_state_reason = None;
        let rolled = service(OLD, vec![p]);
        assert!(matches!(
            decide(&rolled, &tracked(), Until::Stable, None),
            Verdict::RolledBack(_)
        ));
        // And when the rollback reuses the old deployment id (CB-guide's "Deployment 1 transitions").
        let reused = service(OLD, vec![dep("ecs-svc/1", "PRIMARY", OLD, "COMPLETED", 2)]);
        assert!(matches!(
            decide(&reused, &tracked(), Until::Deployed, None),
            Verdict::RolledBack(_)
        ));
    }

    /// A FAILED deployment with a rolling-back PRIMARY is reported at once, before the rollback ends.
    #[test]
    fn failed_with_rollback_in_progress_is_rolled_back_at_once() {
        let mut failed = dep("ecs-svc/2", "ACTIVE", NEW, "FAILED", 0);
        failed.rollout_state_reason =
            Some("ECS deployment circuit breaker: tasks failed to start.".into());
        let mut back = dep("ecs-svc/3", "PRIMARY", OLD, "IN_PROGRESS", 1);
        back.rollout_state_reason =
            Some("ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/1.".into());
        let v = decide(
            &service(OLD, vec![back, failed]),
            &tracked(),
            Until::Stable,
            None,
        );
        match v {
            Verdict::RolledBack(why) => assert!(why.contains("tasks failed to start"), "{why}"),
            other => panic!("{other:?}"),
        }
    }

    /// FAILED without rollback configured is failed, not rolled back.
    #[test]
    fn failed_without_rollback_is_failed() {
        let mut d = dep("ecs-svc/2", "PRIMARY", NEW, "FAILED", 0);
        d.rollout_state_reason =
            Some("ECS deployment circuit breaker: tasks failed to start.".into());
        let mut view = service(
            NEW,
            vec![d, dep("ecs-svc/1", "ACTIVE", OLD, "COMPLETED", 2)],
        );
        view.circuit_breaker = Some(CircuitBreaker {
            enable: true,
            rollback: false,
            ..Default::default()
        });
        assert_eq!(
            decide(&view, &tracked(), Until::Stable, None),
            Verdict::Failed("ECS deployment circuit breaker: tasks failed to start.".into())
        );
    }

    /// A newer deployment of another task definition is "replaced", whether the tracked one is
    /// still ACTIVE or already gone.
    #[test]
    fn newer_deployment_is_replaced() {
        const NEWER: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:3";
        let view = service(
            NEWER,
            vec![
                dep("ecs-svc/4", "PRIMARY", NEWER, "IN_PROGRESS", 0),
                dep("ecs-svc/2", "ACTIVE", NEW, "IN_PROGRESS", 1),
            ],
        );
        assert!(matches!(
            decide(&view, &tracked(), Until::Stable, None),
            Verdict::Replaced(_)
        ));
        let gone = service(
            NEWER,
            vec![dep("ecs-svc/4", "PRIMARY", NEWER, "COMPLETED", 2)],
        );
        assert!(matches!(
            decide(&gone, &tracked(), Until::Stable, None),
            Verdict::Replaced(_)
        ));
    }

    /// A COMPLETED PRIMARY does not count while the service is set to another task definition.
    #[test]
    fn service_task_definition_must_match() {
        let view = service(OLD, vec![dep("ecs-svc/2", "PRIMARY", NEW, "COMPLETED", 2)]);
        assert!(matches!(
            decide(&view, &tracked(), Until::Deployed, None),
            Verdict::Replaced(_)
        ));
    }

    /// ServiceDeployment statuses decide too: ROLLBACK_* is rolled back, STOPPED failed.
    #[test]
    fn service_deployment_status_decides() {
        let sd = |status: &str| ServiceDeploymentView {
            status: status.into(),
            ..Default::default()
        };
        assert!(matches!(
            decide(
                &in_flight(),
                &tracked(),
                Until::Stable,
                Some(&sd("ROLLBACK_IN_PROGRESS"))
            ),
            Verdict::RolledBack(_)
        ));
        assert!(matches!(
            decide(
                &in_flight(),
                &tracked(),
                Until::Stable,
                Some(&sd("STOPPED"))
            ),
            Verdict::Failed(_)
        ));
        assert_eq!(
            decide(
                &in_flight(),
                &tracked(),
                Until::Stable,
                Some(&sd("IN_PROGRESS"))
            ),
            Verdict::Pending
        );
    }

    /// ECS stops the service deployment a newer one supersedes: that is "replaced", not "failed".
    #[test]
    fn superseded_service_deployment_is_replaced_not_failed() {
        const NEWER: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:3";
        let view = service(
            NEWER,
            vec![
                dep("ecs-svc/4", "PRIMARY", NEWER, "IN_PROGRESS", 0),
                dep("ecs-svc/2", "ACTIVE", NEW, "IN_PROGRESS", 1),
            ],
        );
        let sd = ServiceDeploymentView {
            status: "STOPPED".into(),
            ..Default::default()
        };
        assert!(matches!(
            decide(&view, &tracked(), Until::Stable, Some(&sd)),
            Verdict::Replaced(_)
        ));
    }

    /// A service deleted while waiting fails instead of waiting for the deadline.
    #[test]
    fn draining_service_fails() {
        let mut view = in_flight();
        view.status = "DRAINING".into();
        assert!(matches!(
            decide(&view, &tracked(), Until::Stable, None),
            Verdict::Failed(_)
        ));
    }

    /// Without rolloutState (CLB services), only the steady state on the tracked revision succeeds.
    #[test]
    fn no_rollout_state_uses_steady_state() {
        let t = resolve(
            &service(
                NEW,
                vec![
                    dep("ecs-svc/2", "PRIMARY", NEW, "", 1),
                    dep("ecs-svc/1", "ACTIVE", OLD, "", 1),
                ],
            ),
            &Track::CurrentPrimary,
        )
        .unwrap();
        let steady = service(NEW, vec![dep("ecs-svc/2", "PRIMARY", NEW, "", 2)]);
        assert_eq!(
            decide(&steady, &t, Until::Deployed, None),
            Verdict::Succeeded
        );
        let half = service(
            NEW,
            vec![
                dep("ecs-svc/2", "PRIMARY", NEW, "", 1),
                dep("ecs-svc/1", "ACTIVE", OLD, "", 1),
            ],
        );
        assert_eq!(decide(&half, &t, Until::Deployed, None), Verdict::Pending);
    }

    /// Regression: DescribeServices may list INACTIVE (fully replaced) deployments. Counting them
    /// kept "one deployment left" false forever, so a completed, drained rollout timed out (and
    /// ecs-roll rolled a good release back); a CLB service without rolloutState never succeeded.
    #[test]
    fn inactive_deployments_do_not_block_success() {
        let done = service(
            NEW,
            vec![
                dep("ecs-svc/2", "PRIMARY", NEW, "COMPLETED", 2),
                dep("ecs-svc/1", "INACTIVE", OLD, "COMPLETED", 0),
            ],
        );
        assert_eq!(
            decide(&done, &tracked(), Until::Stable, None),
            Verdict::Succeeded
        );
        let clb = service(
            NEW,
            vec![
                dep("ecs-svc/2", "PRIMARY", NEW, "", 2),
                dep("ecs-svc/1", "INACTIVE", OLD, "", 0),
            ],
        );
        assert_eq!(
            decide(&clb, &tracked(), Until::Stable, None),
            Verdict::Succeeded
        );
        // An ACTIVE one still draining keeps it pending.
        let draining = service(
            NEW,
            vec![
                dep("ecs-svc/2", "PRIMARY", NEW, "", 2),
                dep("ecs-svc/1", "ACTIVE", OLD, "", 0),
            ],
        );
        assert_eq!(
            decide(&draining, &tracked(), Until::Stable, None),
            Verdict::Pending
        );
    }

    /// Regression: right after UpdateService, DescribeServices may still show the old PRIMARY
    /// (eventual consistency). A deployment the caller just created must then be "not visible
    /// yet", not a usage error — ecs-roll turned that error into a rollback of a healthy release.
    #[test]
    fn just_created_deployment_not_yet_visible_waits() {
        let stale = service(OLD, vec![dep("ecs-svc/1", "PRIMARY", OLD, "COMPLETED", 2)]);
        for track in [
            Track::DeploymentId("ecs-svc/2".into()),
            Track::TaskDefinition(NEW.into()),
        ] {
            assert_eq!(resolve_created(&stale, &track, true), Ok(None), "{track:?}");
            assert!(matches!(
                resolve_created(&stale, &track, false),
                Err(ResolveError::Invalid { .. })
            ));
        }
        // Once visible it is tracked as usual.
        assert_eq!(
            resolve_created(&in_flight(), &Track::DeploymentId("ecs-svc/2".into()), true)
                .unwrap()
                .map(|t| t.deployment_id),
            Some("ecs-svc/2".into())
        );
        // A refused controller stays an error.
        let mut cd = stale.clone();
        cd.controller = Some("CODE_DEPLOY".into());
        assert!(resolve_created(&cd, &Track::TaskDefinition(NEW.into()), true).is_err());
    }

    /// Regression: started (no --deployment-id) while the circuit breaker is rolling the release
    /// back, the PRIMARY at start *is* the rollback deployment; following it reported the
    /// restored old revision as a success — the false green wait-stable exists to prevent.
    #[test]
    fn current_primary_rolling_back_is_rolled_back() {
        let mut back = dep("ecs-svc/3", "PRIMARY", OLD, "IN_PROGRESS", 1);
        back.rollout_state_reason =
            Some("ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/1.".into());
        let failed = dep("ecs-svc/2", "ACTIVE", NEW, "FAILED", 0);
        let during = service(OLD, vec![back.clone(), failed]);
        let t = resolve(&during, &Track::CurrentPrimary).unwrap();
        assert!(matches!(
            decide(&during, &t, Until::Stable, None),
            Verdict::RolledBack(_)
        ));
        // Also when the rollback reuses the last completed deployment's id.
        back.id = "ecs-svc/1".into();
        let reused = service(OLD, vec![back.clone()]);
        let t = resolve(&reused, &Track::CurrentPrimary).unwrap();
        assert!(matches!(
            decide(&reused, &t, Until::Stable, None),
            Verdict::RolledBack(_)
        ));
        // A rollback that completed long ago is just the service's current deployment.
        back.rollout_state = Some("COMPLETED".into());
        back.running = 2;
        let settled = service(OLD, vec![back]);
        let t = resolve(&settled, &Track::CurrentPrimary).unwrap();
        assert_eq!(
            decide(&settled, &t, Until::Stable, None),
            Verdict::Succeeded
        );
    }

    /// Regression: a task definition deployed before has an INACTIVE (fully replaced) deployment
    /// that DescribeServices may still list. Following it by task definition judged the old,
    /// replaced deployment (an instant "replaced"/"rolled back") instead of waiting for the new
    /// deployment of that revision to show up.
    #[test]
    fn task_definition_track_ignores_inactive_deployments() {
        let stale = service(
            NEW,
            vec![
                dep("ecs-svc/3", "PRIMARY", OLD, "COMPLETED", 2),
                dep("ecs-svc/2", "INACTIVE", NEW, "FAILED", 0),
            ],
        );
        assert_eq!(
            resolve_created(&stale, &Track::TaskDefinition(NEW.into()), true),
            Ok(None)
        );
    }

    /// --deployment-id and --task-definition select that deployment; unknown ones name the choices.
    #[test]
    fn resolves_explicit_tracks() {
        let v = in_flight();
        assert_eq!(
            resolve(&v, &Track::DeploymentId("ecs-svc/1".into()))
                .unwrap()
                .deployment_id,
            "ecs-svc/1"
        );
        assert_eq!(
            resolve(&v, &Track::TaskDefinition("web:2".into()))
                .unwrap()
                .deployment_id,
            "ecs-svc/2"
        );
        match resolve(&v, &Track::DeploymentId("ecs-svc/9".into())) {
            Err(ResolveError::Invalid { message, hint }) => {
                assert!(message.contains("ecs-svc/9"));
                assert!(hint.contains("ecs-svc/2 (PRIMARY, web:2)"), "{hint}");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            resolve(&v, &Track::TaskDefinition("web:7".into())),
            Err(ResolveError::Invalid { .. })
        ));
        let sd = "arn:aws:ecs:us-east-1:123456789012:service-deployment/c/web/abc";
        assert_eq!(
            resolve(&v, &Track::DeploymentId(sd.into())),
            Err(ResolveError::NeedServiceDeployment(sd.into()))
        );
    }

    /// Asked for a deployment that a finished rollback already removed: rolled back, not a usage
    /// error and never the restored revision's success.
    #[test]
    fn rollback_finished_before_the_wait_is_rolled_back() {
        let mut p = dep("ecs-svc/3", "PRIMARY", OLD, "COMPLETED", 2);
        p.rollout_state_reason =
            Some("ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/1.".into());
        let after = service(OLD, vec![p]);
        for track in [
            Track::TaskDefinition(NEW.into()),
            Track::DeploymentId("ecs-svc/2".into()),
        ] {
            let t = resolve(&after, &track).unwrap();
            assert!(
                matches!(
                    decide(&after, &t, Until::Stable, None),
                    Verdict::RolledBack(_)
                ),
                "{track:?}"
            );
        }
    }

    /// CODE_DEPLOY services are refused with a reason.
    #[test]
    fn refuses_task_set_controllers() {
        let mut v = in_flight();
        v.controller = Some("CODE_DEPLOY".into());
        assert!(matches!(
            resolve(&v, &Track::CurrentPrimary),
            Err(ResolveError::Invalid { .. })
        ));
    }

    /// The circuit-breaker threshold follows the current table: 1 → 3, 25 → 13, 400 → 200.
    #[test]
    fn threshold_table() {
        let cb = CircuitBreaker {
            enable: true,
            ..Default::default()
        };
        assert_eq!(failure_threshold(1, &cb), Some(3));
        assert_eq!(failure_threshold(25, &cb), Some(13));
        assert_eq!(failure_threshold(400, &cb), Some(200));
        assert_eq!(failure_threshold(800, &cb), Some(200));
        let count = CircuitBreaker {
            enable: true,
            threshold_type: Some("COUNT".into()),
            threshold_value: Some(7),
            ..Default::default()
        };
        assert_eq!(failure_threshold(100, &count), Some(7));
        assert_eq!(failure_threshold(4, &CircuitBreaker::default()), None);
    }
}
