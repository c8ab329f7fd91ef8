//! The StatefulSet controller (upstream pkg/controller/statefulset):
//! stable pod names `<set>-<ordinal>` from `spec.ordinals.start`, the
//! identity labels (`statefulset.kubernetes.io/pod-name`,
//! `apps.kubernetes.io/pod-index`, `controller-revision-hash`), hostname
//! and subdomain from `serviceName`, one PVC per volumeClaimTemplate and
//! pod (`<claim>-<set>-<ordinal>`) with the retention policy expressed as
//! owner references, OrderedReady or Parallel pod management, RollingUpdate
//! (partition, and maxUnavailable when set) or OnDelete, and the revision
//! history in ControllerRevisions ([`crate::history`]).
//!
//! One deliberate difference from upstream, see [`rollout::is_stuck_on_stale_revision`]:
//! an OrderedReady rolling update no longer waits forever on a pod that is
//! not Running and Ready while it sits on a revision the update replaces
//! (kubernetes/kubernetes#67250, whose documented workaround is deleting
//! the pod by hand); the controller deletes it so it is recreated at the
//! update revision. Pods on the update revision still block.
//!
//! Layout: `mod.rs` (informer wiring, claiming pods and revisions),
//! `control.rs` (revisions, the ordered update, status, history
//! truncation), `pod_control.rs` (pod and claim writes, events),
//! `rollout.rs` (pure rolling-update decisions and status), `utils.rs`
//! (pure identity, storage and retention arithmetic).

mod control;
mod pod_control;
pub mod rollout;
pub mod utils;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use kube::{Api, ResourceExt};

use crate::controller_ref::{self, Claim};
use crate::events::Recorder;
use crate::history::History;
use crate::informer::{controller_uid, Change, InformerFactory, ObjectKey, Store};
use crate::workqueue::WorkQueue;
use crate::{pod_util, Reconciler, SyncError};

pub struct StatefulSetController {
    client: kube::Client,
    sets: Arc<Store<StatefulSet>>,
    pods: Arc<Store<Pod>>,
    claims: Arc<Store<PersistentVolumeClaim>>,
    history: History,
    queue: WorkQueue<ObjectKey>,
    recorder: Recorder,
}

impl StatefulSetController {
    pub fn new(client: kube::Client, factory: &InformerFactory, recorder: Recorder) -> Arc<Self> {
        let set_informer = factory.informer::<StatefulSet>();
        let pod_informer = factory.informer::<Pod>();
        let revision_informer = factory.informer::<ControllerRevision>();
        let claim_informer = factory.informer::<PersistentVolumeClaim>();
        let this = Arc::new(StatefulSetController {
            history: History::new(client.clone(), revision_informer.store()),
            client,
            sets: set_informer.store(),
            pods: pod_informer.store(),
            claims: claim_informer.store(),
            queue: WorkQueue::new(),
            recorder,
        });
        let queue = this.queue.clone();
        set_informer.on_change(move |change| match change {
            Change::Added(s) | Change::Updated { new: s, .. } | Change::Deleted(s) => {
                queue.add(ObjectKey::of(s.as_ref()))
            }
        });
        let weak = Arc::downgrade(&this);
        pod_informer.on_change(move |change| {
            if let Some(c) = weak.upgrade() {
                c.pod_changed(change);
            }
        });
        this
    }

    pub fn queue(&self) -> WorkQueue<ObjectKey> {
        self.queue.clone()
    }

    /// The StatefulSet a pod's controller reference names, if it exists
    /// with that uid.
    fn owner_of(&self, pod: &Pod) -> Option<Arc<StatefulSet>> {
        let r = pod
            .metadata
            .owner_references
            .iter()
            .flatten()
            .find(|r| r.controller == Some(true))?;
        if r.kind != "StatefulSet" || !r.api_version.starts_with("apps/") {
            return None;
        }
        let set = self.sets.get(&ObjectKey::new(
            pod.namespace().unwrap_or_default(),
            &r.name,
        ))?;
        (set.metadata.uid.as_deref() == Some(r.uid.as_str())).then_some(set)
    }

    /// Every set whose selector matches an orphan, so one may adopt it.
    fn enqueue_matching(&self, pod: &Pod) {
        for set in self
            .sets
            .list_namespace(&pod.namespace().unwrap_or_default())
        {
            let sel = &utils::spec(&set).selector;
            if !crate::selector::is_empty(sel)
                && crate::selector::matches(sel, pod.metadata.labels.as_ref())
            {
                self.queue.add(ObjectKey::of(set.as_ref()));
            }
        }
    }

    fn pod_changed(&self, change: &Change<'_, Pod>) {
        match change {
            Change::Added(pod) => match self.owner_of(pod) {
                Some(set) => self.queue.add(ObjectKey::of(set.as_ref())),
                None if controller_uid(pod.as_ref()).is_none()
                    && pod.metadata.deletion_timestamp.is_none() =>
                {
                    self.enqueue_matching(pod)
                }
                None => {}
            },
            Change::Updated { old, new } => {
                let old_ref = controller_uid(old.as_ref());
                let new_ref = controller_uid(new.as_ref());
                if old_ref != new_ref {
                    if let Some(set) = self.owner_of(old) {
                        self.queue.add(ObjectKey::of(set.as_ref()));
                    }
                }
                if let Some(set) = self.owner_of(new) {
                    let key = ObjectKey::of(set.as_ref());
                    let min_ready = utils::min_ready_seconds(&set);
                    if min_ready > 0 && !pod_util::is_ready(old) && pod_util::is_ready(new) {
                        // Look again once the pod has been ready long enough.
                        self.queue
                            .add_after(key.clone(), Duration::from_secs(min_ready as u64 + 1));
                    }
                    self.queue.add(key);
                } else if new_ref.is_none()
                    && (old.metadata.labels != new.metadata.labels || old_ref != new_ref)
                {
                    self.enqueue_matching(new);
                }
            }
            Change::Deleted(pod) => {
                if let Some(set) = self.owner_of(pod) {
                    self.queue.add(ObjectKey::of(set.as_ref()));
                }
            }
        }
    }

    /// Adopts the orphaned revisions the selector matches.
    async fn adopt_orphan_revisions(&self, set: &StatefulSet) -> Result<(), SyncError> {
        for revision in self.history.list(set, &utils::spec(set).selector) {
            if controller_uid(revision.as_ref()).is_none()
                && set.metadata.deletion_timestamp.is_none()
            {
                match self.history.adopt(set, &revision).await {
                    Ok(_) => {}
                    Err(kube::Error::Api(s)) if s.code == 404 || s.code == 422 => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(())
    }

    /// The pods this set owns after adopting orphans that match its
    /// selector and are named after it, and releasing owned pods that no
    /// longer match (upstream ClaimPods with the isMemberOf filter).
    /// Unlike a ReplicaSet it keeps finished pods: they are replaced.
    async fn claim_pods(&self, set: &StatefulSet) -> Result<Vec<Arc<Pod>>, SyncError> {
        let ns = set.namespace().unwrap_or_default();
        let selector = &utils::spec(set).selector;
        let uid = set.metadata.uid.clone().unwrap_or_default();
        let mut candidates = self.pods.controlled_by(&uid);
        candidates.extend(self.pods.uncontrolled_in(&ns));
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &ns);
        let mut owned = Vec::new();
        for pod in candidates {
            let matches = crate::selector::matches(selector, pod.metadata.labels.as_ref())
                && utils::is_member_of(set, &pod);
            match controller_ref::classify_matching(set, matches, pod.as_ref()) {
                Claim::Owned => owned.push(pod),
                Claim::Adopt if !crate::selector::is_empty(selector) => {
                    match controller_ref::adopt(&api, set, pod.as_ref()).await {
                        Ok(p) => owned.push(Arc::new(p)),
                        Err(kube::Error::Api(s)) if s.code == 404 || s.code == 422 => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                Claim::Release => controller_ref::release(&api, set, pod.as_ref()).await?,
                Claim::Adopt | Claim::Ignore => {}
            }
        }
        Ok(owned)
    }
}

#[async_trait]
impl Reconciler for StatefulSetController {
    const NAME: &'static str = "statefulset";

    async fn sync(&self, key: &ObjectKey) -> Result<(), SyncError> {
        let Some(set) = self.sets.get(key) else {
            return Ok(());
        };
        self.adopt_orphan_revisions(&set).await?;
        let pods = self.claim_pods(&set).await?;
        let status = self.update_stateful_set(&set, pods).await?;
        // One more look once pods that are ready become available.
        let min_ready = utils::min_ready_seconds(&set);
        if min_ready > 0 {
            if let Some(s) = status {
                if i64::from(s.counts.available) != utils::replicas(&set) {
                    self.queue
                        .add_after(key.clone(), Duration::from_secs(min_ready as u64));
                }
            }
        }
        Ok(())
    }
}
