//! `ecs-roll diff` and `deploy --dry-run`: what a deploy would change, as a unified diff of the
//! canonical task-definition JSON (so key order and described defaults are not noise) and one
//! line per service change. Reads only: nothing is registered, run or updated.

use aws_sdk_ecs::Client;
use dk_core::{Outcome, Result, Ui};
use serde_json::json;
use similar::TextDiff;

use crate::DeployPlan;
use crate::register::{self, Release};
use crate::wire::short_name;

/// A unified diff with 3 lines of context; empty when equal.
pub fn unified(old: &str, new: &str, old_name: &str, new_name: &str) -> String {
    if old == new {
        return String::new();
    }
    TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(old_name, new_name)
        .to_string()
}

/// The readable change set of a release, and whether anything would change.
pub fn describe_release(release: &Release, force: bool) -> (String, bool, serde_json::Value) {
    let mut text = String::new();
    let mut changed = false;
    let mut shown: Vec<(String, usize)> = Vec::new();
    let mut services = Vec::new();
    for s in &release.services {
        let def = &release.definitions[s.definition];
        let target = match &def.arn {
            Some(arn) => short_name(arn).to_string(),
            None => format!("{} (new revision)", def.doc.family()),
        };
        let current = short_name(&s.current_arn).to_string();
        let updates = release.changes_service(s) || force;
        changed |= updates || def.new;
        let line = if release.changes_service(s) {
            format!("service {}: task definition {current} → {target}\n", s.sref)
        } else if force {
            format!(
                "service {}: runs {current} already; a new deployment would be forced\n",
                s.sref
            )
        } else {
            format!("service {}: runs {current} already; unchanged\n", s.sref)
        };
        text.push_str(&line);
        let old = s
            .current
            .as_ref()
            .map(|d| d.doc.pretty())
            .unwrap_or_default();
        let new = def.doc.pretty();
        let patch = unified(&old, &new, &current, &target);
        if !patch.is_empty() && !shown.contains(&(s.current_arn.clone(), s.definition)) {
            shown.push((s.current_arn.clone(), s.definition));
            text.push_str(&patch);
        }
        services.push(json!({
            "cluster": s.sref.cluster,
            "service": s.sref.name,
            "current_task_definition_arn": s.current_arn,
            "task_definition_arn": def.arn,
            "new_revision": def.new,
            "updates_service": updates,
            "diff": patch,
        }));
    }
    if !changed {
        text.push_str("no changes\n");
    }
    (text, changed, json!({ "services": services }))
}

/// `ecs-roll diff`.
pub async fn diff(ecs: &Client, ui: &Ui, plan: &DeployPlan, pin_digests: bool) -> Result<Outcome> {
    let release = register::prepare(ecs, ui, plan, pin_digests).await?;
    Ok(outcome(&release, false, false))
}

/// The outcome of a diff or a dry run.
pub fn outcome(release: &Release, force: bool, dry_run: bool) -> Outcome {
    let (text, changed, detail) = describe_release(release, force);
    let n = release.services.len();
    let message = match (changed, dry_run) {
        (true, true) => format!("dry run: {n} service(s) would change; nothing was changed"),
        (true, false) => format!("{n} service(s) would change"),
        (false, _) => "no changes".to_string(),
    };
    let mut o = Outcome::succeeded(if changed { "changed" } else { "unchanged" }, message)
        .output("changed", changed)
        .summary(format!(
            "### ecs-roll {}\n\n```diff\n{}\n```\n",
            if dry_run { "deploy --dry-run" } else { "diff" },
            text.trim_end().replace("```", "ˋˋˋ")
        ))
        .text(text)
        .detail(detail);
    if dry_run {
        o = o.output("dry_run", true);
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Equal texts give no diff; a changed line shows as -/+ with headers.
    #[test]
    fn unified_diff_shows_changed_lines() {
        assert_eq!(unified("a\n", "a\n", "x", "y"), "");
        let d = unified(
            "{\n  \"image\": \"app:v1\"\n}\n",
            "{\n  \"image\": \"app:v2\"\n}\n",
            "web:3",
            "web:4",
        );
        assert!(d.starts_with("--- web:3\n+++ web:4\n"), "{d}");
        assert!(
            d.contains("-  \"image\": \"app:v1\"\n+  \"image\": \"app:v2\"\n"),
            "{d}"
        );
    }
}
