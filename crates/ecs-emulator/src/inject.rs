//! Test knob (not ECS): add a service event with any text, as a third party with access to the
//! service could make ECS say (service events quote task and container details). deploy-kit's
//! hostile-text tests use it to feed `\r::stop-commands::…`-style text through the real
//! DescribeServices path. `POST /_emulator/inject-event {"cluster", "service", "message"}` →
//! `{"id": …}`, 404 for an unknown service; or `RunningEmulator::inject_event`.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::model::State;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InjectEvent {
    pub cluster: String,
    pub service: String,
    pub message: String,
}

/// Add the event now (newest first, like every event); `Err` names what was not found.
pub fn inject_event(state: &mut State, req: &InjectEvent) -> Result<String, String> {
    let now = state.now;
    let State { clusters, rng, .. } = state;
    let service = clusters
        .get_mut(&req.cluster)
        .and_then(|c| c.services.get_mut(&req.service))
        .ok_or_else(|| format!("no service {}/{}", req.cluster, req.service))?;
    let id = crate::ids::uuid(rng);
    service.push_event(crate::model::ServiceEvent {
        id: id.clone(),
        created_at: now,
        message: req.message.clone(),
    });
    Ok(id)
}

/// The control-API form: `(status, body)`.
pub fn handle(state: &mut State, body: &[u8]) -> (u16, Value) {
    match serde_json::from_slice::<InjectEvent>(body) {
        Err(e) => (
            400,
            json!({"error": format!("bad inject-event request: {e}")}),
        ),
        Ok(req) => match inject_event(state, &req) {
            Ok(id) => (200, json!({"id": id})),
            Err(e) => (404, json!({"error": e})),
        },
    }
}
