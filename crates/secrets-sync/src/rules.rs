//! `--rules FILE` (YAML, or TOML when the file ends in `.toml`): what a set of secrets must
//! satisfy before it is written. A violation names the key and the rule, never the value.
//!
//! ```yaml
//! required: [DATABASE_URL, JWT_SECRET]        # keys that must be present (and not empty)
//! forbidden_values: [password, changeme, "<GENERATE*>"]   # whole value, any case; `*` = anything
//! keys:                                       # per key; a `*` in the name matches any text
//!   JWT_SECRET: { min_length: 32 }
//!   "*_PASSWORD": { min_length: 16 }
//!   "*_URL": { pattern: "^(postgres|https)://" }
//! ```

use std::collections::BTreeMap;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::model::Entries;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    #[serde(default)]
    required: Vec<String>,
    #[serde(default)]
    forbidden_values: Vec<String>,
    #[serde(default)]
    keys: BTreeMap<String, KeyRuleFile>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyRuleFile {
    min_length: Option<usize>,
    max_length: Option<usize>,
    pattern: Option<String>,
}

/// Parsed, compiled rules.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    required: Vec<String>,
    forbidden: Vec<(String, Regex)>,
    keys: Vec<KeyRule>,
}

#[derive(Debug, Clone)]
struct KeyRule {
    name: String,
    matcher: Regex,
    min_length: Option<usize>,
    max_length: Option<usize>,
    pattern: Option<(String, Regex)>,
}

/// One broken rule: the key and the rule, in words. No value, no length.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    pub key: String,
    pub rule: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.key, self.rule)
    }
}

/// `*` matches any text; everything else literally; whole string, optionally any case.
fn glob(pattern: &str, case_insensitive: bool) -> Result<Regex, String> {
    let body: Vec<String> = pattern.split('*').map(regex::escape).collect();
    let flags = if case_insensitive { "(?is)" } else { "(?s)" };
    Regex::new(&format!("{flags}^{}$", body.join(".*"))).map_err(|e| e.to_string())
}

impl Rules {
    /// Parse a rules file's text; `toml` picks TOML, else YAML (JSON is YAML too).
    pub fn parse(text: &str, toml: bool) -> Result<Rules, String> {
        let file: RulesFile = if toml {
            ::toml::from_str(text).map_err(|e| e.to_string())?
        } else if text.trim().is_empty() {
            RulesFile::default()
        } else {
            serde_yaml_ng::from_str(text).map_err(|e| e.to_string())?
        };
        let mut forbidden = Vec::new();
        for f in &file.forbidden_values {
            forbidden.push((f.clone(), glob(f, true)?));
        }
        let mut keys = Vec::new();
        for (name, r) in file.keys {
            if let (Some(min), Some(max)) = (r.min_length, r.max_length)
                && min > max
            {
                return Err(format!("keys.{name}: min_length is above max_length"));
            }
            let pattern = match r.pattern {
                Some(p) => {
                    let re = Regex::new(&p)
                        .map_err(|e| format!("keys.{name}.pattern is not a valid regex: {e}"))?;
                    Some((p, re))
                }
                None => None,
            };
            keys.push(KeyRule {
                matcher: glob(&name, false)?,
                name,
                min_length: r.min_length,
                max_length: r.max_length,
                pattern,
            });
        }
        Ok(Rules {
            required: file.required,
            forbidden,
            keys,
        })
    }

    /// Every violation, sorted by key. Lengths count characters.
    pub fn check(&self, entries: &Entries) -> Vec<Violation> {
        let mut out = Vec::new();
        let mut push = |key: &str, rule: String| {
            out.push(Violation {
                key: key.to_string(),
                rule,
            })
        };
        for key in &self.required {
            match entries.get(key) {
                None => push(key, "required (rule `required`), but not set".into()),
                Some(v) if v.expose().trim().is_empty() => {
                    push(key, "required (rule `required`), but empty".into())
                }
                Some(_) => {}
            }
        }
        for (key, value) in entries {
            let value = value.expose();
            if let Some((text, _)) = self
                .forbidden
                .iter()
                .find(|(_, re)| re.is_match(value.trim()))
            {
                push(
                    key,
                    format!("the value is a forbidden value (rule `forbidden_values`: `{text}`)"),
                );
            }
            let len = value.chars().count();
            for r in self.keys.iter().filter(|r| r.matcher.is_match(key)) {
                if let Some(min) = r.min_length
                    && len < min
                {
                    push(
                        key,
                        format!(
                            "shorter than {min} characters (rule `keys.{}.min_length`)",
                            r.name
                        ),
                    );
                }
                if let Some(max) = r.max_length
                    && len > max
                {
                    push(
                        key,
                        format!(
                            "longer than {max} characters (rule `keys.{}.max_length`)",
                            r.name
                        ),
                    );
                }
                if let Some((text, re)) = &r.pattern
                    && !re.is_match(value)
                {
                    push(
                        key,
                        format!("does not match `{text}` (rule `keys.{}.pattern`)", r.name),
                    );
                }
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::entries;

    const TEAM: &str = include_str!("../examples/rules.yml");

    /// The teams' example rules: required keys, JWT ≥ 32, DB password ≥ 16, no placeholders.
    #[test]
    fn team_rules_table() {
        let rules = Rules::parse(TEAM, false).unwrap();
        let good_jwt = "k".repeat(32);
        let good_db = "p".repeat(16);
        let ok = [
            ("DATABASE_URL", "postgres://db:5432/app"),
            ("JWT_SECRET", good_jwt.as_str()),
            ("DB_PASSWORD", good_db.as_str()),
        ];
        assert_eq!(rules.check(&entries(&ok)), vec![]);
        type Case<'a> = (Vec<(&'a str, &'a str)>, &'a str, &'a str);
        let cases: Vec<Case> = vec![
            (vec![ok[0], ok[2]], "JWT_SECRET", "required"),
            (
                vec![ok[0], ("JWT_SECRET", "short-s3cr3t"), ok[2]],
                "JWT_SECRET",
                "min_length",
            ),
            (
                vec![ok[0], ok[1], ("DB_PASSWORD", "ChangeMe")],
                "DB_PASSWORD",
                "forbidden_values",
            ),
            (
                vec![ok[0], ok[1], ("DB_PASSWORD", "<GENERATE a strong one>")],
                "DB_PASSWORD",
                "forbidden_values",
            ),
            (
                vec![("DATABASE_URL", "mysql://x"), ok[1], ok[2]],
                "DATABASE_URL",
                "pattern",
            ),
            (
                vec![("DATABASE_URL", ""), ok[1], ok[2]],
                "DATABASE_URL",
                "empty",
            ),
        ];
        for (pairs, key, rule) in cases {
            let v = rules.check(&entries(&pairs));
            assert!(
                v.iter().any(|v| v.key == key && v.rule.contains(rule)),
                "{key} {rule}: {v:?}"
            );
            for violation in &v {
                assert!(!violation.to_string().contains("s3cr3t"));
            }
        }
    }

    /// TOML works the same as YAML; bad files and bad regexes are refused with the reason.
    #[test]
    fn toml_and_errors() {
        let rules = Rules::parse(
            "required = [\"A\"]\nforbidden_values = [\"password\"]\n[keys.A]\nmin_length = 3\n",
            true,
        )
        .unwrap();
        assert_eq!(rules.check(&entries(&[("A", "PASSWORD")])).len(), 1);
        assert_eq!(rules.check(&entries(&[("A", "ab")])).len(), 1);
        assert!(Rules::parse("keys: { A: { pattern: \"(\" } }", false).is_err());
        assert!(Rules::parse("unknown_field: 1", false).is_err());
        assert!(Rules::parse("keys: { A: { min_length: 5, max_length: 2 } }", false).is_err());
        assert!(
            Rules::parse("", false)
                .unwrap()
                .check(&entries(&[]))
                .is_empty()
        );
    }
}
