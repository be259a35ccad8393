//! The `awslogs` log driver for process-mode tasks (service and one-off): a container whose task
//! definition says `logDriver: awslogs` has its process's stdout and stderr written to CloudWatch Logs
//! (moto, `processes.cloudwatch_logs_url`) under the stream ECS names
//! `awslogs-stream-prefix/container-name/task-id`, where `dk_core::task_logs` reads it.
//!
//! As on ECS the stream is created before the container starts: a log group that does not
//! exist stops the task before it runs (`ResourceInitializationError: failed to validate logger
//! args…`) unless `awslogs-create-group` is `true`, which creates it.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Child;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::http_client::{self, AwsError};

/// The stopped reason when the log group is missing (the agent's wording, as ECS reports it).
const MISSING_GROUP: &str = "ResourceInitializationError: failed to validate logger args: create stream has been retried 1 times: failed to create Cloudwatch log stream: ResourceNotFoundException: The specified log group does not exist. : exit status 1";
/// One event's message is capped (CloudWatch's limit is 256 KiB per event).
const MAX_MESSAGE: usize = 16 * 1024;
/// Events per PutLogEvents call (the API's limit is 10,000).
pub const MAX_BATCH: usize = 1000;

/// Where one container's output goes.
#[derive(Debug, Clone, PartialEq)]
pub struct LogTarget {
    pub endpoint: String,
    pub group: String,
    pub stream: String,
    pub create_group: bool,
}

/// The target of `container` (a `containerDefinitions[]` entry) of task `task_id`: `None`
/// when it does not log with awslogs, has no stream prefix (its stream would be named after
/// a Docker container id), or no endpoint is configured.
pub fn target(container: &Value, task_id: &str, endpoint: Option<&str>) -> Option<LogTarget> {
    let config = container.get("logConfiguration")?;
    if config.get("logDriver")?.as_str()? != "awslogs" {
        return None;
    }
    let option = |k: &str| {
        config
            .get("options")
            .and_then(|o| o.get(k))
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
    };
    let name = container.get("name")?.as_str()?;
    Some(LogTarget {
        endpoint: endpoint?.to_string(),
        group: option("awslogs-group")?.to_string(),
        stream: format!("{}/{name}/{task_id}", option("awslogs-stream-prefix")?),
        create_group: option("awslogs-create-group") == Some("true"),
    })
}

async fn call(target: &LogTarget, operation: &str, body: Value) -> Result<Value, AwsError> {
    http_client::aws_json(
        &target.endpoint,
        &format!("Logs_20140328.{operation}"),
        "logs",
        &body,
    )
    .await
}

fn is(e: &AwsError, code: &str) -> bool {
    e.code.as_deref() == Some(code)
}

/// Creates the stream (and the group when allowed) before the container starts; `Err` is the
/// task's stopped reason.
pub async fn open(target: &LogTarget) -> Result<(), String> {
    let stream = json!({"logGroupName": target.group, "logStreamName": target.stream});
    match call(target, "CreateLogStream", stream.clone()).await {
        Ok(_) => return Ok(()),
        Err(e) if is(&e, "ResourceAlreadyExistsException") => return Ok(()),
        Err(e) if is(&e, "ResourceNotFoundException") && !target.create_group => {
            return Err(MISSING_GROUP.to_string());
        }
        Err(e) if is(&e, "ResourceNotFoundException") => {}
        Err(e) => return Err(logger_error(&e)),
    }
    match call(
        target,
        "CreateLogGroup",
        json!({"logGroupName": target.group}),
    )
    .await
    {
        Ok(_) => {}
        Err(e) if is(&e, "ResourceAlreadyExistsException") => {}
        Err(e) => return Err(logger_error(&e)),
    }
    call(target, "CreateLogStream", stream)
        .await
        .map(|_| ())
        .map_err(|e| logger_error(&e))
}

fn logger_error(e: &AwsError) -> String {
    format!(
        "ResourceInitializationError: failed to validate logger args: failed to create Cloudwatch log stream: {}",
        e.message
    )
}

/// Writes `lines` (in order, one event each, timestamped `at_ms`) to the stream. A refused
/// write loses those lines, as the driver does when CloudWatch refuses; the task goes on.
pub async fn put(target: &LogTarget, lines: &[String], at_ms: i64) -> Result<(), String> {
    for chunk in lines.chunks(MAX_BATCH) {
        let events: Vec<Value> = chunk
            .iter()
            .map(|l| json!({"timestamp": at_ms, "message": capped(l)}))
            .collect();
        let body = json!({
            "logGroupName": target.group,
            "logStreamName": target.stream,
            "logEvents": events,
        });
        call(target, "PutLogEvents", body)
            .await
            .map_err(|e| e.message)?;
    }
    Ok(())
}

fn capped(line: &str) -> &str {
    if line.len() <= MAX_MESSAGE {
        return line;
    }
    let mut end = MAX_MESSAGE;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    &line[..end]
}

/// How long the output pipes may stay open after the process exited (a grandchild holding
/// them).
const DRAIN: Duration = Duration::from_secs(2);
/// How long the last log lines may take to be written. Docker's awslogs driver flushes what
/// it holds when the container stops, however slow CloudWatch Logs answers; this bound is only
/// against an endpoint that never answers, and generous because a loaded CI machine can make
/// the moto server take seconds per PutLogEvents.
const SHIP_DRAIN: Duration = Duration::from_secs(15);

/// The target of container `index` of a task definition's `body` (see [`target`]).
pub fn target_of(
    body: &serde_json::Map<String, Value>,
    index: usize,
    task_id: &str,
    endpoint: Option<&str>,
) -> Option<LogTarget> {
    let container = body.get("containerDefinitions")?.get(index)?;
    target(container, task_id, endpoint)
}

/// A container's output being read line by line and, with a target, written to CloudWatch Logs.
pub struct Output {
    readers: Vec<JoinHandle<()>>,
    shipper: Option<JoinHandle<()>>,
}

impl Output {
    /// Takes the child's piped stdout and stderr (none: nothing to read) and ships what they
    /// write to `logs`.
    pub fn capture(child: &mut Child, logs: Option<LogTarget>) -> Output {
        let (lines, received) = mpsc::unbounded_channel();
        let mut readers = Vec::new();
        if let Some(out) = child.stdout.take() {
            readers.push(tokio::spawn(read_lines(out, lines.clone())));
        }
        if let Some(err) = child.stderr.take() {
            readers.push(tokio::spawn(read_lines(err, lines.clone())));
        }
        drop(lines);
        let shipper = logs.map(|target| tokio::spawn(ship(target, received)));
        Output { readers, shipper }
    }

    /// After the process exited: the last lines read and written, each wait bounded.
    pub async fn drain(self) {
        for reader in self.readers {
            bounded(reader, DRAIN).await;
        }
        if let Some(shipper) = self.shipper {
            bounded(shipper, SHIP_DRAIN).await;
        }
    }
}

/// Waits for `task` at most `limit`, then aborts it.
async fn bounded(task: JoinHandle<()>, limit: Duration) {
    let abort = task.abort_handle();
    if tokio::time::timeout(limit, task).await.is_err() {
        abort.abort();
    }
}

/// Each line of `output` (lossy UTF-8, without its line break) into `lines`.
async fn read_lines(output: impl AsyncRead + Unpin, lines: mpsc::UnboundedSender<String>) {
    let mut reader = BufReader::new(output);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                let text = String::from_utf8_lossy(&line);
                let _ = lines.send(text.trim_end_matches(['\n', '\r']).to_string());
            }
        }
    }
}

/// Writes the lines as they come, in batches, until every reader is done.
async fn ship(target: LogTarget, mut received: mpsc::UnboundedReceiver<String>) {
    let mut batch = Vec::new();
    while received.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let now_ms = epoch_ms();
        if let Err(e) = put(&target, &batch, now_ms).await {
            eprintln!(
                "ecs-emulator: awslogs: {} line(s) for {}/{} lost: {e}",
                batch.len(),
                target.group,
                target.stream
            );
        }
        batch.clear();
    }
}

/// Milliseconds since the epoch (CloudWatch event timestamps).
fn epoch_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(log: Value) -> Value {
        json!({"name": "web", "image": "i", "logConfiguration": log})
    }

    /// The stream ECS names; no target without awslogs, a prefix, a group or an endpoint.
    #[test]
    fn targets() {
        let log = json!({"logDriver": "awslogs", "options": {
            "awslogs-group": "/ecs/web", "awslogs-stream-prefix": "ecs", "awslogs-region": "us-east-1"}});
        let t = target(&container(log.clone()), "abc", Some("http://127.0.0.1:1")).unwrap();
        assert_eq!(t.group, "/ecs/web");
        assert_eq!(t.stream, "ecs/web/abc");
        assert!(!t.create_group);
        assert!(target(&container(log.clone()), "abc", None).is_none());
        let mut no_prefix = log.clone();
        no_prefix["options"]
            .as_object_mut()
            .unwrap()
            .remove("awslogs-stream-prefix");
        assert!(target(&container(no_prefix), "abc", Some("http://x")).is_none());
        let mut other = log.clone();
        other["logDriver"] = json!("json-file");
        assert!(target(&container(other), "abc", Some("http://x")).is_none());
        let mut create = log;
        create["options"]["awslogs-create-group"] = json!("true");
        assert!(
            target(&container(create), "abc", Some("http://x"))
                .unwrap()
                .create_group
        );
        assert!(target(&json!({"name": "web"}), "abc", Some("http://x")).is_none());
    }

    /// Long lines are cut on a character boundary.
    #[test]
    fn long_lines_are_capped() {
        let line = "é".repeat(MAX_MESSAGE);
        let cut = capped(&line);
        assert!(cut.len() <= MAX_MESSAGE && cut.len() >= MAX_MESSAGE - 1);
        assert_eq!(capped("short"), "short");
    }
}
