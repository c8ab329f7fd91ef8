//! The agent's configuration (kubelet's flags that matter so far).

use std::path::PathBuf;
use std::time::Duration;

use crate::cni::PodCidr;

#[derive(Debug, Clone)]
pub struct AgentConfig {
    pub node_name: String,
    /// Where the agent (and its containerd) keep their state.
    pub data_dir: PathBuf,
    pub pod_cidr: PodCidr,
    /// The Linux bridge pods attach to (one per agent on a host).
    pub cni_bridge: String,
    /// `None`: run our own containerd under `data_dir`.
    pub runtime_endpoint: Option<String>,
    /// The InternalIP to report; detected when `None`.
    pub node_ip: Option<std::net::Ipv4Addr>,
    pub containerd_bin: String,
    /// The OCI runtime our containerd's runc shim executes (`None`: runc).
    pub runtime_binary: Option<String>,
    pub ctr_bin: String,
    pub busybox: PathBuf,
    /// kubelet's nodeLeaseDurationSeconds (40) and renew interval (10 s).
    pub lease_duration_seconds: i32,
    pub lease_interval: Duration,
    /// How often the node's conditions are checked (nodeStatusUpdateFrequency).
    pub status_interval: Duration,
    /// How often an unchanged node status is still posted (nodeStatusReportFrequency).
    pub status_report_interval: Duration,
    /// The generic PLEG's relist period (kubelet: 1 s).
    pub relist_period: Duration,
    /// Container restart back-off: initial and cap (kubelet: 10 s, 5 min).
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    /// Reserved from capacity for allocatable (system-reserved + kube-reserved).
    pub reserved_cpu_millis: u64,
    pub reserved_memory_bytes: u64,
    pub max_pods: u32,
    /// Sandboxes started at once. A burst of pods all sharing the CPU
    /// would all finish late; a few at a time finish in order, with less
    /// contention (100-pod burst on 2 cores: p50 13.8 -> 6.8 s).
    pub max_parallel_sandbox_starts: usize,
    /// Hard eviction thresholds (only the pressure conditions so far).
    pub eviction_hard: crate::node::machine::Thresholds,
    /// kubelet's `--port`: the HTTPS server for logs, exec, attach and
    /// port-forward (0: any free port).
    pub port: u16,
    /// CA certificates (DER) that sign the callers allowed on that port:
    /// the cluster CA from the agent's kubeconfig.
    pub client_ca: Vec<Vec<u8>>,
}

impl AgentConfig {
    pub fn new(node_name: String, data_dir: PathBuf, pod_cidr: PodCidr) -> Self {
        AgentConfig {
            node_name,
            data_dir,
            pod_cidr,
            cni_bridge: crate::cni::DEFAULT_BRIDGE.into(),
            runtime_endpoint: None,
            node_ip: None,
            containerd_bin: "containerd".into(),
            runtime_binary: None,
            ctr_bin: "ctr".into(),
            busybox: PathBuf::from(crate::images::BUSYBOX),
            lease_duration_seconds: 40,
            lease_interval: Duration::from_secs(10),
            status_interval: Duration::from_secs(10),
            status_report_interval: Duration::from_secs(60),
            relist_period: Duration::from_secs(1),
            backoff_initial: Duration::from_secs(10),
            backoff_max: Duration::from_secs(300),
            reserved_cpu_millis: 0,
            reserved_memory_bytes: 0,
            max_pods: 110,
            max_parallel_sandbox_starts: 4,
            eviction_hard: Default::default(),
            port: crate::server::DEFAULT_PORT,
            client_ca: Vec::new(),
        }
    }

    /// Pods' log directories: `<data-dir>/pods/<uid>/`.
    pub fn pod_log_dir(&self, uid: &str) -> PathBuf {
        self.data_dir.join("pods").join(uid)
    }

    /// Tarballs imported at start.
    pub fn images_dir(&self) -> PathBuf {
        self.data_dir.join("images")
    }
}
