//! Per-kind preparation on create and update: what upstream's registry
//! strategies do beyond defaulting (initial status, QoS class, ClusterIP and
//! NodePort allocation), and admission plugins (`priority`, `tolerations`, `serviceaccount`).

pub mod priority;
pub mod serviceaccount;
pub mod tolerations;

use std::collections::HashSet;
use std::net::Ipv4Addr;

use bosun_api::registry::ResourceDef;
use serde_json::{json, Value};

use crate::cache::State;
use crate::error::{ApiError, Result};

/// The first address of the service range, kept for the `kubernetes` Service.
pub const KUBERNETES_SERVICE_IP: &str = "10.96.0.1";
const SERVICE_RANGE_BASE: u32 = u32::from_be_bytes([10, 96, 0, 0]);
const SERVICE_RANGE_SIZE: u32 = 1 << 20; // 10.96.0.0/12
const NODE_PORT_MIN: u16 = 30000;
const NODE_PORT_MAX: u16 = 32767;

/// Status an object starts with when created through the main resource.
pub fn initial_status(def: &ResourceDef, obj: &mut Value) {
    if !def.has_status() || def.kind == "Node" {
        return;
    }
    let status = match def.kind {
        "Pod" => json!({"phase": "Pending", "qosClass": qos_class(obj)}),
        "Namespace" => json!({"phase": "Active"}),
        "PersistentVolume" | "PersistentVolumeClaim" => json!({"phase": "Pending"}),
        "Service" => json!({"loadBalancer": {}}),
        _ => json!({}),
    };
    if let Some(map) = obj.as_object_mut() {
        map.insert("status".into(), status);
    }
}

/// The annotation apps/v1 shows a DaemonSet's `spec.templateGeneration` in.
pub const DAEMON_SET_TEMPLATE_GENERATION: &str = "deprecated.daemonset.template.generation";

/// Upstream's DaemonSet strategy keeps `spec.templateGeneration` (apps/v1
/// shows it as an annotation, which the DaemonSet controller copies into
/// each pod's `pod-template-generation` label): 1 on create unless the
/// client asked for more, then carried over on every update, one more
/// when the pod template changed.
pub fn daemon_set_template_generation(def: &ResourceDef, obj: &mut Value, current: Option<&Value>) {
    if def.group != "apps" || def.kind != "DaemonSet" {
        return;
    }
    let read = |o: &Value| {
        o["metadata"]["annotations"][DAEMON_SET_TEMPLATE_GENERATION]
            .as_str()
            .and_then(|v| v.parse::<i64>().ok())
    };
    let generation = match current {
        None => read(obj).filter(|g| *g >= 1).unwrap_or(1),
        Some(old) => {
            let before = read(old).unwrap_or(1);
            if obj["spec"]["template"] != old["spec"]["template"] {
                before + 1
            } else {
                before
            }
        }
    };
    let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    let annotations = meta.entry("annotations").or_insert_with(|| json!({}));
    if !annotations.is_object() {
        *annotations = json!({});
    }
    annotations[DAEMON_SET_TEMPLATE_GENERATION] = json!(generation.to_string());
}

/// Guaranteed, Burstable or BestEffort, as upstream computes it from the
/// containers' (and init containers') requests and limits.
pub fn qos_class(pod: &Value) -> &'static str {
    let spec = &pod["spec"];
    let containers = ["containers", "initContainers"]
        .iter()
        .flat_map(|f| spec[*f].as_array().cloned().unwrap_or_default())
        .collect::<Vec<_>>();
    let mut any = false;
    let mut guaranteed = !containers.is_empty();
    for c in &containers {
        let requests = c["resources"]["requests"].as_object();
        let limits = c["resources"]["limits"].as_object();
        let has = |m: Option<&serde_json::Map<String, Value>>, r: &str| {
            m.and_then(|m| m.get(r)).is_some()
        };
        for r in ["cpu", "memory"] {
            if has(requests, r) || has(limits, r) {
                any = true;
            }
            let req = requests.and_then(|m| m.get(r));
            let lim = limits.and_then(|m| m.get(r));
            match (req, lim) {
                (_, None) => guaranteed = false,
                (Some(q), Some(l)) if q != l => guaranteed = false,
                _ => {}
            }
        }
    }
    if !any {
        "BestEffort"
    } else if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

/// Allocates a ClusterIP and NodePorts for a new Service. `state` is the
/// cache, used to find addresses and ports already taken.
pub fn allocate_service(
    obj: &mut Value,
    services: &State,
    def: &'static ResourceDef,
) -> Result<()> {
    let spec_type = obj["spec"]["type"]
        .as_str()
        .unwrap_or("ClusterIP")
        .to_string();
    if spec_type == "ExternalName" {
        return Ok(());
    }
    let mut used_ips = HashSet::new();
    let mut used_ports = HashSet::new();
    for (_, svc) in services.range(def, None, None) {
        if let Some(ip) = svc["spec"]["clusterIP"].as_str() {
            used_ips.insert(ip.to_string());
        }
        for port in svc["spec"]["ports"].as_array().into_iter().flatten() {
            if let Some(p) = port["nodePort"].as_u64() {
                used_ports.insert(p);
            }
        }
    }
    let wants_ip = match obj["spec"]["clusterIP"].as_str() {
        None | Some("") => true,
        Some("None") => false,
        Some(ip) => {
            if used_ips.contains(ip) && obj["metadata"]["name"] != "kubernetes" {
                return Err(ApiError::new(
                    422,
                    "Invalid",
                    format!("Service \"{}\" is invalid: spec.clusterIPs: Invalid value: []string{{\"{ip}\"}}: failed to allocate IP {ip}: provided IP is already allocated", obj["metadata"]["name"].as_str().unwrap_or("")),
                ));
            }
            false
        }
    };
    if wants_ip {
        let mut ip = None;
        for _ in 0..1000 {
            let offset = rand::random_range(2..SERVICE_RANGE_SIZE - 1);
            let candidate = Ipv4Addr::from(SERVICE_RANGE_BASE + offset).to_string();
            if !used_ips.contains(&candidate) {
                ip = Some(candidate);
                break;
            }
        }
        let ip = ip.ok_or_else(|| ApiError::internal("no ClusterIP available"))?;
        obj["spec"]["clusterIP"] = json!(ip);
        obj["spec"]["clusterIPs"] = json!([ip]);
    } else if let Some(ip) = obj["spec"]["clusterIP"].as_str().map(str::to_string) {
        if obj["spec"]["clusterIPs"].is_null() {
            obj["spec"]["clusterIPs"] = json!([ip]);
        }
    }
    if spec_type == "NodePort" || spec_type == "LoadBalancer" {
        if let Some(ports) = obj["spec"]["ports"].as_array_mut() {
            for port in ports {
                if port["nodePort"].as_u64().is_some() {
                    continue;
                }
                let mut chosen = None;
                for _ in 0..10_000 {
                    let p = rand::random_range(NODE_PORT_MIN..=NODE_PORT_MAX) as u64;
                    if used_ports.insert(p) {
                        chosen = Some(p);
                        break;
                    }
                }
                let p = chosen.ok_or_else(|| ApiError::internal("no NodePort available"))?;
                port["nodePort"] = json!(p);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qos_follows_requests_and_limits() {
        let best = json!({"spec": {"containers": [{"name": "a"}]}});
        assert_eq!(qos_class(&best), "BestEffort");
        let guaranteed = json!({"spec": {"containers": [{"name": "a", "resources": {
            "limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1", "memory": "1Gi"}}}]}});
        assert_eq!(qos_class(&guaranteed), "Guaranteed");
        let burstable = json!({"spec": {"containers": [{"name": "a", "resources": {
            "requests": {"cpu": "100m"}}}]}});
        assert_eq!(qos_class(&burstable), "Burstable");
    }

    #[test]
    fn daemon_set_template_generation_follows_the_template() {
        let def = bosun_api::registry::by_kind("apps", "DaemonSet").expect("DaemonSet");
        let gen = |o: &Value| o["metadata"]["annotations"][DAEMON_SET_TEMPLATE_GENERATION].clone();
        let mut created = json!({"metadata": {"name": "d"}, "spec": {"template": {"spec": {"containers": [{"image": "a"}]}}}});
        daemon_set_template_generation(def, &mut created, None);
        assert_eq!(gen(&created), json!("1"));
        // A client may not change it on update; other spec changes keep it.
        let mut same = created.clone();
        same["metadata"]["annotations"][DAEMON_SET_TEMPLATE_GENERATION] = json!("7");
        same["spec"]["minReadySeconds"] = json!(5);
        daemon_set_template_generation(def, &mut same, Some(&created));
        assert_eq!(gen(&same), json!("1"));
        let mut changed = created.clone();
        changed["spec"]["template"]["spec"]["containers"][0]["image"] = json!("b");
        daemon_set_template_generation(def, &mut changed, Some(&created));
        assert_eq!(gen(&changed), json!("2"));
        let other = bosun_api::registry::by_kind("apps", "Deployment").expect("Deployment");
        let mut d = json!({"metadata": {"name": "d"}});
        daemon_set_template_generation(other, &mut d, None);
        assert!(d["metadata"].get("annotations").is_none());
    }
}
