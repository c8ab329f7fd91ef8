//! Table-driven strategic merge patch cases, modelled on apimachinery's
//! documented behaviour and on patches kubectl's client-side apply sends.

use bosun_patch::{apply_strategic_merge_patch, PatchError};
use serde_json::{json, Value};

struct Case {
    name: &'static str,
    group: &'static str,
    kind: &'static str,
    original: Value,
    patch: Value,
    expected: Value,
}

fn pod_containers(list: Value) -> Value {
    json!({"spec": {"containers": list}})
}

fn finalizers(list: Value) -> Value {
    json!({"metadata": {"finalizers": list}})
}

fn run(cases: Vec<Case>) {
    for c in cases {
        let got = apply_strategic_merge_patch(&c.original, &c.patch, c.group, c.kind)
            .unwrap_or_else(|e| panic!("{}: unexpected error {e}", c.name));
        assert_eq!(got, c.expected, "case: {}", c.name);
    }
}

fn pod(name: &'static str, original: Value, patch: Value, expected: Value) -> Case {
    Case {
        name,
        group: "",
        kind: "Pod",
        original,
        patch,
        expected,
    }
}

#[test]
fn map_semantics() {
    run(vec![
        pod(
            "null deletes a key, other keys merge",
            json!({"metadata": {"labels": {"a": "1", "b": "2"}}}),
            json!({"metadata": {"labels": {"a": null, "c": "3"}}}),
            json!({"metadata": {"labels": {"b": "2", "c": "3"}}}),
        ),
        pod(
            "unmatched null is dropped",
            json!({"metadata": {"name": "x"}}),
            json!({"metadata": {"labels": {"a": null, "b": "1"}}, "spec": null}),
            json!({"metadata": {"name": "x", "labels": {"b": "1"}}}),
        ),
        pod(
            "$patch: delete on a map leaves it empty",
            json!({"metadata": {"labels": {"a": "1"}}}),
            json!({"metadata": {"labels": {"$patch": "delete"}}}),
            json!({"metadata": {"labels": {}}}),
        ),
        pod(
            "$patch: replace on a map",
            json!({"metadata": {"labels": {"a": "1", "b": "2"}}}),
            json!({"metadata": {"labels": {"c": "3", "$patch": "replace"}}}),
            json!({"metadata": {"labels": {"c": "3"}}}),
        ),
        pod(
            "$patch: replace at the top level",
            json!({"name": 1, "value": 1}),
            json!({"$patch": "replace"}),
            json!({}),
        ),
        pod(
            "new subtree keeps no directives",
            json!({"spec": {}}),
            json!({"spec": {"securityContext": {"runAsUser": 1, "x": null, "seLinuxOptions": {"$patch": "delete"}}}}),
            json!({"spec": {"securityContext": {"runAsUser": 1}}}),
        ),
        pod(
            "type change replaces",
            json!({"spec": {"nodeSelector": "weird"}}),
            json!({"spec": {"nodeSelector": {"a": "b"}}}),
            json!({"spec": {"nodeSelector": {"a": "b"}}}),
        ),
    ]);
}

#[test]
fn merging_lists_by_key() {
    run(vec![
        pod(
            "merge container by name",
            pod_containers(json!([{"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}])),
            pod_containers(json!([{"name": "b", "image": "b:2"}])),
            pod_containers(json!([{"name": "a", "image": "a:1"}, {"name": "b", "image": "b:2"}])),
        ),
        pod(
            "append new container (patch items first when not on server)",
            pod_containers(json!([{"name": "a"}])),
            pod_containers(json!([{"name": "b", "image": "b"}])),
            pod_containers(json!([{"name": "b", "image": "b"}, {"name": "a"}])),
        ),
        pod(
            "preserve the order from the patch",
            pod_containers(json!([{"name": "1"}, {"name": "2", "value": "b"}, {"name": "3"}])),
            pod_containers(json!([
                {"name": "3", "value": "c"},
                {"name": "1", "value": "a"},
                {"name": "2", "other": "x"}
            ])),
            pod_containers(json!([
                {"name": "3", "value": "c"},
                {"name": "1", "value": "a"},
                {"name": "2", "value": "b", "other": "x"}
            ])),
        ),
        pod(
            "server-only items keep their place",
            pod_containers(json!([{"name": "1"}, {"name": "2", "value": "b"}, {"name": "3"}])),
            pod_containers(json!([{"name": "3", "value": "c"}, {"name": "1", "value": "a"}])),
            pod_containers(json!([
                {"name": "2", "value": "b"},
                {"name": "3", "value": "c"},
                {"name": "1", "value": "a"}
            ])),
        ),
        pod(
            "$patch: delete removes a list item",
            pod_containers(json!([{"name": "a"}, {"name": "b"}, {"name": "c"}])),
            pod_containers(json!([{"name": "b", "$patch": "delete"}])),
            pod_containers(json!([{"name": "a"}, {"name": "c"}])),
        ),
        pod(
            "$patch: delete removes all duplicates",
            pod_containers(json!([
                {"name": "1"}, {"name": "1"}, {"name": "2", "value": "a"}, {"name": "3"}, {"name": "3"}
            ])),
            pod_containers(
                json!([{"name": "1", "$patch": "delete"}, {"name": "3", "$patch": "delete"}]),
            ),
            pod_containers(json!([{"name": "2", "value": "a"}])),
        ),
        pod(
            "$patch: replace in a list",
            pod_containers(json!([{"name": "1"}, {"name": "2"}])),
            pod_containers(json!([{"name": "3"}, {"$patch": "replace"}])),
            pod_containers(json!([{"name": "3"}])),
        ),
        pod(
            "$patch: replace alone empties the list",
            pod_containers(json!([{"name": "1"}, {"name": "2"}])),
            pod_containers(json!([{"$patch": "replace"}])),
            pod_containers(json!([])),
        ),
        pod(
            "nested merge: env by name, ports by containerPort",
            pod_containers(json!([{
                "name": "c",
                "env": [{"name": "A", "value": "1"}],
                "ports": [{"containerPort": 80, "name": "http"}]
            }])),
            pod_containers(json!([{
                "name": "c",
                "env": [{"name": "A", "value": "2"}],
                "ports": [{"containerPort": 80, "protocol": "TCP"}]
            }])),
            pod_containers(json!([{
                "name": "c",
                "env": [{"name": "A", "value": "2"}],
                "ports": [{"containerPort": 80, "name": "http", "protocol": "TCP"}]
            }])),
        ),
        pod(
            "volumes merge by name",
            json!({"spec": {"volumes": [{"name": "a", "emptyDir": {}}, {"name": "b", "emptyDir": {}}]}}),
            json!({"spec": {"volumes": [{"name": "b", "$retainKeys": ["configMap", "name"], "configMap": {"name": "cm"}}]}}),
            json!({"spec": {"volumes": [{"name": "a", "emptyDir": {}}, {"name": "b", "configMap": {"name": "cm"}}]}}),
        ),
        pod(
            "non-merging list is replaced",
            json!({"spec": {"tolerations": [{"key": "a"}, {"key": "b"}]}}),
            json!({"spec": {"tolerations": [{"key": "c"}]}}),
            json!({"spec": {"tolerations": [{"key": "c"}]}}),
        ),
        pod(
            "pod conditions merge by type",
            json!({"status": {"conditions": [{"type": "Ready", "status": "False"}, {"type": "Initialized", "status": "True"}]}}),
            json!({"status": {"conditions": [{"type": "Ready", "status": "True"}]}}),
            json!({"status": {"conditions": [{"type": "Ready", "status": "True"}, {"type": "Initialized", "status": "True"}]}}),
        ),
        pod(
            "ownerReferences merge by uid",
            json!({"metadata": {"ownerReferences": [{"uid": "1", "name": "a"}]}}),
            json!({"metadata": {"ownerReferences": [{"uid": "2", "name": "b"}]}}),
            json!({"metadata": {"ownerReferences": [{"uid": "2", "name": "b"}, {"uid": "1", "name": "a"}]}}),
        ),
        Case {
            name: "service ports merge by port",
            group: "",
            kind: "Service",
            original: json!({"spec": {"ports": [{"port": 80, "targetPort": 8080}, {"port": 443}]}}),
            patch: json!({"spec": {"ports": [{"port": 80, "targetPort": 9090}]}}),
            expected: json!({"spec": {"ports": [{"port": 80, "targetPort": 9090}, {"port": 443}]}}),
        },
        Case {
            name: "unknown kinds replace lists",
            group: "example.com",
            kind: "Widget",
            original: json!({"spec": {"containers": [{"name": "a"}], "m": {"x": 1}}}),
            patch: json!({"spec": {"containers": [{"name": "b"}], "m": {"y": 2}}}),
            expected: json!({"spec": {"containers": [{"name": "b"}], "m": {"x": 1, "y": 2}}}),
        },
    ]);
}

#[test]
fn primitive_lists() {
    run(vec![
        pod(
            "unique scalars when merging lists",
            finalizers(json!(["1", "2"])),
            finalizers(json!(["2", "3"])),
            finalizers(json!(["1", "2", "3"])),
        ),
        pod(
            "patch order is preserved in a merging scalar list",
            finalizers(json!(["1", "2", "3"])),
            finalizers(json!(["3", "1"])),
            finalizers(json!(["2", "3", "1"])),
        ),
        pod(
            "$deleteFromPrimitiveList/finalizers",
            finalizers(json!(["a", "b", "c"])),
            json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["b"]}}),
            finalizers(json!(["a", "c"])),
        ),
        pod(
            "$deleteFromPrimitiveList with $setElementOrder (kubectl form)",
            finalizers(json!(["a", "b", "c"])),
            json!({"metadata": {
                "$setElementOrder/finalizers": ["c", "a"],
                "$deleteFromPrimitiveList/finalizers": ["b"]
            }}),
            finalizers(json!(["c", "a"])),
        ),
        pod(
            "$deleteFromPrimitiveList on a missing list is a no-op",
            json!({"metadata": {"name": "x"}}),
            json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["b"]}}),
            json!({"metadata": {"name": "x"}}),
        ),
        pod(
            "non-merging scalar list is replaced",
            json!({"spec": {"containers": [{"name": "c", "args": ["a", "b"]}]}}),
            json!({"spec": {"containers": [{"name": "c", "args": ["c"]}]}}),
            json!({"spec": {"containers": [{"name": "c", "args": ["c"]}]}}),
        ),
        Case {
            name: "node podCIDRs union",
            group: "",
            kind: "Node",
            original: json!({"spec": {"podCIDRs": ["10.0.0.0/24"]}}),
            patch: json!({"spec": {"podCIDRs": ["10.0.0.0/24", "fd00::/64"]}}),
            expected: json!({"spec": {"podCIDRs": ["10.0.0.0/24", "fd00::/64"]}}),
        },
    ]);
}

#[test]
fn set_element_order() {
    run(vec![
        pod(
            "reorder only",
            pod_containers(json!([{"name": "a", "image": "a"}, {"name": "b", "image": "b"}])),
            json!({"spec": {"$setElementOrder/containers": [{"name": "b"}, {"name": "a"}]}}),
            pod_containers(json!([{"name": "b", "image": "b"}, {"name": "a", "image": "a"}])),
        ),
        pod(
            "order list names an item missing from the list",
            pod_containers(json!([{"name": "1"}, {"name": "3"}])),
            json!({"spec": {
                "$setElementOrder/containers": [{"name": "3"}, {"name": "2"}, {"name": "1"}],
                "containers": [{"name": "3", "value": "3"}, {"name": "1", "value": "1"}]
            }}),
            pod_containers(json!([{"name": "3", "value": "3"}, {"name": "1", "value": "1"}])),
        ),
        pod(
            "order for a scalar list",
            finalizers(json!(["1", "3"])),
            json!({"metadata": {"$setElementOrder/finalizers": ["3", "2", "1"]}}),
            finalizers(json!(["3", "1"])),
        ),
        pod(
            "add an item in the middle",
            pod_containers(json!([{"name": "a"}, {"name": "c"}])),
            json!({"spec": {
                "$setElementOrder/containers": [{"name": "a"}, {"name": "b"}, {"name": "c"}],
                "containers": [{"name": "b", "image": "b"}]
            }}),
            pod_containers(json!([{"name": "a"}, {"name": "b", "image": "b"}, {"name": "c"}])),
        ),
        pod(
            "list missing from original is created",
            json!({"spec": {}}),
            json!({"spec": {
                "$setElementOrder/containers": [{"name": "a"}],
                "containers": [{"name": "a", "image": "a"}]
            }}),
            pod_containers(json!([{"name": "a", "image": "a"}])),
        ),
    ]);
}

#[test]
fn kubectl_three_way_patch_removes_env_and_changes_image() {
    let live = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "annotations": {"deployment.kubernetes.io/revision": "1"}},
        "spec": {
            "replicas": 2,
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{
                    "name": "web",
                    "image": "nginx:1.25",
                    "imagePullPolicy": "IfNotPresent",
                    "env": [
                        {"name": "A", "value": "a"},
                        {"name": "B", "value": "b"},
                        {"name": "INJECTED", "value": "server"}
                    ]
                }]}
            }
        }
    });
    // What kubectl apply sends after dropping B and bumping the image.
    let patch = json!({
        "metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}},
        "spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "web"}],
            "containers": [{
                "$setElementOrder/env": [{"name": "A"}],
                "env": [{"$patch": "delete", "name": "B"}],
                "image": "nginx:1.26",
                "name": "web"
            }]
        }}}
    });
    let got = apply_strategic_merge_patch(&live, &patch, "apps", "Deployment").unwrap();
    let container = &got["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["image"], "nginx:1.26");
    assert_eq!(container["imagePullPolicy"], "IfNotPresent");
    assert_eq!(
        container["env"],
        json!([{"name": "A", "value": "a"}, {"name": "INJECTED", "value": "server"}])
    );
    assert_eq!(got["spec"]["replicas"], 2);
    assert_eq!(
        got["metadata"]["annotations"],
        json!({
            "deployment.kubernetes.io/revision": "1",
            "kubectl.kubernetes.io/last-applied-configuration": "{}"
        })
    );
}

#[test]
fn retain_keys_switches_deployment_strategy() {
    let live = json!({"spec": {"strategy": {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}
    }}});
    for patch in [
        json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate", "rollingUpdate": null}}}),
        json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}),
    ] {
        let got = apply_strategic_merge_patch(&live, &patch, "apps", "Deployment").unwrap();
        assert_eq!(got, json!({"spec": {"strategy": {"type": "Recreate"}}}));
    }
    // Without the directive the old keys stay.
    let got = apply_strategic_merge_patch(
        &live,
        &json!({"spec": {"strategy": {"type": "Recreate"}}}),
        "apps",
        "Deployment",
    )
    .unwrap();
    assert_eq!(got["spec"]["strategy"]["rollingUpdate"]["maxSurge"], "25%");
}

#[test]
fn errors() {
    let cases: Vec<(&str, Value, Value, PatchError)> = vec![
        (
            "invalid $patch on a map",
            json!({"metadata": {"labels": {"a": "1"}}}),
            json!({"metadata": {"labels": {"$patch": "explode"}}}),
            PatchError::BadPatchType {
                patch_type: "explode".into(),
                map: "map[$patch:explode]".into(),
            },
        ),
        (
            "invalid $patch in a list",
            pod_containers(json!([{"name": "a"}])),
            pod_containers(json!([{"name": "a", "$patch": "bogus"}])),
            PatchError::BadPatchType {
                patch_type: "bogus".into(),
                map: "map[$patch:bogus name:a]".into(),
            },
        ),
        (
            "$patch: merge in a list",
            pod_containers(json!([{"name": "a"}])),
            pod_containers(json!([{"$patch": "merge"}])),
            PatchError::MergeInList,
        ),
        (
            "missing merge key",
            pod_containers(json!([{"name": "a"}])),
            pod_containers(json!([{"image": "x"}])),
            PatchError::NoMergeKey {
                map: "map[image:x]".into(),
                key: "name".into(),
            },
        ),
        (
            "delete directive without merge key",
            pod_containers(json!([{"name": "a"}])),
            pod_containers(json!([{"$patch": "delete"}])),
            PatchError::NoMergeKey {
                map: "map[$patch:delete]".into(),
                key: "name".into(),
            },
        ),
        (
            "retainKeys not covering a patched key",
            json!({"spec": {"strategy": {"type": "A"}}}),
            json!({"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {}}}}),
            PatchError::BadRetainKeys,
        ),
        (
            "retainKeys not a list",
            json!({"spec": {"strategy": {"type": "A"}}}),
            json!({"spec": {"strategy": {"$retainKeys": "type"}}}),
            PatchError::BadRetainKeys,
        ),
        (
            "setElementOrder out of order",
            pod_containers(json!([{"name": "1"}, {"name": "3"}, {"name": "2"}])),
            json!({"spec": {
                "$setElementOrder/containers": [{"name": "1"}, {"name": "2"}, {"name": "3"}],
                "containers": [{"name": "3", "value": "3"}, {"name": "1", "value": "1"}]
            }}),
            PatchError::SetElementOrderMismatch {
                patch: "[map[name:3 value:3] map[name:1 value:1]]".into(),
                order: "[map[name:1] map[name:2] map[name:3]]".into(),
            },
        ),
        (
            "malformed deleteFromPrimitiveList key",
            finalizers(json!(["a"])),
            json!({"metadata": {"$deleteFromPrimitiveListfinalizers": ["a"]}}),
            PatchError::BadPrimitiveList,
        ),
        (
            "lists of lists",
            finalizers(json!(["a"])),
            finalizers(json!([["b"]])),
            PatchError::ListOfLists,
        ),
        (
            "patch not an object",
            json!({}),
            json!([1]),
            PatchError::BadJsonDoc,
        ),
    ];
    for (name, original, patch, want) in cases {
        // Strategy cases need the Deployment schema, the rest the Pod one.
        let (group, kind) = if name.starts_with("retainKeys") {
            ("apps", "Deployment")
        } else {
            ("", "Pod")
        };
        match apply_strategic_merge_patch(&original, &patch, group, kind) {
            Err(e) => assert_eq!(e, want, "{name}"),
            Ok(v) => panic!("{name}: expected error, got {v}"),
        }
    }
    assert!(PatchError::SetElementOrderMismatch {
        patch: String::new(),
        order: String::new()
    }
    .to_string()
    .contains("doesn't match $setElementOrder list"));
    assert_eq!(PatchError::BadRetainKeys.http_status(), 400);
    assert_eq!(PatchError::ListOfLists.http_status(), 422);
}

#[test]
fn merge_keys_across_kinds() {
    let template = |spec: Value| json!({"spec": {"template": {"spec": spec}}});
    let cron =
        |spec: Value| json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": spec}}}}});
    let mut cases = Vec::new();
    for (group, kind) in [
        ("apps", "Deployment"),
        ("apps", "ReplicaSet"),
        ("apps", "StatefulSet"),
        ("apps", "DaemonSet"),
        ("batch", "Job"),
    ] {
        cases.push(Case {
            name: kind,
            group,
            kind,
            original: template(json!({"containers": [{"name": "a", "volumeMounts": [{"mountPath": "/x", "name": "v"}]}]})),
            patch: template(json!({"containers": [{"name": "a", "volumeMounts": [{"mountPath": "/x", "readOnly": true}]}]})),
            expected: template(json!({"containers": [{"name": "a", "volumeMounts": [{"mountPath": "/x", "name": "v", "readOnly": true}]}]})),
        });
    }
    cases.push(Case {
        name: "cronjob job template",
        group: "batch",
        kind: "CronJob",
        original: cron(json!({"initContainers": [{"name": "i", "image": "a"}], "imagePullSecrets": [{"name": "s1"}]})),
        patch: cron(json!({"initContainers": [{"name": "i", "image": "b"}], "imagePullSecrets": [{"name": "s2"}]})),
        expected: cron(json!({"initContainers": [{"name": "i", "image": "b"}], "imagePullSecrets": [{"name": "s2"}, {"name": "s1"}]})),
    });
    cases.push(pod(
        "hostAliases by ip, topologySpreadConstraints by topologyKey",
        json!({"spec": {
            "hostAliases": [{"ip": "1.2.3.4", "hostnames": ["a"]}],
            "topologySpreadConstraints": [{"topologyKey": "zone", "maxSkew": 1}]
        }}),
        json!({"spec": {
            "hostAliases": [{"ip": "1.2.3.4", "hostnames": ["b"]}],
            "topologySpreadConstraints": [{"topologyKey": "zone", "maxSkew": 2}]
        }}),
        json!({"spec": {
            "hostAliases": [{"ip": "1.2.3.4", "hostnames": ["b"]}],
            "topologySpreadConstraints": [{"topologyKey": "zone", "maxSkew": 2}]
        }}),
    ));
    cases.push(pod(
        "kubectl removing a container",
        pod_containers(json!([{"name": "a"}, {"name": "b"}])),
        json!({"spec": {
            "$setElementOrder/containers": [{"name": "a"}],
            "containers": [{"$patch": "delete", "name": "b"}]
        }}),
        pod_containers(json!([{"name": "a"}])),
    ));
    cases.push(pod(
        "volumeDevices by devicePath, env valueFrom merges as a map",
        pod_containers(json!([{"name": "a",
            "volumeDevices": [{"devicePath": "/dev/a", "name": "x"}],
            "env": [{"name": "E", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]}])),
        pod_containers(json!([{"name": "a",
            "volumeDevices": [{"devicePath": "/dev/a", "name": "y"}],
            "env": [{"name": "E", "valueFrom": {"fieldRef": {"apiVersion": "v1"}}}]}])),
        pod_containers(json!([{"name": "a",
            "volumeDevices": [{"devicePath": "/dev/a", "name": "y"}],
            "env": [{"name": "E", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name", "apiVersion": "v1"}}}]}])),
    ));
    cases.push(Case {
        name: "node conditions and addresses by type",
        group: "",
        kind: "Node",
        original: json!({"status": {"addresses": [{"type": "InternalIP", "address": "10.0.0.1"}]}}),
        patch: json!({"status": {"addresses": [{"type": "Hostname", "address": "n1"}]}}),
        expected: json!({"status": {"addresses": [{"type": "Hostname", "address": "n1"}, {"type": "InternalIP", "address": "10.0.0.1"}]}}),
    });
    cases.push(Case {
        name: "serviceaccount secrets by name",
        group: "",
        kind: "ServiceAccount",
        original: json!({"secrets": [{"name": "a"}]}),
        patch: json!({"secrets": [{"name": "b"}]}),
        expected: json!({"secrets": [{"name": "b"}, {"name": "a"}]}),
    });
    run(cases);
}
