//! Service, config, storage and small-kind validation cases.

use super::*;
use crate::defaults::apply_defaults;
use serde_json::json;

#[test]
fn service_cases() {
    let svc = json!({"metadata": {"name": "web", "namespace": "d"},
        "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80}, {"name": "https", "port": 443, "targetPort": "https"}]}});
    run(
        "",
        "Service",
        svc.clone(),
        &[
            (
                "/metadata/name",
                Some(json!("1web")),
                "metadata.name",
                "FieldValueInvalid",
            ),
            (
                "/spec/ports",
                Some(json!([])),
                "spec.ports",
                "FieldValueRequired",
            ),
            (
                "/spec/ports/0/name",
                None,
                "spec.ports[0].name",
                "FieldValueRequired",
            ),
            (
                "/spec/ports/1/name",
                Some(json!("http")),
                "spec.ports[1].name",
                "FieldValueDuplicate",
            ),
            (
                "/spec/ports/0/port",
                Some(json!(0)),
                "spec.ports[0].port",
                "FieldValueInvalid",
            ),
            (
                "/spec/ports/1/port",
                Some(json!(80)),
                "spec.ports[1]",
                "FieldValueDuplicate",
            ),
            (
                "/spec/ports/0/targetPort",
                Some(json!("Bad_Name")),
                "spec.ports[0].targetPort",
                "FieldValueInvalid",
            ),
            (
                "/spec/ports/0/protocol",
                Some(json!("ICMP")),
                "spec.ports[0].protocol",
                "FieldValueNotSupported",
            ),
            (
                "/spec/type",
                Some(json!("Magic")),
                "spec.type",
                "FieldValueNotSupported",
            ),
            (
                "/spec/ports/0/nodePort",
                Some(json!(30000)),
                "spec.ports[0].nodePort",
                "FieldValueForbidden",
            ),
            (
                "/spec/sessionAffinity",
                Some(json!("Sticky")),
                "spec.sessionAffinity",
                "FieldValueNotSupported",
            ),
            (
                "/spec/selector",
                Some(json!({"app": "no good"})),
                "spec.selector",
                "FieldValueInvalid",
            ),
        ],
    );
    let headless =
        json!({"metadata": {"name": "h", "namespace": "d"}, "spec": {"clusterIP": "None"}});
    run("", "Service", headless, &[]);
    let ext = json!({"metadata": {"name": "e", "namespace": "d"}, "spec": {"type": "ExternalName", "externalName": "example.com."}});
    run(
        "",
        "Service",
        ext,
        &[(
            "/spec/externalName",
            None,
            "spec.externalName",
            "FieldValueRequired",
        )],
    );
    let mut old = svc;
    apply_defaults("", "Service", &mut old);
    put(&mut old, "/spec/clusterIP", Some(json!("10.0.0.5")));
    let mut new = old.clone();
    put(&mut new, "/spec/clusterIP", Some(json!("10.0.0.6")));
    put(&mut new, "/spec/clusterIPs", Some(json!(["10.0.0.6"])));
    let errs = validate_update("", "Service", &new, &old);
    assert_eq!(
        errs[0].to_string(),
        "spec.clusterIPs[0]: Invalid value: [\"10.0.0.6\"]: may not change once set"
    );
}

#[test]
fn config_map_and_secret_cases() {
    let cm = json!({"metadata": {"name": "cfg", "namespace": "d"}, "data": {"a.b": "x"}});
    run(
        "",
        "ConfigMap",
        cm.clone(),
        &[
            (
                "/data/bad key",
                Some(json!("x")),
                "data[bad key]",
                "FieldValueInvalid",
            ),
            (
                "/data/..x",
                Some(json!("x")),
                "data[..x]",
                "FieldValueInvalid",
            ),
            (
                "/data/big",
                Some(json!("x".repeat(1024 * 1024 + 1))),
                "",
                "FieldValueTooLong",
            ),
            (
                "/binaryData",
                Some(json!({"a.b": "eA=="})),
                "data[a.b]",
                "FieldValueInvalid",
            ),
        ],
    );
    let mut old = cm;
    put(&mut old, "/immutable", Some(json!(true)));
    let mut new = old.clone();
    put(&mut new, "/data/a.b", Some(json!("y")));
    let errs = validate_update("", "ConfigMap", &new, &old);
    assert_eq!(
        errs[0].to_string(),
        "data: Forbidden: field is immutable when `immutable` is set"
    );

    let secret = json!({"metadata": {"name": "s", "namespace": "d"}, "data": {"k": "dmFsdWU="}});
    run(
        "",
        "Secret",
        secret.clone(),
        &[
            (
                "/data/k",
                Some(json!("not base64!")),
                "data[k]",
                "FieldValueInvalid",
            ),
            (
                "/type",
                Some(json!("kubernetes.io/tls")),
                "data[tls.crt]",
                "FieldValueRequired",
            ),
        ],
    );
    let mut old = secret;
    apply_defaults("", "Secret", &mut old);
    let mut new = old.clone();
    put(&mut new, "/type", Some(json!("Other")));
    let errs = validate_update("", "Secret", &new, &old);
    assert!(errs
        .iter()
        .any(|e| e.field == "type" && e.message().ends_with("field is immutable")));
}

#[test]
fn namespace_node_pv_pvc_cases() {
    run(
        "",
        "Namespace",
        json!({"metadata": {"name": "team-a"}}),
        &[
            (
                "/metadata/name",
                Some(json!("team.a")),
                "metadata.name",
                "FieldValueInvalid",
            ),
            (
                "/metadata/namespace",
                Some(json!("x")),
                "metadata.namespace",
                "FieldValueForbidden",
            ),
        ],
    );
    let mut ns = json!({"metadata": {"name": "Team"}});
    apply_defaults("", "Namespace", &mut ns);
    let errs = validate_create("", "Namespace", &ns);
    assert!(errs[0]
        .message()
        .contains("a lowercase RFC 1123 label must consist of"));
    run(
        "",
        "Node",
        json!({"metadata": {"name": "node-1"}, "spec": {"podCIDR": "10.244.0.0/24"}}),
        &[
            (
                "/spec/podCIDR",
                Some(json!("10.244.0.0")),
                "spec.podCIDR",
                "FieldValueInvalid",
            ),
            (
                "/spec/taints",
                Some(json!([{"key": "k", "effect": "Never"}])),
                "spec.taints[0].effect",
                "FieldValueNotSupported",
            ),
        ],
    );
    let pvc = json!({"metadata": {"name": "c", "namespace": "d"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}});
    run(
        "",
        "PersistentVolumeClaim",
        pvc.clone(),
        &[
            (
                "/spec/accessModes",
                None,
                "spec.accessModes",
                "FieldValueRequired",
            ),
            (
                "/spec/accessModes",
                Some(json!(["ReadSometimes"])),
                "spec.accessModes",
                "FieldValueNotSupported",
            ),
            (
                "/spec/resources",
                Some(json!({})),
                "spec.resources[storage]",
                "FieldValueRequired",
            ),
            (
                "/spec/resources/requests/storage",
                Some(json!("0")),
                "spec.resources[storage]",
                "FieldValueInvalid",
            ),
        ],
    );
    let mut old = pvc;
    apply_defaults("", "PersistentVolumeClaim", &mut old);
    let mut new = old.clone();
    put(
        &mut new,
        "/spec/accessModes",
        Some(json!(["ReadWriteMany"])),
    );
    assert_eq!(
        validate_update("", "PersistentVolumeClaim", &new, &old)[0].field,
        "spec"
    );
    run(
        "",
        "PersistentVolume",
        json!({"metadata": {"name": "pv1"},
        "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "hostPath": {"path": "/tmp"}}}),
        &[
            ("/spec/hostPath", None, "spec", "FieldValueRequired"),
            (
                "/spec/persistentVolumeReclaimPolicy",
                Some(json!("Keep")),
                "spec.persistentVolumeReclaimPolicy",
                "FieldValueNotSupported",
            ),
        ],
    );
}

#[test]
fn small_kinds_cases() {
    run(
        "coordination.k8s.io",
        "Lease",
        json!({"metadata": {"name": "l", "namespace": "d"}, "spec": {"leaseDurationSeconds": 15}}),
        &[
            (
                "/spec/leaseDurationSeconds",
                Some(json!(0)),
                "spec.leaseDurationSeconds",
                "FieldValueInvalid",
            ),
            (
                "/spec/leaseTransitions",
                Some(json!(-1)),
                "spec.leaseTransitions",
                "FieldValueInvalid",
            ),
        ],
    );
    let es = json!({"metadata": {"name": "web-abc", "namespace": "d"}, "addressType": "IPv4",
        "endpoints": [{"addresses": ["10.0.0.1"]}], "ports": [{"name": "http", "port": 80}]});
    run(
        "discovery.k8s.io",
        "EndpointSlice",
        es.clone(),
        &[
            ("/addressType", None, "addressType", "FieldValueRequired"),
            (
                "/addressType",
                Some(json!("IPv5")),
                "addressType",
                "FieldValueNotSupported",
            ),
            (
                "/endpoints/0/addresses",
                Some(json!([])),
                "endpoints[0].addresses",
                "FieldValueRequired",
            ),
            (
                "/endpoints/0/addresses/0",
                Some(json!("10.0.0")),
                "endpoints[0].addresses[0]",
                "FieldValueInvalid",
            ),
        ],
    );
    let mut new = es.clone();
    put(&mut new, "/addressType", Some(json!("IPv6")));
    put(&mut new, "/endpoints/0/addresses/0", Some(json!("::1")));
    assert_eq!(
        validate_update("discovery.k8s.io", "EndpointSlice", &new, &es)[0].field,
        "addressType"
    );
    run(
        "scheduling.k8s.io",
        "PriorityClass",
        json!({"metadata": {"name": "high"}, "value": 1000}),
        &[
            (
                "/value",
                Some(json!(2_000_000_000)),
                "value",
                "FieldValueForbidden",
            ),
            (
                "/metadata/name",
                Some(json!("system-foo")),
                "metadata.name",
                "FieldValueForbidden",
            ),
            (
                "/preemptionPolicy",
                Some(json!("Always")),
                "preemptionPolicy",
                "FieldValueNotSupported",
            ),
        ],
    );
    let pc = json!({"metadata": {"name": "high"}, "value": 1000, "preemptionPolicy": "Never"});
    let mut changed = pc.clone();
    put(&mut changed, "/value", Some(json!(1001)));
    put(
        &mut changed,
        "/preemptionPolicy",
        Some(json!("PreemptLowerPriority")),
    );
    let errs = validate_update("scheduling.k8s.io", "PriorityClass", &changed, &pc);
    let texts: Vec<String> = errs
        .iter()
        .map(|e| format!("{}: {}", e.field, e.message()))
        .collect();
    assert_eq!(
        texts,
        [
            "value: Forbidden: may not be changed in an update.",
            "preemptionPolicy: Invalid value: \"PreemptLowerPriority\": field is immutable",
        ]
    );
    let mut described = pc.clone();
    put(&mut described, "/description", Some(json!("now described")));
    assert!(validate_update("scheduling.k8s.io", "PriorityClass", &described, &pc).is_empty());
    run(
        "policy",
        "PodDisruptionBudget",
        json!({"metadata": {"name": "pdb", "namespace": "d"},
        "spec": {"minAvailable": "50%", "selector": {"matchLabels": {"a": "b"}}}}),
        &[
            (
                "/spec/maxUnavailable",
                Some(json!(1)),
                "spec",
                "FieldValueInvalid",
            ),
            (
                "/spec/minAvailable",
                Some(json!("150%")),
                "spec.minAvailable",
                "FieldValueInvalid",
            ),
            (
                "/spec/minAvailable",
                Some(json!(-1)),
                "spec.minAvailable",
                "FieldValueInvalid",
            ),
        ],
    );
    run(
        "",
        "Event",
        json!({"metadata": {"name": "e.1", "namespace": "d"},
        "involvedObject": {"kind": "Pod", "name": "p", "namespace": "d"}, "reason": "Started"}),
        &[(
            "/involvedObject/namespace",
            Some(json!("other")),
            "involvedObject.namespace",
            "FieldValueInvalid",
        )],
    );
    run(
        "events.k8s.io",
        "Event",
        json!({"metadata": {"name": "e.1", "namespace": "d"},
        "eventTime": "2024-01-01T00:00:00.000000Z", "type": "Normal", "reportingController": "example.com/ctl",
        "reportingInstance": "i", "action": "Start", "reason": "Started", "regarding": {"kind": "Pod", "name": "p", "namespace": "d"}}),
        &[
            ("/eventTime", None, "eventTime", "FieldValueRequired"),
            ("/type", Some(json!("Bad")), "type", "FieldValueInvalid"),
            ("/action", None, "action", "FieldValueRequired"),
        ],
    );
    run(
        "",
        "ResourceQuota",
        json!({"metadata": {"name": "q", "namespace": "d"}, "spec": {"hard": {"pods": "10", "requests.cpu": "4"}}}),
        &[(
            "/spec/hard/pods",
            Some(json!("-1")),
            "spec.hard[pods]",
            "FieldValueInvalid",
        )],
    );
    run(
        "",
        "LimitRange",
        json!({"metadata": {"name": "lr", "namespace": "d"},
        "spec": {"limits": [{"type": "Container", "max": {"cpu": "2"}, "min": {"cpu": "100m"}}]}}),
        &[(
            "/spec/limits/0/min/cpu",
            Some(json!("3")),
            "spec.limits[0].min[cpu]",
            "FieldValueInvalid",
        )],
    );
    run(
        "",
        "ServiceAccount",
        json!({"metadata": {"name": "sa", "namespace": "d"}}),
        &[(
            "/metadata/name",
            Some(json!("SA")),
            "metadata.name",
            "FieldValueInvalid",
        )],
    );
    run(
        "",
        "Endpoints",
        json!({"metadata": {"name": "ep", "namespace": "d"},
        "subsets": [{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}]}]}),
        &[(
            "/subsets/0/addresses/0/ip",
            Some(json!("nope")),
            "subsets[0].addresses[0].ip",
            "FieldValueInvalid",
        )],
    );
    run(
        "apps",
        "ControllerRevision",
        json!({"metadata": {"name": "cr", "namespace": "d"}, "data": {}, "revision": 1}),
        &[("/data", None, "data", "FieldValueRequired")],
    );
}
