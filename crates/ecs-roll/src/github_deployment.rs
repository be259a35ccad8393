//! `ecs-roll deploy --github-deployment ENVIRONMENT`: the release recorded as a GitHub deployment
//! (docs.github.com/rest/deployments), so the repository's Environments page, the pull request and
//! the commit show what runs where, with a link to the run's log.
//!
//! 1. **Before anything is touched**, a deployment of `GITHUB_SHA` to ENVIRONMENT is created
//!    (`required_contexts: []`: the workflow already gated the commit; `auto_merge: false`). A
//!    refusal here — bad token, no `deployments: write`, unknown repository, a commit GitHub does
//!    not have — stops the release with exit 3 before any ECS call: a team that asked for a
//!    deployment record gets one or no release.
//! 2. The deployment it replaces is the newest other deployment of ENVIRONMENT whose latest
//!    status is `success`. Then `in_progress`, with the log URL
//!    (`GITHUB_SERVER_URL/GITHUB_REPOSITORY/actions/runs/GITHUB_RUN_ID`) and `--environment-url`.
//! 3. After the release: `success`; `failure` for any release that did not go out (rolled back,
//!    failed, timed out — the previous revision is what runs); `error` when ecs-roll itself could
//!    not finish. On success the replaced deployment is marked `inactive` explicitly: GitHub's
//!    `auto_inactive` only covers non-production environments, and it is turned off here so a
//!    rolled-back release never makes the deployment still running look inactive.
//!
//! Status updates are best effort: once the release has run, a failed update is a warning
//! annotation and never changes the release's verdict or exit code. Every call retries rate
//! limits (waiting as long as GitHub asks), 5xx and network errors inside [`CALL_BUDGET`].

use std::time::Duration;

use clap::Args;
use dk_core::github::{self, ApiError, Octocrab};
use dk_core::poll::Deadline;
use dk_core::retry::Backoff;
use dk_core::{Context, Error, Outcome, Result, Secret, Status, Ui, env_vars as ev};
use serde::Deserialize;
use serde_json::json;

/// How long one GitHub call may take, its retries and rate-limit waits included.
pub const CALL_BUDGET: Duration = Duration::from_secs(120);
/// GitHub's limit on a status description.
const MAX_DESCRIPTION: usize = 140;

#[derive(Debug, Clone, Default, Args)]
pub struct GithubDeploymentArgs {
    /// Record the release as a GitHub deployment to this environment (needs GITHUB_REPOSITORY,
    /// GITHUB_SHA and a token with `deployments: write`): created before any service is touched,
    /// then in_progress, success or failure, and the deployment it replaced marked inactive
    #[arg(long, value_name = "ENVIRONMENT", help_heading = "GitHub deployment")]
    pub github_deployment: Option<String>,
    /// The URL the environment serves, shown on the deployment
    #[arg(
        long,
        value_name = "URL",
        requires = "github_deployment",
        help_heading = "GitHub deployment"
    )]
    pub environment_url: Option<String>,
    /// GitHub token [default: GITHUB_TOKEN]; the API is GITHUB_API_URL [default:
    /// https://api.github.com]
    #[arg(
        long,
        value_name = "TOKEN",
        requires = "github_deployment",
        help_heading = "GitHub deployment"
    )]
    pub github_token: Option<String>,
}

/// What the GitHub deployment records: a release, or a rollback to an earlier revision (a
/// deployment whose `task` is `rollback`; on success it replaces the release that was running,
/// as a release does).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Deploy,
    Rollback,
}

impl Kind {
    fn task(self) -> &'static str {
        match self {
            Kind::Deploy => "deploy",
            Kind::Rollback => "rollback",
        }
    }

    fn doing(self) -> &'static str {
        match self {
            Kind::Deploy => "deploying",
            Kind::Rollback => "rolling back",
        }
    }
}

/// What the flags and the run's environment resolve to.
struct Target {
    environment: String,
    repository: String,
    sha: String,
    log_url: Option<String>,
    environment_url: Option<String>,
}

impl GithubDeploymentArgs {
    /// Every check that needs no network (exit 2).
    pub fn validate(&self, ctx: &Context) -> Result<()> {
        if self.github_deployment.is_some() {
            self.target(ctx)?;
            self.token(ctx)?;
            dk_core::aws::check_endpoint("GITHUB_API_URL", &github::api_url(ctx))?;
        }
        Ok(())
    }

    fn token(&self, ctx: &Context) -> Result<Secret<String>> {
        self.github_token
            .clone()
            .or_else(|| ctx.var(ev::GITHUB_TOKEN).map(str::to_owned))
            .map(Secret::new)
            .ok_or_else(|| {
                Error::usage("--github-deployment needs a GitHub token").with_hint(
                    "set GITHUB_TOKEN (in a workflow: `env: GITHUB_TOKEN: ${{ github.token }}` with \
                     `permissions: deployments: write`) or pass --github-token",
                )
            })
    }

    fn target(&self, ctx: &Context) -> Result<Target> {
        let environment = self.github_deployment.clone().unwrap_or_default();
        if environment.trim().is_empty()
            || environment.len() > 255
            || environment.chars().any(char::is_control)
        {
            return Err(Error::usage(format!(
                "--github-deployment `{environment}` is not an environment name"
            ))
            .with_hint("use the environment's name, e.g. --github-deployment production"));
        }
        let repository = ctx
            .var(ev::GITHUB_REPOSITORY)
            .filter(|r| {
                r.split_once('/')
                    .is_some_and(|(o, n)| !o.is_empty() && !n.is_empty() && !n.contains('/'))
            })
            .ok_or_else(|| {
                Error::usage("--github-deployment needs GITHUB_REPOSITORY (OWNER/REPO)").with_hint(
                    "GitHub Actions sets it; elsewhere export GITHUB_REPOSITORY=OWNER/REPO",
                )
            })?
            .to_string();
        let sha = ctx
            .var(ev::GITHUB_SHA)
            .filter(|s| s.len() >= 7 && s.chars().all(|c| c.is_ascii_hexdigit()))
            .ok_or_else(|| {
                Error::usage("--github-deployment needs GITHUB_SHA, the commit being released")
                    .with_hint(
                        "GitHub Actions sets it; elsewhere export GITHUB_SHA=$(git rev-parse HEAD)",
                    )
            })?
            .to_string();
        if let Some(url) = &self.environment_url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            return Err(
                Error::usage(format!("--environment-url `{url}` is not an http(s) URL"))
                    .with_hint("e.g. --environment-url https://staging.example.com"),
            );
        }
        let log_url = ctx.var(ev::GITHUB_RUN_ID).map(|run| {
            format!(
                "{}/{repository}/actions/runs/{run}",
                github::server_url(ctx)
            )
        });
        Ok(Target {
            environment,
            repository,
            sha,
            log_url,
            environment_url: self.environment_url.clone(),
        })
    }
}

/// A GitHub deployment in progress.
pub struct Tracker {
    crab: Octocrab,
    target: Target,
    kind: Kind,
    id: u64,
    replaced: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct Created {
    id: Option<u64>,
    message: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Listed {
    id: u64,
}

#[derive(Debug, Deserialize)]
struct StatusState {
    state: String,
}

/// Create the deployment and post `in_progress`; `None` without `--github-deployment` or on a
/// dry run. An error here is exit 3 and nothing has been touched.
pub async fn begin(
    ui: &Ui,
    args: &GithubDeploymentArgs,
    dry_run: bool,
    kind: Kind,
) -> Result<Option<Tracker>> {
    if args.github_deployment.is_none() {
        return Ok(None);
    }
    let ctx = ui.context();
    let target = args.target(ctx)?;
    if dry_run {
        ui.info(&format!(
            "would record a GitHub {} deployment of {} to {} in {}",
            kind.task(),
            short_sha(&target.sha),
            target.environment,
            target.repository
        ));
        return Ok(None);
    }
    let token = args.token(ctx)?;
    ui.mask(&token);
    let crab = github::client(&github::api_url(ctx), &token)?;
    let id = create(&crab, ui, &target, kind).await?;
    let mut tracker = Tracker {
        crab,
        target,
        kind,
        id,
        replaced: None,
    };
    tracker.replaced = tracker.find_replaced(ui).await;
    let doing = format!("ecs-roll: {}", kind.doing());
    tracker.post(ui, "in_progress", &doing).await;
    ui.info(&format!(
        "GitHub deployment {id}{} of {} to {}: in_progress{}",
        match kind {
            Kind::Deploy => "",
            Kind::Rollback => " (a rollback)",
        },
        short_sha(&tracker.target.sha),
        tracker.target.environment,
        tracker
            .replaced
            .map(|r| format!(" (replaces deployment {r})"))
            .unwrap_or_default()
    ));
    Ok(Some(tracker))
}

/// Post the release's final state (and `inactive` on the replaced deployment after a success).
/// The release's result is returned as it was, with `github_deployment_id` added.
pub async fn finish(tracker: Option<Tracker>, ui: &Ui, result: Result<Outcome>) -> Result<Outcome> {
    let Some(t) = tracker else {
        return result;
    };
    let (state, description) = final_state(&result);
    t.post(ui, state, &description).await;
    if state == "success"
        && let Some(old) = t.replaced
    {
        let why = match t.kind {
            Kind::Deploy => "ecs-roll: replaced by a newer release",
            Kind::Rollback => "ecs-roll: rolled back",
        };
        t.post_to(ui, old, "inactive", why).await;
    }
    result.map(|o| o.output("github_deployment_id", t.id.to_string()))
}

/// The deployment state for a release's result, and its description (≤ 140 characters).
fn final_state(result: &Result<Outcome>) -> (&'static str, String) {
    let (state, text) = match result {
        Ok(o) if o.status == Status::Succeeded => ("success", format!("ecs-roll: {}", o.result)),
        Ok(o) => ("failure", format!("ecs-roll: {}: {}", o.result, o.message)),
        Err(e) => ("error", format!("ecs-roll: {}", e.message())),
    };
    (state, truncate(&text, MAX_DESCRIPTION))
}

fn truncate(text: &str, max: usize) -> String {
    let one_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if one_line.chars().count() <= max {
        return one_line;
    }
    let mut out: String = one_line.chars().take(max - 1).collect();
    out.push('…');
    out
}

fn short_sha(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

fn backoff() -> Backoff {
    Backoff {
        base: Duration::from_millis(500),
        max: Duration::from_secs(10),
        max_attempts: 5,
    }
}

fn on_wait(ui: &Ui, doing: &str) -> impl FnMut(&ApiError, Duration) {
    move |e, wait| {
        ui.info(&format!(
            "GitHub: {doing}: {}; trying again in {:.1} s",
            e.describe(),
            wait.as_secs_f64()
        ))
    }
}

/// POST the deployment. Refusals are exit 3 with the fix named.
async fn create(crab: &Octocrab, ui: &Ui, t: &Target, kind: Kind) -> Result<u64> {
    let route = format!("/repos/{}/deployments", t.repository);
    let body = json!({
        "ref": t.sha,
        "environment": t.environment,
        "task": kind.task(),
        "auto_merge": false,
        "required_contexts": [],
        "description": format!("ecs-roll {}", kind.task()),
    });
    let deadline = Deadline::after(CALL_BUDGET);
    let created: Created = github::call(
        &deadline,
        backoff(),
        on_wait(ui, "create the deployment"),
        || crab.post(&route, Some(&body)),
    )
    .await
    .map_err(|e| create_error(&e, t))?;
    created.id.ok_or_else(|| {
        Error::runtime(format!(
            "GitHub did not create the deployment: {}",
            dk_core::untrusted::neutralise_capped(
                created.message.as_deref().unwrap_or("no id in the answer"),
                300
            )
        ))
    })
}

/// The exit-3 error for a refused create, naming what to fix.
fn create_error(e: &ApiError, t: &Target) -> Error {
    let base = format!(
        "GitHub refused to create a deployment of {} to `{}` in {}: {}; no service was touched",
        short_sha(&t.sha),
        t.environment,
        t.repository,
        e.describe()
    );
    let hint = match e.status {
        Some(401) => "the token was refused: check GITHUB_TOKEN or --github-token",
        Some(403) if e.rate_limited.is_some() => {
            "GitHub's rate limit outlasted the wait allowed; run again later"
        }
        Some(403) => {
            "the token lacks the `deployments: write` permission: add `permissions: { deployments: write }` to the job (a fine-grained token needs Deployments: read and write; a classic one `repo_deployment`)"
        }
        Some(404) => {
            "check GITHUB_REPOSITORY; GitHub also answers 404 when the token cannot see the repository"
        }
        Some(409) | Some(422) => {
            "GitHub refused the deployment: GITHUB_SHA must be a commit pushed to GITHUB_REPOSITORY, and the environment name valid"
        }
        _ => "check GITHUB_API_URL and the network, or run again",
    };
    Error::runtime(base).with_hint(hint)
}

impl Tracker {
    /// The newest other deployment of the environment whose latest status is `success`. Unreadable:
    /// a warning and none (nothing will be marked inactive).
    async fn find_replaced(&self, ui: &Ui) -> Option<u64> {
        let repo = &self.target.repository;
        let route = format!("/repos/{repo}/deployments");
        let query = [
            ("environment", self.target.environment.as_str()),
            ("per_page", "20"),
        ];
        let deadline = Deadline::after(CALL_BUDGET);
        let listed: Vec<Listed> = match github::call(
            &deadline,
            backoff(),
            on_wait(ui, "list deployments"),
            || self.crab.get(&route, Some(&query)),
        )
        .await
        {
            Ok(l) => l,
            Err(e) => {
                ui.warn(&format!(
                    "GitHub: cannot list the deployments of {}: {}; the one replaced will not be marked inactive",
                    self.target.environment,
                    e.describe()
                ));
                return None;
            }
        };
        for d in listed.iter().filter(|d| d.id != self.id) {
            let route = format!("/repos/{repo}/deployments/{}/statuses", d.id);
            let latest: Vec<StatusState> = github::call(
                &deadline,
                backoff(),
                on_wait(ui, "read deployment statuses"),
                || self.crab.get(&route, Some(&[("per_page", "1")])),
            )
            .await
            .ok()?;
            if latest.first().is_some_and(|s| s.state == "success") {
                return Some(d.id);
            }
        }
        None
    }

    async fn post(&self, ui: &Ui, state: &str, description: &str) {
        self.post_to(ui, self.id, state, description).await;
    }

    /// POST a status; a failure is a warning annotation, never the release's verdict.
    async fn post_to(&self, ui: &Ui, id: u64, state: &str, description: &str) {
        let t = &self.target;
        let route = format!("/repos/{}/deployments/{id}/statuses", t.repository);
        let mut body = json!({
            "state": state,
            "description": truncate(description, MAX_DESCRIPTION),
            "auto_inactive": false,
        });
        if let Some(log) = &t.log_url {
            body["log_url"] = log.clone().into();
        }
        if let Some(url) = &t.environment_url
            && state != "inactive"
        {
            body["environment_url"] = url.clone().into();
        }
        let deadline = Deadline::after(CALL_BUDGET);
        let posted: std::result::Result<serde_json::Value, ApiError> = github::call(
            &deadline,
            backoff(),
            on_wait(ui, &format!("post `{state}`")),
            || self.crab.post(&route, Some(&body)),
        )
        .await;
        if let Err(e) = posted {
            ui.warn(&format!(
                "GitHub deployment {id}: could not post `{state}`: {} (the release's result is unchanged)",
                e.describe()
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A release's result decides the deployment's state: only a release that went out is
    /// success; a rollback is failure; ecs-roll breaking is error.
    #[test]
    fn final_states() {
        let cases = [
            (Ok(Outcome::succeeded("succeeded", "ok")), "success"),
            (Ok(Outcome::succeeded("unchanged", "ok")), "success"),
            (Ok(Outcome::failed("rolled_back", "crash")), "failure"),
            (Ok(Outcome::failed("rollback_failed", "x")), "failure"),
            (Ok(Outcome::timed_out("timed_out", "x")), "failure"),
            (Err(Error::runtime("ECS unreachable")), "error"),
        ];
        for (result, want) in cases {
            assert_eq!(final_state(&result).0, want);
        }
        let long = Ok(Outcome::failed("rolled_back", "é".repeat(300)));
        let (_, d) = final_state(&long);
        assert_eq!(d.chars().count(), MAX_DESCRIPTION);
    }

    /// Missing run context is a usage error naming what to set; a present one resolves the log
    /// URL from GITHUB_SERVER_URL.
    #[test]
    fn target_from_context() {
        let args = GithubDeploymentArgs {
            github_deployment: Some("staging".into()),
            ..Default::default()
        };
        let err = args.target(&Context::default()).err().unwrap();
        assert!(err.message().contains("GITHUB_REPOSITORY"), "{err}");
        let ctx = Context::from_map(
            [
                ("GITHUB_REPOSITORY", "acme/web"),
                ("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567"),
                ("GITHUB_RUN_ID", "77"),
                ("GITHUB_SERVER_URL", "https://ghe.example/"),
            ],
            false,
        );
        let t = args.target(&ctx).unwrap();
        assert_eq!(
            t.log_url.as_deref(),
            Some("https://ghe.example/acme/web/actions/runs/77")
        );
        assert!(args.token(&ctx).is_err());
        let bad = GithubDeploymentArgs {
            github_deployment: Some("x".into()),
            environment_url: Some("ftp://x".into()),
            ..Default::default()
        };
        assert!(bad.target(&ctx).is_err());
    }
}
