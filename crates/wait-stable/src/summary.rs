//! The job summary: per service a small table (result, deployment, task definition, counts,
//! duration, circuit breaker, reason), the stopped tasks that explain a failure, and the events
//! timeline — what someone reading the run would otherwise open the ECS console for.

use dk_core::duration::format_duration;
use dk_core::gha::md_cell;

use crate::model::{ServiceOutcome, WaitResult};
use crate::progress::{clock, stopped_task_line};
use crate::verdict::short_td;

fn icon(result: WaitResult) -> &'static str {
    match result {
        WaitResult::Succeeded => "✅",
        WaitResult::TimedOut => "⏱️",
        _ => "❌",
    }
}

pub fn render(outcomes: &[ServiceOutcome]) -> String {
    let mut md = String::from("### wait-stable\n\n");
    if outcomes.len() > 1 {
        md.push_str("| Service | Cluster | Result | Running | Duration |\n|---|---|---|---|---|\n");
        for o in outcomes {
            md.push_str(&format!(
                "| {} | {} | {} {} | {}/{} | {} |\n",
                md_cell(&o.service),
                md_cell(short(&o.cluster)),
                icon(o.result),
                o.result.as_str(),
                o.running_count,
                o.desired_count,
                format_duration(o.duration)
            ));
        }
        md.push('\n');
    }
    for o in outcomes {
        md.push_str(&format!(
            "#### {} {} — {}\n\n",
            icon(o.result),
            md_cell(&o.service),
            o.result.as_str()
        ));
        md.push_str("| | |\n|---|---|\n");
        let mut row = |k: &str, v: String| md.push_str(&format!("| {k} | {} |\n", md_cell(&v)));
        row("Cluster", short(&o.cluster).to_string());
        row(
            "Deployment",
            o.deployment_id.clone().unwrap_or_else(|| "—".into()),
        );
        row(
            "Task definition",
            o.task_definition
                .as_deref()
                .map_or("—".into(), |t| format!("`{}`", short_td(t))),
        );
        if let Some(p) = &o.primary_task_definition
            && o.task_definition.as_deref() != Some(p.as_str())
        {
            row("Service now runs", format!("`{}`", short_td(p)));
        }
        row(
            "Running",
            format!("{} of {}", o.running_count, o.desired_count),
        );
        row("Duration", format_duration(o.duration));
        if let Some(t) = o.failure_threshold {
            row(
                "Circuit breaker",
                format!("{} of {t} failures", o.failed_tasks),
            );
        }
        if let Some(r) = &o.reason {
            row("Reason", r.clone());
        }
        md.push('\n');
        if !o.stopped_tasks.is_empty() {
            md.push_str("Stopped tasks:\n\n");
            for t in &o.stopped_tasks {
                md.push_str(&format!("- {}\n", md_cell(&stopped_task_line(t))));
            }
            md.push('\n');
        }
        if !o.events.is_empty() {
            md.push_str(
                "<details><summary>Events</summary>\n\n| Time (UTC) | Event |\n|---|---|\n",
            );
            for e in &o.events {
                md.push_str(&format!(
                    "| {} | {} |\n",
                    clock(&e.created_at),
                    md_cell(&e.message)
                ));
            }
            md.push_str("\n</details>\n\n");
        }
    }
    md
}

use dk_core::ecs::last_segment as short;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ServiceEvent;
    use std::time::Duration;

    /// A rolled-back service shows its reason, what the service runs now, and the timeline.
    #[test]
    fn summary_has_table_reason_and_timeline() {
        let o = ServiceOutcome {
            cluster: "prod".into(),
            service: "web".into(),
            result: WaitResult::RolledBack,
            deployment_id: Some("ecs-svc/2".into()),
            task_definition: Some("arn:aws:ecs:us-east-1:1:task-definition/web:2".into()),
            primary_task_definition: Some("arn:aws:ecs:us-east-1:1:task-definition/web:1".into()),
            running_count: 0,
            desired_count: 2,
            duration: Duration::from_millis(12_300),
            reason: Some("ECS deployment circuit breaker: tasks failed to start.".into()),
            failed_tasks: 3,
            failure_threshold: Some(3),
            stopped_tasks: vec![],
            events: vec![ServiceEvent {
                id: "e1".into(),
                created_at: "2026-11-24T13:25:01Z".into(),
                message: "(service web) has started 2 tasks | x".into(),
            }],
        };
        let md = render(&[o]);
        assert!(md.contains("#### ❌ web — rolled_back"), "{md}");
        assert!(md.contains("| Service now runs | `web:1` |"), "{md}");
        assert!(md.contains("| Circuit breaker | 3 of 3 failures |"), "{md}");
        assert!(
            md.contains("| 13:25:01 | (service web) has started 2 tasks \\| x |"),
            "{md}"
        );
    }
}
