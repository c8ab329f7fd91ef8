//! The Node and Lease objects of a simulated node, as JSON: what a kubelet
//! registers (labels, taints, podCIDR, capacity, conditions, addresses,
//! nodeInfo) and its heartbeat Lease.

use std::net::Ipv4Addr;

use serde_json::{json, Value};

use crate::config::SimConfig;

/// Namespace that holds node heartbeat Leases.
pub const LEASE_NAMESPACE: &str = "kube-node-lease";
pub const KUBELET_VERSION: &str = "v1.32.5";
pub const RUNTIME_VERSION: &str = "bosun-sim://0.1";
/// Simulated nodes serve no kubelet API (no logs, exec or metrics): port 0
/// tells the API server's proxies and the metrics scraper not to dial
/// their made-up addresses.
const KUBELET_PORT: u16 = 0;

/// The fixed facts of simulated node `index`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeIdentity {
    pub index: usize,
    pub name: String,
    /// Fake InternalIP in 172.16.0.0/12.
    pub internal_ip: Ipv4Addr,
    /// Network address of the node's /24 pod range.
    pub pod_net: Ipv4Addr,
}

impl NodeIdentity {
    pub fn new(prefix: &str, index: usize) -> Self {
        NodeIdentity {
            index,
            name: format!("{prefix}{index}"),
            internal_ip: internal_ip(index),
            pod_net: pod_net(index),
        }
    }

    /// `10.(i>>8).(i&255).0/24`.
    pub fn pod_cidr(&self) -> String {
        format!("{}/24", self.pod_net)
    }
}

/// `10.(i>>8).(i&255).0` (i below 65536, see `config::MAX_NODES`).
pub fn pod_net(index: usize) -> Ipv4Addr {
    let [_, _, hi, lo] = (index as u32).to_be_bytes();
    Ipv4Addr::new(10, hi, lo, 0)
}

/// `172.16.0.1` for node 0, counting up through 172.16.0.0/12.
pub fn internal_ip(index: usize) -> Ipv4Addr {
    let base = u32::from(Ipv4Addr::new(172, 16, 0, 0));
    Ipv4Addr::from(base + ((index as u32 + 1) & 0x000f_ffff))
}

/// Parses `10.1.2.0/24` into its network address, for nodes adopted with
/// a podCIDR of their own. Only /24 ranges are used for pod addresses.
pub fn parse_pod_cidr(cidr: &str) -> Option<Ipv4Addr> {
    let (ip, len) = cidr.split_once('/')?;
    if len != "24" {
        return None;
    }
    let ip: Ipv4Addr = ip.parse().ok()?;
    let [a, b, c, _] = ip.octets();
    Some(Ipv4Addr::new(a, b, c, 0))
}

/// RFC 3339 with seconds (metav1.Time).
pub fn time_string(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// RFC 3339 with microseconds (metav1.MicroTime).
pub fn micro_time_string(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// A stable pseudo-random 128-bit value from a string (FNV-1a, twice).
fn fingerprint(s: &str) -> u128 {
    let fnv = |seed: u64| {
        s.bytes().fold(seed, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    };
    (u128::from(fnv(0xcbf2_9ce4_8422_2325)) << 64) | u128::from(fnv(0x8422_2325_cbf2_9ce4))
}

fn uuid_like(v: u128) -> String {
    let h = format!("{v:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Labels of a simulated node.
pub fn node_labels(cfg: &SimConfig, id: &NodeIdentity) -> serde_json::Map<String, Value> {
    let mut labels = serde_json::Map::new();
    for (k, v) in &cfg.labels {
        labels.insert(k.clone(), json!(v));
    }
    labels.insert("kubernetes.io/hostname".into(), json!(id.name));
    labels.insert("kubernetes.io/os".into(), json!("linux"));
    labels.insert("kubernetes.io/arch".into(), json!("amd64"));
    labels.insert("type".into(), json!("kwok"));
    if let Some(zones) = cfg.zones.filter(|z| *z > 0) {
        labels.insert(
            "topology.kubernetes.io/zone".into(),
            json!(format!("zone-{}", id.index % zones as usize)),
        );
    }
    labels
}

/// The node's conditions: healthy, with `heartbeat` as lastHeartbeatTime.
pub fn node_conditions(heartbeat: &str, transition: &str) -> Value {
    let cond = |ty: &str, status: &str, reason: &str, message: &str| {
        json!({
            "type": ty,
            "status": status,
            "lastHeartbeatTime": heartbeat,
            "lastTransitionTime": transition,
            "reason": reason,
            "message": message,
        })
    };
    json!([
        cond(
            "MemoryPressure",
            "False",
            "KubeletHasSufficientMemory",
            "kubelet has sufficient memory available"
        ),
        cond(
            "DiskPressure",
            "False",
            "KubeletHasNoDiskPressure",
            "kubelet has no disk pressure"
        ),
        cond(
            "PIDPressure",
            "False",
            "KubeletHasSufficientPID",
            "kubelet has sufficient PID available"
        ),
        cond(
            "Ready",
            "True",
            "KubeletReady",
            "kubelet is posting ready status"
        ),
    ])
}

/// The full node status a kubelet posts.
pub fn node_status(cfg: &SimConfig, id: &NodeIdentity, heartbeat: &str, transition: &str) -> Value {
    let capacity = cfg.capacity();
    let ids = fingerprint(&id.name);
    json!({
        "capacity": capacity,
        "allocatable": capacity,
        "conditions": node_conditions(heartbeat, transition),
        "addresses": [
            {"type": "InternalIP", "address": id.internal_ip.to_string()},
            {"type": "Hostname", "address": id.name},
        ],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": KUBELET_PORT}},
        "nodeInfo": {
            "machineID": format!("{ids:032x}"),
            "systemUUID": uuid_like(ids.rotate_left(64)),
            "bootID": uuid_like(ids ^ 0x5a5a_5a5a),
            "kernelVersion": "6.1.0-bosun-sim",
            "osImage": "Bosun Simulated Node",
            "containerRuntimeVersion": RUNTIME_VERSION,
            "kubeletVersion": KUBELET_VERSION,
            "kubeProxyVersion": KUBELET_VERSION,
            "operatingSystem": "linux",
            "architecture": "amd64",
        },
    })
}

/// The Node object registered for `id`, status included.
pub fn node_object(cfg: &SimConfig, id: &NodeIdentity, now: &str) -> Value {
    let taints: Vec<Value> = cfg
        .taints
        .iter()
        .map(|t| {
            let mut v = json!({"key": t.key, "effect": t.effect});
            if let Some(value) = &t.value {
                v["value"] = json!(value);
            }
            v
        })
        .collect();
    let cidr = id.pod_cidr();
    let mut spec = json!({"podCIDR": cidr, "podCIDRs": [cidr]});
    if !taints.is_empty() {
        spec["taints"] = Value::Array(taints);
    }
    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": id.name,
            "labels": node_labels(cfg, id),
            "annotations": {"node.alpha.kubernetes.io/ttl": "0"},
        },
        "spec": spec,
        "status": node_status(cfg, id, now, now),
    })
}

/// The heartbeat Lease of node `name` (owned by the Node `uid`).
pub fn lease_object(name: &str, uid: &str, duration_seconds: i32, renew: &str) -> Value {
    json!({
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {
            "name": name,
            "namespace": LEASE_NAMESPACE,
            "ownerReferences": [{
                "apiVersion": "v1",
                "kind": "Node",
                "name": name,
                "uid": uid,
            }],
        },
        "spec": {
            "holderIdentity": name,
            "leaseDurationSeconds": duration_seconds,
            "renewTime": renew,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{parse_labels, parse_taints};

    #[test]
    fn addresses() {
        let id = NodeIdentity::new("sim-", 0);
        assert_eq!(id.name, "sim-0");
        assert_eq!(id.pod_cidr(), "10.0.0.0/24");
        assert_eq!(id.internal_ip, Ipv4Addr::new(172, 16, 0, 1));
        let id = NodeIdentity::new("sim-", 4999);
        assert_eq!(id.pod_cidr(), "10.19.135.0/24");
        assert_eq!(id.internal_ip, Ipv4Addr::new(172, 16, 19, 136));
        let id = NodeIdentity::new("sim-", 65535);
        assert_eq!(id.pod_cidr(), "10.255.255.0/24");
        assert_eq!(id.internal_ip, Ipv4Addr::new(172, 17, 0, 0));
        assert_eq!(
            parse_pod_cidr("10.1.2.0/24"),
            Some(Ipv4Addr::new(10, 1, 2, 0))
        );
        assert_eq!(parse_pod_cidr("10.1.0.0/16"), None);
        assert_eq!(parse_pod_cidr("nonsense"), None);
    }

    #[test]
    fn node_object_shape() {
        let cfg = SimConfig {
            nodes: 3,
            zones: Some(2),
            labels: parse_labels("team=a").expect("labels"),
            taints: parse_taints("dedicated=sim:NoSchedule").expect("taints"),
            extended_resources: [("nvidia.com/gpu".to_string(), "8".to_string())].into(),
            ..SimConfig::default()
        };
        let id = NodeIdentity::new(&cfg.name_prefix, 3);
        let node = node_object(&cfg, &id, "2025-01-01T00:00:00Z");
        let labels = &node["metadata"]["labels"];
        assert_eq!(labels["kubernetes.io/hostname"], "sim-node-3");
        assert_eq!(labels["topology.kubernetes.io/zone"], "zone-1");
        assert_eq!(labels["type"], "kwok");
        assert_eq!(labels["team"], "a");
        assert_eq!(
            node["metadata"]["annotations"]["node.alpha.kubernetes.io/ttl"],
            "0"
        );
        assert_eq!(node["spec"]["podCIDR"], "10.0.3.0/24");
        assert_eq!(
            node["spec"]["taints"],
            json!([{"key": "dedicated", "value": "sim", "effect": "NoSchedule"}])
        );
        let status = &node["status"];
        assert_eq!(status["capacity"]["cpu"], "32");
        assert_eq!(status["allocatable"]["nvidia.com/gpu"], "8");
        assert_eq!(status["capacity"]["ephemeral-storage"], "1Ti");
        let ready = status["conditions"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["type"] == "Ready"))
            .cloned()
            .unwrap_or_default();
        assert_eq!(ready["status"], "True");
        assert_eq!(ready["reason"], "KubeletReady");
        assert_eq!(status["addresses"][0]["address"], "172.16.0.4");
        assert_eq!(status["daemonEndpoints"]["kubeletEndpoint"]["Port"], 0);
        assert_eq!(status["nodeInfo"]["kubeletVersion"], "v1.32.5");
        // The JSON is a valid typed Node.
        let typed: k8s_openapi::api::core::v1::Node =
            serde_json::from_value(node).expect("typed node");
        assert_eq!(typed.metadata.name.as_deref(), Some("sim-node-3"));
    }

    #[test]
    fn no_zone_label_without_zones() {
        let cfg = SimConfig::default();
        let labels = node_labels(&cfg, &NodeIdentity::new("n", 1));
        assert!(!labels.contains_key("topology.kubernetes.io/zone"));
    }

    #[test]
    fn lease_shape() {
        let lease = lease_object("n0", "uid-1", 40, "2025-01-01T00:00:00.000000Z");
        assert_eq!(lease["metadata"]["namespace"], LEASE_NAMESPACE);
        assert_eq!(lease["metadata"]["ownerReferences"][0]["uid"], "uid-1");
        assert_eq!(lease["spec"]["holderIdentity"], "n0");
        let typed: k8s_openapi::api::coordination::v1::Lease =
            serde_json::from_value(lease).expect("typed lease");
        assert_eq!(typed.spec.and_then(|s| s.lease_duration_seconds), Some(40));
    }
}
