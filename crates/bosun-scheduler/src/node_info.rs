//! What the scheduler knows of one node and one pod: upstream's `NodeInfo`
//! and `PodInfo`, with the aggregates plugins read on every cycle kept up
//! to date as pods come and go.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, Pod};

use crate::resources::{self, Resource};

/// A host port a pod claims: protocol, host IP ("0.0.0.0" when unset), port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPort {
    pub protocol: String,
    pub ip: String,
    pub port: i32,
}

impl HostPort {
    /// Two claims collide when protocol and port agree and either IP is the
    /// wildcard or both are the same.
    pub fn conflicts(&self, other: &HostPort) -> bool {
        self.port == other.port
            && self.protocol == other.protocol
            && (self.ip == other.ip || self.ip == "0.0.0.0" || other.ip == "0.0.0.0")
    }
}

fn non_empty<T>(v: Option<&Vec<T>>) -> bool {
    v.is_some_and(|v| !v.is_empty())
}

/// A pod with what the plugins compute from it once.
#[derive(Debug)]
pub struct PodInfo {
    pub pod: Arc<Pod>,
    /// `namespace/name`.
    pub key: String,
    pub uid: String,
    pub namespace: String,
    pub requests: Resource,
    /// Requests with upstream's scoring defaults for unset cpu/memory.
    pub non_zero_requests: Resource,
    pub priority: i32,
    pub host_ports: Vec<HostPort>,
    pub has_required_affinity: bool,
    pub has_required_anti_affinity: bool,
    pub has_preferred_affinity: bool,
}

impl PodInfo {
    pub fn new(pod: Arc<Pod>) -> PodInfo {
        let namespace = pod.metadata.namespace.clone().unwrap_or_default();
        let name = pod.metadata.name.as_deref().unwrap_or_default();
        let spec = pod.spec.as_ref();
        let host_ports = spec
            .into_iter()
            .flat_map(|s| {
                s.containers
                    .iter()
                    .chain(s.init_containers.iter().flatten())
            })
            .flat_map(|c| c.ports.iter().flatten())
            .filter_map(|p| {
                let port = p.host_port.filter(|port| *port > 0)?;
                Some(HostPort {
                    protocol: p.protocol.clone().unwrap_or_else(|| "TCP".into()),
                    ip: p
                        .host_ip
                        .clone()
                        .filter(|ip| !ip.is_empty())
                        .unwrap_or_else(|| "0.0.0.0".into()),
                    port,
                })
            })
            .collect();
        let affinity = spec.and_then(|s| s.affinity.as_ref());
        let pa = affinity.and_then(|a| a.pod_affinity.as_ref());
        let paa = affinity.and_then(|a| a.pod_anti_affinity.as_ref());
        PodInfo {
            key: format!("{namespace}/{name}"),
            uid: pod.metadata.uid.clone().unwrap_or_default(),
            requests: resources::pod_requests(&pod, false),
            non_zero_requests: resources::pod_requests(&pod, true),
            priority: spec.and_then(|s| s.priority).unwrap_or(0),
            host_ports,
            has_required_affinity: non_empty(pa.and_then(|a| {
                a.required_during_scheduling_ignored_during_execution
                    .as_ref()
            })),
            has_required_anti_affinity: non_empty(paa.and_then(|a| {
                a.required_during_scheduling_ignored_during_execution
                    .as_ref()
            })),
            has_preferred_affinity: non_empty(pa.and_then(|a| {
                a.preferred_during_scheduling_ignored_during_execution
                    .as_ref()
            })) || non_empty(paa.and_then(|a| {
                a.preferred_during_scheduling_ignored_during_execution
                    .as_ref()
            })),
            namespace,
            pod,
        }
    }

    pub fn name(&self) -> &str {
        self.pod.metadata.name.as_deref().unwrap_or_default()
    }

    pub fn has_pod_affinity_terms(&self) -> bool {
        self.has_required_affinity || self.has_required_anti_affinity || self.has_preferred_affinity
    }

    pub fn spec(&self) -> Option<&k8s_openapi::api::core::v1::PodSpec> {
        self.pod.spec.as_ref()
    }
}

/// One node and the pods placed on it (bound or assumed).
#[derive(Debug, Clone)]
pub struct NodeInfo {
    pub name: String,
    /// Absent while pods name a node the scheduler has not seen yet.
    pub node: Option<Arc<Node>>,
    pub allocatable: Resource,
    pub requested: Resource,
    pub non_zero_requested: Resource,
    pub pods: Vec<Arc<PodInfo>>,
    pub used_ports: Vec<HostPort>,
    /// Pods here with any (anti-)affinity terms, for InterPodAffinity.
    pub pods_with_affinity: Vec<Arc<PodInfo>>,
    pub pods_with_required_anti_affinity: Vec<Arc<PodInfo>>,
    /// Images the node reports, names normalised (`nginx` →
    /// `docker.io/library/nginx:latest`), with their sizes in bytes.
    pub images: Vec<(String, i64)>,
    /// `spec.unschedulable` and `spec.taints`, copied here so the filters
    /// of an ordinary pod never touch the Node object (a cache miss per
    /// node and pod at thousands of nodes).
    pub unschedulable: bool,
    pub taints: Vec<k8s_openapi::api::core::v1::Taint>,
    /// Bumped on every change, so callers can tell a stale view.
    pub generation: u64,
}

impl NodeInfo {
    pub fn new(name: &str) -> NodeInfo {
        NodeInfo {
            name: name.to_string(),
            node: None,
            allocatable: Resource::default(),
            requested: Resource::default(),
            non_zero_requested: Resource::default(),
            pods: Vec::new(),
            used_ports: Vec::new(),
            pods_with_affinity: Vec::new(),
            pods_with_required_anti_affinity: Vec::new(),
            images: Vec::new(),
            unschedulable: false,
            taints: Vec::new(),
            generation: 0,
        }
    }

    pub fn set_node(&mut self, node: Arc<Node>) {
        self.allocatable = resources::node_allocatable(&node);
        self.images = node
            .status
            .as_ref()
            .and_then(|s| s.images.as_ref())
            .into_iter()
            .flatten()
            .flat_map(|i| {
                let size = i.size_bytes.unwrap_or(0);
                i.names
                    .iter()
                    .flatten()
                    .map(move |n| (crate::matching::normalize_image(n), size))
            })
            .collect();
        let spec = node.spec.as_ref();
        self.unschedulable = spec.and_then(|s| s.unschedulable).unwrap_or(false);
        self.taints = spec.and_then(|s| s.taints.clone()).unwrap_or_default();
        self.node = Some(node);
        self.generation += 1;
    }

    pub fn add_pod(&mut self, pod: Arc<PodInfo>) {
        self.requested.add(&pod.requests);
        self.non_zero_requested.add(&pod.non_zero_requests);
        self.used_ports.extend(pod.host_ports.iter().cloned());
        if pod.has_pod_affinity_terms() {
            self.pods_with_affinity.push(pod.clone());
        }
        if pod.has_required_anti_affinity {
            self.pods_with_required_anti_affinity.push(pod.clone());
        }
        self.pods.push(pod);
        self.generation += 1;
    }

    /// Removes the pod with this uid; false when it was not here.
    pub fn remove_pod(&mut self, uid: &str) -> bool {
        let Some(i) = self.pods.iter().position(|p| p.uid == uid) else {
            return false;
        };
        let pod = self.pods.swap_remove(i);
        self.requested.sub(&pod.requests);
        self.non_zero_requested.sub(&pod.non_zero_requests);
        for port in &pod.host_ports {
            if let Some(j) = self.used_ports.iter().position(|p| p == port) {
                self.used_ports.swap_remove(j);
            }
        }
        self.pods_with_affinity.retain(|p| p.uid != uid);
        self.pods_with_required_anti_affinity
            .retain(|p| p.uid != uid);
        self.generation += 1;
        true
    }

    pub fn labels(&self) -> &crate::matching::Labels {
        static EMPTY: crate::matching::Labels = crate::matching::Labels::new();
        self.node
            .as_deref()
            .map(crate::matching::labels_of_node)
            .unwrap_or(&EMPTY)
    }
}
