//! What a tool returns. Core writes it out (see `report`): one JSON object on stdout with
//! `--output json`, every output to `$GITHUB_OUTPUT`, the summary to `$GITHUB_STEP_SUMMARY`.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::exit;

/// How the operation ended; decides the exit code when no error was raised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Succeeded,
    /// The operation ran and failed (a rollout rolled back, a check failed): exit 1.
    Failed,
    /// A wait passed its deadline: exit 4, with the last state still reported.
    TimedOut,
}

impl Status {
    pub fn exit_code(self) -> u8 {
        match self {
            Status::Succeeded => exit::SUCCESS,
            Status::Failed => exit::FAILED,
            Status::TimedOut => exit::TIMED_OUT,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Outcome {
    pub status: Status,
    /// One machine word: `created`, `exists`, `rolled_back`, …; also the `result` output.
    pub result: String,
    /// One line for people, printed last on stderr.
    pub message: String,
    /// Flat outputs: every one goes to `$GITHUB_OUTPUT` and to the JSON object's top level.
    pub outputs: Map<String, Value>,
    /// Nested detail for JSON only (per-service results, lists).
    pub detail: Option<Value>,
    /// Markdown for the job summary.
    pub summary: Option<String>,
    /// The result itself for people (a listing, a diff), printed on stdout in text mode only.
    pub text: Option<String>,
}

impl Outcome {
    pub fn new(status: Status, result: impl Into<String>, message: impl Into<String>) -> Self {
        Outcome {
            status,
            result: result.into(),
            message: message.into(),
            outputs: Map::new(),
            detail: None,
            summary: None,
            text: None,
        }
    }
    pub fn succeeded(result: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(Status::Succeeded, result, message)
    }
    pub fn failed(result: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(Status::Failed, result, message)
    }
    pub fn timed_out(result: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(Status::TimedOut, result, message)
    }
    /// Add a flat output. Strings go to `$GITHUB_OUTPUT` as is, other values as JSON.
    pub fn output(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.outputs.insert(name.to_string(), value.into());
        self
    }
    pub fn detail(mut self, detail: impl Serialize) -> Self {
        self.detail = serde_json::to_value(detail).ok();
        self
    }
    pub fn summary(mut self, markdown: impl Into<String>) -> Self {
        self.summary = Some(markdown.into());
        self
    }

    /// Text for stdout in `--output text` mode (a table, a diff); JSON mode prints `detail` instead.
    pub fn text(mut self, text: impl Into<String>) -> Self {
        self.text = Some(text.into());
        self
    }

    /// The `$GITHUB_OUTPUT` pairs: `result` first, then every output.
    pub fn output_pairs(&self) -> Vec<(String, String)> {
        let mut pairs = vec![("result".to_string(), self.result.clone())];
        for (k, v) in &self.outputs {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            pairs.push((k.clone(), text));
        }
        pairs
    }

    /// The one JSON object printed with `--output json`.
    pub fn to_json(&self, tool: &str) -> Value {
        let mut obj = Map::new();
        // Outputs first, so the reserved keys below always win over an output of the same name.
        for (k, v) in &self.outputs {
            obj.insert(k.clone(), v.clone());
        }
        obj.insert("tool".into(), tool.into());
        obj.insert(
            "outcome".into(),
            serde_json::to_value(self.status).unwrap_or(Value::Null),
        );
        obj.insert("exit_code".into(), self.status.exit_code().into());
        obj.insert("result".into(), self.result.clone().into());
        obj.insert("message".into(), self.message.clone().into());
        if let Some(d) = &self.detail {
            obj.insert("detail".into(), d.clone());
        }
        Value::Object(obj)
    }
}
