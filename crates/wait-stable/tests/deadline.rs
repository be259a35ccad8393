//! The deadline is exact: what the waiter does after it (the stopped-task lookup that explains a
//! timeout) may not hold the exit back by more than 100 ms. In-process, so the measure is against
//! the waiter's own deadline, not a process start.

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_sdk_ecs::Client;
use aws_sdk_ecs::config::Credentials;
use dk_core::poll::Deadline;
use ecs_emulator::{Config, Emulator, Fault, FaultKind, Scenario};
use test_support::ecs::Container;
use wait_stable::waiter::{Target, Track, Until, WaitOptions};

const SCENARIO: &str = r#"
images:
  "web:v1": { behavior: healthy, start_seconds: 2, healthy_after_seconds: 3, stop_seconds: 1 }
  "web:slow": { behavior: healthy, start_seconds: 100000 }
"#;

async fn register(ecs: &Client, image: &str) -> String {
    test_support::ecs::register(ecs, "web", Container::new("app", image)).await
}

/// Regression (issue 9 case 11): at the deadline the stopped-task lookup may not hold the exit
/// back: it had a 1 s budget, so a throttled ListTasks (retried with backoff) delayed the exit by
/// up to a second. Measured in-process against the waiter's own deadline: at most 100 ms late.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadline_diagnostics_do_not_delay_the_exit() {
    let emulator =
        Emulator::start(Config::manual().with_scenario(Scenario::parse(SCENARIO).unwrap()))
            .await
            .unwrap();
    let config = aws_config::defaults(BehaviorVersion::latest())
        .region("us-east-1")
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
        .endpoint_url(emulator.url())
        .retry_config(RetryConfig::standard().with_max_attempts(10))
        .load()
        .await;
    let ecs = Client::new(&config);
    ecs.create_cluster()
        .cluster_name("prod")
        .send()
        .await
        .unwrap();
    let v1 = register(&ecs, "web:v1").await;
    ecs.create_service()
        .cluster("prod")
        .service_name("web")
        .task_definition(v1)
        .desired_count(2)
        .send()
        .await
        .unwrap();
    emulator.advance(Duration::from_secs(60));
    let slow = register(&ecs, "web:slow").await;
    ecs.update_service()
        .cluster("prod")
        .service("web")
        .task_definition(slow)
        .send()
        .await
        .unwrap();
    emulator.inject_fault(Fault {
        operation: "ListTasks".into(),
        count: 100_000,
        kind: FaultKind::Throttle,
    });
    let ui = dk_core::Ui::silent(dk_core::context::Context::from_map(
        Vec::<(String, String)>::new(),
        false,
    ));
    let targets = [Target {
        sref: dk_core::ecs::ServiceRef::new("prod", "web"),
        track: Track::CurrentPrimary,
    }];
    let opts = WaitOptions {
        deadline: Deadline::after(Duration::from_millis(1500)),
        interval: Duration::from_millis(100),
        until: Until::Stable,
        created_grace: Duration::ZERO,
        allow_empty: false,
    };
    let outcomes = wait_stable::wait(&ecs, &ui, &targets, &opts).await.unwrap();
    let late = opts.deadline.instant().elapsed();
    eprintln!("exit {late:?} after the deadline");
    assert_eq!(outcomes[0].result, wait_stable::WaitResult::TimedOut);
    assert!(
        late <= Duration::from_millis(100),
        "exit {late:?} after the deadline"
    );
    assert!(
        emulator.calls().count("ListTasks") >= 1,
        "the lookup was tried"
    );
}
