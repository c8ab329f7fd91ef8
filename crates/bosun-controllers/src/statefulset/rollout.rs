//! The rolling update's decisions and the status, pure: which pod a
//! rolling update replaces next (with or without maxUnavailable), the pods
//! Bosun replaces because they are stuck on a replaced revision
//! (kubernetes/kubernetes#67250), and the counts and revisions the status
//! carries.

use std::sync::Arc;

use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetStatus};
use k8s_openapi::api::core::v1::Pod;

use super::utils::{
    is_created, is_on_delete, is_running_and_available, is_running_and_ready, is_terminating,
    is_unavailable, min_ready_seconds, ordinal, partition, pod_revision, replicas, start_ordinal,
    update_strategy_type,
};

/// The pod is not Running and Ready, sits on a revision the rolling update
/// is replacing (not the update revision), and its ordinal is at or above
/// the partition: it blocks an OrderedReady rollout forever upstream
/// (kubernetes/kubernetes#67250) although the rollout would replace it
/// anyway. Bosun deletes such a pod so it comes back at the update
/// revision. A pod on the update revision that is not ready (a broken
/// *new* template) still blocks, as upstream.
pub fn is_stuck_on_stale_revision(set: &StatefulSet, pod: &Pod, update_revision: &str) -> bool {
    !is_on_delete(set)
        && is_created(pod)
        && !is_terminating(pod)
        && !is_running_and_ready(pod)
        && pod_revision(pod) != update_revision
        && ordinal(pod) >= start_ordinal(set) + partition(set)
        // A set without `rollingUpdate` recreates ordinals below
        // status.currentReplicas at the current revision: replacing the pod
        // would bring it back just as stale, delete after delete.
        && !super::utils::recreates_at_current(set, ordinal(pod))
}

/// The next step of a rolling update without maxUnavailable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RollStep {
    /// Delete the replica at this index (it comes back at the update
    /// revision).
    Delete(usize),
    /// A pod at the update revision is not available yet.
    Wait,
    /// Everything from the partition up is at the update revision.
    Done,
}

/// Upstream's rolling update with MaxUnavailableStatefulSet off: from the
/// highest index down to the partition, the first pod not at the update
/// revision is deleted, and the first unavailable one is waited for.
/// `replicas` are indexed from the start ordinal.
pub fn next_roll_step(
    set: &StatefulSet,
    replicas: &[Arc<Pod>],
    update_revision: &str,
    now: jiff::Timestamp,
) -> RollStep {
    let min_ready = min_ready_seconds(set);
    let update_min = partition(set).max(0) as usize;
    for (i, pod) in replicas.iter().enumerate().skip(update_min).rev() {
        if pod_revision(pod) != update_revision && !is_terminating(pod) {
            return RollStep::Delete(i);
        }
        if is_unavailable(pod, min_ready, now) {
            return RollStep::Wait;
        }
    }
    RollStep::Done
}

/// What a rolling update with maxUnavailable deletes now (indexes,
/// highest first).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BudgetedRoll {
    /// Pods stuck on a replaced revision ([`is_stuck_on_stale_revision`]):
    /// replaced first and outside the budget, since they are unavailable
    /// already and would otherwise use up the budget they wait for.
    pub stuck: Vec<usize>,
    /// Pods not at the update revision, as many as the budget allows.
    pub delete: Vec<usize>,
}

/// Upstream updateStatefulSetAfterInvariantEstablished (the alpha
/// MaxUnavailableStatefulSet): with fewer than `max_unavailable` replicas
/// unavailable, delete the difference among the pods above the partition
/// not at the update revision, highest first.
pub fn budgeted_roll(
    set: &StatefulSet,
    replicas: &[Arc<Pod>],
    update_revision: &str,
    max_unavailable: i64,
    now: jiff::Timestamp,
) -> BudgetedRoll {
    let update_min = partition(set).max(0) as usize;
    let above = || replicas.iter().enumerate().skip(update_min).rev();
    let stuck: Vec<usize> = above()
        .filter(|(_, p)| is_stuck_on_stale_revision(set, p, update_revision))
        .map(|(i, _)| i)
        .collect();
    if !stuck.is_empty() {
        return BudgetedRoll {
            stuck,
            delete: Vec::new(),
        };
    }
    let min_ready = min_ready_seconds(set);
    let unavailable = replicas
        .iter()
        .filter(|p| is_unavailable(p, min_ready, now))
        .count() as i64;
    let budget = (max_unavailable - unavailable).max(0) as usize;
    let delete = above()
        .filter(|(_, p)| pod_revision(p) != update_revision && !is_terminating(p))
        .map(|(i, _)| i)
        .take(budget)
        .collect();
    BudgetedRoll { stuck, delete }
}

/// Counts a status holds (upstream replicaStatus).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Counts {
    pub replicas: i32,
    pub ready: i32,
    pub available: i32,
    pub current: i32,
    pub updated: i32,
}

/// Upstream computeReplicaStatus over `pods`.
pub fn count<'a>(
    pods: impl IntoIterator<Item = &'a Arc<Pod>>,
    min_ready_seconds: i32,
    current_revision: &str,
    update_revision: &str,
    now: jiff::Timestamp,
) -> Counts {
    let mut c = Counts::default();
    for pod in pods {
        let created = is_created(pod);
        if created {
            c.replicas += 1;
        }
        if is_running_and_ready(pod) {
            c.ready += 1;
            if is_running_and_available(pod, min_ready_seconds, now) {
                c.available += 1;
            }
        }
        if created && !is_terminating(pod) {
            let rev = pod_revision(pod);
            if rev == current_revision {
                c.current += 1;
            }
            if rev == update_revision {
                c.updated += 1;
            }
        }
    }
    c
}

/// The status a sync computes (upstream's StatefulSetStatus before it is
/// written).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SetStatus {
    pub observed_generation: i64,
    pub counts: Counts,
    pub current_revision: String,
    pub update_revision: String,
    pub collision_count: i32,
}

impl SetStatus {
    /// As the API carries it: omitempty fields absent when zero, as Go
    /// writes them.
    pub fn to_api(&self) -> StatefulSetStatus {
        let nz = |n: i32| (n != 0).then_some(n);
        let ns = |s: &str| (!s.is_empty()).then(|| s.to_string());
        StatefulSetStatus {
            observed_generation: (self.observed_generation != 0)
                .then_some(self.observed_generation),
            replicas: self.counts.replicas,
            ready_replicas: nz(self.counts.ready),
            current_replicas: nz(self.counts.current),
            updated_replicas: nz(self.counts.updated),
            available_replicas: Some(self.counts.available),
            current_revision: ns(&self.current_revision),
            update_revision: ns(&self.update_revision),
            collision_count: Some(self.collision_count),
            conditions: None,
        }
    }
}

/// Upstream completeRollingUpdate: with every replica updated and ready,
/// the update revision becomes the current one.
pub fn complete_rolling_update(set: &StatefulSet, status: &mut SetStatus) {
    let n = replicas(set) as i32;
    if update_strategy_type(set) == "RollingUpdate"
        && status.counts.updated == n
        && status.counts.ready == n
        && status.counts.replicas == n
    {
        status.counts.current = status.counts.updated;
        status.current_revision = status.update_revision.clone();
    }
}

/// Upstream inconsistentStatus: whether `status` differs from what the set
/// carries (collisionCount alone does not count, as upstream).
pub fn inconsistent_status(set: &StatefulSet, status: &SetStatus) -> bool {
    let default = StatefulSetStatus::default();
    let cur = set.status.as_ref().unwrap_or(&default);
    let n = |v: Option<i32>| v.unwrap_or(0);
    status.observed_generation > cur.observed_generation.unwrap_or(0)
        || status.counts.replicas != cur.replicas
        || status.counts.current != n(cur.current_replicas)
        || status.counts.ready != n(cur.ready_replicas)
        || status.counts.updated != n(cur.updated_replicas)
        || status.current_revision != cur.current_revision.clone().unwrap_or_default()
        || status.counts.available != n(cur.available_replicas)
        || status.update_revision != cur.update_revision.clone().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::super::utils::fixtures::{set, with_status};
    use super::super::utils::{new_versioned_pod, set_pod_revision};
    use super::*;
    use k8s_openapi::api::apps::v1::StatefulSetUpdateStrategy;

    #[test]
    fn only_pods_off_the_update_revision_count_as_stuck() {
        let s = set("web", 3);
        let mut broken_old = with_status(
            new_versioned_pod(&s, &s, "rev2", "rev2", 2),
            "Running",
            false,
        );
        assert!(
            !is_stuck_on_stale_revision(&s, &broken_old, "rev2"),
            "a broken update revision blocks"
        );
        assert!(is_stuck_on_stale_revision(&s, &broken_old, "rev3"));
        set_pod_revision(&mut broken_old, "rev1");
        assert!(is_stuck_on_stale_revision(&s, &broken_old, "rev3"));
        let healthy = with_status(
            new_versioned_pod(&s, &s, "rev1", "rev1", 1),
            "Running",
            true,
        );
        assert!(!is_stuck_on_stale_revision(&s, &healthy, "rev3"));
        let not_created = new_versioned_pod(&s, &s, "rev1", "rev1", 1);
        assert!(!is_stuck_on_stale_revision(&s, &not_created, "rev3"));
        // Below the partition the pod is meant to stay where it is.
        let mut parted = s.clone();
        if let Some(ru) = parted
            .spec
            .as_mut()
            .and_then(|s| s.update_strategy.as_mut())
            .and_then(|u| u.rolling_update.as_mut())
        {
            ru.partition = Some(3);
        }
        assert!(!is_stuck_on_stale_revision(&parted, &broken_old, "rev3"));
        // OnDelete never replaces pods by itself.
        let mut on_delete = s.clone();
        on_delete.spec.as_mut().expect("spec").update_strategy = Some(StatefulSetUpdateStrategy {
            type_: Some("OnDelete".into()),
            rolling_update: None,
        });
        assert!(!is_stuck_on_stale_revision(&on_delete, &broken_old, "rev3"));
    }

    /// (revision, ready, terminating) per replica.
    type Shape<'a> = &'a [(&'a str, bool, bool)];

    /// Replicas from (revision, ready, terminating) triples.
    fn replicas(s: &StatefulSet, spec: &[(&str, bool, bool)]) -> Vec<Arc<Pod>> {
        spec.iter()
            .enumerate()
            .map(|(i, (rev, ready, terminating))| {
                let mut p = with_status(
                    new_versioned_pod(s, s, rev, rev, i as i64),
                    "Running",
                    *ready,
                );
                if *terminating {
                    p.metadata.deletion_timestamp = Some(
                        k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(crate::clock::now()),
                    );
                }
                Arc::new(p)
            })
            .collect()
    }

    fn with_partition(mut s: StatefulSet, partition: i32) -> StatefulSet {
        if let Some(ru) = s
            .spec
            .as_mut()
            .and_then(|s| s.update_strategy.as_mut())
            .and_then(|u| u.rolling_update.as_mut())
        {
            ru.partition = Some(partition);
        }
        s
    }

    #[test]
    fn rolling_update_goes_down_from_the_top_to_the_partition() {
        let now = crate::clock::now();
        let s = set("web", 3);
        let cases: &[(i32, Shape, RollStep)] = &[
            // Nothing updated: the highest ordinal goes first.
            (
                0,
                &[
                    ("old", true, false),
                    ("old", true, false),
                    ("old", true, false),
                ],
                RollStep::Delete(2),
            ),
            // The top one is back but not ready: wait.
            (
                0,
                &[
                    ("old", true, false),
                    ("old", true, false),
                    ("new", false, false),
                ],
                RollStep::Wait,
            ),
            // The top one is ready: the next one goes.
            (
                0,
                &[
                    ("old", true, false),
                    ("old", true, false),
                    ("new", true, false),
                ],
                RollStep::Delete(1),
            ),
            // One on its way out is not deleted twice; below it waits.
            (
                0,
                &[
                    ("old", true, false),
                    ("old", true, true),
                    ("new", true, false),
                ],
                RollStep::Wait,
            ),
            // The partition protects ordinals below it.
            (
                1,
                &[
                    ("old", true, false),
                    ("new", true, false),
                    ("new", true, false),
                ],
                RollStep::Done,
            ),
            (
                2,
                &[
                    ("old", false, false),
                    ("old", true, false),
                    ("new", true, false),
                ],
                RollStep::Done,
            ),
            (
                0,
                &[
                    ("new", true, false),
                    ("new", true, false),
                    ("new", true, false),
                ],
                RollStep::Done,
            ),
        ];
        for (partition, spec, want) in cases {
            let s = with_partition(s.clone(), *partition);
            assert_eq!(
                next_roll_step(&s, &replicas(&s, spec), "new", now),
                *want,
                "partition {partition}: {spec:?}"
            );
        }
    }

    #[test]
    fn max_unavailable_deletes_within_the_budget_and_stuck_pods_first() {
        let now = crate::clock::now();
        let s = set("web", 4);
        let all_old_ready = [("old", true, false); 4];
        let plan = budgeted_roll(&s, &replicas(&s, &all_old_ready), "new", 2, now);
        assert_eq!(
            plan,
            BudgetedRoll {
                stuck: vec![],
                delete: vec![3, 2]
            }
        );
        // One unavailable at the update revision uses one of two.
        let one_starting = [
            ("old", true, false),
            ("old", true, false),
            ("old", true, false),
            ("new", false, false),
        ];
        assert_eq!(
            budgeted_roll(&s, &replicas(&s, &one_starting), "new", 2, now).delete,
            vec![2]
        );
        // Over budget: nothing.
        let two_starting = [
            ("old", true, false),
            ("old", true, false),
            ("new", false, false),
            ("new", false, false),
        ];
        assert_eq!(
            budgeted_roll(&s, &replicas(&s, &two_starting), "new", 1, now),
            BudgetedRoll::default()
        );
        // A pod stuck on a replaced revision is replaced although it alone
        // exhausts the budget.
        let stuck = [
            ("old", true, false),
            ("old", true, false),
            ("old", true, false),
            ("broken", false, false),
        ];
        let plan = budgeted_roll(&s, &replicas(&s, &stuck), "new", 1, now);
        assert_eq!(
            plan,
            BudgetedRoll {
                stuck: vec![3],
                delete: vec![]
            }
        );
        // The partition holds for both.
        let parted = with_partition(s.clone(), 4);
        assert_eq!(
            budgeted_roll(&parted, &replicas(&parted, &stuck), "new", 1, now),
            BudgetedRoll::default()
        );
    }

    #[test]
    fn rolling_update_completes_when_everything_is_updated_and_ready() {
        let s = set("web", 2);
        let mut st = SetStatus {
            counts: Counts {
                replicas: 2,
                ready: 2,
                available: 2,
                current: 0,
                updated: 2,
            },
            current_revision: "a".into(),
            update_revision: "b".into(),
            ..Default::default()
        };
        complete_rolling_update(&s, &mut st);
        assert_eq!((st.current_revision.as_str(), st.counts.current), ("b", 2));
        assert!(inconsistent_status(&s, &st));
        let mut written = s.clone();
        written.status = Some(st.to_api());
        assert!(!inconsistent_status(&written, &st));
    }
}
