//! Server-side apply and managedFields behaviour.

use bosun_patch::{
    apply_with, server_side_apply, update_managed_fields, ApplyError, FieldManagerContext,
};
use serde_json::{json, Value};

const T1: &str = "2024-05-01T10:00:00Z";
const T2: &str = "2024-05-01T11:00:00Z";
const T3: &str = "2024-05-01T12:00:00Z";

fn deployment(replicas: Option<i64>, image: &str, extra_labels: bool) -> Value {
    let mut labels = json!({"app": "nginx"});
    if extra_labels {
        labels["tier"] = json!("web");
    }
    let mut d = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "nginx", "namespace": "default", "labels": labels},
        "spec": {
            "selector": {"matchLabels": {"app": "nginx"}},
            "template": {
                "metadata": {"labels": {"app": "nginx"}},
                "spec": {"containers": [{
                    "name": "nginx",
                    "image": image,
                    "ports": [{"containerPort": 80}]
                }]}
            }
        }
    });
    if let Some(r) = replicas {
        d["spec"]["replicas"] = json!(r);
    }
    d
}

fn apply(
    live: Option<&Value>,
    cfg: &Value,
    manager: &str,
    force: bool,
    now: &str,
) -> Result<Value, ApplyError> {
    server_side_apply(live, cfg, manager, force, "apps", "Deployment", now)
}

fn entries(obj: &Value) -> &Vec<Value> {
    obj["metadata"]["managedFields"]
        .as_array()
        .expect("managedFields")
}

fn entry<'a>(obj: &'a Value, manager: &str) -> &'a Value {
    entries(obj)
        .iter()
        .find(|e| e["manager"] == manager)
        .unwrap_or_else(|| panic!("no entry for {manager}: {obj}"))
}

#[test]
fn create_by_apply_records_fields_v1() {
    let out = apply(
        None,
        &deployment(Some(3), "nginx:1.25", false),
        "kubectl",
        false,
        T1,
    )
    .unwrap();
    assert_eq!(out["spec"]["replicas"], 3);
    assert_eq!(
        out["metadata"]["managedFields"],
        json!([{
            "manager": "kubectl",
            "operation": "Apply",
            "apiVersion": "apps/v1",
            "time": T1,
            "fieldsType": "FieldsV1",
            "fieldsV1": {
                "f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {
                    "f:replicas": {},
                    "f:selector": {},
                    "f:template": {
                        "f:metadata": {"f:labels": {"f:app": {}}},
                        "f:spec": {"f:containers": {"k:{\"name\":\"nginx\"}": {
                            ".": {},
                            "f:image": {},
                            "f:name": {},
                            "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {
                                ".": {},
                                "f:containerPort": {}
                            }}
                        }}}
                    }
                }
            }
        }])
    );
}

#[test]
fn reapply_removes_fields_dropped_from_config() {
    let v1 = apply(
        None,
        &deployment(Some(3), "nginx:1.25", true),
        "kubectl",
        false,
        T1,
    )
    .unwrap();
    // Another writer owns an annotation; it must survive.
    let mut edited = v1.clone();
    edited["metadata"]["annotations"] = json!({"note": "keep"});
    let v2 = update_managed_fields(
        Some(&v1),
        &edited,
        "kubectl-annotate",
        "Update",
        "apps",
        "Deployment",
        T2,
    );
    let v3 = apply(
        Some(&v2),
        &deployment(None, "nginx:1.26", false),
        "kubectl",
        false,
        T3,
    )
    .unwrap();
    assert!(v3["spec"].get("replicas").is_none(), "{v3}");
    assert_eq!(v3["metadata"]["labels"], json!({"app": "nginx"}));
    assert_eq!(v3["metadata"]["annotations"], json!({"note": "keep"}));
    assert_eq!(
        v3["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.26"
    );
    let applier = entry(&v3, "kubectl");
    assert_eq!(applier["time"], T3);
    assert!(applier["fieldsV1"]["f:spec"].get("f:replicas").is_none());
    assert_eq!(
        entry(&v3, "kubectl-annotate")["fieldsV1"],
        json!({"f:metadata": {"f:annotations": {".": {}, "f:note": {}}}})
    );
    // Apply entries sort before Update entries.
    assert_eq!(entries(&v3)[0]["operation"], "Apply");
}

#[test]
fn field_kept_when_another_manager_shares_it() {
    let v1 = apply(None, &deployment(Some(3), "nginx", false), "a", false, T1).unwrap();
    let v2 = apply(
        Some(&v1),
        &deployment(Some(3), "nginx", false),
        "b",
        false,
        T2,
    )
    .unwrap();
    let v3 = apply(Some(&v2), &deployment(None, "nginx", false), "a", false, T3).unwrap();
    assert_eq!(v3["spec"]["replicas"], 3);
    assert!(entry(&v3, "b")["fieldsV1"]["f:spec"]
        .get("f:replicas")
        .is_some());
}

fn created_by_client_side_apply(replicas: i64) -> Value {
    let obj = deployment(Some(replicas), "nginx:1.25", false);
    update_managed_fields(
        None,
        &obj,
        "kubectl-client-side-apply",
        "Update",
        "apps",
        "Deployment",
        T1,
    )
}

#[test]
fn conflict_with_update_manager() {
    let live = created_by_client_side_apply(2);
    let err = apply(
        Some(&live),
        &deployment(Some(3), "nginx:1.25", false),
        "other",
        false,
        T2,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using apps/v1: .spec.replicas"
    );
    assert_eq!(err.http_status(), 409);
    let ApplyError::Conflicts(conflicts) = err else {
        panic!()
    };
    assert_eq!(conflicts[0].manager, "kubectl-client-side-apply");
    assert_eq!(conflicts[0].field, ".spec.replicas");
    assert_eq!(
        conflicts[0].cause_message(),
        "conflict with \"kubectl-client-side-apply\" using apps/v1"
    );

    // Applying the same values shares ownership instead.
    let shared = apply(
        Some(&live),
        &deployment(Some(2), "nginx:1.25", false),
        "other",
        false,
        T2,
    )
    .unwrap();
    assert!(entry(&shared, "other")["fieldsV1"]["f:spec"]
        .get("f:replicas")
        .is_some());
    assert!(
        entry(&shared, "kubectl-client-side-apply")["fieldsV1"]["f:spec"]
            .get("f:replicas")
            .is_some()
    );
}

#[test]
fn several_conflicts_are_grouped_by_manager() {
    let live = created_by_client_side_apply(2);
    let err = apply(
        Some(&live),
        &deployment(Some(3), "nginx:2", false),
        "other",
        false,
        T2,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Apply failed with 2 conflicts: conflicts with \"kubectl-client-side-apply\" using apps/v1:\n\
         - .spec.replicas\n\
         - .spec.template.spec.containers[name=\"nginx\"].image"
    );
}

#[test]
fn conflict_between_appliers_prints_bare_name() {
    let v1 = apply(
        None,
        &deployment(Some(1), "nginx", false),
        "alice",
        false,
        T1,
    )
    .unwrap();
    let err = apply(
        Some(&v1),
        &deployment(Some(2), "nginx", false),
        "bob",
        false,
        T2,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Apply failed with 1 conflict: conflict with \"alice\": .spec.replicas"
    );
}

#[test]
fn force_takes_ownership() {
    let live = created_by_client_side_apply(2);
    let out = apply(
        Some(&live),
        &deployment(Some(3), "nginx:1.25", false),
        "other",
        true,
        T2,
    )
    .unwrap();
    assert_eq!(out["spec"]["replicas"], 3);
    assert!(entry(&out, "other")["fieldsV1"]["f:spec"]
        .get("f:replicas")
        .is_some());
    assert!(
        entry(&out, "kubectl-client-side-apply")["fieldsV1"]["f:spec"]
            .get("f:replicas")
            .is_none()
    );
}

#[test]
fn kubectl_may_take_over_fields_from_client_side_apply() {
    let mut obj = deployment(Some(2), "nginx:1.25", false);
    obj["metadata"]["annotations"] = json!({
        "kubectl.kubernetes.io/last-applied-configuration": deployment(Some(2), "nginx:1.25", false).to_string()
    });
    let live = update_managed_fields(
        None,
        &obj,
        "kubectl-client-side-apply",
        "Update",
        "apps",
        "Deployment",
        T1,
    );
    // Another manager is refused...
    assert!(apply(
        Some(&live),
        &deployment(Some(3), "nginx:1.25", false),
        "other",
        false,
        T2
    )
    .is_err());
    // ...but kubectl's server-side apply upgrades without conflicts.
    let out = apply(
        Some(&live),
        &deployment(Some(3), "nginx:1.25", false),
        "kubectl",
        false,
        T2,
    )
    .unwrap();
    assert_eq!(out["spec"]["replicas"], 3);
    let last: Value = serde_json::from_str(
        out["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(last["spec"]["replicas"], 3);
}

#[test]
fn update_records_changed_fields() {
    let pod = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "labels": {"app": "x"}},
        "spec": {"containers": [{"name": "c", "image": "busybox", "resources": {}}]}
    });
    let created = update_managed_fields(None, &pod, "kubectl-create", "Update", "", "Pod", T1);
    assert_eq!(
        created["metadata"]["managedFields"],
        json!([{
            "manager": "kubectl-create",
            "operation": "Update",
            "apiVersion": "v1",
            "time": T1,
            "fieldsType": "FieldsV1",
            "fieldsV1": {
                "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                "f:spec": {"f:containers": {"k:{\"name\":\"c\"}": {
                    ".": {},
                    "f:image": {},
                    "f:name": {},
                    "f:resources": {}
                }}}
            }
        }])
    );
    // A later label edit by another manager moves only that field.
    let mut edited = created.clone();
    edited["metadata"]["labels"]["app"] = json!("y");
    let out = update_managed_fields(
        Some(&created),
        &edited,
        "kubectl-label",
        "Update",
        "",
        "Pod",
        T2,
    );
    assert_eq!(
        entry(&out, "kubectl-label")["fieldsV1"],
        json!({"f:metadata": {"f:labels": {"f:app": {}}}})
    );
    assert_eq!(
        entry(&out, "kubectl-create")["fieldsV1"]["f:metadata"],
        json!({"f:labels": {}})
    );
    // An update that changes nothing leaves managedFields alone.
    let same = update_managed_fields(Some(&out), &out, "noop", "Update", "", "Pod", T3);
    assert_eq!(
        same["metadata"]["managedFields"],
        out["metadata"]["managedFields"]
    );
    // Status changes on the main resource are not tracked.
    let mut with_status = out.clone();
    with_status["status"] = json!({"phase": "Running"});
    let s = update_managed_fields(Some(&out), &with_status, "kubelet", "Update", "", "Pod", T3);
    assert!(entries(&s).iter().all(|e| e["manager"] != "kubelet"));
}

#[test]
fn status_subresource_update_is_tracked_separately() {
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {}});
    let mut with_status = pod.clone();
    with_status["status"] = json!({"phase": "Running"});
    let ctx = FieldManagerContext {
        manager: "kubelet",
        group: "",
        kind: "Pod",
        now: T1,
        subresource: "status",
    };
    let out = bosun_patch::update_with(&ctx, Some(&pod), with_status.clone(), "Update");
    assert_eq!(
        out["metadata"]["managedFields"],
        json!([{
            "manager": "kubelet",
            "operation": "Update",
            "apiVersion": "v1",
            "time": T1,
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:status": {"f:phase": {}}},
            "subresource": "status"
        }])
    );
    let applied = apply_with(&ctx, Some(&out), &with_status, false).unwrap();
    assert_eq!(entries(&applied).len(), 2);
}

#[test]
fn noop_apply_keeps_time() {
    let cfg = deployment(Some(1), "nginx", false);
    let v1 = apply(None, &cfg, "kubectl", false, T1).unwrap();
    let v2 = apply(Some(&v1), &cfg, "kubectl", false, T2).unwrap();
    assert_eq!(v2, v1);
}

#[test]
fn first_apply_to_untracked_object_keeps_its_fields() {
    let live = deployment(Some(2), "nginx", true);
    let out = apply(
        Some(&live),
        &deployment(Some(2), "nginx", false),
        "kubectl",
        false,
        T1,
    )
    .unwrap();
    // The tier label was never applied by kubectl, so it stays.
    assert_eq!(out["metadata"]["labels"]["tier"], "web");
    assert!(
        entry(&out, "before-first-apply")["fieldsV1"]["f:metadata"]["f:labels"]
            .get("f:tier")
            .is_some()
    );
}

#[test]
fn invalid_configs() {
    let mut dup = deployment(Some(1), "nginx", false);
    dup["spec"]["template"]["spec"]["containers"] = json!([{"name": "a"}, {"name": "a"}]);
    assert_eq!(
        apply(None, &dup, "kubectl", false, T1)
            .unwrap_err()
            .to_string(),
        "failed to create typed patch object (apps/v1, Kind=Deployment): \
         .spec.template.spec.containers: duplicate entries for key [name=\"a\"]"
    );
    let mut keyless = deployment(Some(1), "nginx", false);
    keyless["spec"]["template"]["spec"]["containers"] = json!([{"image": "x"}]);
    assert!(apply(None, &keyless, "kubectl", false, T1)
        .unwrap_err()
        .to_string()
        .contains("omits key field \"name\""));
    let mut with_mf = deployment(Some(1), "nginx", false);
    with_mf["metadata"]["managedFields"] = json!([{"manager": "x"}]);
    let err = apply(None, &with_mf, "kubectl", false, T1).unwrap_err();
    assert_eq!(err, ApplyError::ManagedFieldsInRequest);
    assert_eq!(err.http_status(), 400);
}

#[test]
fn sets_and_unknown_kinds() {
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "c", "finalizers": ["a/b"]}, "data": {"k": "v"}});
    let out = server_side_apply(None, &cm, "m", false, "", "ConfigMap", T1).unwrap();
    assert_eq!(
        entry(&out, "m")["fieldsV1"],
        json!({"f:data": {"f:k": {}}, "f:metadata": {"f:finalizers": {"v:\"a/b\"": {}}}})
    );
    let widget = json!({"apiVersion": "example.com/v1", "kind": "Widget",
        "metadata": {"name": "w"}, "spec": {"size": 1, "items": [1, 2]}});
    let out = server_side_apply(None, &widget, "m", false, "example.com", "Widget", T1).unwrap();
    assert_eq!(
        entry(&out, "m")["fieldsV1"],
        // metadata.name is never recorded; unknown kinds own map keys as
        // members, hence the "." on spec.
        json!({"f:spec": {".": {}, "f:items": {}, "f:size": {}}})
    );
}

#[test]
fn list_merge_keeps_other_managers_items() {
    let live = apply(None, &deployment(Some(1), "nginx", false), "a", false, T1).unwrap();
    let mut sidecar = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "nginx", "namespace": "default"},
        "spec": {"template": {"spec": {"containers": [{"name": "sidecar", "image": "envoy"}]}}}
    });
    let out = apply(Some(&live), &sidecar, "b", false, T2).unwrap();
    let names: Vec<&str> = out["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["nginx", "sidecar"]);
    // b drops its sidecar: only b's item goes.
    sidecar["spec"]["template"]["spec"]["containers"] = json!([]);
    let out = apply(Some(&out), &sidecar, "b", false, T3).unwrap();
    assert_eq!(
        out["spec"]["template"]["spec"]["containers"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn update_managers_are_capped_at_ten() {
    let mut obj =
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {}});
    for i in 0..12 {
        let mut next = obj.clone();
        next["data"][format!("k{i}")] = json!("v");
        let now = format!("2024-05-01T10:{i:02}:00Z");
        obj = update_managed_fields(
            Some(&obj),
            &next,
            &format!("m{i:02}"),
            "Update",
            "",
            "ConfigMap",
            &now,
        );
    }
    let list = entries(&obj);
    assert_eq!(list.len(), 10);
    let bucket = entry(&obj, "ancient-changes");
    assert_eq!(bucket["time"], "2024-05-01T10:02:00Z");
    assert_eq!(
        bucket["fieldsV1"],
        json!({"f:data": {"f:k0": {}, "f:k1": {}, "f:k2": {}}})
    );
    assert!(list
        .iter()
        .all(|e| e["manager"] != "m00" && e["manager"] != "m02"));
}
