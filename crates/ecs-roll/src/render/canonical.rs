//! The canonical form of a register request: what counts as a change between two task
//! definitions, so an unchanged release never registers a new revision.

use serde_json::{Map, Value};

/// Tags recording where a revision came from (`github:run-id`, `github:sha`, …). They say who
/// registered it, not what it runs, so equality ignores them.
pub const PROVENANCE_PREFIX: &str = "github:";

/// The canonical form of a register request, for equality and diffs:
/// - object keys sorted; `null`, `[]` and `{}` members dropped (absent and empty mean the same);
/// - `environment`, `secrets` and `tags` sorted by name/key, `requiresCompatibilities` sorted;
/// - defaults DescribeTaskDefinition fills in dropped: container `cpu: 0`, `essential: true`,
///   port mapping `protocol: "tcp"` (and `hostPort` equal to `containerPort` under `awsvpc`);
/// - task `cpu` and `memory` as strings (the API takes strings; files often hold numbers).
pub fn canonical(request: &Value) -> Value {
    let Value::Object(top) = request else {
        return request.clone();
    };
    let awsvpc = top.get("networkMode").and_then(Value::as_str) == Some("awsvpc");
    let mut top = top.clone();
    for k in ["cpu", "memory"] {
        if let Some(Value::Number(n)) = top.get(k) {
            let s = n.to_string();
            top.insert(k.into(), Value::String(s));
        }
    }
    if let Some(Value::Array(tags)) = top.get_mut("tags") {
        tags.retain(|t| {
            !t.get("key")
                .and_then(Value::as_str)
                .is_some_and(|k| k.starts_with(PROVENANCE_PREFIX))
        });
    }
    sort_list_by(&mut top, "tags", "key");
    if let Some(Value::Array(rc)) = top.get_mut("requiresCompatibilities") {
        rc.sort_by_key(|v| v.as_str().unwrap_or("").to_string());
    }
    if let Some(Value::Array(list)) = top.get_mut("containerDefinitions") {
        for c in list.iter_mut() {
            let Value::Object(c) = c else { continue };
            if c.get("cpu").and_then(Value::as_i64) == Some(0) {
                c.remove("cpu");
            }
            if c.get("essential") == Some(&Value::Bool(true)) {
                c.remove("essential");
            }
            sort_list_by(c, "environment", "name");
            sort_list_by(c, "secrets", "name");
            if let Some(Value::Array(pms)) = c.get_mut("portMappings") {
                for pm in pms.iter_mut() {
                    let Value::Object(pm) = pm else { continue };
                    if pm.get("protocol").and_then(Value::as_str) == Some("tcp") {
                        pm.remove("protocol");
                    }
                    if awsvpc
                        && pm.get("hostPort").is_some()
                        && pm.get("hostPort") == pm.get("containerPort")
                    {
                        pm.remove("hostPort");
                    }
                }
            }
        }
    }
    tidy(&Value::Object(top)).unwrap_or(Value::Object(Map::new()))
}

fn sort_list_by(obj: &mut Map<String, Value>, list: &str, key: &str) {
    if let Some(Value::Array(items)) = obj.get_mut(list) {
        items.sort_by(|a, b| {
            let ka = a.get(key).and_then(Value::as_str).unwrap_or("");
            let kb = b.get(key).and_then(Value::as_str).unwrap_or("");
            ka.cmp(kb)
        });
    }
}

/// Sort keys, drop nulls and empty containers (recursively). `None` means "drop me".
fn tidy(v: &Value) -> Option<Value> {
    match v {
        Value::Null => None,
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let mut out = Map::new();
            for k in keys {
                if let Some(t) = tidy(&m[k]) {
                    out.insert(k.clone(), t);
                }
            }
            (!out.is_empty()).then_some(Value::Object(out))
        }
        Value::Array(a) => {
            let out: Vec<Value> = a.iter().map(|x| tidy(x).unwrap_or(Value::Null)).collect();
            (!out.is_empty()).then_some(Value::Array(out))
        }
        other => Some(other.clone()),
    }
}
