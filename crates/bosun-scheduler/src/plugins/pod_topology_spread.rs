//! PodTopologySpread: keeps matching pods spread across topology domains.
//! DoNotSchedule constraints filter (skew may not exceed maxSkew);
//! ScheduleAnyway constraints score (fewer matching pods in a node's domain
//! score higher).

use std::collections::HashMap;

use k8s_openapi::api::core::v1::TopologySpreadConstraint;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};

use crate::cache::Cache;
use crate::framework::{
    ClusterEvent, CycleState, Filter, NodeSubset, Plugin, PreFilter, PreScore, Score, Status,
    MAX_NODE_SCORE,
};
use crate::matching;
use crate::node_info::{NodeInfo, PodInfo};

pub const NAME: &str = "PodTopologySpread";
pub const REASON: &str = "node(s) didn't match pod topology spread constraints";
pub const REASON_MISSING_LABEL: &str =
    "node(s) didn't match pod topology spread constraints (missing required label)";

const FILTER_KEY: &str = "PreFilter/PodTopologySpread";
const SCORE_KEY: &str = "PreScore/PodTopologySpread";

pub struct PodTopologySpread;

#[derive(Debug, Clone)]
struct Constraint {
    max_skew: i64,
    key: String,
    selector: LabelSelector,
    min_domains: i64,
    honor_affinity: bool,
    honor_taints: bool,
}

/// Matching-pod counts per domain value, one map per constraint.
struct Counts {
    constraints: Vec<Constraint>,
    per_domain: Vec<HashMap<String, i64>>,
}

fn constraints(pod: &PodInfo, action: &str) -> Vec<Constraint> {
    let labels = matching::labels_of_pod(&pod.pod);
    pod.spec()
        .and_then(|s| s.topology_spread_constraints.as_ref())
        .into_iter()
        .flatten()
        .filter(|c| c.when_unsatisfiable == action)
        .map(|c: &TopologySpreadConstraint| {
            let mut selector = c.label_selector.clone().unwrap_or_default();
            // matchLabelKeys: the pod's own values join the selector.
            for key in c.match_label_keys.iter().flatten() {
                if let Some(v) = labels.get(key) {
                    selector
                        .match_expressions
                        .get_or_insert_with(Vec::new)
                        .push(LabelSelectorRequirement {
                            key: key.clone(),
                            operator: "In".into(),
                            values: Some(vec![v.clone()]),
                        });
                }
            }
            Constraint {
                max_skew: i64::from(c.max_skew),
                key: c.topology_key.clone(),
                selector,
                min_domains: i64::from(c.min_domains.unwrap_or(1)),
                honor_affinity: c.node_affinity_policy.as_deref() != Some("Ignore"),
                honor_taints: c.node_taints_policy.as_deref() == Some("Honor"),
            }
        })
        .collect()
}

/// Counts matching pods per domain over every node the constraints apply to.
fn count(pod: &PodInfo, constraints: Vec<Constraint>, cache: &Cache) -> Counts {
    let mut per_domain = vec![HashMap::new(); constraints.len()];
    let tolerations = matching::pod_tolerations(&pod.pod);
    for node in cache.nodes() {
        let Some(n) = node.node.as_deref() else {
            continue;
        };
        let labels = node.labels();
        if constraints.iter().any(|c| !labels.contains_key(&c.key)) {
            continue;
        }
        for (i, c) in constraints.iter().enumerate() {
            if c.honor_affinity && !matching::pod_matches_node_selector_and_affinity(&pod.pod, n) {
                continue;
            }
            if c.honor_taints
                && node.taints.iter().any(|t| {
                    matches!(t.effect.as_str(), "NoSchedule" | "NoExecute")
                        && !matching::tolerated(tolerations, t)
                })
            {
                continue;
            }
            let matched = node
                .pods
                .iter()
                .filter(|p| {
                    p.namespace == pod.namespace
                        && p.pod.metadata.deletion_timestamp.is_none()
                        && matching::selector_matches(&c.selector, matching::labels_of_pod(&p.pod))
                })
                .count() as i64;
            let value = labels.get(&c.key).cloned().unwrap_or_default();
            *per_domain[i].entry(value).or_default() += matched;
        }
    }
    Counts {
        constraints,
        per_domain,
    }
}

impl Plugin for PodTopologySpread {
    fn name(&self) -> &'static str {
        NAME
    }
    fn as_pre_filter(&self) -> Option<&dyn PreFilter> {
        Some(self)
    }
    fn as_filter(&self) -> Option<&dyn Filter> {
        Some(self)
    }
    fn as_pre_score(&self) -> Option<&dyn PreScore> {
        Some(self)
    }
    fn as_score(&self) -> Option<&dyn Score> {
        Some(self)
    }
    fn events(&self) -> &'static [ClusterEvent] {
        &[
            ClusterEvent::NodeAdd,
            ClusterEvent::NodeLabelChange,
            ClusterEvent::NodeTaintChange,
            ClusterEvent::AssignedPodAdd,
            ClusterEvent::AssignedPodUpdate,
            ClusterEvent::AssignedPodDelete,
        ]
    }
}

impl PreFilter for PodTopologySpread {
    fn pre_filter(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        cache: &Cache,
    ) -> (NodeSubset, Status) {
        let cs = constraints(pod, "DoNotSchedule");
        if cs.is_empty() {
            return (None, Status::skip());
        }
        state.write(FILTER_KEY, count(pod, cs, cache));
        (None, Status::success())
    }
}

impl Filter for PodTopologySpread {
    fn filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let Some(counts) = state.read::<Counts>(FILTER_KEY) else {
            return Status::success();
        };
        let labels = node.labels();
        let pod_labels = matching::labels_of_pod(&pod.pod);
        for (i, c) in counts.constraints.iter().enumerate() {
            let Some(value) = labels.get(&c.key) else {
                return Status::unresolvable(REASON_MISSING_LABEL);
            };
            let domains = &counts.per_domain[i];
            let min = if (domains.len() as i64) < c.min_domains {
                0
            } else {
                domains.values().copied().min().unwrap_or(0)
            };
            let self_match = i64::from(matching::selector_matches(&c.selector, pod_labels));
            let here = domains.get(value).copied().unwrap_or(0);
            if here + self_match - min > c.max_skew {
                return Status::unschedulable(REASON);
            }
        }
        Status::success()
    }
}

impl PreScore for PodTopologySpread {
    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        _: &[&NodeInfo],
        cache: &Cache,
    ) -> Status {
        let cs = constraints(pod, "ScheduleAnyway");
        if cs.is_empty() {
            return Status::skip();
        }
        state.write(SCORE_KEY, count(pod, cs, cache));
        Status::success()
    }
}

impl Score for PodTopologySpread {
    fn score(&self, state: &CycleState, _: &PodInfo, node: &NodeInfo) -> i64 {
        let Some(counts) = state.read::<Counts>(SCORE_KEY) else {
            return 0;
        };
        let labels = node.labels();
        let mut score = 0.0;
        for (i, c) in counts.constraints.iter().enumerate() {
            // Nodes without every key are left out of the ranking.
            let Some(value) = labels.get(&c.key) else {
                return -1;
            };
            let domains = &counts.per_domain[i];
            let weight = ((domains.len() + 2) as f64).ln();
            let here = domains.get(value).copied().unwrap_or(0);
            score += here as f64 * weight + (c.max_skew - 1) as f64;
        }
        score.round() as i64
    }

    fn normalize(&self, _: &CycleState, _: &PodInfo, scores: &mut [i64]) {
        let ranked = scores.iter().copied().filter(|s| *s >= 0);
        let (min, max) = ranked.fold((i64::MAX, 0), |(lo, hi), s| (lo.min(s), hi.max(s)));
        for s in scores.iter_mut() {
            *s = if *s < 0 {
                0
            } else if max == 0 {
                MAX_NODE_SCORE
            } else {
                MAX_NODE_SCORE * (max + min - *s) / max
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{node, pod, with_labels};
    use std::sync::Arc;

    fn spread_pod(name: &str, key: &str, skew: i32, action: &str) -> PodInfo {
        let mut p = with_labels(pod(name, "", ""), &[("app", "web")]);
        p.spec.as_mut().unwrap().topology_spread_constraints =
            Some(vec![TopologySpreadConstraint {
                max_skew: skew,
                topology_key: key.into(),
                when_unsatisfiable: action.into(),
                label_selector: Some(LabelSelector {
                    match_labels: Some([("app".to_string(), "web".to_string())].into()),
                    ..Default::default()
                }),
                ..Default::default()
            }]);
        PodInfo::new(Arc::new(p))
    }

    fn zoned_cache() -> Cache {
        let mut cache = Cache::default();
        for (n, zone) in [("a1", "a"), ("a2", "a"), ("b1", "b"), ("c1", "c")] {
            cache.add_or_update_node(Arc::new(with_labels(
                node(n, "8", "8Gi"),
                &[("zone", zone)],
            )));
        }
        cache.add_or_update_node(Arc::new(node("nolabel", "8", "8Gi")));
        // Two matching pods in zone a, one in b, none in c.
        for (p, n) in [("x", "a1"), ("y", "a2"), ("z", "b1")] {
            let mut p = with_labels(pod(p, "", ""), &[("app", "web")]);
            p.spec.as_mut().unwrap().node_name = Some(n.into());
            cache.add_or_update_pod(Arc::new(p));
        }
        cache
    }

    #[test]
    fn do_not_schedule_keeps_skew_within_max() {
        let cache = zoned_cache();
        let pod = spread_pod("new", "zone", 1, "DoNotSchedule");
        let mut state = CycleState::default();
        let (_, s) = PodTopologySpread.pre_filter(&mut state, &pod, &cache);
        assert!(s.is_success());
        let verdict = |n: &str| PodTopologySpread.filter(&state, &pod, cache.node(n).unwrap());
        assert_eq!(verdict("a1").reasons, vec![REASON]);
        assert_eq!(verdict("b1").reasons, vec![REASON]);
        assert!(verdict("c1").is_success());
        assert_eq!(verdict("nolabel").reasons, vec![REASON_MISSING_LABEL]);
    }

    #[test]
    fn schedule_anyway_scores_the_emptiest_domain_highest() {
        let cache = zoned_cache();
        let pod = spread_pod("new", "zone", 1, "ScheduleAnyway");
        let nodes: Vec<_> = ["a1", "b1", "c1"]
            .iter()
            .map(|n| cache.node(n).unwrap())
            .collect();
        let mut state = CycleState::default();
        assert!(PodTopologySpread
            .pre_score(&mut state, &pod, &nodes, &cache)
            .is_success());
        let mut scores: Vec<i64> = nodes
            .iter()
            .map(|n| PodTopologySpread.score(&state, &pod, n))
            .collect();
        PodTopologySpread.normalize(&state, &pod, &mut scores);
        assert!(scores[2] > scores[1] && scores[1] > scores[0], "{scores:?}");
        assert_eq!(scores[2], MAX_NODE_SCORE);
    }
}
