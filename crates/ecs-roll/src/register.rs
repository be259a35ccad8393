//! From flags to registered revisions: where each service's definition starts from, rendering it,
//! sharing one revision between services whose rendered definitions are equal, and registering
//! only what no existing revision already holds ("don't churn").
//!
//! A rendered definition is reused instead of registered when it equals (canonically, see
//! `render::canonical`) the definition it was rendered from, the one the service runs, or the
//! family's latest ACTIVE revision — the last case makes a re-run after a rollback reuse the
//! revision the failed attempt registered instead of adding an identical one.

use std::collections::HashMap;

use aws_sdk_ecs::Client;
use aws_sdk_ecs::types::Service;
use dk_core::error::did_you_mean;
use dk_core::image_ref::ImageRef;
use dk_core::{Error, Result, Ui};

use crate::DeployPlan;
use crate::render::{self, TaskDefinitionDoc, parse_task_definition};
use crate::services::{self, ServiceRef};
use crate::wire::{self, Described, short_name};

/// Where the new definition starts from.
#[derive(Debug, Clone)]
pub enum Source {
    /// Each service's current task definition.
    Service,
    /// A JSON file, read and validated before any AWS call.
    File {
        path: String,
        doc: TaskDefinitionDoc,
    },
    /// A family (latest ACTIVE revision), `family:revision` or an ARN.
    Revision(String),
}

impl Source {
    /// `--task-definition`: an ARN, an existing file, anything that looks like a path (ends in
    /// `.json` or has a `/`), else a family or `family:revision`.
    pub fn parse(arg: Option<&str>) -> Result<Source> {
        let Some(arg) = arg else {
            return Ok(Source::Service);
        };
        let path = std::path::Path::new(arg);
        if arg.starts_with("arn:") {
            parse_revision_ref(arg)?;
            return Ok(Source::Revision(arg.to_string()));
        }
        if is_file_arg(arg, path.is_file()) {
            let text = std::fs::read_to_string(path).map_err(|e| {
                Error::usage(format!("cannot read task definition file {arg}: {e}")).with_hint(
                    "--task-definition takes a JSON file, a family, FAMILY:REVISION or an ARN",
                )
            })?;
            let doc = parse_task_definition(&text).map_err(|e| {
                Error::usage(format!("task definition file {arg}: {e}")).with_hint(
                    "the file holds register-task-definition input or describe-task-definition output (JSON)",
                )
            })?;
            return Ok(Source::File {
                path: arg.to_string(),
                doc,
            });
        }
        parse_revision_ref(arg)?;
        Ok(Source::Revision(arg.to_string()))
    }
}

/// Whether `--task-definition ARG` names a file: an existing file, or anything that looks like a
/// path (`.json`, a `/` or `\`). A folder named like the family (`web/` beside `--task-definition
/// web`) does not make `web` a file.
pub fn is_file_arg(arg: &str, is_existing_file: bool) -> bool {
    is_existing_file || arg.ends_with(".json") || arg.contains('/') || arg.contains('\\')
}

/// `family`, `family:revision` or a task definition ARN.
pub fn parse_revision_ref(s: &str) -> Result<()> {
    let bad = || {
        Error::usage(format!("`{s}` is not a task definition"))
            .with_hint("use FAMILY, FAMILY:REVISION, arn:aws:ecs:REGION:ACCOUNT:task-definition/FAMILY:REVISION, or a JSON file")
    };
    let name = if s.starts_with("arn:") {
        match s.split_once(":task-definition/") {
            Some((_, n)) => n,
            None => return Err(bad()),
        }
    } else {
        s
    };
    let (family, rev) = match name.split_once(':') {
        Some((f, r)) => (f, Some(r)),
        None => (name, None),
    };
    let rev_ok = rev.is_none_or(|r| r.parse::<u32>().is_ok_and(|n| n >= 1));
    if dk_core::ecs::valid_name(family) && rev_ok {
        Ok(())
    } else {
        Err(bad())
    }
}

/// One distinct rendered definition and the revision that holds it.
#[derive(Debug, Clone)]
pub struct Definition {
    pub doc: TaskDefinitionDoc,
    /// The revision holding it: reused, registered, or `None` before registration (dry run).
    pub arn: Option<String>,
    /// Whether this call registers it (false: an existing revision was reused).
    pub new: bool,
}

/// A service with its current and target definitions.
#[derive(Debug, Clone)]
pub struct ServiceTarget {
    pub sref: ServiceRef,
    pub service: Service,
    /// What the service runs now (recorded as the rollback target at the update).
    pub current_arn: String,
    pub current: Option<Described>,
    /// Index into `Release::definitions`.
    pub definition: usize,
}

/// Everything a deploy (or diff) acts on.
#[derive(Debug, Clone)]
pub struct Release {
    pub definitions: Vec<Definition>,
    pub services: Vec<ServiceTarget>,
}

impl Release {
    pub fn target_arn(&self, s: &ServiceTarget) -> Option<&str> {
        self.definitions[s.definition].arn.as_deref()
    }
    /// Whether the service would be updated (its task definition changes).
    pub fn changes_service(&self, s: &ServiceTarget) -> bool {
        self.target_arn(s) != Some(s.current_arn.as_str())
    }
}

/// Read the services and render their definitions. Registers nothing.
pub async fn prepare(
    ecs: &Client,
    ui: &Ui,
    plan: &DeployPlan,
    pin_digests: bool,
) -> Result<Release> {
    let described_services = services::describe(ecs, &plan.services).await?;
    let mut cache: HashMap<String, Option<Described>> = HashMap::new();
    let mut definitions: Vec<Definition> = Vec::new();
    let mut targets = Vec::new();
    if let Source::File { path, doc } = &plan.source
        && !doc.ignored_fields.is_empty()
    {
        ui.warn(&format!(
            "{path}: ignoring fields that RegisterTaskDefinition does not take: {}",
            doc.ignored_fields.join(", ")
        ));
    }
    let mut warned_pins = Vec::new();
    let mut known_containers: Vec<String> = Vec::new();
    for (sref, service) in plan.services.iter().zip(described_services) {
        let current_arn = service.task_definition().unwrap_or_default().to_string();
        let current = cached_describe(ecs, &mut cache, &current_arn).await?;
        let (base_doc, base_arn) =
            base_definition(ecs, &mut cache, &plan.source, sref, &current_arn, &current).await?;
        known_containers.extend(base_doc.container_names().iter().map(|c| c.to_string()));
        let mut rendered = render::apply_present_overrides(&base_doc, &plan.overrides);
        if pin_digests {
            pin_images(ui, &mut rendered, &mut warned_pins);
        }
        let index = match definitions.iter().position(|d| d.doc.same_as(&rendered)) {
            Some(i) => i,
            None => {
                let candidates = [base_arn.as_deref(), Some(current_arn.as_str())];
                let reuse = reusable_revision(ecs, &mut cache, &candidates, &rendered).await?;
                definitions.push(Definition {
                    new: reuse.is_none(),
                    arn: reuse,
                    doc: rendered,
                });
                definitions.len() - 1
            }
        };
        targets.push(ServiceTarget {
            sref: sref.clone(),
            service,
            current_arn,
            current,
            definition: index,
        });
    }
    check_overrides_land(plan, known_containers)?;
    Ok(Release {
        definitions,
        services: targets,
    })
}

/// The definition a service's render starts from, and the revision holding it (none for a
/// file): the service's current one, the file, or the named revision.
async fn base_definition(
    ecs: &Client,
    cache: &mut HashMap<String, Option<Described>>,
    source: &Source,
    sref: &ServiceRef,
    current_arn: &str,
    current: &Option<Described>,
) -> Result<(TaskDefinitionDoc, Option<String>)> {
    match source {
        Source::Service => match current {
            Some(d) => Ok((d.doc.clone(), Some(d.arn.clone()))),
            None => Err(Error::failed(format!(
                "service {sref} runs {current_arn}, which cannot be described"
            ))
            .with_hint("pass --task-definition FILE|FAMILY|ARN to deploy from elsewhere")),
        },
        Source::File { doc, .. } => Ok((doc.clone(), None)),
        Source::Revision(id) => match cached_describe(ecs, cache, id).await? {
            Some(d) => Ok((d.doc.clone(), Some(d.arn.clone()))),
            None => Err(
                Error::usage(format!("task definition `{id}` does not exist"))
                    .with_hint("check --task-definition and the region"),
            ),
        },
    }
}

/// An ACTIVE revision that already holds `rendered`: one of the candidates (already described),
/// else the family's latest; `None` when it must be registered.
async fn reusable_revision(
    ecs: &Client,
    cache: &mut HashMap<String, Option<Described>>,
    candidates: &[Option<&str>],
    rendered: &TaskDefinitionDoc,
) -> Result<Option<String>> {
    for candidate in candidates.iter().flatten() {
        if let Some(Some(d)) = cache.get(*candidate)
            && d.doc.same_as(rendered)
            && d.status == "ACTIVE"
        {
            return Ok(Some(d.arn.clone()));
        }
    }
    if let Some(latest) = cached_describe(ecs, cache, rendered.family()).await?
        && latest.doc.same_as(rendered)
    {
        return Ok(Some(latest.arn.clone()));
    }
    Ok(None)
}

/// Every override must land somewhere: a container no definition has is a typo.
fn check_overrides_land(plan: &DeployPlan, mut known_containers: Vec<String>) -> Result<()> {
    let migrate = plan.migrate.as_ref().and_then(|m| m.container.as_deref());
    for c in plan.overrides.containers().into_iter().chain(migrate) {
        if !known_containers.iter().any(|k| k == c) {
            known_containers.sort();
            known_containers.dedup();
            let hint = match did_you_mean(c, known_containers.iter().map(String::as_str)) {
                Some(m) => format!(
                    "did you mean `{m}`? containers: {}",
                    known_containers.join(", ")
                ),
                None => format!("containers: {}", known_containers.join(", ")),
            };
            return Err(Error::usage(format!(
                "no task definition of {} has a container `{c}`",
                plan.services
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
            .with_hint(hint));
        }
    }
    Ok(())
}

async fn cached_describe(
    ecs: &Client,
    cache: &mut HashMap<String, Option<Described>>,
    id: &str,
) -> Result<Option<Described>> {
    if id.is_empty() {
        return Ok(None);
    }
    if let Some(d) = cache.get(id) {
        return Ok(d.clone());
    }
    let d = wire::describe_task_definition(ecs, id).await?;
    if let Some(found) = &d {
        cache.insert(found.arn.clone(), d.clone());
    }
    cache.insert(id.to_string(), d.clone());
    Ok(d)
}

/// `--pin-digests` without registry access: already-pinned images stay pinned; tags are kept,
/// named once in a warning.
fn pin_images(ui: &Ui, doc: &mut TaskDefinitionDoc, warned: &mut Vec<String>) {
    for (container, image) in doc.images() {
        let pinned = ImageRef::parse(&image).is_ok_and(|r| r.digest.is_some());
        if !pinned && !warned.contains(&image) {
            ui.warn(&format!(
                "--pin-digests: cannot resolve `{image}` (container {container}) to a digest without registry access; \
                 deploying the tag (ECS resolves it to one digest per service revision)"
            ));
            warned.push(image);
        }
    }
}

/// Register every definition no existing revision holds. Each is registered once, however many
/// services share it.
pub async fn register_new(ecs: &Client, ui: &Ui, release: &mut Release) -> Result<()> {
    let provenance = provenance_tags(ui.context().github_run().as_ref());
    for d in release.definitions.iter_mut() {
        match &d.arn {
            Some(arn) => ui.info(&format!(
                "task definition unchanged: reusing {}",
                short_name(arn)
            )),
            None => {
                d.doc = d.doc.clone().with_tags(&provenance);
                let arn = wire::register_task_definition(ecs, &d.doc).await?;
                ui.info(&format!("registered {}", short_name(&arn)));
                d.arn = Some(arn);
            }
        }
    }
    Ok(())
}

/// `github:repository`, `github:run-id`, `github:sha` of the run registering a revision (as
/// rds-snapshot tags its snapshots), so a revision can be traced back to its workflow run.
pub fn provenance_tags(run: Option<&dk_core::context::GithubRun>) -> Vec<(String, String)> {
    let Some(run) = run else { return Vec::new() };
    [
        ("github:repository", &run.repository),
        ("github:run-id", &run.run_id),
        ("github:sha", &run.sha),
    ]
    .into_iter()
    .filter_map(|(k, v)| {
        v.as_ref()
            .map(|v| (k.to_string(), v.chars().take(256).collect()))
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Families, revisions and ARNs are accepted; junk is a usage error.
    #[test]
    fn revision_refs() {
        for ok in [
            "web",
            "web:3",
            "arn:aws:ecs:us-east-1:123456789012:task-definition/web:3",
        ] {
            assert!(parse_revision_ref(ok).is_ok(), "{ok}");
        }
        for bad in [
            "web:0",
            "web:x",
            "we b",
            "arn:aws:ecs:us-east-1:1:service/x",
            "",
        ] {
            assert_eq!(parse_revision_ref(bad).unwrap_err().exit_code(), 2, "{bad}");
        }
    }

    /// A missing file is a usage error naming it; a bad one gives line and column.
    #[test]
    fn file_sources() {
        let e = Source::parse(Some("does/not/exist.json")).unwrap_err();
        assert!(
            e.message()
                .contains("cannot read task definition file does/not/exist.json")
        );
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("td.json");
        std::fs::write(&p, "{\n  \"family\": \"web\",,\n}").unwrap();
        let e = Source::parse(Some(p.to_str().unwrap())).unwrap_err();
        assert!(e.message().contains("line 2, column"), "{}", e.message());
        assert!(matches!(
            Source::parse(Some("web:4")).unwrap(),
            Source::Revision(_)
        ));
        assert!(matches!(Source::parse(None).unwrap(), Source::Service));
    }

    /// What `--task-definition` names: files by existence or path shape, everything else a
    /// family or revision. Regression (#9.11): a `web/` folder in the working directory made
    /// `--task-definition web` a file (exit 2, "Is a directory").
    #[test]
    fn file_or_family() {
        for (arg, is_file, want) in [
            ("web", false, false),
            ("web:3", false, false),
            ("web", true, true),
            ("td.json", false, true),
            ("deploy/web", false, true),
            ("deploy\\web", false, true),
        ] {
            assert_eq!(is_file_arg(arg, is_file), want, "{arg} (file: {is_file})");
        }
        let dir = tempfile::tempdir().unwrap();
        let web = dir.path().join("web");
        std::fs::create_dir(&web).unwrap();
        assert!(!is_file_arg("web", web.is_file()), "a folder is not a file");
    }
}
