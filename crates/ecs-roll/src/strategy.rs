//! Releases on ECS-native strategies (`deploymentConfiguration.strategy` BLUE_GREEN, LINEAR,
//! CANARY): ECS itself scales the new revision up beside the old one, shifts test then
//! production traffic, bakes, and rolls back on failure. ecs-roll follows the ServiceDeployment
//! through its lifecycle stages (`wait_stable::lifecycle`) instead of the rolling waiter:
//!
//! | ServiceDeployment                        | result                               |
//! |------------------------------------------|--------------------------------------|
//! | SUCCESSFUL                               | succeeded                            |
//! | ROLLBACK_SUCCESSFUL                      | rolled_back (exit 1)                 |
//! | ROLLBACK_FAILED                          | rollback_failed (exit 1)             |
//! | STOPPED                                  | failed (exit 1)                      |
//! | `--wait-until` milestone reached         | in_progress (exit 0)                 |
//! | deadline passed                          | StopServiceDeployment ROLLBACK, then as above; `--no-rollback`: timed_out (exit 4) |
//!
//! `--test-traffic-gate` adds a PAUSE hook at POST_TEST_TRAFFIC_SHIFT (marked as ecs-roll's, and
//! removed again by the next release without the flag), runs the smoke spec against
//! `--test-url` while the deployment waits, then ContinueServiceDeployment CONTINUE, or
//! ROLLBACK with the failing check as the reason (cause `smoke`): production traffic never
//! reaches a revision that failed its smoke test. The hook times out into ROLLBACK, and a job
//! cancelled while paused (SIGTERM, ctrl-c) rolls the deployment back before it exits.
//!
//! The gate acts only on a hook holding the deployment at POST_TEST_TRAFFIC_SHIFT (its own, or
//! a user's PAUSE hook there). A PAUSE hook at any other stage (PRE_SCALE_UP,
//! PRE_PRODUCTION_TRAFFIC_SHIFT, POST_PRODUCTION_TRAFFIC_SHIFT…) belongs to someone else: it
//! is reported as a warning — the stage, that it waits for their ContinueServiceDeployment,
//! the command — and waited out, never continued by ecs-roll.

use std::time::{Duration, SystemTime};

use aws_sdk_ecs::Client;
use aws_sdk_ecs::types::{
    DeploymentLifecycleHook, DeploymentLifecycleHookAction, DeploymentLifecycleHookStage,
    DeploymentLifecycleHookTargetType, DeploymentLifecycleHookTimeoutConfiguration,
    StopServiceDeploymentStopType,
};
use aws_smithy_types::Document;
use dk_core::Ui;
use dk_core::poll::Deadline;
use wait_stable::lifecycle::{self, End, Final, Follow, Hook, Milestone, Snapshot, Step};

use crate::DeployArgs;
use crate::register::ServiceTarget;
use crate::services::ServiceRef;
use crate::smoke_gate::{self, SmokeGate};
use crate::summary::{ServiceReport, ServiceResult, Timeline};

/// `hookDetails` key and value marking the PAUSE hook ecs-roll adds.
const MARK_KEY: &str = "addedBy";
const MARK_VALUE: &str = "deploy-kit ecs-roll --test-traffic-gate";
const GATE_STAGE: &str = "POST_TEST_TRAFFIC_SHIFT";

/// A release on an ECS-native strategy, prepared before its UpdateService.
#[derive(Debug, Clone)]
pub struct Native {
    pub strategy: String,
    /// Just before the UpdateService: its ServiceDeployment was created after this.
    pub started_after: SystemTime,
}

/// The service's ECS-native strategy, if it has one.
pub fn native_strategy(svc: &aws_sdk_ecs::types::Service) -> Option<String> {
    let s = svc
        .deployment_configuration()?
        .strategy()?
        .as_str()
        .to_string();
    lifecycle::STRATEGIES.contains(&s.as_str()).then_some(s)
}

/// A report for a release refused before its UpdateService.
pub fn not_started(mut report: ServiceReport, why: String) -> ServiceReport {
    report.result = ServiceResult::Failed;
    report.reason = Some(why);
    report
}

fn is_ours(h: &DeploymentLifecycleHook) -> bool {
    matches!(h.hook_details(), Some(Document::Object(m))
        if matches!(m.get(MARK_KEY), Some(Document::String(v)) if v == MARK_VALUE))
}

/// The hooks the service should carry: its own, plus ecs-roll's gate when asked for.
fn hooks_for_release(
    existing: &[DeploymentLifecycleHook],
    gate: bool,
    timeout: Duration,
) -> Vec<DeploymentLifecycleHook> {
    let mut hooks: Vec<DeploymentLifecycleHook> =
        existing.iter().filter(|h| !is_ours(h)).cloned().collect();
    if gate {
        // Past this, ECS rolls back by itself: a job killed mid-gate never leaves it paused.
        let minutes = timeout.as_secs().div_ceil(60).clamp(1, 20160) as i32;
        let mark = Document::Object([(MARK_KEY.to_string(), Document::from(MARK_VALUE))].into());
        hooks.push(
            DeploymentLifecycleHook::builder()
                .target_type(DeploymentLifecycleHookTargetType::Pause)
                .lifecycle_stages(DeploymentLifecycleHookStage::PostTestTrafficShift)
                .hook_details(mark)
                .timeout_configuration(
                    DeploymentLifecycleHookTimeoutConfiguration::builder()
                        .timeout_in_minutes(minutes)
                        .action(DeploymentLifecycleHookAction::Rollback)
                        .build(),
                )
                .build(),
        );
    }
    hooks
}

/// Before the UpdateService of an ECS-native release: put the gate's PAUSE hook on (or take a
/// stale one of ecs-roll's off). `Ok(None)` for a rolling service. `Err` is the reason the
/// release was not started.
pub async fn prepare(
    ecs: &Client,
    ui: &Ui,
    args: &DeployArgs,
    s: &ServiceTarget,
    gate: Option<&SmokeGate>,
) -> Result<Option<Native>, String> {
    let Some(strategy) = native_strategy(&s.service) else {
        if args.native.test_traffic_gate {
            return Err(format!(
                "--test-traffic-gate needs a BLUE_GREEN, LINEAR or CANARY service; {} is ROLLING",
                s.sref
            ));
        }
        return Ok(None);
    };
    if gate.is_some() && !args.native.test_traffic_gate {
        // After SUCCESSFUL the old revision is gone: a smoke test then could only fail late.
        return Err(format!(
            "{} is {strategy}: run --smoke on its test traffic with --test-traffic-gate --test-url URL (the test listener), before production traffic shifts",
            s.sref
        ));
    }
    let Some(config) = s.service.deployment_configuration() else {
        return Ok(None);
    };
    let existing = config.lifecycle_hooks();
    let wanted = hooks_for_release(existing, args.native.test_traffic_gate, args.wait.timeout());
    if wanted != existing {
        let mut config = config.clone();
        config.lifecycle_hooks = Some(wanted);
        ecs.update_service()
            .cluster(&s.sref.cluster)
            .service(&s.sref.name)
            .deployment_configuration(config)
            .send()
            .await
            .map_err(|e| {
                dk_core::aws::sdk_error("UpdateService (lifecycle hooks)", e)
                    .message()
                    .to_string()
            })?;
        let what = if args.native.test_traffic_gate {
            "added the test-traffic PAUSE hook at POST_TEST_TRAFFIC_SHIFT"
        } else {
            "removed ecs-roll's earlier test-traffic PAUSE hook"
        };
        ui.info(&format!("{}: {what}", s.sref));
    }
    Ok(Some(Native {
        strategy,
        started_after: SystemTime::now() - Duration::from_secs(1),
    }))
}

/// The ServiceDeployment the UpdateService started: the newest created after `after`.
async fn find_deployment(
    ecs: &Client,
    sref: &ServiceRef,
    after: SystemTime,
) -> Result<String, String> {
    let after = aws_smithy_types::DateTime::from(after);
    let out = ecs
        .list_service_deployments()
        .cluster(&sref.cluster)
        .service(&sref.name)
        .created_at(
            aws_sdk_ecs::types::CreatedAt::builder()
                .after(after)
                .build(),
        )
        .send()
        .await
        .map_err(|e| {
            dk_core::aws::sdk_error("ListServiceDeployments", e)
                .message()
                .to_string()
        })?;
    out.service_deployments()
        .iter()
        .max_by(|a, b| {
            let t = |d: &aws_sdk_ecs::types::ServiceDeploymentBrief| {
                d.created_at().map(|t| t.as_secs_f64()).unwrap_or(0.0)
            };
            t(a).total_cmp(&t(b))
        })
        .and_then(|d| d.service_deployment_arn())
        .map(str::to_owned)
        .ok_or_else(|| "its ServiceDeployment did not show in ListServiceDeployments".to_string())
}

/// Follow an ECS-native release to its result (see the module table).
#[allow(clippy::too_many_arguments)]
pub async fn follow_release(
    ecs: &Client,
    ui: &Ui,
    args: &DeployArgs,
    s: &ServiceTarget,
    native: &Native,
    gate: Option<&SmokeGate>,
    target: &str,
    mut report: ServiceReport,
    timeline: &Timeline,
) -> ServiceReport {
    let name = s.sref.to_string();
    let arn = match find_deployment(ecs, &s.sref, native.started_after).await {
        Ok(arn) => arn,
        Err(why) => {
            report.reason = Some(format!("UpdateService succeeded, but {why}"));
            report.unverified = report.reason.clone();
            report.result = ServiceResult::Failed;
            return report;
        }
    };
    timeline.push(
        &name,
        format!("{} service deployment {arn}", native.strategy),
    );
    report.service_deployment_arn = Some(arn.clone());
    let deadline = Deadline::after(args.wait.timeout());
    let mut gate_pending = args.native.test_traffic_gate;
    loop {
        // Every PAUSE hook stops the follower: the gate's runs the smoke test, any other is
        // reported and waited out (`on_pause`).
        let f = Follow {
            label: &name,
            arn: &arn,
            until: args.native.wait_until,
            stop_at_pause: true,
            interval: args.wait.interval(),
        };
        let (end, snap) = match lifecycle::follow(ecs, ui, &f, &deadline).await {
            Ok(r) => r,
            Err(e) => {
                report.reason = Some(format!("following {arn} failed: {}", e.message()));
                report.result = ServiceResult::Failed;
                return report;
            }
        };
        match end {
            End::Step(Step::Paused(hook))
                if on_pause(snap.stage.as_deref(), gate_pending) == OnPause::Report =>
            {
                // Where a caller's --wait-until already holds, that is the answer.
                if let Step::Reached(stage) =
                    lifecycle::decide(&snap, args.native.wait_until, false)
                {
                    return reached(ui, args, &arn, &stage, report, timeline, &name);
                }
                if let Some(h) = snap.awaiting() {
                    let notice = foreign_pause_notice(&name, &arn, snap.stage.as_deref(), h);
                    ui.warn(&notice);
                    timeline.push(&name, notice);
                }
                match wait_out_pause(ecs, &arn, &hook, &deadline, args.wait.interval()).await {
                    Ok(Some(_)) => {}
                    Ok(None) => {
                        return timed_out(ecs, ui, args, &arn, snap, report, timeline, &name).await;
                    }
                    Err(e) => {
                        report.reason = Some(format!("following {arn} failed: {}", e.message()));
                        report.result = ServiceResult::Failed;
                        return report;
                    }
                }
            }
            End::Step(Step::Paused(hook)) => {
                gate_pending = false;
                let cx = GateRun {
                    ecs,
                    ui,
                    s,
                    arn: &arn,
                    hook: &hook,
                    target,
                    timeline,
                };
                if let Some(why) = run_gate(&cx, args, gate).await {
                    report.cause = Some(smoke_gate::CAUSE.to_string());
                    report.reason = Some(why);
                }
            }
            End::Step(Step::Wait) => {}
            End::Step(Step::Finished(f)) => return finished(report, f, timeline, &name),
            End::Step(Step::Reached(stage)) => {
                return reached(ui, args, &arn, &stage, report, timeline, &name);
            }
            End::TimedOut => {
                return timed_out(ecs, ui, args, &arn, snap, report, timeline, &name).await;
            }
        }
    }
}

/// The `--wait-until` milestone holds: the release is left running (in_progress).
fn reached(
    ui: &Ui,
    args: &DeployArgs,
    arn: &str,
    stage: &str,
    mut report: ServiceReport,
    timeline: &Timeline,
    name: &str,
) -> ServiceReport {
    let step = format!(
        "left running at {stage} (--wait-until {}); follow it with: wait-stable --service-deployment {arn}",
        args.native.wait_until.as_str()
    );
    ui.info(&format!("{name}: {step}"));
    timeline.push(name, step.clone());
    report.result = ServiceResult::InProgress;
    report.reason = Some(step);
    report
}

fn finished(mut report: ServiceReport, f: Final, timeline: &Timeline, name: &str) -> ServiceReport {
    let (result, why) = match f {
        Final::Succeeded => (ServiceResult::Succeeded, None),
        Final::RolledBack(why) => (ServiceResult::RolledBack, Some(why)),
        Final::RollbackFailed(why) => (ServiceResult::RollbackFailed, Some(why)),
        Final::Stopped(why) => (ServiceResult::Failed, Some(why)),
    };
    report.result = result;
    // The smoke gate's failing check outranks ECS's generic rollback reason.
    if report.cause.is_none() {
        report.reason = why;
    }
    let suffix = report
        .reason
        .as_deref()
        .map(|r| format!(": {r}"))
        .unwrap_or_default();
    timeline.push(name, format!("deployment {}{suffix}", result.as_str()));
    report
}

/// The deadline passed: roll back (StopServiceDeployment ROLLBACK) and follow the rollback, or
/// with `--no-rollback` report timed_out and leave it running.
#[allow(clippy::too_many_arguments)]
async fn timed_out(
    ecs: &Client,
    ui: &Ui,
    args: &DeployArgs,
    arn: &str,
    snap: Snapshot,
    mut report: ServiceReport,
    timeline: &Timeline,
    name: &str,
) -> ServiceReport {
    let at = snap.stage.unwrap_or_else(|| snap.status.clone());
    report.reason = Some(format!("not finished within --timeout (at {at})"));
    if args.no_rollback {
        report.result = ServiceResult::TimedOut;
        return report;
    }
    ui.warn(&format!(
        "{name}: timed out at {at}; rolling back with StopServiceDeployment"
    ));
    if let Err(why) = stop_with_rollback(ecs, arn).await {
        report.result = ServiceResult::RollbackFailed;
        report.reason = Some(format!("timed out at {at}, and {why}"));
        return report;
    }
    let f = Follow {
        label: name,
        arn,
        until: Milestone::Done,
        stop_at_pause: false,
        interval: args.wait.interval(),
    };
    let deadline = Deadline::after(args.rollback_timeout.get());
    match lifecycle::follow(ecs, ui, &f, &deadline).await {
        Ok((End::Step(Step::Finished(Final::RolledBack(_))), _)) => {
            report.result = ServiceResult::RolledBack;
        }
        _ => report.result = ServiceResult::RollbackFailed,
    }
    timeline.push(
        name,
        format!("timed out at {at}: {}", report.result.as_str()),
    );
    report
}

/// StopServiceDeployment with stopType ROLLBACK (works even without rollback configured).
pub async fn stop_with_rollback(ecs: &Client, arn: &str) -> Result<(), String> {
    ecs.stop_service_deployment()
        .service_deployment_arn(arn)
        .stop_type(StopServiceDeploymentStopType::Rollback)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| {
            dk_core::aws::sdk_error("StopServiceDeployment", e)
                .message()
                .to_string()
        })
}

/// What a release does about a PAUSE hook awaiting action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OnPause {
    /// The smoke gate runs on test traffic, then CONTINUE or ROLLBACK on this hook.
    Gate,
    /// Someone else's hook: reported, never acted on; the release waits for their
    /// ContinueServiceDeployment (or the hook's timeout).
    Report,
}

/// The gate acts only on a hook holding the deployment at POST_TEST_TRAFFIC_SHIFT (ecs-roll's
/// `--test-traffic-gate` hook, or a user's PAUSE hook there), once.
fn on_pause(stage: Option<&str>, gate_pending: bool) -> OnPause {
    if gate_pending && stage == Some(GATE_STAGE) {
        OnPause::Gate
    } else {
        OnPause::Report
    }
}

/// The notice for a PAUSE hook the gate does not act on: where the deployment waits, and the
/// command its owner runs. Stage and hook id come from AWS and are neutralised.
fn foreign_pause_notice(name: &str, arn: &str, stage: Option<&str>, hook: &Hook) -> String {
    let clean = |t: &str| dk_core::untrusted::neutralise_capped(t, 200);
    let stage = clean(stage.unwrap_or("an unknown stage"));
    let id = clean(&hook.id);
    let arn = clean(arn);
    let timeout = hook
        .timeout_action
        .as_deref()
        .map(|a| match a {
            "ROLLBACK" => "; at its timeout ECS rolls the deployment back".to_string(),
            "CONTINUE" => "; at its timeout ECS continues the deployment".to_string(),
            other => format!("; its timeout action is {}", clean(other)),
        })
        .unwrap_or_default();
    format!(
        "{name}: paused at {stage} by PAUSE hook {id}, which ecs-roll does not act on (the smoke \
         gate only acts at {GATE_STAGE}): the deployment waits for someone's \
         ContinueServiceDeployment{timeout}. To go on: aws ecs continue-service-deployment \
         --service-deployment-arn {arn} --hook-id {id} --action CONTINUE (or ROLLBACK)"
    )
}

/// Waits while `hook` still awaits action (someone else's ContinueServiceDeployment or its
/// timeout ends it). `Ok(None)` when the deadline passed first, with the last snapshot.
async fn wait_out_pause(
    ecs: &Client,
    arn: &str,
    hook: &str,
    deadline: &Deadline,
    interval: Duration,
) -> dk_core::Result<Option<Snapshot>> {
    loop {
        if deadline.expired() {
            return Ok(None);
        }
        tokio::time::sleep(dk_core::poll::jittered(interval, deadline)).await;
        let Some(snap) = deadline.run(lifecycle::read(ecs, arn)).await else {
            return Ok(None);
        };
        let snap = snap?;
        if snap.awaiting().is_none_or(|h| h.id != hook) {
            return Ok(Some(snap));
        }
    }
}

/// What the test-traffic gate acts on.
struct GateRun<'a> {
    ecs: &'a Client,
    ui: &'a Ui,
    s: &'a ServiceTarget,
    arn: &'a str,
    hook: &'a str,
    target: &'a str,
    timeline: &'a Timeline,
}

/// The deployment waits at POST_TEST_TRAFFIC_SHIFT: run the smoke spec against the test URL,
/// then CONTINUE, or ROLLBACK. `Some(reason)` when it was rolled back.
async fn run_gate(cx: &GateRun<'_>, args: &DeployArgs, gate: Option<&SmokeGate>) -> Option<String> {
    let name = cx.s.sref.to_string();
    cx.ui.info(&format!(
        "{name}: paused at {GATE_STAGE} (hook {}); smoke test on test traffic",
        cx.hook
    ));
    let verdict = match gate {
        Some(g) => {
            let names = [
                cx.s.sref.cluster.as_str(),
                cx.s.sref.name.as_str(),
                cx.target,
            ];
            tokio::select! {
                v = smoke_gate::check_at(g, cx.ui, names, args.native.test_url.as_deref()) => v,
                // ctrl-c, or SIGTERM as a runner sends on cancel.
                _ = dk_core::shutdown::requested() => Err(format!("the job was cancelled while the deployment was paused at {GATE_STAGE}")),
            }
        }
        None => Err("no smoke spec to run (--smoke)".to_string()),
    };
    let (action, why) = match verdict {
        Ok(()) => (DeploymentLifecycleHookAction::Continue, None),
        Err(why) => (DeploymentLifecycleHookAction::Rollback, Some(why)),
    };
    let word = action.as_str().to_string();
    let sent = cx
        .ecs
        .continue_service_deployment()
        .service_deployment_arn(cx.arn)
        .hook_id(cx.hook)
        .action(action)
        .send()
        .await;
    let step = match (&sent, &why) {
        (Ok(_), None) => {
            "smoke test on test traffic passed: ContinueServiceDeployment CONTINUE".to_string()
        }
        (Ok(_), Some(w)) => {
            format!("{w}: ContinueServiceDeployment ROLLBACK before production traffic")
        }
        (Err(e), _) => format!(
            "ContinueServiceDeployment {word} failed ({}); the hook's timeout rolls it back",
            dk_core::untrusted::neutralise_capped(&format!("{e}"), 200)
        ),
    };
    cx.ui.info(&format!("{name}: {step}"));
    cx.timeline.push(&name, step);
    why
}

/// `ecs-roll rollback` on an ECS-native service whose deployment is still in progress: stop
/// it with StopServiceDeployment ROLLBACK (ECS returns traffic to the old revision, which
/// still runs) and follow the rollback. `None` when there is no such deployment.
pub async fn stop_in_progress(
    ecs: &Client,
    ui: &Ui,
    sref: &ServiceRef,
    svc: &aws_sdk_ecs::types::Service,
    args: &crate::RollbackArgs,
) -> dk_core::Result<Option<dk_core::Outcome>> {
    let (Some(_), Some(arn)) = (native_strategy(svc), svc.current_service_deployment()) else {
        return Ok(None);
    };
    let snap = lifecycle::read(ecs, arn).await?;
    if !matches!(snap.status.as_str(), "PENDING" | "IN_PROGRESS") {
        return Ok(None);
    }
    let at = snap.stage.as_deref().unwrap_or("PENDING");
    if args.dry_run {
        return Ok(Some(dk_core::Outcome::succeeded(
            "dry_run",
            format!("{sref}: would stop {arn} (at {at}) with StopServiceDeployment ROLLBACK"),
        )));
    }
    ui.info(&format!(
        "{sref}: deployment {arn} in progress at {at}: StopServiceDeployment ROLLBACK"
    ));
    stop_with_rollback(ecs, arn)
        .await
        .map_err(dk_core::Error::runtime)?;
    let label = sref.to_string();
    let f = Follow {
        label: &label,
        arn,
        until: Milestone::Done,
        stop_at_pause: false,
        interval: args.wait.interval(),
    };
    let (end, last) = lifecycle::follow(ecs, ui, &f, &Deadline::after(args.wait.timeout())).await?;
    let outcome = match end {
        End::Step(Step::Finished(Final::RolledBack(_))) => dk_core::Outcome::succeeded(
            "rolled_back",
            format!("{sref}: deployment stopped at {at} and rolled back"),
        ),
        End::TimedOut => dk_core::Outcome::timed_out(
            "timed_out",
            format!(
                "{sref}: the rollback of {arn} did not finish in time ({})",
                last.status
            ),
        ),
        _ => dk_core::Outcome::failed(
            "rollback_failed",
            format!("{sref}: stopping {arn} ended {}", last.status),
        ),
    };
    Ok(Some(outcome.output("service_deployment_arn", arn)))
}

/// The headline of a release left running at its milestone.
pub fn in_progress_message(reports: &[ServiceReport]) -> String {
    let parts: Vec<String> = reports
        .iter()
        .filter(|r| r.result == ServiceResult::InProgress)
        .map(|r| {
            format!(
                "{}/{}: {}",
                r.cluster,
                r.service,
                r.reason.as_deref().unwrap_or("in progress")
            )
        })
        .collect();
    format!(
        "deployment still in progress, as asked: {}",
        parts.join("; ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user_hook() -> DeploymentLifecycleHook {
        DeploymentLifecycleHook::builder()
            .target_type(DeploymentLifecycleHookTargetType::AwsLambda)
            .hook_target_arn("arn:aws:lambda:us-east-1:123456789012:function:check")
            .lifecycle_stages(DeploymentLifecycleHookStage::PreScaleUp)
            .build()
    }

    /// Only a pause at POST_TEST_TRAFFIC_SHIFT runs the gate, and only once; a PAUSE hook at
    /// any other stage (PRE_PRODUCTION_TRAFFIC_SHIFT shows as PRODUCTION_TRAFFIC_SHIFT) is
    /// reported and left to whoever owns it.
    /// The notice names the stage, the hook, whose action it waits for and the command, all
    /// AWS text neutralised.
    #[test]
    fn foreign_pause_notice_says_where_and_how_to_go_on() {
        let hook = Hook {
            id: "ecs-pause-1\n::set-output name=x::y".into(),
            target_type: "PAUSE".into(),
            status: "AWAITING_ACTION".into(),
            timeout_action: Some("ROLLBACK".into()),
            expires_at: None,
        };
        let n = foreign_pause_notice("prod/web", "arn:sd", Some("PRE_SCALE_UP"), &hook);
        for part in [
            "prod/web: paused at PRE_SCALE_UP by PAUSE hook ecs-pause-1",
            "ecs-roll does not act on",
            "waits for someone's ContinueServiceDeployment",
            "ECS rolls the deployment back",
            "aws ecs continue-service-deployment --service-deployment-arn arn:sd --hook-id ecs-pause-1",
        ] {
            assert!(n.contains(part), "{part} missing from {n}");
        }
        assert!(dk_core::gha::runner_commands(&n).is_empty(), "{n}");
    }

    #[test]
    fn gate_acts_only_on_the_post_test_traffic_shift_hook() {
        let cases = [
            (Some("POST_TEST_TRAFFIC_SHIFT"), true, OnPause::Gate),
            (Some("POST_TEST_TRAFFIC_SHIFT"), false, OnPause::Report),
            (Some("PRE_SCALE_UP"), true, OnPause::Report),
            (Some("POST_SCALE_UP"), true, OnPause::Report),
            (Some("RECONCILE_SERVICE"), true, OnPause::Report),
            (Some("PRODUCTION_TRAFFIC_SHIFT"), true, OnPause::Report),
            (Some("POST_PRODUCTION_TRAFFIC_SHIFT"), true, OnPause::Report),
            (
                Some("POST_PRODUCTION_TRAFFIC_SHIFT"),
                false,
                OnPause::Report,
            ),
            (None, true, OnPause::Report),
        ];
        for (stage, pending, want) in cases {
            assert_eq!(
                on_pause(stage, pending),
                want,
                "{stage:?}, gate pending {pending}"
            );
        }
    }

    /// The gate's hook is added once, marked, replaced on the next run, and removed without the
    /// flag; the user's own hooks are kept.
    #[test]
    fn gate_hook_is_added_once_and_removed() {
        let t = Duration::from_secs(600);
        let with = hooks_for_release(&[user_hook()], true, t);
        assert_eq!(with.len(), 2);
        assert!(is_ours(&with[1]) && !is_ours(&with[0]));
        assert_eq!(
            with[1]
                .timeout_configuration()
                .and_then(|c| c.timeout_in_minutes()),
            Some(10)
        );
        assert_eq!(hooks_for_release(&with, true, t), with);
        assert_eq!(hooks_for_release(&with, false, t), vec![user_hook()]);
    }
}
