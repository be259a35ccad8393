//! The spec as data: what a YAML spec file deserialises into. The leaf module: it imports nothing
//! of the crate. Every value that can be wrong on its own (a regex, a JSONPath, a duration, a
//! status, a method) is checked while it is deserialised, so the YAML parser reports the error
//! at the line and column of the offending value.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A whole spec file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// Base URL for checks whose `url` is a path; `--base-url` overrides it.
    #[serde(default)]
    pub base_url: Option<String>,
    #[serde(default)]
    pub defaults: Defaults,
    pub checks: Vec<Check>,
}

/// Settings every check inherits unless it sets its own.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    pub timeout: Option<Dur>,
    pub retries: Option<u32>,
    pub retry_delay: Option<Dur>,
}

/// One request and what its response must satisfy.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Check {
    pub name: String,
    #[serde(default)]
    pub method: Method,
    /// A path (joined to the base URL) or a full `http(s)://` URL.
    pub url: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub query: BTreeMap<String, String>,
    /// A JSON body (sent with `content-type: application/json`).
    pub json: Option<Value>,
    /// A raw body, sent as is.
    pub body: Option<String>,
    /// Per-request timeout (default 10s).
    pub timeout: Option<Dur>,
    /// Retry until it passes or the run's deadline (default: true for the first check only).
    pub ready: Option<bool>,
    /// Extra attempts after a failure (default 0; readiness checks retry until the deadline).
    pub retries: Option<u32>,
    /// Pause between attempts (default 1s).
    pub retry_delay: Option<Dur>,
    #[serde(default)]
    pub expect: Expect,
    #[serde(default)]
    pub capture: BTreeMap<String, Capture>,
    pub load: Option<Load>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// Status code or list of codes; default: any 2xx.
    pub status: Option<StatusSet>,
    #[serde(default)]
    pub headers: BTreeMap<String, TextMatch>,
    pub body: Option<BodyExpect>,
    #[serde(default)]
    pub json: Vec<JsonAssert>,
    pub max_latency: Option<Dur>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BodyExpect {
    #[serde(default, deserialize_with = "one_or_many")]
    pub contains: Vec<String>,
    #[serde(default, deserialize_with = "one_or_many")]
    pub not_contains: Vec<String>,
    pub matches: Option<Re>,
}

/// An assertion on the nodes a JSONPath (RFC 9535) selects in a JSON response body.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonAssert {
    pub path: JsonPathExpr,
    /// The single selected node equals this value (strings may use `{{var}}`).
    pub equals: Option<Value>,
    /// Whether the path selects anything at all.
    pub exists: Option<bool>,
    /// The single selected node (a string, or a number as text) matches this regex.
    pub matches: Option<Re>,
    pub gt: Option<f64>,
    pub ge: Option<f64>,
    pub lt: Option<f64>,
    pub le: Option<f64>,
    /// The number of nodes selected (`$.items[*]`).
    pub count: Option<usize>,
    /// The length of the single selected array, object or string (`$.items`).
    pub length: Option<usize>,
}

impl JsonAssert {
    pub fn has_operator(&self) -> bool {
        self.equals.is_some()
            || self.exists.is_some()
            || self.matches.is_some()
            || self.gt.is_some()
            || self.ge.is_some()
            || self.lt.is_some()
            || self.le.is_some()
            || self.count.is_some()
            || self.length.is_some()
    }
}

/// A capture: a JSONPath into the body, or a response header, into a variable.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Capture {
    pub json: Option<JsonPathExpr>,
    pub header: Option<String>,
    /// Mask the value in every output (and `::add-mask::` it under GitHub Actions).
    #[serde(default)]
    pub secret: bool,
}

/// Run the check `requests` times, `concurrency` at a time, and gate on the measurements.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Load {
    pub requests: u32,
    #[serde(default = "default_concurrency")]
    pub concurrency: u32,
    pub p50: Option<Dur>,
    pub p95: Option<Dur>,
    pub p99: Option<Dur>,
    /// The most requests that may fail, e.g. `1%` or `0.01`.
    pub error_rate: Option<Rate>,
}

fn default_concurrency() -> u32 {
    1
}

/// A header expectation: a plain string means `equals`.
#[derive(Debug, Clone, Default)]
pub struct TextMatch {
    pub equals: Option<String>,
    pub contains: Option<String>,
    pub matches: Option<Re>,
    pub exists: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub enum Method {
    #[default]
    Get,
    Head,
    Post,
    Put,
    Patch,
    Delete,
    Options,
}

impl Method {
    pub const ALL: [(&'static str, Method); 7] = [
        ("GET", Method::Get),
        ("HEAD", Method::Head),
        ("POST", Method::Post),
        ("PUT", Method::Put),
        ("PATCH", Method::Patch),
        ("DELETE", Method::Delete),
        ("OPTIONS", Method::Options),
    ];
    pub fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, m)| *m == self)
            .map_or("GET", |(s, _)| s)
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Expected status codes: `200`, `[200, 204]` or a class such as `2xx`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusSet(pub Vec<StatusPattern>);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusPattern {
    Code(u16),
    /// `2xx`: the hundreds digit.
    Class(u16),
}

impl StatusSet {
    pub fn any_2xx() -> Self {
        StatusSet(vec![StatusPattern::Class(2)])
    }
    pub fn accepts(&self, status: u16) -> bool {
        self.0.iter().any(|p| match p {
            StatusPattern::Code(c) => *c == status,
            StatusPattern::Class(c) => status / 100 == *c,
        })
    }
}

impl fmt::Display for StatusSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|p| match p {
                StatusPattern::Code(c) => c.to_string(),
                StatusPattern::Class(c) => format!("{c}xx"),
            })
            .collect();
        f.write_str(&parts.join(" or "))
    }
}

/// A duration written `500ms`, `2s`, `1m` (or a bare number of seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Dur(pub Duration);

/// A fraction written `1%`, `0.5%` or `0.01`.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Rate(pub f64);

/// A compiled regular expression that remembers its source.
#[derive(Debug, Clone)]
pub struct Re(pub regex::Regex);

/// A parsed RFC 9535 JSONPath that remembers its source.
#[derive(Debug, Clone)]
pub struct JsonPathExpr {
    pub source: String,
    pub path: serde_json_path::JsonPath,
}

// ---- deserialisation of the checked values ----

fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a string or a list of strings")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(vec![v.to_string()])
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(s) = seq.next_element::<String>()? {
                out.push(s);
            }
            Ok(out)
        }
    }
    d.deserialize_any(V)
}

/// Deserialise a string through `parse`, raising its error inside the visitor so the YAML parser
/// reports the position of the string itself.
pub fn from_str_with<'de, D, T>(
    d: D,
    what: &'static str,
    parse: fn(&str) -> Result<T, String>,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
{
    struct V<T> {
        what: &'static str,
        parse: fn(&str) -> Result<T, String>,
    }
    impl<'de, T> Visitor<'de> for V<T> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str(self.what)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
            (self.parse)(v).map_err(E::custom)
        }
    }
    d.deserialize_str(V { what, parse })
}

impl<'de> Deserialize<'de> for Method {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_str_with(d, "an HTTP method", |s| {
            let upper = s.to_ascii_uppercase();
            Method::ALL
                .iter()
                .find(|(n, _)| *n == upper)
                .map(|(_, m)| *m)
                .ok_or_else(|| {
                    format!(
                        "unknown method `{s}`; use one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
                    )
                })
        })
    }
}

fn status_code<E: de::Error>(n: u64) -> Result<u16, E> {
    match u16::try_from(n) {
        Ok(c) if (100..=599).contains(&c) => Ok(c),
        _ => Err(E::custom(format!(
            "status {n} is not an HTTP status; use 100–599, a list, or a class such as 2xx"
        ))),
    }
}

fn status_pattern<E: de::Error>(s: &str) -> Result<StatusPattern, E> {
    let t = s.trim();
    if let Ok(n) = t.parse::<u64>() {
        return status_code(n).map(StatusPattern::Code);
    }
    match t.as_bytes() {
        [d @ b'1'..=b'5', b'x' | b'X', b'x' | b'X'] => {
            Ok(StatusPattern::Class(u16::from(d - b'0')))
        }
        _ => Err(E::custom(format!(
            "status `{s}` is not a status code or class; use e.g. 200, [200, 204] or 2xx"
        ))),
    }
}

impl<'de> Deserialize<'de> for StatusSet {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StatusSet;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a status code (200), a list ([200, 204]) or a class (2xx)")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<StatusSet, E> {
                Ok(StatusSet(vec![StatusPattern::Code(status_code(v)?)]))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<StatusSet, E> {
                self.visit_u64(u64::try_from(v).unwrap_or(0))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<StatusSet, E> {
                Ok(StatusSet(vec![status_pattern(v)?]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StatusSet, A::Error> {
                let mut out = Vec::new();
                while let Some(one) = seq.next_element::<StatusSet>()? {
                    out.extend(one.0);
                }
                if out.is_empty() {
                    return Err(de::Error::custom("status list is empty"));
                }
                Ok(StatusSet(out))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Dur;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration such as 500ms, 2s or 1m")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Dur, E> {
                Ok(Dur(Duration::from_secs(v)))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Dur, E> {
                Duration::try_from_secs_f64(v)
                    .map(Dur)
                    .map_err(|_| E::custom(format!("{v} is not a duration in seconds")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Dur, E> {
                dk_core::duration::parse_duration(v)
                    .map(Dur)
                    .map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Rate;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a rate such as 1%, 0.1% or 0.01")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Rate, E> {
                self.visit_f64(v as f64)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Rate, E> {
                if (0.0..=1.0).contains(&v) {
                    Ok(Rate(v))
                } else {
                    Err(E::custom(format!(
                        "error rate {v} is not between 0 and 1; write 1% or 0.01"
                    )))
                }
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Rate, E> {
                let t = v.trim();
                let parsed = match t.strip_suffix('%') {
                    Some(p) => p.trim().parse::<f64>().map(|x| x / 100.0),
                    None => t.parse::<f64>(),
                };
                match parsed {
                    Ok(x) => self.visit_f64(x),
                    Err(_) => Err(E::custom(format!(
                        "`{v}` is not a rate; write e.g. 1%, 0.1% or 0.01"
                    ))),
                }
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Re {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_str_with(d, "a regular expression", |s| {
            regex::RegexBuilder::new(s)
                .size_limit(1 << 20)
                .build()
                .map(Re)
                .map_err(|e| {
                    let text = e.to_string();
                    let last = text.lines().last().unwrap_or_default().trim().to_string();
                    format!("invalid regex `{s}`: {last}")
                })
        })
    }
}

impl<'de> Deserialize<'de> for JsonPathExpr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_str_with(d, "a JSONPath such as $.data.id", |s| {
            serde_json_path::JsonPath::parse(s)
                .map(|path| JsonPathExpr {
                    source: s.to_string(),
                    path,
                })
                .map_err(|e| {
                    format!(
                        "invalid JSONPath `{s}`: {e} (RFC 9535 syntax, e.g. $.data.tokens.accessToken or $.items[0].id)"
                    )
                })
        })
    }
}

impl<'de> Deserialize<'de> for TextMatch {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Fields {
            equals: Option<String>,
            contains: Option<String>,
            matches: Option<Re>,
            exists: Option<bool>,
        }
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = TextMatch;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a string (the exact value) or a map of equals, contains, matches, exists",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<TextMatch, E> {
                Ok(TextMatch {
                    equals: Some(v.to_string()),
                    ..TextMatch::default()
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, m: A) -> Result<TextMatch, A::Error> {
                let f = Fields::deserialize(de::value::MapAccessDeserializer::new(m))?;
                Ok(TextMatch {
                    equals: f.equals,
                    contains: f.contains,
                    matches: f.matches,
                    exists: f.exists,
                })
            }
        }
        d.deserialize_any(V)
    }
}
