//! The agent's Node: registration (capacity, allocatable, addresses,
//! nodeInfo, labels, podCIDR), the Lease renewed every 10 s in
//! kube-node-lease, and the conditions (Ready follows the runtime).

pub mod machine;

use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::Client;
use serde_json::{json, Value};

use crate::config::AgentConfig;
use crate::cri::{runtime_condition, RuntimeService};
use crate::error::AgentError;
use machine::MachineInfo;

pub const LEASE_NAMESPACE: &str = "kube-node-lease";
/// The Kubernetes version the agent speaks (the API server's).
pub const KUBELET_VERSION: &str = "v1.32.5";

/// RFC 3339 with seconds (metav1.Time).
pub fn time_string(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// RFC 3339 with microseconds (metav1.MicroTime).
pub fn micro_time_string(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// Whether the node can run pods, and if not why (kubelet's Ready reasons).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    Ready,
    NotReady { reason: String, message: String },
}

impl Readiness {
    /// From the runtime's Status: both RuntimeReady and NetworkReady.
    pub fn from_runtime(status: Result<crate::cri::api::RuntimeStatus, String>) -> Self {
        let status = match status {
            Ok(s) => s,
            Err(e) => {
                return Readiness::NotReady {
                    reason: "KubeletNotReady".into(),
                    message: format!("container runtime is down: {e}"),
                }
            }
        };
        for ty in ["RuntimeReady", "NetworkReady"] {
            match runtime_condition(&status, ty) {
                Some(c) if c.status => {}
                Some(c) => {
                    return Readiness::NotReady {
                        reason: "KubeletNotReady".into(),
                        message: format!(
                            "container runtime {ty}=false reason:{} message:{}",
                            c.reason, c.message
                        ),
                    }
                }
                None => {
                    return Readiness::NotReady {
                        reason: "KubeletNotReady".into(),
                        message: format!("container runtime status lacks {ty}"),
                    }
                }
            }
        }
        Readiness::Ready
    }
}

fn quantity_bytes(b: u64) -> String {
    if b.is_multiple_of(1024) {
        format!("{}Ki", b / 1024)
    } else {
        b.to_string()
    }
}

/// Capacity and allocatable (capacity minus reservations).
pub fn resources(cfg: &AgentConfig, m: &MachineInfo) -> (Value, Value) {
    let capacity = json!({
        "cpu": m.cpus.to_string(),
        "memory": quantity_bytes(m.memory_bytes),
        "ephemeral-storage": quantity_bytes(m.ephemeral_storage_bytes),
        "pods": cfg.max_pods.to_string(),
    });
    let cpu_millis = (m.cpus * 1000).saturating_sub(cfg.reserved_cpu_millis);
    let allocatable = json!({
        "cpu": if cpu_millis.is_multiple_of(1000) { (cpu_millis / 1000).to_string() } else { format!("{cpu_millis}m") },
        "memory": quantity_bytes(m.memory_bytes.saturating_sub(cfg.reserved_memory_bytes)),
        "ephemeral-storage": quantity_bytes(m.ephemeral_storage_bytes),
        "pods": cfg.max_pods.to_string(),
    });
    (capacity, allocatable)
}

/// What the node reports in its conditions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeHealth {
    pub ready: Readiness,
    pub memory_pressure: bool,
    pub disk_pressure: bool,
}

impl NodeHealth {
    /// (type, status, reason, message) of each condition.
    fn states(&self) -> [(&'static str, bool, String, String); 4] {
        let (ready, reason, message) = match &self.ready {
            Readiness::Ready => (
                true,
                "KubeletReady".to_string(),
                "bosun agent is posting ready status".to_string(),
            ),
            Readiness::NotReady { reason, message } => (false, reason.clone(), message.clone()),
        };
        let pressure = |on: bool, yes: &str, no: &str, what: &str| {
            if on {
                (yes.to_string(), format!("kubelet has {what}"))
            } else {
                (
                    no.to_string(),
                    format!(
                        "kubelet has {}",
                        what.replace("insufficient", "sufficient")
                            .replace("disk pressure", "no disk pressure")
                    ),
                )
            }
        };
        let (mr, mm) = pressure(
            self.memory_pressure,
            "KubeletHasInsufficientMemory",
            "KubeletHasSufficientMemory",
            "insufficient memory available",
        );
        let (dr, dm) = pressure(
            self.disk_pressure,
            "KubeletHasDiskPressure",
            "KubeletHasNoDiskPressure",
            "disk pressure",
        );
        [
            ("MemoryPressure", self.memory_pressure, mr, mm),
            ("DiskPressure", self.disk_pressure, dr, dm),
            (
                "PIDPressure",
                false,
                "KubeletHasSufficientPID".into(),
                "kubelet has sufficient PID available".into(),
            ),
            ("Ready", ready, reason, message),
        ]
    }

    /// The conditions that differ between two healths.
    pub fn changed(&self, other: &NodeHealth) -> Vec<&'static str> {
        self.states()
            .iter()
            .zip(other.states().iter())
            .filter(|(a, b)| a.1 != b.1)
            .map(|(a, _)| a.0)
            .collect()
    }
}

/// The node's conditions; `since` holds each condition's
/// lastTransitionTime (missing: `now`).
pub fn conditions(health: &NodeHealth, now: &str, since: &HashMap<&'static str, String>) -> Value {
    let list: Vec<Value> = health
        .states()
        .into_iter()
        .map(|(ty, on, reason, message)| {
            json!({"type": ty, "status": if on { "True" } else { "False" }, "reason": reason, "message": message,
                   "lastHeartbeatTime": now, "lastTransitionTime": since.get(ty).map(String::as_str).unwrap_or(now)})
        })
        .collect();
    json!(list)
}

/// The node's status, without conditions.
pub fn node_status(cfg: &AgentConfig, m: &MachineInfo, runtime_version: &str) -> Value {
    let (capacity, allocatable) = resources(cfg, m);
    let mut addresses = vec![];
    if let Some(ip) = cfg.node_ip.or(m.internal_ip) {
        addresses.push(json!({"type": "InternalIP", "address": ip.to_string()}));
    }
    addresses.push(json!({"type": "Hostname", "address": m.hostname}));
    json!({
        "capacity": capacity,
        "allocatable": allocatable,
        "addresses": addresses,
        "daemonEndpoints": {"kubeletEndpoint": {"Port": cfg.port}},
        "nodeInfo": {
            "machineID": m.machine_id,
            "systemUUID": m.machine_id,
            "bootID": m.boot_id,
            "kernelVersion": m.kernel_version,
            "osImage": m.os_image,
            "containerRuntimeVersion": runtime_version,
            "kubeletVersion": KUBELET_VERSION,
            "kubeProxyVersion": "",
            "operatingSystem": "linux",
            "architecture": crate::oci::host_arch(),
        },
    })
}

/// The Node object to create.
pub fn node_object(cfg: &AgentConfig) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": cfg.node_name,
            "labels": {
                "kubernetes.io/hostname": cfg.node_name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": crate::oci::host_arch(),
                "beta.kubernetes.io/os": "linux",
                "beta.kubernetes.io/arch": crate::oci::host_arch(),
            },
        },
        "spec": {
            "podCIDR": cfg.pod_cidr.to_string(),
            "podCIDRs": [cfg.pod_cidr.to_string()],
        },
    })
}

fn is_status(e: &kube::Error, code: u16) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == code)
}

/// Registers (or adopts) the Node and writes its status; returns its uid.
pub async fn register(
    client: &Client,
    cfg: &AgentConfig,
    m: &MachineInfo,
    runtime_version: &str,
    health: &NodeHealth,
) -> Result<String, AgentError> {
    let nodes: Api<Node> = Api::all(client.clone());
    let body: Node =
        serde_json::from_value(node_object(cfg)).map_err(|source| AgentError::Build {
            what: "Node",
            source,
        })?;
    match nodes.create(&PostParams::default(), &body).await {
        Ok(_) => tracing::info!(node = %cfg.node_name, "node registered"),
        Err(e) if is_status(&e, 409) => {
            tracing::info!(node = %cfg.node_name, "node exists; taking it over");
        }
        Err(e) => return Err(AgentError::api("register node", e)),
    }
    let now = time_string(chrono::Utc::now());
    let mut status = node_status(cfg, m, runtime_version);
    status["conditions"] = conditions(health, &now, &HashMap::new());
    let node = nodes
        .patch_status(
            &cfg.node_name,
            &PatchParams::default(),
            &Patch::Merge(json!({ "status": status })),
        )
        .await
        .map_err(|e| AgentError::api("write node status", e))?;
    Ok(node.metadata.uid.unwrap_or_default())
}

fn lease_object(cfg: &AgentConfig, uid: &str) -> Value {
    json!({
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {
            "name": cfg.node_name,
            "namespace": LEASE_NAMESPACE,
            "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": cfg.node_name, "uid": uid}],
        },
        "spec": {
            "holderIdentity": cfg.node_name,
            "leaseDurationSeconds": cfg.lease_duration_seconds,
            "renewTime": micro_time_string(chrono::Utc::now()),
        },
    })
}

/// Renews (creating when missing) the node's Lease.
pub async fn renew_lease(client: &Client, cfg: &AgentConfig, uid: &str) -> Result<(), AgentError> {
    let leases: Api<Lease> = Api::namespaced(client.clone(), LEASE_NAMESPACE);
    let patch = json!({"spec": {
        "holderIdentity": cfg.node_name,
        "leaseDurationSeconds": cfg.lease_duration_seconds,
        "renewTime": micro_time_string(chrono::Utc::now()),
    }});
    match leases
        .patch(
            &cfg.node_name,
            &PatchParams::default(),
            &Patch::Merge(patch),
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if is_status(&e, 404) => {
            let lease: Lease =
                serde_json::from_value(lease_object(cfg, uid)).map_err(|source| {
                    AgentError::Build {
                        what: "Lease",
                        source,
                    }
                })?;
            leases
                .create(&PostParams::default(), &lease)
                .await
                .map(|_| ())
                .map_err(|e| AgentError::api("create lease", e))
        }
        Err(e) => Err(AgentError::api("renew lease", e)),
    }
}

/// The node's health now: the runtime's readiness and the machine's
/// pressure.
pub async fn health(runtime: &dyn RuntimeService, cfg: &AgentConfig) -> NodeHealth {
    let (memory_pressure, disk_pressure) = machine::pressure(&cfg.data_dir, &cfg.eviction_hard);
    NodeHealth {
        ready: Readiness::from_runtime(runtime.status().await.map_err(|e| e.to_string())),
        memory_pressure,
        disk_pressure,
    }
}

/// Keeps the Lease and the node's conditions fresh until dropped.
pub async fn heartbeat(
    client: Client,
    cfg: Arc<AgentConfig>,
    runtime: Arc<dyn RuntimeService>,
    uid: String,
    mut last: NodeHealth,
) {
    let nodes: Api<Node> = Api::all(client.clone());
    let mut since: HashMap<&'static str, String> = HashMap::new();
    let mut last_report = tokio::time::Instant::now();
    let mut lease_timer = tokio::time::interval(cfg.lease_interval);
    let mut status_timer = tokio::time::interval(cfg.status_interval);
    loop {
        tokio::select! {
            _ = lease_timer.tick() => {
                if let Err(e) = renew_lease(&client, &cfg, &uid).await {
                    tracing::warn!(error = %e, "lease renewal failed");
                }
            }
            _ = status_timer.tick() => {
                let now_health = health(&*runtime, &cfg).await;
                let changed = now_health.changed(&last);
                if changed.is_empty() && now_health == last && last_report.elapsed() < cfg.status_report_interval {
                    continue;
                }
                let now = time_string(chrono::Utc::now());
                if !changed.is_empty() {
                    tracing::info!(?changed, health = ?now_health, "node conditions changed");
                }
                let mut next_since = since.clone();
                for ty in &changed {
                    next_since.insert(ty, now.clone());
                }
                let patch = json!({"status": {"conditions": conditions(&now_health, &now, &next_since)}});
                match nodes.patch_status(&cfg.node_name, &PatchParams::default(), &Patch::Strategic(patch)).await {
                    Ok(_) => {
                        last = now_health;
                        since = next_since;
                        last_report = tokio::time::Instant::now();
                    }
                    Err(e) => tracing::warn!(error = %e, "node status update failed"),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cni::PodCidr;
    use crate::cri::api;

    fn cfg() -> AgentConfig {
        let mut c = AgentConfig::new(
            "n1".into(),
            "/tmp/x".into(),
            PodCidr::parse("10.244.0.0/24").unwrap(),
        );
        c.reserved_cpu_millis = 100;
        c.reserved_memory_bytes = 100 * 1024 * 1024;
        c
    }

    fn machine() -> MachineInfo {
        MachineInfo {
            cpus: 2,
            memory_bytes: 4 * 1024 * 1024 * 1024,
            ephemeral_storage_bytes: 10 * 1024 * 1024 * 1024,
            hostname: "h".into(),
            kernel_version: "6.1.0".into(),
            os_image: "Debian GNU/Linux 12 (bookworm)".into(),
            machine_id: "m".into(),
            boot_id: "b".into(),
            internal_ip: Some("192.0.2.5".parse().unwrap()),
        }
    }

    #[test]
    fn capacity_and_allocatable() {
        let (cap, alloc) = resources(&cfg(), &machine());
        assert_eq!(cap["cpu"], "2");
        assert_eq!(cap["memory"], "4194304Ki");
        assert_eq!(cap["pods"], "110");
        assert_eq!(alloc["cpu"], "1900m");
        assert_eq!(alloc["memory"], "4091904Ki");
    }

    #[test]
    fn node_object_is_a_valid_node() {
        let v = node_object(&cfg());
        let n: Node = serde_json::from_value(v).unwrap();
        assert_eq!(n.spec.unwrap().pod_cidr.as_deref(), Some("10.244.0.0/24"));
        let labels = n.metadata.labels.unwrap();
        assert_eq!(labels["kubernetes.io/hostname"], "n1");
        let mut status = node_status(&cfg(), &machine(), "containerd://1.6.20");
        status["conditions"] = conditions(
            &NodeHealth {
                ready: Readiness::Ready,
                memory_pressure: false,
                disk_pressure: false,
            },
            "2026-01-01T00:00:00Z",
            &HashMap::new(),
        );
        let s: k8s_openapi::api::core::v1::NodeStatus = serde_json::from_value(status).unwrap();
        let info = s.node_info.unwrap();
        assert_eq!(info.container_runtime_version, "containerd://1.6.20");
        assert_eq!(s.addresses.unwrap()[0].address, "192.0.2.5");
        assert_eq!(s.conditions.unwrap().len(), 4);
    }

    #[test]
    fn readiness_follows_the_runtime() {
        let cond = |ty: &str, ok: bool| api::RuntimeCondition {
            r#type: ty.into(),
            status: ok,
            reason: "NetworkPluginNotReady".into(),
            message: "cni config uninitialized".into(),
        };
        let ok = api::RuntimeStatus {
            conditions: vec![cond("RuntimeReady", true), cond("NetworkReady", true)],
        };
        assert_eq!(Readiness::from_runtime(Ok(ok)), Readiness::Ready);
        let no_net = api::RuntimeStatus {
            conditions: vec![cond("RuntimeReady", true), cond("NetworkReady", false)],
        };
        match Readiness::from_runtime(Ok(no_net)) {
            Readiness::NotReady { message, .. } => {
                assert!(message.contains("NetworkReady=false"), "{message}")
            }
            r => panic!("{r:?}"),
        }
        assert!(matches!(
            Readiness::from_runtime(Err("connection refused".into())),
            Readiness::NotReady { .. }
        ));
        let sick = NodeHealth {
            ready: Readiness::NotReady {
                reason: "KubeletNotReady".into(),
                message: "m".into(),
            },
            memory_pressure: true,
            disk_pressure: false,
        };
        let since = HashMap::from([("Ready", "2025-12-31T00:00:00Z".to_string())]);
        let v = conditions(&sick, "2026-01-01T00:00:00Z", &since);
        assert_eq!(v[0]["type"], "MemoryPressure");
        assert_eq!(v[0]["status"], "True");
        assert_eq!(v[0]["reason"], "KubeletHasInsufficientMemory");
        assert_eq!(v[1]["reason"], "KubeletHasNoDiskPressure");
        assert_eq!(v[1]["message"], "kubelet has no disk pressure");
        assert_eq!(v[3]["lastTransitionTime"], "2025-12-31T00:00:00Z");
        assert_eq!(v[0]["lastTransitionTime"], "2026-01-01T00:00:00Z");
        let well = NodeHealth {
            ready: Readiness::Ready,
            memory_pressure: false,
            disk_pressure: false,
        };
        assert_eq!(well.changed(&sick), ["MemoryPressure", "Ready"]);
        assert_eq!(v[3]["type"], "Ready");
        assert_eq!(v[3]["status"], "False");
    }
}
