//! `rds-snapshot`: snapshot an RDS instance or Aurora cluster before a migration, wait for it,
//! list and prune the snapshots it made, and restore one to a new database.
//!
//! Replaces `aws rds create-db-snapshot --db-snapshot-identifier pre-migration-$(date +%Y%m%d)`
//! with one idempotent, tagged, quota-checked, waited step.

pub mod create;
pub mod identifiers;
pub mod list;
pub mod ownership;
pub mod prune;
pub mod rds_api;
pub mod restore;
pub mod wait;

use clap::{Args, Parser, Subcommand};
use dk_core::wait::{WaitArgs, WaitDefaults};
use dk_core::{Error, Outcome, Result, Tool, Ui};

use crate::identifiers::IdKind;
use crate::rds_api::{Database, Rds};

const EXAMPLES: &str = "\
Examples:
  # Before a migration: snapshot the database and wait until the snapshot is available
  rds-snapshot create --db app-db

  # A fixed id makes re-runs reuse the same snapshot instead of taking a second one
  rds-snapshot create --db app-db --snapshot-id pre-release-142 --tag release=142

  # What exists, newest first (ours and the automated ones)
  rds-snapshot list --db app-db

  # Keep our newest 5, delete the rest (never automated or other tools' snapshots)
  rds-snapshot prune --db app-db --keep 5 --dry-run
  rds-snapshot prune --db app-db --keep 5

  # Roll back data: restore to a NEW instance (never overwrites a live one)
  rds-snapshot restore --snapshot-id pre-release-142 --target app-db-restored

Exit codes: 0 ok · 1 failed (quota reached, snapshot failed) · 2 bad input · 3 AWS unreachable or refused · 4 timed out";

dk_core::tool_cli! { aws;
    #[derive(Debug, Parser)]
    #[command(
        name = "rds-snapshot",
        version,
        about = "Snapshot RDS before migrations: create (idempotent, tagged, waited), list, prune, restore",
        after_help = EXAMPLES
    )]
    pub struct Cli { #[command(subcommand)] pub command: Command }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Snapshot an instance or Aurora cluster and wait until it is available
    #[command(
        after_help = "Outputs: snapshot_id, snapshot_arn, kind (instance|cluster), status, db, result (created|exists|dry_run|quota_reached|failed|timed_out)"
    )]
    Create(CreateArgs),
    /// List a database's snapshots, newest first
    List(ListArgs),
    /// Delete our own snapshots of a database beyond the newest N
    Prune(PruneArgs),
    /// Restore a snapshot to a new instance or cluster and wait for it
    Restore(RestoreArgs),
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// DB instance or cluster identifier (which one is detected)
    #[arg(long, value_name = "ID")]
    pub db: String,
    /// Snapshot id [default: pre-deploy-<db>-gh<run id> in GitHub Actions, else pre-deploy-<db>-<UTC timestamp>]
    #[arg(long, value_name = "ID")]
    pub snapshot_id: Option<String>,
    /// Extra tag on the snapshot (repeatable)
    #[arg(long = "tag", value_name = "KEY=VALUE", value_parser = ownership::parse_tag)]
    pub tags: Vec<(String, String)>,
    /// Return once the snapshot is requested, without waiting
    #[arg(long)]
    pub no_wait: bool,
    // --timeout (the snapshot goes on in AWS past it) and --interval.
    #[command(flatten)]
    pub wait: WaitArgs<SnapshotWait>,
    /// Manual-snapshot quota to check against [default: what RDS reports, else 100]
    #[arg(long, value_name = "N")]
    pub snapshot_quota: Option<u32>,
    /// Check and report what would be done; create nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// DB instance or cluster identifier
    #[arg(long, value_name = "ID")]
    pub db: String,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// DB instance or cluster identifier
    #[arg(long, value_name = "ID")]
    pub db: String,
    /// How many of our newest snapshots to keep
    #[arg(long, value_name = "N")]
    pub keep: usize,
    /// List what would be deleted; delete nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// Snapshot to restore (instance or cluster snapshot)
    #[arg(long, value_name = "ID")]
    pub snapshot_id: String,
    /// Identifier of the NEW instance or cluster (must not exist)
    #[arg(long, value_name = "ID")]
    pub target: String,
    /// Instance class for a restored instance [default: the snapshot's]; for a cluster snapshot,
    /// also create the restored cluster's writer instance `<target>-writer` of this class
    #[arg(long, value_name = "CLASS")]
    pub instance_class: Option<String>,
    /// DB subnet group for the restored database
    #[arg(long, value_name = "NAME")]
    pub db_subnet_group: Option<String>,
    /// Return once the restore is requested, without waiting
    #[arg(long)]
    pub no_wait: bool,
    // --timeout (the restore goes on in AWS past it) and --interval.
    #[command(flatten)]
    pub wait: WaitArgs<RestoreWait>,
    /// Check and report what would be done; restore nothing
    #[arg(long)]
    pub dry_run: bool,
}

/// A snapshot's wait: 30 minutes, polled every 5 seconds.
#[derive(Debug, Clone, Copy)]
pub struct SnapshotWait;
impl WaitDefaults for SnapshotWait {
    const TIMEOUT: &'static str = "30m";
    const INTERVAL: &'static str = "5s";
}

/// A restore's wait: an hour, polled every 10 seconds.
#[derive(Debug, Clone, Copy)]
pub struct RestoreWait;
impl WaitDefaults for RestoreWait {
    const TIMEOUT: &'static str = "60m";
    const INTERVAL: &'static str = "10s";
}

impl Cli {
    /// Every check that needs no network.
    fn validate(&self) -> Result<()> {
        match &self.command {
            Command::Create(a) => {
                identifiers::validate("--db", &a.db, IdKind::Database)?;
                if let Some(id) = &a.snapshot_id {
                    identifiers::validate("--snapshot-id", id, IdKind::InstanceSnapshot)?;
                }
                ownership::validate_tags(&a.tags)?;
                a.wait.validate()?;
                if a.no_wait && a.dry_run {
                    return Err(Error::usage("--no-wait and --dry-run cannot be combined")
                        .with_hint("--dry-run never waits"));
                }
            }
            Command::List(a) => identifiers::validate("--db", &a.db, IdKind::Database)?,
            Command::Prune(a) => identifiers::validate("--db", &a.db, IdKind::Database)?,
            Command::Restore(a) => {
                identifiers::validate("--snapshot-id", &a.snapshot_id, IdKind::InstanceSnapshot)?;
                identifiers::validate("--target", &a.target, IdKind::Database)?;
                a.wait.validate()?;
            }
        }
        Ok(())
    }
}

/// A database that must exist; a missing one is an input error with a "did you mean".
pub(crate) async fn resolve_database(rds: &Rds<'_>, id: &str) -> Result<Database> {
    if let Some(db) = rds.find_database(id).await? {
        return Ok(db);
    }
    let known = rds.database_ids().await.unwrap_or_default();
    let hint = match dk_core::error::did_you_mean(id, known.iter().map(String::as_str)) {
        Some(m) => format!("did you mean `{m}`?"),
        None if known.is_empty() => {
            "no DB instances or clusters exist in this account and Region".to_string()
        }
        None => format!("existing databases: {}", known.join(", ")),
    };
    Err(Error::usage(format!("no DB instance or cluster named `{id}`")).with_hint(hint))
}

pub struct RdsSnapshot;

impl Tool for RdsSnapshot {
    const NAME: &'static str = "rds-snapshot";
    type Cli = Cli;
    type Plan = ();

    fn validate(cli: &Cli, _ctx: &dk_core::Context) -> Result<()> {
        cli.validate()
    }

    async fn run(cli: Cli, _plan: (), ui: Ui) -> Result<Outcome> {
        let config = dk_core::aws::sdk_config(&ui, &cli.aws).await?;
        let client = aws_sdk_rds::Client::new(&config);
        let rds = Rds { client: &client };
        match &cli.command {
            Command::Create(a) => create::run(&rds, &ui, a).await,
            Command::List(a) => list::run(&rds, &a.db).await,
            Command::Prune(a) => prune::run(&rds, &ui, a).await,
            Command::Restore(a) => restore::run(&rds, &ui, a).await,
        }
    }
}
