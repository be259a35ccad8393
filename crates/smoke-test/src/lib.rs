//! `smoke-test`: post-deploy checks and latency/error-rate gates from one YAML spec.
//!
//! It replaces `curl -f $URL/health`, the login-then-`jq`-then-curl scripts and eyeballed k6
//! thresholds with one readable file: checks (request + expectations + captures), a readiness
//! wait for a freshly deployed service, and `load:` gates on p50/p95/p99 and the error rate.
//!
//! Read bottom-up: [`model`] (the spec as data) ← [`template`] (`{{var}}`) ← [`spec`] (parsing with
//! line and column) ← [`assert`], [`load`], [`mask`], [`http`] ← [`engine`] (the run, also called by
//! `ecs-roll --smoke`) ← [`summary`] (outcome, job summary, JUnit) ← this file (the command line).

pub mod assert;
pub mod engine;
pub mod http;
pub mod load;
pub mod mask;
pub mod model;
pub mod spec;
pub mod summary;
pub mod template;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use clap::Parser;
use dk_core::duration::{RetryWindow, Timeout};
use dk_core::{Context, Error, Outcome, Result, Secret, Tool, Ui};

pub use engine::{CheckOutcome, CheckResult, Report, RunOptions, Var, Verdict, run};
pub use model::Spec;

const EXAMPLES: &str = "\
Examples:
  # Instead of `curl -f`: one GET, 200 expected, retried while the service starts (up to 60s)
  smoke-test --get https://api.example.com/health --retry-for 60s

  # A spec: health (retried until ready), login, token captured (masked), then the API with it
  smoke-test smoke.yml --base-url https://staging.example.com \\
      --var email=ci@example.com --secret-var password=\"$SMOKE_PASSWORD\" --junit smoke.xml

  # A spec file (see the README for every assertion):
  #   checks:
  #     - name: health
  #       url: /health                       # retried until it passes (first check)
  #     - name: login
  #       method: POST
  #       url: /auth/login
  #       json: {email: '{{email}}', password: '{{password}}'}
  #       capture:
  #         token: {json: $.data.tokens.accessToken, secret: true}
  #     - name: recipes
  #       url: /recipes
  #       headers: {authorization: 'Bearer {{token}}'}
  #       expect:
  #         status: 200
  #         json: [{path: '$.data[*]', count: 20}]
  #         max_latency: 500ms
  #     - name: recipes under load
  #       url: /recipes
  #       headers: {authorization: 'Bearer {{token}}'}
  #       load: {requests: 500, concurrency: 20, p95: 200ms, error_rate: 1%}

Variables: {{name}} from --var/--secret-var or an earlier capture; {{env.NAME}} from the environment
(masked like --secret-var when NAME holds TOKEN, SECRET, PASSWORD, PASS, KEY, CREDENTIAL, AUTH, COOKIE
or SESSION).
Exit codes: 0 all passed · 1 a check or threshold failed · 2 bad spec (file:line:column) or flag,
before any request · 3 cannot connect at all (no readiness wait asked) · 4 the deadline passed
(a readiness check never passed)";

dk_core::tool_cli! {
    /// Post-deploy smoke checks and latency/error-rate gates from one YAML spec.
    #[derive(Debug, Parser)]
    #[command(
        name = "smoke-test",
        version,
        about = "Post-deploy smoke checks and latency/error-rate gates from one YAML spec",
        long_about = "Post-deploy smoke checks and latency/error-rate gates from one YAML spec.\n\n\
            Runs the spec's checks in order: each sends a request and checks the status, headers, \
            body and JSONPath (RFC 9535) assertions and the latency; captures feed later checks \
            ({{token}}), secret ones masked everywhere. The first check (or any with `ready: true`) \
            is retried until it passes or --timeout passes: a freshly deployed service answers \
            502/503 for a while. `load:` blocks send a check N times at concurrency C and gate on \
            p50/p95/p99 and the error rate. Redirects are not followed unless asked; plain HTTP \
            only to loopback unless --allow-http.",
        after_help = EXAMPLES
    )]
    pub struct Cli {
        /// The spec file (YAML)
        #[arg(
            value_name = "SPEC",
            required_unless_present_any = ["get", "spec_file"],
            conflicts_with_all = ["get", "spec_file"]
        )]
        pub spec: Option<PathBuf>,
        /// The spec file, as a flag (same as SPEC; for the GitHub Action)
        #[arg(long = "spec", value_name = "FILE", conflicts_with = "get")]
        pub spec_file: Option<PathBuf>,
        /// Base URL for checks whose url is a path (overrides the spec's base_url)
        #[arg(long, value_name = "URL")]
        pub base_url: Option<String>,
        /// A variable for {{NAME}}; repeatable
        #[arg(long = "var", value_name = "NAME=VALUE")]
        pub vars: Vec<String>,
        /// A variable whose value is masked in every output (`::add-mask::` under Actions); repeatable
        #[arg(long = "secret-var", value_name = "NAME=VALUE")]
        pub secret_vars: Vec<String>,
        /// Deadline for the whole run, readiness waits included (exit 4 when it passes; 1s to 7d)
        #[arg(long, value_name = "DUR", default_value = "2m")]
        pub timeout: Timeout,
        /// Write a JUnit XML report here (one testcase per check)
        #[arg(long, value_name = "FILE")]
        pub junit: Option<PathBuf>,
        /// Trust these CA certificates (PEM) besides the system roots
        #[arg(long, value_name = "FILE")]
        pub ca_file: Option<PathBuf>,
        /// Follow up to N redirects (default: none; a 3xx is the response)
        #[arg(long, value_name = "N", default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=20))]
        pub follow_redirects: u8,
        /// Allow plain http:// to hosts other than loopback
        #[arg(long)]
        pub allow_http: bool,

        /// One-liner: GET this URL instead of running a spec
        #[arg(long, value_name = "URL", help_heading = "One-liner")]
        pub get: Option<String>,
        /// With --get: the status(es) expected [default: any 2xx]; repeatable
        #[arg(long, value_name = "CODE", requires = "get", value_parser = clap::value_parser!(u16).range(100..=599), help_heading = "One-liner")]
        pub expect_status: Vec<u16>,
        /// With --get: retry until it passes or this long has passed (exit 4), instead of one try
        /// (1s to 1h)
        #[arg(long, value_name = "DUR", requires = "get", help_heading = "One-liner")]
        pub retry_for: Option<RetryWindow>,
    }
}

/// Parse `NAME=VALUE` flags into variables.
pub fn parse_vars(vars: &[String], secret_vars: &[String], flag: &str) -> Result<Vec<Var>> {
    let mut out: Vec<Var> = Vec::new();
    let all = vars
        .iter()
        .map(|v| (v, false, flag.to_string()))
        .chain(secret_vars.iter().map(|v| {
            (
                v,
                true,
                format!("--secret-{}", flag.trim_start_matches("--")),
            )
        }));
    for (text, secret, flag) in all {
        let Some((name, value)) = text.split_once('=') else {
            return Err(Error::usage(format!(
                "{flag} `{}` has no `=`",
                if secret { "…" } else { text }
            ))
            .with_hint(format!("write {flag} NAME=VALUE")));
        };
        if !template::valid_var_name(name) {
            return Err(Error::usage(format!("{flag}: `{name}` is not a variable name"))
                .with_hint("letters, digits, `_` and `-`, starting with a letter or `_`; `env` is reserved"));
        }
        if out.iter().any(|v| v.name == name) {
            return Err(Error::usage(format!(
                "{flag}: variable `{name}` is given twice"
            )));
        }
        out.push(Var {
            name: name.to_string(),
            value: Secret::new(value.to_string()),
            secret,
        });
    }
    Ok(out)
}

/// Read and check a spec file: exit 2 with file:line:column for anything wrong.
pub fn load_spec(path: &Path, vars: &[Var], ctx: &Context) -> Result<Spec> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::usage(format!("cannot read the spec {}: {e}", path.display()))
            .with_hint("give the path of a YAML spec file")
    })?;
    let env = |n: &str| ctx.var(n).is_some();
    let known = spec::Known {
        vars: vars.iter().map(|v| v.name.clone()).collect::<BTreeSet<_>>(),
        env: &env,
    };
    spec::parse(&text, &path.display().to_string(), &known)
        .map_err(|e| Error::usage(format!("bad spec: {e}")))
}

/// Usage checks that need the spec: a path url needs a base URL from somewhere. `hint` says
/// where the caller takes one from.
pub fn check_base(spec: &Spec, base_url: Option<&str>, hint: &str) -> Result<()> {
    if let Some(b) = base_url {
        spec::check_base_url(b).map_err(|e| {
            Error::usage(e.replace("base_url", "--base-url"))
                .with_hint("write e.g. https://api.example.com")
        })?;
    } else if spec.base_url.is_none() && engine::needs_base_url(spec) {
        return Err(
            Error::usage("the spec's checks use paths but there is no base URL")
                .with_hint(hint.to_string()),
        );
    }
    Ok(())
}

impl Cli {
    /// Everything checked before any request: flags, the spec, the base URL.
    fn plan(&self, ctx: &Context) -> Result<(Spec, RunOptions, String)> {
        // Both are bounded by their types (core's duration bounds), checked by clap.
        let timeout = self.retry_for.map_or(self.timeout.get(), |r| r.get());
        let vars = parse_vars(&self.vars, &self.secret_vars, "--var")?;
        let (spec, title) = match (self.spec.as_ref().or(self.spec_file.as_ref()), &self.get) {
            (Some(path), _) => (load_spec(path, &vars, ctx)?, path.display().to_string()),
            (None, Some(url)) => (self.one_liner(url)?, format!("GET {url}")),
            (None, None) => return Err(Error::usage("give a SPEC file or --get URL")),
        };
        check_base(
            &spec,
            self.base_url.as_deref(),
            "pass --base-url https://… or set base_url: in the spec",
        )?;
        if let Some(ca) = &self.ca_file
            && !ca.is_file()
        {
            return Err(Error::usage(format!(
                "--ca-file {} is not a file",
                ca.display()
            )));
        }
        let opts = RunOptions {
            base_url: self.base_url.clone(),
            vars,
            timeout,
            client: http::ClientOptions {
                ca_file: self.ca_file.clone(),
                max_redirects: usize::from(self.follow_redirects),
            },
            allow_http: self.allow_http,
        };
        Ok((spec, opts, title))
    }

    /// `--get URL [--expect-status …] [--retry-for DUR]` as a one-check spec.
    fn one_liner(&self, url: &str) -> Result<Spec> {
        let parsed = reqwest::Url::parse(url).map_err(|e| {
            Error::usage(format!("--get `{url}` is not a URL ({e})"))
                .with_hint("write e.g. --get https://api.example.com/health")
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(Error::usage(format!("--get `{url}` is not an http(s) URL")));
        }
        let status = if self.expect_status.is_empty() {
            None
        } else {
            Some(model::StatusSet(
                self.expect_status
                    .iter()
                    .map(|c| model::StatusPattern::Code(*c))
                    .collect(),
            ))
        };
        let yaml = "checks: [{name: get, url: 'http://127.0.0.1/'}]";
        let mut spec: Spec =
            serde_yaml_ng::from_str(yaml).map_err(|e| Error::runtime(e.to_string()))?;
        let check = &mut spec.checks[0];
        check.name = format!("GET {}", parsed.path());
        check.url = url.to_string();
        check.ready = Some(self.retry_for.is_some());
        check.expect.status = status;
        Ok(spec)
    }
}

pub struct SmokeTest;

impl Tool for SmokeTest {
    const NAME: &'static str = "smoke-test";
    type Cli = Cli;
    type Plan = (Spec, RunOptions, String);

    fn validate(cli: &Cli, ctx: &Context) -> Result<Self::Plan> {
        cli.plan(ctx)
    }

    async fn run(cli: Cli, (spec, opts, title): Self::Plan, ui: Ui) -> Result<Outcome> {
        ui.group(&format!("smoke-test {title}"));
        let report = engine::run(&spec, &opts, &ui).await?;
        ui.end_group();
        if let Some(path) = &cli.junit {
            std::fs::write(path, summary::junit(&report, &title)).map_err(|e| {
                Error::runtime(format!(
                    "cannot write the JUnit report {}: {e}",
                    path.display()
                ))
            })?;
        }
        if let Verdict::Unreachable(why) = &report.verdict {
            return Err(
                Error::runtime(format!("cannot connect: {why}")).with_hint(connect_hint(why))
            );
        }
        Ok(summary::outcome(&report, &title))
    }
}

/// What to do when no HTTP exchange happened: a TLS trust failure wants a CA, not a wait.
fn connect_hint(why: &str) -> &'static str {
    let tls = [
        "certificate",
        "UnknownIssuer",
        "CertNotValid",
        "NotValidForName",
    ];
    if tls.iter().any(|t| why.contains(t)) {
        "the server's TLS certificate is not trusted: pass the CA that signed it with --ca-file FILE (PEM), or fix the certificate"
    } else {
        "check the URL and that the service is up; to wait for it, mark the first check `ready: true` (or --retry-for)"
    }
}
