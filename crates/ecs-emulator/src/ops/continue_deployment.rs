//! ContinueServiceDeployment: acts on a PAUSE lifecycle hook in AWAITING_ACTION, continuing
//! the deployment to its next stage or rolling it back (Developer Guide "Continuing service
//! deployments"; the API reference: `action` CONTINUE (default) or ROLLBACK). In process mode
//! a rollback moves the load balancers' traffic back to blue before the call returns.

use serde_json::{Value, json};

use super::input::Input;
use super::service_deployments::{Target, target};
use crate::error::EcsError;
use crate::model::State;
use crate::progressive::roll_back_progressive;

pub fn continue_deployment(
    state: &mut State,
    input: &Input,
    real_now: f64,
) -> Result<Value, EcsError> {
    let arn = input.required_str("serviceDeploymentArn")?.to_string();
    let hook_id = input.required_str("hookId")?.to_string();
    let rollback = match input.str("action")? {
        None | Some("CONTINUE") => false,
        Some("ROLLBACK") => true,
        Some(_) => {
            return Err(EcsError::invalid_parameter(
                "action must be CONTINUE or ROLLBACK.",
            ));
        }
    };
    let now = state.now;
    let Target {
        cluster: cluster_name,
        service,
        tasks,
        rng,
    } = target(state, &arn)?;
    let sd = service
        .service_deployment_mut(&arn)
        .ok_or_else(EcsError::service_deployment_not_found)?;
    if sd.status != "IN_PROGRESS" {
        return Err(EcsError::conflict(format!(
            "The service deployment is {}; only an IN_PROGRESS deployment can be continued.",
            sd.status
        )));
    }
    let hook = sd
        .progressive
        .as_mut()
        .and_then(|run| run.hook_runs.iter_mut().find(|h| h.hook_id == hook_id))
        .ok_or_else(|| {
            EcsError::invalid_parameter(format!(
                "The service deployment has no lifecycle hook {hook_id}."
            ))
        })?;
    if hook.status != "AWAITING_ACTION" || hook.target_type != "PAUSE" {
        return Err(EcsError::conflict(format!(
            "The lifecycle hook is {}, not a PAUSE hook in AWAITING_ACTION.",
            hook.status
        )));
    }
    hook.status = if rollback { "FAILED" } else { "SUCCEEDED" }.to_string();
    sd.updated_at = now;
    if rollback {
        let reason = format!("Rollback requested by ContinueServiceDeployment on hook {hook_id}.");
        roll_back_progressive(service, tasks, reason, now, real_now, rng)
            .map_err(EcsError::conflict)?;
        // Production and test traffic return to blue now, not at the next clock step.
        if let Some(supervisor) = &state.processes {
            supervisor.route_cluster(&state.clusters[&cluster_name]);
        }
    }
    Ok(json!({"serviceDeploymentArn": arn}))
}
