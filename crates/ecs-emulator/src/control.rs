//! The control API under `/_emulator/`: what tests and benchmarks use to stage scenarios, arm
//! faults, move the clock and look inside. It is not part of ECS; no SDK ever calls it.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::faults::Fault;
use crate::model::{DeploymentStatus, State};
use crate::render::{render_service, render_service_deployment, render_task, timestamp};
use crate::scenario::{Consistency, Scenario};

/// A control response: status code and JSON body.
pub type ControlResponse = (u16, Value);

fn bad_request(message: impl Into<String>) -> ControlResponse {
    (400, json!({"error": message.into()}))
}

/// Body of `POST /_emulator/advance`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AdvanceRequest {
    seconds: f64,
}

/// Body of `POST /_emulator/alarms`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AlarmRequest {
    name: String,
    state: String,
}

/// Routes one control request. `real_now` is wall-clock epoch seconds.
pub fn handle(
    state: &mut State,
    manual_forced: bool,
    method: &str,
    path: &str,
    query: Option<&str>,
    body: &[u8],
    real_now: f64,
) -> ControlResponse {
    let text = String::from_utf8_lossy(body);
    match (method, path) {
        ("GET", "/_emulator/health") => (200, json!({"status": "ok"})),
        ("POST", "/_emulator/inject-event") => crate::inject::handle(state, body),
        ("GET", "/_emulator/scenario") => (200, json!(state.scenario)),
        ("POST" | "PUT", "/_emulator/scenario") => match Scenario::parse(&text) {
            Ok(scenario) => {
                state.scenario = scenario;
                (200, json!({"status": "ok"}))
            }
            Err(e) => bad_request(e.to_string()),
        },
        ("GET", "/_emulator/consistency") => (200, json!(state.scenario.eventual_consistency)),
        ("POST" | "PUT", "/_emulator/consistency") => {
            match serde_json::from_str::<Consistency>(&text) {
                Ok(c)
                    if c.describe_services.seconds.is_finite()
                        && c.describe_services.seconds >= 0.0 =>
                {
                    state.scenario.eventual_consistency = c;
                    (200, json!({"status": "ok"}))
                }
                Ok(_) => bad_request("describe_services.seconds must be a non-negative number"),
                Err(e) => bad_request(format!(
                    "invalid consistency: {e}; expected {{\"describe_services\": {{\"calls\": 2, \"seconds\": 0}}, \"update_service_response\": true}}"
                )),
            }
        }
        ("GET", "/_emulator/alarms") => (200, json!(state.alarms)),
        ("POST" | "PUT", "/_emulator/alarms") => {
            match serde_json::from_str::<AlarmRequest>(&text) {
                Ok(req) if matches!(req.state.as_str(), "OK" | "ALARM" | "INSUFFICIENT_DATA") => {
                    state.alarms.insert(req.name, req.state);
                    (200, json!({"status": "ok", "alarms": state.alarms}))
                }
                Ok(_) => bad_request("state must be OK, ALARM or INSUFFICIENT_DATA"),
                Err(e) => bad_request(format!(
                    "invalid alarm: {e}; expected {{\"name\": \"web-5xx\", \"state\": \"ALARM\"}}"
                )),
            }
        }
        ("GET", "/_emulator/load-balancers") => (200, load_balancers(state)),
        ("GET", "/_emulator/faults") => (200, json!(state.faults.armed())),
        ("POST", "/_emulator/faults") => match serde_json::from_str::<Fault>(&text) {
            Ok(fault) => {
                state.faults.arm(fault);
                (200, json!({"status": "ok", "armed": state.faults.armed()}))
            }
            Err(e) => bad_request(format!(
                "invalid fault: {e}; expected {{\"operation\": \"DescribeServices\" or \"*\", \"count\": N, \"kind\": \"throttle\", \"server_error\" or \"access_denied\"}}"
            )),
        },
        ("DELETE", "/_emulator/faults") => {
            state.faults.clear();
            (200, json!({"status": "ok"}))
        }
        ("POST", "/_emulator/advance") => match serde_json::from_str::<AdvanceRequest>(&text) {
            Ok(req) if req.seconds.is_finite() && req.seconds >= 0.0 => {
                crate::rollout::advance(state, req.seconds, real_now);
                (200, json!({"now": timestamp(state.now)}))
            }
            Ok(_) => bad_request("seconds must be a non-negative number"),
            Err(e) => bad_request(format!(
                "invalid advance request: {e}; expected {{\"seconds\": 30}}"
            )),
        },
        ("POST", "/_emulator/reset") => {
            reset(state);
            (200, json!({"status": "ok"}))
        }
        ("GET", "/_emulator/calls") => (200, json!(state.calls)),
        ("DELETE", "/_emulator/calls") => {
            state.calls = Default::default();
            (200, json!({"status": "ok"}))
        }
        ("GET", "/_emulator/state") => (200, state_snapshot(state, manual_forced)),
        ("GET", "/_emulator/events") => {
            let since = query
                .and_then(|q| {
                    q.split('&')
                        .find_map(|kv| kv.strip_prefix("since="))
                        .map(str::to_string)
                })
                .map(|s| s.parse::<f64>());
            match since {
                Some(Err(_)) => bad_request("since must be epoch seconds"),
                Some(Ok(since)) => (200, events_since(state, since)),
                None => (200, events_since(state, f64::MIN)),
            }
        }
        _ => (
            404,
            json!({"error": format!("no control endpoint {method} {path}")}),
        ),
    }
}

/// Forgets every resource, fault and call, keeping the scenario and the clock, so one
/// long-running emulator can serve several benchmark or demo runs.
pub fn reset(state: &mut State) {
    if let Some(processes) = &state.processes {
        processes.kill_all(false);
    }
    state.clusters.clear();
    state.task_definitions.clear();
    state.tags.clear();
    state.run_task_tokens.clear();
    state.faults.clear();
    state.calls = Default::default();
    state.alarms.clear();
}

/// Process mode: each service's load balancer address and targets (empty without processes).
fn load_balancers(state: &State) -> Value {
    state.processes.as_ref().map_or_else(
        || json!({"loadBalancers": [], "startedPids": []}),
        |p| p.control_view(),
    )
}

/// Every service event after `since`, oldest first, with its cluster and service.
fn events_since(state: &State, since: f64) -> Value {
    let mut events: Vec<(f64, Value)> = Vec::new();
    for c in state.clusters.values() {
        for s in c.services.values() {
            for e in s.events.iter().filter(|e| e.created_at > since) {
                events.push((
                    e.created_at,
                    json!({
                        "cluster": c.name,
                        "service": s.name,
                        "id": e.id,
                        "createdAt": timestamp(e.created_at),
                        "message": e.message,
                    }),
                ));
            }
        }
    }
    // Events of one service are stored newest first; reversing before a stable sort keeps
    // same-second events in the order they happened.
    events.reverse();
    events.sort_by(|a, b| a.0.total_cmp(&b.0));
    json!({"events": events.into_iter().map(|(_, v)| v).collect::<Vec<_>>()})
}

/// Everything, for debugging and for benchmarks (deployment finish times, emulated and real).
pub fn state_snapshot(state: &State, manual_forced: bool) -> Value {
    let clusters: Vec<Value> = state
        .clusters
        .values()
        .map(|c| {
            let services: Vec<Value> = c
                .services
                .values()
                .map(|s| {
                    let history: Vec<Value> = s
                        .deployments
                        .iter()
                        .map(|d| {
                            json!({
                                "id": d.id,
                                "status": d.status.as_str(),
                                "rolloutState": d.rollout_state.as_str(),
                                "rolloutStateReason": d.rollout_state_reason,
                                "taskDefinition": d.task_definition,
                                "failedTasks": d.failed_tasks,
                                "createdAt": timestamp(d.created_at),
                                "finishedAt": d.finished_emulated.map(timestamp),
                                "finishedAtReal": d.finished_real.map(timestamp),
                                "rollbackTo": d.rollback_of,
                                "serviceDeploymentArn": d.service_deployment_arn,
                                "visible": d.status != DeploymentStatus::Inactive,
                            })
                        })
                        .collect();
                    let service_deployments: Vec<Value> = s
                        .service_deployments
                        .iter()
                        .map(|sd| {
                            let mut v = render_service_deployment(s, sd, &c.tasks);
                            v["finishedAtReal"] = json!(sd.finished_real.map(timestamp));
                            v["deploymentId"] = json!(sd.deployment_id);
                            v
                        })
                        .collect();
                    let healthy = c
                        .tasks
                        .iter()
                        .filter(|t| t.service.as_deref() == Some(s.name.as_str()) && t.is_healthy())
                        .count();
                    json!({
                        "service": render_service(state, s, &c.tasks, true),
                        "healthyTasks": healthy,
                        "deploymentHistory": history,
                        "serviceDeployments": service_deployments,
                        "lastCompletedDeployment": s.last_completed.as_ref().map(|r| &r.deployment_id),
                    })
                })
                .collect();
            json!({
                "name": c.name,
                "arn": c.arn,
                "status": c.status,
                "services": services,
                "tasks": c.tasks.iter().map(|t| render_task(state, t, true)).collect::<Vec<_>>(),
            })
        })
        .collect();
    let task_definitions: Vec<Value> = state
        .task_definitions
        .values()
        .flat_map(|v| v.iter())
        .map(|td| json!({"arn": td.arn, "status": td.status}))
        .collect();
    json!({
        "now": timestamp(state.now),
        "timeScale": state.scenario.time_scale,
        "manualClock": manual_forced || state.scenario.manual_clock,
        "scenario": state.scenario,
        "faults": state.faults.armed(),
        "alarms": state.alarms,
        "calls": state.calls,
        "clusters": clusters,
        "taskDefinitions": task_definitions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> State {
        State::new(Scenario::default(), 1_000.0)
    }

    /// Advancing moves the emulated clock by whole seconds.
    #[test]
    fn advance_moves_the_clock() {
        let mut s = state();
        let (code, body) = handle(
            &mut s,
            true,
            "POST",
            "/_emulator/advance",
            None,
            br#"{"seconds": 30}"#,
            0.0,
        );
        assert_eq!(code, 200);
        assert_eq!(body["now"], json!(1030.0));
        let (code, _) = handle(
            &mut s,
            true,
            "POST",
            "/_emulator/advance",
            None,
            br#"{"seconds": -1}"#,
            0.0,
        );
        assert_eq!(code, 400);
    }

    /// Faults are armed from JSON; malformed ones are refused with the expected shape.
    #[test]
    fn faults_are_armed() {
        let mut s = state();
        let body = br#"{"operation":"DescribeServices","count":5,"kind":"throttle"}"#;
        assert_eq!(
            handle(&mut s, false, "POST", "/_emulator/faults", None, body, 0.0).0,
            200
        );
        assert_eq!(s.faults.armed().len(), 1);
        let (code, body) = handle(&mut s, false, "POST", "/_emulator/faults", None, b"{}", 0.0);
        assert_eq!(code, 400);
        assert!(body["error"].as_str().unwrap().contains("expected"));
    }

    /// A bad scenario is refused and the old one kept.
    #[test]
    fn bad_scenario_is_refused() {
        let mut s = state();
        let (code, _) = handle(
            &mut s,
            false,
            "POST",
            "/_emulator/scenario",
            None,
            b"time_scale: -1",
            0.0,
        );
        assert_eq!(code, 400);
        assert_eq!(s.scenario, Scenario::default());
        crate::ops::dispatch(&mut s, "CreateCluster", &json!({}), 0.0).unwrap();
        let (code, _) = handle(&mut s, false, "POST", "/_emulator/reset", None, b"", 0.0);
        assert_eq!(code, 200);
        assert!(s.clusters.is_empty());
        let (code, _) = handle(&mut s, false, "GET", "/_emulator/nothing", None, b"", 0.0);
        assert_eq!(code, 404);
    }
}
