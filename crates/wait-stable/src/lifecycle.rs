//! Following an ECS-native (BLUE_GREEN, LINEAR, CANARY) service deployment through its
//! lifecycle stages by its ServiceDeployment ARN: each stage shown as it starts, with the new
//! revision's test and production traffic and the bake time left; success only on SUCCESSFUL,
//! every ROLLBACK_* and STOPPED a failure (`ecs-deployments.md` §4, §14).
//!
//! Shared by `wait-stable --service-deployment` and `ecs-roll`, which may stop early at a
//! milestone (`--wait-until`) or at a PAUSE hook awaiting action (its smoke gate). The
//! decision is a pure function ([`decide`]) with table tests; [`follow`] only reads and waits.

use std::time::{Duration, Instant};

use aws_sdk_ecs::Client;
use dk_core::poll::{Deadline, jittered};
use dk_core::{Result, Ui};

/// Strategies this module follows; ROLLING deployments go through the rolling waiter.
pub const STRATEGIES: [&str; 3] = ["BLUE_GREEN", "LINEAR", "CANARY"];

/// Stage order (`ServiceDeploymentLifecycleStage`).
const STAGES: [&str; 10] = [
    "RECONCILE_SERVICE",
    "PRE_SCALE_UP",
    "SCALE_UP",
    "POST_SCALE_UP",
    "TEST_TRAFFIC_SHIFT",
    "POST_TEST_TRAFFIC_SHIFT",
    "PRODUCTION_TRAFFIC_SHIFT",
    "POST_PRODUCTION_TRAFFIC_SHIFT",
    "BAKE_TIME",
    "CLEAN_UP",
];

/// Where a caller may stop following (`--wait-until`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Milestone {
    /// Test traffic has shifted to the new revision (POST_TEST_TRAFFIC_SHIFT or later).
    TestTraffic,
    /// Production traffic has shifted (POST_PRODUCTION_TRAFFIC_SHIFT or later).
    ProductionTraffic,
    /// The bake time has begun (BAKE_TIME or later).
    Bake,
    /// The deployment finished.
    #[default]
    Done,
}

impl Milestone {
    pub fn as_str(self) -> &'static str {
        match self {
            Milestone::TestTraffic => "test-traffic",
            Milestone::ProductionTraffic => "production-traffic",
            Milestone::Bake => "bake",
            Milestone::Done => "done",
        }
    }

    /// The first stage at which the milestone holds.
    fn first_stage(self) -> Option<&'static str> {
        match self {
            Milestone::TestTraffic => Some("POST_TEST_TRAFFIC_SHIFT"),
            Milestone::ProductionTraffic => Some("POST_PRODUCTION_TRAFFIC_SHIFT"),
            Milestone::Bake => Some("BAKE_TIME"),
            Milestone::Done => None,
        }
    }
}

fn stage_index(stage: &str) -> Option<usize> {
    STAGES.iter().position(|s| *s == stage)
}

/// One lifecycle hook invocation (`lifecycleHookDetails[]`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Hook {
    pub id: String,
    pub target_type: String,
    pub status: String,
    pub timeout_action: Option<String>,
    /// Epoch seconds.
    pub expires_at: Option<f64>,
}

/// What one DescribeServiceDeployments shows of the deployment.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Snapshot {
    pub status: String,
    pub status_reason: Option<String>,
    pub stage: Option<String>,
    /// The new revision's share of test and production traffic, in percent.
    pub test_weight: Option<f64>,
    pub production_weight: Option<f64>,
    pub hooks: Vec<Hook>,
    pub bake_minutes: Option<i32>,
    pub rollback_reason: Option<String>,
}

impl Snapshot {
    /// The PAUSE hook awaiting action, if any.
    pub fn awaiting(&self) -> Option<&Hook> {
        self.hooks
            .iter()
            .find(|h| h.status == "AWAITING_ACTION" && h.target_type == "PAUSE")
    }
}

/// How a followed deployment ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Final {
    Succeeded,
    RolledBack(String),
    RollbackFailed(String),
    Stopped(String),
}

/// What to do after a snapshot.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Wait,
    Finished(Final),
    /// The milestone holds at this stage.
    Reached(String),
    /// A PAUSE hook awaits action (hook id).
    Paused(String),
}

fn reason(s: &Snapshot, default: &str) -> String {
    let mut why = s
        .status_reason
        .clone()
        .unwrap_or_else(|| default.to_string());
    if let Some(r) = &s.rollback_reason
        && !why.contains(r.as_str())
    {
        why = format!("{why} ({r})");
    }
    dk_core::untrusted::neutralise_capped(&why, 400)
}

/// The decision for one snapshot: finished statuses first (a rollback is never a milestone),
/// then a PAUSE hook when the caller acts on it, then the milestone.
pub fn decide(s: &Snapshot, until: Milestone, stop_at_pause: bool) -> Step {
    match s.status.as_str() {
        "SUCCESSFUL" => return Step::Finished(Final::Succeeded),
        "ROLLBACK_SUCCESSFUL" => {
            return Step::Finished(Final::RolledBack(reason(
                s,
                "the deployment was rolled back",
            )));
        }
        "ROLLBACK_FAILED" => {
            return Step::Finished(Final::RollbackFailed(reason(s, "the rollback failed")));
        }
        "STOPPED" => return Step::Finished(Final::Stopped(reason(s, "the deployment stopped"))),
        "IN_PROGRESS" => {}
        // PENDING, and the requested/in-progress stop and rollback statuses: keep following.
        _ => return Step::Wait,
    }
    if stop_at_pause && let Some(h) = s.awaiting() {
        return Step::Paused(h.id.clone());
    }
    let (Some(first), Some(stage)) = (until.first_stage(), s.stage.as_deref()) else {
        return Step::Wait;
    };
    match (stage_index(stage), stage_index(first)) {
        // Paused at the very milestone stage by a hook nobody here acts on: traffic has shifted.
        (Some(at), Some(want)) if at >= want => Step::Reached(stage.to_string()),
        _ => Step::Wait,
    }
}

/// One progress line for a snapshot, e.g. `PRODUCTION_TRAFFIC_SHIFT: production 10% · test
/// 100% on the new revision`.
pub fn describe(s: &Snapshot, bake_left: Option<Duration>) -> String {
    let stage = s.stage.as_deref().unwrap_or("-");
    let mut line = format!("{} {stage}", s.status);
    let pct = |w: f64| format!("{}%", (w * 10.0).round() / 10.0);
    match (s.production_weight, s.test_weight) {
        (Some(p), Some(t)) => line.push_str(&format!(
            ": production {} · test {} on the new revision",
            pct(p),
            pct(t)
        )),
        (Some(p), None) => line.push_str(&format!(": production {} on the new revision", pct(p))),
        _ => {}
    }
    if let Some(left) = bake_left {
        line.push_str(&format!(", bake ≤ {}s left", left.as_secs()));
    }
    if let Some(h) = s.awaiting() {
        line.push_str(&format!(", paused: hook {} awaits action", h.id));
    }
    line
}

/// Reads the deployment once. `Err` is a runtime problem (exit 3).
pub async fn read(ecs: &Client, arn: &str) -> Result<Snapshot> {
    let out = ecs
        .describe_service_deployments()
        .service_deployment_arns(arn)
        .send()
        .await
        .map_err(|e| dk_core::aws::sdk_error(&format!("DescribeServiceDeployments {arn}"), e))?;
    let Some(sd) = out.service_deployments().first() else {
        return Err(dk_core::Error::runtime(format!(
            "service deployment {arn} not found (DescribeServiceDeployments: MISSING)"
        )));
    };
    let target = sd.target_service_revision();
    Ok(Snapshot {
        status: sd
            .status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        status_reason: sd.status_reason().map(str::to_owned),
        stage: sd.lifecycle_stage().map(|s| s.as_str().to_string()),
        test_weight: target.and_then(|t| t.requested_test_traffic_weight()),
        production_weight: target.and_then(|t| t.requested_production_traffic_weight()),
        hooks: sd
            .lifecycle_hook_details()
            .iter()
            .map(|h| Hook {
                id: h.hook_id().unwrap_or_default().to_string(),
                target_type: h
                    .target_type()
                    .map(|t| t.as_str().to_string())
                    .unwrap_or_default(),
                status: h
                    .status()
                    .map(|t| t.as_str().to_string())
                    .unwrap_or_default(),
                timeout_action: h.timeout_action().map(|t| t.as_str().to_string()),
                expires_at: h.expires_at().map(|t| t.as_secs_f64()),
            })
            .collect(),
        bake_minutes: sd
            .deployment_configuration()
            .and_then(|c| c.bake_time_in_minutes()),
        rollback_reason: sd.rollback().and_then(|r| r.reason()).map(str::to_owned),
    })
}

/// How [`follow`] ended.
#[derive(Debug, Clone, PartialEq)]
pub enum End {
    Step(Step),
    /// The deadline passed at this snapshot.
    TimedOut,
}

/// What to follow and when to stop.
#[derive(Debug, Clone)]
pub struct Follow<'a> {
    /// Prefix of progress lines (`cluster/service`).
    pub label: &'a str,
    /// The ServiceDeployment ARN.
    pub arn: &'a str,
    pub until: Milestone,
    /// Stop at a PAUSE hook awaiting action (the caller acts on it).
    pub stop_at_pause: bool,
    pub interval: Duration,
}

/// Follows the deployment until [`decide`] says stop or the deadline passes, printing each new
/// stage. Returns the end and the last snapshot.
pub async fn follow(
    ecs: &Client,
    ui: &Ui,
    f: &Follow<'_>,
    deadline: &Deadline,
) -> Result<(End, Snapshot)> {
    let (label, arn, until, stop_at_pause, interval) =
        (f.label, f.arn, f.until, f.stop_at_pause, f.interval);
    let mut last_line = String::new();
    let mut bake_seen: Option<Instant> = None;
    let mut last = Snapshot::default();
    loop {
        match deadline.run(read(ecs, arn)).await {
            None => return Ok((End::TimedOut, last)),
            Some(s) => last = s?,
        }
        let baking = last.stage.as_deref() == Some("BAKE_TIME");
        if baking {
            bake_seen.get_or_insert_with(Instant::now);
        }
        // The API shows no bake clock: count from when this poller first saw BAKE_TIME.
        let bake_left = bake_seen.filter(|_| baking).and_then(|at| {
            let total = Duration::from_secs(u64::try_from(last.bake_minutes?).ok()? * 60);
            Some(total.saturating_sub(at.elapsed()))
        });
        let line = describe(&last, bake_left);
        if line != last_line && !bake_changed_only(&line, &last_line) {
            ui.info(&format!("{label}: {line}"));
        }
        last_line = line;
        match decide(&last, until, stop_at_pause) {
            Step::Wait => {}
            step => return Ok((End::Step(step), last)),
        }
        if deadline.expired() {
            return Ok((End::TimedOut, last));
        }
        tokio::time::sleep(jittered(interval, deadline)).await;
    }
}

/// Checks a `--service-deployment` value (exit 2 before any AWS call).
pub fn check_arn(arn: &str) -> Result<()> {
    let ok = arn.starts_with("arn:")
        && arn
            .split_once(":service-deployment/")
            .is_some_and(|(_, tail)| tail.split('/').filter(|p| !p.is_empty()).count() == 3);
    if ok {
        Ok(())
    } else {
        Err(dk_core::Error::usage(format!(
            "--service-deployment `{}` is not a service deployment ARN",
            dk_core::untrusted::neutralise_capped(arn, 200)
        ))
        .with_hint("use the ARN ecs-roll printed, e.g. arn:aws:ecs:REGION:ACCOUNT:service-deployment/CLUSTER/SERVICE/ID"))
    }
}

/// `wait-stable --service-deployment ARN`: follow an ECS-native deployment (for example one
/// `ecs-roll --wait-until` left running) to its end. Succeeded only on SUCCESSFUL.
pub async fn wait_command(
    ecs: &Client,
    ui: &Ui,
    arn: &str,
    deadline: &Deadline,
    interval: Duration,
) -> Result<dk_core::Outcome> {
    use dk_core::Outcome;
    let label = arn.rsplit(":service-deployment/").next().unwrap_or(arn);
    let f = Follow {
        label,
        arn,
        until: Milestone::Done,
        stop_at_pause: false,
        interval,
    };
    let (end, last) = follow(ecs, ui, &f, deadline).await?;
    let out = match end {
        End::Step(Step::Finished(Final::Succeeded)) => Outcome::succeeded(
            "succeeded",
            format!("{label}: service deployment SUCCESSFUL"),
        ),
        End::Step(Step::Finished(Final::RolledBack(why))) => {
            Outcome::failed("rolled_back", format!("{label} rolled back: {why}"))
        }
        End::Step(Step::Finished(Final::RollbackFailed(why))) => Outcome::failed(
            "rollback_failed",
            format!("{label}: rollback failed: {why}"),
        ),
        End::Step(Step::Finished(Final::Stopped(why))) => {
            Outcome::failed("failed", format!("{label} stopped: {why}"))
        }
        _ => Outcome::timed_out(
            "timed_out",
            format!("{label}: still {} at the deadline", describe(&last, None)),
        ),
    };
    Ok(out
        .output("service_deployment_arn", arn)
        .output("status", last.status.clone())
        .output("lifecycle_stage", last.stage.clone().unwrap_or_default()))
}

/// Only the bake countdown moved: not worth a new line every poll.
fn bake_changed_only(line: &str, previous: &str) -> bool {
    let cut = |l: &str| l.split(", bake ≤").next().unwrap_or("").to_string();
    line.contains(", bake ≤") && cut(line) == cut(previous)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(status: &str, stage: Option<&str>) -> Snapshot {
        Snapshot {
            status: status.into(),
            stage: stage.map(String::from),
            ..Snapshot::default()
        }
    }

    fn paused(stage: &str) -> Snapshot {
        Snapshot {
            hooks: vec![Hook {
                id: "ecs-pause-1".into(),
                target_type: "PAUSE".into(),
                status: "AWAITING_ACTION".into(),
                ..Hook::default()
            }],
            ..snap("IN_PROGRESS", Some(stage))
        }
    }

    /// Finished statuses decide whatever the milestone; only SUCCESSFUL is green.
    #[test]
    fn finished_statuses() {
        use Milestone::*;
        for until in [TestTraffic, ProductionTraffic, Bake, Done] {
            assert_eq!(
                decide(&snap("SUCCESSFUL", Some("CLEAN_UP")), until, false),
                Step::Finished(Final::Succeeded)
            );
            for (status, want) in [
                ("ROLLBACK_SUCCESSFUL", "rolled"),
                ("ROLLBACK_FAILED", "failed"),
                ("STOPPED", "stopped"),
            ] {
                let Step::Finished(f) = decide(&snap(status, Some("BAKE_TIME")), until, false)
                else {
                    panic!("{status} must finish");
                };
                let ok = matches!(
                    (&f, want),
                    (Final::RolledBack(_), "rolled")
                        | (Final::RollbackFailed(_), "failed")
                        | (Final::Stopped(_), "stopped")
                );
                assert!(ok, "{status} → {f:?}");
            }
        }
    }

    /// Milestones hold from their first stage on; never while a rollback is under way.
    #[test]
    fn milestones() {
        use Milestone::*;
        let table = [
            (TestTraffic, "TEST_TRAFFIC_SHIFT", false),
            (TestTraffic, "POST_TEST_TRAFFIC_SHIFT", true),
            (TestTraffic, "PRODUCTION_TRAFFIC_SHIFT", true),
            (ProductionTraffic, "PRODUCTION_TRAFFIC_SHIFT", false),
            (ProductionTraffic, "POST_PRODUCTION_TRAFFIC_SHIFT", true),
            (Bake, "POST_PRODUCTION_TRAFFIC_SHIFT", false),
            (Bake, "BAKE_TIME", true),
            (Bake, "CLEAN_UP", true),
            (Done, "CLEAN_UP", false),
        ];
        for (until, stage, reached) in table {
            let got = decide(&snap("IN_PROGRESS", Some(stage)), until, false);
            assert_eq!(
                got == Step::Reached(stage.into()),
                reached,
                "{until:?} at {stage}: {got:?}"
            );
        }
        for status in ["ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS", "PENDING"] {
            assert_eq!(
                decide(&snap(status, Some("BAKE_TIME")), Bake, false),
                Step::Wait
            );
        }
    }

    /// A PAUSE hook awaiting action stops the follower only when it acts on hooks.
    #[test]
    fn pause_hooks() {
        let s = paused("POST_TEST_TRAFFIC_SHIFT");
        assert_eq!(
            decide(&s, Milestone::Done, true),
            Step::Paused("ecs-pause-1".into())
        );
        assert_eq!(decide(&s, Milestone::Done, false), Step::Wait);
        assert!(describe(&s, None).contains("hook ecs-pause-1 awaits action"));
    }

    /// Service deployment ARNs are checked before any call.
    #[test]
    fn arn_check() {
        assert!(check_arn("arn:aws:ecs:us-east-1:1:service-deployment/prod/web/abc").is_ok());
        for bad in [
            "ecs-svc/1",
            "arn:aws:ecs:us-east-1:1:service/prod/web",
            "arn:aws:ecs:us-east-1:1:service-deployment/prod/web",
        ] {
            assert!(check_arn(bad).is_err(), "{bad}");
        }
    }

    /// Progress lines carry the traffic shares and the bake time left.
    #[test]
    fn progress_line() {
        let s = Snapshot {
            production_weight: Some(10.0),
            test_weight: Some(100.0),
            ..snap("IN_PROGRESS", Some("PRODUCTION_TRAFFIC_SHIFT"))
        };
        assert_eq!(
            describe(&s, None),
            "IN_PROGRESS PRODUCTION_TRAFFIC_SHIFT: production 10% · test 100% on the new revision"
        );
        let bake = Snapshot {
            stage: Some("BAKE_TIME".into()),
            ..s
        };
        assert!(describe(&bake, Some(Duration::from_secs(90))).ends_with("bake ≤ 90s left"));
        assert!(bake_changed_only(
            &describe(&bake, Some(Duration::from_secs(80))),
            &describe(&bake, Some(Duration::from_secs(90)))
        ));
    }
}
