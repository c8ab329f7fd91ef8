//! Rows for Lease, EndpointSlice, PriorityClass and PodDisruptionBudget.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{age, n, s};
use crate::json::{arr_at, bool_at, get, int_at, int_or_string, name, str_at};

pub(super) fn lease(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    vec![
        s(name(obj)),
        s(str_at(obj, &["spec", "holderIdentity"])),
        s(age(obj, now)),
    ]
}

const MAX_LISTED: usize = 3;

/// Joins up to three entries, then `+ N more...`; `<unset>` when empty.
fn list_with_more(items: Vec<String>) -> String {
    let total = items.len();
    let shown: Vec<String> = items.into_iter().take(MAX_LISTED).collect();
    let joined = shown.join(",");
    if total > MAX_LISTED {
        return format!("{joined} + {} more...", total - MAX_LISTED);
    }
    if joined.is_empty() {
        return "<unset>".to_string();
    }
    joined
}

fn slice_ports(obj: &Value) -> String {
    let ports = arr_at(obj, &["ports"])
        .iter()
        .map(|p| match (get(p, &["port"]), get(p, &["name"])) {
            (Some(port), _) => int_at(port, &[]).to_string(),
            (None, Some(Value::String(name))) => name.clone(),
            _ => "*".to_string(),
        })
        .collect();
    list_with_more(ports)
}

fn slice_endpoints(obj: &Value) -> String {
    let addrs = arr_at(obj, &["endpoints"])
        .iter()
        .flat_map(|e| arr_at(e, &["addresses"]))
        .map(|a| a.as_str().unwrap_or_default().to_string())
        .collect();
    list_with_more(addrs)
}

pub(super) fn endpoint_slice(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    vec![
        s(name(obj)),
        s(str_at(obj, &["addressType"])),
        s(slice_ports(obj)),
        s(slice_endpoints(obj)),
        s(age(obj, now)),
    ]
}

pub(super) fn priority_class(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    vec![
        s(name(obj)),
        n(int_at(obj, &["value"])),
        Value::Bool(bool_at(obj, &["globalDefault"])),
        s(age(obj, now)),
        s(str_at(obj, &["preemptionPolicy"])),
    ]
}

fn int_or_string_or_na(v: Option<&Value>) -> String {
    match v {
        Some(v) => int_or_string(v),
        None => "N/A".to_string(),
    }
}

pub(super) fn pod_disruption_budget(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    vec![
        s(name(obj)),
        s(int_or_string_or_na(get(obj, &["spec", "minAvailable"]))),
        s(int_or_string_or_na(get(obj, &["spec", "maxUnavailable"]))),
        n(int_at(obj, &["status", "disruptionsAllowed"])),
        s(age(obj, now)),
    ]
}
