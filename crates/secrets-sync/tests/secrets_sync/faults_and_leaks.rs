//! AWS throttling is retried, and no value read in a run ever leaves it.

use super::*;

/// Throttling from AWS is retried by the SDK inside the attempts; past them it is exit 3 with a
/// hint, and no value is shown.
#[test]
fn aws_throttling_is_retried() {
    let f = Fx::new();
    let p = unique("thr") + "/";
    let env = f.file("l.env", "A=throttle-value-1\nB=throttle-value-2\n");
    let proxy = aws_proxy::start(&standins().moto, aws_proxy::Fault::Throttle, 3, "");
    let out = f
        .cmd()
        .env("AWS_ENDPOINT_URL", &proxy.url)
        .args(["apply", "--from", &env, "--to", &format!("aws:{p}")])
        .run();
    out.assert_code(0).assert_no_panic();
    assert_eq!(proxy.faulted.load(std::sync::atomic::Ordering::SeqCst), 3);
    assert_eq!(f.value(&format!("{p}A")), "throttle-value-1");

    let proxy = aws_proxy::start(&standins().moto, aws_proxy::Fault::Throttle, 1000, "");
    let out = f
        .cmd()
        .env("AWS_ENDPOINT_URL", &proxy.url)
        .args([
            "apply",
            "--from",
            &env,
            "--to",
            &format!("aws:{p}x/"),
            "--max-attempts",
            "2",
        ])
        .run();
    out.assert_code(3).assert_no_panic();
    assert!(out.stderr.contains("ThrottlingException"), "{}", out.stderr);
    assert!(out.stderr.contains("--max-attempts"), "{}", out.stderr);
    assert_hidden(&out, &["throttle-value"]);
}

/// The canary: one unique value through every command and failure path — plan, apply, re-apply,
/// dry run, rules failure, export to $GITHUB_ENV and to a file, verify, GitHub success and
/// refusal, AWS throttling, and an AWS error that echoes the request body — appears in no
/// stdout, stderr (mask commands aside), output, summary or file except where it belongs.
#[test]
fn canary_never_leaks() {
    let f = Fx::new();
    let canary = format!("canary-{}-zz", unique("v"));
    let p = unique("can") + "/";
    let single = unique("can1");
    let env = f.file(
        "m.env",
        &format!("CANARY={canary}\nOTHER=other-canary-value\n"),
    );
    let rules = f.file(
        "r.yml",
        "keys: { CANARY: { min_length: 400, pattern: \"^x\" } }\n",
    );
    let gh = GithubFake::start(TOKEN);
    gh.add_repo("acme/web");
    let genv = f.dir.path().join("genv");
    std::fs::write(&genv, "").unwrap();
    let out_file = f.dir.path().join("out.env");
    let echo = aws_proxy::start(
        &standins().moto,
        aws_proxy::Fault::EchoBody,
        1000,
        "PutSecretValue",
    );
    let throttle = aws_proxy::start(&standins().moto, aws_proxy::Fault::Throttle, 1000, "");
    let to_p = format!("aws:{p}");
    let to_single = format!("aws:{single}");
    let to_file = format!("dotenv:{}", out_file.display());
    let echo_env = f.file("n.env", &format!("CANARY={canary}-2\n"));
    let cli = |args: &[&str]| -> Vec<String> { args.iter().map(|a| a.to_string()).collect() };
    let runs: Vec<Run> = vec![
        (
            "plan",
            cli(&["plan", "--from", &env, "--to", &to_p]),
            vec![],
        ),
        (
            "apply",
            cli(&["apply", "--from", &env, "--to", &to_p]),
            vec![],
        ),
        (
            "re-apply",
            cli(&["apply", "--from", &env, "--to", &to_p, "--prune"]),
            vec![],
        ),
        (
            "single",
            cli(&["apply", "--from", &env, "--to", &to_single]),
            vec![],
        ),
        (
            "dry-run",
            cli(&["apply", "--from", &env, "--to", &to_p, "--dry-run"]),
            vec![],
        ),
        (
            "rules",
            cli(&["apply", "--from", &env, "--to", &to_p, "--rules", &rules]),
            vec![],
        ),
        (
            "export-env",
            cli(&["export", "--from", &to_single, "--to", "github-env"]),
            vec![("GITHUB_ENV", genv.display().to_string())],
        ),
        (
            "export-file",
            cli(&["export", "--from", &to_p, "--to", &to_file]),
            vec![],
        ),
        (
            "export-missing",
            cli(&[
                "export", "--from", &to_p, "--keys", "NOPE", "--to", &to_file,
            ]),
            vec![],
        ),
        (
            "github",
            cli(&["apply", "--from", &env, "--to", "github:acme/web"]),
            vec![
                ("GITHUB_API_URL", gh.url.clone()),
                ("GITHUB_TOKEN", TOKEN.into()),
            ],
        ),
        (
            "github-401",
            cli(&["apply", "--from", &env, "--to", "github:acme/web"]),
            vec![
                ("GITHUB_API_URL", gh.url.clone()),
                ("GITHUB_TOKEN", "ghp_bad".into()),
            ],
        ),
        (
            "echo-body",
            cli(&["apply", "--from", &echo_env, "--to", &to_p]),
            vec![("AWS_ENDPOINT_URL", echo.url.clone())],
        ),
        (
            "throttled",
            cli(&[
                "apply",
                "--from",
                &env,
                "--to",
                &format!("aws:{p}t/"),
                "--max-attempts",
                "2",
            ]),
            vec![("AWS_ENDPOINT_URL", throttle.url.clone())],
        ),
    ];
    for (what, args, envs) in runs {
        let mut cmd = f.cmd().github_actions().args(args);
        for (k, v) in envs {
            cmd = cmd.env(k, v);
        }
        let out = cmd.run();
        out.assert_no_panic();
        let seen = visible(&out);
        test_support::figures::record(
            "canary",
            serde_json::json!({
                "tool": "secrets-sync",
                "path": what,
                "occurrences": seen.matches(canary.as_str()).count()
                    + seen.matches("other-canary-value").count(),
            }),
        );
        assert!(out.code >= 0, "{what}");
        assert_hidden(&out, &[&canary, "other-canary-value"]);
        eprintln!("canary: {what} exit {}", out.code);
    }
    // $GITHUB_ENV holds the value only on its own line; the exported file holds it (mode 0600).
    let written = std::fs::read_to_string(&genv).unwrap();
    test_support::figures::record(
        "canary",
        serde_json::json!({
            "tool": "secrets-sync",
            "path": "$GITHUB_ENV beyond the value's own line",
            "occurrences": written.lines().filter(|l| l.contains(&canary) && *l != canary).count(),
        }),
    );
    assert_eq!(
        written
            .lines()
            .filter(|l| l.contains(&canary))
            .collect::<Vec<_>>(),
        [canary.as_str()]
    );
    assert!(
        std::fs::read_to_string(&out_file)
            .unwrap()
            .contains(&canary)
    );
    // And the value landed where it was sent.
    assert_eq!(gh.secret("acme/web", None, "CANARY").unwrap().value, canary);
    assert_eq!(f.value(&format!("{p}CANARY")), canary);
}
