//! Bosun's controller manager: upstream's workload controllers, each a
//! level-triggered reconciler fed by shared informers through a work
//! queue, talking to the API only through the API.
//!
//! Layout: [`informer`] (shared watches and indexed stores),
//! [`workqueue`], [`expectations`], [`controller_ref`] (ownership claims),
//! [`events`], [`history`] (ControllerRevisions, shared by the controllers
//! that keep template revisions), and one module per controller.

mod batch;
pub mod clock;
pub mod controller_ref;
pub mod cronjob;
pub mod daemonset;
pub mod deployment;
pub mod discovery;
pub mod disruption;
pub mod endpoints;
pub mod events;
pub mod expectations;
pub mod garbagecollector;
pub mod history;
pub mod informer;
pub mod job;
mod manager;
pub mod metaonly;
pub mod namespace;
pub mod nodelifecycle;
pub mod persistentvolume;
pub mod pod_util;
pub mod podgc;
pub mod replicaset;
pub mod resourcequota;
pub mod rootcacertpublisher;
pub mod selector;
pub mod serviceaccount;
pub mod slow_start;
pub mod statefulset;
pub mod ttl_after_finished;
pub mod workqueue;

#[cfg(test)]
mod testing;

use std::sync::Arc;

use async_trait::async_trait;

pub use informer::{InformerFactory, ObjectKey};
pub use manager::{
    parse_duration, run, ControllerSet, ManagerError, ManagerOptions, KNOWN_CONTROLLERS,
};
pub use nodelifecycle::NodeLifecycleOptions;

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Api(#[from] kube::Error),
    #[error("{0}")]
    Other(String),
}

impl SyncError {
    /// A 409 Conflict: the informer's copy was stale; retry soon.
    pub fn is_conflict(&self) -> bool {
        matches!(self, SyncError::Api(kube::Error::Api(s)) if s.code == 409)
    }
}

/// Writes `obj` (carrying its new status) through the status subresource;
/// an object deleted meanwhile is not an error.
pub async fn write_status<K>(client: &kube::Client, obj: &K) -> Result<(), SyncError>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::Serialize
        + serde::de::DeserializeOwned,
{
    use kube::ResourceExt;
    let api: kube::Api<K> =
        kube::Api::namespaced(client.clone(), &obj.namespace().unwrap_or_default());
    match api
        .replace_status(&obj.name_any(), &kube::api::PostParams::default(), obj)
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// One controller's reconcile step for one object key.
#[async_trait]
pub trait Reconciler: Send + Sync + 'static {
    /// The name used in logs, events and `--controllers`.
    const NAME: &'static str;

    /// Brings the object named by `key` towards its desired state.
    async fn sync(&self, key: &ObjectKey) -> Result<(), SyncError>;
}

/// After this many failures in a row a key is logged as a warning; it
/// keeps being retried (back-off capped at 1000 s), since informers here
/// have no periodic resync to bring it back.
const WARN_AFTER: u32 = 15;

/// Runs `workers` workers taking keys from `queue` until the task ends.
pub async fn run_workers<R: Reconciler>(
    reconciler: Arc<R>,
    queue: workqueue::WorkQueue<ObjectKey>,
    workers: usize,
) {
    let mut tasks = Vec::new();
    for _ in 0..workers.max(1) {
        let r = reconciler.clone();
        let q = queue.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                let key = q.get().await;
                match r.sync(&key).await {
                    Ok(()) => q.forget(&key),
                    Err(err) => {
                        if q.requeues(&key) == WARN_AFTER {
                            tracing::warn!(controller = R::NAME, %key, %err, "sync keeps failing; retrying with back-off");
                        } else {
                            tracing::debug!(controller = R::NAME, %key, %err, "sync failed; retrying");
                        }
                        q.add_rate_limited(key.clone());
                    }
                }
                q.done(&key);
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}
