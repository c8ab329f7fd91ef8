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
        let Some(n) = node.node.as_deref() else {
            return Status::success();
        };
        let tolerations = matching::pod_tolerations(&pod.pod);
        let untolerated = matching::node_taints(n).iter().find(|t| {
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
        let Some(n) = node.node.as_deref() else {
            return 0;
        };
        // Only tolerations that can apply to PreferNoSchedule count.
        let tolerations: Vec<_> = matching::pod_tolerations(&pod.pod)
            .iter()
            .filter(|t| {
                matches!(
                    t.effect.as_deref(),
                    None | Some("") | Some("PreferNoSchedule")
                )
            })
            .cloned()
            .collect();
        matching::node_taints(n)
            .iter()
            .filter(|t| t.effect == "PreferNoSchedule" && !matching::tolerated(&tolerations, t))
            .count() as i64
    }

    fn normalize(&self, _: &CycleState, _: &PodInfo, scores: &mut [i64]) {
        framework::default_normalize(scores, true);
    }
}
