//! ECS-native deployment strategies as data: `deploymentConfiguration.strategy` BLUE_GREEN,
//! LINEAR and CANARY, their bake times and lifecycle hooks, validated and read into a
//! [`ProgressiveRun`] that a ServiceDeployment carries while `progressive.rs` drives it.
//!
//! Sources (README "ECS-native strategies"): the API reference for `DeploymentConfiguration`,
//! `LinearConfiguration`, `CanaryConfiguration`, `DeploymentLifecycleHook`,
//! `DeploymentLifecycleHookTimeoutConfiguration`; the Developer Guide pages "Pause hooks for
//! Amazon ECS service deployments" and "Continuing service deployments"; aws-sdk-ecs 1.157
//! enums. This module imports nothing of the crate.

use serde_json::{Map, Value};

/// The lifecycle stages of a ServiceDeployment, in order (`ServiceDeploymentLifecycleStage`).
pub const STAGES: [&str; 10] = [
    "RECONCILE_SERVICE",
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

/// Stages a hook may name (`DeploymentLifecycleHookStage`); PRE_PRODUCTION_TRAFFIC_SHIFT runs
/// before every production step of a linear or canary shift.
pub const HOOK_STAGES: [&str; 8] = [
    "RECONCILE_SERVICE",
    "PRE_SCALE_UP",
    "POST_SCALE_UP",
    "TEST_TRAFFIC_SHIFT",
    "POST_TEST_TRAFFIC_SHIFT",
    "PRE_PRODUCTION_TRAFFIC_SHIFT",
    "PRODUCTION_TRAFFIC_SHIFT",
    "POST_PRODUCTION_TRAFFIC_SHIFT",
];

/// A PAUSE hook cannot hold these stages (the pause hooks guide).
const NO_PAUSE_STAGES: [&str; 2] = ["TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT"];

/// Hook timeout default: 1440 minutes, range 1..=20160 (API reference).
const DEFAULT_HOOK_TIMEOUT_MINUTES: u64 = 1440;
const MAX_HOOK_TIMEOUT_MINUTES: u64 = 20160;

/// How production traffic moves to the new (green) revision.
#[derive(Debug, Clone, PartialEq)]
pub enum Shift {
    /// All at once.
    BlueGreen,
    /// `step_percent` more every `step_bake_seconds` (defaults 10.0 %, 6 minutes).
    Linear {
        step_percent: f64,
        step_bake_seconds: f64,
    },
    /// `percent` first, the rest after `bake_seconds` (defaults 5.0 %, 10 minutes).
    Canary { percent: f64, bake_seconds: f64 },
}

/// One configured lifecycle hook.
#[derive(Debug, Clone, PartialEq)]
pub struct HookSpec {
    /// `PAUSE` or `AWS_LAMBDA` (the default).
    pub target_type: String,
    pub target_arn: Option<String>,
    pub stages: Vec<String>,
    pub timeout_seconds: f64,
    /// `ROLLBACK` (default) or `CONTINUE`.
    pub timeout_action: String,
}

/// One hook invocation, as `lifecycleHookDetails[]` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct HookRun {
    pub hook_id: String,
    pub target_type: String,
    pub target_arn: Option<String>,
    /// The hook stage it ran for (PRE_PRODUCTION_TRAFFIC_SHIFT steps carry `#n`).
    pub stage: String,
    /// AWAITING_ACTION, IN_PROGRESS, SUCCEEDED, FAILED, TIMED_OUT.
    pub status: String,
    pub expires_at: f64,
    pub timeout_action: String,
}

/// The progress of one ECS-native (non-ROLLING) service deployment.
#[derive(Debug, Clone, PartialEq)]
pub struct ProgressiveRun {
    pub shift: Shift,
    /// `bakeTimeInMinutes` in seconds: both revisions run after production has shifted.
    pub bake_seconds: f64,
    /// The current lifecycle stage; `None` before the deployment starts.
    pub stage: Option<&'static str>,
    pub stage_since: f64,
    /// Percentage of test and production traffic the green revision gets.
    pub test_weight: f64,
    pub production_weight: f64,
    /// When the last production step was taken.
    pub step_since: f64,
    /// Production steps taken so far.
    pub steps: u32,
    pub hooks: Vec<HookSpec>,
    pub hook_runs: Vec<HookRun>,
}

impl ProgressiveRun {
    /// The hook run waiting for ContinueServiceDeployment, if any.
    pub fn awaiting(&self) -> Option<&HookRun> {
        self.hook_runs
            .iter()
            .find(|h| h.status == "AWAITING_ACTION")
    }

    /// Whether hooks already ran for `stage`.
    pub fn hooks_ran_for(&self, stage: &str) -> bool {
        self.hook_runs.iter().any(|h| h.stage == stage)
    }

    /// Hooks configured for `stage` (PRE_PRODUCTION_TRAFFIC_SHIFT#n counts as its base stage).
    pub fn hooks_for(&self, stage: &str) -> Vec<HookSpec> {
        let base = stage.split('#').next().unwrap_or(stage);
        self.hooks
            .iter()
            .filter(|h| h.stages.iter().any(|s| s == base))
            .cloned()
            .collect()
    }
}

fn number(map: Option<&Value>, key: &str) -> Option<f64> {
    map?.get(key)?.as_f64()
}

/// The strategy named by a deploymentConfiguration (ROLLING when absent).
pub fn strategy_name(config: &Map<String, Value>) -> &str {
    config
        .get("strategy")
        .and_then(Value::as_str)
        .unwrap_or("ROLLING")
}

/// Checks the strategy fields the emulator acts on; `Err` is the InvalidParameterException text.
pub fn validate(config: &Map<String, Value>) -> Result<(), String> {
    match strategy_name(config) {
        "ROLLING" | "BLUE_GREEN" | "LINEAR" | "CANARY" => {}
        other => {
            return Err(format!(
                "strategy must be one of ROLLING, BLUE_GREEN, LINEAR, CANARY, not {other}."
            ));
        }
    }
    if let Some(b) = config.get("bakeTimeInMinutes")
        && b.as_u64().is_none_or(|m| m > 1440)
    {
        return Err("bakeTimeInMinutes must be an integer from 0 to 1440.".into());
    }
    let linear = config.get("linearConfiguration");
    if let Some(p) = number(linear, "stepPercent")
        && !(3.0..=100.0).contains(&p)
    {
        return Err("linearConfiguration.stepPercent must be from 3.0 to 100.0.".into());
    }
    let canary = config.get("canaryConfiguration");
    if let Some(p) = number(canary, "canaryPercent")
        && !(0.1..=100.0).contains(&p)
    {
        return Err("canaryConfiguration.canaryPercent must be from 0.1 to 100.0.".into());
    }
    for bake in [
        number(linear, "stepBakeTimeInMinutes"),
        number(canary, "canaryBakeTimeInMinutes"),
    ]
    .into_iter()
    .flatten()
    {
        if !(0.0..=1440.0).contains(&bake) {
            return Err("Step and canary bake times must be from 0 to 1440 minutes.".into());
        }
    }
    hooks(config).map(|_| ())
}

/// The configured lifecycle hooks, validated.
pub fn hooks(config: &Map<String, Value>) -> Result<Vec<HookSpec>, String> {
    let Some(list) = config.get("lifecycleHooks").filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    let list = list
        .as_array()
        .ok_or("lifecycleHooks must be a list of hooks.")?;
    list.iter().map(hook).collect()
}

fn hook(value: &Value) -> Result<HookSpec, String> {
    let target_type = value
        .get("targetType")
        .and_then(Value::as_str)
        .unwrap_or("AWS_LAMBDA");
    if !matches!(target_type, "AWS_LAMBDA" | "PAUSE") {
        return Err(format!(
            "targetType must be AWS_LAMBDA or PAUSE, not {target_type}."
        ));
    }
    let stages: Vec<String> = value
        .get("lifecycleStages")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    if stages.is_empty() {
        return Err("A lifecycle hook needs at least one lifecycleStages entry.".into());
    }
    for stage in &stages {
        if !HOOK_STAGES.contains(&stage.as_str()) {
            return Err(format!("{stage} is not a lifecycle hook stage."));
        }
        if target_type == "PAUSE" && NO_PAUSE_STAGES.contains(&stage.as_str()) {
            return Err(format!("A PAUSE hook cannot be used at {stage}."));
        }
    }
    let timeout = value.get("timeoutConfiguration");
    let minutes = timeout
        .and_then(|t| t.get("timeoutInMinutes"))
        .and_then(Value::as_u64)
        .unwrap_or(DEFAULT_HOOK_TIMEOUT_MINUTES);
    if !(1..=MAX_HOOK_TIMEOUT_MINUTES).contains(&minutes) {
        return Err("timeoutInMinutes must be from 1 to 20160.".into());
    }
    let action = timeout
        .and_then(|t| t.get("action"))
        .and_then(Value::as_str)
        .unwrap_or("ROLLBACK");
    if !matches!(action, "ROLLBACK" | "CONTINUE") {
        return Err("timeoutConfiguration.action must be ROLLBACK or CONTINUE.".into());
    }
    Ok(HookSpec {
        target_type: target_type.to_string(),
        target_arn: value
            .get("hookTargetArn")
            .and_then(Value::as_str)
            .map(String::from),
        stages,
        timeout_seconds: minutes as f64 * 60.0,
        timeout_action: action.to_string(),
    })
}

/// A new run for a deployment of `config`; `None` for ROLLING (or anything invalid, which
/// Create/UpdateService already refused).
pub fn begin(config: &Map<String, Value>) -> Option<ProgressiveRun> {
    let minutes = |v: Option<f64>, default: f64| v.unwrap_or(default) * 60.0;
    let shift = match strategy_name(config) {
        "BLUE_GREEN" => Shift::BlueGreen,
        "LINEAR" => {
            let c = config.get("linearConfiguration");
            Shift::Linear {
                step_percent: number(c, "stepPercent").unwrap_or(10.0),
                step_bake_seconds: minutes(number(c, "stepBakeTimeInMinutes"), 6.0),
            }
        }
        "CANARY" => {
            let c = config.get("canaryConfiguration");
            Shift::Canary {
                percent: number(c, "canaryPercent").unwrap_or(5.0),
                bake_seconds: minutes(number(c, "canaryBakeTimeInMinutes"), 10.0),
            }
        }
        _ => return None,
    };
    Some(ProgressiveRun {
        shift,
        bake_seconds: minutes(config.get("bakeTimeInMinutes").and_then(Value::as_f64), 0.0),
        stage: None,
        stage_since: 0.0,
        test_weight: 0.0,
        production_weight: 0.0,
        step_since: 0.0,
        steps: 0,
        hooks: hooks(config).ok()?,
        hook_runs: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    /// Valid strategies pass; the documented bounds and PAUSE restrictions are refused.
    #[test]
    fn validation_table() {
        let ok = [
            json!({}),
            json!({"strategy": "ROLLING"}),
            json!({"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 5}),
            json!({"strategy": "LINEAR", "linearConfiguration": {"stepPercent": 3.0}}),
            json!({"strategy": "CANARY", "canaryConfiguration": {"canaryPercent": 0.1, "canaryBakeTimeInMinutes": 0}}),
            json!({"strategy": "CANARY", "lifecycleHooks": [{"targetType": "PAUSE", "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"]}]}),
        ];
        for c in ok {
            assert_eq!(validate(&config(c.clone())), Ok(()), "{c}");
        }
        let bad = [
            json!({"strategy": "SIDEWAYS"}),
            json!({"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 1441}),
            json!({"strategy": "LINEAR", "linearConfiguration": {"stepPercent": 2.9}}),
            json!({"strategy": "CANARY", "canaryConfiguration": {"canaryPercent": 0.0}}),
            json!({"strategy": "CANARY", "canaryConfiguration": {"canaryBakeTimeInMinutes": 1441}}),
            json!({"lifecycleHooks": [{"targetType": "PAUSE", "lifecycleStages": ["TEST_TRAFFIC_SHIFT"]}]}),
            json!({"lifecycleHooks": [{"targetType": "PAUSE", "lifecycleStages": ["BAKE_TIME"]}]}),
            json!({"lifecycleHooks": [{"targetType": "PAUSE", "lifecycleStages": []}]}),
            json!({"lifecycleHooks": [{"targetType": "SNS", "lifecycleStages": ["PRE_SCALE_UP"]}]}),
            json!({"lifecycleHooks": [{"targetType": "PAUSE", "lifecycleStages": ["PRE_SCALE_UP"], "timeoutConfiguration": {"timeoutInMinutes": 0}}]}),
        ];
        for c in bad {
            assert!(validate(&config(c.clone())).is_err(), "{c}");
        }
    }

    /// Defaults from the API reference: linear 10 % every 6 min, canary 5 % for 10 min, hook
    /// timeout 1440 min with ROLLBACK.
    #[test]
    fn defaults() {
        let linear = begin(&config(json!({"strategy": "LINEAR"}))).unwrap();
        assert_eq!(
            linear.shift,
            Shift::Linear {
                step_percent: 10.0,
                step_bake_seconds: 360.0
            }
        );
        let canary = begin(&config(
            json!({"strategy": "CANARY", "bakeTimeInMinutes": 2,
            "lifecycleHooks": [{"targetType": "PAUSE", "lifecycleStages": ["POST_SCALE_UP"]}]}),
        ))
        .unwrap();
        assert_eq!(
            canary.shift,
            Shift::Canary {
                percent: 5.0,
                bake_seconds: 600.0
            }
        );
        assert_eq!(canary.bake_seconds, 120.0);
        assert_eq!(canary.hooks[0].timeout_seconds, 1440.0 * 60.0);
        assert_eq!(canary.hooks[0].timeout_action, "ROLLBACK");
        assert!(begin(&config(json!({"strategy": "ROLLING"}))).is_none());
    }
}
