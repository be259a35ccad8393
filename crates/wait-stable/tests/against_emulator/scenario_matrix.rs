//! The scenario matrix: every failure mode, with and without stale reads, never a false green.

use super::*;

/// The scenarios of the issue-9 matrix, each with the only acceptable result.
#[derive(Debug, Clone, Copy)]
enum Case {
    Healthy,
    CrashBreakerRollback,
    FailToStart,
    NeverHealthy,
    SlowPastDeadline,
    ThrottlingStorm,
    ReplacedMidWait,
    RollbackFinishedBeforeWait,
    RollbackFailed,
    NothingToReturnTo,
    DesiredZero,
    ClbCrashLoop,
    AlarmRollback,
}

impl Case {
    const ALL: [Case; 13] = [
        Case::Healthy,
        Case::CrashBreakerRollback,
        Case::FailToStart,
        Case::NeverHealthy,
        Case::SlowPastDeadline,
        Case::ThrottlingStorm,
        Case::ReplacedMidWait,
        Case::RollbackFinishedBeforeWait,
        Case::RollbackFailed,
        Case::NothingToReturnTo,
        Case::DesiredZero,
        Case::ClbCrashLoop,
        Case::AlarmRollback,
    ];

    fn expected(self) -> &'static str {
        match self {
            Case::Healthy | Case::ThrottlingStorm => "succeeded",
            Case::CrashBreakerRollback
            | Case::FailToStart
            | Case::NeverHealthy
            | Case::RollbackFinishedBeforeWait
            | Case::AlarmRollback => "rolled_back",
            Case::SlowPastDeadline | Case::ClbCrashLoop => "timed_out",
            Case::ReplacedMidWait => "replaced",
            Case::RollbackFailed => "rollback_failed",
            Case::NothingToReturnTo => "failed",
            Case::DesiredZero => "no_tasks",
        }
    }
}

/// A service on web:v1, settled, with the configuration `case` needs.
async fn matrix_service(env: &Env, case: Case) {
    use aws_sdk_ecs::types::DeploymentAlarms;
    let v1 = env.register("web:v1").await;
    let mut config = DeploymentConfiguration::builder()
        .maximum_percent(200)
        .minimum_healthy_percent(match case {
            Case::RollbackFailed | Case::ClbCrashLoop => 0,
            _ => 100,
        });
    if !matches!(case, Case::ClbCrashLoop) {
        config = config.deployment_circuit_breaker(
            DeploymentCircuitBreaker::builder()
                .enable(true)
                .rollback(true)
                .build(),
        );
    }
    if matches!(case, Case::AlarmRollback) {
        config = config.alarms(
            DeploymentAlarms::builder()
                .alarm_names("web-5xx")
                .enable(true)
                .rollback(true)
                .build()
                .unwrap(),
        );
    }
    let mut create = env
        .ecs
        .create_service()
        .cluster("prod")
        .service_name("web")
        .task_definition(v1)
        .desired_count(if matches!(case, Case::DesiredZero) {
            0
        } else {
            2
        })
        .deployment_configuration(config.build());
    if matches!(case, Case::ClbCrashLoop) {
        create = create.load_balancers(
            LoadBalancer::builder()
                .load_balancer_name("web-clb")
                .container_name("app")
                .container_port(80)
                .build(),
        );
    }
    create.send().await.unwrap();
    env.emulator.advance(Duration::from_secs(60));
}

/// Drive the real binary through `case`; `stale`: DescribeServices shows the service as before
/// each UpdateService for 3 calls (the wait is then told the task definition it waits for, as a
/// caller right after its own UpdateService would). Returns the `result` output.
async fn matrix_run(case: Case, stale: bool) -> String {
    let env = env().await;
    if matches!(case, Case::NothingToReturnTo) {
        env.service_on("web", "web:crash", 2).await;
    } else {
        matrix_service(&env, case).await;
    }
    if matches!(case, Case::RollbackFailed) {
        env.emulator.set_scenario(
            Scenario::parse(&format!(
                "{SCENARIO}rollback_tasks: {{ behavior: fail_to_start, start_seconds: 2 }}\n"
            ))
            .unwrap(),
        );
    }
    if stale {
        env.emulator.set_consistency(Consistency {
            describe_services: StaleWindow {
                calls: 3,
                seconds: 0.0,
            },
            update_service_response: false,
        });
    }
    let image = match case {
        Case::Healthy | Case::ThrottlingStorm | Case::DesiredZero => Some("web:v2"),
        Case::CrashBreakerRollback | Case::RollbackFinishedBeforeWait | Case::RollbackFailed => {
            Some("web:crash")
        }
        Case::FailToStart => Some("web:nopull"),
        Case::NeverHealthy => Some("web:sick"),
        Case::SlowPastDeadline | Case::ReplacedMidWait | Case::AlarmRollback => Some("web:slow"),
        Case::ClbCrashLoop => Some("web:crashloop"),
        Case::NothingToReturnTo => None,
    };
    let td = match image {
        Some(image) => Some(env.deploy("prod", "web", image).await.1),
        None => None,
    };
    if matches!(case, Case::RollbackFinishedBeforeWait) {
        env.emulator.advance(Duration::from_secs(120));
    }
    if matches!(case, Case::ThrottlingStorm) {
        env.emulator.inject_fault(Fault {
            operation: "DescribeServices".into(),
            count: 6,
            kind: FaultKind::Throttle,
        });
    }
    let timeout = match case {
        Case::SlowPastDeadline => "3s",
        Case::ClbCrashLoop => "8s",
        _ => "60s",
    };
    let mut cmd = env
        .cmd()
        .args([
            "--cluster",
            "prod",
            "--service",
            "web",
            "--timeout",
            timeout,
        ])
        .github_actions();
    if stale && let Some(td) = &td {
        cmd = cmd.args(["--task-definition", td.as_str()]);
    }
    let out = env
        .run_with(cmd, async |env: &Env| match case {
            Case::ReplacedMidWait => {
                env.deploy("prod", "web", "web:v3").await;
            }
            Case::AlarmRollback => env.emulator.set_alarm("web-5xx", "ALARM"),
            _ => {}
        })
        .await;
    out.assert_no_panic();
    out.output("result").to_string()
}

/// Issue 9's matrix for wait-stable: every emulator behaviour, eventual consistency off and on.
/// False greens (exit 0 where the release did not succeed) and wrong results must both be 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_matrix_has_no_false_green() {
    let mut rows = Vec::new();
    let (mut false_greens, mut wrong) = (0, 0);
    for case in Case::ALL {
        for stale in [false, true] {
            let got = matrix_run(case, stale).await;
            let want = case.expected();
            if got == "succeeded" && want != "succeeded" {
                false_greens += 1;
            }
            if got != want {
                wrong += 1;
            }
            rows.push(format!(
                "| {case:?} | {} | {want} | {got} |",
                if stale { "stale 3 calls" } else { "consistent" }
            ));
        }
    }
    eprintln!(
        "| scenario | DescribeServices | expected | wait-stable |\n|---|---|---|---|\n{}\nfalse greens: {false_greens}, wrong results: {wrong}",
        rows.join("\n")
    );
    assert_eq!((false_greens, wrong), (0, 0), "{}", rows.join("\n"));
}
