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

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::time::Duration;

use aws_sdk_ecs::Client;
use dk_core::duration::format_duration;
use dk_core::poll::{Deadline, next_gap};
use dk_core::{Error, Result, Ui};
use tokio::time::Instant;

use crate::ecs_reads::{self, ClusterSnapshot, ReadError};
pub use crate::model::{
    ContainerExit, ServiceEvent, ServiceOutcome, StoppedTask, Target, Track, Until, WaitResult,
};
use crate::progress;
use crate::verdict::{
    self, DeploymentView, ResolveError, ServiceDeploymentView, ServiceView, Tracked, Verdict,
};

/// How long and how often to poll.
#[derive(Debug, Clone, Copy)]
pub struct WaitOptions {
    pub deadline: dk_core::poll::Deadline,
    pub interval: Duration,
    pub until: Until,
    /// For this long from the start, a tracked deployment id or task definition that the
    /// service does not show yet is waited for instead of refused: the caller has just created
    /// it and DescribeServices is eventually consistent. (`Track::NewDeployment` is always
    /// waited for, up to the deadline.)
    pub created_grace: Duration,
    /// A deployment of zero tasks (desiredCount 0) may succeed; otherwise it is `NoTasks`.
    pub allow_empty: bool,
}

/// How long `wait-stable` waits for a `--deployment-id` / `--task-definition` that the service
/// does not show yet (ECS is eventually consistent right after UpdateService).
pub const NOT_YET_VISIBLE_GRACE: Duration = Duration::from_secs(30);

/// Wait for every target's deployment; see the module docs for the contract.
pub async fn wait(
    ecs: &Client,
    ui: &Ui,
    targets: &[Target],
    opts: &WaitOptions,
) -> Result<Vec<ServiceOutcome>> {
    check_targets(targets)?;
    let started = Instant::now();
    let mut watches = start_watches(ui, targets, opts);
    let mut round = Round::default();
    loop {
        let poll_started = Instant::now();
        if poll(ecs, ui, opts, &mut watches, &mut round, started).await? == Flow::Stop {
            break;
        }
        let left = watches.iter().filter(|w| !w.decided()).count();
        if left == 0 || opts.deadline.expired() {
            break;
        }
        ui.status(&format!(
            "waiting for {left} of {} service{}",
            watches.len(),
            if watches.len() == 1 { "" } else { "s" }
        ));
        tokio::time::sleep_until(
            (poll_started + next_gap(opts.interval)).min(opts.deadline.instant()),
        )
        .await;
        if opts.deadline.expired() {
            break;
        }
    }
    ui.clear_status();
    time_out_the_rest(ecs, ui, &mut watches, started).await?;
    ui.end_group();
    Ok(watches.into_iter().map(Watch::into_outcome).collect())
}

/// One watch per target, and the log group the wait prints into.
fn start_watches(ui: &Ui, targets: &[Target], opts: &WaitOptions) -> Vec<Watch> {
    let clusters: BTreeSet<&str> = targets.iter().map(|t| t.sref.cluster.as_str()).collect();
    let watches: Vec<Watch> = targets
        .iter()
        .map(|t| Watch::new(t.clone(), label(t, clusters.len() > 1)))
        .collect();
    let names: Vec<&str> = watches.iter().map(|w| w.label.as_str()).collect();
    ui.group(&format!(
        "Waiting for {} ({} left, polling every {})",
        names.join(", "),
        format_duration(opts.deadline.remaining()),
        format_duration(opts.interval)
    ));
    watches
}

/// Whether the poll loop goes on.
#[derive(Debug, PartialEq, Eq)]
enum Flow {
    Continue,
    /// The deadline passed during a poll.
    Stop,
}

/// What the polls remember from one to the next.
#[derive(Default)]
struct Round {
    /// Polls in a row on which DescribeServices failed with a retryable error.
    retry_streak: u32,
    /// DescribeServiceDeployments failed once already (warned about once).
    sd_warned: bool,
}

/// One poll: read the services, their ServiceDeployments when wanted, choose what to follow,
/// judge, and explain new failures.
async fn poll(
    ecs: &Client,
    ui: &Ui,
    opts: &WaitOptions,
    watches: &mut [Watch],
    round: &mut Round,
    started: Instant,
) -> Result<Flow> {
    match read_services(ecs, ui, opts, watches, started).await? {
        ServicesRead::Stop => return Ok(Flow::Stop),
        ServicesRead::Read => round.retry_streak = 0,
        ServicesRead::Retry(error) => warn_retrying(ui, round, &error),
    }
    if read_service_deployments(ecs, ui, opts, watches, round).await == Flow::Stop {
        return Ok(Flow::Stop);
    }
    let just_created = started.elapsed() < opts.created_grace;
    let mut problems = Problems::default();
    for w in watches.iter_mut().filter(|w| !w.decided() && w.observed) {
        w.resolve(ui, just_created, &mut problems);
    }
    if !problems.is_empty() {
        return Err(problems.into_error(ecs, watches, &opts.deadline).await);
    }
    let mut newly_failed = Vec::new();
    for (i, w) in watches.iter_mut().enumerate() {
        if w.decided() || !w.observed {
            continue;
        }
        w.judge(ui, opts, started.elapsed());
        if w.decided() && w.verdict != Verdict::Succeeded {
            newly_failed.push(i);
        }
    }
    if !newly_failed.is_empty()
        && opts
            .deadline
            .run(explain_failures(ecs, ui, watches, &newly_failed))
            .await
            .is_none()
    {
        return Ok(Flow::Stop);
    }
    Ok(Flow::Continue)
}

/// How one DescribeServices round went.
enum ServicesRead {
    /// The deadline passed while reading.
    Stop,
    /// Every answer was folded in.
    Read,
    /// A read failed in a way the next poll may not: this error.
    Retry(Error),
}

/// Say that DescribeServices is being retried — on the first failure in a row and then ever
/// more rarely (the 2nd, 4th, 8th…), so a long outage does not flood the log.
fn warn_retrying(ui: &Ui, round: &mut Round, error: &Error) {
    round.retry_streak += 1;
    let streak = round.retry_streak;
    if streak == 1 || streak.is_power_of_two() {
        ui.warn(&format!(
            "{} (poll {streak} in a row); retrying at the next poll, the deadline stands",
            error.message()
        ));
    }
}

/// DescribeServices for the undecided services, folded into their watches. Request problems
/// (a missing cluster or service) end the wait; a retryable failure waits for the next poll.
async fn read_services(
    ecs: &Client,
    ui: &Ui,
    opts: &WaitOptions,
    watches: &mut [Watch],
    started: Instant,
) -> Result<ServicesRead> {
    let pending: Vec<usize> = (0..watches.len())
        .filter(|&i| !watches[i].decided())
        .collect();
    let Some(answers) = opts
        .deadline
        .run(describe_round(ecs, watches, &pending))
        .await
    else {
        return Ok(ServicesRead::Stop);
    };
    let mut problems = Problems::default();
    let mut retried = None;
    for (cluster, idx, answer) in answers {
        match answer {
            Ok(snapshot) => apply_snapshot(
                ui,
                watches,
                &idx,
                snapshot,
                &mut problems,
                started.elapsed(),
            ),
            Err(ReadError::ClusterNotFound) => problems.clusters.push(cluster),
            Err(ReadError::Retryable { error, unreachable }) => {
                if unreachable && idx.iter().any(|&i| !watches[i].observed) {
                    return Err(error);
                }
                retried = Some(error);
            }
            Err(ReadError::Fatal(e)) => return Err(e),
        }
    }
    if !problems.is_empty() {
        return Err(problems.into_error(ecs, watches, &opts.deadline).await);
    }
    Ok(retried.map_or(ServicesRead::Read, ServicesRead::Retry))
}

/// ServiceDeployments: the service's current one before choosing what to follow (a
/// ROLLBACK_* status there means the PRIMARY is a rollback), a given ARN to resolve, and
/// once tasks fail the real failure count and how a rollback ends.
async fn read_service_deployments(
    ecs: &Client,
    ui: &Ui,
    opts: &WaitOptions,
    watches: &mut [Watch],
    round: &mut Round,
) -> Flow {
    let wanted: Vec<String> = watches
        .iter()
        .filter(|w| !w.decided() && w.observed)
        .filter_map(|w| w.service_deployment_wanted())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if wanted.is_empty() {
        return Flow::Continue;
    }
    match opts
        .deadline
        .run(ecs_reads::describe_service_deployments(ecs, &wanted))
        .await
    {
        None => return Flow::Stop,
        Some(Ok(sds)) => {
            for w in watches.iter_mut() {
                let current = w.current_service_deployment_wanted();
                if let Some(arn) = w.service_deployment_arn()
                    && let Some(sd) = sds.iter().find(|sd| sd.arn == arn)
                {
                    w.sd = Some(sd.clone());
                } else if let Some(arn) = current
                    && let Some(sd) = sds.iter().find(|sd| sd.arn == arn)
                {
                    w.current_sd = Some(sd.clone());
                }
            }
        }
        Some(Err(msg)) => {
            if !round.sd_warned {
                ui.warn(&format!("{msg}; going on with DescribeServices alone"));
                round.sd_warned = true;
            }
        }
    }
    Flow::Continue
}

/// The deadline passed: the undecided are timed out, with their last state and, within a
/// short budget that keeps the exit close to the deadline, the tasks that stopped. A
/// deployment an UpdateService started that never showed is a runtime error instead.
async fn time_out_the_rest(
    ecs: &Client,
    ui: &Ui,
    watches: &mut [Watch],
    started: Instant,
) -> Result<()> {
    let late: Vec<usize> = (0..watches.len())
        .filter(|&i| !watches[i].decided())
        .collect();
    if let Some(w) = late.iter().map(|&i| &watches[i]).find(|w| {
        w.observed && w.tracked.is_none() && matches!(w.target.track, Track::NewDeployment { .. })
    }) {
        ui.clear_status();
        ui.end_group();
        return Err(never_appeared(w));
    }
    if late.is_empty() {
        return Ok(());
    }
    for &i in &late {
        let w = &mut watches[i];
        w.decided_after = Some(started.elapsed());
        // A release known to have failed (its rollback still running) is a failure, not a
        // mere timeout.
        match w.known_failure() {
            Some(why) => {
                w.verdict = Verdict::Failed(why);
                w.finish(ui, started.elapsed());
            }
            None => {
                w.timed_out = true;
                ui.info(&format!("✘ {}: timed out: {}", w.label, w.last_state()));
            }
        }
    }
    // Bounded so that the exit stays within DIAGNOSIS_BUDGET_AT_DEADLINE of the deadline.
    let _ = tokio::time::timeout(
        DIAGNOSIS_BUDGET_AT_DEADLINE,
        explain_failures(ecs, ui, watches, &late),
    )
    .await;
    Ok(())
}

/// How long the stopped-task lookup may run after the deadline has passed: the exit comes at
/// most this long after the deadline (the promise is 100 ms; the rest is output).
pub const DIAGNOSIS_BUDGET_AT_DEADLINE: Duration = Duration::from_millis(50);

/// The runtime error for a deployment an UpdateService started that never showed.
fn never_appeared(w: &Watch) -> Error {
    let Track::NewDeployment {
        task_definition, ..
    } = &w.target.track
    else {
        return Error::runtime(format!("{}: the deployment never appeared", w.label));
    };
    let shows = w.view.as_ref().map_or_else(String::new, |v| {
        let list: Vec<String> = v
            .deployments
            .iter()
            .map(|d| {
                format!(
                    "{} ({}, {})",
                    d.id,
                    d.status,
                    verdict::short_td(&d.task_definition)
                )
            })
            .collect();
        format!("; DescribeServices still shows only {}", list.join(", "))
    });
    Error::runtime(format!(
        "{}: UpdateService to {} succeeded, but no new deployment appeared before the deadline{shows}",
        w.label,
        verdict::short_td(task_definition)
    ))
    .with_hint(format!(
        "the service may be deploying unwatched: check it in the console (aws ecs describe-services --cluster {} --services {}) and wait for it with wait-stable --deployment-id",
        w.target.sref.cluster,
        short_name(&w.target.sref.name)
    ))
}
/// Stopped tasks kept per failed service.
const STOPPED_TASKS_KEPT: usize = 5;
/// Events shown on the first poll when the tracked deployment's start is unknown.
const EVENTS_WITHOUT_START: usize = 5;
/// Events kept per service in the outcome.
const EVENTS_KEPT: usize = 50;

fn check_targets(targets: &[Target]) -> Result<()> {
    if targets.is_empty() {
        return Err(
            Error::usage("no service to wait for").with_hint("pass --service NAME (repeatable)")
        );
    }
    let mut seen = BTreeSet::new();
    for t in targets {
        if t.sref.cluster.is_empty() || t.sref.name.is_empty() {
            return Err(Error::usage("a service and its cluster must both be named"));
        }
        if !seen.insert((t.sref.cluster.as_str(), short_name(&t.sref.name))) {
            return Err(Error::usage(format!(
                "service {} in cluster {} is listed twice",
                t.sref.name, t.sref.cluster
            )));
        }
    }
    Ok(())
}

/// The last path segment of an ARN (`…:service/cluster/web` → `web`), or the name itself.
use dk_core::ecs::last_segment as short_name;

fn label(t: &Target, with_cluster: bool) -> String {
    let service = short_name(&t.sref.name);
    if with_cluster {
        format!("{}/{service}", short_name(&t.sref.cluster))
    } else {
        service.to_string()
    }
}

/// DescribeServices for every undecided service: grouped by cluster, 10 a call, all at once.
async fn describe_round(
    ecs: &Client,
    watches: &[Watch],
    pending: &[usize],
) -> Vec<(
    String,
    Vec<usize>,
    std::result::Result<ClusterSnapshot, ReadError>,
)> {
    let mut by_cluster: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for &i in pending {
        by_cluster
            .entry(watches[i].target.sref.cluster.as_str())
            .or_default()
            .push(i);
    }
    let calls = by_cluster.into_iter().flat_map(|(cluster, idx)| {
        idx.chunks(ecs_reads::DESCRIBE_SERVICES_BATCH)
            .map(|chunk| {
                let ids: Vec<String> = chunk
                    .iter()
                    .map(|&i| watches[i].target.sref.name.clone())
                    .collect();
                let chunk = chunk.to_vec();
                async move {
                    (
                        cluster.to_string(),
                        chunk,
                        ecs_reads::describe_services(ecs, cluster, &ids).await,
                    )
                }
            })
            .collect::<Vec<_>>()
    });
    futures_util::future::join_all(calls).await
}

/// Request problems found on a poll; they end the wait with one error naming all of them.
#[derive(Default)]
struct Problems {
    clusters: Vec<String>,
    /// `(watch index, reason)`: MISSING, DRAINING, INACTIVE on the first sighting.
    services: Vec<(usize, String)>,
    invalid: Vec<(String, String)>,
}

impl Problems {
    fn is_empty(&self) -> bool {
        self.clusters.is_empty() && self.services.is_empty() && self.invalid.is_empty()
    }

    async fn into_error(self, ecs: &Client, watches: &[Watch], deadline: &Deadline) -> Error {
        if !self.clusters.is_empty() {
            let list = self.clusters.join(", ");
            let many = self.clusters.len() > 1;
            return Error::usage(format!(
                "cluster{} {list} not found",
                if many { "s" } else { "" }
            ))
            .with_hint(
                "check --cluster (a cluster name or ARN) and the region (--region / AWS_REGION)",
            );
        }
        if !self.services.is_empty() {
            let mut parts = Vec::new();
            let mut hints = Vec::new();
            for (i, reason) in &self.services {
                let t = &watches[*i].target;
                let name = short_name(&t.sref.name);
                if reason == "MISSING" {
                    parts.push(format!(
                        "service {name} not found in cluster {}",
                        t.sref.cluster
                    ));
                    let known = deadline
                        .run(tokio::time::timeout(
                            Duration::from_secs(5),
                            ecs_reads::service_names(ecs, &t.sref.cluster),
                        ))
                        .await
                        .and_then(|r| r.ok())
                        .unwrap_or_default();
                    if let Some(near) =
                        dk_core::error::did_you_mean(name, known.iter().map(String::as_str))
                    {
                        hints.push(format!("did you mean `{near}`?"));
                    }
                } else {
                    parts.push(format!(
                        "service {name} in cluster {} is {reason}",
                        t.sref.cluster
                    ));
                    hints.push(format!("{name} is {reason}: it was deleted; re-create it or wait for another service"));
                }
            }
            if hints.is_empty() {
                hints.push("check --service and --cluster (names or ARNs) and the region".into());
            }
            return Error::usage(parts.join("; ")).with_hint(hints.join("; "));
        }
        let (messages, hints): (Vec<String>, Vec<String>) = self.invalid.into_iter().unzip();
        Error::usage(messages.join("; ")).with_hint(hints.join("; "))
    }
}

/// Fold one cluster's DescribeServices answer into the watches it was asked for.
fn apply_snapshot(
    ui: &Ui,
    watches: &mut [Watch],
    idx: &[usize],
    snapshot: ClusterSnapshot,
    problems: &mut Problems,
    elapsed: Duration,
) {
    for &i in idx {
        let w = &mut watches[i];
        let wanted = w.target.sref.name.as_str();
        let found = snapshot.services.iter().find(|s| {
            s.view.arn == wanted
                || s.view.name == wanted
                || (wanted.starts_with("arn:") && s.view.name == short_name(wanted))
        });
        let Some(found) = found else {
            let reason = snapshot
                .failures
                .iter()
                .find(|(arn, _)| arn == wanted || short_name(arn) == short_name(wanted))
                .map_or_else(|| "MISSING".to_string(), |(_, r)| r.clone());
            if w.observed {
                w.verdict = Verdict::Failed(format!("service {} disappeared ({reason})", w.label));
                w.finish(ui, elapsed);
            } else {
                problems.services.push((i, reason));
            }
            continue;
        };
        let view = found.view.clone();
        if !w.observed && (view.status == "DRAINING" || view.status == "INACTIVE") {
            problems.services.push((i, view.status.clone()));
            continue;
        }
        w.observed = true;
        w.latest_events = found.events.clone();
        w.view = Some(view);
        w.record_events(ui);
    }
}

/// Look up the stopped tasks of each newly failed deployment and print what explains the failure.
async fn explain_failures(ecs: &Client, ui: &Ui, watches: &mut [Watch], idx: &[usize]) {
    let lookups = idx.iter().filter_map(|&i| {
        let w = &watches[i];
        let deployment = w.tracked.as_ref()?.deployment_id.clone();
        if deployment.is_empty() {
            return None;
        }
        let cluster = w.target.sref.cluster.clone();
        let service = w.target.sref.name.clone();
        Some(async move {
            (
                i,
                ecs_reads::stopped_tasks(ecs, &cluster, &service, &deployment, STOPPED_TASKS_KEPT)
                    .await,
            )
        })
    });
    for (i, found) in futures_util::future::join_all(lookups).await {
        let w = &mut watches[i];
        match found {
            Ok(tasks) => {
                for t in &tasks {
                    ui.info(&format!(
                        "{}: stopped {}",
                        w.label,
                        progress::stopped_task_line(t)
                    ));
                }
                w.stopped_tasks = tasks;
            }
            Err(msg) => ui.warn(&format!(
                "{}: could not list the stopped tasks: {msg}",
                w.label
            )),
        }
    }
}

/// Everything the waiter knows about one service.
struct Watch {
    target: Target,
    label: String,
    /// DescribeServices has shown the service at least once.
    observed: bool,
    tracked: Option<Tracked>,
    /// A ServiceDeployment ARN to resolve before a deployment can be tracked.
    pending_sd_arn: Option<String>,
    view: Option<ServiceView>,
    /// The latest DescribeServices events, newest first.
    latest_events: Vec<(f64, ServiceEvent)>,
    /// The tracked deployment's ServiceDeployment.
    sd: Option<ServiceDeploymentView>,
    /// Before a deployment is tracked: the service's current ServiceDeployment.
    current_sd: Option<ServiceDeploymentView>,
    /// A task of the tracked deployment has been seen RUNNING.
    ever_ran: bool,
    /// Since when the tracked deployment has been steady on every poll (`verdict::steady`).
    steady_since: Option<Instant>,
    seen_events: HashSet<String>,
    /// Oldest first.
    events: Vec<ServiceEvent>,
    last_line: String,
    verdict: Verdict,
    timed_out: bool,
    decided_after: Option<Duration>,
    stopped_tasks: Vec<StoppedTask>,
}

impl Watch {
    fn new(target: Target, label: String) -> Self {
        Watch {
            target,
            label,
            observed: false,
            tracked: None,
            pending_sd_arn: None,
            view: None,
            latest_events: Vec::new(),
            sd: None,
            current_sd: None,
            ever_ran: false,
            steady_since: None,
            seen_events: HashSet::new(),
            events: Vec::new(),
            last_line: String::new(),
            verdict: Verdict::Pending,
            timed_out: false,
            decided_after: None,
            stopped_tasks: Vec::new(),
        }
    }

    fn decided(&self) -> bool {
        self.verdict.is_final() || self.timed_out
    }

    fn service_deployment_arn(&self) -> Option<&str> {
        self.pending_sd_arn
            .as_deref()
            .or_else(|| self.tracked.as_ref()?.service_deployment_arn.as_deref())
    }

    fn tracked_deployment(&self) -> Option<&DeploymentView> {
        self.view
            .as_ref()?
            .deployment(&self.tracked.as_ref()?.deployment_id)
    }

    /// The ServiceDeployment is read when it must be resolved, and once the tracked deployment
    /// has failures or has stopped being the PRIMARY (its status then tells rollback from stop).
    fn service_deployment_wanted(&self) -> Option<String> {
        if let Some(arn) = &self.pending_sd_arn {
            return Some(arn.clone());
        }
        if let Some(arn) = self.current_service_deployment_wanted() {
            return Some(arn);
        }
        let arn = self.tracked.as_ref()?.service_deployment_arn.clone()?;
        let troubled = self.tracked_deployment().is_none_or(|d| {
            d.failed > 0 || !d.is_primary() || d.rollout_state.as_deref() == Some("FAILED")
        });
        troubled.then_some(arn)
    }

    /// Before a deployment is tracked, the service's current ServiceDeployment is read: its
    /// status tells a rollback PRIMARY from a release (`verdict::resolve`).
    fn current_service_deployment_wanted(&self) -> Option<String> {
        if self.tracked.is_some() || self.pending_sd_arn.is_some() {
            return None;
        }
        self.view.as_ref()?.current_service_deployment.clone()
    }

    /// Choose the deployment to follow, once the service (and its current ServiceDeployment,
    /// when the API answers) has been read.
    fn resolve(&mut self, ui: &Ui, just_created: bool, problems: &mut Problems) {
        if self.tracked.is_some() {
            return;
        }
        let Some(view) = &self.view else { return };
        let current = self
            .current_sd
            .as_ref()
            .filter(|sd| view.current_service_deployment.as_deref() == Some(sd.arn.as_str()));
        match verdict::resolve_created(view, &self.target.track, current, just_created) {
            Ok(None) => {}
            Ok(Some(mut t)) => {
                let what = match (t.deployment_id.as_str(), t.task_definition.as_str()) {
                    _ if t.rolled_back_by.is_some() => format!(
                        "the release{} was rolled back by deployment {}; waiting for the rollback to end",
                        match t.deployment_id.as_str() {
                            "" => String::new(),
                            id => format!(" (deployment {id})"),
                        },
                        t.rolled_back_by.as_deref().unwrap_or("?")
                    ),
                    ("", "") => "the circuit breaker is rolling back the release".into(),
                    ("", td) => format!("the deployment of {} is gone", verdict::short_td(td)),
                    (id, "") => format!("deployment {id} is gone"),
                    (id, td) if view.primary().is_some_and(|p| p.id == id) => {
                        format!("following deployment {id} ({})", verdict::short_td(td))
                    }
                    (id, td) => format!(
                        "following deployment {id} ({}), not the PRIMARY",
                        verdict::short_td(td)
                    ),
                };
                ui.info(&format!("{}: {what}", self.label));
                // A rollback PRIMARY at start: the failed release's ServiceDeployment is the
                // service's current one, and says how the rollback ends.
                if t.rolled_back_by.is_some() && t.service_deployment_arn.is_none() {
                    t.service_deployment_arn = view.current_service_deployment.clone();
                    self.sd = self.current_sd.take();
                }
                self.tracked = Some(t);
                self.pending_sd_arn = None;
                self.record_events(ui);
            }
            Err(ResolveError::Invalid { message, hint }) => problems.invalid.push((message, hint)),
            Err(ResolveError::NeedServiceDeployment(arn)) => self.pending_sd_arn = Some(arn),
        }
    }

    /// The release is known to have failed though no verdict is final (its rollback runs).
    fn known_failure(&self) -> Option<String> {
        verdict::known_failure(
            self.view.as_ref()?,
            self.tracked.as_ref()?,
            self.sd.as_ref(),
        )
    }

    /// Circuit-breaker failures of the tracked deployment and the threshold they count toward.
    fn circuit_breaker(&self) -> Option<(i32, Option<i32>)> {
        let view = self.view.as_ref()?;
        let d = self.tracked_deployment()?;
        if let Some(sd) = &self.sd
            && let (Some(count), Some(threshold)) = (sd.failure_count, sd.threshold)
        {
            return Some((count.max(d.failed), Some(threshold)));
        }
        let cb = view.circuit_breaker.as_ref()?;
        Some((d.failed, verdict::failure_threshold(d.desired, cb)))
    }

    /// Print events not seen before, oldest first; on the first sighting only those of the
    /// tracked deployment (older ones belong to earlier deployments).
    fn record_events(&mut self, ui: &Ui) {
        let Some(tracked) = &self.tracked else {
            return;
        };
        let events = &self.latest_events;
        let first = self.seen_events.is_empty();
        // Without a creation time (the deployment was already gone), the last few events
        // explain what happened to it.
        let since = match tracked.created_at {
            Some(s) => s as f64 - 1.0,
            None => events
                .get(EVENTS_WITHOUT_START - 1)
                .map_or(f64::MIN, |(at, _)| *at),
        };
        for (at, e) in events.iter().rev() {
            if !self.seen_events.insert(e.id.clone()) {
                continue;
            }
            if first && *at < since {
                continue;
            }
            ui.info(&progress::event_line(&self.label, e));
            self.events.push(e.clone());
        }
        if self.events.len() > EVENTS_KEPT {
            self.events.drain(..self.events.len() - EVENTS_KEPT);
        }
    }

    /// Judge the latest view, print progress, and print the verdict when there is one.
    fn judge(&mut self, ui: &Ui, opts: &WaitOptions, elapsed: Duration) {
        if self.tracked_deployment().is_some_and(|d| d.running > 0) {
            self.ever_ran = true;
        }
        let Some(view) = &self.view else { return };
        let verdict = match (&self.tracked, &self.pending_sd_arn) {
            (Some(t), _) => {
                let poll = verdict::Poll {
                    until: opts.until,
                    sd: self.sd.as_ref(),
                    ever_ran: self.ever_ran,
                    steady_for: self.steady_since.map(|t| t.elapsed()),
                    allow_empty: opts.allow_empty,
                };
                let v = verdict::decide(view, t, &poll);
                self.steady_since = verdict::steady(view, t)
                    .then(|| self.steady_since.unwrap_or_else(Instant::now));
                v
            }
            (None, Some(_)) => match &self.sd {
                Some(sd) if view.current_service_deployment.as_deref() == Some(sd.arn.as_str()) => {
                    Verdict::Pending
                }
                Some(sd) => verdict::decide_from_service_deployment(sd),
                None => Verdict::Pending,
            },
            (None, None) => Verdict::Pending,
        };
        let line = progress::service_line(
            &self.label,
            view,
            self.tracked.as_ref(),
            self.circuit_breaker(),
        );
        if line != self.last_line {
            ui.info(&line);
            self.last_line = line;
        }
        self.verdict = verdict;
        if self.verdict.is_final() {
            self.finish(ui, elapsed);
        }
    }

    fn finish(&mut self, ui: &Ui, elapsed: Duration) {
        self.decided_after = Some(elapsed);
        let text = match &self.verdict {
            Verdict::Succeeded => {
                let (id, td) = self
                    .tracked
                    .as_ref()
                    .map(|t| {
                        (
                            t.deployment_id.as_str(),
                            verdict::short_td(&t.task_definition),
                        )
                    })
                    .unwrap_or_default();
                let (running, desired) = self
                    .view
                    .as_ref()
                    .map_or((0, 0), |v| (v.running, v.desired));
                format!(
                    "✔ {}: deployment {id} ({td}) completed, {running}/{desired} running, after {}",
                    self.label,
                    format_duration(elapsed)
                )
            }
            Verdict::RolledBack(r) => format!("✘ {}: rolled back: {r}", self.label),
            Verdict::RollbackFailed(r) => {
                format!("✘ {}: ROLLBACK FAILED: {r}", self.label)
            }
            Verdict::Failed(r) => format!("✘ {}: failed: {r}", self.label),
            Verdict::NoTasks(r) => format!("✘ {}: no tasks: {r}", self.label),
            Verdict::Replaced(r) => format!("✘ {}: replaced: {r}", self.label),
            Verdict::Pending => return,
        };
        ui.info(&text);
    }

    /// `deployment ecs-svc/2 (web:2) IN_PROGRESS: running 1 of 4, pending 1, failed 0`.
    fn last_state(&self) -> String {
        match (self.tracked_deployment(), &self.view) {
            (Some(d), Some(v)) => format!(
                "deployment {} ({}) still {}: running {} of {}, pending {}, failed {}{}",
                d.id,
                verdict::short_td(&d.task_definition),
                d.rollout_state.as_deref().unwrap_or(&d.status),
                d.running,
                d.desired,
                d.pending,
                d.failed,
                if v.deployments.len() > 1 {
                    format!("; {} deployments still active", v.deployments.len())
                } else {
                    String::new()
                }
            ),
            (None, Some(_)) => "the deployment to follow was not found yet".into(),
            _ => "the service was never described (every poll failed)".into(),
        }
    }

    fn into_outcome(self) -> ServiceOutcome {
        let result = match (&self.verdict, self.timed_out) {
            (Verdict::Succeeded, _) => WaitResult::Succeeded,
            (Verdict::RolledBack(_), _) => WaitResult::RolledBack,
            (Verdict::RollbackFailed(_), _) => WaitResult::RollbackFailed,
            (Verdict::Failed(_), _) => WaitResult::Failed,
            (Verdict::NoTasks(_), _) => WaitResult::NoTasks,
            (Verdict::Replaced(_), _) => WaitResult::Replaced,
            (Verdict::Pending, _) => WaitResult::TimedOut,
        };
        let reason = match &self.verdict {
            Verdict::RolledBack(r)
            | Verdict::RollbackFailed(r)
            | Verdict::Failed(r)
            | Verdict::Replaced(r)
            | Verdict::NoTasks(r) => Some(r.clone()),
            Verdict::Succeeded => None,
            Verdict::Pending => Some(format!("timed out: {}", self.last_state())),
        };
        let (failed_tasks, failure_threshold) = self.circuit_breaker().unwrap_or((0, None));
        // On success the tracked deployment's counts; otherwise what the service runs now.
        let tracked_counts = self.tracked_deployment().map(|d| (d.running, d.desired));
        let service_counts = self.view.as_ref().map(|v| (v.running, v.desired));
        let (running_count, desired_count) = match result {
            WaitResult::Succeeded => tracked_counts.or(service_counts),
            _ => service_counts,
        }
        .unwrap_or((0, 0));
        ServiceOutcome {
            cluster: self.target.sref.cluster.clone(),
            service: short_name(&self.target.sref.name).to_string(),
            result,
            deployment_id: self
                .tracked
                .as_ref()
                .map(|t| t.deployment_id.clone())
                .filter(|s| !s.is_empty()),
            task_definition: self
                .tracked
                .as_ref()
                .map(|t| t.task_definition.clone())
                .filter(|s| !s.is_empty()),
            primary_task_definition: self.view.as_ref().and_then(|v| v.task_definition.clone()),
            running_count,
            desired_count,
            duration: self.decided_after.unwrap_or_default(),
            reason,
            failed_tasks,
            failure_threshold,
            stopped_tasks: self.stopped_tasks,
            events: self.events,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Poll gaps stay within one interval (so completion is seen within one interval) and vary.
    #[test]
    fn poll_gap_never_exceeds_the_interval() {
        let interval = Duration::from_secs(5);
        let gaps: Vec<Duration> = (0..200).map(|_| next_gap(interval)).collect();
        assert!(
            gaps.iter()
                .all(|g| *g <= interval && *g >= interval.mul_f64(0.8)),
            "{gaps:?}"
        );
        assert!(gaps.iter().any(|g| *g != gaps[0]));
    }

    /// The same service twice, or none at all, is a usage error before any call.
    #[test]
    fn targets_are_checked() {
        let t = |c: &str, s: &str| Target {
            sref: dk_core::ecs::ServiceRef::new(c, s),
            track: Track::CurrentPrimary,
        };
        assert!(check_targets(&[]).is_err());
        let twice = [
            t("prod", "web"),
            t("prod", "arn:aws:ecs:us-east-1:1:service/prod/web"),
        ];
        assert_eq!(check_targets(&twice).unwrap_err().exit_code(), 2);
        assert!(check_targets(&[t("prod", "web"), t("staging", "web")]).is_ok());
    }
}
