//! Every duration flag at its documented bounds (issue 10): the edge itself is accepted — the tool
//! goes on to the network and finds the dead endpoint (a closed loopback port, exit 3) — and one
//! step past it is a usage error (exit 2) before any call. `10000000000000000000`, which once
//! registered a revision, called UpdateService and panicked, is among the values past the edge.

mod common;

use common::aws::{DEPLOY_PROD_WEB, WAIT_STABLE_PROD_WEB, with};
use test_support::{Cmd, Output, unused_port};

fn run(args: &[&str]) -> Output {
    let dead = format!("http://127.0.0.1:{}", unused_port());
    Cmd::bin("deploy-kit")
        .args(args.iter().copied())
        .args(["--max-attempts", "1"])
        .env("AWS_ENDPOINT_URL", &dead)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .run()
}

/// `flag` with `edge` gets past parsing (exit 3 at the dead endpoint); with each of `past`
/// it exits 2 naming the flag and the allowed range.
#[track_caller]
fn check(base: &[&str], flag: &str, edge: &str, past: &[&str], range: &str) {
    let with = |v: &str| {
        let mut a = base.to_vec();
        a.extend([flag, v]);
        run(&a)
    };
    let ok = with(edge);
    ok.assert_no_panic();
    assert_eq!(ok.code, 3, "{flag} {edge} is in range:\n{}", ok.stderr);
    for p in past {
        let out = with(p);
        out.assert_code(2).assert_no_panic();
        assert!(
            out.stderr.contains(flag) && out.stderr.contains(range),
            "{flag} {p}:\n{}",
            out.stderr
        );
    }
}

const HUGE: &str = "10000000000000000000";

#[test]
fn wait_stable_bounds() {
    let base = WAIT_STABLE_PROD_WEB;
    check(&base, "--timeout", "7d", &["7d 1s", HUGE], "1s to 7d");
    check(&base, "--timeout", "5s", &["999ms", "0"], "1s to 7d");
    let long = with(&base, &["--timeout", "2h"]);
    check(&long, "--interval", "1h", &["3601s"], "100ms to 1h");
    check(&base, "--interval", "100ms", &["99ms"], "100ms to 1h");
}

#[test]
fn ecs_roll_bounds() {
    let deploy = with(&DEPLOY_PROD_WEB, &["--image", "app=app:v2"]);
    for flag in ["--timeout", "--rollback-timeout", "--migrate-timeout"] {
        check(&deploy, flag, "7d", &["7d 1s", HUGE], "1s to 7d");
    }
    check(
        &deploy,
        "--interval",
        "100ms",
        &["99ms", "3601s"],
        "100ms to 1h",
    );
    let rollback = [
        "ecs-roll",
        "rollback",
        "--cluster",
        "prod",
        "--service",
        "web",
        "--interval",
        "100ms",
    ];
    check(&rollback, "--timeout", "1s", &["999ms", HUGE], "1s to 7d");
}

#[test]
fn rds_snapshot_bounds() {
    let create = ["rds-snapshot", "create", "--db", "app-db"];
    check(&create, "--timeout", "7d", &[HUGE, "8d"], "1s to 7d");
    // The interval is at most the timeout too (core's WaitArgs), so its top edge needs a longer one.
    let create_2h = [&create[..], &["--timeout", "2h"]].concat();
    check(&create_2h, "--interval", "1h", &["1h 1s"], "100ms to 1h");
    let restore = [
        "rds-snapshot",
        "restore",
        "--snapshot-id",
        "s1",
        "--target",
        "app-db-2",
        "--interval",
        "1s",
    ];
    check(&restore, "--timeout", "1s", &["0"], "1s to 7d");
}

#[test]
fn role_duration_and_ecr_push_bounds() {
    let list = ["rds-snapshot", "list", "--db", "app-db"];
    check(&list, "--role-duration", "15m", &["899s"], "15m to 12h");
    check(
        &list,
        "--role-duration",
        "12h",
        &["12h 1s", HUGE],
        "15m to 12h",
    );
    let dir = tempfile::tempdir().unwrap();
    let src = format!("oci:{}", dir.path().display());
    let registry = format!("http://127.0.0.1:{}", unused_port());
    let push = [
        "ecr-push",
        "--source",
        &src,
        "--repository",
        "app",
        "--tag",
        "v1",
        "--registry",
        &registry,
        "--no-ecr-auth",
    ];
    // An empty directory is bad input too, so the edge here is "exit 2 for the layout, not the
    // flag": the value itself passed parsing.
    let ok = run(&[&push[..], &["--timeout", "7d"]].concat());
    ok.assert_code(2);
    assert!(ok.stderr.contains("oci-layout"), "{}", ok.stderr);
    let past = run(&[&push[..], &["--timeout", HUGE]].concat());
    past.assert_code(2);
    assert!(past.stderr.contains("--timeout"), "{}", past.stderr);
}
