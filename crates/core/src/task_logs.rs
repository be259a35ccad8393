//! The failed tasks' own logs: what a user would otherwise open CloudWatch for. ecs-roll shows a
//! failed migration's last lines (and follows the migration live with `--migrate-logs`);
//! wait-stable, and ecs-roll through it, show a crash-looping deployment's stopped tasks' last
//! lines.
//!
//! A container logs to CloudWatch Logs when its task definition says `logDriver: awslogs`; its
//! options name the group (`awslogs-group`), the region (`awslogs-region`, else the caller's) and
//! the stream prefix (`awslogs-stream-prefix`). ECS then writes to the stream
//! `prefix/container-name/task-id`. Without a prefix the stream is named after the Docker
//! container id, which ECS does not report: that is a note, as is a missing group or stream
//! (nothing logged yet, or expired) and a refused GetLogEvents — reading logs is a courtesy and
//! never fails a run.
//!
//! Paging: the last lines come from GetLogEvents with `startFromHead=false`, going back with
//! `nextBackwardToken` until enough lines are in or the token comes back unchanged (the end, by
//! the API's contract); following goes forward with `nextForwardToken` the same way. Every line
//! is third-party text: split as the runner splits, neutralised and capped
//! ([`crate::untrusted`]) before it leaves this module.

use std::collections::{HashMap, VecDeque};

use aws_config::SdkConfig;
use aws_sdk_cloudwatchlogs::Client;
use aws_sdk_cloudwatchlogs::config::Region;

use crate::aws::error_code;
use crate::ecs::last_segment;
use crate::untrusted::{neutralise_capped, split_lines};

/// Cap per log line shown.
pub const LOG_LINE_LIMIT: usize = 512;
/// GetLogEvents pages read for one tail or one follow step.
const MAX_PAGES: usize = 10;
/// The most events one GetLogEvents returns (`limit`'s maximum).
pub const MAX_PAGE_EVENTS: usize = 10_000;

/// Where one container of one task logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogStream {
    pub group: String,
    pub stream: String,
    /// `awslogs-region`; `None`: the caller's region.
    pub region: Option<String>,
}

impl std::fmt::Display for LogStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.group, self.stream)?;
        if let Some(r) = &self.region {
            write!(f, " ({r})")?;
        }
        Ok(())
    }
}

/// The stream a container of a task logs to, from its log driver and options. `Err` is a
/// one-line note saying why there is none to read.
pub fn awslogs_stream(
    container: &str,
    driver: &str,
    options: &HashMap<String, String>,
    task_arn: &str,
) -> Result<LogStream, String> {
    if driver != "awslogs" {
        return Err(format!(
            "container {container} logs with the `{driver}` driver, not awslogs: its lines are not in CloudWatch Logs where ECS names the stream"
        ));
    }
    let group = options
        .get("awslogs-group")
        .filter(|g| !g.is_empty())
        .ok_or_else(|| format!("container {container}: awslogs has no awslogs-group option"))?;
    let prefix = options
        .get("awslogs-stream-prefix")
        .filter(|p| !p.is_empty())
        .ok_or_else(|| {
            format!(
                "container {container} logs to {group} without awslogs-stream-prefix: its stream is named after the Docker container id, which ECS does not report; add a prefix to find it"
            )
        })?;
    Ok(LogStream {
        group: group.clone(),
        stream: format!("{prefix}/{container}/{}", last_segment(task_arn)),
        region: options.get("awslogs-region").cloned(),
    })
}

/// The stream of `container` in a task of `task_definition` (ARN or family:revision), read with
/// DescribeTaskDefinition. `Err` is a one-line note.
pub async fn stream_of(
    ecs: &aws_sdk_ecs::Client,
    task_definition: &str,
    container: &str,
    task_arn: &str,
) -> Result<LogStream, String> {
    let out = ecs
        .describe_task_definition()
        .task_definition(task_definition)
        .send()
        .await
        .map_err(|e| {
            format!(
                "no logs: cannot read task definition {task_definition} ({})",
                error_code(&e).unwrap_or("unreachable")
            )
        })?;
    let def = out
        .task_definition()
        .and_then(|td| {
            td.container_definitions()
                .iter()
                .find(|c| c.name() == Some(container))
        })
        .ok_or_else(|| format!("no logs: container {container} is not in {task_definition}"))?;
    let Some(config) = def.log_configuration() else {
        return Err(format!(
            "container {container} has no logConfiguration: its output is not kept"
        ));
    };
    let options = config.options().cloned().unwrap_or_default();
    awslogs_stream(container, config.log_driver().as_str(), &options, task_arn)
}

/// A log event as safe lines: split as the runner splits, each neutralised and capped.
pub fn safe_lines(message: &str) -> Vec<String> {
    split_lines(message.trim_end_matches(['\n', '\r']))
        .into_iter()
        .map(|l| neutralise_capped(l, LOG_LINE_LIMIT))
        .collect()
}

/// What reading a stream gave: lines, or a one-line note saying why there are none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogRead {
    Lines(Vec<String>),
    Note(String),
}

/// A tail's heading from its line count and its stream (`group/stream`).
pub type TailHeading<'a> = &'a dyn Fn(usize, &str) -> String;

/// How one tool shows log lines to people: a heading before a tail, a prefix per line, a prefix
/// for a note.
pub struct TailLabels<'a> {
    /// The heading before a tail; none for lines that continue a followed stream.
    pub heading: Option<TailHeading<'a>>,
    /// Put before every line (`"migration | "`).
    pub line: &'a str,
    /// Put before a note (`"migration log: "`).
    pub note: &'a str,
}

impl LogRead {
    /// Print what was read from `stream` (already safe lines, see [`safe_lines`]) as `labels`
    /// say; the lines, to keep in an outcome (none after a note).
    pub fn show(
        self,
        ui: &crate::Ui,
        stream: Option<&LogStream>,
        labels: &TailLabels,
    ) -> Vec<String> {
        match self {
            LogRead::Lines(lines) => {
                if let Some(heading) = labels.heading {
                    let from = stream.map(|s| s.to_string()).unwrap_or_default();
                    ui.info(&heading(lines.len(), &from));
                }
                for l in &lines {
                    ui.info(&format!("{}{l}", labels.line));
                }
                lines
            }
            LogRead::Note(note) => {
                ui.info(&format!("{}{note}", labels.note));
                Vec::new()
            }
        }
    }
}

/// CloudWatch Logs for the tools, from the same `SdkConfig` as every other client: endpoint
/// variables (`AWS_ENDPOINT_URL_CLOUDWATCH_LOGS`), credentials and retries included.
#[derive(Debug, Clone)]
pub struct TaskLogs {
    config: SdkConfig,
    default: Client,
}

impl TaskLogs {
    pub fn new(config: &SdkConfig) -> Self {
        TaskLogs {
            config: config.clone(),
            default: Client::new(config),
        }
    }

    fn client(&self, region: Option<&str>) -> Client {
        match region {
            Some(r) if Some(r) != self.config.region().map(|c| c.as_ref()) => {
                let conf = aws_sdk_cloudwatchlogs::config::Builder::from(&self.config)
                    .region(Region::new(r.to_string()))
                    .build();
                Client::from_conf(conf)
            }
            _ => self.default.clone(),
        }
    }

    /// The last `n` lines of a stream (oldest first).
    pub async fn last_lines(&self, s: &LogStream, n: usize) -> LogRead {
        self.last_lines_paged(s, n, n).await
    }

    /// [`TaskLogs::last_lines`] asking at most `page` events of each GetLogEvents (clamped to
    /// 1..=[`MAX_PAGE_EVENTS`]): a page smaller than `n` makes the tail cross page boundaries,
    /// as a stream of more than 10 000 events or a 1 MB page does on AWS.
    pub async fn last_lines_paged(&self, s: &LogStream, n: usize, page: usize) -> LogRead {
        let client = self.client(s.region.as_deref());
        let mut lines: VecDeque<String> = VecDeque::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let resp = client
                .get_log_events()
                .log_group_name(&s.group)
                .log_stream_name(&s.stream)
                .start_from_head(false)
                .limit(page.clamp(1, MAX_PAGE_EVENTS) as i32)
                .set_next_token(token.clone())
                .send()
                .await;
            let out = match resp {
                Ok(out) => out,
                Err(e) => return LogRead::Note(note(s, error_code(&e))),
            };
            // A page is in time order; pages come newest first.
            for event in out.events().iter().rev() {
                for line in safe_lines(event.message().unwrap_or("")).into_iter().rev() {
                    lines.push_front(line);
                }
            }
            let next = out.next_backward_token().map(str::to_owned);
            if lines.len() >= n || next.is_none() || next == token {
                break;
            }
            token = next;
        }
        while lines.len() > n {
            lines.pop_front();
        }
        if lines.is_empty() {
            return LogRead::Note(format!("{s} has no log events"));
        }
        LogRead::Lines(lines.into())
    }

    /// The last `n` lines `container` of a task wrote: its stream read from the task definition,
    /// then its tail. Every reason there are none is a [`LogRead::Note`].
    pub async fn container_tail(
        &self,
        ecs: &aws_sdk_ecs::Client,
        task_definition: &str,
        container: &str,
        task_arn: &str,
        n: usize,
    ) -> (Option<LogStream>, LogRead) {
        match stream_of(ecs, task_definition, container, task_arn).await {
            Ok(stream) => {
                let read = self.last_lines(&stream, n).await;
                (Some(stream), read)
            }
            Err(note) => (None, LogRead::Note(note)),
        }
    }

    /// Follow a stream from its start: each call returns the lines written since the last.
    pub fn follow(&self, s: LogStream) -> Follower {
        Follower {
            client: self.client(s.region.as_deref()),
            stream: s,
            token: None,
            denied: false,
        }
    }
}

/// The one-line note for a stream that cannot be read.
fn note(s: &LogStream, code: Option<&str>) -> String {
    match code {
        Some("ResourceNotFoundException") => format!(
            "no logs: {s} does not exist (nothing logged yet, the group was deleted, or retention expired)"
        ),
        Some(c) if c.contains("AccessDenied") => format!(
            "no logs: reading {s} was refused ({c}); grant logs:GetLogEvents on the group to see the task's last lines"
        ),
        Some(c) => format!("no logs: GetLogEvents on {s} failed ({c})"),
        None => format!("no logs: CloudWatch Logs could not be reached for {s}"),
    }
}

/// A stream followed forward (`--migrate-logs`).
#[derive(Debug)]
pub struct Follower {
    client: Client,
    stream: LogStream,
    token: Option<String>,
    denied: bool,
}

impl Follower {
    pub fn stream(&self) -> &LogStream {
        &self.stream
    }

    /// The lines written since the last call. A stream that does not exist yet (the container
    /// has not started) gives nothing; a refusal gives one note, then nothing.
    pub async fn poll(&mut self) -> LogRead {
        let mut lines = Vec::new();
        for _ in 0..MAX_PAGES {
            if self.denied {
                break;
            }
            let resp = self
                .client
                .get_log_events()
                .log_group_name(&self.stream.group)
                .log_stream_name(&self.stream.stream)
                .start_from_head(true)
                .set_next_token(self.token.clone())
                .send()
                .await;
            let out = match resp {
                Ok(out) => out,
                Err(e) => match error_code(&e) {
                    Some("ResourceNotFoundException") | None => break,
                    code => {
                        self.denied = true;
                        return LogRead::Note(note(&self.stream, code));
                    }
                },
            };
            for event in out.events() {
                lines.extend(safe_lines(event.message().unwrap_or("")));
            }
            let next = out.next_forward_token().map(str::to_owned);
            let at_end = next.is_none() || next == self.token || out.events().is_empty();
            if next.is_some() {
                self.token = next;
            }
            if at_end {
                break;
            }
        }
        LogRead::Lines(lines)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// awslogs with a prefix names `prefix/container/task-id`; everything else is a note that
    /// says why.
    #[test]
    fn stream_names_and_notes() {
        let arn = "arn:aws:ecs:us-east-1:123456789012:task/prod/0123456789abcdef";
        let full = opts(&[
            ("awslogs-group", "/ecs/web"),
            ("awslogs-region", "eu-west-1"),
            ("awslogs-stream-prefix", "ecs"),
        ]);
        let s = awslogs_stream("app", "awslogs", &full, arn).unwrap();
        assert_eq!(s.stream, "ecs/app/0123456789abcdef");
        assert_eq!(s.group, "/ecs/web");
        assert_eq!(s.region.as_deref(), Some("eu-west-1"));
        assert_eq!(
            s.to_string(),
            "/ecs/web/ecs/app/0123456789abcdef (eu-west-1)"
        );
        let no_prefix = opts(&[("awslogs-group", "/ecs/web")]);
        let e = awslogs_stream("app", "awslogs", &no_prefix, arn).unwrap_err();
        assert!(e.contains("awslogs-stream-prefix"), "{e}");
        assert!(
            awslogs_stream("app", "awsfirelens", &full, arn)
                .unwrap_err()
                .contains("awsfirelens")
        );
        assert!(
            awslogs_stream("app", "awslogs", &opts(&[]), arn)
                .unwrap_err()
                .contains("awslogs-group")
        );
        assert_eq!(last_segment("abc"), "abc");
    }

    /// A hostile log line becomes lines the runner cannot take as commands.
    #[test]
    fn log_lines_are_neutralised_and_bounded() {
        let lines = safe_lines("ok\r::set-output name=x::y\n##[cmd]evil\r\n");
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[1], "\\x3a:set-output name=x::y");
        assert!(!lines[2].contains("##["));
        for l in &lines {
            assert!(crate::gha::runner_commands(l).is_empty(), "{l}");
        }
        let long = safe_lines(&"x".repeat(100_000));
        assert!(long[0].len() < LOG_LINE_LIMIT + 40);
    }
}
