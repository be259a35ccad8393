//! Counts that tests record for `scripts/reliability` (issue 15): when `DK_RELIABILITY_LOG` names
//! a file, [`record`] appends one JSON line `{"figure": …, …counts}` to it. Tests record what
//! they measured *before* they assert, so a failing run still reports its numbers. Without the
//! variable nothing is written and tests behave as before.

use std::io::Write;

use serde_json::{Map, Value};

/// Append `{"figure": figure, ...counts}` as one line to `$DK_RELIABILITY_LOG`, if it is set.
/// One `write` per line with `O_APPEND`, so test processes running in parallel do not interleave.
pub fn record(figure: &str, counts: Value) {
    // Test equipment reads its switch directly; the tools read theirs through dk_core::Context.
    #[allow(clippy::disallowed_methods)]
    let Some(path) = std::env::var_os("DK_RELIABILITY_LOG") else {
        return;
    };
    let mut line = Map::new();
    line.insert("figure".into(), Value::String(figure.into()));
    if let Value::Object(fields) = counts {
        line.extend(fields);
    }
    let mut text = Value::Object(line).to_string();
    text.push('\n');
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(text.as_bytes()));
    if let Err(e) = written {
        panic!(
            "cannot append to DK_RELIABILITY_LOG {}: {e}",
            path.to_string_lossy()
        );
    }
}
