//! Small, panic-free accessors over `serde_json::Value` trees.
//!
//! Printers read objects in their external JSON form; every field may be
//! missing or of an unexpected type, in which case the accessors fall back to
//! the Go zero value (empty string, 0, false, empty list, absent timestamp).

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

/// Follows `path` through nested objects.
pub(crate) fn get<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    let mut cur = v;
    for key in path {
        cur = cur.as_object()?.get(*key)?;
    }
    if cur.is_null() {
        None
    } else {
        Some(cur)
    }
}

/// String at `path`, or "" when absent / not a string.
pub(crate) fn str_at<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    get(v, path).and_then(Value::as_str).unwrap_or("")
}

/// Optional string at `path` (distinguishes a missing pointer from "").
pub(crate) fn opt_str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    get(v, path).and_then(Value::as_str)
}

/// Integer at `path`, or 0.
pub(crate) fn int_at(v: &Value, path: &[&str]) -> i64 {
    opt_int_at(v, path).unwrap_or(0)
}

/// Optional integer at `path`.
pub(crate) fn opt_int_at(v: &Value, path: &[&str]) -> Option<i64> {
    let x = get(v, path)?;
    x.as_i64()
        .or_else(|| x.as_u64().map(|u| i64::try_from(u).unwrap_or(i64::MAX)))
        .or_else(|| x.as_f64().map(|f| f as i64))
}

/// Boolean at `path`, or false.
pub(crate) fn bool_at(v: &Value, path: &[&str]) -> bool {
    opt_bool_at(v, path).unwrap_or(false)
}

/// Optional boolean at `path`.
pub(crate) fn opt_bool_at(v: &Value, path: &[&str]) -> Option<bool> {
    get(v, path).and_then(Value::as_bool)
}

/// Array at `path`, or an empty slice.
pub(crate) fn arr_at<'a>(v: &'a Value, path: &[&str]) -> &'a [Value] {
    get(v, path)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// Object (map) at `path`, if present.
pub(crate) fn map_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Map<String, Value>> {
    get(v, path).and_then(Value::as_object)
}

/// Number of entries of the map at `path` (0 when absent).
pub(crate) fn map_len(v: &Value, path: &[&str]) -> usize {
    map_at(v, path).map_or(0, Map::len)
}

/// True when `path` holds a (non-null) JSON object, i.e. a set Go pointer.
pub(crate) fn has_obj(v: &Value, path: &[&str]) -> bool {
    map_at(v, path).is_some()
}

/// Parses an RFC 3339 timestamp (metav1.Time or metav1.MicroTime) at `path`.
pub(crate) fn time_at(v: &Value, path: &[&str]) -> Option<DateTime<Utc>> {
    parse_time(opt_str_at(v, path)?)
}

/// Parses an RFC 3339 timestamp; `None` for empty or malformed input.
pub(crate) fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    if s.is_empty() {
        return None;
    }
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The object's `metadata.name`.
pub(crate) fn name(v: &Value) -> &str {
    str_at(v, &["metadata", "name"])
}

/// A JSON int-or-string rendered as Go's `IntOrString.String()`.
pub(crate) fn int_or_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn accessors_fall_back_to_zero_values() {
        let v = json!({"a": {"b": "x", "n": 3, "t": true, "nul": null, "l": [1, 2]}});
        assert_eq!(str_at(&v, &["a", "b"]), "x");
        assert_eq!(str_at(&v, &["a", "missing"]), "");
        assert_eq!(str_at(&v, &["a", "n"]), "");
        assert_eq!(int_at(&v, &["a", "n"]), 3);
        assert_eq!(int_at(&v, &["a", "b"]), 0);
        assert!(bool_at(&v, &["a", "t"]));
        assert!(get(&v, &["a", "nul"]).is_none());
        assert_eq!(arr_at(&v, &["a", "l"]).len(), 2);
        assert_eq!(arr_at(&v, &["a", "b"]).len(), 0);
        assert!(has_obj(&v, &["a"]));
        assert!(!has_obj(&v, &["a", "b"]));
    }

    #[test]
    fn parses_times_and_int_or_string() {
        assert!(parse_time("2024-01-02T03:04:05Z").is_some());
        assert!(parse_time("2024-01-02T03:04:05.123456Z").is_some());
        assert!(parse_time("").is_none());
        assert!(parse_time("yesterday").is_none());
        assert_eq!(int_or_string(&json!(3)), "3");
        assert_eq!(int_or_string(&json!("50%")), "50%");
    }
}
