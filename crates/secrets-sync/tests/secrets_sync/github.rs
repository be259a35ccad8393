//! GitHub targets through the REST fake: repository and environment secrets, error answers.

use super::*;
use std::time::Duration;
use test_support::github_fake::RateLimit;

fn github_cmd(f: &Fx, gh: &GithubFake) -> Cmd {
    f.cmd()
        .env("GITHUB_API_URL", &gh.url)
        .env("GITHUB_TOKEN", TOKEN)
}

/// Repository and environment secrets: public key fetched, values sealed, PUT — the fake opens
/// every box, so the stored value is checked; present keys plan as `unknown`.
#[test]
fn github_repo_and_environment_secrets() {
    let f = Fx::new();
    let gh = GithubFake::start(TOKEN);
    gh.add_repo("acme/web");
    gh.add_environment("acme/web", "production");
    gh.put_secret("acme/web", None, "OLD", "old-github-value");
    let env = f.file(
        "h.env",
        "db_url=postgres://gh-8877@db\nOLD=new-github-value\n",
    );
    let out = github_cmd(&f, &gh)
        .args([
            "plan",
            "--from",
            &env,
            "--to",
            "github:acme/web",
            "--output",
            "json",
        ])
        .run();
    out.assert_code(0);
    assert_eq!(
        changes(&out),
        map(&[("DB_URL", "added"), ("OLD", "unknown")])
    );
    assert_eq!(
        gh.secret("acme/web", None, "OLD").unwrap().value,
        "old-github-value"
    );

    let out = github_cmd(&f, &gh)
        .github_actions()
        .args(["apply", "--from", &env, "--to", "github:acme/web"])
        .run();
    out.assert_code(0).assert_no_panic();
    assert_eq!(
        gh.secret("acme/web", None, "DB_URL").unwrap().value,
        "postgres://gh-8877@db"
    );
    assert_eq!(
        gh.secret("acme/web", None, "OLD").unwrap().value,
        "new-github-value"
    );
    assert_hidden(&out, &["gh-8877", "new-github-value", TOKEN]);
    for r in gh.requests() {
        assert!(
            !r.body.contains("gh-8877"),
            "a value went over the wire unsealed: {}",
            r.body
        );
    }

    github_cmd(&f, &gh)
        .args([
            "apply",
            "--from",
            &env,
            "--to",
            "github:acme/web:production",
        ])
        .run()
        .assert_code(0);
    assert_eq!(
        gh.secret_names("acme/web", Some("production")),
        ["DB_URL", "OLD"]
    );
    assert_eq!(
        gh.secret("acme/web", Some("production"), "DB_URL")
            .unwrap()
            .value,
        "postgres://gh-8877@db"
    );
    // Names GitHub refuses are caught before any call.
    let bad = f.file("i.env", "GITHUB_X=1\n");
    github_cmd(&f, &gh)
        .args(["apply", "--from", &bad, "--to", "github:acme/web"])
        .run()
        .assert_code(2);
}

/// GitHub's error answers: 401 bad token, 403 no permission, 404 unknown repository or
/// environment → exit 3 with the fix; 422 → exit 1; a 5xx is retried. No value in any of them.
#[test]
fn github_error_answers() {
    let f = Fx::new();
    let gh = GithubFake::start(TOKEN);
    gh.add_repo("acme/web");
    gh.add_read_only_token("ghp_readonly");
    let env = f.file("j.env", "API_KEY=gh-error-5566\n");
    let run = |to: &str, token: &str| {
        f.cmd()
            .env("GITHUB_API_URL", &gh.url)
            .env("GITHUB_TOKEN", token)
            .github_actions()
            .args(["apply", "--from", &env, "--to", to])
            .run()
    };
    let cases: Vec<(&str, &str, i32, &str)> = vec![
        ("github:acme/web", "ghp_wrong", 3, "401 Bad credentials"),
        (
            "github:acme/web",
            "ghp_readonly",
            3,
            "403 Resource not accessible",
        ),
        ("github:acme/nope", TOKEN, 3, "404 Not Found"),
        ("github:acme/web:staging", TOKEN, 3, "404 Not Found"),
    ];
    for (to, token, code, want) in cases {
        let out = run(to, token);
        out.assert_code(code).assert_no_panic();
        assert!(out.stderr.contains(want), "{to} {token}: {}", out.stderr);
        assert!(out.stderr.contains("hint:"), "{}", out.stderr);
        assert_hidden(&out, &["gh-error-5566", "ghp_readonly", "ghp_wrong"]);
    }
    // 422 on the PUT (the list and the public key pass): GitHub refused the secret → exit 1.
    gh.fail_next_on("PUT", 422, 1);
    let out = run("github:acme/web", TOKEN);
    out.assert_code(1);
    assert!(
        out.stderr.contains("422 Validation Failed"),
        "{}",
        out.stderr
    );
    assert_hidden(&out, &["gh-error-5566"]);
    assert!(gh.secret("acme/web", None, "API_KEY").is_none());
    // A 502 is retried, and the write lands.
    gh.fail_next_on("PUT", 502, 1);
    run("github:acme/web", TOKEN).assert_code(0);
    assert_eq!(
        gh.secret("acme/web", None, "API_KEY").unwrap().value,
        "gh-error-5566"
    );
}

/// GitHub's rate limits are waited out as GitHub asks (core's `github::call`): a 403 secondary
/// limit with `retry-after: 2` is retried no sooner than 2 s later, and the write lands; the
/// wait is said on stderr.
#[test]
fn github_rate_limit_waits_as_long_as_retry_after_says() {
    let f = Fx::new();
    let gh = GithubFake::start(TOKEN);
    gh.add_repo("acme/web");
    let env = f.file("r.env", "API_KEY=gh-limited-4411\n");
    gh.rate_limit_next(Some("PUT"), 403, RateLimit::RetryAfter(2), 1);
    let out = github_cmd(&f, &gh)
        .args(["apply", "--from", &env, "--to", "github:acme/web"])
        .run();
    out.assert_code(0).assert_no_panic();
    assert_eq!(
        gh.secret("acme/web", None, "API_KEY").unwrap().value,
        "gh-limited-4411"
    );
    let puts: Vec<_> = gh
        .requests()
        .into_iter()
        .filter(|r| r.method == "PUT")
        .collect();
    assert_eq!(puts.len(), 2, "one limited, then written");
    let gap = puts[1].at - puts[0].at;
    assert!(
        gap >= Duration::from_secs(2),
        "retry-after not honoured: {gap:?}"
    );
    assert!(out.stderr.contains("trying again in"), "{}", out.stderr);
    assert_hidden(&out, &["gh-limited-4411"]);
}
