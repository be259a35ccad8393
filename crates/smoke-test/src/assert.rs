//! Checking a response against a check's expectations, and taking its captures. Pure: a response
//! in, failures (one line each) out.

use std::time::Duration;

use serde_json::Value;

use crate::model::{BodyExpect, Capture, Expect, JsonAssert, StatusSet, TextMatch};

/// What came back, as the assertions see it.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    /// Lower-case names, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub latency: Duration,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }
    fn json(&self) -> Result<Value, String> {
        serde_json::from_str(&self.body).map_err(|e| format!("the body is not JSON ({e})"))
    }
}

/// Renders `{{…}}` in expected values.
pub type Render<'a> = &'a dyn Fn(&str) -> Result<String, String>;

/// Every expectation the response misses (empty: it passed). `with_latency: false` leaves
/// `max_latency` out (load checks gate latency with percentiles instead).
pub fn evaluate(
    expect: &Expect,
    r: &Response,
    render: Render<'_>,
    with_latency: bool,
) -> Vec<String> {
    let mut failures = Vec::new();
    let status = expect.status.clone().unwrap_or_else(StatusSet::any_2xx);
    if !status.accepts(r.status) {
        failures.push(format!("status {} (expected {status})", r.status));
    }
    for (name, m) in &expect.headers {
        failures.extend(text_match(
            &format!("header {name}"),
            r.header(name),
            m,
            render,
        ));
    }
    if let Some(b) = &expect.body {
        failures.extend(body_expect(b, &r.body, render));
    }
    if !expect.json.is_empty() {
        match r.json() {
            Ok(doc) => {
                for a in &expect.json {
                    failures.extend(json_assert(a, &doc, render));
                }
            }
            Err(e) => failures.push(e),
        }
    }
    if with_latency
        && let Some(max) = expect.max_latency
        && r.latency > max.0
    {
        failures.push(format!(
            "latency {} ms (expected at most {} ms)",
            r.latency.as_millis(),
            max.0.as_millis()
        ));
    }
    failures
}

fn text_match(what: &str, actual: Option<&str>, m: &TextMatch, render: Render<'_>) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(exists) = m.exists
        && exists != actual.is_some()
    {
        out.push(if exists {
            format!("{what} is missing")
        } else {
            format!("{what} is present")
        });
    }
    let needs_value = m.equals.is_some() || m.contains.is_some() || m.matches.is_some();
    let Some(value) = actual else {
        if needs_value {
            out.push(format!("{what} is missing"));
        }
        return out;
    };
    if let Some(e) = &m.equals {
        match render(e) {
            Ok(e) if e == value => {}
            Ok(e) => out.push(format!("{what} is `{value}` (expected `{e}`)")),
            Err(err) => out.push(err),
        }
    }
    if let Some(c) = &m.contains {
        match render(c) {
            Ok(c) if value.contains(&c) => {}
            Ok(c) => out.push(format!("{what} `{value}` does not contain `{c}`")),
            Err(err) => out.push(err),
        }
    }
    if let Some(re) = &m.matches
        && !re.0.is_match(value)
    {
        out.push(format!(
            "{what} `{value}` does not match /{}/",
            re.0.as_str()
        ));
    }
    out
}

fn body_expect(b: &BodyExpect, body: &str, render: Render<'_>) -> Vec<String> {
    let mut out = Vec::new();
    for c in &b.contains {
        match render(c) {
            Ok(c) if body.contains(&c) => {}
            Ok(c) => out.push(format!("body does not contain `{c}`")),
            Err(e) => out.push(e),
        }
    }
    for c in &b.not_contains {
        match render(c) {
            Ok(c) if !body.contains(&c) => {}
            Ok(c) => out.push(format!("body contains `{c}`")),
            Err(e) => out.push(e),
        }
    }
    if let Some(re) = &b.matches
        && !re.0.is_match(body)
    {
        out.push(format!("body does not match /{}/", re.0.as_str()));
    }
    out
}

fn json_assert(a: &JsonAssert, doc: &Value, render: Render<'_>) -> Vec<String> {
    let nodes = a.path.path.query(doc).all();
    let p = &a.path.source;
    let mut out = Vec::new();
    if let Some(exists) = a.exists
        && exists == nodes.is_empty()
    {
        out.push(if exists {
            format!("{p} selects nothing")
        } else {
            format!("{p} exists ({})", short_json(nodes[0]))
        });
    }
    if let Some(n) = a.count
        && nodes.len() != n
    {
        out.push(format!(
            "{p} selects {} node(s) (expected {n})",
            nodes.len()
        ));
    }
    let single_needed = a.equals.is_some()
        || a.matches.is_some()
        || a.gt.is_some()
        || a.ge.is_some()
        || a.lt.is_some()
        || a.le.is_some()
        || a.length.is_some();
    if !single_needed {
        return out;
    }
    let node = match nodes.as_slice() {
        [one] => *one,
        [] => {
            out.push(format!("{p} selects nothing"));
            return out;
        }
        many => {
            out.push(format!(
                "{p} selects {} nodes; equals/matches/comparisons need exactly one",
                many.len()
            ));
            return out;
        }
    };
    if let Some(expected) = &a.equals {
        match render_json(expected, render) {
            Ok(e) if json_equal(node, &e) => {}
            Ok(e) => out.push(format!(
                "{p} is {} (expected {})",
                short_json(node),
                short_json(&e)
            )),
            Err(err) => out.push(err),
        }
    }
    if let Some(re) = &a.matches {
        let text = match node {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        if !re.0.is_match(&text) {
            out.push(format!(
                "{p} is {} (does not match /{}/)",
                short_json(node),
                re.0.as_str()
            ));
        }
    }
    out.extend(compare(p, node, a));
    if let Some(n) = a.length {
        let len = match node {
            Value::Array(v) => Some(v.len()),
            Value::Object(m) => Some(m.len()),
            Value::String(s) => Some(s.chars().count()),
            _ => None,
        };
        match len {
            Some(l) if l == n => {}
            Some(l) => out.push(format!("{p} has length {l} (expected {n})")),
            None => out.push(format!("{p} is {} which has no length", short_json(node))),
        }
    }
    out
}

fn compare(p: &str, node: &Value, a: &JsonAssert) -> Vec<String> {
    let checks = [
        ("gt", a.gt, ">"),
        ("ge", a.ge, ">="),
        ("lt", a.lt, "<"),
        ("le", a.le, "<="),
    ];
    let mut out = Vec::new();
    for (_, bound, op) in checks {
        let Some(bound) = bound else { continue };
        let Some(x) = node.as_f64() else {
            out.push(format!(
                "{p} is {} (not a number, expected {op} {bound})",
                short_json(node)
            ));
            continue;
        };
        let ok = match op {
            ">" => x > bound,
            ">=" => x >= bound,
            "<" => x < bound,
            _ => x <= bound,
        };
        if !ok {
            out.push(format!("{p} is {x} (expected {op} {bound})"));
        }
    }
    out
}

/// Numbers compare by value (1 equals 1.0); everything else structurally.
fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_equal(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w)))
        }
        _ => a == b,
    }
}

/// A JSON value with `{{…}}` rendered in every string.
pub fn render_json(v: &Value, render: Render<'_>) -> Result<Value, String> {
    Ok(match v {
        Value::String(s) => Value::String(render(s)?),
        Value::Array(a) => Value::Array(
            a.iter()
                .map(|x| render_json(x, render))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| Ok((k.clone(), render_json(x, render)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

fn short_json(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 80 {
        format!("{}…", s.chars().take(80).collect::<String>())
    } else {
        s
    }
}

/// The value a capture takes from the response.
pub fn capture(name: &str, c: &Capture, r: &Response) -> Result<String, String> {
    if let Some(h) = &c.header {
        return r
            .header(h)
            .map(str::to_owned)
            .ok_or_else(|| format!("capture {name}: header {h} is missing"));
    }
    let Some(path) = &c.json else {
        return Err(format!("capture {name}: nothing to capture"));
    };
    let doc = r.json().map_err(|e| format!("capture {name}: {e}"))?;
    let nodes = path.path.query(&doc).all();
    match nodes.as_slice() {
        [Value::String(s)] => Ok(s.clone()),
        [Value::Null] | [] => Err(format!("capture {name}: {} selects nothing", path.source)),
        [one] => Ok(one.to_string()),
        many => Err(format!(
            "capture {name}: {} selects {} nodes; a capture needs exactly one",
            path.source,
            many.len()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expect(yaml: &str) -> Expect {
        serde_yaml_ng::from_str(yaml).unwrap()
    }

    fn response(status: u16, body: &str) -> Response {
        Response {
            status,
            headers: vec![
                (
                    "content-type".into(),
                    "application/json; charset=utf-8".into(),
                ),
                ("x-id".into(), "abc-123".into()),
            ],
            body: body.into(),
            latency: Duration::from_millis(120),
        }
    }

    fn no_vars(s: &str) -> Result<String, String> {
        crate::template::render(s, |n| (n == "id").then(|| "7".into()), |_| None)
    }

    fn run(yaml: &str, r: &Response) -> Vec<String> {
        evaluate(&expect(yaml), r, &no_vars, true)
    }

    const DOC: &str = r#"{"data":{"id":7,"name":"Soup","tags":["a","b"],"price":12.5,"ok":true,"none":null},"items":[{"id":1},{"id":2},{"id":3}]}"#;

    /// Every assertion kind passes on a matching response and fails, naming what it saw, on a
    /// response that does not match.
    #[test]
    fn each_assertion_kind_passes_and_fails() {
        let r = response(200, DOC);
        // (yaml, expected failure fragment when it fails)
        let table: &[(&str, &str)] = &[
            ("status: 200", ""),
            ("status: [201, 204]", "status 200 (expected 201 or 204)"),
            ("status: 2xx", ""),
            ("status: 4xx", "expected 4xx"),
            ("headers: {content-type: {contains: json}}", ""),
            (
                "headers: {content-type: {contains: xml}}",
                "does not contain `xml`",
            ),
            ("headers: {x-id: abc-123}", ""),
            (
                "headers: {x-id: abc-124}",
                "is `abc-123` (expected `abc-124`)",
            ),
            ("headers: {x-id: {matches: '^abc-\\d+$'}}", ""),
            ("headers: {x-id: {matches: '^z'}}", "does not match"),
            ("headers: {etag: {exists: false}}", ""),
            ("headers: {etag: {exists: true}}", "header etag is missing"),
            ("body: {contains: Soup}", ""),
            (
                "body: {contains: [Soup, Stew]}",
                "body does not contain `Stew`",
            ),
            ("body: {not_contains: Stew}", ""),
            ("body: {not_contains: Soup}", "body contains `Soup`"),
            ("body: {matches: '\"id\":\\s*7'}", ""),
            ("body: {matches: '^<html'}", "body does not match"),
            ("json: [{path: $.data.id, equals: 7}]", ""),
            (
                "json: [{path: $.data.id, equals: '{{id}}'}]",
                "is 7 (expected \"7\")",
            ),
            ("json: [{path: $.data.price, equals: 12.50}]", ""),
            (
                "json: [{path: $.data.name, equals: Stew}]",
                "$.data.name is \"Soup\" (expected \"Stew\")",
            ),
            ("json: [{path: $.data.tags, equals: [a, b]}]", ""),
            ("json: [{path: $.data.ok, equals: true}]", ""),
            ("json: [{path: $.data.none, exists: true}]", ""),
            ("json: [{path: $.data.missing, exists: false}]", ""),
            (
                "json: [{path: $.data.missing, exists: true}]",
                "selects nothing",
            ),
            ("json: [{path: $.data.name, matches: '^S'}]", ""),
            (
                "json: [{path: $.data.id, matches: '^8$'}]",
                "does not match",
            ),
            (
                "json: [{path: $.data.price, gt: 12, lt: 13, ge: 12.5, le: 12.5}]",
                "",
            ),
            (
                "json: [{path: $.data.price, gt: 13}]",
                "is 12.5 (expected > 13)",
            ),
            ("json: [{path: $.data.price, le: 12}]", "expected <= 12"),
            ("json: [{path: $.data.name, lt: 3}]", "not a number"),
            ("json: [{path: '$.items[*]', count: 3}]", ""),
            (
                "json: [{path: '$.items[*]', count: 2}]",
                "selects 3 node(s) (expected 2)",
            ),
            ("json: [{path: '$.items[?@.id > 1]', count: 2}]", ""),
            ("json: [{path: $.items, length: 3}]", ""),
            ("json: [{path: $.data.name, length: 5}]", "has length 4"),
            (
                "json: [{path: '$.items[*].id', equals: 1}]",
                "need exactly one",
            ),
            ("max_latency: 1s", ""),
            (
                "max_latency: 100ms",
                "latency 120 ms (expected at most 100 ms)",
            ),
        ];
        for (yaml, fragment) in table {
            let failures = run(yaml, &r);
            if fragment.is_empty() {
                assert!(failures.is_empty(), "{yaml}: {failures:?}");
            } else {
                assert_eq!(failures.len(), 1, "{yaml}: {failures:?}");
                assert!(failures[0].contains(fragment), "{yaml}: {failures:?}");
            }
        }
    }

    /// With no `status`, any 2xx passes and anything else fails; a non-JSON body fails JSON asserts.
    #[test]
    fn defaults_and_non_json() {
        assert!(run("{}", &response(204, "")).is_empty());
        assert_eq!(run("{}", &response(503, "")).len(), 1);
        let f = run(
            "json: [{path: $.a, exists: true}]",
            &response(200, "<html>"),
        );
        assert!(f[0].contains("not JSON"), "{f:?}");
        // Load checks leave latency to the percentiles.
        assert!(
            evaluate(
                &expect("max_latency: 1ms"),
                &response(200, ""),
                &no_vars,
                false
            )
            .is_empty()
        );
    }

    /// Captures take a string as is, other JSON as text, or a header; missing ones are errors.
    #[test]
    fn captures() {
        let r = response(200, DOC);
        let cap = |yaml: &str| capture("v", &serde_yaml_ng::from_str(yaml).unwrap(), &r);
        assert_eq!(cap("json: $.data.name").unwrap(), "Soup");
        assert_eq!(cap("json: $.data.id").unwrap(), "7");
        assert_eq!(cap("header: X-Id").unwrap(), "abc-123");
        assert!(cap("json: $.nope").unwrap_err().contains("selects nothing"));
        assert!(cap("json: '$.items[*]'").unwrap_err().contains("3 nodes"));
        assert!(cap("header: etag").unwrap_err().contains("missing"));
    }
}
