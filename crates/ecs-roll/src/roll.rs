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
//! Many services: at most `--max-parallel` roll at once. Once one fails, no further service
//! starts (`skipped`) and those already rolling finish; each failed service is returned to its
//! own recorded revision. `--rollback-all` also returns every service this call changed that
//! succeeded, so a release is all-or-nothing.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use aws_sdk_ecs::Client;
use dk_core::{Error, Outcome, Result, Ui};
use serde_json::json;
use tokio::sync::Semaphore;
use wait_stable::waiter::ServiceResult as WaitResult;

use crate::migrate::{self, MigrationResult};
use crate::register::{self, Release, ServiceTarget};
use crate::rollback::{self, update_service};
use crate::summary::{self, ServiceReport, ServiceResult, Timeline};
use crate::wire::short_name;
use crate::{DeployArgs, DeployPlan, diff, waiting};

/// `ecs-roll deploy`.
pub async fn deploy(ecs: &Client, ui: &Ui, args: &DeployArgs, plan: DeployPlan) -> Result<Outcome> {
    let started = Instant::now();
    let timeline = Timeline::default();
    ui.group("Render");
    let mut release = register::prepare(ecs, ui, &plan, args.render.pin_digests).await?;
    if args.dry_run {
        let (text, _, _) = diff::describe_release(&release, args.force_new_deployment);
        ui.info(text.trim_end());
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

/// Roll every service, at most `--max-parallel` at once; stop starting new ones after a failure.
async fn roll_services(
    ecs: &Client,
    ui: &Ui,
    args: &DeployArgs,
    release: &Release,
    timeline: &Timeline,
) -> Vec<ServiceReport> {
    let gate = Arc::new(Semaphore::new(usize::from(args.max_parallel)));
    let failed = Arc::new(AtomicBool::new(false));
    let runs = release.services.iter().map(|s| {
        let gate = gate.clone();
        let failed = failed.clone();
        async move {
            let _permit = gate.acquire().await;
            if failed.load(Ordering::SeqCst) {
                timeline.push(
                    &s.sref.to_string(),
                    "skipped: another service of this release failed",
                );
                return skipped(release, s);
            }
            let report = roll_one(ecs, ui, args, release, s, timeline).await;
            if report.result.is_failure() {
                failed.store(true, Ordering::SeqCst);
            }
            report
        }
    });
    futures_util::future::join_all(runs).await
}

fn skipped(release: &Release, s: &ServiceTarget) -> ServiceReport {
    ServiceReport {
        cluster: s.sref.cluster.clone(),
        service: s.sref.name.clone(),
        result: ServiceResult::Skipped,
        task_definition_arn: release.target_arn(s).map(str::to_owned),
        previous_task_definition_arn: Some(s.current_arn.clone()),
        deployment_id: None,
        rollback_deployment_id: None,
        duration: std::time::Duration::ZERO,
        reason: Some("not started: another service of this release failed".into()),
        wait: None,
        rollback_wait: None,
    }
}

/// Update one service, wait, and roll it back by itself when the deployment does not succeed.
async fn roll_one(
    ecs: &Client,
    ui: &Ui,
    args: &DeployArgs,
    release: &Release,
    s: &ServiceTarget,
    timeline: &Timeline,
) -> ServiceReport {
    let start = Instant::now();
    let name = s.sref.to_string();
    let target = release.target_arn(s).unwrap_or_default().to_string();
    let mut report = ServiceReport {
        cluster: s.sref.cluster.clone(),
        service: s.sref.name.clone(),
        result: ServiceResult::Failed,
        task_definition_arn: Some(target.clone()),
        previous_task_definition_arn: Some(s.current_arn.clone()),
        deployment_id: None,
        rollback_deployment_id: None,
        duration: std::time::Duration::ZERO,
        reason: None,
        wait: None,
        rollback_wait: None,
    };
    let done = |mut r: ServiceReport| {
        r.duration = start.elapsed();
        r
    };

    // Record the rollback target at the moment of the update, not from the start of the run.
    let svc = match crate::services::describe_one(ecs, &s.sref).await {
        Ok(svc) => svc,
        Err(e) => {
            report.reason = Some(e.message().to_string());
            return done(report);
        }
    };
    let previous = svc.task_definition().unwrap_or_default().to_string();
    report.previous_task_definition_arn = Some(previous.clone());
    let force = args.force_new_deployment;
    let running = rollback::primary(&svc);
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
        return done(report);
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
    let deployment_id = match update_service(ecs, &s.sref, &target, force).await {
        Ok(id) => id,
        Err(e) => {
            report.reason = Some(e.message().to_string());
            timeline.push(&name, format!("UpdateService failed: {}", e.message()));
            return done(report);
        }
    };
    report.deployment_id = deployment_id.clone();
    ui.info(&format!(
        "{name}: {} → {}, deployment {}",
        short_name(&previous),
        short_name(&target),
        deployment_id.as_deref().unwrap_or("(not yet visible)")
    ));
    timeline.push(
        &name,
        format!(
            "UpdateService {} → {}, deployment {}",
            short_name(&previous),
            short_name(&target),
            deployment_id.as_deref().unwrap_or("?")
        ),
    );

    let track = waiting::track(deployment_id.as_deref(), &target);
    let verdict =
        match waiting::wait_for(ecs, ui, &s.sref, track, args.timeout, args.interval).await {
            Ok(o) => {
                let r = o.result;
                report.reason = o.reason.clone();
                report.wait = Some(o);
                r
            }
            Err(e) => {
                // We changed the service and cannot tell how it went: treat as failed, never green.
                report.reason = Some(format!("waiting failed: {}", e.message()));
                WaitResult::Failed
            }
        };
    timeline.push(
        &name,
        format!(
            "deployment {}{}",
            verdict.as_str(),
            reason_suffix(&report.reason)
        ),
    );

    // The smoke gate (`--smoke`, once smoke-test exists) runs here, on Succeeded, and turns a
    // failed check into a rollback exactly like a failed deployment.
    let (no_rollback_result, roll_back) = match verdict {
        WaitResult::Succeeded => {
            report.result = ServiceResult::Succeeded;
            return done(report);
        }
        WaitResult::Replaced => (ServiceResult::Replaced, false),
        WaitResult::RolledBack => (ServiceResult::RolledBack, true),
        WaitResult::Failed => (ServiceResult::Failed, true),
        WaitResult::TimedOut => (ServiceResult::TimedOut, true),
    };
    if !roll_back || args.no_rollback {
        if verdict == WaitResult::Replaced {
            ui.warn(&format!("{name}: a newer deployment replaced ours; not rolling back (it would undo that release)"));
        }
        report.result = no_rollback_result;
        return done(report);
    }
    if previous == target {
        report.result = ServiceResult::Failed;
        report.reason = Some(format!(
            "{}; the service ran {} before, so there is nothing to roll back to",
            report.reason.as_deref().unwrap_or("the deployment failed"),
            short_name(&previous)
        ));
        return done(report);
    }
    ui.warn(&format!(
        "{name}: deployment {}{}; rolling back to {}",
        verdict.as_str(),
        reason_suffix(&report.reason),
        short_name(&previous)
    ));
    return_service(ecs, ui, args, &mut report, &previous, timeline).await;
    done(report)
}

/// Return a service to its recorded revision and set the report's result accordingly.
async fn return_service(
    ecs: &Client,
    ui: &Ui,
    args: &DeployArgs,
    report: &mut ServiceReport,
    previous: &str,
    timeline: &Timeline,
) {
    let sref = crate::services::ServiceRef {
        cluster: report.cluster.clone(),
        name: report.service.clone(),
    };
    let name = sref.to_string();
    match rollback::return_to(
        ecs,
        ui,
        &sref,
        previous,
        args.rollback_timeout,
        args.interval,
        timeline,
    )
    .await
    {
        Ok(r) => {
            report.rollback_deployment_id = r.deployment_id.clone();
            let ok = r.succeeded();
            let why = r.outcome.reason.clone();
            report.rollback_wait = Some(r.outcome);
            if ok {
                report.result = ServiceResult::RolledBack;
                timeline.push(
                    &name,
                    format!("rolled back to {}, stable", short_name(previous)),
                );
            } else {
                report.result = ServiceResult::RollbackFailed;
                let msg = format!(
                    "ROLLBACK FAILED: {name} is not stable on {}: {}",
                    short_name(previous),
                    why.as_deref().unwrap_or("see the deployment events")
                );
                ui.warn(&msg);
                timeline.push(&name, msg.clone());
                report.reason = Some(msg);
            }
        }
        Err(e) => {
            report.result = ServiceResult::RollbackFailed;
            let msg = format!("ROLLBACK FAILED: {name}: {}", e.message());
            ui.warn(&msg);
            timeline.push(&name, msg.clone());
            report.reason = Some(msg);
        }
    }
}

/// `--rollback-all`: return the services that succeeded (and were changed) too.
async fn rollback_successful(
    ecs: &Client,
    ui: &Ui,
    args: &DeployArgs,
    reports: &mut [ServiceReport],
    timeline: &Timeline,
) {
    let gate = Arc::new(Semaphore::new(usize::from(args.max_parallel)));
    let runs = reports
        .iter_mut()
        .filter(|r| r.result == ServiceResult::Succeeded)
        .map(|r| {
            let gate = gate.clone();
            async move {
                let _permit = gate.acquire().await;
                let Some(previous) = r.previous_task_definition_arn.clone() else {
                    return;
                };
                ui.warn(&format!(
                    "{}/{}: rolling back too (--rollback-all)",
                    r.cluster, r.service
                ));
                r.reason = Some("rolled back with the rest of the release (--rollback-all)".into());
                return_service(ecs, ui, args, r, &previous, timeline).await;
            }
        });
    futures_util::future::join_all(runs).await;
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
