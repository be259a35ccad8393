//! Waiting for one service's deployment with `wait-stable`'s waiter, so `ecs-roll` prints the
//! same progress and reaches the same verdicts as `wait-stable` (a circuit-breaker rollback is a
//! rollback, not a green). Each service rolling in parallel runs its own wait under its own
//! deadline; the waiter batches nothing across them, which costs one DescribeServices per service
//! per interval.

use std::time::Duration;

use aws_sdk_ecs::Client;
use dk_core::poll::Deadline;
use dk_core::{Result, Ui};
use wait_stable::waiter::{self, ServiceOutcome, Target, Track, Until, WaitOptions};

use crate::services::ServiceRef;

/// Wait until the tracked deployment of `sref` is completed and the service is stable on it.
pub async fn wait_for(
    ecs: &Client,
    ui: &Ui,
    sref: &ServiceRef,
    track: Track,
    timeout: Duration,
    interval: Duration,
) -> Result<ServiceOutcome> {
    let targets = [Target {
        cluster: sref.cluster.clone(),
        service: sref.name.clone(),
        track,
    }];
    let opts = WaitOptions {
        deadline: Deadline::after(timeout),
        interval,
        until: Until::Stable,
    };
    let mut outcomes = waiter::wait(ecs, ui, &targets, &opts).await?;
    if outcomes.is_empty() {
        return Err(dk_core::Error::runtime(format!(
            "the waiter returned no verdict for {sref}"
        )));
    }
    Ok(outcomes.remove(0))
}

/// Track our deployment by id when we have it, else by the task definition we set.
pub fn track(deployment_id: Option<&str>, task_definition: &str) -> Track {
    match deployment_id {
        Some(id) => Track::DeploymentId(id.to_string()),
        None => Track::TaskDefinition(task_definition.to_string()),
    }
}
