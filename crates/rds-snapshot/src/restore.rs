//! `rds-snapshot restore`: a snapshot to a NEW instance or cluster. It never overwrites a live
//! database: an existing target is refused, unless it is the one an earlier run of the same
//! restore created (tagged so), in which case the re-run just waits for it.

use aws_sdk_rds::types::Tag;
use dk_core::aws::sdk_error;
use dk_core::poll::Deadline;
use dk_core::{Error, Outcome, Result, Ui};

use crate::rds_api::{Kind, Rds};
use crate::wait::{self, DbState, Waited};
use crate::{RestoreArgs, ownership};

const RESTORED_FROM_KEY: &str = "deploy-kit:restored-from";

pub async fn describe_db_state(rds: &Rds<'_>, id: &str, kind: Kind) -> Result<DbState> {
    match kind {
        Kind::Instance => {
            let out = rds
                .client
                .describe_db_instances()
                .db_instance_identifier(id)
                .send()
                .await
                .map_err(|e| sdk_error(&format!("describing DB instance {id}"), e))?;
            let i = out
                .db_instances()
                .first()
                .ok_or_else(|| Error::failed(format!("DB instance {id} is gone")))?;
            Ok(DbState {
                id: id.to_string(),
                status: i.db_instance_status().unwrap_or("unknown").to_string(),
                endpoint: i.endpoint().and_then(|e| e.address()).map(str::to_owned),
                port: i.endpoint().and_then(|e| e.port()),
            })
        }
        Kind::Cluster => {
            let out = rds
                .client
                .describe_db_clusters()
                .db_cluster_identifier(id)
                .send()
                .await
                .map_err(|e| sdk_error(&format!("describing DB cluster {id}"), e))?;
            let c = out
                .db_clusters()
                .first()
                .ok_or_else(|| Error::failed(format!("DB cluster {id} is gone")))?;
            Ok(DbState {
                id: id.to_string(),
                status: c.status().unwrap_or("unknown").to_string(),
                endpoint: c.endpoint().map(str::to_owned),
                port: c.port(),
            })
        }
    }
}

async fn tags_of_target(rds: &Rds<'_>, id: &str, kind: Kind) -> Result<Vec<Tag>> {
    let arn = match kind {
        Kind::Instance => rds
            .client
            .describe_db_instances()
            .db_instance_identifier(id)
            .send()
            .await
            .map_err(|e| sdk_error("describing the restore target", e))?
            .db_instances()
            .first()
            .and_then(|i| i.db_instance_arn().map(str::to_owned)),
        Kind::Cluster => rds
            .client
            .describe_db_clusters()
            .db_cluster_identifier(id)
            .send()
            .await
            .map_err(|e| sdk_error("describing the restore target", e))?
            .db_clusters()
            .first()
            .and_then(|c| c.db_cluster_arn().map(str::to_owned)),
    };
    let Some(arn) = arn else {
        return Ok(Vec::new());
    };
    let out = rds
        .client
        .list_tags_for_resource()
        .resource_name(arn)
        .send()
        .await
        .map_err(|e| sdk_error("reading the restore target's tags", e))?;
    Ok(out.tag_list().to_vec())
}

pub async fn run(rds: &Rds<'_>, ui: &Ui, args: &RestoreArgs) -> Result<Outcome> {
    let snapshot = rds
        .snapshot(&args.snapshot_id, None)
        .await?
        .ok_or_else(|| {
            Error::usage(format!("snapshot `{}` does not exist", args.snapshot_id))
                .with_hint("list snapshots with `rds-snapshot list --db DB`")
        })?;
    let kind = snapshot.kind;
    if !snapshot.is_available() {
        return Err(Error::failed(format!(
            "snapshot {} is `{}`, not `available`; it cannot be restored yet",
            snapshot.id, snapshot.status
        ))
        .with_hint("wait for it: `rds-snapshot create --db DB --snapshot-id ID` waits for an existing snapshot"));
    }

    let mut resumed = false;
    if let Some(existing) = rds.find_database(&args.target).await? {
        let tags = tags_of_target(rds, &existing.id, existing.kind).await?;
        let ours = tags
            .iter()
            .any(|t| t.key() == Some(RESTORED_FROM_KEY) && t.value() == Some(snapshot.id.as_str()));
        if !ours || existing.kind != kind {
            return Err(Error::usage(format!(
                "a {} named `{}` already exists; restore never overwrites a live database",
                existing.kind.as_str(),
                args.target
            ))
            .with_hint("pick a new --target name; rename or delete the old database yourself if you mean to replace it"));
        }
        ui.info(&format!(
            "{} {} was already restored from {} by an earlier run; waiting for it",
            kind.as_str(),
            args.target,
            snapshot.id
        ));
        resumed = true;
    }

    if args.dry_run {
        let verb = if resumed {
            "would wait for"
        } else {
            "would restore"
        };
        return Ok(Outcome::succeeded(
            "dry_run",
            format!(
                "{verb} {} {} from snapshot {} (dry run: nothing changed)",
                kind.as_str(),
                args.target,
                snapshot.id
            ),
        )
        .output("target", args.target.clone())
        .output("kind", kind.as_str())
        .output("snapshot_id", snapshot.id.clone()));
    }

    if !resumed {
        let mut tags: Vec<Tag> =
            ownership::tags_for(&args.target, ui.context().github_run().as_ref(), &[])
                .into_iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build())
                .collect();
        tags.push(
            Tag::builder()
                .key(RESTORED_FROM_KEY)
                .value(&snapshot.id)
                .build(),
        );
        ui.info(&format!(
            "restoring {} {} from snapshot {}",
            kind.as_str(),
            args.target,
            snapshot.id
        ));
        match kind {
            Kind::Instance => {
                rds.client
                    .restore_db_instance_from_db_snapshot()
                    .db_instance_identifier(&args.target)
                    .db_snapshot_identifier(&snapshot.id)
                    .set_db_instance_class(args.instance_class.clone())
                    .set_db_subnet_group_name(args.db_subnet_group.clone())
                    .set_tags(Some(tags))
                    .send()
                    .await
                    .map_err(|e| {
                        sdk_error(
                            &format!("restoring {} from {}", args.target, snapshot.id),
                            e,
                        )
                    })?;
            }
            Kind::Cluster => {
                let engine = snapshot
                    .engine
                    .clone()
                    .unwrap_or_else(|| "aurora-postgresql".into());
                rds.client
                    .restore_db_cluster_from_snapshot()
                    .db_cluster_identifier(&args.target)
                    .snapshot_identifier(&snapshot.id)
                    .engine(engine)
                    .set_db_subnet_group_name(args.db_subnet_group.clone())
                    .set_tags(Some(tags))
                    .send()
                    .await
                    .map_err(|e| {
                        sdk_error(
                            &format!("restoring cluster {} from {}", args.target, snapshot.id),
                            e,
                        )
                    })?;
            }
        }
    }

    // An Aurora cluster serves nothing without an instance: with --instance-class, create its
    // writer too (idempotently: a re-run finds it).
    let writer = match (kind, &args.instance_class) {
        (Kind::Cluster, Some(class)) => {
            let engine = snapshot
                .engine
                .clone()
                .unwrap_or_else(|| "aurora-postgresql".into());
            Some(ensure_writer(rds, ui, &args.target, &engine, class).await?)
        }
        _ => None,
    };

    let base = |o: Outcome| {
        let o = o
            .output("target", args.target.clone())
            .output("kind", kind.as_str())
            .output("snapshot_id", snapshot.id.clone());
        match &writer {
            Some(w) => o.output("writer_instance", w.clone()),
            None => o,
        }
    };
    if args.no_wait {
        let state = describe_db_state(rds, &args.target, kind).await?;
        return Ok(base(Outcome::succeeded(
            "started",
            format!(
                "restore of {} {} started (not waiting)",
                kind.as_str(),
                args.target
            ),
        ))
        .output("status", state.status));
    }
    let deadline = Deadline::after(args.timeout);
    ui.group(&format!(
        "waiting for {} {} to become available",
        kind.as_str(),
        args.target
    ));
    let mut waited =
        wait::database_available(rds, ui, &args.target, kind, &deadline, args.interval.get())
            .await?;
    if let (Waited::Ready(cluster), Some(writer)) = (&waited, &writer) {
        let cluster = cluster.clone();
        waited = match wait::database_available(
            rds,
            ui,
            writer,
            Kind::Instance,
            &deadline,
            args.interval.get(),
        )
        .await?
        {
            Waited::Ready(_) => Waited::Ready(cluster),
            Waited::Failed(w) => Waited::Failed(DbState {
                status: format!("writer {writer}: {}", w.status),
                ..cluster
            }),
            Waited::TimedOut(w) => Waited::TimedOut(Some(DbState {
                status: format!(
                    "writer {writer}: {}",
                    w.map_or("unknown".into(), |w| w.status)
                ),
                ..cluster
            })),
        };
    }
    ui.end_group();
    let summary = |state: &DbState, verdict: &str| {
        format!(
            "### rds-snapshot restore\n\n| target | kind | from snapshot | status | endpoint |\n|---|---|---|---|---|\n| `{}` | {} | `{}` | {} | {} |\n\n{verdict}\n",
            state.id,
            kind.as_str(),
            snapshot.id,
            state.status,
            endpoint_text(state)
        )
    };
    Ok(match waited {
        Waited::Ready(state) => {
            let endpoint = endpoint_text(&state);
            base(Outcome::succeeded(
                if resumed { "exists" } else { "restored" },
                format!(
                    "{} {} is available at {endpoint} (restored from {})",
                    kind.as_str(),
                    args.target,
                    snapshot.id
                ),
            ))
            .output("status", state.status.clone())
            .output("endpoint", endpoint)
            .summary(summary(&state, "✅ restored"))
        }
        Waited::Failed(state) => base(Outcome::failed(
            "failed",
            format!(
                "restore of {} ended in status `{}`",
                args.target, state.status
            ),
        ))
        .output("status", state.status.clone())
        .summary(summary(&state, "❌ restore failed")),
        Waited::TimedOut(last) => {
            let status = last
                .as_ref()
                .map_or("unknown".to_string(), |s| s.status.clone());
            base(Outcome::timed_out(
                "timed_out",
                format!(
                    "{} {} was still `{status}` when --timeout {} passed; the restore goes on in AWS",
                    kind.as_str(),
                    args.target,
                    humantime::format_duration(args.timeout.get())
                ),
            ))
            .output("status", status)
        }
    })
}

/// The writer instance of a restored Aurora cluster: `<target>-writer`, created unless it exists.
async fn ensure_writer(
    rds: &Rds<'_>,
    ui: &Ui,
    cluster: &str,
    engine: &str,
    class: &str,
) -> Result<String> {
    let mut id = cluster
        .chars()
        .take(63 - "-writer".len())
        .collect::<String>();
    id = id.trim_end_matches('-').to_string() + "-writer";
    let exists = match rds
        .client
        .describe_db_instances()
        .db_instance_identifier(&id)
        .send()
        .await
    {
        Ok(out) => !out.db_instances().is_empty(),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_db_instance_not_found_fault()) =>
        {
            false
        }
        Err(e) => return Err(sdk_error(&format!("looking up writer instance {id}"), e)),
    };
    if !exists {
        ui.info(&format!(
            "creating writer instance {id} ({class}) in cluster {cluster}"
        ));
        rds.client
            .create_db_instance()
            .db_instance_identifier(&id)
            .db_cluster_identifier(cluster)
            .engine(engine)
            .db_instance_class(class)
            .send()
            .await
            .map_err(|e| sdk_error(&format!("creating writer instance {id}"), e))?;
    }
    Ok(id)
}

fn endpoint_text(state: &DbState) -> String {
    match (&state.endpoint, state.port) {
        (Some(e), Some(p)) => format!("{e}:{p}"),
        (Some(e), None) => e.clone(),
        _ => String::new(),
    }
}
