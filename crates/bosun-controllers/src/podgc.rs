//! The pod garbage collector (upstream pkg/controller/podgc). Every 20 s it
//! force-deletes:
//!
//! - the oldest terminated (Succeeded/Failed) pods beyond
//!   `--terminated-pod-gc-threshold` (12,500; 0 turns this off), evicted
//!   pods first;
//! - pods bound to a node that no longer exists: a node missing from the
//!   informer is quarantined for 40 s and then confirmed gone with a GET,
//!   and its pods get a `DisruptionTarget` condition (`DeletionByPodGC`);
//! - terminating pods that were never scheduled;
//! - terminating pods on a not-ready node with the
//!   `node.kubernetes.io/out-of-service` taint.
//!
//! Pods not yet in a terminal phase are marked Failed first, so their
//! owners (Jobs) see a final phase: nobody else would write one when the
//! node is gone.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{DeleteParams, Patch, PatchParams, Preconditions};
use kube::{Api, ResourceExt};
use serde_json::json;
use tokio::time::Instant;

use crate::informer::{InformerFactory, ObjectKey, Store};
use crate::SyncError;

/// Upstream's `--terminated-pod-gc-threshold` default.
pub const DEFAULT_TERMINATED_THRESHOLD: usize = 12_500;
const OUT_OF_SERVICE: &str = "node.kubernetes.io/out-of-service";

#[derive(Debug, Clone)]
pub struct PodGcOptions {
    /// `--terminated-pod-gc-threshold` (0: keep every terminated pod).
    pub terminated_threshold: usize,
    /// Time between passes (upstream's gcCheckPeriod, 20 s).
    pub period: Duration,
    /// How long a node must be missing from the informer before a GET
    /// confirms it is gone (upstream's quarantineTime, 40 s).
    pub quarantine: Duration,
}

impl Default for PodGcOptions {
    fn default() -> Self {
        PodGcOptions {
            terminated_threshold: DEFAULT_TERMINATED_THRESHOLD,
            period: Duration::from_secs(20),
            quarantine: Duration::from_secs(40),
        }
    }
}

pub struct PodGcController {
    client: kube::Client,
    pods: Arc<Store<Pod>>,
    nodes: Arc<Store<Node>>,
    options: PodGcOptions,
}

/// Why a pod is collected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Terminated,
    TerminatingOutOfService,
    Orphaned,
    TerminatingUnscheduled,
}

fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

fn is_terminated(pod: &Pod) -> bool {
    !matches!(phase(pod), "Pending" | "Running" | "Unknown")
}

fn is_evicted(pod: &Pod) -> bool {
    phase(pod) == "Failed"
        && pod.status.as_ref().and_then(|s| s.reason.as_deref()) == Some("Evicted")
}

fn node_ready(node: &Node) -> bool {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"))
        .is_some_and(|c| c.status == "True")
}

/// The pods to collect for every reason but orphaning, in upstream's order
/// within each reason.
pub fn plan(
    pods: &[Arc<Pod>],
    nodes: &Store<Node>,
    terminated_threshold: usize,
) -> Vec<(Arc<Pod>, Reason)> {
    let mut out = Vec::new();
    if terminated_threshold > 0 {
        let mut terminated: Vec<&Arc<Pod>> = pods.iter().filter(|p| is_terminated(p)).collect();
        if terminated.len() > terminated_threshold {
            let excess = terminated.len() - terminated_threshold;
            terminated.sort_by(|a, b| {
                is_evicted(b)
                    .cmp(&is_evicted(a))
                    .then_with(|| {
                        let t = |p: &Pod| p.metadata.creation_timestamp.as_ref().map(|t| t.0);
                        t(a).cmp(&t(b))
                    })
                    .then_with(|| a.name_any().cmp(&b.name_any()))
            });
            out.extend(
                terminated
                    .into_iter()
                    .take(excess)
                    .map(|p| (p.clone(), Reason::Terminated)),
            );
        }
    }
    for pod in pods
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_some())
    {
        match crate::pod_util::node_name(pod) {
            None => out.push((pod.clone(), Reason::TerminatingUnscheduled)),
            Some(node) => {
                let Some(n) = nodes.get(&ObjectKey::new("", node)) else {
                    continue;
                };
                let out_of_service = n
                    .spec
                    .as_ref()
                    .and_then(|s| s.taints.as_ref())
                    .is_some_and(|ts| ts.iter().any(|t| t.key == OUT_OF_SERVICE));
                if out_of_service && !node_ready(&n) {
                    out.push((pod.clone(), Reason::TerminatingOutOfService));
                }
            }
        }
    }
    out
}

impl PodGcController {
    pub fn new(
        client: kube::Client,
        factory: &InformerFactory,
        options: PodGcOptions,
    ) -> Arc<Self> {
        let pods = factory.informer::<Pod>().store();
        crate::pod_util::index_by_node(&pods);
        Arc::new(PodGcController {
            client,
            pods,
            nodes: factory.informer::<Node>().store(),
            options,
        })
    }

    /// Runs a collection pass every period.
    pub async fn run(self: Arc<Self>) {
        let mut quarantine: HashMap<String, Instant> = HashMap::new();
        let mut tick = tokio::time::interval(self.options.period);
        loop {
            tick.tick().await;
            self.gc(&mut quarantine).await;
        }
    }

    async fn gc(&self, quarantine: &mut HashMap<String, Instant>) {
        let pods = self.pods.list();
        let mut doomed = plan(&pods, &self.nodes, self.options.terminated_threshold);
        for node in self.deleted_nodes(quarantine).await {
            let orphans = self.pods.by_index(crate::pod_util::NODE_INDEX, &node);
            doomed.extend(orphans.into_iter().map(|p| (p, Reason::Orphaned)));
        }
        let mut seen = HashSet::new();
        doomed.retain(|(p, _)| seen.insert(ObjectKey::of(p.as_ref())));
        for chunk in doomed.chunks(100) {
            let results = join_all(chunk.iter().map(|(p, r)| self.collect(p, *r))).await;
            for ((pod, reason), result) in chunk.iter().zip(results) {
                match result {
                    Ok(()) => {
                        tracing::info!(pod = %ObjectKey::of(pod.as_ref()), ?reason, "pod garbage collected")
                    }
                    Err(err) => {
                        tracing::debug!(pod = %ObjectKey::of(pod.as_ref()), %err, "cannot collect pod")
                    }
                }
            }
        }
    }

    /// Nodes that pods are bound to, missing from the informer for the
    /// quarantine period, and confirmed gone by the API.
    async fn deleted_nodes(&self, quarantine: &mut HashMap<String, Instant>) -> HashSet<String> {
        let now = Instant::now();
        let missing: HashSet<String> = self
            .pods
            .index_values(crate::pod_util::NODE_INDEX)
            .into_iter()
            .filter(|node| self.nodes.get(&ObjectKey::new("", node)).is_none())
            .collect();
        quarantine.retain(|n, _| missing.contains(n));
        let api: Api<Node> = Api::all(self.client.clone());
        let mut gone = HashSet::new();
        for node in missing {
            let since = *quarantine.entry(node.clone()).or_insert(now);
            if now.duration_since(since) < self.options.quarantine {
                continue;
            }
            match api.get_opt(&node).await {
                Ok(None) => {
                    gone.insert(node);
                }
                Ok(Some(_)) => {}
                Err(err) => tracing::debug!(%node, %err, "cannot check node"),
            }
        }
        gone
    }

    /// Marks `pod` Failed (with the orphan condition) unless it is in a
    /// terminal phase, then deletes it with no grace period.
    async fn collect(&self, pod: &Pod, reason: Reason) -> Result<(), SyncError> {
        let api: Api<Pod> =
            Api::namespaced(self.client.clone(), &pod.namespace().unwrap_or_default());
        let name = pod.name_any();
        if !matches!(phase(pod), "Succeeded" | "Failed") {
            let mut status = json!({"phase": "Failed"});
            if reason == Reason::Orphaned {
                status["conditions"] = json!([{
                    "type": "DisruptionTarget",
                    "status": "True",
                    "reason": "DeletionByPodGC",
                    "message": "PodGC: node no longer exists",
                    "lastTransitionTime": crate::clock::now(),
                }]);
            }
            let patch = json!({"metadata": {"uid": pod.metadata.uid}, "status": status});
            match api
                .patch_status(&name, &PatchParams::default(), &Patch::Strategic(patch))
                .await
            {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 404 => return Ok(()),
                Err(e) => return Err(e.into()),
            }
        }
        let params = DeleteParams {
            grace_period_seconds: Some(0),
            preconditions: Some(Preconditions {
                uid: pod.metadata.uid.clone(),
                resource_version: None,
            }),
            ..Default::default()
        };
        match api.delete(&name, &params).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{
        NodeCondition, NodeSpec, NodeStatus, PodSpec, PodStatus, Taint,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn pod(name: &str, phase: &str, node: &str, age: i64) -> Arc<Pod> {
        let mut p = Pod::default();
        p.metadata.name = Some(name.into());
        p.metadata.namespace = Some("ns".into());
        let now = crate::clock::now();
        p.metadata.creation_timestamp = now
            .checked_sub(jiff::SignedDuration::from_secs(age))
            .ok()
            .map(Time);
        p.spec = Some(PodSpec {
            node_name: (!node.is_empty()).then(|| node.to_string()),
            ..Default::default()
        });
        p.status = Some(PodStatus {
            phase: Some(phase.into()),
            ..Default::default()
        });
        Arc::new(p)
    }

    fn terminating(p: Arc<Pod>) -> Arc<Pod> {
        let mut p = (*p).clone();
        p.metadata.deletion_timestamp = Some(Time(crate::clock::now()));
        Arc::new(p)
    }

    fn node(name: &str, ready: bool, out_of_service: bool) -> Node {
        let mut n = Node::default();
        n.metadata.name = Some(name.into());
        n.spec = Some(NodeSpec {
            taints: out_of_service.then(|| {
                vec![Taint {
                    key: OUT_OF_SERVICE.into(),
                    effect: "NoExecute".into(),
                    ..Default::default()
                }]
            }),
            ..Default::default()
        });
        n.status = Some(NodeStatus {
            conditions: Some(vec![NodeCondition {
                type_: "Ready".into(),
                status: if ready { "True" } else { "False" }.into(),
                ..Default::default()
            }]),
            ..Default::default()
        });
        n
    }

    fn names(plan: &[(Arc<Pod>, Reason)], reason: Reason) -> Vec<String> {
        plan.iter()
            .filter(|(_, r)| *r == reason)
            .map(|(p, _)| p.name_any())
            .collect()
    }

    #[test]
    fn terminated_pods_beyond_the_threshold_go_oldest_and_evicted_first() {
        let nodes = Store::default();
        let mut evicted = (*pod("evicted-young", "Failed", "n", 1)).clone();
        evicted.status.get_or_insert_default().reason = Some("Evicted".into());
        let pods = vec![
            pod("old", "Succeeded", "n", 300),
            pod("older", "Failed", "n", 600),
            pod("young", "Succeeded", "n", 10),
            Arc::new(evicted),
            pod("running", "Running", "n", 900),
        ];
        let p = plan(&pods, &nodes, 2);
        assert_eq!(names(&p, Reason::Terminated), ["evicted-young", "older"]);
        assert!(
            plan(&pods, &nodes, 0).is_empty(),
            "threshold 0 turns it off"
        );
        assert!(plan(&pods, &nodes, 4).is_empty());
    }

    #[test]
    fn terminating_pods_unscheduled_or_on_out_of_service_nodes() {
        let nodes = Store::default();
        nodes.insert(node("down", false, true));
        nodes.insert(node("tainted-but-ready", true, true));
        nodes.insert(node("plain-down", false, false));
        let pods = vec![
            terminating(pod("unscheduled", "Pending", "", 1)),
            terminating(pod("on-down", "Running", "down", 1)),
            terminating(pod("on-ready", "Running", "tainted-but-ready", 1)),
            terminating(pod("on-plain-down", "Running", "plain-down", 1)),
            pod("alive-on-down", "Running", "down", 1),
        ];
        let p = plan(&pods, &nodes, DEFAULT_TERMINATED_THRESHOLD);
        assert_eq!(names(&p, Reason::TerminatingUnscheduled), ["unscheduled"]);
        assert_eq!(names(&p, Reason::TerminatingOutOfService), ["on-down"]);
        assert_eq!(p.len(), 2);
    }
}
