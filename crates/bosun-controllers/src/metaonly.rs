//! Metadata-only objects for informers that need no more than names,
//! owners and finalizers (object counts, change triggers): lists and
//! watches ask for PartialObjectMetadata, as upstream's metadata informers
//! do, and decoding skips managedFields and every other field.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};
use kube::Resource;
use serde::{Deserialize, Deserializer};

/// Decodes the `metadata` of an object or PartialObjectMetadata, keeping
/// only identity, owners, finalizers and the deletion timestamp.
pub fn slim_object_meta<'de, D: Deserializer<'de>>(d: D) -> Result<ObjectMeta, D::Error> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Slim {
        uid: Option<String>,
        name: Option<String>,
        namespace: Option<String>,
        resource_version: Option<String>,
        finalizers: Option<Vec<String>>,
        owner_references: Option<Vec<OwnerReference>>,
        deletion_timestamp: Option<Time>,
    }
    #[derive(Deserialize)]
    struct Wrapper {
        metadata: Option<Slim>,
    }
    let Some(m) = Wrapper::deserialize(d)?.metadata else {
        return Ok(ObjectMeta::default());
    };
    Ok(ObjectMeta {
        uid: m.uid,
        name: m.name,
        namespace: m.namespace,
        resource_version: m.resource_version,
        finalizers: m.finalizers,
        owner_references: m.owner_references,
        deletion_timestamp: m.deletion_timestamp,
        ..Default::default()
    })
}

/// An object of kind `K` seen through its metadata only (see
/// [`slim_object_meta`] for what is kept).
pub struct MetaOnly<K> {
    pub metadata: ObjectMeta,
    kind: PhantomData<fn() -> K>,
}

impl<K> MetaOnly<K> {
    pub fn new(metadata: ObjectMeta) -> Self {
        MetaOnly {
            metadata,
            kind: PhantomData,
        }
    }
}

impl<K> Clone for MetaOnly<K> {
    fn clone(&self) -> Self {
        MetaOnly::new(self.metadata.clone())
    }
}

impl<K> fmt::Debug for MetaOnly<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetaOnly")
            .field("metadata", &self.metadata)
            .finish()
    }
}

impl<'de, K> Deserialize<'de> for MetaOnly<K> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        slim_object_meta(d).map(MetaOnly::new)
    }
}

impl<K: Resource<DynamicType = ()>> Resource for MetaOnly<K> {
    type DynamicType = ();
    type Scope = K::Scope;

    fn kind(dt: &()) -> Cow<'_, str> {
        K::kind(dt)
    }

    fn group(dt: &()) -> Cow<'_, str> {
        K::group(dt)
    }

    fn version(dt: &()) -> Cow<'_, str> {
        K::version(dt)
    }

    fn api_version(dt: &()) -> Cow<'_, str> {
        K::api_version(dt)
    }

    fn plural(dt: &()) -> Cow<'_, str> {
        K::plural(dt)
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

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ConfigMap;

    #[test]
    fn keeps_identity_and_owners_and_skips_the_rest() {
        let json = serde_json::json!({
            "kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
            "metadata": {"name": "a", "namespace": "ns", "uid": "u", "resourceVersion": "7",
                "labels": {"x": "y"}, "managedFields": [{"manager": "m"}],
                "ownerReferences": [{"apiVersion": "v1", "kind": "Pod", "name": "p", "uid": "o"}]},
        });
        let obj: MetaOnly<ConfigMap> = serde_json::from_value(json).expect("decodes");
        assert_eq!(obj.metadata.name.as_deref(), Some("a"));
        assert_eq!(obj.metadata.resource_version.as_deref(), Some("7"));
        assert_eq!(
            obj.metadata.owner_references.as_ref().map(Vec::len),
            Some(1)
        );
        assert!(obj.metadata.labels.is_none() && obj.metadata.managed_fields.is_none());
        assert_eq!(MetaOnly::<ConfigMap>::plural(&()), "configmaps");
        assert!(MetaOnly::<ConfigMap>::metadata_api());
    }
}
