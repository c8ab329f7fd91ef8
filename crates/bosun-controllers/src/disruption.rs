//! The disruption controller: keeps each PodDisruptionBudget's status
//! (expected, healthy and desired pods, disruptions allowed) current so the
//! API server's eviction endpoint can spend it, and forgets evictions it
//! recorded once their pods are gone or two minutes have passed.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::ResourceExt;

use crate::informer::{Change, InformerFactory, ObjectKey, Store};
use crate::workqueue::WorkQueue;
use crate::{pod_util, selector, Reconciler, SyncError};

/// Upstream's DeletionTimeout: an eviction not followed by the pod's
/// deletion within this time stops counting.
const DISRUPTION_TIMEOUT: jiff::SignedDuration = jiff::SignedDuration::from_secs(120);

pub struct DisruptionController {
    client: kube::Client,
    budgets: Arc<Store<PodDisruptionBudget>>,
    pods: Arc<Store<Pod>>,
    replicasets: Arc<Store<ReplicaSet>>,
    deployments: Arc<Store<Deployment>>,
    statefulsets: Arc<Store<StatefulSet>>,
    queue: WorkQueue<ObjectKey>,
}

fn scaled(v: &IntOrString, total: i32) -> i32 {
    match v {
        IntOrString::Int(n) => *n,
        IntOrString::String(s) => {
            let pct: i64 = s.trim_end_matches('%').parse().unwrap_or(0);
            ((i64::from(total) * pct + 99) / 100) as i32
        }
    }
}

impl DisruptionController {
    pub fn new(client: kube::Client, factory: &InformerFactory) -> Arc<Self> {
        let pdb_informer = factory.informer::<PodDisruptionBudget>();
        let pod_informer = factory.informer::<Pod>();
        let this = Arc::new(DisruptionController {
            client,
            budgets: pdb_informer.store(),
            pods: pod_informer.store(),
            replicasets: factory.informer::<ReplicaSet>().store(),
            deployments: factory.informer::<Deployment>().store(),
            statefulsets: factory.informer::<StatefulSet>().store(),
            queue: WorkQueue::new(),
        });
        let queue = this.queue.clone();
        pdb_informer.on_change(move |change| match change {
            Change::Added(p) | Change::Updated { new: p, .. } | Change::Deleted(p) => {
                queue.add(ObjectKey::of(p.as_ref()))
            }
        });
        let budgets = this.budgets.clone();
        let queue = this.queue.clone();
        pod_informer.on_change(move |change| {
            let (old, new) = match change {
                Change::Added(p) | Change::Deleted(p) => (None, p),
                Change::Updated { old, new } => (Some(old), new),
            };
            for pdb in budgets.list_namespace(&new.namespace().unwrap_or_default()) {
                let Some(sel) = pdb.spec.as_ref().and_then(|s| s.selector.as_ref()) else {
                    continue;
                };
                if selector::matches(sel, new.metadata.labels.as_ref())
                    || old.is_some_and(|o| selector::matches(sel, o.metadata.labels.as_ref()))
                {
                    queue.add(ObjectKey::of(pdb.as_ref()));
                }
            }
        });
        this
    }

    pub fn queue(&self) -> WorkQueue<ObjectKey> {
        self.queue.clone()
    }

    /// The scale of the controller owning `pod`: (owner uid, replicas).
    fn controller_scale(&self, pod: &Pod) -> Option<(String, i32)> {
        let r = pod
            .metadata
            .owner_references
            .iter()
            .flatten()
            .find(|r| r.controller == Some(true))?;
        let ns = pod.namespace().unwrap_or_default();
        match r.kind.as_str() {
            "ReplicaSet" => {
                let rs = self.replicasets.get(&ObjectKey::new(&ns, &r.name))?;
                let owner = rs
                    .metadata
                    .owner_references
                    .iter()
                    .flatten()
                    .find(|o| o.controller == Some(true) && o.kind == "Deployment");
                if let Some(o) = owner {
                    let d = self.deployments.get(&ObjectKey::new(&ns, &o.name))?;
                    return Some((o.uid.clone(), d.spec.as_ref()?.replicas.unwrap_or(1)));
                }
                Some((r.uid.clone(), rs.spec.as_ref()?.replicas.unwrap_or(1)))
            }
            "StatefulSet" => {
                let s = self.statefulsets.get(&ObjectKey::new(&ns, &r.name))?;
                Some((r.uid.clone(), s.spec.as_ref()?.replicas.unwrap_or(1)))
            }
            _ => None,
        }
    }

    fn status(
        &self,
        pdb: &PodDisruptionBudget,
        now: jiff::Timestamp,
    ) -> (PodDisruptionBudgetStatus, Option<Duration>) {
        let ns = pdb.namespace().unwrap_or_default();
        let spec = pdb.spec.clone().unwrap_or_default();
        let pods: Vec<Arc<Pod>> = match &spec.selector {
            Some(sel) => self
                .pods
                .list_namespace(&ns)
                .into_iter()
                .filter(|p| selector::matches(sel, p.metadata.labels.as_ref()))
                .collect(),
            None => Vec::new(),
        };
        let previous = pdb.status.clone().unwrap_or_default();
        // Evictions still in flight: the pod exists, is not deleted yet and
        // the eviction is recent.
        let mut disrupted: BTreeMap<String, Time> = BTreeMap::new();
        let mut recheck: Option<Duration> = None;
        for (name, at) in previous.disrupted_pods.clone().unwrap_or_default() {
            let pod = pods.iter().find(|p| p.name_any() == name);
            let expires = at.0.checked_add(DISRUPTION_TIMEOUT).unwrap_or(at.0);
            if pod.is_some_and(|p| p.metadata.deletion_timestamp.is_none()) && expires > now {
                let left = expires.duration_since(now).unsigned_abs();
                recheck = Some(recheck.map_or(left, |r| r.min(left)));
                disrupted.insert(name, at);
            }
        }
        let healthy = pods
            .iter()
            .filter(|p| {
                p.metadata.deletion_timestamp.is_none()
                    && pod_util::is_ready(p)
                    && !disrupted.contains_key(&p.name_any())
            })
            .count() as i32;
        let (expected, desired, failure) = match (&spec.min_available, &spec.max_unavailable) {
            (Some(IntOrString::Int(n)), None) => (pods.len() as i32, *n, None),
            (min, max) => {
                let mut scales: HashMap<String, i32> = HashMap::new();
                let mut missing = None;
                for p in &pods {
                    // Unmanaged pods count as healthy but expect nothing
                    // (upstream only records an UnmanagedPods event).
                    if crate::informer::controller_uid(p.as_ref()).is_none() {
                        continue;
                    }
                    match self.controller_scale(p) {
                        Some((uid, n)) => {
                            scales.insert(uid, n);
                        }
                        None => missing = Some(p.name_any()),
                    }
                }
                let expected: i32 = scales.values().sum();
                let desired = match (min, max) {
                    (Some(m), _) => scaled(m, expected),
                    (None, Some(m)) => (expected - scaled(m, expected)).max(0),
                    (None, None) => 0,
                };
                (expected, desired, missing)
            }
        };
        let mut allowed = (healthy - desired).max(0);
        if expected <= 0 || failure.is_some() {
            allowed = 0;
        }
        let (cond_status, reason, message) = match &failure {
            Some(pod) => (
                "False",
                "SyncFailed",
                format!("found no controllers for pod {pod:?}"),
            ),
            None if allowed > 0 => ("True", "SufficientPods", String::new()),
            None => ("False", "InsufficientPods", String::new()),
        };
        let old_cond = previous
            .conditions
            .iter()
            .flatten()
            .find(|c| c.type_ == "DisruptionAllowed");
        let transition = match old_cond {
            Some(c) if c.status == cond_status => c.last_transition_time.clone(),
            _ => Time(now),
        };
        let condition = Condition {
            type_: "DisruptionAllowed".into(),
            status: cond_status.into(),
            reason: reason.into(),
            message,
            observed_generation: pdb.metadata.generation,
            last_transition_time: transition,
        };
        let status = PodDisruptionBudgetStatus {
            current_healthy: healthy,
            desired_healthy: desired,
            expected_pods: expected,
            disruptions_allowed: allowed,
            observed_generation: pdb.metadata.generation,
            disrupted_pods: (!disrupted.is_empty()).then_some(disrupted),
            conditions: Some(vec![condition]),
        };
        (status, recheck)
    }
}

#[async_trait]
impl Reconciler for DisruptionController {
    const NAME: &'static str = "disruption";

    async fn sync(&self, key: &ObjectKey) -> Result<(), SyncError> {
        let Some(pdb) = self.budgets.get(key) else {
            return Ok(());
        };
        let (status, recheck) = self.status(&pdb, crate::clock::now());
        if let Some(after) = recheck {
            self.queue
                .add_after(key.clone(), after + Duration::from_millis(100));
        }
        if pdb.status.as_ref() == Some(&status) {
            return Ok(());
        }
        let mut updated = (*pdb).clone();
        updated.status = Some(status);
        crate::write_status(&self.client, &updated).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_round_up() {
        assert_eq!(scaled(&IntOrString::String("50%".into()), 3), 2);
        assert_eq!(scaled(&IntOrString::String("10%".into()), 5), 1);
        assert_eq!(scaled(&IntOrString::Int(2), 10), 2);
    }
}
