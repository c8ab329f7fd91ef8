//! Strategic-merge-patch metadata (`x-kubernetes-patch-strategy` and
//! `x-kubernetes-patch-merge-key`) for the fields of the served types.
//!
//! The `k8s-openapi` schemas do not carry these extensions, but kubectl 1.32
//! computes client-side apply patches from the OpenAPI v3 document whenever
//! the PATCH operation accepts `application/strategic-merge-patch+json`.
//! Without the merge keys it would treat lists such as `containers` as atomic,
//! so the keys are re-attached here from the `patchStrategy`/`patchMergeKey`
//! struct tags of the Kubernetes 1.32 API types.

use serde_json::{Map, Value};

/// How a field is merged by a strategic merge patch.
struct FieldPatch {
    schema: &'static str,
    field: &'static str,
    strategy: &'static str,
    merge_key: Option<&'static str>,
}

const fn merge(schema: &'static str, field: &'static str, key: &'static str) -> FieldPatch {
    FieldPatch {
        schema,
        field,
        strategy: "merge",
        merge_key: Some(key),
    }
}

const fn merge_retain(schema: &'static str, field: &'static str, key: &'static str) -> FieldPatch {
    FieldPatch {
        schema,
        field,
        strategy: "merge,retainKeys",
        merge_key: Some(key),
    }
}

const fn strategy_only(
    schema: &'static str,
    field: &'static str,
    strategy: &'static str,
) -> FieldPatch {
    FieldPatch {
        schema,
        field,
        strategy,
        merge_key: None,
    }
}

const META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
const POD_SPEC: &str = "io.k8s.api.core.v1.PodSpec";
const POD_STATUS: &str = "io.k8s.api.core.v1.PodStatus";
const CONTAINER: &str = "io.k8s.api.core.v1.Container";
const EPHEMERAL: &str = "io.k8s.api.core.v1.EphemeralContainer";
const CONTAINER_STATUS: &str = "io.k8s.api.core.v1.ContainerStatus";

const FIELDS: &[FieldPatch] = &[
    strategy_only(META, "finalizers", "merge"),
    merge(META, "ownerReferences", "uid"),
    merge(POD_SPEC, "containers", "name"),
    merge(POD_SPEC, "initContainers", "name"),
    merge(POD_SPEC, "ephemeralContainers", "name"),
    merge_retain(POD_SPEC, "volumes", "name"),
    merge(POD_SPEC, "imagePullSecrets", "name"),
    merge(POD_SPEC, "hostAliases", "ip"),
    merge(POD_SPEC, "topologySpreadConstraints", "topologyKey"),
    merge_retain(POD_SPEC, "resourceClaims", "name"),
    merge(POD_SPEC, "schedulingGates", "name"),
    merge(CONTAINER, "ports", "containerPort"),
    merge(CONTAINER, "env", "name"),
    merge(CONTAINER, "volumeMounts", "mountPath"),
    merge(CONTAINER, "volumeDevices", "devicePath"),
    merge(EPHEMERAL, "ports", "containerPort"),
    merge(EPHEMERAL, "env", "name"),
    merge(EPHEMERAL, "volumeMounts", "mountPath"),
    merge(EPHEMERAL, "volumeDevices", "devicePath"),
    merge(POD_STATUS, "conditions", "type"),
    merge(POD_STATUS, "podIPs", "ip"),
    merge(POD_STATUS, "hostIPs", "ip"),
    merge_retain(POD_STATUS, "resourceClaimStatuses", "name"),
    merge(CONTAINER_STATUS, "allocatedResourcesStatus", "name"),
    merge(CONTAINER_STATUS, "volumeMounts", "mountPath"),
    merge("io.k8s.api.core.v1.ServiceSpec", "ports", "port"),
    merge("io.k8s.api.core.v1.ServiceStatus", "conditions", "type"),
    strategy_only("io.k8s.api.core.v1.NodeSpec", "podCIDRs", "merge"),
    merge("io.k8s.api.core.v1.NodeStatus", "conditions", "type"),
    merge("io.k8s.api.core.v1.NodeStatus", "addresses", "type"),
    merge("io.k8s.api.core.v1.NamespaceStatus", "conditions", "type"),
    merge("io.k8s.api.core.v1.ServiceAccount", "secrets", "name"),
    merge(
        "io.k8s.api.core.v1.PersistentVolumeClaimStatus",
        "conditions",
        "type",
    ),
    strategy_only(
        "io.k8s.api.apps.v1.DeploymentSpec",
        "strategy",
        "retainKeys",
    ),
    merge("io.k8s.api.apps.v1.DeploymentStatus", "conditions", "type"),
    merge("io.k8s.api.apps.v1.ReplicaSetStatus", "conditions", "type"),
    merge("io.k8s.api.apps.v1.StatefulSetStatus", "conditions", "type"),
    merge("io.k8s.api.apps.v1.DaemonSetStatus", "conditions", "type"),
    merge("io.k8s.api.batch.v1.JobStatus", "conditions", "type"),
    merge(
        "io.k8s.api.policy.v1.PodDisruptionBudgetStatus",
        "conditions",
        "type",
    ),
];

/// Adds the patch extensions to every listed field present in `schemas`
/// (the `components.schemas` map of one document).
pub(crate) fn annotate(schemas: &mut Map<String, Value>) {
    for entry in FIELDS {
        let Some(property) = schemas
            .get_mut(entry.schema)
            .and_then(|schema| schema.get_mut("properties"))
            .and_then(|properties| properties.get_mut(entry.field))
            .and_then(Value::as_object_mut)
        else {
            continue;
        };
        if let Some(key) = entry.merge_key {
            property.insert("x-kubernetes-patch-merge-key".into(), key.into());
        }
        property.insert("x-kubernetes-patch-strategy".into(), entry.strategy.into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn annotates_present_fields_and_skips_absent_schemas() {
        let mut schemas = json!({
            "io.k8s.api.core.v1.PodSpec": {
                "properties": {
                    "containers": {"type": "array"},
                    "volumes": {"type": "array"},
                    "nodeName": {"type": "string"}
                }
            },
            "io.k8s.api.apps.v1.DeploymentSpec": {
                "properties": {"strategy": {"allOf": [{"$ref": "#/components/schemas/x"}]}}
            }
        });
        annotate(schemas.as_object_mut().unwrap());
        let cases = [
            (
                "/io.k8s.api.core.v1.PodSpec/properties/containers",
                Some("name"),
                Some("merge"),
            ),
            (
                "/io.k8s.api.core.v1.PodSpec/properties/volumes",
                Some("name"),
                Some("merge,retainKeys"),
            ),
            (
                "/io.k8s.api.core.v1.PodSpec/properties/nodeName",
                None,
                None,
            ),
            (
                "/io.k8s.api.apps.v1.DeploymentSpec/properties/strategy",
                None,
                Some("retainKeys"),
            ),
        ];
        for (pointer, key, strategy) in cases {
            let field = schemas.pointer(pointer).unwrap();
            assert_eq!(
                field
                    .get("x-kubernetes-patch-merge-key")
                    .and_then(Value::as_str),
                key,
                "{pointer}"
            );
            assert_eq!(
                field
                    .get("x-kubernetes-patch-strategy")
                    .and_then(Value::as_str),
                strategy,
                "{pointer}"
            );
        }
        assert!(schemas.get("io.k8s.api.core.v1.PodStatus").is_none());
    }
}
