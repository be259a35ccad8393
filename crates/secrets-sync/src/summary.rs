//! Plans and results as people and programs see them: a text listing, a Markdown table for the
//! job summary, flat outputs and JSON detail — keys and fates only, never a value.

use dk_core::Outcome;
use dk_core::gha::md_cell;
use serde_json::json;

use crate::diff::counts;
use crate::model::{Change, PlanItem};
use crate::rules::Violation;

/// `+ KEY  added` lines for every key that is written, deleted or left alone in the target,
/// then a count line (unchanged keys are counted, not listed; `--output json` lists them all).
pub fn plan_text(items: &[PlanItem]) -> String {
    let shown: Vec<&PlanItem> = items
        .iter()
        .filter(|i| i.change != Change::Unchanged)
        .collect();
    let width = shown.iter().map(|i| i.key.len()).max().unwrap_or(0);
    let mut out = String::new();
    for i in shown {
        out.push_str(&format!(
            "{} {:width$}  {}{}\n",
            i.change.symbol(),
            i.key,
            i.change.as_str(),
            i.note
                .as_deref()
                .map(|n| format!(" — {n}"))
                .unwrap_or_default()
        ));
    }
    out.push_str(&count_line(items));
    out.push('\n');
    out
}

pub fn count_line(items: &[PlanItem]) -> String {
    let parts: Vec<String> = counts(items)
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(c, n)| format!("{n} {}", c.as_str()))
        .collect();
    if parts.is_empty() {
        "no keys".to_string()
    } else {
        parts.join(", ")
    }
}

pub fn plan_markdown(title: &str, from: &str, to: &str, items: &[PlanItem]) -> String {
    let mut md = format!(
        "### {title}\n\n`{}` → `{}`: {}\n\n| key | change | note |\n|---|---|---|\n",
        md_cell(from),
        md_cell(to),
        count_line(items)
    );
    for i in items.iter().filter(|i| i.change.acts()) {
        md.push_str(&format!(
            "| `{}` | {} | {} |\n",
            md_cell(&i.key),
            i.change.as_str(),
            md_cell(i.note.as_deref().unwrap_or(""))
        ));
    }
    md
}

/// Counts as outputs, the plan as detail, text and summary.
pub fn with_plan(o: Outcome, from: &str, to: &str, items: &[PlanItem], title: &str) -> Outcome {
    let mut o = o;
    for (c, n) in counts(items) {
        o = o.output(c.as_str(), n as u64);
    }
    let acting: Vec<&str> = items
        .iter()
        .filter(|i| i.change.acts())
        .map(|i| i.key.as_str())
        .collect();
    o.output("keys", acting.join(","))
        .output("from", from)
        .output("to", to)
        .detail(json!({ "from": from, "to": to, "changes": items }))
        .text(plan_text(items))
        .summary(plan_markdown(title, from, to, items))
}

/// The outcome of a set that breaks rules: exit 1, naming keys and rules.
pub fn rules_failed(violations: &[Violation]) -> Outcome {
    let lines: Vec<String> = violations.iter().map(|v| format!("  {v}")).collect();
    let mut md = "### ❌ secrets-sync: rules\n\n| key | rule |\n|---|---|\n".to_string();
    for v in violations {
        md.push_str(&format!(
            "| `{}` | {} |\n",
            md_cell(&v.key),
            md_cell(&v.rule)
        ));
    }
    Outcome::failed(
        "rules_failed",
        format!(
            "{} rule violation(s); nothing was written:\n{}",
            violations.len(),
            lines.join("\n")
        ),
    )
    .output("violations", violations.len() as u64)
    .detail(json!({ "violations": violations }))
    .summary(md)
}
