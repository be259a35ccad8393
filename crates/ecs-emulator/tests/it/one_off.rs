//! Process mode for RunTask: a one-off task of a process image is a real process — the image's
//! command, or the program its container command names — STOPPED with the process's own exit
//! code, stopped by StopTask, reaped with the emulator, and its output written to moto's
//! CloudWatch Logs when its container logs with awslogs — as a service task's is.

use std::time::{Duration, Instant};

use aws_sdk_ecs::types::{
    ContainerDefinition, ContainerOverride, DesiredStatus, LogConfiguration, LogDriver, Task,
    TaskOverride,
};
use ecs_emulator::Scenario;
use serde_json::{Value, json};

use super::processes::{alive, start};
use super::sdk::{Env, register_container, with_breaker};

/// `job:*` exits 9 unless its command names the `migrate` program, which prints a line on
/// each stream and exits with its first argument; `job:sleep` runs until stopped; `job:loud`
/// (a service's task) prints a line on each stream and exits 3.
fn scenario(logs_url: Option<&str>) -> Scenario {
    let doc = json!({
        "run_task": {"duration_seconds": 2, "exit_code": 0},
        "processes": {
        "stop_timeout_seconds": 1,
        "deregistration_delay_seconds": 0,
        "cloudwatch_logs_url": logs_url,
        "images": {
            "job:sleep": {"command": ["sleep", "600"]},
            "job:loud": {"command": ["sh", "-c", "echo \"starting on $PORT\"; echo 'crashed on purpose' >&2; exit 3"]},
            "job:*": {
                "command": ["sh", "-c", "exit 9"],
                "environment": {"GREETING": "hello from the image"},
                "programs": {"migrate": ["sh", "-c", "echo \"$GREETING\"; echo \"to stderr $1\" >&2; exit \"$1\"", "migrate"]},
            },
        },
    }});
    Scenario::parse(&doc.to_string()).unwrap()
}

async fn register(env: &Env, image: &str, log_group: Option<&str>) -> String {
    let mut c = ContainerDefinition::builder()
        .name("app")
        .image(image)
        .essential(true);
    if let Some(group) = log_group {
        c = c.log_configuration(
            LogConfiguration::builder()
                .log_driver(LogDriver::Awslogs)
                .options("awslogs-group", group)
                .options("awslogs-region", "us-east-1")
                .options("awslogs-stream-prefix", "ecs")
                .build()
                .unwrap(),
        );
    }
    register_container(&env.ecs, "job", c.build()).await
}

/// RunTask with the container command `command` (none: the task definition's); the task ARN.
async fn run(env: &Env, task_definition: &str, command: &[&str]) -> String {
    let mut req = env
        .ecs
        .run_task()
        .cluster("prod")
        .task_definition(task_definition);
    if !command.is_empty() {
        req = req.overrides(
            TaskOverride::builder()
                .container_overrides(
                    ContainerOverride::builder()
                        .name("app")
                        .set_command(Some(command.iter().map(|s| s.to_string()).collect()))
                        .build(),
                )
                .build(),
        );
    }
    let out = req.send().await.unwrap();
    out.tasks()[0].task_arn().unwrap().to_string()
}

async fn describe(env: &Env, arn: &str) -> Task {
    let out = env
        .ecs
        .describe_tasks()
        .cluster("prod")
        .tasks(arn)
        .send()
        .await
        .unwrap();
    out.tasks()[0].clone()
}

/// Steps the clock a second per 30 ms of real time until the task is STOPPED.
async fn until_stopped(env: &Env, arn: &str) -> Task {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        env.emulator.advance(Duration::from_secs(1));
        let task = describe(env, arn).await;
        if task.last_status() == Some("STOPPED") {
            return task;
        }
        assert!(Instant::now() < deadline, "never stopped: {task:#?}");
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

/// The task stops with the process's own exit code: the image's command without an override,
/// the program the override names with its arguments otherwise (the scenario's `run_task`
/// would have said 0 for all three).
#[tokio::test]
async fn run_task_stops_with_the_process_exit_code() {
    let env = start(scenario(None)).await;
    let td = register(&env, "job:v1", None).await;
    for (command, code) in [
        (&[][..], 9),
        (&["migrate", "0"][..], 0),
        (&["migrate", "5"], 5),
    ] {
        let arn = run(&env, &td, command).await;
        let task = until_stopped(&env, &arn).await;
        assert_eq!(
            task.containers()[0].exit_code(),
            Some(code),
            "{command:?}: {task:#?}"
        );
        assert_eq!(
            task.stop_code().map(|c| c.as_str()),
            Some("EssentialContainerExited")
        );
        assert!(task.started_at().is_some());
    }
    assert_eq!(env.emulator.started_pids().len(), 3);
}

/// StopTask stops the process (SIGTERM), and dropping the emulator reaps a running one.
#[tokio::test]
async fn stop_task_and_the_emulator_end_the_process() {
    let env = start(scenario(None)).await;
    let td = register(&env, "job:sleep", None).await;
    let stopped = run(&env, &td, &[]).await;
    let kept = run(&env, &td, &[]).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        env.emulator.advance(Duration::from_secs(1));
        let running = |t: Task| t.last_status() == Some("RUNNING");
        if running(describe(&env, &kept).await) && running(describe(&env, &stopped).await) {
            break;
        }
        assert!(Instant::now() < deadline, "the processes never ran");
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    let pids = env.emulator.started_pids();
    assert_eq!(pids.len(), 2);
    env.ecs
        .stop_task()
        .cluster("prod")
        .task(&stopped)
        .send()
        .await
        .unwrap();
    let task = until_stopped(&env, &stopped).await;
    assert_eq!(task.stop_code().map(|c| c.as_str()), Some("UserInitiated"));
    drop(env);
    let deadline = Instant::now() + Duration::from_secs(10);
    while pids.iter().any(|&p| alive(p)) {
        assert!(Instant::now() < deadline, "still running: {pids:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn logs_call(moto: &str, operation: &str, body: &Value) -> (u16, Value) {
    let auth = "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/logs/aws4_request, SignedHeaders=host, Signature=0";
    let target = format!("Logs_20140328.{operation}");
    let headers = [
        ("Content-Type", "application/x-amz-json-1.1"),
        ("X-Amz-Target", target.as_str()),
        ("Authorization", auth),
    ];
    let (status, text) =
        test_support::http_request(moto, "POST", "/", &headers, body.to_string().as_bytes());
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// A new log group in moto, `/ecs/<unique name>`.
fn log_group(moto: &str, prefix: &str) -> String {
    let group = format!("/ecs/{}", test_support::unique(prefix));
    let (status, doc) = logs_call(moto, "CreateLogGroup", &json!({"logGroupName": group}));
    assert_eq!(status, 200, "{doc}");
    group
}

/// The messages in task `id`'s stream of container `app` (prefix `ecs`), oldest first; the
/// stream must exist.
fn log_messages(moto: &str, group: &str, id: &str) -> Vec<String> {
    let stream = format!("ecs/app/{id}");
    let (status, doc) = logs_call(
        moto,
        "GetLogEvents",
        &json!({"logGroupName": group, "logStreamName": stream, "startFromHead": true}),
    );
    assert_eq!(status, 200, "{doc}");
    doc["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["message"].as_str().map(str::to_owned))
        .collect()
}

/// With awslogs, both output streams are in CloudWatch Logs under `prefix/container/task-id`
/// by the time the task shows STOPPED; a log group that does not exist stops the task before
/// its process starts, with the reason ECS gives.
#[tokio::test]
async fn output_goes_to_cloudwatch_logs_before_the_task_stops() {
    let moto = test_support::standins().moto;
    let group = log_group(&moto, "one-off");
    let env = start(scenario(Some(&moto))).await;
    let td = register(&env, "job:v1", Some(&group)).await;
    let arn = run(&env, &td, &["migrate", "4"]).await;
    let task = until_stopped(&env, &arn).await;
    assert_eq!(task.containers()[0].exit_code(), Some(4));
    let id = arn.rsplit('/').next().unwrap();
    let mut lines = log_messages(&moto, &group, id);
    lines.sort();
    assert_eq!(lines, ["hello from the image", "to stderr 4"]);

    let missing = register(&env, "job:v1", Some("/ecs/never-created")).await;
    let before = env.emulator.started_pids().len();
    let arn = run(&env, &missing, &["migrate", "0"]).await;
    let task = until_stopped(&env, &arn).await;
    assert_eq!(
        task.stop_code().map(|c| c.as_str()),
        Some("TaskFailedToStart")
    );
    let reason = task.stopped_reason().unwrap_or_default();
    assert!(
        reason.starts_with("ResourceInitializationError: failed to validate logger args")
            && reason.contains("The specified log group does not exist"),
        "{reason}"
    );
    assert_eq!(
        env.emulator.started_pids().len(),
        before,
        "no process started"
    );
}

/// A service's task logs with awslogs too: the lines a crashing task wrote are in its stream
/// by the time it shows STOPPED, where wait-stable reads a stopped task's last lines.
#[tokio::test]
async fn service_task_output_goes_to_cloudwatch_logs() {
    let moto = test_support::standins().moto;
    let group = log_group(&moto, "service");
    let env = start(scenario(Some(&moto))).await;
    let td = register(&env, "job:loud", Some(&group)).await;
    env.create_service("loud", &td, 1, with_breaker(false))
        .await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let stopped = loop {
        env.emulator.advance(Duration::from_secs(1));
        let stopped = env.tasks("loud", Some(DesiredStatus::Stopped)).await;
        if let Some(t) = stopped
            .into_iter()
            .find(|t| t.last_status() == Some("STOPPED"))
        {
            break t;
        }
        assert!(Instant::now() < deadline, "no task of the service stopped");
        tokio::time::sleep(Duration::from_millis(30)).await;
    };
    assert_eq!(stopped.containers()[0].exit_code(), Some(3));
    let id = stopped.task_arn().unwrap().rsplit('/').next().unwrap();
    let messages = log_messages(&moto, &group, id);
    assert!(
        messages.iter().any(|m| m == "crashed on purpose"),
        "{messages:?}"
    );
    assert!(
        messages.iter().any(|m| m.starts_with("starting on ")),
        "{messages:?}"
    );
}
