//! What a release did, for people and programs: the per-service report, the timeline of steps
//! (registered, migrated, updated, failed, rolled back — with times), and the job-summary
//! Markdown built from both plus the waiter's own tables.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use dk_core::gha::md_cell;
use serde::Serialize;
use wait_stable::waiter::ServiceOutcome;

/// How one service ended. The words are the `result` output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceResult {
    /// The new deployment completed and the service is stable on it.
    Succeeded,
    /// The service already ran the rendered revision: nothing was updated.
    Unchanged,
    /// The release failed and the service is back on its recorded revision, stable.
    RolledBack,
    /// The release failed and returning the service failed too: it needs a person.
    RollbackFailed,
    /// The release failed and was not rolled back (`--no-rollback`, or replaced by someone else).
    Failed,
    /// A newer deployment, not ours, took over: reported, never rolled back.
    Replaced,
    /// The deadline passed with `--no-rollback`.
    TimedOut,
    /// Not started, because another service of this call had already failed.
    Skipped,
    /// An ECS-native deployment left running at its `--wait-until` milestone (exit 0).
    InProgress,
}

impl ServiceResult {
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceResult::Succeeded => "succeeded",
            ServiceResult::Unchanged => "unchanged",
            ServiceResult::RolledBack => "rolled_back",
            ServiceResult::RollbackFailed => "rollback_failed",
            ServiceResult::Failed => "failed",
            ServiceResult::Replaced => "replaced",
            ServiceResult::TimedOut => "timed_out",
            ServiceResult::Skipped => "skipped",
            ServiceResult::InProgress => "in_progress",
        }
    }
    /// Whether this service stops the release (no further services start).
    pub fn is_failure(self) -> bool {
        !matches!(
            self,
            ServiceResult::Succeeded
                | ServiceResult::Unchanged
                | ServiceResult::Skipped
                | ServiceResult::InProgress
        )
    }
    fn icon(self) -> &'static str {
        match self {
            ServiceResult::Succeeded => "✅",
            ServiceResult::Unchanged => "➖",
            ServiceResult::RolledBack => "↩️",
            ServiceResult::RollbackFailed => "🚨",
            ServiceResult::Skipped => "⏭️",
            ServiceResult::InProgress => "⏳",
            _ => "❌",
        }
    }
}

/// One service's part of a release.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceReport {
    pub cluster: String,
    pub service: String,
    pub result: ServiceResult,
    /// The revision released (the target).
    pub task_definition_arn: Option<String>,
    /// The revision the service ran when ecs-roll updated it: the rollback target.
    pub previous_task_definition_arn: Option<String>,
    /// The deployment ecs-roll created (`ecs-svc/…`).
    pub deployment_id: Option<String>,
    /// The deployment that returned the service, when rolled back.
    pub rollback_deployment_id: Option<String>,
    /// The ServiceDeployment of an ECS-native (BLUE_GREEN, LINEAR, CANARY) release.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_deployment_arn: Option<String>,
    #[serde(
        rename = "duration_s",
        serialize_with = "dk_core::duration::serialize_seconds"
    )]
    pub duration: Duration,
    /// Why it failed, in one line.
    pub reason: Option<String>,
    /// What failed it, when not the deployment itself: `smoke` (the smoke gate).
    pub cause: Option<String>,
    /// The waiter's verdict on the release deployment.
    pub wait: Option<ServiceOutcome>,
    /// The waiter's verdict on the rollback.
    pub rollback_wait: Option<ServiceOutcome>,
    /// Set when ECS accepted an UpdateService (release or return) whose deployment never showed:
    /// how it went cannot be told, so the release ends as a runtime error (exit 3).
    #[serde(skip)]
    pub unverified: Option<String>,
    /// The service's deployments before this call updated it (plus the one it started): never
    /// taken for ECS's own rollback when returning the service — a stale read shows them.
    #[serde(skip)]
    pub known_deployments: Vec<String>,
}

/// Timestamped steps, shared by the services rolling in parallel.
#[derive(Debug, Clone, Default)]
pub struct Timeline(Arc<Mutex<Vec<Step>>>);

#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// RFC 3339, UTC.
    pub at: String,
    /// `cluster/service`, or empty for release-wide steps.
    pub service: String,
    pub what: String,
}

impl Timeline {
    pub fn push(&self, service: &str, what: impl Into<String>) {
        let step = Step {
            at: jiff::Timestamp::now()
                .strftime("%Y-%m-%dT%H:%M:%SZ")
                .to_string(),
            service: service.to_string(),
            what: what.into(),
        };
        if let Ok(mut s) = self.0.lock() {
            s.push(step);
        }
    }
    pub fn steps(&self) -> Vec<Step> {
        self.0.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

/// The job summary: headline, one row per service, the timeline, then the waiter's detail.
pub fn markdown(headline: &str, reports: &[ServiceReport], timeline: &Timeline) -> String {
    let mut md = format!("### ecs-roll: {headline}\n\n");
    if !reports.is_empty() {
        md.push_str(
            "| Service | Result | Task definition | Previous | Deployment | Time | Reason |\n",
        );
        md.push_str("|---|---|---|---|---|---|---|\n");
        for r in reports {
            let short = |a: &Option<String>| {
                a.as_deref()
                    .map(crate::wire::short_name)
                    .unwrap_or("")
                    .to_string()
            };
            md.push_str(&format!(
                "| {}/{} | {} {} | {} | {} | {} | {} | {} |\n",
                md_cell(&r.cluster),
                md_cell(&r.service),
                r.result.icon(),
                r.result.as_str(),
                md_cell(&short(&r.task_definition_arn)),
                md_cell(&short(&r.previous_task_definition_arn)),
                md_cell(r.deployment_id.as_deref().unwrap_or("")),
                dk_core::duration::format_duration(r.duration),
                md_cell(r.reason.as_deref().unwrap_or("")),
            ));
        }
        md.push('\n');
    }
    let steps = timeline.steps();
    if !steps.is_empty() {
        md.push_str("<details><summary>Timeline</summary>\n\n| Time (UTC) | Service | Step |\n|---|---|---|\n");
        for s in &steps {
            let time = s.at.get(11..19).unwrap_or(&s.at);
            md.push_str(&format!(
                "| {time} | {} | {} |\n",
                md_cell(&s.service),
                md_cell(&s.what)
            ));
        }
        md.push_str("\n</details>\n\n");
    }
    let waits: Vec<ServiceOutcome> = reports
        .iter()
        .flat_map(|r| r.wait.iter().chain(r.rollback_wait.iter()))
        .cloned()
        .collect();
    if !waits.is_empty() {
        let detail = wait_stable::summary_markdown(&waits);
        if !detail.trim().is_empty() {
            md.push_str("<details><summary>Deployments</summary>\n\n");
            md.push_str(&detail);
            md.push_str("\n</details>\n");
        }
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only succeeded, unchanged and skipped services let the release go on.
    #[test]
    fn failure_words() {
        assert!(!ServiceResult::Succeeded.is_failure());
        assert!(!ServiceResult::Unchanged.is_failure());
        assert!(ServiceResult::Replaced.is_failure());
        assert!(ServiceResult::TimedOut.is_failure());
        assert_eq!(
            serde_json::to_value(ServiceResult::RollbackFailed).unwrap(),
            "rollback_failed"
        );
    }

    /// The summary has a row per service and the timeline, with pipes escaped.
    #[test]
    fn summary_has_rows_and_timeline() {
        let t = Timeline::default();
        t.push("prod/web", "updated | deployment ecs-svc/1");
        let r = ServiceReport {
            cluster: "prod".into(),
            service: "web".into(),
            result: ServiceResult::RolledBack,
            task_definition_arn: Some("arn:aws:ecs:us-east-1:1:task-definition/web:4".into()),
            previous_task_definition_arn: Some(
                "arn:aws:ecs:us-east-1:1:task-definition/web:3".into(),
            ),
            deployment_id: Some("ecs-svc/1".into()),
            rollback_deployment_id: None,
            service_deployment_arn: None,
            duration: Duration::from_secs(3),
            unverified: None,
            known_deployments: Vec::new(),
            reason: Some("tasks crashed".into()),
            cause: None,
            wait: None,
            rollback_wait: None,
        };
        let md = markdown("rolled back", &[r], &t);
        assert!(
            md.contains("| prod/web | ↩️ rolled_back | web:4 | web:3 | ecs-svc/1 |"),
            "{md}"
        );
        assert!(md.contains("updated \\| deployment"), "{md}");
    }
}
