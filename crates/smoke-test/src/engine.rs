//! The engine: run a parsed spec's checks in order against a live service and say how it went.
//! `ecs-roll --smoke` calls [`run`] directly; the `smoke-test` command wraps it.
//!
//! Readiness checks are retried until they pass or the run's deadline passes (a fresh service
//! answers 502/503 for a while); other checks get their `retries`. A check whose variables were
//! never captured is skipped, not sent. Every text that leaves here (failures, request lines,
//! body excerpts) is masked for the secrets seen so far and neutralised.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use dk_core::{Error, Result, Secret, Ui};
use reqwest::{Client, Url};
use serde::Serialize;

use crate::assert::{self, Response};
use crate::http::{self, ClientOptions, Prepared, SendError};
use crate::load::{self, LoadStats};
use crate::mask::Masker;
use crate::model::{Check, Spec};
use crate::template;

/// Longest body excerpt shown for a failed check.
pub const EXCERPT_CHARS: usize = 300;
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_RETRY_DELAY: Duration = Duration::from_secs(1);

/// A `--var`: its value is masked everywhere when `secret`.
#[derive(Debug, Clone)]
pub struct Var {
    pub name: String,
    pub value: Secret<String>,
    pub secret: bool,
}

/// How to run a spec.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Overrides the spec's `base_url`.
    pub base_url: Option<String>,
    pub vars: Vec<Var>,
    /// The whole run's deadline (readiness waits included).
    pub timeout: Duration,
    pub client: ClientOptions,
    /// Allow plain HTTP to hosts other than loopback.
    pub allow_http: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckOutcome {
    Passed,
    Failed,
    /// Not sent: a variable it needs was not captured, or the deadline had passed.
    Skipped,
    /// A readiness check still failing at the deadline.
    TimedOut,
}

/// One check's result. Every string in it is masked and neutralised.
#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    pub name: String,
    pub outcome: CheckOutcome,
    pub ready: bool,
    pub attempts: u32,
    pub duration_ms: u64,
    pub latency_ms: Option<u64>,
    /// `GET https://host/path`.
    pub request: Option<String>,
    pub status: Option<u16>,
    pub failures: Vec<String>,
    pub body_excerpt: Option<String>,
    pub load: Option<LoadStats>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Passed,
    /// A check or threshold failed (exit 1).
    Failed,
    /// A readiness check did not pass before the deadline, or the deadline cut the run (exit 4).
    TimedOut,
    /// Nothing answered at all and no readiness wait was asked (exit 3).
    Unreachable(String),
}

/// The whole run.
#[derive(Debug, Clone)]
pub struct Report {
    pub checks: Vec<CheckResult>,
    pub verdict: Verdict,
    pub duration: Duration,
    /// Over every measured request: each plain check's last attempt and every load request.
    pub requests: u64,
    pub errors: u64,
    pub p95_ms: f64,
}

impl Report {
    pub fn passed(&self) -> usize {
        self.count(CheckOutcome::Passed)
    }
    pub fn not_passed(&self) -> usize {
        self.checks.len() - self.passed()
    }
    pub fn count(&self, o: CheckOutcome) -> usize {
        self.checks.iter().filter(|c| c.outcome == o).count()
    }
    pub fn error_rate(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.errors as f64 / self.requests as f64
        }
    }
    /// The first failing check's first failure, for one-line messages.
    pub fn first_failure(&self) -> Option<String> {
        self.checks
            .iter()
            .find(|c| c.outcome != CheckOutcome::Passed)
            .map(|c| {
                format!(
                    "{}: {}",
                    c.name,
                    c.failures.first().map_or("failed", String::as_str)
                )
            })
    }
}

/// Run every check of `spec`. Errors only for what stops the run before it starts (a bad CA
/// file, a bad base URL); failures of the service are in the report.
pub async fn run(spec: &Spec, opts: &RunOptions, ui: &Ui) -> Result<Report> {
    let client = http::build_client(&opts.client, ui.context())?;
    let base = base_url(spec, opts)?;
    let mut run = Run::new(spec, opts, ui, client, base);
    let started = Instant::now();
    let deadline = started + opts.timeout;
    let mut results = Vec::new();
    let mut stop: Option<String> = None;
    for check in &spec.checks {
        let result = match &stop {
            Some(why) => skipped(check, why.clone()),
            None => run.check(check, deadline).await,
        };
        if result.outcome == CheckOutcome::TimedOut && stop.is_none() {
            stop = Some(format!(
                "not run: readiness check `{}` did not pass in time",
                check.name
            ));
        }
        run.print(&result);
        results.push(result);
    }
    ui.clear_status();
    Ok(run.finish(results, started.elapsed()))
}

fn base_url(spec: &Spec, opts: &RunOptions) -> Result<Option<String>> {
    let Some(base) = opts.base_url.clone().or_else(|| spec.base_url.clone()) else {
        return Ok(None);
    };
    crate::spec::check_base_url(&base).map_err(|e| {
        Error::usage(e.replace("base_url", "--base-url"))
            .with_hint("write e.g. --base-url https://api.example.com")
    })?;
    Ok(Some(base))
}

/// Whether any check needs a base URL: its `url` is a path. (One starting with a variable,
/// `{{url}}/health`, is taken for a full URL; if it renders to a path, that check says so.)
pub fn needs_base_url(spec: &Spec) -> bool {
    spec.checks.iter().any(|c| c.url.starts_with('/'))
}

fn skipped(check: &Check, why: String) -> CheckResult {
    CheckResult {
        name: check.name.clone(),
        outcome: CheckOutcome::Skipped,
        ready: check.ready == Some(true),
        attempts: 0,
        duration_ms: 0,
        latency_ms: None,
        request: None,
        status: None,
        failures: vec![why],
        body_excerpt: None,
        load: None,
    }
}

/// One attempt's result, unmasked (the caller masks what it keeps).
struct Attempt {
    response: Option<Response>,
    error: Option<SendError>,
    failures: Vec<String>,
    captures: Vec<(String, String)>,
}

struct Run<'a> {
    spec: &'a Spec,
    opts: &'a RunOptions,
    ui: &'a Ui,
    client: Client,
    base: Option<String>,
    vars: BTreeMap<String, String>,
    masker: Masker,
    latencies: Vec<Duration>,
    requests: u64,
    errors: u64,
    any_response: bool,
    connect_error: Option<String>,
}

impl<'a> Run<'a> {
    fn new(
        spec: &'a Spec,
        opts: &'a RunOptions,
        ui: &'a Ui,
        client: Client,
        base: Option<String>,
    ) -> Self {
        let mut masker = Masker::default();
        let mut vars = BTreeMap::new();
        for v in &opts.vars {
            if v.secret {
                ui.mask(&v.value);
                masker.add(v.value.expose());
            }
            vars.insert(v.name.clone(), v.value.expose().clone());
        }
        for name in crate::spec::secret_env_references(spec) {
            if let Some(value) = ui.context().var(name) {
                ui.mask(&Secret::new(value.to_string()));
                masker.add(value);
            }
        }
        Run {
            spec,
            opts,
            ui,
            client,
            base,
            vars,
            masker,
            latencies: Vec::new(),
            requests: 0,
            errors: 0,
            any_response: false,
            connect_error: None,
        }
    }

    fn render(&self, text: &str) -> std::result::Result<String, String> {
        render_with(&self.vars, self.ui.context(), text)
    }

    async fn check(&mut self, check: &Check, deadline: Instant) -> CheckResult {
        let started = Instant::now();
        let mut result = skipped(check, String::new());
        result.failures.clear();
        let prepared = match self.prepare(check) {
            Ok(p) => p,
            Err(why) => {
                result
                    .failures
                    .push(self.masker.excerpt(&why, EXCERPT_CHARS));
                return result;
            }
        };
        result.request = Some(self.masker.excerpt(&prepared.line(), EXCERPT_CHARS));
        if let Some(load) = &check.load {
            let stats = self.load(check, load, &prepared, deadline).await;
            result.attempts = stats.requests;
            result.failures = stats.failures.clone();
            result.outcome = if result.failures.is_empty() {
                CheckOutcome::Passed
            } else {
                CheckOutcome::Failed
            };
            result.latency_ms = Some(stats.p95_ms.round() as u64);
            result.load = Some(stats);
        } else {
            self.attempts(check, &prepared, deadline, &mut result).await;
        }
        result.duration_ms = started.elapsed().as_millis() as u64;
        result
    }

    /// Send until it passes, the retries run out, or (readiness) the deadline passes.
    async fn attempts(
        &mut self,
        check: &Check,
        p: &Prepared,
        deadline: Instant,
        result: &mut CheckResult,
    ) {
        let ready = check.ready == Some(true);
        let retries = check.retries.or(self.spec.defaults.retries).unwrap_or(0);
        let delay = check
            .retry_delay
            .or(self.spec.defaults.retry_delay)
            .map_or(DEFAULT_RETRY_DELAY, |d| d.0);
        let timeout = check
            .timeout
            .or(self.spec.defaults.timeout)
            .map_or(DEFAULT_TIMEOUT, |d| d.0);
        loop {
            let now = Instant::now();
            if now >= deadline {
                result.outcome = CheckOutcome::TimedOut;
                result.failures.insert(
                    0,
                    format!(
                        "deadline ({}) passed{}",
                        dk_core::duration::format_duration(self.opts.timeout),
                        if ready {
                            " while waiting for it to pass"
                        } else {
                            ""
                        }
                    ),
                );
                return;
            }
            let attempt = self.attempt(check, p, timeout.min(deadline - now)).await;
            result.attempts += 1;
            self.keep(&attempt, result);
            if attempt.failures.is_empty() && attempt.error.is_none() {
                result.outcome = CheckOutcome::Passed;
                self.measure(&attempt, false);
                self.store_captures(attempt.captures);
                return;
            }
            let more = if ready {
                true
            } else {
                result.attempts <= retries
            };
            if !more {
                result.outcome = CheckOutcome::Failed;
                self.measure(&attempt, true);
                return;
            }
            if ready {
                self.ui.status(&format!(
                    "waiting for `{}` (attempt {}): {}",
                    check.name,
                    result.attempts,
                    result.failures.first().map_or("", String::as_str)
                ));
            }
            let pause = delay.min(deadline.saturating_duration_since(Instant::now()));
            tokio::time::sleep(pause).await;
        }
    }

    /// One request, its assertions and captures. Secret captures are masked at once, passing or
    /// not, so the body excerpt of a failing login cannot show the token.
    async fn attempt(&mut self, check: &Check, p: &Prepared, timeout: Duration) -> Attempt {
        match http::send(&self.client, p, timeout).await {
            Err(e) => {
                if let SendError::Connect(why) = &e {
                    self.connect_error.get_or_insert_with(|| why.clone());
                }
                Attempt {
                    failures: vec![e.to_string()],
                    response: None,
                    error: Some(e),
                    captures: Vec::new(),
                }
            }
            Ok(r) => {
                self.any_response = true;
                let mut captures = Vec::new();
                let mut capture_failures = Vec::new();
                for (name, c) in &check.capture {
                    match assert::capture(name, c, &r) {
                        Ok(v) => {
                            if c.secret {
                                self.ui.mask(&Secret::new(v.clone()));
                                self.masker.add(&v);
                            }
                            captures.push((name.clone(), v));
                        }
                        Err(e) => capture_failures.push(e),
                    }
                }
                let render = |s: &str| self.render(s);
                let mut failures = assert::evaluate(&check.expect, &r, &render, true);
                failures.extend(capture_failures);
                Attempt {
                    response: Some(r),
                    error: None,
                    failures,
                    captures,
                }
            }
        }
    }

    /// Keep the latest attempt's facts in the result, masked and neutralised.
    fn keep(&self, a: &Attempt, result: &mut CheckResult) {
        result.failures = a
            .failures
            .iter()
            .map(|f| self.masker.excerpt(f, EXCERPT_CHARS))
            .collect();
        result.status = a.response.as_ref().map(|r| r.status);
        result.latency_ms = a.response.as_ref().map(|r| r.latency.as_millis() as u64);
        result.body_excerpt = match &a.response {
            Some(r) if !a.failures.is_empty() && !r.body.is_empty() => {
                Some(self.masker.excerpt(&r.body, EXCERPT_CHARS))
            }
            _ => None,
        };
    }

    fn store_captures(&mut self, captures: Vec<(String, String)>) {
        for (name, value) in captures {
            self.vars.insert(name, value);
        }
    }

    fn measure(&mut self, a: &Attempt, failed: bool) {
        self.requests += 1;
        if failed {
            self.errors += 1;
        }
        if let Some(r) = &a.response {
            self.latencies.push(r.latency);
        }
    }

    /// Render a check's request.
    fn prepare(&self, check: &Check) -> std::result::Result<Prepared, String> {
        let raw = self.render(&check.url)?;
        let mut url = if raw.starts_with("http://") || raw.starts_with("https://") {
            Url::parse(&raw).map_err(|e| format!("url `{raw}` is not a URL ({e})"))?
        } else {
            let Some(base) = &self.base else {
                return Err(format!(
                    "url `{raw}` is a path but no base URL was given; pass --base-url or set base_url in the spec"
                ));
            };
            let path = if raw.starts_with('/') {
                raw.clone()
            } else {
                format!("/{raw}")
            };
            Url::parse(&format!("{}{path}", base.trim_end_matches('/')))
                .map_err(|e| format!("`{base}{path}` is not a URL ({e})"))?
        };
        http::check_scheme(&url, self.opts.allow_http)?;
        if !check.query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in &check.query {
                pairs.append_pair(k, &self.render(v)?);
            }
        }
        let mut headers: Vec<(String, String)> = Vec::new();
        for (k, v) in self.spec.defaults.headers.iter().chain(&check.headers) {
            let v = self.render(v)?;
            headers.retain(|(h, _)| !h.eq_ignore_ascii_case(k));
            headers.push((k.clone(), v));
        }
        let body = match (&check.json, &check.body) {
            (Some(j), _) => {
                if !headers
                    .iter()
                    .any(|(h, _)| h.eq_ignore_ascii_case("content-type"))
                {
                    headers.push(("content-type".into(), "application/json".into()));
                }
                Some(
                    serde_json::to_vec(&assert::render_json(j, &|s| self.render(s))?)
                        .unwrap_or_default(),
                )
            }
            (None, Some(b)) => Some(self.render(b)?.into_bytes()),
            (None, None) => None,
        };
        Ok(Prepared {
            method: check.method,
            url,
            headers,
            body,
        })
    }

    /// A load block: `requests` sends, `concurrency` at a time, held to its thresholds.
    async fn load(
        &mut self,
        check: &Check,
        l: &crate::model::Load,
        p: &Prepared,
        deadline: Instant,
    ) -> LoadStats {
        let timeout = check
            .timeout
            .or(self.spec.defaults.timeout)
            .map_or(DEFAULT_TIMEOUT, |d| d.0);
        self.ui.status(&format!(
            "{}: {} requests, {} at a time",
            check.name, l.requests, l.concurrency
        ));
        let job = std::sync::Arc::new(LoadJob {
            client: self.client.clone(),
            prepared: p.clone(),
            expect: check.expect.clone(),
            vars: self.vars.clone(),
            ctx: self.ui.context().clone(),
            timeout,
            deadline,
            requests: l.requests,
            next: std::sync::atomic::AtomicU32::new(0),
        });
        let started = Instant::now();
        // One task per concurrency slot, so the runtime's worker threads share the checking.
        let mut slots = tokio::task::JoinSet::new();
        for _ in 0..l.concurrency.clamp(1, l.requests.max(1)) {
            slots.spawn(std::sync::Arc::clone(&job).slot());
        }
        let mut outcomes: Vec<LoadOutcome> = Vec::with_capacity(l.requests as usize);
        while let Some(done) = slots.join_next().await {
            match done {
                Ok(mut part) => outcomes.append(&mut part),
                Err(e) => outcomes.push(LoadOutcome {
                    latency: Duration::ZERO,
                    failure: Some(format!("a load worker stopped: {e}")),
                    answered: false,
                }),
            }
        }
        let wall = started.elapsed();
        let errors = outcomes.iter().filter(|o| o.failure.is_some()).count() as u32;
        let mut first_errors: Vec<String> = Vec::new();
        for why in outcomes.iter().filter_map(|o| o.failure.clone()) {
            if first_errors.len() < 3 && !first_errors.contains(&why) {
                first_errors.push(why);
            }
        }
        self.any_response |= outcomes.iter().any(|o| o.answered);
        let latencies: Vec<Duration> = outcomes.iter().map(|o| o.latency).collect();
        self.latencies.extend(&latencies);
        self.requests += u64::from(l.requests);
        self.errors += u64::from(errors);
        let mut stats = load::gate(l, latencies, errors, wall);
        for e in first_errors {
            let line = format!("e.g. {}", self.masker.excerpt(&e, EXCERPT_CHARS));
            if stats.failures.is_empty() {
                // Errors within the allowed rate are reported, not failed.
                continue;
            }
            stats.failures.push(line);
        }
        stats.failures = stats
            .failures
            .iter()
            .map(|f| self.masker.excerpt(f, EXCERPT_CHARS))
            .collect();
        stats
    }

    fn print(&self, r: &CheckResult) {
        let timing = r
            .latency_ms
            .map(|l| format!(" in {l} ms"))
            .unwrap_or_default();
        let status = r.status.map(|s| format!(" → {s}")).unwrap_or_default();
        let tries = if r.attempts > 1 && r.load.is_none() {
            format!(" ({} attempts)", r.attempts)
        } else {
            String::new()
        };
        let mut text = match r.outcome {
            CheckOutcome::Passed => format!("✔ {}{status}{timing}{tries}", r.name),
            CheckOutcome::Skipped => format!("- {} skipped", r.name),
            _ => format!(
                "✘ {}: {}{status}{timing}{tries}",
                r.name,
                r.request.as_deref().unwrap_or("(not sent)")
            ),
        };
        if let Some(l) = &r.load {
            text.push_str(&format!(
                "\n    {} requests at concurrency {}: p50 {} ms · p95 {} ms · p99 {} ms · errors {} · {} req/s",
                l.requests, l.concurrency, l.p50_ms, l.p95_ms, l.p99_ms, load::percent(l.error_rate), l.requests_per_s
            ));
            for (name, limit) in &l.thresholds {
                text.push_str(&format!("\n    threshold {name} ≤ {limit}"));
            }
        }
        for f in &r.failures {
            text.push_str(&format!("\n    {f}"));
        }
        if let Some(b) = &r.body_excerpt {
            text.push_str(&format!("\n    body: {b}"));
        }
        self.ui.info(&text);
    }

    fn finish(self, checks: Vec<CheckResult>, duration: Duration) -> Report {
        let mut latencies = self.latencies;
        latencies.sort();
        let p95 = load::percentile(&latencies, 95.0);
        let any_ready = self.spec.checks.iter().any(|c| c.ready == Some(true));
        let verdict = if checks.iter().all(|c| c.outcome == CheckOutcome::Passed) {
            Verdict::Passed
        } else if checks.iter().any(|c| c.outcome == CheckOutcome::TimedOut) {
            Verdict::TimedOut
        } else if !self.any_response
            && !any_ready
            && let Some(why) = &self.connect_error
        {
            Verdict::Unreachable(self.masker.excerpt(why, EXCERPT_CHARS))
        } else {
            Verdict::Failed
        };
        Report {
            checks,
            verdict,
            duration,
            requests: self.requests,
            errors: self.errors,
            p95_ms: (p95.as_secs_f64() * 10_000.0).round() / 10.0,
        }
    }
}

/// Render `text` with the run's variables and the environment (`{{env.NAME}}`).
fn render_with(
    vars: &BTreeMap<String, String>,
    ctx: &dk_core::Context,
    text: &str,
) -> std::result::Result<String, String> {
    template::render(
        text,
        |n| vars.get(n).cloned(),
        |n| ctx.var(n).map(str::to_owned),
    )
}

/// One load request: its latency, its first failure (unmasked), whether anything answered.
struct LoadOutcome {
    latency: Duration,
    failure: Option<String>,
    answered: bool,
}

/// What every slot of a load block shares: the request, its expectations, and the counter that
/// hands out the `requests` sends.
struct LoadJob {
    client: Client,
    prepared: Prepared,
    expect: crate::model::Expect,
    vars: BTreeMap<String, String>,
    ctx: dk_core::Context,
    timeout: Duration,
    deadline: Instant,
    requests: u32,
    next: std::sync::atomic::AtomicU32,
}

impl LoadJob {
    /// One concurrency slot: send and check until the block's requests are handed out.
    async fn slot(self: std::sync::Arc<Self>) -> Vec<LoadOutcome> {
        let mut out = Vec::new();
        while self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < self.requests {
            out.push(self.one().await);
        }
        out
    }

    async fn one(&self) -> LoadOutcome {
        let left = self.deadline.saturating_duration_since(Instant::now());
        let sent = Instant::now();
        match http::send(&self.client, &self.prepared, self.timeout.min(left)).await {
            Ok(r) => {
                let render = |s: &str| render_with(&self.vars, &self.ctx, s);
                let f = assert::evaluate(&self.expect, &r, &render, false);
                LoadOutcome {
                    latency: r.latency,
                    failure: f.into_iter().next(),
                    answered: true,
                }
            }
            Err(e) => LoadOutcome {
                latency: sent.elapsed(),
                failure: Some(e.to_string()),
                answered: false,
            },
        }
    }
}
