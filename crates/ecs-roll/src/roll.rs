//! `ecs-roll deploy`: render → register → migrate → roll → wait → (roll back), for one or many
//! services.
//!
//! Rolling one service: DescribeServices records the task definition it runs (the rollback
//! target), UpdateService sets the new revision, and the PRIMARY deployment running it is the one
//! tracked (read from UpdateService's response, else from DescribeServices right after). The
//! waiter then follows that deployment. Its verdicts map to:
//!
//! | waiter        | with rollback (default)                  | `--no-rollback`  |
//! |---------------|------------------------------------------|------------------|
//! | succeeded     | succeeded (then the smoke gate, once it exists) | succeeded |
//! | rolled_back   | return to the recorded revision → rolled_back / rollback_failed | rolled_back |
//! | failed        | return to the recorded revision → rolled_back / rollback_failed | failed |
//! | timed_out     | return to the recorded revision → rolled_back / rollback_failed | timed_out (exit 4) |
//! | replaced      | replaced: someone else deployed; never rolled back (it would undo theirs) | replaced |
//!
//! Many services: they roll in waves of `--max-parallel`. A wave's services are updated one after
//! the other, then waited for together with one waiter call (one poll loop, one DescribeServices
//! per 10 services per interval); its failed services are returned to their own recorded
//! revisions, again waited for together. Once a wave has a failure no further wave starts
//! (`skipped`). `--rollback-all` also returns every service this call changed that succeeded, so
//! a release is all-or-nothing.

use std::time::Instant;

use aws_sdk_ecs::Client;
use dk_core::{Error, Outcome, Result, Ui};
use serde_json::json;
use wait_stable::waiter::{ServiceResult as WaitResult, Track};

use crate::migrate::{self, MigrationResult};
use crate::register::{self, Release, ServiceTarget};
use crate::rollback::{self, update_service};
use crate::services::ServiceRef;
use crate::summary::{self, ServiceReport, ServiceResult, Timeline};
use crate::wire::short_name;
use crate::{DeployArgs, DeployPlan, diff, waiting};

/// `ecs-roll deploy`.
pub async fn deploy(
    ecs: &Client,
    secrets: Option<&aws_sdk_secretsmanager::Client>,
    ui: &Ui,
    args: &DeployArgs,
    plan: DeployPlan,
) -> Result<Outcome> {
    let started = Instant::now();
    let timeline = Timeline::default();
    ui.group("Render");
    let mut release = register::prepare(ecs, ui, &plan, args.render.pin_digests).await?;
    if let Some(sm) = secrets {
        let docs: Vec<_> = release.definitions.iter().map(|d| &d.doc).collect();
        crate::verify_secrets::check_definitions(sm, ui, &docs).await?;
    }
    if args.dry_run {
        // The diff itself goes to stdout (text mode) or `detail` (JSON), as with `diff`.
        if let Some(m) = &plan.migrate {
            ui.info(&format!(
                "would run the migration `{}` in container {}",
                m.command.join(" "),
                m.container
            ));
        }
        return Ok(diff::outcome(&release, args.force_new_deployment, true));
    }
    register::register_new(ecs, ui, &mut release).await?;
    for d in &release.definitions {
        let arn = d.arn.as_deref().unwrap_or_default();
        let what = if d.new {
            "registered"
        } else {
            "unchanged, reused"
        };
        timeline.push("", format!("{what} {}", short_name(arn)));
    }

    if let Some(m) = &plan.migrate {
        ui.group("Migrate");
        let Some(s) = release.services.iter().find(|s| {
            release.definitions[s.definition]
                .doc
                .container_names()
                .contains(&m.container.as_str())
        }) else {
            return Err(Error::usage(format!(
                "--migrate-container `{}` is in none of the rendered task definitions",
                m.container
            )));
        };
        let arn = release.target_arn(s).unwrap_or_default().to_string();
        timeline.push(
            &s.sref.to_string(),
            format!("migration started on {}", short_name(&arn)),
        );
        let report =
            migrate::run_migration(ecs, ui, m, &s.sref.cluster, &s.service, &arn, args.interval)
                .await?;
        ui.info(&format!("migration: {}", report.describe()));
        timeline.push(
            &s.sref.to_string(),
            format!("migration {:?}: {}", report.result, report.describe()).to_lowercase(),
        );
        let base = |o: Outcome| {
            outputs(o, &release, &[], started)
                .detail(
                    json!({ "migration": report, "services": [], "timeline": timeline.steps() }),
                )
                .summary(summary::markdown(
                    &format!("migration {:?}", report.result).to_lowercase(),
                    &[],
                    &timeline,
                ))
        };
        match report.result {
            MigrationResult::Passed => {}
            MigrationResult::Failed => {
                return Ok(base(Outcome::failed(
                    "failed",
                    format!(
                        "migration failed ({}); no service was changed",
                        report.describe()
                    ),
                )));
            }
            MigrationResult::TimedOut => {
                return Ok(base(Outcome::timed_out(
                    "timed_out",
                    format!(
                        "migration task {} still running after {}; it was left running and no service was changed",
                        report.task_arn.as_deref().unwrap_or("?"),
                        dk_core::duration::format_duration(m.timeout)
                    ),
                )));
            }
        }
    }

    ui.group("Roll");
    let mut reports = roll_services(ecs, ui, args, &release, &timeline).await;
    if args.rollback_all && reports.iter().any(|r| r.result.is_failure()) {
        rollback_successful(ecs, ui, args, &mut reports, &timeline).await;
    }
    ui.end_group();
    Ok(finish(&release, reports, &timeline, started))
}

/// Roll every service in waves of `--max-parallel`; once a wave has a failure, later services
/// are not started.
async fn roll_services(
    ecs: &Client,
    ui: &Ui,
    args: &DeployArgs,
    release: &Release,
    timeline: &Timeline,
) -> Vec<ServiceReport> {
    let mut reports = Vec::new();
    let mut failed = false;
    for wave in release.services.chunks(usize::from(args.max_parallel)) {
        if failed {
            for s in wave {
                timeline.push(
                    &s.sref.to_string(),
                    "skipped: another service of this release failed",
                );
                reports.push(skipped(release, s));
            }
            continue;
        }
        let wave_reports = roll_wave(ecs, ui, args, release, wave, timeline).await;
        failed = wave_reports.iter().any(|r| r.result.is_failure());
        reports.extend(wave_reports);
    }
    reports
}

fn skipped(release: &Release, s: &ServiceTarget) -> ServiceReport {
    let mut r = new_report(release, s);
    r.result = ServiceResult::Skipped;
    r.reason = Some("not started: another service of this release failed".into());
    r
}

fn new_report(release: &Release, s: &ServiceTarget) -> ServiceReport {
    ServiceReport {
        cluster: s.sref.cluster.clone(),
        service: s.sref.name.clone(),
        result: ServiceResult::Failed,
        task_definition_arn: release.target_arn(s).map(str::to_owned),
        previous_task_definition_arn: Some(s.current_arn.clone()),
        deployment_id: None,
        rollback_deployment_id: None,
        duration: std::time::Duration::ZERO,
        reason: None,
        wait: None,
        rollback_wait: None,
    }
}

/// A service whose deployment has started and is being waited for.
struct InFlight {
    index: usize,
    report: ServiceReport,
    sref: ServiceRef,
    previous: String,
    target: String,
}

/// Update the services of one wave, wait for all their deployments in one waiter call, and roll
/// back (again together) those that did not succeed.
async fn roll_wave(
    ecs: &Client,
    ui: &Ui,
    args: &DeployArgs,
    release: &Release,
    wave: &[ServiceTarget],
    timeline: &Timeline,
) -> Vec<ServiceReport> {
    let start = Instant::now();
    let mut finished: Vec<(usize, ServiceReport)> = Vec::new();
    let mut flying: Vec<(InFlight, Track)> = Vec::new();
    for (index, s) in wave.iter().enumerate() {
        match start_deployment(ecs, ui, args, release, s, timeline).await {
            Ok((report, previous, track)) => flying.push((
                InFlight {
                    index,
                    target: release.target_arn(s).unwrap_or_default().to_string(),
                    sref: s.sref.clone(),
                    report,
                    previous,
                },
                track,
            )),
            Err(report) => finished.push((index, *report)),
        }
    }

    let targets = flying
        .iter()
        .map(|(f, t)| (f.sref.clone(), t.clone()))
        .collect();
    let verdicts = match waiting::wait_for_all(ecs, ui, targets, args.timeout, args.interval).await
    {
        Ok(v) => v.into_iter().map(Ok).collect(),
        // We changed the services and cannot tell how it went: treat as failed, never green.
        Err(e) => flying
            .iter()
            .map(|_| Err(format!("waiting failed: {}", e.message())))
            .collect::<Vec<_>>(),
    };

    let mut to_return: Vec<InFlight> = Vec::new();
    for ((mut f, _), verdict) in flying.into_iter().zip(verdicts) {
        let name = f.sref.to_string();
        let result = match verdict {
            Ok(o) => {
                let r = o.result;
                f.report.reason = match (o.reason.clone(), stopped_task_cause(&o)) {
                    (Some(why), Some(cause)) if r != WaitResult::Succeeded => {
                        Some(format!("{why}; {cause}"))
                    }
                    (why, _) => why,
                };
                f.report.wait = Some(o);
                r
            }
            Err(why) => {
                f.report.reason = Some(why);
                WaitResult::Failed
            }
        };
        timeline.push(
            &name,
            format!(
                "deployment {}{}",
                result.as_str(),
                reason_suffix(&f.report.reason)
            ),
        );
        // The smoke gate (`--smoke`, once smoke-test exists) runs here, on Succeeded, and turns
        // a failed check into a rollback exactly like a failed deployment.
        let (no_rollback_result, roll_back) = match result {
            WaitResult::Succeeded => (ServiceResult::Succeeded, false),
            WaitResult::Replaced => (ServiceResult::Replaced, false),
            WaitResult::RolledBack => (ServiceResult::RolledBack, true),
            WaitResult::Failed => (ServiceResult::Failed, true),
            WaitResult::TimedOut => (ServiceResult::TimedOut, true),
        };
        if result == WaitResult::Replaced {
            ui.warn(&format!(
                "{name}: a newer deployment replaced ours; not rolling back (it would undo that release)"
            ));
        }
        if !roll_back || args.no_rollback {
            f.report.result = no_rollback_result;
        } else if f.previous == f.target {
            f.report.result = ServiceResult::Failed;
            f.report.reason = Some(format!(
                "{}; the service ran {} before, so there is nothing to roll back to",
                f.report
                    .reason
                    .as_deref()
                    .unwrap_or("the deployment failed"),
                short_name(&f.previous)
            ));
        } else {
            ui.warn(&format!(
                "{name}: deployment {}{}; rolling back to {}",
                result.as_str(),
                reason_suffix(&f.report.reason),
                short_name(&f.previous)
            ));
            to_return.push(f);
            continue;
        }
        f.report.duration = start.elapsed();
        finished.push((f.index, f.report));
    }

    let returning: Vec<(&mut ServiceReport, String)> = to_return
        .iter_mut()
        .map(|f| {
            let previous = f.previous.clone();
            (&mut f.report, previous)
        })
        .collect();
    return_services(ecs, ui, args, returning, timeline).await;
    for f in to_return {
        let mut report = f.report;
        report.duration = start.elapsed();
        finished.push((f.index, report));
    }
    finished.sort_by_key(|(i, _)| *i);
    finished.into_iter().map(|(_, r)| r).collect()
}

/// Record the rollback target and update the service. `Err` carries the finished report when
/// there is nothing to wait for (unchanged, or the update failed).
async fn start_deployment(
    ecs: &Client,
    ui: &Ui,
    args: &DeployArgs,
    release: &Release,
    s: &ServiceTarget,
    timeline: &Timeline,
) -> std::result::Result<(ServiceReport, String, Track), Box<ServiceReport>> {
    let name = s.sref.to_string();
    let target = release.target_arn(s).unwrap_or_default().to_string();
    let mut report = new_report(release, s);
    // Record the rollback target at the moment of the update, not from the start of the run.
    let svc = match crate::services::describe_one(ecs, &s.sref).await {
        Ok(svc) => svc,
        Err(e) => {
            report.reason = Some(e.message().to_string());
            return Err(Box::new(report));
        }
    };
    let previous = svc.task_definition().unwrap_or_default().to_string();
    report.previous_task_definition_arn = Some(previous.clone());
    let force = args.force_new_deployment;
    let running = rollback::primary(&svc);
    // Already set to the target but its deployment has not completed (an earlier run crashed or
    // timed out mid-wait): finish that job — follow the deployment, and return to the revision
    // it is replacing if it fails — instead of reporting `unchanged`.
    if previous == target
        && !force
        && let Some(p) = running.filter(|p| p.task_definition() == Some(target.as_str()))
        && let Some(id) = p.id()
        && !deployment_settled(&svc, p)
    {
        let replacing = replaced_revision(&svc, &target).unwrap_or_else(|| target.clone());
        report.previous_task_definition_arn = Some(replacing.clone());
        report.deployment_id = Some(id.to_string());
        let step = format!(
            "already set to {}, deployment {id} still {}: following it (rollback target {})",
            short_name(&target),
            p.rollout_state()
                .map(|r| r.as_str())
                .unwrap_or("in progress"),
            short_name(&replacing)
        );
        ui.info(&format!("{name}: {step}"));
        timeline.push(&name, step);
        return Ok((report, replacing, Track::DeploymentId(id.to_string())));
    }
    if previous == target && !force {
        ui.info(&format!(
            "{name}: already runs {}; nothing to roll",
            short_name(&target)
        ));
        timeline.push(
            &name,
            format!("unchanged: already runs {}", short_name(&target)),
        );
        report.deployment_id = running.and_then(|p| p.id()).map(str::to_owned);
        report.result = ServiceResult::Unchanged;
        return Err(Box::new(report));
    }
    if let Some(p) = running
        && p.rollout_state().is_some_and(|r| r.as_str() != "COMPLETED")
    {
        ui.warn(&format!(
            "{name}: deployment {} of {} is still {} — it becomes the rollback target without having completed",
            p.id().unwrap_or("?"),
            short_name(p.task_definition().unwrap_or("?")),
            p.rollout_state().map(|r| r.as_str()).unwrap_or("?")
        ));
    }
    let deployment_id = match update_service(
        ecs,
        &s.sref,
        &target,
        force,
        &rollback::deployment_ids(&svc),
    )
    .await
    {
        Ok(id) => id,
        Err(e) => {
            report.reason = Some(e.message().to_string());
            timeline.push(&name, format!("UpdateService failed: {}", e.message()));
            return Err(Box::new(report));
        }
    };
    report.deployment_id = deployment_id.clone();
    let step = format!(
        "UpdateService {} → {}, deployment {}",
        short_name(&previous),
        short_name(&target),
        deployment_id.as_deref().unwrap_or("(not yet visible)")
    );
    ui.info(&format!("{name}: {step}"));
    timeline.push(&name, step);
    let track = waiting::track(deployment_id.as_deref(), &target);
    Ok((report, previous, track))
}

/// Whether the PRIMARY deployment `p` is done: COMPLETED, or (no rolloutState, Classic Load
/// Balancer) the only deployment with the desired count running.
fn deployment_settled(
    svc: &aws_sdk_ecs::types::Service,
    p: &aws_sdk_ecs::types::Deployment,
) -> bool {
    match p.rollout_state() {
        Some(r) => r.as_str() == "COMPLETED",
        None => {
            svc.deployments()
                .iter()
                .filter(|d| d.status() != Some("INACTIVE"))
                .count()
                == 1
                && p.running_count() == p.desired_count()
        }
    }
}

/// The revision an in-flight deployment to `target` is replacing: the newest other (ACTIVE)
/// deployment's task definition, a COMPLETED one first.
fn replaced_revision(svc: &aws_sdk_ecs::types::Service, target: &str) -> Option<String> {
    let mut others: Vec<_> = svc
        .deployments()
        .iter()
        .filter(|d| d.status() == Some("ACTIVE"))
        .filter(|d| d.task_definition().is_some_and(|t| t != target))
        .collect();
    others.sort_by_key(|d| {
        (
            d.rollout_state().is_some_and(|r| r.as_str() == "COMPLETED"),
            d.created_at().map(|t| t.as_nanos()),
        )
    });
    others
        .last()
        .and_then(|d| d.task_definition())
        .map(str::to_owned)
}

/// Return services to their recorded revisions, waiting for all of them in one waiter call, and
/// set each report's result: rolled_back, or rollback_failed (loudly).
async fn return_services(
    ecs: &Client,
    ui: &Ui,
    args: &DeployArgs,
    services: Vec<(&mut ServiceReport, String)>,
    timeline: &Timeline,
) {
    let mut waiting_for: Vec<(&mut ServiceReport, String, ServiceRef, Track)> = Vec::new();
    for (report, previous) in services {
        let sref = ServiceRef {
            cluster: report.cluster.clone(),
            name: report.service.clone(),
        };
        match rollback::begin_return(ecs, ui, &sref, &previous, timeline).await {
            Ok((id, track)) => {
                report.rollback_deployment_id = id;
                waiting_for.push((report, previous, sref, track));
            }
            Err(e) => rollback_failed(ui, report, &sref, e.message(), timeline),
        }
    }
    let targets = waiting_for
        .iter()
        .map(|(_, _, s, t)| (s.clone(), t.clone()))
        .collect();
    let verdicts =
        waiting::wait_for_all(ecs, ui, targets, args.rollback_timeout, args.interval).await;
    match verdicts {
        Ok(outcomes) => {
            for ((report, previous, sref, _), outcome) in waiting_for.into_iter().zip(outcomes) {
                let outcome = rollback::verify_returned(outcome, &previous);
                let ok = outcome.result == WaitResult::Succeeded;
                let why = outcome.reason.clone();
                report.rollback_wait = Some(outcome);
                if ok {
                    report.result = ServiceResult::RolledBack;
                    timeline.push(
                        &sref.to_string(),
                        format!("rolled back to {}, stable", short_name(&previous)),
                    );
                } else {
                    let why = format!(
                        "not stable on {}: {}",
                        short_name(&previous),
                        why.as_deref().unwrap_or("see the deployment events")
                    );
                    rollback_failed(ui, report, &sref, &why, timeline);
                }
            }
        }
        Err(e) => {
            for (report, _, sref, _) in waiting_for {
                rollback_failed(ui, report, &sref, e.message(), timeline);
            }
        }
    }
}

fn rollback_failed(
    ui: &Ui,
    report: &mut ServiceReport,
    sref: &ServiceRef,
    why: &str,
    timeline: &Timeline,
) {
    report.result = ServiceResult::RollbackFailed;
    let msg = format!("ROLLBACK FAILED: {sref}: {why}");
    ui.warn(&msg);
    timeline.push(&sref.to_string(), msg.clone());
    report.reason = Some(msg);
}

/// `--rollback-all`: return the services that succeeded (and were changed) too.
async fn rollback_successful(
    ecs: &Client,
    ui: &Ui,
    args: &DeployArgs,
    reports: &mut [ServiceReport],
    timeline: &Timeline,
) {
    let mut returning = Vec::new();
    for r in reports
        .iter_mut()
        .filter(|r| r.result == ServiceResult::Succeeded)
    {
        let Some(previous) = r.previous_task_definition_arn.clone() else {
            continue;
        };
        ui.warn(&format!(
            "{}/{}: rolling back too (--rollback-all)",
            r.cluster, r.service
        ));
        r.reason = Some("rolled back with the rest of the release (--rollback-all)".into());
        returning.push((r, previous));
    }
    // One wave per --max-parallel services.
    while !returning.is_empty() {
        let rest = returning.split_off(returning.len().min(usize::from(args.max_parallel)));
        return_services(ecs, ui, args, returning, timeline).await;
        returning = rest;
    }
}

/// Why the newest stopped task of the deployment stopped, with its non-zero exit codes: the line
/// a user would otherwise open the console for.
fn stopped_task_cause(o: &wait_stable::waiter::ServiceOutcome) -> Option<String> {
    let t = o.stopped_tasks.first()?;
    let mut s = format!(
        "task stopped: {}",
        t.stopped_reason
            .as_deref()
            .or(t.stop_code.as_deref())
            .unwrap_or("no reason given")
    );
    for c in &t.containers {
        match (c.exit_code, &c.reason) {
            (Some(code), _) if code != 0 => s.push_str(&format!(", {} exit code {code}", c.name)),
            (_, Some(r)) => s.push_str(&format!(", {}: {r}", c.name)),
            _ => {}
        }
    }
    Some(s)
}

fn reason_suffix(reason: &Option<String>) -> String {
    reason
        .as_deref()
        .map(|r| format!(": {}", r.trim_end_matches('.')))
        .unwrap_or_default()
}

/// The release-wide result: the worst service result wins.
pub fn overall(results: &[ServiceResult]) -> ServiceResult {
    let order = [
        ServiceResult::RollbackFailed,
        ServiceResult::RolledBack,
        ServiceResult::Failed,
        ServiceResult::Replaced,
        ServiceResult::TimedOut,
        ServiceResult::Succeeded,
    ];
    for r in order {
        if results.contains(&r) {
            return r;
        }
    }
    ServiceResult::Unchanged
}

fn finish(
    release: &Release,
    reports: Vec<ServiceReport>,
    timeline: &Timeline,
    started: Instant,
) -> Outcome {
    let results: Vec<ServiceResult> = reports.iter().map(|r| r.result).collect();
    let result = overall(&results);
    let n = reports.len();
    let count = |r: ServiceResult| reports.iter().filter(|x| x.result == r).count();
    let names = |pred: &dyn Fn(ServiceResult) -> bool| {
        reports
            .iter()
            .filter(|r| pred(r.result))
            .map(|r| format!("{}/{}", r.cluster, r.service))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let first_reason = reports
        .iter()
        .find(|r| r.result.is_failure())
        .and_then(|r| r.reason.clone())
        .unwrap_or_default();
    let outcome = match result {
        ServiceResult::Succeeded | ServiceResult::Unchanged => {
            let what = if result == ServiceResult::Unchanged {
                "already ran"
            } else {
                "now runs"
            };
            let targets: Vec<&str> = reports
                .iter()
                .filter_map(|r| r.task_definition_arn.as_deref())
                .map(short_name)
                .collect();
            let mut t = targets.clone();
            t.dedup();
            Outcome::succeeded(
                result.as_str(),
                format!(
                    "{n} service(s) {what} {}; {} deployed, {} unchanged",
                    t.join(", "),
                    count(ServiceResult::Succeeded),
                    count(ServiceResult::Unchanged)
                ),
            )
        }
        ServiceResult::RollbackFailed => Outcome::failed(
            "rollback_failed",
            format!(
                "ROLLBACK FAILED for {}: these services need attention now. {first_reason}",
                names(&|r| r == ServiceResult::RollbackFailed)
            ),
        ),
        ServiceResult::RolledBack => Outcome::failed(
            "rolled_back",
            format!(
                "release failed and was rolled back ({}): {first_reason}",
                names(&|r| r == ServiceResult::RolledBack)
            ),
        ),
        ServiceResult::TimedOut => Outcome::timed_out(
            "timed_out",
            format!(
                "deployment not complete within the deadline and not rolled back (--no-rollback): {}",
                names(&|r| r == ServiceResult::TimedOut)
            ),
        ),
        _ => Outcome::failed(
            "failed",
            format!(
                "release failed ({}): {first_reason}",
                names(&|r| r.is_failure())
            ),
        ),
    };
    let headline = format!("{} ({n} service(s))", result.as_str());
    let md = summary::markdown(&headline, &reports, timeline);
    outputs(outcome, release, &reports, started)
        .detail(json!({ "services": reports, "timeline": timeline.steps() }))
        .summary(md)
}

/// The flat outputs. With several services, each output lists the distinct values in service
/// order, comma-separated; `services` carries everything per service as JSON.
fn outputs(o: Outcome, release: &Release, reports: &[ServiceReport], started: Instant) -> Outcome {
    let distinct = |values: Vec<Option<String>>| {
        let mut out: Vec<String> = Vec::new();
        for v in values.into_iter().flatten() {
            if !v.is_empty() && !out.contains(&v) {
                out.push(v);
            }
        }
        out.join(",")
    };
    let (targets, previous) = if reports.is_empty() {
        (
            release
                .services
                .iter()
                .map(|s| release.target_arn(s).map(str::to_owned))
                .collect(),
            release
                .services
                .iter()
                .map(|s| Some(s.current_arn.clone()))
                .collect(),
        )
    } else {
        (
            reports
                .iter()
                .map(|r| r.task_definition_arn.clone())
                .collect(),
            reports
                .iter()
                .map(|r| r.previous_task_definition_arn.clone())
                .collect(),
        )
    };
    let services: Vec<serde_json::Value> = reports
        .iter()
        .map(|r| {
            json!({
                "cluster": r.cluster, "service": r.service, "result": r.result,
                "task_definition_arn": r.task_definition_arn,
                "previous_task_definition_arn": r.previous_task_definition_arn,
                "deployment_id": r.deployment_id,
            })
        })
        .collect();
    o.output("task_definition_arn", distinct(targets))
        .output("previous_task_definition_arn", distinct(previous))
        .output(
            "deployment_id",
            distinct(reports.iter().map(|r| r.deployment_id.clone()).collect()),
        )
        .output(
            "duration_s",
            (started.elapsed().as_secs_f64() * 10.0).round() / 10.0,
        )
        .output("services", serde_json::Value::Array(services))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worst service result decides the release's result.
    #[test]
    fn worst_result_wins() {
        use ServiceResult::*;
        assert_eq!(overall(&[Succeeded, Unchanged]), Succeeded);
        assert_eq!(overall(&[Unchanged, Unchanged]), Unchanged);
        assert_eq!(overall(&[Succeeded, RolledBack, Skipped]), RolledBack);
        assert_eq!(overall(&[RolledBack, RollbackFailed]), RollbackFailed);
        assert_eq!(overall(&[Succeeded, Replaced]), Replaced);
        assert_eq!(overall(&[TimedOut, Succeeded]), TimedOut);
    }
}
