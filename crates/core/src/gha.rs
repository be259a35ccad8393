//! GitHub Actions workflow commands and files: outputs, job summary, masks, groups, annotations.
//! Pure formatting and file appends; `ui` and `report` decide when to use them.

use std::io::Write;
use std::path::Path;

/// Escape a command's data part (after `::`), per the runner's rules.
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escape a command property value (`title=…`).
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// `::add-mask::` for each line of a secret (the runner masks line by line).
pub fn mask_commands(secret: &str) -> Vec<String> {
    secret
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| format!("::add-mask::{}", escape_data(l)))
        .collect()
}

pub fn group(title: &str) -> String {
    format!("::group::{}", escape_data(title))
}

pub const END_GROUP: &str = "::endgroup::";

pub fn annotation(level: &str, title: &str, message: &str) -> String {
    format!(
        "::{level} title={}::{}",
        escape_property(title),
        escape_data(message)
    )
}

/// Append `name<<delimiter` blocks to the `$GITHUB_OUTPUT` file. The delimiter is random and
/// checked against every value, so a value can never end the block early or inject an output.
pub fn write_outputs(path: &Path, outputs: &[(String, String)]) -> std::io::Result<()> {
    let mut text = String::new();
    for (name, value) in outputs {
        let delimiter = loop {
            let d = format!("ghadelimiter_{:016x}", fastrand::u64(..));
            if !value.contains(&d) && !name.contains(&d) {
                break d;
            }
        };
        text.push_str(&format!("{name}<<{delimiter}\n{value}\n{delimiter}\n"));
    }
    append(path, &text)
}

/// Append Markdown to the `$GITHUB_STEP_SUMMARY` file.
pub fn append_summary(path: &Path, markdown: &str) -> std::io::Result<()> {
    let mut text = markdown.to_string();
    if !text.ends_with('\n') {
        text.push('\n');
    }
    append(path, &text)
}

fn append(path: &Path, text: &str) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    f.write_all(text.as_bytes())
}

/// Parse a `$GITHUB_OUTPUT` file back into pairs (both syntaxes), as the runner does. Used by tests
/// and by anything that chains tools locally.
pub fn parse_outputs(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some((name, delim)) = line.split_once("<<") {
            let mut value = Vec::new();
            for l in lines.by_ref() {
                if l == delim {
                    break;
                }
                value.push(l);
            }
            out.push((name.to_string(), value.join("\n")));
        } else if let Some((name, value)) = line.split_once('=') {
            out.push((name.to_string(), value.to_string()));
        }
    }
    out
}

/// Escape text for a Markdown table cell.
pub fn md_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', "<br>")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Multiline values survive the round trip through the delimiter syntax.
    #[test]
    fn outputs_round_trip_multiline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out");
        let outputs = vec![
            ("a".to_string(), "one".to_string()),
            ("b".to_string(), "line1\nline2\nb<<EOF".to_string()),
        ];
        write_outputs(&path, &outputs).unwrap();
        write_outputs(&path, &[("c".into(), String::new())]).unwrap();
        let parsed = parse_outputs(&std::fs::read_to_string(&path).unwrap());
        assert_eq!(parsed[..2], outputs[..]);
        assert_eq!(parsed[2], ("c".into(), String::new()));
    }

    /// Newlines in a message cannot start a new workflow command.
    #[test]
    fn escapes_commands() {
        assert_eq!(escape_data("a\n::error::x"), "a%0A::error::x");
        assert_eq!(
            annotation("error", "t:1,2", "m"),
            "::error title=t%3A1%2C2::m"
        );
        assert_eq!(
            mask_commands("s3cr3t\nline2\n"),
            vec!["::add-mask::s3cr3t", "::add-mask::line2"]
        );
    }
}
