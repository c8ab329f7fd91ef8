//! The DaemonSet controller (upstream pkg/controller/daemon): one daemon
//! pod on every eligible node (template nodeName, nodeSelector, required
//! node affinity, taints against the template's tolerations plus the ones
//! every daemon pod gets), placed by the default scheduler through a
//! required `matchFields metadata.name In [node]` affinity; RollingUpdate
//! (maxSurge/maxUnavailable) or OnDelete; ControllerRevisions for
//! `kubectl rollout history|undo`; and the status `kubectl rollout status`
//! reads.
//!
//! Nodes that are deleted: upstream's pod garbage collector removes their
//! pods, and nothing here does that yet. Their pods are neither counted in
//! the status nor replaced, and never hold a rolling update back; a pod
//! never bound to a node that is gone is deleted, as upstream.

mod history;
mod update;
pub mod util;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

use async_trait::async_trait;
use futures::future::join_all;
use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{DeleteParams, PostParams};
use kube::{Api, ResourceExt};
use parking_lot::Mutex;

use crate::controller_ref::{self, Claim};
use crate::events::Recorder;
use crate::expectations::Expectations;
use crate::informer::{controller_uid, Change, InformerFactory, ObjectKey, Store};
use crate::pod_util;
use crate::slow_start::slow_start;
use crate::workqueue::WorkQueue;
use crate::{Reconciler, SyncError};

pub use history::{hash_of, patch as revision_patch, revision_name};

/// Upstream's BurstReplicas for DaemonSets: at most this many creations
/// or deletions per sync.
pub const BURST_REPLICAS: usize = 250;

const BACKOFF_GC_INTERVAL: Duration = Duration::from_secs(60);

pub struct DaemonSetController {
    client: kube::Client,
    daemonsets: Arc<Store<DaemonSet>>,
    pods: Arc<Store<Pod>>,
    nodes: Arc<Store<Node>>,
    revisions: Arc<Store<ControllerRevision>>,
    expectations: Arc<Expectations>,
    queue: WorkQueue<ObjectKey>,
    recorder: Recorder,
    failed_pods_backoff: util::Backoff,
    last_backoff_gc: Mutex<Instant>,
}

/// Daemon pods by the node they are for.
type NodePods = HashMap<String, Vec<Arc<Pod>>>;

fn is_terminal(p: &Pod) -> bool {
    matches!(
        p.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded") | Some("Failed")
    )
}

/// Groups pods by target node (upstream getNodesToDaemonPods). Terminal
/// pods being deleted are left out unless `include_deleted_terminal`.
fn group_by_node(pods: &[Arc<Pod>], include_deleted_terminal: bool) -> NodePods {
    let mut out: NodePods = HashMap::new();
    for p in pods {
        if !include_deleted_terminal && is_terminal(p) && p.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let Some(node) = util::target_node_name(p) else {
            tracing::debug!(pod = %p.name_any(), "daemon pod without a target node");
            continue;
        };
        out.entry(node).or_default().push(p.clone());
    }
    out
}

/// The status counters (upstream updateDaemonSetStatus).
#[derive(Debug, Default, PartialEq, Eq, Clone, Copy)]
pub struct Counts {
    pub desired: i32,
    pub current: i32,
    pub misscheduled: i32,
    pub ready: i32,
    pub updated: i32,
    pub available: i32,
    pub unavailable: i32,
}

/// Counts over existing nodes only: a deleted node's pods do not count.
/// Each node's oldest pod stands for it.
pub fn compute_counts(
    ds: &DaemonSet,
    nodes: &HashMap<String, Arc<Node>>,
    node_pods: &NodePods,
    hash: &str,
    now: jiff::Timestamp,
) -> Counts {
    let mut c = Counts::default();
    let min_ready = ds
        .spec
        .as_ref()
        .and_then(|s| s.min_ready_seconds)
        .unwrap_or(0);
    let generation = util::template_generation(ds);
    for (name, node) in nodes {
        let (should_run, _) = util::node_should_run(node, ds);
        let pods = node_pods.get(name).filter(|p| !p.is_empty());
        if !should_run {
            if pods.is_some() {
                c.misscheduled += 1;
            }
            continue;
        }
        c.desired += 1;
        let Some(pods) = pods else { continue };
        c.current += 1;
        let mut sorted: Vec<&Arc<Pod>> = pods.iter().collect();
        sorted.sort_by(|a, b| util::by_creation_and_phase(a, b));
        let pod = sorted[0];
        if pod_util::is_ready(pod) {
            c.ready += 1;
            if pod_util::is_available(pod, min_ready, now) {
                c.available += 1;
            }
        }
        if util::is_pod_updated(pod, hash, generation) {
            c.updated += 1;
        }
    }
    c.unavailable = c.desired - c.available;
    c
}

impl DaemonSetController {
    /// Registers the controller's informer handlers; run it with
    /// [`crate::run_workers`] on [`Self::queue`].
    pub fn new(client: kube::Client, factory: &InformerFactory, recorder: Recorder) -> Arc<Self> {
        let ds_informer = factory.informer::<DaemonSet>();
        let pod_informer = factory.informer::<Pod>();
        let node_informer = factory.informer::<Node>();
        let cr_informer = factory.informer::<ControllerRevision>();
        let this = Arc::new(DaemonSetController {
            client,
            daemonsets: ds_informer.store(),
            pods: pod_informer.store(),
            nodes: node_informer.store(),
            revisions: cr_informer.store(),
            expectations: Arc::new(Expectations::new()),
            queue: WorkQueue::new(),
            recorder,
            failed_pods_backoff: util::Backoff::default(),
            last_backoff_gc: Mutex::new(Instant::now()),
        });
        let weak = Arc::downgrade(&this);
        ds_informer.on_change(move |change| {
            let Some(c) = weak.upgrade() else { return };
            match change {
                Change::Added(ds) | Change::Updated { new: ds, .. } => {
                    c.queue.add(ObjectKey::of(ds.as_ref()))
                }
                Change::Deleted(ds) => {
                    let key = ObjectKey::of(ds.as_ref());
                    c.expectations.forget(&key);
                    c.queue.add(key);
                }
            }
        });
        let weak = Arc::downgrade(&this);
        pod_informer.on_change(move |change| {
            if let Some(c) = weak.upgrade() {
                c.pod_changed(change);
            }
        });
        let weak = Arc::downgrade(&this);
        node_informer.on_change(move |change| {
            if let Some(c) = weak.upgrade() {
                c.node_changed(change);
            }
        });
        let weak = Arc::downgrade(&this);
        cr_informer.on_change(move |change| {
            if let Some(c) = weak.upgrade() {
                c.revision_changed(change);
            }
        });
        this
    }

    pub fn queue(&self) -> WorkQueue<ObjectKey> {
        self.queue.clone()
    }

    fn enqueue(&self, ds: &DaemonSet) {
        self.queue.add(ObjectKey::of(ds));
    }

    /// The DaemonSet a controller reference names, if it exists with that
    /// uid (upstream resolveControllerRef).
    fn resolve<K: kube::Resource>(&self, obj: &K) -> Option<Arc<DaemonSet>> {
        controller_ref::resolve(&self.daemonsets, obj)
    }

    /// DaemonSets in the namespace whose (non-empty) selector matches.
    fn selecting<K: kube::Resource>(&self, obj: &K) -> Vec<Arc<DaemonSet>> {
        let ns = obj.meta().namespace.clone().unwrap_or_default();
        self.daemonsets
            .list_namespace(&ns)
            .into_iter()
            .filter(|ds| {
                ds.spec.as_ref().is_some_and(|s| {
                    !crate::selector::is_empty(&s.selector)
                        && crate::selector::matches(&s.selector, obj.meta().labels.as_ref())
                })
            })
            .collect()
    }

    fn pod_deleted(&self, pod: &Pod) {
        if let Some(ds) = self.resolve(pod) {
            let key = ObjectKey::of(ds.as_ref());
            self.expectations
                .deletion_observed(&key, &ObjectKey::of(pod));
            self.queue.add(key);
        }
    }

    fn pod_changed(&self, change: &Change<'_, Pod>) {
        match change {
            Change::Added(pod) => {
                if pod.metadata.deletion_timestamp.is_some() {
                    self.pod_deleted(pod);
                } else if controller_uid(pod.as_ref()).is_some() {
                    if let Some(ds) = self.resolve(pod.as_ref()) {
                        let key = ObjectKey::of(ds.as_ref());
                        self.expectations.creation_observed(&key);
                        self.queue.add(key);
                    }
                } else {
                    for ds in self.selecting(pod.as_ref()) {
                        self.enqueue(&ds);
                    }
                }
            }
            Change::Updated { old, new } => {
                if new.metadata.deletion_timestamp.is_some() {
                    self.pod_deleted(new);
                    return;
                }
                let old_ref = controller_uid(old.as_ref());
                let new_ref = controller_uid(new.as_ref());
                if old_ref != new_ref && old_ref.is_some() {
                    if let Some(ds) = self.resolve(old.as_ref()) {
                        self.enqueue(&ds);
                    }
                }
                if new_ref.is_some() {
                    if let Some(ds) = self.resolve(new.as_ref()) {
                        self.enqueue(&ds);
                        let min_ready = ds
                            .spec
                            .as_ref()
                            .and_then(|s| s.min_ready_seconds)
                            .unwrap_or(0);
                        if min_ready > 0 && !pod_util::is_ready(old) && pod_util::is_ready(new) {
                            self.queue.add_after(
                                ObjectKey::of(ds.as_ref()),
                                Duration::from_secs(min_ready as u64 + 1),
                            );
                        }
                    }
                    return;
                }
                if old.metadata.labels != new.metadata.labels || old_ref != new_ref {
                    for ds in self.selecting(new.as_ref()) {
                        self.enqueue(&ds);
                    }
                }
            }
            Change::Deleted(pod) => self.pod_deleted(pod),
        }
    }

    fn node_changed(&self, change: &Change<'_, Node>) {
        match change {
            Change::Added(node) => {
                for ds in self.daemonsets.list() {
                    if util::node_should_run(node, &ds).0 {
                        self.enqueue(&ds);
                    }
                }
            }
            Change::Updated { old, new } => {
                let taints = |n: &Node| n.spec.as_ref().and_then(|s| s.taints.clone());
                if old.metadata.labels == new.metadata.labels && taints(old) == taints(new) {
                    return;
                }
                for ds in self.daemonsets.list() {
                    if util::node_should_run(old, &ds) != util::node_should_run(new, &ds) {
                        self.enqueue(&ds);
                    }
                }
            }
            // Upstream leaves this to the pod garbage collector's deletions;
            // without it, the status must still stop counting the node.
            Change::Deleted(_) => {
                for ds in self.daemonsets.list() {
                    self.enqueue(&ds);
                }
            }
        }
    }

    fn revision_changed(&self, change: &Change<'_, ControllerRevision>) {
        match change {
            Change::Added(cr) => {
                if cr.metadata.deletion_timestamp.is_some() || controller_uid(cr.as_ref()).is_some()
                {
                    if let Some(ds) = self.resolve(cr.as_ref()) {
                        self.enqueue(&ds);
                    }
                } else {
                    for ds in self.selecting(cr.as_ref()) {
                        self.enqueue(&ds);
                    }
                }
            }
            Change::Updated { old, new } => {
                let old_ref = controller_uid(old.as_ref());
                let new_ref = controller_uid(new.as_ref());
                if old_ref != new_ref && old_ref.is_some() {
                    if let Some(ds) = self.resolve(old.as_ref()) {
                        self.enqueue(&ds);
                    }
                }
                if new_ref.is_some() {
                    if let Some(ds) = self.resolve(new.as_ref()) {
                        self.enqueue(&ds);
                    }
                } else if old.metadata.labels != new.metadata.labels || old_ref != new_ref {
                    for ds in self.selecting(new.as_ref()) {
                        self.enqueue(&ds);
                    }
                }
            }
            Change::Deleted(cr) => {
                if let Some(ds) = self.resolve(cr.as_ref()) {
                    self.enqueue(&ds);
                }
            }
        }
    }

    /// Every pod this DaemonSet owns after adopting matching orphans and
    /// releasing owned pods that stopped matching (upstream getDaemonPods).
    async fn claim_pods(&self, ds: &DaemonSet) -> Result<Vec<Arc<Pod>>, SyncError> {
        let ns = ds.namespace().unwrap_or_default();
        let uid = ds.metadata.uid.clone().unwrap_or_default();
        let selector = ds
            .spec
            .as_ref()
            .map(|s| s.selector.clone())
            .unwrap_or_default();
        let mut candidates = self.pods.controlled_by(&uid);
        candidates.extend(self.pods.uncontrolled_in(&ns));
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &ns);
        let mut owned = Vec::new();
        for pod in candidates {
            if pod.namespace().as_deref() != Some(ns.as_str()) {
                continue;
            }
            match controller_ref::classify(ds, &selector, pod.as_ref()) {
                Claim::Owned => owned.push(pod),
                Claim::Adopt => match controller_ref::adopt(&api, ds, pod.as_ref()).await {
                    Ok(p) => owned.push(Arc::new(p)),
                    Err(kube::Error::Api(s)) if s.code == 404 || s.code == 422 => {}
                    Err(e) => return Err(e.into()),
                },
                Claim::Release => controller_ref::release(&api, ds, pod.as_ref()).await?,
                Claim::Ignore => {}
            }
        }
        Ok(owned)
    }

    fn node_map(&self) -> HashMap<String, Arc<Node>> {
        self.nodes
            .list()
            .into_iter()
            .map(|n| (n.name_any(), n))
            .collect()
    }

    /// What one node needs (upstream podsShouldBeOnNode): a pod created,
    /// or pods deleted (failed or succeeded ones, extras, or all of them
    /// where no pod may run any more).
    fn pods_should_be_on_node(
        &self,
        node: &Node,
        node_pods: &NodePods,
        ds: &DaemonSet,
        hash: &str,
    ) -> (bool, Vec<String>) {
        let name = node.name_any();
        let (should_run, should_continue) = util::node_should_run(node, ds);
        let pods = node_pods.get(&name);
        let mut delete = Vec::new();
        if should_run && pods.is_none() {
            return (true, delete);
        }
        if !should_continue {
            for p in pods.into_iter().flatten() {
                if p.metadata.deletion_timestamp.is_none() {
                    delete.push(p.name_any());
                }
            }
            return (false, delete);
        }
        let mut running: Vec<&Arc<Pod>> = Vec::new();
        for p in pods.into_iter().flatten() {
            if p.metadata.deletion_timestamp.is_some() {
                continue;
            }
            let phase = p.status.as_ref().and_then(|s| s.phase.as_deref());
            let ns = p.namespace().unwrap_or_default();
            match phase {
                Some("Failed") => {
                    // Kubelets reject pods; don't fight them in a hot loop.
                    let observed = ds
                        .status
                        .as_ref()
                        .and_then(|s| s.observed_generation)
                        .unwrap_or(0);
                    let key = format!("{}/{}/{}", ds.uid().unwrap_or_default(), observed, name);
                    let now = Instant::now();
                    if self.failed_pods_backoff.in_backoff(&key, now) {
                        let delay = self.failed_pods_backoff.get(&key);
                        self.queue.add_after(ObjectKey::of(ds), delay);
                        continue;
                    }
                    self.failed_pods_backoff.next(&key, now);
                    self.recorder.warning(
                        ds,
                        "FailedDaemonPod",
                        format!(
                            "Found failed daemon pod {ns}/{} on node {name}, will try to kill it",
                            p.name_any()
                        ),
                    );
                    delete.push(p.name_any());
                }
                Some("Succeeded") => {
                    self.recorder.normal(
                        ds,
                        "SucceededDaemonPod",
                        format!("Found succeeded daemon pod {ns}/{} on node {name}, will try to delete it", p.name_any()),
                    );
                    delete.push(p.name_any());
                }
                _ => running.push(p),
            }
        }
        if !util::allows_surge(ds) {
            if running.len() > 1 {
                // One pod per node: all but the oldest go.
                running.sort_by(|a, b| util::by_creation_and_phase(a, b));
                delete.extend(running[1..].iter().map(|p| p.name_any()));
            }
            return (false, delete);
        }
        if running.len() <= 1 {
            // Surging: a node keeps at least one live pod.
            return (running.is_empty() && should_run, delete);
        }
        // Surging allows an old and a new pod side by side: the oldest of
        // each is kept until the new one is available (or the old one is
        // not ready); every other pod goes.
        running.sort_by(|a, b| util::by_creation_and_phase(a, b));
        let (mut oldest_new, mut oldest_old): (Option<&Arc<Pod>>, Option<&Arc<Pod>>) = (None, None);
        for p in running {
            let label = p
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(util::HASH_LABEL));
            let is_new = label.map(String::as_str) == Some(hash);
            let slot = if is_new {
                &mut oldest_new
            } else {
                &mut oldest_old
            };
            if slot.is_none() {
                *slot = Some(p);
            } else {
                delete.push(p.name_any());
            }
        }
        if let (Some(new), Some(old)) = (oldest_new, oldest_old) {
            let min_ready = ds
                .spec
                .as_ref()
                .and_then(|s| s.min_ready_seconds)
                .unwrap_or(0);
            if !pod_util::is_ready(old)
                || pod_util::is_available(new, min_ready, crate::clock::now())
            {
                delete.push(old.name_any());
            }
        }
        (false, delete)
    }

    /// Brings each node to one daemon pod where it should have one and none
    /// elsewhere (upstream manage).
    async fn manage(
        &self,
        key: &ObjectKey,
        ds: &DaemonSet,
        nodes: &HashMap<String, Arc<Node>>,
        node_pods: &NodePods,
        hash: &str,
    ) -> Result<(), SyncError> {
        let mut names: Vec<&String> = nodes.keys().collect();
        names.sort();
        let mut create_on = Vec::new();
        let mut delete = Vec::new();
        for name in names {
            let (create, del) = self.pods_should_be_on_node(&nodes[name], node_pods, ds, hash);
            if create {
                create_on.push(name.clone());
            }
            delete.extend(del);
        }
        // Pods never bound to a node that is gone: nothing else would
        // ever remove them.
        for (node, pods) in node_pods {
            if nodes.contains_key(node) {
                continue;
            }
            for p in pods {
                let bound = p
                    .spec
                    .as_ref()
                    .and_then(|s| s.node_name.as_deref())
                    .is_some_and(|n| !n.is_empty());
                if !bound && p.metadata.deletion_timestamp.is_none() {
                    delete.push(p.name_any());
                }
            }
        }
        self.sync_nodes(key, ds, delete, create_on, hash).await
    }

    /// Creates daemon pods for `create_on` (in slow-start batches) and
    /// deletes `delete`, with expectations set first (upstream syncNodes).
    async fn sync_nodes(
        &self,
        key: &ObjectKey,
        ds: &DaemonSet,
        mut delete: Vec<String>,
        mut create_on: Vec<String>,
        hash: &str,
    ) -> Result<(), SyncError> {
        create_on.truncate(BURST_REPLICAS);
        delete.truncate(BURST_REPLICAS);
        let ns = key.namespace.clone();
        self.expectations.expect(
            key,
            create_on.len(),
            delete.iter().map(|n| ObjectKey::new(&ns, n.as_str())),
        );
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &ns);
        let mut first_error: Option<kube::Error> = None;
        if !create_on.is_empty() {
            let template = ds
                .spec
                .as_ref()
                .map(|s| s.template.clone())
                .unwrap_or_default();
            let template = util::pod_template(&template, util::template_generation(ds), hash);
            let owner = controller_ref::controller_reference(ds);
            let created = slow_start(create_on.len(), 1, |i| {
                let mut t = template.clone();
                let spec = t.spec.get_or_insert_with(Default::default);
                spec.affinity = Some(util::pin_to_node(spec.affinity.take(), &create_on[i]));
                let pod = pod_util::pod_from_template(&t, &ns, &key.name, owner.clone());
                let api = api.clone();
                async move { api.create(&PostParams::default(), &pod).await }
            })
            .await;
            for _ in created.succeeded..create_on.len() {
                // Failed or never tried: never observed.
                self.expectations.creation_observed(key);
            }
            for p in &created.pods {
                self.recorder.normal(
                    ds,
                    "SuccessfulCreate",
                    format!("Created pod: {}", p.name_any()),
                );
            }
            if let Some(err) = created.error {
                let terminating = matches!(&err, kube::Error::Api(s) if s.message.contains("because it is being terminated"));
                if !terminating {
                    self.recorder
                        .warning(ds, "FailedCreate", format!("Error creating: {err}"));
                    first_error = Some(err);
                }
            }
        }
        let results = join_all(delete.iter().map(|name| {
            let api = api.clone();
            async move { (name, api.delete(name, &DeleteParams::default()).await) }
        }))
        .await;
        for (name, result) in results {
            match result {
                Ok(_) => {
                    self.recorder
                        .normal(ds, "SuccessfulDelete", format!("Deleted pod: {name}"))
                }
                Err(e) => {
                    self.expectations
                        .deletion_observed(key, &ObjectKey::new(&ns, name.as_str()));
                    if !matches!(&e, kube::Error::Api(s) if s.code == 404) {
                        self.recorder
                            .warning(ds, "FailedDelete", format!("Error deleting: {e}"));
                        first_error.get_or_insert(e);
                    }
                }
            }
        }
        match first_error {
            Some(e) => Err(e.into()),
            None => Ok(()),
        }
    }

    /// Writes the counters (and observedGeneration) when they changed
    /// (upstream storeDaemonSetStatus: one retry on a fresh copy).
    async fn store_status(
        &self,
        ds: &DaemonSet,
        c: Counts,
        update_observed: bool,
    ) -> Result<(), SyncError> {
        let st = ds.status.clone().unwrap_or_default();
        let generation = ds.metadata.generation.unwrap_or(0);
        if st.desired_number_scheduled == c.desired
            && st.current_number_scheduled == c.current
            && st.number_misscheduled == c.misscheduled
            && st.number_ready == c.ready
            && st.updated_number_scheduled.unwrap_or(0) == c.updated
            && st.number_available.unwrap_or(0) == c.available
            && st.number_unavailable.unwrap_or(0) == c.unavailable
            && st.observed_generation.unwrap_or(0) >= generation
        {
            return Ok(());
        }
        let api: Api<DaemonSet> =
            Api::namespaced(self.client.clone(), &ds.namespace().unwrap_or_default());
        let nonzero = |n: i32| (n != 0).then_some(n);
        let mut to_update = ds.clone();
        for attempt in 0..2 {
            let s = to_update.status.get_or_insert_with(Default::default);
            if update_observed {
                s.observed_generation = ds.metadata.generation;
            }
            s.desired_number_scheduled = c.desired;
            s.current_number_scheduled = c.current;
            s.number_misscheduled = c.misscheduled;
            s.number_ready = c.ready;
            s.updated_number_scheduled = nonzero(c.updated);
            s.number_available = nonzero(c.available);
            s.number_unavailable = nonzero(c.unavailable);
            match api
                .replace_status(&ds.name_any(), &PostParams::default(), &to_update)
                .await
            {
                Ok(_) => return Ok(()),
                Err(kube::Error::Api(s)) if s.code == 404 => return Ok(()),
                Err(e) if attempt == 1 => return Err(e.into()),
                Err(_) => match api.get(&ds.name_any()).await {
                    Ok(fresh) if fresh.metadata.uid == ds.metadata.uid => to_update = fresh,
                    Ok(_) => return Ok(()),
                    Err(kube::Error::Api(s)) if s.code == 404 => return Ok(()),
                    Err(e) => return Err(e.into()),
                },
            }
        }
        Ok(())
    }

    async fn update_status(
        &self,
        ds: &DaemonSet,
        nodes: &HashMap<String, Arc<Node>>,
        node_pods: &NodePods,
        hash: &str,
        update_observed: bool,
    ) -> Result<(), SyncError> {
        let c = compute_counts(ds, nodes, node_pods, hash, crate::clock::now());
        self.store_status(ds, c, update_observed).await?;
        let min_ready = ds
            .spec
            .as_ref()
            .and_then(|s| s.min_ready_seconds)
            .unwrap_or(0);
        if min_ready > 0 && c.ready != c.available {
            self.queue
                .add_after(ObjectKey::of(ds), Duration::from_secs(min_ready as u64));
        }
        Ok(())
    }

    fn gc_backoff(&self) {
        let now = Instant::now();
        let mut last = self.last_backoff_gc.lock();
        if now.duration_since(*last) >= BACKOFF_GC_INTERVAL {
            *last = now;
            self.failed_pods_backoff.gc(now);
        }
    }
}

#[async_trait]
impl Reconciler for DaemonSetController {
    const NAME: &'static str = "daemonset";

    async fn sync(&self, key: &ObjectKey) -> Result<(), SyncError> {
        self.gc_backoff();
        let Some(ds) = self.daemonsets.get(key) else {
            self.expectations.forget(key);
            return Ok(());
        };
        let Some(spec) = ds.spec.as_ref() else {
            return Ok(());
        };
        if crate::selector::is_empty(&spec.selector) {
            self.recorder.warning(
                ds.as_ref(),
                "SelectingAll",
                "This daemon set is selecting all pods. A non-empty selector is required.".into(),
            );
            return Ok(());
        }
        if ds.metadata.deletion_timestamp.is_some() {
            return Ok(());
        }
        let nodes = self.node_map();
        let pods = self.claim_pods(&ds).await?;
        let (cur, old) = self.construct_history(&ds, &pods).await?;
        let hash = history::hash_label(&cur).unwrap_or_default().to_string();
        let node_pods = group_by_node(&pods, false);
        if !self.expectations.satisfied(key) {
            return self
                .update_status(&ds, &nodes, &node_pods, &hash, false)
                .await;
        }
        let result = async {
            self.manage(key, &ds, &nodes, &node_pods, &hash).await?;
            if self.expectations.satisfied(key) && !util::is_on_delete(&ds) {
                let plan = update::plan(&ds, &nodes, &node_pods, &hash, crate::clock::now())
                    .map_err(SyncError::Other)?;
                self.sync_nodes(key, &ds, plan.delete, plan.create_on, &hash)
                    .await?;
            }
            self.cleanup_history(&ds, &old, &pods).await.map_err(|e| {
                SyncError::Other(format!("failed to clean up revisions of DaemonSet: {e}"))
            })
        }
        .await;
        let status = self
            .update_status(&ds, &nodes, &node_pods, &hash, true)
            .await;
        result?;
        status
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::DaemonSetSpec;
    use k8s_openapi::api::core::v1::{NodeSpec, PodCondition, PodSpec, PodStatus, Taint};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, Time};

    fn node(name: &str, label: Option<&str>) -> (String, Arc<Node>) {
        let mut n = Node::default();
        n.metadata.name = Some(name.into());
        if let Some(l) = label {
            n.metadata.labels = Some([("role".to_string(), l.to_string())].into());
        }
        n.spec = Some(NodeSpec::default());
        (name.into(), Arc::new(n))
    }

    fn pod(name: &str, node: &str, hash: &str, ready: bool, age: i64) -> Arc<Pod> {
        let now = crate::clock::now();
        let mut p = Pod::default();
        p.metadata.name = Some(name.into());
        p.metadata.creation_timestamp = Some(Time(
            now.checked_sub(jiff::SignedDuration::from_secs(age))
                .unwrap_or(now),
        ));
        p.metadata.labels = Some([(util::HASH_LABEL.to_string(), hash.to_string())].into());
        p.spec = Some(PodSpec {
            node_name: Some(node.into()),
            ..Default::default()
        });
        p.status = Some(PodStatus {
            phase: Some("Running".into()),
            conditions: Some(vec![PodCondition {
                type_: "Ready".into(),
                status: if ready { "True" } else { "False" }.into(),
                ..Default::default()
            }]),
            ..Default::default()
        });
        Arc::new(p)
    }

    fn ds(selector: Option<&str>) -> DaemonSet {
        DaemonSet {
            spec: Some(DaemonSetSpec {
                selector: LabelSelector::default(),
                template: k8s_openapi::api::core::v1::PodTemplateSpec {
                    metadata: None,
                    spec: Some(PodSpec {
                        node_selector: selector
                            .map(|s| [("role".to_string(), s.to_string())].into()),
                        ..Default::default()
                    }),
                },
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn counts_cover_existing_nodes_only() {
        let nodes: HashMap<String, Arc<Node>> = [
            node("a", Some("edge")),
            node("b", Some("edge")),
            node("c", None),
            node("d", Some("edge")),
        ]
        .into();
        let pods = vec![
            pod("pa", "a", "h1", true, 100),
            // An older, not ready pod on b stands for it.
            pod("pb-old", "b", "h0", false, 200),
            pod("pb", "b", "h1", true, 10),
            // On a node it should not be on.
            pod("pc", "c", "h1", true, 10),
            // On a node that was deleted.
            pod("pg", "gone", "h1", true, 10),
        ];
        let c = compute_counts(
            &ds(Some("edge")),
            &nodes,
            &group_by_node(&pods, false),
            "h1",
            crate::clock::now(),
        );
        assert_eq!(
            c,
            Counts {
                desired: 3,
                current: 2,
                misscheduled: 1,
                ready: 1,
                updated: 1,
                available: 1,
                unavailable: 2,
            }
        );
    }

    #[test]
    fn unschedulable_taint_is_tolerated_by_every_daemon_pod() {
        let (name, mut n) = node("a", None);
        Arc::make_mut(&mut n).spec = Some(NodeSpec {
            unschedulable: Some(true),
            taints: Some(vec![Taint {
                key: "node.kubernetes.io/unschedulable".into(),
                effect: "NoSchedule".into(),
                ..Default::default()
            }]),
            ..Default::default()
        });
        let nodes: HashMap<String, Arc<Node>> = [(name, n)].into();
        let c = compute_counts(&ds(None), &nodes, &HashMap::new(), "h", crate::clock::now());
        assert_eq!((c.desired, c.current, c.unavailable), (1, 0, 1));
    }

    #[test]
    fn terminal_pods_being_deleted_are_left_out() {
        let mut p = (*pod("p", "a", "h", false, 1)).clone();
        if let Some(s) = p.status.as_mut() {
            s.phase = Some("Failed".into());
        }
        p.metadata.deletion_timestamp = Some(Time(crate::clock::now()));
        let pods = vec![Arc::new(p)];
        assert!(group_by_node(&pods, false).is_empty());
        assert_eq!(group_by_node(&pods, true).len(), 1);
    }
}
