//! Third-party text made safe to print: the one door every registry error body, ECS event,
//! stopped-task reason, migration stop reason or HTTP body goes through before a log line, an
//! annotation, a job summary or stdout shows it.
//!
//! The GitHub Actions runner reads every line of a step's output for workflow commands. It splits
//! lines on `\n`, `\r\n` AND a lone `\r`; it honours `::cmd::` when a line starts with it after
//! trimming (Unicode) whitespace, and the legacy `##[cmd]` anywhere in a line. A hostile
//! `x\r::stop-commands::t` would otherwise turn off command processing, and every later
//! `::add-mask::` would print a secret in clear. So, for every line that is not one of core's own
//! workflow commands ([`crate::gha::Command`]):
//!
//! - control characters (C0 including `\r`, `\n`, `\t` and ESC, so no ANSI escape reaches a
//!   terminal; DEL; C1), bidi overrides and isolates, zero-width characters and the Unicode
//!   line/paragraph separators are made visible as `\r`, `\x1b`, `\u{202E}`, …;
//! - `##[` is broken as `#\x23[`, and a leading `::` (after trimming whitespace) as `\x3a:`;
//! - the length is capped, with a marker saying how much was cut.
//!
//! [`neutralise`] does that to one line of text (any line break inside it is made visible);
//! [`crate::ui::Ui`] splits a message on the runner's line breaks first and neutralises each line,
//! so tools need not call it for progress and errors. Use [`md_cell`] for a Markdown table cell,
//! [`markdown`] for a whole job summary (core applies it), [`json`] for serialised JSON (values
//! stay exact, only their escaping changes). [`split_lines`] splits as the runner does.
//!
//! For new tools (smoke-test, secrets-sync, …): print through `Ui` and return an `Outcome`, and
//! third-party text is neutralised for you; call [`neutralise`] only when you build text for
//! another sink yourself (a file meant for people, a PR comment).

/// Default cap for one printed line, in bytes (a 1 MiB registry body becomes 4 KiB + a marker).
pub const LINE_LIMIT: usize = 4096;
/// Cap for one Markdown table cell, in bytes.
pub const CELL_LIMIT: usize = 1024;
/// Cap for one line of a job summary, in bytes (a table row holds several cells).
pub const SUMMARY_LINE_LIMIT: usize = 16 * 1024;
/// Cap for a whole job summary, in bytes (GitHub refuses step summaries over 1 MiB).
pub const SUMMARY_LIMIT: usize = 512 * 1024;

/// Split text into lines the way the runner does: on `\r\n`, a lone `\r` and `\n`. A trailing
/// line break does not add an empty line; an empty text is one empty line.
pub fn split_lines(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => {
                out.push(&text[start..i]);
                start = i + 1;
            }
            b'\r' => {
                out.push(&text[start..i]);
                if bytes.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    if start < bytes.len() || out.is_empty() {
        out.push(&text[start..]);
    }
    out
}

/// One safe line from any text, capped at [`LINE_LIMIT`] bytes.
pub fn neutralise(text: &str) -> String {
    neutralise_capped(text, LINE_LIMIT)
}

/// One safe line from any text, capped at about `max` bytes (plus the marker).
pub fn neutralise_capped(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max) + 40);
    let mut prev: Option<char> = None;
    let mut consumed = 0usize;
    let mut piece = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        piece.clear();
        if c == '#' && prev == Some('#') && chars.peek() == Some(&'[') {
            piece.push_str("\\x23");
        } else {
            push_visible(&mut piece, c);
        }
        if out.len() + piece.len() > max {
            break;
        }
        out.push_str(&piece);
        consumed += c.len_utf8();
        prev = Some(c);
    }
    break_leading_command(&mut out);
    if consumed < text.len() {
        // Starts with a space: it can never complete a `##[` that the kept text ends with.
        out.push_str(&format!(" …[{} more bytes cut]", text.len() - consumed));
    }
    out
}

/// Characters that must never reach a log or terminal as themselves.
pub fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{2028}' | '\u{2029}'
            | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}'
            | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}')
}

fn push_visible(out: &mut String, c: char) {
    match c {
        '\r' => out.push_str("\\r"),
        '\n' => out.push_str("\\n"),
        '\t' => out.push_str("\\t"),
        c if is_hidden(c) && (c as u32) < 0x80 => out.push_str(&format!("\\x{:02x}", c as u32)),
        c if is_hidden(c) => out.push_str(&format!("\\u{{{:04X}}}", c as u32)),
        c => out.push(c),
    }
}

/// `::` at the start of a line (after whitespace, which the runner trims) becomes `\x3a:`.
fn break_leading_command(out: &mut String) {
    let lead = out.len() - out.trim_start().len();
    if out[lead..].starts_with("::") {
        out.replace_range(lead..lead + 1, "\\x3a");
    }
}

/// A Markdown table cell: neutralised, `|` escaped, `<`/`>` as entities (no HTML from third
/// parties), line breaks as `<br>`, capped at [`CELL_LIMIT`] bytes per line.
pub fn md_cell(text: &str) -> String {
    split_lines(text)
        .into_iter()
        .map(|l| {
            neutralise_capped(l, CELL_LIMIT)
                .replace('|', "\\|")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
        })
        .collect::<Vec<_>>()
        .join("<br>")
}

/// A whole Markdown document (a job summary): every line neutralised and capped, the whole capped
/// at [`SUMMARY_LIMIT`]. Markdown structure (tables, headings) is kept.
pub fn markdown(md: &str) -> String {
    let mut out = String::new();
    for line in split_lines(md) {
        if out.len() >= SUMMARY_LIMIT {
            out.push_str("\n\n*(summary cut: too long)*");
            break;
        }
        out.push_str(&neutralise_capped(line, SUMMARY_LINE_LIMIT));
        out.push('\n');
    }
    out
}

/// Serialised JSON made safe to print: `##[` becomes `#\u0023[`, and C1 controls, bidi and
/// zero-width characters are written as `\uXXXX`. All of these can only occur inside JSON
/// strings, so the document parses to exactly the same value. (serde_json already escapes C0.)
pub fn json(serialised: &str) -> String {
    let mut out = String::with_capacity(serialised.len());
    let mut prev = None;
    let mut chars = serialised.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '#' && prev == Some('#') && chars.peek() == Some(&'[') {
            out.push_str("\\u0023");
        } else if is_hidden(c) && c as u32 >= 0x7F {
            // serde_json escapes C0 itself; the rest fit one UTF-16 unit each.
            out.push_str(&format!("\\u{:04X}", c as u32));
        } else {
            out.push(c);
        }
        prev = Some(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gha::runner_commands;

    /// Each hostile form from issue 10 comes out as one line with no command in it.
    #[test]
    fn hostile_forms_are_broken() {
        let cases = [
            ("x\r::stop-commands::t", "x\\r::stop-commands::t"),
            ("::add-mask::x", "\\x3a:add-mask::x"),
            ("  ::error::boom", "  \\x3a:error::boom"),
            (
                "##[set-output name=image]evil",
                "#\\x23[set-output name=image]evil",
            ),
            ("a\u{1b}[31mred", "a\\x1b[31mred"),
            ("abc\u{202E}cba", "abc\\u{202E}cba"),
            ("nel\u{85}x", "nel\\u{0085}x"),
            ("###[x]", "##\\x23[x]"),
            ("\u{a0}::warning::x", "\u{a0}\\x3a:warning::x"),
            (
                "fine: text, arn:aws:iam::1:role/x",
                "fine: text, arn:aws:iam::1:role/x",
            ),
        ];
        for (input, want) in cases {
            let got = neutralise(input);
            assert_eq!(got, want, "{input:?}");
            assert!(runner_commands(&got).is_empty(), "{got:?}");
        }
    }

    /// A 1 MiB line is cut to the limit, with a marker that says so.
    #[test]
    fn long_text_is_capped_with_a_marker() {
        let long = "a".repeat(1 << 20);
        let got = neutralise(&long);
        assert!(got.len() < LINE_LIMIT + 64, "{}", got.len());
        assert!(got.ends_with(&format!(" …[{} more bytes cut]", (1 << 20) - LINE_LIMIT)));
        // A cut right after `##` cannot form `##[` with the marker.
        let tricky = format!("{}##{}", "a".repeat(LINE_LIMIT - 2), "[x]".repeat(10));
        assert!(!neutralise(&tricky).contains("##["));
        // Multi-byte characters are never split.
        let wide = "é".repeat(LINE_LIMIT);
        assert!(neutralise(&wide).starts_with('é'));
    }

    /// The runner's line splitting: `\r\n`, lone `\r`, `\n`.
    #[test]
    fn splits_like_the_runner() {
        assert_eq!(split_lines("a\rb\r\nc\nd"), vec!["a", "b", "c", "d"]);
        assert_eq!(split_lines("a\n"), vec!["a"]);
        assert_eq!(split_lines(""), vec![""]);
        assert_eq!(split_lines("\r\r"), vec!["", ""]);
    }

    /// Cells cannot break a table or inject HTML; JSON stays the same value.
    #[test]
    fn cells_and_json() {
        assert_eq!(md_cell("a|b\r\n<x>"), "a\\|b<br>&lt;x&gt;");
        let v = serde_json::json!({"message": "x\r##[set-output name=a]b\u{202E}\u{85}"});
        let text = json(&serde_json::to_string_pretty(&v).unwrap());
        assert!(!text.contains("##[") && !text.contains('\r') && !text.contains('\u{202E}'));
        assert_eq!(serde_json::from_str::<serde_json::Value>(&text).unwrap(), v);
    }

    /// Property: for random mixes of hostile fragments, no output of `neutralise` holds a line
    /// break, a hidden character, `##[`, or a command by the runner's rules; it is capped; and a
    /// text with nothing hostile in it passes unchanged.
    #[test]
    fn property_no_command_survives() {
        const PIECES: &[&str] = &[
            "#",
            "##",
            "[",
            "]",
            ":",
            "::",
            " ",
            "\t",
            "\r",
            "\n",
            "\r\n",
            "\u{1b}",
            "\u{1b}[2J",
            "\u{85}",
            "\u{9b}",
            "\u{202E}",
            "\u{2066}",
            "\u{200B}",
            "\u{FEFF}",
            "\u{2028}",
            "\u{a0}",
            "\u{3000}",
            "add-mask",
            "stop-commands",
            "set-output name=x",
            "error",
            "é",
            "x",
            "%0A",
            "\\",
        ];
        let mut rng = fastrand::Rng::with_seed(10);
        for _ in 0..20_000 {
            let n = rng.usize(0..24);
            let text: String = (0..n).map(|_| PIECES[rng.usize(..PIECES.len())]).collect();
            let max = rng.usize(8..200);
            let got = neutralise_capped(&text, max);
            assert!(!got.contains("##["), "{text:?} -> {got:?}");
            assert!(!got.chars().any(is_hidden), "{text:?} -> {got:?}");
            assert!(runner_commands(&got).is_empty(), "{text:?} -> {got:?}");
            assert!(got.len() <= max + 40, "{text:?} -> {got:?}");
            // Any prefix followed by the neutralised text is still safe (the Ui's timestamp).
            assert!(runner_commands(&format!("[12:00:00] {got}")).is_empty());
            let plain = text.replace(|c: char| is_hidden(c) || c == '#' || c == ':', "");
            if plain.len() <= max {
                assert_eq!(neutralise_capped(&plain, max), plain);
            }
            // JSON: same value back, nothing the runner would take as a command.
            let v = serde_json::Value::String(text.clone());
            let j = json(&serde_json::to_string_pretty(&v).unwrap());
            assert!(runner_commands(&j).is_empty(), "{j:?}");
            assert_eq!(serde_json::from_str::<serde_json::Value>(&j).unwrap(), v);
        }
    }
}
