//! Waiting with `wait-stable`'s waiter, so `ecs-roll` prints the same progress and reaches the
//! same verdicts as `wait-stable` (a circuit-breaker rollback is a rollback, not a green). The
//! services rolled together are waited for in one call — one poll loop, one DescribeServices per
//! 10 services per interval, one log group — each tracking its own deployment.

use std::time::Duration;

use aws_sdk_ecs::Client;
use dk_core::poll::Deadline;
use dk_core::{Result, Ui};
use wait_stable::waiter::{self, ServiceOutcome, Target, Track, Until, WaitOptions};

use crate::services::ServiceRef;

/// Wait until the tracked deployment of `sref` is completed and the service is stable on it.
/// `allow_empty`: a deployment no task ever ran (desiredCount 0) counts as succeeded instead of
/// `no_tasks` (a return to the recorded revision, or `--allow-empty`).
pub async fn wait_for(
    ecs: &Client,
    ui: &Ui,
    sref: &ServiceRef,
    track: Track,
    timeout: Duration,
    interval: Duration,
    allow_empty: bool,
) -> Result<ServiceOutcome> {
    let targets = [Target {
        sref: sref.clone(),
        track,
    }];
    let opts = WaitOptions {
        deadline: Deadline::after(timeout),
        interval,
        until: Until::Stable,
        // We have just created the deployment: DescribeServices may not show it at once.
        created_grace: timeout,
        allow_empty,
    };
    let mut outcomes = waiter::wait(ecs, ui, &targets, &opts).await?;
    if outcomes.is_empty() {
        return Err(dk_core::Error::runtime(format!(
            "the waiter returned no verdict for {sref}"
        )));
    }
    Ok(outcomes.remove(0))
}

/// Wait for several services at once under one deadline; verdicts in the order given. `Err` only
/// for problems with the request or the infrastructure (see the waiter's contract).
pub async fn wait_for_all(
    ecs: &Client,
    ui: &Ui,
    targets: Vec<(ServiceRef, Track)>,
    timeout: Duration,
    interval: Duration,
) -> Result<Vec<ServiceOutcome>> {
    if targets.is_empty() {
        return Ok(Vec::new());
    }
    let n = targets.len();
    let targets: Vec<Target> = targets
        .into_iter()
        .map(|(sref, track)| Target { sref, track })
        .collect();
    let opts = WaitOptions {
        deadline: Deadline::after(timeout),
        interval,
        until: Until::Stable,
        // We have just created the deployment: DescribeServices may not show it at once.
        created_grace: timeout,
        // Used for returns: the recorded revision ran before; zero tasks of it is no failure.
        allow_empty: true,
    };
    let outcomes = waiter::wait(ecs, ui, &targets, &opts).await?;
    if outcomes.len() != n {
        return Err(dk_core::Error::runtime(format!(
            "the waiter returned {} verdicts for {n} services",
            outcomes.len()
        )));
    }
    Ok(outcomes)
}
