//! How the wait looks while it runs: one line per service whenever its deployments' counts
//! change, each new service event once (oldest first), the verdict the moment it is reached, and
//! the stopped tasks that explain a failure. Pure formatting; the waiter decides when to print.

use crate::model::{ServiceEvent, StoppedTask};
use crate::verdict::{ServiceView, Tracked, short_td};

/// `web: PRIMARY ecs-svc/2 (web:2) IN_PROGRESS desired 4 pending 1 running 2 failed 1 | ACTIVE …
/// · circuit breaker 1/3`.
pub fn service_line(
    label: &str,
    view: &ServiceView,
    tracked: Option<&Tracked>,
    circuit_breaker: Option<(i32, Option<i32>)>,
) -> String {
    let mut parts = Vec::new();
    for d in &view.deployments {
        let mark = if tracked.is_some_and(|t| t.deployment_id == d.id) {
            "*"
        } else {
            ""
        };
        let mut p = format!(
            "{}{mark} {} ({})",
            d.status,
            d.id,
            short_td(&d.task_definition)
        );
        if let Some(r) = &d.rollout_state {
            p.push(' ');
            p.push_str(r);
        }
        p.push_str(&format!(
            " desired {} pending {} running {} failed {}",
            d.desired, d.pending, d.running, d.failed
        ));
        parts.push(p);
    }
    if parts.is_empty() {
        parts.push("no deployments".into());
    }
    let mut line = format!("{label}: {}", parts.join(" | "));
    if view.status != "ACTIVE" {
        line.push_str(&format!(" · service {}", view.status));
    }
    match circuit_breaker {
        Some((failures, Some(threshold))) => {
            line.push_str(&format!(" · circuit breaker {failures}/{threshold}"))
        }
        Some((_, None)) => line.push_str(" · circuit breaker off"),
        None => {}
    }
    line
}

/// `web: event 13:25:01 (service web) has started 2 tasks: …`.
pub fn event_line(label: &str, event: &ServiceEvent) -> String {
    format!(
        "{label}: event {} {}",
        clock(&event.created_at),
        event.message
    )
}

/// `12:34:56` from an RFC 3339 timestamp.
pub fn clock(rfc3339: &str) -> &str {
    rfc3339.get(11..19).unwrap_or(rfc3339)
}

/// `task 1a2b3c4d (web:2) EssentialContainerExited: Essential container in task exited; app exit 1`.
pub fn stopped_task_line(task: &StoppedTask) -> String {
    let id = dk_core::ecs::last_segment(&task.task_arn);
    let mut line = format!("task {id}");
    if let Some(td) = &task.task_definition {
        line.push_str(&format!(" ({})", short_td(td)));
    }
    match (&task.stop_code, &task.stopped_reason) {
        (Some(code), Some(reason)) => line.push_str(&format!(" {code}: {reason}")),
        (Some(code), None) => line.push_str(&format!(" {code}")),
        (None, Some(reason)) => line.push_str(&format!(" {reason}")),
        (None, None) => line.push_str(" stopped"),
    }
    let exits: Vec<String> = task
        .containers
        .iter()
        .filter_map(|c| match (c.exit_code, &c.reason) {
            (Some(code), Some(r)) => Some(format!("{} exit code {code} ({r})", c.name)),
            (Some(code), None) => Some(format!("{} exit code {code}", c.name)),
            (None, Some(r)) => Some(format!("{}: {r}", c.name)),
            (None, None) => None,
        })
        .collect();
    if !exits.is_empty() {
        line.push_str("; ");
        line.push_str(&exits.join(", "));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ContainerExit;
    use crate::verdict::DeploymentView;

    /// Each deployment shows its counts; the tracked one is starred; the threshold is shown.
    #[test]
    fn service_line_shows_counts_and_threshold() {
        let view = ServiceView {
            status: "ACTIVE".into(),
            deployments: vec![DeploymentView {
                id: "ecs-svc/2".into(),
                status: "PRIMARY".into(),
                task_definition: "arn:aws:ecs:us-east-1:1:task-definition/web:2".into(),
                rollout_state: Some("IN_PROGRESS".into()),
                desired: 4,
                pending: 1,
                running: 2,
                failed: 1,
                ..Default::default()
            }],
            ..Default::default()
        };
        let tracked = Tracked {
            deployment_id: "ecs-svc/2".into(),
            task_definition: String::new(),
            previous_task_definitions: vec![],
            service_deployment_arn: None,
            created_at: None,
            rolled_back_by: None,
        };
        assert_eq!(
            service_line("web", &view, Some(&tracked), Some((1, Some(3)))),
            "web: PRIMARY* ecs-svc/2 (web:2) IN_PROGRESS desired 4 pending 1 running 2 failed 1 · circuit breaker 1/3"
        );
    }

    /// A stopped task names its stop code, reason and container exit codes.
    #[test]
    fn stopped_task_line_names_reason_and_exit_code() {
        let t = StoppedTask {
            task_arn: "arn:aws:ecs:us-east-1:1:task/c/abc123".into(),
            task_definition: Some("arn:aws:ecs:us-east-1:1:task-definition/web:2".into()),
            stop_code: Some("EssentialContainerExited".into()),
            stopped_reason: Some("Essential container in task exited".into()),
            stopped_at: None,
            containers: vec![ContainerExit {
                name: "app".into(),
                exit_code: Some(137),
                reason: None,
                log_tail: Vec::new(),
            }],
        };
        assert_eq!(
            stopped_task_line(&t),
            "task abc123 (web:2) EssentialContainerExited: Essential container in task exited; app exit code 137"
        );
    }
}
