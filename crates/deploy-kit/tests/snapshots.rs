//! Snapshots of what each tool prints, because the CI log is part of the product: exit code,
//! stdout and stderr of representative runs, recorded with insta under `tests/snapshots/`.
//! ARNs, deployment ids, ports, clock times and durations are filtered so that a snapshot only
//! changes when the wording or the behaviour does.
//!
//! Review a change with `cargo insta review` (or `INSTA_UPDATE=always` and read the diff); never
//! commit a pending `.snap.new`. Cases that need a stand-in (the registry, the ECS emulator) run
//! against the one `scripts/test` starts or an in-process emulator, as the other tests do.

use std::time::Duration;

use aws_sdk_ecs::types::DeploymentConfiguration;
use ecs_emulator::{Config, RunningEmulator, Scenario};
use test_support::ecs::{CLUSTER, Container, EcsFixture, create_service, register};
use test_support::world::wait_settled;
use test_support::{Cmd, Output};

mod common;
use common::aws::{DEPLOY_PROD_WEB, WAIT_STABLE_PROD_WEB, with};
use common::tiny_layout;

/// One run as a snapshot: the command line, the exit code, then stdout and stderr.
fn render(args: &[&str], out: &Output) -> String {
    format!(
        "$ deploy-kit {}\nexit: {}\n--- stdout\n{}--- stderr\n{}",
        args.join(" "),
        out.code,
        out.stdout,
        out.stderr
    )
}

/// Replace what differs between runs and machines with a fixed word.
fn filters() -> Vec<(&'static str, &'static str)> {
    vec![
        (r"arn:aws:[A-Za-z0-9:/_.\-]+", "[ARN]"),
        (r"ecs-svc/[0-9]+", "ecs-svc/[ID]"),
        (r"127\.0\.0\.1:[0-9]+", "127.0.0.1:[PORT]"),
        (r"\b[0-9a-f]{32}\b", "[TASK_ID]"),
        // ecr-push's "…MiB streamed" ticks come every 3 s of a transfer: only on a slow machine.
        (r"(?m)^.*MiB streamed\n", ""),
        (r"\b[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z?", "[TIMESTAMP]"),
        (r"\b[0-9]{2}:[0-9]{2}:[0-9]{2}\b", "[TIME]"),
        (r"\b[0-9]+(\.[0-9]+)? ?(ms|s)\b", "[DURATION]"),
        (r"\b[0-9]+m[0-9]+s\b", "[DURATION]"),
        (r"deploy-kit [0-9]+\.[0-9]+\.[0-9]+", "deploy-kit [VERSION]"),
    ]
}

/// Assert a run against its snapshot `name`, filtered.
fn check(name: &str, args: &[&str], out: &Output) {
    out.assert_no_panic();
    let mut settings = insta::Settings::clone_current();
    for (re, with) in filters() {
        settings.add_filter(re, with);
    }
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| insta::assert_snapshot!(name, render(args, out)));
}

/// `deploy-kit ARGS` with no AWS anywhere (every case here stops before any network call).
fn run_offline(args: &[&str]) -> Output {
    Cmd::bin("deploy-kit")
        .args(args.iter().copied())
        .env("AWS_REGION", "us-east-1")
        .timeout(Duration::from_secs(60))
        .run()
}

/// The first `n` lines of a text, for `--help` heads (the rest is tested by the tools' own
/// tests, and would make every flag's wording a snapshot change).
fn head(out: &Output, n: usize) -> Output {
    Output {
        code: out.code,
        stdout: out
            .stdout
            .lines()
            .take(n)
            .map(|l| format!("{l}\n"))
            .collect(),
        stderr: out.stderr.clone(),
        outputs: Default::default(),
        summary: String::new(),
        elapsed: out.elapsed,
    }
}

/// `--help` of each tool: its first lines (name, what it does, usage).
#[test]
fn help_heads() {
    for tool in [
        "ecr-push",
        "ecs-roll",
        "wait-stable",
        "rds-snapshot",
        "smoke-test",
        "secrets-sync",
    ] {
        let args = [tool, "--help"];
        check(
            &format!("help_{}", tool.replace('-', "_")),
            &args,
            &head(&run_offline(&args), 3),
        );
    }
}

/// Usage errors exit 2 before any network call, naming the flag and the fix.
#[test]
fn usage_errors() {
    let cases: [(&str, &[&str]); 7] = [
        // ecr-push: a tag that cannot be a tag.
        (
            "usage_ecr_push_bad_tag",
            &[
                "ecr-push",
                "--source",
                "oci:/nonexistent",
                "--repository",
                "team/web",
                "--tag",
                "not a tag",
            ],
        ),
        // ecs-roll: a timeout out of bounds.
        (
            "usage_ecs_roll_timeout_out_of_range",
            &with(
                &DEPLOY_PROD_WEB,
                &["--image", "web=web:v2", "--timeout", "0s"],
            ),
        ),
        // wait-stable: an interval longer than the timeout.
        (
            "usage_wait_stable_interval_over_timeout",
            &with(
                &WAIT_STABLE_PROD_WEB,
                &["--timeout", "10s", "--interval", "1m"],
            ),
        ),
        // wait-stable: a malformed timeout.
        (
            "usage_wait_stable_bad_timeout",
            &["wait-stable", "--service", "prod/web", "--timeout", "soon"],
        ),
        // rds-snapshot: an unknown subcommand.
        (
            "usage_rds_snapshot_unknown_command",
            &["rds-snapshot", "backup"],
        ),
        // smoke-test: nothing to check.
        ("usage_smoke_test_nothing_to_check", &["smoke-test"]),
        // secrets-sync: plan with no source or target.
        (
            "usage_secrets_sync_plan_without_source",
            &["secrets-sync", "plan"],
        ),
    ];
    for (name, args) in cases {
        let out = run_offline(args);
        assert_eq!(out.code, 2, "{name}: {}", out.stderr);
        check(name, args, &out);
    }
}

/// ecr-push to the local registry: a first push (exit 0, digest on stdout), the same push again
/// (unchanged), and a registry nobody listens on (exit 3).
#[test]
fn ecr_push_runs() {
    let registry = test_support::standins().registry;
    let dir = tempfile::tempdir().unwrap();
    tiny_layout(dir.path());
    let cache = tempfile::tempdir().unwrap();
    let source = format!("oci:{}", dir.path().display());
    let repo = test_support::unique("snap");
    let push = |registry: &str, name: &str| {
        let url = format!("http://{registry}");
        let args = [
            "ecr-push",
            "--source",
            source.as_str(),
            "--repository",
            repo.as_str(),
            "--tag",
            "v1",
            "--registry",
            url.as_str(),
            "--no-ecr-auth",
        ];
        let out = Cmd::bin("deploy-kit")
            .args(args)
            // A fresh blob cache: mounts from earlier runs' repositories would change the counts.
            .env("XDG_CACHE_HOME", cache.path().display().to_string())
            .timeout(Duration::from_secs(60))
            .run();
        // The source path and the unique repository name differ on every run.
        let shown: Vec<&str> = args
            .iter()
            .map(|a| match *a {
                a if a == source => "oci:[DIR]",
                a if a == repo => "[REPO]",
                a => a,
            })
            .collect();
        let out = Output {
            stdout: out.stdout.replace(&repo, "[REPO]"),
            stderr: out.stderr.replace(&repo, "[REPO]"),
            ..out
        };
        check(name, &shown, &out);
        out.code
    };
    assert_eq!(push(&registry, "ecr_push_success"), 0);
    assert_eq!(push(&registry, "ecr_push_unchanged"), 0);
    let nobody = format!("127.0.0.1:{}", test_support::unused_port());
    assert_eq!(push(&nobody, "ecr_push_registry_unreachable"), 3);
}

/// An in-process ECS emulator with a settled service `prod/web` (one task of `app:v1`).
struct Ecs {
    emulator: RunningEmulator,
    /// Runs the emulator; dropped with it.
    _rt: tokio::runtime::Runtime,
}

fn settled_service() -> Ecs {
    let scenario = serde_json::json!({
        "time_scale": 40,
        "images": {"app:v1": {"behavior": "healthy", "start_seconds": 2, "healthy_after_seconds": 3}},
    });
    let scenario = Scenario::parse(&scenario.to_string()).unwrap();
    let (EcsFixture { emulator, ecs }, rt) = EcsFixture::start_blocking(Config::new(scenario));
    rt.block_on(async {
        let td = register(&ecs, "web", Container::new("app", "app:v1")).await;
        // ECS's defaults: no circuit breaker.
        let defaults = DeploymentConfiguration::builder().build();
        create_service(&ecs, CLUSTER, "web", &td, 1, defaults).await;
        wait_settled(&ecs, CLUSTER, "web", Duration::from_secs(30)).await;
    });
    Ecs { emulator, _rt: rt }
}

/// wait-stable against the emulator: a settled service succeeds at once (exit 0); a service that
/// does not exist is a usage error naming the near miss (exit 2); so is a missing cluster.
#[test]
fn wait_stable_runs() {
    let e = settled_service();
    let url = e.emulator.url();
    let cases: [(&str, &[&str], i32); 3] = [
        (
            "wait_stable_success",
            &["wait-stable", "--cluster", "prod", "--service", "web"],
            0,
        ),
        (
            "wait_stable_missing_service",
            &["wait-stable", "--cluster", "prod", "--service", "wbe"],
            2,
        ),
        (
            "wait_stable_missing_cluster",
            &["wait-stable", "--cluster", "staging", "--service", "web"],
            2,
        ),
    ];
    for (name, args, code) in cases {
        let out = Cmd::bin("deploy-kit")
            .args(args.iter().copied())
            .ecs_emulator(&url)
            .timeout(Duration::from_secs(60))
            .run();
        assert_eq!(out.code, code, "{name}: {}", out.stderr);
        check(name, args, &out);
    }
}
