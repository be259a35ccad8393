//! Input errors: missing services and clusters, draining services, bad flags (exit 2 without network), `--help`.

use super::*;

/// A missing service fails at once, naming it and the near miss.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_service_fails_fast_naming_it() {
    let env = env().await;
    env.service("prod", "web", true).await;
    let out = env
        .cmd()
        .args(["--cluster", "prod", "--service", "wbe"])
        .run();
    out.assert_code(2).assert_no_panic();
    assert!(
        out.stderr.contains("service wbe not found in cluster prod"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("did you mean `web`?"), "{}", out.stderr);
    assert!(out.elapsed < Duration::from_secs(5), "{:?}", out.elapsed);
}

/// A missing cluster fails at once, naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_cluster_fails_fast_naming_it() {
    let env = env().await;
    let out = env
        .cmd()
        .args(["--cluster", "nowhere", "--service", "web"])
        .run();
    out.assert_code(2).assert_no_panic();
    assert!(
        out.stderr.contains("cluster nowhere not found"),
        "{}",
        out.stderr
    );
    assert!(out.elapsed < Duration::from_secs(5), "{:?}", out.elapsed);
}

/// A deleted (DRAINING) service is refused by name instead of waited for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn draining_service_is_refused() {
    let env = env().await;
    env.service("prod", "web", true).await;
    env.ecs
        .delete_service()
        .cluster("prod")
        .service("web")
        .force(true)
        .send()
        .await
        .unwrap();
    let out = env
        .cmd()
        .args(["--cluster", "prod", "--service", "web"])
        .run();
    assert!(
        out.code == 1 || out.code == 2,
        "code {}: {}",
        out.code,
        out.stderr
    );
    assert!(
        out.stderr.contains("service web in cluster prod is"),
        "{}",
        out.stderr
    );
}

/// Bad flags exit 2 before any network call (the endpoint is a closed port).
#[test]
fn usage_errors_exit_2_without_network() {
    let closed = format!("http://127.0.0.1:{}", test_support::unused_port());
    let cases: &[(&[&str], &str)] = &[
        (&["--cluster", "prod"], "--service"),
        (&["--service", "web"], "needs a cluster"),
        (
            &[
                "--cluster",
                "prod",
                "--service",
                "web",
                "--interval",
                "10ms",
            ],
            "--interval",
        ),
        (
            &["--cluster", "prod", "--service", "web", "--timeout", "soon"],
            "90s",
        ),
        (
            &[
                "--cluster",
                "prod",
                "--service",
                "web",
                "--timeout",
                "2s",
                "--interval",
                "5s",
            ],
            "longer than --timeout",
        ),
        (
            &[
                "--cluster",
                "prod",
                "--service",
                "a",
                "--service",
                "b",
                "--deployment-id",
                "ecs-svc/1",
            ],
            "several services",
        ),
        (
            &[
                "--cluster",
                "prod",
                "--service",
                "web",
                "--deployment-id",
                "42",
            ],
            "not a deployment id",
        ),
        (
            &[
                "--cluster",
                "prod",
                "--service",
                "web",
                "--task-definition",
                "web",
            ],
            "family:revision",
        ),
        (
            &["--cluster", "prod", "--service", "web", "--until", "steady"],
            "stable",
        ),
        (
            &[
                "--cluster",
                "prod",
                "--service",
                "web",
                "--service",
                "prod/web",
            ],
            "given twice",
        ),
    ];
    for (args, needle) in cases {
        let out = Cmd::bin("wait-stable")
            .env("AWS_ENDPOINT_URL_ECS", closed.as_str())
            .env("AWS_REGION", "us-east-1")
            .args(args.iter().copied())
            .run();
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(
            out.stderr.contains(needle),
            "{args:?} should mention {needle}: {}",
            out.stderr
        );
        assert!(
            !out.stderr.contains("cannot reach"),
            "{args:?} touched the network: {}",
            out.stderr
        );
    }
}

/// --help teaches with examples and lists the results and exit codes.
#[test]
fn help_has_examples() {
    let out = Cmd::bin("wait-stable").arg("--help").run();
    out.assert_code(0);
    assert!(out.stdout.contains("Examples:"), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("wait-stable --cluster prod --service web"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("rolled_back"), "{}", out.stdout);
    assert!(out.stdout.contains("Exit codes"), "{}", out.stdout);
    for word in ["rollback_failed", "no_tasks", "--allow-empty"] {
        assert!(out.stdout.contains(word), "{word}: {}", out.stdout);
    }
}
