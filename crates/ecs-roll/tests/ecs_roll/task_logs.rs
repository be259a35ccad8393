//! The failed tasks' own logs, from moto's CloudWatch Logs: the emulator runs the tasks (and
//! gives their ids), a writer thread plays the awslogs driver — for every task the emulator
//! shows, it writes lines into moto under the stream ECS would use (`ecs/app/<task-id>`) — and
//! ecs-roll, pointed at moto with `AWS_ENDPOINT_URL_CLOUDWATCH_LOGS`, must find them.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use aws_sdk_ecs::types::{DesiredStatus, LogConfiguration, LogDriver};
use serde_json::Value;
use test_support::{standins, unique};

use super::*;
use aws_sdk_ecs::types::ContainerDefinition;

/// What the hostile and the ordinary lines look like in every log the tests write.
const LINES: &[&str] = &[
    "starting up",
    "::set-output name=result::succeeded",
    "half\r::add-mask::visible",
    "##[cmd] evil",
    "ERROR: relation \"users\" already exists",
];

fn logs_client(rt: &tokio::runtime::Runtime) -> aws_sdk_cloudwatchlogs::Client {
    rt.block_on(async {
        aws_sdk_cloudwatchlogs::Client::new(&test_support::sdk_config(&standins().moto, None).await)
    })
}

impl Env {
    /// `family` with one container `app` logging to `group` through awslogs (prefix `ecs`).
    fn register_logged(&self, family: &str, image: &str, group: &str) -> String {
        let log = LogConfiguration::builder()
            .log_driver(LogDriver::Awslogs)
            .options("awslogs-group", group)
            .options("awslogs-region", "us-east-1")
            .options("awslogs-stream-prefix", "ecs")
            .build()
            .unwrap();
        let out = self
            .rt
            .block_on(
                self.ecs
                    .register_task_definition()
                    .family(family)
                    .container_definitions(
                        ContainerDefinition::builder()
                            .name("app")
                            .image(image)
                            .essential(true)
                            .log_configuration(log)
                            .build(),
                    )
                    .send(),
            )
            .unwrap();
        out.task_definition()
            .unwrap()
            .task_definition_arn()
            .unwrap()
            .to_string()
    }

    fn deploy_logged(&self, release: &[&str], extra: &[&str]) -> Output {
        self.cmd()
            .env("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", standins().moto)
            .args(["deploy", "--cluster", "prod", "--interval", "200ms"])
            .args(["--output", "json"])
            .args(release.iter().chain(extra).copied())
            .github_actions()
            .run()
    }

    /// One-off tasks take `seconds` (emulated) to run.
    fn run_task_takes(&self, seconds: u32) {
        let text = SCENARIO.replace(
            "duration_seconds: 4,",
            &format!("duration_seconds: {seconds},"),
        );
        self.emulator.set_scenario(Scenario::parse(&text).unwrap());
    }
}

/// Plays the awslogs driver until dropped: every task of cluster `prod` gets [`LINES`] in its
/// stream, written as soon as the task shows.
struct LogWriter {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<usize>>,
}

impl LogWriter {
    fn start(e: &Env, group: &str) -> LogWriter {
        let stop = Arc::new(AtomicBool::new(false));
        let (flag, url, group) = (stop.clone(), e.emulator.url(), group.to_string());
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let ecs =
                rt.block_on(async { Client::new(&test_support::sdk_config(&url, None).await) });
            let logs = logs_client(&rt);
            let mut done = HashSet::new();
            while !flag.load(Ordering::Relaxed) {
                for status in [DesiredStatus::Running, DesiredStatus::Stopped] {
                    let listed = rt.block_on(
                        ecs.list_tasks()
                            .cluster("prod")
                            .desired_status(status)
                            .send(),
                    );
                    for arn in listed.map(|o| o.task_arns().to_vec()).unwrap_or_default() {
                        let id = arn.rsplit('/').next().unwrap().to_string();
                        if done.insert(id.clone()) {
                            rt.block_on(write_lines(&logs, &group, &format!("ecs/app/{id}")));
                        }
                    }
                }
                std::thread::sleep(Duration::from_millis(30));
            }
            done.len()
        });
        LogWriter {
            stop,
            thread: Some(thread),
        }
    }

    /// Stop; how many task streams were written.
    fn finish(mut self) -> usize {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().unwrap().join().unwrap()
    }
}

impl Drop for LogWriter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

async fn write_lines(logs: &aws_sdk_cloudwatchlogs::Client, group: &str, stream: &str) {
    use aws_sdk_cloudwatchlogs::types::InputLogEvent;
    logs.create_log_stream()
        .log_group_name(group)
        .log_stream_name(stream)
        .send()
        .await
        .unwrap();
    let now = jiff::Timestamp::now().as_millisecond();
    let events = LINES.iter().enumerate().map(|(i, l)| {
        InputLogEvent::builder()
            .timestamp(now + i as i64)
            .message(*l)
            .build()
            .unwrap()
    });
    logs.put_log_events()
        .log_group_name(group)
        .log_stream_name(stream)
        .set_log_events(Some(events.collect()))
        .send()
        .await
        .unwrap();
}

fn create_group(e: &Env) -> String {
    let group = format!("/ecs/{}", unique("web"));
    let logs = logs_client(&e.rt);
    e.rt.block_on(logs.create_log_group().log_group_name(&group).send())
        .unwrap();
    group
}

/// Every line is on stderr neutralised, and no workflow command but core's own got through.
fn assert_lines_shown_safely(out: &Output, prefix: &str) {
    for cmd in dk_core::gha::runner_commands(&out.stderr) {
        let name = dk_core::gha::command_name(&cmd);
        assert!(
            ["add-mask", "group", "endgroup", "error", "warning"].contains(&name),
            "foreign workflow command: {cmd}"
        );
    }
    assert!(!out.stderr.contains("##[cmd]"));
    for want in [
        "starting up",
        "\\x3a:set-output name=result::succeeded",
        "half",
        "\\x3a:add-mask::visible",
        "ERROR: relation \"users\" already exists",
    ] {
        assert!(
            out.stderr.contains(&format!("{prefix}{want}")),
            "missing `{prefix}{want}` in\n{}",
            out.stderr
        );
    }
}

/// A migration that exits non-zero shows its container's last log lines (stderr, the JSON
/// detail and the summary), neutralised; `--migrate-logs` streamed them while it ran.
#[test]
fn failed_migration_shows_its_last_log_lines() {
    let e = env();
    e.run_task_takes(200);
    let group = create_group(&e);
    let v1 = e.register_logged("web", "app:v1", &group);
    e.create_service("web", &v1, 1, breaker(true));
    let writer = LogWriter::start(&e, &group);
    let out = e.deploy_logged(
        &["--service", "web", "--image", "app=app:v2"],
        &[
            "--migrate-command",
            r#"["bin/migrate", "--fail"]"#,
            "--migrate-logs",
        ],
    );
    assert!(writer.finish() >= 2, "the migration's task was seen");
    out.assert_code(1).assert_no_panic();
    assert_eq!(out.json()["result"], "failed", "{}", out.stderr);
    assert!(
        out.stderr.contains("migration log: following"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("migration log: last 6 line(s)"),
        "{}",
        out.stderr
    );
    assert_lines_shown_safely(&out, "migration | ");
    let tail = &out.json()["detail"]["migration"]["log_tail"];
    // Six: the runner splits the `\r` event in two, so it is shown as two lines.
    assert_eq!(tail.as_array().map(Vec::len), Some(6), "{tail}");
    assert_eq!(tail[5], "ERROR: relation \"users\" already exists");
    assert!(out.summary.contains("**Migration log**"), "{}", out.summary);
    assert!(
        out.summary.contains("    ERROR: relation"),
        "{}",
        out.summary
    );
}

/// A log group that does not exist is one line, and the migration's verdict stands (exit 1).
#[test]
fn missing_log_group_is_one_line() {
    let e = env();
    let v1 = e.register_logged("web", "app:v1", "/ecs/never-created");
    e.create_service("web", &v1, 1, breaker(true));
    let out = e.deploy_logged(
        &["--service", "web", "--image", "app=app:v2"],
        &["--migrate-command", r#"["bin/migrate", "--fail"]"#],
    );
    out.assert_code(1).assert_no_panic();
    assert_eq!(out.json()["result"], "failed");
    let notes: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains("migration log"))
        .collect();
    assert_eq!(notes.len(), 1, "{}", out.stderr);
    assert!(notes[0].contains("does not exist"), "{}", notes[0]);
    assert!(out.json()["detail"]["migration"].get("log_tail").is_none());
}

/// A crash-looping deployment (rolled back) shows its stopped tasks' last lines.
#[test]
fn crash_looping_deployment_shows_its_tasks_last_lines() {
    let e = env();
    let group = create_group(&e);
    let v1 = e.register_logged("web", "app:v1", &group);
    e.create_service("web", &v1, 1, breaker(true));
    let writer = LogWriter::start(&e, &group);
    let out = e.deploy_logged(
        &["--service", "web", "--image", "app=app:crash"],
        &["--timeout", "60s"],
    );
    writer.finish();
    out.assert_code(1).assert_no_panic();
    assert_eq!(out.json()["result"], "rolled_back", "{}", out.stderr);
    assert!(out.stderr.contains("log line(s) of task"), "{}", out.stderr);
    assert_lines_shown_safely(&out, "app | ");
    // The writer may miss a task that lived only between two of its polls: at least one of
    // the stopped tasks ecs-roll read has its tail kept.
    let tasks = &out.json()["detail"]["services"][0]["wait"]["stopped_tasks"];
    let tails: Vec<&Value> = tasks
        .as_array()
        .unwrap()
        .iter()
        .map(|t| &t["containers"][0]["log_tail"])
        .filter(|t| !t.is_null())
        .collect();
    assert!(!tails.is_empty(), "{tasks}");
    assert_eq!(
        tails[0][5], "ERROR: relation \"users\" already exists",
        "{tasks}"
    );
}
