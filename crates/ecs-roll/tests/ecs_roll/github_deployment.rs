//! `--github-deployment` against test-support's GitHub REST fake (deployments and statuses as
//! GitHub documents them) and the ECS emulator: the statuses GitHub ends up holding are read back
//! from the fake, the service's state from the emulator.

use test_support::github_fake::{GithubFake, RateLimit};

use super::*;

const TOKEN: &str = "ghs_deploytoken0123456789abcdef";
const SHA: &str = "0123456789abcdef0123456789abcdef01234567";
const REPO: &str = "acme/web";

struct Gh {
    fake: GithubFake,
    /// The production deployment running before the test (latest status success).
    previous: u64,
    /// A staging deployment, also success: never touched by a production release.
    staging: u64,
}

fn github() -> Gh {
    let fake = GithubFake::start(TOKEN);
    fake.add_repo(REPO);
    fake.add_read_only_token("ghs_readonly");
    let staging = fake.add_deployment(REPO, "staging", "aaaa111", &["in_progress", "success"]);
    let previous = fake.add_deployment(REPO, "production", "bbbb222", &["in_progress", "success"]);
    fake.add_deployment(REPO, "production", "cccc333", &["in_progress", "failure"]);
    Gh {
        fake,
        previous,
        staging,
    }
}

impl Env {
    /// A service `web` on app:v1, stable.
    fn web_v1(&self) {
        let v1 = self.register("web", "app:v1");
        self.create_service("web", &v1, 2, breaker(true));
    }

    fn deploy_recorded(&self, gh: &GithubFake, token: &str, image: &str, extra: &[&str]) -> Output {
        self.cmd()
            .env("GITHUB_API_URL", &gh.url)
            .env("GITHUB_SERVER_URL", "https://github.example")
            .env("GITHUB_REPOSITORY", REPO)
            .env("GITHUB_SHA", SHA)
            .env("GITHUB_RUN_ID", "4242")
            .env("GITHUB_TOKEN", token)
            .args(["deploy", "--cluster", "prod", "--service", "web"])
            .args(["--image", &format!("app={image}")])
            .args(["--interval", "200ms", "--output", "json"])
            .args(["--github-deployment", "production"])
            .args(extra.iter().copied())
            .github_actions()
            .run()
    }
}

/// The production deployment that ran before is `inactive` now (replaced); staging's is untouched.
fn assert_previous_replaced(gh: &Gh) {
    let all = gh.fake.deployments(REPO);
    let state_of = |id| all.iter().find(|d| d.id == id).unwrap().states();
    assert_eq!(
        state_of(gh.previous),
        ["in_progress", "success", "inactive"]
    );
    assert_eq!(state_of(gh.staging), ["in_progress", "success"]);
}

/// The token never appears: not in stdout, stderr (the mask command aside), outputs or summary.
fn assert_token_hidden(out: &Output, token: &str) {
    let stderr: String = out
        .stderr
        .lines()
        .filter(|l| !l.starts_with("::add-mask::"))
        .collect();
    for (what, text) in [
        ("stdout", out.stdout.as_str()),
        ("stderr", stderr.as_str()),
        ("summary", out.summary.as_str()),
    ] {
        assert!(!text.contains(token), "token in {what}:\n{text}");
    }
    assert!(
        !out.outputs.values().any(|v| v.contains(token)),
        "token in outputs"
    );
}

fn ours(gh: &GithubFake) -> test_support::github_fake::FakeDeployment {
    gh.deployments(REPO)
        .into_iter()
        .find(|d| d.sha == SHA)
        .expect("no deployment of GITHUB_SHA was created")
}

/// A release that goes out: the deployment of GITHUB_SHA goes in_progress → success with the
/// run's log URL and the environment URL; the production deployment it replaced becomes
/// inactive (GitHub's auto_inactive would not touch a production environment); staging is left
/// alone; the token is masked and never printed.
#[test]
fn successful_release_is_recorded_and_replaces_the_previous() {
    let e = env();
    e.web_v1();
    let gh = github();
    let out = e.deploy_recorded(
        &gh.fake,
        TOKEN,
        "app:v2",
        &["--environment-url", "https://www.example.com"],
    );
    out.assert_code(0).assert_no_panic();
    let d = ours(&gh.fake);
    assert_eq!(d.environment, "production");
    assert_eq!(d.states(), ["in_progress", "success"], "{}", out.stderr);
    for s in &d.statuses {
        assert_eq!(
            s.log_url,
            "https://github.example/acme/web/actions/runs/4242"
        );
        assert_eq!(s.environment_url, "https://www.example.com");
    }
    assert_eq!(out.output("github_deployment_id"), d.id.to_string());
    assert_previous_replaced(&gh);
    assert!(
        out.stderr.contains(&format!("::add-mask::{TOKEN}")),
        "{}",
        out.stderr
    );
    assert_token_hidden(&out, TOKEN);
    assert!(short(&e.primary("web").1).starts_with("web:2"));
}

/// A release rolled back is a failure on GitHub; the deployment it would have replaced is still
/// what runs, so it stays success.
#[test]
fn rolled_back_release_is_a_failure() {
    let e = env();
    e.web_v1();
    let gh = github();
    let out = e.deploy_recorded(&gh.fake, TOKEN, "app:crash", &["--timeout", "2m"]);
    out.assert_code(1).assert_no_panic();
    assert_eq!(out.json()["result"], "rolled_back");
    let d = ours(&gh.fake);
    assert_eq!(d.states(), ["in_progress", "failure"]);
    assert!(
        d.statuses[1]
            .description
            .starts_with("ecs-roll: rolled_back"),
        "{:?}",
        d.statuses[1]
    );
    let prev = gh.fake.deployments(REPO);
    let prev = prev.iter().find(|d| d.id == gh.previous).unwrap();
    assert_eq!(prev.states(), ["in_progress", "success"]);
    assert_token_hidden(&out, TOKEN);
}

/// GitHub refusing the create — 401, 403 (no `deployments: write`), 404, 422 (a commit GitHub
/// does not have) — stops the release with exit 3 before any ECS change: no revision registered,
/// the service still on v1. The 403 names the permission; no token is printed.
#[test]
fn refused_create_touches_no_service() {
    let e = env();
    e.web_v1();
    let gh = github();
    gh.fake.add_repo("acme/other");
    gh.fake
        .add_commit("acme/other", "ffffffffffffffffffffffffffffffffffffffff");
    let cases: [(&str, &str, &str, &str); 4] = [
        (REPO, "ghs_wrong", "401 Bad credentials", "GITHUB_TOKEN"),
        (
            REPO,
            "ghs_readonly",
            "403 Resource not accessible by integration",
            "deployments: write",
        ),
        ("acme/nope", TOKEN, "404 Not Found", "GITHUB_REPOSITORY"),
        ("acme/other", TOKEN, "422 No ref found for", "GITHUB_SHA"),
    ];
    for (repo, token, answer, fix) in cases {
        let out = e
            .cmd()
            .env("GITHUB_API_URL", &gh.fake.url)
            .env("GITHUB_REPOSITORY", repo)
            .env("GITHUB_SHA", SHA)
            .env("GITHUB_TOKEN", token)
            .args(["deploy", "--cluster", "prod", "--service", "web"])
            .args(["--image", "app=app:v2", "--github-deployment", "production"])
            .github_actions()
            .run();
        out.assert_code(3).assert_no_panic();
        assert!(out.stderr.contains(answer), "{answer}: {}", out.stderr);
        assert!(out.stderr.contains(fix), "{fix}: {}", out.stderr);
        assert!(
            out.stderr.contains("no service was touched"),
            "{}",
            out.stderr
        );
        assert_token_hidden(&out, token);
    }
    assert_eq!(e.revisions("web").len(), 1, "a revision was registered");
    assert!(short(&e.primary("web").1).starts_with("web:1"));
}

/// Missing run context or token is exit 2 before any call, to GitHub or ECS; a dry run records
/// nothing on GitHub.
#[test]
fn bad_input_and_dry_run_call_no_github() {
    let e = env();
    e.web_v1();
    let gh = github();
    let base = || {
        e.cmd()
            .env("GITHUB_API_URL", &gh.fake.url)
            .args(["deploy", "--cluster", "prod", "--service", "web"])
            .args(["--image", "app=app:v2", "--github-deployment", "production"])
    };
    let no_sha = base()
        .env("GITHUB_REPOSITORY", REPO)
        .env("GITHUB_TOKEN", TOKEN)
        .run();
    no_sha.assert_code(2);
    assert!(no_sha.stderr.contains("GITHUB_SHA"), "{}", no_sha.stderr);
    let no_token = base()
        .env("GITHUB_REPOSITORY", REPO)
        .env("GITHUB_SHA", SHA)
        .run();
    no_token.assert_code(2);
    assert!(
        no_token.stderr.contains("--github-token"),
        "{}",
        no_token.stderr
    );
    let plain_http = base()
        .env("GITHUB_API_URL", "http://api.example.com")
        .env("GITHUB_REPOSITORY", REPO)
        .env("GITHUB_SHA", SHA)
        .env("GITHUB_TOKEN", TOKEN)
        .run();
    plain_http.assert_code(2);
    let dry = base()
        .env("GITHUB_REPOSITORY", REPO)
        .env("GITHUB_SHA", SHA)
        .env("GITHUB_TOKEN", TOKEN)
        .arg("--dry-run")
        .run();
    dry.assert_code(0);
    assert!(gh.fake.requests().is_empty(), "{:?}", gh.fake.requests());
}

/// A status update GitHub refuses after the roll is a warning annotation; the release stays
/// succeeded (exit 0).
#[test]
fn failed_status_update_never_changes_the_verdict() {
    let e = env();
    e.web_v1();
    let gh = github();
    gh.fake.fail_next_at("POST", "/statuses", 403, 20);
    let out = e.deploy_recorded(&gh.fake, TOKEN, "app:v2", &[]);
    out.assert_code(0).assert_no_panic();
    assert_eq!(out.json()["result"], "succeeded");
    assert!(ours(&gh.fake).states().is_empty());
    assert!(
        out.stderr.contains("::warning")
            && out.stderr.contains("could not post `success`")
            && out.stderr.contains("release's result is unchanged"),
        "{}",
        out.stderr
    );
    assert_token_hidden(&out, TOKEN);
}

/// Secondary rate limits as GitHub documents them — 403 with retry-after, 429 with
/// x-ratelimit-remaining 0 and x-ratelimit-reset — are waited out and retried; one asking for
/// longer than the call's budget is given up at once (exit 3), not waited for.
#[test]
fn rate_limits_are_waited_out_inside_the_deadline() {
    let e = env();
    e.web_v1();
    let gh = github();
    gh.fake
        .rate_limit_next(Some("POST"), 403, RateLimit::RetryAfter(1), 1);
    gh.fake
        .rate_limit_next(Some("POST"), 429, RateLimit::ResetIn(1), 1);
    let out = e.deploy_recorded(&gh.fake, TOKEN, "app:v2", &[]);
    out.assert_code(0).assert_no_panic();
    assert_eq!(ours(&gh.fake).states(), ["in_progress", "success"]);
    let creates: Vec<_> = gh
        .fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/deployments"))
        .collect();
    assert_eq!(creates.len(), 3, "two limited, then created");
    let gap = creates[1].at - creates[0].at;
    assert!(
        gap >= Duration::from_secs(1),
        "retry-after not honoured: {gap:?}"
    );
    assert!(out.stderr.contains("trying again in"), "{}", out.stderr);

    gh.fake
        .rate_limit_next(Some("POST"), 403, RateLimit::RetryAfter(3600), 1);
    let out = e.deploy_recorded(&gh.fake, TOKEN, "app:v3", &[]);
    out.assert_code(3).assert_no_panic();
    assert!(out.elapsed < Duration::from_secs(20), "{:?}", out.elapsed);
    assert!(
        out.stderr.contains("secondary rate limit"),
        "{}",
        out.stderr
    );
    assert!(short(&e.primary("web").1).starts_with("web:2"));
}

/// `rollback --github-deployment`: the rollback is recorded as a deployment of GITHUB_SHA whose
/// task is `rollback`, in_progress → success, and the deployment that was running is marked
/// inactive; a refused create changes no service; the token is never shown.
#[test]
fn rollback_is_recorded_as_a_rollback_deployment() {
    let e = env();
    e.web_v1();
    e.deploy(&["--service", "web", "--image", "app=app:v2"])
        .assert_code(0);
    let gh = github();
    let recorded = |token: &str| {
        e.cmd()
            .env("GITHUB_API_URL", &gh.fake.url)
            .env("GITHUB_SERVER_URL", "https://github.example")
            .env("GITHUB_REPOSITORY", REPO)
            .env("GITHUB_SHA", SHA)
            .env("GITHUB_RUN_ID", "4242")
            .env("GITHUB_TOKEN", token)
            .args(["rollback", "--service", "prod/web", "--interval", "200ms"])
            .args(["--output", "json", "--github-deployment", "production"])
            .github_actions()
            .run()
    };
    let refused = recorded("ghs_readonly");
    refused.assert_code(3).assert_no_panic();
    assert_eq!(short(&e.primary("web").1), "web:2", "nothing rolled back");

    let out = recorded(TOKEN);
    out.assert_code(0).assert_no_panic();
    assert_eq!(short(&e.primary("web").1), "web:1", "{}", out.stderr);
    let d = ours(&gh.fake);
    assert_eq!(d.task, "rollback");
    assert_eq!(d.environment, "production");
    assert_eq!(d.states(), ["in_progress", "success"], "{}", out.stderr);
    assert_eq!(
        d.statuses[0].log_url,
        "https://github.example/acme/web/actions/runs/4242"
    );
    assert_eq!(out.output("github_deployment_id"), d.id.to_string());
    assert_previous_replaced(&gh);
    assert_token_hidden(&out, TOKEN);
}
