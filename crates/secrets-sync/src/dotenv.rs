//! dotenv files, read and written. Errors name the line and what is wrong with it, never the
//! value on it (a line of a secrets file is a secret).
//!
//! Read: `KEY=VALUE` lines, optional `export `, `#` comments (whole lines, or after an unquoted
//! value following whitespace), blank lines. Values: unquoted (trimmed), `'single'` (literal, may
//! span lines), `"double"` (escapes `\n \r \t \" \\ \$`, may span lines). Keys:
//! `[A-Za-z_][A-Za-z0-9_.-]*`. A key given twice is an error (which one wins is a guess).

use dk_core::Secret;

use crate::model::Entries;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DotenvError {
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for DotenvError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for DotenvError {}

fn err(line: usize, message: impl Into<String>) -> DotenvError {
    DotenvError {
        line,
        message: message.into(),
    }
}

/// A dotenv key: a letter or `_`, then letters, digits, `_`, `.` or `-`.
pub fn valid_key(key: &str) -> bool {
    let mut chars = key.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

pub fn parse(text: &str) -> Result<Entries, DotenvError> {
    let mut out = Entries::new();
    let lines: Vec<&str> = text.split('\n').collect();
    let mut i = 0;
    while i < lines.len() {
        let start = i + 1;
        let line = lines[i].trim_end_matches('\r').trim_start();
        i += 1;
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").map_or(line, str::trim_start);
        let Some((key, rest)) = line.split_once('=') else {
            return Err(err(start, "expected KEY=VALUE"));
        };
        let key = key.trim_end();
        if !valid_key(key) {
            // Not even the key is shown: a line this malformed may hold a value anywhere.
            return Err(err(
                start,
                "the key is not valid (letters, digits, `_`, `.`, `-`; not starting with a digit)",
            ));
        }
        let rest = rest.trim_start();
        let value = match rest.chars().next() {
            Some(q @ ('"' | '\'')) => {
                let (value, consumed) = quoted(&lines, i - 1, rest, q, start)?;
                i += consumed;
                value
            }
            _ => unquoted(rest),
        };
        if out.insert(key.to_string(), Secret::new(value)).is_some() {
            return Err(err(start, format!("`{key}` is set twice")));
        }
    }
    Ok(out)
}

fn unquoted(rest: &str) -> String {
    let mut value = rest;
    let bytes = rest.as_bytes();
    for (idx, b) in bytes.iter().enumerate() {
        if *b == b'#' && idx > 0 && (bytes[idx - 1] == b' ' || bytes[idx - 1] == b'\t') {
            value = &rest[..idx];
            break;
        }
    }
    value.trim().to_string()
}

/// A quoted value starting at `rest` (the opening quote) on line `idx`; may continue on the next
/// lines. Returns the value and how many extra lines it used.
fn quoted(
    lines: &[&str],
    idx: usize,
    rest: &str,
    quote: char,
    start: usize,
) -> Result<(String, usize), DotenvError> {
    let mut value = String::new();
    let mut extra = 0;
    let mut current: &str = &rest[1..];
    loop {
        let mut chars = current.chars();
        while let Some(c) = chars.next() {
            if c == quote {
                let tail = chars.as_str().trim();
                if !(tail.is_empty() || tail.starts_with('#')) {
                    return Err(err(
                        start + extra,
                        "unexpected text after the closing quote",
                    ));
                }
                return Ok((value, extra));
            }
            if c == '\\' && quote == '"' {
                match chars.next() {
                    Some('n') => value.push('\n'),
                    Some('r') => value.push('\r'),
                    Some('t') => value.push('\t'),
                    Some(o @ ('"' | '\\' | '$' | '\'')) => value.push(o),
                    Some(o) => {
                        value.push('\\');
                        value.push(o);
                    }
                    None => value.push('\\'),
                }
            } else {
                value.push(c);
            }
        }
        extra += 1;
        match lines.get(idx + extra) {
            Some(next) => {
                value.push('\n');
                current = next.strip_suffix('\r').unwrap_or(next);
            }
            None => {
                return Err(err(
                    start,
                    format!("the value's {quote} quote is never closed"),
                ));
            }
        }
    }
}

/// One `KEY="VALUE"` line per entry, double-quoted and escaped so that [`parse`] reads back
/// exactly the same values (newlines included).
pub fn render(entries: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (k, v) in entries {
        out.push_str(k);
        out.push_str("=\"");
        for c in v.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '$' => out.push_str("\\$"),
                c => out.push(c),
            }
        }
        out.push_str("\"\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(e: &Entries, k: &str) -> String {
        e[k].expose().clone()
    }

    /// The forms teams write: export, comments, quotes, escapes, multiline values.
    #[test]
    fn parses_common_forms() {
        let text = "# app\nexport A=1\nB = two words # comment\nC='lit $X \\n'\nD=\"l1\\nl2 \\\"q\\\"\"\nE=\"multi\nline\"\nF=\nG=a#b\n\r\n";
        let e = parse(text).unwrap();
        assert_eq!(get(&e, "A"), "1");
        assert_eq!(get(&e, "B"), "two words");
        assert_eq!(get(&e, "C"), "lit $X \\n");
        assert_eq!(get(&e, "D"), "l1\nl2 \"q\"");
        assert_eq!(get(&e, "E"), "multi\nline");
        assert_eq!(get(&e, "F"), "");
        assert_eq!(get(&e, "G"), "a#b");
        assert_eq!(e.len(), 7);
    }

    /// Errors name the line and never the value on it.
    #[test]
    fn errors_never_show_values() {
        for (text, line, want) in [
            ("A=1\nnot a pair s3cr3t\n", 2, "expected KEY=VALUE"),
            ("A=1\nA=s3cr3t\n", 2, "set twice"),
            ("1A=s3cr3t\n", 1, "key is not valid"),
            ("A=\"s3cr3t\n", 1, "never closed"),
            ("A=\"x\" s3cr3t\n", 1, "after the closing quote"),
        ] {
            let e = parse(text).unwrap_err();
            assert_eq!(e.line, line, "{text:?}");
            assert!(e.message.contains(want), "{e}");
            assert!(!e.to_string().contains("s3cr3t"), "{e}");
        }
    }

    /// Property: any values (quotes, backslashes, `$`, `#`, CR/LF, unicode) survive render→parse,
    /// and parsing arbitrary text never panics.
    #[test]
    fn random_values_round_trip() {
        const ALPHABET: &[char] = &[
            'a', 'Z', '0', ' ', '\t', '"', '\'', '\\', '$', '#', '=', '\n', '\r', 'é', '€', '`',
            'n',
        ];
        let mut rng = fastrand::Rng::with_seed(13);
        for _ in 0..2000 {
            let n = rng.usize(0..5);
            let values: Vec<(String, String)> = (0..n)
                .map(|i| {
                    let len = rng.usize(0..24);
                    let v: String = (0..len)
                        .map(|_| ALPHABET[rng.usize(0..ALPHABET.len())])
                        .collect();
                    (format!("K{i}"), v)
                })
                .collect();
            let pairs: Vec<(&str, &str)> = values
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let text = render(&pairs);
            let back = parse(&text).unwrap_or_else(|e| panic!("{e} in {text:?}"));
            for (k, v) in &values {
                assert_eq!(back[k].expose(), v, "{text:?}");
            }
            let _ = parse(&text.replace('"', "'"));
            let half: String = text.chars().take(text.chars().count() / 2).collect();
            let _ = parse(&half);
        }
    }

    /// What `render` writes, `parse` reads back exactly.
    #[test]
    fn render_round_trips() {
        let values = [
            ("A", "plain"),
            ("B", "with \"quotes\" and \\ and $HOME"),
            ("C", "multi\nline\r\nvalue"),
            ("D", ""),
            ("E", " # not a comment "),
        ];
        let e = parse(&render(&values)).unwrap();
        for (k, v) in values {
            assert_eq!(get(&e, k), v, "{k}");
        }
    }
}
