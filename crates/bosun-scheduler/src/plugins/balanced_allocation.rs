//! NodeResourcesBalancedAllocation: prefers nodes whose cpu and memory
//! would be used in similar fractions (1 - standard deviation).

use crate::framework::{CycleState, Plugin, Score, MAX_NODE_SCORE};
use crate::node_info::{NodeInfo, PodInfo};
use crate::plugins::node_resources_fit::requested_and_allocatable;
use crate::resources::{CPU, MEMORY};

pub const NAME: &str = "NodeResourcesBalancedAllocation";

pub struct BalancedAllocation {
    pub resources: Vec<String>,
}

impl Default for BalancedAllocation {
    fn default() -> Self {
        BalancedAllocation {
            resources: vec![CPU.into(), MEMORY.into()],
        }
    }
}

impl Plugin for BalancedAllocation {
    fn name(&self) -> &'static str {
        NAME
    }
    fn as_score(&self) -> Option<&dyn Score> {
        Some(self)
    }
}

impl Score for BalancedAllocation {
    fn score(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> i64 {
        // Runs for every candidate node: the fractions stay on the stack
        // for the usual handful of resources.
        let mut inline = [0f64; 8];
        let mut spilled = Vec::new();
        let mut n = 0;
        for r in &self.resources {
            let (requested, allocatable) = requested_and_allocatable(pod, node, r);
            if allocatable <= 0 {
                continue;
            }
            let fraction = (requested as f64 / allocatable as f64).min(1.0);
            match inline.get_mut(n) {
                Some(slot) => *slot = fraction,
                None => spilled.push(fraction),
            }
            n += 1;
        }
        if n == 0 {
            return 0;
        }
        let fractions = || inline.iter().take(n).chain(spilled.iter());
        let count = n as f64;
        let mean = fractions().sum::<f64>() / count;
        let variance = fractions().map(|f| (f - mean).powi(2)).sum::<f64>() / count;
        ((1.0 - variance.sqrt()) * MAX_NODE_SCORE as f64) as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{node, pod};
    use std::sync::Arc;

    #[test]
    fn equal_fractions_score_full_and_skew_scores_less() {
        let mut n = NodeInfo::new("n");
        n.set_node(Arc::new(node("n", "4", "4Gi")));
        let even = PodInfo::new(Arc::new(pod("p", "2", "2Gi")));
        assert_eq!(
            BalancedAllocation::default().score(&CycleState::default(), &even, &n),
            100
        );
        let skewed = PodInfo::new(Arc::new(pod("q", "4", "1Gi")));
        // cpu 1.0, memory 0.25: std 0.375 → 62.
        assert_eq!(
            BalancedAllocation::default().score(&CycleState::default(), &skewed, &n),
            62
        );
    }

    #[test]
    fn more_resources_than_fit_on_the_stack_score_the_same_way() {
        use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
        let extended: Vec<String> = (0..10).map(|i| format!("example.com/r{i}")).collect();
        let mut node_obj = node("n", "4", "4Gi");
        let mut pod_obj = pod("p", "2", "2Gi");
        for (i, name) in extended.iter().enumerate() {
            let status = node_obj.status.as_mut().expect("node status");
            for list in [status.capacity.as_mut(), status.allocatable.as_mut()] {
                list.expect("resource list")
                    .insert(name.clone(), Quantity("10".into()));
            }
            // r0..r8 half used like cpu and memory; r9 fully used.
            let want = if i == 9 { "10" } else { "5" };
            let spec = pod_obj.spec.as_mut().expect("pod spec");
            spec.containers[0]
                .resources
                .as_mut()
                .and_then(|r| r.requests.as_mut())
                .expect("requests")
                .insert(name.clone(), Quantity(want.into()));
        }
        let mut n = NodeInfo::new("n");
        n.set_node(Arc::new(node_obj));
        let p = PodInfo::new(Arc::new(pod_obj));
        let mut resources = vec![CPU.to_string(), MEMORY.to_string()];
        resources.extend(extended);
        // Twelve fractions: eleven 0.5 and one 1.0; mean 13/24,
        // std sqrt(11)/24 = 0.138 → 86.
        let score = BalancedAllocation { resources }.score(&CycleState::default(), &p, &n);
        assert_eq!(score, 86);
    }
}
