//! `ecs-roll deploy`: render → register → migrate → roll → wait → (roll back), for one or many
//! services.
//!
//! Rolling one service: DescribeServices records the task definition it runs (the rollback
//! target), UpdateService sets the new revision, and the deployment it started is the one tracked,
//! by id: read from UpdateService's response, else from DescribeServices until a deployment that
//! did not exist before the call shows (ECS is eventually consistent; read errors are retried),
//! inside `--timeout`. Never "the deployment running the target task definition": when forcing,
//! that is the old one. If it never shows, the service is returned and the release exits 3. The
//! waiter then follows that deployment. Its verdicts map to:
//!
//! | waiter        | with rollback (default)                  | `--no-rollback`  |
//! |---------------|------------------------------------------|------------------|
//! | succeeded     | the smoke gate (`--smoke`): passed → succeeded; failed → as `failed` (cause `smoke`) | succeeded, or failed |
//! | rolled_back   | return to the recorded revision → rolled_back / rollback_failed | rolled_back |
//! | failed        | return to the recorded revision → rolled_back / rollback_failed | failed |
//! | timed_out     | return to the recorded revision → rolled_back / rollback_failed | timed_out (exit 4) |
//! | replaced      | replaced: someone else deployed; never rolled back (it would undo theirs) | replaced |
//!
//! Many services: they roll in waves of `--max-parallel`. A wave's services are rolled at the
//! same time, each followed by its own waiter and, when its deployment fails, returned to its own
//! recorded revision at once — not when the rest of the wave settles. Once a wave has a failure no
//! further wave starts (`skipped`). `--rollback-all` also returns every service this call changed
//! that succeeded, so a release is all-or-nothing.

use std::time::Instant;

use aws_sdk_ecs::Client;
use dk_core::{Outcome, Result, Ui};
use serde_json::json;
use wait_stable::waiter::{Track, WaitResult};

use crate::migrate::{self, Migration, MigrationReport, MigrationResult};
use crate::register::{self, Release, ServiceTarget};
use crate::rollback::{self, Started, update_service};
use crate::services::ServiceRef;
use crate::smoke_gate::{self, SmokeGate};
use crate::summary::{self, ServiceReport, ServiceResult, Timeline};
use crate::wire::short_name;
use crate::{DeployArgs, DeployPlan, diff, waiting};

/// `ecs-roll deploy`.
pub async fn deploy(
    ecs: &Client,
    secrets: Option<&aws_sdk_secretsmanager::Client>,
    logs: Option<&dk_core::task_logs::TaskLogs>,
    ui: &Ui,
    args: &DeployArgs,
    plan: DeployPlan,
    gate: Option<&SmokeGate>,
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
        return Ok(dry_run(ui, &plan, &release, args));
    }
    register_revisions(ecs, ui, &mut release, &timeline).await?;
    if let Some(m) = &plan.migrate {
        ui.group("Migrate");
        let (s, m) = migrate::migration_target(&release, m)?;
        let interval = args.wait.interval();
        let report = migrate_first(ecs, logs, ui, &m, &release, s, &timeline, interval).await?;
        if let Some(stopped) = migration_stopped(&report, &m, &release, &timeline, started) {
            return Ok(stopped);
        }
    }
    ui.group("Roll");
    let cx = Rollout {
        ecs,
        ui,
        args,
        release: &release,
        timeline: &timeline,
        gate,
    };
    let mut reports = roll_services(cx).await;
    if args.rollback_all && reports.iter().any(|r| r.result.is_failure()) {
        rollback_successful(ecs, ui, args, &mut reports, &timeline).await;
    }
    if let Some(logs) = logs {
        let waits: Vec<_> = reports.iter_mut().filter_map(|r| r.wait.as_mut()).collect();
        wait_stable::stopped_logs::attach(ecs, logs, ui, waits).await;
    }
    ui.end_group();
    verified(finish_with(&release, reports, &timeline, started))
}

/// `deploy --dry-run`: the diff (stdout in text mode, `detail` in JSON, as with `diff`) and the
/// migration that would run; nothing registered or changed.
fn dry_run(ui: &Ui, plan: &DeployPlan, release: &Release, args: &DeployArgs) -> Outcome {
    if let Some(m) = &plan.migrate {
        ui.info(&format!(
            "would run the migration `{}` in container {}",
            m.command.join(" "),
            m.container.as_deref().unwrap_or("(the only one)")
        ));
    }
    diff::outcome(release, args.force_new_deployment, true)
}

/// Register the revisions that are new and note each one (new or reused) on the timeline.
async fn register_revisions(
    ecs: &Client,
    ui: &Ui,
    release: &mut Release,
    timeline: &Timeline,
) -> Result<()> {
    register::register_new(ecs, ui, release).await?;
    for d in &release.definitions {
        let arn = d.arn.as_deref().unwrap_or_default();
        let what = if d.new {
            "registered"
        } else {
            "unchanged, reused"
        };
        timeline.push("", format!("{what} {}", short_name(arn)));
    }
    Ok(())
}

/// Run the migration on service `s`'s new revision before any service changes, its log
/// followed, and note it on the timeline.
#[allow(clippy::too_many_arguments)]
async fn migrate_first(
    ecs: &Client,
    logs: Option<&dk_core::task_logs::TaskLogs>,
    ui: &Ui,
    m: &Migration,
    release: &Release,
    s: &ServiceTarget,
    timeline: &Timeline,
    interval: std::time::Duration,
) -> Result<MigrationReport> {
    let arn = release.target_arn(s).unwrap_or_default().to_string();
    let name = s.sref.to_string();
    timeline.push(&name, format!("migration started on {}", short_name(&arn)));
    let report = crate::migrate_logs::run_with_logs(ecs, logs, ui, m, s, &arn, interval).await?;
    ui.info(&format!("migration: {}", report.describe()));
    timeline.push(
        &name,
        format!("migration {:?}: {}", report.result, report.describe()).to_lowercase(),
    );
    Ok(report)
}

/// The release's outcome when its migration did not pass (no service was changed); `None` when
/// it passed and the services roll.
fn migration_stopped(
    report: &MigrationReport,
    m: &Migration,
    release: &Release,
    timeline: &Timeline,
    started: Instant,
) -> Option<Outcome> {
    let outcome = match report.result {
        MigrationResult::Passed => return None,
        MigrationResult::Failed => Outcome::failed(
            "failed",
            format!(
                "migration failed ({}); no service was changed",
                report.describe()
            ),
        ),
        MigrationResult::TimedOut => Outcome::timed_out(
            "timed_out",
            format!(
                "migration task {} still running after {}; it was left running and no service was changed",
                report.task_arn.as_deref().unwrap_or("?"),
                dk_core::duration::format_duration(m.timeout)
            ),
        ),
    };
    let headline = format!("migration {:?}", report.result).to_lowercase();
    let md =
        summary::markdown(&headline, &[], timeline) + &crate::migrate_logs::summary_section(report);
    Some(
        outputs(outcome, release, &[], started)
            .detail(json!({ "migration": report, "services": [], "timeline": timeline.steps() }))
            .summary(md),
    )
}

/// The release's outcome with the services whose deployment never showed: those make it a
/// runtime error, since how the release went cannot be told (neither green nor an ordinary
/// failure).
fn verified((outcome, unverified): (Outcome, Vec<String>)) -> Result<Outcome> {
    if unverified.is_empty() {
        return Ok(outcome);
    }
    Err(dk_core::Error::runtime(format!(
        "{}. Release {}: {}",
        unverified.join("; "),
        outcome.result,
        outcome.message
    ))
    .with_hint("DescribeServices never showed the deployment ECS started (eventual consistency or failing reads past --timeout): check the services' deployments before retrying"))
}

/// [`finish`], with the reasons of the services whose deployment never showed.
fn finish_with(
    release: &Release,
    reports: Vec<ServiceReport>,
    timeline: &Timeline,
    started: Instant,
) -> (Outcome, Vec<String>) {
    let unverified = reports
        .iter()
        .filter_map(|r| r.unverified.clone())
        .collect();
    (finish(release, reports, timeline, started), unverified)
}

/// What every step of rolling a release reads: the client, the output, the flags, the release,
/// its timeline and its smoke gate.
#[derive(Clone, Copy)]
struct Rollout<'a> {
    ecs: &'a Client,
    ui: &'a Ui,
    args: &'a DeployArgs,
    release: &'a Release,
    timeline: &'a Timeline,
    gate: Option<&'a SmokeGate>,
}

/// Roll every service in waves of `--max-parallel`; once a wave has a failure, later services
/// are not started.
async fn roll_services(cx: Rollout<'_>) -> Vec<ServiceReport> {
    let Rollout {
        args,
        release,
        timeline,
        ..
    } = cx;
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
        let wave_reports = roll_wave(cx, wave).await;
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
        service_deployment_arn: None,
        duration: std::time::Duration::ZERO,
        unverified: None,
        known_deployments: Vec::new(),
        reason: None,
        cause: None,
        wait: None,
        rollback_wait: None,
    }
}

/// Roll the services of one wave at the same time. Each service is followed on its own — update,
/// wait, and, when its deployment fails, return to its recorded revision at once — so a failed
/// service is never left broken while the rest of its wave is still deploying.
async fn roll_wave(cx: Rollout<'_>, wave: &[ServiceTarget]) -> Vec<ServiceReport> {
    futures_util::future::join_all(wave.iter().map(|s| roll_one(cx, s))).await
}

/// Update one service, wait for its deployment, and return it to its recorded revision when the
/// deployment does not succeed (unless `--no-rollback`).
async fn roll_one(cx: Rollout<'_>, s: &ServiceTarget) -> ServiceReport {
    let Rollout {
        ecs,
        ui,
        args,
        release,
        timeline,
        gate,
    } = cx;
    let start = Instant::now();
    // ECS-native strategies (BLUE_GREEN, LINEAR, CANARY) are followed by `strategy.rs`.
    if crate::strategy::native_strategy(&s.service).is_some() || args.native.test_traffic_gate {
        return roll_native(cx, s).await;
    }
    let (mut report, previous, track) = match start_deployment(cx, s).await {
        Ok(started) => started,
        Err(report) => return *report,
    };
    // ECS rolled the release back before it could be read: follow that return, start none.
    let ecs_returning = matches!(&track, Some(Track::Return(_)));
    let name = s.sref.to_string();
    let target = release.target_arn(s).unwrap_or_default().to_string();
    let result = match track {
        Some(track) => {
            let (timeout, interval) = (args.wait.timeout(), args.wait.interval());
            match waiting::wait_for(ecs, ui, &s.sref, track, timeout, interval, args.allow_empty)
                .await
            {
                Ok(o) => {
                    report.reason = match (o.reason.clone(), stopped_task_cause(&o)) {
                        (Some(why), Some(cause)) if o.result != WaitResult::Succeeded => {
                            Some(format!("{why}; {cause}"))
                        }
                        (why, _) => why,
                    };
                    let r = o.result;
                    report.wait = Some(o);
                    r
                }
                // We changed the service and cannot tell how it went: failed, never green.
                Err(e) => {
                    report.reason = Some(format!("waiting failed: {}", e.message()));
                    WaitResult::Failed
                }
            }
        }
        // Updated, but its deployment never showed: the reason says so; treat as failed.
        None => WaitResult::Failed,
    };
    timeline.push(
        &name,
        format!(
            "deployment {}{}",
            result.as_str(),
            reason_suffix(&report.reason)
        ),
    );
    // The smoke gate runs on Succeeded and turns a failed check into a rollback exactly like a
    // failed deployment.
    let result = match gate {
        Some(g) if result == WaitResult::Succeeded => {
            smoke(g, ui, &s.sref, &target, &mut report, timeline).await
        }
        _ => result,
    };
    let (no_rollback_result, roll_back) = match result {
        WaitResult::Succeeded => (ServiceResult::Succeeded, false),
        WaitResult::Replaced => (ServiceResult::Replaced, false),
        WaitResult::RolledBack => (ServiceResult::RolledBack, true),
        WaitResult::RollbackFailed => (ServiceResult::RollbackFailed, true),
        WaitResult::Failed | WaitResult::NoTasks => (ServiceResult::Failed, true),
        WaitResult::TimedOut => (ServiceResult::TimedOut, true),
    };
    if result == WaitResult::Replaced {
        ui.warn(&format!(
            "{name}: a newer deployment replaced ours; not rolling back (it would undo that release)"
        ));
    }
    if ecs_returning {
        report.result = match result {
            WaitResult::Succeeded => ServiceResult::RolledBack,
            WaitResult::TimedOut if args.no_rollback => ServiceResult::TimedOut,
            _ => ServiceResult::RollbackFailed,
        };
    } else if !roll_back || args.no_rollback {
        report.result = no_rollback_result;
    } else if previous == target {
        report.result = ServiceResult::Failed;
        report.reason = Some(format!(
            "{}; the service ran {} before, so there is nothing to roll back to",
            report.reason.as_deref().unwrap_or("the deployment failed"),
            short_name(&previous)
        ));
    } else {
        ui.warn(&format!(
            "{name}: deployment {}{}; rolling back to {}",
            result.as_str(),
            reason_suffix(&report.reason),
            short_name(&previous)
        ));
        return_services(ecs, ui, args, vec![(&mut report, previous)], timeline).await;
    }
    report.duration = start.elapsed();
    report
}

/// A release on an ECS-native strategy: hooks set up, UpdateService, then ECS's own lifecycle
/// followed (`strategy.rs`); ECS rolls back, so no return of ours follows.
async fn roll_native(cx: Rollout<'_>, s: &ServiceTarget) -> ServiceReport {
    let start = Instant::now();
    let native = match crate::strategy::prepare(cx.ecs, cx.ui, cx.args, s, cx.gate).await {
        Ok(Some(native)) => native,
        Ok(None) => {
            let report = new_report(cx.release, s);
            return crate::strategy::not_started(report, "not an ECS-native service".into());
        }
        Err(why) => return crate::strategy::not_started(new_report(cx.release, s), why),
    };
    let report = match start_deployment(cx, s).await {
        Ok((report, _, _)) => report,
        Err(report) => return *report,
    };
    let target = cx.release.target_arn(s).unwrap_or_default().to_string();
    let (ecs, ui, args, gate) = (cx.ecs, cx.ui, cx.args, cx.gate);
    let mut report = crate::strategy::follow_release(
        ecs,
        ui,
        args,
        s,
        &native,
        gate,
        &target,
        report,
        cx.timeline,
    )
    .await;
    report.duration = start.elapsed();
    report
}

/// Run the smoke gate on a service whose deployment completed: Succeeded, or Failed with cause
/// `smoke` and the failing check as the reason.
async fn smoke(
    gate: &SmokeGate,
    ui: &Ui,
    sref: &ServiceRef,
    target: &str,
    report: &mut ServiceReport,
    timeline: &Timeline,
) -> WaitResult {
    let name = sref.to_string();
    match smoke_gate::check(gate, ui, &sref.cluster, &sref.name, target).await {
        Ok(()) => {
            timeline.push(&name, "smoke test passed");
            WaitResult::Succeeded
        }
        Err(why) => {
            timeline.push(&name, why.clone());
            report.reason = Some(why);
            report.cause = Some(smoke_gate::CAUSE.to_string());
            WaitResult::Failed
        }
    }
}

/// A started (or followed) deployment: the report so far, the rollback target, and what to
/// follow; `Err` is the finished report when there is nothing to wait for.
type StartResult = std::result::Result<(ServiceReport, String, Option<Track>), Box<ServiceReport>>;

/// Record the rollback target and update the service. `Err` carries the finished report when
/// there is nothing to wait for (unchanged, or the update failed). The track is `None` when the
/// update went through but its deployment never showed (the report's reason says so): the
/// service is then treated as failed, never as green.
async fn start_deployment(cx: Rollout<'_>, s: &ServiceTarget) -> StartResult {
    let (ecs, ui, args, release, timeline) = (cx.ecs, cx.ui, cx.args, cx.release, cx.timeline);
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
    report.known_deployments = rollback::deployment_ids(&svc);
    let force = args.force_new_deployment;
    if previous == target && !force {
        return follow_or_unchanged(ui, &svc, &s.sref, &target, report, timeline);
    }
    warn_if_unsettled(ui, &s.sref, rollback::primary(&svc));
    let (timeout, interval) = (args.wait.timeout(), args.wait.interval());
    let known = rollback::deployment_ids(&svc);
    match update_service(ecs, &s.sref, &target, force, &known, timeout, interval).await {
        Ok(started) => Ok(track_started(
            ui, &s.sref, started, previous, &target, report, timeline,
        )),
        Err(e) => {
            report.reason = Some(e.message().to_string());
            let name = s.sref.to_string();
            timeline.push(&name, format!("UpdateService failed: {}", e.message()));
            Err(Box::new(report))
        }
    }
}

/// The service is already set to the release's revision. When that deployment has not completed
/// (an earlier run crashed or timed out mid-wait), finish that job — follow the deployment, and
/// return to the revision it is replacing if it fails — instead of reporting `unchanged`.
fn follow_or_unchanged(
    ui: &Ui,
    svc: &aws_sdk_ecs::types::Service,
    sref: &ServiceRef,
    target: &str,
    mut report: ServiceReport,
    timeline: &Timeline,
) -> StartResult {
    let name = sref.to_string();
    let running = rollback::primary(svc);
    if let Some(p) = running.filter(|p| p.task_definition() == Some(target))
        && let Some(id) = p.id()
        && !deployment_settled(svc, p)
    {
        let replacing = replaced_revision(svc, target).unwrap_or_else(|| target.to_string());
        report.previous_task_definition_arn = Some(replacing.clone());
        report.deployment_id = Some(id.to_string());
        let step = format!(
            "already set to {}, deployment {id} still {}: following it (rollback target {})",
            short_name(target),
            p.rollout_state()
                .map(|r| r.as_str())
                .unwrap_or("in progress"),
            short_name(&replacing)
        );
        ui.info(&format!("{name}: {step}"));
        timeline.push(&name, step);
        return Ok((report, replacing, Some(Track::DeploymentId(id.to_string()))));
    }
    ui.info(&format!(
        "{name}: already runs {}; nothing to roll",
        short_name(target)
    ));
    timeline.push(
        &name,
        format!("unchanged: already runs {}", short_name(target)),
    );
    report.deployment_id = running.and_then(|p| p.id()).map(str::to_owned);
    report.result = ServiceResult::Unchanged;
    Err(Box::new(report))
}

/// Warn when the revision about to become the rollback target never completed its deployment.
fn warn_if_unsettled(ui: &Ui, sref: &ServiceRef, running: Option<&aws_sdk_ecs::types::Deployment>) {
    if let Some(p) = running
        && p.rollout_state().is_some_and(|r| r.as_str() != "COMPLETED")
    {
        ui.warn(&format!(
            "{sref}: deployment {} of {} is still {} — it becomes the rollback target without having completed",
            p.id().unwrap_or("?"),
            short_name(p.task_definition().unwrap_or("?")),
            p.rollout_state().map(|r| r.as_str()).unwrap_or("?")
        ));
    }
}

/// What UpdateService started, as the deployment to follow: ours by id; ECS's own return to
/// `previous` when it rolled ours back before the first fresh read; nothing when it never showed
/// (the report is then unverified).
fn track_started(
    ui: &Ui,
    sref: &ServiceRef,
    started: Started,
    previous: String,
    target: &str,
    mut report: ServiceReport,
    timeline: &Timeline,
) -> (ServiceReport, String, Option<Track>) {
    let name = sref.to_string();
    let change = format!(
        "UpdateService {} → {}",
        short_name(&previous),
        short_name(target)
    );
    let (step, track) = match started {
        Started::Deployment(id) => {
            report.deployment_id = Some(id.clone());
            let step = format!("{change}, deployment {id}");
            ui.info(&format!("{name}: {step}"));
            timeline.push(&name, step);
            return (report, previous, Some(Track::DeploymentId(id)));
        }
        Started::RolledBackByEcs(rollback) => {
            let why = format!(
                "{change}: the new deployment failed and ECS is already rolling it back (deployment {rollback}) by the first fresh read"
            );
            report.rollback_deployment_id = Some(rollback);
            (why, Some(Track::Return(previous.clone())))
        }
        Started::NotSeen(why) => {
            let why = format!("{change} succeeded, but {why}");
            report.unverified = Some(why.clone());
            (why, None)
        }
    };
    ui.warn(&format!("{name}: {step}"));
    timeline.push(&name, step.clone());
    report.reason = Some(step);
    (report, previous, track)
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
        let bounds = (args.rollback_timeout.get(), args.wait.interval());
        let mut known = report.known_deployments.clone();
        known.extend(report.deployment_id.clone());
        match rollback::begin_return(ecs, ui, &sref, &previous, &known, bounds, timeline).await {
            Ok(rollback::Begun::Tracking(id, track)) => {
                report.rollback_deployment_id = id;
                waiting_for.push((report, previous, sref, track));
            }
            Ok(rollback::Begun::NotSeen(why)) => {
                report.unverified = Some(why.clone());
                rollback_failed(ui, report, &sref, &why, timeline);
            }
            Err(e) => rollback_failed(ui, report, &sref, e.message(), timeline),
        }
    }
    let targets = waiting_for
        .iter()
        .map(|(_, _, s, t)| (s.clone(), t.clone()))
        .collect();
    let verdicts = waiting::wait_for_all(
        ecs,
        ui,
        targets,
        args.rollback_timeout.get(),
        args.wait.interval(),
    )
    .await;
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

/// The release-wide result: the worst service result wins. A service left off its recorded
/// revision (rollback_failed, failed, replaced, timed_out under --no-rollback) is worse than
/// one returned to it (rolled_back), so `rolled_back` never hides a broken service.
pub fn overall(results: &[ServiceResult]) -> ServiceResult {
    let order = [
        ServiceResult::RollbackFailed,
        ServiceResult::Failed,
        ServiceResult::Replaced,
        ServiceResult::TimedOut,
        ServiceResult::RolledBack,
        ServiceResult::InProgress,
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
        ServiceResult::InProgress => Outcome::succeeded(
            "in_progress",
            crate::strategy::in_progress_message(&reports),
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
    let cause = reports
        .iter()
        .find(|r| r.result.is_failure())
        .and_then(|r| r.cause.clone());
    o.output("task_definition_arn", distinct(targets))
        .output("cause", cause.unwrap_or_default())
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

    /// Regression (#9.9): a service left off its recorded revision after a failure (failed with
    /// nothing to return to, replaced, timed out under --no-rollback) was hidden behind another
    /// service's `rolled_back`, which ranked above them: the release read "rolled back" while a
    /// service stayed broken.
    #[test]
    fn a_service_left_broken_outranks_rolled_back() {
        use ServiceResult::*;
        assert_eq!(overall(&[RolledBack, Failed]), Failed);
        assert_eq!(overall(&[Failed, RolledBack, Succeeded]), Failed);
        assert_eq!(overall(&[RolledBack, Replaced]), Replaced);
        assert_eq!(overall(&[RolledBack, TimedOut]), TimedOut);
        assert_eq!(
            overall(&[Failed, RollbackFailed, RolledBack]),
            RollbackFailed
        );
    }
}
