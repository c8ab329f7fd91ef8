//! Shape of the full meta.k8s.io/v1 Table document.

mod common;

use bosun_printers::{columns, row_cells, table, table_with_options, IncludeObject, TableOptions};
use common::{ago, now};
use serde_json::{json, Value};

fn deployment(name: &str) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default", "resourceVersion": "41", "uid": "u-1",
                     "creationTimestamp": ago(120), "labels": {"app": name}},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": name}},
                 "template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}},
        "status": {"replicas": 3, "readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}
    })
}

#[test]
fn table_with_metadata_rows() {
    let objs = vec![deployment("web"), deployment("api")];
    let t = table(
        "apps",
        "Deployment",
        &objs,
        IncludeObject::Metadata,
        "42",
        Some("tok"),
        now(),
    );
    assert_eq!(t["kind"], "Table");
    assert_eq!(t["apiVersion"], "meta.k8s.io/v1");
    assert_eq!(
        t["metadata"],
        json!({"resourceVersion": "42", "continue": "tok"})
    );
    assert_eq!(
        t["columnDefinitions"][0],
        json!({"name": "Name", "type": "string", "format": "name",
               "description": columns("apps", "Deployment")[0].description, "priority": 0})
    );
    assert_eq!(t["columnDefinitions"].as_array().map(Vec::len), Some(8));
    assert_eq!(t["columnDefinitions"][7]["name"], "Selector");
    assert_eq!(t["columnDefinitions"][7]["priority"], 1);
    let rows = t["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 2);
    assert_eq!(
        rows[0]["cells"],
        json!(["web", "2/3", 3, 2, "2m", "c", "i", "app=web"])
    );
    assert!(rows[0].get("conditions").is_none());
    assert_eq!(
        rows[1]["object"],
        json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
               "metadata": objs[1]["metadata"].clone()})
    );
    // Field order follows the Go struct order.
    let keys: Vec<&String> = t.as_object().expect("object").keys().collect();
    assert_eq!(
        keys,
        [
            "kind",
            "apiVersion",
            "metadata",
            "columnDefinitions",
            "rows"
        ]
    );
    let row_keys: Vec<&String> = rows[0].as_object().expect("row").keys().collect();
    assert_eq!(row_keys, ["cells", "object"]);
}

#[test]
fn include_object_modes() {
    let objs = vec![deployment("web")];
    let full = table(
        "apps",
        "Deployment",
        &objs,
        IncludeObject::Object,
        "",
        None,
        now(),
    );
    assert_eq!(full["rows"][0]["object"], objs[0]);
    assert_eq!(full["metadata"], json!({}));

    let none = table(
        "apps",
        "Deployment",
        &objs,
        IncludeObject::None,
        "7",
        Some(""),
        now(),
    );
    assert_eq!(none["rows"][0]["object"], Value::Null);
    assert_eq!(none["metadata"], json!({"resourceVersion": "7"}));
    assert_eq!(IncludeObject::default(), IncludeObject::Metadata);
}

#[test]
fn options_no_headers_remaining_count_and_version() {
    let objs = vec![deployment("web")];
    let opts = TableOptions {
        no_headers: true,
        remaining_item_count: Some(5),
        api_version: "meta.k8s.io/v1beta1",
        resource_version: "9",
        ..TableOptions::new(now())
    };
    let t = table_with_options("apps", "Deployment", &objs, &opts);
    assert_eq!(t["apiVersion"], "meta.k8s.io/v1beta1");
    assert_eq!(t["columnDefinitions"], Value::Null);
    assert_eq!(
        t["metadata"],
        json!({"resourceVersion": "9", "remainingItemCount": 5})
    );
    assert_eq!(t["rows"][0]["object"]["apiVersion"], "meta.k8s.io/v1beta1");
}

#[test]
fn terminal_pods_carry_row_conditions() {
    let pod = |phase: &str| {
        json!({"metadata": {"name": format!("p-{phase}"), "creationTimestamp": ago(10)},
               "spec": {"containers": [{"name": "c"}]}, "status": {"phase": phase}})
    };
    let objs = vec![pod("Succeeded"), pod("Failed"), pod("Running")];
    let t = table("", "Pod", &objs, IncludeObject::None, "", None, now());
    assert_eq!(
        t["rows"][0]["conditions"],
        json!([{"type": "Completed", "status": "True", "reason": "Succeeded",
                "message": "The pod has completed successfully."}])
    );
    assert_eq!(
        t["rows"][1]["conditions"],
        json!([{"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}])
    );
    assert!(t["rows"][2].get("conditions").is_none());
    let keys: Vec<&String> = t["rows"][0].as_object().expect("row").keys().collect();
    assert_eq!(keys, ["cells", "conditions", "object"]);
}

#[test]
fn default_table_for_kinds_without_printers() {
    let obj = json!({"apiVersion": "v1", "kind": "LimitRange",
                     "metadata": {"name": "lr", "creationTimestamp": "2024-01-02T03:04:05Z"}});
    let t = table(
        "",
        "LimitRange",
        std::slice::from_ref(&obj),
        IncludeObject::Metadata,
        "3",
        None,
        now(),
    );
    assert_eq!(
        t["columnDefinitions"]
            .as_array()
            .expect("cols")
            .iter()
            .map(|c| (c["name"].clone(), c["type"].clone(), c["format"].clone()))
            .collect::<Vec<_>>(),
        vec![
            (json!("Name"), json!("string"), json!("name")),
            (json!("Created At"), json!("date"), json!(""))
        ]
    );
    assert_eq!(t["rows"][0]["cells"], json!(["lr", "2024-01-02T03:04:05Z"]));

    // Fractional or offset timestamps are normalised to UTC whole seconds;
    // an unset timestamp is Go's zero time.
    let odd =
        json!({"metadata": {"name": "x", "creationTimestamp": "2024-01-02T05:04:05.75+02:00"}});
    assert_eq!(
        row_cells("example.com", "Widget", &odd, now()),
        vec![json!("x"), json!("2024-01-02T03:04:05Z")]
    );
    let unset = json!({"metadata": {"name": "y"}});
    assert_eq!(
        row_cells("", "LimitRange", &unset, now()),
        vec![json!("y"), json!("0001-01-01T00:00:00Z")]
    );

    // An empty generic list encodes rows as null; printed kinds use [].
    let empty = table(
        "",
        "LimitRange",
        &[],
        IncludeObject::Metadata,
        "1",
        None,
        now(),
    );
    assert_eq!(empty["rows"], Value::Null);
    let empty_pods = table("", "Pod", &[], IncludeObject::Metadata, "1", None, now());
    assert_eq!(empty_pods["rows"], json!([]));
}

#[test]
fn every_printer_emits_one_cell_per_column() {
    let kinds = [
        ("", "Pod"),
        ("core", "Pod"),
        ("", "Node"),
        ("", "Namespace"),
        ("", "Service"),
        ("", "Endpoints"),
        ("", "ConfigMap"),
        ("", "Secret"),
        ("", "ServiceAccount"),
        ("", "Event"),
        ("events.k8s.io", "Event"),
        ("", "ResourceQuota"),
        ("", "LimitRange"),
        ("", "PersistentVolumeClaim"),
        ("", "PersistentVolume"),
        ("apps", "Deployment"),
        ("apps", "ReplicaSet"),
        ("apps", "StatefulSet"),
        ("apps", "DaemonSet"),
        ("apps", "ControllerRevision"),
        ("batch", "Job"),
        ("batch", "CronJob"),
        ("coordination.k8s.io", "Lease"),
        ("discovery.k8s.io", "EndpointSlice"),
        ("scheduling.k8s.io", "PriorityClass"),
        ("policy", "PodDisruptionBudget"),
    ];
    // Degenerate inputs must not panic and must still fill every column.
    let inputs = [
        json!({}),
        json!({"metadata": {"name": "n"}}),
        json!(null),
        json!([1, 2]),
        json!({"metadata": 5, "spec": "x", "status": []}),
    ];
    for (g, k) in kinds {
        let cols = columns(g, k);
        assert_eq!(
            cols.iter().filter(|c| c.format == "name").count(),
            1,
            "{g}/{k}"
        );
        for input in &inputs {
            assert_eq!(
                row_cells(g, k, input, now()).len(),
                cols.len(),
                "{g}/{k} with {input}"
            );
        }
        assert!(
            cols.iter().all(|c| c.priority == 0 || c.priority == 1),
            "{g}/{k}"
        );
    }
}
