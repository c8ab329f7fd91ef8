//! Rows for apps/v1 and batch/v1 workload kinds.

mod common;

use common::{ago, cells, headers};
use serde_json::{json, Value};

fn meta(name: &str) -> Value {
    json!({"name": name, "namespace": "default", "creationTimestamp": ago(600)})
}

fn template() -> Value {
    json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [
        {"name": "nginx", "image": "nginx:1.27"},
        {"name": "sidecar", "image": "busybox"}
    ]}})
}

#[test]
fn deployment_rows() {
    assert_eq!(
        headers("apps", "Deployment"),
        vec![
            ("Name", "string", "name", 0),
            ("Ready", "string", "", 0),
            ("Up-to-date", "string", "", 0),
            ("Available", "string", "", 0),
            ("Age", "string", "", 0),
            ("Containers", "string", "", 1),
            ("Images", "string", "", 1),
            ("Selector", "string", "", 1),
        ]
    );
    let d = json!({
        "metadata": meta("web"),
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}, "template": template()},
        "status": {"replicas": 3, "readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}
    });
    assert_eq!(
        cells("apps", "Deployment", &d),
        vec![
            json!("web"),
            json!("2/3"),
            json!(3),
            json!(2),
            json!("10m"),
            json!("nginx,sidecar"),
            json!("nginx:1.27,busybox"),
            json!("app=web")
        ]
    );
    // Fresh deployment: no status yet; replicas defaults to 1.
    let fresh = json!({"metadata": meta("new"), "spec": {"selector": {}, "template": {"spec": {"containers": []}}}});
    assert_eq!(
        cells("apps", "Deployment", &fresh),
        vec![
            json!("new"),
            json!("0/1"),
            json!(0),
            json!(0),
            json!("10m"),
            json!(""),
            json!(""),
            json!("")
        ]
    );
    let bad = json!({"metadata": meta("bad"), "spec": {"replicas": 0, "selector": {"matchExpressions": [{"key": "a", "operator": "Nope"}]}}});
    assert_eq!(cells("apps", "Deployment", &bad)[7], json!("<invalid>"));
    assert_eq!(cells("apps", "Deployment", &bad)[1], json!("0/0"));
}

#[test]
fn replica_set_rows() {
    assert_eq!(
        headers("apps", "ReplicaSet")
            .iter()
            .map(|h| (h.0, h.1, h.3))
            .collect::<Vec<_>>(),
        vec![
            ("Name", "string", 0),
            ("Desired", "integer", 0),
            ("Current", "integer", 0),
            ("Ready", "integer", 0),
            ("Age", "string", 0),
            ("Containers", "string", 1),
            ("Images", "string", 1),
            ("Selector", "string", 1),
        ]
    );
    let rs = json!({
        "metadata": meta("web-5d4f"),
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web", "pod-template-hash": "5d4f"}}, "template": template()},
        "status": {"replicas": 3, "readyReplicas": 1}
    });
    assert_eq!(
        cells("apps", "ReplicaSet", &rs),
        vec![
            json!("web-5d4f"),
            json!(3),
            json!(3),
            json!(1),
            json!("10m"),
            json!("nginx,sidecar"),
            json!("nginx:1.27,busybox"),
            json!("app=web,pod-template-hash=5d4f")
        ]
    );
    let no_selector = json!({"metadata": meta("x"), "spec": {"replicas": 0}});
    assert_eq!(
        cells("apps", "ReplicaSet", &no_selector),
        vec![
            json!("x"),
            json!(0),
            json!(0),
            json!(0),
            json!("10m"),
            json!(""),
            json!(""),
            json!("<none>")
        ]
    );
}

#[test]
fn stateful_set_rows() {
    assert_eq!(
        headers("apps", "StatefulSet")
            .iter()
            .map(|h| (h.0, h.3))
            .collect::<Vec<_>>(),
        vec![
            ("Name", 0),
            ("Ready", 0),
            ("Age", 0),
            ("Containers", 1),
            ("Images", 1)
        ]
    );
    let sts = json!({
        "metadata": meta("db"),
        "spec": {"replicas": 3, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}}, "template": template()},
        "status": {"replicas": 3, "readyReplicas": 3}
    });
    assert_eq!(
        cells("apps", "StatefulSet", &sts),
        vec![
            json!("db"),
            json!("3/3"),
            json!("10m"),
            json!("nginx,sidecar"),
            json!("nginx:1.27,busybox")
        ]
    );
}

#[test]
fn daemon_set_rows() {
    assert_eq!(
        headers("apps", "DaemonSet")
            .iter()
            .map(|h| (h.0, h.1, h.3))
            .collect::<Vec<_>>(),
        vec![
            ("Name", "string", 0),
            ("Desired", "integer", 0),
            ("Current", "integer", 0),
            ("Ready", "integer", 0),
            ("Up-to-date", "integer", 0),
            ("Available", "integer", 0),
            ("Node Selector", "string", 0),
            ("Age", "string", 0),
            ("Containers", "string", 1),
            ("Images", "string", 1),
            ("Selector", "string", 1),
        ]
    );
    let mut tpl = template();
    tpl["spec"]["nodeSelector"] = json!({"kubernetes.io/os": "linux"});
    let ds = json!({
        "metadata": meta("agent"),
        "spec": {"selector": {"matchLabels": {"app": "agent"}}, "template": tpl},
        "status": {"desiredNumberScheduled": 4, "currentNumberScheduled": 4, "numberReady": 3, "updatedNumberScheduled": 2, "numberAvailable": 3}
    });
    assert_eq!(
        cells("apps", "DaemonSet", &ds),
        vec![
            json!("agent"),
            json!(4),
            json!(4),
            json!(3),
            json!(2),
            json!(3),
            json!("kubernetes.io/os=linux"),
            json!("10m"),
            json!("nginx,sidecar"),
            json!("nginx:1.27,busybox"),
            json!("app=agent")
        ]
    );
    let bare = json!({"metadata": meta("b"), "spec": {"template": {"spec": {}}}});
    assert_eq!(cells("apps", "DaemonSet", &bare)[6], json!("<none>"));
}

#[test]
fn controller_revision_rows() {
    assert_eq!(
        headers("apps", "ControllerRevision")
            .iter()
            .map(|h| h.0)
            .collect::<Vec<_>>(),
        vec!["Name", "Controller", "Revision", "Age"]
    );
    let mut cr = json!({"metadata": meta("agent-6b7c"), "revision": 2, "data": {}});
    cr["metadata"]["ownerReferences"] = json!([
        {"apiVersion": "v1", "kind": "Pod", "name": "not-controller", "uid": "1"},
        {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "agent", "uid": "2", "controller": true}
    ]);
    assert_eq!(
        cells("apps", "ControllerRevision", &cr),
        vec![
            json!("agent-6b7c"),
            json!("daemonset.apps/agent"),
            json!(2),
            json!("10m")
        ]
    );
    let mut core_owner = cr.clone();
    core_owner["metadata"]["ownerReferences"] =
        json!([{"apiVersion": "v1", "kind": "Pod", "name": "p", "uid": "1", "controller": true}]);
    assert_eq!(
        cells("apps", "ControllerRevision", &core_owner)[1],
        json!("pod/p")
    );
    let orphan = json!({"metadata": meta("orphan"), "revision": 1});
    assert_eq!(
        cells("apps", "ControllerRevision", &orphan),
        vec![json!("orphan"), json!("<none>"), json!(1), json!("10m")]
    );
}

fn job(spec: Value, status: Value) -> Value {
    let mut spec = spec;
    spec["template"] = template();
    spec["selector"] = json!({"matchLabels": {"batch.kubernetes.io/controller-uid": "abc"}});
    json!({"metadata": meta("pi"), "spec": spec, "status": status})
}

#[test]
fn job_rows() {
    assert_eq!(
        headers("batch", "Job")
            .iter()
            .map(|h| (h.0, h.3))
            .collect::<Vec<_>>(),
        vec![
            ("Name", 0),
            ("Status", 0),
            ("Completions", 0),
            ("Duration", 0),
            ("Age", 0),
            ("Containers", 1),
            ("Images", 1),
            ("Selector", 1),
        ]
    );
    let cases: Vec<(&str, Value, [&str; 3])> = vec![
        (
            "complete",
            job(
                json!({"completions": 1, "parallelism": 1}),
                json!({"succeeded": 1, "startTime": ago(600), "completionTime": ago(553),
                       "conditions": [{"type": "SuccessCriteriaMet", "status": "True"}, {"type": "Complete", "status": "True"}]}),
            ),
            ["Complete", "1/1", "47s"],
        ),
        (
            "running, duration measured to now",
            job(
                json!({"completions": 3}),
                json!({"succeeded": 1, "active": 1, "startTime": ago(200)}),
            ),
            ["Running", "1/3", "3m20s"],
        ),
        (
            "not started yet",
            job(json!({"completions": 1}), json!({})),
            ["Running", "0/1", ""],
        ),
        (
            "work queue with parallelism",
            job(
                json!({"parallelism": 30}),
                json!({"succeeded": 0, "startTime": ago(5)}),
            ),
            ["Running", "0/1 of 30", "5s"],
        ),
        (
            "no completions, parallelism 1",
            job(json!({"parallelism": 1}), json!({"succeeded": 1})),
            ["Running", "1/1", ""],
        ),
        (
            "failed",
            job(
                json!({"completions": 1}),
                json!({"failed": 6, "startTime": ago(600), "conditions": [
                    {"type": "FailureTarget", "status": "True"}, {"type": "Failed", "status": "True"}
                ]}),
            ),
            ["Failed", "0/1", "10m"],
        ),
        (
            "suspended",
            job(
                json!({"completions": 1, "suspend": true}),
                json!({"conditions": [{"type": "Suspended", "status": "True"}]}),
            ),
            ["Suspended", "0/1", ""],
        ),
        (
            "failure target only",
            job(
                json!({"completions": 2}),
                json!({"conditions": [{"type": "FailureTarget", "status": "True"}]}),
            ),
            ["FailureTarget", "0/2", ""],
        ),
        (
            "false conditions are ignored",
            job(
                json!({"completions": 2}),
                json!({"conditions": [{"type": "Suspended", "status": "False"}]}),
            ),
            ["Running", "0/2", ""],
        ),
    ];
    for (name, obj, [status, completions, duration]) in cases {
        assert_eq!(
            cells("batch", "Job", &obj),
            vec![
                json!("pi"),
                json!(status),
                json!(completions),
                json!(duration),
                json!("10m"),
                json!("nginx,sidecar"),
                json!("nginx:1.27,busybox"),
                json!("batch.kubernetes.io/controller-uid=abc"),
            ],
            "case: {name}"
        );
    }
    let mut deleting = job(json!({"completions": 1}), json!({}));
    deleting["metadata"]["deletionTimestamp"] = json!(ago(1));
    assert_eq!(cells("batch", "Job", &deleting)[1], json!("Terminating"));
}

#[test]
fn cron_job_rows() {
    assert_eq!(
        headers("batch", "CronJob")
            .iter()
            .map(|h| (h.0, h.1, h.3))
            .collect::<Vec<_>>(),
        vec![
            ("Name", "string", 0),
            ("Schedule", "string", 0),
            ("Timezone", "string", 0),
            ("Suspend", "boolean", 0),
            ("Active", "integer", 0),
            ("Last Schedule", "string", 0),
            ("Age", "string", 0),
            ("Containers", "string", 1),
            ("Images", "string", 1),
            ("Selector", "string", 1),
        ]
    );
    let cj = json!({
        "metadata": meta("nightly"),
        "spec": {"schedule": "0 3 * * *", "timeZone": "Etc/UTC", "suspend": false,
                 "jobTemplate": {"spec": {"template": template()}}},
        "status": {"active": [{"name": "nightly-1"}], "lastScheduleTime": ago(3 * 3600 + 25 * 60)}
    });
    assert_eq!(
        cells("batch", "CronJob", &cj),
        vec![
            json!("nightly"),
            json!("0 3 * * *"),
            json!("Etc/UTC"),
            json!("False"),
            json!(1),
            json!("3h25m"),
            json!("10m"),
            json!("nginx,sidecar"),
            json!("nginx:1.27,busybox"),
            json!("<none>")
        ]
    );
    let never = json!({"metadata": meta("never"), "spec": {"schedule": "@hourly", "suspend": true, "jobTemplate": {"spec": {}}}});
    assert_eq!(
        cells("batch", "CronJob", &never),
        vec![
            json!("never"),
            json!("@hourly"),
            json!("<none>"),
            json!("True"),
            json!(0),
            json!("<none>"),
            json!("10m"),
            json!(""),
            json!(""),
            json!("<none>")
        ]
    );
    let unset = json!({"metadata": meta("u"), "spec": {"schedule": "* * * * *"}});
    assert_eq!(cells("batch", "CronJob", &unset)[3], json!("<unset>"));
}
