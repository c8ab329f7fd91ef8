//! Small helpers for reading loosely typed JSON objects and building field
//! paths in upstream's notation (`a.b[0].c`, `a.b[key]`).

use serde_json::{Map, Value};

/// `p.name`, or `name` at the root.
pub fn child(p: &str, name: &str) -> String {
    if p.is_empty() {
        name.to_string()
    } else {
        format!("{p}.{name}")
    }
}

/// `p[i]`.
pub fn index(p: &str, i: usize) -> String {
    format!("{p}[{i}]")
}

/// `p[k]`.
pub fn key(p: &str, k: &str) -> String {
    format!("{p}[{k}]")
}

/// The string at `k`, or `""`.
pub fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

/// The string at `k`, if it is one.
pub fn opt_s<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

/// The integer at `k`, if it is one.
pub fn int(v: &Value, k: &str) -> Option<i64> {
    v.get(k).and_then(Value::as_i64)
}

/// The boolean at `k`, if it is one.
pub fn boolean(v: &Value, k: &str) -> Option<bool> {
    v.get(k).and_then(Value::as_bool)
}

/// The object at `k`, if it is one.
pub fn obj<'a>(v: &'a Value, k: &str) -> Option<&'a Map<String, Value>> {
    v.get(k).and_then(Value::as_object)
}

/// The array at `k`, or an empty slice.
pub fn arr<'a>(v: &'a Value, k: &str) -> &'a [Value] {
    v.get(k)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// The value at `k` if present and not null.
pub fn present<'a>(v: &'a Value, k: &str) -> Option<&'a Value> {
    v.get(k).filter(|x| !x.is_null())
}

/// A `map[string]string` field as (key, value) pairs; non-string values are
/// rendered as JSON text.
pub fn string_map(v: Option<&Value>) -> Vec<(String, String)> {
    match v.and_then(Value::as_object) {
        Some(m) => m
            .iter()
            .map(|(k, v)| {
                let val = match v {
                    Value::String(s) => s.clone(),
                    Value::Null => String::new(),
                    other => other.to_string(),
                };
                (k.clone(), val)
            })
            .collect(),
        None => Vec::new(),
    }
}
