//! In-place helpers for defaulting JSON objects.

use crate::validation::quantity::Quantity;
use serde_json::{Map, Value};

/// The child object at `k`, created (or replaced when null) if missing.
/// Returns None when `v` is not an object or the child is not an object.
pub fn ensure_obj<'a>(v: &'a mut Value, k: &str) -> Option<&'a mut Value> {
    let m = v.as_object_mut()?;
    let slot = m.entry(k.to_string()).or_insert(Value::Null);
    if slot.is_null() {
        *slot = Value::Object(Map::new());
    }
    slot.is_object().then_some(slot)
}

/// The child object at `k` if it exists and is an object.
pub fn child_obj<'a>(v: &'a mut Value, k: &str) -> Option<&'a mut Value> {
    v.get_mut(k).filter(|c| c.is_object())
}

/// Each object element of the array at `k`.
pub fn each_obj<'a>(v: &'a mut Value, k: &str) -> impl Iterator<Item = &'a mut Value> {
    v.get_mut(k)
        .and_then(Value::as_array_mut)
        .into_iter()
        .flat_map(|a| a.iter_mut())
        .filter(|e| e.is_object())
}

fn unset(v: Option<&Value>) -> bool {
    v.is_none_or(Value::is_null)
}

/// Set `k` when absent or null (Go pointer / slice semantics).
pub fn default_ptr(v: &mut Value, k: &str, val: Value) {
    if let Some(m) = v.as_object_mut() {
        if unset(m.get(k)) {
            m.insert(k.to_string(), val);
        }
    }
}

/// Set `k` when absent, null or `""` (Go string zero value).
pub fn default_str(v: &mut Value, k: &str, val: &str) {
    if let Some(m) = v.as_object_mut() {
        if unset(m.get(k)) || m.get(k).and_then(Value::as_str) == Some("") {
            m.insert(k.to_string(), Value::from(val));
        }
    }
}

/// Set `k` when absent, null or `0` (Go integer zero value).
pub fn default_int(v: &mut Value, k: &str, val: i64) {
    if let Some(m) = v.as_object_mut() {
        if unset(m.get(k)) || m.get(k).and_then(Value::as_i64) == Some(0) {
            m.insert(k.to_string(), Value::from(val));
        }
    }
}

/// The string at `k`, or "".
pub fn str_at<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

/// Canonicalise one quantity value; `round` rounds up to milli first.
/// Unparseable values are left for validation to report.
pub fn canonical_quantity(v: &mut Value, round: bool) {
    if let Ok(mut q) = Quantity::from_json(v) {
        if round {
            q.round_up(-3);
        }
        *v = Value::String(q.canonical());
    }
}

/// Canonicalise every value of the resource list at `k` (rounded to milli,
/// as `SetDefaults_ResourceList` does).
pub fn canonical_resource_list(v: &mut Value, k: &str) {
    if let Some(m) = v.get_mut(k).and_then(Value::as_object_mut) {
        for q in m.values_mut() {
            canonical_quantity(q, true);
        }
    }
}

/// Embedded ObjectMeta prints `creationTimestamp: null` when unset.
pub fn default_embedded_meta(v: &mut Value) {
    if let Some(meta) = ensure_obj(v, "metadata") {
        if let Some(m) = meta.as_object_mut() {
            m.entry("creationTimestamp").or_insert(Value::Null);
        }
    }
}

/// Set `status` to `val` when absent or null.
pub fn default_status(v: &mut Value, val: Value) {
    default_ptr(v, "status", val);
}
