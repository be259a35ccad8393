//! The scenario matrix (issue 9): the real `wait-stable` and `ecs-roll deploy` (through the
//! multi-call binary) against every behaviour of the ECS emulator — the friendly ones and the
//! hostile ones real ECS has — each with eventual consistency off and on.
//!
//! For every run the verdict is checked against what really happened in the emulator, not
//! against the tool's own account: a **false green** is exit 0 (or `result: succeeded`) when the
//! new revision does not run (COMPLETED, not a rollback, desired > 0 and that many healthy
//! tasks); a **wrong rollback target** is an `ecs-roll deploy` that failed and left the service
//! on anything but the revision it ran before. The matrix is printed to stderr as a Markdown
//! table; both counts must be 0.
//!
//! Each run gets its own emulator with a manual clock; once the tool has made its first
//! DescribeServices call, the test moves emulated time one second per [`TICK`], so results do
//! not depend on machine speed.

use std::time::Duration;

use aws_sdk_ecs::Client;
use aws_sdk_ecs::operation::update_service::builders::UpdateServiceFluentBuilder;
use aws_sdk_ecs::types::{
    DeploymentAlarms, DeploymentCircuitBreaker, DeploymentConfiguration, LoadBalancer,
};
use ecs_emulator::{
    CallLog, Config, Consistency, Fault, FaultKind, RunningEmulator, Scenario, StaleWindow,
};
use serde_json::Value;
use test_support::ecs::{CLUSTER, Container, EcsFixture};
use test_support::{Cmd, Output};

mod common;
use common::aws::{DEPLOY_PROD_WEB, WAIT_STABLE_PROD_WEB};

/// Real time per emulated second while a tool runs (50x).
const TICK: Duration = Duration::from_millis(20);

fn scenario_yaml(v1_cannot_start: bool) -> String {
    let v1 = if v1_cannot_start {
        r#"{ behavior: fail_to_start, start_seconds: 2, reason: "CannotPullContainerError: web:v1 not found" }"#
    } else {
        "{ behavior: healthy, start_seconds: 2, healthy_after_seconds: 3, stop_seconds: 1 }"
    };
    format!(
        r#"
alarm_bake_seconds: 20
images:
  "web:v1": {v1}
  "web:v2": {{ behavior: healthy, start_seconds: 2, healthy_after_seconds: 3, stop_seconds: 1 }}
  "web:v3": {{ behavior: healthy, start_seconds: 2, healthy_after_seconds: 3, stop_seconds: 1 }}
  "web:crash": {{ behavior: crash, start_seconds: 2, after_seconds: 2, exit_code: 137, stop_seconds: 1 }}
  "web:nopull": {{ behavior: fail_to_start, start_seconds: 2 }}
  "web:sick": {{ behavior: never_healthy, start_seconds: 2, unhealthy_after_seconds: 5, stop_seconds: 1 }}
  "web:slow": {{ behavior: healthy, start_seconds: 100000 }}
"#
    )
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Tool {
    WaitStable,
    EcsRoll,
}

impl Tool {
    fn name(self) -> &'static str {
        match self {
            Tool::WaitStable => "wait-stable",
            Tool::EcsRoll => "ecs-roll deploy",
        }
    }
}

/// What the test does to the world while the tool runs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Hook {
    None,
    /// A storm of ThrottlingException on every call.
    Throttle,
    /// Somebody else deploys web:v3.
    Replace,
    /// The service is scaled to 0.
    ScaleToZero,
    /// A deployment alarm goes into ALARM.
    Alarm,
}

/// One row of the matrix before the consistency and tool dimensions.
struct Case {
    name: &'static str,
    image: &'static str,
    expected: &'static str,
    desired: i32,
    config: fn() -> DeploymentConfiguration,
    classic_lb: bool,
    /// The service's first rollout never completes (nothing COMPLETED to return to).
    first_never_completes: bool,
    /// After set-up, web:v1 can no longer start (its image is gone): rollbacks fail.
    v1_lost: bool,
    hook: Hook,
    deny_history: bool,
    /// Tool timeout in real seconds.
    timeout_s: u64,
    /// wait-stable only: emulated seconds the rollout runs before the tool starts.
    head_start: u64,
    /// Whether the row applies to the tool.
    tools: &'static [Tool],
    /// Whether "ended on the previous revision" is a meaningful check after a failure.
    check_target: bool,
}

const BOTH: &[Tool] = &[Tool::WaitStable, Tool::EcsRoll];

fn breaker(min: i32) -> DeploymentConfiguration {
    DeploymentConfiguration::builder()
        .minimum_healthy_percent(min)
        .maximum_percent(200)
        .deployment_circuit_breaker(
            DeploymentCircuitBreaker::builder()
                .enable(true)
                .rollback(true)
                .build(),
        )
        .build()
}

fn breaker_100() -> DeploymentConfiguration {
    breaker(100)
}

fn breaker_50() -> DeploymentConfiguration {
    breaker(50)
}

fn breaker_0() -> DeploymentConfiguration {
    breaker(0)
}

fn alarms() -> DeploymentConfiguration {
    DeploymentConfiguration::builder()
        .minimum_healthy_percent(100)
        .maximum_percent(200)
        .alarms(
            DeploymentAlarms::builder()
                .alarm_names("web-5xx")
                .enable(true)
                .rollback(true)
                .build()
                .expect("alarms"),
        )
        .build()
}

fn case(name: &'static str, image: &'static str, expected: &'static str) -> Case {
    Case {
        name,
        image,
        expected,
        desired: 2,
        config: breaker_100,
        classic_lb: false,
        first_never_completes: false,
        v1_lost: false,
        hook: Hook::None,
        deny_history: false,
        timeout_s: 30,
        head_start: 0,
        tools: BOTH,
        check_target: true,
    }
}

fn cases() -> Vec<Case> {
    vec![
        case("healthy", "web:v2", "succeeded"),
        case("crash + breaker rollback", "web:crash", "rolled_back"),
        case("fail to start", "web:nopull", "rolled_back"),
        case("never healthy", "web:sick", "rolled_back"),
        Case {
            timeout_s: 3,
            ..case("slow past the deadline", "web:slow", "timeout")
        },
        Case {
            hook: Hook::Throttle,
            ..case("throttling storm", "web:v2", "succeeded")
        },
        Case {
            hook: Hook::Replace,
            check_target: false,
            ..case("replaced mid-wait", "web:v2", "failed")
        },
        Case {
            head_start: 120,
            tools: &[Tool::WaitStable],
            ..case(
                "rollback finished before first poll",
                "web:crash",
                "rolled_back",
            )
        },
        Case {
            config: breaker_50,
            v1_lost: true,
            ..case("ROLLBACK_FAILED", "web:crash", "rollback_failed")
        },
        Case {
            first_never_completes: true,
            timeout_s: 8,
            ..case("breaker, nothing to return to", "web:crash", "failed")
        },
        Case {
            desired: 0,
            check_target: false,
            ..case("desiredCount 0", "web:v2", "no_tasks")
        },
        Case {
            hook: Hook::ScaleToZero,
            check_target: false,
            ..case("scaled to 0 mid-rollout", "web:sick", "no_tasks")
        },
        Case {
            classic_lb: true,
            // Longer than wait-stable's 30 s settle rule for services without rolloutState.
            timeout_s: 75,
            ..case("no rolloutState (CLB), healthy", "web:v2", "succeeded")
        },
        Case {
            classic_lb: true,
            config: breaker_0,
            timeout_s: 4,
            ..case("no rolloutState (CLB), crash loop", "web:crash", "timeout")
        },
        Case {
            config: alarms,
            hook: Hook::Alarm,
            ..case("deployment alarm", "web:v2", "rolled_back")
        },
        Case {
            deny_history: true,
            ..case("crash, history unreadable", "web:crash", "rolled_back")
        },
    ]
}

/// What one run produced and what really happened.
struct Row {
    case: &'static str,
    eventual: bool,
    tool: Tool,
    expected: &'static str,
    code: i32,
    result: String,
    really_ran: bool,
    false_green: bool,
    /// `Some(ok)` when checked: the service ended on the previous revision after a failure.
    target_ok: Option<bool>,
    /// The tool's last stderr line, for reading the table.
    note: String,
}

struct Run {
    emulator: RunningEmulator,
    ecs: Client,
    v1: String,
    /// Task definitions the test itself registered during the run (not the tool's).
    registered_by_test: Vec<String>,
}

/// A revision of `web` whose container `app` runs `image`.
async fn register(ecs: &Client, image: &str) -> String {
    test_support::ecs::register(ecs, "web", Container::new("app", image)).await
}

/// UpdateService on `prod/web`, for the changes the test itself makes.
fn update_web(ecs: &Client) -> UpdateServiceFluentBuilder {
    ecs.update_service().cluster(CLUSTER).service("web")
}

/// A cluster `prod` with service `web` on web:v1, settled (unless the case says otherwise).
async fn set_up(c: &Case) -> Run {
    let scenario = Scenario::parse(&scenario_yaml(false)).expect("scenario");
    let EcsFixture { emulator, ecs } =
        EcsFixture::start(Config::manual().with_scenario(scenario)).await;
    let first = if c.first_never_completes {
        "web:slow"
    } else {
        "web:v1"
    };
    let v1 = register(&ecs, first).await;
    let mut create = ecs
        .create_service()
        .cluster(CLUSTER)
        .service_name("web")
        .task_definition(&v1)
        .desired_count(c.desired)
        .deployment_configuration((c.config)());
    if c.classic_lb {
        create = create.load_balancers(
            LoadBalancer::builder()
                .load_balancer_name("web-classic")
                .container_name("app")
                .container_port(80)
                .build(),
        );
    }
    create.send().await.expect("create service");
    emulator.advance(Duration::from_secs(60));
    if c.v1_lost {
        let lost = Scenario::parse(&scenario_yaml(true)).expect("scenario");
        emulator.set_scenario(lost);
    }
    if c.deny_history {
        for op in ["ListServiceDeployments", "DescribeServiceRevisions"] {
            emulator.inject_fault(Fault {
                operation: op.into(),
                count: 1_000_000,
                kind: FaultKind::AccessDenied,
            });
        }
    }
    Run {
        emulator,
        ecs,
        v1,
        registered_by_test: Vec::new(),
    }
}

fn consistency(on: bool) -> Consistency {
    if !on {
        return Consistency::default();
    }
    Consistency {
        describe_services: StaleWindow {
            calls: 3,
            seconds: 5.0,
        },
        update_service_response: true,
    }
}

fn base_cmd(run: &Run, timeout_s: u64) -> Cmd {
    Cmd::bin("deploy-kit")
        .ecs_emulator(&run.emulator.url())
        .timeout(Duration::from_secs(timeout_s * 3 + 60))
}

/// wait-stable after the pipeline's own UpdateService, naming the revision it deployed.
async fn wait_stable_cmd(run: &mut Run, c: &Case) -> (Cmd, String) {
    let new_td = register(&run.ecs, c.image).await;
    update_web(&run.ecs)
        .task_definition(&new_td)
        .send()
        .await
        .expect("update service");
    run.emulator.advance(Duration::from_secs(c.head_start));
    let timeout = format!("{}s", c.timeout_s);
    let cmd = base_cmd(run, c.timeout_s).args(WAIT_STABLE_PROD_WEB).args([
        "--task-definition",
        new_td.as_str(),
        "--interval",
        "100ms",
        "--timeout",
        timeout.as_str(),
        "--output",
        "json",
    ]);
    (cmd, new_td)
}

fn ecs_roll_cmd(run: &Run, c: &Case) -> Cmd {
    let timeout = format!("{}s", c.timeout_s);
    let image = format!("app={}", c.image);
    base_cmd(run, c.timeout_s).args(DEPLOY_PROD_WEB).args([
        "--image",
        image.as_str(),
        "--interval",
        "200ms",
        "--timeout",
        timeout.as_str(),
        "--rollback-timeout",
        "20s",
        "--output",
        "json",
    ])
}

/// When the hook fires: after the first poll (wait-stable) or after the tool's UpdateService.
fn hook_due(tool: Tool, calls: &CallLog) -> bool {
    match tool {
        Tool::WaitStable => calls.count("DescribeServices") > 0,
        Tool::EcsRoll => calls.count("UpdateService") > 0,
    }
}

async fn fire(run: &mut Run, hook: Hook) {
    match hook {
        Hook::None => {}
        Hook::Throttle => run.emulator.inject_fault(Fault {
            operation: "*".into(),
            count: 12,
            kind: FaultKind::Throttle,
        }),
        Hook::Replace => {
            let v3 = register(&run.ecs, "web:v3").await;
            update_web(&run.ecs)
                .task_definition(&v3)
                .send()
                .await
                .expect("replace");
            run.registered_by_test.push(v3);
        }
        Hook::ScaleToZero => {
            update_web(&run.ecs)
                .desired_count(0)
                .send()
                .await
                .expect("scale to 0");
        }
        Hook::Alarm => run.emulator.set_alarm("web-5xx", "ALARM"),
    }
}

/// Runs `cmd`, moving emulated time once the tool has made its first DescribeServices call and
/// firing the case's hook when due.
async fn drive(run: &mut Run, cmd: Cmd, tool: Tool, hook: Hook) -> Output {
    run.emulator.reset_calls();
    let job = tokio::task::spawn_blocking(move || cmd.run());
    let mut pending = Some(hook);
    while !job.is_finished() {
        let calls = run.emulator.calls();
        if calls.count("DescribeServices") == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        }
        if let Some(h) = pending
            && hook_due(tool, &calls)
        {
            pending = None;
            fire(run, h).await;
        }
        run.emulator.advance(Duration::from_secs(1));
        tokio::time::sleep(TICK).await;
    }
    job.await.expect("tool run")
}

/// The `web` service in the emulator's state.
fn web(state: &Value) -> Value {
    state["clusters"][0]["services"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["service"]["serviceName"] == "web"))
        .cloned()
        .unwrap_or(Value::Null)
}

/// The new revision really runs: the service is on it, its PRIMARY deployment (not a rollback)
/// is COMPLETED (internally, even where ECS shows no rolloutState) and at least one task is
/// desired and every desired task is healthy.
fn really_runs(state: &Value, new_td: &str) -> bool {
    let s = web(state);
    let service = &s["service"];
    let primary = s["deploymentHistory"]
        .as_array()
        .and_then(|h| h.iter().find(|d| d["status"] == "PRIMARY"))
        .cloned()
        .unwrap_or(Value::Null);
    let desired = service["desiredCount"].as_u64().unwrap_or(0);
    service["taskDefinition"] == new_td
        && primary["taskDefinition"] == new_td
        && primary["rolloutState"] == "COMPLETED"
        && primary["rollbackTo"].is_null()
        && desired > 0
        && service["runningCount"].as_u64() == Some(desired)
        && s["healthyTasks"].as_u64() == Some(desired)
}

/// The revision ecs-roll registered: its JSON says so; else the newest `web` revision the test
/// did not register itself.
fn tool_revision(out: &Output, run: &Run, state: &Value) -> String {
    let json: Value = serde_json::from_str(&out.stdout).unwrap_or(Value::Null);
    if let Some(arn) = json["task_definition_arn"].as_str() {
        return arn.to_string();
    }
    state["taskDefinitions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["arn"].as_str())
        .filter(|a| {
            a.contains(":task-definition/web:") && !run.registered_by_test.iter().any(|r| r == a)
        })
        .max_by_key(|a| {
            a.rsplit(':')
                .next()
                .and_then(|r| r.parse::<u32>().ok())
                .unwrap_or(0)
        })
        .unwrap_or_default()
        .to_string()
}

async fn run_one(c: &Case, tool: Tool, eventual: bool) -> Row {
    let mut run = set_up(c).await;
    run.emulator.set_consistency(consistency(eventual));
    let (cmd, wait_td) = match tool {
        Tool::WaitStable => {
            let (cmd, td) = wait_stable_cmd(&mut run, c).await;
            (cmd, Some(td))
        }
        Tool::EcsRoll => (ecs_roll_cmd(&run, c), None),
    };
    let out = drive(&mut run, cmd, tool, c.hook).await;
    let state = run.emulator.state();
    let new_td = wait_td.unwrap_or_else(|| tool_revision(&out, &run, &state));
    let json: Value = serde_json::from_str(&out.stdout).unwrap_or(Value::Null);
    let result = json["result"].as_str().unwrap_or("-").to_string();
    let green = out.code == 0 || result == "succeeded";
    let ran = really_runs(&state, &new_td);
    let target_ok = (tool == Tool::EcsRoll && c.check_target && !green)
        .then(|| web(&state)["service"]["taskDefinition"] == run.v1.as_str());
    Row {
        case: c.name,
        eventual,
        tool,
        expected: c.expected,
        code: out.code,
        result,
        really_ran: ran,
        false_green: green && !ran,
        target_ok,
        note: last_line(&out.stderr),
    }
}

/// The last non-empty stderr line, cut short and safe inside a table cell.
fn last_line(stderr: &str) -> String {
    let line = stderr
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    line.chars()
        .filter(|c| !c.is_control())
        .map(|c| if c == '|' { '/' } else { c })
        .take(90)
        .collect()
}

fn table(rows: &[Row]) -> String {
    let mut t = String::from(
        "| scenario | eventual consistency | tool | expected | exit | result | new revision runs | false green | rollback target | tool's last line |\n|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let target = match r.target_ok {
            None => "n/a",
            Some(true) => "previous ✓",
            Some(false) => "WRONG",
        };
        t.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            r.case,
            if r.eventual { "on" } else { "off" },
            r.tool.name(),
            r.expected,
            r.code,
            r.result,
            if r.really_ran { "yes" } else { "no" },
            if r.false_green { "FALSE GREEN" } else { "" },
            target,
            r.note,
        ));
    }
    t
}

/// Every emulator behaviour × eventual consistency off/on × both tools: no false green and no
/// wrong rollback target.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_matrix_has_no_false_green_and_no_wrong_rollback_target() {
    let mut rows = Vec::new();
    for c in cases() {
        for eventual in [false, true] {
            for &tool in c.tools {
                rows.push(run_one(&c, tool, eventual).await);
            }
        }
    }
    let false_greens = rows.iter().filter(|r| r.false_green).count();
    let wrong_targets = rows.iter().filter(|r| r.target_ok == Some(false)).count();
    for eventual in [false, true] {
        let rows: Vec<&Row> = rows.iter().filter(|r| r.eventual == eventual).collect();
        let checked = rows.iter().filter(|r| r.target_ok.is_some()).count();
        test_support::figures::record(
            "scenario_matrix",
            serde_json::json!({
                "eventual_consistency": eventual,
                "runs": rows.len(),
                "false_greens": rows.iter().filter(|r| r.false_green).count(),
                "rollbacks_checked": checked,
                "rollbacks_restored": rows.iter().filter(|r| r.target_ok == Some(true)).count(),
            }),
        );
    }
    eprintln!(
        "\n{}\n{} runs · false greens: {false_greens} · wrong rollback targets: {wrong_targets}\n",
        table(&rows),
        rows.len()
    );
    assert_eq!(false_greens, 0, "false greens (see the matrix above)");
    assert_eq!(
        wrong_targets, 0,
        "wrong rollback targets (see the matrix above)"
    );
}
