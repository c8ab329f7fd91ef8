//! One scheduling attempt for one pod, pure over the cache: PreFilter,
//! Filter over (a share of) the nodes starting where the last attempt
//! stopped, PreScore/Score, then the highest-scoring node (ties broken at
//! random); on failure, PostFilter (preemption) and upstream's message.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use crate::cache::Cache;
use crate::framework::{CycleState, Framework, NodeToStatus, Status};
use crate::node_info::{NodeInfo, PodInfo};

/// Upstream's floor on how many feasible nodes to look for.
const MIN_FEASIBLE_NODES: usize = 100;
const MIN_FEASIBLE_PERCENTAGE: usize = 5;
/// The pseudo-plugin that rejects every pod while there are no nodes.
pub const NO_NODES: &str = "NoNodes";
pub const NO_NODES_MESSAGE: &str = "no nodes available to schedule pods";

/// Why a pod fits nowhere, rendered as upstream's `FitError`.
#[derive(Debug, Default)]
pub struct FitError {
    pub num_all_nodes: usize,
    pub rejected: NodeToStatus,
    pub pre_filter_msg: Option<String>,
    pub post_filter_msg: Option<String>,
    /// Plugins that rejected some node (for requeueing).
    pub rejected_by: HashSet<&'static str>,
    /// Set when preemption found room.
    pub nomination: Option<Nomination>,
}

impl FitError {
    /// `0/5 nodes are available: 2 Insufficient cpu, 3 node(s) had
    /// untolerated taint {k: v}. preemption: …`
    pub fn message(&self) -> String {
        if self.num_all_nodes == 0 {
            return NO_NODES_MESSAGE.to_string();
        }
        let mut msg = format!("0/{} nodes are available:", self.num_all_nodes);
        if let Some(pre) = &self.pre_filter_msg {
            msg.push_str(&format!(" {pre}."));
        } else {
            let mut histogram: BTreeMap<&str, usize> = BTreeMap::new();
            for status in self.rejected.values() {
                for r in &status.reasons {
                    *histogram.entry(r.as_str()).or_default() += 1;
                }
            }
            let mut parts: Vec<String> = histogram
                .into_iter()
                .map(|(reason, n)| format!("{n} {reason}"))
                .collect();
            parts.sort();
            if !parts.is_empty() {
                msg.push_str(&format!(" {}.", parts.join(", ")));
            }
        }
        if let Some(post) = &self.post_filter_msg {
            msg.push_str(&format!(" {post}."));
        }
        msg
    }
}

/// Upstream's `numFeasibleNodesToFind`.
pub fn feasible_nodes_to_find(percentage: Option<u32>, all: usize) -> usize {
    if all < MIN_FEASIBLE_NODES {
        return all;
    }
    let mut pct = percentage.unwrap_or(0) as usize;
    if pct == 0 {
        pct = 50usize
            .saturating_sub(all / 125)
            .max(MIN_FEASIBLE_PERCENTAGE);
    }
    (all * pct / 100).max(MIN_FEASIBLE_NODES)
}

/// State that lives across attempts: where the next filter pass starts,
/// the tie-break generator, and pods nominated to nodes by preemption.
pub struct Algorithm {
    pub next_start: usize,
    rng: u64,
    pub nominated: HashMap<String, Vec<Arc<PodInfo>>>,
}

impl Default for Algorithm {
    fn default() -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9e37_79b9_7f4a_7c15);
        Algorithm {
            next_start: 0,
            rng: seed | 1,
            nominated: HashMap::new(),
        }
    }
}

pub enum Decision {
    Fit { node: String, state: CycleState },
    NoFit(Box<FitError>, CycleState),
}

impl Algorithm {
    fn random(&mut self) -> u64 {
        // xorshift64*: a tie-break, not cryptography.
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Filters `node` with higher-or-equal priority pods nominated to it
    /// counted as if they were already there.
    fn filter_node(
        &self,
        fw: &Framework,
        state: &CycleState,
        pod: &PodInfo,
        node: &NodeInfo,
    ) -> Status {
        if let Some(nominated) = self.nominated.get(&node.name) {
            let ahead: Vec<_> = nominated
                .iter()
                .filter(|n| n.uid != pod.uid && n.priority >= pod.priority)
                .collect();
            if !ahead.is_empty() {
                let mut with = node.clone();
                for n in ahead {
                    with.add_pod((*n).clone());
                }
                let status = fw.run_filter(state, pod, &with);
                if !status.is_success() {
                    return status;
                }
            }
        }
        fw.run_filter(state, pod, node)
    }

    pub fn schedule(&mut self, fw: &Framework, cache: &Cache, pod: &PodInfo) -> Decision {
        let mut state = CycleState::default();
        let all = cache.node_count();
        if all == 0 {
            let mut err = FitError::default();
            err.rejected_by.insert(NO_NODES);
            return Decision::NoFit(Box::new(err), state);
        }
        let mut err = FitError {
            num_all_nodes: all,
            ..Default::default()
        };
        let (allowed, status) = fw.run_pre_filter(&mut state, pod, cache);
        if !status.is_success() {
            err.pre_filter_msg = Some(status.message());
            err.rejected_by.insert(status.plugin);
            for node in cache.nodes() {
                err.rejected.insert(node.name.clone(), status.clone());
            }
            return self.post_filter(fw, cache, pod, err, state);
        }

        // A pod nominated by an earlier preemption tries its node first.
        let nominated = pod
            .pod
            .status
            .as_ref()
            .and_then(|s| s.nominated_node_name.as_deref())
            .and_then(|n| cache.node(n));
        if let Some(node) = nominated {
            if allowed.as_ref().is_none_or(|a| a.contains(&node.name))
                && self.filter_node(fw, &state, pod, node).is_success()
            {
                return Decision::Fit {
                    node: node.name.clone(),
                    state,
                };
            }
        }

        let wanted = feasible_nodes_to_find(fw.percentage_of_nodes_to_score, all);
        let mut feasible: Vec<&NodeInfo> = Vec::with_capacity(wanted.min(all));
        let mut processed = 0;
        let start = self.next_start % all;
        for i in 0..all {
            if feasible.len() >= wanted {
                break;
            }
            processed += 1;
            let Some(node) = cache.node_at((start + i) % all) else {
                continue;
            };
            if let Some(a) = &allowed {
                if !a.contains(&node.name) {
                    err.rejected.insert(
                        node.name.clone(),
                        Status::unresolvable("node(s) didn't satisfy plugin(s) [PreFilter]"),
                    );
                    continue;
                }
            }
            let status = self.filter_node(fw, &state, pod, node);
            if status.is_success() {
                feasible.push(node);
            } else {
                err.rejected_by.insert(status.plugin);
                err.rejected.insert(node.name.clone(), status);
            }
        }
        self.next_start = (start + processed) % all;
        if feasible.is_empty() {
            return self.post_filter(fw, cache, pod, err, state);
        }
        if feasible.len() == 1 {
            return Decision::Fit {
                node: feasible[0].name.clone(),
                state,
            };
        }
        let scores = fw.run_score(&mut state, pod, &feasible, cache);
        let node = self.select_host(&feasible, &scores);
        Decision::Fit { node, state }
    }

    /// The highest score; among equal scores each wins with equal chance.
    fn select_host(&mut self, nodes: &[&NodeInfo], scores: &[i64]) -> String {
        let mut best = 0;
        let mut ties = 0u64;
        for (i, s) in scores.iter().enumerate() {
            if *s > scores[best] {
                best = i;
                ties = 1;
            } else if *s == scores[best] {
                ties += 1;
                if self.random().is_multiple_of(ties) {
                    best = i;
                }
            }
        }
        nodes[best].name.clone()
    }

    fn post_filter(
        &mut self,
        fw: &Framework,
        cache: &Cache,
        pod: &PodInfo,
        mut err: FitError,
        state: CycleState,
    ) -> Decision {
        if let Some(result) = fw.run_post_filter(&state, pod, cache, &err.rejected) {
            match result.nominated_node {
                Some(node) => {
                    err.nomination = Some(Nomination {
                        node,
                        victims: result.victims,
                    })
                }
                None if !result.status.reasons.is_empty() => {
                    err.post_filter_msg = Some(result.status.message());
                }
                None => {}
            }
        }
        Decision::NoFit(Box::new(err), state)
    }
}

/// A preemption outcome: the node the pod is nominated to once the
/// victims are gone.
#[derive(Debug)]
pub struct Nomination {
    pub node: String,
    pub victims: Vec<Arc<PodInfo>>,
}
