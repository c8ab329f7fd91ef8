//! Rows for apps/v1 kinds.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{age, container_cells, n, s};
use crate::json::{arr_at, get, int_at, map_at, name, opt_int_at, str_at};
use crate::labels::{format_label_selector, format_labels, selector_string, SelectorString};

/// `spec.replicas`, which apps/v1 defaults to 1.
fn desired_replicas(obj: &Value) -> i64 {
    opt_int_at(obj, &["spec", "replicas"]).unwrap_or(1)
}

const TEMPLATE_SPEC: &[&str] = &["spec", "template", "spec"];

pub(super) fn deployment(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (names, images) = container_cells(obj, TEMPLATE_SPEC);
    // Deployments print the raw selector string: "" when empty.
    let selector = match selector_string(get(obj, &["spec", "selector"])) {
        SelectorString::Ok(s) => s,
        SelectorString::Invalid => "<invalid>".to_string(),
    };
    vec![
        s(name(obj)),
        s(format!(
            "{}/{}",
            int_at(obj, &["status", "readyReplicas"]),
            desired_replicas(obj)
        )),
        n(int_at(obj, &["status", "updatedReplicas"])),
        n(int_at(obj, &["status", "availableReplicas"])),
        s(age(obj, now)),
        s(names),
        s(images),
        s(selector),
    ]
}

pub(super) fn replica_set(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (names, images) = container_cells(obj, TEMPLATE_SPEC);
    vec![
        s(name(obj)),
        n(desired_replicas(obj)),
        n(int_at(obj, &["status", "replicas"])),
        n(int_at(obj, &["status", "readyReplicas"])),
        s(age(obj, now)),
        s(names),
        s(images),
        s(format_label_selector(get(obj, &["spec", "selector"]))),
    ]
}

pub(super) fn stateful_set(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (names, images) = container_cells(obj, TEMPLATE_SPEC);
    vec![
        s(name(obj)),
        s(format!(
            "{}/{}",
            int_at(obj, &["status", "readyReplicas"]),
            desired_replicas(obj)
        )),
        s(age(obj, now)),
        s(names),
        s(images),
    ]
}

pub(super) fn daemon_set(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (names, images) = container_cells(obj, TEMPLATE_SPEC);
    let status = |f: &str| n(int_at(obj, &["status", f]));
    vec![
        s(name(obj)),
        status("desiredNumberScheduled"),
        status("currentNumberScheduled"),
        status("numberReady"),
        status("updatedNumberScheduled"),
        status("numberAvailable"),
        s(format_labels(map_at(
            obj,
            &["spec", "template", "spec", "nodeSelector"],
        ))),
        s(age(obj, now)),
        s(names),
        s(images),
        s(format_label_selector(get(obj, &["spec", "selector"]))),
    ]
}

/// `kind.group/name` (lower-cased kind and group) of the controlling owner.
fn controller_name(obj: &Value) -> String {
    let Some(owner) = arr_at(obj, &["metadata", "ownerReferences"])
        .iter()
        .find(|o| o.get("controller").and_then(Value::as_bool) == Some(true))
    else {
        return "<none>".to_string();
    };
    let owner_name = str_at(owner, &["name"]);
    let kind = str_at(owner, &["kind"]);
    let api_version = str_at(owner, &["apiVersion"]);
    let group = match api_version.split_once('/') {
        Some((g, _)) => g,
        None => "",
    };
    if group.is_empty() && kind.is_empty() {
        return owner_name.to_string();
    }
    let group_kind = if group.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}.{group}")
    };
    format!("{}/{owner_name}", group_kind.to_lowercase())
}

pub(super) fn controller_revision(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    vec![
        s(name(obj)),
        s(controller_name(obj)),
        n(int_at(obj, &["revision"])),
        s(age(obj, now)),
    ]
}
