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

/// A workflow command line (`::add-mask::…`, `::group::…`, `::error title=…::…`). Only this
/// module can build one, each part escaped; [`crate::ui::Ui`] prints it as is. Every other line
/// is neutralised ([`crate::untrusted`]), so nothing else can issue a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command(String);

impl Command {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `::add-mask::` for each line of a secret (the runner masks line by line, and splits lines on
/// `\r` too). The secret itself is escaped, never neutralised: the mask must match it exactly.
pub fn mask_commands(secret: &str) -> Vec<Command> {
    crate::untrusted::split_lines(secret)
        .into_iter()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| Command(format!("::add-mask::{}", escape_data(l))))
        .collect()
}

/// Open a log group; the title is neutralised (it may name third-party things).
pub fn group(title: &str) -> Command {
    Command(format!(
        "::group::{}",
        escape_data(&crate::untrusted::neutralise(title))
    ))
}

pub fn end_group() -> Command {
    Command("::endgroup::".into())
}

/// Longest annotation message, in bytes (GitHub shows only the start of longer ones anyway).
const ANNOTATION_LIMIT: usize = 4096;

/// An annotation (`error`, `warning`, `notice`). Each line of the message is neutralised, then the
/// line breaks are escaped so the whole message stays one command.
pub fn annotation(level: &str, title: &str, message: &str) -> Command {
    let mut text = String::new();
    for (i, line) in crate::untrusted::split_lines(message)
        .into_iter()
        .enumerate()
    {
        if i > 0 {
            text.push('\n');
        }
        if text.len() >= ANNOTATION_LIMIT {
            text.push_str("…[more lines cut]");
            break;
        }
        text.push_str(&crate::untrusted::neutralise_capped(
            line,
            ANNOTATION_LIMIT - text.len(),
        ));
    }
    Command(format!(
        "::{level} title={}::{}",
        escape_property(&crate::untrusted::neutralise(title)),
        escape_data(&text)
    ))
}

/// The workflow commands a runner would find in a step's output, by its rules: lines split on
/// `\n`, `\r\n` and a lone `\r`; `::name …::data` at the start of a line after trimming
/// whitespace; the legacy `##[name …]data` anywhere in a line. Returns each command's line as
/// found (trimmed). Stricter than the runner, which only honours registered names and the first
/// `##[` of a line: any name counts here. For tests that prove no command got through.
pub fn runner_commands(output: &str) -> Vec<String> {
    let mut found = Vec::new();
    for line in crate::untrusted::split_lines(output) {
        let t = line.trim_start();
        if let Some(rest) = t.strip_prefix("::")
            && rest.contains("::")
        {
            found.push(t.trim_end().to_string());
        } else if let Some(i) = line.find("##[")
            && line[i..].contains(']')
        {
            found.push(line[i..].trim_end().to_string());
        }
    }
    found
}

/// The command name of a line [`runner_commands`] found: `add-mask`, `error`, `set-output`, …
pub fn command_name(line: &str) -> &str {
    let body = line
        .strip_prefix("::")
        .or_else(|| line.strip_prefix("##["))
        .unwrap_or(line);
    let end = body.find([' ', ':', ']']).unwrap_or(body.len());
    &body[..end]
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

/// Escape text for a Markdown table cell: see [`crate::untrusted::md_cell`].
pub fn md_cell(s: &str) -> String {
    crate::untrusted::md_cell(s)
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
            annotation("error", "t:1,2", "m").as_str(),
            "::error title=t%3A1%2C2::m"
        );
        assert_eq!(
            mask_commands("s3cr3t\nline2\rline3\n")
                .iter()
                .map(Command::as_str)
                .collect::<Vec<_>>(),
            vec![
                "::add-mask::s3cr3t",
                "::add-mask::line2",
                "::add-mask::line3"
            ]
        );
        // A message keeps its lines (as %0A) but no line can carry a command of its own.
        let a = annotation(
            "error",
            "t",
            "first\r::stop-commands::x\n##[set-output name=a]b",
        );
        assert_eq!(runner_commands(a.as_str()), vec![a.as_str().to_string()]);
        assert_eq!(
            a.as_str(),
            "::error title=t::first%0A\\x3a:stop-commands::x%0A#\\x23[set-output name=a]b"
        );
    }
}
