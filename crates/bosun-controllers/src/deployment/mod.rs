//! The Deployment controller (upstream pkg/controller/deployment): owns
//! ReplicaSets per pod template, rolls between them (RollingUpdate with
//! maxSurge/maxUnavailable, or Recreate), scales proportionally, keeps
//! revisions for `kubectl rollout history|undo`, and reports progress in
//! the conditions `kubectl rollout status` reads.

mod rollout;
mod sync;
pub mod util;

use std::sync::Arc;

use async_trait::async_trait;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;

use crate::events::Recorder;
use crate::informer::{controller_uid, Change, InformerFactory, ObjectKey, Store};
use crate::workqueue::WorkQueue;
use crate::{Reconciler, SyncError};

pub struct DeploymentController {
    client: kube::Client,
    deployments: Arc<Store<Deployment>>,
    replicasets: Arc<Store<ReplicaSet>>,
    pods: Arc<Store<Pod>>,
    queue: WorkQueue<ObjectKey>,
    recorder: Recorder,
}

impl DeploymentController {
    pub fn new(client: kube::Client, factory: &InformerFactory, recorder: Recorder) -> Arc<Self> {
        let d_informer = factory.informer::<Deployment>();
        let rs_informer = factory.informer::<ReplicaSet>();
        let pod_informer = factory.informer::<Pod>();
        let this = Arc::new(DeploymentController {
            client,
            deployments: d_informer.store(),
            replicasets: rs_informer.store(),
            pods: pod_informer.store(),
            queue: WorkQueue::new(),
            recorder,
        });
        let queue = this.queue.clone();
        d_informer.on_change(move |change| match change {
            Change::Added(d) | Change::Updated { new: d, .. } | Change::Deleted(d) => {
                queue.add(ObjectKey::of(d.as_ref()))
            }
        });
        let weak = Arc::downgrade(&this);
        rs_informer.on_change(move |change| {
            if let Some(c) = weak.upgrade() {
                c.replica_set_changed(change);
            }
        });
        let weak = Arc::downgrade(&this);
        pod_informer.on_change(move |change| {
            if let (Some(c), Change::Deleted(pod)) = (weak.upgrade(), change) {
                c.pod_deleted(pod);
            }
        });
        this
    }

    pub fn queue(&self) -> WorkQueue<ObjectKey> {
        self.queue.clone()
    }

    /// The Deployment an RS's controller reference names, if it exists
    /// with that uid.
    fn owner_of(&self, rs: &ReplicaSet) -> Option<Arc<Deployment>> {
        crate::controller_ref::resolve(&self.deployments, rs)
    }

    fn enqueue_matching(&self, rs: &ReplicaSet) {
        for d in self
            .deployments
            .list_namespace(&rs.namespace().unwrap_or_default())
        {
            let Some(spec) = &d.spec else { continue };
            if !crate::selector::is_empty(&spec.selector)
                && crate::selector::matches(&spec.selector, rs.metadata.labels.as_ref())
            {
                self.queue.add(ObjectKey::of(d.as_ref()));
            }
        }
    }

    fn replica_set_changed(&self, change: &Change<'_, ReplicaSet>) {
        match change {
            Change::Added(rs) | Change::Deleted(rs) => match self.owner_of(rs) {
                Some(d) => self.queue.add(ObjectKey::of(d.as_ref())),
                None if controller_uid(rs.as_ref()).is_none() => self.enqueue_matching(rs),
                None => {}
            },
            Change::Updated { old, new } => {
                if controller_uid(old.as_ref()) != controller_uid(new.as_ref()) {
                    if let Some(d) = self.owner_of(old) {
                        self.queue.add(ObjectKey::of(d.as_ref()));
                    }
                }
                match self.owner_of(new) {
                    Some(d) => self.queue.add(ObjectKey::of(d.as_ref())),
                    None if controller_uid(new.as_ref()).is_none()
                        && (old.metadata.labels != new.metadata.labels
                            || controller_uid(old.as_ref()).is_some()) =>
                    {
                        self.enqueue_matching(new)
                    }
                    None => {}
                }
            }
        }
    }

    /// Recreate waits for old pods to be gone; their deletion is the
    /// signal to go on.
    fn pod_deleted(&self, pod: &Pod) {
        let Some(r) = pod
            .metadata
            .owner_references
            .iter()
            .flatten()
            .find(|r| r.controller == Some(true) && r.kind == "ReplicaSet")
        else {
            return;
        };
        let ns = pod.namespace().unwrap_or_default();
        let Some(rs) = self.replicasets.get(&ObjectKey::new(&ns, &r.name)) else {
            return;
        };
        if let Some(d) = self.owner_of(&rs) {
            if !util::is_rolling(&d) {
                self.queue.add(ObjectKey::of(d.as_ref()));
            }
        }
    }
}

#[async_trait]
impl Reconciler for DeploymentController {
    const NAME: &'static str = "deployment";

    async fn sync(&self, key: &ObjectKey) -> Result<(), SyncError> {
        let Some(d) = self.deployments.get(key) else {
            return Ok(());
        };
        let mut d = (*d).clone();
        let Some(spec) = d.spec.as_ref() else {
            return Ok(());
        };
        if crate::selector::is_empty(&spec.selector) {
            self.recorder.warning(
                &d,
                "SelectingAll",
                "This deployment is selecting all pods. A non-empty selector is required.".into(),
            );
            if d.status.as_ref().and_then(|s| s.observed_generation) < d.metadata.generation {
                let mut status = d.status.clone().unwrap_or_default();
                status.observed_generation = d.metadata.generation;
                self.update_status(&mut d, status).await?;
            }
            return Ok(());
        }
        let rs_list = self.claim_replica_sets(&d).await?;
        if d.metadata.deletion_timestamp.is_some() {
            return self.sync_status_only(&mut d, rs_list).await;
        }
        self.check_paused_conditions(&mut d).await?;
        let paused = d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false);
        if paused || self.is_scaling_event(&d, &rs_list) {
            return self.sync_scale(&mut d, rs_list).await;
        }
        if util::is_rolling(&d) {
            self.rollout_rolling(&mut d, rs_list).await
        } else {
            self.rollout_recreate(&mut d, rs_list).await
        }
    }
}
