//! StatefulSet arithmetic as upstream's stateful_set_utils.go: ordinals and
//! identities, storage from volumeClaimTemplates, the PVC retention
//! policy's owner references, pod phases, revisions of pods, new pods.
//! Pure.

use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetSpec};
use k8s_openapi::api::core::v1::{
    PersistentVolumeClaim, PersistentVolumeClaimVolumeSource, Pod, Volume,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::ResourceExt;

use crate::controller_ref;
use crate::pod_util;

/// Pod label: the pod's own name.
pub const POD_NAME_LABEL: &str = "statefulset.kubernetes.io/pod-name";
/// Pod label: the pod's ordinal.
pub const POD_INDEX_LABEL: &str = "apps.kubernetes.io/pod-index";
/// Pod label: the name of the ControllerRevision the pod was made from.
pub const REVISION_LABEL: &str = "controller-revision-hash";

/// The owner-reference identity of a StatefulSet and a Pod.
const SET_API_VERSION: &str = "apps/v1";
const SET_KIND: &str = "StatefulSet";

fn default_spec() -> &'static StatefulSetSpec {
    static EMPTY: std::sync::OnceLock<StatefulSetSpec> = std::sync::OnceLock::new();
    EMPTY.get_or_init(StatefulSetSpec::default)
}

pub fn spec(set: &StatefulSet) -> &StatefulSetSpec {
    set.spec.as_ref().unwrap_or_else(|| default_spec())
}

/// The parent name and ordinal in a pod name `<parent>-<ordinal>`
/// (upstream's `(.*)-([0-9]+)$`); the ordinal is -1 when the digits do not
/// fit an int32, and `None` when the name has no such suffix.
pub fn parent_and_ordinal(name: &str) -> Option<(&str, i64)> {
    let (parent, digits) = name.rsplit_once('-')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((parent, digits.parse::<i32>().map_or(-1, i64::from)))
}

/// The pod's ordinal, -1 if it has none.
pub fn ordinal(pod: &Pod) -> i64 {
    pod.metadata
        .name
        .as_deref()
        .and_then(parent_and_ordinal)
        .map_or(-1, |(_, o)| o)
}

pub fn replicas(set: &StatefulSet) -> i64 {
    i64::from(spec(set).replicas.unwrap_or(1))
}

/// `spec.ordinals.start`, or 0.
pub fn start_ordinal(set: &StatefulSet) -> i64 {
    spec(set)
        .ordinals
        .as_ref()
        .and_then(|o| o.start)
        .map_or(0, i64::from)
}

/// The last ordinal in range (inclusive).
pub fn end_ordinal(set: &StatefulSet) -> i64 {
    start_ordinal(set) + replicas(set) - 1
}

pub fn in_ordinal_range(pod: &Pod, set: &StatefulSet) -> bool {
    let o = ordinal(pod);
    o >= start_ordinal(set) && o <= end_ordinal(set)
}

pub fn pod_name(set: &StatefulSet, ordinal: i64) -> String {
    format!("{}-{ordinal}", set.name_any())
}

/// `<claim>-<set>-<ordinal>`.
pub fn claim_name(set: &StatefulSet, template: &PersistentVolumeClaim, ordinal: i64) -> String {
    format!("{}-{}-{ordinal}", template.name_any(), set.name_any())
}

/// Whether the pod's name makes it one of the set's.
pub fn is_member_of(set: &StatefulSet, pod: &Pod) -> bool {
    pod.metadata
        .name
        .as_deref()
        .and_then(parent_and_ordinal)
        .is_some_and(|(parent, _)| parent == set.name_any())
}

/// Name, namespace and the pod-name label match the set's idea of the pod.
pub fn identity_matches(set: &StatefulSet, pod: &Pod) -> bool {
    let Some((parent, ord)) = pod.metadata.name.as_deref().and_then(parent_and_ordinal) else {
        return false;
    };
    ord >= 0
        && parent == set.name_any()
        && pod.name_any() == pod_name(set, ord)
        && pod.metadata.namespace == set.metadata.namespace
        && label(pod, POD_NAME_LABEL) == Some(pod.name_any().as_str())
}

fn label<'a>(pod: &'a Pod, key: &str) -> Option<&'a str> {
    pod.metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(key))
        .map(String::as_str)
}

/// Every claim template has a volume of its name on the pod pointing at
/// the pod's claim.
pub fn storage_matches(set: &StatefulSet, pod: &Pod) -> bool {
    let ord = ordinal(pod);
    if ord < 0 {
        return false;
    }
    let volumes = pod
        .spec
        .as_ref()
        .and_then(|s| s.volumes.as_deref())
        .unwrap_or_default();
    claim_templates(set).iter().all(|claim| {
        volumes
            .iter()
            .find(|v| v.name == claim.name_any())
            .and_then(|v| v.persistent_volume_claim.as_ref())
            .is_some_and(|p| p.claim_name == claim_name(set, claim, ord))
    })
}

pub fn claim_templates(set: &StatefulSet) -> &[PersistentVolumeClaim] {
    spec(set)
        .volume_claim_templates
        .as_deref()
        .unwrap_or_default()
}

/// Retain or Delete, for `whenDeleted` and `whenScaled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retention {
    Retain,
    Delete,
}

/// (whenDeleted, whenScaled); anything but `Delete` retains, as upstream
/// treats unknown policies.
pub fn retention_policy(set: &StatefulSet) -> (Retention, Retention) {
    let p = spec(set).persistent_volume_claim_retention_policy.as_ref();
    let of = |v: Option<&String>| match v.map(String::as_str) {
        Some("Delete") => Retention::Delete,
        _ => Retention::Retain,
    };
    (
        of(p.and_then(|p| p.when_deleted.as_ref())),
        of(p.and_then(|p| p.when_scaled.as_ref())),
    )
}

fn refs(claim: &PersistentVolumeClaim) -> &[OwnerReference] {
    claim
        .metadata
        .owner_references
        .as_deref()
        .unwrap_or_default()
}

fn matches_set_ref(r: &OwnerReference, set: &StatefulSet) -> bool {
    r.api_version == SET_API_VERSION && r.kind == SET_KIND && r.name == set.name_any()
}

fn matches_pod_ref(r: &OwnerReference, pod: &Pod) -> bool {
    r.api_version == "v1" && r.kind == "Pod" && r.name == pod.name_any()
}

fn uid_of<K: kube::Resource>(obj: &K) -> &str {
    obj.meta().uid.as_deref().unwrap_or_default()
}

/// A controller other than the set or the pod owns the claim (only
/// relevant when something is deleted by policy).
pub fn has_unexpected_controller(
    claim: &PersistentVolumeClaim,
    set: &StatefulSet,
    pod: &Pod,
) -> bool {
    if retention_policy(set) == (Retention::Retain, Retention::Retain) {
        return false;
    }
    for r in refs(claim) {
        if matches_set_ref(r, set) {
            if r.uid != uid_of(set) {
                return true;
            }
            continue;
        }
        if matches_pod_ref(r, pod) {
            if r.uid != uid_of(pod) {
                return true;
            }
            continue;
        }
        if r.controller == Some(true) {
            return true;
        }
    }
    false
}

fn has_non_controller_owner(claim: &PersistentVolumeClaim, set: &StatefulSet, pod: &Pod) -> bool {
    refs(claim)
        .iter()
        .any(|r| (r.uid == uid_of(set) || r.uid == uid_of(pod)) && r.controller != Some(true))
}

fn has_owner_ref(claim: &PersistentVolumeClaim, uid: &str) -> bool {
    refs(claim).iter().any(|r| r.uid == uid)
}

/// The claim names the object (by kind and name) with another uid: it
/// belongs to an earlier object of that name.
pub fn has_stale_set_ref(claim: &PersistentVolumeClaim, set: &StatefulSet) -> bool {
    refs(claim)
        .iter()
        .find(|r| matches_set_ref(r, set))
        .is_some_and(|r| r.uid != uid_of(set))
}

pub fn has_stale_pod_ref(claim: &PersistentVolumeClaim, pod: &Pod) -> bool {
    refs(claim)
        .iter()
        .find(|r| matches_pod_ref(r, pod))
        .is_some_and(|r| r.uid != uid_of(pod))
}

/// Upstream isClaimOwnerUpToDate: the claim's owner references agree with
/// the retention policy — Retain/Retain: none; whenDeleted Delete: the set
/// (while the pod is in range); whenScaled Delete: the pod once it is
/// scaled away. Claims with stale references or another controller are
/// left alone.
pub fn claim_owner_up_to_date(claim: &PersistentVolumeClaim, set: &StatefulSet, pod: &Pod) -> bool {
    if has_stale_set_ref(claim, set) || has_stale_pod_ref(claim, pod) {
        return true;
    }
    let (set_uid, pod_uid) = (uid_of(set), uid_of(pod));
    if has_unexpected_controller(claim, set, pod) {
        return !(has_owner_ref(claim, set_uid) || has_owner_ref(claim, pod_uid));
    }
    if has_non_controller_owner(claim, set, pod) {
        return false;
    }
    let has_set = has_owner_ref(claim, set_uid);
    let has_pod = has_owner_ref(claim, pod_uid);
    let scaled_down = !in_ordinal_range(pod, set);
    match retention_policy(set) {
        (Retention::Retain, Retention::Retain) => !has_set && !has_pod,
        (Retention::Delete, Retention::Retain) => has_set && !has_pod,
        (Retention::Retain, Retention::Delete) => !has_set && scaled_down == has_pod,
        (Retention::Delete, Retention::Delete) => scaled_down != has_set && scaled_down == has_pod,
    }
}

/// Upstream updateClaimOwnerRefForSetAndPod: rewrites the claim's
/// references to the set and the pod to match the policy.
pub fn update_claim_owner_refs(claim: &mut PersistentVolumeClaim, set: &StatefulSet, pod: &Pod) {
    let unexpected = has_unexpected_controller(claim, set, pod);
    let mut refs: Vec<OwnerReference> = refs(claim)
        .iter()
        .filter(|r| !matches_set_ref(r, set) && !matches_pod_ref(r, pod))
        .cloned()
        .collect();
    if !unexpected {
        let scaled_down = !in_ordinal_range(pod, set);
        let mut add = |r: OwnerReference| {
            if !refs.iter().any(|x| x.uid == r.uid) {
                refs.push(r);
            }
        };
        match retention_policy(set) {
            (Retention::Retain, Retention::Retain) => {}
            (Retention::Delete, Retention::Retain) => {
                add(controller_ref::controller_reference(set))
            }
            (Retention::Retain, Retention::Delete) => {
                if scaled_down {
                    add(controller_ref::controller_reference(pod));
                }
            }
            (Retention::Delete, Retention::Delete) => {
                if scaled_down {
                    add(controller_ref::controller_reference(pod));
                } else {
                    add(controller_ref::controller_reference(set));
                }
            }
        }
    }
    claim.metadata.owner_references = (!refs.is_empty()).then_some(refs);
}

/// The pod's claims from the templates, in template order, each named for
/// the pod and labelled with the template's labels and the selector's
/// matchLabels: (template name, claim).
pub fn claims_for(set: &StatefulSet, pod: &Pod) -> Vec<(String, PersistentVolumeClaim)> {
    let ord = ordinal(pod);
    let selector_labels = spec(set).selector.match_labels.clone().unwrap_or_default();
    claim_templates(set)
        .iter()
        .map(|t| {
            let mut claim = t.clone();
            claim.metadata.name = Some(claim_name(set, t, ord));
            claim.metadata.namespace = set.metadata.namespace.clone();
            let labels = claim.metadata.labels.get_or_insert_with(Default::default);
            labels.extend(selector_labels.clone());
            if labels.is_empty() {
                claim.metadata.labels = None;
            }
            claim.status = None;
            (t.name_any(), claim)
        })
        .collect()
}

/// Points the claim templates' volumes at the pod's claims, keeping the
/// pod's other volumes (upstream updateStorage).
pub fn update_storage(set: &StatefulSet, pod: &mut Pod) {
    let claims = claims_for(set, pod);
    let spec = pod.spec.get_or_insert_with(Default::default);
    let current = spec.volumes.take().unwrap_or_default();
    let mut volumes: Vec<Volume> = claims
        .iter()
        .map(|(name, claim)| Volume {
            name: name.clone(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: claim.name_any(),
                read_only: None,
            }),
            ..Default::default()
        })
        .collect();
    volumes.extend(
        current
            .into_iter()
            .filter(|v| !claims.iter().any(|(name, _)| *name == v.name)),
    );
    spec.volumes = (!volumes.is_empty()).then_some(volumes);
}

/// Name, namespace and the pod-name and pod-index labels.
pub fn update_identity(set: &StatefulSet, pod: &mut Pod) {
    let ord = ordinal(pod);
    pod.metadata.name = Some(pod_name(set, ord));
    pod.metadata.namespace = set.metadata.namespace.clone();
    let labels = pod.metadata.labels.get_or_insert_with(Default::default);
    labels.insert(POD_NAME_LABEL.into(), pod_name(set, ord));
    labels.insert(POD_INDEX_LABEL.into(), ord.to_string());
}

/// The identity plus hostname and subdomain, which are immutable and set
/// only at creation.
pub fn init_identity(set: &StatefulSet, pod: &mut Pod) {
    update_identity(set, pod);
    let name = pod.name_any();
    let spec = pod.spec.get_or_insert_with(Default::default);
    spec.hostname = Some(name);
    spec.subdomain = self::spec(set)
        .service_name
        .clone()
        .filter(|s| !s.is_empty());
}

fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or_default()
}

pub fn is_running_and_ready(pod: &Pod) -> bool {
    phase(pod) == "Running" && pod_util::is_ready(pod)
}

pub fn is_running_and_available(pod: &Pod, min_ready_seconds: i32, now: jiff::Timestamp) -> bool {
    pod_util::is_available(pod, min_ready_seconds, now)
}

/// The API server has it (it has a phase).
pub fn is_created(pod: &Pod) -> bool {
    !phase(pod).is_empty()
}

pub fn is_pending(pod: &Pod) -> bool {
    phase(pod) == "Pending"
}

pub fn is_failed(pod: &Pod) -> bool {
    phase(pod) == "Failed"
}

pub fn is_succeeded(pod: &Pod) -> bool {
    phase(pod) == "Succeeded"
}

pub fn is_terminating(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_some()
}

/// Not available for minReadySeconds, or on its way out.
pub fn is_unavailable(pod: &Pod, min_ready_seconds: i32, now: jiff::Timestamp) -> bool {
    !is_running_and_available(pod, min_ready_seconds, now) || is_terminating(pod)
}

/// Parallel pod management.
pub fn allows_burst(set: &StatefulSet) -> bool {
    spec(set).pod_management_policy.as_deref() == Some("Parallel")
}

pub fn min_ready_seconds(set: &StatefulSet) -> i32 {
    spec(set).min_ready_seconds.unwrap_or(0)
}

pub fn is_on_delete(set: &StatefulSet) -> bool {
    update_strategy_type(set) == "OnDelete"
}

pub(super) fn update_strategy_type(set: &StatefulSet) -> &str {
    spec(set)
        .update_strategy
        .as_ref()
        .and_then(|s| s.type_.as_deref())
        .unwrap_or("RollingUpdate")
}

fn rolling_update(
    set: &StatefulSet,
) -> Option<&k8s_openapi::api::apps::v1::RollingUpdateStatefulSetStrategy> {
    spec(set)
        .update_strategy
        .as_ref()
        .and_then(|s| s.rolling_update.as_ref())
}

/// `rollingUpdate.partition`, or 0.
pub fn partition(set: &StatefulSet) -> i64 {
    rolling_update(set)
        .and_then(|r| r.partition)
        .map_or(0, i64::from)
}

/// `rollingUpdate.maxUnavailable` resolved against the replicas (percent
/// rounded down, at least 1), when it is set.
pub fn max_unavailable(set: &StatefulSet) -> Option<i64> {
    let value = rolling_update(set)?.max_unavailable.as_ref()?;
    let n = match value {
        IntOrString::Int(i) => i64::from(*i),
        IntOrString::String(s) => match s.strip_suffix('%').and_then(|p| p.parse::<i64>().ok()) {
            Some(p) => replicas(set) * p / 100,
            None => s.parse().unwrap_or(1),
        },
    };
    Some(n.max(1))
}

pub fn pod_revision(pod: &Pod) -> &str {
    label(pod, REVISION_LABEL).unwrap_or_default()
}

pub fn set_pod_revision(pod: &mut Pod, revision: &str) {
    pod.metadata
        .labels
        .get_or_insert_with(Default::default)
        .insert(REVISION_LABEL.into(), revision.into());
}

/// A pod for `ordinal` from the set's template, with its identity and
/// storage (upstream newStatefulSetPod).
pub fn new_pod(set: &StatefulSet, ordinal: i64) -> Pod {
    let template = &spec(set).template;
    let mut pod = pod_util::pod_from_template(
        template,
        &set.namespace().unwrap_or_default(),
        &set.name_any(),
        controller_ref::controller_reference(set),
    );
    pod.metadata.name = Some(pod_name(set, ordinal));
    init_identity(set, &mut pod);
    update_storage(set, &mut pod);
    pod
}

/// Whether a pod for `ordinal` is created at the current revision rather
/// than the update revision: below the partition, or, when
/// `rollingUpdate` is unset, below `status.currentReplicas` (upstream
/// newVersionedStatefulSetPod, including its reading of the condition).
pub fn recreates_at_current(set: &StatefulSet, ordinal: i64) -> bool {
    let start = start_ordinal(set);
    let ru = rolling_update(set);
    let current_replicas = set
        .status
        .as_ref()
        .and_then(|s| s.current_replicas)
        .map_or(0, i64::from);
    (update_strategy_type(set) == "RollingUpdate"
        && ru.is_none()
        && ordinal < start + current_replicas)
        || (ru.is_some() && ordinal < start + partition(set))
}

/// The pod for `ordinal` at the revision the rollout wants for it: below
/// the partition the current revision, else the update revision (upstream
/// newVersionedStatefulSetPod, including its reading of the condition).
pub fn new_versioned_pod(
    current_set: &StatefulSet,
    update_set: &StatefulSet,
    current_revision: &str,
    update_revision: &str,
    ordinal: i64,
) -> Pod {
    let (set, revision) = if recreates_at_current(current_set, ordinal) {
        (current_set, current_revision)
    } else {
        (update_set, update_revision)
    };
    let mut pod = new_pod(set, ordinal);
    set_pod_revision(&mut pod, revision);
    pod
}

#[cfg(test)]
pub(super) mod fixtures {
    //! A set and pods for the StatefulSet unit tests.

    use super::*;
    use k8s_openapi::api::apps::v1::{RollingUpdateStatefulSetStrategy, StatefulSetUpdateStrategy};
    use k8s_openapi::api::core::v1::{PodCondition, PodStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

    pub fn set(name: &str, replicas: i32) -> StatefulSet {
        let labels = std::collections::BTreeMap::from([("app".to_string(), name.to_string())]);
        StatefulSet {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("ns".into()),
                uid: Some(format!("{name}-uid")),
                ..Default::default()
            },
            spec: Some(StatefulSetSpec {
                replicas: Some(replicas),
                service_name: Some("svc".into()),
                selector: LabelSelector {
                    match_labels: Some(labels.clone()),
                    ..Default::default()
                },
                template: k8s_openapi::api::core::v1::PodTemplateSpec {
                    metadata: Some(ObjectMeta {
                        labels: Some(labels),
                        ..Default::default()
                    }),
                    spec: Some(Default::default()),
                },
                volume_claim_templates: Some(vec![PersistentVolumeClaim {
                    metadata: ObjectMeta {
                        name: Some("www".into()),
                        ..Default::default()
                    },
                    ..Default::default()
                }]),
                update_strategy: Some(StatefulSetUpdateStrategy {
                    type_: Some("RollingUpdate".into()),
                    rolling_update: Some(RollingUpdateStatefulSetStrategy {
                        partition: Some(0),
                        max_unavailable: None,
                    }),
                }),
                ..Default::default()
            }),
            status: None,
        }
    }

    pub fn with_status(mut pod: Pod, phase: &str, ready: bool) -> Pod {
        pod.metadata.uid = Some(format!("{}-uid", pod.name_any()));
        pod.status = Some(PodStatus {
            phase: Some(phase.into()),
            conditions: Some(vec![PodCondition {
                type_: "Ready".into(),
                status: if ready { "True" } else { "False" }.into(),
                ..Default::default()
            }]),
            ..Default::default()
        });
        pod
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::{set, with_status};
    use super::*;
    use k8s_openapi::api::apps::v1::{
        StatefulSetOrdinals, StatefulSetPersistentVolumeClaimRetentionPolicy,
    };

    #[test]
    fn ordinals_parse_as_upstream() {
        assert_eq!(parent_and_ordinal("web-0"), Some(("web", 0)));
        assert_eq!(parent_and_ordinal("my-web-12"), Some(("my-web", 12)));
        assert_eq!(parent_and_ordinal("web-"), None);
        assert_eq!(parent_and_ordinal("web"), None);
        assert_eq!(parent_and_ordinal("web-1a"), None);
        assert_eq!(parent_and_ordinal("web-99999999999"), Some(("web", -1)));
    }

    #[test]
    fn a_new_pod_has_identity_storage_and_revision() {
        let mut s = set("web", 3);
        s.spec.as_mut().expect("spec").ordinals = Some(StatefulSetOrdinals { start: Some(5) });
        assert_eq!((start_ordinal(&s), end_ordinal(&s)), (5, 7));
        let pod = new_versioned_pod(&s, &s, "web-a", "web-b", 6);
        assert_eq!(pod.name_any(), "web-6");
        assert_eq!(pod.metadata.generate_name.as_deref(), Some("web-"));
        let labels = pod.metadata.labels.as_ref().expect("labels");
        assert_eq!(labels[POD_NAME_LABEL], "web-6");
        assert_eq!(labels[POD_INDEX_LABEL], "6");
        assert_eq!(labels[REVISION_LABEL], "web-b");
        assert_eq!(labels["app"], "web");
        let spec = pod.spec.as_ref().expect("spec");
        assert_eq!(spec.hostname.as_deref(), Some("web-6"));
        assert_eq!(spec.subdomain.as_deref(), Some("svc"));
        let vol = &spec.volumes.as_ref().expect("volumes")[0];
        assert_eq!(vol.name, "www");
        assert_eq!(
            vol.persistent_volume_claim
                .as_ref()
                .map(|p| p.claim_name.as_str()),
            Some("www-web-6")
        );
        assert!(
            identity_matches(&s, &pod) && storage_matches(&s, &pod) && in_ordinal_range(&pod, &s)
        );
        let claims = claims_for(&s, &pod);
        assert_eq!(claims[0].1.name_any(), "www-web-6");
        assert_eq!(claims[0].1.labels()["app"], "web");
    }

    #[test]
    fn partition_keeps_low_ordinals_at_the_current_revision() {
        let mut s = set("web", 3);
        if let Some(ru) = s
            .spec
            .as_mut()
            .and_then(|s| s.update_strategy.as_mut())
            .and_then(|u| u.rolling_update.as_mut())
        {
            ru.partition = Some(2);
        }
        assert_eq!(
            pod_revision(&new_versioned_pod(&s, &s, "cur", "upd", 1)),
            "cur"
        );
        assert_eq!(
            pod_revision(&new_versioned_pod(&s, &s, "cur", "upd", 2)),
            "upd"
        );
    }

    #[test]
    fn claim_owners_follow_the_retention_policy() {
        let mut s = set("web", 2);
        let in_range = with_status(new_pod(&s, 1), "Running", true);
        let scaled_away = with_status(new_pod(&s, 4), "Running", true);
        let mut claim = claims_for(&s, &in_range).remove(0).1;
        // Retain/Retain: no references wanted.
        assert!(claim_owner_up_to_date(&claim, &s, &in_range));
        for (deleted, scaled) in [
            ("Delete", "Retain"),
            ("Retain", "Delete"),
            ("Delete", "Delete"),
        ] {
            s.spec
                .as_mut()
                .expect("spec")
                .persistent_volume_claim_retention_policy =
                Some(StatefulSetPersistentVolumeClaimRetentionPolicy {
                    when_deleted: Some(deleted.into()),
                    when_scaled: Some(scaled.into()),
                });
            for pod in [&in_range, &scaled_away] {
                let mut c = claim.clone();
                update_claim_owner_refs(&mut c, &s, pod);
                assert!(claim_owner_up_to_date(&c, &s, pod), "{deleted}/{scaled}");
                let owners: Vec<&str> = c
                    .owner_references()
                    .iter()
                    .map(|r| r.kind.as_str())
                    .collect();
                let want: &[&str] = match (deleted, scaled, in_range_of(pod, &s)) {
                    ("Delete", "Retain", _) => &["StatefulSet"],
                    ("Retain", "Delete", true) => &[],
                    ("Retain", "Delete", false) => &["Pod"],
                    (_, _, true) => &["StatefulSet"],
                    _ => &["Pod"],
                };
                assert_eq!(
                    owners,
                    want,
                    "{deleted}/{scaled} in range {}",
                    in_range_of(pod, &s)
                );
            }
        }
        // A claim still naming an earlier pod of that name is stale.
        claim.metadata.owner_references = Some(vec![OwnerReference {
            api_version: "v1".into(),
            kind: "Pod".into(),
            name: "web-1".into(),
            uid: "old".into(),
            controller: Some(true),
            ..Default::default()
        }]);
        assert!(has_stale_pod_ref(&claim, &in_range));
    }

    fn in_range_of(pod: &Pod, s: &StatefulSet) -> bool {
        in_ordinal_range(pod, s)
    }

    #[test]
    fn max_unavailable_rounds_down_to_at_least_one() {
        let mut s = set("web", 10);
        assert_eq!(max_unavailable(&s), None);
        let ru = s
            .spec
            .as_mut()
            .and_then(|s| s.update_strategy.as_mut())
            .and_then(|u| u.rolling_update.as_mut())
            .expect("ru");
        ru.max_unavailable = Some(IntOrString::String("25%".into()));
        assert_eq!(max_unavailable(&s), Some(2));
        let ru = s
            .spec
            .as_mut()
            .and_then(|s| s.update_strategy.as_mut())
            .and_then(|u| u.rolling_update.as_mut())
            .expect("ru");
        ru.max_unavailable = Some(IntOrString::String("5%".into()));
        assert_eq!(max_unavailable(&s), Some(1));
    }
}
