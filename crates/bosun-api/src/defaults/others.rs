//! Defaults of discovery, scheduling and policy kinds.

use super::helpers::{default_ptr, default_status, each_obj};
use serde_json::{json, Value};

/// EndpointSlice ports: name "" and protocol TCP.
pub fn default_endpoint_slice(es: &mut Value) {
    for port in each_obj(es, "ports") {
        default_ptr(port, "name", json!(""));
        default_ptr(port, "protocol", json!("TCP"));
    }
}

/// PriorityClass: preemptionPolicy PreemptLowerPriority.
pub fn default_priority_class(pc: &mut Value) {
    default_ptr(pc, "preemptionPolicy", json!("PreemptLowerPriority"));
}

/// PodDisruptionBudget: zeroed status counters.
pub fn default_pdb(pdb: &mut Value) {
    default_status(
        pdb,
        json!({
            "disruptionsAllowed": 0,
            "currentHealthy": 0,
            "desiredHealthy": 0,
            "expectedPods": 0
        }),
    );
}
