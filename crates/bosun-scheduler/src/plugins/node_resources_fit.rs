//! NodeResourcesFit: the pod's requests must fit in what the node has left
//! (filter); nodes are scored by a strategy: LeastAllocated (default),
//! MostAllocated or RequestedToCapacityRatio.

use serde::Deserialize;

use crate::framework::{ClusterEvent, CycleState, Filter, Plugin, Score, Status, MAX_NODE_SCORE};
use crate::node_info::{NodeInfo, PodInfo};
use crate::resources::{Resource, CPU, EPHEMERAL_STORAGE, MEMORY};

pub const NAME: &str = "NodeResourcesFit";

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct ResourceSpec {
    pub name: String,
    #[serde(default = "one")]
    pub weight: i64,
}

fn one() -> i64 {
    1
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct UtilizationShapePoint {
    pub utilization: i64,
    pub score: i64,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestedToCapacityRatio {
    #[serde(default)]
    pub shape: Vec<UtilizationShapePoint>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScoringStrategy {
    #[serde(rename = "type", default = "least_allocated")]
    pub kind: String,
    #[serde(default)]
    pub resources: Vec<ResourceSpec>,
    #[serde(default)]
    pub requested_to_capacity_ratio: Option<RequestedToCapacityRatio>,
}

fn least_allocated() -> String {
    "LeastAllocated".into()
}

/// `NodeResourcesFitArgs` (kubescheduler.config.k8s.io/v1).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeResourcesFitArgs {
    #[serde(default)]
    pub ignored_resources: Vec<String>,
    #[serde(default)]
    pub ignored_resource_groups: Vec<String>,
    #[serde(default)]
    pub scoring_strategy: Option<ScoringStrategy>,
}

#[derive(Debug, Clone, PartialEq)]
enum Strategy {
    LeastAllocated,
    MostAllocated,
    RequestedToCapacityRatio(Vec<UtilizationShapePoint>),
}

pub struct NodeResourcesFit {
    strategy: Strategy,
    resources: Vec<ResourceSpec>,
    ignored: Vec<String>,
    ignored_groups: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("NodeResourcesFit: {0}")]
pub struct ArgsError(String);

impl NodeResourcesFit {
    pub fn new(args: NodeResourcesFitArgs) -> Result<Self, ArgsError> {
        let strategy = args.scoring_strategy.unwrap_or(ScoringStrategy {
            kind: least_allocated(),
            resources: Vec::new(),
            requested_to_capacity_ratio: None,
        });
        let resources = if strategy.resources.is_empty() {
            vec![
                ResourceSpec {
                    name: CPU.into(),
                    weight: 1,
                },
                ResourceSpec {
                    name: MEMORY.into(),
                    weight: 1,
                },
            ]
        } else {
            strategy.resources.clone()
        };
        if let Some(r) = resources.iter().find(|r| !(1..=100).contains(&r.weight)) {
            return Err(ArgsError(format!(
                "resource weight of {} should be in the range of 1-100, got {}",
                r.name, r.weight
            )));
        }
        let kind = match strategy.kind.as_str() {
            "LeastAllocated" => Strategy::LeastAllocated,
            "MostAllocated" => Strategy::MostAllocated,
            "RequestedToCapacityRatio" => {
                let shape = strategy
                    .requested_to_capacity_ratio
                    .map(|r| r.shape)
                    .unwrap_or_default();
                if shape.is_empty() {
                    return Err(ArgsError(
                        "at least one point must be specified in shape".into(),
                    ));
                }
                if shape
                    .windows(2)
                    .any(|w| w[0].utilization >= w[1].utilization)
                {
                    return Err(ArgsError(
                        "utilization values in shape must be strictly increasing".into(),
                    ));
                }
                if shape
                    .iter()
                    .any(|p| !(0..=100).contains(&p.utilization) || !(0..=10).contains(&p.score))
                {
                    return Err(ArgsError(
                        "shape utilization must be within 0-100 and score within 0-10".into(),
                    ));
                }
                Strategy::RequestedToCapacityRatio(shape)
            }
            other => {
                return Err(ArgsError(format!(
                    "scoring strategy {other} is not supported"
                )))
            }
        };
        Ok(NodeResourcesFit {
            strategy: kind,
            resources,
            ignored: args.ignored_resources,
            ignored_groups: args.ignored_resource_groups,
        })
    }

    fn ignored(&self, name: &str) -> bool {
        self.ignored.iter().any(|r| r == name)
            || name
                .split_once('/')
                .is_some_and(|(group, _)| self.ignored_groups.iter().any(|g| g == group))
    }
}

impl Plugin for NodeResourcesFit {
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
        &[
            ClusterEvent::NodeAdd,
            ClusterEvent::NodeAllocatableChange,
            ClusterEvent::AssignedPodDelete,
        ]
    }
}

/// Every resource the pod wants more of than the node has left, as
/// upstream's `InsufficientResource` reasons, in upstream's order.
pub fn insufficient(
    pod: &Resource,
    node: &NodeInfo,
    ignored: impl Fn(&str) -> bool,
) -> Vec<String> {
    let mut reasons = Vec::new();
    if node.pods.len() as i64 + 1 > node.allocatable.allowed_pod_number {
        reasons.push("Too many pods".to_string());
    }
    if pod.is_zero() {
        return reasons;
    }
    let free = |name: &str| node.allocatable.get(name) - node.requested.get(name);
    for name in [CPU, MEMORY, EPHEMERAL_STORAGE] {
        let want = pod.get(name);
        if want > 0 && want > free(name) {
            reasons.push(format!("Insufficient {name}"));
        }
    }
    for (name, want) in &pod.scalar {
        if *want > 0 && !ignored(name) && *want > free(name) {
            reasons.push(format!("Insufficient {name}"));
        }
    }
    reasons
}

impl Filter for NodeResourcesFit {
    fn filter(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let reasons = insufficient(&pod.requests, node, |n| self.ignored(n));
        if reasons.is_empty() {
            Status::success()
        } else {
            Status {
                code: crate::framework::Code::Unschedulable,
                reasons,
                plugin: NAME,
            }
        }
    }
}

/// Requested (node + pod) and allocatable of one resource, with the
/// non-zero defaults for cpu and memory as upstream's scorers use.
pub fn requested_and_allocatable(pod: &PodInfo, node: &NodeInfo, name: &str) -> (i64, i64) {
    let allocatable = node.allocatable.get(name);
    let requested = match name {
        CPU | MEMORY => node.non_zero_requested.get(name) + pod.non_zero_requests.get(name),
        _ => node.requested.get(name) + pod.requests.get(name),
    };
    (requested, allocatable)
}

fn shape_score(shape: &[UtilizationShapePoint], utilization: i64) -> i64 {
    // Scores in the shape are 0..=10; the result is scaled to 0..=100.
    let scaled = |p: &UtilizationShapePoint| p.score * (MAX_NODE_SCORE / 10);
    let Some(first) = shape.first() else {
        return 0;
    };
    if utilization <= first.utilization {
        return scaled(first);
    }
    for w in shape.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        if utilization <= b.utilization {
            let (sa, sb) = (scaled(a), scaled(b));
            return sa
                + (sb - sa) * (utilization - a.utilization) / (b.utilization - a.utilization);
        }
    }
    shape.last().map(scaled).unwrap_or(0)
}

impl Score for NodeResourcesFit {
    fn score(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> i64 {
        let mut total = 0;
        let mut weights = 0;
        for r in &self.resources {
            let (requested, allocatable) = requested_and_allocatable(pod, node, &r.name);
            if allocatable == 0 {
                continue;
            }
            let s = match &self.strategy {
                Strategy::LeastAllocated => {
                    if requested > allocatable {
                        0
                    } else {
                        (allocatable - requested) * MAX_NODE_SCORE / allocatable
                    }
                }
                Strategy::MostAllocated => {
                    requested.min(allocatable) * MAX_NODE_SCORE / allocatable
                }
                Strategy::RequestedToCapacityRatio(shape) => {
                    shape_score(shape, requested.min(allocatable) * 100 / allocatable)
                }
            };
            total += s * r.weight;
            weights += r.weight;
        }
        if weights == 0 {
            0
        } else {
            total / weights
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{node, pod};
    use std::sync::Arc;

    fn info(p: k8s_openapi::api::core::v1::Pod) -> PodInfo {
        PodInfo::new(Arc::new(p))
    }

    fn node_info(cpu: &str, mem: &str, pods: Vec<k8s_openapi::api::core::v1::Pod>) -> NodeInfo {
        let mut n = NodeInfo::new("n");
        n.set_node(Arc::new(node("n", cpu, mem)));
        for p in pods {
            n.add_pod(Arc::new(info(p)));
        }
        n
    }

    fn fit() -> NodeResourcesFit {
        NodeResourcesFit::new(NodeResourcesFitArgs::default()).unwrap()
    }

    #[test]
    fn filter_lists_every_insufficient_resource() {
        let n = node_info("2", "2Gi", vec![pod("a", "1500m", "1Gi")]);
        let s = fit().filter(&CycleState::default(), &info(pod("b", "1", "2Gi")), &n);
        assert_eq!(s.reasons, vec!["Insufficient cpu", "Insufficient memory"]);
        let s = fit().filter(&CycleState::default(), &info(pod("c", "500m", "1Gi")), &n);
        assert!(s.is_success());
    }

    #[test]
    fn filter_counts_pods_and_extended_resources() {
        let mut n = node_info("2", "2Gi", vec![]);
        n.allocatable.allowed_pod_number = 0;
        let s = fit().filter(&CycleState::default(), &info(pod("b", "", "")), &n);
        assert_eq!(s.reasons, vec!["Too many pods"]);
        let mut p = pod("gpu", "", "");
        p.spec.as_mut().unwrap().containers[0]
            .resources
            .as_mut()
            .unwrap()
            .requests
            .as_mut()
            .unwrap()
            .insert(
                "nvidia.com/gpu".into(),
                k8s_openapi::apimachinery::pkg::api::resource::Quantity("1".into()),
            );
        let n = node_info("2", "2Gi", vec![]);
        let s = fit().filter(&CycleState::default(), &info(p.clone()), &n);
        assert_eq!(s.reasons, vec!["Insufficient nvidia.com/gpu"]);
        let ignoring = NodeResourcesFit::new(NodeResourcesFitArgs {
            ignored_resource_groups: vec!["nvidia.com".into()],
            ..Default::default()
        })
        .unwrap();
        assert!(ignoring
            .filter(&CycleState::default(), &info(p), &n)
            .is_success());
    }

    #[test]
    fn least_allocated_prefers_the_emptier_node_and_most_allocated_the_fuller() {
        // Upstream's example: node 4000m/10000Mi with 3000m/5000 requested
        // by the pod gives cpu 25, memory 50 → 37.
        let n = node_info("4", "10000", vec![]);
        let p = info(pod("p", "3", "5000"));
        assert_eq!(fit().score(&CycleState::default(), &p, &n), 37);
        let most = NodeResourcesFit::new(NodeResourcesFitArgs {
            scoring_strategy: Some(ScoringStrategy {
                kind: "MostAllocated".into(),
                resources: vec![],
                requested_to_capacity_ratio: None,
            }),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(most.score(&CycleState::default(), &p, &n), 62);
    }

    #[test]
    fn requested_to_capacity_ratio_follows_the_shape() {
        let shape = vec![
            UtilizationShapePoint {
                utilization: 0,
                score: 0,
            },
            UtilizationShapePoint {
                utilization: 100,
                score: 10,
            },
        ];
        assert_eq!(shape_score(&shape, 50), 50);
        assert_eq!(shape_score(&shape, 100), 100);
        let bad = NodeResourcesFit::new(NodeResourcesFitArgs {
            scoring_strategy: Some(ScoringStrategy {
                kind: "RequestedToCapacityRatio".into(),
                resources: vec![],
                requested_to_capacity_ratio: Some(RequestedToCapacityRatio { shape: vec![] }),
            }),
            ..Default::default()
        });
        assert!(bad.is_err());
    }
}
