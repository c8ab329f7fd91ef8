//! NodePorts: a pod's host ports must be free on the node.

use crate::cache::Cache;
use crate::framework::{ClusterEvent, CycleState, Filter, NodeSubset, Plugin, PreFilter, Status};
use crate::node_info::{NodeInfo, PodInfo};

pub const NAME: &str = "NodePorts";
pub const REASON: &str = "node(s) didn't have free ports for the requested pod ports";

pub struct NodePorts;

impl Plugin for NodePorts {
    fn name(&self) -> &'static str {
        NAME
    }
    fn as_pre_filter(&self) -> Option<&dyn PreFilter> {
        Some(self)
    }
    fn as_filter(&self) -> Option<&dyn Filter> {
        Some(self)
    }
    fn events(&self) -> &'static [ClusterEvent] {
        &[ClusterEvent::NodeAdd, ClusterEvent::AssignedPodDelete]
    }
}

impl PreFilter for NodePorts {
    fn pre_filter(&self, _: &mut CycleState, pod: &PodInfo, _: &Cache) -> (NodeSubset, Status) {
        if pod.host_ports.is_empty() {
            (None, Status::skip())
        } else {
            (None, Status::success())
        }
    }
}

impl Filter for NodePorts {
    fn filter(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let taken = pod
            .host_ports
            .iter()
            .any(|want| node.used_ports.iter().any(|used| used.conflicts(want)));
        if taken {
            Status::unschedulable(REASON)
        } else {
            Status::success()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{node, pod};
    use k8s_openapi::api::core::v1::ContainerPort;
    use std::sync::Arc;

    fn with_port(name: &str, port: i32, protocol: &str, ip: &str) -> PodInfo {
        let mut p = pod(name, "", "");
        p.spec.as_mut().unwrap().containers[0].ports = Some(vec![ContainerPort {
            container_port: 80,
            host_port: Some(port),
            protocol: Some(protocol.into()),
            host_ip: (!ip.is_empty()).then(|| ip.to_string()),
            ..Default::default()
        }]);
        PodInfo::new(Arc::new(p))
    }

    #[test]
    fn host_port_conflicts_as_upstream() {
        // (existing port, protocol, ip) vs (wanted ...) → fits?
        let cases = [
            ((8080, "TCP", ""), (8080, "TCP", ""), false),
            ((8080, "TCP", ""), (8080, "UDP", ""), true),
            ((8080, "TCP", ""), (8081, "TCP", ""), true),
            ((8080, "TCP", "10.0.0.1"), (8080, "TCP", "10.0.0.2"), true),
            ((8080, "TCP", "10.0.0.1"), (8080, "TCP", ""), false),
            ((8080, "TCP", ""), (8080, "TCP", "10.0.0.2"), false),
        ];
        for ((p1, proto1, ip1), (p2, proto2, ip2), fits) in cases {
            let mut n = NodeInfo::new("n");
            n.set_node(Arc::new(node("n", "4", "4Gi")));
            n.add_pod(Arc::new(with_port("old", p1, proto1, ip1)));
            let s = NodePorts.filter(
                &CycleState::default(),
                &with_port("new", p2, proto2, ip2),
                &n,
            );
            assert_eq!(
                s.is_success(),
                fits,
                "{p1}/{proto1}/{ip1} vs {p2}/{proto2}/{ip2}"
            );
            if !fits {
                assert_eq!(s.reasons, vec![REASON]);
            }
        }
        let (_, s) = NodePorts.pre_filter(
            &mut CycleState::default(),
            &PodInfo::new(Arc::new(pod("plain", "", ""))),
            &Cache::default(),
        );
        assert_eq!(s.code, crate::framework::Code::Skip);
    }
}
