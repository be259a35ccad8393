//! The controller of ECS-native BLUE_GREEN, LINEAR and CANARY deployments, one emulated second
//! at a time: the green revision scales up beside blue, test traffic then production traffic
//! shift to it (all at once, in linear steps, or canary then the rest), both run for the bake
//! time, then blue is cleaned up. Lifecycle hooks run at their stages; a PAUSE hook holds the
//! deployment in AWAITING_ACTION until ContinueServiceDeployment or its timeout.
//!
//! A rollback at any stage hands the service to the rolling controller: the blue tasks, still
//! running, are adopted by a rollback deployment (`deployments::roll_back`) and the green ones
//! are stopped, ending ROLLBACK_SUCCESSFUL as a circuit-breaker rollback does.
//!
//! Stage names and order follow `ServiceDeploymentLifecycleStage` (aws-sdk-ecs 1.157) and the
//! Developer Guide; the README lists what the emulator chose where AWS documents nothing.

use std::collections::BTreeMap;

use crate::deployments::{roll_back, rollback_target};
use crate::ids;
use crate::model::{Service, Task, TaskDefinition, resolve_task_definition};
use crate::scenario::Scenario;
use crate::strategy::{HOOK_STAGES, HookRun, ProgressiveRun, STAGES, Shift};
use crate::task_lifecycle::{self, Launch, Placement};

/// What a step needs besides the service and the cluster's tasks.
pub struct Env<'a> {
    pub cluster_name: &'a str,
    pub definitions: &'a BTreeMap<String, Vec<TaskDefinition>>,
    pub scenario: &'a Scenario,
    pub now: f64,
    pub real_now: f64,
}

/// What the current stage asks for.
enum Next {
    Stay,
    Advance,
    RollBack(String),
}

fn tracked_arn(service: &Service) -> Option<String> {
    service
        .primary()
        .filter(|p| p.rollback_of.is_none() && !p.stalled)
        .map(|p| p.service_deployment_arn.clone())
}

/// Whether this controller (not the rolling one) drives the service this second: its PRIMARY
/// is an unfinished ECS-native deployment.
pub fn drives(service: &Service) -> bool {
    let Some(arn) = tracked_arn(service) else {
        return false;
    };
    service.service_deployments.iter().any(|sd| {
        sd.arn == arn
            && sd.progressive.is_some()
            && matches!(sd.status.as_str(), "PENDING" | "IN_PROGRESS")
    })
}

/// Where an ECS-native deployment sends a service's traffic: the deployment whose tasks form
/// the green (alternate) target group and the percentage of test and production traffic green
/// gets. Test traffic moves at TEST_TRAFFIC_SHIFT, production by the strategy's steps; once
/// rolled back (whatever rolled it back) both return to blue; once SUCCESSFUL green is the
/// production revision (100 %).
#[derive(Debug, Clone, PartialEq)]
pub struct Traffic {
    pub green_deployment: String,
    pub test_weight: f64,
    pub production_weight: f64,
}

/// The traffic of the service deployment behind the service's PRIMARY, if that is an
/// ECS-native one; `None` for rolling deployments (every healthy target takes traffic).
pub fn traffic(service: &Service) -> Option<Traffic> {
    let primary = service.primary()?;
    let sd = service
        .service_deployments
        .iter()
        .find(|sd| sd.arn == primary.service_deployment_arn)?;
    let run = sd.progressive.as_ref()?;
    // The same rule as the weights DescribeServiceDeployments shows (`render.rs`).
    let rolled_back = sd.rollback.is_some();
    let weight = |w: f64| if rolled_back { 0.0 } else { w };
    Some(Traffic {
        green_deployment: sd.deployment_id.clone(),
        test_weight: weight(run.test_weight),
        production_weight: weight(run.production_weight),
    })
}

/// One emulated second of an ECS-native deployment. True in CLEAN_UP: the caller then runs
/// the rolling controller's completion check, which ends the deployment SUCCESSFUL once blue
/// is gone (kept there so this module does not import the scheduler).
pub fn step_service(
    service: &mut Service,
    tasks: &mut Vec<Task>,
    env: &Env,
    rng: &mut fastrand::Rng,
) -> bool {
    let Some(arn) = tracked_arn(service) else {
        return false;
    };
    let Some(sd) = service.service_deployment_mut(&arn) else {
        return false;
    };
    if sd.status != "IN_PROGRESS" {
        return false;
    }
    let sources = sd.source_revisions.len();
    let Some(mut run) = sd.progressive.clone() else {
        return false;
    };
    let next = advance(service, tasks, &mut run, sources, env, rng);
    let stage = run.stage;
    if let Some(sd) = service.service_deployment_mut(&arn) {
        if sd.progressive.as_ref().and_then(|r| r.stage) != stage {
            sd.updated_at = env.now;
        }
        sd.progressive = Some(run);
    }
    if let Next::RollBack(reason) = next {
        let _ = roll_back_progressive(service, tasks, reason, env.now, env.real_now, rng);
        return false;
    }
    stage == Some("CLEAN_UP")
}

/// Moves the run along by at most one stage.
fn advance(
    service: &mut Service,
    tasks: &mut Vec<Task>,
    run: &mut ProgressiveRun,
    sources: usize,
    env: &Env,
    rng: &mut fastrand::Rng,
) -> Next {
    let now = env.now;
    let Some(stage) = run.stage else {
        // RECONCILE_SERVICE "only happens when … more than 1 service revision [is] ACTIVE".
        run.stage = Some(if sources > 1 { STAGES[0] } else { STAGES[1] });
        run.stage_since = now;
        return Next::Advance;
    };
    let index = STAGES.iter().position(|s| *s == stage).unwrap_or(0);
    if index >= 2 {
        top_up_green(service, tasks, env, rng);
    }
    if let Some(waiting) = run.awaiting() {
        if now < waiting.expires_at {
            return Next::Stay;
        }
        let id = waiting.hook_id.clone();
        let action = waiting.timeout_action.clone();
        if let Some(h) = run.hook_runs.iter_mut().find(|h| h.hook_id == id) {
            h.status = "TIMED_OUT".to_string();
        }
        if action == "ROLLBACK" {
            return Next::RollBack(format!(
                "Lifecycle hook {id} timed out at {stage}; its timeout action is ROLLBACK."
            ));
        }
        return Next::Stay;
    }
    if !stage_work(service, tasks, run, stage, now, rng) {
        return Next::Stay;
    }
    if HOOK_STAGES.contains(&stage)
        && !run.hooks_ran_for(stage)
        && start_hooks(run, stage, now, rng)
    {
        return Next::Stay;
    }
    match STAGES.get(index + 1) {
        Some(next) => {
            run.stage = Some(next);
            run.stage_since = now;
            Next::Advance
        }
        None => Next::Stay,
    }
}

/// Runs the hooks configured for `stage`; true when a PAUSE hook now awaits action.
///
/// The emulator calls no Lambda function: AWS_LAMBDA hooks are recorded as SUCCEEDED.
fn start_hooks(run: &mut ProgressiveRun, stage: &str, now: f64, rng: &mut fastrand::Rng) -> bool {
    let mut paused = false;
    for spec in run.hooks_for(stage) {
        let pause = spec.target_type == "PAUSE";
        paused |= pause;
        let prefix = if pause { "ecs-pause-" } else { "ecs-lambda-" };
        run.hook_runs.push(HookRun {
            hook_id: format!("{prefix}{}", ids::opaque_id(rng, 43)),
            target_type: spec.target_type.clone(),
            target_arn: spec.target_arn.clone(),
            stage: stage.to_string(),
            status: if pause {
                "AWAITING_ACTION"
            } else {
                "SUCCEEDED"
            }
            .to_string(),
            expires_at: now + spec.timeout_seconds,
            timeout_action: spec.timeout_action.clone(),
        });
    }
    paused
}

/// Does the stage's work; true when it is done.
fn stage_work(
    service: &mut Service,
    tasks: &mut [Task],
    run: &mut ProgressiveRun,
    stage: &str,
    now: f64,
    rng: &mut fastrand::Rng,
) -> bool {
    match stage {
        "SCALE_UP" => green_healthy(service, tasks) >= service.desired_count as usize,
        "TEST_TRAFFIC_SHIFT" => {
            run.test_weight = 100.0;
            true
        }
        "PRODUCTION_TRAFFIC_SHIFT" => shift_production(run, now, rng),
        "BAKE_TIME" => now - run.stage_since >= run.bake_seconds,
        "CLEAN_UP" => {
            stop_blue(service, tasks, now, rng);
            false
        }
        _ => true,
    }
}

/// One production step when it is due (PRE_PRODUCTION_TRAFFIC_SHIFT hooks first); true once
/// the green revision has all production traffic.
fn shift_production(run: &mut ProgressiveRun, now: f64, rng: &mut fastrand::Rng) -> bool {
    if run.production_weight >= 100.0 {
        return true;
    }
    let wait = match &run.shift {
        Shift::BlueGreen => 0.0,
        Shift::Linear {
            step_bake_seconds, ..
        } => *step_bake_seconds,
        Shift::Canary { bake_seconds, .. } => *bake_seconds,
    };
    if run.steps > 0 && now - run.step_since < wait {
        return false;
    }
    let key = format!("PRE_PRODUCTION_TRAFFIC_SHIFT#{}", run.steps + 1);
    if !run.hooks_ran_for(&key) && start_hooks(run, &key, now, rng) {
        return false;
    }
    if run.awaiting().is_some() {
        return false;
    }
    let next = match &run.shift {
        Shift::BlueGreen => 100.0,
        Shift::Linear { step_percent, .. } => run.production_weight + step_percent,
        Shift::Canary { percent, .. } if run.steps == 0 => *percent,
        Shift::Canary { .. } => 100.0,
    };
    // Tenths, as the API's percentages are multiples of 0.1.
    run.production_weight = ((next * 10.0).round() / 10.0).min(100.0);
    run.steps += 1;
    run.step_since = now;
    false
}

fn is_green(service: &Service, task: &Task) -> bool {
    task.service.as_deref() == Some(service.name.as_str())
        && service
            .primary()
            .is_some_and(|p| task.deployment_id.as_deref() == Some(p.id.as_str()))
}

fn green_healthy(service: &Service, tasks: &[Task]) -> usize {
    tasks
        .iter()
        .filter(|t| is_green(service, t) && t.is_healthy())
        .count()
}

/// Keeps `desiredCount` green tasks launched (replacing failed ones) whatever
/// maximumPercent says: blue/green runs both revisions in full.
fn top_up_green(service: &mut Service, tasks: &mut Vec<Task>, env: &Env, rng: &mut fastrand::Rng) {
    let live = tasks
        .iter()
        .filter(|t| is_green(service, t) && t.is_live())
        .count();
    let need = (service.desired_count as usize).saturating_sub(live);
    if need == 0 || env.now < service.launch_not_before {
        return;
    }
    let Some(primary) = service.primary() else {
        return;
    };
    let Some(definition) = resolve_task_definition(env.definitions, &primary.task_definition)
    else {
        return;
    };
    let placement = Placement::of(primary);
    let launch = Launch::Service {
        service: service.name.clone(),
        deployment_id: primary.id.clone(),
    };
    let mut started = Vec::new();
    for _ in 0..need {
        let task = task_lifecycle::launch_task(
            rng,
            env.now,
            env.cluster_name,
            definition,
            env.scenario,
            launch.clone(),
            placement.clone(),
        );
        started.push(task.id.clone());
        tasks.push(task);
    }
    service.steady = false;
    service.emit_started(rng, env.now, &started);
}

/// CLEAN_UP: the blue revision's tasks stop.
fn stop_blue(service: &mut Service, tasks: &mut [Task], now: f64, rng: &mut fastrand::Rng) {
    let Some(primary_id) = service.primary().map(|p| p.id.clone()) else {
        return;
    };
    let mut stopped = Vec::new();
    for t in tasks.iter_mut() {
        let blue = t.service.as_deref() == Some(service.name.as_str())
            && t.deployment_id.as_deref() != Some(primary_id.as_str());
        if blue && t.is_live() {
            stopped.push(task_lifecycle::stop_for_deployment(t, now, &primary_id));
        }
    }
    if !stopped.is_empty() {
        service.steady = false;
    }
    service.emit_stopped(rng, now, &stopped);
}

/// Rolls the current ECS-native deployment back to blue (ContinueServiceDeployment ROLLBACK,
/// a PAUSE hook's timeout): production and test traffic return to blue at once, the service
/// deployment goes ROLLBACK_IN_PROGRESS and ends ROLLBACK_SUCCESSFUL once green is gone.
pub fn roll_back_progressive(
    service: &mut Service,
    tasks: &mut [Task],
    reason: String,
    now: f64,
    real_now: f64,
    rng: &mut fastrand::Rng,
) -> Result<(), &'static str> {
    let arn = tracked_arn(service).ok_or("The service deployment is not in progress.")?;
    let target = rollback_target(service, &arn)
        .ok_or("There is no previous service revision to roll back to.")?;
    let primary = service
        .primary_mut()
        .ok_or("The service deployment is not in progress.")?;
    let failed_reason = format!("ECS deployment {} rolled back: {reason}", primary.id);
    primary.fail(failed_reason, now, real_now);
    let message = format!(
        "Service deployment rolled back to deploymentId {}.",
        target.deployment_id
    );
    roll_back(service, tasks, target, message, now, rng);
    if let Some(sd) = service.service_deployment_mut(&arn) {
        sd.status = "ROLLBACK_IN_PROGRESS".to_string();
        sd.status_reason = Some(reason);
        sd.updated_at = now;
        if let Some(run) = sd.progressive.as_mut() {
            run.production_weight = 0.0;
            run.test_weight = 0.0;
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "progressive_tests.rs"]
mod tests;
