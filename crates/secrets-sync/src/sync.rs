//! `plan` and `apply`: read the source, check the rules, read the target, plan by key, and (apply)
//! write only what the plan says — in that order, so a rules violation writes nothing and an
//! unchanged key is never written.

use dk_core::aws::AwsArgs;
use dk_core::{Error, Outcome, Result, Secret, Ui};

use crate::github::{self, GithubSecrets};
use crate::location::Location;
use crate::model::{Entries, PlanItem, TargetState};
use crate::redact::Redactor;
use crate::sm::{self, WriteOptions};
use crate::{SyncArgs, diff, sources, summary};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Plan,
    DryRun,
    Apply,
}

/// Where a plan goes, connected.
enum Target {
    AwsSecret(
        aws_sdk_secretsmanager::Client,
        String,
        Option<sm::SingleSecret>,
    ),
    AwsPrefix(
        aws_sdk_secretsmanager::Client,
        String,
        Vec<sm::PrefixSecret>,
    ),
    Github(GithubSecrets, Vec<String>),
}

pub async fn run(
    ui: &Ui,
    aws: &AwsArgs,
    args: &SyncArgs,
    mode: Mode,
    r: &Redactor,
) -> Result<Outcome> {
    let ctx = ui.context();
    let (from, to) = args.validate(ctx)?;
    let rules = args.rules.as_deref().map(crate::load_rules).transpose()?;
    let concurrency = usize::from(args.concurrency);

    // Local sources are read (and their errors reported) before any network call.
    let mut source = if sources::is_local(&from) {
        Some(sources::load_local(ctx, &from, r)?)
    } else {
        None
    };
    let sm_client = if from.is_aws() || to.is_aws() {
        Some(aws_sdk_secretsmanager::Client::new(
            &dk_core::aws::sdk_config(ui, aws).await?,
        ))
    } else {
        None
    };
    let source = match (source.take(), &sm_client) {
        (Some(s), _) => s,
        (None, Some(c)) => sources::load_aws(c, &from, r, concurrency).await?,
        (None, None) => return Err(Error::usage(format!("cannot read {from}"))),
    };
    let source = check_source(&to, source)?;
    for v in source.values() {
        ui.mask(v);
    }
    ui.info(&format!("{from}: {} key(s)", source.len()));
    if let Some(rules) = &rules {
        let violations = rules.check(&source);
        if !violations.is_empty() {
            return Ok(summary::rules_failed(&violations));
        }
        ui.info("rules: all passed");
    }

    let target = connect(ui, args, &to, sm_client, r, concurrency).await?;
    let state = target_state(&target)?;
    let items = diff::plan(&source, &state, args.prune);
    let acting = items.iter().any(|i| i.change.acts());
    let (from_s, to_s) = (from.to_string(), to.to_string());
    if mode != Mode::Apply || !acting {
        let (result, message) = match (mode, acting) {
            (_, false) => (
                "no_changes",
                format!("{to_s} is up to date: {}", summary::count_line(&items)),
            ),
            (Mode::DryRun, true) => (
                "dry_run",
                format!("dry run, nothing written: {}", summary::count_line(&items)),
            ),
            _ => ("planned", format!("plan: {}", summary::count_line(&items))),
        };
        let title = format!(
            "secrets-sync {}",
            if mode == Mode::Plan { "plan" } else { "apply" }
        );
        return Ok(summary::with_plan(
            Outcome::succeeded(result, message),
            &from_s,
            &to_s,
            &items,
            &title,
        ));
    }
    ui.info(&format!("writing {}", summary::count_line(&items)));
    let written = write(target, &source, &items, args, concurrency).await?;
    let message = format!(
        "{to_s}: {} written, {} deleted, {} unchanged",
        written.0,
        written.1,
        items.iter().filter(|i| !i.change.acts()).count()
    );
    Ok(summary::with_plan(
        Outcome::succeeded("applied", message),
        &from_s,
        &to_s,
        &items,
        "secrets-sync apply",
    ))
}

/// Target-specific input rules: GitHub's names and size limit, Secrets Manager's size limit.
fn check_source(to: &Location, source: Entries) -> Result<Entries> {
    if to.is_github() {
        return github::normalise(source);
    }
    for (k, v) in &source {
        if v.expose().len() > sm::MAX_VALUE {
            return Err(Error::usage(format!(
                "`{k}` is above Secrets Manager's {}-character limit",
                sm::MAX_VALUE
            )));
        }
        if matches!(to, Location::AwsPrefix(_)) && !crate::location::valid_secret_name(k) {
            return Err(
                Error::usage(format!("`{k}` cannot be part of a Secrets Manager name"))
                    .with_hint("names are letters, digits and /_+=.@-"),
            );
        }
    }
    Ok(source)
}

async fn connect(
    ui: &Ui,
    args: &SyncArgs,
    to: &Location,
    sm_client: Option<aws_sdk_secretsmanager::Client>,
    r: &Redactor,
    concurrency: usize,
) -> Result<Target> {
    match (to, sm_client) {
        (Location::AwsSecret(name), Some(c)) => {
            let current = sm::read_single(&c, name, r).await?;
            Ok(Target::AwsSecret(c, name.clone(), current))
        }
        (Location::AwsPrefix(prefix), Some(c)) => {
            let found = sm::read_prefix(&c, prefix, r, concurrency).await?;
            Ok(Target::AwsPrefix(c, prefix.clone(), found))
        }
        (
            Location::Github {
                owner,
                repo,
                environment,
            },
            _,
        ) => {
            let ctx = ui.context();
            let token = Secret::new(
                args.github_token
                    .clone()
                    .or_else(|| ctx.var(dk_core::env_vars::GITHUB_TOKEN).map(str::to_owned))
                    .unwrap_or_default(),
            );
            ui.mask(&token);
            r.remember(&token);
            let gh = GithubSecrets::new(
                ui,
                &dk_core::github::api_url(ctx),
                &token,
                owner,
                repo,
                environment.as_deref(),
            )?;
            let names = gh.list().await?;
            Ok(Target::Github(gh, names))
        }
        _ => Err(Error::usage(format!("{to} is not a target"))),
    }
}

fn target_state(target: &Target) -> Result<TargetState> {
    match target {
        Target::AwsSecret(_, _, current) => sm::single_target(current.as_ref()),
        Target::AwsPrefix(_, _, found) => Ok(sm::prefix_target(found)),
        Target::Github(_, names) => Ok(TargetState {
            opaque: names.clone(),
            ..Default::default()
        }),
    }
}

/// Returns (written, deleted) counts.
async fn write(
    target: Target,
    source: &Entries,
    items: &[PlanItem],
    args: &SyncArgs,
    concurrency: usize,
) -> Result<(usize, usize)> {
    let opts = WriteOptions {
        kms_key_id: args.kms_key_id.clone(),
        tags: args.tags.clone(),
        recovery_window_days: args.recovery_window_days,
        concurrency,
    };
    let w = match target {
        Target::AwsSecret(c, name, current) => {
            sm::write_single(&c, &name, current.as_ref(), source, items, &opts).await?
        }
        Target::AwsPrefix(c, prefix, found) => {
            sm::write_prefix(&c, &prefix, &found, source, items, &opts).await?
        }
        Target::Github(gh, _) => {
            let done = gh.write(source, items, concurrency).await?;
            return Ok((done.len(), 0));
        }
    };
    Ok((w.created.len() + w.updated.len(), w.deleted.len()))
}
