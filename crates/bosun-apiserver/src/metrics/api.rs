//! `GET /apis/metrics.k8s.io/v1beta1/...`: NodeMetrics and PodMetrics as
//! metrics-server serves them (get and list; label and field selectors
//! applied to the nodes' and pods' own labels and names).

use bosun_api::registry::{self, ResourceDef};
use bosun_core::fields::FieldSelector;
use bosun_core::labels::Selector;
use serde_json::{json, Map, Value};

use super::{MetricsStore, PodUsage, Usage};
use crate::cache::WatchCache;
use crate::error::{ApiError, Result};
use crate::request::Query;

pub const GROUP: &str = "metrics.k8s.io";
pub const VERSION: &str = "v1beta1";

/// CPU as metrics-server writes it: nanocores.
fn cpu_quantity(nanocores: u64) -> String {
    format!("{nanocores}n")
}

/// Memory as a binary-SI quantity (`Ki` when whole kibibytes).
fn memory_quantity(bytes: u64) -> String {
    if bytes > 0 && bytes.is_multiple_of(1024) {
        format!("{}Ki", bytes / 1024)
    } else {
        bytes.to_string()
    }
}

/// A window as Go prints a `time.Duration` (`15s`, `15.02s`).
fn window(ms: i64) -> String {
    if ms % 1000 == 0 {
        return format!("{}s", ms / 1000);
    }
    let text = format!("{}.{:03}", ms / 1000, ms % 1000);
    format!("{}s", text.trim_end_matches('0'))
}

fn timestamp(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn usage(u: &Usage) -> Value {
    json!({"cpu": cpu_quantity(u.cpu_nanocores), "memory": memory_quantity(u.memory_bytes)})
}

fn labels_of(obj: &Value) -> Value {
    obj.pointer("/metadata/labels")
        .cloned()
        .unwrap_or_else(|| Value::Object(Map::new()))
}

fn node_metrics(name: &str, node: &Value, u: &Usage) -> Value {
    json!({
        "kind": "NodeMetrics",
        "apiVersion": "metrics.k8s.io/v1beta1",
        "metadata": {"name": name, "creationTimestamp": now(), "labels": labels_of(node)},
        "timestamp": timestamp(u.timestamp_ms),
        "window": window(u.window_ms),
        "usage": usage(u),
    })
}

fn pod_metrics(namespace: &str, name: &str, pod: &Value, u: &PodUsage) -> Value {
    let containers: Vec<Value> = u
        .containers
        .iter()
        .map(|(c, cu)| json!({"name": c, "usage": usage(cu)}))
        .collect();
    json!({
        "kind": "PodMetrics",
        "apiVersion": "metrics.k8s.io/v1beta1",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "creationTimestamp": now(),
            "labels": labels_of(pod),
        },
        "timestamp": timestamp(u.timestamp_ms),
        "window": window(u.window_ms),
        "containers": containers,
    })
}

fn list(kind: &str, items: Vec<Value>) -> Value {
    json!({
        "kind": kind,
        "apiVersion": "metrics.k8s.io/v1beta1",
        "metadata": {},
        "items": items,
    })
}

struct Selectors {
    labels: Selector,
    fields: FieldSelector,
}

impl Selectors {
    fn from_query(query: &Query) -> Result<Self> {
        let labels = match query.get("labelSelector") {
            None | Some("") => Selector::everything(),
            Some(s) => s
                .parse()
                .map_err(|e| ApiError::bad_request(format!("unable to parse requirement: {e}")))?,
        };
        let fields: FieldSelector = match query.get("fieldSelector") {
            None | Some("") => FieldSelector::everything(),
            Some(s) => s
                .parse()
                .map_err(|e| ApiError::bad_request(format!("invalid field selector: {e}")))?,
        };
        for r in fields.requirements() {
            if !matches!(r.field.as_str(), "metadata.name" | "metadata.namespace") {
                return Err(ApiError::bad_request(format!(
                    "field label not supported: {}",
                    r.field
                )));
            }
        }
        Ok(Selectors { labels, fields })
    }

    fn matches(&self, namespace: Option<&str>, name: &str, obj: &Value) -> bool {
        self.labels.matches_object(obj)
            && self.fields.matches(|f| match f {
                "metadata.name" => Some(name.to_string()),
                "metadata.namespace" => namespace.map(str::to_string),
                _ => None,
            })
    }
}

fn core(plural: &str) -> Result<&'static ResourceDef> {
    registry::lookup("", "v1", plural)
        .ok_or_else(|| ApiError::internal(format!("core/v1 {plural} is not registered")))
}

/// Answers a GET below `/apis/metrics.k8s.io/v1beta1/` (`rest` is the
/// path after it, split at `/`).
pub fn get(
    store: &MetricsStore,
    cache: &WatchCache,
    rest: &[&str],
    query: &Query,
) -> Result<Value> {
    if query.flag("watch") {
        return Err(ApiError::method_not_allowed(
            "the server does not allow this method on the requested resource (watch)",
        ));
    }
    let state = cache.read();
    match rest {
        ["nodes"] => {
            let sel = Selectors::from_query(query)?;
            let def = core("nodes")?;
            let items = state
                .range(def, None, None)
                .filter(|(name, node)| sel.matches(None, name, node))
                .filter_map(|(name, node)| Some(node_metrics(name, node, &store.node(name)?)))
                .collect();
            Ok(list("NodeMetricsList", items))
        }
        ["nodes", name] => {
            let def = core("nodes")?;
            let node = state.get(def, None, name);
            match (node, store.node(name)) {
                (Some(node), Some(u)) => Ok(node_metrics(name, &node, &u)),
                _ => Err(ApiError::not_found(GROUP, "nodemetrics", name)),
            }
        }
        ["pods"] => pods(store, &state, None, query),
        ["namespaces", ns, "pods"] => pods(store, &state, Some(ns), query),
        ["namespaces", ns, "pods", name] => {
            let def = core("pods")?;
            match (state.get(def, Some(ns), name), store.pod(ns, name)) {
                (Some(pod), Some(u)) => Ok(pod_metrics(ns, name, &pod, &u)),
                _ => Err(ApiError::not_found(GROUP, "podmetrics", name)),
            }
        }
        _ => Err(ApiError::path_not_found()),
    }
}

fn pods(
    store: &MetricsStore,
    state: &crate::cache::State,
    namespace: Option<&str>,
    query: &Query,
) -> Result<Value> {
    let sel = Selectors::from_query(query)?;
    let def = core("pods")?;
    let items = store
        .pods(namespace)
        .into_iter()
        .filter_map(|(ns, name, u)| {
            let pod = state.get(def, Some(&ns), &name)?;
            sel.matches(Some(&ns), &name, &pod)
                .then(|| pod_metrics(&ns, &name, &pod, &u))
        })
        .collect();
    Ok(list("PodMetricsList", items))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_and_windows_as_metrics_server_writes_them() {
        assert_eq!(cpu_quantity(1_234_567), "1234567n");
        assert_eq!(memory_quantity(4096), "4Ki");
        assert_eq!(memory_quantity(1000), "1000");
        assert_eq!(memory_quantity(0), "0");
        assert_eq!(window(15_000), "15s");
        assert_eq!(window(15_020), "15.02s");
        assert_eq!(window(1_005), "1.005s");
        assert_eq!(timestamp(1_700_000_000_999), "2023-11-14T22:13:20Z");
    }
}
