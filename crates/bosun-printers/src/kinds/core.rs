//! Rows for core/v1 kinds other than Pod and Event.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{age, count, s};
use crate::json::{arr_at, bool_at, get, int_at, map_at, map_len, name, opt_str_at, str_at};
use crate::labels::format_labels;
use crate::quantity::canonical_value;

const ROLE_LABEL_PREFIX: &str = "node-role.kubernetes.io/";
const ROLE_LABEL: &str = "kubernetes.io/role";
const BETA_STORAGE_CLASS_ANNOTATION: &str = "volume.beta.kubernetes.io/storage-class";

fn or_placeholder(v: &str, placeholder: &str) -> String {
    if v.is_empty() {
        placeholder.to_string()
    } else {
        v.to_string()
    }
}

pub(super) fn node(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    // The last Ready condition wins, as when building a map by type.
    let ready = arr_at(obj, &["status", "conditions"])
        .iter()
        .rev()
        .find(|c| str_at(c, &["type"]) == "Ready");
    let mut status: Vec<&str> = vec![match ready {
        Some(c) if str_at(c, &["status"]) == "True" => "Ready",
        Some(_) => "NotReady",
        None => "Unknown",
    }];
    if bool_at(obj, &["spec", "unschedulable"]) {
        status.push("SchedulingDisabled");
    }
    let mut roles = BTreeSet::new();
    if let Some(labels) = map_at(obj, &["metadata", "labels"]) {
        for (k, v) in labels {
            if let Some(role) = k.strip_prefix(ROLE_LABEL_PREFIX) {
                if !role.is_empty() {
                    roles.insert(role.to_string());
                }
            } else if k == ROLE_LABEL {
                let v = v.as_str().unwrap_or_default();
                if !v.is_empty() {
                    roles.insert(v.to_string());
                }
            }
        }
    }
    let roles = roles.into_iter().collect::<Vec<_>>().join(",");
    let info =
        |field: &str| or_placeholder(str_at(obj, &["status", "nodeInfo", field]), "<unknown>");
    vec![
        s(name(obj)),
        s(status.join(",")),
        s(or_placeholder(&roles, "<none>")),
        s(age(obj, now)),
        s(str_at(obj, &["status", "nodeInfo", "kubeletVersion"])),
        s(node_address(obj, "InternalIP")),
        s(node_address(obj, "ExternalIP")),
        s(info("osImage")),
        s(info("kernelVersion")),
        s(info("containerRuntimeVersion")),
    ]
}

fn node_address(obj: &Value, type_: &str) -> String {
    arr_at(obj, &["status", "addresses"])
        .iter()
        .find(|a| str_at(a, &["type"]) == type_)
        .map_or_else(
            || "<none>".to_string(),
            |a| str_at(a, &["address"]).to_string(),
        )
}

pub(super) fn namespace(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    vec![
        s(name(obj)),
        s(str_at(obj, &["status", "phase"])),
        s(age(obj, now)),
    ]
}

fn service_type(obj: &Value) -> &str {
    match str_at(obj, &["spec", "type"]) {
        "" => "ClusterIP",
        t => t,
    }
}

/// Sorted, de-duplicated load-balancer ingress IPs (or hostnames).
fn load_balancer_addresses(obj: &Value) -> Vec<String> {
    let mut set = BTreeSet::new();
    for ing in arr_at(obj, &["status", "loadBalancer", "ingress"]) {
        let ip = str_at(ing, &["ip"]);
        let host = str_at(ing, &["hostname"]);
        if !ip.is_empty() {
            set.insert(ip.to_string());
        } else if !host.is_empty() {
            set.insert(host.to_string());
        }
    }
    set.into_iter().collect()
}

fn service_external_ip(obj: &Value) -> String {
    let external: Vec<&str> = arr_at(obj, &["spec", "externalIPs"])
        .iter()
        .filter_map(Value::as_str)
        .collect();
    match service_type(obj) {
        "ClusterIP" | "NodePort" => {
            if external.is_empty() {
                "<none>".to_string()
            } else {
                external.join(",")
            }
        }
        "LoadBalancer" => {
            let mut all = load_balancer_addresses(obj);
            if all.is_empty() && external.is_empty() {
                return "<pending>".to_string();
            }
            all.extend(external.iter().map(|e| e.to_string()));
            all.join(",")
        }
        "ExternalName" => str_at(obj, &["spec", "externalName"]).to_string(),
        _ => "<unknown>".to_string(),
    }
}

fn service_ports(obj: &Value) -> String {
    arr_at(obj, &["spec", "ports"])
        .iter()
        .map(|p| {
            let port = int_at(p, &["port"]);
            let node_port = int_at(p, &["nodePort"]);
            let proto = match str_at(p, &["protocol"]) {
                "" => "TCP",
                pr => pr,
            };
            if node_port > 0 {
                format!("{port}:{node_port}/{proto}")
            } else {
                format!("{port}/{proto}")
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

pub(super) fn service(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let mut cluster_ip = str_at(obj, &["spec", "clusterIP"]);
    if cluster_ip.is_empty() {
        cluster_ip = arr_at(obj, &["spec", "clusterIPs"])
            .first()
            .and_then(Value::as_str)
            .unwrap_or("");
    }
    vec![
        s(name(obj)),
        s(service_type(obj)),
        s(or_placeholder(cluster_ip, "<none>")),
        s(service_external_ip(obj)),
        s(or_placeholder(&service_ports(obj), "<none>")),
        s(age(obj, now)),
        s(format_labels(map_at(obj, &["spec", "selector"]))),
    ]
}

/// `host:port`, bracketing IPv6 hosts.
fn join_host_port(host: &str, port: i64) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Up to three ready addresses (with each port), then `+ N more...`.
pub(super) fn format_endpoints(obj: &Value) -> String {
    let subsets = arr_at(obj, &["subsets"]);
    if subsets.is_empty() {
        return "<none>".to_string();
    }
    const MAX: usize = 3;
    let mut list: Vec<String> = Vec::new();
    let mut more = false;
    let mut total = 0usize;
    for ss in subsets {
        let addrs = arr_at(ss, &["addresses"]);
        let ports = arr_at(ss, &["ports"]);
        if ports.is_empty() {
            // Headless services may have no ports.
            total += addrs.len();
            for a in addrs {
                if list.len() == MAX {
                    more = true;
                    break;
                }
                list.push(str_at(a, &["ip"]).to_string());
            }
            continue;
        }
        for p in ports {
            total += addrs.len();
            for a in addrs {
                if list.len() == MAX {
                    more = true;
                    break;
                }
                list.push(join_host_port(str_at(a, &["ip"]), int_at(p, &["port"])));
            }
        }
    }
    let joined = list.join(",");
    if more {
        format!("{joined} + {} more...", total - MAX)
    } else {
        joined
    }
}

pub(super) fn endpoints(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    vec![s(name(obj)), s(format_endpoints(obj)), s(age(obj, now))]
}

pub(super) fn config_map(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let entries = map_len(obj, &["data"]) + map_len(obj, &["binaryData"]);
    vec![s(name(obj)), count(entries), s(age(obj, now))]
}

pub(super) fn secret(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let type_ = match str_at(obj, &["type"]) {
        "" => "Opaque",
        t => t,
    };
    vec![
        s(name(obj)),
        s(type_),
        count(map_len(obj, &["data"])),
        s(age(obj, now)),
    ]
}

pub(super) fn service_account(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    vec![
        s(name(obj)),
        count(arr_at(obj, &["secrets"]).len()),
        s(age(obj, now)),
    ]
}

pub(super) fn resource_quota(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let mut request: Vec<String> = Vec::new();
    let mut limit: Vec<String> = Vec::new();
    if let Some(hard) = map_at(obj, &["status", "hard"]) {
        let mut names: Vec<&String> = hard.keys().collect();
        names.sort();
        for res in names {
            let used = canonical_value(get(obj, &["status", "used", res.as_str()]));
            let hard_q = canonical_value(hard.get(res.as_str()));
            let entry = format!("{res}: {used}/{hard_q}");
            let mut pieces = res.split('.');
            let is_limit = pieces.next() == Some("limits") && pieces.next().is_some();
            if is_limit {
                limit.push(entry);
            } else {
                request.push(entry);
            }
        }
    }
    vec![
        s(name(obj)),
        s(request.join(", ")),
        s(limit.join(", ")),
        s(age(obj, now)),
    ]
}

/// Access modes as `RWO,ROX,RWX,RWOP` (fixed order, duplicates dropped).
pub(super) fn access_modes(modes: &[Value]) -> String {
    let has = |m: &str| modes.iter().any(|v| v.as_str() == Some(m));
    [
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    ]
    .iter()
    .filter(|(m, _)| has(m))
    .map(|(_, short)| *short)
    .collect::<Vec<_>>()
    .join(",")
}

fn phase_or_terminating(obj: &Value) -> String {
    if get(obj, &["metadata", "deletionTimestamp"]).is_some() {
        "Terminating".to_string()
    } else {
        str_at(obj, &["status", "phase"]).to_string()
    }
}

fn storage_class(obj: &Value) -> String {
    let beta = map_at(obj, &["metadata", "annotations"])
        .and_then(|a| a.get(BETA_STORAGE_CLASS_ANNOTATION))
        .and_then(Value::as_str);
    beta.unwrap_or_else(|| str_at(obj, &["spec", "storageClassName"]))
        .to_string()
}

fn opt_or_unset(obj: &Value, path: &[&str]) -> String {
    opt_str_at(obj, path).unwrap_or("<unset>").to_string()
}

pub(super) fn pvc(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let volume = str_at(obj, &["spec", "volumeName"]);
    let (capacity, modes) = if volume.is_empty() {
        (String::new(), String::new())
    } else {
        (
            canonical_value(get(obj, &["status", "capacity", "storage"])),
            access_modes(arr_at(obj, &["status", "accessModes"])),
        )
    };
    vec![
        s(name(obj)),
        s(phase_or_terminating(obj)),
        s(volume),
        s(capacity),
        s(modes),
        s(storage_class(obj)),
        s(opt_or_unset(obj, &["spec", "volumeAttributesClassName"])),
        s(age(obj, now)),
        s(opt_or_unset(obj, &["spec", "volumeMode"])),
    ]
}

pub(super) fn pv(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let claim = match get(obj, &["spec", "claimRef"]) {
        Some(r) if r.is_object() => {
            format!("{}/{}", str_at(r, &["namespace"]), str_at(r, &["name"]))
        }
        _ => String::new(),
    };
    vec![
        s(name(obj)),
        s(canonical_value(get(obj, &["spec", "capacity", "storage"]))),
        s(access_modes(arr_at(obj, &["spec", "accessModes"]))),
        s(str_at(obj, &["spec", "persistentVolumeReclaimPolicy"])),
        s(phase_or_terminating(obj)),
        s(claim),
        s(storage_class(obj)),
        s(opt_or_unset(obj, &["spec", "volumeAttributesClassName"])),
        s(str_at(obj, &["status", "reason"])),
        s(age(obj, now)),
        s(opt_or_unset(obj, &["spec", "volumeMode"])),
    ]
}
