//! `ecs-roll prune`: deregister ACTIVE revisions of a family beyond the newest `--keep`, never
//! one that a service in the given clusters runs or is deploying (any of its deployments), and
//! never a rollback target of one in use — the revision `ecs-roll rollback` would return each
//! service to (found as it finds it: deployments, then the service's deployment history), and
//! the newest ACTIVE revision below each one in use — so that `ecs-roll rollback` and the circuit
//! breaker always have somewhere to go. (After a failed release and a good one, the revision
//! numbered below the one in use is the failed release; the history names the real one.)
//!
//! Deregistering is reversible only in part (an INACTIVE revision can still be described and
//! keeps running tasks, but cannot start new services), so `--dry-run` lists the plan first.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ecs::Client;
use aws_sdk_ecs::types::Service;
use dk_core::aws::sdk_error;
use dk_core::{Outcome, Result, Ui};
use serde::Serialize;
use serde_json::json;

use crate::PruneArgs;
use crate::history::Decision;
use crate::rollback::{find_previous, list_active_revisions};
use crate::services::{ServiceRef, cluster_call_error};
use crate::wire::{family_of, short_name};
use dk_core::ecs::revision_of;

/// Why a revision is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeepReason {
    Newest,
    InUse,
    RollbackTarget,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PrunePlan {
    /// Revision number → why kept (the first reason found).
    pub keep: BTreeMap<i64, KeepReason>,
    /// Newest first.
    pub deregister: Vec<i64>,
}

/// Decide from the ACTIVE revisions (any order), the revisions in use, and the revisions
/// `ecs-roll rollback` would return services to. Pure.
pub fn plan(
    active: &[i64],
    in_use: &BTreeSet<i64>,
    rollback_targets: &BTreeSet<i64>,
    keep_newest: usize,
) -> PrunePlan {
    let mut revs: Vec<i64> = active.to_vec();
    revs.sort_unstable_by(|a, b| b.cmp(a));
    revs.dedup();
    let mut keep = BTreeMap::new();
    for r in revs.iter().take(keep_newest) {
        keep.insert(*r, KeepReason::Newest);
    }
    for r in in_use {
        if revs.contains(r) {
            keep.entry(*r).or_insert(KeepReason::InUse);
        }
        if let Some(below) = revs.iter().find(|x| *x < r) {
            keep.entry(*below).or_insert(KeepReason::RollbackTarget);
        }
    }
    for r in rollback_targets {
        if revs.contains(r) {
            keep.entry(*r).or_insert(KeepReason::RollbackTarget);
        }
    }
    let deregister = revs.into_iter().filter(|r| !keep.contains_key(r)).collect();
    PrunePlan { keep, deregister }
}

/// Every task definition the services of `cluster` run or deploy, and the services themselves.
async fn in_use_in_cluster(
    ecs: &Client,
    cluster: &str,
) -> Result<(BTreeSet<String>, Vec<Service>)> {
    let mut arns = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = ecs
            .list_services()
            .cluster(cluster)
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|e| {
                let doing = format!("ListServices {cluster}");
                cluster_call_error(&doing, cluster, e, |s| s.is_cluster_not_found_exception())
            })?;
        arns.extend(page.service_arns().iter().cloned());
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    let mut used = BTreeSet::new();
    let mut services = Vec::new();
    for chunk in arns.chunks(10) {
        let out = ecs
            .describe_services()
            .cluster(cluster)
            .set_services(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|e| sdk_error(&format!("DescribeServices {cluster}"), e))?;
        for s in out.services() {
            used.extend(s.task_definition().map(str::to_owned));
            for d in s.deployments() {
                used.extend(d.task_definition().map(str::to_owned));
            }
        }
        services.extend(out.services().iter().cloned());
    }
    Ok((used, services))
}

/// What the given clusters use of a family: the revisions in use (with who uses them, for
/// people) and the revisions `ecs-roll rollback` would return each service to.
#[derive(Default)]
struct Usage {
    in_use: BTreeSet<i64>,
    in_use_by: Vec<String>,
    rollback_targets: BTreeSet<i64>,
}

/// Read every cluster's services: what they run or deploy, and where they would roll back to.
async fn read_usage(ecs: &Client, family: &str, clusters: &[String]) -> Result<Usage> {
    let mut usage = Usage::default();
    for cluster in clusters {
        let (used, services) = in_use_in_cluster(ecs, cluster).await?;
        for arn in used {
            if family_of(&arn) == family
                && let Some(r) = revision_of(&arn)
            {
                usage.in_use.insert(r);
                usage
                    .in_use_by
                    .push(format!("{} in {cluster}", short_name(&arn)));
            }
        }
        for svc in services
            .iter()
            .filter(|s| s.task_definition().is_some_and(|t| family_of(t) == family))
        {
            let sref = ServiceRef {
                cluster: cluster.clone(),
                name: svc.service_name().unwrap_or_default().to_string(),
            };
            let prev = match find_previous(ecs, &sref, svc).await? {
                Decision::ReturnTo {
                    task_definition, ..
                }
                | Decision::Follow {
                    task_definition, ..
                } => Some(task_definition),
                Decision::Nothing { .. } => None,
            };
            if let Some(prev) = prev
                && family_of(&prev) == family
                && let Some(r) = revision_of(&prev)
            {
                usage.rollback_targets.insert(r);
            }
        }
    }
    Ok(usage)
}

/// `ecs-roll prune`: read what is used, plan, deregister (unless `--dry-run`), report.
pub async fn prune(ecs: &Client, ui: &Ui, args: &PruneArgs) -> Result<Outcome> {
    let family = args.family.as_str();
    let active = list_active_revisions(ecs, family).await?;
    let usage = read_usage(ecs, family, &args.clusters).await?;
    let revs: Vec<i64> = active.iter().map(|(_, r)| *r).collect();
    let p = plan(
        &revs,
        &usage.in_use,
        &usage.rollback_targets,
        args.keep as usize,
    );
    let arn_of = |r: i64| {
        active
            .iter()
            .find(|(_, x)| *x == r)
            .map(|(a, _)| a.clone())
            .unwrap_or_default()
    };
    ui.info(&format!(
        "{family}: {} ACTIVE revision(s); keeping {} ({}), {} {}",
        revs.len(),
        p.keep.len(),
        p.keep
            .iter()
            .rev()
            .map(|(r, why)| format!("{r}: {}", reason_word(why)))
            .collect::<Vec<_>>()
            .join(", "),
        p.deregister.len(),
        if args.dry_run {
            "would be deregistered"
        } else {
            "to deregister"
        }
    ));
    let listed: Vec<String> = p.deregister.iter().map(|r| arn_of(*r)).collect();
    let done = if args.dry_run {
        Vec::new()
    } else {
        deregister(ecs, ui, &listed).await?
    };
    let kept: Vec<serde_json::Value> = p
        .keep
        .iter()
        .rev()
        .map(|(r, why)| json!({ "task_definition_arn": arn_of(*r), "revision": r, "reason": why }))
        .collect();
    Ok(prune_outcome(args, &kept, &listed, &done, &usage.in_use_by))
}

/// The word a reason serialises to (`in_use`, …).
fn reason_word(why: &KeepReason) -> String {
    serde_json::to_value(why)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Deregister each revision, in order; the ARNs done.
async fn deregister(ecs: &Client, ui: &Ui, arns: &[String]) -> Result<Vec<String>> {
    let mut done = Vec::new();
    for arn in arns {
        ecs.deregister_task_definition()
            .task_definition(arn)
            .send()
            .await
            .map_err(|e| sdk_error(&format!("DeregisterTaskDefinition {}", short_name(arn)), e))?;
        ui.info(&format!("deregistered {}", short_name(arn)));
        done.push(arn.clone());
    }
    Ok(done)
}

/// The outcome: result word, message, outputs, text lines, detail and summary table.
fn prune_outcome(
    args: &PruneArgs,
    kept: &[serde_json::Value],
    listed: &[String],
    done: &[String],
    in_use_by: &[String],
) -> Outcome {
    let family = args.family.as_str();
    let action = if args.dry_run {
        "would deregister"
    } else {
        "deregistered"
    };
    let text = listed
        .iter()
        .map(|a| format!("{action} {}\n", short_name(a)))
        .collect::<String>();
    let (result, message) = match (listed.is_empty(), args.dry_run) {
        (true, _) => (
            "unchanged",
            format!("{family}: nothing to prune ({} kept)", kept.len()),
        ),
        (false, true) => (
            "dry_run",
            format!(
                "{family}: would deregister {} revision(s), keep {}",
                listed.len(),
                kept.len()
            ),
        ),
        (false, false) => (
            "pruned",
            format!(
                "{family}: deregistered {} revision(s), kept {}",
                done.len(),
                kept.len()
            ),
        ),
    };
    let mut md = format!("### ecs-roll prune: {family}\n\n| Revision | Action |\n|---|---|\n");
    for k in kept {
        md.push_str(&format!(
            "| {} | kept ({}) |\n",
            k["revision"],
            k["reason"].as_str().unwrap_or("")
        ));
    }
    for a in listed {
        md.push_str(&format!(
            "| {} | {action} |\n",
            revision_of(a).unwrap_or_default()
        ));
    }
    Outcome::succeeded(result, message)
        .output("deregistered", serde_json::Value::from(done.to_vec()))
        .output("deregistered_count", done.len())
        .output("kept_count", kept.len())
        .text(text)
        .detail(json!({ "family": family, "kept": kept, "deregister": listed, "dry_run": args.dry_run, "in_use": in_use_by }))
        .summary(md)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Newest N, in-use revisions and their rollback targets are kept; the rest go, newest first.
    #[test]
    fn keeps_newest_in_use_and_rollback_targets() {
        let active = [1, 2, 3, 4, 5, 6, 7, 8];
        let in_use = BTreeSet::from([3]);
        let p = plan(&active, &in_use, &BTreeSet::new(), 2);
        assert_eq!(p.keep.get(&8), Some(&KeepReason::Newest));
        assert_eq!(p.keep.get(&7), Some(&KeepReason::Newest));
        assert_eq!(p.keep.get(&3), Some(&KeepReason::InUse));
        assert_eq!(p.keep.get(&2), Some(&KeepReason::RollbackTarget));
        assert_eq!(p.deregister, vec![6, 5, 4, 1]);
    }

    /// The rollback target is the newest ACTIVE revision below, skipping gaps.
    #[test]
    fn rollback_target_skips_inactive_gaps() {
        let p = plan(&[1, 2, 5, 9], &BTreeSet::from([9]), &BTreeSet::new(), 1);
        assert_eq!(p.keep.get(&5), Some(&KeepReason::RollbackTarget));
        assert_eq!(p.deregister, vec![2, 1]);
        // An in-use revision that is no longer ACTIVE still protects the one below it.
        let p = plan(&[1, 2, 3], &BTreeSet::from([4]), &BTreeSet::new(), 1);
        assert_eq!(p.keep.len(), 1);
        assert_eq!(p.deregister, vec![2, 1]);
    }
}
