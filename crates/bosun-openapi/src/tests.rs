//! Whole-document tests: what kubectl 1.32 reads from the published documents.

use std::collections::HashSet;

use serde_json::Value;

use crate::catalog::GROUP_VERSIONS;

fn doc(gv_path: &str) -> Value {
    let text = crate::document(gv_path).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Resolves `#/components/schemas/<name>` references and single-element
/// `allOf` wrappers, the way kubectl's explain template does.
fn resolve<'a>(document: &'a Value, mut schema: &'a Value) -> &'a Value {
    loop {
        if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
            let name = reference.strip_prefix("#/components/schemas/").unwrap();
            schema = &document["components"]["schemas"][name];
            continue;
        }
        if schema.get("properties").is_none() {
            if let Some(inner) = schema.get("allOf").and_then(|a| a.get(0)) {
                schema = inner;
                continue;
            }
            if let Some(items) = schema.get("items") {
                schema = items;
                continue;
            }
        }
        return schema;
    }
}

/// Follows a dotted field path from the component carrying `gvk`, returning
/// the field's own schema (with its description) and the resolved schema.
fn field<'a>(document: &'a Value, gvk: &Value, path: &str) -> (&'a Value, &'a Value) {
    let root = document["components"]["schemas"]
        .as_object()
        .unwrap()
        .values()
        .find(|s| {
            s["x-kubernetes-group-version-kind"]
                .as_array()
                .is_some_and(|list| list.contains(gvk))
        })
        .unwrap_or_else(|| panic!("no schema for {gvk}"));
    let mut current = root;
    let mut own = root;
    for segment in path.split('.') {
        let resolved = resolve(document, current);
        own = resolved["properties"]
            .get(segment)
            .unwrap_or_else(|| panic!("{path}: no field {segment}"));
        current = own;
    }
    (own, resolve(document, current))
}

fn gvk(group: &str, version: &str, kind: &str) -> Value {
    serde_json::json!({ "group": group, "kind": kind, "version": version })
}

#[test]
fn index_lists_every_group_version_with_its_hash() {
    let index = crate::index();
    let paths = index["paths"].as_object().unwrap();
    assert_eq!(paths.len(), GROUP_VERSIONS.len());
    for key in crate::group_version_paths() {
        let url = paths[&key]["serverRelativeURL"].as_str().unwrap();
        let hash = crate::document_hash(&key).unwrap();
        assert_eq!(url, format!("/openapi/v3/{key}?hash={hash}"));
    }
    assert!(paths.contains_key("api/v1"));
    assert!(paths.contains_key("apis/apps/v1"));
    assert!(crate::document("apis/apps/v1beta1").is_none());
    assert!(crate::document_hash("apis/extensions/v1beta1").is_none());
}

#[test]
fn documents_are_cached() {
    let a = crate::document("apis/batch/v1").unwrap();
    let b = crate::document("/openapi/v3/apis/batch/v1").unwrap();
    assert!(std::sync::Arc::ptr_eq(&a, &b));
}

#[test]
fn deployment_schema_has_gvk_and_strategy_description() {
    let apps = doc("apis/apps/v1");
    assert_eq!(apps["openapi"], "3.0.0");
    let deployment = &apps["components"]["schemas"]["io.k8s.api.apps.v1.Deployment"];
    assert_eq!(
        deployment["x-kubernetes-group-version-kind"],
        serde_json::json!([gvk("apps", "v1", "Deployment")])
    );
    assert!(deployment.get("required").is_none());

    let (own, resolved) = field(&apps, &gvk("apps", "v1", "Deployment"), "spec.strategy");
    assert!(own["description"]
        .as_str()
        .unwrap()
        .contains("deployment strategy"));
    assert_eq!(
        own["allOf"][0]["$ref"],
        "#/components/schemas/io.k8s.api.apps.v1.DeploymentStrategy"
    );
    assert_eq!(own["x-kubernetes-patch-strategy"], "retainKeys");
    assert!(resolved["description"]
        .as_str()
        .unwrap()
        .contains("replace"));
    assert_eq!(resolved["properties"]["type"]["type"], "string");
    assert!(resolved["properties"]["rollingUpdate"]["description"].is_string());
}

#[test]
fn explain_paths_resolve_with_descriptions_and_types() {
    // (document, kind, field path, expected "type" of the resolved schema or None for objects)
    let cases = [
        (
            "apis/apps/v1",
            gvk("apps", "v1", "Deployment"),
            "spec.replicas",
            Some("integer"),
        ),
        (
            "apis/apps/v1",
            gvk("apps", "v1", "Deployment"),
            "spec.template.spec.containers.image",
            Some("string"),
        ),
        (
            "apis/apps/v1",
            gvk("apps", "v1", "StatefulSet"),
            "spec.volumeClaimTemplates.spec.resources",
            Some("object"),
        ),
        (
            "api/v1",
            gvk("", "v1", "Pod"),
            "spec.containers.ports.containerPort",
            Some("integer"),
        ),
        (
            "api/v1",
            gvk("", "v1", "Pod"),
            "metadata.creationTimestamp",
            Some("string"),
        ),
        (
            "api/v1",
            gvk("", "v1", "Service"),
            "spec.ports.targetPort",
            None,
        ),
        ("api/v1", gvk("", "v1", "ConfigMap"), "data", Some("object")),
        (
            "api/v1",
            gvk("", "v1", "Event"),
            "involvedObject",
            Some("object"),
        ),
        (
            "apis/batch/v1",
            gvk("batch", "v1", "CronJob"),
            "spec.jobTemplate.spec.template.spec.restartPolicy",
            Some("string"),
        ),
        (
            "apis/coordination.k8s.io/v1",
            gvk("coordination.k8s.io", "v1", "Lease"),
            "spec.renewTime",
            Some("string"),
        ),
        (
            "apis/discovery.k8s.io/v1",
            gvk("discovery.k8s.io", "v1", "EndpointSlice"),
            "endpoints.addresses",
            Some("array"),
        ),
        (
            "apis/events.k8s.io/v1",
            gvk("events.k8s.io", "v1", "Event"),
            "regarding",
            Some("object"),
        ),
        (
            "apis/policy/v1",
            gvk("policy", "v1", "PodDisruptionBudget"),
            "spec.maxUnavailable",
            None,
        ),
        (
            "apis/scheduling.k8s.io/v1",
            gvk("scheduling.k8s.io", "v1", "PriorityClass"),
            "value",
            Some("integer"),
        ),
    ];
    for (path, kind, field_path, expected_type) in cases {
        let document = doc(path);
        let (own, resolved) = field(&document, &kind, field_path);
        let description = own
            .get("description")
            .or_else(|| resolved.get("description"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        assert!(
            !description.is_empty(),
            "{path} {field_path}: no description"
        );
        let got = own
            .get("type")
            .or_else(|| resolved.get("type"))
            .and_then(Value::as_str);
        assert_eq!(got, expected_type, "{path} {field_path}");
    }
}

#[test]
fn int_or_string_fields_render_as_named_types() {
    // kubectl prints `<IntOrString>` when the referenced schema has no `type`.
    let apps = doc("apis/apps/v1");
    let (own, resolved) = field(
        &apps,
        &gvk("apps", "v1", "Deployment"),
        "spec.strategy.rollingUpdate.maxSurge",
    );
    assert_eq!(
        own["allOf"][0]["$ref"],
        "#/components/schemas/io.k8s.apimachinery.pkg.util.intstr.IntOrString"
    );
    assert!(resolved.get("type").is_none());
}

#[test]
fn patch_operations_declare_field_validation_for_every_resource() {
    for gv in GROUP_VERSIONS {
        let document = doc(&gv.path_key());
        let paths = document["paths"].as_object().unwrap();
        for resource in gv.resources {
            let expected = gvk(gv.group, gv.version, resource.kind);
            let patches: Vec<&Value> = paths
                .values()
                .filter_map(|item| item.get("patch"))
                .filter(|op| op["x-kubernetes-group-version-kind"] == expected)
                .collect();
            let wanted = 1 + resource
                .subresources
                .iter()
                .filter(|s| **s == crate::catalog::Subresource::Status)
                .count();
            assert_eq!(patches.len(), wanted, "{}/{}", gv.path_key(), resource.kind);
            for op in patches {
                let names: Vec<&str> = op["parameters"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|p| p["in"] == "query")
                    .map(|p| p["name"].as_str().unwrap())
                    .collect();
                for name in ["fieldValidation", "dryRun", "fieldManager", "force"] {
                    assert!(names.contains(&name), "{}: {name}", resource.kind);
                }
                let content = op["requestBody"]["content"].as_object().unwrap();
                assert!(content.contains_key("application/strategic-merge-patch+json"));
                assert!(content.contains_key("application/apply-patch+yaml"));
                assert_eq!(op["x-kubernetes-action"], "patch");
            }
        }
    }
}

#[test]
fn deployment_paths_match_upstream_layout() {
    let apps = doc("apis/apps/v1");
    let paths = &apps["paths"];
    let base = "/apis/apps/v1/namespaces/{namespace}/deployments";
    let cases = [
        (
            base.to_owned(),
            "get",
            "listAppsV1NamespacedDeployment",
            "list",
        ),
        (
            base.to_owned(),
            "post",
            "createAppsV1NamespacedDeployment",
            "post",
        ),
        (
            base.to_owned(),
            "delete",
            "deleteAppsV1CollectionNamespacedDeployment",
            "deletecollection",
        ),
        (
            format!("{base}/{{name}}"),
            "get",
            "readAppsV1NamespacedDeployment",
            "get",
        ),
        (
            format!("{base}/{{name}}"),
            "put",
            "replaceAppsV1NamespacedDeployment",
            "put",
        ),
        (
            format!("{base}/{{name}}"),
            "patch",
            "patchAppsV1NamespacedDeployment",
            "patch",
        ),
        (
            format!("{base}/{{name}}"),
            "delete",
            "deleteAppsV1NamespacedDeployment",
            "delete",
        ),
        (
            format!("{base}/{{name}}/status"),
            "patch",
            "patchAppsV1NamespacedDeploymentStatus",
            "patch",
        ),
        (
            format!("{base}/{{name}}/scale"),
            "put",
            "replaceAppsV1NamespacedDeploymentScale",
            "put",
        ),
        (
            "/apis/apps/v1/deployments".to_owned(),
            "get",
            "listAppsV1DeploymentForAllNamespaces",
            "list",
        ),
        (
            "/apis/apps/v1/watch/namespaces/{namespace}/deployments".to_owned(),
            "get",
            "watchAppsV1NamespacedDeploymentList",
            "watchlist",
        ),
        (
            "/apis/apps/v1/watch/namespaces/{namespace}/deployments/{name}".to_owned(),
            "get",
            "watchAppsV1NamespacedDeployment",
            "watch",
        ),
        (
            "/apis/apps/v1/watch/deployments".to_owned(),
            "get",
            "watchAppsV1DeploymentListForAllNamespaces",
            "watchlist",
        ),
    ];
    for (path, method, id, action) in cases {
        let op = &paths[&path][method];
        assert_eq!(op["operationId"], id, "{method} {path}");
        assert_eq!(op["x-kubernetes-action"], action, "{method} {path}");
    }
    let scale = &paths[format!("{base}/{{name}}/scale")]["patch"];
    assert_eq!(
        scale["x-kubernetes-group-version-kind"],
        gvk("autoscaling", "v1", "Scale")
    );
    assert_eq!(
        paths[base]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/io.k8s.api.apps.v1.DeploymentList"
    );
    let create_params: Vec<&str> = paths[base]["post"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(create_params, ["dryRun", "fieldManager", "fieldValidation"]);
    let put = &paths[format!("{base}/{{name}}")]["put"];
    assert!(put["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["name"] == "fieldValidation"));
    let item_params: Vec<&str> = paths[format!("{base}/{{name}}")]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(item_params, ["name", "namespace", "pretty"]);
}

#[test]
fn core_paths_cover_cluster_scoped_and_special_cases() {
    let core = doc("api/v1");
    let paths = core["paths"].as_object().unwrap();
    let present = [
        "/api/v1/",
        "/api/v1/nodes",
        "/api/v1/nodes/{name}",
        "/api/v1/nodes/{name}/status",
        "/api/v1/namespaces/{name}/status",
        "/api/v1/persistentvolumes/{name}/status",
        "/api/v1/namespaces/{namespace}/pods/{name}/status",
        "/api/v1/pods",
        "/api/v1/watch/nodes/{name}",
    ];
    for path in present {
        assert!(paths.contains_key(path), "{path}");
    }
    let absent = [
        "/api/v1/nodes/{name}/scale",
        "/api/v1/namespaces/{namespace}/configmaps/{name}/status",
        "/api/v1/namespaces/{namespace}/namespaces",
    ];
    for path in absent {
        assert!(!paths.contains_key(path), "{path}");
    }
    // Namespaces have no deletecollection.
    assert!(paths["/api/v1/namespaces"].get("delete").is_none());
    assert_eq!(
        paths["/api/v1/nodes"]["delete"]["operationId"],
        "deleteCoreV1CollectionNode"
    );
    // Pod deletion answers with the Pod, Deployment deletion with a Status.
    assert_eq!(
        paths["/api/v1/namespaces/{namespace}/pods/{name}"]["delete"]["responses"]["200"]
            ["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/io.k8s.api.core.v1.Pod"
    );
    let apps = doc("apis/apps/v1");
    assert_eq!(
        apps["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["delete"]
            ["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.Status"
    );
}

fn collect_refs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                if key == "$ref" {
                    if let Some(r) = child.as_str() {
                        out.push(r);
                    }
                } else {
                    collect_refs(child, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| collect_refs(i, out)),
        _ => {}
    }
}

#[test]
fn every_reference_resolves_and_operation_ids_are_unique() {
    for key in crate::group_version_paths() {
        let document = doc(&key);
        let schemas = document["components"]["schemas"].as_object().unwrap();
        let mut refs = Vec::new();
        collect_refs(&document, &mut refs);
        assert!(!refs.is_empty());
        for r in refs {
            let name = r
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("{key}: unexpected ref {r}"));
            assert!(schemas.contains_key(name), "{key}: dangling {r}");
        }
        // A `$ref` never keeps siblings (OpenAPI 3.0 would ignore them).
        let text = document.to_string();
        assert!(!text.contains("\"$ref\":\"#/components/schemas/io.k8s.api.core.v1.ObjectMeta\","));
        let mut ids = HashSet::new();
        for item in document["paths"].as_object().unwrap().values() {
            for (method, op) in item.as_object().unwrap() {
                if method == "parameters" {
                    continue;
                }
                let id = op["operationId"].as_str().unwrap();
                assert!(ids.insert(id.to_owned()), "{key}: duplicate {id}");
            }
        }
    }
}

#[test]
fn pod_spec_lists_carry_strategic_merge_keys() {
    let core = doc("api/v1");
    let schemas = &core["components"]["schemas"];
    let cases = [
        (
            "io.k8s.api.core.v1.PodSpec",
            "containers",
            Some("name"),
            "merge",
        ),
        (
            "io.k8s.api.core.v1.PodSpec",
            "volumes",
            Some("name"),
            "merge,retainKeys",
        ),
        ("io.k8s.api.core.v1.Container", "env", Some("name"), "merge"),
        (
            "io.k8s.api.core.v1.Container",
            "ports",
            Some("containerPort"),
            "merge",
        ),
        (
            "io.k8s.api.core.v1.ServiceSpec",
            "ports",
            Some("port"),
            "merge",
        ),
        (
            "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
            "finalizers",
            None,
            "merge",
        ),
        (
            "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
            "ownerReferences",
            Some("uid"),
            "merge",
        ),
    ];
    for (schema, property, key, strategy) in cases {
        let field = &schemas[schema]["properties"][property];
        assert_eq!(
            field
                .get("x-kubernetes-patch-merge-key")
                .and_then(Value::as_str),
            key,
            "{schema}.{property}"
        );
        assert_eq!(
            field["x-kubernetes-patch-strategy"], strategy,
            "{schema}.{property}"
        );
    }
}
