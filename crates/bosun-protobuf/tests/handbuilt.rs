//! Hand-built protobuf bodies for each family of kinds, checked against the
//! JSON that Go's encoding/json writes for the same object (field order,
//! `omitempty`, zero values, special types).

#![allow(clippy::unwrap_used)]

mod common;

use bosun_protobuf::{decode_to_json, DecodeError};
use common::{envelope, Msg};
use serde_json::{json, Value};

const T2024: i64 = 1_704_164_645; // 2024-01-02T03:04:05Z

fn check(body: &[u8], want: Value) {
    let got = decode_to_json(body).unwrap_or_else(|e| panic!("decode failed: {e}"));
    assert_eq!(got, want);
    assert_eq!(
        serde_json::to_string(&got).unwrap(),
        serde_json::to_string(&want).unwrap(),
        "key order differs"
    );
}

fn meta(name: &str) -> Msg {
    Msg::new().str(1, name)
}

fn meta_ns(name: &str, namespace: &str) -> Msg {
    Msg::new().str(1, name).str(3, namespace)
}

#[test]
fn namespace_with_gogo_style_zero_fields() {
    // gogo writes every non-pointer field, zero or not.
    let metadata = Msg::new()
        .str(1, "team-a")
        .str(2, "")
        .str(3, "")
        .str(4, "")
        .str(5, "uid-1")
        .str(6, "42")
        .int(7, 0)
        .msg(8, Msg::time(T2024, 0))
        .str_entry(11, "env", "prod")
        .str_entry(11, "a", "b");
    let raw = Msg::new()
        .msg(1, metadata)
        .msg(2, Msg::new().str(1, "kubernetes").int(99, 7))
        .msg(3, Msg::new().str(1, "Active"));
    check(
        &envelope("v1", "Namespace", raw),
        json!({
            "kind": "Namespace",
            "apiVersion": "v1",
            "metadata": {
                "name": "team-a",
                "uid": "uid-1",
                "resourceVersion": "42",
                "creationTimestamp": "2024-01-02T03:04:05Z",
                "labels": {"a": "b", "env": "prod"}
            },
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"}
        }),
    );
}

#[test]
fn deployment_with_selector_ports_and_resources() {
    let labels = || Msg::new().str_entry(11, "app", "web");
    let container = Msg::new()
        .str(1, "web")
        .str(2, "nginx:1.27")
        .msg(6, Msg::new().str(1, "http").int(3, 80).str(4, "TCP"))
        .msg(
            8,
            Msg::new()
                .entry(1, "memory", Msg::quantity("128Mi"))
                .entry(1, "cpu", Msg::quantity("500m"))
                .entry(2, "cpu", Msg::quantity("250m")),
        );
    let template = Msg::new()
        .msg(1, labels())
        .msg(2, Msg::new().msg(2, container));
    let spec = Msg::new()
        .int(1, 3)
        .msg(2, Msg::new().str_entry(1, "app", "web"))
        .msg(3, template)
        .int(5, 0)
        .int(6, 0);
    let raw = Msg::new()
        .msg(1, meta_ns("web", "default").str_entry(11, "app", "web"))
        .msg(2, spec);
    check(
        &envelope("apps/v1", "Deployment", raw),
        json!({
            "kind": "Deployment",
            "apiVersion": "apps/v1",
            "metadata": {
                "name": "web",
                "namespace": "default",
                "creationTimestamp": null,
                "labels": {"app": "web"}
            },
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"creationTimestamp": null, "labels": {"app": "web"}},
                    "spec": {
                        "containers": [{
                            "name": "web",
                            "image": "nginx:1.27",
                            "ports": [{"name": "http", "containerPort": 80, "protocol": "TCP"}],
                            "resources": {
                                "limits": {"cpu": "500m", "memory": "128Mi"},
                                "requests": {"cpu": "250m"}
                            }
                        }]
                    }
                },
                "strategy": {},
                "revisionHistoryLimit": 0
            },
            "status": {}
        }),
    );
}

#[test]
fn configmap_with_binary_data_and_full_object_meta() {
    let owner = Msg::new()
        .str(5, "apps/v1")
        .str(1, "ReplicaSet")
        .str(3, "rs-1")
        .str(4, "u-2")
        .int(6, 1);
    let managed = Msg::new()
        .str(1, "kubectl")
        .str(2, "Update")
        .str(3, "v1")
        .msg(4, Msg::time(T2024, 0))
        .str(6, "FieldsV1")
        .msg(7, Msg::new().bytes(1, br#"{"f:data":{"f:a":{}}}"#));
    let metadata = meta_ns("cfg", "default")
        .int(7, 2)
        .msg(9, Msg::time(T2024 + 60, 0))
        .int(10, 30)
        .str_entry(12, "note", "x")
        .msg(13, owner)
        .str(14, "example.com/cleanup")
        .msg(17, managed);
    let raw = Msg::new()
        .msg(1, metadata)
        .str_entry(2, "b", "2")
        .str_entry(2, "a", "1")
        .msg(3, Msg::new().str(1, "bin").bytes(2, &[0, 1, 2, 255]))
        .int(4, 1);
    check(
        &envelope("v1", "ConfigMap", raw),
        json!({
            "kind": "ConfigMap",
            "apiVersion": "v1",
            "metadata": {
                "name": "cfg",
                "namespace": "default",
                "generation": 2,
                "creationTimestamp": null,
                "deletionTimestamp": "2024-01-02T03:05:05Z",
                "deletionGracePeriodSeconds": 30,
                "annotations": {"note": "x"},
                "ownerReferences": [{
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": "rs-1",
                    "uid": "u-2",
                    "controller": true
                }],
                "finalizers": ["example.com/cleanup"],
                "managedFields": [{
                    "manager": "kubectl",
                    "operation": "Update",
                    "apiVersion": "v1",
                    "time": "2024-01-02T03:04:05Z",
                    "fieldsType": "FieldsV1",
                    "fieldsV1": {"f:data": {"f:a": {}}}
                }]
            },
            "immutable": true,
            "data": {"a": "1", "b": "2"},
            "binaryData": {"bin": "AAEC/w=="}
        }),
    );
}

#[test]
fn secret_bytes_are_base64() {
    let raw = Msg::new()
        .msg(1, meta_ns("s", "ns"))
        .msg(2, Msg::new().str(1, "tls.crt").bytes(2, b"hello\n"))
        .msg(2, Msg::new().str(1, "empty").bytes(2, b""))
        .str(3, "Opaque");
    check(
        &envelope("v1", "Secret", raw),
        json!({
            "kind": "Secret",
            "apiVersion": "v1",
            "metadata": {"name": "s", "namespace": "ns", "creationTimestamp": null},
            "data": {"empty": "", "tls.crt": "aGVsbG8K"},
            "type": "Opaque"
        }),
    );
}

#[test]
fn service_target_ports_are_int_or_string() {
    let int_port = Msg::new().int(1, 0).int(2, 8080).str(3, "");
    let str_port = Msg::new().int(1, 1).int(2, 0).str(3, "https");
    let spec = Msg::new()
        .msg(
            1,
            Msg::new()
                .str(1, "http")
                .str(2, "TCP")
                .int(3, 80)
                .msg(4, int_port),
        )
        .msg(1, Msg::new().str(1, "https").int(3, 443).msg(4, str_port))
        .msg(1, Msg::new().int(3, 53))
        .str_entry(2, "app", "web")
        .str(3, "10.0.0.1")
        .str(4, "ClusterIP")
        .str(17, "SingleStack");
    let raw = Msg::new().msg(1, meta("web")).msg(2, spec);
    check(
        &envelope("v1", "Service", raw),
        json!({
            "kind": "Service",
            "apiVersion": "v1",
            "metadata": {"name": "web", "creationTimestamp": null},
            "spec": {
                "ports": [
                    {"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080},
                    {"name": "https", "port": 443, "targetPort": "https"},
                    {"port": 53, "targetPort": 0}
                ],
                "selector": {"app": "web"},
                "clusterIP": "10.0.0.1",
                "type": "ClusterIP",
                "ipFamilyPolicy": "SingleStack"
            },
            "status": {"loadBalancer": {}}
        }),
    );
}

#[test]
fn eviction_like_kubectl_drain() {
    // kubectl drain --grace-period=30 sends this object (as JSON).
    let raw = Msg::new()
        .msg(1, meta_ns("p1", "default"))
        .msg(2, Msg::new().int(1, 30));
    check(
        &envelope("policy/v1", "Eviction", raw),
        json!({
            "kind": "Eviction",
            "apiVersion": "policy/v1",
            "metadata": {"name": "p1", "namespace": "default", "creationTimestamp": null},
            "deleteOptions": {"gracePeriodSeconds": 30}
        }),
    );
    let raw = Msg::new().msg(1, meta_ns("p1", "default")).msg(
        2,
        Msg::new()
            .msg(2, Msg::new().str(1, "u1"))
            .str(5, "All")
            .int(6, 0),
    );
    check(
        &envelope("policy/v1", "Eviction", raw),
        json!({
            "kind": "Eviction",
            "apiVersion": "policy/v1",
            "metadata": {"name": "p1", "namespace": "default", "creationTimestamp": null},
            "deleteOptions": {
                "preconditions": {"uid": "u1"},
                "dryRun": ["All"],
                "ignoreStoreReadErrorWithClusterBreakingPotential": false
            }
        }),
    );
}

#[test]
fn delete_options_under_any_group_version() {
    let raw = || Msg::new().int(1, 0).int(3, 0).str(4, "Foreground");
    for api_version in ["v1", "apps/v1", "meta.k8s.io/v1"] {
        check(
            &envelope(api_version, "DeleteOptions", raw()),
            json!({
                "kind": "DeleteOptions",
                "apiVersion": api_version,
                "gracePeriodSeconds": 0,
                "orphanDependents": false,
                "propagationPolicy": "Foreground"
            }),
        );
    }
}

#[test]
fn scale_and_binding() {
    let raw = Msg::new()
        .msg(1, meta_ns("web", "default"))
        .msg(2, Msg::new().int(1, 5));
    check(
        &envelope("autoscaling/v1", "Scale", raw),
        json!({
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {"name": "web", "namespace": "default", "creationTimestamp": null},
            "spec": {"replicas": 5},
            "status": {"replicas": 0}
        }),
    );
    let raw = Msg::new()
        .msg(1, meta("p1"))
        .msg(2, Msg::new().str(1, "Node").str(3, "n1").str(5, "v1"));
    check(
        &envelope("v1", "Binding", raw),
        json!({
            "kind": "Binding",
            "apiVersion": "v1",
            "metadata": {"name": "p1", "creationTimestamp": null},
            "target": {"kind": "Node", "name": "n1", "apiVersion": "v1"}
        }),
    );
}

#[test]
fn pod_with_inline_probe_handler_volume_source_and_packed_ints() {
    let probe = Msg::new()
        .msg(
            1,
            Msg::new().msg(
                2,
                Msg::new()
                    .str(1, "/healthz")
                    .msg(2, Msg::new().int(2, 8080)),
            ),
        )
        .int(4, 10);
    let container = Msg::new().str(1, "app").str(2, "app:1").msg(10, probe);
    let volume = Msg::new().str(1, "cache").msg(
        2,
        Msg::new().msg(2, Msg::new().str(1, "Memory").msg(2, Msg::quantity("1Gi"))),
    );
    let config_volume = Msg::new().str(1, "cfg").msg(
        2,
        Msg::new().msg(
            19,
            Msg::new().msg(1, Msg::new().str(1, "settings")).int(3, 420),
        ),
    );
    let security = Msg::new().int(3, 1).packed(4, &[1000, 2000]).int(4, 3000);
    let spec = Msg::new()
        .msg(1, volume)
        .msg(1, config_volume)
        .msg(2, container)
        .msg(14, security);
    let raw = Msg::new().msg(1, meta("p")).msg(2, spec);
    check(
        &envelope("v1", "Pod", raw),
        json!({
            "kind": "Pod",
            "apiVersion": "v1",
            "metadata": {"name": "p", "creationTimestamp": null},
            "spec": {
                "volumes": [
                    {"name": "cache", "emptyDir": {"medium": "Memory", "sizeLimit": "1Gi"}},
                    {"name": "cfg", "configMap": {"name": "settings", "defaultMode": 420}}
                ],
                "containers": [{
                    "name": "app",
                    "image": "app:1",
                    "resources": {},
                    "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 10}
                }],
                "securityContext": {"runAsNonRoot": true, "supplementalGroups": [1000, 2000, 3000]}
            },
            "status": {}
        }),
    );
}

#[test]
fn nil_slices_without_omitempty_are_null() {
    let raw = Msg::new().msg(1, meta("p"));
    check(
        &envelope("v1", "Pod", raw),
        json!({
            "kind": "Pod",
            "apiVersion": "v1",
            "metadata": {"name": "p", "creationTimestamp": null},
            "spec": {"containers": null},
            "status": {}
        }),
    );
    let raw = Msg::new()
        .msg(1, meta("web-abc"))
        .str(4, "IPv4")
        .msg(
            2,
            Msg::new()
                .str(1, "10.0.0.5")
                .msg(2, Msg::new().int(1, 1))
                .str(6, "n1"),
        )
        .msg(2, Msg::new())
        .msg(3, Msg::new().str(1, "http").str(2, "TCP").int(3, 8080));
    check(
        &envelope("discovery.k8s.io/v1", "EndpointSlice", raw),
        json!({
            "kind": "EndpointSlice",
            "apiVersion": "discovery.k8s.io/v1",
            "metadata": {"name": "web-abc", "creationTimestamp": null},
            "addressType": "IPv4",
            "endpoints": [
                {"addresses": ["10.0.0.5"], "conditions": {"ready": true}, "nodeName": "n1"},
                {"addresses": null, "conditions": {}}
            ],
            "ports": [{"name": "http", "protocol": "TCP", "port": 8080}]
        }),
    );
}

#[test]
fn lease_and_events_use_micro_time() {
    let spec = Msg::new()
        .str(1, "node-1")
        .int(2, 40)
        .msg(3, Msg::new())
        .msg(4, Msg::time(T2024, 123_456_789));
    let raw = Msg::new()
        .msg(1, meta_ns("node-1", "kube-node-lease"))
        .msg(2, spec);
    check(
        &envelope("coordination.k8s.io/v1", "Lease", raw),
        json!({
            "kind": "Lease",
            "apiVersion": "coordination.k8s.io/v1",
            "metadata": {"name": "node-1", "namespace": "kube-node-lease", "creationTimestamp": null},
            "spec": {
                "holderIdentity": "node-1",
                "leaseDurationSeconds": 40,
                "acquireTime": null,
                "renewTime": "2024-01-02T03:04:05.123456Z"
            }
        }),
    );
    let raw = Msg::new()
        .msg(1, meta_ns("e1", "default"))
        .msg(2, Msg::time(T2024, 500_000_000))
        .str(4, "bosun")
        .str(7, "Started")
        .msg(8, Msg::new().str(1, "Pod").str(3, "p"))
        .str(10, "hi")
        .str(11, "Normal");
    check(
        &envelope("events.k8s.io/v1", "Event", raw),
        json!({
            "kind": "Event",
            "apiVersion": "events.k8s.io/v1",
            "metadata": {"name": "e1", "namespace": "default", "creationTimestamp": null},
            "eventTime": "2024-01-02T03:04:05.500000Z",
            "reportingController": "bosun",
            "reason": "Started",
            "regarding": {"kind": "Pod", "name": "p"},
            "note": "hi",
            "type": "Normal",
            "deprecatedSource": {},
            "deprecatedFirstTimestamp": null,
            "deprecatedLastTimestamp": null
        }),
    );
}

#[test]
fn raw_extension_and_time_maps() {
    let raw = Msg::new()
        .msg(1, meta("web-5d4f"))
        .msg(
            2,
            Msg::new().bytes(1, br#"{"spec":{"template":{"spec":{}}}}"#),
        )
        .int(3, 3);
    check(
        &envelope("apps/v1", "ControllerRevision", raw),
        json!({
            "kind": "ControllerRevision",
            "apiVersion": "apps/v1",
            "metadata": {"name": "web-5d4f", "creationTimestamp": null},
            "data": {"spec": {"template": {"spec": {}}}},
            "revision": 3
        }),
    );
    let raw = Msg::new().msg(1, meta("rev"));
    check(
        &envelope("apps/v1", "ControllerRevision", raw),
        json!({
            "kind": "ControllerRevision",
            "apiVersion": "apps/v1",
            "metadata": {"name": "rev", "creationTimestamp": null},
            "data": null,
            "revision": 0
        }),
    );
    let spec = Msg::new()
        .msg(3, Msg::new().int(1, 0).int(2, 1))
        .str(4, "AlwaysAllow");
    let status = Msg::new()
        .int(1, 4)
        .entry(2, "p2", Msg::time(T2024, 0))
        .entry(2, "p1", Msg::time(T2024 + 1, 0))
        .int(3, 1);
    let raw = Msg::new().msg(1, meta("pdb")).msg(2, spec).msg(3, status);
    check(
        &envelope("policy/v1", "PodDisruptionBudget", raw),
        json!({
            "kind": "PodDisruptionBudget",
            "apiVersion": "policy/v1",
            "metadata": {"name": "pdb", "creationTimestamp": null},
            "spec": {"maxUnavailable": 1, "unhealthyPodEvictionPolicy": "AlwaysAllow"},
            "status": {
                "observedGeneration": 4,
                "disruptedPods": {"p1": "2024-01-02T03:04:06Z", "p2": "2024-01-02T03:04:05Z"},
                "disruptionsAllowed": 1,
                "currentHealthy": 0,
                "desiredHealthy": 0,
                "expectedPods": 0
            }
        }),
    );
}

#[test]
fn negative_numbers_and_repeated_message_fields_merge() {
    let raw = Msg::new()
        .msg(1, meta("low"))
        .msg(1, Msg::new().str_entry(11, "tier", "batch"))
        .int(2, -5)
        .int(3, 1);
    check(
        &envelope("scheduling.k8s.io/v1", "PriorityClass", raw),
        json!({
            "kind": "PriorityClass",
            "apiVersion": "scheduling.k8s.io/v1",
            "metadata": {"name": "low", "creationTimestamp": null, "labels": {"tier": "batch"}},
            "value": -5,
            "globalDefault": true
        }),
    );
}

#[test]
fn malformed_objects_are_errors() {
    let cases: Vec<(Vec<u8>, DecodeError)> = vec![
        (
            envelope("v1", "Namespace", Msg::new().msg(1, Msg::new().int(1, 5))),
            DecodeError::WireTypeMismatch {
                message: "meta/v1.ObjectMeta".into(),
                field: "name".into(),
                number: 1,
                wire_type: 0,
            },
        ),
        (
            envelope(
                "v1",
                "Service",
                Msg::new().msg(
                    2,
                    Msg::new().msg(1, Msg::new().msg(4, Msg::new().int(1, 7))),
                ),
            ),
            DecodeError::InvalidIntOrString {
                field: "core/v1.ServicePort.targetPort".into(),
                value: 7,
            },
        ),
        (
            envelope(
                "v1",
                "ResourceQuota",
                Msg::new().msg(2, Msg::new().entry(1, "cpu", Msg::quantity(""))),
            ),
            DecodeError::InvalidQuantity("core/v1.ResourceQuotaSpec.hard".into()),
        ),
        (
            envelope("v1", "ConfigMap", Msg::new().bytes(1, &[0x0a, 0x09, b'x'])),
            DecodeError::Truncated,
        ),
        (
            envelope(
                "apps/v1",
                "Deployment",
                Msg::new().msg(2, Msg::new().packed(1, &[3])),
            ),
            DecodeError::WireTypeMismatch {
                message: "apps/v1.DeploymentSpec".into(),
                field: "replicas".into(),
                number: 1,
                wire_type: 2,
            },
        ),
    ];
    for (body, want) in cases {
        assert_eq!(decode_to_json(&body).unwrap_err(), want);
    }
    let raw = Msg::new().msg(2, Msg::new().bytes(1, b"\x08\x01"));
    assert!(matches!(
        decode_to_json(&envelope("apps/v1", "ControllerRevision", raw)),
        Err(DecodeError::InvalidEmbeddedJson { .. })
    ));
}
