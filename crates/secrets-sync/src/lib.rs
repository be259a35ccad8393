//! `secrets-sync`: keep AWS Secrets Manager and GitHub Actions secrets in step with the app's
//! config — validated by rules, diffed by key without ever showing a value, written only where
//! something changed, and never leaked.
//!
//! Modules, bottom-up: [`model`] (plain data) ← [`dotenv`], [`rules`], [`location`], [`diff`],
//! [`redact`] (pure) ← [`sm`], [`github`], [`sources`] (I/O) ← [`summary`] ← the commands
//! [`sync`] (plan, apply), [`export`], [`verify`].

pub mod diff;
pub mod dotenv;
pub mod export;
pub mod github;
pub mod location;
pub mod model;
pub mod redact;
pub mod rules;
pub mod sm;
pub mod sources;
pub mod summary;
pub mod sync;
pub mod verify;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use dk_core::{Context, Error, Outcome, Result, Tool, Ui};

use crate::location::{ExportTo, Location};
use crate::redact::Redactor;

const ABOUT: &str = "Keep Secrets Manager and GitHub secrets in step with the app's config: validated, diffed without values, never leaked";

const EXAMPLES: &str = "\
Examples:
  # What would change, by key (never a value): a dotenv file into one secret per key
  secrets-sync plan --from .env.production --to aws:prod/api/ --rules rules.yml

  # Write only what changed (re-running changes nothing); delete keys we wrote that are gone
  secrets-sync apply --from .env.production --to aws:prod/api/ --rules rules.yml --prune

  # One secret holding a JSON object, encrypted with a KMS key, tagged
  secrets-sync apply --from config/prod.json --to aws:prod/api --kms-key-id alias/app --tag team=web

  # From the job's environment (APP_DB_URL → DB_URL) to a GitHub environment's secrets
  secrets-sync apply --from env:APP_ --to github:acme/web:production

  # Copy one secret to another (e.g. staging from prod's keys)
  secrets-sync plan --from aws:prod/api --to aws:staging/api

  # In a job: read secrets, mask them, export them as environment variables
  secrets-sync export --from aws:prod/api --keys DB_URL,JWT_SECRET --to github-env
  secrets-sync export --from aws:prod/api/ --to dotenv:.env.runtime

  # Before a release: does every secret the task definition references exist?
  secrets-sync verify --task-definition deploy/web.json

Sources (--from): dotenv:FILE or FILE.env, json:FILE or FILE.json, env:PREFIX (prefix stripped),
  aws:NAME (one secret holding a JSON object), aws:PREFIX/ (one secret per key: PREFIX/KEY)
Targets (--to): aws:NAME, aws:PREFIX/, github:OWNER/REPO, github:OWNER/REPO:ENVIRONMENT

GitHub cannot return a secret's value: a key present on both sides is planned as `unknown` and
written again on apply; keys only the source has are `added`. --prune is not available for GitHub.

Exit codes: 0 ok · 1 rules violated, a referenced secret missing, or GitHub refused a secret ·
2 bad input (nothing was called) · 3 AWS or GitHub unreachable or refused";

dk_core::tool_cli! { aws;
    #[derive(Debug, Parser)]
    #[command(name = "secrets-sync", version, about = ABOUT, after_help = EXAMPLES)]
    pub struct Cli { #[command(subcommand)] pub command: Command }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show what apply would change, key by key: added, changed, removed, unchanged (no values)
    #[command(
        after_help = "Outputs: added, changed, removed, unknown, unchanged, kept (counts), keys (comma list of keys that would be written or deleted), result (planned|no_changes|rules_failed)"
    )]
    Plan(SyncArgs),
    /// Write only what changed (no new version for an unchanged value); --prune deletes our keys
    #[command(after_help = "Outputs: as plan; result (applied|no_changes|dry_run|rules_failed)")]
    Apply(ApplyArgs),
    /// Read secrets for a job: mask every value, then write them to $GITHUB_ENV or a 0600 file
    Export(ExportArgs),
    /// Check that every secret a task definition references exists
    Verify(VerifyArgs),
}

#[derive(Debug, Clone, Args)]
pub struct SyncArgs {
    /// Where the values come from: dotenv:FILE, json:FILE, env:PREFIX, aws:NAME, aws:PREFIX/
    #[arg(long, value_name = "SOURCE")]
    pub from: String,
    /// Where they go: aws:NAME, aws:PREFIX/, github:OWNER/REPO[:ENVIRONMENT]
    #[arg(long, value_name = "TARGET")]
    pub to: String,
    /// Rules every value must satisfy before anything is written (YAML, or TOML by extension)
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,
    /// Delete keys the target has and the source does not — only keys secrets-sync manages
    /// (tagged managed-by=secrets-sync), with the recovery window
    #[arg(long)]
    pub prune: bool,
    /// KMS key for secrets created in Secrets Manager (id, ARN or alias/NAME)
    #[arg(long, value_name = "KEY")]
    pub kms_key_id: Option<String>,
    /// Tag for secrets created in Secrets Manager (repeatable)
    #[arg(long = "tag", value_name = "KEY=VALUE", value_parser = parse_tag)]
    pub tags: Vec<(String, String)>,
    /// Days a pruned secret can still be restored (7–30)
    #[arg(long, value_name = "DAYS", default_value_t = 30, value_parser = clap::value_parser!(i64).range(7..=30))]
    pub recovery_window_days: i64,
    /// Requests in flight at once
    #[arg(long, value_name = "N", default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
    /// GitHub token for github: targets [default: GITHUB_TOKEN]; the API is GITHUB_API_URL
    /// [default: https://api.github.com]
    #[arg(long, value_name = "TOKEN", help_heading = "GitHub")]
    pub github_token: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub sync: SyncArgs,
    /// Plan and check rules; write nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    /// The secret(s) to read: aws:NAME (JSON object) or aws:PREFIX/
    #[arg(long, value_name = "SOURCE")]
    pub from: String,
    /// Only these keys (comma-separated or repeated); each must exist
    #[arg(long, value_name = "K1,K2", value_delimiter = ',')]
    pub keys: Vec<String>,
    /// github-env ($GITHUB_ENV, for later steps) or dotenv:FILE (written with mode 0600)
    #[arg(long, value_name = "DEST")]
    pub to: String,
}

#[derive(Debug, Clone, Args)]
pub struct VerifyArgs {
    /// A task definition JSON file, FAMILY[:REVISION], or a task definition ARN
    #[arg(long, value_name = "FILE|ARN")]
    pub task_definition: String,
}

/// `--tag KEY=VALUE` with AWS's tag rules.
pub fn parse_tag(text: &str) -> std::result::Result<(String, String), String> {
    dk_core::aws::parse_tag(text, "secrets-sync", &[model::MANAGED_BY_KEY])
}

fn location(flag: &str, spec: &str) -> Result<Location> {
    Location::parse(spec).map_err(|e| Error::usage(format!("{flag} {e}")))
}

impl SyncArgs {
    /// Every check that needs no network.
    pub fn validate(&self, ctx: &Context) -> Result<(Location, Location)> {
        let from = location("--from", &self.from)?;
        let to = location("--to", &self.to)?;
        if from.is_github() {
            return Err(Error::usage(
                "--from github:… is not possible: GitHub never returns secret values",
            )
            .with_hint("read from a file, env:PREFIX or aws:NAME"));
        }
        if !to.is_target() {
            return Err(Error::usage(format!("--to {to} is not a target"))
                .with_hint("use aws:NAME, aws:PREFIX/ or github:OWNER/REPO[:ENVIRONMENT]"));
        }
        if from == to {
            return Err(Error::usage("--from and --to are the same"));
        }
        if to.is_github() {
            if self.prune {
                return Err(Error::usage("--prune is not available for GitHub targets")
                    .with_hint("GitHub secrets carry no tags to tell ours from others'; delete them with `gh secret delete`"));
            }
            if self.github_token.is_none() && ctx.var(dk_core::env_vars::GITHUB_TOKEN).is_none() {
                return Err(Error::usage("a github: target needs a token")
                    .with_hint("set GITHUB_TOKEN or pass --github-token (a token that may write Actions secrets)"));
            }
            dk_core::aws::check_endpoint("GITHUB_API_URL", &dk_core::github::api_url(ctx))?;
            if self.kms_key_id.is_some() || !self.tags.is_empty() {
                return Err(Error::usage(
                    "--kms-key-id and --tag apply to Secrets Manager targets only",
                ));
            }
        }
        if let Some(path) = &self.rules {
            load_rules(path)?;
        }
        Ok((from, to))
    }
}

/// Read and compile `--rules`.
pub fn load_rules(path: &std::path::Path) -> Result<rules::Rules> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::usage(format!("cannot read --rules {}: {e}", path.display())))?;
    let toml = path.extension().is_some_and(|e| e == "toml");
    rules::Rules::parse(&text, toml).map_err(|e| {
        Error::usage(format!("--rules {}: {e}", path.display())).with_hint(
            "rules have `required`, `forbidden_values` and `keys: {NAME: {min_length, max_length, pattern}}`",
        )
    })
}

impl ExportArgs {
    pub fn validate(&self, ctx: &Context) -> Result<(Location, ExportTo)> {
        let from = location("--from", &self.from)?;
        if !from.is_aws() {
            return Err(Error::usage(format!(
                "export reads Secrets Manager; --from {from} is not aws:NAME or aws:PREFIX/"
            )));
        }
        let to = ExportTo::parse(&self.to).map_err(|e| Error::usage(format!("--to {e}")))?;
        if to == ExportTo::GithubEnv && ctx.var(dk_core::env_vars::GITHUB_ENV).is_none() {
            return Err(Error::usage(
                "--to github-env needs $GITHUB_ENV (it is set in GitHub Actions steps)",
            )
            .with_hint("outside Actions use --to dotenv:FILE"));
        }
        for k in &self.keys {
            if !export::valid_env_name(k) {
                return Err(Error::usage(format!(
                    "--keys: `{k}` is not an environment variable name"
                )));
            }
        }
        Ok((from, to))
    }
}

impl Cli {
    /// Every check that needs no network, so bad input exits 2 before any call.
    fn validate(&self, ctx: &Context) -> Result<()> {
        self.aws.validate(ctx)?;
        match &self.command {
            Command::Plan(a) => a.validate(ctx).map(|_| ()),
            Command::Apply(a) => a.sync.validate(ctx).map(|_| ()),
            Command::Export(a) => a.validate(ctx).map(|_| ()),
            Command::Verify(a) => {
                ecs_roll::register::Source::parse(Some(a.task_definition.as_str())).map(|_| ())
            }
        }
    }
}

pub struct SecretsSync;

impl Tool for SecretsSync {
    const NAME: &'static str = "secrets-sync";
    type Cli = Cli;
    type Plan = ();

    fn validate(cli: &Cli, ctx: &Context) -> Result<()> {
        cli.validate(ctx)
    }

    async fn run(cli: Cli, _plan: (), ui: Ui) -> Result<Outcome> {
        let redactor = Redactor::default();
        let result = run_command(&cli, &ui, &redactor).await;
        // Whatever failed, and wherever its text came from, no value read in this run leaves.
        result.map_err(|e| redactor.scrub_error(e))
    }
}

async fn run_command(cli: &Cli, ui: &Ui, r: &Redactor) -> Result<Outcome> {
    match &cli.command {
        Command::Plan(a) => sync::run(ui, &cli.aws, a, sync::Mode::Plan, r).await,
        Command::Apply(a) => {
            let mode = if a.dry_run {
                sync::Mode::DryRun
            } else {
                sync::Mode::Apply
            };
            sync::run(ui, &cli.aws, &a.sync, mode, r).await
        }
        Command::Export(a) => export::run(ui, &cli.aws, a, r).await,
        Command::Verify(a) => verify::run(ui, &cli.aws, a).await,
    }
}
