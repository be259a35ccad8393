//! `wait-stable`: wait for an ECS deployment with live progress and an exact deadline, and never
//! report a false green.
//!
//! `aws ecs wait services-stable` calls a service stable when it has one deployment and
//! `runningCount == desiredCount` — which is also true after the circuit breaker has rolled the
//! release back. `wait-stable` follows the *deployment* instead: it succeeds only when the tracked
//! deployment is COMPLETED and the service runs its task definition, and it says `rolled_back`,
//! `failed` or `replaced` the moment it sees otherwise, with the stopped tasks that explain why.
//!
//! This file is the command line; the waiter is in [`waiter`] (reused by `ecs-roll`), the plain
//! data it takes and returns in `model`, the decision rules in `verdict`, the ECS calls in
//! `ecs_reads`, the output in `progress` and `summary`, and `--service` parsing in `targets`.

mod ecs_reads;
pub mod lifecycle;
mod model;
mod progress;
pub mod stopped_logs;
mod summary;
mod targets;
mod verdict;
pub mod waiter;

use std::time::Duration;

use clap::{Parser, ValueEnum};
use dk_core::duration::format_duration;
use dk_core::poll::Deadline;
use dk_core::wait::{DeploymentWait, WaitArgs};
use dk_core::{Error, Outcome, Result, Tool, Ui};

pub use model::{
    ContainerExit, ServiceEvent, ServiceOutcome, StoppedTask, Target, Track, Until, WaitResult,
};
pub use waiter::{WaitOptions, wait};

/// The job-summary Markdown for a set of outcomes: a table per service and the events timeline.
pub fn summary_markdown(outcomes: &[ServiceOutcome]) -> String {
    summary::render(outcomes)
}

const EXAMPLES: &str = "\
Examples:
  # Wait for the rollout UpdateService just started (the PRIMARY deployment), 10 minutes at most
  wait-stable --cluster prod --service web

  # Several services, in one or more clusters, in one poll loop
  wait-stable --cluster prod --service web --service worker
  wait-stable --service prod/web --service staging/web

  # Follow a given deployment or task definition, with a shorter deadline and faster polls.
  # Right after your own `aws ecs update-service`, name what it started: ECS is eventually
  # consistent, and the PRIMARY seen a moment later may still be the old one.
  wait-stable --cluster prod --service web --deployment-id ecs-svc/6290123840981232123
  wait-stable --cluster prod --service web --task-definition web:42 --timeout 5m --interval 2s

  # Stop waiting once the new deployment is COMPLETED, without waiting for old tasks to drain
  wait-stable --cluster prod --service web --until deployed

  # A service scaled to zero (e.g. at night): accept a deployment in which no task runs
  wait-stable --cluster prod --service batch --allow-empty

  # One JSON object on stdout for scripts
  wait-stable --cluster prod --service web --output json | jq -r .result

Results (the `result` output):
  succeeded        the deployment COMPLETED and the service runs it
  rolled_back      it failed and a rollback (circuit breaker, alarm) restored the previous revision;
                   also when that rollback had already finished before the wait began
  rollback_failed  it failed and the rollback failed too: the service is stuck half-way
  failed           it FAILED with no rollback, or with nothing to roll back to (service stuck)
  no_tasks         it completed but no task ever ran it (desiredCount 0); see --allow-empty
  replaced         a newer deployment took over
  timed_out        the deadline passed first
Exit codes: 0 succeeded · 1 rolled_back, rollback_failed, failed, no_tasks or replaced · 2 usage
error, missing cluster or service · 3 AWS unreachable or refused · 4 timed out (with the last state)";

dk_core::tool_cli! { aws;
    /// Wait for an ECS deployment with live progress and an exact deadline.
    #[derive(Debug, Parser)]
    #[command(
        name = "wait-stable",
        version,
        about = "Wait for an ECS deployment with live progress and an exact deadline",
        long_about = "Wait for an ECS deployment with live progress and an exact deadline.\n\n\
            Follows the deployment, not the service: the PRIMARY deployment when the wait starts (or \
            the one given by --deployment-id / --task-definition). Succeeds only when that deployment \
            is COMPLETED and the service runs its task definition (with --until stable, the default, \
            also once the old tasks have drained); a service without rolloutState must show no \
            failed tasks and the steady state held over two polls and 30 s. A PRIMARY created by a rollback \
            is never the release: started after a rollback, the wait reports that rollback. A \
            rollback is followed to its end (rolled_back or rollback_failed); a FAILED deployment \
            or a newer one taking over ends the wait with exit 1 and the stopped tasks' reasons and \
            exit codes. A deployment in which no task ever ran (desiredCount 0) is no_tasks unless \
            --allow-empty. Prints each deployment's counts, new service events and circuit-breaker \
            failures as they happen.",
        after_help = EXAMPLES
    )]
    pub struct Cli {
        /// Cluster of the services given by name (name or ARN)
        #[arg(long, value_name = "CLUSTER")]
        pub cluster: Option<String>,
        /// Service to wait for: NAME (with --cluster), CLUSTER/NAME, or a service ARN; repeatable,
        /// or comma-separated
        #[arg(
            long = "service",
            value_name = "SERVICE",
            required_unless_present = "service_deployment",
            value_delimiter = ','
        )]
        pub services: Vec<String>,
        #[command(flatten)]
        pub wait: WaitArgs<DeploymentWait>,
        /// Follow this deployment (`ecs-svc/…`) or ServiceDeployment ARN instead of the current PRIMARY
        /// (one service only); waited for up to 30 s while ECS does not show it yet
        #[arg(long, value_name = "ID", conflicts_with = "task_definition")]
        pub deployment_id: Option<String>,
        /// Follow the deployment running this task definition (ARN or family:revision); waited for up
        /// to 30 s while ECS does not show it yet
        #[arg(long, value_name = "ARN")]
        pub task_definition: Option<String>,
        /// Accept a deployment in which no task ever runs (desiredCount 0, e.g. a service scaled to
        /// zero at night); without it that is `no_tasks`, exit 1
        #[arg(long)]
        pub allow_empty: bool,
        /// Follow this ECS-native (BLUE_GREEN, LINEAR, CANARY) service deployment to its end, e.g.
        /// one `ecs-roll deploy --wait-until` left running; succeeded only when SUCCESSFUL
        #[arg(long, value_name = "ARN", conflicts_with_all = ["services", "deployment_id", "task_definition"])]
        pub service_deployment: Option<String>,
        /// `stable`: deployment COMPLETED and old tasks drained; `deployed`: deployment COMPLETED
        #[arg(long, value_enum, default_value_t = UntilArg::Stable)]
        pub until: UntilArg,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum UntilArg {
    /// The deployment is COMPLETED and the old ones have drained (one deployment, running == desired)
    Stable,
    /// The deployment is COMPLETED; old tasks may still be stopping
    Deployed,
}

impl From<UntilArg> for Until {
    fn from(u: UntilArg) -> Self {
        match u {
            UntilArg::Stable => Until::Stable,
            UntilArg::Deployed => Until::Deployed,
        }
    }
}

impl Cli {
    /// Every check that needs no network; the targets to wait for.
    fn targets(&self) -> Result<Vec<Target>> {
        self.wait.validate()?;
        let track = match (&self.deployment_id, &self.task_definition) {
            (Some(id), _) => {
                if self.services.len() > 1 {
                    return Err(Error::usage("--deployment-id names one deployment of one service, but several services were given")
                        .with_hint("wait for one service at a time with --deployment-id, or use --task-definition"));
                }
                targets::check_deployment_id(id)?;
                Track::DeploymentId(id.clone())
            }
            (None, Some(td)) => {
                targets::check_task_definition(td)?;
                Track::TaskDefinition(td.clone())
            }
            (None, None) => Track::CurrentPrimary,
        };
        targets::parse_services(self.cluster.as_deref(), &self.services, &track)
    }
}

pub struct WaitStable;

impl Tool for WaitStable {
    const NAME: &'static str = "wait-stable";
    type Cli = Cli;
    type Plan = Vec<Target>;

    fn validate(cli: &Cli, ctx: &dk_core::Context) -> Result<Vec<Target>> {
        if let Some(arn) = &cli.service_deployment {
            // The service deployment is the target: no --service list to check.
            lifecycle::check_arn(arn)?;
            cli.wait.validate()?;
            cli.aws.validate(ctx)?;
            return Ok(Vec::new());
        }
        let targets = cli.targets()?;
        cli.aws.validate(ctx)?;
        Ok(targets)
    }

    async fn run(cli: Cli, targets: Vec<Target>, ui: Ui) -> Result<Outcome> {
        if let Some(arn) = &cli.service_deployment {
            let deadline = Deadline::after(cli.wait.timeout);
            let config = dk_core::aws::sdk_config(&ui, &cli.aws).await?;
            let ecs = aws_sdk_ecs::Client::new(&config);
            return lifecycle::wait_command(&ecs, &ui, arn, &deadline, cli.wait.interval()).await;
        }
        // The deadline covers everything, AWS configuration included.
        let opts = WaitOptions {
            deadline: Deadline::after(cli.wait.timeout),
            interval: cli.wait.interval(),
            until: cli.until.into(),
            // A deployment named by id or task definition may not show yet right after the
            // user's UpdateService (ECS is eventually consistent): the same grace ecs-roll's
            // own waits get, never past the deadline.
            created_grace: waiter::NOT_YET_VISIBLE_GRACE.min(cli.wait.timeout()),
            allow_empty: cli.allow_empty,
        };
        let config = dk_core::aws::sdk_config(&ui, &cli.aws).await?;
        let ecs = aws_sdk_ecs::Client::new(&config);
        let mut outcomes = wait(&ecs, &ui, &targets, &opts).await?;
        let logs = dk_core::task_logs::TaskLogs::new(&config);
        stopped_logs::attach(&ecs, &logs, &ui, outcomes.iter_mut()).await;
        Ok(outcome(&outcomes, cli.wait.timeout()))
    }
}

/// The combined result: any definite failure wins (rollback_failed, failed, rolled_back,
/// no_tasks, replaced: a broken service outranks a restored one), then a timeout; succeeded only
/// when every service succeeded.
pub fn combined_result(outcomes: &[ServiceOutcome]) -> WaitResult {
    let order = [
        WaitResult::RollbackFailed,
        WaitResult::Failed,
        WaitResult::RolledBack,
        WaitResult::NoTasks,
        WaitResult::Replaced,
        WaitResult::TimedOut,
    ];
    order
        .into_iter()
        .find(|r| outcomes.iter().any(|o| o.result == *r))
        .unwrap_or(WaitResult::Succeeded)
}

fn outcome(outcomes: &[ServiceOutcome], timeout: Duration) -> Outcome {
    let result = combined_result(outcomes);
    let message = message(outcomes, result, timeout);
    let mut out = match result {
        WaitResult::Succeeded => Outcome::succeeded(result.as_str(), message),
        WaitResult::TimedOut => Outcome::timed_out(result.as_str(), message),
        _ => Outcome::failed(result.as_str(), message),
    };
    if let [one] = outcomes {
        out = out
            .output(
                "deployment_id",
                one.deployment_id.clone().unwrap_or_default(),
            )
            .output(
                "task_definition",
                one.task_definition.clone().unwrap_or_default(),
            )
            .output("running_count", one.running_count)
            .output(
                "duration_s",
                (one.duration.as_secs_f64() * 10.0).round() / 10.0,
            );
    }
    out.detail(outcomes).summary(summary_markdown(outcomes))
}

/// One line for people: what happened, and for failures why (the first stopped task included).
fn message(outcomes: &[ServiceOutcome], result: WaitResult, timeout: Duration) -> String {
    let describe = |o: &ServiceOutcome| {
        let mut s = match o.result {
            WaitResult::Succeeded => format!(
                "{}: deployment {} completed ({} running) in {}",
                o.service,
                o.deployment_id.as_deref().unwrap_or("?"),
                o.running_count,
                format_duration(o.duration)
            ),
            WaitResult::TimedOut => format!(
                "{}: still not done after {}: {}",
                o.service,
                format_duration(timeout),
                o.reason
                    .as_deref()
                    .unwrap_or("")
                    .trim_start_matches("timed out: ")
            ),
            r => format!(
                "{} {}: {}",
                o.service,
                r.as_str().replace('_', " "),
                o.reason.as_deref().unwrap_or("")
            ),
        };
        if let Some(t) = o.stopped_tasks.first()
            && o.result != WaitResult::Succeeded
        {
            s.push_str(&format!(" — stopped {}", progress::stopped_task_line(t)));
        }
        s
    };
    match outcomes {
        [one] => describe(one),
        many if result == WaitResult::Succeeded => {
            format!("all {} services deployed: {}", many.len(), names(many))
        }
        many => {
            let ok = many
                .iter()
                .filter(|o| o.result == WaitResult::Succeeded)
                .count();
            let bad: Vec<String> = many
                .iter()
                .filter(|o| o.result != WaitResult::Succeeded)
                .map(describe)
                .collect();
            format!(
                "{ok} of {} services succeeded; {}",
                many.len(),
                bad.join("; ")
            )
        }
    }
}

fn names(outcomes: &[ServiceOutcome]) -> String {
    outcomes
        .iter()
        .map(|o| o.service.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
