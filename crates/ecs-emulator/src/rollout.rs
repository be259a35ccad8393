//! The ECS deployment controller for rolling updates: one emulated second at a time, it moves
//! tasks along, counts failures for the circuit breaker, starts and stops tasks within
//! maximumPercent/minimumHealthyPercent, and decides when a deployment is COMPLETED or FAILED.
//!
//! The rules and wording follow `ecs-deployments.md` §2, §3 and §13; where AWS documents
//! nothing, the README says what the emulator chose.

use std::collections::BTreeMap;

use crate::ids;
use crate::model::{
    Cluster, Deployment, DeploymentStatus, RevisionRef, RollbackInfo, RolloutState, Service,
    ServiceDeployment, ServiceEvent, State, Task, TaskDefinition, resolve_task_definition,
};
use crate::scenario::Scenario;
use crate::task_lifecycle::{self, Launch, Placement, TaskChange};

/// Service throttle logic: after this many consecutive tasks fail to reach RUNNING, launches
/// wait, starting at [`THROTTLE_FIRST_DELAY_SECONDS`] and doubling up to 27 minutes (AWS
/// documents the maximum and the event, not the schedule).
const THROTTLE_AFTER_FAILURES: u32 = 3;
const THROTTLE_FIRST_DELAY_SECONDS: f64 = 10.0;
const THROTTLE_MAX_DELAY_SECONDS: f64 = 27.0 * 60.0;

/// The rolloutStateReason and event text of a circuit-breaker failure.
pub const BREAKER_FAILED_REASON: &str = "ECS deployment circuit breaker: tasks failed to start.";

/// Adds a service event with a fresh id.
pub fn emit(service: &mut Service, rng: &mut fastrand::Rng, now: f64, message: String) {
    service.push_event(ServiceEvent {
        id: ids::uuid(rng),
        created_at: now,
        message,
    });
}

/// Advances the emulated clock by `seconds`, one scheduler step per whole second.
pub fn advance(state: &mut State, seconds: f64, real_now: f64) {
    if !seconds.is_finite() || seconds <= 0.0 {
        return;
    }
    state.unstepped += seconds;
    // A cap keeps a huge request (or a clock that was suspended for hours at a high time
    // scale) from holding the lock for minutes; an emulated day per call is plenty.
    let mut budget: u32 = 24 * 3600;
    while state.unstepped >= 1.0 && budget > 0 {
        state.unstepped -= 1.0;
        budget -= 1;
        step(state, real_now);
    }
    if budget == 0 {
        state.unstepped = 0.0;
    }
}

/// One emulated second.
pub fn step(state: &mut State, real_now: f64) {
    state.now += 1.0;
    let State {
        now,
        clusters,
        task_definitions,
        scenario,
        rng,
        ..
    } = state;
    for cluster in clusters.values_mut() {
        step_cluster(cluster, *now, real_now, task_definitions, scenario, rng);
    }
}

fn step_cluster(
    cluster: &mut Cluster,
    now: f64,
    real_now: f64,
    definitions: &BTreeMap<String, Vec<TaskDefinition>>,
    scenario: &Scenario,
    rng: &mut fastrand::Rng,
) {
    // 1. Tasks move along their plans.
    let mut changes = Vec::new();
    for task in &mut cluster.tasks {
        for change in task_lifecycle::advance_task(task, now) {
            if let (Some(service), Some(deployment)) = (&task.service, &task.deployment_id) {
                changes.push((service.clone(), deployment.clone(), task.id.clone(), change));
            }
        }
    }
    // 2. Their services count failures and health. The breaker is checked after each failure,
    //    so tasks failing in the same second cannot push the count past the threshold.
    for (service_name, deployment_id, task_id, change) in changes {
        if let Some(service) = cluster.services.get_mut(&service_name) {
            record_task_change(service, &deployment_id, &task_id, change, now, rng);
            if service.status == "ACTIVE" && service.deployment_controller == "ECS" {
                check_circuit_breaker(service, &mut cluster.tasks, now, real_now, rng);
            }
        }
    }
    // 3. Each service's controller acts.
    let cluster_name = cluster.name.clone();
    for service in cluster.services.values_mut() {
        if service.status == "INACTIVE" {
            continue;
        }
        if service.status == "DRAINING" {
            drain_service(service, &mut cluster.tasks, now, rng);
            continue;
        }
        if service.deployment_controller != "ECS" {
            continue;
        }
        check_circuit_breaker(service, &mut cluster.tasks, now, real_now, rng);
        schedule_service(
            service,
            &cluster_name,
            &mut cluster.tasks,
            definitions,
            scenario,
            rng,
            now,
        );
        check_completion(service, &cluster.tasks, now, real_now, rng);
        advance_service_deployments(service, now);
    }
    // 4. Stopped tasks are forgotten after the retention AWS documents.
    cluster.tasks.retain(|t| {
        t.stopped_at
            .is_none_or(|at| now - at <= crate::model::STOPPED_TASK_RETENTION_SECONDS)
    });
}

fn record_task_change(
    service: &mut Service,
    deployment_id: &str,
    task_id: &str,
    change: TaskChange,
    now: f64,
    rng: &mut fastrand::Rng,
) {
    let reset = service
        .circuit_breaker()
        .is_none_or(|cb| cb.reset_on_healthy_task);
    match change {
        TaskChange::FailedToStart => throttle_launches(service, now, rng),
        TaskChange::Running => {
            service.start_failures = 0;
            service.launch_not_before = 0.0;
            service.throttle_reported = false;
        }
        _ => {}
    }
    if change == TaskChange::FailedHealthChecks {
        let message = format!(
            "(service {}) (task {task_id}) failed container health checks.",
            service.name
        );
        emit(service, rng, now, message);
    }
    let Some(deployment) = service.deployment_mut(deployment_id) else {
        return;
    };
    if deployment.rollout_state != RolloutState::InProgress {
        return;
    }
    match change {
        TaskChange::Healthy if reset => {
            deployment.failed_tasks = 0;
            deployment.updated_at = now;
        }
        TaskChange::FailedToStart | TaskChange::Exited | TaskChange::FailedHealthChecks => {
            deployment.failed_tasks += 1;
            deployment.updated_at = now;
        }
        _ => {}
    }
}

/// The service throttle logic: tasks that keep failing to reach RUNNING are relaunched with
/// growing delays, announced once by an event. Tasks that stop after RUNNING (crashes, failed
/// health checks) are never throttled, as AWS documents.
fn throttle_launches(service: &mut Service, now: f64, rng: &mut fastrand::Rng) {
    service.start_failures = service.start_failures.saturating_add(1);
    let Some(over) = service.start_failures.checked_sub(THROTTLE_AFTER_FAILURES) else {
        return;
    };
    let delay = (THROTTLE_FIRST_DELAY_SECONDS * 2f64.powi(over.min(16) as i32))
        .min(THROTTLE_MAX_DELAY_SECONDS);
    service.launch_not_before = now + delay;
    if !service.throttle_reported {
        service.throttle_reported = true;
        let message = format!(
            "(service {}) is unable to consistently start tasks successfully.",
            service.name
        );
        emit(service, rng, now, message);
    }
}

/// Trips the breaker when the PRIMARY deployment's failures reach the threshold.
fn check_circuit_breaker(
    service: &mut Service,
    tasks: &mut [Task],
    now: f64,
    real_now: f64,
    rng: &mut fastrand::Rng,
) {
    let Some(cb) = service.circuit_breaker() else {
        return;
    };
    let threshold = cb.threshold(service.desired_count);
    let Some(primary) = service.primary() else {
        return;
    };
    let sd_arn = primary.service_deployment_arn.clone();
    let failures = primary.failed_tasks;
    let tracking = primary.rollout_state == RolloutState::InProgress && !primary.stalled;
    if let Some(sd) = service.service_deployment_mut(&sd_arn)
        && !sd.is_finished()
        && sd.circuit_breaker_status == "MONITORING"
    {
        sd.failure_count = failures;
        sd.threshold = threshold;
    }
    if !tracking || failures < threshold {
        return;
    }
    let name = service.name.clone();
    let Some(primary) = service.primary_mut() else {
        return;
    };
    primary.rollout_state = RolloutState::Failed;
    primary.rollout_state_reason = BREAKER_FAILED_REASON.to_string();
    primary.stalled = true;
    primary.updated_at = now;
    primary.finished_emulated = Some(now);
    primary.finished_real = Some(real_now);
    let failed_id = primary.id.clone();
    emit(
        service,
        rng,
        now,
        format!(
            "(service {name}) (deployment {failed_id}) deployment failed: tasks failed to start."
        ),
    );
    if let Some(sd) = service.service_deployment_mut(&sd_arn) {
        sd.circuit_breaker_status = "TRIGGERED".to_string();
        sd.failure_count = failures;
        sd.updated_at = now;
    }
    if !cb.rollback {
        finish_service_deployment(
            service,
            &sd_arn,
            "STOPPED",
            BREAKER_FAILED_REASON,
            now,
            real_now,
        );
        return;
    }
    match service.last_completed.take() {
        Some(target) => {
            let reason = format!(
                "ECS deployment circuit breaker: rolling back to deploymentId {}.",
                target.deployment_id
            );
            roll_back(service, tasks, target, reason, now, rng);
            if let Some(sd) = service.service_deployment_mut(&sd_arn) {
                sd.status = "ROLLBACK_IN_PROGRESS".to_string();
                sd.status_reason = Some(BREAKER_FAILED_REASON.to_string());
            }
        }
        None => finish_service_deployment(
            service,
            &sd_arn,
            "ROLLBACK_FAILED",
            "ECS deployment circuit breaker: tasks failed to start. There is no completed deployment to roll back to.",
            now,
            real_now,
        ),
    }
}

/// Ends a service deployment with a final status.
fn finish_service_deployment(
    service: &mut Service,
    arn: &str,
    status: &str,
    reason: &str,
    now: f64,
    real_now: f64,
) {
    if let Some(sd) = service.service_deployment_mut(arn) {
        sd.status = status.to_string();
        sd.status_reason = Some(reason.to_string());
        sd.started_at.get_or_insert(now);
        sd.finished_at = Some(now);
        if status == "STOPPED" || status == "ROLLBACK_FAILED" {
            sd.stopped_at = Some(now);
        }
        sd.updated_at = now;
        sd.finished_real = Some(real_now);
        if sd.circuit_breaker_status == "MONITORING" {
            sd.circuit_breaker_status = "MONITORING_COMPLETE".to_string();
        }
    }
}

/// Makes a new PRIMARY that runs `target`'s task definition again; the current PRIMARY becomes
/// ACTIVE and its tasks are replaced. The failed deployment's service deployment tracks it.
///
/// Tasks still running from the target deployment already run that revision, so the rollback
/// adopts them instead of replacing them (the CB guide says the target deployment itself goes
/// back to IN_PROGRESS); their `startedBy` keeps the id that launched them.
pub fn roll_back(
    service: &mut Service,
    tasks: &mut [Task],
    target: RevisionRef,
    reason: String,
    now: f64,
    rng: &mut fastrand::Rng,
) {
    let Some(current) = service.primary_mut() else {
        return;
    };
    current.status = DeploymentStatus::Active;
    let sd_arn = current.service_deployment_arn.clone();
    let template = current.clone();
    let deployment = Deployment {
        id: ids::deployment_id(rng),
        status: DeploymentStatus::Primary,
        task_definition: target.task_definition.clone(),
        failed_tasks: 0,
        created_at: now,
        updated_at: now,
        rollout_state: RolloutState::InProgress,
        rollout_state_reason: reason.clone(),
        service_revision_arn: target.revision_arn.clone(),
        service_deployment_arn: sd_arn.clone(),
        rollback_of: Some(target.deployment_id.clone()),
        stalled: false,
        stuck_reported: false,
        finished_emulated: None,
        finished_real: None,
        ..template
    };
    let new_id = deployment.id.clone();
    for t in tasks.iter_mut() {
        if t.deployment_id.as_deref() == Some(target.deployment_id.as_str())
            && t.service.as_deref() == Some(service.name.as_str())
            && t.is_live()
        {
            t.deployment_id = Some(new_id.clone());
        }
    }
    for d in &mut service.deployments {
        if d.id == target.deployment_id && d.status == DeploymentStatus::Active {
            d.status = DeploymentStatus::Inactive;
            d.updated_at = now;
        }
    }
    service.task_definition = target.task_definition.clone();
    service.deployments.insert(0, deployment);
    if let Some(sd) = service.service_deployment_mut(&sd_arn) {
        sd.rollback = Some(RollbackInfo {
            reason,
            started_at: now,
            service_revision_arn: target.revision_arn,
        });
        sd.updated_at = now;
    }
}

/// Starts a new PRIMARY deployment of the service's current settings (CreateService, or
/// UpdateService with a new task definition or forceNewDeployment).
pub fn start_deployment(service: &mut Service, rng: &mut fastrand::Rng, now: f64, real_now: f64) {
    // A new deployment returns a throttled service to normal at once (AWS throttle logic).
    service.start_failures = 0;
    service.launch_not_before = 0.0;
    service.throttle_reported = false;
    for d in &mut service.deployments {
        if d.status == DeploymentStatus::Primary {
            d.status = DeploymentStatus::Active;
            d.updated_at = now;
        }
    }
    // A deployment still in flight is superseded; its service deployment ends STOPPED.
    let unfinished: Vec<String> = service
        .service_deployments
        .iter()
        .filter(|sd| !sd.is_finished())
        .map(|sd| sd.arn.clone())
        .collect();
    for arn in unfinished {
        finish_service_deployment(
            service,
            &arn,
            "STOPPED",
            "Service deployment stopped because a newer service deployment was started.",
            now,
            real_now,
        );
    }
    let digits = ids::nineteen_digits(rng);
    let id = format!("ecs-svc/{digits}");
    let revision = ids::service_revision_arn(&service.cluster_name, &service.name, &digits);
    let sd_arn = ids::service_deployment_arn(
        &service.cluster_name,
        &service.name,
        &ids::opaque_id(rng, 22),
    );
    let mut sources: Vec<String> = Vec::new();
    for d in &service.deployments {
        if d.status != DeploymentStatus::Inactive && !sources.contains(&d.service_revision_arn) {
            sources.push(d.service_revision_arn.clone());
        }
    }
    let breaker = service.circuit_breaker();
    service.deployments.insert(
        0,
        Deployment {
            rollout_state_reason: format!("ECS deployment {id} in progress."),
            id,
            status: DeploymentStatus::Primary,
            task_definition: service.task_definition.clone(),
            failed_tasks: 0,
            created_at: now,
            updated_at: now,
            rollout_state: RolloutState::InProgress,
            launch_type: service.launch_type.clone(),
            capacity_provider_strategy: service.capacity_provider_strategy.clone(),
            platform_version: service.platform_version.clone(),
            network_configuration: service.network_configuration.clone(),
            service_revision_arn: revision.clone(),
            service_deployment_arn: sd_arn.clone(),
            rollback_of: None,
            stalled: false,
            stuck_reported: false,
            finished_emulated: None,
            finished_real: None,
        },
    );
    service.service_deployments.insert(
        0,
        ServiceDeployment {
            arn: sd_arn.clone(),
            deployment_id: service.deployments[0].id.clone(),
            created_at: now,
            started_at: None,
            finished_at: None,
            stopped_at: None,
            updated_at: now,
            status: "PENDING".to_string(),
            status_reason: None,
            source_revisions: sources,
            target_revision: revision,
            deployment_configuration: service.deployment_configuration.clone(),
            rollback: None,
            circuit_breaker_status: if breaker.is_some() {
                "MONITORING"
            } else {
                "DISABLED"
            }
            .to_string(),
            failure_count: 0,
            threshold: breaker.map_or(0, |cb| cb.threshold(service.desired_count)),
            finished_real: None,
        },
    );
    service.current_service_deployment = Some(sd_arn);
}

fn belongs_to(service: &Service, task: &Task) -> bool {
    task.service.as_deref() == Some(service.name.as_str())
        && task
            .deployment_id
            .as_deref()
            .is_some_and(|id| service.deployments.iter().any(|d| d.id == id))
}

fn scheduler_stop_reason(deployment_id: &str) -> String {
    format!("Scaling activity initiated by (deployment {deployment_id})")
}

fn task_list(ids: &[String]) -> String {
    ids.iter()
        .map(|id| format!("(task {id})"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Starts and stops tasks within the deployment configuration's bounds (reference §2.3):
/// live tasks ≤ floor(desired × max%) and healthy tasks ≥ ceil(desired × min%).
fn schedule_service(
    service: &mut Service,
    cluster_name: &str,
    tasks: &mut Vec<Task>,
    definitions: &BTreeMap<String, Vec<TaskDefinition>>,
    scenario: &Scenario,
    rng: &mut fastrand::Rng,
    now: f64,
) {
    let Some(primary) = service.primary() else {
        return;
    };
    if primary.stalled {
        // FAILED (or a rollback with nothing to roll back to) launches and stops nothing.
        return;
    }
    let primary_id = primary.id.clone();
    let desired = u64::from(service.desired_count);
    let (min_percent, max_percent) = service.percent_bounds();
    let max_tasks = desired.saturating_mul(max_percent) / 100;
    let min_healthy = desired.saturating_mul(min_percent).div_ceil(100);
    let stop_reason = scheduler_stop_reason(&primary_id);

    let mine: Vec<usize> = (0..tasks.len())
        .filter(|&i| belongs_to(service, &tasks[i]))
        .collect();
    let live: Vec<usize> = mine
        .iter()
        .copied()
        .filter(|&i| tasks[i].is_live())
        .collect();
    let mut healthy_total = live.iter().filter(|&&i| tasks[i].is_healthy()).count() as u64;
    let mut stopped = Vec::new();

    // Scale-in: the PRIMARY has more tasks than desired; drop unhealthy ones first.
    let mut primary_live: Vec<usize> = live
        .iter()
        .copied()
        .filter(|&i| tasks[i].deployment_id.as_deref() == Some(primary_id.as_str()))
        .collect();
    primary_live.sort_by_key(|&i| tasks[i].is_healthy());
    let excess = (primary_live.len() as u64).saturating_sub(desired) as usize;
    for &i in primary_live.iter().take(excess) {
        if tasks[i].is_healthy() {
            healthy_total -= 1;
        }
        task_lifecycle::request_stop(
            &mut tasks[i],
            now,
            "ServiceSchedulerInitiated",
            &stop_reason,
        );
        stopped.push(tasks[i].id.clone());
    }

    // Old deployments' tasks: unhealthy ones go at once, healthy ones while the minimum holds.
    let mut old: Vec<usize> = live
        .iter()
        .copied()
        .filter(|&i| tasks[i].deployment_id.as_deref() != Some(primary_id.as_str()))
        .collect();
    old.sort_by_key(|&i| tasks[i].is_healthy());
    for i in old {
        let healthy = tasks[i].is_healthy();
        if healthy {
            if healthy_total <= min_healthy {
                break;
            }
            healthy_total -= 1;
        }
        task_lifecycle::request_stop(
            &mut tasks[i],
            now,
            "ServiceSchedulerInitiated",
            &stop_reason,
        );
        stopped.push(tasks[i].id.clone());
    }

    // Start PRIMARY tasks up to desired, within maximumPercent.
    let live_count = mine.iter().filter(|&&i| tasks[i].is_live()).count() as u64;
    let primary_count = mine
        .iter()
        .filter(|&&i| {
            tasks[i].is_live() && tasks[i].deployment_id.as_deref() == Some(primary_id.as_str())
        })
        .count() as u64;
    let need = desired.saturating_sub(primary_count);
    let room = max_tasks.saturating_sub(live_count);
    let throttled = now < service.launch_not_before;
    let to_start = if throttled { 0 } else { need.min(room) };
    let mut started = Vec::new();
    let (definition, placement) = match service.primary() {
        Some(p) => (
            resolve_task_definition(definitions, &p.task_definition),
            Placement {
                launch_type: p.launch_type.clone(),
                capacity_provider_strategy: p.capacity_provider_strategy.clone(),
                platform_version: p.platform_version.clone(),
                network_configuration: p.network_configuration.clone(),
            },
        ),
        None => (None, Placement::default()),
    };
    if let Some(definition) = definition {
        for _ in 0..to_start {
            let task = task_lifecycle::launch_task(
                rng,
                now,
                cluster_name,
                definition,
                scenario,
                Launch::Service {
                    service: service.name.clone(),
                    deployment_id: primary_id.clone(),
                },
                placement.clone(),
            );
            started.push(task.id.clone());
            tasks.push(task);
        }
    }

    let name = service.name.clone();
    if !stopped.is_empty() || !started.is_empty() {
        service.steady = false;
    }
    if !stopped.is_empty() {
        let message = format!(
            "(service {name}) has stopped {} running tasks: {}.",
            stopped.len(),
            task_list(&stopped)
        );
        emit(service, rng, now, message);
    }
    if !started.is_empty() {
        let message = format!(
            "(service {name}) has started {} tasks: {}.",
            started.len(),
            task_list(&started)
        );
        emit(service, rng, now, message);
    }

    // Stuck: nothing may start (max) and nothing may stop (min), with nothing in flight.
    if started.is_empty() && stopped.is_empty() && need > 0 && room == 0 {
        let in_flight = tasks.iter().any(|t| {
            belongs_to(service, t)
                && ((t.is_live() && !t.is_healthy()) || (!t.is_live() && !t.is_stopped()))
        });
        let report = service
            .primary()
            .is_some_and(|p| p.rollout_state == RolloutState::InProgress && !p.stuck_reported);
        if !in_flight && report {
            if let Some(p) = service.primary_mut() {
                p.stuck_reported = true;
            }
            let message = format!(
                "service ({name}) was unable to stop or start tasks during a deployment because of the service deployment configuration. Update the minimumHealthyPercent or maximumPercent value and try again."
            );
            emit(service, rng, now, message);
        }
    }
}

/// COMPLETED once the PRIMARY runs `desired` healthy tasks and every other task is gone.
fn check_completion(
    service: &mut Service,
    tasks: &[Task],
    now: f64,
    real_now: f64,
    rng: &mut fastrand::Rng,
) {
    let Some(primary) = service.primary() else {
        return;
    };
    // A deployment is never complete in the step that created it, so every state (for
    // example FAILED with its rollback IN_PROGRESS) is visible for at least a second.
    if primary.stalled || primary.created_at >= now {
        return;
    }
    let scaled_after_completion = primary.rollout_state == RolloutState::Completed;
    if scaled_after_completion && service.steady {
        return;
    }
    let primary_id = primary.id.as_str();
    let desired = service.desired_count as usize;
    let mut primary_healthy = 0;
    let mut primary_live = 0;
    for t in tasks.iter().filter(|t| belongs_to(service, t)) {
        let is_primary = t.deployment_id.as_deref() == Some(primary_id);
        if is_primary && t.is_live() {
            primary_live += 1;
            if t.is_healthy() {
                primary_healthy += 1;
            }
        } else if !t.is_stopped() {
            // An old task still running or draining, or a PRIMARY task still stopping.
            return;
        }
    }
    if primary_live != desired || primary_healthy != desired {
        return;
    }
    let name = service.name.clone();
    service.steady = true;
    if scaled_after_completion {
        // Scaling (or replacing a task) after the rollout: steady again, nothing to complete.
        emit(
            service,
            rng,
            now,
            format!("(service {name}) has reached a steady state."),
        );
        return;
    }
    let Some(primary) = service.primary_mut() else {
        return;
    };
    primary.rollout_state = RolloutState::Completed;
    if primary.rollback_of.is_none() {
        primary.rollout_state_reason = format!("ECS deployment {} completed.", primary.id);
    }
    primary.updated_at = now;
    primary.finished_emulated = Some(now);
    primary.finished_real = Some(real_now);
    let completed = RevisionRef {
        deployment_id: primary.id.clone(),
        task_definition: primary.task_definition.clone(),
        revision_arn: primary.service_revision_arn.clone(),
    };
    let was_rollback = primary.rollback_of.is_some();
    let sd_arn = primary.service_deployment_arn.clone();
    for d in &mut service.deployments {
        if d.status == DeploymentStatus::Active {
            d.status = DeploymentStatus::Inactive;
            d.updated_at = now;
        }
    }
    let id = completed.deployment_id.clone();
    service.last_completed = Some(completed);
    emit(
        service,
        rng,
        now,
        format!("(service {name}) (deployment {id}) deployment completed."),
    );
    emit(
        service,
        rng,
        now,
        format!("(service {name}) has reached a steady state."),
    );
    let (status, reason) = if was_rollback {
        (
            "ROLLBACK_SUCCESSFUL",
            "Service deployment rolled back successfully.",
        )
    } else {
        ("SUCCESSFUL", "Service deployment completed successfully.")
    };
    let finished = service
        .service_deployment_mut(&sd_arn)
        .is_some_and(|sd| sd.is_finished());
    if !finished {
        finish_service_deployment(service, &sd_arn, status, reason, now, real_now);
    }
}

/// PENDING → IN_PROGRESS and ROLLBACK_REQUESTED → ROLLBACK_IN_PROGRESS one step after the
/// request, so a poller can see the first state.
fn advance_service_deployments(service: &mut Service, now: f64) {
    for sd in &mut service.service_deployments {
        let next = match sd.status.as_str() {
            "PENDING" if sd.created_at < now => "IN_PROGRESS",
            "ROLLBACK_REQUESTED" if sd.updated_at < now => "ROLLBACK_IN_PROGRESS",
            _ => continue,
        };
        sd.status = next.to_string();
        sd.started_at.get_or_insert(now);
        sd.updated_at = now;
    }
}

/// A deleted service stops all its tasks, then becomes INACTIVE.
fn drain_service(service: &mut Service, tasks: &mut [Task], now: f64, rng: &mut fastrand::Rng) {
    let reason = scheduler_stop_reason(service.primary().map_or("", |p| p.id.as_str()));
    let mut stopped = Vec::new();
    let mut remaining = false;
    for t in tasks.iter_mut() {
        if !belongs_to(service, t) {
            continue;
        }
        if t.is_live() {
            task_lifecycle::request_stop(t, now, "ServiceSchedulerInitiated", &reason);
            stopped.push(t.id.clone());
        }
        remaining |= !t.is_stopped();
    }
    if !stopped.is_empty() {
        let message = format!(
            "(service {}) has stopped {} running tasks: {}.",
            service.name,
            stopped.len(),
            task_list(&stopped)
        );
        emit(service, rng, now, message);
    }
    if !remaining {
        service.status = "INACTIVE".to_string();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::dispatch;
    use serde_json::{Value, json};

    const SCENARIO: &str = r#"
images:
  good: {behavior: healthy, start_seconds: 2, healthy_after_seconds: 3}
  flaky: {behavior: crash, start_seconds: 1, after_seconds: 3, healthy_after_seconds: 2}
  crash: {behavior: crash, start_seconds: 1, after_seconds: 2}
  nopull: {behavior: fail_to_start, start_seconds: 2}
"#;

    fn call(state: &mut State, op: &str, body: Value) -> Value {
        dispatch(state, op, &body, 0.0).unwrap_or_else(|e| panic!("{op}: {e}"))
    }

    fn setup(image: &str, desired: u32, config: Value) -> State {
        let mut state = State::new(crate::scenario::Scenario::parse(SCENARIO).unwrap(), 1000.0);
        call(&mut state, "CreateCluster", json!({"clusterName": "c"}));
        call(
            &mut state,
            "RegisterTaskDefinition",
            json!({"family": "f", "containerDefinitions": [{"name": "a", "image": image}]}),
        );
        call(
            &mut state,
            "CreateService",
            json!({"cluster": "c", "serviceName": "s", "taskDefinition": "f",
                   "desiredCount": desired, "deploymentConfiguration": config}),
        );
        state
    }

    fn service(state: &mut State) -> Value {
        call(
            state,
            "DescribeServices",
            json!({"cluster": "c", "services": ["s"]}),
        )["services"][0]
            .clone()
    }

    fn events(state: &mut State) -> Vec<String> {
        service(state)["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["message"].as_str().unwrap().to_string())
            .collect()
    }

    /// Fractions of a second accumulate; each whole second is one scheduler step.
    #[test]
    fn advance_steps_whole_seconds() {
        let mut state = setup("good", 1, json!({}));
        advance(&mut state, 0.5, 0.0);
        assert_eq!(state.now, 1000.0);
        advance(&mut state, 0.6, 0.0);
        assert_eq!(state.now, 1001.0);
        advance(&mut state, f64::NAN, 0.0);
        advance(&mut state, -3.0, 0.0);
        assert_eq!(state.now, 1001.0);
    }

    /// Scaling a completed service starts tasks without a new deployment, then reports a
    /// steady state again.
    #[test]
    fn scaling_after_completion_reports_steady_state_again() {
        let mut state = setup("good", 1, json!({}));
        advance(&mut state, 30.0, 0.0);
        let before = service(&mut state);
        assert_eq!(before["deployments"][0]["rolloutState"], "COMPLETED");
        call(
            &mut state,
            "UpdateService",
            json!({"cluster": "c", "service": "s", "desiredCount": 3}),
        );
        advance(&mut state, 30.0, 0.0);
        let after = service(&mut state);
        assert_eq!(after["deployments"].as_array().unwrap().len(), 1);
        assert_eq!(
            after["deployments"][0]["id"],
            before["deployments"][0]["id"]
        );
        assert_eq!(after["runningCount"], 3);
        let ev = events(&mut state);
        assert_eq!(ev[0], "(service s) has reached a steady state.");
        assert!(ev[1].starts_with("(service s) has started 2 tasks:"));
    }

    /// resetOnHealthyTask=false keeps counting failures across healthy tasks; the default
    /// resets them, so tasks that turn healthy before crashing never trip the breaker.
    #[test]
    fn reset_on_healthy_task() {
        let run = |reset: bool| {
            let mut state = setup(
                "good",
                2,
                json!({"maximumPercent": 150, "minimumHealthyPercent": 100,
                       "deploymentCircuitBreaker": {"enable": true, "rollback": false, "resetOnHealthyTask": reset}}),
            );
            advance(&mut state, 30.0, 0.0);
            call(
                &mut state,
                "RegisterTaskDefinition",
                json!({"family": "g", "containerDefinitions": [{"name": "a", "image": "flaky"}]}),
            );
            call(
                &mut state,
                "UpdateService",
                json!({"cluster": "c", "service": "s", "taskDefinition": "g"}),
            );
            advance(&mut state, 120.0, 0.0);
            service(&mut state)["deployments"][0].clone()
        };
        let resetting = run(true);
        assert_eq!(resetting["rolloutState"], "IN_PROGRESS");
        assert!(
            resetting["failedTasks"].as_u64().unwrap() < 3,
            "{resetting}"
        );
        let counting = run(false);
        assert_eq!(counting["rolloutState"], "FAILED");
        assert_eq!(counting["failedTasks"], 3);
    }

    /// thresholdConfiguration COUNT trips at exactly its value.
    #[test]
    fn count_threshold() {
        let mut state = setup(
            "crash",
            1,
            json!({"deploymentCircuitBreaker": {"enable": true, "rollback": false,
                   "thresholdConfiguration": {"type": "COUNT", "value": 5}}}),
        );
        advance(&mut state, 200.0, 0.0);
        let s = service(&mut state);
        assert_eq!(s["deployments"][0]["rolloutState"], "FAILED");
        assert_eq!(s["deployments"][0]["failedTasks"], 5);
        let ev = events(&mut state);
        assert!(
            ev.iter()
                .any(|m| m.ends_with("deployment failed: tasks failed to start."))
        );
    }

    /// Tasks that keep failing to start are relaunched with growing delays and one event; a
    /// new deployment lifts the throttle at once.
    #[test]
    fn failing_launches_are_throttled() {
        let mut state = setup("nopull", 1, json!({}));
        advance(&mut state, 300.0, 0.0);
        let s = service(&mut state);
        let failed = s["deployments"][0]["failedTasks"].as_u64().unwrap();
        // Unthrottled, a task failing every 2 s would fail ~150 times in 300 s.
        assert!((5..=10).contains(&failed), "failedTasks {failed}");
        let ev = events(&mut state);
        let throttle = "(service s) is unable to consistently start tasks successfully.";
        assert_eq!(ev.iter().filter(|m| *m == throttle).count(), 1);
        call(
            &mut state,
            "UpdateService",
            json!({"cluster": "c", "service": "s", "forceNewDeployment": true}),
        );
        advance(&mut state, 1.0, 0.0);
        let s = service(&mut state);
        assert_eq!(s["pendingCount"], 1, "the new deployment launched at once");
    }

    /// DeleteService drains the tasks, then the service turns INACTIVE.
    #[test]
    fn deleted_service_drains_then_goes_inactive() {
        let mut state = setup("good", 2, json!({}));
        advance(&mut state, 30.0, 0.0);
        let refused = dispatch(
            &mut state,
            "DeleteService",
            &json!({"cluster": "c", "service": "s"}),
            0.0,
        );
        assert_eq!(refused.unwrap_err().code, "InvalidParameterException");
        let deleted = call(
            &mut state,
            "DeleteService",
            json!({"cluster": "c", "service": "s", "force": true}),
        );
        assert_eq!(deleted["service"]["status"], "DRAINING");
        advance(&mut state, 10.0, 0.0);
        let s = service(&mut state);
        assert_eq!(s["status"], "INACTIVE");
        assert_eq!(s["runningCount"], 0);
        let listed = call(&mut state, "ListServices", json!({"cluster": "c"}));
        assert_eq!(listed["serviceArns"], json!([]));
        let err = dispatch(
            &mut state,
            "UpdateService",
            &json!({"cluster": "c", "service": "s", "desiredCount": 1}),
            0.0,
        );
        assert_eq!(err.unwrap_err().code, "ServiceNotActiveException");
    }

    /// A user-stopped task of a completed service is replaced by the scheduler and does not
    /// count as a failure.
    #[test]
    fn stopped_task_is_replaced() {
        let mut state = setup("good", 1, json!({}));
        advance(&mut state, 30.0, 0.0);
        let arns = call(
            &mut state,
            "ListTasks",
            json!({"cluster": "c", "serviceName": "s"}),
        );
        let arn = arns["taskArns"][0].as_str().unwrap().to_string();
        let stopped = call(
            &mut state,
            "StopTask",
            json!({"cluster": "c", "task": arn, "reason": "testing"}),
        );
        assert_eq!(stopped["task"]["stopCode"], "UserInitiated");
        assert_eq!(stopped["task"]["stoppedReason"], "testing");
        advance(&mut state, 30.0, 0.0);
        let s = service(&mut state);
        assert_eq!(s["runningCount"], 1);
        assert_eq!(s["deployments"][0]["failedTasks"], 0);
        let arns = call(
            &mut state,
            "ListTasks",
            json!({"cluster": "c", "serviceName": "s"}),
        );
        assert_ne!(arns["taskArns"][0], json!(arn));
    }
}
