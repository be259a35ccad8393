//! Reading a spec: YAML into [`Spec`], then the checks that need more than one value (a body that
//! is both JSON and raw, a variable used before any check captures it, a duplicate name). Every
//! error names the file, line and column: single values are checked while they are deserialised
//! (see `model`), and whole checks are checked inside the YAML visitor, so the parser attaches
//! the position of the check itself.

use std::collections::BTreeSet;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::model::{Check, Defaults, Spec};
use crate::template::{self, Part};

/// The most checks and load requests a spec may ask for: a smoke test, not a load test.
pub const MAX_CHECKS: usize = 1000;
pub const MAX_LOAD_REQUESTS: u32 = 100_000;
pub const MAX_CONCURRENCY: u32 = 1000;

/// A spec that could not be read: where, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    pub file: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, "{}:{l}:{c}: {}", self.file, self.message),
            _ => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

/// What a spec may refer to besides its own captures.
pub struct Known<'a> {
    /// Names given with `--var` (and `--secret-var`).
    pub vars: BTreeSet<String>,
    /// Whether an environment variable is set.
    pub env: &'a dyn Fn(&str) -> bool,
}

/// Parse and check a spec. `file` names it in errors.
pub fn parse(source: &str, file: &str, known: &Known<'_>) -> Result<Spec, SpecError> {
    let de = serde_yaml_ng::Deserializer::from_str(source);
    SpecSeed { known }
        .deserialize(de)
        .map_err(|e| spec_error(file, &e))
}

fn spec_error(file: &str, e: &serde_yaml_ng::Error) -> SpecError {
    let mut message = e.to_string();
    let (line, column) = match e.location() {
        Some(l) => {
            // The message ends with " at line L column C"; the position goes in front instead.
            let suffix = format!(" at line {} column {}", l.line(), l.column());
            if let Some(i) = message.find(&suffix) {
                message.replace_range(i..i + suffix.len(), "");
            }
            (Some(l.line()), Some(l.column()))
        }
        None => (None, None),
    };
    if message.starts_with("EOF while parsing") || message.contains("end of stream") {
        message = "the spec is empty; it needs at least `checks:` with one check".into();
    }
    SpecError {
        file: file.to_string(),
        line,
        column,
        message,
    }
}

/// The top level, read field by field so that the checks are validated in order.
struct SpecSeed<'k, 'a> {
    known: &'k Known<'a>,
}

impl<'de> DeserializeSeed<'de> for SpecSeed<'_, '_> {
    type Value = Spec;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Spec, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for SpecSeed<'_, '_> {
    type Value = Spec;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a spec: a map with `checks:` (and optionally `base_url:`, `defaults:`)")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Spec, A::Error> {
        let mut base_url: Option<String> = None;
        let mut defaults: Option<Defaults> = None;
        let mut checks: Option<Vec<Check>> = None;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "base_url" => {
                    base_url = Some(map.next_value::<BaseUrl>()?.0);
                }
                "defaults" => defaults = Some(map.next_value()?),
                "checks" => {
                    checks = Some(map.next_value_seed(ChecksSeed {
                        known: self.known,
                        defaults: defaults.clone().unwrap_or_default(),
                    })?)
                }
                other => {
                    return Err(de::Error::unknown_field(
                        other,
                        &["base_url", "defaults", "checks"],
                    ));
                }
            }
        }
        let checks = checks.ok_or_else(|| de::Error::missing_field("checks"))?;
        Ok(Spec {
            base_url,
            defaults: defaults.unwrap_or_default(),
            checks,
        })
    }
}

/// A `base_url:` value, checked where it stands.
struct BaseUrl(String);

impl<'de> Deserialize<'de> for BaseUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::model::from_str_with(d, "an http(s) URL", |s| {
            check_base_url(s).map(|()| BaseUrl(s.to_string()))
        })
    }
}

/// `base_url` must be an absolute http(s) URL.
pub fn check_base_url(url: &str) -> Result<(), String> {
    let parsed = url::Url::parse(url).map_err(|e| {
        format!("base_url `{url}` is not a URL ({e}); write e.g. https://api.example.com")
    })?;
    if !matches!(parsed.scheme(), "http" | "https") || !parsed.has_host() {
        return Err(format!(
            "base_url `{url}` must be an http:// or https:// URL with a host"
        ));
    }
    Ok(())
}

struct ChecksSeed<'k, 'a> {
    known: &'k Known<'a>,
    defaults: Defaults,
}

impl<'de> DeserializeSeed<'de> for ChecksSeed<'_, '_> {
    type Value = Vec<Check>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<Check>, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ChecksSeed<'_, '_> {
    type Value = Vec<Check>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of checks, each with at least `name:` and `url:`")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Check>, A::Error> {
        let mut state = Scope {
            vars: self.known.vars.clone(),
            names: BTreeSet::new(),
            env: self.known.env,
            defaults: &self.defaults,
        };
        let mut checks = Vec::new();
        while let Some(check) = seq.next_element_seed(CheckSeed {
            scope: &mut state,
            first: checks.is_empty(),
        })? {
            checks.push(check);
            if checks.len() > MAX_CHECKS {
                return Err(de::Error::custom(format!(
                    "more than {MAX_CHECKS} checks; split the spec"
                )));
            }
        }
        if checks.is_empty() {
            return Err(de::Error::custom(
                "`checks` is empty; add at least one check (name and url)",
            ));
        }
        Ok(checks)
    }
}

/// What the checks so far have defined.
struct Scope<'d, 'a> {
    vars: BTreeSet<String>,
    names: BTreeSet<String>,
    env: &'a dyn Fn(&str) -> bool,
    defaults: &'d Defaults,
}

struct CheckSeed<'s, 'd, 'a> {
    scope: &'s mut Scope<'d, 'a>,
    first: bool,
}

impl<'de> DeserializeSeed<'de> for CheckSeed<'_, '_, '_> {
    type Value = Check;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Check, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for CheckSeed<'_, '_, '_> {
    type Value = Check;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a check: a map with at least `name:` and `url:`")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Check, A::Error> {
        let mut check = Check::deserialize(de::value::MapAccessDeserializer::new(map))?;
        if self.first && check.ready.is_none() && check.load.is_none() {
            check.ready = Some(true);
        }
        validate_check(&check, self.scope).map_err(de::Error::custom)?;
        self.scope.names.insert(check.name.clone());
        self.scope.vars.extend(check.capture.keys().cloned());
        Ok(check)
    }
}

/// Everything about one check that no single value can tell.
fn validate_check(c: &Check, scope: &Scope<'_, '_>) -> Result<(), String> {
    let name = &c.name;
    if name.trim().is_empty() || name.len() > 200 || name.chars().any(char::is_control) {
        return Err("check `name` must be 1–200 printable characters".into());
    }
    if scope.names.contains(name) {
        return Err(format!(
            "check name `{name}` is used twice; names identify checks in reports and JUnit"
        ));
    }
    let this = format!("check `{name}`");
    if c.json.is_some() && c.body.is_some() {
        return Err(format!(
            "{this} has both `json` and `body`; send one (`json` for a JSON document, `body` for raw text)"
        ));
    }
    check_url(&c.url).map_err(|e| format!("{this}: {e}"))?;
    for (i, a) in c.expect.json.iter().enumerate() {
        if !a.has_operator() {
            return Err(format!(
                "{this}: expect.json[{i}] ({}) asserts nothing; add equals, exists, matches, gt, ge, lt, le, count or length",
                a.path.source
            ));
        }
    }
    for (var, cap) in &c.capture {
        if !template::valid_var_name(var) {
            return Err(format!(
                "{this}: capture `{var}` is not a variable name (letters, digits, `_`, `-`; not `env`)"
            ));
        }
        if cap.json.is_some() == cap.header.is_some() {
            return Err(format!(
                "{this}: capture `{var}` needs exactly one of `json: <JSONPath>` or `header: <name>`"
            ));
        }
    }
    if let Some(load) = &c.load {
        validate_load(&this, c, load)?;
    }
    if c.ready == Some(true) && c.retries.is_some() {
        return Err(format!(
            "{this} is a readiness check (retried until the deadline); drop `retries` or set `ready: false`"
        ));
    }
    for text in template_strings(c, scope.defaults) {
        check_references(text, scope).map_err(|e| format!("{this}: {e}"))?;
    }
    Ok(())
}

fn validate_load(this: &str, c: &Check, load: &crate::model::Load) -> Result<(), String> {
    if load.requests == 0 || load.requests > MAX_LOAD_REQUESTS {
        return Err(format!(
            "{this}: load.requests must be 1–{MAX_LOAD_REQUESTS}"
        ));
    }
    if load.concurrency == 0 || load.concurrency > MAX_CONCURRENCY {
        return Err(format!(
            "{this}: load.concurrency must be 1–{MAX_CONCURRENCY}"
        ));
    }
    if load.concurrency > load.requests {
        return Err(format!(
            "{this}: load.concurrency {} is more than load.requests {}",
            load.concurrency, load.requests
        ));
    }
    if !c.capture.is_empty() {
        return Err(format!(
            "{this}: a load check cannot capture; capture in an earlier check"
        ));
    }
    if c.ready == Some(true) {
        return Err(format!(
            "{this}: a load check cannot be the readiness check; add a plain check before it"
        ));
    }
    Ok(())
}

/// A check's URL: a path starting with `/` (or a template), or a full http(s) URL.
fn check_url(url: &str) -> Result<(), String> {
    if url.is_empty() {
        return Err("`url` is empty; write a path such as /health or a full URL".into());
    }
    if url.starts_with('/') || url.starts_with("{{") {
        return Ok(());
    }
    if url.starts_with("http://") || url.starts_with("https://") {
        return if url.contains("{{") {
            Ok(())
        } else {
            url::Url::parse(url)
                .map(|_| ())
                .map_err(|e| format!("`{url}` is not a URL ({e})"))
        };
    }
    Err(format!(
        "url `{url}` is neither a path (/health) nor an http(s):// URL"
    ))
}

/// Every string of a check that may hold `{{…}}`, with the defaults' headers.
/// The environment variables the spec reads whose values are secrets (by name; see
/// [`template::env_name_is_secret`]), so the run masks them before anything is printed.
pub fn secret_env_references(spec: &Spec) -> BTreeSet<&str> {
    let mut out = BTreeSet::new();
    for c in &spec.checks {
        for text in template_strings(c, &spec.defaults) {
            for part in template::parse(text).unwrap_or_default() {
                if let Part::Env(n) = part
                    && template::env_name_is_secret(n)
                {
                    out.insert(n);
                }
            }
        }
    }
    out
}

pub fn template_strings<'c>(c: &'c Check, defaults: &'c Defaults) -> Vec<&'c str> {
    let mut out: Vec<&str> = vec![c.url.as_str()];
    out.extend(defaults.headers.values().map(String::as_str));
    out.extend(c.headers.values().map(String::as_str));
    out.extend(c.query.values().map(String::as_str));
    out.extend(c.body.as_deref());
    if let Some(j) = &c.json {
        json_strings(j, &mut out);
    }
    for a in &c.expect.json {
        if let Some(v) = &a.equals {
            json_strings(v, &mut out);
        }
    }
    for m in c.expect.headers.values() {
        out.extend(m.equals.as_deref());
        out.extend(m.contains.as_deref());
    }
    if let Some(b) = &c.expect.body {
        out.extend(b.contains.iter().map(String::as_str));
        out.extend(b.not_contains.iter().map(String::as_str));
    }
    out
}

fn json_strings<'v>(v: &'v serde_json::Value, out: &mut Vec<&'v str>) {
    match v {
        serde_json::Value::String(s) => out.push(s),
        serde_json::Value::Array(a) => a.iter().for_each(|x| json_strings(x, out)),
        serde_json::Value::Object(o) => o.values().for_each(|x| json_strings(x, out)),
        _ => {}
    }
}

fn check_references(text: &str, scope: &Scope<'_, '_>) -> Result<(), String> {
    for part in template::parse(text)? {
        match part {
            Part::Var(n) if !scope.vars.contains(n) => {
                return Err(format!(
                    "`{{{{{n}}}}}` is not defined: pass --var {n}=VALUE or capture `{n}` in an earlier check"
                ));
            }
            Part::Env(n) if !(scope.env)(n) => {
                return Err(format!(
                    "`{{{{env.{n}}}}}`: environment variable {n} is not set"
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(yaml: &str) -> Result<Spec, SpecError> {
        let env = |n: &str| n == "HOME";
        let known = Known {
            vars: ["user".to_string()].into(),
            env: &env,
        };
        parse(yaml, "smoke.yml", &known)
    }

    fn err(yaml: &str) -> SpecError {
        parse_str(yaml).expect_err("the spec should be rejected")
    }

    /// A minimal spec parses; the first check becomes the readiness check by default.
    #[test]
    fn minimal_spec() {
        let spec =
            parse_str("checks:\n  - name: health\n    url: /health\n  - name: b\n    url: /b\n")
                .unwrap();
        assert_eq!(spec.checks.len(), 2);
        assert_eq!(spec.checks[0].ready, Some(true));
        assert_eq!(spec.checks[1].ready, None);
    }

    /// Each kind of bad spec is reported at the line and column of what is wrong.
    #[test]
    fn bad_specs_have_line_and_column() {
        let cases: &[(&str, usize, usize, &str)] = &[
            // (yaml, line, column, message fragment)
            (
                "checks:\n  - name: a\n    url: /a\n    stauts: 200\n",
                4,
                5,
                "unknown field `stauts`",
            ),
            (
                "checks:\n  - name: a\n    url: /a\n    expect:\n      status: 999\n",
                5,
                15,
                "not an HTTP status",
            ),
            (
                "checks:\n  - name: a\n    url: /a\n    expect:\n      json:\n        - path: $..[\n          exists: true\n",
                6,
                17,
                "invalid JSONPath",
            ),
            (
                "checks:\n  - name: a\n    url: /a\n    expect:\n      body:\n        matches: '(['\n",
                6,
                18,
                "invalid regex",
            ),
            (
                "checks:\n  - name: a\n    url: /a\n    timeout: soon\n",
                4,
                14,
                "not a duration",
            ),
            (
                "checks:\n  - name: a\n    method: FETCH\n    url: /a\n",
                3,
                13,
                "unknown method",
            ),
            (
                "checks:\n  - name: a\n    url: /a\n  - name: b\n    url: /b/{{token}}\n",
                4,
                5,
                "`{{token}}` is not defined",
            ),
            (
                "checks:\n  - name: a\n    url: /{{env.NOPE_NOT_SET}}\n",
                2,
                5,
                "NOPE_NOT_SET is not set",
            ),
            (
                "checks:\n  - name: a\n    url: /a\n  - name: a\n    url: /b\n",
                4,
                5,
                "used twice",
            ),
            (
                "checks:\n  - name: a\n    url: /a\n    json: {}\n    body: x\n",
                2,
                5,
                "both `json` and `body`",
            ),
            (
                "checks:\n  - name: a\n    url: /a\n  - name: l\n    url: /l\n    load:\n      requests: 5\n      concurrency: 10\n",
                4,
                5,
                "concurrency 10 is more",
            ),
            (
                "checks:\n  - name: a\n    url: /a\n  - name: l\n    url: /l\n    load:\n      requests: 5\n      error_rate: 200%\n",
                8,
                19,
                "not between 0 and 1",
            ),
            (
                "checks:\n  - name: a\n    url: /a\n    capture:\n      t: {}\n",
                2,
                5,
                "exactly one of",
            ),
            (
                "checks:\n  - name: a\n    url: health\n",
                2,
                5,
                "neither a path",
            ),
            (
                "checks:\n  - name: a\n    url: /a\n    expect:\n      json:\n        - path: $.x\n",
                2,
                5,
                "asserts nothing",
            ),
            ("checks: []\n", 1, 9, "`checks` is empty"),
            (
                "base_url: ftp://x\nchecks:\n  - name: a\n    url: /a\n",
                1,
                11,
                "http://",
            ),
            (
                "checks:\n  - name: a\n   url: /a\n",
                2,
                5,
                "missing field `url`",
            ),
            ("chekcs:\n  - name: a\n", 1, 1, "unknown field `chekcs`"),
        ];
        for (yaml, line, col, what) in cases {
            let e = err(yaml);
            assert_eq!(
                (e.line, e.column),
                (Some(*line), Some(*col)),
                "position of {what:?} in {yaml:?}: {e}"
            );
            assert!(e.message.contains(what), "{e} should contain {what:?}");
            assert!(
                e.to_string()
                    .starts_with(&format!("smoke.yml:{line}:{col}: ")),
                "{e}"
            );
        }
    }

    /// Mutated specs (bytes changed, removed, inserted, cut) never panic, and every error points
    /// inside the input. The in-tree stand-in for the cargo-fuzz target in `fuzz/`.
    #[test]
    fn mutated_specs_never_panic() {
        let base = include_str!("../examples/meal-planner.yml");
        let env = |n: &str| n == "HOME";
        let known = Known {
            vars: ["email".to_string(), "password".to_string()].into(),
            env: &env,
        };
        assert!(parse(base, "x.yml", &known).is_ok());
        let specials = b"{}[]:-'\"\n #*&!|>%@`$?";
        let mut rng = fastrand::Rng::with_seed(0x5eed);
        let mut accepted = 0;
        for _ in 0..3000 {
            let mut bytes = base.as_bytes().to_vec();
            for _ in 0..rng.usize(1..6) {
                if bytes.is_empty() {
                    break;
                }
                let i = rng.usize(..bytes.len());
                match rng.u8(..4) {
                    0 => bytes[i] = rng.u8(..),
                    1 => {
                        bytes.remove(i);
                    }
                    2 => bytes.insert(i, specials[rng.usize(..specials.len())]),
                    _ => bytes.truncate(i),
                }
            }
            let text = String::from_utf8_lossy(&bytes);
            match parse(&text, "x.yml", &known) {
                Ok(_) => accepted += 1,
                Err(e) => {
                    if let Some(line) = e.line {
                        assert!(line >= 1 && line <= text.lines().count() + 1, "{e}");
                    }
                    assert!(!e.message.is_empty());
                }
            }
        }
        // Some mutations land in comments or values: the parser is exercised on both paths.
        assert!(accepted > 0);
    }

    /// An empty file says what a spec needs.
    #[test]
    fn empty_spec() {
        let e = err("");
        assert!(e.message.contains("checks"), "{e}");
    }

    /// `--var` names, environment variables and earlier captures can be used; status forms parse.
    #[test]
    fn references_and_status_forms() {
        let spec = parse_str(
            "checks:\n  - name: login\n    method: post\n    url: /login\n    json: {user: '{{user}}', home: '{{env.HOME}}'}\n    capture:\n      token: {json: $.token, secret: true}\n    expect:\n      status: [200, 2xx]\n  - name: me\n    url: /me\n    headers: {authorization: 'Bearer {{token}}'}\n    expect:\n      headers:\n        content-type: {contains: json}\n        x-id: abc\n",
        )
        .unwrap();
        let login = &spec.checks[0];
        assert!(login.expect.status.as_ref().unwrap().accepts(204));
        assert!(!login.expect.status.as_ref().unwrap().accepts(302));
        assert!(login.capture["token"].secret);
        let me = &spec.checks[1];
        assert_eq!(me.expect.headers["x-id"].equals.as_deref(), Some("abc"));
        assert_eq!(
            me.expect.headers["content-type"].contains.as_deref(),
            Some("json")
        );
    }
}
