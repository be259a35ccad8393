//! Stage sequences, traffic steps, bake times, PAUSE hooks, ContinueServiceDeployment and
//! StopServiceDeployment of the ECS-native strategies, driven through the operations.

use serde_json::{Value, json};

use crate::model::State;
use crate::ops::dispatch;
use crate::ops::testing::{call, create_service, register, service, state_with_cluster};
use crate::rollout::advance;

const SCENARIO: &str = r#"
images:
  blue: {behavior: healthy, start_seconds: 2, healthy_after_seconds: 3}
  green: {behavior: healthy, start_seconds: 2, healthy_after_seconds: 3}
"#;

/// A service running `blue` (rolled out), then updated to `green` with `config`.
fn deploy(config: Value) -> (State, String) {
    let mut state = state_with_cluster(SCENARIO);
    register(&mut state, "blue", "blue");
    register(&mut state, "green", "green");
    create_service(&mut state, "blue", 2, Value::Null);
    advance(&mut state, 30.0, 0.0);
    let updated = call(
        &mut state,
        "UpdateService",
        json!({"cluster": "c", "service": "s", "taskDefinition": "green",
               "deploymentConfiguration": config}),
    );
    let arn = updated["service"]["currentServiceDeployment"]
        .as_str()
        .unwrap()
        .to_string();
    (state, arn)
}

fn describe(state: &mut State, arn: &str) -> Value {
    call(
        state,
        "DescribeServiceDeployments",
        json!({"serviceDeploymentArns": [arn]}),
    )["serviceDeployments"][0]
        .clone()
}

/// Steps one second at a time until `done` holds (at most `limit` seconds), recording each
/// distinct lifecycle stage and green production weight seen.
struct Trace {
    stages: Vec<String>,
    weights: Vec<f64>,
    seconds: u32,
}

fn run_until(state: &mut State, arn: &str, limit: u32, done: impl Fn(&Value) -> bool) -> Trace {
    let mut trace = Trace {
        stages: Vec::new(),
        weights: Vec::new(),
        seconds: 0,
    };
    for _ in 0..limit {
        let sd = describe(state, arn);
        if let Some(stage) = sd["lifecycleStage"].as_str()
            && trace.stages.last().map(String::as_str) != Some(stage)
        {
            trace.stages.push(stage.to_string());
        }
        if let Some(w) = sd["targetServiceRevision"]["requestedProductionTrafficWeight"].as_f64()
            && trace.weights.last() != Some(&w)
        {
            trace.weights.push(w);
        }
        if done(&sd) {
            return trace;
        }
        advance(state, 1.0, 0.0);
        trace.seconds += 1;
    }
    panic!("not done after {limit} s: {}", describe(state, arn));
}

fn finished(sd: &Value) -> bool {
    matches!(
        sd["status"].as_str(),
        Some("SUCCESSFUL" | "ROLLBACK_SUCCESSFUL" | "ROLLBACK_FAILED" | "STOPPED")
    )
}

fn stage_is(stage: &'static str) -> impl Fn(&Value) -> bool {
    move |sd| sd["lifecycleStage"] == stage
}

/// Runs to PRODUCTION_TRAFFIC_SHIFT, then traces the shift until POST_PRODUCTION_TRAFFIC_SHIFT.
fn production_shift(state: &mut State, arn: &str) -> Trace {
    run_until(state, arn, 300, stage_is("PRODUCTION_TRAFFIC_SHIFT"));
    run_until(state, arn, 400, stage_is("POST_PRODUCTION_TRAFFIC_SHIFT"))
}

const FULL_SEQUENCE: [&str; 9] = [
    "PRE_SCALE_UP",
    "SCALE_UP",
    "POST_SCALE_UP",
    "TEST_TRAFFIC_SHIFT",
    "POST_TEST_TRAFFIC_SHIFT",
    "PRODUCTION_TRAFFIC_SHIFT",
    "POST_PRODUCTION_TRAFFIC_SHIFT",
    "BAKE_TIME",
    "CLEAN_UP",
];

/// BLUE_GREEN walks every lifecycle stage in order, shifts production all at once, keeps blue
/// running until CLEAN_UP, and ends SUCCESSFUL on the new task definition.
#[test]
fn blue_green_stage_sequence() {
    let (mut state, arn) = deploy(json!({"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 1}));
    let bake = run_until(&mut state, &arn, 300, stage_is("BAKE_TIME"));
    let during_bake = service(&mut state);
    assert_eq!(during_bake["runningCount"], 4, "blue and green both run");
    let trace = run_until(&mut state, &arn, 300, finished);
    let mut stages = bake.stages;
    stages.extend(trace.stages.into_iter().skip(1));
    assert_eq!(stages, FULL_SEQUENCE);
    assert_eq!(bake.weights, [0.0, 100.0]);
    let sd = describe(&mut state, &arn);
    assert_eq!(sd["status"], "SUCCESSFUL");
    assert_eq!(sd["lifecycleStage"], "CLEAN_UP");
    let s = service(&mut state);
    assert_eq!(s["runningCount"], 2);
    assert!(s["taskDefinition"].as_str().unwrap().ends_with("green:1"));
}

/// CANARY sends canaryPercent first, waits canaryBakeTimeInMinutes, then sends the rest.
#[test]
fn canary_shifts_then_waits_then_shifts_the_rest() {
    let (mut state, arn) = deploy(json!({"strategy": "CANARY",
        "canaryConfiguration": {"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 2}}));
    let shift = production_shift(&mut state, &arn);
    assert_eq!(shift.weights, [0.0, 10.0, 100.0]);
    assert!(
        (120..=123).contains(&shift.seconds),
        "canary bake {} s",
        shift.seconds
    );
    assert_eq!(
        run_until(&mut state, &arn, 60, finished).stages[0],
        "POST_PRODUCTION_TRAFFIC_SHIFT"
    );
    assert_eq!(describe(&mut state, &arn)["status"], "SUCCESSFUL");
}

/// LINEAR adds stepPercent every stepBakeTimeInMinutes until green has it all.
#[test]
fn linear_steps() {
    let (mut state, arn) = deploy(json!({"strategy": "LINEAR",
        "linearConfiguration": {"stepPercent": 30.0, "stepBakeTimeInMinutes": 1}}));
    let shift = production_shift(&mut state, &arn);
    assert_eq!(shift.weights, [0.0, 30.0, 60.0, 90.0, 100.0]);
    assert!((180..=184).contains(&shift.seconds), "{} s", shift.seconds);
}

/// BAKE_TIME lasts bakeTimeInMinutes of emulated time, blue still running.
#[test]
fn bake_time_lasts_its_minutes() {
    let (mut state, arn) = deploy(json!({"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 3}));
    run_until(&mut state, &arn, 300, stage_is("BAKE_TIME"));
    let bake = run_until(&mut state, &arn, 400, stage_is("CLEAN_UP"));
    assert!(
        (180..=181).contains(&bake.seconds),
        "bake {} s",
        bake.seconds
    );
}

fn gated(timeout: Value) -> Value {
    json!({"strategy": "CANARY", "bakeTimeInMinutes": 1,
        "canaryConfiguration": {"canaryPercent": 5.0, "canaryBakeTimeInMinutes": 1},
        "lifecycleHooks": [{"targetType": "PAUSE", "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"],
                            "timeoutConfiguration": timeout}]})
}

fn awaiting_hook(sd: &Value) -> Option<String> {
    sd["lifecycleHookDetails"]
        .as_array()?
        .iter()
        .find(|h| h["status"] == "AWAITING_ACTION")
        .and_then(|h| h["hookId"].as_str())
        .map(String::from)
}

/// A PAUSE hook at POST_TEST_TRAFFIC_SHIFT holds the deployment there, test traffic on green
/// and production on blue, until ContinueServiceDeployment CONTINUE.
#[test]
fn pause_hook_holds_until_continue() {
    let (mut state, arn) = deploy(gated(json!({"timeoutInMinutes": 30})));
    run_until(&mut state, &arn, 300, |sd| awaiting_hook(sd).is_some());
    advance(&mut state, 600.0, 0.0);
    let sd = describe(&mut state, &arn);
    assert_eq!(sd["status"], "IN_PROGRESS");
    assert_eq!(sd["lifecycleStage"], "POST_TEST_TRAFFIC_SHIFT");
    let target = &sd["targetServiceRevision"];
    assert_eq!(target["requestedTestTrafficWeight"], 100.0);
    assert_eq!(target["requestedProductionTrafficWeight"], 0.0);
    assert_eq!(
        sd["sourceServiceRevisions"][0]["requestedProductionTrafficWeight"],
        100.0
    );
    let hook = sd["lifecycleHookDetails"][0].clone();
    assert_eq!(hook["targetType"], "PAUSE");
    assert_eq!(hook["timeoutAction"], "ROLLBACK");
    assert!(hook["hookId"].as_str().unwrap().starts_with("ecs-pause-"));
    let hook_id = awaiting_hook(&sd).unwrap();
    let out = call(
        &mut state,
        "ContinueServiceDeployment",
        json!({"serviceDeploymentArn": arn, "hookId": hook_id}),
    );
    assert_eq!(out["serviceDeploymentArn"], json!(arn));
    let again = dispatch(
        &mut state,
        "ContinueServiceDeployment",
        &json!({"serviceDeploymentArn": arn, "hookId": hook_id}),
        0.0,
    );
    assert_eq!(again.unwrap_err().code, "ConflictException");
    run_until(&mut state, &arn, 600, finished);
    let sd = describe(&mut state, &arn);
    assert_eq!(sd["status"], "SUCCESSFUL");
    assert_eq!(sd["lifecycleHookDetails"][0]["status"], "SUCCEEDED");
}

/// ContinueServiceDeployment ROLLBACK at the test-traffic pause: production never reaches
/// green, blue keeps serving, and the deployment ends ROLLBACK_SUCCESSFUL.
#[test]
fn continue_rollback_before_production() {
    let (mut state, arn) = deploy(gated(json!({"timeoutInMinutes": 30})));
    run_until(&mut state, &arn, 300, |sd| awaiting_hook(sd).is_some());
    let hook_id = awaiting_hook(&describe(&mut state, &arn)).unwrap();
    call(
        &mut state,
        "ContinueServiceDeployment",
        json!({"serviceDeploymentArn": arn, "hookId": hook_id, "action": "ROLLBACK"}),
    );
    let trace = run_until(&mut state, &arn, 300, finished);
    assert!(
        trace.weights.iter().all(|w| *w == 0.0),
        "{:?}",
        trace.weights
    );
    let sd = describe(&mut state, &arn);
    assert_eq!(sd["status"], "ROLLBACK_SUCCESSFUL");
    assert!(
        sd["statusReason"]
            .as_str()
            .unwrap()
            .contains("ContinueServiceDeployment")
    );
    let s = service(&mut state);
    assert!(s["taskDefinition"].as_str().unwrap().ends_with("blue:1"));
    assert_eq!(s["runningCount"], 2);
}

/// A PAUSE hook left alone times out: ROLLBACK (the default) rolls back; CONTINUE goes on.
#[test]
fn pause_hook_timeout() {
    let (mut state, arn) = deploy(gated(json!({"timeoutInMinutes": 2})));
    run_until(&mut state, &arn, 300, |sd| awaiting_hook(sd).is_some());
    let trace = run_until(&mut state, &arn, 400, |sd| sd["status"] != "IN_PROGRESS");
    assert!((120..=121).contains(&trace.seconds), "{} s", trace.seconds);
    let sd = describe(&mut state, &arn);
    assert_eq!(sd["lifecycleHookDetails"][0]["status"], "TIMED_OUT");
    run_until(&mut state, &arn, 300, finished);
    assert_eq!(describe(&mut state, &arn)["status"], "ROLLBACK_SUCCESSFUL");

    let (mut state, arn) = deploy(gated(json!({"timeoutInMinutes": 1, "action": "CONTINUE"})));
    run_until(&mut state, &arn, 700, finished);
    assert_eq!(describe(&mut state, &arn)["status"], "SUCCESSFUL");
}

/// StopServiceDeployment ROLLBACK during BAKE_TIME returns production to blue.
#[test]
fn stop_during_bake_rolls_back() {
    let (mut state, arn) = deploy(json!({"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 10}));
    run_until(&mut state, &arn, 300, stage_is("BAKE_TIME"));
    call(
        &mut state,
        "StopServiceDeployment",
        json!({"serviceDeploymentArn": arn, "stopType": "ROLLBACK"}),
    );
    let sd = describe(&mut state, &arn);
    assert_eq!(sd["status"], "ROLLBACK_REQUESTED");
    assert_eq!(
        sd["targetServiceRevision"]["requestedProductionTrafficWeight"],
        0.0
    );
    run_until(&mut state, &arn, 120, finished);
    assert_eq!(describe(&mut state, &arn)["status"], "ROLLBACK_SUCCESSFUL");
    let s = service(&mut state);
    assert!(s["taskDefinition"].as_str().unwrap().ends_with("blue:1"));
    assert_eq!(s["runningCount"], 2);
}

/// ContinueServiceDeployment refuses unknown hooks, bad actions and finished deployments.
#[test]
fn continue_errors() {
    let (mut state, arn) = deploy(json!({"strategy": "BLUE_GREEN"}));
    advance(&mut state, 2.0, 0.0);
    let err = |state: &mut State, body: Value| {
        dispatch(state, "ContinueServiceDeployment", &body, 0.0)
            .unwrap_err()
            .code
    };
    assert_eq!(
        err(
            &mut state,
            json!({"serviceDeploymentArn": arn, "hookId": "ecs-pause-x"})
        ),
        "InvalidParameterException"
    );
    assert_eq!(
        err(
            &mut state,
            json!({"serviceDeploymentArn": arn, "hookId": "h", "action": "MAYBE"})
        ),
        "InvalidParameterException"
    );
    let missing = format!("{arn}x");
    assert_eq!(
        err(
            &mut state,
            json!({"serviceDeploymentArn": missing.replace("/s/", "/t/"), "hookId": "h"})
        ),
        "ServiceDeploymentNotFoundException"
    );
    run_until(&mut state, &arn, 300, finished);
    assert_eq!(
        err(
            &mut state,
            json!({"serviceDeploymentArn": arn, "hookId": "h"})
        ),
        "ConflictException"
    );
}
