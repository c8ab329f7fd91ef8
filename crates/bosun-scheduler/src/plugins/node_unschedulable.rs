//! NodeUnschedulable: cordoned nodes (`spec.unschedulable`) take only pods
//! that tolerate the `node.kubernetes.io/unschedulable` taint.

use k8s_openapi::api::core::v1::Taint;

use crate::framework::{ClusterEvent, CycleState, Filter, Plugin, Status};
use crate::matching;
use crate::node_info::{NodeInfo, PodInfo};

pub const NAME: &str = "NodeUnschedulable";
pub const REASON: &str = "node(s) were unschedulable";

pub struct NodeUnschedulable;

impl Plugin for NodeUnschedulable {
    fn name(&self) -> &'static str {
        NAME
    }
    fn as_filter(&self) -> Option<&dyn Filter> {
        Some(self)
    }
    fn events(&self) -> &'static [ClusterEvent] {
        &[
            ClusterEvent::NodeAdd,
            ClusterEvent::NodeSpecUnschedulableChange,
            ClusterEvent::NodeTaintChange,
        ]
    }
}

impl Filter for NodeUnschedulable {
    fn filter(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        if !node.unschedulable {
            return Status::success();
        }
        let taint = Taint {
            key: "node.kubernetes.io/unschedulable".into(),
            effect: "NoSchedule".into(),
            ..Default::default()
        };
        if matching::tolerated(matching::pod_tolerations(&pod.pod), &taint) {
            Status::success()
        } else {
            Status::unresolvable(REASON)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{node, pod};
    use k8s_openapi::api::core::v1::Toleration;
    use std::sync::Arc;

    #[test]
    fn cordoned_nodes_take_only_pods_tolerating_the_unschedulable_taint() {
        let tolerate = Toleration {
            key: Some("node.kubernetes.io/unschedulable".into()),
            operator: Some("Exists".into()),
            effect: Some("NoSchedule".into()),
            ..Default::default()
        };
        for (cordoned, tolerations, fits) in [
            (false, vec![], true),
            (true, vec![], false),
            (true, vec![tolerate.clone()], true),
        ] {
            let mut n = node("n", "4", "4Gi");
            n.spec.as_mut().unwrap().unschedulable = Some(cordoned);
            let mut info = NodeInfo::new("n");
            info.set_node(Arc::new(n));
            let mut p = pod("p", "", "");
            p.spec.as_mut().unwrap().tolerations = Some(tolerations);
            let s =
                NodeUnschedulable.filter(&CycleState::default(), &PodInfo::new(Arc::new(p)), &info);
            assert_eq!(s.is_success(), fits);
            if !fits {
                assert_eq!(s.code, crate::framework::Code::UnschedulableAndUnresolvable);
                assert_eq!(s.reasons, vec![REASON]);
            }
        }
    }
}
