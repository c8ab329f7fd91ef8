//! The garbage collector (upstream's garbage-collector-controller): deletes
//! objects whose owners are all gone, runs foreground deletion (an owner
//! with the `foregroundDeletion` finalizer waits for its blocking
//! dependents) and orphaning (the `orphan` finalizer: owner references to
//! the owner are removed from its dependents first).
//!
//! Every served resource that can be listed, watched and deleted is
//! watched metadata-only into a uid graph ([`graph`]); the graph hands
//! uids to two work queues (attempt to delete, attempt to orphan), whose
//! workers decide from the live object read through the API.

pub mod graph;
mod monitor;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::{
    DeleteParams, DynamicObject, Patch, PatchParams, Preconditions, PropagationPolicy,
};
use kube::Api;
use parking_lot::{Mutex, RwLock};
use serde_json::json;

use self::graph::{Graph, Work, FOREGROUND, ORPHAN};
use crate::discovery::{group_of, Resources, ServedResource};
use crate::informer::{Change, Informer};
use crate::workqueue::WorkQueue;
use crate::{run_workers, ObjectKey, Reconciler, SyncError};

/// Resources upstream's collector ignores by default.
const IGNORED: &[(&str, &str)] = &[("", "events"), ("events.k8s.io", "events")];

/// How long the workers wait for every monitor's first listing before
/// starting anyway (a resource whose watch keeps failing must not stop
/// collection of the others).
const SYNC_TIMEOUT: Duration = Duration::from_secs(60);

pub struct GarbageCollector {
    client: kube::Client,
    /// Pods come from the controllers' shared pod informer rather than a
    /// metadata watch of the collector's own (see [`Self::share_pods`]).
    shared_pods: Mutex<Option<Arc<Informer<Pod>>>>,
    graph: Mutex<Graph>,
    resources: RwLock<Arc<Resources>>,
    attempt_to_delete: WorkQueue<ObjectKey>,
    attempt_to_orphan: WorkQueue<ObjectKey>,
}

/// How an owner reference of an item stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OwnerState {
    /// Exists and is not deleting its dependents.
    Solid,
    /// Does not exist (404, or another object under that name).
    Dangling,
    /// Exists and is being deleted in the foreground.
    Waiting,
}

fn key(uid: &str) -> ObjectKey {
    ObjectKey::new("", uid)
}

fn has_finalizer(meta: &ObjectMeta, f: &str) -> bool {
    meta.finalizers.iter().flatten().any(|x| x == f)
}

impl GarbageCollector {
    pub const NAME: &'static str = "garbagecollector";

    pub fn new(client: kube::Client) -> Arc<Self> {
        Arc::new(GarbageCollector {
            client,
            shared_pods: Mutex::new(None),
            graph: Mutex::new(Graph::default()),
            resources: RwLock::new(Arc::new(Resources::default())),
            attempt_to_delete: WorkQueue::new(),
            attempt_to_orphan: WorkQueue::new(),
        })
    }

    /// Feeds the graph's pods from `pods`, the informer the workload
    /// controllers already keep, instead of a second watch of every pod:
    /// one decode and one server-side event stream per pod change fewer.
    /// Call before the informer starts, so its first listing reaches the
    /// graph.
    pub fn share_pods(self: &Arc<Self>, pods: &Arc<Informer<Pod>>) {
        let gc = self.clone();
        let api_version: Arc<str> = Arc::from("v1");
        let kind: Arc<str> = Arc::from("Pod");
        pods.on_change(move |change| {
            let observe = |graph: &mut Graph, pod: &Pod, work: &mut Work| {
                if let Some(o) = monitor::observed_ref(&pod.metadata, &api_version, &kind) {
                    graph.observe(o, work);
                }
            };
            let mut work = Work::default();
            {
                let mut graph = gc.graph.lock();
                match change {
                    Change::Added(pod) => observe(&mut graph, pod, &mut work),
                    Change::Updated { old, new } => {
                        // A re-list matches by name: a pod deleted and made
                        // again while the watch was down arrives as an
                        // update with another uid, and the old uid's node
                        // must go (its delete event never comes).
                        if let Some(gone) = old.metadata.uid.as_deref() {
                            if new.metadata.uid.as_deref() != Some(gone) {
                                graph.remove(gone, &mut work);
                            }
                        }
                        observe(&mut graph, new, &mut work);
                    }
                    Change::Deleted(pod) => {
                        if let Some(uid) = pod.metadata.uid.as_deref() {
                            graph.remove(uid, &mut work);
                        }
                    }
                }
            }
            gc.dispatch(work);
        });
        *self.shared_pods.lock() = Some(pods.clone());
    }

    /// Discovers the resources, starts their monitors and, once they have
    /// listed, the workers. Runs until the task is dropped.
    pub async fn run(self: Arc<Self>, delete_workers: usize, orphan_workers: usize) {
        let resources = loop {
            match Resources::discover(&self.client).await {
                Ok(r) => break Arc::new(r),
                Err(err) => {
                    tracing::warn!(%err, "garbage collector discovery failed; retrying");
                    tokio::time::sleep(Duration::from_secs(5)).await;
                }
            }
        };
        *self.resources.write() = resources.clone();
        let monitored: Vec<ServedResource> = resources
            .all
            .iter()
            .filter(|r| r.collectable())
            .filter(|r| {
                !IGNORED
                    .iter()
                    .any(|(g, p)| r.ar.group == *g && r.ar.plural == *p)
            })
            .cloned()
            .collect();
        let synced = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        let shared_pods = self.shared_pods.lock().clone();
        for res in monitored.iter().cloned() {
            if let (Some(pods), true) = (
                &shared_pods,
                res.ar.group.is_empty() && res.ar.plural == "pods",
            ) {
                let (pods, synced) = (pods.clone(), synced.clone());
                tasks.push(tokio::spawn(async move {
                    pods.wait_synced().await;
                    synced.fetch_add(1, Ordering::SeqCst);
                }));
                continue;
            }
            tasks.push(tokio::spawn(monitor::run(
                self.clone(),
                res,
                synced.clone(),
            )));
        }
        let deadline = tokio::time::Instant::now() + SYNC_TIMEOUT;
        while synced.load(Ordering::SeqCst) < monitored.len() {
            if tokio::time::Instant::now() >= deadline {
                tracing::warn!("garbage collector starts before every resource was listed");
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tracing::info!(resources = monitored.len(), "garbage collector synced");
        let deleter = tokio::spawn(run_workers(
            Arc::new(AttemptToDelete(self.clone())),
            self.attempt_to_delete.clone(),
            delete_workers,
        ));
        let orphaner = tokio::spawn(run_workers(
            Arc::new(AttemptToOrphan(self.clone())),
            self.attempt_to_orphan.clone(),
            orphan_workers,
        ));
        // Dropping this task drops the handles but not the tasks: abort
        // them explicitly when aborted.
        struct AbortOnDrop(Vec<tokio::task::JoinHandle<()>>);
        impl Drop for AbortOnDrop {
            fn drop(&mut self) {
                for t in &self.0 {
                    t.abort();
                }
            }
        }
        tasks.push(deleter);
        tasks.push(orphaner);
        let guard = AbortOnDrop(tasks);
        std::future::pending::<()>().await;
        drop(guard);
    }

    fn dispatch(&self, work: Work) {
        for uid in work.attempt_to_delete {
            self.attempt_to_delete.add(key(&uid));
        }
        for uid in work.attempt_to_orphan {
            self.attempt_to_orphan.add(key(&uid));
        }
    }

    fn resolve(&self, api_version: &str, kind: &str) -> Result<ServedResource, SyncError> {
        self.resources
            .read()
            .for_kind(api_version, kind)
            .cloned()
            .ok_or_else(|| {
                SyncError::Other(format!(
                    "no served resource for kind {kind:?} in group {:?}",
                    group_of(api_version)
                ))
            })
    }

    fn api(&self, res: &ServedResource, namespace: Option<&str>) -> Api<DynamicObject> {
        match namespace.filter(|_| res.namespaced) {
            Some(ns) => Api::namespaced_with(self.client.clone(), ns, &res.ar),
            None => Api::all_with(self.client.clone(), &res.ar),
        }
    }

    /// The live metadata of an object, if it exists.
    async fn get_meta(
        &self,
        res: &ServedResource,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Option<ObjectMeta>, SyncError> {
        if res.namespaced && namespace.is_none() {
            return Ok(None);
        }
        let api: Api<monitor::GcObject> = match namespace.filter(|_| res.namespaced) {
            Some(ns) => Api::namespaced_with(self.client.clone(), ns, &res.ar),
            None => Api::all_with(self.client.clone(), &res.ar),
        };
        Ok(api.get_opt(name).await?.map(|o| o.metadata))
    }

    /// Writes `meta`'s owner references, guarded by its resourceVersion.
    async fn patch_owner_refs(
        &self,
        res: &ServedResource,
        meta: &ObjectMeta,
        refs: Vec<OwnerReference>,
    ) -> Result<(), SyncError> {
        let refs = if refs.is_empty() {
            json!(null)
        } else {
            json!(refs)
        };
        let patch = json!({"metadata": {
            "ownerReferences": refs,
            "resourceVersion": meta.resource_version,
        }});
        self.patch(res, meta, patch).await
    }

    async fn remove_finalizer(
        &self,
        res: &ServedResource,
        meta: &ObjectMeta,
        finalizer: &str,
    ) -> Result<(), SyncError> {
        let kept: Vec<&String> = meta
            .finalizers
            .iter()
            .flatten()
            .filter(|f| *f != finalizer)
            .collect();
        let kept = if kept.is_empty() {
            json!(null)
        } else {
            json!(kept)
        };
        let patch = json!({"metadata": {
            "finalizers": kept,
            "resourceVersion": meta.resource_version,
        }});
        self.patch(res, meta, patch).await
    }

    async fn patch(
        &self,
        res: &ServedResource,
        meta: &ObjectMeta,
        patch: serde_json::Value,
    ) -> Result<(), SyncError> {
        let name = meta.name.as_deref().unwrap_or_default();
        let params = PatchParams {
            field_manager: Some("generic-garbage-collector".into()),
            ..Default::default()
        };
        match self
            .api(res, meta.namespace.as_deref())
            .patch_metadata(name, &params, &Patch::Merge(&patch))
            .await
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn delete(
        &self,
        res: &ServedResource,
        meta: &ObjectMeta,
        policy: PropagationPolicy,
    ) -> Result<(), SyncError> {
        let params = DeleteParams {
            propagation_policy: Some(policy),
            preconditions: Some(Preconditions {
                uid: meta.uid.clone(),
                resource_version: None,
            }),
            ..Default::default()
        };
        let name = meta.name.as_deref().unwrap_or_default();
        match self
            .api(res, meta.namespace.as_deref())
            .delete(name, &params)
            .await
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Whether the owner named by `r` (from a dependent in `namespace`)
    /// exists and how. Observed owners are answered from the graph; others
    /// with a GET by name, a different uid meaning the owner is gone.
    async fn owner_state(
        &self,
        r: &OwnerReference,
        namespace: Option<&str>,
    ) -> Result<OwnerState, SyncError> {
        {
            let graph = self.graph.lock();
            if let Some(n) = graph.get(&r.uid).filter(|n| n.observed) {
                return Ok(if n.deleting_dependents {
                    OwnerState::Waiting
                } else {
                    OwnerState::Solid
                });
            }
            if graph.is_absent(&r.uid) {
                return Ok(OwnerState::Dangling);
            }
        }
        let res = self.resolve(&r.api_version, &r.kind)?;
        match self.get_meta(&res, namespace, &r.name).await? {
            Some(m) if m.uid.as_deref() == Some(r.uid.as_str()) => Ok(
                if m.deletion_timestamp.is_some() && has_finalizer(&m, FOREGROUND) {
                    OwnerState::Waiting
                } else {
                    OwnerState::Solid
                },
            ),
            _ => {
                self.graph.lock().mark_absent(&r.uid);
                Ok(OwnerState::Dangling)
            }
        }
    }

    async fn attempt_to_delete_item(&self, uid: &str) -> Result<(), SyncError> {
        let Some((api_version, kind, namespace, name, observed)) =
            self.graph.lock().get(uid).map(|n| {
                (
                    n.api_version.clone(),
                    n.kind.clone(),
                    n.namespace.clone(),
                    n.name.clone(),
                    n.observed,
                )
            })
        else {
            return Ok(());
        };
        let res = self.resolve(&api_version, &kind)?;
        let live = self
            .get_meta(&res, namespace.as_deref(), &name)
            .await?
            .filter(|m| m.uid.as_deref() == Some(uid));
        if !observed {
            // A virtual node: an owner only named by references.
            if live.is_none() {
                let mut work = Work::default();
                self.graph.lock().remove_virtual(uid, &mut work);
                self.dispatch(work);
            }
            return Ok(());
        }
        // Gone or replaced: its delete event updates the graph.
        let Some(live) = live else { return Ok(()) };
        if live.deletion_timestamp.is_some() {
            if has_finalizer(&live, FOREGROUND) {
                return self.process_deleting_dependents(uid, &res, &live).await;
            }
            return Ok(());
        }
        let refs = live.owner_references.clone().unwrap_or_default();
        if refs.is_empty() {
            return Ok(());
        }
        let mut states = Vec::with_capacity(refs.len());
        for r in &refs {
            states.push(self.owner_state(r, live.namespace.as_deref()).await?);
        }
        // Only an object without solid owners that one waits for needs its
        // own dependents looked at.
        let needs_dependents =
            !states.contains(&OwnerState::Solid) && states.contains(&OwnerState::Waiting);
        let dependents: Vec<(String, bool)> = if !needs_dependents {
            Vec::new()
        } else {
            let graph = self.graph.lock();
            graph
                .get(uid)
                .map(|n| {
                    n.dependents
                        .iter()
                        .filter_map(|d| graph.get(d).map(|dn| (d.clone(), dn.deleting_dependents)))
                        .collect()
                })
                .unwrap_or_default()
        };
        match decide(&live, refs, &states, &dependents) {
            Decision::Keep => Ok(()),
            Decision::RewriteOwners(kept) => self.patch_owner_refs(&res, &live, kept).await,
            Decision::DeleteForeground { unblock } => {
                for dep in &unblock {
                    self.unblock_owner_ref(dep, uid).await?;
                }
                self.delete(&res, &live, PropagationPolicy::Foreground)
                    .await
            }
            Decision::Delete(policy) => self.delete(&res, &live, policy.into()).await,
        }
    }

    /// Sets blockOwnerDeletion=false on `dep`'s reference to `owner`.
    async fn unblock_owner_ref(&self, dep: &str, owner: &str) -> Result<(), SyncError> {
        let Some((api_version, kind, namespace, name)) = self.graph.lock().get(dep).map(|n| {
            (
                n.api_version.clone(),
                n.kind.clone(),
                n.namespace.clone(),
                n.name.clone(),
            )
        }) else {
            return Ok(());
        };
        let res = self.resolve(&api_version, &kind)?;
        let Some(meta) = self.get_meta(&res, namespace.as_deref(), &name).await? else {
            return Ok(());
        };
        let mut refs = meta.owner_references.clone().unwrap_or_default();
        let mut changed = false;
        for r in refs.iter_mut().filter(|r| r.uid == owner) {
            if r.block_owner_deletion == Some(true) {
                r.block_owner_deletion = Some(false);
                changed = true;
            }
        }
        if changed {
            self.patch_owner_refs(&res, &meta, refs).await?;
        }
        Ok(())
    }

    /// An owner deleting in the foreground: done once no dependent blocks
    /// it. Its dependents were queued when the deletion started (and any
    /// created since when they appeared); each one that goes wakes it.
    async fn process_deleting_dependents(
        &self,
        uid: &str,
        res: &ServedResource,
        live: &ObjectMeta,
    ) -> Result<(), SyncError> {
        if self.graph.lock().has_blocking_dependent(uid) {
            return Ok(());
        }
        self.remove_finalizer(res, live, FOREGROUND).await
    }

    /// An owner deleted with the `orphan` finalizer: its dependents lose
    /// their references to it, then the finalizer goes.
    async fn attempt_to_orphan_item(&self, uid: &str) -> Result<(), SyncError> {
        let Some((owner, dependents)) = self.graph.lock().get(uid).map(|n| {
            (
                (
                    n.api_version.clone(),
                    n.kind.clone(),
                    n.namespace.clone(),
                    n.name.clone(),
                ),
                n.dependents.iter().cloned().collect::<Vec<_>>(),
            )
        }) else {
            return Ok(());
        };
        let res = self.resolve(&owner.0, &owner.1)?;
        let Some(live) = self
            .get_meta(&res, owner.2.as_deref(), &owner.3)
            .await?
            .filter(|m| m.uid.as_deref() == Some(uid))
        else {
            return Ok(());
        };
        if live.deletion_timestamp.is_none() || !has_finalizer(&live, ORPHAN) {
            return Ok(());
        }
        for dep in dependents {
            let Some((api_version, kind, namespace, name)) =
                self.graph.lock().get(&dep).filter(|n| n.observed).map(|n| {
                    (
                        n.api_version.clone(),
                        n.kind.clone(),
                        n.namespace.clone(),
                        n.name.clone(),
                    )
                })
            else {
                continue;
            };
            let dres = self.resolve(&api_version, &kind)?;
            let Some(meta) = self.get_meta(&dres, namespace.as_deref(), &name).await? else {
                continue;
            };
            let refs = meta.owner_references.clone().unwrap_or_default();
            if refs.iter().any(|r| r.uid == uid) {
                let kept = refs.into_iter().filter(|r| r.uid != uid).collect();
                self.patch_owner_refs(&dres, &meta, kept).await?;
            }
        }
        self.remove_finalizer(&res, &live, ORPHAN).await
    }
}

/// A deletion propagation policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    Orphan,
    Foreground,
    Background,
}

impl From<Policy> for PropagationPolicy {
    fn from(p: Policy) -> Self {
        match p {
            Policy::Orphan => PropagationPolicy::Orphan,
            Policy::Foreground => PropagationPolicy::Foreground,
            Policy::Background => PropagationPolicy::Background,
        }
    }
}

/// What to do with an object (not being deleted) that has owners.
#[derive(Debug, PartialEq)]
pub enum Decision {
    Keep,
    /// It stays: drop references to owners that are gone, and stop
    /// blocking owners that wait for it.
    RewriteOwners(Vec<OwnerReference>),
    /// An owner waits for it and it has dependents of its own: delete it
    /// in the foreground, first unblocking these dependents' references
    /// to it (they are deleting theirs, so could be waiting for it: a
    /// cycle).
    DeleteForeground {
        unblock: Vec<String>,
    },
    Delete(Policy),
}

/// Upstream's attemptToDeleteItem decision from the states of `refs` and
/// the object's dependents (uid, deleting its own dependents).
fn decide(
    meta: &ObjectMeta,
    refs: Vec<OwnerReference>,
    states: &[OwnerState],
    dependents: &[(String, bool)],
) -> Decision {
    let solid = states.contains(&OwnerState::Solid);
    let dangling = states.contains(&OwnerState::Dangling);
    let waiting = states.contains(&OwnerState::Waiting);
    if solid {
        if !dangling && !waiting {
            return Decision::Keep;
        }
        let kept = refs
            .into_iter()
            .zip(states)
            .filter(|(_, s)| **s != OwnerState::Dangling)
            .map(|(mut r, s)| {
                if *s == OwnerState::Waiting {
                    r.block_owner_deletion = Some(false);
                }
                r
            })
            .collect();
        return Decision::RewriteOwners(kept);
    }
    if waiting && !dependents.is_empty() {
        return Decision::DeleteForeground {
            unblock: dependents
                .iter()
                .filter(|(_, deleting)| *deleting)
                .map(|(d, _)| d.clone())
                .collect(),
        };
    }
    Decision::Delete(if has_finalizer(meta, ORPHAN) {
        Policy::Orphan
    } else if has_finalizer(meta, FOREGROUND) {
        Policy::Foreground
    } else {
        Policy::Background
    })
}

/// The attempt-to-delete queue's reconciler (keys carry a uid as name).
pub struct AttemptToDelete(Arc<GarbageCollector>);

#[async_trait]
impl Reconciler for AttemptToDelete {
    const NAME: &'static str = "garbagecollector";

    async fn sync(&self, key: &ObjectKey) -> Result<(), SyncError> {
        self.0.attempt_to_delete_item(&key.name).await
    }
}

/// The attempt-to-orphan queue's reconciler.
pub struct AttemptToOrphan(Arc<GarbageCollector>);

#[async_trait]
impl Reconciler for AttemptToOrphan {
    const NAME: &'static str = "garbagecollector";

    async fn sync(&self, key: &ObjectKey) -> Result<(), SyncError> {
        self.0.attempt_to_orphan_item(&key.name).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use OwnerState::*;

    fn pod_of(name: &str, uid: &str, owner: Option<&str>) -> Pod {
        let mut p = Pod::default();
        p.metadata.namespace = Some("ns".into());
        p.metadata.name = Some(name.into());
        p.metadata.uid = Some(uid.into());
        p.metadata.resource_version = Some(uid.into());
        p.metadata.owner_references = owner.map(|o| vec![r(o, true)]);
        p
    }

    #[tokio::test]
    async fn shared_pods_feed_the_graph_and_a_relisted_new_uid_replaces_the_old() {
        let api = crate::testing::FakeApi::new();
        let gc = GarbageCollector::new(api.client());
        let factory = crate::informer::InformerFactory::new();
        let pods = factory.informer::<Pod>();
        gc.share_pods(&pods);
        pods.apply(pod_of("web-0", "a", Some("sts")));
        pods.apply(pod_of("web-1", "b", Some("sts")));
        {
            let graph = gc.graph.lock();
            assert!(graph.get("a").is_some_and(|n| n.observed));
            assert!(graph.has_blocking_dependent("sts"));
        }
        // While the watch was down web-0 was deleted and made again (uid
        // c) and web-1 went: the re-list brings both news.
        pods.replace(vec![pod_of("web-0", "c", Some("sts"))]);
        let graph = gc.graph.lock();
        assert!(graph.get("a").is_none(), "the old uid is gone");
        assert!(graph.get("b").is_none(), "the missing pod is gone");
        assert!(graph.get("c").is_some_and(|n| n.observed));
    }

    fn r(uid: &str, block: bool) -> OwnerReference {
        OwnerReference {
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            name: format!("n-{uid}"),
            uid: uid.into(),
            block_owner_deletion: Some(block),
            controller: None,
        }
    }

    fn meta(finalizers: &[&str]) -> ObjectMeta {
        ObjectMeta {
            finalizers: Some(finalizers.iter().map(|f| f.to_string()).collect()),
            ..Default::default()
        }
    }

    #[test]
    fn a_solid_owner_keeps_the_object() {
        let m = meta(&[]);
        assert_eq!(
            decide(&m, vec![r("a", true)], &[Solid], &[]),
            Decision::Keep
        );
        // Dead references go, waiting owners are unblocked, live ones stay.
        let d = decide(
            &m,
            vec![r("a", true), r("gone", true), r("wait", true)],
            &[Solid, Dangling, Waiting],
            &[],
        );
        assert_eq!(
            d,
            Decision::RewriteOwners(vec![r("a", true), r("wait", false)])
        );
    }

    #[test]
    fn without_solid_owners_the_object_is_deleted() {
        assert_eq!(
            decide(&meta(&[]), vec![r("gone", false)], &[Dangling], &[]),
            Decision::Delete(Policy::Background)
        );
        // Its own deletion policy, if it carries one, is kept.
        assert_eq!(
            decide(&meta(&[ORPHAN]), vec![r("gone", false)], &[Dangling], &[]),
            Decision::Delete(Policy::Orphan)
        );
        assert_eq!(
            decide(
                &meta(&[FOREGROUND]),
                vec![r("gone", false)],
                &[Dangling],
                &[]
            ),
            Decision::Delete(Policy::Foreground)
        );
        // A waiting owner and no dependents: background.
        assert_eq!(
            decide(&meta(&[]), vec![r("w", true)], &[Waiting], &[]),
            Decision::Delete(Policy::Background)
        );
    }

    #[test]
    fn waited_for_with_dependents_goes_in_the_foreground() {
        let deps = vec![("x".to_string(), false), ("cycle".to_string(), true)];
        assert_eq!(
            decide(
                &meta(&[]),
                vec![r("w", true), r("gone", true)],
                &[Waiting, Dangling],
                &deps
            ),
            Decision::DeleteForeground {
                unblock: vec!["cycle".to_string()]
            }
        );
    }
}
