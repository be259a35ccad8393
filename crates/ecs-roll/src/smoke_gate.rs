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

/// With `--test-url`: the test listener's URL, also the spec's base URL.
pub const TEST_URL_VAR: &str = "test_url";

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
    if args.native.test_url.is_some() {
        known.push(var(TEST_URL_VAR, ""));
    }
    let spec = smoke_test::load_spec(path, &known, ctx)?;
    smoke_test::check_base(
        &spec,
        args.native.test_url.as_deref(),
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
    check_at(gate, ui, [cluster, service, task_definition], None).await
}

/// [`check`] against a base URL (the test listener of an ECS-native deployment), also given to
/// the spec as {{test_url}}.
pub async fn check_at(
    gate: &SmokeGate,
    ui: &Ui,
    [cluster, service, task_definition]: [&str; 3],
    base_url: Option<&str>,
) -> std::result::Result<(), String> {
    let mut vars = gate.vars.clone();
    vars.push(var("cluster", cluster));
    vars.push(var("service", service));
    vars.push(var("task_definition", task_definition));
    if let Some(url) = base_url {
        vars.push(var(TEST_URL_VAR, url));
    }
    let opts = RunOptions {
        base_url: base_url.map(str::to_owned),
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
