//! DefaultPreemption: when a pod fits nowhere, find the node where evicting
//! the fewest, least important lower-priority pods makes it fit, and
//! nominate it. Victims are chosen as upstream: remove every lower-priority
//! pod, then reprieve them from the most important down while the pod
//! still fits.

use std::sync::Arc;

use crate::cache::Cache;
use crate::framework::{
    Code, CycleState, Framework, NodeToStatus, Plugin, PostFilter, PostFilterResult, Status,
};
use crate::node_info::{NodeInfo, PodInfo};

pub const NAME: &str = "DefaultPreemption";
const NO_VICTIMS: &str = "No preemption victims found for incoming pod";
const NOT_HELPFUL: &str = "Preemption is not helpful for scheduling";

pub struct DefaultPreemption {
    pub min_candidate_nodes_percentage: usize,
    pub min_candidate_nodes_absolute: usize,
}

impl Default for DefaultPreemption {
    fn default() -> Self {
        DefaultPreemption {
            min_candidate_nodes_percentage: 10,
            min_candidate_nodes_absolute: 100,
        }
    }
}

impl Plugin for DefaultPreemption {
    fn name(&self) -> &'static str {
        NAME
    }
    fn as_post_filter(&self) -> Option<&dyn PostFilter> {
        Some(self)
    }
}

struct Candidate {
    node: String,
    victims: Vec<Arc<PodInfo>>,
}

fn start_time(p: &PodInfo) -> Option<&k8s_openapi::jiff::Timestamp> {
    p.pod
        .status
        .as_ref()
        .and_then(|s| s.start_time.as_ref())
        .map(|t| &t.0)
}

/// Upstream's `MoreImportantPod`: higher priority, then earlier start.
fn more_important(a: &PodInfo, b: &PodInfo) -> std::cmp::Ordering {
    b.priority
        .cmp(&a.priority)
        .then_with(|| match (start_time(a), start_time(b)) {
            (Some(x), Some(y)) => x.cmp(y),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        })
}

fn select_victims(
    framework: &Framework,
    state: &CycleState,
    pod: &PodInfo,
    node: &NodeInfo,
) -> Option<Vec<Arc<PodInfo>>> {
    let mut potential: Vec<Arc<PodInfo>> = node
        .pods
        .iter()
        .filter(|p| p.priority < pod.priority)
        .cloned()
        .collect();
    if potential.is_empty() {
        return None;
    }
    let mut trial = node.clone();
    for p in &potential {
        trial.remove_pod(&p.uid);
    }
    if !framework.run_filter(state, pod, &trial).is_success() {
        return None;
    }
    potential.sort_by(|a, b| more_important(a, b));
    let mut victims = Vec::new();
    for p in potential {
        trial.add_pod(p.clone());
        if !framework.run_filter(state, pod, &trial).is_success() {
            trial.remove_pod(&p.uid);
            victims.push(p);
        }
    }
    Some(victims)
}

/// Upstream's `pickOneNodeForPreemption` order of preference.
fn pick(candidates: Vec<Candidate>) -> Option<Candidate> {
    candidates.into_iter().min_by(|a, b| {
        let highest = |c: &Candidate| {
            c.victims
                .iter()
                .map(|v| v.priority)
                .max()
                .unwrap_or(i32::MIN)
        };
        let sum = |c: &Candidate| {
            c.victims
                .iter()
                .map(|v| i64::from(v.priority) + i64::from(i32::MAX) + 1)
                .sum::<i64>()
        };
        // Latest start among the most important victims goes first.
        let earliest = |c: &Candidate| {
            c.victims
                .iter()
                .filter(|v| v.priority == highest(c))
                .filter_map(|v| start_time(v).copied())
                .min()
        };
        highest(a)
            .cmp(&highest(b))
            .then_with(|| sum(a).cmp(&sum(b)))
            .then_with(|| a.victims.len().cmp(&b.victims.len()))
            .then_with(|| earliest(b).cmp(&earliest(a)))
    })
}

fn histogram(all: usize, counts: &[(usize, &str)]) -> String {
    let mut parts: Vec<String> = counts
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, r)| format!("{n} {r}"))
        .collect();
    parts.sort();
    format!(
        "preemption: 0/{all} nodes are available: {}.",
        parts.join(", ")
    )
}

impl PostFilter for DefaultPreemption {
    fn post_filter(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        cache: &Cache,
        rejected: &NodeToStatus,
        framework: &Framework,
    ) -> PostFilterResult {
        let none = |status| PostFilterResult {
            nominated_node: None,
            victims: Vec::new(),
            status,
        };
        let policy = pod.spec().and_then(|s| s.preemption_policy.as_deref());
        if policy == Some("Never") {
            return none(Status::unschedulable(
                "not eligible due to preemptionPolicy=Never.",
            ));
        }
        let all = cache.node_count();
        let wanted = (all * self.min_candidate_nodes_percentage / 100)
            .max(self.min_candidate_nodes_absolute);
        let (mut not_helpful, mut no_victims) = (0, 0);
        let mut candidates = Vec::new();
        for node in cache.nodes() {
            match rejected.get(&node.name).map(|s| s.code) {
                Some(Code::Unschedulable) => {}
                Some(_) => {
                    not_helpful += 1;
                    continue;
                }
                None => continue,
            }
            if candidates.len() >= wanted {
                break;
            }
            match select_victims(framework, state, pod, node) {
                Some(victims) => candidates.push(Candidate {
                    node: node.name.clone(),
                    victims,
                }),
                None => no_victims += 1,
            }
        }
        match pick(candidates) {
            Some(c) => PostFilterResult {
                nominated_node: Some(c.node),
                victims: c.victims,
                status: Status::success(),
            },
            None => none(Status::unschedulable(histogram(
                all,
                &[(no_victims, NO_VICTIMS), (not_helpful, NOT_HELPFUL)],
            ))),
        }
    }
}
