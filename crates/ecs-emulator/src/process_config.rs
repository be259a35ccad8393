//! The scenario's `processes:` section: which images run as real local processes, and how the
//! loopback load balancer checks their health. Absent (the default), no process is ever
//! started and every image follows its scenario behaviour.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::patterns::{glob_matches, ordered_map};

/// Process mode: a service task whose container image matches `images` is a real process.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ProcessMode {
    /// Image (exact, or a glob as in `images:`) → the command that "is" that image.
    #[serde(with = "ordered_map")]
    pub images: Vec<(String, ProcessImage)>,
    /// The target group's health check, in real time.
    #[serde(default)]
    pub health_check: HealthCheck,
    /// Secrets Manager endpoint for the task definitions' `secrets` (moto's URL). Without it a
    /// task with secrets cannot start.
    #[serde(default)]
    pub secrets_manager_url: Option<String>,
    /// Real seconds a deregistered (draining) target keeps its in-flight requests before its
    /// process gets SIGTERM.
    #[serde(default = "default_deregistration_delay")]
    pub deregistration_delay_seconds: f64,
    /// Real seconds between SIGTERM and SIGKILL (ECS `stopTimeout`).
    #[serde(default = "default_stop_timeout")]
    pub stop_timeout_seconds: f64,
    /// CloudWatch Logs endpoint (moto's URL): one-off tasks whose container logs with the
    /// `awslogs` driver write their output there (`task_logs.rs`). Without it their output is
    /// not kept.
    #[serde(default)]
    pub cloudwatch_logs_url: Option<String>,
}

/// How an image runs: a command and the environment baked into the image (the task
/// definition's `environment` and `secrets` override it; `PORT` is set by the emulator).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ProcessImage {
    pub command: Vec<String>,
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
    /// Programs in the image: a container whose `command` (task definition, or RunTask's
    /// override) starts with one of these words runs the mapped command instead, with the
    /// command's other words appended (`/app/migrate.sh --dry-run` → `demo-api migrate
    /// --dry-run`). Any other command runs `command`.
    #[serde(default)]
    pub programs: BTreeMap<String, Vec<String>>,
}

impl ProcessImage {
    /// What runs for a container whose command is `container_command` (empty: none given).
    pub fn argv(&self, container_command: &[String]) -> Vec<String> {
        match container_command.split_first() {
            Some((program, rest)) => match self.programs.get(program) {
                Some(mapped) => mapped.iter().chain(rest).cloned().collect(),
                None => self.command.clone(),
            },
            None => self.command.clone(),
        }
    }
}

/// An ALB target group health check, in real seconds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HealthCheck {
    /// GET this path; a 200 passes (ALB's default matcher).
    #[serde(default = "default_path")]
    pub path: String,
    #[serde(default = "default_interval")]
    pub interval_seconds: f64,
    #[serde(default = "default_timeout")]
    pub timeout_seconds: f64,
    /// Consecutive passes before a new target is healthy.
    #[serde(default = "default_healthy_threshold")]
    pub healthy_threshold: u32,
    /// Consecutive failures before a target is unhealthy (and ECS replaces its task).
    #[serde(default = "default_unhealthy_threshold")]
    pub unhealthy_threshold: u32,
    /// Failures are ignored this long after the process starts (the service's
    /// `healthCheckGracePeriodSeconds`).
    #[serde(default = "default_grace")]
    pub grace_seconds: f64,
}

fn default_deregistration_delay() -> f64 {
    0.5
}
fn default_stop_timeout() -> f64 {
    2.0
}
fn default_path() -> String {
    "/health".to_string()
}
fn default_interval() -> f64 {
    0.25
}
fn default_timeout() -> f64 {
    1.0
}
fn default_healthy_threshold() -> u32 {
    2
}
fn default_unhealthy_threshold() -> u32 {
    3
}
fn default_grace() -> f64 {
    10.0
}

impl Default for HealthCheck {
    fn default() -> Self {
        HealthCheck {
            path: default_path(),
            interval_seconds: default_interval(),
            timeout_seconds: default_timeout(),
            healthy_threshold: default_healthy_threshold(),
            unhealthy_threshold: default_unhealthy_threshold(),
            grace_seconds: default_grace(),
        }
    }
}

impl ProcessMode {
    /// The process for `image`: exact match first, then the first matching glob.
    pub fn image(&self, image: &str) -> Option<&ProcessImage> {
        self.images
            .iter()
            .find(|(k, _)| k == image)
            .or_else(|| {
                self.images
                    .iter()
                    .find(|(k, _)| k.contains('*') && glob_matches(k, image))
            })
            .map(|(_, p)| p)
    }

    /// Clamps durations and checks what serde cannot.
    pub fn validated(mut self) -> Result<Self, String> {
        if let Some((image, _)) = self.images.iter().find(|(_, p)| p.command.is_empty()) {
            return Err(format!("processes.images.{image}: command is empty"));
        }
        for (image, p) in &self.images {
            if let Some((program, _)) = p.programs.iter().find(|(_, argv)| argv.is_empty()) {
                return Err(format!(
                    "processes.images.{image}.programs.{program}: command is empty"
                ));
            }
        }
        let h = &mut self.health_check;
        if !h.path.starts_with('/') {
            return Err(format!(
                "processes.health_check.path `{}` must start with /",
                h.path
            ));
        }
        for (v, min) in [
            (&mut h.interval_seconds, 0.05),
            (&mut h.timeout_seconds, 0.05),
            (&mut h.grace_seconds, 0.0),
            (&mut self.deregistration_delay_seconds, 0.0),
            (&mut self.stop_timeout_seconds, 0.0),
        ] {
            if !v.is_finite() || *v < min {
                *v = min;
            }
        }
        h.healthy_threshold = h.healthy_threshold.max(1);
        h.unhealthy_threshold = h.unhealthy_threshold.max(1);
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(yaml: &str) -> Result<ProcessMode, String> {
        serde_yaml_ng::from_str::<ProcessMode>(yaml)
            .map_err(|e| e.to_string())?
            .validated()
    }

    /// Exact images win over globs; unknown images are not processes.
    #[test]
    fn images_match_exact_then_glob() {
        let m = mode(
            r#"
images:
  "*:v3": {command: [crash]}
  "web:v3": {command: [serve], environment: {A: "1"}}
"#,
        )
        .unwrap();
        assert_eq!(m.image("web:v3").unwrap().command, ["serve"]);
        assert_eq!(m.image("api:v3").unwrap().command, ["crash"]);
        assert!(m.image("web:v2").is_none());
        assert_eq!(m.health_check.path, "/health");
    }

    /// A container command naming one of the image's programs runs it with the other words
    /// appended; any other command, or none, runs the image's command.
    #[test]
    fn programs_map_container_commands() {
        let m = mode(
            r#"
images:
  "web:*": {command: [api], programs: {/app/migrate.sh: [api, migrate]}}
"#,
        )
        .unwrap();
        let image = m.image("web:v2").unwrap();
        let argv =
            |words: &[&str]| image.argv(&words.iter().map(|w| w.to_string()).collect::<Vec<_>>());
        assert_eq!(argv(&["/app/migrate.sh"]), ["api", "migrate"]);
        assert_eq!(
            argv(&["/app/migrate.sh", "--broken"]),
            ["api", "migrate", "--broken"]
        );
        assert_eq!(argv(&["/app/start.sh", "--x"]), ["api"]);
        assert_eq!(argv(&[]), ["api"]);
        assert!(mode("images: {a: {command: [x], programs: {m: []}}}").is_err());
    }

    /// An empty command, a relative health path and typos are refused.
    #[test]
    fn bad_modes_are_refused() {
        assert!(mode("images: {a: {command: []}}").is_err());
        assert!(mode("images: {a: {command: [x]}}\nhealth_check: {path: health}").is_err());
        assert!(mode("images: {a: {comand: [x]}}").is_err());
        let m = mode("images: {}\nhealth_check: {interval_seconds: -1}").unwrap();
        assert_eq!(m.health_check.interval_seconds, 0.05);
    }
}
