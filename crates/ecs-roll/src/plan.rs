//! A deploy's inputs turned into a plan before any AWS call: which services, which task
//! definition to start from, which overrides, which migration. Everything here is pure; an
//! error is a usage error (exit 2) naming the flag.

use dk_core::error::did_you_mean;
use dk_core::wait::check_interval;
use dk_core::{Error, Result};

use crate::render::{
    Overrides, parse_env_override, parse_image_override, parse_secret_override, split_command,
};
use crate::services::ServiceRef;
use crate::{DeployArgs, RenderArgs, TargetArgs, migrate, register, render};

/// A deploy's inputs after validation.
#[derive(Debug, Clone)]
pub struct DeployPlan {
    pub services: Vec<ServiceRef>,
    pub source: register::Source,
    pub overrides: Overrides,
    pub migrate: Option<migrate::Migration>,
}

impl DeployArgs {
    /// Validate and resolve the flags into a plan.
    pub fn plan(&self) -> Result<DeployPlan> {
        self.wait.validate()?;
        check_interval(
            self.wait.interval,
            self.rollback_timeout,
            "--rollback-timeout",
        )?;
        check_interval(
            self.wait.interval,
            self.migrate_timeout,
            "--migrate-timeout",
        )?;
        let migrate = match &self.migrate_command {
            Some(cmd) => {
                let command = split_command(cmd).map_err(|e| {
                    Error::usage(format!("--migrate-command: {e}"))
                        .with_hint("quote like a shell (`sh -c 'a && b'`) or pass a JSON array (`[\"bin/migrate\", \"up\"]`)")
                })?;
                if let Some(container) = &self.migrate_container
                    && !dk_core::ecs::valid_name(container)
                {
                    return Err(Error::usage(format!(
                        "--migrate-container `{container}` is not a container name"
                    )));
                }
                Some(migrate::Migration {
                    container: self.migrate_container.clone(),
                    command,
                    timeout: self.migrate_timeout.get(),
                    on_spot: self.migrate_on_spot,
                    follow_logs: self.migrate_logs,
                    started: None,
                })
            }
            None => None,
        };
        plan_render(&self.targets, &self.render, migrate)
    }
}

pub(crate) fn plan_render(
    targets: &TargetArgs,
    render_args: &RenderArgs,
    migrate: Option<migrate::Migration>,
) -> Result<DeployPlan> {
    let services = dk_core::ecs::parse_services(targets.cluster.as_deref(), &targets.services)?;
    let overrides = parse_overrides(render_args)?;
    let source = register::Source::parse(render_args.task_definition.as_deref())?;
    // With a file the containers are known now: an unknown name is a typo caught before AWS.
    if let register::Source::File { doc, path } = &source {
        if let Err(e) = render::check_containers(doc, &overrides) {
            let hint = match did_you_mean(&e.container, e.known.iter().map(String::as_str)) {
                Some(m) => format!(
                    "did you mean `{m}`? containers in {path}: {}",
                    e.known.join(", ")
                ),
                None => format!("containers in {path}: {}", e.known.join(", ")),
            };
            return Err(Error::usage(e.to_string()).with_hint(hint));
        }
        if let Some(m) = &migrate {
            match &m.container {
                Some(c) if !doc.container_names().contains(&c.as_str()) => {
                    return Err(Error::usage(format!(
                        "--migrate-container `{c}` is not in {path}"
                    ))
                    .with_hint(format!("containers: {}", doc.container_names().join(", "))));
                }
                Some(_) => {}
                None => {
                    migrate::default_container(doc).map_err(|e| {
                        Error::usage(format!("--migrate-command: {e}"))
                            .with_hint("add --migrate-container NAME")
                    })?;
                }
            }
        }
    }
    Ok(DeployPlan {
        services,
        source,
        overrides,
        migrate,
    })
}

fn parse_overrides(r: &RenderArgs) -> Result<Overrides> {
    let mut o = Overrides::default();
    for text in &r.images {
        let i = parse_image_override(text).map_err(|e| {
            Error::usage(format!("--image {e}"))
                .with_hint("use --image CONTAINER=REPOSITORY:TAG, e.g. --image web=web:v1.2.3")
        })?;
        if let Some(prev) = o.images.iter().find(|p| p.container == i.container) {
            if prev.image != i.image {
                return Err(Error::usage(format!(
                    "--image gives container `{}` two images: `{}` and `{}`",
                    i.container, prev.image, i.image
                ))
                .with_hint("give each container one --image"));
            }
            continue;
        }
        o.images.push(i);
    }
    for (flag, list, parse, out) in [
        (
            "--env",
            &r.env,
            parse_env_override as fn(&str) -> std::result::Result<_, String>,
            &mut o.env,
        ),
        (
            "--secret",
            &r.secrets,
            parse_secret_override,
            &mut o.secrets,
        ),
    ] {
        for text in list {
            let v = parse(text).map_err(|e| Error::usage(format!("{flag} {e}")))?;
            if out
                .iter()
                .any(|p| p.container == v.container && p.name == v.name)
            {
                return Err(Error::usage(format!(
                    "{flag} sets `{}:{}` twice",
                    v.container, v.name
                )));
            }
            out.push(v);
        }
    }
    for s in &o.secrets {
        if o.env
            .iter()
            .any(|e| e.container == s.container && e.name == s.name)
        {
            return Err(Error::usage(format!(
                "`{}:{}` is given both as --env and as --secret",
                s.container, s.name
            ))
            .with_hint("a variable is either plain or a secret"));
        }
    }
    Ok(o)
}
