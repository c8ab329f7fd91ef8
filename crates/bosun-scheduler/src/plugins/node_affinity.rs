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
