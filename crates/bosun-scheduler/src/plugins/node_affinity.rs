//! NodeAffinity: nodeSelector and required node affinity (filter);
//! preferred terms' weights (score).

use crate::framework::{self, ClusterEvent, CycleState, Filter, Plugin, Score, Status};
use crate::matching;
use crate::node_info::{NodeInfo, PodInfo};

pub const NAME: &str = "NodeAffinity";
pub const REASON: &str = "node(s) didn't match Pod's node affinity/selector";

pub struct NodeAffinity;

impl Plugin for NodeAffinity {
    fn name(&self) -> &'static str {
        NAME
    }
    fn as_filter(&self) -> Option<&dyn Filter> {
        Some(self)
    }
    fn as_score(&self) -> Option<&dyn Score> {
        Some(self)
    }
    fn events(&self) -> &'static [ClusterEvent] {
        &[ClusterEvent::NodeAdd, ClusterEvent::NodeLabelChange]
    }
}

impl Filter for NodeAffinity {
    fn filter(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        match node.node.as_deref() {
            Some(n) if !matching::pod_matches_node_selector_and_affinity(&pod.pod, n) => {
                Status::unresolvable(REASON)
            }
            _ => Status::success(),
        }
    }
}

impl Score for NodeAffinity {
    fn score(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> i64 {
        let Some(n) = node.node.as_deref() else {
            return 0;
        };
        pod.spec()
            .and_then(|s| s.affinity.as_ref())
            .and_then(|a| a.node_affinity.as_ref())
            .and_then(|na| {
                na.preferred_during_scheduling_ignored_during_execution
                    .as_ref()
            })
            .into_iter()
            .flatten()
            .filter(|p| p.weight != 0 && matching::term_matches(&p.preference, n))
            .map(|p| i64::from(p.weight))
            .sum()
    }

    fn normalize(&self, _: &CycleState, _: &PodInfo, scores: &mut [i64]) {
        framework::default_normalize(scores, false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{node, pod, with_labels};
    use k8s_openapi::api::core::v1::{
        Affinity, NodeAffinity as Spec, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm,
        PreferredSchedulingTerm,
    };
    use std::sync::Arc;

    fn info(labels: &[(&str, &str)]) -> NodeInfo {
        let mut n = NodeInfo::new("n");
        n.set_node(Arc::new(with_labels(node("n", "4", "4Gi"), labels)));
        n
    }

    fn term(key: &str, op: &str, values: &[&str]) -> NodeSelectorTerm {
        NodeSelectorTerm {
            match_expressions: Some(vec![NodeSelectorRequirement {
                key: key.into(),
                operator: op.into(),
                values: Some(values.iter().map(|v| v.to_string()).collect()),
            }]),
            match_fields: None,
        }
    }

    #[test]
    fn selector_and_required_terms_must_both_hold() {
        let mut p = pod("p", "", "");
        let spec = p.spec.as_mut().unwrap();
        spec.node_selector = Some([("disk".to_string(), "ssd".to_string())].into());
        spec.affinity = Some(Affinity {
            node_affinity: Some(Spec {
                required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                    node_selector_terms: vec![
                        term("zone", "In", &["a"]),
                        term("zone", "In", &["b"]),
                    ],
                }),
                ..Default::default()
            }),
            ..Default::default()
        });
        let p = PodInfo::new(Arc::new(p));
        for (labels, fits) in [
            (vec![("disk", "ssd"), ("zone", "a")], true),
            (vec![("disk", "ssd"), ("zone", "b")], true),
            (vec![("disk", "ssd"), ("zone", "c")], false),
            (vec![("disk", "hdd"), ("zone", "a")], false),
        ] {
            let s = NodeAffinity.filter(&CycleState::default(), &p, &info(&labels));
            assert_eq!(s.is_success(), fits, "{labels:?}");
        }
    }

    #[test]
    fn daemon_pods_are_pinned_by_match_fields_on_the_node_name() {
        // The DaemonSet controller's term: metadata.name In [node].
        let mut p = pod("p", "", "");
        p.spec.as_mut().unwrap().affinity = Some(Affinity {
            node_affinity: Some(Spec {
                required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                    node_selector_terms: vec![NodeSelectorTerm {
                        match_expressions: None,
                        match_fields: Some(vec![NodeSelectorRequirement {
                            key: "metadata.name".into(),
                            operator: "In".into(),
                            values: Some(vec!["n".into()]),
                        }]),
                    }],
                }),
                ..Default::default()
            }),
            ..Default::default()
        });
        let p = PodInfo::new(Arc::new(p));
        assert!(NodeAffinity
            .filter(&CycleState::default(), &p, &info(&[]))
            .is_success());
        let mut other = NodeInfo::new("m");
        other.set_node(Arc::new(node("m", "4", "4Gi")));
        let s = NodeAffinity.filter(&CycleState::default(), &p, &other);
        assert_eq!(s.reasons, vec![REASON]);
    }

    #[test]
    fn preferred_terms_add_their_weights() {
        let mut p = pod("p", "", "");
        p.spec.as_mut().unwrap().affinity = Some(Affinity {
            node_affinity: Some(Spec {
                preferred_during_scheduling_ignored_during_execution: Some(vec![
                    PreferredSchedulingTerm {
                        weight: 80,
                        preference: term("disk", "In", &["ssd"]),
                    },
                    PreferredSchedulingTerm {
                        weight: 20,
                        preference: term("zone", "Exists", &[]),
                    },
                ]),
                ..Default::default()
            }),
            ..Default::default()
        });
        let p = PodInfo::new(Arc::new(p));
        let nodes = [
            info(&[("disk", "ssd"), ("zone", "a")]),
            info(&[("zone", "a")]),
            info(&[]),
        ];
        let mut scores: Vec<i64> = nodes
            .iter()
            .map(|n| NodeAffinity.score(&CycleState::default(), &p, n))
            .collect();
        assert_eq!(scores, vec![100, 20, 0]);
        NodeAffinity.normalize(&CycleState::default(), &p, &mut scores);
        assert_eq!(scores, vec![100, 20, 0]);
    }
}
