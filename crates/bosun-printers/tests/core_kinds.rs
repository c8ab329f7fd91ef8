//! Rows for core/v1 kinds other than Pod and Event.

mod common;

use common::{ago, cells, default_cells, headers, wide_cells};
use serde_json::{json, Value};

fn meta(name: &str) -> Value {
    json!({"name": name, "namespace": "default", "creationTimestamp": ago(3 * 86400 + 4 * 3600)})
}

#[test]
fn node_rows() {
    assert_eq!(
        headers("", "Node")
            .iter()
            .map(|h| (h.0, h.3))
            .collect::<Vec<_>>(),
        vec![
            ("Name", 0),
            ("Status", 0),
            ("Roles", 0),
            ("Age", 0),
            ("Version", 0),
            ("Internal-IP", 1),
            ("External-IP", 1),
            ("OS-Image", 1),
            ("Kernel-Version", 1),
            ("Container-Runtime", 1),
        ]
    );
    let node = json!({
        "metadata": {
            "name": "n1",
            "creationTimestamp": ago(40 * 86400),
            "labels": {
                "node-role.kubernetes.io/control-plane": "",
                "node-role.kubernetes.io/": "",
                "kubernetes.io/role": "master",
                "kubernetes.io/hostname": "n1"
            }
        },
        "spec": {"unschedulable": true},
        "status": {
            "conditions": [
                {"type": "MemoryPressure", "status": "False"},
                {"type": "Ready", "status": "True"}
            ],
            "addresses": [
                {"type": "Hostname", "address": "n1"},
                {"type": "InternalIP", "address": "10.0.0.1"},
                {"type": "InternalIP", "address": "10.0.0.9"}
            ],
            "nodeInfo": {
                "kubeletVersion": "v1.32.0",
                "osImage": "Debian GNU/Linux 12",
                "kernelVersion": "6.1.0",
                "containerRuntimeVersion": "containerd://1.7.0"
            }
        }
    });
    assert_eq!(
        cells("", "Node", &node),
        vec![
            json!("n1"),
            json!("Ready,SchedulingDisabled"),
            json!("control-plane,master"),
            json!("40d"),
            json!("v1.32.0"),
            json!("10.0.0.1"),
            json!("<none>"),
            json!("Debian GNU/Linux 12"),
            json!("6.1.0"),
            json!("containerd://1.7.0"),
        ]
    );

    let bare = json!({"metadata": {"name": "n2", "creationTimestamp": ago(5)}, "status": {}});
    assert_eq!(
        cells("", "Node", &bare),
        vec![
            json!("n2"),
            json!("Unknown"),
            json!("<none>"),
            json!("5s"),
            json!(""),
            json!("<none>"),
            json!("<none>"),
            json!("<unknown>"),
            json!("<unknown>"),
            json!("<unknown>"),
        ]
    );

    let not_ready = json!({"metadata": {"name": "n3"}, "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}});
    assert_eq!(cells("", "Node", &not_ready)[1], json!("NotReady"));
}

#[test]
fn namespace_rows() {
    assert_eq!(
        headers("", "Namespace"),
        vec![
            ("Name", "string", "name", 0),
            ("Status", "string", "", 0),
            ("Age", "string", "", 0)
        ]
    );
    let ns = json!({"metadata": {"name": "kube-system", "creationTimestamp": ago(90)}, "status": {"phase": "Active"}});
    assert_eq!(
        cells("", "Namespace", &ns),
        vec![json!("kube-system"), json!("Active"), json!("90s")]
    );
    let deleting = json!({"metadata": {"name": "old", "creationTimestamp": ago(7200)}, "status": {"phase": "Terminating"}});
    assert_eq!(
        cells("", "Namespace", &deleting),
        vec![json!("old"), json!("Terminating"), json!("120m")]
    );
}

#[test]
fn service_rows() {
    assert_eq!(
        headers("", "Service")
            .iter()
            .map(|h| (h.0, h.3))
            .collect::<Vec<_>>(),
        vec![
            ("Name", 0),
            ("Type", 0),
            ("Cluster-IP", 0),
            ("External-IP", 0),
            ("Port(s)", 0),
            ("Age", 0),
            ("Selector", 1),
        ]
    );
    let cases: Vec<(&str, Value, Vec<Value>)> = vec![
        (
            "cluster ip with two ports",
            json!({"metadata": meta("web"), "spec": {
                "type": "ClusterIP", "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"],
                "ports": [{"port": 80, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}],
                "selector": {"tier": "fe", "app": "web"}
            }}),
            vec![
                json!("web"),
                json!("ClusterIP"),
                json!("10.96.0.10"),
                json!("<none>"),
                json!("80/TCP,53/UDP"),
                json!("3d4h"),
                json!("app=web,tier=fe"),
            ],
        ),
        (
            "node port",
            json!({"metadata": meta("np"), "spec": {
                "type": "NodePort", "clusterIPs": ["10.96.1.1"], "externalIPs": ["1.2.3.4"],
                "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}, {"port": 443, "nodePort": 30443, "protocol": "TCP"}]
            }}),
            vec![
                json!("np"),
                json!("NodePort"),
                json!("10.96.1.1"),
                json!("1.2.3.4"),
                json!("80:30080/TCP,443:30443/TCP"),
                json!("3d4h"),
                json!("<none>"),
            ],
        ),
        (
            "load balancer pending",
            json!({"metadata": meta("lb"), "spec": {
                "type": "LoadBalancer", "clusterIP": "10.96.2.2",
                "ports": [{"port": 443, "nodePort": 30443, "protocol": "TCP"}]
            }}),
            vec![
                json!("lb"),
                json!("LoadBalancer"),
                json!("10.96.2.2"),
                json!("<pending>"),
                json!("443:30443/TCP"),
                json!("3d4h"),
                json!("<none>"),
            ],
        ),
        (
            "load balancer with ingress and external ips",
            json!({"metadata": meta("lb2"), "spec": {
                "type": "LoadBalancer", "clusterIP": "10.96.2.3", "externalIPs": ["9.9.9.9"],
                "ports": [{"port": 80, "protocol": "TCP"}]
            }, "status": {"loadBalancer": {"ingress": [
                {"ip": "5.6.7.8"}, {"hostname": "lb.example.com"}, {"ip": "1.1.1.1"}, {"ip": "5.6.7.8"}
            ]}}}),
            vec![
                json!("lb2"),
                json!("LoadBalancer"),
                json!("10.96.2.3"),
                json!("1.1.1.1,5.6.7.8,lb.example.com,9.9.9.9"),
                json!("80/TCP"),
                json!("3d4h"),
                json!("<none>"),
            ],
        ),
        (
            "external name",
            json!({"metadata": meta("ext"), "spec": {"type": "ExternalName", "externalName": "db.example.com"}}),
            vec![
                json!("ext"),
                json!("ExternalName"),
                json!("<none>"),
                json!("db.example.com"),
                json!("<none>"),
                json!("3d4h"),
                json!("<none>"),
            ],
        ),
        (
            "headless",
            json!({"metadata": meta("hl"), "spec": {"type": "ClusterIP", "clusterIP": "None", "ports": [{"port": 5432, "protocol": "TCP"}]}}),
            vec![
                json!("hl"),
                json!("ClusterIP"),
                json!("None"),
                json!("<none>"),
                json!("5432/TCP"),
                json!("3d4h"),
                json!("<none>"),
            ],
        ),
    ];
    for (name, obj, want) in cases {
        assert_eq!(cells("", "Service", &obj), want, "case: {name}");
    }
}

#[test]
fn endpoints_rows() {
    let cases: Vec<(&str, Value, &str)> = vec![
        ("no subsets", json!({}), "<none>"),
        (
            "one address two ports",
            json!({"subsets": [{"addresses": [{"ip": "10.1.0.1"}], "ports": [{"port": 80}, {"port": 443}]}]}),
            "10.1.0.1:80,10.1.0.1:443",
        ),
        (
            "more than three",
            json!({"subsets": [{"addresses": [{"ip": "10.1.0.1"}, {"ip": "10.1.0.2"}, {"ip": "10.1.0.3"}, {"ip": "10.1.0.4"}],
                                "ports": [{"port": 8080}]},
                               {"addresses": [{"ip": "10.2.0.1"}], "ports": [{"port": 53}]}]}),
            "10.1.0.1:8080,10.1.0.2:8080,10.1.0.3:8080 + 2 more...",
        ),
        (
            "headless without ports",
            json!({"subsets": [{"addresses": [{"ip": "10.1.0.1"}, {"ip": "10.1.0.2"}]}]}),
            "10.1.0.1,10.1.0.2",
        ),
        (
            "ipv6 gets brackets",
            json!({"subsets": [{"addresses": [{"ip": "fd00::1"}], "ports": [{"port": 80}]}]}),
            "[fd00::1]:80",
        ),
        (
            "only not-ready addresses",
            json!({"subsets": [{"notReadyAddresses": [{"ip": "10.1.0.1"}], "ports": [{"port": 80}]}]}),
            "",
        ),
    ];
    for (name, mut obj, want) in cases {
        obj["metadata"] = meta("svc");
        assert_eq!(
            cells("", "Endpoints", &obj),
            vec![json!("svc"), json!(want), json!("3d4h")],
            "case: {name}"
        );
    }
}

#[test]
fn config_map_secret_service_account_rows() {
    assert_eq!(
        headers("", "ConfigMap")
            .iter()
            .map(|h| h.0)
            .collect::<Vec<_>>(),
        vec!["Name", "Data", "Age"]
    );
    let cm =
        json!({"metadata": meta("cfg"), "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}});
    assert_eq!(
        cells("", "ConfigMap", &cm),
        vec![json!("cfg"), json!(3), json!("3d4h")]
    );
    let empty_cm = json!({"metadata": meta("empty")});
    assert_eq!(
        cells("", "ConfigMap", &empty_cm),
        vec![json!("empty"), json!(0), json!("3d4h")]
    );

    assert_eq!(
        headers("", "Secret")
            .iter()
            .map(|h| h.0)
            .collect::<Vec<_>>(),
        vec!["Name", "Type", "Data", "Age"]
    );
    let sec = json!({"metadata": meta("tls"), "type": "kubernetes.io/tls", "data": {"tls.crt": "", "tls.key": ""}});
    assert_eq!(
        cells("", "Secret", &sec),
        vec![
            json!("tls"),
            json!("kubernetes.io/tls"),
            json!(2),
            json!("3d4h")
        ]
    );
    let opaque = json!({"metadata": meta("o")});
    assert_eq!(
        cells("", "Secret", &opaque),
        vec![json!("o"), json!("Opaque"), json!(0), json!("3d4h")]
    );

    assert_eq!(
        headers("", "ServiceAccount")
            .iter()
            .map(|h| h.0)
            .collect::<Vec<_>>(),
        vec!["Name", "Secrets", "Age"]
    );
    let sa = json!({"metadata": meta("default"), "secrets": [{"name": "tok"}]});
    assert_eq!(
        cells("", "ServiceAccount", &sa),
        vec![json!("default"), json!(1), json!("3d4h")]
    );
    let sa0 = json!({"metadata": meta("builder")});
    assert_eq!(
        cells("", "ServiceAccount", &sa0),
        vec![json!("builder"), json!(0), json!("3d4h")]
    );
}

#[test]
fn resource_quota_rows() {
    assert_eq!(
        headers("", "ResourceQuota")
            .iter()
            .map(|h| h.0)
            .collect::<Vec<_>>(),
        vec!["Name", "Request", "Limit", "Age"]
    );
    let rq = json!({
        "metadata": meta("quota"),
        "spec": {"hard": {"pods": "10"}},
        "status": {
            "hard": {"requests.cpu": "1", "pods": "10", "limits.memory": "2Gi", "limits.cpu": "2000m", "requests.memory": "1024Mi", "limits": "5"},
            "used": {"requests.cpu": "500m", "pods": "3", "limits.memory": "512Mi", "requests.memory": "0"}
        }
    });
    assert_eq!(
        cells("", "ResourceQuota", &rq),
        vec![
            json!("quota"),
            json!("limits: 0/5, pods: 3/10, requests.cpu: 500m/1, requests.memory: 0/1Gi"),
            json!("limits.cpu: 0/2, limits.memory: 512Mi/2Gi"),
            json!("3d4h"),
        ]
    );
    let empty = json!({"metadata": meta("none")});
    assert_eq!(
        cells("", "ResourceQuota", &empty),
        vec![json!("none"), json!(""), json!(""), json!("3d4h")]
    );
}

#[test]
fn limit_range_uses_generic_table() {
    assert_eq!(
        headers("", "LimitRange"),
        vec![("Name", "string", "name", 0), ("Created At", "date", "", 0)]
    );
    let lr = json!({"metadata": {"name": "limits", "creationTimestamp": "2024-05-06T07:08:09Z"}, "spec": {"limits": []}});
    assert_eq!(
        cells("", "LimitRange", &lr),
        vec![json!("limits"), json!("2024-05-06T07:08:09Z")]
    );
    assert!(!bosun_printers::has_printer("", "LimitRange"));
}

#[test]
fn persistent_volume_claim_rows() {
    assert_eq!(
        headers("", "PersistentVolumeClaim")
            .iter()
            .map(|h| (h.0, h.3))
            .collect::<Vec<_>>(),
        vec![
            ("Name", 0),
            ("Status", 0),
            ("Volume", 0),
            ("Capacity", 0),
            ("Access Modes", 0),
            ("StorageClass", 0),
            ("VolumeAttributesClass", 0),
            ("Age", 0),
            ("VolumeMode", 1),
        ]
    );
    let bound = json!({
        "metadata": meta("data"),
        "spec": {"volumeName": "pv-1", "storageClassName": "standard", "volumeMode": "Filesystem",
                 "resources": {"requests": {"storage": "1Gi"}}},
        "status": {"phase": "Bound", "accessModes": ["ReadWriteMany", "ReadWriteOnce", "ReadWriteOnce"], "capacity": {"storage": "10240Mi"}}
    });
    assert_eq!(
        cells("", "PersistentVolumeClaim", &bound),
        vec![
            json!("data"),
            json!("Bound"),
            json!("pv-1"),
            json!("10Gi"),
            json!("RWO,RWX"),
            json!("standard"),
            json!("<unset>"),
            json!("3d4h"),
            json!("Filesystem")
        ]
    );
    let mut pending = json!({
        "metadata": meta("new"),
        "spec": {"resources": {"requests": {"storage": "1Gi"}}, "volumeAttributesClassName": "gold"},
        "status": {"phase": "Pending"}
    });
    pending["metadata"]["annotations"] =
        json!({"volume.beta.kubernetes.io/storage-class": "legacy"});
    assert_eq!(
        cells("", "PersistentVolumeClaim", &pending),
        vec![
            json!("new"),
            json!("Pending"),
            json!(""),
            json!(""),
            json!(""),
            json!("legacy"),
            json!("gold"),
            json!("3d4h"),
            json!("<unset>")
        ]
    );
    let mut deleting = bound.clone();
    deleting["metadata"]["deletionTimestamp"] = json!(ago(1));
    assert_eq!(
        cells("", "PersistentVolumeClaim", &deleting)[1],
        json!("Terminating")
    );
}

#[test]
fn persistent_volume_rows() {
    assert_eq!(
        headers("", "PersistentVolume")
            .iter()
            .map(|h| (h.0, h.3))
            .collect::<Vec<_>>(),
        vec![
            ("Name", 0),
            ("Capacity", 0),
            ("Access Modes", 0),
            ("Reclaim Policy", 0),
            ("Status", 0),
            ("Claim", 0),
            ("StorageClass", 0),
            ("VolumeAttributesClass", 0),
            ("Reason", 0),
            ("Age", 0),
            ("VolumeMode", 1),
        ]
    );
    let pv = json!({
        "metadata": meta("pv-1"),
        "spec": {"capacity": {"storage": "5Gi"}, "accessModes": ["ReadWriteOncePod", "ReadOnlyMany"],
                 "persistentVolumeReclaimPolicy": "Retain", "storageClassName": "fast",
                 "claimRef": {"namespace": "default", "name": "data"}, "volumeMode": "Block"},
        "status": {"phase": "Bound"}
    });
    assert_eq!(
        cells("", "PersistentVolume", &pv),
        vec![
            json!("pv-1"),
            json!("5Gi"),
            json!("ROX,RWOP"),
            json!("Retain"),
            json!("Bound"),
            json!("default/data"),
            json!("fast"),
            json!("<unset>"),
            json!(""),
            json!("3d4h"),
            json!("Block")
        ]
    );
    let failed = json!({
        "metadata": meta("pv-2"),
        "spec": {"persistentVolumeReclaimPolicy": "Delete"},
        "status": {"phase": "Failed", "reason": "VolumeFailedDelete"}
    });
    assert_eq!(
        default_cells("", "PersistentVolume", &failed),
        vec![
            json!("pv-2"),
            json!("0"),
            json!(""),
            json!("Delete"),
            json!("Failed"),
            json!(""),
            json!(""),
            json!("<unset>"),
            json!("VolumeFailedDelete"),
            json!("3d4h")
        ]
    );
    assert_eq!(
        wide_cells("", "PersistentVolume", &failed),
        vec![json!("<unset>")]
    );
}
