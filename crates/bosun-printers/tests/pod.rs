//! Pod rows: READY, STATUS reason logic, RESTARTS and the wide columns.

mod common;

use common::{ago, default_cells, headers, wide_cells};
use serde_json::{json, Value};

fn pod(spec: Value, status: Value) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web-0", "namespace": "default", "creationTimestamp": ago(300)},
        "spec": spec,
        "status": status,
    })
}

fn two_containers() -> Value {
    json!({"containers": [{"name": "a", "image": "nginx"}, {"name": "b", "image": "redis"}]})
}

fn running(restarts: i64) -> Value {
    json!({"ready": true, "restartCount": restarts, "state": {"running": {"startedAt": ago(200)}}})
}

#[test]
fn pod_columns_match_upstream() {
    assert_eq!(
        headers("", "Pod"),
        vec![
            ("Name", "string", "name", 0),
            ("Ready", "string", "", 0),
            ("Status", "string", "", 0),
            ("Restarts", "string", "", 0),
            ("Age", "string", "", 0),
            ("IP", "string", "", 1),
            ("Node", "string", "", 1),
            ("Nominated Node", "string", "", 1),
            ("Readiness Gates", "string", "", 1),
        ]
    );
}

#[test]
fn pod_status_table() {
    let cases: Vec<(&str, Value, Vec<Value>)> = vec![
        (
            "running, all ready",
            pod(
                two_containers(),
                json!({"phase": "Running", "containerStatuses": [running(0), running(0)]}),
            ),
            vec![
                json!("web-0"),
                json!("2/2"),
                json!("Running"),
                json!("0"),
                json!("5m"),
            ],
        ),
        (
            "pending without statuses",
            pod(
                json!({"containers": [{"name": "a"}]}),
                json!({"phase": "Pending"}),
            ),
            vec![
                json!("web-0"),
                json!("0/1"),
                json!("Pending"),
                json!("0"),
                json!("5m"),
            ],
        ),
        (
            "container creating",
            pod(
                json!({"containers": [{"name": "a"}]}),
                json!({"phase": "Pending", "containerStatuses": [
                    {"ready": false, "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}}}
                ]}),
            ),
            vec![
                json!("web-0"),
                json!("0/1"),
                json!("ContainerCreating"),
                json!("0"),
                json!("5m"),
            ],
        ),
        (
            "crash loop with restarts and last restart time",
            pod(
                two_containers(),
                json!({"phase": "Running", "containerStatuses": [
                    running(0),
                    {"ready": false, "restartCount": 4,
                     "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                     "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": ago(62)}}}
                ]}),
            ),
            vec![
                json!("web-0"),
                json!("1/2"),
                json!("CrashLoopBackOff"),
                json!("4 (62s ago)"),
                json!("5m"),
            ],
        ),
        (
            "restarts without a last termination time stay plain",
            pod(
                two_containers(),
                json!({"phase": "Running", "containerStatuses": [running(3), running(3)]}),
            ),
            vec![
                json!("web-0"),
                json!("2/2"),
                json!("Running"),
                json!("6"),
                json!("5m"),
            ],
        ),
        (
            "latest of several last terminations wins",
            pod(
                two_containers(),
                json!({"phase": "Running", "containerStatuses": [
                    {"ready": true, "restartCount": 1, "state": {"running": {}},
                     "lastState": {"terminated": {"exitCode": 1, "finishedAt": ago(3600)}}},
                    {"ready": true, "restartCount": 2, "state": {"running": {}},
                     "lastState": {"terminated": {"exitCode": 1, "finishedAt": ago(182)}}}
                ]}),
            ),
            vec![
                json!("web-0"),
                json!("2/2"),
                json!("Running"),
                json!("3 (3m2s ago)"),
                json!("5m"),
            ],
        ),
        (
            "terminated with reason",
            pod(
                json!({"containers": [{"name": "a"}]}),
                json!({"phase": "Succeeded", "containerStatuses": [
                    {"ready": false, "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}
                ]}),
            ),
            vec![
                json!("web-0"),
                json!("0/1"),
                json!("Completed"),
                json!("0"),
                json!("5m"),
            ],
        ),
        (
            "terminated by signal without reason",
            pod(
                json!({"containers": [{"name": "a"}]}),
                json!({"phase": "Failed", "containerStatuses": [
                    {"restartCount": 0, "state": {"terminated": {"exitCode": 137, "signal": 9}}}
                ]}),
            ),
            vec![
                json!("web-0"),
                json!("0/1"),
                json!("Signal:9"),
                json!("0"),
                json!("5m"),
            ],
        ),
        (
            "terminated with exit code without reason",
            pod(
                json!({"containers": [{"name": "a"}]}),
                json!({"phase": "Failed", "containerStatuses": [
                    {"restartCount": 0, "state": {"terminated": {"exitCode": 2}}}
                ]}),
            ),
            vec![
                json!("web-0"),
                json!("0/1"),
                json!("ExitCode:2"),
                json!("0"),
                json!("5m"),
            ],
        ),
        (
            "status reason overrides phase",
            pod(
                json!({"containers": [{"name": "a"}]}),
                json!({"phase": "Failed", "reason": "Evicted"}),
            ),
            vec![
                json!("web-0"),
                json!("0/1"),
                json!("Evicted"),
                json!("0"),
                json!("5m"),
            ],
        ),
        (
            "scheduling gated",
            pod(
                json!({"containers": [{"name": "a"}], "schedulingGates": [{"name": "g"}]}),
                json!({"phase": "Pending", "conditions": [
                    {"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}
                ]}),
            ),
            vec![
                json!("web-0"),
                json!("0/1"),
                json!("SchedulingGated"),
                json!("0"),
                json!("5m"),
            ],
        ),
        (
            "completed container but another still running and pod ready",
            pod(
                two_containers(),
                json!({"phase": "Running",
                       "conditions": [{"type": "Ready", "status": "True"}],
                       "containerStatuses": [
                    running(0),
                    {"ready": false, "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}
                ]}),
            ),
            vec![
                json!("web-0"),
                json!("1/2"),
                json!("Running"),
                json!("0"),
                json!("5m"),
            ],
        ),
        (
            "completed container but another still running and pod not ready",
            pod(
                two_containers(),
                json!({"phase": "Running",
                       "conditions": [{"type": "Ready", "status": "False"}],
                       "containerStatuses": [
                    running(0),
                    {"ready": false, "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}
                ]}),
            ),
            vec![
                json!("web-0"),
                json!("1/2"),
                json!("NotReady"),
                json!("0"),
                json!("5m"),
            ],
        ),
    ];
    for (name, obj, want) in cases {
        assert_eq!(default_cells("", "Pod", &obj), want, "case: {name}");
    }
}

fn with_init(init_statuses: Value, statuses: Value, conditions: Value) -> Value {
    pod(
        json!({
            "initContainers": [{"name": "init-a"}, {"name": "init-b"}],
            "containers": [{"name": "app"}],
        }),
        json!({
            "phase": "Pending",
            "conditions": conditions,
            "initContainerStatuses": init_statuses,
            "containerStatuses": statuses,
        }),
    )
}

#[test]
fn pod_init_container_reasons() {
    let app_waiting =
        json!([{"restartCount": 0, "state": {"waiting": {"reason": "PodInitializing"}}}]);
    let cases: Vec<(&str, Value, &str, &str)> = vec![
        (
            "first init container still initializing",
            json!([
                {"name": "init-a", "restartCount": 0, "state": {"waiting": {"reason": "PodInitializing"}}},
                {"name": "init-b", "restartCount": 0, "state": {"waiting": {"reason": "PodInitializing"}}}
            ]),
            "Init:0/2",
            "0",
        ),
        (
            "first done, second running",
            json!([
                {"name": "init-a", "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                {"name": "init-b", "restartCount": 0, "state": {"running": {}}}
            ]),
            "Init:1/2",
            "0",
        ),
        (
            "init crash loop",
            json!([
                {"name": "init-a", "restartCount": 5, "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                 "lastState": {"terminated": {"exitCode": 1, "finishedAt": ago(30)}}},
                {"name": "init-b", "restartCount": 0, "state": {"waiting": {}}}
            ]),
            "Init:CrashLoopBackOff",
            "5 (30s ago)",
        ),
        (
            "init failed with reason",
            json!([
                {"name": "init-a", "restartCount": 0, "state": {"terminated": {"exitCode": 1, "reason": "Error"}}}
            ]),
            "Init:Error",
            "0",
        ),
        (
            "init killed by signal",
            json!([
                {"name": "init-a", "restartCount": 0, "state": {"terminated": {"exitCode": 137, "signal": 9}}}
            ]),
            "Init:Signal:9",
            "0",
        ),
        (
            "init failed with exit code",
            json!([
                {"name": "init-a", "restartCount": 0, "state": {"terminated": {"exitCode": 3}}}
            ]),
            "Init:ExitCode:3",
            "0",
        ),
    ];
    for (name, init, reason, restarts) in cases {
        let obj = with_init(init, app_waiting.clone(), json!([]));
        let got = default_cells("", "Pod", &obj);
        assert_eq!(got[1], json!("0/1"), "case: {name}");
        assert_eq!(got[2], json!(reason), "case: {name}");
        assert_eq!(got[3], json!(restarts), "case: {name}");
    }
}

#[test]
fn pod_initialized_condition_uses_main_containers() {
    // With Initialized=True the app containers are still counted (ready and
    // restarts), while the init reason stays unless an app container
    // overrides it.
    let obj = with_init(
        json!([{"name": "init-a", "restartCount": 1, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]),
        json!([{"ready": true, "restartCount": 2, "state": {"running": {}}}]),
        json!([{"type": "Initialized", "status": "True"}]),
    );
    let got = default_cells("", "Pod", &obj);
    assert_eq!(got[1], json!("1/1"));
    assert_eq!(got[2], json!("Init:CrashLoopBackOff"));
    assert_eq!(got[3], json!("2"));
}

#[test]
fn pod_sidecar_containers_count_towards_ready() {
    let obj = pod(
        json!({
            "initContainers": [{"name": "proxy", "restartPolicy": "Always"}, {"name": "setup"}],
            "containers": [{"name": "app"}],
        }),
        json!({
            "phase": "Running",
            "conditions": [{"type": "Initialized", "status": "True"}],
            "initContainerStatuses": [
                {"name": "proxy", "ready": true, "started": true, "restartCount": 2, "state": {"running": {}},
                 "lastState": {"terminated": {"exitCode": 1, "finishedAt": ago(600)}}},
                {"name": "setup", "ready": false, "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}
            ],
            "containerStatuses": [running(1)],
        }),
    );
    assert_eq!(
        default_cells("", "Pod", &obj),
        vec![
            json!("web-0"),
            json!("2/2"),
            json!("Running"),
            json!("3 (10m ago)"),
            json!("5m")
        ]
    );
}

#[test]
fn pod_deletion_reasons() {
    let mut terminating = pod(
        json!({"containers": [{"name": "a"}]}),
        json!({"phase": "Running", "containerStatuses": [running(0)]}),
    );
    terminating["metadata"]["deletionTimestamp"] = json!(ago(10));
    assert_eq!(
        default_cells("", "Pod", &terminating)[2],
        json!("Terminating")
    );

    let mut lost = terminating.clone();
    lost["status"]["reason"] = json!("NodeLost");
    assert_eq!(default_cells("", "Pod", &lost)[2], json!("Unknown"));

    let mut done = pod(
        json!({"containers": [{"name": "a"}]}),
        json!({"phase": "Succeeded", "containerStatuses": [
            {"restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}
        ]}),
    );
    done["metadata"]["deletionTimestamp"] = json!(ago(10));
    assert_eq!(default_cells("", "Pod", &done)[2], json!("Completed"));
}

#[test]
fn pod_wide_columns() {
    let obj = pod(
        json!({
            "containers": [{"name": "a"}],
            "nodeName": "node-1",
            "readinessGates": [{"conditionType": "example.com/gate-a"}, {"conditionType": "example.com/gate-b"}],
        }),
        json!({
            "phase": "Running",
            "podIP": "10.1.2.3",
            "podIPs": [{"ip": "10.1.2.3"}, {"ip": "fd00::3"}],
            "nominatedNodeName": "node-2",
            "conditions": [
                {"type": "example.com/gate-a", "status": "True"},
                {"type": "example.com/gate-b", "status": "False"}
            ],
            "containerStatuses": [running(0)],
        }),
    );
    assert_eq!(
        wide_cells("", "Pod", &obj),
        vec![
            json!("10.1.2.3"),
            json!("node-1"),
            json!("node-2"),
            json!("1/2")
        ]
    );

    let bare = pod(
        json!({"containers": [{"name": "a"}]}),
        json!({"phase": "Pending"}),
    );
    assert_eq!(
        wide_cells("", "Pod", &bare),
        vec![
            json!("<none>"),
            json!("<none>"),
            json!("<none>"),
            json!("<none>")
        ]
    );

    let ips_only = pod(
        json!({"containers": [{"name": "a"}]}),
        json!({"phase": "Running", "podIPs": [{"ip": "fd00::7"}]}),
    );
    assert_eq!(wide_cells("", "Pod", &ips_only)[0], json!("fd00::7"));
}

#[test]
fn pod_unknown_age_without_creation_timestamp() {
    let obj = json!({"metadata": {"name": "x"}, "spec": {"containers": []}, "status": {}});
    assert_eq!(
        default_cells("", "Pod", &obj),
        vec![
            json!("x"),
            json!("0/0"),
            json!(""),
            json!("0"),
            json!("<unknown>")
        ]
    );
}
