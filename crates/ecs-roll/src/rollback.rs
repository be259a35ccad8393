//! Returning a service to a known-good task definition, waited and verified. `deploy` calls
//! [`return_to`] with the revision it recorded at the update; `ecs-roll rollback` finds the
//! previous completed revision itself ([`find_previous`]) or takes `--to`.
//!
//! When the circuit breaker has already put the old revision back, the service is not updated
//! again (that would start a needless deployment): ecs-roll waits for ECS's own rollback
//! deployment to be stable on the recorded revision instead.

use std::time::Duration;

use aws_sdk_ecs::Client;
use aws_sdk_ecs::types::{Service, ServiceDeploymentStatus, SortOrder, TaskDefinitionStatus};
use dk_core::aws::sdk_error;
use dk_core::{Error, Outcome, Result, Ui};
use wait_stable::waiter::{ServiceOutcome, ServiceResult as WaitResult, Track};

use crate::RollbackArgs;
use crate::services::{self, ServiceRef};
use crate::summary::{self, ServiceReport, ServiceResult, Timeline};
use crate::waiting;
use crate::wire::{self, family_of, short_name};

/// How a return to a revision went.
#[derive(Debug, Clone)]
pub struct Returned {
    /// The deployment ecs-roll started, or `None` when ECS's own rollback was waited for.
    pub deployment_id: Option<String>,
    pub outcome: ServiceOutcome,
}

impl Returned {
    pub fn succeeded(&self) -> bool {
        self.outcome.result == WaitResult::Succeeded
    }
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
    let (deployment_id, track) = begin_return(ecs, ui, sref, to, timeline).await?;
    let outcome = waiting::wait_for(ecs, ui, sref, track, timeout, interval).await?;
    Ok(Returned {
        deployment_id,
        outcome: verify_returned(outcome, to),
    })
}

/// Start returning a service to `to`: UpdateService, or nothing when ECS's circuit breaker has
/// already made `to` the PRIMARY again. Returns the deployment started (if any) and what to
/// track until stable.
pub async fn begin_return(
    ecs: &Client,
    ui: &Ui,
    sref: &ServiceRef,
    to: &str,
    timeline: &Timeline,
) -> Result<(Option<String>, Track)> {
    let svc = services::describe_one(ecs, sref).await?;
    let primary_td = primary(&svc)
        .and_then(|d| d.task_definition())
        .unwrap_or_default();
    if svc.task_definition() == Some(to) && primary_td == to {
        ui.info(&format!(
            "{sref}: already back on {} (circuit breaker); waiting until stable",
            short_name(to)
        ));
        timeline.push(
            &sref.to_string(),
            format!("ECS already rolled back to {}; waiting", short_name(to)),
        );
        return Ok((None, Track::TaskDefinition(to.to_string())));
    }
    let id = update_service(ecs, sref, to, false, &deployment_ids(&svc)).await?;
    ui.info(&format!(
        "{sref}: rolling back to {} (deployment {})",
        short_name(to),
        id.as_deref().unwrap_or("unknown")
    ));
    timeline.push(
        &sref.to_string(),
        format!(
            "rollback: UpdateService to {}, deployment {}",
            short_name(to),
            id.as_deref().unwrap_or("?")
        ),
    );
    let track = waiting::track(id.as_deref(), to);
    Ok((id, track))
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

/// UpdateService to `task_definition`; returns the id of the PRIMARY deployment running it,
/// read from the response (re-read with DescribeServices if the response lacks it). `before`
/// holds the deployment ids seen before the update: none of them is the new deployment, even
/// when a stale answer still shows one as PRIMARY on the same task definition.
pub async fn update_service(
    ecs: &Client,
    sref: &ServiceRef,
    task_definition: &str,
    force: bool,
    before: &[String],
) -> Result<Option<String>> {
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
        return Ok(Some(id));
    }
    let svc = services::describe_one(ecs, sref).await?;
    Ok(new_deployment(&svc, task_definition, before))
}

/// The ids of a service's deployments.
pub fn deployment_ids(svc: &Service) -> Vec<String> {
    svc.deployments()
        .iter()
        .filter_map(|d| d.id())
        .map(str::to_owned)
        .collect()
}

/// The PRIMARY deployment of a service.
pub fn primary(svc: &Service) -> Option<&aws_sdk_ecs::types::Deployment> {
    svc.deployments()
        .iter()
        .find(|d| d.status() == Some("PRIMARY"))
}

fn new_deployment(svc: &Service, task_definition: &str, before: &[String]) -> Option<String> {
    primary(svc)
        .filter(|d| d.task_definition() == Some(task_definition))
        .filter(|d| d.id().is_none_or(|id| !before.iter().any(|b| b == id)))
        .and_then(|d| d.id())
        .map(str::to_owned)
}

/// Where a manual rollback goes, and how it was found.
#[derive(Debug, Clone)]
pub struct PreviousRevision {
    pub arn: String,
    pub found_by: &'static str,
}

/// The previous completed revision of a service, by the best evidence available:
/// 1. a deployment still listed beside the PRIMARY whose rollout COMPLETED (a release in flight);
/// 2. ServiceDeployments history (ListServiceDeployments SUCCESSFUL → target service revision →
///    DescribeServiceRevisions), newest first;
/// 3. the newest ACTIVE revision of the family below the current one.
pub async fn find_previous(
    ecs: &Client,
    ui: &Ui,
    sref: &ServiceRef,
    svc: &Service,
) -> Result<Option<PreviousRevision>> {
    let current = svc.task_definition().unwrap_or_default();
    if let Some(d) = svc.deployments().iter().find(|d| {
        d.status() != Some("PRIMARY")
            && d.rollout_state().is_some_and(|s| s.as_str() == "COMPLETED")
            && d.task_definition().is_some_and(|t| t != current)
    }) {
        return Ok(d.task_definition().map(|arn| PreviousRevision {
            arn: arn.to_string(),
            found_by: "the completed deployment still beside the current one",
        }));
    }
    match from_service_deployments(ecs, sref, current).await {
        Ok(Some(arn)) => {
            return Ok(Some(PreviousRevision {
                arn,
                found_by: "the service's deployment history",
            }));
        }
        Ok(None) => {}
        Err(e) => ui.info(&format!(
            "{sref}: service deployment history unavailable ({}); using the family's revisions",
            e.message()
        )),
    }
    let family = family_of(current);
    let current_rev = revision_of(current).unwrap_or(i64::MAX);
    let revisions = list_active_revisions(ecs, family).await?;
    Ok(revisions
        .into_iter()
        .find(|(_, rev)| *rev < current_rev)
        .map(|(arn, _)| PreviousRevision {
            arn,
            found_by: "the family's previous ACTIVE revision",
        }))
}

async fn from_service_deployments(
    ecs: &Client,
    sref: &ServiceRef,
    current: &str,
) -> Result<Option<String>> {
    let list = ecs
        .list_service_deployments()
        .cluster(&sref.cluster)
        .service(&sref.name)
        // Not ROLLBACK_SUCCESSFUL: its target revision is the release that failed.
        .status(ServiceDeploymentStatus::Successful)
        .max_results(20)
        .send()
        .await
        .map_err(|e| sdk_error("ListServiceDeployments", e))?;
    let mut briefs: Vec<_> = list.service_deployments().to_vec();
    briefs.sort_by(|a, b| {
        let t = |x: &aws_sdk_ecs::types::ServiceDeploymentBrief| {
            x.finished_at().or(x.created_at()).map(|t| t.as_nanos())
        };
        t(b).cmp(&t(a))
    });
    let revisions: Vec<String> = briefs
        .iter()
        .filter_map(|b| b.target_service_revision_arn().map(str::to_owned))
        .collect();
    if revisions.is_empty() {
        return Ok(None);
    }
    let described = ecs
        .describe_service_revisions()
        .set_service_revision_arns(Some(revisions.iter().take(20).cloned().collect()))
        .send()
        .await
        .map_err(|e| sdk_error("DescribeServiceRevisions", e))?;
    for rev_arn in &revisions {
        if let Some(td) = described
            .service_revisions()
            .iter()
            .find(|r| r.service_revision_arn() == Some(rev_arn.as_str()))
            .and_then(|r| r.task_definition())
            && td != current
        {
            return Ok(Some(td.to_string()));
        }
    }
    Ok(None)
}

/// `family:N` → N.
pub fn revision_of(arn: &str) -> Option<i64> {
    short_name(arn)
        .rsplit_once(':')
        .and_then(|(_, r)| r.parse().ok())
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

/// `ecs-roll rollback`.
pub async fn rollback_command(ecs: &Client, ui: &Ui, args: &RollbackArgs) -> Result<Outcome> {
    let sref =
        services::parse_services(args.cluster.as_deref(), std::slice::from_ref(&args.service))?
            .remove(0);
    let timeline = Timeline::default();
    let svc = services::describe_one(ecs, &sref).await?;
    let current = svc.task_definition().unwrap_or_default().to_string();
    let (target, found_by) = match &args.to {
        Some(to) => match wire::describe_task_definition(ecs, to).await? {
            Some(d) => {
                if d.status != "ACTIVE" {
                    ui.warn(&format!(
                        "{} is {}; ECS may refuse to deploy it",
                        short_name(&d.arn),
                        d.status
                    ));
                }
                (d.arn, "--to")
            }
            None => {
                return Err(
                    Error::usage(format!("--to {to}: task definition does not exist"))
                        .with_hint("use FAMILY:REVISION or an ARN of a registered revision"),
                );
            }
        },
        None => match find_previous(ecs, ui, &sref, &svc).await? {
            Some(p) => (p.arn, p.found_by),
            None => {
                return Ok(Outcome::failed(
                    "failed",
                    format!(
                        "{sref}: no previous revision to roll back to (it runs {})",
                        short_name(&current)
                    ),
                )
                .output("task_definition_arn", current.clone()));
            }
        },
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
    timeline.push(
        &sref.to_string(),
        format!(
            "manual rollback from {} to {}",
            short_name(&current),
            short_name(&target)
        ),
    );
    let start = std::time::Instant::now();
    let returned = return_to(
        ecs,
        ui,
        &sref,
        &target,
        args.timeout,
        args.interval,
        &timeline,
    )
    .await?;
    let result = match returned.outcome.result {
        WaitResult::Succeeded => ServiceResult::RolledBack,
        WaitResult::TimedOut => ServiceResult::TimedOut,
        _ => ServiceResult::RollbackFailed,
    };
    timeline.push(&sref.to_string(), format!("rollback {}", result.as_str()));
    let report = ServiceReport {
        cluster: sref.cluster.clone(),
        service: sref.name.clone(),
        result,
        task_definition_arn: Some(target.clone()),
        previous_task_definition_arn: Some(current.clone()),
        deployment_id: returned.deployment_id.clone(),
        rollback_deployment_id: None,
        duration: start.elapsed(),
        reason: returned.outcome.reason.clone(),
        cause: None,
        wait: Some(returned.outcome.clone()),
        rollback_wait: None,
    };
    let md = summary::markdown(
        &format!("rollback of {sref}"),
        std::slice::from_ref(&report),
        &timeline,
    );
    let outcome = match result {
        ServiceResult::RolledBack => Outcome::succeeded(
            "rolled_back",
            format!("{sref} rolled back to {} and stable", short_name(&target)),
        ),
        ServiceResult::TimedOut => Outcome::timed_out(
            "timed_out",
            format!(
                "{sref}: rollback to {} not stable within {}",
                short_name(&target),
                dk_core::duration::format_duration(args.timeout)
            ),
        ),
        _ => Outcome::failed(
            "rollback_failed",
            format!(
                "{sref}: rollback to {} failed: {}",
                short_name(&target),
                report
                    .reason
                    .as_deref()
                    .unwrap_or("see the deployment events")
            ),
        ),
    };
    Ok(base(outcome)
        .output(
            "deployment_id",
            returned.deployment_id.clone().unwrap_or_default(),
        )
        .output(
            "duration_s",
            (report.duration.as_secs_f64() * 10.0).round() / 10.0,
        )
        .detail(serde_json::json!({ "services": [report], "timeline": timeline.steps() }))
        .summary(md))
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
    }
}
