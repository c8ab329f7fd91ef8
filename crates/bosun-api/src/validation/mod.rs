//! Validation of served kinds as upstream does it (`pkg/apis/*/validation`),
//! producing field errors in upstream's shape so a 422 `Status` with
//! `details.causes` can be built from them.
//!
//! Objects are expected to have been defaulted (see [`crate::defaults`])
//! before validation, as the upstream API server does.

mod access;
mod apps;
pub mod base64;
mod batch;
mod container;
mod core;
pub mod cron;
mod errors;
mod meta;
pub mod names;
mod others;
mod pod;
/// Quantities live in `bosun-core`, shared with the printers.
pub use bosun_core::quantity;
mod service;
mod volume;

#[cfg(test)]
mod tests;

pub use errors::{
    go_quote, qualified_kind, render_value, status_message, FieldError, FieldErrorKind,
};
pub use meta::{selector_matches, NameRule};

use meta::{validate_immutable, validate_object_meta, validate_object_meta_update};
use serde_json::Value;

/// How a kind's metadata is checked.
#[derive(Debug, Clone, Copy)]
struct KindRules {
    namespaced: bool,
    name: NameRule,
}

fn rules(group: &str, kind: &str) -> Option<KindRules> {
    let ns = |name| {
        Some(KindRules {
            namespaced: true,
            name,
        })
    };
    let cluster = |name| {
        Some(KindRules {
            namespaced: false,
            name,
        })
    };
    match (normalize_group(group), kind) {
        ("", "Namespace") => cluster(NameRule::Label),
        ("", "Node") | ("", "PersistentVolume") => cluster(NameRule::Subdomain),
        ("", "Service") => ns(NameRule::Dns1035),
        (
            "",
            "Pod"
            | "Endpoints"
            | "ConfigMap"
            | "Secret"
            | "ServiceAccount"
            | "Event"
            | "ResourceQuota"
            | "LimitRange"
            | "PersistentVolumeClaim",
        ) => ns(NameRule::Subdomain),
        ("apps", "StatefulSet") => ns(NameRule::Label),
        ("apps", "Deployment" | "ReplicaSet" | "DaemonSet" | "ControllerRevision") => {
            ns(NameRule::Subdomain)
        }
        ("batch", "Job" | "CronJob") => ns(NameRule::Subdomain),
        ("coordination.k8s.io", "Lease") => ns(NameRule::Subdomain),
        ("discovery.k8s.io", "EndpointSlice") => ns(NameRule::Subdomain),
        ("scheduling.k8s.io", "PriorityClass") => cluster(NameRule::Subdomain),
        ("policy", "PodDisruptionBudget") => ns(NameRule::Subdomain),
        ("events.k8s.io", "Event") => ns(NameRule::Subdomain),
        _ => None,
    }
}

fn normalize_group(group: &str) -> &str {
    if group == "core" {
        ""
    } else {
        group
    }
}

/// Kind-specific (non-metadata) checks shared by create and update.
fn validate_body(group: &str, kind: &str, o: &Value, errs: &mut Vec<FieldError>) {
    match (normalize_group(group), kind) {
        ("", "Namespace") => core::validate_namespace(o, errs),
        ("", "Pod") => {
            static NULL: Value = Value::Null;
            pod::validate_pod_spec(o.get("spec").unwrap_or(&NULL), "spec", errs);
        }
        ("", "Node") => core::validate_node(o, errs),
        ("", "Service") => service::validate_service_spec(o, errs),
        ("", "Endpoints") => core::validate_endpoints(o, errs),
        ("", "ConfigMap") => core::validate_config_map(o, errs),
        ("", "Secret") => core::validate_secret(o, errs),
        ("", "Event") => core::validate_core_event(o, errs),
        ("", "ResourceQuota") => core::validate_resource_quota(o, errs),
        ("", "LimitRange") => core::validate_limit_range(o, errs),
        ("", "PersistentVolumeClaim") => {
            static NULL: Value = Value::Null;
            core::validate_pvc_spec(o.get("spec").unwrap_or(&NULL), "spec", errs);
        }
        ("", "PersistentVolume") => core::validate_pv(o, errs),
        ("apps", "Deployment") => apps::validate_deployment(o, errs),
        ("apps", "ReplicaSet") => apps::validate_replica_set(o, errs),
        ("apps", "StatefulSet") => apps::validate_stateful_set(o, errs),
        ("apps", "DaemonSet") => apps::validate_daemon_set(o, errs),
        ("apps", "ControllerRevision") => apps::validate_controller_revision(o, errs),
        ("batch", "Job") => batch::validate_job(o, errs),
        ("batch", "CronJob") => batch::validate_cron_job(o, errs),
        ("coordination.k8s.io", "Lease") => others::validate_lease(o, errs),
        ("discovery.k8s.io", "EndpointSlice") => others::validate_endpoint_slice(o, errs),
        ("scheduling.k8s.io", "PriorityClass") => others::validate_priority_class(o, errs),
        ("policy", "PodDisruptionBudget") => others::validate_pdb(o, errs),
        ("events.k8s.io", "Event") => others::validate_events_event(o, errs),
        _ => {}
    }
}

/// Validate an object being created. Unknown kinds get metadata checks for
/// a namespaced, subdomain-named object only when they carry a namespace.
pub fn validate_create(group: &str, kind: &str, obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let r = rules(group, kind).unwrap_or(KindRules {
        namespaced: obj
            .get("metadata")
            .and_then(|m| m.get("namespace"))
            .and_then(Value::as_str)
            .is_some_and(|n| !n.is_empty()),
        name: NameRule::Subdomain,
    });
    validate_object_meta(obj, r.namespaced, r.name, &mut errs);
    validate_body(group, kind, obj, &mut errs);
    errs
}

/// Validate an update of `old` to `new`: metadata identity, the new body,
/// and the kind's immutable fields.
pub fn validate_update(group: &str, kind: &str, new: &Value, old: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    validate_object_meta_update(new, old, &mut errs);
    validate_body(group, kind, new, &mut errs);
    match (normalize_group(group), kind) {
        ("", "Pod") => pod::validate_pod_spec_update(new, old, &mut errs),
        ("", "Service") => service::validate_service_update(new, old, &mut errs),
        ("", "ConfigMap") => {
            core::validate_immutable_payload(new, old, &["data", "binaryData"], &mut errs)
        }
        ("", "Secret") => core::validate_secret_update(new, old, &mut errs),
        ("", "PersistentVolumeClaim") => core::validate_pvc_update(new, old, &mut errs),
        ("apps", k) => apps::validate_apps_update(k, new, old, &mut errs),
        ("batch", "Job") => batch::validate_job_update(new, old, &mut errs),
        ("discovery.k8s.io", "EndpointSlice") => validate_immutable(
            new.get("addressType"),
            old.get("addressType"),
            "addressType",
            &mut errs,
        ),
        ("scheduling.k8s.io", "PriorityClass") => {
            others::validate_priority_class_update(new, old, &mut errs)
        }
        _ => {}
    }
    errs
}
