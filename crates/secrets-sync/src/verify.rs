//! `verify --task-definition FILE|ARN`: the check `ecs-roll deploy` runs before registering
//! (`ecs_roll::verify_secrets`), on its own — for a pull request, or a revision already registered.

use dk_core::aws::AwsArgs;
use dk_core::gha::md_cell;
use dk_core::{Error, Outcome, Result, Ui};
use ecs_roll::register::Source;
use ecs_roll::verify_secrets::{RefStatus, check_refs, describe_missing, secret_refs};
use serde_json::json;

use crate::VerifyArgs;

pub async fn run(ui: &Ui, aws: &AwsArgs, args: &VerifyArgs) -> Result<Outcome> {
    let source = Source::parse(Some(args.task_definition.as_str()))?;
    let config = dk_core::aws::sdk_config(ui, aws).await?;
    let doc = match source {
        Source::File { doc, .. } => doc,
        Source::Revision(id) => {
            let ecs = aws_sdk_ecs::Client::new(&config);
            ecs_roll::wire::describe_task_definition(&ecs, &id)
                .await?
                .ok_or_else(|| Error::usage(format!("no task definition {id}")))?
                .doc
        }
        Source::Service => return Err(Error::usage("--task-definition is required")),
    };
    let refs = secret_refs(&doc);
    let sm = aws_sdk_secretsmanager::Client::new(&config);
    let checks = check_refs(&sm, &refs).await?;
    let missing: Vec<_> = checks
        .iter()
        .filter(|c| c.status == RefStatus::Missing)
        .collect();
    let mut text = String::new();
    let mut md = format!(
        "### secrets-sync verify\n\n`{}`\n\n| container | variable | valueFrom | status |\n|---|---|---|---|\n",
        md_cell(&args.task_definition)
    );
    for c in &checks {
        let status = match c.status {
            RefStatus::Present => "present",
            RefStatus::Missing => "MISSING",
            RefStatus::NotChecked => "not checked",
        };
        text.push_str(&format!("{status:<11}  {}\n", describe_missing(c)));
        md.push_str(&format!(
            "| {} | {} | `{}` | {status}{} |\n",
            md_cell(&c.reference.container),
            md_cell(&c.reference.name),
            md_cell(&c.reference.value_from),
            c.reason
                .as_deref()
                .map(|r| format!(" — {}", md_cell(r)))
                .unwrap_or_default()
        ));
    }
    let outcome = if missing.is_empty() {
        Outcome::succeeded(
            "verified",
            format!("all {} secret reference(s) resolve", checks.len()),
        )
    } else {
        let lines: Vec<String> = missing
            .iter()
            .map(|c| format!("  {}", describe_missing(c)))
            .collect();
        Outcome::failed(
            "missing",
            format!(
                "{} of {} secret reference(s) do not resolve:\n{}",
                missing.len(),
                checks.len(),
                lines.join("\n")
            ),
        )
    };
    Ok(outcome
        .output("references", checks.len() as u64)
        .output("missing", missing.len() as u64)
        .detail(json!({ "checks": checks }))
        .text(if text.is_empty() {
            "no secret references\n".to_string()
        } else {
            text
        })
        .summary(md))
}
