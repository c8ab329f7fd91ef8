//! NodeName: a pod that names its node fits only there.

use crate::framework::{ClusterEvent, CycleState, Filter, Plugin, Status};
use crate::node_info::{NodeInfo, PodInfo};

pub const NAME: &str = "NodeName";
pub const REASON: &str = "node(s) didn't match the requested node name";

pub struct NodeName;

impl Plugin for NodeName {
    fn name(&self) -> &'static str {
        NAME
    }
    fn as_filter(&self) -> Option<&dyn Filter> {
        Some(self)
    }
    fn events(&self) -> &'static [ClusterEvent] {
        &[ClusterEvent::NodeAdd]
    }
}

impl Filter for NodeName {
    fn filter(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        match pod.spec().and_then(|s| s.node_name.as_deref()) {
            Some(name) if !name.is_empty() && name != node.name => Status::unresolvable(REASON),
            _ => Status::success(),
        }
    }
}
