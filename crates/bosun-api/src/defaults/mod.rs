//! Defaulting as the upstream API server applies it at create and update
//! (`SetDefaults_*` in `pkg/apis/*/v1/defaults.go`, the generated
//! declarative defaults, and the few fields the create strategies always
//! fill), on objects in their external JSON form.
//!
//! Also canonicalises resource quantities (`0.5` → `500m`, rounded up to
//! milli units in resource lists) and adds the zero-valued fields Go's JSON
//! encoding always prints (`resources: {}`, template
//! `metadata.creationTimestamp: null`, zero status counters) so responses
//! look like upstream's.

mod core;
mod helpers;
mod others;
mod pod;
mod workloads;

#[cfg(test)]
mod tests;

pub use pod::pod_qos_class;
pub use workloads::generate_job_selector;

use serde_json::Value;

/// Apply upstream's defaults for `group`/`kind` to `obj` in place. Unknown
/// kinds and non-object values are left untouched.
pub fn apply_defaults(group: &str, kind: &str, obj: &mut Value) {
    if !obj.is_object() {
        return;
    }
    let group = if group == "core" { "" } else { group };
    match (group, kind) {
        ("", "Pod") => pod::default_pod(obj),
        ("", "Service") => core::default_service(obj),
        ("", "Namespace") => core::default_namespace(obj),
        ("", "PersistentVolumeClaim") => core::default_pvc(obj),
        ("", "PersistentVolume") => core::default_pv(obj),
        ("", "Secret") => core::default_secret(obj),
        ("", "Node") => core::default_node(obj),
        ("", "Endpoints") => core::default_endpoints(obj),
        ("", "LimitRange") => core::default_limit_range(obj),
        ("", "ResourceQuota") => core::default_resource_quota(obj),
        ("apps", "Deployment") => workloads::default_deployment(obj),
        ("apps", "ReplicaSet") => workloads::default_replica_set(obj),
        ("apps", "StatefulSet") => workloads::default_stateful_set(obj),
        ("apps", "DaemonSet") => workloads::default_daemon_set(obj),
        ("batch", "Job") => workloads::default_job(obj),
        ("batch", "CronJob") => workloads::default_cron_job(obj),
        ("discovery.k8s.io", "EndpointSlice") => others::default_endpoint_slice(obj),
        ("scheduling.k8s.io", "PriorityClass") => others::default_priority_class(obj),
        ("policy", "PodDisruptionBudget") => others::default_pdb(obj),
        _ => {}
    }
}
