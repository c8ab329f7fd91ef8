//! Per-kind row printers and the (group, kind) → printer lookup.

mod apps;
mod batch;
mod core;
mod event;
mod misc;
mod pod;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::duration::since;
use crate::json::{arr_at, str_at, time_at};

/// Kinds that have a dedicated printer upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Printer {
    Pod,
    Node,
    Namespace,
    Service,
    Endpoints,
    ConfigMap,
    Secret,
    ServiceAccount,
    Event,
    EventsV1Event,
    ResourceQuota,
    PersistentVolumeClaim,
    PersistentVolume,
    Deployment,
    ReplicaSet,
    StatefulSet,
    DaemonSet,
    ControllerRevision,
    Job,
    CronJob,
    Lease,
    EndpointSlice,
    PriorityClass,
    PodDisruptionBudget,
}

/// Finds the printer for a served (group, kind). `None` means the generic
/// Name / Created At table applies (e.g. LimitRange, which has no printer).
pub(crate) fn lookup(group: &str, kind: &str) -> Option<Printer> {
    let group = if group == "core" { "" } else { group };
    let p = match (group, kind) {
        ("", "Pod") => Printer::Pod,
        ("", "Node") => Printer::Node,
        ("", "Namespace") => Printer::Namespace,
        ("", "Service") => Printer::Service,
        ("", "Endpoints") => Printer::Endpoints,
        ("", "ConfigMap") => Printer::ConfigMap,
        ("", "Secret") => Printer::Secret,
        ("", "ServiceAccount") => Printer::ServiceAccount,
        ("", "Event") => Printer::Event,
        ("events.k8s.io", "Event") => Printer::EventsV1Event,
        ("", "ResourceQuota") => Printer::ResourceQuota,
        ("", "PersistentVolumeClaim") => Printer::PersistentVolumeClaim,
        ("", "PersistentVolume") => Printer::PersistentVolume,
        ("apps", "Deployment") => Printer::Deployment,
        ("apps", "ReplicaSet") => Printer::ReplicaSet,
        ("apps", "StatefulSet") => Printer::StatefulSet,
        ("apps", "DaemonSet") => Printer::DaemonSet,
        ("apps", "ControllerRevision") => Printer::ControllerRevision,
        ("batch", "Job") => Printer::Job,
        ("batch", "CronJob") => Printer::CronJob,
        ("coordination.k8s.io", "Lease") => Printer::Lease,
        ("discovery.k8s.io", "EndpointSlice") => Printer::EndpointSlice,
        ("scheduling.k8s.io", "PriorityClass") => Printer::PriorityClass,
        ("policy", "PodDisruptionBudget") => Printer::PodDisruptionBudget,
        _ => return None,
    };
    Some(p)
}

/// Cells of one row (always the full, wide set of cells).
pub(crate) fn cells(p: Printer, obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    match p {
        Printer::Pod => pod::cells(obj, now),
        Printer::Node => core::node(obj, now),
        Printer::Namespace => core::namespace(obj, now),
        Printer::Service => core::service(obj, now),
        Printer::Endpoints => core::endpoints(obj, now),
        Printer::ConfigMap => core::config_map(obj, now),
        Printer::Secret => core::secret(obj, now),
        Printer::ServiceAccount => core::service_account(obj, now),
        Printer::Event => event::core_event(obj, now),
        Printer::EventsV1Event => event::events_v1_event(obj, now),
        Printer::ResourceQuota => core::resource_quota(obj, now),
        Printer::PersistentVolumeClaim => core::pvc(obj, now),
        Printer::PersistentVolume => core::pv(obj, now),
        Printer::Deployment => apps::deployment(obj, now),
        Printer::ReplicaSet => apps::replica_set(obj, now),
        Printer::StatefulSet => apps::stateful_set(obj, now),
        Printer::DaemonSet => apps::daemon_set(obj, now),
        Printer::ControllerRevision => apps::controller_revision(obj, now),
        Printer::Job => batch::job(obj, now),
        Printer::CronJob => batch::cron_job(obj, now),
        Printer::Lease => misc::lease(obj, now),
        Printer::EndpointSlice => misc::endpoint_slice(obj, now),
        Printer::PriorityClass => misc::priority_class(obj, now),
        Printer::PodDisruptionBudget => misc::pod_disruption_budget(obj, now),
    }
}

/// Row conditions (only pods in a terminal phase carry one upstream).
pub(crate) fn conditions(p: Printer, obj: &Value) -> Option<Value> {
    match p {
        Printer::Pod => pod::row_conditions(obj),
        _ => None,
    }
}

/// Age column value: time since `metadata.creationTimestamp`.
pub(crate) fn age(obj: &Value, now: DateTime<Utc>) -> String {
    since(time_at(obj, &["metadata", "creationTimestamp"]), now)
}

/// Comma-joined container names and images of a pod spec at `spec_path`.
pub(crate) fn container_cells(obj: &Value, spec_path: &[&str]) -> (String, String) {
    let mut path: Vec<&str> = spec_path.to_vec();
    path.push("containers");
    let containers = arr_at(obj, &path);
    let names: Vec<&str> = containers.iter().map(|c| str_at(c, &["name"])).collect();
    let images: Vec<&str> = containers.iter().map(|c| str_at(c, &["image"])).collect();
    (names.join(","), images.join(","))
}

/// Shorthand for a string cell.
pub(crate) fn s(v: impl Into<String>) -> Value {
    Value::String(v.into())
}

/// Shorthand for an integer cell.
pub(crate) fn n(v: impl Into<i64>) -> Value {
    Value::from(v.into())
}

/// Integer cell from a count.
pub(crate) fn count(v: usize) -> Value {
    Value::from(u64::try_from(v).unwrap_or(u64::MAX))
}
