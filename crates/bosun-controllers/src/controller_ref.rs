//! Ownership as upstream's ControllerRefManager: a controller owns the
//! objects whose controller reference names its uid, adopts matching
//! orphans and releases owned objects that stopped matching.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, OwnerReference};
use kube::api::{Patch, PatchParams};
use kube::{Api, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde_json::json;

use std::sync::Arc;

use crate::informer::{controller_uid, ObjectKey, Store};
use crate::selector;

/// The controller reference an owner puts on what it creates.
pub fn controller_reference<K: Resource<DynamicType = ()>>(owner: &K) -> OwnerReference {
    OwnerReference {
        api_version: K::api_version(&()).into_owned(),
        kind: K::kind(&()).into_owned(),
        name: owner.name_any(),
        uid: owner.uid().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// The owner of kind `O` that `child`'s controller reference names, if it
/// is in `store` with that uid (upstream resolveControllerRef: a reference
/// to an object since replaced by one of the same name resolves to nothing).
pub fn resolve<O, C>(store: &Store<O>, child: &C) -> Option<Arc<O>>
where
    O: Resource<DynamicType = ()>,
    C: Resource,
{
    let r = child
        .meta()
        .owner_references
        .iter()
        .flatten()
        .find(|r| r.controller == Some(true))?;
    let group = r.api_version.rsplit_once('/').map_or("", |(g, _)| g);
    if r.kind != O::kind(&()) || group != O::group(&()) {
        return None;
    }
    let ns = child.meta().namespace.clone().unwrap_or_default();
    let owner = store.get(&ObjectKey::new(ns, &r.name))?;
    (owner.meta().uid.as_deref() == Some(r.uid.as_str())).then_some(owner)
}

/// What a claim decides about one candidate.
#[derive(Debug, PartialEq, Eq)]
pub enum Claim {
    /// Owned and still matching.
    Owned,
    /// An orphan that matches: take it.
    Adopt,
    /// Owned but no longer matching: let it go.
    Release,
    /// Someone else's, or nothing to do.
    Ignore,
}

pub fn classify<O: Resource, C: Resource>(owner: &O, selector: &LabelSelector, child: &C) -> Claim {
    classify_matching(
        owner,
        selector::matches(selector, child.meta().labels.as_ref()),
        child,
    )
}

/// [`classify`] with the match decided by the caller (upstream's claim
/// with an extra filter, e.g. a StatefulSet claims only pods named after
/// it).
pub fn classify_matching<O: Resource, C: Resource>(owner: &O, matches: bool, child: &C) -> Claim {
    let owner_uid = owner.meta().uid.as_deref().unwrap_or_default();
    let owner_deleting = owner.meta().deletion_timestamp.is_some();
    match controller_uid(child) {
        Some(uid) if uid != owner_uid => Claim::Ignore,
        Some(_) if matches => Claim::Owned,
        // An owner being deleted keeps what it has (no release) until the
        // garbage collector is done.
        Some(_) if owner_deleting => Claim::Ignore,
        Some(_) => Claim::Release,
        None if owner_deleting || !matches => Claim::Ignore,
        None if child.meta().deletion_timestamp.is_some() => Claim::Ignore,
        None => Claim::Adopt,
    }
}

/// Adds `owner` as `child`'s controller. A uid in the patch makes it fail
/// if the child was replaced meanwhile.
pub async fn adopt<O, C>(api: &Api<C>, owner: &O, child: &C) -> Result<C, kube::Error>
where
    O: Resource<DynamicType = ()>,
    C: Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    let patch = json!({"metadata": {
        "ownerReferences": [controller_reference(owner)],
        "uid": child.uid(),
    }});
    api.patch(
        &child.name_any(),
        &PatchParams::default(),
        &Patch::Strategic(patch),
    )
    .await
}

/// Removes `owner`'s reference from `child`; a child already gone is fine.
pub async fn release<O, C>(api: &Api<C>, owner: &O, child: &C) -> Result<(), kube::Error>
where
    O: Resource,
    C: Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    let patch = json!({"metadata": {
        "ownerReferences": [{"$patch": "delete", "uid": owner.uid()}],
        "uid": child.uid(),
    }});
    match api
        .patch(
            &child.name_any(),
            &PatchParams::default(),
            &Patch::Strategic(patch),
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 || s.code == 422 => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::ReplicaSet;
    use k8s_openapi::api::core::v1::Pod;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn rs(uid: &str, deleting: bool) -> ReplicaSet {
        let mut r = ReplicaSet::default();
        r.metadata.name = Some("rs".into());
        r.metadata.uid = Some(uid.into());
        if deleting {
            r.metadata.deletion_timestamp = Some(Time(crate::clock::now()));
        }
        r
    }

    fn pod(app: &str, owner: Option<&str>) -> Pod {
        let mut p = Pod::default();
        p.metadata.labels = Some([("app".to_string(), app.to_string())].into());
        if let Some(uid) = owner {
            p.metadata.owner_references = Some(vec![OwnerReference {
                uid: uid.into(),
                controller: Some(true),
                ..Default::default()
            }]);
        }
        p
    }

    #[test]
    fn resolves_only_the_same_kind_group_and_uid() {
        let store = Store::<ReplicaSet>::default();
        let mut owner = rs("u1", false);
        owner.metadata.namespace = Some("ns".into());
        store.insert(owner.clone());
        let mut child = pod("web", None);
        child.metadata.namespace = Some("ns".into());
        let mut r = controller_reference(&owner);
        child.metadata.owner_references = Some(vec![r.clone()]);
        assert!(resolve(&store, &child).is_some());
        r.uid = "u-old".into();
        child.metadata.owner_references = Some(vec![r.clone()]);
        assert!(resolve(&store, &child).is_none(), "a replaced owner");
        r.uid = "u1".into();
        r.api_version = "extensions/v1beta1".into();
        child.metadata.owner_references = Some(vec![r]);
        assert!(resolve(&store, &child).is_none(), "another group");
    }

    #[test]
    fn claims_as_upstream() {
        let sel = LabelSelector {
            match_labels: Some([("app".to_string(), "web".to_string())].into()),
            ..Default::default()
        };
        let owner = rs("u1", false);
        let cases = [
            (pod("web", Some("u1")), Claim::Owned),
            (pod("db", Some("u1")), Claim::Release),
            (pod("web", Some("u2")), Claim::Ignore),
            (pod("web", None), Claim::Adopt),
            (pod("db", None), Claim::Ignore),
        ];
        for (p, want) in cases {
            assert_eq!(classify(&owner, &sel, &p), want);
        }
        let deleting = rs("u1", true);
        assert_eq!(classify(&deleting, &sel, &pod("web", None)), Claim::Ignore);
        assert_eq!(
            classify(&deleting, &sel, &pod("db", Some("u1"))),
            Claim::Ignore
        );
    }
}
