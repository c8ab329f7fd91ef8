//! Node lifecycle (upstream pkg/controller/nodelifecycle): a node whose
//! kubelet stops renewing its Lease and posting status for the grace
//! period gets its conditions set to Unknown, its pods marked not ready,
//! and the taints that describe it (`not-ready`/`unreachable` NoExecute at
//! a per-zone rate, NoSchedule taints from conditions at once). Eviction
//! of the pods follows from the NoExecute taints ([`taint_eviction`]).

pub mod taint_eviction;
pub mod zone;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, NodeCondition, Pod, Taint};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use parking_lot::Mutex;
use serde_json::json;

use crate::events::Recorder;
use crate::informer::{Change, InformerFactory, ObjectKey, Store};
use zone::{zone_state, TokenBucket, ZoneState};

pub const NOT_READY: &str = "node.kubernetes.io/not-ready";
pub const UNREACHABLE: &str = "node.kubernetes.io/unreachable";
const LEASE_NAMESPACE: &str = "kube-node-lease";
const ZONE_LABEL: &str = "topology.kubernetes.io/zone";
/// Conditions the kubelet owns and the controller sets to Unknown.
const KUBELET_CONDITIONS: [&str; 4] = ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"];

/// kube-controller-manager's node lifecycle flags, upstream defaults.
#[derive(Debug, Clone)]
pub struct NodeLifecycleOptions {
    /// `--node-monitor-period`.
    pub monitor_period: Duration,
    /// `--node-monitor-grace-period`.
    pub grace_period: Duration,
    /// `--node-startup-grace-period`.
    pub startup_grace_period: Duration,
    /// `--node-eviction-rate` (nodes per second, per zone).
    pub eviction_rate: f64,
    /// `--secondary-node-eviction-rate`.
    pub secondary_eviction_rate: f64,
    /// `--large-cluster-size-threshold`.
    pub large_cluster_threshold: usize,
    /// `--unhealthy-zone-threshold`.
    pub unhealthy_zone_threshold: f64,
}

impl Default for NodeLifecycleOptions {
    fn default() -> Self {
        NodeLifecycleOptions {
            monitor_period: Duration::from_secs(5),
            grace_period: Duration::from_secs(50),
            startup_grace_period: Duration::from_secs(60),
            eviction_rate: 0.1,
            secondary_eviction_rate: 0.01,
            large_cluster_threshold: 50,
            unhealthy_zone_threshold: 0.55,
        }
    }
}

/// What the controller last saw of a node's liveness, on its own clock.
struct Health {
    probe: Instant,
    heartbeat: Option<jiff::Timestamp>,
    renew: Option<jiff::Timestamp>,
    ready: Option<String>,
}

pub struct NodeLifecycleController {
    client: kube::Client,
    nodes: Arc<Store<Node>>,
    leases: Arc<Store<Lease>>,
    pods: Arc<Store<Pod>>,
    options: NodeLifecycleOptions,
    recorder: Recorder,
    health: Mutex<HashMap<String, Health>>,
    zones: Mutex<HashMap<String, TokenBucket>>,
    /// Nodes whose pods could not all be marked not ready; retried each
    /// period while the node stays not ready.
    retry_not_ready: Mutex<std::collections::HashSet<String>>,
}

fn condition<'a>(node: &'a Node, type_: &str) -> Option<&'a NodeCondition> {
    node.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
}

fn ready_status(node: &Node) -> &str {
    condition(node, "Ready")
        .map(|c| c.status.as_str())
        .unwrap_or("Unknown")
}

fn zone_of(node: &Node) -> String {
    node.labels().get(ZONE_LABEL).cloned().unwrap_or_default()
}

/// NoSchedule taints the node's conditions call for (upstream
/// TaintNodesByCondition).
fn condition_taints(node: &Node) -> Vec<&'static str> {
    let mut keys = Vec::new();
    match ready_status(node) {
        "False" => keys.push(NOT_READY),
        "True" => {}
        _ => keys.push(UNREACHABLE),
    }
    for (cond, key) in [
        ("MemoryPressure", "node.kubernetes.io/memory-pressure"),
        ("DiskPressure", "node.kubernetes.io/disk-pressure"),
        ("PIDPressure", "node.kubernetes.io/pid-pressure"),
        (
            "NetworkUnavailable",
            "node.kubernetes.io/network-unavailable",
        ),
    ] {
        if condition(node, cond).is_some_and(|c| c.status == "True") {
            keys.push(key);
        }
    }
    if node
        .spec
        .as_ref()
        .and_then(|s| s.unschedulable)
        .unwrap_or(false)
    {
        keys.push("node.kubernetes.io/unschedulable");
    }
    keys
}

const CONDITION_TAINT_KEYS: [&str; 7] = [
    NOT_READY,
    UNREACHABLE,
    "node.kubernetes.io/memory-pressure",
    "node.kubernetes.io/disk-pressure",
    "node.kubernetes.io/pid-pressure",
    "node.kubernetes.io/network-unavailable",
    "node.kubernetes.io/unschedulable",
];

/// The taints a node should carry: other taints untouched, NoSchedule
/// condition taints exactly as the conditions say, and the NoExecute
/// taint `no_execute` (the caller decides it, rate limits included).
pub fn desired_taints(node: &Node, no_execute: Option<&str>, now: jiff::Timestamp) -> Vec<Taint> {
    let current = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.clone())
        .unwrap_or_default();
    let ours = |t: &Taint| CONDITION_TAINT_KEYS.contains(&t.key.as_str());
    let mut out: Vec<Taint> = current
        .iter()
        .filter(|t| !ours(t) || (t.effect != "NoSchedule" && t.effect != "NoExecute"))
        .cloned()
        .collect();
    for key in condition_taints(node) {
        let existing = current
            .iter()
            .find(|t| t.key == key && t.effect == "NoSchedule");
        out.push(existing.cloned().unwrap_or(Taint {
            key: key.into(),
            effect: "NoSchedule".into(),
            value: None,
            time_added: None,
        }));
    }
    if let Some(key) = no_execute {
        let existing = current
            .iter()
            .find(|t| t.key == key && t.effect == "NoExecute");
        out.push(existing.cloned().unwrap_or(Taint {
            key: key.into(),
            effect: "NoExecute".into(),
            value: None,
            time_added: Some(Time(now)),
        }));
    }
    out
}

fn same_taints(a: &[Taint], b: &[Taint]) -> bool {
    let key = |t: &Taint| (t.key.clone(), t.effect.clone(), t.value.clone());
    let mut x: Vec<_> = a.iter().map(key).collect();
    let mut y: Vec<_> = b.iter().map(key).collect();
    x.sort();
    y.sort();
    x == y
}

impl NodeLifecycleController {
    pub fn new(
        client: kube::Client,
        factory: &InformerFactory,
        recorder: Recorder,
        options: NodeLifecycleOptions,
    ) -> Arc<Self> {
        let pod_informer = factory.informer::<Pod>();
        let this = Arc::new(NodeLifecycleController {
            client,
            nodes: factory.informer::<Node>().store(),
            leases: factory.informer::<Lease>().store(),
            pods: pod_informer.store(),
            options,
            recorder,
            health: Mutex::new(HashMap::new()),
            zones: Mutex::new(HashMap::new()),
            retry_not_ready: Mutex::new(std::collections::HashSet::new()),
        });
        // A pod that is (or turns) Ready on a node that is not: mark it on
        // the next period, as upstream's processPod does.
        let weak = Arc::downgrade(&this);
        pod_informer.on_change(move |change| {
            let (Change::Added(pod) | Change::Updated { new: pod, .. }) = change else {
                return;
            };
            let Some(c) = weak.upgrade() else { return };
            let Some(node) = pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) else {
                return;
            };
            if !crate::pod_util::is_ready(pod) {
                return;
            }
            let down = c
                .nodes
                .get(&ObjectKey::new("", node))
                .is_some_and(|n| ready_status(&n) != "True");
            if down {
                c.retry_not_ready.lock().insert(node.to_string());
            }
        });
        this
    }

    /// Checks every node each monitor period until the task is dropped.
    pub async fn run(self: Arc<Self>) {
        let mut tick = tokio::time::interval(self.options.monitor_period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            self.monitor().await;
        }
    }

    async fn monitor(&self) {
        let now = Instant::now();
        let wall = crate::clock::now();
        let mut nodes: Vec<Arc<Node>> = self.nodes.list();
        let names: std::collections::HashSet<String> = nodes.iter().map(|n| n.name_any()).collect();
        self.health.lock().retain(|n, _| names.contains(n));
        for node in nodes.iter_mut() {
            if let Err(err) = self.check_health(node, now, wall).await {
                tracing::debug!(node = %node.name_any(), %err, "node health update failed");
            }
        }
        let retry: Vec<String> = self.retry_not_ready.lock().drain().collect();
        for name in retry {
            let still_down = nodes
                .iter()
                .any(|n| n.name_any() == name && ready_status(n) != "True");
            if still_down {
                self.mark_pods_not_ready(&name).await;
            }
        }
        // Zone states from the (possibly just updated) Ready conditions.
        let mut counts: BTreeMap<String, (usize, usize)> = BTreeMap::new();
        for node in &nodes {
            let c = counts.entry(zone_of(node)).or_default();
            if ready_status(node) == "True" {
                c.0 += 1;
            } else {
                c.1 += 1;
            }
        }
        let states: HashMap<String, (ZoneState, usize)> = counts
            .iter()
            .map(|(z, (r, n))| {
                (
                    z.clone(),
                    (
                        zone_state(*r, *n, self.options.unhealthy_zone_threshold),
                        r + n,
                    ),
                )
            })
            .collect();
        let all_disrupted = !states.is_empty()
            && states
                .values()
                .all(|(s, _)| *s == ZoneState::FullDisruption);
        for node in &nodes {
            let zone = zone_of(node);
            let (state, size) = states.get(&zone).copied().unwrap_or((ZoneState::Normal, 0));
            if let Err(err) = self
                .reconcile_taints(node, &zone, state, size, all_disrupted, now, wall)
                .await
            {
                tracing::debug!(node = %node.name_any(), %err, "node taint update failed");
            }
        }
    }

    /// Refreshes the liveness probe from heartbeats and marks a silent
    /// node's conditions Unknown.
    async fn check_health(
        &self,
        node: &mut Arc<Node>,
        now: Instant,
        wall: jiff::Timestamp,
    ) -> Result<(), kube::Error> {
        let name = node.name_any();
        let heartbeat =
            condition(node, "Ready").and_then(|c| c.last_heartbeat_time.as_ref().map(|t| t.0));
        let renew = self
            .leases
            .get(&ObjectKey::new(LEASE_NAMESPACE, &name))
            .and_then(|l| l.spec.as_ref()?.renew_time.as_ref().map(|t| t.0));
        let ready = ready_status(node).to_string();
        let (silent_for, was_ready) = {
            let mut health = self.health.lock();
            let h = health.entry(name.clone()).or_insert(Health {
                probe: now,
                heartbeat,
                renew,
                ready: None,
            });
            if h.heartbeat != heartbeat || h.renew != renew {
                h.probe = now;
                h.heartbeat = heartbeat;
                h.renew = renew;
            }
            let was = h.ready.replace(ready.clone());
            (now.saturating_duration_since(h.probe), was)
        };
        if was_ready.as_deref() == Some("True") && ready == "False" {
            self.mark_pods_not_ready(&name).await;
        }
        let grace = if condition(node, "Ready").is_some() {
            self.options.grace_period
        } else {
            self.options.startup_grace_period
        };
        if silent_for <= grace {
            return Ok(());
        }
        let mut updated = Node::clone(node);
        let status = updated.status.get_or_insert_with(Default::default);
        let conditions = status.conditions.get_or_insert_with(Vec::new);
        let mut changed = false;
        for type_ in KUBELET_CONDITIONS {
            match conditions.iter_mut().find(|c| c.type_ == type_) {
                Some(c) if c.status != "Unknown" => {
                    c.status = "Unknown".into();
                    c.reason = Some("NodeStatusUnknown".into());
                    c.message = Some("Kubelet stopped posting node status.".into());
                    c.last_transition_time = Some(Time(wall));
                    changed = true;
                }
                Some(_) => {}
                None => {
                    conditions.push(NodeCondition {
                        type_: type_.into(),
                        status: "Unknown".into(),
                        reason: Some("NodeStatusNeverUpdated".into()),
                        message: Some("Kubelet never posted node status.".into()),
                        last_heartbeat_time: Some(Time(wall)),
                        last_transition_time: Some(Time(wall)),
                    });
                    changed = true;
                }
            }
        }
        if !changed {
            return Ok(());
        }
        let api: Api<Node> = Api::all(self.client.clone());
        *node = Arc::new(
            api.replace_status(&name, &PostParams::default(), &updated)
                .await?,
        );
        self.recorder.normal(
            node.as_ref(),
            "NodeNotReady",
            format!("Node {name} status is now: NodeNotReady"),
        );
        if let Some(h) = self.health.lock().get_mut(&name) {
            h.ready = Some("Unknown".into());
        }
        self.mark_pods_not_ready(&name).await;
        Ok(())
    }

    /// Sets the Ready condition of the node's pods to False (upstream
    /// MarkPodsNotReady), so Services stop sending them traffic.
    async fn mark_pods_not_ready(&self, node: &str) {
        let now = Time(crate::clock::now());
        for pod in self.pods.by_index(crate::pod_util::NODE_INDEX, node) {
            if !crate::pod_util::is_ready(&pod) {
                continue;
            }
            let api: Api<Pod> =
                Api::namespaced(self.client.clone(), &pod.namespace().unwrap_or_default());
            let patch = json!({"status": {"conditions": [
                {"type": "Ready", "status": "False", "lastTransitionTime": now}
            ]}});
            if let Err(err) = api
                .patch_status(
                    &pod.name_any(),
                    &PatchParams::default(),
                    &Patch::Strategic(patch),
                )
                .await
            {
                tracing::debug!(pod = %pod.name_any(), %err, "cannot mark pod not ready");
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn reconcile_taints(
        &self,
        node: &Node,
        zone: &str,
        state: ZoneState,
        zone_size: usize,
        all_disrupted: bool,
        now: Instant,
        wall: jiff::Timestamp,
    ) -> Result<(), kube::Error> {
        let current = node
            .spec
            .as_ref()
            .and_then(|s| s.taints.clone())
            .unwrap_or_default();
        let has = |key: &str| {
            current
                .iter()
                .any(|t| t.key == key && t.effect == "NoExecute")
        };
        let wanted = match ready_status(node) {
            "True" => None,
            "False" => Some(NOT_READY),
            _ => Some(UNREACHABLE),
        };
        // Every zone down: the control plane is probably the one cut off;
        // evict nothing and lift the eviction taints.
        let wanted = if all_disrupted { None } else { wanted };
        let no_execute = match wanted {
            Some(key) if has(key) => Some(key),
            Some(key) => {
                let rate = match state {
                    ZoneState::Normal | ZoneState::FullDisruption => self.options.eviction_rate,
                    ZoneState::PartialDisruption
                        if zone_size > self.options.large_cluster_threshold =>
                    {
                        self.options.secondary_eviction_rate
                    }
                    ZoneState::PartialDisruption => 0.0,
                };
                let mut zones = self.zones.lock();
                let bucket = zones
                    .entry(zone.to_string())
                    .or_insert_with(|| TokenBucket::new(rate, now));
                bucket.set_qps(rate, now);
                if bucket.try_take(now) {
                    Some(key)
                } else {
                    // Keep whichever eviction taint is already there.
                    [NOT_READY, UNREACHABLE].into_iter().find(|k| has(k))
                }
            }
            None => None,
        };
        let desired = desired_taints(node, no_execute, wall);
        if same_taints(&current, &desired) {
            return Ok(());
        }
        let mut updated = node.clone();
        updated.spec.get_or_insert_with(Default::default).taints =
            (!desired.is_empty()).then_some(desired);
        let api: Api<Node> = Api::all(self.client.clone());
        api.replace(&node.name_any(), &PostParams::default(), &updated)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{NodeSpec, NodeStatus};

    fn node(ready: &str, taints: Vec<Taint>, unschedulable: bool) -> Node {
        Node {
            spec: Some(NodeSpec {
                taints: Some(taints),
                unschedulable: Some(unschedulable),
                ..Default::default()
            }),
            status: Some(NodeStatus {
                conditions: Some(vec![NodeCondition {
                    type_: "Ready".into(),
                    status: ready.into(),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn taint(key: &str, effect: &str) -> Taint {
        Taint {
            key: key.into(),
            effect: effect.into(),
            ..Default::default()
        }
    }

    fn keys(t: &[Taint]) -> Vec<String> {
        let mut k: Vec<String> = t
            .iter()
            .map(|t| format!("{}:{}", t.key, t.effect))
            .collect();
        k.sort();
        k
    }

    #[test]
    fn taints_follow_conditions_and_keep_foreign_ones() {
        let now = crate::clock::now();
        let n = node(
            "Unknown",
            vec![taint("gpu", "NoSchedule"), taint(NOT_READY, "NoSchedule")],
            false,
        );
        assert_eq!(
            keys(&desired_taints(&n, Some(UNREACHABLE), now)),
            [
                "gpu:NoSchedule",
                "node.kubernetes.io/unreachable:NoExecute",
                "node.kubernetes.io/unreachable:NoSchedule"
            ]
        );
        let healthy = node(
            "True",
            vec![
                taint(UNREACHABLE, "NoExecute"),
                taint(UNREACHABLE, "NoSchedule"),
            ],
            true,
        );
        assert_eq!(
            keys(&desired_taints(&healthy, None, now)),
            ["node.kubernetes.io/unschedulable:NoSchedule"]
        );
        let added = desired_taints(&node("False", vec![], false), Some(NOT_READY), now);
        assert!(added
            .iter()
            .any(|t| t.effect == "NoExecute" && t.time_added.is_some()));
    }
}
