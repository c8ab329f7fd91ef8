//! The DaemonSet's ControllerRevisions, as upstream's daemon controller
//! keeps them (pkg/controller/daemon/update.go), so that `kubectl rollout
//! history daemonset/x [--revision=N]` and `kubectl rollout undo
//! daemonset/x` work unchanged:
//!
//! * one revision per distinct pod template, named `<ds>-<hash>` where the
//!   hash is the template's (with `status.collisionCount`);
//! * labelled with the template's labels plus `controller-revision-hash`
//!   (the hash, also on every pod made from it), annotated with the
//!   DaemonSet's annotations (`kubernetes.io/change-cause` shows in the
//!   history), owned by the DaemonSet;
//! * `revision` numbers increase: the current template's revision is one
//!   more than the highest other revision, so undoing to an old template
//!   renumbers its revision;
//! * `data` is a strategic merge patch replacing `spec.template`, built as
//!   upstream's getPatch builds it (the template as Go marshals it, keys
//!   sorted, `"$patch": "replace"` inside the template): kubectl applies it
//!   client-side to show a revision and sends it as the undo patch, and
//!   compares it byte for byte with its own getPatch of the DaemonSet to
//!   skip an undo to the current template.
//!
//! Self-contained on purpose (the StatefulSet's revisions use the shared
//! history helpers of their own); only the template hash is shared with
//! the Deployment controller.

use std::collections::HashSet;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::{json, Map, Value};

use super::util::HASH_LABEL;
use super::DaemonSetController;
use crate::controller_ref::{self, Claim};
use crate::deployment::util::template_hash;
use crate::SyncError;

/// The hash of the DaemonSet's template with its collision count
/// (upstream controller.ComputeHash).
pub fn hash_of(ds: &DaemonSet) -> String {
    let template = ds
        .spec
        .as_ref()
        .map(|s| s.template.clone())
        .unwrap_or_default();
    template_hash(
        &template,
        ds.status.as_ref().and_then(|s| s.collision_count),
    )
}

/// `<ds>-<hash>`.
pub fn revision_name(ds_name: &str, hash: &str) -> String {
    format!("{ds_name}-{hash}")
}

/// Keys sorted at every level, as Go marshals a map.
fn sorted(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut entries: Vec<(String, Value)> = m.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, sorted(v)))
                    .collect::<Map<_, _>>(),
            )
        }
        Value::Array(a) => Value::Array(a.into_iter().map(sorted).collect()),
        other => other,
    }
}

/// The fields Go's encoder writes even when empty, which kubectl's own
/// getPatch therefore has: `metadata.creationTimestamp: null` and every
/// container's `resources: {}`.
fn as_go_marshals(template: &mut Value) {
    let Some(t) = template.as_object_mut() else {
        return;
    };
    let meta = t.entry("metadata").or_insert_with(|| json!({}));
    if let Some(m) = meta.as_object_mut() {
        m.entry("creationTimestamp").or_insert(Value::Null);
    }
    let spec = t.entry("spec").or_insert_with(|| json!({}));
    for list in ["initContainers", "containers", "ephemeralContainers"] {
        for c in spec
            .get_mut(list)
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            if let Some(c) = c.as_object_mut() {
                c.entry("resources").or_insert_with(|| json!({}));
            }
        }
    }
}

/// Upstream getPatch: `{"spec":{"template":{"$patch":"replace",…}}}`.
pub fn patch(ds: &DaemonSet) -> Value {
    let template = ds.spec.as_ref().map(|s| &s.template);
    let mut t = serde_json::to_value(template).unwrap_or_else(|_| json!({}));
    if !t.is_object() {
        t = json!({});
    }
    as_go_marshals(&mut t);
    if let Some(m) = t.as_object_mut() {
        m.insert("$patch".into(), json!("replace"));
    }
    sorted(json!({"spec": {"template": t}}))
}

/// Whether `cr` records the DaemonSet's current template (upstream Match).
pub fn matches(ds: &DaemonSet, cr: &ControllerRevision) -> bool {
    cr.data.as_ref().is_some_and(|d| d.0 == patch(ds))
}

pub fn hash_label(cr: &ControllerRevision) -> Option<&str> {
    cr.metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(HASH_LABEL))
        .map(String::as_str)
}

pub fn max_revision(revisions: &[ControllerRevision]) -> i64 {
    revisions.iter().map(|r| r.revision).max().unwrap_or(0)
}

/// The revision upstream's snapshot creates for the current template.
pub fn new_revision(ds: &DaemonSet, hash: &str, revision: i64) -> ControllerRevision {
    let mut labels = ds
        .spec
        .as_ref()
        .and_then(|s| s.template.metadata.as_ref())
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    labels.insert(HASH_LABEL.into(), hash.into());
    ControllerRevision {
        metadata: ObjectMeta {
            name: Some(revision_name(&ds.name_any(), hash)),
            namespace: ds.namespace(),
            labels: Some(labels),
            annotations: ds.metadata.annotations.clone(),
            owner_references: Some(vec![controller_ref::controller_reference(ds)]),
            ..Default::default()
        },
        data: Some(RawExtension(patch(ds))),
        revision,
    }
}

/// Old revisions to delete beyond `limit`, lowest revision first, sparing
/// any whose hash a live pod still carries (upstream cleanupHistory).
pub fn revisions_to_delete(
    old: &[ControllerRevision],
    limit: i32,
    live_hashes: &HashSet<String>,
) -> Vec<String> {
    let mut to_kill = old.len() as i64 - i64::from(limit.max(0));
    if to_kill <= 0 {
        return Vec::new();
    }
    let mut sorted: Vec<&ControllerRevision> = old.iter().collect();
    sorted.sort_by_key(|r| r.revision);
    let mut out = Vec::new();
    for r in sorted {
        if to_kill <= 0 {
            break;
        }
        if hash_label(r).is_some_and(|h| live_hashes.contains(h)) {
            continue;
        }
        out.push(r.name_any());
        to_kill -= 1;
    }
    out
}

impl DaemonSetController {
    fn revisions_api(&self, ns: &str) -> Api<ControllerRevision> {
        Api::namespaced(self.client.clone(), ns)
    }

    /// The revisions this DaemonSet owns after adopting matching orphans
    /// and releasing owned ones that stopped matching.
    async fn claim_revisions(&self, ds: &DaemonSet) -> Result<Vec<ControllerRevision>, SyncError> {
        let ns = ds.namespace().unwrap_or_default();
        let uid = ds.metadata.uid.clone().unwrap_or_default();
        let selector = ds
            .spec
            .as_ref()
            .map(|s| s.selector.clone())
            .unwrap_or_default();
        let mut candidates = self.revisions.controlled_by(&uid);
        candidates.extend(
            self.revisions
                .uncontrolled_in(&ns)
                .into_iter()
                .filter(|r| r.namespace().as_deref() == Some(ns.as_str())),
        );
        let api = self.revisions_api(&ns);
        let mut owned = Vec::new();
        for cr in candidates {
            match controller_ref::classify(ds, &selector, cr.as_ref()) {
                Claim::Owned => owned.push((*cr).clone()),
                Claim::Adopt => match controller_ref::adopt(&api, ds, cr.as_ref()).await {
                    Ok(r) => owned.push(r),
                    Err(kube::Error::Api(s)) if s.code == 404 || s.code == 422 => {}
                    Err(e) => return Err(e.into()),
                },
                Claim::Release => controller_ref::release(&api, ds, cr.as_ref()).await?,
                Claim::Ignore => {}
            }
        }
        Ok(owned)
    }

    /// The current revision (created or renumbered as needed) and the old
    /// ones (upstream constructHistory).
    pub(super) async fn construct_history(
        &self,
        ds: &DaemonSet,
        pods: &[Arc<Pod>],
    ) -> Result<(ControllerRevision, Vec<ControllerRevision>), SyncError> {
        let ns = ds.namespace().unwrap_or_default();
        let api = self.revisions_api(&ns);
        let mut current = Vec::new();
        let mut old = Vec::new();
        for mut cr in self.claim_revisions(ds).await? {
            if hash_label(&cr).is_none() {
                // Label it by its name, never recomputing a hash (which
                // could collide).
                let name = cr.name_any();
                cr.metadata
                    .labels
                    .get_or_insert_with(Default::default)
                    .insert(HASH_LABEL.into(), name.clone());
                cr = api.replace(&name, &PostParams::default(), &cr).await?;
            }
            if matches(ds, &cr) {
                current.push(cr);
            } else {
                old.push(cr);
            }
        }
        let next = max_revision(&old) + 1;
        let cur = if current.is_empty() {
            self.snapshot(ds, next).await?
        } else {
            let mut cur = self.dedup_current(ds, current, pods).await?;
            if cur.revision < next {
                cur.revision = next;
                cur = api
                    .replace(&cur.name_any(), &PostParams::default(), &cur)
                    .await?;
            }
            cur
        };
        Ok((cur, old))
    }

    /// Creates the revision for the current template (upstream snapshot).
    /// A different revision under the same name is a hash collision: the
    /// DaemonSet's collisionCount goes up and the sync is retried.
    async fn snapshot(
        &self,
        ds: &DaemonSet,
        revision: i64,
    ) -> Result<ControllerRevision, SyncError> {
        let ns = ds.namespace().unwrap_or_default();
        let api = self.revisions_api(&ns);
        let hash = hash_of(ds);
        let cr = new_revision(ds, &hash, revision);
        let name = cr.name_any();
        match api.create(&PostParams::default(), &cr).await {
            Ok(created) => Ok(created),
            Err(kube::Error::Api(s)) if s.code == 409 => {
                let existing = api.get(&name).await?;
                if matches(ds, &existing) {
                    return Ok(existing);
                }
                let ds_api: Api<DaemonSet> = Api::namespaced(self.client.clone(), &ns);
                let mut fresh = ds_api.get(&ds.name_any()).await?;
                let ours = ds.status.as_ref().and_then(|s| s.collision_count);
                let theirs = fresh.status.as_ref().and_then(|s| s.collision_count);
                if ours != theirs {
                    return Err(SyncError::Other(format!(
                        "found a stale collision count ({ours:?}, expected {theirs:?}) of DaemonSet {:?} while processing; will retry until it is updated",
                        ds.name_any()
                    )));
                }
                let status = fresh.status.get_or_insert_with(Default::default);
                status.collision_count = Some(theirs.unwrap_or(0) + 1);
                ds_api
                    .replace_status(&ds.name_any(), &PostParams::default(), &fresh)
                    .await?;
                tracing::debug!(daemonset = %ds.name_any(), "hash collision; collisionCount bumped");
                Err(kube::Error::Api(s).into())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Keeps the highest-numbered of several revisions of the current
    /// template, moving pods to its hash and deleting the others (upstream
    /// dedupCurHistories).
    async fn dedup_current(
        &self,
        ds: &DaemonSet,
        mut current: Vec<ControllerRevision>,
        pods: &[Arc<Pod>],
    ) -> Result<ControllerRevision, SyncError> {
        if current.len() == 1 {
            return Ok(current.remove(0));
        }
        let keep_idx = current
            .iter()
            .enumerate()
            .max_by_key(|(i, r)| (r.revision, *i))
            .map(|(i, _)| i)
            .unwrap_or(0);
        let keep = current.remove(keep_idx);
        let keep_hash = hash_label(&keep).unwrap_or_default().to_string();
        let ns = ds.namespace().unwrap_or_default();
        let pod_api: Api<Pod> = Api::namespaced(self.client.clone(), &ns);
        let api = self.revisions_api(&ns);
        for dup in current {
            for pod in pods {
                let label = pod.metadata.labels.as_ref().and_then(|l| l.get(HASH_LABEL));
                if label.map(String::as_str) != Some(keep_hash.as_str()) {
                    let body = json!({"metadata": {"labels": {HASH_LABEL: keep_hash}}});
                    pod_api
                        .patch(
                            &pod.name_any(),
                            &PatchParams::default(),
                            &Patch::Strategic(body),
                        )
                        .await?;
                }
            }
            match api.delete(&dup.name_any(), &DeleteParams::default()).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(keep)
    }

    /// Deletes old revisions beyond revisionHistoryLimit that no pod uses
    /// (upstream cleanupHistory; `pods` includes terminal, deleted pods).
    pub(super) async fn cleanup_history(
        &self,
        ds: &DaemonSet,
        old: &[ControllerRevision],
        pods: &[Arc<Pod>],
    ) -> Result<(), SyncError> {
        let limit = ds
            .spec
            .as_ref()
            .and_then(|s| s.revision_history_limit)
            .unwrap_or(10);
        let live: HashSet<String> = pods
            .iter()
            .filter_map(|p| p.metadata.labels.as_ref()?.get(HASH_LABEL).cloned())
            .filter(|h| !h.is_empty())
            .collect();
        let api = self.revisions_api(&ds.namespace().unwrap_or_default());
        for name in revisions_to_delete(old, limit, &live) {
            match api.delete(&name, &DeleteParams::default()).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::{DaemonSetSpec, DaemonSetStatus};
    use k8s_openapi::api::core::v1::{Container, PodSpec, PodTemplateSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

    fn ds(image: &str) -> DaemonSet {
        let labels: std::collections::BTreeMap<String, String> =
            [("app".to_string(), "agent".to_string())].into();
        DaemonSet {
            metadata: ObjectMeta {
                name: Some("agent".into()),
                namespace: Some("ns".into()),
                uid: Some("u1".into()),
                annotations: Some(
                    [("kubernetes.io/change-cause".to_string(), "v1".to_string())].into(),
                ),
                ..Default::default()
            },
            spec: Some(DaemonSetSpec {
                selector: LabelSelector {
                    match_labels: Some(labels.clone()),
                    ..Default::default()
                },
                template: PodTemplateSpec {
                    metadata: Some(ObjectMeta {
                        labels: Some(labels),
                        ..Default::default()
                    }),
                    spec: Some(PodSpec {
                        containers: vec![Container {
                            name: "c".into(),
                            image: Some(image.into()),
                            ..Default::default()
                        }],
                        ..Default::default()
                    }),
                },
                ..Default::default()
            }),
            status: None,
        }
    }

    #[test]
    fn patch_is_upstreams_get_patch() {
        // What kubectl's getDaemonSetPatch marshals for this DaemonSet.
        let want = r#"{"spec":{"template":{"$patch":"replace","metadata":{"creationTimestamp":null,"labels":{"app":"agent"}},"spec":{"containers":[{"image":"nginx:1","name":"c","resources":{}}]}}}}"#;
        assert_eq!(
            serde_json::to_string(&patch(&ds("nginx:1"))).unwrap_or_default(),
            want
        );
    }

    #[test]
    fn revision_names_labels_owner_and_data() {
        let d = ds("nginx:1");
        let hash = hash_of(&d);
        let cr = new_revision(&d, &hash, 3);
        assert_eq!(cr.name_any(), format!("agent-{hash}"));
        assert_eq!(cr.revision, 3);
        assert_eq!(hash_label(&cr), Some(hash.as_str()));
        assert_eq!(cr.labels().get("app").map(String::as_str), Some("agent"));
        assert_eq!(
            cr.annotations()
                .get("kubernetes.io/change-cause")
                .map(String::as_str),
            Some("v1")
        );
        let owner = &cr.owner_references()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.uid.as_str(), owner.controller),
            ("DaemonSet", "u1", Some(true))
        );
        assert!(matches(&d, &cr));
        assert!(!matches(&ds("nginx:2"), &cr));
    }

    #[test]
    fn collision_count_changes_the_hash() {
        let mut d = ds("nginx:1");
        let h0 = hash_of(&d);
        d.status = Some(DaemonSetStatus {
            collision_count: Some(1),
            ..Default::default()
        });
        assert_ne!(hash_of(&d), h0);
        assert_ne!(hash_of(&ds("nginx:2")), h0);
    }

    #[test]
    fn cleanup_spares_live_hashes_and_goes_oldest_first() {
        let rev = |n: i64, hash: &str| {
            let mut cr = new_revision(&ds("x"), hash, n);
            cr.metadata.name = Some(format!("r{n}"));
            cr
        };
        let old = vec![rev(3, "c"), rev(1, "a"), rev(2, "b"), rev(4, "d")];
        let live: HashSet<String> = ["a".to_string()].into();
        assert_eq!(revisions_to_delete(&old, 2, &live), ["r2", "r3"]);
        assert!(revisions_to_delete(&old, 4, &live).is_empty());
        assert_eq!(
            revisions_to_delete(&old, 0, &HashSet::new()),
            ["r1", "r2", "r3", "r4"]
        );
    }
}
