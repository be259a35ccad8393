//! `rds-snapshot create`: one safe step before a migration. Detects instance or cluster, checks
//! the quota before creating, tags the snapshot as ours, waits under an exact deadline, and is
//! idempotent: re-running with the same id for the same database reuses the snapshot.

use dk_core::poll::Deadline;
use dk_core::{Error, Outcome, Result, Ui};

use crate::identifiers::{self, IdKind};
use crate::rds_api::{Database, Kind, Rds, Snapshot};
use crate::wait::{Waited, Waiter};
use crate::{CreateArgs, ownership};

/// RDS's default manual-snapshot quota per Region, for each kind.
pub const DEFAULT_QUOTA: i64 = 100;

/// `pre-deploy-<db>-gh<run id>` under GitHub Actions, so a re-run of the same workflow run reuses
/// the snapshot taken before its first attempt touched the database; otherwise
/// `pre-deploy-<db>-<UTC timestamp>`.
pub fn default_snapshot_id(db: &str, run_id: Option<&str>, now: jiff::Timestamp) -> String {
    let suffix = match run_id {
        Some(id) => format!("gh{}", identifiers::sanitize(id)),
        None => now.strftime("%Y%m%d-%H%M%S").to_string(),
    };
    let mut id = format!("pre-deploy-{}-{suffix}", identifiers::sanitize(db));
    id.truncate(63);
    id.trim_end_matches('-').to_string()
}

pub async fn run(rds: &Rds<'_>, ui: &Ui, args: &CreateArgs) -> Result<Outcome> {
    let db = crate::resolve_database(rds, &args.db).await?;
    let snapshot_id = snapshot_id_for(ui, args, &db)?;
    let (snapshot, result) = match rds.snapshot(&snapshot_id, Some(db.kind)).await? {
        Some(s) => (reuse_existing(ui, &db, s)?, "exists"),
        None => match create_within_quota(rds, ui, args, &db, &snapshot_id).await? {
            Created::Snapshot(s) => (s, "created"),
            Created::Stopped(outcome) => return Ok(*outcome),
        },
    };
    if args.dry_run {
        return Ok(snapshot_outcome(
            Outcome::succeeded(
                "dry_run",
                format!("snapshot {snapshot_id} already exists (dry run: nothing changed)"),
            ),
            &db,
            &snapshot,
        ));
    }
    if args.no_wait || snapshot.is_available() {
        let msg = if snapshot.is_available() {
            format!("snapshot {snapshot_id} of {} is available", db.id)
        } else {
            format!(
                "snapshot {snapshot_id} of {} is {} (not waiting)",
                db.id, snapshot.status
            )
        };
        return Ok(finished(
            Outcome::succeeded(result, msg),
            &db,
            &snapshot,
            "✅",
        ));
    }
    wait_available(rds, ui, args, &db, snapshot, result).await
}

/// `--snapshot-id`, or the default one; validated for the database's kind.
fn snapshot_id_for(ui: &Ui, args: &CreateArgs, db: &Database) -> Result<String> {
    let run = ui.context().github_run();
    let snapshot_id = args.snapshot_id.clone().unwrap_or_else(|| {
        default_snapshot_id(
            &db.id,
            run.as_ref().and_then(|r| r.run_id.as_deref()),
            jiff::Timestamp::now(),
        )
    });
    if db.kind == Kind::Cluster {
        identifiers::validate("--snapshot-id", &snapshot_id, IdKind::ClusterSnapshot)?;
    }
    Ok(snapshot_id)
}

/// An existing snapshot with the id is reused when it is of the same database, refused otherwise.
fn reuse_existing(ui: &Ui, db: &Database, s: Snapshot) -> Result<Snapshot> {
    if s.db != db.id {
        return Err(Error::usage(format!(
            "snapshot id `{}` is already used by a snapshot of `{}`",
            s.id, s.db
        ))
        .with_hint("pass a different --snapshot-id, or omit it for a generated one"));
    }
    ui.info(&format!(
        "snapshot {} of {} already exists ({}); reusing it",
        s.id, db.id, s.status
    ));
    Ok(s)
}

/// What creating ended with: a snapshot, or an outcome that ends the run (quota, dry run).
enum Created {
    Snapshot(Snapshot),
    Stopped(Box<Outcome>),
}

/// Create the snapshot unless the manual-snapshot quota is reached or this is a dry run.
async fn create_within_quota(
    rds: &Rds<'_>,
    ui: &Ui,
    args: &CreateArgs,
    db: &Database,
    snapshot_id: &str,
) -> Result<Created> {
    let quota = match args.snapshot_quota {
        Some(q) => i64::from(q),
        None => rds
            .manual_snapshot_quota(db.kind)
            .await
            .unwrap_or(DEFAULT_QUOTA),
    };
    let used = rds.manual_snapshot_count(db.kind).await? as i64;
    if used >= quota {
        return Ok(Created::Stopped(Box::new(quota_reached(db, used, quota))));
    }
    if args.dry_run {
        return Ok(Created::Stopped(Box::new(
            Outcome::succeeded(
                "dry_run",
                format!(
                    "would create {} snapshot {snapshot_id} of {} (dry run: nothing changed)",
                    db.kind.as_str(),
                    db.id
                ),
            )
            .output("snapshot_id", snapshot_id.to_string())
            .output("kind", db.kind.as_str())
            .output("db", db.id.clone())
            .output("manual_snapshots", used)
            .output("quota", quota),
        )));
    }
    let tags = ownership::tags_for(&db.id, ui.context().github_run().as_ref(), &args.tags);
    ui.info(&format!(
        "creating {} snapshot {snapshot_id} of {} ({used}/{quota} manual snapshots in use)",
        db.kind.as_str(),
        db.id
    ));
    Ok(Created::Snapshot(
        rds.create_snapshot(db, snapshot_id, &tags).await?,
    ))
}

fn quota_reached(db: &Database, used: i64, quota: i64) -> Outcome {
    Outcome::failed(
        "quota_reached",
        format!(
            "cannot snapshot {}: {used} of {quota} manual {} snapshots are in use",
            db.id,
            db.kind.as_str()
        ),
    )
    .output("db", db.id.clone())
    .output("kind", db.kind.as_str())
    .output("manual_snapshots", used)
    .output("quota", quota)
    .summary(format!(
        "### ❌ rds-snapshot create\n\nThe manual snapshot quota is reached ({used}/{quota}). \
         Free room with `rds-snapshot prune --db {} --keep N` or ask AWS for a higher quota.\n",
        db.id
    ))
}

/// Wait under `--timeout` for the snapshot to become available, and report how it ended.
async fn wait_available(
    rds: &Rds<'_>,
    ui: &Ui,
    args: &CreateArgs,
    db: &Database,
    snapshot: Snapshot,
    result: &str,
) -> Result<Outcome> {
    let snapshot_id = snapshot.id.clone();
    let waiter = Waiter {
        rds,
        ui,
        deadline: Deadline::after(args.wait.timeout),
        interval: args.wait.interval(),
    };
    ui.group(&format!("waiting for snapshot {snapshot_id}"));
    let waited = waiter.snapshot_available(&snapshot_id, db.kind).await?;
    ui.end_group();
    Ok(match waited {
        Waited::Ready(s) => finished(
            Outcome::succeeded(
                result,
                format!(
                    "snapshot {snapshot_id} of {} is available after {}",
                    db.id,
                    dk_core::duration::format_duration(waiter.deadline.elapsed())
                ),
            ),
            db,
            &s,
            "✅",
        ),
        Waited::Failed(s) => finished(
            Outcome::failed(
                "failed",
                format!(
                    "snapshot {snapshot_id} of {} ended in status `{}`",
                    db.id, s.status
                ),
            ),
            db,
            &s,
            "❌",
        ),
        Waited::TimedOut(last) => {
            let s = last.unwrap_or(snapshot);
            finished(
                Outcome::timed_out(
                    "timed_out",
                    format!(
                        "snapshot {snapshot_id} was still `{}` when --timeout {} passed; it goes on in AWS, and re-running this command waits for it",
                        s.status,
                        humantime::format_duration(args.wait.timeout())
                    ),
                ),
                db,
                &s,
                "⏱",
            )
        }
    })
}

fn snapshot_outcome(o: Outcome, db: &Database, s: &Snapshot) -> Outcome {
    o.output("snapshot_id", s.id.clone())
        .output("snapshot_arn", s.arn.clone())
        .output("kind", db.kind.as_str())
        .output("status", s.status.clone())
        .output("db", db.id.clone())
}

fn finished(o: Outcome, db: &Database, s: &Snapshot, icon: &str) -> Outcome {
    let summary = format!(
        "### {icon} rds-snapshot create\n\n| snapshot | database | kind | status | created |\n|---|---|---|---|---|\n| `{}` | `{}` | {} | {} | {} |\n\n{}\n",
        s.id,
        db.id,
        db.kind.as_str(),
        s.status,
        s.created.as_deref().unwrap_or(""),
        o.message
    );
    snapshot_outcome(o, db, s).detail(s).summary(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Default ids are valid identifiers: run-scoped under GitHub Actions, timestamped otherwise.
    #[test]
    fn default_ids() {
        let now: jiff::Timestamp = "2026-11-24T13:04:05Z".parse().unwrap();
        assert_eq!(
            default_snapshot_id("app-db", None, now),
            "pre-deploy-app-db-20261124-130405"
        );
        assert_eq!(
            default_snapshot_id("app-db", Some("987"), now),
            "pre-deploy-app-db-gh987"
        );
        let long = default_snapshot_id(&"x".repeat(80), None, now);
        assert!(long.len() <= 63);
        identifiers::validate("id", &long, IdKind::ClusterSnapshot).unwrap();
    }
}
