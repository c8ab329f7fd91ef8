//! The DefaultTolerationSeconds admission plugin: every new pod tolerates
//! the `not-ready` and `unreachable` NoExecute taints for 300 s unless it
//! says otherwise, so a failed node's pods are evicted after five minutes.

use serde_json::{json, Value};

const DEFAULT_SECONDS: i64 = 300;
const TAINTS: [&str; 2] = [
    "node.kubernetes.io/not-ready",
    "node.kubernetes.io/unreachable",
];

/// Adds the default tolerations a pod lacks (upstream's rule: a toleration
/// with the taint's key and effect NoExecute or any effect counts).
pub fn admit_pod_create(pod: &mut Value) {
    let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    let tolerations = spec.entry("tolerations").or_insert_with(|| json!([]));
    let Some(list) = tolerations.as_array_mut() else {
        return;
    };
    for key in TAINTS {
        let covered = list.iter().any(|t| {
            let effect = t.get("effect").and_then(Value::as_str).unwrap_or("");
            t.get("key").and_then(Value::as_str) == Some(key)
                && (effect.is_empty() || effect == "NoExecute")
        });
        if !covered {
            list.push(json!({
                "key": key,
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": DEFAULT_SECONDS,
            }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_what_is_missing_and_keeps_what_is_given() {
        let mut pod = json!({"spec": {"tolerations": [
            {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 5}
        ]}});
        admit_pod_create(&mut pod);
        let t = pod["spec"]["tolerations"].as_array().expect("list");
        assert_eq!(t.len(), 2);
        assert_eq!(t[0]["tolerationSeconds"], 5);
        assert_eq!(t[1]["key"], "node.kubernetes.io/not-ready");
        assert_eq!(t[1]["tolerationSeconds"], 300);
        let mut bare = json!({"spec": {}});
        admit_pod_create(&mut bare);
        assert_eq!(
            bare["spec"]["tolerations"].as_array().map(Vec::len),
            Some(2)
        );
    }
}
