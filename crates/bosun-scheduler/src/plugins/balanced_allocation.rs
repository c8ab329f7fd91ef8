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
        let fractions: Vec<f64> = self
            .resources
            .iter()
            .filter_map(|r| {
                let (requested, allocatable) = requested_and_allocatable(pod, node, r);
                (allocatable > 0).then(|| (requested as f64 / allocatable as f64).min(1.0))
            })
            .collect();
        if fractions.is_empty() {
            return 0;
        }
        let n = fractions.len() as f64;
        let mean = fractions.iter().sum::<f64>() / n;
        let variance = fractions.iter().map(|f| (f - mean).powi(2)).sum::<f64>() / n;
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
}
