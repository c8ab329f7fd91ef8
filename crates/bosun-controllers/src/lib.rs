//! Bosun's controller manager: upstream's workload controllers, each a
//! level-triggered reconciler fed by shared informers through a work
//! queue, talking to the API only through the API.
//!
//! Layout: [`informer`] (shared watches and indexed stores),
//! [`workqueue`], [`expectations`], [`controller_ref`] (ownership claims),
//! [`events`], [`history`] (ControllerRevisions, shared by the controllers
//! that keep template revisions), and one module per controller.

pub mod controller_ref;
pub mod deployment;
pub mod events;
pub mod expectations;
pub mod history;
pub mod informer;
mod manager;
pub mod pod_util;
pub mod replicaset;
pub mod selector;
pub mod statefulset;
pub mod workqueue;

use std::sync::Arc;

use async_trait::async_trait;

pub use informer::{InformerFactory, ObjectKey};
pub use manager::{run, ControllerSet, ManagerError, KNOWN_CONTROLLERS};

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

/// One controller's reconcile step for one object key.
#[async_trait]
pub trait Reconciler: Send + Sync + 'static {
    /// The name used in logs, events and `--controllers`.
    const NAME: &'static str;

    /// Brings the object named by `key` towards its desired state.
    async fn sync(&self, key: &ObjectKey) -> Result<(), SyncError>;
}

/// Upstream drops a key after this many failed syncs in a row (it comes
/// back with the next change).
const MAX_RETRIES: u32 = 15;

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
                        if q.requeues(&key) < MAX_RETRIES {
                            tracing::debug!(controller = R::NAME, %key, %err, "sync failed; retrying");
                            q.add_rate_limited(key.clone());
                        } else {
                            tracing::warn!(controller = R::NAME, %key, %err, "sync failed; giving up until the next change");
                            q.forget(&key);
                        }
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
