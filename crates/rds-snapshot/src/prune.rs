//! `rds-snapshot prune`: delete our own snapshots of one database beyond the newest N. Automated
//! snapshots and snapshots made by anything else are never candidates; snapshots still being
//! created count toward N but are never deleted. Deleting is idempotent (already gone = done).

use dk_core::{Outcome, Result, Ui};

use crate::rds_api::{Rds, Snapshot};
use crate::{PruneArgs, ownership};

/// Split our snapshots (newest first) into kept and to-delete.
pub fn plan(snaps: &[Snapshot], db: &str, keep: usize) -> (Vec<Snapshot>, Vec<Snapshot>) {
    let ours: Vec<&Snapshot> = snaps
        .iter()
        .filter(|s| s.snapshot_type == "manual" && ownership::is_owned(&s.tags, db))
        .collect();
    let mut kept = Vec::new();
    let mut delete = Vec::new();
    for (i, s) in ours.into_iter().enumerate() {
        if i < keep || !s.is_available() {
            kept.push(s.clone());
        } else {
            delete.push(s.clone());
        }
    }
    (kept, delete)
}

pub async fn run(rds: &Rds<'_>, ui: &Ui, args: &PruneArgs) -> Result<Outcome> {
    let db = crate::resolve_database(rds, &args.db).await?;
    let snaps = rds.snapshots_of(&db).await?;
    let (kept, delete) = plan(&snaps, &db.id, args.keep);
    let others = snaps.len() - kept.len() - delete.len();
    let ids = |v: &[Snapshot]| v.iter().map(|s| s.id.clone()).collect::<Vec<_>>();
    if args.dry_run {
        for s in &delete {
            ui.info(&format!(
                "would delete {} ({})",
                s.id,
                s.created.as_deref().unwrap_or("")
            ));
        }
    } else {
        for s in &delete {
            ui.info(&format!(
                "deleting {} ({})",
                s.id,
                s.created.as_deref().unwrap_or("")
            ));
            rds.delete_snapshot(s).await?;
        }
    }
    let verb = if args.dry_run {
        "would delete"
    } else {
        "deleted"
    };
    let message = format!(
        "{verb} {} of {}'s snapshots, kept the newest {} of ours; {others} automated or foreign snapshots untouched{}",
        delete.len(),
        db.id,
        kept.len(),
        if args.dry_run {
            " (dry run: nothing changed)"
        } else {
            ""
        }
    );
    let mut md = format!(
        "### rds-snapshot prune `{}`\n\n| snapshot | action |\n|---|---|\n",
        db.id
    );
    for s in &kept {
        md.push_str(&format!("| `{}` | kept |\n", s.id));
    }
    for s in &delete {
        md.push_str(&format!("| `{}` | {verb} |\n", s.id));
    }
    Ok(Outcome::succeeded(if args.dry_run { "dry_run" } else { "pruned" }, message)
        .output("db", db.id.clone())
        .output("deleted", ids(&delete).join(","))
        .output("deleted_count", delete.len())
        .output("kept", ids(&kept).join(","))
        .output("kept_count", kept.len())
        .detail(serde_json::json!({ "deleted": ids(&delete), "kept": ids(&kept), "untouched": others }))
        .summary(md))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::rds_api::Kind;

    fn snap(id: &str, kind: &str, owned_by: Option<&str>, status: &str) -> Snapshot {
        let mut tags = BTreeMap::new();
        if let Some(db) = owned_by {
            tags.insert(
                ownership::MANAGED_BY_KEY.into(),
                ownership::MANAGED_BY_VALUE.into(),
            );
            tags.insert(ownership::DB_KEY.into(), db.into());
        }
        Snapshot {
            id: id.into(),
            arn: String::new(),
            db: "app".into(),
            kind: Kind::Instance,
            status: status.into(),
            percent_progress: None,
            created: None,
            snapshot_type: kind.into(),
            engine: None,
            tags,
            owned: false,
        }
    }

    /// Only our available manual snapshots beyond N are deleted; automated, foreign and
    /// in-progress ones never are.
    #[test]
    fn plans_only_ours() {
        let snaps = vec![
            snap("s5", "manual", Some("app"), "available"),
            snap("auto", "automated", None, "available"),
            snap("s4", "manual", Some("app"), "creating"),
            snap("foreign", "manual", None, "available"),
            snap("other-db", "manual", Some("other"), "available"),
            snap("s3", "manual", Some("app"), "available"),
            snap("s2", "manual", Some("app"), "available"),
        ];
        let (kept, delete) = plan(&snaps, "app", 1);
        let ids = |v: &[Snapshot]| {
            v.iter()
                .map(|s| s.id.as_str())
                .collect::<Vec<_>>()
                .join(",")
        };
        assert_eq!(ids(&kept), "s5,s4");
        assert_eq!(ids(&delete), "s3,s2");
    }
}
