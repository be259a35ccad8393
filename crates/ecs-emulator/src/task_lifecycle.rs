//! One task's life: launch according to the scenario, then PROVISIONING → PENDING → RUNNING →
//! (STOPPING) → STOPPED as the emulated clock passes the times fixed at launch.
//!
//! The plan is decided once, at launch, so a scenario change affects only tasks launched after
//! it — as a new image on ECS affects only new tasks.

use serde_json::Value;

use crate::ids;
use crate::model::{ContainerSpec, Deployment, Task, TaskContainer, TaskDefinition, TaskPlan};
use crate::scenario::{BehaviorKind, Scenario};

/// Why a task was launched: by a service deployment or by RunTask.
#[derive(Debug, Clone)]
pub enum Launch {
    Service {
        service: String,
        deployment_id: String,
    },
    OneOff {
        group: String,
        started_by: Option<String>,
        overrides: Value,
    },
}

/// Placement-related fields copied onto the task as given.
#[derive(Debug, Clone, Default)]
pub struct Placement {
    pub launch_type: Option<String>,
    pub capacity_provider_strategy: Option<Value>,
    pub platform_version: Option<String>,
    pub network_configuration: Option<Value>,
}

impl Placement {
    /// Where a service deployment's tasks go: as the deployment was given it.
    pub fn of(deployment: &Deployment) -> Placement {
        Placement {
            launch_type: deployment.launch_type.clone(),
            capacity_provider_strategy: deployment.capacity_provider_strategy.clone(),
            platform_version: deployment.platform_version.clone(),
            network_configuration: deployment.network_configuration.clone(),
        }
    }
}

/// Something that happened to a task during a clock step and matters to its service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskChange {
    Running,
    Healthy,
    /// Never reached RUNNING.
    FailedToStart,
    /// The essential container exited on its own.
    Exited,
    /// RUNNING but never passed its health check; the scheduler is replacing it.
    FailedHealthChecks,
    Stopped,
}

/// Builds a task at `now` whose behaviour follows the scenario for its images.
pub fn launch_task(
    rng: &mut fastrand::Rng,
    now: f64,
    cluster_name: &str,
    task_definition: &TaskDefinition,
    scenario: &Scenario,
    launch: Launch,
    placement: Placement,
) -> Task {
    let id = ids::task_id(rng);
    let specs = task_definition.containers();
    let overrides = match &launch {
        Launch::OneOff { overrides, .. } => overrides.clone(),
        Launch::Service { .. } => Value::Null,
    };
    let one_off = matches!(launch, Launch::OneOff { .. });
    let plan = plan_task(now, &specs, scenario, one_off, &overrides);
    let stop_seconds = specs
        .iter()
        .map(|c| scenario.behavior_for(&c.image).stop_seconds)
        .fold(0.0, f64::max);
    let containers = specs
        .iter()
        .map(|c| TaskContainer {
            name: c.name.clone(),
            image: c.image.clone(),
            runtime_id: format!("{id}-{}", rng.u32(1_000_000_000..u32::MAX)),
            last_status: "PENDING".to_string(),
            exit_code: None,
            reason: None,
            health_status: "UNKNOWN".to_string(),
        })
        .collect();
    let (group, started_by, service, deployment_id) = match launch {
        Launch::Service {
            service,
            deployment_id,
        } => (
            format!("service:{service}"),
            Some(deployment_id.clone()),
            Some(service),
            Some(deployment_id),
        ),
        Launch::OneOff {
            group, started_by, ..
        } => (group, started_by, None, None),
    };
    let text = |k: &str| {
        task_definition
            .body
            .get(k)
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    Task {
        arn: ids::task_arn(cluster_name, &id),
        id,
        cluster_arn: ids::cluster_arn(cluster_name),
        task_definition_arn: task_definition.arn.clone(),
        family: task_definition.family.clone(),
        group,
        started_by,
        service,
        deployment_id,
        last_status: "PROVISIONING".to_string(),
        desired_status: "RUNNING".to_string(),
        healthy: false,
        health_checked: specs.iter().any(|c| c.has_health_check),
        created_at: now,
        pull_started_at: None,
        pull_stopped_at: None,
        started_at: None,
        stopping_at: None,
        stopped_at: None,
        execution_stopped_at: None,
        stop_complete_at: None,
        stop_code: None,
        stopped_reason: None,
        containers,
        launch_type: placement.launch_type,
        capacity_provider_strategy: placement.capacity_provider_strategy,
        platform_version: placement.platform_version,
        network_configuration: placement.network_configuration,
        overrides: if overrides.is_null() {
            serde_json::json!({"containerOverrides": []})
        } else {
            overrides
        },
        cpu: text("cpu"),
        memory: text("memory"),
        version: 1,
        plan,
        stop_seconds,
    }
}

/// The command a one-off container runs: its override, else the task definition's.
pub(crate) fn effective_command(spec: &ContainerSpec, overrides: &Value) -> Vec<String> {
    overrides
        .get("containerOverrides")
        .and_then(Value::as_array)
        .and_then(|list| {
            list.iter()
                .find(|o| o.get("name").and_then(Value::as_str) == Some(spec.name.as_str()))
        })
        .and_then(|o| o.get("command"))
        .map(|c| crate::model::string_list(Some(c)))
        .unwrap_or_else(|| spec.command.clone())
}

fn plan_task(
    now: f64,
    specs: &[ContainerSpec],
    scenario: &Scenario,
    one_off: bool,
    overrides: &Value,
) -> TaskPlan {
    let behaviors: Vec<_> = specs
        .iter()
        .map(|c| scenario.behavior_for(&c.image))
        .collect();
    if let Some(b) = behaviors
        .iter()
        .find(|b| b.behavior == BehaviorKind::FailToStart)
    {
        return TaskPlan::FailToStart {
            at: now + b.start_seconds,
            reason: b.reason.clone(),
        };
    }
    let running_at = now
        + behaviors
            .iter()
            .map(|b| b.start_seconds)
            .fold(0.0, f64::max);
    // The first essential container to exit stops the task.
    let crash = specs
        .iter()
        .zip(&behaviors)
        .enumerate()
        .filter(|(_, (spec, b))| spec.essential && b.behavior == BehaviorKind::Crash)
        .min_by(|(_, (_, a)), (_, (_, b))| a.after_seconds.total_cmp(&b.after_seconds));
    let mut exit_codes = vec![0; specs.len()];
    let mut exit_at = None;
    if let Some((index, (_, b))) = crash {
        exit_codes[index] = b.exit_code;
        exit_at = Some(running_at + b.after_seconds);
    } else if one_off {
        for (code, spec) in exit_codes.iter_mut().zip(specs) {
            *code = scenario
                .run_task
                .exit_code_for(&effective_command(spec, overrides));
        }
        exit_at = Some(running_at + scenario.run_task.duration_seconds);
    }
    let never_healthy = behaviors
        .iter()
        .find(|b| b.behavior == BehaviorKind::NeverHealthy);
    let (healthy_at, unhealthy_at) = match never_healthy {
        // One-off tasks are not health-checked by a scheduler; they just run.
        Some(_) if one_off => (None, None),
        Some(b) => (None, Some(running_at + b.unhealthy_after_seconds)),
        None if one_off => (None, None),
        None => (
            Some(
                running_at
                    + behaviors
                        .iter()
                        .map(|b| b.healthy_after_seconds)
                        .fold(0.0, f64::max),
            ),
            None,
        ),
    };
    TaskPlan::Run {
        running_at,
        healthy_at,
        unhealthy_at,
        exit_at,
        exit_codes,
    }
}

/// Asks a task to stop (scheduler, user or health check). Tasks that never ran stop at once;
/// running ones drain for the image's `stop_seconds`.
pub fn request_stop(task: &mut Task, now: f64, stop_code: &str, reason: &str) {
    if task.desired_status == "STOPPED" || task.is_stopped() {
        return;
    }
    task.desired_status = "STOPPED".to_string();
    task.stop_code = Some(stop_code.to_string());
    task.stopped_reason = Some(reason.to_string());
    task.stopping_at = Some(now);
    task.version += 1;
    if task.last_status == "RUNNING" {
        task.last_status = "STOPPING".to_string();
        task.stop_complete_at = Some(now + task.stop_seconds);
    } else {
        finish_stop(task, now, None);
    }
}

/// The service scheduler stops `task` for deployment `deployment_id` (scale-in, replaced
/// tasks, a deleted service, blue/green clean-up) with the reason ECS gives; returns the
/// task's id for the event that lists what was stopped.
pub fn stop_for_deployment(task: &mut Task, now: f64, deployment_id: &str) -> String {
    let reason = format!("Scaling activity initiated by (deployment {deployment_id})");
    request_stop(task, now, "ServiceSchedulerInitiated", &reason);
    task.id.clone()
}

/// Marks the task STOPPED; containers that ran get `exit_codes` (0 after a graceful stop).
fn finish_stop(task: &mut Task, now: f64, exit_codes: Option<&[i32]>) {
    let had_run = task.started_at.is_some();
    task.last_status = "STOPPED".to_string();
    task.desired_status = "STOPPED".to_string();
    task.stopping_at.get_or_insert(now);
    task.stopped_at = Some(now);
    task.execution_stopped_at = Some(now);
    task.stop_complete_at = None;
    task.healthy = false;
    task.version += 1;
    for (i, c) in task.containers.iter_mut().enumerate() {
        c.last_status = "STOPPED".to_string();
        if had_run && c.exit_code.is_none() {
            c.exit_code = Some(exit_codes.and_then(|e| e.get(i).copied()).unwrap_or(0));
        }
    }
}

/// Moves a task along its plan up to `now`; returns what changed, in order.
pub fn advance_task(task: &mut Task, now: f64) -> Vec<TaskChange> {
    let mut changes = Vec::new();
    if task.is_stopped() {
        return changes;
    }
    if task.desired_status == "STOPPED" {
        if task.stop_complete_at.is_some_and(|at| now >= at) {
            finish_stop(task, now, None);
            changes.push(TaskChange::Stopped);
        }
        return changes;
    }
    if task.last_status == "PROVISIONING" && now >= task.created_at + 1.0 {
        task.last_status = "PENDING".to_string();
        task.pull_started_at = Some(now);
        task.version += 1;
    }
    let plan = task.plan.clone();
    match plan {
        TaskPlan::FailToStart { at, reason } => {
            if now >= at {
                if task.pull_started_at.is_none() {
                    task.pull_started_at = Some(now);
                }
                for c in &mut task.containers {
                    c.reason = Some(reason.clone());
                }
                task.stop_code = Some("TaskFailedToStart".to_string());
                task.stopped_reason = Some(reason);
                finish_stop(task, now, None);
                changes.push(TaskChange::FailedToStart);
            }
        }
        TaskPlan::Run {
            running_at,
            healthy_at,
            unhealthy_at,
            exit_at,
            exit_codes,
        } => {
            if task.last_status != "RUNNING" && now >= running_at {
                task.pull_started_at.get_or_insert(now);
                task.pull_stopped_at = Some(now);
                task.started_at = Some(now);
                task.last_status = "RUNNING".to_string();
                task.version += 1;
                for c in &mut task.containers {
                    c.last_status = "RUNNING".to_string();
                }
                changes.push(TaskChange::Running);
            }
            if task.last_status != "RUNNING" {
                return changes;
            }
            if let Some(at) = exit_at
                && now >= at
            {
                task.stop_code = Some("EssentialContainerExited".to_string());
                task.stopped_reason = Some("Essential container in task exited".to_string());
                finish_stop(task, now, Some(&exit_codes));
                changes.push(TaskChange::Exited);
                return changes;
            }
            if !task.healthy && healthy_at.is_some_and(|at| now >= at) {
                task.healthy = true;
                task.version += 1;
                if task.health_checked {
                    for c in &mut task.containers {
                        c.health_status = "HEALTHY".to_string();
                    }
                }
                changes.push(TaskChange::Healthy);
            }
            if unhealthy_at.is_some_and(|at| now >= at) {
                for c in &mut task.containers {
                    c.health_status = "UNHEALTHY".to_string();
                }
                request_stop(
                    task,
                    now,
                    "ServiceSchedulerInitiated",
                    "Task failed container health checks",
                );
                changes.push(TaskChange::FailedHealthChecks);
            }
        }
    }
    changes
}

/// The task's `healthStatus` as ECS reports it.
pub fn task_health_status(task: &Task) -> &'static str {
    if !task.health_checked {
        return "UNKNOWN";
    }
    if task
        .containers
        .iter()
        .any(|c| c.health_status == "UNHEALTHY")
    {
        "UNHEALTHY"
    } else if task.healthy {
        "HEALTHY"
    } else {
        "UNKNOWN"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn definition(image: &str) -> TaskDefinition {
        TaskDefinition {
            family: "web".into(),
            revision: 1,
            arn: ids::task_definition_arn("web", 1),
            status: "ACTIVE".into(),
            registered_at: 0.0,
            deregistered_at: None,
            body: json!({"family": "web", "containerDefinitions": [
                {"name": "app", "image": image, "essential": true, "command": ["serve"]}
            ]})
            .as_object()
            .unwrap()
            .clone(),
        }
    }

    fn scenario() -> Scenario {
        Scenario::parse(
            r#"
images:
  ok: {behavior: healthy, start_seconds: 3, healthy_after_seconds: 2}
  crash: {behavior: crash, start_seconds: 1, after_seconds: 4, exit_code: 137}
  nopull: {behavior: fail_to_start, start_seconds: 2, reason: "CannotPullContainerError: nope"}
  sick: {behavior: never_healthy, start_seconds: 1, unhealthy_after_seconds: 3}
run_task: {duration_seconds: 4, exit_code: 0, command_exit_codes: {fail: 3}}
"#,
        )
        .unwrap()
    }

    fn service_task(image: &str) -> Task {
        launch_task(
            &mut fastrand::Rng::with_seed(3),
            100.0,
            "c",
            &definition(image),
            &scenario(),
            Launch::Service {
                service: "web".into(),
                deployment_id: "ecs-svc/1".into(),
            },
            Placement::default(),
        )
    }

    fn run_until(task: &mut Task, until: f64) -> Vec<(f64, TaskChange)> {
        let mut out = Vec::new();
        let mut t = task.created_at;
        while t <= until {
            for c in advance_task(task, t) {
                out.push((t, c));
            }
            t += 1.0;
        }
        out
    }

    /// A healthy image walks PROVISIONING → PENDING → RUNNING → healthy.
    #[test]
    fn healthy_task_runs_then_turns_healthy() {
        let mut t = service_task("ok");
        assert_eq!(t.last_status, "PROVISIONING");
        assert_eq!(t.group, "service:web");
        assert_eq!(t.started_by.as_deref(), Some("ecs-svc/1"));
        let changes = run_until(&mut t, 110.0);
        assert_eq!(
            changes,
            vec![(103.0, TaskChange::Running), (105.0, TaskChange::Healthy)]
        );
        assert!(t.is_healthy());
    }

    /// A crash image exits with its code and EssentialContainerExited.
    #[test]
    fn crash_task_exits_with_code() {
        let mut t = service_task("crash");
        let changes = run_until(&mut t, 110.0);
        assert_eq!(
            changes,
            vec![(101.0, TaskChange::Running), (105.0, TaskChange::Exited)]
        );
        assert_eq!(t.stop_code.as_deref(), Some("EssentialContainerExited"));
        assert_eq!(t.containers[0].exit_code, Some(137));
        assert_eq!(
            t.stopped_reason.as_deref(),
            Some("Essential container in task exited")
        );
    }

    /// An image that cannot be pulled stops with TaskFailedToStart and no exit code.
    #[test]
    fn fail_to_start_task() {
        let mut t = service_task("nopull");
        let changes = run_until(&mut t, 110.0);
        assert_eq!(changes, vec![(102.0, TaskChange::FailedToStart)]);
        assert_eq!(t.stop_code.as_deref(), Some("TaskFailedToStart"));
        assert!(
            t.stopped_reason
                .as_deref()
                .unwrap()
                .starts_with("CannotPullContainerError")
        );
        assert_eq!(t.containers[0].exit_code, None);
        assert!(t.started_at.is_none());
    }

    /// A never-healthy task is stopped by the scheduler after failing health checks.
    #[test]
    fn never_healthy_task_is_replaced() {
        let mut t = service_task("sick");
        let changes = run_until(&mut t, 110.0);
        assert_eq!(
            changes,
            vec![
                (101.0, TaskChange::Running),
                (104.0, TaskChange::FailedHealthChecks),
                (106.0, TaskChange::Stopped)
            ]
        );
        assert_eq!(t.stop_code.as_deref(), Some("ServiceSchedulerInitiated"));
    }

    /// One-off tasks exit with the code their command maps to.
    #[test]
    fn one_off_task_exit_code_follows_command() {
        let mut t = launch_task(
            &mut fastrand::Rng::with_seed(3),
            0.0,
            "c",
            &definition("ok"),
            &scenario(),
            Launch::OneOff {
                group: "family:web".into(),
                started_by: None,
                overrides: json!({"containerOverrides": [{"name": "app", "command": ["sh", "-c", "fail"]}]}),
            },
            Placement::default(),
        );
        run_until(&mut t, 20.0);
        assert_eq!(t.last_status, "STOPPED");
        assert_eq!(t.containers[0].exit_code, Some(3));
        assert_eq!(t.stop_code.as_deref(), Some("EssentialContainerExited"));
        assert_eq!(t.stopped_at, Some(7.0));
    }

    /// Stopping a task that never ran is immediate; a running one drains first.
    #[test]
    fn stop_requests() {
        let mut t = service_task("ok");
        request_stop(&mut t, 100.0, "UserInitiated", "bye");
        assert!(t.is_stopped());
        assert_eq!(t.containers[0].exit_code, None);
        let mut t = service_task("ok");
        run_until(&mut t, 104.0);
        request_stop(&mut t, 104.0, "UserInitiated", "bye");
        assert_eq!(t.last_status, "STOPPING");
        assert_eq!(advance_task(&mut t, 106.0), vec![TaskChange::Stopped]);
        assert_eq!(t.containers[0].exit_code, Some(0));
    }
}
