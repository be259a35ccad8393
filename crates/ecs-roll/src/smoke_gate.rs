//! The smoke gate (`deploy --smoke SPEC`): after a service's deployment completes, run
//! smoke-test's engine on the spec; a failure turns the verdict into a failed deployment, which
//! `roll` rolls back to the recorded revision like any other failure (cause `smoke`).
//!
//! The spec is read and checked with the flags (exit 2 before any AWS call). Besides
//! `--smoke-var`, every spec can use `{{cluster}}`, `{{service}}` and `{{task_definition}}` (the
//! revision just deployed), so one spec serves every environment and service.

use std::path::PathBuf;
use std::time::Duration;

use dk_core::{Context, Result, Secret, Ui};
use smoke_test::{RunOptions, Spec, Var, Verdict};

use crate::DeployArgs;

/// The variables ecs-roll passes to every spec.
pub const BUILTIN_VARS: [&str; 3] = ["cluster", "service", "task_definition"];

/// The word in the `cause` output when the gate failed a release.
pub const CAUSE: &str = "smoke";

/// A checked spec and how to run it.
#[derive(Debug, Clone)]
pub struct SmokeGate {
    pub path: PathBuf,
    spec: Spec,
    vars: Vec<Var>,
    timeout: Duration,
}

/// Read and check `--smoke` and `--smoke-var`: usage errors (exit 2) before anything runs.
pub fn load(args: &DeployArgs, ctx: &Context) -> Result<Option<SmokeGate>> {
    let Some(path) = &args.smoke else {
        return Ok(None);
    };
    let vars = smoke_test::parse_vars(&args.smoke_vars, &[], "--smoke-var")?;
    if let Some(v) = vars
        .iter()
        .find(|v| BUILTIN_VARS.contains(&v.name.as_str()))
    {
        return Err(dk_core::Error::usage(format!(
            "--smoke-var {}: `{}` is set by ecs-roll itself",
            v.name, v.name
        ))
        .with_hint(
            "ecs-roll passes {{cluster}}, {{service}} and {{task_definition}} to the spec",
        ));
    }
    let mut known = vars.clone();
    known.extend(BUILTIN_VARS.iter().map(|n| var(n, "")));
    let spec = smoke_test::load_spec(path, &known, ctx)?;
    smoke_test::check_base(
        &spec,
        None,
        "set base_url: in the spec, or write full URLs such as '{{url}}/health' with --smoke-var url=https://…",
    )?;
    Ok(Some(SmokeGate {
        path: path.clone(),
        spec,
        vars,
        timeout: args.smoke_timeout.get(),
    }))
}

fn var(name: &str, value: &str) -> Var {
    Var {
        name: name.to_string(),
        value: Secret::new(value.to_string()),
        secret: false,
    }
}

/// Run the gate for one service that has just deployed `task_definition`. `Err` is the reason
/// the release must not be called green.
pub async fn check(
    gate: &SmokeGate,
    ui: &Ui,
    cluster: &str,
    service: &str,
    task_definition: &str,
) -> std::result::Result<(), String> {
    let mut vars = gate.vars.clone();
    vars.push(var("cluster", cluster));
    vars.push(var("service", service));
    vars.push(var("task_definition", task_definition));
    let opts = RunOptions {
        base_url: None,
        vars,
        timeout: gate.timeout,
        client: smoke_test::http::ClientOptions::default(),
        allow_http: false,
    };
    ui.info(&format!(
        "{cluster}/{service}: smoke test {}",
        gate.path.display()
    ));
    let report = match smoke_test::run(&gate.spec, &opts, ui).await {
        Ok(r) => r,
        Err(e) => return Err(format!("smoke test could not run: {}", e.message())),
    };
    let n = report.checks.len();
    match &report.verdict {
        Verdict::Passed => {
            ui.info(&format!(
                "{cluster}/{service}: smoke test passed ({n} check(s))"
            ));
            Ok(())
        }
        Verdict::Unreachable(why) => Err(format!("smoke test failed: cannot connect: {why}")),
        Verdict::TimedOut | Verdict::Failed => Err(format!(
            "smoke test failed: {} of {n} check(s) did not pass: {}",
            report.not_passed(),
            report.first_failure().unwrap_or_default()
        )),
    }
}
