//! The decision, kept pure: from what DescribeServices (and, when known, the ServiceDeployment)
//! shows, which deployment to track and whether it has succeeded, been rolled back, failed or
//! been replaced. No I/O here, so every rule — above all the one that refuses a false green after
//! a rollback — is unit-tested from literal states.
//!
//! The rules, in order:
//! 1. A DRAINING or INACTIVE service failed (it was deleted under us).
//! 2. Resolution: a PRIMARY that is a rollback (its reason says "rolling back", or the service's
//!    current ServiceDeployment is `ROLLBACK_*`) is never the release: the wait follows the
//!    release it undoes, however long ago the rollback finished — also when it runs the task
//!    definition asked for (a forced deployment rolled back to its twin). A deployment created
//!    by the caller's UpdateService is found by id, never by "runs the target task definition".
//! 3. A rollback under way (that PRIMARY, or a previous task definition back as PRIMARY) is not
//!    final: `rolled_back` once it COMPLETED (or `ROLLBACK_SUCCESSFUL`), `rollback_failed` when
//!    it FAILED (or `ROLLBACK_FAILED`).
//! 4. The tracked deployment `FAILED` with no rollback showing: `failed` without rollback; with
//!    rollback on, pending while a COMPLETED deployment exists to return to, else `failed` with
//!    the service named as stuck.
//! 5. The tracked deployment is no longer PRIMARY, or is gone: replaced.
//! 6. A `STOPPED`/`STOP_REQUESTED` ServiceDeployment of a deployment that is still PRIMARY is
//!    failed (a superseded one is STOPPED too, and that is rule 5's "replaced").
//! 7. Success needs the tracked deployment PRIMARY, `COMPLETED`, *and* the service's task
//!    definition equal to the tracked one; with `Until::Stable` also a single deployment and
//!    `runningCount == desiredCount`. Without any `rolloutState` (Classic Load Balancer
//!    services): no failed tasks and that steady state over two polls and 30 s.
//! 8. A deployment that completes without a task of it ever seen running (desiredCount 0) is
//!    `no_tasks`, unless empty deployments are allowed (`--allow-empty`).

use std::time::Duration;

use crate::model::{Track, Until};

/// Without `rolloutState`, how long the steady state (no failed tasks, every task running) must
/// hold, over two polls at least, before it counts: tasks that crash after a few seconds are
/// RUNNING on a poll or two in a row (ECS itself counts a task without health checks healthy
/// only after 40 s).
pub const NO_ROLLOUT_STATE_SETTLE: Duration = Duration::from_secs(30);

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
    /// When the wait began, the PRIMARY was already a rollback undoing the release: its id.
    /// That deployment is judged as the rollback, never as the release's success — it may run
    /// the very task definition asked for (a forced new deployment rolled back to its twin).
    pub rolled_back_by: Option<String>,
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
    /// The release failed and a rollback put the previous revision back (and completed).
    RolledBack(String),
    /// The release failed and so did the rollback: the service is stuck half-way.
    RollbackFailed(String),
    Failed(String),
    Replaced(String),
    /// The deployment completed without a single task of it ever running (desiredCount 0).
    NoTasks(String),
}

impl Verdict {
    pub fn is_final(&self) -> bool {
        !matches!(self, Verdict::Pending)
    }
}

/// What one poll adds to the service's state: everything `decide` needs besides the views.
#[derive(Debug, Clone, Copy, Default)]
pub struct Poll<'a> {
    pub until: Until,
    /// The tracked deployment's ServiceDeployment, when read.
    pub sd: Option<&'a ServiceDeploymentView>,
    /// A task of the tracked deployment has been seen RUNNING, on this poll or an earlier one.
    pub ever_ran: bool,
    /// How long [`steady`] has held without a break up to the previous poll; `None` when the
    /// previous poll was not steady.
    pub steady_for: Option<Duration>,
    /// `--allow-empty`: a deployment of zero tasks may succeed.
    pub allow_empty: bool,
}

pub use dk_core::ecs::{is_service_deployment_arn, same_task_definition};

fn live(view: &ServiceView) -> impl Iterator<Item = &DeploymentView> {
    view.deployments.iter().filter(|d| d.status != "INACTIVE")
}

/// Whether the PRIMARY `p` is a rollback rather than a forward release: its reason says so, or
/// — a rollback that finished before the wait, without the reason text — `p` is COMPLETED while
/// the service's current ServiceDeployment says ROLLBACK_SUCCESSFUL (or still IN_PROGRESS /
/// REQUESTED: it is read after DescribeServices). Never on ROLLBACK_FAILED, and never for a `p`
/// still rolling out: the ServiceDeployment may be newer than the view, and a release that has
/// just failed would be taken for its own rollback.
fn is_rollback(
    view: &ServiceView,
    p: &DeploymentView,
    current: Option<&ServiceDeploymentView>,
) -> bool {
    p.says_rolling_back()
        || current.is_some_and(|sd| {
            sd.status.starts_with("ROLLBACK_")
                && sd.status != "ROLLBACK_FAILED"
                && view.current_service_deployment.as_deref() == Some(sd.arn.as_str())
                && p.rollout() == Some("COMPLETED")
        })
}

/// The release a rollback PRIMARY `rb` undoes: the newest other live deployment that FAILED,
/// else the newest on another task definition, else (gone already) none.
fn undone_by<'a>(rb: &DeploymentView, among: &[&'a DeploymentView]) -> Option<&'a DeploymentView> {
    among
        .iter()
        .copied()
        .filter(|d| d.id != rb.id)
        .filter(|d| {
            d.rollout() == Some("FAILED")
                || !same_task_definition(&d.task_definition, &rb.task_definition)
        })
        .max_by_key(|d| (d.rollout() == Some("FAILED"), d.created_at))
}

fn undone_tracked(
    rb: &DeploymentView,
    undone: Option<&DeploymentView>,
    task_definition: &str,
) -> Tracked {
    Tracked {
        deployment_id: undone.map(|d| d.id.clone()).unwrap_or_default(),
        task_definition: undone.map_or_else(
            || task_definition.to_string(),
            |d| d.task_definition.clone(),
        ),
        previous_task_definitions: vec![rb.task_definition.clone()],
        service_deployment_arn: None,
        created_at: undone.and_then(|d| d.created_at),
        rolled_back_by: Some(rb.id.clone()),
    }
}

/// Choose the deployment to follow. `current` is the service's current ServiceDeployment
/// (`currentServiceDeployment`), read on the first poll when the API answers: a `ROLLBACK_*`
/// status there means the PRIMARY is a rollback, whatever its reason text says.
pub fn resolve(
    view: &ServiceView,
    track: &Track,
    current: Option<&ServiceDeploymentView>,
) -> Result<Tracked, ResolveError> {
    check_controller(view)?;
    let primary = view.primary();
    let rollback = primary.filter(|p| is_rollback(view, p, current));
    if let Track::Return(td) = track {
        return resolve_return(view, primary, td);
    }
    // The PRIMARY is a rollback: the release the caller waits for is the one it undoes (listed
    // or already gone), judged by how the rollback ends — never the restored revision's
    // success. This holds however long ago the rollback finished: no forward release came
    // after it, or it would not be PRIMARY.
    if let Some(rb) = rollback
        && let Some(resolved) = resolve_under_rollback(view, rb, track)
    {
        return resolved;
    }
    let chosen = choose(view, primary, track)?;
    let sd_arn = match track {
        Track::DeploymentId(id) if is_service_deployment_arn(id) => Some(id.clone()),
        _ => None,
    };
    let mut t = plain(view, chosen, sd_arn);
    // Asked for a deployment that is not the PRIMARY while a rollback is: that rollback undoes it.
    if let Some(rb) = rollback.filter(|rb| rb.id != chosen.id) {
        t.rolled_back_by = Some(rb.id.clone());
    }
    Ok(t)
}

/// Only ECS rolling deployments can be followed.
fn check_controller(view: &ServiceView) -> Result<(), ResolveError> {
    match view.controller.as_deref() {
        Some(c) if c != "ECS" => Err(ResolveError::Invalid {
            message: format!("service {} uses the {c} deployment controller", view.name),
            hint: "wait-stable follows ECS rolling deployments (deploymentController ECS); CODE_DEPLOY and EXTERNAL services deploy through task sets".into(),
        }),
        _ => Ok(()),
    }
}

/// `ecs-svc/1 (PRIMARY, web:2), …`, for messages.
fn deployment_list(view: &ServiceView) -> String {
    view.deployments
        .iter()
        .map(|d| format!("{} ({}, {})", d.id, d.status, short_td(&d.task_definition)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The service shows no `what` (yet).
fn not_visible(view: &ServiceView, what: String) -> ResolveError {
    ResolveError::Invalid {
        message: format!("service {} has no {what}", view.name),
        hint: format!(
            "its deployments are: {}; was the service updated? right after UpdateService, ECS may take a moment to show the new deployment",
            deployment_list(view)
        ),
    }
}

/// `Track::Return`: the PRIMARY running `td`, whatever created it.
fn resolve_return(
    view: &ServiceView,
    primary: Option<&DeploymentView>,
    td: &str,
) -> Result<Tracked, ResolveError> {
    match primary.filter(|p| same_task_definition(&p.task_definition, td)) {
        Some(p) => {
            // Whatever created it: the rollback's ServiceDeployment status is the failed
            // release's, not this wait's.
            let mut t = plain(view, p, None);
            t.service_deployment_arn = None;
            Ok(t)
        }
        None => Err(not_visible(
            view,
            format!("PRIMARY deployment running {}", short_td(td)),
        )),
    }
}

/// With a rollback PRIMARY `rb`: the release it undoes, as `track` names it; `None` when the
/// track names something the rollback does not decide (the rollback itself, a ServiceDeployment
/// ARN, a deployment that is not among the others).
fn resolve_under_rollback(
    view: &ServiceView,
    rb: &DeploymentView,
    track: &Track,
) -> Option<Result<Tracked, ResolveError>> {
    let others: Vec<&DeploymentView> = live(view).filter(|d| d.id != rb.id).collect();
    match track {
        Track::CurrentPrimary => Some(Ok(undone_tracked(rb, undone_by(rb, &others), ""))),
        Track::TaskDefinition(td) => {
            // On another task definition, or on the same one (a forced deployment rolled
            // back to its twin), or gone: the release asked for was rolled back.
            let undone = others
                .iter()
                .copied()
                .filter(|d| same_task_definition(&d.task_definition, td))
                .max_by_key(|d| (d.rollout() == Some("FAILED"), d.created_at));
            Some(Ok(undone_tracked(rb, undone, td)))
        }
        Track::DeploymentId(id) if !is_service_deployment_arn(id) && *id != rb.id => {
            let undone = others.iter().copied().find(|d| d.id == *id);
            (undone.is_some() || view.deployment(id).is_none()).then(|| {
                let mut t = undone_tracked(rb, undone, "");
                t.deployment_id = id.clone();
                Ok(t)
            })
        }
        Track::NewDeployment {
            task_definition,
            existing,
        } => {
            let fresh: Vec<&DeploymentView> = others
                .iter()
                .copied()
                .filter(|d| !existing.contains(&d.id))
                .collect();
            if !existing.contains(&rb.id) || !fresh.is_empty() {
                let undone = undone_by(rb, &fresh).or_else(|| fresh.first().copied());
                return Some(Ok(undone_tracked(rb, undone, task_definition)));
            }
            // The rollback predates the call (or reuses an old id) and nothing new shows yet.
            Some(Err(not_visible(
                view,
                format!("new deployment of {}", short_td(task_definition)),
            )))
        }
        _ => None,
    }
}

/// The deployment `track` names, when no rollback decides it.
fn choose<'a>(
    view: &'a ServiceView,
    primary: Option<&'a DeploymentView>,
    track: &Track,
) -> Result<&'a DeploymentView, ResolveError> {
    Ok(match track {
        Track::CurrentPrimary => primary.ok_or_else(|| ResolveError::Invalid {
            message: format!("service {} has no PRIMARY deployment", view.name),
            hint: "check the service in the console; wait-stable needs an ECS rolling deployment to follow".into(),
        })?,
        Track::DeploymentId(id) if is_service_deployment_arn(id) => {
            if view.current_service_deployment.as_deref() == Some(id.as_str()) {
                primary.ok_or_else(|| ResolveError::NeedServiceDeployment(id.clone()))?
            } else {
                return Err(ResolveError::NeedServiceDeployment(id.clone()));
            }
        }
        Track::DeploymentId(id) => view.deployment(id).ok_or_else(|| ResolveError::Invalid {
            message: format!("service {} has no deployment {id}", view.name),
            hint: format!("its deployments are: {}; pass one of them, or leave --deployment-id out to follow the PRIMARY", deployment_list(view)),
        })?,
        Track::TaskDefinition(td) => {
            // An INACTIVE deployment has been fully replaced: never the one to follow.
            let all: Vec<_> = live(view)
                .filter(|d| same_task_definition(&d.task_definition, td))
                .collect();
            all.iter()
                .find(|d| d.is_primary())
                .or_else(|| all.first())
                .copied()
                .ok_or_else(|| ResolveError::Invalid {
                    message: format!("no deployment of service {} runs task definition {td}", view.name),
                    hint: format!("its deployments are: {}; was the service updated to {td}?", deployment_list(view)),
                })?
        }
        Track::NewDeployment { task_definition, existing } => {
            // Only a deployment that did not exist before the call: with forceNewDeployment the
            // old one runs the same task definition, and following it would be a false green.
            let fresh: Vec<_> = live(view)
                .filter(|d| !existing.contains(&d.id))
                .filter(|d| same_task_definition(&d.task_definition, task_definition))
                .collect();
            fresh
                .iter()
                .find(|d| d.is_primary())
                .or_else(|| fresh.first())
                .copied()
                .ok_or_else(|| not_visible(view, format!("new deployment of {}", short_td(task_definition))))?
        }
        Track::Return(_) => unreachable!("handled by resolve_return"),
    })
}

/// Track `chosen` as it is.
fn plain(view: &ServiceView, chosen: &DeploymentView, sd_arn: Option<String>) -> Tracked {
    Tracked {
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
        service_deployment_arn: sd_arn.or_else(|| {
            chosen
                .is_primary()
                .then(|| view.current_service_deployment.clone())
                .flatten()
        }),
        created_at: chosen.created_at,
        rolled_back_by: None,
    }
}

/// [`resolve`] for a deployment the caller has just created (`ecs-roll` right after
/// UpdateService, or `wait-stable --deployment-id` right after the user's own): DescribeServices
/// is eventually consistent and may still show the old PRIMARY, so while `just_created` holds a
/// deployment the service does not show yet is `Ok(None)` — not visible yet, poll again —
/// instead of a usage error.
pub fn resolve_created(
    view: &ServiceView,
    track: &Track,
    current: Option<&ServiceDeploymentView>,
    just_created: bool,
) -> Result<Option<Tracked>, ResolveError> {
    let ecs_controller = view.controller.as_deref().is_none_or(|c| c == "ECS");
    let waits = matches!(
        track,
        Track::DeploymentId(_) | Track::TaskDefinition(_) | Track::Return(_)
    ) && just_created
        || matches!(track, Track::NewDeployment { .. });
    match resolve(view, track, current) {
        Err(ResolveError::Invalid { .. }) if waits && ecs_controller => Ok(None),
        r => r.map(Some),
    }
}

/// The verdict for a ServiceDeployment ARN that is no longer the service's current deployment.
/// `ROLLBACK_REQUESTED` / `ROLLBACK_IN_PROGRESS` are not final: the rollback may still fail.
pub fn decide_from_service_deployment(sd: &ServiceDeploymentView) -> Verdict {
    let reason = |what: &str| {
        sd.status_reason.clone().map_or_else(
            || format!("service deployment {what}"),
            |r| format!("service deployment {what}: {r}"),
        )
    };
    match sd.status.as_str() {
        "ROLLBACK_SUCCESSFUL" => Verdict::RolledBack(reason("ROLLBACK_SUCCESSFUL")),
        "ROLLBACK_FAILED" => Verdict::RollbackFailed(reason("ROLLBACK_FAILED")),
        "STOPPED" | "STOP_REQUESTED" => Verdict::Failed(reason(&sd.status)),
        "SUCCESSFUL" => Verdict::Replaced("a newer service deployment is current".into()),
        _ => Verdict::Pending,
    }
}

fn describe_primary(view: &ServiceView, p: &DeploymentView) -> String {
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
}

/// The PRIMARY undoing the tracked release, if there is one: the rollback known from the
/// start, one whose reason says "rolling back", or a previous task definition back as PRIMARY.
fn rollback_deployment<'a>(view: &'a ServiceView, tracked: &Tracked) -> Option<&'a DeploymentView> {
    view.primary()
        .filter(|p| p.id != tracked.deployment_id)
        .filter(|p| {
            tracked.rolled_back_by.as_deref() == Some(p.id.as_str())
                || p.says_rolling_back()
                || (!same_task_definition(&p.task_definition, &tracked.task_definition)
                    && tracked
                        .previous_task_definitions
                        .iter()
                        .any(|t| same_task_definition(t, &p.task_definition)))
        })
}

/// Why the release failed, as far as the tracked deployment or its ServiceDeployment says.
fn release_failure(
    view: &ServiceView,
    tracked: &Tracked,
    sd: Option<&ServiceDeploymentView>,
) -> String {
    view.deployment(&tracked.deployment_id)
        .filter(|d| d.rollout() == Some("FAILED"))
        .and_then(|d| d.rollout_state_reason.clone())
        .or_else(|| sd.and_then(|sd| sd.status_reason.clone()))
        .unwrap_or_else(|| match tracked.deployment_id.as_str() {
            "" => "the release was rolled back".into(),
            id => format!("deployment {id} was rolled back"),
        })
}

/// How a rollback under way ends: rolled back once it COMPLETED (or ROLLBACK_SUCCESSFUL),
/// rollback failed when it FAILED (or ROLLBACK_FAILED); until then, not final.
fn rollback_outcome(
    view: &ServiceView,
    tracked: &Tracked,
    rb: &DeploymentView,
    sd: Option<&ServiceDeploymentView>,
) -> Verdict {
    let why = release_failure(view, tracked, sd);
    let now = describe_primary(view, rb);
    match (sd.map(|s| s.status.as_str()), rb.rollout()) {
        (Some("ROLLBACK_FAILED"), _) | (_, Some("FAILED")) => Verdict::RollbackFailed(format!(
            "{why}; the rollback failed too: {now}; {} is stuck half-way, fix it by hand",
            view.name
        )),
        (Some("ROLLBACK_SUCCESSFUL"), _) | (_, Some("COMPLETED")) => {
            Verdict::RolledBack(format!("{why}; {now}"))
        }
        (_, None) if steady_on(view, rb) => Verdict::RolledBack(format!("{why}; {now}")),
        _ => Verdict::Pending,
    }
}

/// The service runs `d` alone, every task of it running.
fn steady_on(view: &ServiceView, d: &DeploymentView) -> bool {
    live(view).count() == 1
        && view.running == view.desired
        && d.running == d.desired
        && view.pending == 0
}

/// The tracked deployment is the PRIMARY, alone, with every task running and no failures: the
/// state a service without `rolloutState` must hold over two polls and 30 s to succeed.
pub fn steady(view: &ServiceView, tracked: &Tracked) -> bool {
    view.deployment(&tracked.deployment_id)
        .is_some_and(|d| d.is_primary() && d.failed == 0 && steady_on(view, d))
}

/// A release known to have failed while the verdict is still pending (its rollback under way):
/// at the deadline this is `failed`, not a mere timeout.
pub fn known_failure(
    view: &ServiceView,
    tracked: &Tracked,
    sd: Option<&ServiceDeploymentView>,
) -> Option<String> {
    if let Some(rb) = rollback_deployment(view, tracked) {
        return Some(format!(
            "{}; the rollback had not finished: {}",
            release_failure(view, tracked, sd),
            describe_primary(view, rb)
        ));
    }
    if let Some(sd) = sd.filter(|sd| sd.status.starts_with("ROLLBACK_")) {
        return Some(format!(
            "service deployment {}{}",
            sd.status,
            sd.status_reason
                .as_deref()
                .map_or_else(String::new, |r| format!(": {r}"))
        ));
    }
    let d = view.deployment(&tracked.deployment_id)?;
    (d.rollout() == Some("FAILED")).then(|| {
        format!(
            "{}; no rollback had started",
            d.rollout_state_reason
                .clone()
                .unwrap_or_else(|| format!("deployment {} FAILED", d.id))
        )
    })
}

/// Judge one poll of one service.
pub fn decide(view: &ServiceView, tracked: &Tracked, poll: &Poll) -> Verdict {
    if view.status == "DRAINING" || view.status == "INACTIVE" {
        return Verdict::Failed(format!(
            "service {} is {} (deleted while waiting)",
            view.name, view.status
        ));
    }
    let sd = poll.sd;
    if let Some(rb) = rollback_deployment(view, tracked) {
        return rollback_outcome(view, tracked, rb, sd);
    }
    let primary = view.primary();
    let Some(d) = view.deployment(&tracked.deployment_id) else {
        // The tracked deployment is gone: it finished being replaced (a rollback is above).
        return match (primary, sd.map(decide_from_service_deployment)) {
            (_, Some(v @ (Verdict::RolledBack(_) | Verdict::RollbackFailed(_)))) => v,
            (None, _) => Verdict::Failed(format!(
                "deployment {} is gone and {} has no PRIMARY deployment",
                tracked.deployment_id, view.name
            )),
            (Some(p), _) => Verdict::Replaced(describe_primary(view, p)),
        };
    };
    if d.rollout() == Some("FAILED") {
        return decide_failed(view, d, sd);
    }
    if !d.is_primary() {
        return match primary {
            Some(p) => Verdict::Replaced(describe_primary(view, p)),
            None => Verdict::Failed(format!(
                "deployment {} is {} and {} has no PRIMARY deployment",
                d.id, d.status, view.name
            )),
        };
    }
    // The tracked deployment is PRIMARY: a stopped ServiceDeployment means it was stopped. A
    // ROLLBACK_* one is read after DescribeServices and may be ahead of it: the next view shows
    // the deployment FAILED or the rollback PRIMARY, and that decides (known_failure meanwhile).
    if let Some(sd) = sd {
        match decide_from_service_deployment(sd) {
            v @ Verdict::Failed(_) => return v,
            _ if sd.status.starts_with("ROLLBACK_") => return Verdict::Pending,
            _ => {}
        }
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
    let done = match d.rollout() {
        Some("COMPLETED") => poll.until == Until::Deployed || steady_on(view, d),
        // No rolloutState (Classic Load Balancer): only the service-wide steady state can tell,
        // and a lucky poll of crash-looping tasks momentarily RUNNING must not: no failed
        // tasks, steady on this poll and the ones before, for NO_ROLLOUT_STATE_SETTLE.
        None => {
            d.failed == 0
                && steady_on(view, d)
                && poll
                    .steady_for
                    .is_some_and(|held| held >= NO_ROLLOUT_STATE_SETTLE)
        }
        _ => false,
    };
    if !done {
        return Verdict::Pending;
    }
    if d.desired == 0 && !poll.ever_ran && !poll.allow_empty {
        return Verdict::NoTasks(format!(
            "deployment {} ({}) completed with desiredCount 0: no task ever ran the new revision, so nothing shows it starts; pass --allow-empty to accept a service scaled to zero",
            d.id,
            short_td(&d.task_definition)
        ));
    }
    Verdict::Succeeded
}

/// The tracked deployment FAILED and no rollback deployment shows (yet).
fn decide_failed(
    view: &ServiceView,
    d: &DeploymentView,
    sd: Option<&ServiceDeploymentView>,
) -> Verdict {
    let why = d
        .rollout_state_reason
        .clone()
        .unwrap_or_else(|| format!("deployment {} FAILED", d.id));
    let stuck = || {
        Verdict::Failed(format!(
            "{why}; there is no COMPLETED deployment to roll back to: service {} is stuck on the FAILED deployment {} ({}) — fix it by hand or deploy a good revision",
            view.name,
            d.id,
            short_td(&d.task_definition)
        ))
    };
    let rollback_on = view
        .circuit_breaker
        .as_ref()
        .is_some_and(|cb| cb.enable && cb.rollback);
    match sd.map(|s| s.status.as_str()) {
        // ROLLBACK_FAILED with no rollback deployment ever shown: nothing to return to.
        Some("ROLLBACK_FAILED") => stuck(),
        Some("ROLLBACK_SUCCESSFUL") => Verdict::RolledBack(why),
        Some("ROLLBACK_REQUESTED" | "ROLLBACK_IN_PROGRESS") => Verdict::Pending,
        Some("STOPPED" | "STOP_REQUESTED") => Verdict::Failed(why),
        _ if !rollback_on => Verdict::Failed(why),
        // The circuit breaker rolls back to the last COMPLETED deployment: wait for it to show.
        _ if live(view).any(|o| o.id != d.id && o.rollout() == Some("COMPLETED")) => {
            Verdict::Pending
        }
        _ => stuck(),
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
pub use dk_core::ecs::task_definition_name as short_td;

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

    /// A poll with a task seen running and the previous poll steady: only the rule under test
    /// can hold a verdict back.
    fn at(until: Until, sd: Option<&ServiceDeploymentView>) -> Poll<'_> {
        Poll {
            until,
            sd,
            ever_ran: true,
            steady_for: Some(NO_ROLLOUT_STATE_SETTLE),
            allow_empty: false,
        }
    }

    fn tracked() -> Tracked {
        resolve(&in_flight(), &Track::CurrentPrimary, None).unwrap()
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
            decide(&in_flight(), &tracked(), &at(Until::Stable, None)),
            Verdict::Pending
        );
    }

    /// COMPLETED and drained on the tracked task definition succeeds.
    #[test]
    fn completed_and_drained_succeeds() {
        let done = service(NEW, vec![dep("ecs-svc/2", "PRIMARY", NEW, "COMPLETED", 2)]);
        assert_eq!(
            decide(&done, &tracked(), &at(Until::Stable, None)),
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
            decide(&draining, &tracked(), &at(Until::Stable, None)),
            Verdict::Pending
        );
        assert_eq!(
            decide(&draining, &tracked(), &at(Until::Deployed, None)),
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
            decide(&rolled, &tracked(), &at(Until::Stable, None)),
            Verdict::RolledBack(_)
        ));
        // Even without the reason text, the previous task definition back as PRIMARY is a rollback.
        p.rollout_state_reason = None;
        let rolled = service(OLD, vec![p]);
        assert!(matches!(
            decide(&rolled, &tracked(), &at(Until::Stable, None)),
            Verdict::RolledBack(_)
        ));
        // And when the rollback reuses the old deployment id (CB-guide's "Deployment 1 transitions").
        let reused = service(OLD, vec![dep("ecs-svc/1", "PRIMARY", OLD, "COMPLETED", 2)]);
        assert!(matches!(
            decide(&reused, &tracked(), &at(Until::Deployed, None)),
            Verdict::RolledBack(_)
        ));
    }

    /// Regression (issue 9 case 5): a rollback under way is not final — it may fail too. A FAILED
    /// deployment with a rolling-back PRIMARY is pending until the rollback COMPLETED…
    #[test]
    fn rollback_in_progress_is_not_final() {
        let mut failed = dep("ecs-svc/2", "ACTIVE", NEW, "FAILED", 0);
        failed.rollout_state_reason =
            Some("ECS deployment circuit breaker: tasks failed to start.".into());
        let mut back = dep("ecs-svc/3", "PRIMARY", OLD, "IN_PROGRESS", 1);
        back.rollout_state_reason =
            Some("ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/1.".into());
        let during = service(OLD, vec![back.clone(), failed.clone()]);
        assert_eq!(
            decide(&during, &tracked(), &at(Until::Stable, None)),
            Verdict::Pending
        );
        // …known to have failed, should the deadline come first.
        assert!(
            known_failure(&during, &tracked(), None)
                .is_some_and(|w| w.contains("tasks failed to start"))
        );
        back.rollout_state = Some("COMPLETED".into());
        let v = decide(
            &service(OLD, vec![back, failed]),
            &tracked(),
            &at(Until::Stable, None),
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
            decide(&view, &tracked(), &at(Until::Stable, None)),
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
            decide(&view, &tracked(), &at(Until::Stable, None)),
            Verdict::Replaced(_)
        ));
        let gone = service(
            NEWER,
            vec![dep("ecs-svc/4", "PRIMARY", NEWER, "COMPLETED", 2)],
        );
        assert!(matches!(
            decide(&gone, &tracked(), &at(Until::Stable, None)),
            Verdict::Replaced(_)
        ));
    }

    /// A COMPLETED PRIMARY does not count while the service is set to another task definition.
    #[test]
    fn service_task_definition_must_match() {
        let view = service(OLD, vec![dep("ecs-svc/2", "PRIMARY", NEW, "COMPLETED", 2)]);
        assert!(matches!(
            decide(&view, &tracked(), &at(Until::Deployed, None)),
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
        for pending in ["ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS", "IN_PROGRESS"] {
            assert_eq!(
                decide(
                    &in_flight(),
                    &tracked(),
                    &at(Until::Stable, Some(&sd(pending)))
                ),
                Verdict::Pending,
                "{pending}"
            );
        }
        // Read after DescribeServices, a ROLLBACK_* status may be ahead of the view: not final
        // while the view still shows the release rolling out, but a known failure.
        for ahead in ["ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"] {
            let s = sd(ahead);
            assert_eq!(
                decide(&in_flight(), &tracked(), &at(Until::Stable, Some(&s))),
                Verdict::Pending
            );
            assert!(known_failure(&in_flight(), &tracked(), Some(&s)).is_some());
        }
        assert!(matches!(
            decide(
                &in_flight(),
                &tracked(),
                &at(Until::Stable, Some(&sd("STOPPED")))
            ),
            Verdict::Failed(_)
        ));
        assert_eq!(
            decide(
                &in_flight(),
                &tracked(),
                &at(Until::Stable, Some(&sd("IN_PROGRESS")))
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
            decide(&view, &tracked(), &at(Until::Stable, Some(&sd))),
            Verdict::Replaced(_)
        ));
    }

    /// A service deleted while waiting fails instead of waiting for the deadline.
    #[test]
    fn draining_service_fails() {
        let mut view = in_flight();
        view.status = "DRAINING".into();
        assert!(matches!(
            decide(&view, &tracked(), &at(Until::Stable, None)),
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
            None,
        )
        .unwrap();
        let steady = service(NEW, vec![dep("ecs-svc/2", "PRIMARY", NEW, "", 2)]);
        assert_eq!(
            decide(&steady, &t, &at(Until::Deployed, None)),
            Verdict::Succeeded
        );
        let half = service(
            NEW,
            vec![
                dep("ecs-svc/2", "PRIMARY", NEW, "", 1),
                dep("ecs-svc/1", "ACTIVE", OLD, "", 1),
            ],
        );
        assert_eq!(
            decide(&half, &t, &at(Until::Deployed, None)),
            Verdict::Pending
        );
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
            decide(&done, &tracked(), &at(Until::Stable, None)),
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
            decide(&clb, &tracked(), &at(Until::Stable, None)),
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
            decide(&draining, &tracked(), &at(Until::Stable, None)),
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
            assert_eq!(
                resolve_created(&stale, &track, None, true),
                Ok(None),
                "{track:?}"
            );
            assert!(matches!(
                resolve_created(&stale, &track, None, false),
                Err(ResolveError::Invalid { .. })
            ));
        }
        // Once visible it is tracked as usual.
        assert_eq!(
            resolve_created(
                &in_flight(),
                &Track::DeploymentId("ecs-svc/2".into()),
                None,
                true
            )
            .unwrap()
            .map(|t| t.deployment_id),
            Some("ecs-svc/2".into())
        );
        // A refused controller stays an error.
        let mut cd = stale.clone();
        cd.controller = Some("CODE_DEPLOY".into());
        assert!(resolve_created(&cd, &Track::TaskDefinition(NEW.into()), None, true).is_err());
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
        let t = resolve(&during, &Track::CurrentPrimary, None).unwrap();
        assert_eq!(t.deployment_id, "ecs-svc/2");
        // Not final while the rollback runs (it may fail), but known to be a failure.
        assert_eq!(
            decide(&during, &t, &at(Until::Stable, None)),
            Verdict::Pending
        );
        assert!(known_failure(&during, &t, None).is_some());
        // Also when the rollback reuses the last completed deployment's id.
        back.id = "ecs-svc/1".into();
        back.rollout_state = Some("COMPLETED".into());
        let reused = service(OLD, vec![back.clone()]);
        let t = resolve(&reused, &Track::CurrentPrimary, None).unwrap();
        assert!(matches!(
            decide(&reused, &t, &at(Until::Stable, None)),
            Verdict::RolledBack(_)
        ));
        back.rollout_state = Some("IN_PROGRESS".into());
        // Regression (issue 9 case 1): a rollback that completed before the wait began is still
        // the release's rollback — no forward release came after it, or it would not be
        // PRIMARY. Following it as "the current deployment" was a false green.
        back.rollout_state = Some("COMPLETED".into());
        back.running = 2;
        let settled = service(OLD, vec![back]);
        let t = resolve(&settled, &Track::CurrentPrimary, None).unwrap();
        assert!(matches!(
            decide(&settled, &t, &at(Until::Stable, None)),
            Verdict::RolledBack(_)
        ));
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
            resolve_created(&stale, &Track::TaskDefinition(NEW.into()), None, true),
            Ok(None)
        );
    }

    /// --deployment-id and --task-definition select that deployment; unknown ones name the choices.
    #[test]
    fn resolves_explicit_tracks() {
        let v = in_flight();
        assert_eq!(
            resolve(&v, &Track::DeploymentId("ecs-svc/1".into()), None)
                .unwrap()
                .deployment_id,
            "ecs-svc/1"
        );
        assert_eq!(
            resolve(&v, &Track::TaskDefinition("web:2".into()), None)
                .unwrap()
                .deployment_id,
            "ecs-svc/2"
        );
        match resolve(&v, &Track::DeploymentId("ecs-svc/9".into()), None) {
            Err(ResolveError::Invalid { message, hint }) => {
                assert!(message.contains("ecs-svc/9"));
                assert!(hint.contains("ecs-svc/2 (PRIMARY, web:2)"), "{hint}");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            resolve(&v, &Track::TaskDefinition("web:7".into()), None),
            Err(ResolveError::Invalid { .. })
        ));
        let sd = "arn:aws:ecs:us-east-1:123456789012:service-deployment/c/web/abc";
        assert_eq!(
            resolve(&v, &Track::DeploymentId(sd.into()), None),
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
            let t = resolve(&after, &track, None).unwrap();
            assert!(
                matches!(
                    decide(&after, &t, &at(Until::Stable, None)),
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
            resolve(&v, &Track::CurrentPrimary, None),
            Err(ResolveError::Invalid { .. })
        ));
    }

    fn rolling_back(mut d: DeploymentView) -> DeploymentView {
        d.rollout_state_reason =
            Some("ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/1.".into());
        d
    }

    fn sd(arn: &str, status: &str) -> ServiceDeploymentView {
        ServiceDeploymentView {
            arn: arn.into(),
            status: status.into(),
            ..Default::default()
        }
    }

    /// Regression (issue 9 case 1, forced deployments): the rollback target runs the very task
    /// definition asked for. `--task-definition` took the rollback PRIMARY for the release.
    /// Seen by its reason text, or — without one — by the current ServiceDeployment's status.
    #[test]
    fn forced_release_rolled_back_to_its_twin_is_rolled_back() {
        let rb = rolling_back(dep("ecs-svc/3", "PRIMARY", OLD, "COMPLETED", 2));
        let after = service(OLD, vec![rb.clone()]);
        for track in [Track::TaskDefinition(OLD.into()), Track::CurrentPrimary] {
            let t = resolve(&after, &track, None).unwrap();
            assert_eq!(t.rolled_back_by.as_deref(), Some("ecs-svc/3"), "{track:?}");
            assert!(
                matches!(
                    decide(&after, &t, &at(Until::Stable, None)),
                    Verdict::RolledBack(_)
                ),
                "{track:?}"
            );
        }
        // No reason text: the current ServiceDeployment in ROLLBACK_SUCCESSFUL says it.
        let mut quiet = dep("ecs-svc/3", "PRIMARY", OLD, "COMPLETED", 2);
        quiet.rollout_state_reason = Some("ECS deployment ecs-svc/3 completed.".into());
        let mut view = service(OLD, vec![quiet]);
        view.current_service_deployment = Some("arn:sd/1".into());
        let current = sd("arn:sd/1", "ROLLBACK_SUCCESSFUL");
        let t = resolve(
            &view,
            &Track::TaskDefinition("web:1".into()),
            Some(&current),
        )
        .unwrap();
        assert!(matches!(
            decide(&view, &t, &at(Until::Stable, Some(&current))),
            Verdict::RolledBack(_)
        ));
        // Still in progress with the failed twin listed: pending, following the failed one.
        let failed = dep("ecs-svc/2", "ACTIVE", OLD, "FAILED", 0);
        let during = service(
            OLD,
            vec![
                rolling_back(dep("ecs-svc/3", "PRIMARY", OLD, "IN_PROGRESS", 1)),
                failed,
            ],
        );
        let t = resolve(&during, &Track::TaskDefinition(OLD.into()), None).unwrap();
        assert_eq!(t.deployment_id, "ecs-svc/2");
        assert_eq!(
            decide(&during, &t, &at(Until::Stable, None)),
            Verdict::Pending
        );
    }

    /// Regression (issue 9 case 2): after a forced UpdateService whose answer was stale, the
    /// deployment "running the target task definition" is the OLD one. NewDeployment never
    /// follows a deployment that existed before the call.
    #[test]
    fn new_deployment_is_never_a_pre_existing_one() {
        let track = Track::NewDeployment {
            task_definition: OLD.into(),
            existing: vec!["ecs-svc/1".into()],
        };
        let stale = service(OLD, vec![dep("ecs-svc/1", "PRIMARY", OLD, "COMPLETED", 2)]);
        assert!(matches!(
            resolve(&stale, &track, None),
            Err(ResolveError::Invalid { .. })
        ));
        // Not visible yet: wait (always, not only during the grace).
        assert_eq!(resolve_created(&stale, &track, None, false), Ok(None));
        let visible = service(
            OLD,
            vec![
                dep("ecs-svc/7", "PRIMARY", OLD, "IN_PROGRESS", 0),
                dep("ecs-svc/1", "ACTIVE", OLD, "COMPLETED", 2),
            ],
        );
        let t = resolve(&visible, &track, None).unwrap();
        assert_eq!(t.deployment_id, "ecs-svc/7");
        // Already failed and rolled back by the time it shows: rolled back, not the twin's green.
        let rolled = service(
            OLD,
            vec![rolling_back(dep(
                "ecs-svc/8",
                "PRIMARY",
                OLD,
                "COMPLETED",
                2,
            ))],
        );
        let t = resolve(&rolled, &track, None).unwrap();
        assert!(matches!(
            decide(&rolled, &t, &at(Until::Stable, None)),
            Verdict::RolledBack(_)
        ));
    }

    /// Regression (issue 9 case 5): a rollback that FAILED is `rollback_failed`, loud.
    #[test]
    fn failed_rollback_is_rollback_failed() {
        let failed = dep("ecs-svc/2", "ACTIVE", NEW, "FAILED", 0);
        let rb = rolling_back(dep("ecs-svc/3", "PRIMARY", OLD, "FAILED", 0));
        let view = service(OLD, vec![rb, failed]);
        match decide(&view, &tracked(), &at(Until::Stable, None)) {
            Verdict::RollbackFailed(why) => assert!(why.contains("stuck"), "{why}"),
            other => panic!("{other:?}"),
        }
        // The ServiceDeployment says so before the deployment does.
        let rb = rolling_back(dep("ecs-svc/3", "PRIMARY", OLD, "IN_PROGRESS", 0));
        let view = service(OLD, vec![rb, dep("ecs-svc/2", "ACTIVE", NEW, "FAILED", 0)]);
        assert!(matches!(
            decide(
                &view,
                &tracked(),
                &at(Until::Stable, Some(&sd("", "ROLLBACK_FAILED")))
            ),
            Verdict::RollbackFailed(_)
        ));
    }

    /// Regression (issue 9 case 5): FAILED with rollback on but no COMPLETED deployment to
    /// return to is `failed`, naming the service as stuck — not `rolled_back`.
    #[test]
    fn failed_with_nothing_to_return_to_is_failed_and_stuck() {
        let mut d = dep("ecs-svc/2", "PRIMARY", NEW, "FAILED", 0);
        d.rollout_state_reason =
            Some("ECS deployment circuit breaker: tasks failed to start.".into());
        let alone = service(NEW, vec![d.clone()]);
        let t = resolve(&alone, &Track::CurrentPrimary, None).unwrap();
        for sd_status in [None, Some("ROLLBACK_FAILED")] {
            let s = sd_status.map(|st| sd("", st));
            match decide(&alone, &t, &at(Until::Stable, s.as_ref())) {
                Verdict::Failed(why) => {
                    assert!(why.contains("service web is stuck"), "{why}")
                }
                other => panic!("{sd_status:?}: {other:?}"),
            }
        }
        // Re-deployed while an earlier rollback was IN_PROGRESS: nothing COMPLETED either.
        let busy = service(
            NEW,
            vec![
                d.clone(),
                rolling_back(dep("ecs-svc/1b", "ACTIVE", OLD, "IN_PROGRESS", 1)),
            ],
        );
        assert!(matches!(
            decide(&busy, &t, &at(Until::Stable, None)),
            Verdict::Failed(_)
        ));
        // With a COMPLETED deployment listed, the rollback is about to start: not final.
        let can = service(
            NEW,
            vec![d, dep("ecs-svc/1", "ACTIVE", OLD, "COMPLETED", 2)],
        );
        assert_eq!(decide(&can, &t, &at(Until::Stable, None)), Verdict::Pending);
    }

    /// Regression (issue 9 case 6): a deployment of zero tasks COMPLETED, no task ever ran it:
    /// `no_tasks` naming --allow-empty; accepted with it; a task seen running proves it.
    #[test]
    fn desired_zero_is_no_tasks_unless_allowed() {
        let mut d = dep("ecs-svc/2", "PRIMARY", NEW, "COMPLETED", 0);
        d.desired = 0;
        let mut view = service(NEW, vec![d]);
        view.desired = 0;
        let mut poll = at(Until::Stable, None);
        poll.ever_ran = false;
        match decide(&view, &tracked(), &poll) {
            Verdict::NoTasks(why) => assert!(why.contains("--allow-empty"), "{why}"),
            other => panic!("{other:?}"),
        }
        poll.allow_empty = true;
        assert_eq!(decide(&view, &tracked(), &poll), Verdict::Succeeded);
        poll.allow_empty = false;
        poll.ever_ran = true;
        assert_eq!(decide(&view, &tracked(), &poll), Verdict::Succeeded);
    }

    /// Regression (issue 9 case 7): without rolloutState, one steady poll is not enough, and
    /// failed tasks forbid success.
    #[test]
    fn no_rollout_state_needs_two_steady_polls_and_no_failures() {
        let view = service(NEW, vec![dep("ecs-svc/2", "PRIMARY", NEW, "", 2)]);
        let mut poll = at(Until::Stable, None);
        poll.steady_for = None;
        assert_eq!(decide(&view, &tracked(), &poll), Verdict::Pending);
        assert!(steady(&view, &tracked()));
        // Steady on the poll before, but not for long: crash loops live that long.
        poll.steady_for = Some(Duration::from_secs(5));
        assert_eq!(decide(&view, &tracked(), &poll), Verdict::Pending);
        poll.steady_for = Some(NO_ROLLOUT_STATE_SETTLE);
        assert_eq!(decide(&view, &tracked(), &poll), Verdict::Succeeded);
        let mut crashing = dep("ecs-svc/2", "PRIMARY", NEW, "", 2);
        crashing.failed = 4;
        let view = service(NEW, vec![crashing]);
        assert!(!steady(&view, &tracked()));
        assert_eq!(decide(&view, &tracked(), &poll), Verdict::Pending);
    }

    /// ecs-roll's return path: a PRIMARY put back by ECS's own rollback is what it waits for.
    #[test]
    fn return_track_accepts_a_rollback_primary() {
        let rb = rolling_back(dep("ecs-svc/3", "PRIMARY", OLD, "COMPLETED", 2));
        let view = service(OLD, vec![rb]);
        let t = resolve(&view, &Track::Return(OLD.into()), None).unwrap();
        assert_eq!(t.deployment_id, "ecs-svc/3");
        assert_eq!(
            decide(&view, &t, &at(Until::Stable, None)),
            Verdict::Succeeded
        );
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
