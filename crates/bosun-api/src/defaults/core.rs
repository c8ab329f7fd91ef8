//! Defaults of core/v1 kinds other than Pod.

use super::helpers::{
    canonical_resource_list, child_obj, default_ptr, default_status, default_str, each_obj,
    ensure_obj, str_at,
};
use crate::validation::base64;
use serde_json::{json, Value};

/// Service: type, session affinity, ports, traffic policies, IP families.
/// ClusterIP/NodePort allocation is the server's job and not done here.
pub fn default_service(svc: &mut Value) {
    if let Some(spec) = ensure_obj(svc, "spec") {
        default_str(spec, "sessionAffinity", "None");
        match str_at(spec, "sessionAffinity") {
            "None" => {
                if let Some(m) = spec.as_object_mut() {
                    m.remove("sessionAffinityConfig");
                }
            }
            "ClientIP" => {
                let has_timeout = spec
                    .get("sessionAffinityConfig")
                    .and_then(|c| c.get("clientIP"))
                    .and_then(|c| c.get("timeoutSeconds"))
                    .is_some_and(|t| !t.is_null());
                if !has_timeout {
                    if let Some(m) = spec.as_object_mut() {
                        m.insert(
                            "sessionAffinityConfig".into(),
                            json!({"clientIP": {"timeoutSeconds": 10800}}),
                        );
                    }
                }
            }
            _ => {}
        }
        default_str(spec, "type", "ClusterIP");
        for port in each_obj(spec, "ports") {
            default_str(port, "protocol", "TCP");
            let unset = match port.get("targetPort") {
                None | Some(Value::Null) => true,
                Some(Value::Number(n)) => n.as_i64() == Some(0),
                Some(Value::String(s)) => s.is_empty(),
                _ => false,
            };
            if unset {
                let p = port.get("port").cloned().unwrap_or(json!(0));
                if let Some(m) = port.as_object_mut() {
                    m.insert("targetPort".into(), p);
                }
            }
        }
        let ty = str_at(spec, "type").to_string();
        let external_ips = spec
            .get("externalIPs")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty());
        let externally_accessible =
            ty == "LoadBalancer" || ty == "NodePort" || (ty == "ClusterIP" && external_ips);
        if externally_accessible {
            default_str(spec, "externalTrafficPolicy", "Cluster");
        }
        if matches!(ty.as_str(), "NodePort" | "LoadBalancer" | "ClusterIP") {
            default_ptr(spec, "internalTrafficPolicy", json!("Cluster"));
        }
        if ty == "LoadBalancer" {
            default_ptr(spec, "allocateLoadBalancerNodePorts", json!(true));
        }
        if ty != "ExternalName" {
            let cip = str_at(spec, "clusterIP").to_string();
            if !cip.is_empty() {
                default_ptr(spec, "clusterIPs", json!([cip]));
            }
            let headless_selectorless = cip == "None"
                && spec
                    .get("selector")
                    .and_then(Value::as_object)
                    .is_none_or(|m| m.is_empty());
            let family = if cip.contains(':') { "IPv6" } else { "IPv4" };
            if headless_selectorless {
                default_ptr(spec, "ipFamilyPolicy", json!("RequireDualStack"));
                default_ptr(spec, "ipFamilies", json!(["IPv4"]));
            } else {
                default_ptr(spec, "ipFamilyPolicy", json!("SingleStack"));
                default_ptr(spec, "ipFamilies", json!([family]));
            }
        }
    }
    if let Some(status) = ensure_obj(svc, "status") {
        default_ptr(status, "loadBalancer", json!({}));
        if str_at(svc.get("spec").unwrap_or(&Value::Null), "type") == "LoadBalancer" {
            if let Some(ing) = svc
                .get_mut("status")
                .and_then(|s| s.get_mut("loadBalancer"))
                .and_then(|l| l.get_mut("ingress"))
                .and_then(Value::as_array_mut)
            {
                for i in ing.iter_mut() {
                    if !str_at(i, "ip").is_empty() {
                        default_ptr(i, "ipMode", json!("VIP"));
                    }
                }
            }
        }
    }
}

/// Namespace: name label, the `kubernetes` finalizer, phase Active.
pub fn default_namespace(ns: &mut Value) {
    let name = ns
        .get("metadata")
        .map(|m| str_at(m, "name").to_string())
        .unwrap_or_default();
    if !name.is_empty() {
        if let Some(labels) = ensure_obj(ns, "metadata").and_then(|m| ensure_obj(m, "labels")) {
            if let Some(m) = labels.as_object_mut() {
                m.insert("kubernetes.io/metadata.name".into(), json!(name));
            }
        }
    }
    if let Some(spec) = ensure_obj(ns, "spec") {
        default_ptr(spec, "finalizers", json!(["kubernetes"]));
    }
    if let Some(status) = ensure_obj(ns, "status") {
        default_str(status, "phase", "Active");
    }
}

/// A PVC spec (also used for templates): volumeMode Filesystem, canonical
/// resource quantities.
pub fn default_pvc_spec(spec: &mut Value) {
    default_ptr(spec, "volumeMode", json!("Filesystem"));
    if let Some(r) = child_obj(spec, "resources") {
        canonical_resource_list(r, "limits");
        canonical_resource_list(r, "requests");
    }
}

/// PersistentVolumeClaim: spec defaults and phase Pending.
pub fn default_pvc(pvc: &mut Value) {
    if let Some(spec) = ensure_obj(pvc, "spec") {
        default_pvc_spec(spec);
    }
    if let Some(status) = ensure_obj(pvc, "status") {
        default_str(status, "phase", "Pending");
        canonical_resource_list(status, "capacity");
        canonical_resource_list(status, "allocatedResources");
    }
}

/// PersistentVolume: reclaim policy Retain, volumeMode, phase Pending.
pub fn default_pv(pv: &mut Value) {
    if let Some(spec) = ensure_obj(pv, "spec") {
        default_str(spec, "persistentVolumeReclaimPolicy", "Retain");
        default_ptr(spec, "volumeMode", json!("Filesystem"));
        canonical_resource_list(spec, "capacity");
        if let Some(hp) = child_obj(spec, "hostPath") {
            default_ptr(hp, "type", json!(""));
        }
    }
    if let Some(status) = ensure_obj(pv, "status") {
        default_str(status, "phase", "Pending");
    }
}

/// Secret: type Opaque; `stringData` is merged into `data` (base64) and
/// dropped, as the v1 → internal conversion does.
pub fn default_secret(secret: &mut Value) {
    default_str(secret, "type", "Opaque");
    let string_data = secret.as_object_mut().and_then(|m| m.remove("stringData"));
    if let Some(Value::Object(sd)) = string_data {
        if sd.is_empty() {
            return;
        }
        if let Some(data) = ensure_obj(secret, "data").and_then(Value::as_object_mut) {
            for (k, v) in sd {
                let text = match v {
                    Value::String(s) => s,
                    Value::Null => String::new(),
                    other => other.to_string(),
                };
                data.insert(k, json!(base64::encode(text.as_bytes())));
            }
        }
    }
}

/// Node: allocatable defaults to capacity; canonical quantities.
pub fn default_node(node: &mut Value) {
    if let Some(status) = child_obj(node, "status") {
        let cap = status.get("capacity").filter(|c| c.is_object()).cloned();
        if let Some(cap) = cap {
            default_ptr(status, "allocatable", cap);
        }
        canonical_resource_list(status, "capacity");
        canonical_resource_list(status, "allocatable");
    }
}

/// Endpoints: port protocol TCP.
pub fn default_endpoints(ep: &mut Value) {
    for subset in each_obj(ep, "subsets") {
        for port in each_obj(subset, "ports") {
            default_str(port, "protocol", "TCP");
        }
    }
}

/// LimitRange: container items get default limit/request from max/min.
pub fn default_limit_range(lr: &mut Value) {
    let Some(spec) = child_obj(lr, "spec") else {
        return;
    };
    for item in each_obj(spec, "limits") {
        for f in [
            "max",
            "min",
            "default",
            "defaultRequest",
            "maxLimitRequestRatio",
        ] {
            canonical_resource_list(item, f);
        }
        if str_at(item, "type") != "Container" {
            continue;
        }
        let max = item
            .get("max")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let min = item
            .get("min")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        if let Some(def) = ensure_obj(item, "default").and_then(Value::as_object_mut) {
            for (k, v) in &max {
                def.entry(k.clone()).or_insert(v.clone());
            }
        }
        let def = item
            .get("default")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        if let Some(req) = ensure_obj(item, "defaultRequest").and_then(Value::as_object_mut) {
            for (k, v) in def.iter().chain(min.iter()) {
                req.entry(k.clone()).or_insert(v.clone());
            }
        }
    }
}

/// ResourceQuota: canonical quantities and an empty status.
pub fn default_resource_quota(rq: &mut Value) {
    if let Some(spec) = child_obj(rq, "spec") {
        canonical_resource_list(spec, "hard");
    }
    if let Some(status) = child_obj(rq, "status") {
        canonical_resource_list(status, "hard");
        canonical_resource_list(status, "used");
    }
    default_status(rq, json!({}));
}
