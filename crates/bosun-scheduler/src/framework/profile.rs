//! A scheduling profile: the plugins enabled at each extension point, in
//! order, and the loops that run them.

use std::sync::Arc;

use super::{CycleState, NodeSubset, NodeToStatus, Plugin, PostFilterResult, Status};
use crate::cache::Cache;
use crate::node_info::{NodeInfo, PodInfo};

pub struct ScorePlugin {
    pub plugin: Arc<dyn Plugin>,
    pub weight: i64,
}

/// One profile (`spec.schedulerName`) of a KubeSchedulerConfiguration.
pub struct Framework {
    pub scheduler_name: String,
    pub percentage_of_nodes_to_score: Option<u32>,
    pub pre_filter: Vec<Arc<dyn Plugin>>,
    pub filter: Vec<Arc<dyn Plugin>>,
    pub post_filter: Vec<Arc<dyn Plugin>>,
    pub pre_score: Vec<Arc<dyn Plugin>>,
    pub score: Vec<ScorePlugin>,
    pub reserve: Vec<Arc<dyn Plugin>>,
    pub permit: Vec<Arc<dyn Plugin>>,
    /// Every enabled plugin (for requeue events).
    pub all: Vec<Arc<dyn Plugin>>,
}

impl Framework {
    /// Runs PreFilter plugins; the allowed node set is the intersection of
    /// what each returned. A rejection ends the cycle for every node.
    pub fn run_pre_filter(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        cache: &Cache,
    ) -> (NodeSubset, Status) {
        let mut allowed: NodeSubset = None;
        for p in &self.pre_filter {
            let Some(pf) = p.as_pre_filter() else {
                continue;
            };
            let (subset, status) = pf.pre_filter(state, pod, cache);
            match status.code {
                super::Code::Skip => {
                    state.skip_filter.push(p.name());
                    continue;
                }
                super::Code::Success => {}
                _ => return (None, status.with_plugin(p.name())),
            }
            if let Some(subset) = subset {
                allowed = Some(match allowed {
                    None => subset,
                    Some(prev) => prev.intersection(&subset).cloned().collect(),
                });
            }
        }
        (allowed, Status::success())
    }

    /// Runs Filter plugins on one node, stopping at the first rejection.
    pub fn run_filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        for p in &self.filter {
            if !state.skip_filter.is_empty() && state.skips_filter(p.name()) {
                continue;
            }
            if let Some(f) = p.as_filter() {
                let status = f.filter(state, pod, node);
                if !status.is_success() {
                    return status.with_plugin(p.name());
                }
            }
        }
        Status::success()
    }

    pub fn run_post_filter(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        cache: &Cache,
        rejected: &NodeToStatus,
    ) -> Option<PostFilterResult> {
        let mut last = None;
        for p in &self.post_filter {
            if let Some(pf) = p.as_post_filter() {
                let result = pf.post_filter(state, pod, cache, rejected, self);
                if result.nominated_node.is_some() {
                    return Some(result);
                }
                last = Some(result);
            }
        }
        last
    }

    /// PreScore then Score (normalised and weighted) for the feasible
    /// nodes; returns one total per node, in the same order.
    pub fn run_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        nodes: &[&NodeInfo],
        cache: &Cache,
    ) -> Vec<i64> {
        for p in &self.pre_score {
            if let Some(ps) = p.as_pre_score() {
                let status = ps.pre_score(state, pod, nodes, cache);
                if status.code == super::Code::Skip {
                    state.skip_score.push(p.name());
                }
            }
        }
        let mut totals = vec![0i64; nodes.len()];
        let mut scores = vec![0i64; nodes.len()];
        for sp in &self.score {
            if state.skips_score(sp.plugin.name()) {
                continue;
            }
            let Some(s) = sp.plugin.as_score() else {
                continue;
            };
            for (slot, node) in scores.iter_mut().zip(nodes) {
                *slot = s.score(state, pod, node);
            }
            s.normalize(state, pod, &mut scores);
            for (t, s) in totals.iter_mut().zip(&scores) {
                *t += s * sp.weight;
            }
        }
        totals
    }

    /// Reserve in order; on a failure, unreserve those already reserved.
    pub fn run_reserve(&self, state: &CycleState, pod: &PodInfo, node: &str) -> Status {
        for (i, p) in self.reserve.iter().enumerate() {
            if let Some(r) = p.as_reserve() {
                let status = r.reserve(state, pod, node);
                if !status.is_success() {
                    self.run_unreserve_upto(state, pod, node, i + 1);
                    return status.with_plugin(p.name());
                }
            }
        }
        Status::success()
    }

    pub fn run_unreserve(&self, state: &CycleState, pod: &PodInfo, node: &str) {
        self.run_unreserve_upto(state, pod, node, self.reserve.len());
    }

    fn run_unreserve_upto(&self, state: &CycleState, pod: &PodInfo, node: &str, n: usize) {
        for p in self.reserve[..n].iter().rev() {
            if let Some(r) = p.as_reserve() {
                r.unreserve(state, pod, node);
            }
        }
    }

    pub fn run_permit(&self, state: &CycleState, pod: &PodInfo, node: &str) -> Status {
        for p in &self.permit {
            if let Some(pm) = p.as_permit() {
                let status = pm.permit(state, pod, node);
                if !status.is_success() {
                    return status.with_plugin(p.name());
                }
            }
        }
        Status::success()
    }
}
