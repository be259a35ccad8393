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

/// One safe line of about `max` bytes: core's neutraliser, the one door for third-party text
/// (control, bidi and zero-width characters made visible, `##[` and a leading `::` broken).
pub fn neutralise(text: &str, max: usize) -> String {
    dk_core::untrusted::neutralise_capped(text, max)
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
        assert!(!t.contains("##["), "{t}");
        assert!(
            !neutralise("  ::stop-commands::t", 100)
                .trim_start()
                .starts_with("::")
        );
        assert!(!neutralise("a\u{202e}b", 100).contains('\u{202e}'));
        assert!(neutralise(&"a".repeat(500), 100).len() < 200);
        // A secret is masked before the excerpt is cut, so no prefix of it survives.
        let mut m = Masker::default();
        m.add("SECRETVALUE");
        assert!(m.excerpt("xxSECRETVALUE", 5).starts_with("xx***"));
    }
}
