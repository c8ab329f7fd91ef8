//! Conversion between versions that share one storage.
//!
//! Upstream keeps `core/v1` Events and `events.k8s.io/v1` Events in one
//! storage (`/registry/events/…`): an Event written through either API is
//! read through both. Bosun stores the `core/v1` form and converts the
//! other view on the way in ([`to_storage`]) and out ([`from_storage`]).
//!
//! Field correspondence (events.k8s.io/v1 ← → core/v1), as upstream's
//! conversion functions map them:
//! `regarding` ↔ `involvedObject`, `note` ↔ `message`,
//! `reportingController` ↔ `reportingComponent`,
//! `deprecatedSource` ↔ `source`,
//! `deprecatedFirstTimestamp` ↔ `firstTimestamp`,
//! `deprecatedLastTimestamp` ↔ `lastTimestamp`,
//! `deprecatedCount` ↔ `count`; `reportingInstance`, `action`, `reason`,
//! `type`, `eventTime`, `series` and `related` keep their names.

use serde_json::{Map, Value};

use crate::registry::ResourceDef;

/// (events.k8s.io/v1 name, core/v1 name) for members that are renamed.
const EVENT_RENAMES: &[(&str, &str)] = &[
    ("regarding", "involvedObject"),
    ("note", "message"),
    ("reportingController", "reportingComponent"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
];

/// Converts an object of `def` (a view with `stored_as` set) to the form
/// its storage keeps. Objects of other resources pass unchanged.
pub fn to_storage(def: &ResourceDef, obj: Value) -> Value {
    convert(def, obj, true)
}

/// Converts a stored object into the form `def` (a view) serves.
pub fn from_storage(def: &ResourceDef, obj: Value) -> Value {
    convert(def, obj, false)
}

fn convert(def: &ResourceDef, obj: Value, to_storage: bool) -> Value {
    match (def.group, def.kind) {
        ("events.k8s.io", "Event") => {
            let api_version = if to_storage { "v1" } else { "events.k8s.io/v1" };
            rename(obj, api_version, |k| {
                EVENT_RENAMES.iter().find_map(|&(view, core)| {
                    let (from, to) = if to_storage {
                        (view, core)
                    } else {
                        (core, view)
                    };
                    (from == k).then_some(to)
                })
            })
        }
        _ => obj,
    }
}

/// Renames top-level members with `renamed` and sets apiVersion; keeps
/// member order so encodings stay stable.
fn rename(obj: Value, api_version: &str, renamed: impl Fn(&str) -> Option<&'static str>) -> Value {
    let Value::Object(members) = obj else {
        return obj;
    };
    let mut out = Map::with_capacity(members.len());
    for (key, value) in members {
        match key.as_str() {
            "apiVersion" => {
                out.insert(key, Value::String(api_version.to_string()));
            }
            other => match renamed(other) {
                Some(new) => {
                    out.insert(new.to_string(), value);
                }
                None => {
                    out.insert(key, value);
                }
            },
        }
    }
    if !out.contains_key("apiVersion") {
        out.insert("apiVersion".into(), Value::String(api_version.to_string()));
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::lookup;
    use serde_json::json;

    #[test]
    fn events_convert_both_ways_without_loss() {
        let view = lookup("events.k8s.io", "v1", "events").expect("served");
        let v1 = json!({
            "apiVersion": "events.k8s.io/v1", "kind": "Event",
            "metadata": {"name": "e", "namespace": "default"},
            "eventTime": "2026-01-01T00:00:00.000000Z",
            "regarding": {"kind": "Pod", "name": "p", "namespace": "default"},
            "note": "hello", "reason": "Scheduled", "type": "Normal",
            "reportingController": "default-scheduler", "reportingInstance": "s-1",
            "action": "Binding", "deprecatedCount": 2,
            "series": {"count": 3, "lastObservedTime": "2026-01-01T00:00:01.000000Z"},
        });
        let core = to_storage(view, v1.clone());
        assert_eq!(core["apiVersion"], "v1");
        assert_eq!(core["involvedObject"]["name"], "p");
        assert_eq!(core["message"], "hello");
        assert_eq!(core["reportingComponent"], "default-scheduler");
        assert_eq!(core["count"], 2);
        assert_eq!(core["series"]["count"], 3);
        assert!(core.get("regarding").is_none() && core.get("note").is_none());
        assert_eq!(from_storage(view, core), v1);
    }

    #[test]
    fn other_resources_pass_unchanged() {
        let pods = lookup("", "v1", "pods").expect("served");
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "message": "x"});
        assert_eq!(to_storage(pods, pod.clone()), pod);
        assert_eq!(from_storage(pods, pod.clone()), pod);
    }
}
