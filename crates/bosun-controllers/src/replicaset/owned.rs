//! The ReplicaSet controller's incremental view of each set's pods.
//!
//! A sync needs the set's active owned pods: how many, how many are ready,
//! available and fully labelled. Recomputing that from every pod on every
//! sync makes a 100,000-replica set cost O(100,000) per sync, hundreds of
//! times during a scale-up. Instead the pod handler marks the pods that
//! changed ("dirty") under their controller's uid, and a sync re-examines
//! only those, plus the namespace's orphans (adoption candidates). The view
//! is rebuilt from scratch when it was built for another uid or generation
//! (a new template changes which pods are fully labelled) or when a sync
//! failed half-way (the view is taken out while a sync runs and only put
//! back when it completes).

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use parking_lot::Mutex;

use crate::informer::ObjectKey;
use crate::pod_util;

/// What the status needs to know of one owned, active pod.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PodSummary {
    pub ready: bool,
    /// When the pod became ready (for minReadySeconds), if it is ready.
    pub ready_since: Option<jiff::Timestamp>,
    /// Carries every label of the set's pod template.
    pub fully_labeled: bool,
}

impl PodSummary {
    pub fn of(rs: &ReplicaSet, pod: &Pod) -> Self {
        let template_labels = rs
            .spec
            .as_ref()
            .and_then(|s| s.template.as_ref())
            .and_then(|t| t.metadata.as_ref())
            .and_then(|m| m.labels.as_ref());
        let labels = pod.metadata.labels.as_ref();
        let fully_labeled = template_labels.is_none_or(|want| {
            want.iter()
                .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
        });
        PodSummary {
            ready: pod_util::is_ready(pod),
            ready_since: pod_util::ready_since(pod),
            fully_labeled,
        }
    }

    fn is_available(&self, min_ready_seconds: i32, now: jiff::Timestamp) -> bool {
        match (self.ready, self.ready_since) {
            (true, _) if min_ready_seconds <= 0 => true,
            (true, Some(since)) => since
                .checked_add(jiff::SignedDuration::from_secs(i64::from(
                    min_ready_seconds,
                )))
                .is_ok_and(|t| t <= now),
            _ => false,
        }
    }
}

/// Counts for the ReplicaSet's status.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Counts {
    pub replicas: usize,
    pub fully_labeled: usize,
    pub ready: usize,
    pub available: usize,
}

impl Counts {
    pub fn of<'a>(
        pods: impl IntoIterator<Item = &'a PodSummary>,
        min_ready_seconds: i32,
        now: jiff::Timestamp,
    ) -> Self {
        let mut c = Counts::default();
        for p in pods {
            c.replicas += 1;
            c.fully_labeled += usize::from(p.fully_labeled);
            c.ready += usize::from(p.ready);
            c.available += usize::from(p.is_available(min_ready_seconds, now));
        }
        c
    }
}

/// One set's owned, active pods by name, for the uid and generation it was
/// built for.
#[derive(Debug)]
pub struct OwnedPods {
    built_for: (String, Option<i64>),
    pub pods: HashMap<String, PodSummary>,
}

impl OwnedPods {
    pub fn counts(&self, min_ready_seconds: i32, now: jiff::Timestamp) -> Counts {
        Counts::of(self.pods.values(), min_ready_seconds, now)
    }

    /// The soonest a ready pod becomes available under minReadySeconds.
    pub fn next_available(&self, min_ready_seconds: i32, now: jiff::Timestamp) -> Option<Duration> {
        if min_ready_seconds <= 0 {
            // A ready pod is available at once: nothing to wait for.
            return None;
        }
        let needed = jiff::SignedDuration::from_secs(i64::from(min_ready_seconds));
        self.pods
            .values()
            .filter(|p| p.ready)
            .filter_map(|p| p.ready_since?.checked_add(needed).ok())
            .map(|at| at.duration_since(now))
            .filter(|left| left.is_positive())
            .map(|left| left.unsigned_abs())
            .min()
    }
}

/// Which pods a sync must look at.
pub enum Scope {
    /// The view is current except for these pods (by name).
    Dirty(OwnedPods, HashSet<String>),
    /// No usable view: examine every pod the set controls.
    Full(OwnedPods),
}

/// Every set's view plus the pods changed since its last sync.
#[derive(Default)]
pub struct OwnedViews {
    /// Controller uid → names of its pods changed since its last sync.
    dirty: Mutex<HashMap<String, HashSet<String>>>,
    views: Mutex<HashMap<ObjectKey, OwnedPods>>,
}

impl OwnedViews {
    /// Notes that `pod` changed; called by the pod handler for the old and
    /// the new version.
    pub fn mark(&self, pod: &Pod) {
        if let Some(uid) = crate::informer::controller_uid(pod) {
            self.dirty
                .lock()
                .entry(uid.to_string())
                .or_default()
                .insert(pod.name_any());
        }
    }

    /// Takes `rs`'s view out for a sync, with the pods to re-examine.
    pub fn take(&self, key: &ObjectKey, rs: &ReplicaSet) -> Scope {
        let uid = rs.metadata.uid.clone().unwrap_or_default();
        let built_for = (uid.clone(), rs.metadata.generation);
        let dirty = self.dirty.lock().remove(&uid).unwrap_or_default();
        match self.views.lock().remove(key) {
            Some(view) if view.built_for == built_for => Scope::Dirty(view, dirty),
            _ => Scope::Full(OwnedPods {
                built_for,
                pods: HashMap::new(),
            }),
        }
    }

    /// Returns a view after a completed sync.
    pub fn put(&self, key: ObjectKey, view: OwnedPods) {
        self.views.lock().insert(key, view);
    }

    /// Forgets a deleted set.
    pub fn forget(&self, key: &ObjectKey) {
        self.views.lock().remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodCondition, PodStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{OwnerReference, Time};

    fn rs(uid: &str, generation: i64) -> ReplicaSet {
        let mut rs = ReplicaSet::default();
        rs.metadata.name = Some("web".into());
        rs.metadata.namespace = Some("ns".into());
        rs.metadata.uid = Some(uid.into());
        rs.metadata.generation = Some(generation);
        rs
    }

    fn pod(name: &str, owner: &str, ready_since: Option<jiff::Timestamp>) -> Pod {
        let mut p = Pod::default();
        p.metadata.name = Some(name.into());
        p.metadata.owner_references = Some(vec![OwnerReference {
            uid: owner.into(),
            controller: Some(true),
            ..Default::default()
        }]);
        p.status = Some(PodStatus {
            conditions: Some(vec![PodCondition {
                type_: "Ready".into(),
                status: if ready_since.is_some() {
                    "True"
                } else {
                    "False"
                }
                .into(),
                last_transition_time: ready_since.map(Time),
                ..Default::default()
            }]),
            ..Default::default()
        });
        p
    }

    #[test]
    fn a_view_survives_only_for_its_uid_and_generation() {
        let views = OwnedViews::default();
        let key = ObjectKey::new("ns", "web");
        let Scope::Full(view) = views.take(&key, &rs("u1", 1)) else {
            panic!("no view yet: full scan")
        };
        views.put(key.clone(), view);
        views.mark(&pod("a", "u1", None));
        views.mark(&pod("b", "someone-else", None));
        match views.take(&key, &rs("u1", 1)) {
            Scope::Dirty(view, dirty) => {
                assert_eq!(dirty, HashSet::from(["a".to_string()]));
                views.put(key.clone(), view);
            }
            Scope::Full(_) => panic!("same uid and generation keep the view"),
        }
        assert!(matches!(views.take(&key, &rs("u1", 2)), Scope::Full(_)));
        // Taken and not put back (a failed sync): rebuilt next time.
        assert!(matches!(views.take(&key, &rs("u1", 2)), Scope::Full(_)));
    }

    #[test]
    fn counts_ready_available_and_labelled() {
        let now = jiff::Timestamp::from_second(1_000_000).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        let ago = |s: i64| now.checked_sub(jiff::SignedDuration::from_secs(s)).ok();
        let mut set = rs("u", 1);
        let mut labels = std::collections::BTreeMap::new();
        labels.insert("app".to_string(), "web".to_string());
        set.spec = Some(k8s_openapi::api::apps::v1::ReplicaSetSpec {
            template: Some(k8s_openapi::api::core::v1::PodTemplateSpec {
                metadata: Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                    labels: Some(labels.clone()),
                    ..Default::default()
                }),
                spec: None,
            }),
            ..Default::default()
        });
        let mut labelled = pod("a", "u", ago(600));
        labelled.metadata.labels = Some(labels);
        let pods = [labelled, pod("b", "u", ago(5)), pod("c", "u", None)];
        let summaries: Vec<_> = pods.iter().map(|p| PodSummary::of(&set, p)).collect();
        let c = Counts::of(&summaries, 60, now);
        assert_eq!(
            c,
            Counts {
                replicas: 3,
                fully_labeled: 1,
                ready: 2,
                available: 1
            }
        );
        let view = OwnedPods {
            built_for: ("u".into(), Some(1)),
            pods: pods
                .iter()
                .zip(summaries)
                .map(|(p, s)| (p.name_any(), s))
                .collect(),
        };
        assert_eq!(view.next_available(60, now), Some(Duration::from_secs(55)));
    }
}
