//! One metadata-only watch per collectable resource feeding the graph
//! (upstream's graph builder monitors).

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use std::borrow::Cow;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::core::{ApiResource, DynamicResourceScope};
use kube::runtime::watcher;
use kube::{Api, Resource};
use serde::{Deserialize, Deserializer};

use super::graph::{Observed, OwnerRef, Work, FOREGROUND, ORPHAN};
use super::GarbageCollector;
use crate::discovery::ServedResource;

/// A watched object as the collector reads it: PartialObjectMetadata
/// (requested with upstream's metadata-only `Accept`), decoding only the
/// fields the graph needs; the rest, managedFields above all, is skipped
/// while parsing and never allocated.
#[derive(Clone, Debug, Default)]
pub struct GcObject {
    pub metadata: ObjectMeta,
}

impl<'de> Deserialize<'de> for GcObject {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::metaonly::slim_object_meta(d).map(|metadata| GcObject { metadata })
    }
}

impl Resource for GcObject {
    type DynamicType = ApiResource;
    type Scope = DynamicResourceScope;

    fn kind(dt: &ApiResource) -> Cow<'_, str> {
        dt.kind.as_str().into()
    }

    fn group(dt: &ApiResource) -> Cow<'_, str> {
        dt.group.as_str().into()
    }

    fn version(dt: &ApiResource) -> Cow<'_, str> {
        dt.version.as_str().into()
    }

    fn api_version(dt: &ApiResource) -> Cow<'_, str> {
        dt.api_version.as_str().into()
    }

    fn plural(dt: &ApiResource) -> Cow<'_, str> {
        dt.plural.as_str().into()
    }

    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }

    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }

    /// Lists, watches and gets ask for PartialObjectMetadata.
    fn metadata_api() -> bool {
        true
    }
}

/// The graph's view of one object's metadata (taken apart, not copied);
/// `None` without a uid.
pub fn observed(meta: ObjectMeta, api_version: &Arc<str>, kind: &Arc<str>) -> Option<Observed> {
    let finalizers = meta.finalizers.unwrap_or_default();
    let has = |f: &str| finalizers.iter().any(|x| x == f);
    Some(Observed {
        uid: meta.uid?,
        api_version: api_version.clone(),
        kind: kind.clone(),
        namespace: meta.namespace,
        name: meta.name.unwrap_or_default(),
        owners: meta
            .owner_references
            .into_iter()
            .flatten()
            .map(|r| OwnerRef {
                uid: r.uid,
                api_version: r.api_version,
                kind: r.kind,
                name: r.name,
                block_owner_deletion: r.block_owner_deletion == Some(true),
            })
            .collect(),
        being_deleted: meta.deletion_timestamp.is_some(),
        orphan_finalizer: has(ORPHAN),
        foreground_finalizer: has(FOREGROUND),
    })
}

/// [`observed`] from borrowed metadata (a shared informer's object):
/// copies only what the graph keeps.
pub fn observed_ref(
    meta: &ObjectMeta,
    api_version: &Arc<str>,
    kind: &Arc<str>,
) -> Option<Observed> {
    let slim = ObjectMeta {
        uid: Some(meta.uid.clone()?),
        namespace: meta.namespace.clone(),
        name: meta.name.clone(),
        owner_references: meta.owner_references.clone(),
        deletion_timestamp: meta.deletion_timestamp.clone(),
        finalizers: meta.finalizers.clone(),
        ..ObjectMeta::default()
    };
    observed(slim, api_version, kind)
}

/// Watches `res` until the task is dropped; `synced` counts monitors that
/// have listed once.
pub async fn run(gc: Arc<GarbageCollector>, res: ServedResource, synced: Arc<AtomicUsize>) {
    let api_version: Arc<str> = Arc::from(res.ar.api_version.as_str());
    let kind: Arc<str> = Arc::from(res.ar.kind.as_str());
    // Metadata-only lists and watches (`as=PartialObjectMetadata`).
    let api: Api<GcObject> = Api::all_with(gc.client.clone(), &res.ar);
    let config = watcher::Config::default().page_size(5000);
    let mut stream = watcher::watcher(api, config).boxed();
    let mut listing: Option<HashSet<String>> = None;
    let mut counted = false;
    while let Some(event) = stream.next().await {
        let mut work = Work::default();
        match event {
            Ok(watcher::Event::Init) => listing = Some(HashSet::new()),
            Ok(watcher::Event::InitApply(obj)) | Ok(watcher::Event::Apply(obj)) => {
                if let Some(o) = observed(obj.metadata, &api_version, &kind) {
                    if let Some(l) = listing.as_mut() {
                        l.insert(o.uid.clone());
                    }
                    gc.graph.lock().observe(o, &mut work);
                }
            }
            Ok(watcher::Event::InitDone) => {
                let listed = listing.take().unwrap_or_default();
                let mut graph = gc.graph.lock();
                for uid in graph.observed_of(&api_version, &kind) {
                    if !listed.contains(&uid) {
                        graph.remove(&uid, &mut work);
                    }
                }
                drop(graph);
                if !counted {
                    counted = true;
                    synced.fetch_add(1, Ordering::SeqCst);
                }
            }
            Ok(watcher::Event::Delete(obj)) => {
                if let Some(uid) = obj.metadata.uid.as_deref() {
                    gc.graph.lock().remove(uid, &mut work);
                }
            }
            Err(err) => {
                tracing::warn!(resource = %res.group_resource(), %err, "garbage collector watch failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
        gc.dispatch(work);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{OwnerReference, Time};

    #[test]
    fn metadata_becomes_a_graph_observation() {
        let meta = ObjectMeta {
            uid: Some("u1".into()),
            name: Some("p".into()),
            namespace: Some("ns".into()),
            finalizers: Some(vec![FOREGROUND.into(), "x/y".into()]),
            deletion_timestamp: Some(Time(jiff::Timestamp::UNIX_EPOCH)),
            owner_references: Some(vec![OwnerReference {
                api_version: "apps/v1".into(),
                kind: "ReplicaSet".into(),
                name: "rs".into(),
                uid: "o1".into(),
                block_owner_deletion: Some(true),
                controller: Some(true),
            }]),
            ..Default::default()
        };
        let o = observed(meta, &Arc::from("v1"), &Arc::from("Pod")).expect("has a uid");
        assert_eq!((o.uid.as_str(), o.name.as_str()), ("u1", "p"));
        assert!(o.being_deleted && o.foreground_finalizer && !o.orphan_finalizer);
        assert_eq!(o.owners.len(), 1);
        assert!(o.owners[0].block_owner_deletion && o.owners[0].kind == "ReplicaSet");
        assert!(observed(ObjectMeta::default(), &Arc::from("v1"), &Arc::from("Pod")).is_none());
    }
}

#[cfg(test)]
mod decode_tests {
    use super::*;

    #[test]
    fn partial_metadata_decodes_only_what_the_graph_needs() {
        let body = serde_json::json!({
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": {
                "name": "p", "namespace": "ns", "uid": "u1", "resourceVersion": "7",
                "labels": {"a": "b"},
                "finalizers": ["orphan"],
                "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "o", "uid": "o1"}],
                "managedFields": [{"manager": "m", "operation": "Update", "fieldsType": "FieldsV1",
                                   "fieldsV1": {"f:metadata": {"f:labels": {}}}}],
            },
        });
        let obj: GcObject = serde_json::from_value(body).expect("decodes");
        assert_eq!(obj.metadata.resource_version.as_deref(), Some("7"));
        assert!(obj.metadata.managed_fields.is_none() && obj.metadata.labels.is_none());
        let o = observed(obj.metadata, &Arc::from("v1"), &Arc::from("ConfigMap")).expect("uid");
        assert!(o.orphan_finalizer && !o.being_deleted);
        assert_eq!(o.owners[0].uid, "o1");
    }
}
