//! The deadline is exact and AWS trouble is ridden out inside it: slow rollouts, throttling, unreachable endpoints.

use super::*;

/// A rollout slower than --timeout exits 4 at the deadline, not later, with the last state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_rollout_times_out_at_the_deadline() {
    let env = env().await;
    env.service("prod", "web", true).await;
    env.deploy("prod", "web", "web:slow").await;
    let out = env
        .run(
            env.wait_web(&["--timeout", "3s", "--output", "json"])
                .github_actions(),
        )
        .await;
    out.assert_code(4).assert_no_panic();
    assert!(
        out.elapsed >= Duration::from_secs(3) && out.elapsed < Duration::from_secs(5),
        "{:?}",
        out.elapsed
    );
    assert_eq!(out.output("result"), "timed_out");
    let d = &detail(&out)[0];
    assert_eq!(d["result"], "timed_out");
    assert!(
        d["reason"].as_str().unwrap().contains("still IN_PROGRESS"),
        "{d}"
    );
}

/// A throttling storm on DescribeServices costs ticks, not the result.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_storm_is_ridden_out() {
    let env = env().await;
    env.service("prod", "web", true).await;
    env.deploy("prod", "web", "web:v2").await;
    env.emulator.inject_fault(Fault {
        operation: "DescribeServices".into(),
        count: 6,
        kind: FaultKind::Throttle,
    });
    let out = env.run(env.wait_web(&["--max-attempts", "1"])).await;
    out.assert_code(0).assert_no_panic();
    assert!(out.stderr.contains("ThrottlingException"), "{}", out.stderr);
    assert!(
        out.stderr.contains("retrying at the next poll"),
        "{}",
        out.stderr
    );
}

/// Endless throttling keeps the deadline: exit 4 at --timeout, not a runtime error, not later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_throttling_still_ends_at_the_deadline() {
    let env = env().await;
    env.service("prod", "web", true).await;
    env.deploy("prod", "web", "web:v2").await;
    env.emulator.inject_fault(Fault {
        operation: "DescribeServices".into(),
        count: 100_000,
        kind: FaultKind::Throttle,
    });
    let out = env.run(env.wait_web(&["--timeout", "3s"])).await;
    out.assert_code(4).assert_no_panic();
    assert!(out.elapsed < Duration::from_secs(5), "{:?}", out.elapsed);
}

/// An endpoint nobody listens on is a runtime error (exit 3), quickly.
#[test]
fn unreachable_endpoint_is_a_runtime_error() {
    let out = Cmd::bin("wait-stable")
        .env(
            "AWS_ENDPOINT_URL_ECS",
            format!("http://127.0.0.1:{}", test_support::unused_port()),
        )
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .args([
            "--cluster",
            "prod",
            "--service",
            "web",
            "--max-attempts",
            "1",
        ])
        .run();
    out.assert_code(3).assert_no_panic();
    assert!(out.stderr.contains("cannot reach AWS"), "{}", out.stderr);
}
