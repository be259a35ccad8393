//! `ecs-roll`: release a new image to ECS services and never leave them broken.
//!
//! The seeds deployed with `update-service --force-new-deployment`, `wait services-stable` (which
//! reports success after the circuit breaker has rolled the release back) and a hand-written
//! rollback reading `deployments[1]`. `ecs-roll` does the whole release as one command, after
//! ecspresso's deploy/wait/rollback:
//!
//! 1. **render** ([`render`], [`register`]): the service's task definition (or a file, family or
//!    ARN) with new images, environment and secrets; registered only when it differs;
//! 2. **migrate** ([`migrate`]): a one-off task on the NEW revision whose exit code gates the roll;
//! 3. **roll** ([`roll`]): UpdateService, recording the previous task definition and the new
//!    deployment id, then `wait-stable`'s waiter on that deployment;
//! 4. **roll back by itself** ([`rollback`]) to the recorded revision when the deployment fails,
//!    is rolled back by the circuit breaker, or times out.
//!
//! `rollback`, `diff` and `prune` are the release manager's tools around it. Every input is
//! checked before the first AWS call (`Tool::validate`), so a typo exits 2 without touching AWS.

mod diff;
mod github_deployment;
mod history;
mod migrate;
mod migrate_logs;
mod plan;
mod prune;
pub mod register;
pub mod render;
mod roll;
mod rollback;
mod services;
mod smoke_gate;
mod strategy;
mod summary;
pub mod verify_secrets;
mod waiting;
pub mod wire;

use clap::{Args, Parser, Subcommand};
use dk_core::duration::Timeout;
use dk_core::wait::{DeploymentWait, WaitArgs};
use dk_core::{Error, Outcome, Result, Tool, Ui};

use crate::github_deployment::Kind;
pub use crate::plan::DeployPlan;
use crate::plan::plan_render;

const ABOUT: &str =
    "Release a new image to ECS services: render, migrate, roll, wait, and roll back by itself";

const LONG_ABOUT: &str = "\
Release a new image to ECS services: render the task definition, run the migration, update the \
services, wait for the deployment (not just the service) to complete, and return every service \
to the revision it ran before when anything fails.

Exit codes: 0 succeeded or unchanged; 1 failed, rolled_back or rollback_failed; 2 bad input \
(nothing was called); 3 AWS unreachable or refused; 4 timed out (only with --no-rollback: with \
rollback a timeout is rolled back and exits 1).";

const EXAMPLES: &str = "\
Examples:
  # Release one image to one service; roll back by itself if the deployment fails
  ecs-roll deploy --cluster prod --service web --image web=123456789012.dkr.ecr.eu-west-1.amazonaws.com/web:v1.4.2

  # Web and worker share the task definition family: one new revision, both services rolled
  ecs-roll deploy --cluster prod --service web --service worker --image app=web:v1.4.2 --max-parallel 2

  # Different images for different containers, a new variable and a secret, then a migration
  ecs-roll deploy --cluster prod --service api \\
      --image api=api:v7 --image nginx=nginx:1.27 \\
      --env api:FEATURE_X=on --secret api:DB_URL=arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf \\
      --migrate-container api --migrate-command 'bin/rails db:migrate'

  # Render from a file (register-task-definition JSON or describe-task-definition output)
  ecs-roll deploy --cluster prod --service web --task-definition deploy/web.json --image web=web:v2

  # What would change, without changing anything
  ecs-roll diff --cluster prod --service web --image web=web:v2
  ecs-roll deploy --cluster prod --service web --image web=web:v2 --dry-run

  # Release manager: back to the previous release, from the service's deployment history (run
  # twice, two releases back; needs ecs:ListServiceDeployments + ecs:DescribeServiceRevisions),
  # or to a given revision
  ecs-roll rollback --cluster prod --service web
  ecs-roll rollback --cluster prod --service web --to web:41

  # Record the release as a GitHub deployment of the commit (in a workflow: GITHUB_TOKEN from
  # `github.token` with `permissions: deployments: write`)
  ecs-roll deploy --cluster prod --service web --image web=web:v2 \\
      --github-deployment production --environment-url https://www.example.com
  ecs-roll rollback --cluster prod --service web --github-deployment production

  # Deregister old revisions, keeping the newest 10, those in use and their rollback targets
  ecs-roll prune --family web --keep 10 --cluster prod --cluster staging --dry-run

Policies:
  Rollback    A deployment that fails, is rolled back by the circuit breaker, or times out is
              returned to the task definition recorded when ecs-roll updated the service (not
              \"revision N-1\"), waited until stable, and reported as rolled_back (exit 1), or
              rollback_failed (exit 1, error annotation) when even that fails. A deployment
              replaced by someone else's newer deployment is reported failed/replaced and NOT
              rolled back: that would undo their release.
  Services    Services sharing a rendered definition share one registered revision. They roll in
              waves of --max-parallel; each service is followed on its own and rolled back as
              soon as its own deployment fails. When one fails, no further wave starts and the
              others keep the release; --rollback-all also returns every service this call
              changed to its recorded revision (all-or-nothing releases). The release result is
              the worst service's: failed/replaced/timed_out outrank rolled_back.
  Deployment  The deployment followed is the one UpdateService started, by id (re-read until it
              shows: ECS is eventually consistent); one that never shows is exit 3, never green.
  GitHub      --github-deployment creates the deployment before any service is touched (a refusal
              is exit 3: no release without its record), posts in_progress, then success, or
              failure for a release that did not go out (rolled back included), and marks the
              deployment it replaced inactive. A status update failing after the roll is a
              warning: it never changes the release's result. `rollback --github-deployment`
              records the rollback the same way, as a deployment whose task is `rollback`.";

dk_core::tool_cli! { aws;
    #[derive(Debug, Parser)]
    #[command(name = "ecs-roll", version, about = ABOUT, long_about = LONG_ABOUT, after_help = EXAMPLES)]
    pub struct Cli { #[command(subcommand)] pub command: Command }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Render, register, migrate, roll, wait, and roll back by itself on failure
    #[command(after_help = EXAMPLES)]
    Deploy(Box<DeployArgs>),
    /// Return a service to its previous release (from its deployment history) or --to, waited
    /// and verified
    Rollback(RollbackArgs),
    /// Show the task-definition and service changes a deploy would make; change nothing
    Diff(DiffArgs),
    /// Deregister old revisions of a family, keeping in-use revisions and rollback targets
    Prune(PruneArgs),
}

/// Which services, in which clusters.
#[derive(Debug, Clone, Args)]
pub struct TargetArgs {
    /// Cluster of every --service given without one
    #[arg(long, value_name = "CLUSTER")]
    pub cluster: Option<String>,
    /// Service: NAME, CLUSTER/NAME or a service ARN; repeat for several services and clusters
    #[arg(long = "service", value_name = "SERVICE", required = true)]
    pub services: Vec<String>,
}

/// How the new task definition is made.
#[derive(Debug, Clone, Default, Args)]
pub struct RenderArgs {
    /// Start from this task definition instead of the service's current one: a JSON file
    /// (register-task-definition input or describe-task-definition output), a family (its latest
    /// ACTIVE revision), FAMILY:REVISION, or an ARN. An existing revision without --image/--env/
    /// --secret is deployed as is
    #[arg(long, value_name = "FILE|FAMILY|ARN")]
    pub task_definition: Option<String>,
    /// Set a container's image; repeat for other containers (different images allowed)
    #[arg(long = "image", value_name = "CONTAINER=IMAGE")]
    pub images: Vec<String>,
    /// Set (or replace) an environment variable of a container; repeatable
    #[arg(long = "env", value_name = "CONTAINER:NAME=VALUE")]
    pub env: Vec<String>,
    /// Set (or replace) a secret of a container from Secrets Manager or SSM; repeatable
    #[arg(long = "secret", value_name = "CONTAINER:NAME=ARN")]
    pub secrets: Vec<String>,
    /// Pin images to digests. Needs registry access, which ecs-roll does not have yet: images
    /// already given as NAME@sha256:… are kept pinned, others are kept as tags with a warning
    /// (ECS itself resolves a tag to one digest per service revision)
    #[arg(long)]
    pub pin_digests: bool,
}

#[derive(Debug, Clone, Args)]
pub struct DeployArgs {
    #[command(flatten)]
    pub targets: TargetArgs,
    #[command(flatten)]
    pub render: RenderArgs,
    /// Start a new deployment even when the service already runs the rendered revision
    #[arg(long)]
    pub force_new_deployment: bool,
    /// Run this command as a one-off task on the NEW revision before touching any service;
    /// a non-zero exit code stops the release. Shell-like words or a JSON array
    #[arg(long, value_name = "COMMAND", help_heading = "Migration")]
    pub migrate_command: Option<String>,
    /// Container whose command is overridden and whose exit code decides [default: the task
    /// definition's only container, or its only essential one]
    #[arg(
        long,
        value_name = "NAME",
        requires = "migrate_command",
        help_heading = "Migration"
    )]
    pub migrate_container: Option<String>,
    /// Run the migration on the service's FARGATE_SPOT capacity too (by default Spot is
    /// replaced by FARGATE: a Spot interruption must not cut a migration short)
    #[arg(long, requires = "migrate_command", help_heading = "Migration")]
    pub migrate_on_spot: bool,
    /// Stream the migration container's CloudWatch log (awslogs) while it runs; a failed
    /// migration's last lines are shown either way
    #[arg(long, requires = "migrate_command", help_heading = "Migration")]
    pub migrate_logs: bool,
    /// Deadline for the migration task to stop (it is left running past it, and ecs-roll exits 4)
    /// (1s to 7d)
    #[arg(
        long,
        value_name = "DUR",
        default_value = "30m",
        help_heading = "Migration"
    )]
    pub migrate_timeout: Timeout,
    // --timeout: each service's deployment deadline (then rolled back, or exit 4 with
    // --no-rollback); --interval: time between polls.
    #[command(flatten, next_help_heading = "Waiting")]
    pub wait: WaitArgs<DeploymentWait>,
    /// Deadline for a rollback to become stable (1s to 7d)
    #[arg(
        long,
        value_name = "DUR",
        default_value = "10m",
        help_heading = "Waiting"
    )]
    pub rollback_timeout: Timeout,
    /// Accept a deployment in which no task ever ran the new revision (desiredCount 0, e.g. a
    /// service scaled to zero at night); without it that is a failure (`no_tasks` in the reason)
    #[arg(long, help_heading = "Waiting")]
    pub allow_empty: bool,
    /// Do not roll back: report failed/rolled_back (by the circuit breaker)/timed_out and stop
    #[arg(long, help_heading = "Rollback")]
    pub no_rollback: bool,
    /// When any service fails, also return every other service this call changed
    #[arg(long, conflicts_with = "no_rollback", help_heading = "Rollback")]
    pub rollback_all: bool,
    /// Services rolled at the same time
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=32))]
    pub max_parallel: u16,
    /// Smoke-test spec run after each service's deployment completes; a failing spec rolls the
    /// service back (cause `smoke`). The spec may use {{cluster}}, {{service}}, {{task_definition}}
    #[arg(long, value_name = "SPEC", help_heading = "Smoke gate")]
    pub smoke: Option<std::path::PathBuf>,
    /// A variable for the smoke spec ({{NAME}}); repeatable
    #[arg(
        long = "smoke-var",
        value_name = "NAME=VALUE",
        requires = "smoke",
        help_heading = "Smoke gate"
    )]
    pub smoke_vars: Vec<String>,
    /// Deadline for each service's smoke test, readiness wait included (1s to 7d)
    #[arg(
        long,
        value_name = "DUR",
        default_value = "5m",
        help_heading = "Smoke gate"
    )]
    pub smoke_timeout: Timeout,
    #[command(flatten)]
    pub native: Box<NativeArgs>,
    /// Show the task-definition and service changes; register, run and update nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Skip checking that every secret the rendered revision references exists in Secrets
    /// Manager (checked before registering: a missing one exits 2 and nothing is changed)
    #[arg(long)]
    pub no_verify_secrets: bool,
    #[command(flatten)]
    pub github: github_deployment::GithubDeploymentArgs,
}

/// Flags for services on ECS-native strategies (BLUE_GREEN, LINEAR, CANARY); see `strategy.rs`.
#[derive(Debug, Clone, Args)]
pub struct NativeArgs {
    /// ECS-native strategies (BLUE_GREEN, LINEAR, CANARY): return once the deployment reaches
    /// this point, leaving it running (result `in_progress`, exit 0; pick it up later with
    /// `wait-stable --service-deployment ARN`)
    #[arg(long, value_enum, value_name = "POINT", default_value_t = wait_stable::lifecycle::Milestone::Done, help_heading = "ECS-native strategies")]
    pub wait_until: wait_stable::lifecycle::Milestone,
    /// Pause the deployment at POST_TEST_TRAFFIC_SHIFT (a PAUSE hook), run --smoke against
    /// --test-url, then continue it, or roll it back when the smoke test fails
    #[arg(long, requires_all = ["smoke", "test_url"], help_heading = "ECS-native strategies")]
    pub test_traffic_gate: bool,
    /// The test listener's URL: the smoke spec's base URL and {{test_url}} during the gate
    #[arg(
        long,
        value_name = "URL",
        requires = "test_traffic_gate",
        help_heading = "ECS-native strategies"
    )]
    pub test_url: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct RollbackArgs {
    /// Cluster of the service
    #[arg(long, value_name = "CLUSTER")]
    pub cluster: Option<String>,
    /// Service: NAME, CLUSTER/NAME or a service ARN
    #[arg(long, value_name = "SERVICE")]
    pub service: String,
    /// Task definition to return to (FAMILY:REVISION or ARN) [default: the release before the
    /// current one in the service's deployment history — a rollback is not a release, so a
    /// second rollback goes further back; a rollback in flight is followed; an unreadable
    /// history is exit 3, never a guess]
    #[arg(long, value_name = "ARN")]
    pub to: Option<String>,
    // --timeout: deadline for the rollback to become stable; --interval: time between polls.
    #[command(flatten)]
    pub wait: WaitArgs<DeploymentWait>,
    /// Say which revision it would return to; change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// `--github-deployment ENV`: the rollback recorded as a GitHub deployment (task
    /// `rollback`) of GITHUB_SHA, in_progress then success or failure; on success the
    /// deployment that was running is marked inactive
    #[command(flatten)]
    pub github: github_deployment::GithubDeploymentArgs,
}

#[derive(Debug, Clone, Args)]
pub struct DiffArgs {
    #[command(flatten)]
    pub targets: TargetArgs,
    #[command(flatten)]
    pub render: RenderArgs,
}

#[derive(Debug, Clone, Args)]
pub struct PruneArgs {
    /// Task definition family to prune
    #[arg(long, value_name = "FAMILY")]
    pub family: String,
    /// ACTIVE revisions to keep, newest first (in-use revisions and rollback targets are kept too)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub keep: u32,
    /// Cluster whose services' revisions must be kept; repeat for every cluster using the family
    #[arg(long = "cluster", value_name = "CLUSTER", required = true)]
    pub clusters: Vec<String>,
    /// List what would be deregistered; deregister nothing
    #[arg(long)]
    pub dry_run: bool,
}

pub struct EcsRoll;

impl Tool for EcsRoll {
    const NAME: &'static str = "ecs-roll";
    type Cli = Cli;
    type Plan = Validated;

    /// Every check that needs no network, so bad input exits 2 before any AWS call.
    fn validate(cli: &Cli, ctx: &dk_core::Context) -> Result<Validated> {
        cli.aws.validate(ctx)?;
        match &cli.command {
            Command::Deploy(d) => {
                let plan = d.plan()?;
                d.github.validate(ctx)?;
                Ok(Validated::Deploy(plan, smoke_gate::load(d, ctx)?))
            }
            Command::Diff(d) => plan_render(&d.targets, &d.render, None).map(Validated::Diff),
            Command::Rollback(r) => {
                dk_core::ecs::parse_services(
                    r.cluster.as_deref(),
                    std::slice::from_ref(&r.service),
                )?;
                if let Some(to) = &r.to {
                    register::parse_revision_ref(to)?;
                }
                r.wait.validate()?;
                r.github.validate(ctx)?;
                Ok(Validated::Other)
            }
            Command::Prune(p) => {
                if !dk_core::ecs::valid_name(&p.family) {
                    return Err(Error::usage(format!(
                        "--family `{}` is not a task definition family",
                        p.family
                    ))
                    .with_hint("a family is 1–255 letters, digits, `_` or `-`"));
                }
                for c in &p.clusters {
                    dk_core::ecs::check_cluster(c)?;
                }
                Ok(Validated::Other)
            }
        }
    }

    async fn run(cli: Cli, plan: Validated, ui: Ui) -> Result<Outcome> {
        let config = dk_core::aws::sdk_config(&ui, &cli.aws).await?;
        let ecs = aws_sdk_ecs::Client::new(&config);
        match (&cli.command, plan) {
            (Command::Deploy(args), Validated::Deploy(plan, gate)) => {
                let secrets =
                    (!args.no_verify_secrets).then(|| aws_sdk_secretsmanager::Client::new(&config));
                // Recorded on GitHub before any service is touched; its final state after.
                let deployment =
                    github_deployment::begin(&ui, &args.github, args.dry_run, Kind::Deploy).await?;
                let logs = dk_core::task_logs::TaskLogs::new(&config);
                let result = roll::deploy(
                    &ecs,
                    secrets.as_ref(),
                    Some(&logs),
                    &ui,
                    args,
                    plan,
                    gate.as_ref(),
                )
                .await;
                github_deployment::finish(deployment, &ui, result).await
            }
            (Command::Diff(args), Validated::Diff(plan)) => {
                diff::diff(&ecs, &ui, &plan, args.render.pin_digests).await
            }
            (Command::Rollback(args), _) => {
                let deployment =
                    github_deployment::begin(&ui, &args.github, args.dry_run, Kind::Rollback)
                        .await?;
                let result = rollback::rollback_command(&ecs, &ui, args).await;
                github_deployment::finish(deployment, &ui, result).await
            }
            (Command::Prune(args), _) => prune::prune(&ecs, &ui, args).await,
            (_, _) => Err(Error::runtime(
                "internal error: the validated plan does not match the command",
            )),
        }
    }
}

/// What validation resolved, per command.
pub enum Validated {
    Deploy(DeployPlan, Option<smoke_gate::SmokeGate>),
    Diff(DeployPlan),
    /// Rollback and prune read their flags again in `run`.
    Other,
}
