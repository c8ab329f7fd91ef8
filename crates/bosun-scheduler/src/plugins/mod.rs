//! The in-tree plugins and the registry that builds them by name.

use std::sync::Arc;

use crate::framework::Plugin;

pub mod balanced_allocation;
pub mod default_preemption;
pub mod image_locality;
pub mod inter_pod_affinity;
pub mod node_affinity;
pub mod node_name;
pub mod node_ports;
pub mod node_resources_fit;
pub mod node_unschedulable;
pub mod pod_topology_spread;
pub mod taint_toleration;

/// Upstream's default `multiPoint` plugins for 1.32 and their score
/// weights, in order.
pub const DEFAULT_PLUGINS: &[(&str, i64)] = &[
    ("PrioritySort", 0),
    ("NodeUnschedulable", 0),
    ("NodeName", 0),
    ("TaintToleration", 3),
    ("NodeAffinity", 2),
    ("NodePorts", 0),
    ("NodeResourcesFit", 1),
    ("VolumeRestrictions", 0),
    ("NodeVolumeLimits", 0),
    ("VolumeBinding", 0),
    ("VolumeZone", 0),
    ("PodTopologySpread", 2),
    ("InterPodAffinity", 2),
    ("DefaultPreemption", 0),
    ("NodeResourcesBalancedAllocation", 1),
    ("ImageLocality", 1),
    ("DefaultBinder", 0),
];

/// Upstream plugins accepted in configuration that have nothing to do
/// here yet: the queue sort and binder are built into the scheduler, and
/// volume topology is not modelled (volumes bind to hostPath/local PVs).
const BUILT_IN_OR_INERT: &[&str] = &[
    "PrioritySort",
    "DefaultBinder",
    "VolumeRestrictions",
    "NodeVolumeLimits",
    "VolumeBinding",
    "VolumeZone",
    "EBSLimits",
    "GCEPDLimits",
    "AzureDiskLimits",
    "SchedulingGates",
];

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("plugin {0:?} does not exist")]
    Unknown(String),
    #[error("invalid args for plugin {plugin}: {message}")]
    Args { plugin: String, message: String },
}

/// Builds the named plugin with its `pluginConfig` args; `Ok(None)` for a
/// known plugin that has no runtime part here.
pub fn build(
    name: &str,
    args: Option<&serde_json::Value>,
) -> Result<Option<Arc<dyn Plugin>>, RegistryError> {
    let bad_args = |e: &dyn std::fmt::Display| RegistryError::Args {
        plugin: name.to_string(),
        message: e.to_string(),
    };
    let plugin: Arc<dyn Plugin> = match name {
        node_unschedulable::NAME => Arc::new(node_unschedulable::NodeUnschedulable),
        node_name::NAME => Arc::new(node_name::NodeName),
        taint_toleration::NAME => Arc::new(taint_toleration::TaintToleration),
        node_affinity::NAME => Arc::new(node_affinity::NodeAffinity),
        node_ports::NAME => Arc::new(node_ports::NodePorts),
        node_resources_fit::NAME => {
            let parsed = match args {
                Some(v) => serde_json::from_value(v.clone()).map_err(|e| bad_args(&e))?,
                None => node_resources_fit::NodeResourcesFitArgs::default(),
            };
            Arc::new(node_resources_fit::NodeResourcesFit::new(parsed).map_err(|e| bad_args(&e))?)
        }
        pod_topology_spread::NAME => Arc::new(pod_topology_spread::PodTopologySpread),
        inter_pod_affinity::NAME => {
            let weight = args
                .and_then(|a| a.get("hardPodAffinityWeight"))
                .map(|w| w.as_i64().filter(|w| (0..=100).contains(w)))
                .unwrap_or(Some(1))
                .ok_or_else(|| bad_args(&"hardPodAffinityWeight: must be in the range [0-100]"))?;
            Arc::new(inter_pod_affinity::InterPodAffinity {
                hard_pod_affinity_weight: weight,
            })
        }
        default_preemption::NAME => {
            let get = |k: &str, d: usize| {
                args.and_then(|a| a.get(k))
                    .and_then(|v| v.as_u64())
                    .map_or(d, |v| v as usize)
            };
            Arc::new(default_preemption::DefaultPreemption {
                min_candidate_nodes_percentage: get("minCandidateNodesPercentage", 10),
                min_candidate_nodes_absolute: get("minCandidateNodesAbsolute", 100),
            })
        }
        balanced_allocation::NAME => {
            let resources = args
                .and_then(|a| a.get("resources"))
                .and_then(|r| r.as_array())
                .map(|r| {
                    r.iter()
                        .filter_map(|x| x.get("name").and_then(|n| n.as_str()).map(String::from))
                        .collect()
                });
            Arc::new(match resources {
                Some(resources) => balanced_allocation::BalancedAllocation { resources },
                None => balanced_allocation::BalancedAllocation::default(),
            })
        }
        image_locality::NAME => Arc::new(image_locality::ImageLocality),
        other if BUILT_IN_OR_INERT.contains(&other) => return Ok(None),
        other => return Err(RegistryError::Unknown(other.to_string())),
    };
    Ok(Some(plugin))
}
