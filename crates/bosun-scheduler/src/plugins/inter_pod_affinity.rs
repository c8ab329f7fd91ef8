//! InterPodAffinity: required pod affinity and anti-affinity of the
//! incoming pod, and existing pods' required anti-affinity toward it
//! (filter); preferred terms on both sides (score). Counting is per
//! topology domain `(topologyKey, value)`, computed once per cycle.

use std::collections::HashMap;

use k8s_openapi::api::core::v1::{PodAffinityTerm, WeightedPodAffinityTerm};

use crate::cache::Cache;
use crate::framework::{
    ClusterEvent, CycleState, Filter, NodeSubset, Plugin, PreFilter, PreScore, Score, Status,
    MAX_NODE_SCORE,
};
use crate::matching;
use crate::node_info::{NodeInfo, PodInfo};

pub const NAME: &str = "InterPodAffinity";
pub const REASON_AFFINITY: &str = "node(s) didn't match pod affinity rules";
pub const REASON_ANTI_AFFINITY: &str = "node(s) didn't match pod anti-affinity rules";
pub const REASON_EXISTING_ANTI_AFFINITY: &str =
    "node(s) didn't satisfy existing pods anti-affinity rules";

const FILTER_KEY: &str = "PreFilter/InterPodAffinity";
const SCORE_KEY: &str = "PreScore/InterPodAffinity";

type Domain = (String, String);

pub struct InterPodAffinity {
    /// `hardPodAffinityWeight`: how much an existing pod's *required*
    /// affinity toward the incoming pod counts when scoring.
    pub hard_pod_affinity_weight: i64,
}

impl Default for InterPodAffinity {
    fn default() -> Self {
        InterPodAffinity {
            hard_pod_affinity_weight: 1,
        }
    }
}

/// Whether `term`, written in a pod of namespace `owner_ns`, selects `pod`.
/// As upstream: the term's namespaces are its `namespaces` list plus those
/// whose labels its `namespaceSelector` matches (`{}` selects them all);
/// with neither, the owner's own namespace.
pub fn term_selects(term: &PodAffinityTerm, owner_ns: &str, pod: &PodInfo, cache: &Cache) -> bool {
    let namespaces = term.namespaces.as_deref().unwrap_or_default();
    let ns_ok = match &term.namespace_selector {
        Some(sel) => {
            namespaces.contains(&pod.namespace)
                || matching::selector_matches(sel, cache.namespace_labels(&pod.namespace))
        }
        None if namespaces.is_empty() => owner_ns == pod.namespace,
        None => namespaces.contains(&pod.namespace),
    };
    ns_ok
        && term
            .label_selector
            .as_ref()
            .is_some_and(|sel| matching::selector_matches(sel, matching::labels_of_pod(&pod.pod)))
}

fn required_affinity(pod: &PodInfo) -> &[PodAffinityTerm] {
    pod.spec()
        .and_then(|s| s.affinity.as_ref())
        .and_then(|a| a.pod_affinity.as_ref())
        .and_then(|a| {
            a.required_during_scheduling_ignored_during_execution
                .as_deref()
        })
        .unwrap_or_default()
}

fn required_anti_affinity(pod: &PodInfo) -> &[PodAffinityTerm] {
    pod.spec()
        .and_then(|s| s.affinity.as_ref())
        .and_then(|a| a.pod_anti_affinity.as_ref())
        .and_then(|a| {
            a.required_during_scheduling_ignored_during_execution
                .as_deref()
        })
        .unwrap_or_default()
}

fn preferred_affinity(pod: &PodInfo) -> &[WeightedPodAffinityTerm] {
    pod.spec()
        .and_then(|s| s.affinity.as_ref())
        .and_then(|a| a.pod_affinity.as_ref())
        .and_then(|a| {
            a.preferred_during_scheduling_ignored_during_execution
                .as_deref()
        })
        .unwrap_or_default()
}

fn preferred_anti_affinity(pod: &PodInfo) -> &[WeightedPodAffinityTerm] {
    pod.spec()
        .and_then(|s| s.affinity.as_ref())
        .and_then(|a| a.pod_anti_affinity.as_ref())
        .and_then(|a| {
            a.preferred_during_scheduling_ignored_during_execution
                .as_deref()
        })
        .unwrap_or_default()
}

#[derive(Default)]
struct FilterState {
    /// Domains holding an existing pod whose required anti-affinity
    /// selects the incoming pod.
    existing_anti: HashMap<Domain, i64>,
    /// Per required affinity term of the incoming pod: matching pods per domain.
    affinity: Vec<HashMap<String, i64>>,
    anti_affinity: Vec<HashMap<String, i64>>,
    /// Every required affinity term selects the incoming pod itself.
    selects_itself: bool,
}

impl Plugin for InterPodAffinity {
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
            ClusterEvent::AssignedPodAdd,
            ClusterEvent::AssignedPodUpdate,
            ClusterEvent::AssignedPodDelete,
        ]
    }
}

impl PreFilter for InterPodAffinity {
    fn pre_filter(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        cache: &Cache,
    ) -> (NodeSubset, Status) {
        let affinity = required_affinity(pod);
        let anti = required_anti_affinity(pod);
        let mut fs = FilterState {
            affinity: vec![HashMap::new(); affinity.len()],
            anti_affinity: vec![HashMap::new(); anti.len()],
            selects_itself: affinity
                .iter()
                .all(|t| term_selects(t, &pod.namespace, pod, cache)),
            ..Default::default()
        };
        let mut any_existing = false;
        for node in cache.nodes_with_required_anti_affinity() {
            let labels = node.labels();
            for existing in &node.pods_with_required_anti_affinity {
                any_existing = true;
                for term in required_anti_affinity(existing) {
                    if let Some(v) = labels.get(&term.topology_key) {
                        if term_selects(term, &existing.namespace, pod, cache) {
                            *fs.existing_anti
                                .entry((term.topology_key.clone(), v.clone()))
                                .or_default() += 1;
                        }
                    }
                }
            }
        }
        if !affinity.is_empty() || !anti.is_empty() {
            for node in cache.nodes() {
                let labels = node.labels();
                for existing in &node.pods {
                    for (i, term) in affinity.iter().enumerate() {
                        if let Some(v) = labels.get(&term.topology_key) {
                            if term_selects(term, &pod.namespace, existing, cache) {
                                *fs.affinity[i].entry(v.clone()).or_default() += 1;
                            }
                        }
                    }
                    for (i, term) in anti.iter().enumerate() {
                        if let Some(v) = labels.get(&term.topology_key) {
                            if term_selects(term, &pod.namespace, existing, cache) {
                                *fs.anti_affinity[i].entry(v.clone()).or_default() += 1;
                            }
                        }
                    }
                }
            }
        }
        if affinity.is_empty() && anti.is_empty() && !any_existing {
            return (None, Status::skip());
        }
        state.write(FILTER_KEY, fs);
        (None, Status::success())
    }
}

impl Filter for InterPodAffinity {
    fn filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let Some(fs) = state.read::<FilterState>(FILTER_KEY) else {
            return Status::success();
        };
        let labels = node.labels();
        let in_domain = |key: &str, counts: &HashMap<String, i64>| {
            labels
                .get(key)
                .is_some_and(|v| counts.get(v).copied().unwrap_or(0) > 0)
        };
        let affinity = required_affinity(pod);
        if !affinity.is_empty() {
            let satisfied = affinity
                .iter()
                .zip(&fs.affinity)
                .all(|(t, counts)| in_domain(&t.topology_key, counts));
            if !satisfied {
                // The first pod of a group that selects itself may go
                // anywhere its topology keys exist.
                let nothing_matches = fs.affinity.iter().all(|c| c.is_empty());
                let selects_itself = fs.selects_itself;
                let keys_present = affinity
                    .iter()
                    .all(|t| labels.contains_key(&t.topology_key));
                if !(nothing_matches && selects_itself && keys_present) {
                    return Status::unresolvable(REASON_AFFINITY);
                }
            }
        }
        let anti = required_anti_affinity(pod);
        if anti
            .iter()
            .zip(&fs.anti_affinity)
            .any(|(t, counts)| in_domain(&t.topology_key, counts))
        {
            return Status::unschedulable(REASON_ANTI_AFFINITY);
        }
        if fs
            .existing_anti
            .keys()
            .any(|(k, v)| labels.get(k) == Some(v))
        {
            return Status::unschedulable(REASON_EXISTING_ANTI_AFFINITY);
        }
        Status::success()
    }
}

impl PreScore for InterPodAffinity {
    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        _: &[&NodeInfo],
        cache: &Cache,
    ) -> Status {
        let preferred = preferred_affinity(pod);
        let preferred_anti = preferred_anti_affinity(pod);
        let own_terms = !preferred.is_empty() || !preferred_anti.is_empty();
        let mut scores: HashMap<Domain, i64> = HashMap::new();
        let mut add = |key: &str, labels: &matching::Labels, w: i64| {
            if let Some(v) = labels.get(key) {
                *scores.entry((key.to_string(), v.clone())).or_default() += w;
            }
        };
        // Without terms of its own, only pods with terms can matter.
        let nodes: Box<dyn Iterator<Item = &NodeInfo>> = if own_terms {
            Box::new(cache.nodes())
        } else {
            Box::new(cache.nodes_with_affinity())
        };
        for node in nodes {
            let labels = node.labels();
            let pods = if own_terms {
                &node.pods
            } else {
                &node.pods_with_affinity
            };
            for existing in pods {
                for t in preferred {
                    if term_selects(&t.pod_affinity_term, &pod.namespace, existing, cache) {
                        add(
                            &t.pod_affinity_term.topology_key,
                            labels,
                            i64::from(t.weight),
                        );
                    }
                }
                for t in preferred_anti {
                    if term_selects(&t.pod_affinity_term, &pod.namespace, existing, cache) {
                        add(
                            &t.pod_affinity_term.topology_key,
                            labels,
                            -i64::from(t.weight),
                        );
                    }
                }
                if !existing.has_pod_affinity_terms() {
                    continue;
                }
                if self.hard_pod_affinity_weight > 0 {
                    for t in required_affinity(existing) {
                        if term_selects(t, &existing.namespace, pod, cache) {
                            add(&t.topology_key, labels, self.hard_pod_affinity_weight);
                        }
                    }
                }
                for t in preferred_affinity(existing) {
                    if term_selects(&t.pod_affinity_term, &existing.namespace, pod, cache) {
                        add(
                            &t.pod_affinity_term.topology_key,
                            labels,
                            i64::from(t.weight),
                        );
                    }
                }
                for t in preferred_anti_affinity(existing) {
                    if term_selects(&t.pod_affinity_term, &existing.namespace, pod, cache) {
                        add(
                            &t.pod_affinity_term.topology_key,
                            labels,
                            -i64::from(t.weight),
                        );
                    }
                }
            }
        }
        if scores.is_empty() {
            return Status::skip();
        }
        state.write(SCORE_KEY, scores);
        Status::success()
    }
}

impl Score for InterPodAffinity {
    fn score(&self, state: &CycleState, _: &PodInfo, node: &NodeInfo) -> i64 {
        let Some(scores) = state.read::<HashMap<Domain, i64>>(SCORE_KEY) else {
            return 0;
        };
        let labels = node.labels();
        scores
            .iter()
            .filter(|((k, v), _)| labels.get(k) == Some(v))
            .map(|(_, s)| s)
            .sum()
    }

    fn normalize(&self, _: &CycleState, _: &PodInfo, scores: &mut [i64]) {
        let min = scores.iter().copied().min().unwrap_or(0);
        let max = scores.iter().copied().max().unwrap_or(0);
        let diff = max - min;
        for s in scores.iter_mut() {
            *s = if diff > 0 {
                MAX_NODE_SCORE * (*s - min) / diff
            } else {
                0
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{node, pod, with_labels};
    use k8s_openapi::api::core::v1::{Affinity, PodAffinity, PodAntiAffinity};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
    use std::sync::Arc;

    fn term(app: &str, key: &str) -> PodAffinityTerm {
        PodAffinityTerm {
            label_selector: Some(LabelSelector {
                match_labels: Some([("app".to_string(), app.to_string())].into()),
                ..Default::default()
            }),
            topology_key: key.into(),
            ..Default::default()
        }
    }

    /// Nodes a1 (zone a) and b1 (zone b).
    fn two_zones() -> Cache {
        let mut cache = Cache::default();
        for (n, zone) in [("a1", "a"), ("b1", "b")] {
            cache.add_or_update_node(Arc::new(with_labels(
                node(n, "8", "8Gi"),
                &[("zone", zone)],
            )));
        }
        cache
    }

    fn cache_with_db_in_zone_a() -> Cache {
        let mut cache = two_zones();
        let mut db = with_labels(pod("db", "", ""), &[("app", "db")]);
        db.spec.as_mut().unwrap().node_name = Some("a1".into());
        db.spec.as_mut().unwrap().affinity = Some(Affinity {
            pod_anti_affinity: Some(PodAntiAffinity {
                required_during_scheduling_ignored_during_execution: Some(vec![term(
                    "batch", "zone",
                )]),
                ..Default::default()
            }),
            ..Default::default()
        });
        cache.add_or_update_pod(Arc::new(db));
        cache
    }

    fn run(cache: &Cache, p: k8s_openapi::api::core::v1::Pod) -> (Status, Status) {
        let pod = PodInfo::new(Arc::new(p));
        let plugin = InterPodAffinity::default();
        let mut state = CycleState::default();
        let (_, s) = plugin.pre_filter(&mut state, &pod, cache);
        assert!(s.is_success(), "{s:?}");
        (
            plugin.filter(&state, &pod, cache.node("a1").unwrap()),
            plugin.filter(&state, &pod, cache.node("b1").unwrap()),
        )
    }

    #[test]
    fn required_affinity_and_anti_affinity_by_zone() {
        let cache = cache_with_db_in_zone_a();
        let mut web = with_labels(pod("web", "", ""), &[("app", "web")]);
        web.spec.as_mut().unwrap().affinity = Some(Affinity {
            pod_affinity: Some(PodAffinity {
                required_during_scheduling_ignored_during_execution: Some(vec![term("db", "zone")]),
                ..Default::default()
            }),
            ..Default::default()
        });
        let (a, b) = run(&cache, web.clone());
        assert!(a.is_success());
        assert_eq!(b.reasons, vec![REASON_AFFINITY]);

        web.spec.as_mut().unwrap().affinity = Some(Affinity {
            pod_anti_affinity: Some(PodAntiAffinity {
                required_during_scheduling_ignored_during_execution: Some(vec![term("db", "zone")]),
                ..Default::default()
            }),
            ..Default::default()
        });
        let (a, b) = run(&cache, web);
        assert_eq!(a.reasons, vec![REASON_ANTI_AFFINITY]);
        assert!(b.is_success());
    }

    #[test]
    fn namespace_selector_reads_namespace_labels() {
        let mut cache = two_zones();
        let mut db = with_labels(pod("db", "", ""), &[("app", "db")]);
        db.metadata.namespace = Some("data".into());
        db.spec.as_mut().unwrap().node_name = Some("a1".into());
        cache.add_or_update_pod(Arc::new(db));
        let web = |selector: Option<LabelSelector>, namespaces: Option<Vec<String>>| {
            let mut web = with_labels(pod("web", "", ""), &[("app", "web")]);
            web.metadata.namespace = Some("shop".into());
            web.spec.as_mut().unwrap().affinity = Some(Affinity {
                pod_affinity: Some(PodAffinity {
                    required_during_scheduling_ignored_during_execution: Some(vec![
                        PodAffinityTerm {
                            namespace_selector: selector,
                            namespaces,
                            ..term("db", "zone")
                        },
                    ]),
                    ..Default::default()
                }),
                ..Default::default()
            });
            web
        };
        let team_data = LabelSelector {
            match_labels: Some([("team".to_string(), "data".to_string())].into()),
            ..Default::default()
        };
        // Only the pod's own namespace without a selector or a list.
        let (a, _) = run(&cache, web(None, None));
        assert_eq!(a.reasons, vec![REASON_AFFINITY]);
        // A selector over labels the namespace does not (yet) carry.
        let (a, _) = run(&cache, web(Some(team_data.clone()), None));
        assert_eq!(a.reasons, vec![REASON_AFFINITY]);
        cache.set_namespace_labels("data", [("team".to_string(), "data".to_string())].into());
        let (a, b) = run(&cache, web(Some(team_data), None));
        assert!(a.is_success(), "{a:?}");
        assert_eq!(b.reasons, vec![REASON_AFFINITY]);
        // `{}` selects every namespace; a list names them.
        let (a, _) = run(&cache, web(Some(LabelSelector::default()), None));
        assert!(a.is_success());
        let nothing = LabelSelector {
            match_labels: Some([("team".to_string(), "none".to_string())].into()),
            ..Default::default()
        };
        let (a, _) = run(&cache, web(Some(nothing), Some(vec!["data".into()])));
        assert!(a.is_success(), "the list and the selector are a union");
    }

    #[test]
    fn existing_pods_anti_affinity_repels_the_incoming_pod() {
        let cache = cache_with_db_in_zone_a();
        let (a, b) = run(&cache, with_labels(pod("job", "", ""), &[("app", "batch")]));
        assert_eq!(a.reasons, vec![REASON_EXISTING_ANTI_AFFINITY]);
        assert!(b.is_success());
    }

    #[test]
    fn first_pod_of_a_self_affine_group_may_go_anywhere() {
        let mut cache = Cache::default();
        cache.add_or_update_node(Arc::new(with_labels(
            node("a1", "8", "8Gi"),
            &[("zone", "a")],
        )));
        cache.add_or_update_node(Arc::new(with_labels(
            node("b1", "8", "8Gi"),
            &[("zone", "b")],
        )));
        let mut p = with_labels(pod("first", "", ""), &[("app", "cache")]);
        p.spec.as_mut().unwrap().affinity = Some(Affinity {
            pod_affinity: Some(PodAffinity {
                required_during_scheduling_ignored_during_execution: Some(vec![term(
                    "cache", "zone",
                )]),
                ..Default::default()
            }),
            ..Default::default()
        });
        let (a, b) = run(&cache, p);
        assert!(a.is_success() && b.is_success());
    }
}
