//! TaintToleration: NoSchedule/NoExecute taints must be tolerated (filter);
//! fewer untolerated PreferNoSchedule taints score higher.

use crate::framework::{self, ClusterEvent, CycleState, Filter, Plugin, Score, Status};
use crate::matching;
use crate::node_info::{NodeInfo, PodInfo};

pub const NAME: &str = "TaintToleration";

pub struct TaintToleration;

impl Plugin for TaintToleration {
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
        &[ClusterEvent::NodeAdd, ClusterEvent::NodeTaintChange]
    }
}

impl Filter for TaintToleration {
    fn filter(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        if node.node.is_none() || node.taints.is_empty() {
            return Status::success();
        }
        let tolerations = matching::pod_tolerations(&pod.pod);
        let untolerated = node.taints.iter().find(|t| {
            matches!(t.effect.as_str(), "NoSchedule" | "NoExecute")
                && !matching::tolerated(tolerations, t)
        });
        match untolerated {
            Some(t) => Status::unresolvable(format!(
                "node(s) had untolerated taint {{{}: {}}}",
                t.key,
                t.value.as_deref().unwrap_or("")
            )),
            None => Status::success(),
        }
    }
}

impl Score for TaintToleration {
    fn score(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> i64 {
        if node.node.is_none() || node.taints.is_empty() {
            return 0;
        }
        // Only tolerations that can apply to PreferNoSchedule count.
        let tolerations = matching::pod_tolerations(&pod.pod);
        let applies = |t: &&k8s_openapi::api::core::v1::Toleration| {
            matches!(
                t.effect.as_deref(),
                None | Some("") | Some("PreferNoSchedule")
            )
        };
        node.taints
            .iter()
            .filter(|taint| {
                taint.effect == "PreferNoSchedule"
                    && !tolerations
                        .iter()
                        .filter(applies)
                        .any(|t| matching::tolerates(t, taint))
            })
            .count() as i64
    }

    fn normalize(&self, _: &CycleState, _: &PodInfo, scores: &mut [i64]) {
        framework::default_normalize(scores, true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{node, pod};
    use k8s_openapi::api::core::v1::{Taint, Toleration};
    use std::sync::Arc;

    fn node_with(taints: Vec<(&str, &str, &str)>) -> NodeInfo {
        let mut n = node("n", "4", "4Gi");
        n.spec.as_mut().unwrap().taints = Some(
            taints
                .into_iter()
                .map(|(k, v, e)| Taint {
                    key: k.into(),
                    value: Some(v.into()),
                    effect: e.into(),
                    time_added: None,
                })
                .collect(),
        );
        let mut info = NodeInfo::new("n");
        info.set_node(Arc::new(n));
        info
    }

    fn tolerating(keys: &[&str]) -> PodInfo {
        let mut p = pod("p", "", "");
        p.spec.as_mut().unwrap().tolerations = Some(
            keys.iter()
                .map(|k| Toleration {
                    key: Some(k.to_string()),
                    operator: Some("Exists".into()),
                    ..Default::default()
                })
                .collect(),
        );
        PodInfo::new(Arc::new(p))
    }

    #[test]
    fn filter_names_the_first_untolerated_hard_taint() {
        let n = node_with(vec![
            ("soft", "x", "PreferNoSchedule"),
            ("gpu", "a100", "NoSchedule"),
        ]);
        let s = TaintToleration.filter(&CycleState::default(), &tolerating(&[]), &n);
        assert_eq!(s.reasons, vec!["node(s) had untolerated taint {gpu: a100}"]);
        assert!(TaintToleration
            .filter(&CycleState::default(), &tolerating(&["gpu"]), &n)
            .is_success());
        let s = TaintToleration.filter(
            &CycleState::default(),
            &tolerating(&[]),
            &node_with(vec![("evict", "", "NoExecute")]),
        );
        assert_eq!(s.code, crate::framework::Code::UnschedulableAndUnresolvable);
    }

    #[test]
    fn score_prefers_fewer_untolerated_prefer_no_schedule_taints() {
        let nodes = [
            node_with(vec![]),
            node_with(vec![("a", "", "PreferNoSchedule")]),
            node_with(vec![
                ("a", "", "PreferNoSchedule"),
                ("b", "", "PreferNoSchedule"),
            ]),
        ];
        let pod = tolerating(&["b"]);
        let mut scores: Vec<i64> = nodes
            .iter()
            .map(|n| TaintToleration.score(&CycleState::default(), &pod, n))
            .collect();
        assert_eq!(scores, vec![0, 1, 1]);
        TaintToleration.normalize(&CycleState::default(), &pod, &mut scores);
        assert_eq!(scores, vec![100, 0, 0]);
    }
}
