//! `rds-snapshot list`: the snapshots of one database — ours and the automated ones — newest
//! first, with which ones `prune` may delete.

use dk_core::{Outcome, Result};

use crate::rds_api::{Rds, Snapshot};

pub async fn run(rds: &Rds<'_>, db_id: &str) -> Result<Outcome> {
    let db = crate::resolve_database(rds, db_id).await?;
    let snaps = rds.snapshots_of(&db).await?;
    let owned = snaps.iter().filter(|s| s.owned).count();
    let automated = snaps
        .iter()
        .filter(|s| s.snapshot_type == "automated")
        .count();
    let message = format!(
        "{} snapshots of {} ({owned} made by rds-snapshot, {automated} automated)",
        snaps.len(),
        db.id
    );
    Ok(Outcome::succeeded("listed", message)
        .output("db", db.id.clone())
        .output("kind", db.kind.as_str())
        .output("count", snaps.len())
        .output("owned_count", owned)
        .output(
            "latest_snapshot_id",
            snaps
                .iter()
                .find(|s| s.owned)
                .map(|s| s.id.clone())
                .unwrap_or_default(),
        )
        .text(table(&snaps))
        .summary(markdown(&db.id, &snaps))
        .detail(&snaps))
}

pub fn table(snaps: &[Snapshot]) -> String {
    let mut rows = vec![
        ["SNAPSHOT", "TYPE", "STATUS", "CREATED", "OWNER"]
            .map(String::from)
            .to_vec(),
    ];
    for s in snaps {
        rows.push(vec![
            s.id.clone(),
            s.snapshot_type.clone(),
            s.status.clone(),
            s.created.clone().unwrap_or_default(),
            owner(s).to_string(),
        ]);
    }
    let widths: Vec<usize> = (0..5)
        .map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0))
        .collect();
    rows.iter()
        .map(|r| {
            r.iter()
                .zip(&widths)
                .map(|(cell, w)| format!("{cell:<w$}"))
                .collect::<Vec<_>>()
                .join("  ")
                .trim_end()
                .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

fn owner(s: &Snapshot) -> &'static str {
    if s.owned {
        "rds-snapshot"
    } else if s.snapshot_type == "automated" {
        "aws (automated)"
    } else {
        "other"
    }
}

fn markdown(db: &str, snaps: &[Snapshot]) -> String {
    let mut md = format!(
        "### rds-snapshot list `{db}`\n\n| snapshot | type | status | created | owner |\n|---|---|---|---|---|\n"
    );
    for s in snaps {
        md.push_str(&format!(
            "| `{}` | {} | {} | {} | {} |\n",
            s.id,
            s.snapshot_type,
            s.status,
            s.created.as_deref().unwrap_or(""),
            owner(s)
        ));
    }
    md
}
