//! The ReplicaSet controller (upstream pkg/controller/replicaset): keeps
//! `spec.replicas` active pods matching the selector, adopting orphans and
//! releasing pods that stop matching; deletes the least valuable pods
//! first; never creates twice for one slow watch (expectations). A sync
//! re-examines only the pods that changed since the last one ([`owned`]).

mod owned;

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures::future::join_all;
use k8s_openapi::api::apps::v1::{ReplicaSet, ReplicaSetCondition, ReplicaSetStatus};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::DeleteParams;
use kube::{Api, ResourceExt};

use crate::controller_ref::{self, Claim};
use crate::events::Recorder;
use crate::expectations::Expectations;
use crate::informer::{Change, InformerFactory, ObjectKey, Store};
use crate::pod_util;
use crate::slow_start::{slow_start, BatchResult};
use crate::workqueue::WorkQueue;
use crate::{Reconciler, SyncError};
use owned::{Counts, OwnedPods, OwnedViews, PodSummary, Scope};

/// Upstream's BurstReplicas: at most this many creations or deletions per
/// sync.
pub const BURST_REPLICAS: usize = 500;

/// How long pod status changes wait to be folded into one sync: a
/// ReplicaSet of 100,000 pods sees hundreds of pod updates per second and
/// each sync looks at all of its pods, so the wait grows with the set
/// (10 µs per pod, 10 ms to 1 s), which bounds the share of a core one
/// ReplicaSet's status upkeep can take.
fn status_batch(pods: usize) -> Duration {
    Duration::from_micros(10 * pods as u64).clamp(Duration::from_millis(10), Duration::from_secs(1))
}

pub struct ReplicaSetController {
    client: kube::Client,
    replicasets: Arc<Store<ReplicaSet>>,
    pods: Arc<Store<Pod>>,
    expectations: Arc<Expectations>,
    /// Per ReplicaSet, how wide its next burst of creations starts: how
    /// many its last burst created when none failed (absent: 1, as
    /// upstream's slow start).
    warm: Mutex<HashMap<ObjectKey, usize>>,
    views: OwnedViews,
    queue: WorkQueue<ObjectKey>,
    recorder: Recorder,
}

impl ReplicaSetController {
    /// Registers the controller's informer handlers; run the returned
    /// controller with [`crate::run_workers`] on [`Self::queue`].
    pub fn new(client: kube::Client, factory: &InformerFactory, recorder: Recorder) -> Arc<Self> {
        let rs_informer = factory.informer::<ReplicaSet>();
        let pod_informer = factory.informer::<Pod>();
        let this = Arc::new(ReplicaSetController {
            client,
            replicasets: rs_informer.store(),
            pods: pod_informer.store(),
            expectations: Arc::new(Expectations::new()),
            warm: Mutex::default(),
            views: OwnedViews::default(),
            queue: WorkQueue::new(),
            recorder,
        });
        let queue = this.queue.clone();
        rs_informer.on_change(move |change| match change {
            Change::Added(rs) | Change::Updated { new: rs, .. } | Change::Deleted(rs) => {
                queue.add(ObjectKey::of(rs.as_ref()))
            }
        });
        let handler = Arc::downgrade(&this);
        pod_informer.on_change(move |change| {
            if let Some(c) = handler.upgrade() {
                c.pod_changed(change);
            }
        });
        this
    }

    pub fn queue(&self) -> WorkQueue<ObjectKey> {
        self.queue.clone()
    }

    /// The ReplicaSet a pod's controller reference names, if it exists
    /// with that uid.
    fn owner_of(&self, pod: &Pod) -> Option<Arc<ReplicaSet>> {
        controller_ref::resolve(&self.replicasets, pod)
    }

    fn enqueue_matching(&self, pod: &Pod) {
        let ns = pod.namespace().unwrap_or_default();
        for rs in self.replicasets.list_namespace(&ns) {
            let Some(spec) = &rs.spec else { continue };
            if !crate::selector::is_empty(&spec.selector)
                && crate::selector::matches(&spec.selector, pod.metadata.labels.as_ref())
            {
                self.queue.add(ObjectKey::of(rs.as_ref()));
            }
        }
    }

    /// Enqueues a status refresh after the set's batch period.
    fn enqueue_batched(&self, rs: &ReplicaSet, key: ObjectKey) {
        let uid = rs.metadata.uid.as_deref().unwrap_or_default();
        let n = self.pods.count_controlled_by(uid);
        self.queue.add_after(key, status_batch(n));
    }

    fn pod_deleted(&self, pod: &Pod) {
        if let Some(rs) = self.owner_of(pod) {
            let key = ObjectKey::of(rs.as_ref());
            self.expectations
                .deletion_observed(&key, &ObjectKey::of(pod));
            self.queue.add(key);
        }
    }

    fn pod_changed(&self, change: &Change<'_, Pod>) {
        match change {
            Change::Added(pod) | Change::Deleted(pod) => self.views.mark(pod),
            Change::Updated { old, new } => {
                self.views.mark(old);
                self.views.mark(new);
            }
        }
        match change {
            Change::Added(pod) => {
                if pod.metadata.deletion_timestamp.is_some() {
                    self.pod_deleted(pod);
                } else if let Some(rs) = self.owner_of(pod) {
                    let key = ObjectKey::of(rs.as_ref());
                    self.expectations.creation_observed(&key);
                    if self.expectations.satisfied(&key) {
                        self.queue.add(key);
                    } else {
                        // More creations to observe before the next sync
                        // can act; refresh status meanwhile, batched.
                        self.enqueue_batched(&rs, key);
                    }
                } else if controller_ref_of(pod).is_none() {
                    self.enqueue_matching(pod);
                }
            }
            Change::Updated { old, new } => {
                let labels_changed = old.metadata.labels != new.metadata.labels;
                if new.metadata.deletion_timestamp.is_some() {
                    self.pod_deleted(new);
                    if labels_changed {
                        self.pod_deleted(old);
                    }
                    return;
                }
                let old_ref = controller_ref_of(old);
                let new_ref = controller_ref_of(new);
                if old_ref != new_ref {
                    if let Some(rs) = self.owner_of(old) {
                        self.queue.add(ObjectKey::of(rs.as_ref()));
                    }
                }
                if let Some(rs) = self.owner_of(new) {
                    let key = ObjectKey::of(rs.as_ref());
                    let min_ready = rs
                        .spec
                        .as_ref()
                        .and_then(|s| s.min_ready_seconds)
                        .unwrap_or(0);
                    if min_ready > 0 && !pod_util::is_ready(old) && pod_util::is_ready(new) {
                        // Recheck availability once the pod has been ready
                        // long enough.
                        self.queue
                            .add_after(key.clone(), Duration::from_secs(min_ready as u64 + 1));
                    }
                    if labels_changed || old_ref != new_ref {
                        self.queue.add(key);
                    } else {
                        // Status churn (scheduled, running, ready): one
                        // sync per batch period, not one per pod update.
                        self.enqueue_batched(&rs, key);
                    }
                } else if new_ref.is_none() && (labels_changed || old_ref != new_ref) {
                    self.enqueue_matching(new);
                }
            }
            Change::Deleted(pod) => self.pod_deleted(pod),
        }
    }

    /// The active pods this ReplicaSet owns after adopting and releasing:
    /// its view, brought up to date by examining the pods that changed
    /// since the last sync (all of them when there is no view) and the
    /// namespace's orphans.
    async fn claim_pods(&self, key: &ObjectKey, rs: &ReplicaSet) -> Result<OwnedPods, SyncError> {
        let spec = rs.spec.as_ref();
        let selector = spec.map(|s| s.selector.clone()).unwrap_or_default();
        let uid = rs.metadata.uid.clone().unwrap_or_default();
        let (mut view, mut candidates) = match self.views.take(key, rs) {
            Scope::Full(view) => (view, self.pods.controlled_by(&uid)),
            Scope::Dirty(mut view, dirty) => {
                let mut changed = Vec::with_capacity(dirty.len());
                for name in dirty {
                    match self.pods.get(&ObjectKey::new(&key.namespace, &name)) {
                        Some(pod) => changed.push(pod),
                        None => {
                            view.pods.remove(&name);
                        }
                    }
                }
                (view, changed)
            }
        };
        candidates.extend(self.pods.uncontrolled_in(&key.namespace));
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &key.namespace);
        for pod in candidates {
            let name = pod.name_any();
            if !pod_util::is_active(&pod) {
                view.pods.remove(&name);
                continue;
            }
            match controller_ref::classify(rs, &selector, pod.as_ref()) {
                Claim::Owned => {
                    view.pods.insert(name, PodSummary::of(rs, &pod));
                }
                Claim::Adopt if !crate::selector::is_empty(&selector) => {
                    match controller_ref::adopt(&api, rs, pod.as_ref()).await {
                        Ok(p) => {
                            view.pods.insert(name, PodSummary::of(rs, &p));
                        }
                        Err(kube::Error::Api(s)) if s.code == 404 || s.code == 422 => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                Claim::Release => {
                    view.pods.remove(&name);
                    controller_ref::release(&api, rs, pod.as_ref()).await?
                }
                Claim::Adopt | Claim::Ignore => {
                    view.pods.remove(&name);
                }
            }
        }
        Ok(view)
    }

    fn warm_start(&self, key: &ObjectKey) -> usize {
        let warm = self.warm.lock().unwrap_or_else(|e| e.into_inner());
        warm.get(key).copied().unwrap_or(1)
    }

    /// A burst without failures lets the next one start as wide as this
    /// one grew; a failure starts the next one from a single call again.
    fn remember_start<T>(&self, key: &ObjectKey, created: &BatchResult<T>) {
        let mut warm = self.warm.lock().unwrap_or_else(|e| e.into_inner());
        if created.error.is_none() && created.succeeded > 0 {
            warm.insert(key.clone(), created.succeeded);
        } else {
            warm.remove(key);
        }
    }

    /// The owned pods themselves (for choosing whom to delete).
    fn owned_pods(&self, key: &ObjectKey, view: &OwnedPods) -> Vec<Arc<Pod>> {
        view.pods
            .keys()
            .filter_map(|name| self.pods.get(&ObjectKey::new(&key.namespace, name)))
            .collect()
    }

    async fn manage_replicas(
        &self,
        key: &ObjectKey,
        rs: &ReplicaSet,
        view: &OwnedPods,
    ) -> Result<(), SyncError> {
        let Some(spec) = rs.spec.as_ref() else {
            return Ok(());
        };
        let want = spec.replicas.unwrap_or(1).max(0) as usize;
        let have = view.pods.len();
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &key.namespace);
        if have < want {
            let n = (want - have).min(BURST_REPLICAS);
            // Encoded before anything is expected: a failure has nothing to
            // take back.
            let body = spec
                .template
                .as_ref()
                .map(|template| {
                    let owner = controller_ref::controller_reference(rs);
                    let pod =
                        pod_util::pod_from_template(template, &key.namespace, &key.name, owner);
                    pod_util::encode_pod(&pod)
                })
                .transpose()?;
            self.expectations.expect_creations(key, n);
            let Some(body) = body else {
                return Ok(());
            };
            let initial = self.warm_start(key);
            let created = slow_start(n, initial, |_| {
                pod_util::create_pod(&self.client, &key.namespace, &body)
            })
            .await;
            self.remember_start(key, &created);
            for _ in created.succeeded..n {
                // Never created, so never observed.
                self.expectations.creation_observed(key);
            }
            for name in &created.pods {
                self.recorder
                    .normal(rs, "SuccessfulCreate", format!("Created pod: {name}"));
            }
            if let Some(err) = created.error {
                self.recorder
                    .warning(rs, "FailedCreate", format!("Error creating: {err}"));
                return Err(err.into());
            }
        } else if have > want {
            let n = (have - want).min(BURST_REPLICAS);
            let pods = self.owned_pods(key, view);
            let victims = pods_to_delete(&pods, n, crate::clock::now());
            self.expectations
                .expect_deletions(key, victims.iter().map(|p| ObjectKey::of(p.as_ref())));
            let results = join_all(victims.iter().map(|p| {
                let api = api.clone();
                let name = p.name_any();
                async move {
                    (
                        name.clone(),
                        api.delete(&name, &DeleteParams::default()).await,
                    )
                }
            }))
            .await;
            let mut first_error = None;
            for (name, result) in results {
                match result {
                    Ok(_) => {
                        self.recorder
                            .normal(rs, "SuccessfulDelete", format!("Deleted pod: {name}"))
                    }
                    Err(kube::Error::Api(s)) if s.code == 404 => {
                        self.expectations
                            .deletion_observed(key, &ObjectKey::new(&key.namespace, &name));
                    }
                    Err(e) => {
                        self.expectations
                            .deletion_observed(key, &ObjectKey::new(&key.namespace, &name));
                        self.recorder
                            .warning(rs, "FailedDelete", format!("Error deleting: {e}"));
                        first_error.get_or_insert(e);
                    }
                }
            }
            if let Some(e) = first_error {
                return Err(e.into());
            }
        }
        Ok(())
    }

    async fn update_status(
        &self,
        rs: &ReplicaSet,
        status: ReplicaSetStatus,
    ) -> Result<(), SyncError> {
        if rs.status.as_ref() == Some(&status) {
            return Ok(());
        }
        let mut updated = rs.clone();
        updated.status = Some(status);
        crate::write_status(&self.client, &updated).await
    }
}

fn controller_ref_of(pod: &Pod) -> Option<&str> {
    crate::informer::controller_uid(pod)
}

/// Orders pods from most to least deletable, as upstream's
/// ActivePodsWithRanks: unassigned before assigned, Pending before Unknown
/// before Running, not ready before ready, lower
/// `controller.kubernetes.io/pod-deletion-cost` first, more pods of the
/// set on the same node first, ready for less time first, more restarts
/// first, newer first.
pub fn pods_to_delete(pods: &[Arc<Pod>], n: usize, now: jiff::Timestamp) -> Vec<Arc<Pod>> {
    let mut per_node: HashMap<&str, usize> = HashMap::new();
    for p in pods {
        if let Some(node) = p.spec.as_ref().and_then(|s| s.node_name.as_deref()) {
            *per_node.entry(node).or_default() += 1;
        }
    }
    let rank = |p: &Pod| {
        p.spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .and_then(|n| per_node.get(n).copied())
            .unwrap_or(0)
    };
    let mut ranked: Vec<&Arc<Pod>> = pods.iter().collect();
    ranked.sort_by(|a, b| deletion_order(a, b, rank(a), rank(b), now));
    ranked.into_iter().take(n).cloned().collect()
}

fn deletion_order(
    a: &Pod,
    b: &Pod,
    rank_a: usize,
    rank_b: usize,
    now: jiff::Timestamp,
) -> Ordering {
    let assigned = |p: &Pod| {
        p.spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .is_some_and(|n| !n.is_empty())
    };
    let phase = |p: &Pod| match p.status.as_ref().and_then(|s| s.phase.as_deref()) {
        Some("Pending") => 0,
        Some("Unknown") => 1,
        Some("Running") => 2,
        _ => 0,
    };
    let cost = |p: &Pod| {
        p.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get("controller.kubernetes.io/pod-deletion-cost"))
            .and_then(|v| v.parse::<i32>().ok())
            .unwrap_or(0)
    };
    let created = |p: &Pod| p.metadata.creation_timestamp.as_ref().map(|t| t.0);
    assigned(a)
        .cmp(&assigned(b))
        .then(phase(a).cmp(&phase(b)))
        .then(pod_util::is_ready(a).cmp(&pod_util::is_ready(b)))
        .then(cost(a).cmp(&cost(b)))
        .then(rank_b.cmp(&rank_a))
        .then_with(|| {
            // Ready for less time first (both ready).
            match (pod_util::ready_since(a), pod_util::ready_since(b)) {
                (Some(x), Some(y)) => log_age(x, now).cmp(&log_age(y, now)),
                _ => Ordering::Equal,
            }
        })
        .then(pod_util::max_restarts(b).cmp(&pod_util::max_restarts(a)))
        .then_with(|| match (created(a), created(b)) {
            (Some(x), Some(y)) => log_age(x, now).cmp(&log_age(y, now)),
            _ => Ordering::Equal,
        })
        .then_with(|| a.metadata.uid.cmp(&b.metadata.uid))
}

/// Upstream's LogarithmicScaleDown: ages compare by the power of two of
/// their seconds, so pods created close together count as the same age.
fn log_age(t: jiff::Timestamp, now: jiff::Timestamp) -> u32 {
    let secs = now.duration_since(t).as_secs().max(1) as u64;
    63 - secs.leading_zeros()
}

fn compute_status(
    rs: &ReplicaSet,
    counts: Counts,
    manage_error: Option<&SyncError>,
    now: jiff::Timestamp,
) -> ReplicaSetStatus {
    let spec = rs.spec.as_ref();
    let mut conditions: Vec<ReplicaSetCondition> = rs
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    let has_failure = conditions.iter().any(|c| c.type_ == "ReplicaFailure");
    match manage_error {
        Some(err) if !has_failure => {
            let want = spec.and_then(|s| s.replicas).unwrap_or(1) as usize;
            let reason = if counts.replicas < want {
                "FailedCreate"
            } else {
                "FailedDelete"
            };
            conditions.push(ReplicaSetCondition {
                type_: "ReplicaFailure".into(),
                status: "True".into(),
                reason: Some(reason.into()),
                message: Some(err.to_string()),
                last_transition_time: Some(Time(now)),
            });
        }
        None if has_failure => conditions.retain(|c| c.type_ != "ReplicaFailure"),
        _ => {}
    }
    let nonzero = |n: usize| (n > 0).then_some(n as i32);
    ReplicaSetStatus {
        replicas: counts.replicas as i32,
        fully_labeled_replicas: nonzero(counts.fully_labeled),
        ready_replicas: nonzero(counts.ready),
        available_replicas: nonzero(counts.available),
        observed_generation: rs.metadata.generation,
        conditions: (!conditions.is_empty()).then_some(conditions),
    }
}

#[async_trait]
impl Reconciler for ReplicaSetController {
    const NAME: &'static str = "replicaset";

    async fn sync(&self, key: &ObjectKey) -> Result<(), SyncError> {
        let Some(rs) = self.replicasets.get(key) else {
            self.expectations.forget(key);
            self.views.forget(key);
            self.warm
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(key);
            return Ok(());
        };
        let needs_sync = self.expectations.satisfied(key);
        let view = self.claim_pods(key, &rs).await?;
        let manage = if needs_sync && rs.metadata.deletion_timestamp.is_none() {
            self.manage_replicas(key, &rs, &view).await
        } else {
            Ok(())
        };
        let now = crate::clock::now();
        let min_ready = rs
            .spec
            .as_ref()
            .and_then(|s| s.min_ready_seconds)
            .unwrap_or(0);
        let counts = view.counts(min_ready, now);
        let status = compute_status(&rs, counts, manage.as_ref().err(), now);
        let wait = view.next_available(min_ready, now);
        self.views.put(key.clone(), view);
        let (ready, available, replicas) = (
            status.ready_replicas.unwrap_or(0),
            status.available_replicas.unwrap_or(0),
            rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
        );
        self.update_status(&rs, status).await?;
        if min_ready > 0 && ready == replicas && available != replicas {
            let wait = wait.unwrap_or(Duration::from_secs(min_ready as u64));
            self.queue
                .add_after(key.clone(), wait + Duration::from_millis(100));
        }
        manage
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodCondition, PodSpec, PodStatus};

    fn pod(name: &str, node: Option<&str>, phase: &str, ready: bool, age_secs: i64) -> Arc<Pod> {
        let now = crate::clock::now();
        let created = now
            .checked_sub(jiff::SignedDuration::from_secs(age_secs))
            .unwrap_or(now);
        let mut p = Pod::default();
        p.metadata.name = Some(name.into());
        p.metadata.uid = Some(name.into());
        p.metadata.creation_timestamp = Some(Time(created));
        p.spec = Some(PodSpec {
            node_name: node.map(String::from),
            ..Default::default()
        });
        p.status = Some(PodStatus {
            phase: Some(phase.into()),
            conditions: Some(vec![PodCondition {
                type_: "Ready".into(),
                status: if ready { "True" } else { "False" }.into(),
                last_transition_time: Some(Time(created)),
                ..Default::default()
            }]),
            ..Default::default()
        });
        Arc::new(p)
    }

    fn names(pods: &[Arc<Pod>]) -> Vec<String> {
        pods.iter().map(|p| p.name_any()).collect()
    }

    #[test]
    fn status_batching_grows_with_the_set() {
        assert_eq!(status_batch(3), Duration::from_millis(10));
        assert_eq!(status_batch(10_000), Duration::from_millis(100));
        assert_eq!(status_batch(1_000_000), Duration::from_secs(1));
    }

    #[test]
    fn least_valuable_pods_go_first() {
        let now = crate::clock::now();
        let pods = vec![
            pod("running-ready-old", Some("n1"), "Running", true, 10_000),
            pod("running-ready-new", Some("n2"), "Running", true, 10),
            pod("unassigned", None, "Pending", false, 5),
            pod("pending", Some("n3"), "Pending", false, 5),
            pod("not-ready", Some("n4"), "Running", false, 5),
        ];
        assert_eq!(
            names(&pods_to_delete(&pods, 5, now)),
            [
                "unassigned",
                "pending",
                "not-ready",
                "running-ready-new",
                "running-ready-old"
            ]
        );
        assert_eq!(
            names(&pods_to_delete(&pods, 2, now)),
            ["unassigned", "pending"]
        );
    }

    #[test]
    fn doubled_up_nodes_lose_pods_first() {
        let now = crate::clock::now();
        let pods = vec![
            pod("alone", Some("n1"), "Running", true, 100),
            pod("crowded-a", Some("n2"), "Running", true, 100),
            pod("crowded-b", Some("n2"), "Running", true, 100),
        ];
        let first = pods_to_delete(&pods, 1, now);
        assert!(first[0].name_any().starts_with("crowded"));
    }

    #[test]
    fn status_counts_ready_and_available() {
        let now = crate::clock::now();
        let mut rs = ReplicaSet::default();
        rs.metadata.generation = Some(3);
        rs.spec = Some(k8s_openapi::api::apps::v1::ReplicaSetSpec {
            replicas: Some(3),
            min_ready_seconds: Some(60),
            ..Default::default()
        });
        let pods = [
            pod("a", Some("n"), "Running", true, 600),
            pod("b", Some("n"), "Running", true, 5),
            pod("c", Some("n"), "Pending", false, 5),
        ];
        let summaries: Vec<_> = pods.iter().map(|p| PodSummary::of(&rs, p)).collect();
        let counts = Counts::of(&summaries, 60, now);
        let s = compute_status(&rs, counts, None, now);
        assert_eq!(s.replicas, 3);
        assert_eq!(s.ready_replicas, Some(2));
        assert_eq!(s.available_replicas, Some(1));
        assert_eq!(s.observed_generation, Some(3));
        assert!(s.conditions.is_none());
    }
}
