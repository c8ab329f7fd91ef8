//! ControllerRevision history as upstream's `pkg/controller/history`,
//! shared by the controllers that keep their pod templates as revisions
//! (StatefulSet now, DaemonSet next). Generic over the owner kind.
//!
//! A revision is named `<owner>-<hash>`, labelled
//! `controller.kubernetes.io/hash: <hash>` plus the template's labels, owned
//! by its controller, and numbered (`revision`); its `data` is the
//! strategic merge patch that restores the owner's `spec.template`, byte
//! for byte as upstream's `getPatch` writes it:
//!
//! ```text
//! {"spec":{"template":{"$patch":"replace","metadata":{"creationTimestamp":null,...},"spec":{...}}}}
//! ```
//!
//! (the owner as Go encodes its typed struct, re-marshalled as a map: keys
//! sorted, Go's escaping). The hash is FNV-1 (32 bit) of those bytes and
//! the collision count, in the consonant-and-digit alphabet. Equal bytes
//! give upstream's names, and `kubectl rollout history|undo` read and
//! compare `data` unchanged (undo patches the owner with it, and reports
//! "skipped rollback" when the live template already encodes to it).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::ControllerRevision;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;
use kube::api::{DeleteParams, PostParams};
use kube::{Api, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::controller_ref;
use crate::informer::{controller_uid, Store};
use crate::selector;

/// The label holding a revision's hash.
pub const HASH_LABEL: &str = "controller.kubernetes.io/hash";

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("cannot encode {kind} {name}: {reason}")]
    Encode {
        kind: String,
        name: String,
        reason: String,
    },
    #[error("cannot apply revision {revision}: {reason}")]
    Apply { revision: String, reason: String },
}

/// `<prefix>-<hash>`, the prefix cut to 223 bytes so the name stays within
/// 253 (upstream ControllerRevisionName).
pub fn revision_name(prefix: &str, hash: &str) -> String {
    let mut cut = prefix.len().min(223);
    while !prefix.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}-{hash}", &prefix[..cut])
}

/// Upstream HashControllerRevision: FNV-1 (not 1a) over the data bytes,
/// then the decimal collision count, written with the alphabet that never
/// spells words.
pub fn hash_data(raw: &[u8], probe: Option<i32>) -> String {
    let mut h: u32 = 0x811c_9dc5;
    let mut feed = |bytes: &[u8]| {
        for b in bytes {
            h = h.wrapping_mul(0x0100_0193);
            h ^= u32::from(*b);
        }
    };
    feed(raw);
    if let Some(p) = probe {
        feed(p.to_string().as_bytes());
    }
    safe_encode(&h.to_string())
}

fn safe_encode(s: &str) -> String {
    const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    s.bytes()
        .map(|b| ALPHANUMS[usize::from(b) % ALPHANUMS.len()] as char)
        .collect()
}

/// Upstream getPatch (StatefulSet and DaemonSet alike): the patch that
/// replaces the owner's `spec.template` with its current one, as the bytes
/// Go writes.
pub fn template_patch<K>(owner: &K) -> Result<String, HistoryError>
where
    K: Resource<DynamicType = ()> + Serialize,
{
    let err = |reason: String| HistoryError::Encode {
        kind: K::kind(&()).into_owned(),
        name: owner.name_any(),
        reason,
    };
    let json = serde_json::to_value(owner).map_err(|e| err(e.to_string()))?;
    let typed = bosun_protobuf::gojson::typed_json(&K::api_version(&()), &K::kind(&()), &json)
        .map_err(|e| err(e.to_string()))?;
    let mut template = typed
        .get("spec")
        .and_then(|s| s.get("template"))
        .cloned()
        .filter(Value::is_object)
        .ok_or_else(|| err("no spec.template".into()))?;
    if let Some(t) = template.as_object_mut() {
        t.insert("$patch".into(), Value::from("replace"));
    }
    let patch = serde_json::json!({"spec": {"template": template}});
    Ok(bosun_protobuf::gojson::marshal_sorted(&patch))
}

/// A revision's data as the bytes upstream hashes and compares.
pub fn raw_data(revision: &ControllerRevision) -> String {
    match revision.data.as_ref() {
        Some(RawExtension(v)) => bosun_protobuf::gojson::marshal_sorted(v),
        None => String::new(),
    }
}

/// Upstream NewControllerRevision: owned by `parent`, labelled with the
/// template's labels and the hash, named `<parent>-<hash>`, holding `raw`.
pub fn new_revision<K>(
    parent: &K,
    template_labels: Option<&BTreeMap<String, String>>,
    raw: &str,
    revision: i64,
    collision_count: i32,
) -> ControllerRevision
where
    K: Resource<DynamicType = ()>,
{
    let hash = hash_data(raw.as_bytes(), Some(collision_count));
    let mut labels = template_labels.cloned().unwrap_or_default();
    labels.insert(HASH_LABEL.into(), hash.clone());
    ControllerRevision {
        metadata: ObjectMeta {
            name: Some(revision_name(&parent.name_any(), &hash)),
            namespace: parent.namespace(),
            labels: Some(labels),
            owner_references: Some(vec![controller_ref::controller_reference(parent)]),
            ..Default::default()
        },
        // Parsed back with the workspace's preserve_order: the stored data
        // keeps the sorted order, so the server writes the same bytes.
        data: serde_json::from_str(raw).ok().map(RawExtension),
        revision,
    }
}

/// Upstream EqualRevision: the same data (hash labels differing only when
/// both parse as numbers, which upstream's encoded hashes never do).
pub fn equal_revision(a: &ControllerRevision, b: &ControllerRevision) -> bool {
    let hash = |r: &ControllerRevision| {
        r.metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(HASH_LABEL))
            .and_then(|h| h.parse::<i32>().ok())
    };
    if let (Some(x), Some(y)) = (hash(a), hash(b)) {
        if x != y {
            return false;
        }
    }
    raw_data(a) == raw_data(b)
}

/// The revisions equal to `needle`, in their order.
pub fn find_equal_revisions<'a>(
    revisions: &'a [Arc<ControllerRevision>],
    needle: &ControllerRevision,
) -> Vec<&'a Arc<ControllerRevision>> {
    revisions
        .iter()
        .filter(|r| equal_revision(r, needle))
        .collect()
}

/// By revision number, then creation time, then name (upstream byRevision).
pub fn sort_revisions(revisions: &mut [Arc<ControllerRevision>]) {
    revisions.sort_by(|a, b| {
        a.revision
            .cmp(&b.revision)
            .then_with(|| {
                let t =
                    |r: &ControllerRevision| r.metadata.creation_timestamp.as_ref().map(|t| t.0);
                t(a).cmp(&t(b))
            })
            .then_with(|| a.metadata.name.cmp(&b.metadata.name))
    });
}

/// One more than the highest revision (1 for none); `sorted` must be
/// sorted with [`sort_revisions`].
pub fn next_revision(sorted: &[Arc<ControllerRevision>]) -> i64 {
    sorted.last().map_or(1, |r| r.revision + 1)
}

/// Upstream ApplyRevision: `obj` with the revision's patch applied (its
/// template restored).
pub fn apply_revision<K>(obj: &K, revision: &ControllerRevision) -> Result<K, HistoryError>
where
    K: Resource<DynamicType = ()> + Serialize + DeserializeOwned,
{
    let err = |reason: String| HistoryError::Apply {
        revision: revision.name_any(),
        reason,
    };
    let original = serde_json::to_value(obj).map_err(|e| err(e.to_string()))?;
    let patch = revision
        .data
        .as_ref()
        .map(|d| d.0.clone())
        .unwrap_or_else(|| Value::Object(Default::default()));
    let patched =
        bosun_patch::apply_strategic_merge_patch(&original, &patch, &K::group(&()), &K::kind(&()))
            .map_err(|e| err(e.to_string()))?;
    serde_json::from_value(patched).map_err(|e| err(e.to_string()))
}

/// Reads revisions from the shared informer and writes them through the
/// API (upstream realHistory).
#[derive(Clone)]
pub struct History {
    client: kube::Client,
    store: Arc<Store<ControllerRevision>>,
}

impl History {
    pub fn new(client: kube::Client, store: Arc<Store<ControllerRevision>>) -> Self {
        History { client, store }
    }

    fn api(&self, namespace: &str) -> Api<ControllerRevision> {
        Api::namespaced(self.client.clone(), namespace)
    }

    /// The revisions in `parent`'s namespace that `selector` matches and
    /// that `parent` owns or nobody does.
    pub fn list<K: Resource>(
        &self,
        parent: &K,
        selector: &LabelSelector,
    ) -> Vec<Arc<ControllerRevision>> {
        let ns = parent.meta().namespace.clone().unwrap_or_default();
        let uid = parent.meta().uid.clone().unwrap_or_default();
        let mut found = self.store.controlled_by(&uid);
        found.retain(|r| r.metadata.namespace.as_deref() == Some(ns.as_str()));
        found.extend(self.store.uncontrolled_in(&ns));
        found.retain(|r| selector::matches(selector, r.metadata.labels.as_ref()));
        found
    }

    /// Creates `revision` for `parent`, renaming it with a bumped
    /// `collision_count` while the name is taken by different data; an
    /// equal revision found under the name is returned as is.
    pub async fn create<K: Resource>(
        &self,
        parent: &K,
        revision: &ControllerRevision,
        collision_count: &mut i32,
    ) -> Result<ControllerRevision, kube::Error> {
        let ns = parent.meta().namespace.clone().unwrap_or_default();
        let api = self.api(&ns);
        let raw = raw_data(revision);
        let parent_name = parent.meta().name.clone().unwrap_or_default();
        let mut clone = revision.clone();
        clone.metadata.namespace = Some(ns);
        loop {
            let hash = hash_data(raw.as_bytes(), Some(*collision_count));
            let name = revision_name(&parent_name, &hash);
            clone.metadata.name = Some(name.clone());
            match api.create(&PostParams::default(), &clone).await {
                Err(kube::Error::Api(s)) if s.code == 409 => {
                    let existing = api.get(&name).await?;
                    if raw_data(&existing) == raw {
                        return Ok(existing);
                    }
                    *collision_count += 1;
                }
                other => return other,
            }
        }
    }

    /// Sets `revision`'s number to `new_revision`, retrying conflicts with
    /// the informer's newer copy.
    pub async fn update_revision(
        &self,
        revision: &ControllerRevision,
        new_revision: i64,
    ) -> Result<ControllerRevision, kube::Error> {
        let api = self.api(&revision.namespace().unwrap_or_default());
        let mut clone = revision.clone();
        let mut attempt = 0;
        loop {
            if clone.revision == new_revision {
                return Ok(clone);
            }
            clone.revision = new_revision;
            match api
                .replace(&clone.name_any(), &PostParams::default(), &clone)
                .await
            {
                Ok(updated) => return Ok(updated),
                Err(kube::Error::Api(s)) if s.code == 409 && attempt < 5 => {
                    attempt += 1;
                    clone = match api.get(&revision.name_any()).await {
                        Ok(fresh) => fresh,
                        Err(e) => return Err(e),
                    };
                    tokio::time::sleep(Duration::from_millis(10 << attempt)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Deletes `revision` (already gone is fine).
    pub async fn delete(&self, revision: &ControllerRevision) -> Result<(), kube::Error> {
        match self
            .api(&revision.namespace().unwrap_or_default())
            .delete(&revision.name_any(), &DeleteParams::default())
            .await
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Makes `parent` the controller of an orphaned revision (the patch
    /// carries the revision's uid, so it fails if it was replaced).
    pub async fn adopt<K: Resource<DynamicType = ()>>(
        &self,
        parent: &K,
        revision: &ControllerRevision,
    ) -> Result<ControllerRevision, kube::Error> {
        if controller_uid(revision).is_some() {
            return Ok(revision.clone());
        }
        controller_ref::adopt(
            &self.api(&revision.namespace().unwrap_or_default()),
            parent,
            revision,
        )
        .await
    }

    /// Removes `parent`'s reference from `revision`.
    pub async fn release<K: Resource>(
        &self,
        parent: &K,
        revision: &ControllerRevision,
    ) -> Result<(), kube::Error> {
        controller_ref::release(
            &self.api(&revision.namespace().unwrap_or_default()),
            parent,
            revision,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetSpec};
    use k8s_openapi::api::core::v1::{Container, PodSpec, PodTemplateSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    /// A StatefulSet whose template upstream's own test data encodes.
    fn upstream_fixture() -> StatefulSet {
        let map = |k: &str, v: &str| Some(BTreeMap::from([(k.to_string(), v.to_string())]));
        StatefulSet {
            metadata: ObjectMeta {
                name: Some("test".into()),
                namespace: Some("test".into()),
                uid: Some("ssuid".into()),
                ..Default::default()
            },
            spec: Some(StatefulSetSpec {
                template: PodTemplateSpec {
                    metadata: Some(ObjectMeta {
                        labels: map("app", "foo"),
                        annotations: map("test", "value"),
                        ..Default::default()
                    }),
                    spec: Some(PodSpec {
                        containers: vec![Container {
                            name: "test".into(),
                            image: Some("test".into()),
                            image_pull_policy: Some("Always".into()),
                            termination_message_path: Some("/dev/termination-log".into()),
                            termination_message_policy: Some("File".into()),
                            ..Default::default()
                        }],
                        dns_policy: Some("ClusterFirst".into()),
                        restart_policy: Some("Always".into()),
                        scheduler_name: Some("default-scheduler".into()),
                        security_context: Some(Default::default()),
                        termination_grace_period_seconds: Some(30),
                        ..Default::default()
                    }),
                },
                ..Default::default()
            }),
            status: None,
        }
    }

    // From upstream's statefulset tests: this data under the name
    // test-c77f6d978 (collision count 0).
    const UPSTREAM_RAW: &str = r#"{"spec":{"template":{"$patch":"replace","metadata":{"annotations":{"test":"value"},"creationTimestamp":null,"labels":{"app":"foo"}},"spec":{"containers":[{"image":"test","imagePullPolicy":"Always","name":"test","resources":{},"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File"}],"dnsPolicy":"ClusterFirst","restartPolicy":"Always","schedulerName":"default-scheduler","securityContext":{},"terminationGracePeriodSeconds":30}}}}"#;

    #[test]
    fn patch_bytes_and_name_match_upstream() {
        let set = upstream_fixture();
        let raw = template_patch(&set).expect("encodes");
        assert_eq!(raw, UPSTREAM_RAW);
        let labels = set
            .spec
            .as_ref()
            .and_then(|s| s.template.metadata.as_ref())
            .and_then(|m| m.labels.as_ref());
        let cr = new_revision(&set, labels, &raw, 1, 0);
        assert_eq!(cr.metadata.name.as_deref(), Some("test-c77f6d978"));
        let l = cr.metadata.labels.as_ref().expect("labels");
        assert_eq!(l.get(HASH_LABEL).map(String::as_str), Some("c77f6d978"));
        assert_eq!(l.get("app").map(String::as_str), Some("foo"));
        assert_eq!(
            raw_data(&cr),
            UPSTREAM_RAW,
            "stored data writes the same bytes"
        );
        let owner = &cr.metadata.owner_references.as_ref().expect("owner")[0];
        assert_eq!(
            (owner.kind.as_str(), owner.uid.as_str()),
            ("StatefulSet", "ssuid")
        );
        // A collision renames.
        assert_ne!(hash_data(raw.as_bytes(), Some(1)), "c77f6d978");
    }

    #[test]
    fn applying_a_revision_restores_the_template() {
        let set = upstream_fixture();
        let raw = template_patch(&set).expect("encodes");
        let cr = new_revision(&set, None, &raw, 1, 0);
        let mut changed = set.clone();
        if let Some(spec) = changed.spec.as_mut() {
            spec.template.spec.as_mut().expect("spec").containers[0].image = Some("other".into());
            spec.template.metadata.as_mut().expect("meta").labels = None;
        }
        assert!(!equal_revision(
            &cr,
            &new_revision(&changed, None, &template_patch(&changed).expect("e"), 2, 0)
        ));
        let restored = apply_revision(&changed, &cr).expect("applies");
        let template = &restored.spec.as_ref().expect("spec").template;
        assert_eq!(
            template.spec.as_ref().expect("spec").containers[0]
                .image
                .as_deref(),
            Some("test")
        );
        // Equal up to Go's zero values (`resources: {}`): the same patch.
        assert_eq!(template_patch(&restored).expect("e"), raw);
    }

    #[test]
    fn revisions_sort_by_number_then_age_then_name() {
        let cr = |name: &str, rev: i64, secs: i64| {
            Arc::new(ControllerRevision {
                metadata: ObjectMeta {
                    name: Some(name.into()),
                    creation_timestamp: Some(Time(jiff::Timestamp::from_second(secs).expect("ts"))),
                    ..Default::default()
                },
                revision: rev,
                data: None,
            })
        };
        let mut revs = vec![cr("c", 2, 5), cr("b", 1, 9), cr("a", 1, 9), cr("d", 1, 1)];
        sort_revisions(&mut revs);
        let names: Vec<_> = revs.iter().map(|r| r.name_any()).collect();
        assert_eq!(names, ["d", "a", "b", "c"]);
        assert_eq!(next_revision(&revs), 3);
        assert_eq!(next_revision(&[]), 1);
    }

    #[test]
    fn long_prefixes_are_cut() {
        let long = "x".repeat(300);
        assert_eq!(revision_name(&long, "abc").len(), 223 + 4);
    }
}
