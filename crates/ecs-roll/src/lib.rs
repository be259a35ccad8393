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
//! checked before the first AWS call ([`Cli::validate`]), so a typo exits 2 without touching AWS.

pub mod diff;
pub mod history;
pub mod migrate;
pub mod migrate_logs;
pub mod prune;
pub mod register;
pub mod render;
pub mod roll;
pub mod rollback;
pub mod services;
pub mod smoke_gate;
pub mod summary;
pub mod verify_secrets;
pub mod waiting;
pub mod wire;

use clap::{Args, Parser, Subcommand};
use dk_core::aws::AwsArgs;
use dk_core::cli::{CommonArgs, HasCommonArgs};
use dk_core::duration::{Interval, Timeout};
use dk_core::error::did_you_mean;
use dk_core::{Error, Outcome, Result, Tool, Ui};

use crate::render::{
    Overrides, parse_env_override, parse_image_override, parse_secret_override, split_command,
};
use crate::services::ServiceRef;

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
              shows: ECS is eventually consistent); one that never shows is exit 3, never green.";

#[derive(Debug, Parser)]
#[command(name = "ecs-roll", version, about = ABOUT, long_about = LONG_ABOUT, after_help = EXAMPLES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    #[command(flatten)]
    pub aws: AwsArgs,
    #[command(flatten)]
    pub common: CommonArgs,
}

impl HasCommonArgs for Cli {
    fn common(&self) -> &CommonArgs {
        &self.common
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Render, register, migrate, roll, wait, and roll back by itself on failure
    #[command(after_help = EXAMPLES)]
    Deploy(DeployArgs),
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
    /// Deadline for each service's deployment to complete (then rolled back, or exit 4 with
    /// --no-rollback) (1s to 7d)
    #[arg(
        long,
        value_name = "DUR",
        default_value = "10m",
        help_heading = "Waiting"
    )]
    pub timeout: Timeout,
    /// Time between polls (100ms to 1h)
    #[arg(
        long,
        value_name = "DUR",
        default_value = "5s",
        help_heading = "Waiting"
    )]
    pub interval: Interval,
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
    /// Show the task-definition and service changes; register, run and update nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Skip checking that every secret the rendered revision references exists in Secrets
    /// Manager (checked before registering: a missing one exits 2 and nothing is changed)
    #[arg(long)]
    pub no_verify_secrets: bool,
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
    /// Deadline for the rollback to become stable (1s to 7d)
    #[arg(long, value_name = "DUR", default_value = "10m")]
    pub timeout: Timeout,
    /// Time between polls (100ms to 1h)
    #[arg(long, value_name = "DUR", default_value = "5s")]
    pub interval: Interval,
    /// Say which revision it would return to; change nothing
    #[arg(long)]
    pub dry_run: bool,
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

/// A deploy's inputs after validation.
#[derive(Debug, Clone)]
pub struct DeployPlan {
    pub services: Vec<ServiceRef>,
    pub source: register::Source,
    pub overrides: Overrides,
    pub migrate: Option<migrate::Migration>,
}

impl Cli {
    /// Every check that needs no network, so bad input exits 2 before any AWS call.
    pub fn validate(&self, ctx: &dk_core::Context) -> Result<()> {
        self.aws.validate(ctx)?;
        match &self.command {
            Command::Deploy(d) => {
                d.plan()?;
                smoke_gate::load(d, ctx).map(|_| ())
            }
            Command::Diff(d) => plan_render(&d.targets, &d.render, None).map(|_| ()),
            Command::Rollback(r) => {
                services::parse_services(r.cluster.as_deref(), std::slice::from_ref(&r.service))?;
                if let Some(to) = &r.to {
                    register::parse_revision_ref(to)?;
                }
                check_wait(r.timeout, r.interval, "--timeout")
            }
            Command::Prune(p) => {
                if !render::valid_name(&p.family) {
                    return Err(Error::usage(format!(
                        "--family `{}` is not a task definition family",
                        p.family
                    ))
                    .with_hint("a family is 1–255 letters, digits, `_` or `-`"));
                }
                for c in &p.clusters {
                    services::check_cluster(c)?;
                }
                Ok(())
            }
        }
    }
}

impl DeployArgs {
    /// Validate and resolve the flags into a plan.
    pub fn plan(&self) -> Result<DeployPlan> {
        check_wait(self.timeout, self.interval, "--timeout")?;
        check_wait(self.rollback_timeout, self.interval, "--rollback-timeout")?;
        check_wait(self.migrate_timeout, self.interval, "--migrate-timeout")?;
        let migrate = match &self.migrate_command {
            Some(cmd) => {
                let command = split_command(cmd).map_err(|e| {
                    Error::usage(format!("--migrate-command: {e}"))
                        .with_hint("quote like a shell (`sh -c 'a && b'`) or pass a JSON array (`[\"bin/migrate\", \"up\"]`)")
                })?;
                if let Some(container) = &self.migrate_container
                    && !render::valid_name(container)
                {
                    return Err(Error::usage(format!(
                        "--migrate-container `{container}` is not a container name"
                    )));
                }
                Some(migrate::Migration {
                    container: self.migrate_container.clone(),
                    command,
                    timeout: self.migrate_timeout.get(),
                    on_spot: self.migrate_on_spot,
                    follow_logs: self.migrate_logs,
                    started: None,
                })
            }
            None => None,
        };
        plan_render(&self.targets, &self.render, migrate)
    }
}

fn check_wait(timeout: Timeout, interval: Interval, flag: &str) -> Result<()> {
    if timeout.is_zero() {
        return Err(Error::usage(format!("{flag} must be longer than 0")).with_hint("use e.g. 10m"));
    }
    if interval.is_zero() || interval > timeout {
        return Err(Error::usage(format!(
            "--interval {} must be above 0 and at most {flag} {}",
            dk_core::duration::format_duration(interval),
            dk_core::duration::format_duration(timeout)
        )));
    }
    Ok(())
}

fn plan_render(
    targets: &TargetArgs,
    render_args: &RenderArgs,
    migrate: Option<migrate::Migration>,
) -> Result<DeployPlan> {
    let services = services::parse_services(targets.cluster.as_deref(), &targets.services)?;
    let overrides = parse_overrides(render_args)?;
    let source = register::Source::parse(render_args.task_definition.as_deref())?;
    // With a file the containers are known now: an unknown name is a typo caught before AWS.
    if let register::Source::File { doc, path } = &source {
        if let Err(e) = render::check_containers(doc, &overrides) {
            let hint = match did_you_mean(&e.container, e.known.iter().map(String::as_str)) {
                Some(m) => format!(
                    "did you mean `{m}`? containers in {path}: {}",
                    e.known.join(", ")
                ),
                None => format!("containers in {path}: {}", e.known.join(", ")),
            };
            return Err(Error::usage(e.to_string()).with_hint(hint));
        }
        if let Some(m) = &migrate {
            match &m.container {
                Some(c) if !doc.container_names().contains(&c.as_str()) => {
                    return Err(Error::usage(format!(
                        "--migrate-container `{c}` is not in {path}"
                    ))
                    .with_hint(format!("containers: {}", doc.container_names().join(", "))));
                }
                Some(_) => {}
                None => {
                    migrate::default_container(doc).map_err(|e| {
                        Error::usage(format!("--migrate-command: {e}"))
                            .with_hint("add --migrate-container NAME")
                    })?;
                }
            }
        }
    }
    Ok(DeployPlan {
        services,
        source,
        overrides,
        migrate,
    })
}

fn parse_overrides(r: &RenderArgs) -> Result<Overrides> {
    let mut o = Overrides::default();
    for text in &r.images {
        let i = parse_image_override(text).map_err(|e| {
            Error::usage(format!("--image {e}"))
                .with_hint("use --image CONTAINER=REPOSITORY:TAG, e.g. --image web=web:v1.2.3")
        })?;
        if let Some(prev) = o.images.iter().find(|p| p.container == i.container) {
            if prev.image != i.image {
                return Err(Error::usage(format!(
                    "--image gives container `{}` two images: `{}` and `{}`",
                    i.container, prev.image, i.image
                ))
                .with_hint("give each container one --image"));
            }
            continue;
        }
        o.images.push(i);
    }
    for (flag, list, parse, out) in [
        (
            "--env",
            &r.env,
            parse_env_override as fn(&str) -> std::result::Result<_, String>,
            &mut o.env,
        ),
        (
            "--secret",
            &r.secrets,
            parse_secret_override,
            &mut o.secrets,
        ),
    ] {
        for text in list {
            let v = parse(text).map_err(|e| Error::usage(format!("{flag} {e}")))?;
            if out
                .iter()
                .any(|p| p.container == v.container && p.name == v.name)
            {
                return Err(Error::usage(format!(
                    "{flag} sets `{}:{}` twice",
                    v.container, v.name
                )));
            }
            out.push(v);
        }
    }
    for s in &o.secrets {
        if o.env
            .iter()
            .any(|e| e.container == s.container && e.name == s.name)
        {
            return Err(Error::usage(format!(
                "`{}:{}` is given both as --env and as --secret",
                s.container, s.name
            ))
            .with_hint("a variable is either plain or a secret"));
        }
    }
    Ok(o)
}

pub struct EcsRoll;

impl Tool for EcsRoll {
    const NAME: &'static str = "ecs-roll";
    type Cli = Cli;

    async fn run(cli: Cli, ui: Ui) -> Result<Outcome> {
        cli.validate(ui.context())?;
        let config = dk_core::aws::sdk_config(&ui, &cli.aws).await?;
        let ecs = aws_sdk_ecs::Client::new(&config);
        match &cli.command {
            Command::Deploy(args) => {
                let gate = smoke_gate::load(args, ui.context())?;
                let secrets =
                    (!args.no_verify_secrets).then(|| aws_sdk_secretsmanager::Client::new(&config));
                let logs = dk_core::task_logs::TaskLogs::new(&config);
                roll::deploy(
                    &ecs,
                    secrets.as_ref(),
                    Some(&logs),
                    &ui,
                    args,
                    args.plan()?,
                    gate.as_ref(),
                )
                .await
            }
            Command::Diff(args) => {
                let plan = plan_render(&args.targets, &args.render, None)?;
                diff::diff(&ecs, &ui, &plan, args.render.pin_digests).await
            }
            Command::Rollback(args) => rollback::rollback_command(&ecs, &ui, args).await,
            Command::Prune(args) => prune::prune(&ecs, &ui, args).await,
        }
    }
}
