//! The agent's Node: registration (capacity, allocatable, addresses,
//! nodeInfo, labels, podCIDR), the Lease renewed every 10 s in
//! kube-node-lease, and the conditions (Ready follows the runtime).

pub mod machine;

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

/// The node's conditions; `since` is the lastTransitionTime of Ready.
pub fn conditions(ready: &Readiness, now: &str, since: &str) -> Value {
    let pressure = |ty: &str, reason: &str, message: &str| {
        json!({"type": ty, "status": "False", "reason": reason, "message": message,
               "lastHeartbeatTime": now, "lastTransitionTime": since})
    };
    let ready = match ready {
        Readiness::Ready => json!({"type": "Ready", "status": "True", "reason": "KubeletReady",
            "message": "bosun agent is posting ready status", "lastHeartbeatTime": now, "lastTransitionTime": since}),
        Readiness::NotReady { reason, message } => json!({"type": "Ready", "status": "False",
            "reason": reason, "message": message, "lastHeartbeatTime": now, "lastTransitionTime": since}),
    };
    json!([
        pressure(
            "MemoryPressure",
            "KubeletHasSufficientMemory",
            "kubelet has sufficient memory available"
        ),
        pressure(
            "DiskPressure",
            "KubeletHasNoDiskPressure",
            "kubelet has no disk pressure"
        ),
        pressure(
            "PIDPressure",
            "KubeletHasSufficientPID",
            "kubelet has sufficient PID available"
        ),
        ready,
    ])
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
    ready: &Readiness,
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
    status["conditions"] = conditions(ready, &now, &now);
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

/// Keeps the Lease and the node's conditions fresh until dropped.
pub async fn heartbeat(
    client: Client,
    cfg: Arc<AgentConfig>,
    runtime: Arc<dyn RuntimeService>,
    uid: String,
    mut ready: Readiness,
) {
    let nodes: Api<Node> = Api::all(client.clone());
    let mut since = time_string(chrono::Utc::now());
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
                let now_ready = Readiness::from_runtime(runtime.status().await.map_err(|e| e.to_string()));
                let changed = now_ready != ready;
                if !changed && last_report.elapsed() < cfg.status_report_interval {
                    continue;
                }
                let now = time_string(chrono::Utc::now());
                if changed {
                    tracing::info!(ready = ?now_ready, "node readiness changed");
                    since = now.clone();
                }
                let patch = json!({"status": {"conditions": conditions(&now_ready, &now, &since)}});
                match nodes.patch_status(&cfg.node_name, &PatchParams::default(), &Patch::Strategic(patch)).await {
                    Ok(_) => {
                        ready = now_ready;
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
            &Readiness::Ready,
            "2026-01-01T00:00:00Z",
            "2026-01-01T00:00:00Z",
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
        let v = conditions(
            &Readiness::NotReady {
                reason: "KubeletNotReady".into(),
                message: "m".into(),
            },
            "a",
            "b",
        );
        assert_eq!(v[3]["type"], "Ready");
        assert_eq!(v[3]["status"], "False");
    }
}
