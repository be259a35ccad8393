//! Returning a service to a known-good task definition, waited and verified. `deploy` calls
//! [`return_to`] with the revision it recorded at the update; `ecs-roll rollback` finds the
//! previous completed revision itself ([`find_previous`]) or takes `--to`.
//!
//! When the circuit breaker has already put the old revision back, the service is not updated
//! again (that would start a needless deployment): ecs-roll waits for ECS's own rollback
//! deployment to be stable on the recorded revision instead.

use std::time::Duration;

use aws_sdk_ecs::Client;
use aws_sdk_ecs::types::{Service, SortOrder, TaskDefinitionStatus};
use dk_core::aws::sdk_error;
use dk_core::poll::{Deadline, jittered};
use dk_core::{Error, Outcome, Result, Ui};
use wait_stable::waiter::{ServiceOutcome, Track, WaitResult};

use crate::RollbackArgs;
use crate::history::{self, Decision, Entry};
use crate::services::{self, ServiceRef};
use crate::summary::{self, ServiceReport, ServiceResult, Timeline};
use crate::wire::{self, family_of, short_name};
use dk_core::ecs::revision_of;

/// How a return to a revision went.
#[derive(Debug, Clone)]
pub struct Returned {
    /// The deployment ecs-roll started, or `None` when ECS's own rollback was waited for.
    pub deployment_id: Option<String>,
    pub outcome: ServiceOutcome,
}

/// Put `to` back on the service (unless it is already its PRIMARY) and wait until stable on it.
pub async fn return_to(
    ecs: &Client,
    ui: &Ui,
    sref: &ServiceRef,
    to: &str,
    timeout: Duration,
    interval: Duration,
    timeline: &Timeline,
) -> Result<Returned> {
    let (deployment_id, track) =
        match begin_return(ecs, ui, sref, to, &[], (timeout, interval), timeline).await? {
            Begun::Tracking(id, track) => (id, track),
            Begun::NotSeen(why) => {
                return Err(Error::runtime(why).with_hint(
                "the service may or may not be returning: check its deployments before retrying",
            ));
            }
        };
    let outcome = crate::waiting::wait_for(ecs, ui, sref, track, timeout, interval, true).await?;
    Ok(Returned {
        deployment_id,
        outcome: verify_returned(outcome, to),
    })
}

/// How a return began.
#[derive(Debug, Clone)]
pub enum Begun {
    /// The deployment ecs-roll started (`None`: ECS's own rollback is followed) and what to
    /// track until stable: always a deployment id.
    Tracking(Option<String>, Track),
    /// UpdateService went through but its deployment never showed: why. Never a guess.
    NotSeen(String),
}

/// Start returning a service to `to`: UpdateService, or nothing when ECS's circuit breaker has
/// already made `to` the PRIMARY again. A PRIMARY whose id is in `known` (deployments that
/// existed before the release's own update) is never taken for that: a stale read still shows
/// the old deployment on `to`. `(within, interval)` bound the search for the new deployment
/// ([`update_service`]). `Err` when the service cannot be read or updated.
pub async fn begin_return(
    ecs: &Client,
    ui: &Ui,
    sref: &ServiceRef,
    to: &str,
    known: &[String],
    (within, interval): (Duration, Duration),
    timeline: &Timeline,
) -> Result<Begun> {
    let svc = services::describe_one(ecs, sref).await?;
    let returning = primary(&svc)
        .filter(|p| p.task_definition() == Some(to))
        .filter(|p| p.id().is_some_and(|id| !known.iter().any(|k| k == id)));
    if svc.task_definition() == Some(to)
        && let Some(id) = returning.and_then(|p| p.id())
    {
        // ECS's circuit breaker (or a rollback already in flight) is putting `to` back: follow
        // that deployment instead of starting a second, concurrent one.
        ui.info(&format!(
            "{sref}: already returning to {} (deployment {id}); waiting until stable",
            short_name(to)
        ));
        timeline.push(
            &sref.to_string(),
            format!(
                "already returning to {} (deployment {id}); waiting",
                short_name(to)
            ),
        );
        // Followed as a return (the waiter judges a rollback PRIMARY as the release it undoes
        // when tracked by id).
        return Ok(Begun::Tracking(None, Track::Return(to.to_string())));
    }
    let id = match update_service(
        ecs,
        sref,
        to,
        false,
        &deployment_ids(&svc),
        within,
        interval,
    )
    .await?
    {
        Started::Deployment(id) | Started::RolledBackByEcs(id) => id,
        Started::NotSeen(why) => {
            return Ok(Begun::NotSeen(format!(
                "{sref}: UpdateService back to {} succeeded, but {why}",
                short_name(to)
            )));
        }
    };
    ui.info(&format!(
        "{sref}: rolling back to {} (deployment {id})",
        short_name(to)
    ));
    timeline.push(
        &sref.to_string(),
        format!(
            "rollback: UpdateService to {}, deployment {id}",
            short_name(to)
        ),
    );
    Ok(Begun::Tracking(Some(id.clone()), Track::DeploymentId(id)))
}

/// A return counts only when the service is stable on `to`, whatever the waiter tracked.
pub fn verify_returned(mut outcome: ServiceOutcome, to: &str) -> ServiceOutcome {
    let on_target = outcome
        .primary_task_definition
        .as_deref()
        .is_none_or(|p| p == to);
    if outcome.result == WaitResult::Succeeded && !on_target {
        outcome.result = WaitResult::Replaced;
        outcome.reason = Some(format!(
            "the service is on {}, not on {}",
            outcome
                .primary_task_definition
                .as_deref()
                .map(short_name)
                .unwrap_or("?"),
            short_name(to)
        ));
    }
    outcome
}

/// What an UpdateService started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Started {
    /// The id of the new deployment.
    Deployment(String),
    /// The new deployment already failed and ECS is rolling it back (this rollback deployment)
    /// by the time a fresh read showed the service.
    RolledBackByEcs(String),
    /// ECS accepted the update, but no new deployment showed up in time: why.
    NotSeen(String),
}

/// UpdateService to `task_definition`, then the new deployment's id: from the response when it
/// shows a PRIMARY on `task_definition` that was not there before, else by re-reading
/// DescribeServices until one appears, for at most `within`. `before` holds the deployment ids
/// seen before the update: none of them is the new deployment, even when a stale answer still
/// shows one as PRIMARY on the same task definition (a forced deployment). Read errors after the
/// update (throttling past the SDK's retries, 5xx) are retried until `within` too: the update
/// happened, so they never turn into "UpdateService failed". `Err` only when UpdateService
/// itself failed.
pub async fn update_service(
    ecs: &Client,
    sref: &ServiceRef,
    task_definition: &str,
    force: bool,
    before: &[String],
    within: Duration,
    interval: Duration,
) -> Result<Started> {
    let out = ecs
        .update_service()
        .cluster(&sref.cluster)
        .service(&sref.name)
        .task_definition(task_definition)
        .force_new_deployment(force)
        .send()
        .await
        .map_err(|e| sdk_error(&format!("UpdateService {sref}"), e))?;
    if let Some(id) = out
        .service()
        .and_then(|s| new_deployment(s, task_definition, before))
    {
        return Ok(Started::Deployment(id));
    }
    Ok(find_new_deployment(ecs, sref, task_definition, before, within, interval).await)
}

/// Re-read the service until the deployment UpdateService started shows (see [`update_service`]).
async fn find_new_deployment(
    ecs: &Client,
    sref: &ServiceRef,
    task_definition: &str,
    before: &[String],
    within: Duration,
    interval: Duration,
) -> Started {
    let deadline = Deadline::after(within);
    // Stale reads usually clear within seconds: look more often than a long --interval.
    let interval = interval.min(Duration::from_secs(2));
    let mut last =
        "DescribeServices kept showing only the deployments from before the update".to_string();
    loop {
        match deadline.run(services::describe_one(ecs, sref)).await {
            None => break,
            Some(Ok(svc)) => {
                if let Some(id) = new_deployment(&svc, task_definition, before) {
                    return Started::Deployment(id);
                }
                if let Some(id) = ecs_rollback(&svc, before) {
                    return Started::RolledBackByEcs(id);
                }
                last = "DescribeServices kept showing only the deployments from before the update"
                    .to_string();
            }
            Some(Err(e)) => last = format!("the last DescribeServices failed: {}", e.message()),
        }
        if deadline.expired() {
            break;
        }
        tokio::time::sleep(jittered(interval, &deadline)).await;
        if deadline.expired() {
            break;
        }
    }
    Started::NotSeen(format!(
        "its new deployment of {} never appeared within {} ({last})",
        short_name(task_definition),
        dk_core::duration::format_duration(within)
    ))
}

/// The ids of a service's deployments, and its current ServiceDeployment's ARN.
pub fn deployment_ids(svc: &Service) -> Vec<String> {
    svc.deployments()
        .iter()
        .filter_map(|d| d.id())
        .chain(svc.current_service_deployment())
        .map(str::to_owned)
        .collect()
}

/// The PRIMARY deployment of a service.
pub fn primary(svc: &Service) -> Option<&aws_sdk_ecs::types::Deployment> {
    svc.deployments()
        .iter()
        .find(|d| d.status() == Some("PRIMARY"))
}

/// The deployment an UpdateService to `task_definition` started, seen in `svc`: one on that task
/// definition that is not in `before` and is not a rollback ECS started (its reason says
/// "rolling back to"; when the update failed fast, ECS's rollback to the same task definition is
/// new too). When ours is no longer listed (it failed and ECS rolled it back before a fresh
/// read), the service's current ServiceDeployment, if it is new, is ours (ECS tracks a rollback
/// ServiceDeployment ARN is not followed: see [`ecs_rollback`].
pub fn new_deployment(svc: &Service, task_definition: &str, before: &[String]) -> Option<String> {
    let is_new = |id: &str| !before.iter().any(|b| b == id);
    let ours = svc
        .deployments()
        .iter()
        .filter(|d| d.status() != Some("INACTIVE"))
        .filter(|d| d.task_definition() == Some(task_definition))
        .filter(|d| d.id().is_some_and(is_new))
        .filter(|d| {
            !d.rollout_state_reason()
                .is_some_and(|r| r.contains("rolling back to"))
        })
        .max_by_key(|d| d.created_at().map(|t| t.as_nanos()));
    ours.and_then(|d| d.id()).map(str::to_owned)
}

/// A rollback ECS started after `before` (its reason says "rolling back to"): when the new
/// deployment failed fast and was rolled back before a fresh read could show it.
pub fn ecs_rollback(svc: &Service, before: &[String]) -> Option<String> {
    svc.deployments()
        .iter()
        .filter(|d| d.status() == Some("PRIMARY"))
        .filter(|d| d.id().is_some_and(|id| !before.iter().any(|b| b == id)))
        .find(|d| {
            d.rollout_state_reason()
                .is_some_and(|r| r.contains("rolling back to"))
        })
        .and_then(|d| d.id())
        .map(str::to_owned)
}

/// Where `ecs-roll rollback` goes by default, from the service's deployment history
/// ([`crate::history`]). The history must be readable: when it is not, this fails naming the
/// permission and `--to`, and never guesses from the family's revision numbers (a revision
/// registered for a release that failed, or was rolled back, is numbered like any other).
pub async fn find_previous(ecs: &Client, sref: &ServiceRef, svc: &Service) -> Result<Decision> {
    let current = svc.task_definition().unwrap_or_default();
    let history = read_history(ecs, sref).await?;
    Ok(history::decide(&history, current))
}

/// ListServiceDeployments through every page, then the target revisions' task definitions.
pub async fn read_history(ecs: &Client, sref: &ServiceRef) -> Result<Vec<Entry>> {
    let mut briefs: Vec<aws_sdk_ecs::types::ServiceDeploymentBrief> = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = ecs
            .list_service_deployments()
            .cluster(&sref.cluster)
            .service(&sref.name)
            .max_results(100)
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|e| history_error(sref, "ListServiceDeployments", e))?;
        briefs.extend(page.service_deployments().iter().cloned());
        token = page
            .next_token()
            .filter(|t| !t.is_empty())
            .map(str::to_owned);
        if token.is_none() {
            break;
        }
        if briefs.len() > MAX_HISTORY {
            return Err(Error::runtime(format!(
                "{sref}: ListServiceDeployments kept returning pages past {MAX_HISTORY} deployments"
            ))
            .with_hint(TO_HINT));
        }
    }
    let mut revisions: Vec<String> = briefs
        .iter()
        .filter_map(|b| b.target_service_revision_arn().map(str::to_owned))
        .collect();
    revisions.sort();
    revisions.dedup();
    let mut task_definitions: Vec<(String, String)> = Vec::new();
    for chunk in revisions.chunks(20) {
        let out = ecs
            .describe_service_revisions()
            .set_service_revision_arns(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|e| history_error(sref, "DescribeServiceRevisions", e))?;
        for r in out.service_revisions() {
            if let (Some(arn), Some(td)) = (r.service_revision_arn(), r.task_definition()) {
                task_definitions.push((arn.to_string(), td.to_string()));
            }
        }
    }
    let td_of = |arn: Option<&str>| {
        arn.and_then(|a| task_definitions.iter().find(|(r, _)| r == a))
            .map(|(_, td)| td.clone())
    };
    Ok(briefs
        .iter()
        .map(|b| Entry {
            created_at: b
                .created_at()
                .or(b.started_at())
                .map_or(0.0, |t| t.as_secs_f64()),
            status: b
                .status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            task_definition: td_of(b.target_service_revision_arn()),
        })
        .collect())
}

/// Deployments read at most (ECS keeps 90 days of history).
const MAX_HISTORY: usize = 10_000;

const TO_HINT: &str = "ecs-roll rollback finds the previous release in the service's deployment history, which needs ecs:ListServiceDeployments and ecs:DescribeServiceRevisions; grant them, or name the revision yourself: --to FAMILY:REVISION";

fn history_error<E, R>(
    sref: &ServiceRef,
    operation: &str,
    e: aws_sdk_ecs::error::SdkError<E, R>,
) -> Error
where
    E: aws_sdk_ecs::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let denied = e
        .as_service_error()
        .and_then(|s| s.code())
        .is_some_and(|c| c.contains("AccessDenied"));
    let err = sdk_error(&format!("{operation} {sref}"), e);
    let what = if denied {
        format!("the role may not read {sref}'s deployment history (ecs:{operation} denied)")
    } else {
        format!("cannot read {sref}'s deployment history")
    };
    Error::runtime(format!(
        "{what}: {}; not guessing a rollback target",
        err.message()
    ))
    .with_hint(TO_HINT)
}

/// ACTIVE revisions of exactly `family` (ListTaskDefinitions matches prefixes), newest first.
pub async fn list_active_revisions(ecs: &Client, family: &str) -> Result<Vec<(String, i64)>> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = ecs
            .list_task_definitions()
            .family_prefix(family)
            .status(TaskDefinitionStatus::Active)
            .sort(SortOrder::Desc)
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|e| sdk_error(&format!("ListTaskDefinitions {family}"), e))?;
        for arn in page.task_definition_arns() {
            if family_of(arn) == family
                && let Some(rev) = revision_of(arn)
            {
                out.push((arn.clone(), rev));
            }
        }
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    out.sort_by_key(|x| std::cmp::Reverse(x.1));
    Ok(out)
}

/// `ecs-roll rollback`: choose the revision to return to, return the service to it, report.
pub async fn rollback_command(ecs: &Client, ui: &Ui, args: &RollbackArgs) -> Result<Outcome> {
    let sref =
        dk_core::ecs::parse_services(args.cluster.as_deref(), std::slice::from_ref(&args.service))?
            .remove(0);
    let svc = services::describe_one(ecs, &sref).await?;
    if args.to.is_none()
        && let Some(stopped) = crate::strategy::stop_in_progress(ecs, ui, &sref, &svc, args).await?
    {
        return Ok(stopped);
    }
    let current = svc.task_definition().unwrap_or_default().to_string();
    let (target, found_by) = match rollback_target(ecs, ui, args, &sref, &svc).await? {
        Ok(found) => found,
        Err(why) => {
            return Ok(Outcome::failed(
                "failed",
                format!(
                    "{sref}: no previous revision to roll back to (it runs {}): {why}; name one with --to FAMILY:REVISION",
                    short_name(&current)
                ),
            )
            .output("task_definition_arn", current.clone()));
        }
    };
    ui.info(&format!(
        "{sref}: runs {}; rolling back to {} (found by {found_by})",
        short_name(&current),
        short_name(&target)
    ));
    let base = |o: Outcome| {
        o.output("task_definition_arn", target.clone())
            .output("previous_task_definition_arn", current.clone())
    };
    if target == current
        && primary(&svc)
            .and_then(|d| d.rollout_state())
            .is_some_and(|s| s.as_str() == "COMPLETED")
    {
        return Ok(base(Outcome::succeeded(
            "unchanged",
            format!("{sref} already runs {}", short_name(&target)),
        )));
    }
    if args.dry_run {
        return Ok(base(Outcome::succeeded(
            "dry_run",
            format!(
                "{sref} would roll back from {} to {}",
                short_name(&current),
                short_name(&target)
            ),
        ))
        .output("dry_run", true));
    }
    let timeline = Timeline::default();
    timeline.push(
        &sref.to_string(),
        format!(
            "manual rollback from {} to {}",
            short_name(&current),
            short_name(&target)
        ),
    );
    let start = std::time::Instant::now();
    let (timeout, interval) = (args.wait.timeout(), args.wait.interval());
    let returned = return_to(ecs, ui, &sref, &target, timeout, interval, &timeline).await?;
    let report = manual_rollback_report(&sref, &target, &current, &returned, start.elapsed());
    timeline.push(
        &sref.to_string(),
        format!("rollback {}", report.result.as_str()),
    );
    Ok(manual_rollback_outcome(&sref, &report, timeout, &timeline))
}

/// The revision `--to` names, or the one the service's history says ran before, with how it
/// was found; `Err(why)` when the history names none.
async fn rollback_target(
    ecs: &Client,
    ui: &Ui,
    args: &RollbackArgs,
    sref: &ServiceRef,
    svc: &Service,
) -> Result<std::result::Result<(String, String), String>> {
    if let Some(to) = &args.to {
        let Some(d) = wire::describe_task_definition(ecs, to).await? else {
            return Err(
                Error::usage(format!("--to {to}: task definition does not exist"))
                    .with_hint("use FAMILY:REVISION or an ARN of a registered revision"),
            );
        };
        if d.status != "ACTIVE" {
            ui.warn(&format!(
                "{} is {}; ECS may refuse to deploy it",
                short_name(&d.arn),
                d.status
            ));
        }
        return Ok(Ok((d.arn, "--to".to_string())));
    }
    Ok(match find_previous(ecs, sref, svc).await? {
        Decision::ReturnTo {
            task_definition,
            why,
        }
        | Decision::Follow {
            task_definition,
            why,
        } => Ok((task_definition, why)),
        Decision::Nothing { why } => Err(why),
    })
}

/// The service's report after a manual rollback: rolled back, timed out, or failed.
fn manual_rollback_report(
    sref: &ServiceRef,
    target: &str,
    current: &str,
    returned: &Returned,
    duration: std::time::Duration,
) -> ServiceReport {
    let result = match returned.outcome.result {
        WaitResult::Succeeded => ServiceResult::RolledBack,
        WaitResult::TimedOut => ServiceResult::TimedOut,
        _ => ServiceResult::RollbackFailed,
    };
    ServiceReport {
        cluster: sref.cluster.clone(),
        service: sref.name.clone(),
        result,
        task_definition_arn: Some(target.to_string()),
        previous_task_definition_arn: Some(current.to_string()),
        deployment_id: returned.deployment_id.clone(),
        rollback_deployment_id: None,
        service_deployment_arn: None,
        duration,
        unverified: None,
        known_deployments: Vec::new(),
        reason: returned.outcome.reason.clone(),
        cause: None,
        wait: Some(returned.outcome.clone()),
        rollback_wait: None,
    }
}

/// The outcome of `ecs-roll rollback` from its one service report.
fn manual_rollback_outcome(
    sref: &ServiceRef,
    report: &ServiceReport,
    timeout: std::time::Duration,
    timeline: &Timeline,
) -> Outcome {
    let target = short_name(report.task_definition_arn.as_deref().unwrap_or_default());
    let md = summary::markdown(
        &format!("rollback of {sref}"),
        std::slice::from_ref(report),
        timeline,
    );
    let outcome = match report.result {
        ServiceResult::RolledBack => Outcome::succeeded(
            "rolled_back",
            format!("{sref} rolled back to {target} and stable"),
        ),
        ServiceResult::TimedOut => Outcome::timed_out(
            "timed_out",
            format!(
                "{sref}: rollback to {target} not stable within {}",
                dk_core::duration::format_duration(timeout)
            ),
        ),
        _ => Outcome::failed(
            "rollback_failed",
            format!(
                "{sref}: rollback to {target} failed: {}",
                report
                    .reason
                    .as_deref()
                    .unwrap_or("see the deployment events")
            ),
        ),
    };
    outcome
        .output(
            "task_definition_arn",
            report.task_definition_arn.clone().unwrap_or_default(),
        )
        .output(
            "previous_task_definition_arn",
            report
                .previous_task_definition_arn
                .clone()
                .unwrap_or_default(),
        )
        .output(
            "deployment_id",
            report.deployment_id.clone().unwrap_or_default(),
        )
        .output(
            "duration_s",
            (report.duration.as_secs_f64() * 10.0).round() / 10.0,
        )
        .detail(serde_json::json!({ "services": [report], "timeline": timeline.steps() }))
        .summary(md)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ecs::types::Deployment;

    fn svc(deployments: &[(&str, &str, &str)]) -> Service {
        let mut b = Service::builder();
        for (id, status, td) in deployments {
            b = b.deployments(
                Deployment::builder()
                    .id(*id)
                    .status(*status)
                    .task_definition(*td)
                    .build(),
            );
        }
        b.build()
    }

    /// Regression: with --force-new-deployment the old PRIMARY runs the same task definition. A
    /// stale view (UpdateService answer or DescribeServices right after) still showing it made
    /// its id "the new deployment": the waiter then followed the old, COMPLETED deployment and
    /// reported success at once. A deployment that existed before the update is never ours.
    #[test]
    fn new_deployment_is_never_one_that_existed_before() {
        let before = svc(&[("ecs-svc/1", "PRIMARY", "web:2")]);
        let known = deployment_ids(&before);
        assert_eq!(new_deployment(&before, "web:2", &known), None);
        let after = svc(&[
            ("ecs-svc/2", "PRIMARY", "web:2"),
            ("ecs-svc/1", "ACTIVE", "web:2"),
        ]);
        assert_eq!(
            new_deployment(&after, "web:2", &known).as_deref(),
            Some("ecs-svc/2")
        );
        // Regression (#9.2): a forced deployment that failed fast and was rolled back by the
        // circuit breaker before the first fresh read: the new PRIMARY on the same task
        // definition is ECS's rollback, not ours.
        let mut rolled = svc(&[("ecs-svc/3", "PRIMARY", "web:2")]);
        rolled.deployments.as_mut().unwrap()[0].rollout_state_reason =
            Some("ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/1.".into());
        assert_eq!(new_deployment(&rolled, "web:2", &known), None);
        assert_eq!(ecs_rollback(&rolled, &known).as_deref(), Some("ecs-svc/3"));
    }
}
