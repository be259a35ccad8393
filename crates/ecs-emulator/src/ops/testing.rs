//! The unit tests' way in (`rollout.rs`, `progressive_tests.rs`): operations called as a
//! client calls them, on cluster `c` and service `s`, with one-container task definitions.

use serde_json::{Value, json};

use crate::model::State;
use crate::scenario::Scenario;

/// Runs `op`, which must succeed.
pub(crate) fn call(state: &mut State, op: &str, body: Value) -> Value {
    super::dispatch(state, op, &body, 0.0).unwrap_or_else(|e| panic!("{op}: {e}"))
}

/// A state at emulated time 1000 with `scenario` (YAML) and the cluster `c`.
pub(crate) fn state_with_cluster(scenario: &str) -> State {
    let mut state = State::new(Scenario::parse(scenario).unwrap(), 1000.0);
    call(&mut state, "CreateCluster", json!({"clusterName": "c"}));
    state
}

/// Registers `family` with one container `a` running `image`.
pub(crate) fn register(state: &mut State, family: &str, image: &str) {
    call(
        state,
        "RegisterTaskDefinition",
        json!({"family": family, "containerDefinitions": [{"name": "a", "image": image}]}),
    );
}

/// Creates the service `s` on `task_definition`; a null `config` leaves
/// deploymentConfiguration out.
pub(crate) fn create_service(
    state: &mut State,
    task_definition: &str,
    desired: u32,
    config: Value,
) {
    call(
        state,
        "CreateService",
        json!({"cluster": "c", "serviceName": "s", "taskDefinition": task_definition,
               "desiredCount": desired, "deploymentConfiguration": config}),
    );
}

/// DescribeServices of the service `s`.
pub(crate) fn service(state: &mut State) -> Value {
    call(
        state,
        "DescribeServices",
        json!({"cluster": "c", "services": ["s"]}),
    )["services"][0]
        .clone()
}
