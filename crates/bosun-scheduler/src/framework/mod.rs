//! The scheduling framework: upstream's extension points as traits, the
//! per-cycle state plugins share, and a profile (`Framework`) that runs the
//! enabled plugins at each point. Plugins are pure over the cache; every
//! side effect (binding, status, events, evictions) happens outside them.

use std::any::Any;
use std::collections::{HashMap, HashSet};

use crate::cache::Cache;
use crate::node_info::{NodeInfo, PodInfo};

mod profile;
mod status;

pub use profile::{Framework, ScorePlugin as WeightedScore};
pub use status::{Code, Status};

/// Highest score a plugin may give a node after normalisation.
pub const MAX_NODE_SCORE: i64 = 100;

/// Data one plugin computes in PreFilter/PreScore and reads in
/// Filter/Score, for one scheduling cycle of one pod.
///
/// A handful of entries at most, read once per node: a small vector beats
/// hashing the key every time.
#[derive(Default)]
pub struct CycleState {
    data: Vec<(&'static str, Box<dyn Any + Send + Sync>)>,
    /// Plugins whose PreFilter (PreScore) returned Skip: their Filter
    /// (Score) is not run.
    pub skip_filter: Vec<&'static str>,
    pub skip_score: Vec<&'static str>,
}

impl CycleState {
    pub fn write<T: Any + Send + Sync>(&mut self, key: &'static str, value: T) {
        match self.data.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = Box::new(value),
            None => self.data.push((key, Box::new(value))),
        }
    }

    pub fn read<T: Any + Send + Sync>(&self, key: &'static str) -> Option<&T> {
        self.data
            .iter()
            .find(|(k, _)| std::ptr::eq(*k, key) || *k == key)
            .and_then(|(_, v)| v.downcast_ref())
    }

    pub fn skips_filter(&self, plugin: &str) -> bool {
        self.skip_filter.contains(&plugin)
    }

    pub fn skips_score(&self, plugin: &str) -> bool {
        self.skip_score.contains(&plugin)
    }
}

/// Nodes PreFilter allows (None: all).
pub type NodeSubset = Option<HashSet<String>>;

pub trait Plugin: Send + Sync {
    fn name(&self) -> &'static str;
    fn as_pre_filter(&self) -> Option<&dyn PreFilter> {
        None
    }
    fn as_filter(&self) -> Option<&dyn Filter> {
        None
    }
    fn as_post_filter(&self) -> Option<&dyn PostFilter> {
        None
    }
    fn as_pre_score(&self) -> Option<&dyn PreScore> {
        None
    }
    fn as_score(&self) -> Option<&dyn Score> {
        None
    }
    fn as_reserve(&self) -> Option<&dyn Reserve> {
        None
    }
    fn as_permit(&self) -> Option<&dyn Permit> {
        None
    }
    /// Cluster changes that may make a pod this plugin rejected fit.
    fn events(&self) -> &'static [ClusterEvent] {
        &[]
    }
}

/// Upstream's cluster events, coarse enough to requeue by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClusterEvent {
    NodeAdd,
    NodeAllocatableChange,
    NodeLabelChange,
    NodeTaintChange,
    NodeConditionChange,
    NodeSpecUnschedulableChange,
    AssignedPodAdd,
    AssignedPodUpdate,
    AssignedPodDelete,
}

pub trait PreFilter {
    fn pre_filter(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        cache: &Cache,
    ) -> (NodeSubset, Status);
}

pub trait Filter {
    fn filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status;
}

/// What filtering found for each node that was rejected.
pub type NodeToStatus = HashMap<String, Status>;

pub struct PostFilterResult {
    pub nominated_node: Option<String>,
    /// Pods to evict so the preemptor fits on the nominated node.
    pub victims: Vec<std::sync::Arc<PodInfo>>,
    pub status: Status,
}

pub trait PostFilter {
    fn post_filter(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        cache: &Cache,
        rejected: &NodeToStatus,
        framework: &Framework,
    ) -> PostFilterResult;
}

pub trait PreScore {
    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        nodes: &[&NodeInfo],
        cache: &Cache,
    ) -> Status;
}

pub trait Score {
    fn score(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> i64;
    /// Maps raw scores onto 0..=MAX_NODE_SCORE (default: unchanged).
    fn normalize(&self, _state: &CycleState, _pod: &PodInfo, _scores: &mut [i64]) {}
}

pub trait Reserve {
    fn reserve(&self, state: &CycleState, pod: &PodInfo, node: &str) -> Status;
    fn unreserve(&self, state: &CycleState, pod: &PodInfo, node: &str);
}

pub trait Permit {
    /// Success to go on, Wait to hold the pod, a rejection to give up.
    fn permit(&self, state: &CycleState, pod: &PodInfo, node: &str) -> Status;
}

/// Upstream's `DefaultNormalizeScore`: scale to 0..=MAX_NODE_SCORE by the
/// highest score, reversed when lower raw scores are better.
pub fn default_normalize(scores: &mut [i64], reverse: bool) {
    let max = scores.iter().copied().max().unwrap_or(0);
    if max == 0 {
        if reverse {
            scores.iter_mut().for_each(|s| *s = MAX_NODE_SCORE);
        }
        return;
    }
    for s in scores.iter_mut() {
        let scaled = MAX_NODE_SCORE * *s / max;
        *s = if reverse {
            MAX_NODE_SCORE - scaled
        } else {
            scaled
        };
    }
}
