//! The scenario: how each container image behaves when the emulator "runs" it.
//!
//! There are no containers here, so whether a rollout succeeds is decided by the image string:
//! an exact match first, then the first glob (`*` matches any run of characters) in file order,
//! then `default`. Tests and demos write a scenario to stage a healthy rollout, a crash loop, an
//! image that cannot be pulled, or a task that never passes its health check.

use serde::{Deserialize, Serialize};

use crate::patterns::{glob_matches, ordered_map};

/// Default emulated seconds per real second.
pub const DEFAULT_TIME_SCALE: f64 = 20.0;

/// The whole scenario file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Emulated seconds per real second for the background clock.
    #[serde(default = "default_time_scale")]
    pub time_scale: f64,
    /// When true the clock moves only through `POST /_emulator/advance`.
    #[serde(default)]
    pub manual_clock: bool,
    /// Behaviour of images that match nothing in `images`.
    #[serde(default)]
    pub default: ImageBehavior,
    /// Behaviour per image: exact image strings or globs such as `*:bad`. Order matters for
    /// globs, so this is a list of pairs (YAML/JSON maps keep their order when parsed).
    #[serde(default, with = "ordered_map")]
    pub images: Vec<(String, ImageBehavior)>,
    /// One-off tasks started by RunTask.
    #[serde(default)]
    pub run_task: RunTaskBehavior,
    /// Seed for ids, so runs with the manual clock are reproducible. Random when absent.
    #[serde(default)]
    pub seed: Option<u64>,
    /// Stale reads after UpdateService (off by default): ECS is eventually consistent.
    #[serde(default)]
    pub eventual_consistency: Consistency,
    /// Deployment alarms: emulated seconds a deployment bakes (alarms still watched) after its
    /// tasks are in place, before it is COMPLETED. AWS computes this from the alarms; default 0.
    #[serde(default)]
    pub alarm_bake_seconds: f64,
    /// Tasks launched by a rollback deployment behave like this, whatever their image (for
    /// example `fail_to_start`: the rollback target cannot start either → ROLLBACK_FAILED).
    #[serde(default)]
    pub rollback_tasks: Option<ImageBehavior>,
    /// Process mode (off when absent): matching images run as real local processes behind a
    /// loopback load balancer (`process_config.rs`, README "Process mode").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processes: Option<crate::process_config::ProcessMode>,
}

/// How long reads lag behind an UpdateService. All zero/false (the default) is consistent.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Consistency {
    /// DescribeServices shows each service as it was before its last UpdateService.
    #[serde(default)]
    pub describe_services: StaleWindow,
    /// The UpdateService response shows the service as it was before the call.
    #[serde(default)]
    pub update_service_response: bool,
}

/// A stale window: the next `calls` reads of the service, and every read during `seconds`
/// emulated seconds after the update, see the old service (whichever lasts longer).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StaleWindow {
    #[serde(default)]
    pub calls: u32,
    #[serde(default)]
    pub seconds: f64,
}

impl StaleWindow {
    pub fn is_on(&self) -> bool {
        self.calls > 0 || self.seconds > 0.0
    }
}

fn default_time_scale() -> f64 {
    DEFAULT_TIME_SCALE
}

impl Default for Scenario {
    fn default() -> Self {
        Scenario {
            time_scale: DEFAULT_TIME_SCALE,
            manual_clock: false,
            default: ImageBehavior::default(),
            images: Vec::new(),
            run_task: RunTaskBehavior::default(),
            seed: None,
            eventual_consistency: Consistency::default(),
            alarm_bake_seconds: 0.0,
            rollback_tasks: None,
            processes: None,
        }
    }
}

/// What a task running this image does.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ImageBehavior {
    pub behavior: BehaviorKind,
    /// Seconds from launch until the task is RUNNING (or, for `fail_to_start`, STOPPED).
    #[serde(default = "default_start_seconds")]
    pub start_seconds: f64,
    /// Seconds after RUNNING until the task counts as healthy. ECS counts a task without a
    /// load balancer or container health check as healthy 40 s after RUNNING.
    #[serde(default = "default_healthy_after_seconds")]
    pub healthy_after_seconds: f64,
    /// `crash`: seconds after RUNNING until the essential container exits.
    #[serde(default = "default_after_seconds")]
    pub after_seconds: f64,
    /// `crash`: the container's exit code.
    #[serde(default = "default_crash_exit_code")]
    pub exit_code: i32,
    /// `fail_to_start`: the stoppedReason.
    #[serde(default = "default_pull_reason")]
    pub reason: String,
    /// `never_healthy`: seconds after RUNNING until the scheduler gives up on the task.
    #[serde(default = "default_unhealthy_after_seconds")]
    pub unhealthy_after_seconds: f64,
    /// Seconds a task takes to stop once asked (SIGTERM to exit).
    #[serde(default = "default_stop_seconds")]
    pub stop_seconds: f64,
}

fn default_start_seconds() -> f64 {
    5.0
}
fn default_healthy_after_seconds() -> f64 {
    40.0
}
fn default_after_seconds() -> f64 {
    10.0
}
fn default_crash_exit_code() -> i32 {
    1
}
fn default_pull_reason() -> String {
    "CannotPullContainerError: pull image manifest has been retried 1 time(s): failed to resolve ref: not found".to_string()
}
fn default_unhealthy_after_seconds() -> f64 {
    30.0
}
fn default_stop_seconds() -> f64 {
    2.0
}

impl Default for ImageBehavior {
    fn default() -> Self {
        ImageBehavior::of(BehaviorKind::Healthy)
    }
}

impl ImageBehavior {
    /// A behaviour with every timing at its default.
    pub fn of(behavior: BehaviorKind) -> Self {
        ImageBehavior {
            behavior,
            start_seconds: default_start_seconds(),
            healthy_after_seconds: default_healthy_after_seconds(),
            after_seconds: default_after_seconds(),
            exit_code: default_crash_exit_code(),
            reason: default_pull_reason(),
            unhealthy_after_seconds: default_unhealthy_after_seconds(),
            stop_seconds: default_stop_seconds(),
        }
    }

    /// Negative or non-finite durations would make a task go back in time; treat them as 0.
    fn sanitised(mut self) -> Self {
        for v in [
            &mut self.start_seconds,
            &mut self.healthy_after_seconds,
            &mut self.after_seconds,
            &mut self.unhealthy_after_seconds,
            &mut self.stop_seconds,
        ] {
            if !v.is_finite() || *v < 0.0 {
                *v = 0.0;
            }
        }
        self
    }
}

/// The behaviours an image can have.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum BehaviorKind {
    /// Starts, turns healthy, keeps running.
    Healthy,
    /// Starts, runs `after_seconds`, then the essential container exits with `exit_code`.
    Crash,
    /// Never reaches RUNNING: stopped with TaskFailedToStart and `reason`.
    FailToStart,
    /// Reaches RUNNING but fails its health checks and is replaced.
    NeverHealthy,
}

/// How one-off tasks (RunTask) end.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RunTaskBehavior {
    /// Seconds a one-off task stays RUNNING before its essential container exits.
    #[serde(default = "default_run_duration")]
    pub duration_seconds: f64,
    /// Exit code when no `command_exit_codes` entry matches.
    #[serde(default)]
    pub exit_code: i32,
    /// A command (joined with spaces) containing the key exits with the value.
    #[serde(default, with = "ordered_map")]
    pub command_exit_codes: Vec<(String, i32)>,
}

fn default_run_duration() -> f64 {
    5.0
}

impl Default for RunTaskBehavior {
    fn default() -> Self {
        RunTaskBehavior {
            duration_seconds: default_run_duration(),
            exit_code: 0,
            command_exit_codes: Vec::new(),
        }
    }
}

impl RunTaskBehavior {
    /// The exit code of a one-off container running `command`.
    pub fn exit_code_for(&self, command: &[String]) -> i32 {
        let joined = command.join(" ");
        self.command_exit_codes
            .iter()
            .find(|(needle, _)| joined.contains(needle.as_str()))
            .map_or(self.exit_code, |(_, code)| *code)
    }
}

/// Why a scenario was refused.
#[derive(Debug)]
pub struct ScenarioError(pub String);

impl std::fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ScenarioError {}

impl Scenario {
    /// Parses YAML or JSON (JSON is YAML, so one parser reads both).
    pub fn parse(text: &str) -> Result<Scenario, ScenarioError> {
        let scenario: Scenario = if text.trim().is_empty() {
            Scenario::default()
        } else {
            serde_yaml_ng::from_str(text)
                .map_err(|e| ScenarioError(format!("invalid scenario: {e}")))?
        };
        scenario.validated()
    }

    /// Reads and parses a scenario file.
    pub fn from_file(path: &std::path::Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ScenarioError(format!("cannot read scenario {}: {e}", path.display())))?;
        Scenario::parse(&text).map_err(|e| ScenarioError(format!("{}: {}", path.display(), e.0)))
    }

    /// Checks values serde cannot, and clamps durations so no input can misbehave later.
    pub fn validated(mut self) -> Result<Scenario, ScenarioError> {
        if !self.time_scale.is_finite() || self.time_scale <= 0.0 || self.time_scale > 1_000_000.0 {
            return Err(ScenarioError(format!(
                "invalid scenario: time_scale must be a number above 0 and at most 1000000, got {}",
                self.time_scale
            )));
        }
        self.default = self.default.sanitised();
        self.images = self
            .images
            .into_iter()
            .map(|(k, v)| (k, v.sanitised()))
            .collect();
        self.rollback_tasks = self.rollback_tasks.map(ImageBehavior::sanitised);
        if let Some(mode) = self.processes.take() {
            let mode = mode
                .validated()
                .map_err(|e| ScenarioError(format!("invalid scenario: {e}")))?;
            self.processes = Some(mode);
        }
        if !self.alarm_bake_seconds.is_finite() || self.alarm_bake_seconds < 0.0 {
            self.alarm_bake_seconds = 0.0;
        }
        let window = &mut self.eventual_consistency.describe_services;
        if !window.seconds.is_finite() || window.seconds < 0.0 {
            window.seconds = 0.0;
        }
        if !self.run_task.duration_seconds.is_finite() || self.run_task.duration_seconds < 0.0 {
            self.run_task.duration_seconds = 0.0;
        }
        Ok(self)
    }

    /// The behaviour of `image`: exact match, then the first matching glob, then `default`.
    pub fn behavior_for(&self, image: &str) -> &ImageBehavior {
        if let Some((_, b)) = self.images.iter().find(|(k, _)| k == image) {
            return b;
        }
        if let Some((_, b)) = self
            .images
            .iter()
            .find(|(k, _)| k.contains('*') && glob_matches(k, image))
        {
            return b;
        }
        &self.default
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
time_scale: 20
default: { behavior: healthy }
images:
  "web:v1":  { behavior: healthy, start_seconds: 5, healthy_after_seconds: 5 }
  "web:crash": { behavior: crash, after_seconds: 10, exit_code: 137 }
  "web:nopull": { behavior: fail_to_start, reason: "CannotPullContainerError: ref not found" }
  "web:sick": { behavior: never_healthy }
  "*:bad": { behavior: crash }
  "*@sha256:*": { behavior: never_healthy }
run_task:
  duration_seconds: 5
  exit_code: 0
  command_exit_codes: { "fail": 3 }
"#;

    /// The example from the issue parses and matches exact names before globs.
    #[test]
    fn example_scenario_parses_and_matches() {
        let s = Scenario::parse(EXAMPLE).unwrap();
        assert_eq!(s.time_scale, 20.0);
        assert_eq!(s.behavior_for("web:v1").healthy_after_seconds, 5.0);
        assert_eq!(s.behavior_for("web:crash").exit_code, 137);
        assert_eq!(s.behavior_for("api:bad").behavior, BehaviorKind::Crash);
        assert_eq!(
            s.behavior_for("repo/x@sha256:abc").behavior,
            BehaviorKind::NeverHealthy
        );
        assert_eq!(s.behavior_for("other:v9").behavior, BehaviorKind::Healthy);
        assert_eq!(
            s.run_task
                .exit_code_for(&["sh".into(), "-c".into(), "fail now".into()]),
            3
        );
        assert_eq!(s.run_task.exit_code_for(&["migrate".into()]), 0);
    }

    /// The example shipped with the crate stays valid.
    #[test]
    fn shipped_example_parses() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/example.yaml");
        let s = Scenario::from_file(&path).unwrap();
        assert_eq!(s.behavior_for("api:bad").behavior, BehaviorKind::Crash);
    }

    /// JSON is accepted as well as YAML.
    #[test]
    fn json_scenario_parses() {
        let s = Scenario::parse(r#"{"time_scale": 100, "images": {"a": {"behavior": "crash"}}}"#)
            .unwrap();
        assert_eq!(s.time_scale, 100.0);
        assert_eq!(s.behavior_for("a").behavior, BehaviorKind::Crash);
    }

    /// Typos and impossible values are refused with a message, not ignored.
    #[test]
    fn bad_scenarios_are_refused() {
        assert!(Scenario::parse("time_scale: 0").is_err());
        assert!(Scenario::parse("images: {a: {behavior: explode}}").is_err());
        assert!(Scenario::parse("tme_scale: 3").is_err());
        assert!(Scenario::parse("[1, 2").is_err());
    }

    #[test]
    fn negative_durations_become_zero() {
        let s = Scenario::parse("default: {behavior: healthy, start_seconds: -4}").unwrap();
        assert_eq!(s.default.start_seconds, 0.0);
    }

    #[test]
    fn globs() {
        assert!(glob_matches("*:bad", "web:bad"));
        assert!(!glob_matches("*:bad", "web:badder"));
        assert!(glob_matches("*@sha256:*", "r/web@sha256:00"));
        assert!(glob_matches("*", ""));
        assert!(glob_matches("a*b*c", "aXbYc"));
        assert!(!glob_matches("a*b*c", "aXcYb"));
        assert!(glob_matches("ab", "ab"));
        assert!(!glob_matches("a*a", "a"));
    }
}
