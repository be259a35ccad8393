//! Issue 9 case 2: `ecs-roll --force-new-deployment` when UpdateService's answer and the next
//! DescribeServices are stale. The new deployment runs the same task definition as the old one,
//! so "the deployment running the target task definition" is the OLD deployment: following it
//! was a green without ever watching the release. The waiter's `Track::NewDeployment` (what
//! ecs-roll passes when UpdateService did not name the deployment) only follows a deployment
//! that did not exist before the call, waits for it inside the deadline, and fails with a
//! runtime error (exit 3) if it never shows. In-process, against the emulator's eventual
//! consistency.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use aws_sdk_ecs::Client;
use dk_core::poll::Deadline;
use ecs_emulator::{Config, Consistency, RunningEmulator, Scenario, StaleWindow};
use test_support::ecs::{Container, EcsFixture, breaker};
use wait_stable::WaitResult;
use wait_stable::waiter::{Target, Track, Until, WaitOptions};

const HEALTHY: &str = r#"
images:
  "web:v1": { behavior: healthy, start_seconds: 2, healthy_after_seconds: 3, stop_seconds: 1 }
"#;
/// The image behind the tag broke: tasks launched from now on crash.
const BROKEN: &str = r#"
images:
  "web:v1": { behavior: crash, start_seconds: 2, after_seconds: 2, exit_code: 1, stop_seconds: 1 }
"#;

struct Setup {
    emulator: RunningEmulator,
    ecs: Client,
    td: String,
    existing: Vec<String>,
}

/// A settled service on web:v1 (breaker with rollback), then a forced new deployment of the
/// same task definition whose UpdateService answer is stale and whose DescribeServices stays
/// stale for `stale_calls` calls.
async fn forced_with_stale_reads(stale_calls: u32) -> Setup {
    let fx =
        EcsFixture::start(Config::manual().with_scenario(Scenario::parse(HEALTHY).unwrap())).await;
    let td = fx.register("web", Container::new("app", "web:v1")).await;
    fx.create_service("prod", "web", &td, 2, breaker(true))
        .await;
    let EcsFixture { emulator, ecs } = fx;
    emulator.advance(Duration::from_secs(60));
    let before = ecs
        .describe_services()
        .cluster("prod")
        .services("web")
        .send()
        .await
        .unwrap();
    let existing: Vec<String> = before.services()[0]
        .deployments()
        .iter()
        .filter_map(|d| d.id().map(str::to_owned))
        .collect();
    emulator.set_scenario(Scenario::parse(BROKEN).unwrap());
    emulator.set_consistency(Consistency {
        describe_services: StaleWindow {
            calls: stale_calls,
            seconds: 0.0,
        },
        update_service_response: true,
    });
    let out = ecs
        .update_service()
        .cluster("prod")
        .service("web")
        .force_new_deployment(true)
        .send()
        .await
        .unwrap();
    // The answer is stale: its PRIMARY is the old deployment, on the same task definition.
    let answered: Vec<&str> = out
        .service()
        .unwrap()
        .deployments()
        .iter()
        .filter_map(|d| d.id())
        .collect();
    assert_eq!(
        answered, existing,
        "the UpdateService answer should be stale"
    );
    Setup {
        emulator,
        ecs,
        td,
        existing,
    }
}

/// Run the waiter for `track` while emulated time moves one second per 20 ms.
async fn wait_for(s: &Setup, track: Track, timeout: Duration) -> dk_core::Result<WaitResult> {
    let ui = dk_core::Ui::silent(dk_core::Context::from_map(
        Vec::<(String, String)>::new(),
        false,
    ));
    let targets = [Target {
        sref: dk_core::ecs::ServiceRef::new("prod", "web"),
        track,
    }];
    let opts = WaitOptions {
        deadline: Deadline::after(timeout),
        interval: Duration::from_millis(100),
        until: Until::Stable,
        created_grace: timeout,
        allow_empty: false,
    };
    let done = AtomicBool::new(false);
    let ticker = async {
        while !done.load(Ordering::Relaxed) {
            s.emulator.advance(Duration::from_secs(1));
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let waiting = async {
        let r = wait_stable::wait(&s.ecs, &ui, &targets, &opts).await;
        done.store(true, Ordering::Relaxed);
        r
    };
    let (r, ()) = tokio::join!(waiting, ticker);
    Ok(r?[0].result)
}

/// The forced deployment crashes and the circuit breaker rolls it back to its twin: the waiter
/// reports the rollback, never the old deployment's (or the twin's) green.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forced_deployment_with_stale_reads_is_followed_by_id() {
    let s = forced_with_stale_reads(3).await;
    let track = Track::NewDeployment {
        task_definition: s.td.clone(),
        existing: s.existing.clone(),
    };
    let result = wait_for(&s, track, Duration::from_secs(30)).await.unwrap();
    assert_eq!(result, WaitResult::RolledBack);
}

/// The new deployment never shows inside the deadline: a runtime error (exit 3), never a green
/// and never a mere timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_deployment_that_never_appears_is_exit_3() {
    let s = forced_with_stale_reads(1_000_000).await;
    let track = Track::NewDeployment {
        task_definition: s.td.clone(),
        existing: s.existing.clone(),
    };
    let err = wait_for(&s, track, Duration::from_millis(1500))
        .await
        .unwrap_err();
    assert_eq!(err.exit_code(), 3, "{}", err.message());
    assert!(
        err.message().contains("no new deployment appeared"),
        "{}",
        err.message()
    );
}
