//! The scheduler's incrementally updated view of the cluster: nodes and the
//! pods placed on them, including pods it has *assumed* (decided, binding
//! in flight) so back-to-back decisions never double-book a node. Fed by
//! watch events; never rebuilt by listing.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;

use crate::node_info::{NodeInfo, PodInfo};

#[derive(Debug)]
struct PodState {
    node: String,
    /// Placed by this scheduler, not yet seen bound through the watch.
    assumed: bool,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CacheError {
    #[error("pod {0} is already in the cache")]
    AlreadyCached(String),
    #[error("pod {0} is not assumed")]
    NotAssumed(String),
}

/// Nodes in a stable order (for round-robin filtering) plus pod placement.
#[derive(Debug, Default)]
pub struct Cache {
    /// Nodes with a Node object, in iteration order.
    nodes: Vec<NodeInfo>,
    index: HashMap<String, usize>,
    /// Nodes that pods name but whose Node object is not (or no longer) here.
    ghosts: HashMap<String, NodeInfo>,
    pods: HashMap<String, PodState>,
    /// How many nodes report each image (ImageLocality's spread factor).
    image_nodes: HashMap<String, usize>,
    /// Nodes holding pods with (anti-)affinity terms, and with required
    /// anti-affinity: InterPodAffinity visits only these.
    with_affinity: HashSet<String>,
    with_required_anti_affinity: HashSet<String>,
    /// PodDisruptionBudgets by `namespace/name`, for preemption.
    pdbs: HashMap<String, Arc<PodDisruptionBudget>>,
    /// Each namespace's labels, for affinity terms' namespaceSelector.
    namespace_labels: HashMap<String, crate::matching::Labels>,
}

impl Cache {
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// The i-th schedulable node in iteration order.
    pub fn node_at(&self, i: usize) -> Option<&NodeInfo> {
        self.nodes.get(i)
    }

    pub fn node(&self, name: &str) -> Option<&NodeInfo> {
        self.index.get(name).and_then(|i| self.nodes.get(*i))
    }

    pub fn nodes(&self) -> impl Iterator<Item = &NodeInfo> {
        self.nodes.iter()
    }

    /// Nodes with at least one pod that has (anti-)affinity terms.
    pub fn nodes_with_affinity(&self) -> impl Iterator<Item = &NodeInfo> {
        self.with_affinity.iter().filter_map(|n| self.node(n))
    }

    /// Nodes with at least one pod that has required anti-affinity.
    pub fn nodes_with_required_anti_affinity(&self) -> impl Iterator<Item = &NodeInfo> {
        self.with_required_anti_affinity
            .iter()
            .filter_map(|n| self.node(n))
    }

    /// Records a namespace's labels (replacing what was known).
    pub fn set_namespace_labels(&mut self, namespace: &str, labels: crate::matching::Labels) {
        self.namespace_labels.insert(namespace.to_string(), labels);
    }

    pub fn remove_namespace(&mut self, namespace: &str) {
        self.namespace_labels.remove(namespace);
    }

    /// Names of every known namespace (for re-list reconciliation).
    pub fn namespace_names(&self) -> Vec<String> {
        self.namespace_labels.keys().cloned().collect()
    }

    /// The labels of `namespace`; none when it is unknown.
    pub fn namespace_labels(&self, namespace: &str) -> &crate::matching::Labels {
        self.namespace_labels
            .get(namespace)
            .unwrap_or(crate::matching::no_labels())
    }

    pub fn add_or_update_pdb(&mut self, pdb: Arc<PodDisruptionBudget>) {
        self.pdbs.insert(pdb_key(&pdb), pdb);
    }

    pub fn remove_pdb(&mut self, pdb: &PodDisruptionBudget) {
        self.pdbs.remove(&pdb_key(pdb));
    }

    pub fn pdbs(&self) -> impl Iterator<Item = &Arc<PodDisruptionBudget>> {
        self.pdbs.values()
    }

    /// Keys of every budget (for re-list reconciliation).
    pub fn pdb_keys(&self) -> Vec<String> {
        self.pdbs.keys().cloned().collect()
    }

    pub fn remove_pdb_key(&mut self, key: &str) {
        self.pdbs.remove(key);
    }

    pub fn nodes_with_image(&self, image: &str) -> usize {
        self.image_nodes.get(image).copied().unwrap_or(0)
    }

    pub fn pod_count(&self) -> usize {
        self.pods.len()
    }

    pub fn is_assumed(&self, uid: &str) -> bool {
        self.pods.get(uid).is_some_and(|p| p.assumed)
    }

    pub fn contains_pod(&self, uid: &str) -> bool {
        self.pods.contains_key(uid)
    }

    fn count_images(&mut self, images: &[(String, i64)], delta: isize) {
        for (image, _) in images {
            let c = self.image_nodes.entry(image.clone()).or_default();
            *c = c.saturating_add_signed(delta);
        }
    }

    pub fn add_or_update_node(&mut self, node: Arc<Node>) {
        let Some(name) = node.metadata.name.clone() else {
            return;
        };
        let i = match self.index.get(&name) {
            Some(i) => *i,
            None => {
                let info = self
                    .ghosts
                    .remove(&name)
                    .unwrap_or_else(|| NodeInfo::new(&name));
                self.index.insert(name, self.nodes.len());
                self.nodes.push(info);
                self.nodes.len() - 1
            }
        };
        let old = std::mem::take(&mut self.nodes[i].images);
        self.count_images(&old, -1);
        self.nodes[i].set_node(node);
        let new = self.nodes[i].images.clone();
        self.count_images(&new, 1);
    }

    pub fn remove_node(&mut self, name: &str) {
        let Some(i) = self.index.remove(name) else {
            return;
        };
        let mut info = self.nodes.swap_remove(i);
        if let Some(moved) = self.nodes.get(i) {
            self.index.insert(moved.name.clone(), i);
        }
        info.node = None;
        info.unschedulable = false;
        info.taints.clear();
        let old = std::mem::take(&mut info.images);
        self.count_images(&old, -1);
        // Pods still bound there stay accounted until they are deleted.
        if !info.pods.is_empty() {
            self.ghosts.insert(name.to_string(), info);
        }
    }

    fn info_mut(&mut self, node: &str) -> &mut NodeInfo {
        match self.index.get(node) {
            Some(i) => &mut self.nodes[*i],
            None => self
                .ghosts
                .entry(node.to_string())
                .or_insert_with(|| NodeInfo::new(node)),
        }
    }

    fn track_affinity(&mut self, node: &str) {
        let (affinity, anti) = {
            let info = self.info_mut(node);
            (
                !info.pods_with_affinity.is_empty(),
                !info.pods_with_required_anti_affinity.is_empty(),
            )
        };
        for (set, has) in [
            (&mut self.with_affinity, affinity),
            (&mut self.with_required_anti_affinity, anti),
        ] {
            if has {
                set.insert(node.to_string());
            } else {
                set.remove(node);
            }
        }
    }

    fn place(&mut self, info: Arc<PodInfo>, node: &str) {
        let affinity = info.has_pod_affinity_terms();
        self.info_mut(node).add_pod(info);
        if affinity {
            self.track_affinity(node);
        }
    }

    fn unplace(&mut self, uid: &str, node: &str) {
        let info = self.info_mut(node);
        info.remove_pod(uid);
        let empty_ghost = info.node.is_none() && info.pods.is_empty();
        if empty_ghost {
            self.ghosts.remove(node);
        }
        self.track_affinity(node);
        if empty_ghost {
            self.with_affinity.remove(node);
            self.with_required_anti_affinity.remove(node);
        }
    }

    /// Records the decision to place `pod` on `node` before the binding is
    /// confirmed.
    pub fn assume(&mut self, info: Arc<PodInfo>, node: &str) -> Result<(), CacheError> {
        if self.pods.contains_key(&info.uid) {
            return Err(CacheError::AlreadyCached(info.key.clone()));
        }
        self.pods.insert(
            info.uid.clone(),
            PodState {
                node: node.to_string(),
                assumed: true,
            },
        );
        self.place(info, node);
        Ok(())
    }

    /// Undoes an assumption (binding failed).
    pub fn forget(&mut self, uid: &str) -> Result<(), CacheError> {
        match self.pods.get(uid) {
            Some(state) if state.assumed => {
                let node = state.node.clone();
                self.pods.remove(uid);
                self.unplace(uid, &node);
                Ok(())
            }
            _ => Err(CacheError::NotAssumed(uid.to_string())),
        }
    }

    /// A bound pod seen through the watch: adds it, confirms an assumption,
    /// or moves it when it landed elsewhere. Terminal pods leave the cache.
    pub fn add_or_update_pod(&mut self, pod: Arc<Pod>) {
        let Some(node) = pod.spec.as_ref().and_then(|s| s.node_name.clone()) else {
            return;
        };
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        if is_terminal(&pod) {
            self.remove_pod(&uid);
            return;
        }
        if let Some(state) = self.pods.get(&uid) {
            let old = state.node.clone();
            self.unplace(&uid, &old);
        }
        self.pods.insert(
            uid,
            PodState {
                node: node.clone(),
                assumed: false,
            },
        );
        self.place(Arc::new(PodInfo::new(pod)), &node);
    }

    pub fn remove_pod(&mut self, uid: &str) {
        if let Some(state) = self.pods.remove(uid) {
            self.unplace(uid, &state.node);
        }
    }

    /// Labels of a placed pod (to tell label changes from status updates).
    pub fn pod_labels(&self, uid: &str) -> Option<&std::collections::BTreeMap<String, String>> {
        let state = self.pods.get(uid)?;
        let node = self
            .node(&state.node)
            .or_else(|| self.ghosts.get(&state.node))?;
        node.pods
            .iter()
            .find(|p| p.uid == uid)
            .and_then(|p| p.pod.metadata.labels.as_ref())
    }

    /// UIDs of every pod placed in the cache (for re-list reconciliation).
    pub fn pod_uids(&self) -> Vec<String> {
        self.pods.keys().cloned().collect()
    }

    /// Names of every node with a Node object (for re-list reconciliation).
    pub fn node_names(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.name.clone()).collect()
    }
}

pub fn pdb_key(pdb: &PodDisruptionBudget) -> String {
    format!(
        "{}/{}",
        pdb.metadata.namespace.as_deref().unwrap_or_default(),
        pdb.metadata.name.as_deref().unwrap_or_default()
    )
}

/// Drops from a placed pod what no scheduling decision reads, before the
/// cache keeps it for the pod's lifetime: volumes (no volume plugin runs
/// here), per-container environment, mounts, probes, hooks, security
/// settings and commands, and container statuses. Kept: metadata, node,
/// priority, affinity, tolerations, topology spread, overhead, and per
/// container its name, image, resources, ports and restart policy (what
/// requests, host ports, image locality and preemption read), plus the
/// phase, start time, conditions and nomination. The scheduler only ever
/// patches pods and posts bindings, so nothing dropped is written back.
/// Typed pods are ~15 KB each; a 100,000-pod cluster keeps every one.
pub fn slim_placed(pod: &mut Pod) {
    if let Some(spec) = pod.spec.as_mut() {
        spec.volumes = None;
        spec.ephemeral_containers = None;
        for c in spec
            .containers
            .iter_mut()
            .chain(spec.init_containers.iter_mut().flatten())
        {
            c.args = None;
            c.command = None;
            c.env = None;
            c.env_from = None;
            c.lifecycle = None;
            c.liveness_probe = None;
            c.readiness_probe = None;
            c.startup_probe = None;
            c.security_context = None;
            c.volume_devices = None;
            c.volume_mounts = None;
            c.working_dir = None;
            c.termination_message_path = None;
            c.termination_message_policy = None;
        }
    }
    if let Some(status) = pod.status.as_mut() {
        status.container_statuses = None;
        status.init_container_statuses = None;
        status.ephemeral_container_statuses = None;
    }
}

/// Succeeded and Failed pods hold no resources.
pub fn is_terminal(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{node, pod};

    #[test]
    fn slimming_a_placed_pod_keeps_what_scheduling_reads() {
        let full: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "namespace": "ns", "uid": "u", "labels": {"app": "a"}},
            "spec": {
                "nodeName": "n1",
                "priority": 7,
                "overhead": {"cpu": "50m"},
                "affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                    {"labelSelector": {"matchLabels": {"app": "a"}}, "topologyKey": "zone"}]}},
                "tolerations": [{"key": "k", "operator": "Exists"}],
                "volumes": [{"name": "v", "emptyDir": {}}],
                "initContainers": [{"name": "side", "image": "s:1", "restartPolicy": "Always",
                    "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
                    "env": [{"name": "A", "value": "b"}]}],
                "containers": [{"name": "c", "image": "c:1", "command": ["run"],
                    "resources": {"requests": {"cpu": "1", "memory": "1Gi"}},
                    "ports": [{"containerPort": 80, "hostPort": 8080}],
                    "volumeMounts": [{"name": "v", "mountPath": "/v"}],
                    "livenessProbe": {"tcpSocket": {"port": 80}}}]
            },
            "status": {"phase": "Running", "startTime": "2026-01-01T00:00:00Z",
                "containerStatuses": [{"name": "c", "image": "c:1", "imageID": "i",
                    "ready": true, "restartCount": 0}]}
        }))
        .expect("pod");
        let mut slim = full.clone();
        slim_placed(&mut slim);
        let (a, b) = (
            PodInfo::new(Arc::new(full.clone())),
            PodInfo::new(Arc::new(slim.clone())),
        );
        assert_eq!(a.requests, b.requests);
        assert_eq!(a.non_zero_requests, b.non_zero_requests);
        assert_eq!(a.host_ports, b.host_ports);
        assert_eq!(a.priority, b.priority);
        assert!(b.has_required_anti_affinity);
        let (fs, ss) = (full.spec.as_ref().unwrap(), slim.spec.as_ref().unwrap());
        assert_eq!(fs.affinity, ss.affinity);
        assert_eq!(fs.tolerations, ss.tolerations);
        assert_eq!(ss.containers[0].image.as_deref(), Some("c:1"));
        assert_eq!(full.metadata, slim.metadata);
        assert_eq!(
            full.status.as_ref().unwrap().start_time,
            slim.status.as_ref().unwrap().start_time
        );
        // And what is dropped is gone.
        assert!(ss.volumes.is_none() && ss.containers[0].liveness_probe.is_none());
        assert!(slim.status.as_ref().unwrap().container_statuses.is_none());
    }

    #[test]
    fn assumed_pods_count_until_forgotten_and_confirmation_does_not_double_count() {
        let mut cache = Cache::default();
        cache.add_or_update_node(Arc::new(node("n1", "4", "8Gi")));
        let p = pod("p1", "1", "1Gi");
        let info = Arc::new(PodInfo::new(Arc::new(p.clone())));
        cache.assume(info.clone(), "n1").unwrap();
        assert_eq!(cache.node("n1").unwrap().requested.milli_cpu, 1000);
        assert_eq!(
            cache.assume(info, "n1"),
            Err(CacheError::AlreadyCached("default/p1".into()))
        );
        // The watch shows it bound: confirmed, still counted once.
        let mut bound = p.clone();
        bound.spec.as_mut().unwrap().node_name = Some("n1".into());
        cache.add_or_update_pod(Arc::new(bound.clone()));
        assert_eq!(cache.node("n1").unwrap().requested.milli_cpu, 1000);
        assert!(!cache.is_assumed("uid-p1"));
        // Finished pods release their resources.
        bound.status = Some(k8s_openapi::api::core::v1::PodStatus {
            phase: Some("Succeeded".into()),
            ..Default::default()
        });
        cache.add_or_update_pod(Arc::new(bound));
        assert_eq!(cache.node("n1").unwrap().requested.milli_cpu, 0);
    }

    #[test]
    fn forget_releases_an_assumed_pod() {
        let mut cache = Cache::default();
        cache.add_or_update_node(Arc::new(node("n1", "4", "8Gi")));
        let info = Arc::new(PodInfo::new(Arc::new(pod("p1", "1", "1Gi"))));
        cache.assume(info, "n1").unwrap();
        cache.forget("uid-p1").unwrap();
        assert_eq!(cache.node("n1").unwrap().requested.milli_cpu, 0);
        assert!(cache.forget("uid-p1").is_err());
    }

    #[test]
    fn node_removal_keeps_order_dense() {
        let mut cache = Cache::default();
        for n in ["a", "b", "c"] {
            cache.add_or_update_node(Arc::new(node(n, "1", "1Gi")));
        }
        cache.remove_node("a");
        assert_eq!(cache.node_count(), 2);
        let names: Vec<_> = (0..2)
            .map(|i| cache.node_at(i).unwrap().name.clone())
            .collect();
        assert_eq!(names, vec!["c", "b"]);
        assert!(cache.node("a").is_none());
    }
}
