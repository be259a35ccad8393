//! Writing a tool's end state out: stderr for people, stdout JSON for programs, and the GitHub
//! Actions files. The only module (with `ui`) that writes to stdout or stderr. Whatever a tool
//! put in its outcome may hold third-party text: the summary is neutralised line by line, text
//! on stdout too, and JSON keeps every value exact but escapes what the runner would act on
//! ([`crate::untrusted`]).

use std::io::Write;

use serde_json::{Map, Value};

use crate::cli::OutputFormat;
use crate::error::Error;
use crate::gha;
use crate::outcome::{Outcome, Status};
use crate::ui::Ui;
use crate::untrusted;

/// Report a finished run and return the exit code.
pub fn finish(ui: &Ui, tool: &str, format: OutputFormat, result: Result<Outcome, Error>) -> u8 {
    match result {
        Ok(outcome) => report_outcome(ui, tool, format, &outcome),
        Err(err) => report_error(ui, tool, format, &err),
    }
}

fn report_outcome(ui: &Ui, tool: &str, format: OutputFormat, outcome: &Outcome) -> u8 {
    let ctx = ui.context();
    let pairs = redact_pairs(ui, outcome.output_pairs());
    if let Some(path) = ctx.github_output()
        && let Err(e) = gha::write_outputs(&path, &pairs)
    {
        ui.warn(&format!(
            "could not write $GITHUB_OUTPUT ({}): {e}",
            path.display()
        ));
    }
    if let (Some(path), Some(summary)) = (ctx.github_step_summary(), &outcome.summary)
        && let Err(e) = gha::append_summary(&path, &untrusted::markdown(&ui.redact(summary)))
    {
        ui.warn(&format!(
            "could not write $GITHUB_STEP_SUMMARY ({}): {e}",
            path.display()
        ));
    }
    match outcome.status {
        Status::Succeeded => ui.success(&outcome.message),
        Status::Failed => ui.failure(tool, &outcome.message),
        Status::TimedOut => ui.failure(tool, &outcome.message),
    }
    match (format, &outcome.text) {
        (OutputFormat::Json, _) => print_json(ui, &outcome.to_json(tool)),
        (OutputFormat::Text, Some(text)) => print_text(&ui.redact(text)),
        (OutputFormat::Text, None) => {}
    }
    outcome.status.exit_code()
}

fn report_error(ui: &Ui, tool: &str, format: OutputFormat, err: &Error) -> u8 {
    let mut text = err.message().to_string();
    for cause in err.causes() {
        text.push_str(&format!("\n  caused by: {cause}"));
    }
    if let Some(hint) = err.hint() {
        text.push_str(&format!("\n  hint: {hint}"));
    }
    ui.failure(tool, &text);
    let ctx = ui.context();
    if let Some(path) = ctx.github_output() {
        let kind = serde_json::to_value(err.kind())
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned));
        let pairs = vec![
            ("result".to_string(), "error".to_string()),
            ("error_kind".to_string(), kind.unwrap_or_default()),
            ("error".to_string(), err.message().to_string()),
        ];
        let _ = gha::write_outputs(&path, &redact_pairs(ui, pairs));
    }
    if let Some(path) = ctx.github_step_summary() {
        let md = format!("### ❌ {tool}\n\n{}\n", gha::md_cell(&ui.redact(&text)));
        let _ = gha::append_summary(&path, &untrusted::markdown(&md));
    }
    if format == OutputFormat::Json {
        let mut e = Map::new();
        e.insert(
            "kind".into(),
            serde_json::to_value(err.kind()).unwrap_or(Value::Null),
        );
        e.insert("message".into(), err.message().into());
        e.insert("causes".into(), err.causes().into());
        if let Some(h) = err.hint() {
            e.insert("hint".into(), h.into());
        }
        let mut obj = Map::new();
        obj.insert("tool".into(), tool.into());
        obj.insert("outcome".into(), "error".into());
        obj.insert("exit_code".into(), err.exit_code().into());
        obj.insert("result".into(), "error".into());
        obj.insert("error".into(), Value::Object(e));
        print_json(ui, &Value::Object(obj));
    }
    err.exit_code()
}

fn redact_pairs(ui: &Ui, pairs: Vec<(String, String)>) -> Vec<(String, String)> {
    pairs
        .into_iter()
        .map(|(k, v)| (k, ui.redact(&v).into_owned()))
        .collect()
}

#[allow(clippy::print_stdout)] // a listing or diff: the result itself, for people
fn print_text(text: &str) {
    let mut out = std::io::stdout().lock();
    for line in untrusted::split_lines(text) {
        // Wider than a log line: a diff of a long value is still the result.
        let _ = writeln!(out, "{}", untrusted::neutralise_capped(line, 64 * 1024));
    }
    let _ = out.flush();
}

#[allow(clippy::print_stdout)] // the one JSON object on stdout
fn print_json(ui: &Ui, value: &Value) {
    let text = serde_json::to_string_pretty(value).unwrap_or_default();
    let text = ui.redact(&text);
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", untrusted::json(&text));
    let _ = out.flush();
}
