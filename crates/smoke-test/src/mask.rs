//! Text that leaves the tool: secrets replaced by `***`, third-party text (response bodies and
//! headers, error messages) neutralised and bounded.
//!
//! Neutralising lives here until core has its one shared door for hostile text; then `excerpt`
//! should call it. Control characters (a lone `\r` splits a runner line, `\n` starts a new one)
//! become visible escapes, so a response body can never start a workflow command (`::…`,
//! `##[…]`), and Markdown/HTML specials are left to the summary writer.

/// The secrets seen so far; longest first so a secret containing another is masked whole.
#[derive(Debug, Clone, Default)]
pub struct Masker {
    secrets: Vec<String>,
}

impl Masker {
    pub fn add(&mut self, secret: &str) {
        if secret.is_empty() || self.secrets.iter().any(|s| s == secret) {
            return;
        }
        self.secrets.push(secret.to_string());
        self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }

    /// The text with every secret replaced by `***`.
    pub fn apply(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in &self.secrets {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), "***");
            }
        }
        out
    }

    /// Masked, neutralised and at most `max` characters: safe for any log line or summary.
    pub fn excerpt(&self, text: &str, max: usize) -> String {
        neutralise(&self.apply(text), max)
    }
}

/// One line of at most `max` characters (then `…`), control, bidi and zero-width characters
/// escaped; the runner's legacy `##[cmd]` (honoured anywhere in a line) and a leading `::` are
/// broken.
pub fn neutralise(text: &str, max: usize) -> String {
    let out = escape_chars(text, max).replace("##[", "#\\x23[");
    match out.trim_start().strip_prefix("::") {
        Some(rest) => format!("\\x3a:{rest}"),
        None => out,
    }
}

fn escape_chars(text: &str, max: usize) -> String {
    let mut out = String::new();
    for (count, c) in text.chars().enumerate() {
        if count >= max {
            out.push('…');
            break;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push(' '),
            c if c.is_control()
                || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{2028}' | '\u{2029}' | '\u{feff}') =>
            {
                out.push_str(&format!("\\u{{{:x}}}", c as u32));
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Secrets are masked, longest first, wherever they appear.
    #[test]
    fn masks_secrets() {
        let mut m = Masker::default();
        m.add("abc");
        m.add("abcdef");
        m.add("");
        assert_eq!(m.apply("x abcdef y abc"), "x *** y ***");
    }

    /// A hostile body cannot start a workflow command or a new line, and is bounded.
    #[test]
    fn neutralises_hostile_text() {
        let t = neutralise("ok\r::add-mask::x\n##[error]boom\u{85}z", 100);
        assert!(!t.contains('\r') && !t.contains('\n') && !t.contains('\u{85}'));
        assert_eq!(t, "ok\\r::add-mask::x\\n#\\x23[error]boom\\u{85}z");
        assert_eq!(
            neutralise("  ::stop-commands::t", 100),
            "\\x3a:stop-commands::t"
        );
        assert_eq!(neutralise("a\u{202e}b", 100), "a\\u{202e}b");
        assert_eq!(neutralise("abcdef", 3), "abc…");
        // A secret is masked before the excerpt is cut, so no prefix of it survives.
        let mut m = Masker::default();
        m.add("SECRETVALUE");
        assert_eq!(m.excerpt("xxSECRETVALUE", 5), "xx***");
    }
}
