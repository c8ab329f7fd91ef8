//! Rows for Event (both groups), Lease, EndpointSlice, PriorityClass and
//! PodDisruptionBudget.

mod common;

use common::{ago, cells, default_cells, headers, wide_cells};
use serde_json::{json, Value};

fn meta(name: &str) -> Value {
    json!({"name": name, "namespace": "default", "creationTimestamp": ago(45)})
}

#[test]
fn event_columns() {
    let want = vec![
        ("Last Seen", "string", "", 0),
        ("Type", "string", "", 0),
        ("Reason", "string", "", 0),
        ("Object", "string", "", 0),
        ("Subobject", "string", "", 1),
        ("Source", "string", "", 1),
        ("Message", "string", "", 0),
        ("First Seen", "string", "", 1),
        ("Count", "string", "", 1),
        ("Name", "string", "name", 1),
    ];
    assert_eq!(headers("", "Event"), want);
    assert_eq!(headers("events.k8s.io", "Event"), want);
}

#[test]
fn core_event_rows() {
    let ev = json!({
        "metadata": meta("web-0.17a"),
        "involvedObject": {"kind": "Pod", "name": "web-0", "namespace": "default", "fieldPath": "spec.containers{nginx}"},
        "reason": "Pulled",
        "message": "  Successfully pulled image \"nginx\"\n",
        "source": {"component": "kubelet", "host": "node-1"},
        "firstTimestamp": ago(3600),
        "lastTimestamp": ago(90),
        "count": 4,
        "type": "Normal"
    });
    assert_eq!(
        default_cells("", "Event", &ev),
        vec![
            json!("90s"),
            json!("Normal"),
            json!("Pulled"),
            json!("pod/web-0"),
            json!("Successfully pulled image \"nginx\"")
        ]
    );
    assert_eq!(
        wide_cells("", "Event", &ev),
        vec![
            json!("spec.containers{nginx}"),
            json!("kubelet, node-1"),
            json!("60m"),
            json!(4),
            json!("web-0.17a")
        ]
    );

    // New-style event written through core/v1: eventTime, series, reporting fields.
    let series = json!({
        "metadata": meta("n.1"),
        "involvedObject": {"kind": "Node", "name": "n1"},
        "reason": "Rebooted",
        "message": "rebooted",
        "eventTime": "2025-03-01T11:00:00.000000Z",
        "series": {"count": 7, "lastObservedTime": ago(120)},
        "reportingComponent": "kubelet",
        "reportingInstance": "n1",
        "type": "Warning"
    });
    assert_eq!(
        cells("", "Event", &series),
        vec![
            json!("2m"),
            json!("Warning"),
            json!("Rebooted"),
            json!("node/n1"),
            json!(""),
            json!("kubelet, n1"),
            json!("rebooted"),
            json!("60m"),
            json!(7),
            json!("n.1")
        ]
    );

    // Singleton without timestamps or count.
    let bare = json!({"metadata": {"name": "e"}, "involvedObject": {"kind": "Namespace"}, "source": {"component": "ctl"}});
    assert_eq!(
        cells("", "Event", &bare),
        vec![
            json!("<unknown>"),
            json!(""),
            json!(""),
            json!("namespace"),
            json!(""),
            json!("ctl"),
            json!(""),
            json!("<unknown>"),
            json!(1),
            json!("e")
        ]
    );
}

#[test]
fn events_v1_event_rows() {
    let ev = json!({
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": meta("web.1"),
        "eventTime": ago(300),
        "regarding": {"kind": "Deployment", "name": "web", "namespace": "default"},
        "reason": "ScalingReplicaSet",
        "action": "Scale",
        "note": "Scaled up replica set web-5d4f to 3",
        "reportingController": "deployment-controller",
        "reportingInstance": "",
        "type": "Normal"
    });
    assert_eq!(
        cells("events.k8s.io", "Event", &ev),
        vec![
            json!("5m"),
            json!("Normal"),
            json!("ScalingReplicaSet"),
            json!("deployment/web"),
            json!(""),
            json!("deployment-controller"),
            json!("Scaled up replica set web-5d4f to 3"),
            json!("5m"),
            json!(1),
            json!("web.1"),
        ]
    );
    let legacy = json!({
        "metadata": meta("old.1"),
        "regarding": {"kind": "Pod", "name": "p", "fieldPath": "spec.containers{c}"},
        "reason": "BackOff",
        "note": "Back-off restarting",
        "deprecatedSource": {"component": "kubelet", "host": "n2"},
        "deprecatedFirstTimestamp": ago(7200),
        "deprecatedLastTimestamp": ago(30),
        "deprecatedCount": 12,
        "type": "Warning"
    });
    assert_eq!(
        cells("events.k8s.io", "Event", &legacy),
        vec![
            json!("30s"),
            json!("Warning"),
            json!("BackOff"),
            json!("pod/p"),
            json!("spec.containers{c}"),
            json!("kubelet, n2"),
            json!("Back-off restarting"),
            json!("120m"),
            json!(12),
            json!("old.1")
        ]
    );
}

#[test]
fn lease_rows() {
    assert_eq!(
        headers("coordination.k8s.io", "Lease")
            .iter()
            .map(|h| h.0)
            .collect::<Vec<_>>(),
        vec!["Name", "Holder", "Age"]
    );
    let l = json!({"metadata": meta("kube-scheduler"), "spec": {"holderIdentity": "cp-1_abc", "leaseDurationSeconds": 15}});
    assert_eq!(
        cells("coordination.k8s.io", "Lease", &l),
        vec![json!("kube-scheduler"), json!("cp-1_abc"), json!("45s")]
    );
    let free = json!({"metadata": meta("free"), "spec": {}});
    assert_eq!(
        cells("coordination.k8s.io", "Lease", &free),
        vec![json!("free"), json!(""), json!("45s")]
    );
}

#[test]
fn endpoint_slice_rows() {
    assert_eq!(
        headers("discovery.k8s.io", "EndpointSlice")
            .iter()
            .map(|h| h.0)
            .collect::<Vec<_>>(),
        vec!["Name", "AddressType", "Ports", "Endpoints", "Age"]
    );
    let cases: Vec<(&str, Value, &str, &str)> = vec![
        (
            "typical",
            json!({"addressType": "IPv4", "ports": [{"name": "http", "port": 80, "protocol": "TCP"}],
                   "endpoints": [{"addresses": ["10.1.0.1"]}, {"addresses": ["10.1.0.2"]}]}),
            "80",
            "10.1.0.1,10.1.0.2",
        ),
        (
            "empty",
            json!({"addressType": "IPv4"}),
            "<unset>",
            "<unset>",
        ),
        (
            "port without number, name and wildcard, and many addresses",
            json!({"addressType": "IPv6", "ports": [{"name": "dns"}, {}, {"port": 53}, {"port": 54}],
                   "endpoints": [{"addresses": ["fd00::1", "fd00::2"]}, {"addresses": ["fd00::3", "fd00::4", "fd00::5"]}]}),
            "dns,*,53 + 1 more...",
            "fd00::1,fd00::2,fd00::3 + 2 more...",
        ),
    ];
    for (name, mut obj, ports, eps) in cases {
        obj["metadata"] = meta("web-abc");
        let want_type = obj["addressType"].clone();
        assert_eq!(
            cells("discovery.k8s.io", "EndpointSlice", &obj),
            vec![
                json!("web-abc"),
                want_type,
                json!(ports),
                json!(eps),
                json!("45s")
            ],
            "case: {name}"
        );
    }
}

#[test]
fn priority_class_rows() {
    assert_eq!(
        headers("scheduling.k8s.io", "PriorityClass"),
        vec![
            ("Name", "string", "name", 0),
            ("Value", "integer", "", 0),
            ("Global-Default", "boolean", "", 0),
            ("Age", "string", "", 0),
            ("PreemptionPolicy", "string", "", 0),
        ]
    );
    let pc = json!({"metadata": meta("system-node-critical"), "value": 2000001000, "globalDefault": false, "preemptionPolicy": "PreemptLowerPriority"});
    assert_eq!(
        cells("scheduling.k8s.io", "PriorityClass", &pc),
        vec![
            json!("system-node-critical"),
            json!(2000001000),
            json!(false),
            json!("45s"),
            json!("PreemptLowerPriority")
        ]
    );
    let default = json!({"metadata": meta("low"), "value": -5, "globalDefault": true});
    assert_eq!(
        cells("scheduling.k8s.io", "PriorityClass", &default),
        vec![
            json!("low"),
            json!(-5),
            json!(true),
            json!("45s"),
            json!("")
        ]
    );
}

#[test]
fn pod_disruption_budget_rows() {
    assert_eq!(
        headers("policy", "PodDisruptionBudget")
            .iter()
            .map(|h| (h.0, h.1))
            .collect::<Vec<_>>(),
        vec![
            ("Name", "string"),
            ("Min Available", "string"),
            ("Max Unavailable", "string"),
            ("Allowed Disruptions", "integer"),
            ("Age", "string"),
        ]
    );
    let min = json!({"metadata": meta("web"), "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "web"}}}, "status": {"disruptionsAllowed": 1}});
    assert_eq!(
        cells("policy", "PodDisruptionBudget", &min),
        vec![
            json!("web"),
            json!("2"),
            json!("N/A"),
            json!(1),
            json!("45s")
        ]
    );
    let max = json!({"metadata": meta("db"), "spec": {"maxUnavailable": "25%"}, "status": {}});
    assert_eq!(
        cells("policy", "PodDisruptionBudget", &max),
        vec![
            json!("db"),
            json!("N/A"),
            json!("25%"),
            json!(0),
            json!("45s")
        ]
    );
}
