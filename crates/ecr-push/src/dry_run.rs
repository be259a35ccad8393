//! `--dry-run`: check every input, read a local source, and say what a run would do — the push
//! and, with `--scan-gate`, the gate — without contacting any registry or AWS.

use dk_core::{Outcome, Result, Ui};

use crate::scan::Gate;

/// The plan of a run, from local information only.
pub fn describe(cli: &crate::Cli, ui: &Ui, checked: crate::Checked) -> Result<Outcome> {
    let repo = &cli.repository;
    let tags = checked.tags.join(",");
    let (what, digest) = match &checked.local_plan {
        Some(plan) => (
            format!(
                "would push {} ({} blobs, {}) to {repo}:{tags}",
                plan.root.digest,
                plan.blobs.len(),
                crate::summary::mib(plan.total_bytes())
            ),
            Some(plan.root.digest.clone()),
        ),
        None => (
            format!(
                "would read {} from its registry and push it to {repo}:{tags}",
                cli.source
            ),
            None,
        ),
    };
    let mut steps = vec![what];
    if let Some(gate) = Gate::from_cli(cli) {
        steps.push(gate.describe());
    }
    for s in &steps {
        ui.info(s);
    }
    let mut o = Outcome::succeeded("dry_run", format!("dry run: {}", steps.join("; ")))
        .output("repository", repo.as_str())
        .output("tags", tags);
    if let Some(d) = digest {
        o = o.output("digest", d);
    }
    if let Some(g) = cli.scan.scan_gate {
        o = o.output("scan_gate", g.as_str());
    }
    Ok(o)
}
