//! `rds-snapshot restore`: a snapshot to a NEW instance or cluster. It never overwrites a live
//! database: an existing target is refused, unless it is the one an earlier run of the same
//! restore created (tagged so), in which case the re-run just waits for it.
//!
//! Steps: find the snapshot → check the target → start the restore → (Aurora) ensure a writer →
//! wait → report. Every RDS call goes through `rds_api`.

use dk_core::poll::Deadline;
use dk_core::{Error, Outcome, Result, Ui};

use crate::rds_api::{DbState, Kind, Rds, RestoreTarget, Snapshot, cluster_engine};
use crate::wait::{Waited, Waiter};
use crate::{RestoreArgs, ownership};

const RESTORED_FROM_KEY: &str = "deploy-kit:restored-from";

pub async fn run(rds: &Rds<'_>, ui: &Ui, args: &RestoreArgs) -> Result<Outcome> {
    let snapshot = available_snapshot(rds, &args.snapshot_id).await?;
    let kind = snapshot.kind;
    let resumed = earlier_restore_exists(rds, ui, args, &snapshot).await?;
    if args.dry_run {
        return Ok(dry_run_outcome(args, &snapshot, resumed));
    }
    if !resumed {
        start_restore(rds, ui, args, &snapshot).await?;
    }
    // An Aurora cluster serves nothing without an instance: with --instance-class, create its
    // writer too (idempotently: a re-run finds it).
    let writer = match (kind, &args.instance_class) {
        (Kind::Cluster, Some(class)) => {
            let engine = cluster_engine(&snapshot);
            Some(ensure_writer(rds, ui, &args.target, &engine, class).await?)
        }
        _ => None,
    };
    let report = Report {
        args,
        snapshot: &snapshot,
        writer: writer.as_deref(),
        resumed,
    };
    if args.no_wait {
        let state = rds.db_state(&args.target, kind).await?;
        return Ok(report.started(state));
    }
    let waited = wait_restored(rds, ui, args, kind, writer.as_deref()).await?;
    Ok(report.finished(waited))
}

/// The snapshot to restore from; it must exist and be `available`.
async fn available_snapshot(rds: &Rds<'_>, id: &str) -> Result<Snapshot> {
    let snapshot = rds.snapshot(id, None).await?.ok_or_else(|| {
        Error::usage(format!("snapshot `{id}` does not exist"))
            .with_hint("list snapshots with `rds-snapshot list --db DB`")
    })?;
    if !snapshot.is_available() {
        return Err(Error::failed(format!(
            "snapshot {} is `{}`, not `available`; it cannot be restored yet",
            snapshot.id, snapshot.status
        ))
        .with_hint("wait for it: `rds-snapshot create --db DB --snapshot-id ID` waits for an existing snapshot"));
    }
    Ok(snapshot)
}

/// `true` when the target exists because an earlier run of this same restore created it; an
/// existing target of any other origin is refused.
async fn earlier_restore_exists(
    rds: &Rds<'_>,
    ui: &Ui,
    args: &RestoreArgs,
    snapshot: &Snapshot,
) -> Result<bool> {
    let Some(existing) = rds.find_database(&args.target).await? else {
        return Ok(false);
    };
    let tags = rds.database_tags(&existing.id, existing.kind).await?;
    let ours = tags.get(RESTORED_FROM_KEY) == Some(&snapshot.id);
    if !ours || existing.kind != snapshot.kind {
        return Err(Error::usage(format!(
            "a {} named `{}` already exists; restore never overwrites a live database",
            existing.kind.as_str(),
            args.target
        ))
        .with_hint("pick a new --target name; rename or delete the old database yourself if you mean to replace it"));
    }
    ui.info(&format!(
        "{} {} was already restored from {} by an earlier run; waiting for it",
        snapshot.kind.as_str(),
        args.target,
        snapshot.id
    ));
    Ok(true)
}

async fn start_restore(
    rds: &Rds<'_>,
    ui: &Ui,
    args: &RestoreArgs,
    snapshot: &Snapshot,
) -> Result<()> {
    let mut tags = ownership::tags_for(&args.target, ui.context().github_run().as_ref(), &[]);
    tags.push((RESTORED_FROM_KEY.to_string(), snapshot.id.clone()));
    ui.info(&format!(
        "restoring {} {} from snapshot {}",
        snapshot.kind.as_str(),
        args.target,
        snapshot.id
    ));
    let target = RestoreTarget {
        id: &args.target,
        instance_class: args.instance_class.as_deref(),
        subnet_group: args.db_subnet_group.as_deref(),
    };
    rds.restore(snapshot, &target, &tags).await
}

/// The writer instance of a restored Aurora cluster: `<target>-writer`, created unless it exists.
async fn ensure_writer(
    rds: &Rds<'_>,
    ui: &Ui,
    cluster: &str,
    engine: &str,
    class: &str,
) -> Result<String> {
    let id = writer_id(cluster);
    if !rds.instance_exists(&id).await? {
        ui.info(&format!(
            "creating writer instance {id} ({class}) in cluster {cluster}"
        ));
        rds.create_cluster_instance(&id, cluster, engine, class)
            .await?;
    }
    Ok(id)
}

/// `<cluster>-writer`, kept within RDS's 63-character identifier limit.
fn writer_id(cluster: &str) -> String {
    let stem: String = cluster.chars().take(63 - "-writer".len()).collect();
    stem.trim_end_matches('-').to_string() + "-writer"
}

/// Wait for the target (and then its writer, when there is one) under one deadline.
async fn wait_restored(
    rds: &Rds<'_>,
    ui: &Ui,
    args: &RestoreArgs,
    kind: Kind,
    writer: Option<&str>,
) -> Result<Waited<DbState>> {
    let waiter = Waiter {
        rds,
        ui,
        deadline: Deadline::after(args.wait.timeout),
        interval: args.wait.interval(),
    };
    ui.group(&format!(
        "waiting for {} {} to become available",
        kind.as_str(),
        args.target
    ));
    let mut waited = waiter.database_available(&args.target, kind).await?;
    if let (Waited::Ready(cluster), Some(writer)) = (&waited, writer) {
        let cluster = cluster.clone();
        let with_writer_status = |status: String| DbState {
            status: format!("writer {writer}: {status}"),
            ..cluster.clone()
        };
        waited = match waiter.database_available(writer, Kind::Instance).await? {
            Waited::Ready(_) => Waited::Ready(cluster.clone()),
            Waited::Failed(w) => Waited::Failed(with_writer_status(w.status)),
            Waited::TimedOut(w) => Waited::TimedOut(Some(with_writer_status(
                w.map_or("unknown".into(), |w| w.status),
            ))),
        };
    }
    ui.end_group();
    Ok(waited)
}

fn dry_run_outcome(args: &RestoreArgs, snapshot: &Snapshot, resumed: bool) -> Outcome {
    let verb = if resumed {
        "would wait for"
    } else {
        "would restore"
    };
    Outcome::succeeded(
        "dry_run",
        format!(
            "{verb} {} {} from snapshot {} (dry run: nothing changed)",
            snapshot.kind.as_str(),
            args.target,
            snapshot.id
        ),
    )
    .output("target", args.target.clone())
    .output("kind", snapshot.kind.as_str())
    .output("snapshot_id", snapshot.id.clone())
}

/// Builds the outcome of a restore that was started.
struct Report<'a> {
    args: &'a RestoreArgs,
    snapshot: &'a Snapshot,
    writer: Option<&'a str>,
    resumed: bool,
}

impl Report<'_> {
    fn base(&self, o: Outcome) -> Outcome {
        let o = o
            .output("target", self.args.target.clone())
            .output("kind", self.snapshot.kind.as_str())
            .output("snapshot_id", self.snapshot.id.clone());
        match self.writer {
            Some(w) => o.output("writer_instance", w.to_string()),
            None => o,
        }
    }

    fn started(&self, state: DbState) -> Outcome {
        self.base(Outcome::succeeded(
            "started",
            format!(
                "restore of {} {} started (not waiting)",
                self.snapshot.kind.as_str(),
                self.args.target
            ),
        ))
        .output("status", state.status)
    }

    fn summary(&self, state: &DbState, verdict: &str) -> String {
        format!(
            "### rds-snapshot restore\n\n| target | kind | from snapshot | status | endpoint |\n|---|---|---|---|---|\n| `{}` | {} | `{}` | {} | {} |\n\n{verdict}\n",
            state.id,
            self.snapshot.kind.as_str(),
            self.snapshot.id,
            state.status,
            state.endpoint_text()
        )
    }

    fn finished(&self, waited: Waited<DbState>) -> Outcome {
        let (kind, target, from) = (
            self.snapshot.kind.as_str(),
            &self.args.target,
            &self.snapshot.id,
        );
        match waited {
            Waited::Ready(state) => {
                let endpoint = state.endpoint_text();
                let result = if self.resumed { "exists" } else { "restored" };
                self.base(Outcome::succeeded(
                    result,
                    format!("{kind} {target} is available at {endpoint} (restored from {from})"),
                ))
                .output("status", state.status.clone())
                .output("endpoint", endpoint)
                .summary(self.summary(&state, "✅ restored"))
            }
            Waited::Failed(state) => self
                .base(Outcome::failed(
                    "failed",
                    format!("restore of {target} ended in status `{}`", state.status),
                ))
                .output("status", state.status.clone())
                .summary(self.summary(&state, "❌ restore failed")),
            Waited::TimedOut(last) => {
                let status = last.map_or("unknown".to_string(), |s| s.status);
                self.base(Outcome::timed_out(
                    "timed_out",
                    format!(
                        "{kind} {target} was still `{status}` when --timeout {} passed; the restore goes on in AWS",
                        humantime::format_duration(self.args.wait.timeout())
                    ),
                ))
                .output("status", status)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::writer_id;

    /// The writer's name stays a valid RDS identifier for any cluster name.
    #[test]
    fn writer_id_fits_the_identifier_limit() {
        assert_eq!(writer_id("app-restore"), "app-restore-writer");
        let long = "a".repeat(63);
        assert_eq!(writer_id(&long).len(), 63);
        let dashy = format!("{}-", "b".repeat(55));
        assert_eq!(writer_id(&dashy), format!("{}-writer", "b".repeat(55)));
    }
}
