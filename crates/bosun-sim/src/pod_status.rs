//! The status a kubelet would post for a pod, built from the pod alone:
//! Running (containers started, IPs assigned) and Succeeded/Failed, plus
//! the QoS class and the `sim.bosun.dev/*-after` annotations. Pure.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::Duration;

use bosun_core::quantity::Quantity;
use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::{Container, Pod, PodSpec};
use serde_json::{json, Value};

use crate::config::{parse_duration, ConfigError};
use crate::node::time_string;

/// Annotation: the pod succeeds this long after it started.
pub const COMPLETE_AFTER: &str = "sim.bosun.dev/complete-after";
/// Annotation: the pod fails this long after it started.
pub const FAIL_AFTER: &str = "sim.bosun.dev/fail-after";

/// How a pod ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    Failed,
}

/// When (after its start) and how the pod ends, from its annotations;
/// `Ok(None)` for a pod that runs until deleted. With both annotations the
/// earlier wins (failure on a tie).
pub fn planned_end(pod: &Pod) -> Result<Option<(Duration, Outcome)>, ConfigError> {
    let Some(annotations) = pod.metadata.annotations.as_ref() else {
        return Ok(None);
    };
    let complete = annotations
        .get(COMPLETE_AFTER)
        .map(|s| parse_duration(s))
        .transpose()?;
    let fail = annotations
        .get(FAIL_AFTER)
        .map(|s| parse_duration(s))
        .transpose()?;
    Ok(match (complete, fail) {
        (Some(c), Some(f)) if c < f => Some((c, Outcome::Succeeded)),
        (_, Some(f)) => Some((f, Outcome::Failed)),
        (Some(c), None) => Some((c, Outcome::Succeeded)),
        (None, None) => None,
    })
}

type ResourceList = BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>;

/// The quantity of `name` in `list` if it is above zero.
fn positive(list: Option<&ResourceList>, name: &str) -> Option<Quantity> {
    list.and_then(|m| m.get(name))
        .and_then(|q| Quantity::parse(&q.0).ok())
        .filter(|q| !q.is_zero() && !q.is_negative())
}

/// Guaranteed, Burstable or BestEffort, computed as upstream's
/// `ComputePodQOS`: requests and limits of cpu and memory summed over all
/// containers and init containers, zero quantities ignored; Guaranteed needs
/// cpu and memory limits on every container and requests equal to limits.
pub fn qos_class(spec: &PodSpec) -> &'static str {
    let mut requests: BTreeMap<&str, Quantity> = BTreeMap::new();
    let mut limits: BTreeMap<&str, Quantity> = BTreeMap::new();
    let mut guaranteed = true;
    let init = spec.init_containers.as_deref().unwrap_or_default();
    for c in spec.containers.iter().chain(init) {
        let resources = c.resources.as_ref();
        let mut limits_found = 0;
        for name in ["cpu", "memory"] {
            if let Some(q) = positive(resources.and_then(|r| r.requests.as_ref()), name) {
                let sum = requests.get(name).map_or(q, |acc| acc.add(&q));
                requests.insert(name, sum);
            }
            if let Some(q) = positive(resources.and_then(|r| r.limits.as_ref()), name) {
                limits_found += 1;
                let sum = limits.get(name).map_or(q, |acc| acc.add(&q));
                limits.insert(name, sum);
            }
        }
        if limits_found < 2 {
            guaranteed = false;
        }
    }
    if requests.is_empty() && limits.is_empty() {
        return "BestEffort";
    }
    if guaranteed {
        guaranteed = requests
            .iter()
            .all(|(name, req)| limits.get(name).is_some_and(|lim| lim == req));
    }
    if guaranteed && requests.len() == limits.len() {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

fn uid(pod: &Pod) -> &str {
    pod.metadata.uid.as_deref().unwrap_or_default()
}

/// A container ID unique to the pod and container: `bosun-sim://<hex>`.
pub fn container_id(pod_uid: &str, init: bool, index: usize) -> String {
    let hex: String = pod_uid.chars().filter(char::is_ascii_hexdigit).collect();
    format!(
        "bosun-sim://{hex:0>32}{:08x}",
        (index as u64) | if init { 1 << 31 } else { 0 }
    )
}

/// The pod's current conditions as JSON (empty if none).
fn existing_conditions(pod: &Pod) -> Vec<Value> {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .map(|c| {
            c.iter()
                .filter_map(|c| serde_json::to_value(c).ok())
                .collect()
        })
        .unwrap_or_default()
}

/// `desired` conditions (type, status, reason) in order, keeping the
/// lastTransitionTime of those whose status does not change, followed by
/// the pod's other conditions (readiness gates, DisruptionTarget, ...).
fn conditions(pod: &Pod, desired: &[(&str, &str, Option<&str>)], now: &str) -> Value {
    let existing = existing_conditions(pod);
    let mut out = Vec::with_capacity(desired.len() + existing.len());
    for (ty, status, reason) in desired {
        let prior = existing.iter().find(|c| c["type"] == *ty);
        let transition = prior
            .filter(|c| c["status"] == *status)
            .and_then(|c| c["lastTransitionTime"].as_str())
            .unwrap_or(now);
        let mut c = json!({
            "type": ty,
            "status": status,
            "lastProbeTime": null,
            "lastTransitionTime": transition,
        });
        if let Some(reason) = reason {
            c["reason"] = json!(reason);
        }
        out.push(c);
    }
    for c in existing {
        let ty = c["type"].as_str().unwrap_or_default();
        if !desired.iter().any(|(d, _, _)| *d == ty) {
            out.push(c);
        }
    }
    Value::Array(out)
}

/// Whether every readiness gate's condition is True.
fn readiness_gates_pass(pod: &Pod) -> bool {
    let Some(gates) = pod.spec.as_ref().and_then(|s| s.readiness_gates.as_ref()) else {
        return true;
    };
    let existing = existing_conditions(pod);
    gates.iter().all(|g| {
        existing
            .iter()
            .any(|c| c["type"] == g.condition_type.as_str() && c["status"] == "True")
    })
}

fn image_id(image: &str) -> String {
    format!("bosun-sim://{image}")
}

fn running_container(pod_uid: &str, c: &Container, init: bool, index: usize, now: &str) -> Value {
    let image = c.image.as_deref().unwrap_or_default();
    json!({
        "name": c.name,
        "image": image,
        "imageID": image_id(image),
        "containerID": container_id(pod_uid, init, index),
        "ready": true,
        "started": true,
        "restartCount": 0,
        "state": {"running": {"startedAt": now}},
        "lastState": {},
    })
}

fn terminated_container(
    pod_uid: &str,
    c: &Container,
    init: bool,
    index: usize,
    started: &str,
    finished: &str,
    exit_code: i32,
) -> Value {
    let image = c.image.as_deref().unwrap_or_default();
    let id = container_id(pod_uid, init, index);
    json!({
        "name": c.name,
        "image": image,
        "imageID": image_id(image),
        "containerID": id,
        // Upstream reports a completed init container as ready.
        "ready": init && exit_code == 0,
        "started": false,
        "restartCount": 0,
        "state": {"terminated": {
            "exitCode": exit_code,
            "reason": if exit_code == 0 { "Completed" } else { "Error" },
            "startedAt": started,
            "finishedAt": finished,
            "containerID": id,
        }},
        "lastState": {},
    })
}

fn is_sidecar(c: &Container) -> bool {
    c.restart_policy.as_deref() == Some("Always")
}

/// The status patch that starts `pod` on a node: phase Running, every
/// container running and ready, init containers completed (sidecars
/// running), addresses assigned. The patch carries the pod's uid, so it
/// cannot land on a pod recreated under the same name.
pub fn running_patch(pod: &Pod, host_ip: Ipv4Addr, pod_ip: Ipv4Addr, now: DateTime<Utc>) -> Value {
    let now_s = time_string(now);
    let uid = uid(pod);
    let default_spec = PodSpec::default();
    let spec = pod.spec.as_ref().unwrap_or(&default_spec);
    let started = pod
        .status
        .as_ref()
        .and_then(|s| s.start_time.as_ref())
        .and_then(|t| serde_json::to_value(t).ok())
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| now_s.clone());
    let ready = readiness_gates_pass(pod);
    let (ready_status, ready_reason) = if ready {
        ("True", None)
    } else {
        ("False", Some("ReadinessGatesNotReady"))
    };
    let conds = conditions(
        pod,
        &[
            ("PodReadyToStartContainers", "True", None),
            ("Initialized", "True", None),
            ("Ready", ready_status, ready_reason),
            ("ContainersReady", "True", None),
            ("PodScheduled", "True", None),
        ],
        &now_s,
    );
    let containers: Vec<Value> = spec
        .containers
        .iter()
        .enumerate()
        .map(|(i, c)| running_container(uid, c, false, i, &now_s))
        .collect();
    let mut status = json!({
        "phase": "Running",
        "conditions": conds,
        "hostIP": host_ip.to_string(),
        "hostIPs": [{"ip": host_ip.to_string()}],
        "podIP": pod_ip.to_string(),
        "podIPs": [{"ip": pod_ip.to_string()}],
        "startTime": started,
        "qosClass": qos_class(spec),
        "containerStatuses": containers,
    });
    if let Some(init) = spec.init_containers.as_ref().filter(|i| !i.is_empty()) {
        let statuses: Vec<Value> = init
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if is_sidecar(c) {
                    running_container(uid, c, true, i, &now_s)
                } else {
                    terminated_container(uid, c, true, i, &now_s, &now_s, 0)
                }
            })
            .collect();
        status["initContainerStatuses"] = Value::Array(statuses);
    }
    json!({"metadata": {"uid": uid}, "status": status})
}

/// When a running container started, from its current status.
fn container_started(pod: &Pod, name: &str, init: bool) -> Option<String> {
    let status = pod.status.as_ref()?;
    let list = if init {
        status.init_container_statuses.as_ref()
    } else {
        status.container_statuses.as_ref()
    }?;
    let c = list.iter().find(|c| c.name == name)?;
    let state = c.state.as_ref()?;
    let t = state
        .running
        .as_ref()
        .and_then(|r| r.started_at.as_ref())
        .or_else(|| {
            state
                .terminated
                .as_ref()
                .and_then(|t| t.started_at.as_ref())
        })?;
    serde_json::to_value(t).ok()?.as_str().map(str::to_string)
}

/// The status patch that ends a running pod: Succeeded (exit code 0,
/// Completed) or Failed (exit code 1, Error), no longer ready.
pub fn finished_patch(pod: &Pod, outcome: Outcome, now: DateTime<Utc>) -> Value {
    let now_s = time_string(now);
    let uid = uid(pod);
    let default_spec = PodSpec::default();
    let spec = pod.spec.as_ref().unwrap_or(&default_spec);
    let (phase, exit_code) = match outcome {
        Outcome::Succeeded => ("Succeeded", 0),
        Outcome::Failed => ("Failed", 1),
    };
    let conds = conditions(
        pod,
        &[
            ("PodReadyToStartContainers", "False", None),
            ("Initialized", "True", None),
            ("Ready", "False", Some("PodCompleted")),
            ("ContainersReady", "False", Some("PodCompleted")),
            ("PodScheduled", "True", None),
        ],
        &now_s,
    );
    let containers: Vec<Value> = spec
        .containers
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let started = container_started(pod, &c.name, false).unwrap_or_else(|| now_s.clone());
            terminated_container(uid, c, false, i, &started, &now_s, exit_code)
        })
        .collect();
    let mut status = json!({
        "phase": phase,
        "conditions": conds,
        "containerStatuses": containers,
    });
    if let Some(init) = spec.init_containers.as_ref().filter(|i| !i.is_empty()) {
        let statuses: Vec<Value> = init
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let started =
                    container_started(pod, &c.name, true).unwrap_or_else(|| now_s.clone());
                let finished = if is_sidecar(c) {
                    now_s.clone()
                } else {
                    started.clone()
                };
                terminated_container(uid, c, true, i, &started, &finished, 0)
            })
            .collect();
        status["initContainerStatuses"] = Value::Array(statuses);
    }
    json!({"metadata": {"uid": uid}, "status": status})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(v: Value) -> Pod {
        serde_json::from_value(v).expect("valid pod")
    }

    fn spec_with(containers: Value, init: Value) -> PodSpec {
        serde_json::from_value(json!({"containers": containers, "initContainers": init}))
            .expect("valid spec")
    }

    fn res(requests: Value, limits: Value) -> Value {
        json!({"name": "c", "resources": {"requests": requests, "limits": limits}})
    }

    #[test]
    fn qos_best_effort() {
        assert_eq!(
            qos_class(&spec_with(json!([{"name": "c"}]), json!([]))),
            "BestEffort"
        );
        // Zero quantities and other resources do not count.
        let s = spec_with(
            json!([res(
                json!({"cpu": "0", "nvidia.com/gpu": "1"}),
                json!({"nvidia.com/gpu": "1"})
            )]),
            json!([]),
        );
        assert_eq!(qos_class(&s), "BestEffort");
    }

    #[test]
    fn qos_guaranteed() {
        let both = json!({"cpu": "1", "memory": "1Gi"});
        let s = spec_with(json!([res(both.clone(), both.clone())]), json!([]));
        assert_eq!(qos_class(&s), "Guaranteed");
        // Quantities compare by value, not spelling.
        let s = spec_with(
            json!([res(
                json!({"cpu": "1000m", "memory": "1024Mi"}),
                both.clone()
            )]),
            json!([]),
        );
        assert_eq!(qos_class(&s), "Guaranteed");
        // Sums over containers are what must match.
        let s = spec_with(
            json!([
                res(
                    json!({"cpu": "2", "memory": "1Gi"}),
                    json!({"cpu": "1", "memory": "1Gi"})
                ),
                res(
                    json!({"cpu": "1", "memory": "1Gi"}),
                    json!({"cpu": "2", "memory": "1Gi"})
                ),
            ]),
            json!([]),
        );
        assert_eq!(qos_class(&s), "Guaranteed");
    }

    #[test]
    fn qos_burstable() {
        let s = spec_with(json!([res(json!({"cpu": "100m"}), json!({}))]), json!([]));
        assert_eq!(qos_class(&s), "Burstable");
        // Limits on cpu only: not Guaranteed.
        let s = spec_with(
            json!([res(json!({"cpu": "1"}), json!({"cpu": "1"}))]),
            json!([]),
        );
        assert_eq!(qos_class(&s), "Burstable");
        // A second container without limits.
        let both = json!({"cpu": "1", "memory": "1Gi"});
        let s = spec_with(
            json!([res(both.clone(), both.clone()), {"name": "d"}]),
            json!([]),
        );
        assert_eq!(qos_class(&s), "Burstable");
        // An init container counts too.
        let s = spec_with(
            json!([res(both.clone(), both.clone())]),
            json!([res(json!({"cpu": "1"}), json!({}))]),
        );
        assert_eq!(qos_class(&s), "Burstable");
        // Requests below limits.
        let s = spec_with(
            json!([res(json!({"cpu": "500m", "memory": "1Gi"}), both)]),
            json!([]),
        );
        assert_eq!(qos_class(&s), "Burstable");
    }

    #[test]
    fn container_ids() {
        let id = container_id("0b8f6a4e-1111-2222-3333-444455556666", false, 1);
        assert_eq!(id, "bosun-sim://0b8f6a4e11112222333344445555666600000001");
        assert_ne!(
            id,
            container_id("0b8f6a4e-1111-2222-3333-444455556666", true, 1)
        );
    }

    fn sample_pod() -> Pod {
        pod(json!({
            "metadata": {"name": "p", "namespace": "ns", "uid": "aaaa-bbbb",
                         "annotations": {COMPLETE_AFTER: "1s"}},
            "spec": {
                "nodeName": "sim-0",
                "containers": [{"name": "main", "image": "nginx:1.27"}],
                "initContainers": [
                    {"name": "setup", "image": "busybox"},
                    {"name": "proxy", "image": "envoy", "restartPolicy": "Always"},
                ],
            },
            "status": {"phase": "Pending", "conditions": [
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": "2020-01-01T00:00:00Z"},
                {"type": "example.com/gate", "status": "True"},
            ]},
        }))
    }

    #[test]
    fn running_status() {
        let now = DateTime::parse_from_rfc3339("2025-03-04T05:06:07Z")
            .expect("time")
            .with_timezone(&Utc);
        let p = running_patch(
            &sample_pod(),
            Ipv4Addr::new(172, 16, 0, 1),
            Ipv4Addr::new(10, 0, 0, 2),
            now,
        );
        assert_eq!(p["metadata"]["uid"], "aaaa-bbbb");
        let s = &p["status"];
        assert_eq!(s["phase"], "Running");
        assert_eq!(s["podIP"], "10.0.0.2");
        assert_eq!(s["podIPs"], json!([{"ip": "10.0.0.2"}]));
        assert_eq!(s["hostIP"], "172.16.0.1");
        assert_eq!(s["startTime"], "2025-03-04T05:06:07Z");
        assert_eq!(s["qosClass"], "BestEffort");
        let types: Vec<&str> = s["conditions"]
            .as_array()
            .map(|c| c.iter().filter_map(|c| c["type"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(
            types,
            [
                "PodReadyToStartContainers",
                "Initialized",
                "Ready",
                "ContainersReady",
                "PodScheduled",
                "example.com/gate"
            ]
        );
        for c in s["conditions"].as_array().into_iter().flatten() {
            assert_eq!(c["status"], "True", "{c}");
        }
        // PodScheduled keeps its transition time.
        assert_eq!(
            s["conditions"][4]["lastTransitionTime"],
            "2020-01-01T00:00:00Z"
        );
        assert_eq!(
            s["conditions"][2]["lastTransitionTime"],
            "2025-03-04T05:06:07Z"
        );
        let c = &s["containerStatuses"][0];
        assert_eq!(c["name"], "main");
        assert_eq!(c["ready"], true);
        assert_eq!(c["started"], true);
        assert_eq!(c["restartCount"], 0);
        assert_eq!(c["state"]["running"]["startedAt"], "2025-03-04T05:06:07Z");
        assert!(c["containerID"]
            .as_str()
            .is_some_and(|id| id.starts_with("bosun-sim://")));
        let init = &s["initContainerStatuses"];
        assert_eq!(init[0]["state"]["terminated"]["reason"], "Completed");
        assert_eq!(init[0]["state"]["terminated"]["exitCode"], 0);
        assert_eq!(init[0]["ready"], true);
        assert!(init[1]["state"]["running"].is_object());
        // The patch's status is a valid typed PodStatus.
        let _: k8s_openapi::api::core::v1::PodStatus =
            serde_json::from_value(s.clone()).expect("typed status");
    }

    #[test]
    fn readiness_gate_not_ready() {
        let p = pod(json!({
            "metadata": {"name": "p", "uid": "u"},
            "spec": {"containers": [{"name": "c"}], "readinessGates": [{"conditionType": "x/y"}]},
        }));
        let s = running_patch(&p, Ipv4Addr::LOCALHOST, Ipv4Addr::LOCALHOST, Utc::now());
        assert_eq!(s["status"]["conditions"][2]["type"], "Ready");
        assert_eq!(s["status"]["conditions"][2]["status"], "False");
    }

    #[test]
    fn finished_status() {
        let now = Utc::now();
        let mut running: Pod = sample_pod();
        let patch = running_patch(&running, Ipv4Addr::LOCALHOST, Ipv4Addr::LOCALHOST, now);
        running.status = serde_json::from_value(patch["status"].clone()).expect("status");
        for (outcome, phase, code, reason) in [
            (Outcome::Succeeded, "Succeeded", 0, "Completed"),
            (Outcome::Failed, "Failed", 1, "Error"),
        ] {
            let p = finished_patch(&running, outcome, now);
            let s = &p["status"];
            assert_eq!(s["phase"], phase);
            let ready = s["conditions"]
                .as_array()
                .and_then(|c| c.iter().find(|c| c["type"] == "Ready"))
                .cloned()
                .unwrap_or_default();
            assert_eq!(ready["status"], "False");
            assert_eq!(ready["reason"], "PodCompleted");
            let c = &s["containerStatuses"][0];
            assert_eq!(c["ready"], false);
            assert_eq!(c["state"]["terminated"]["exitCode"], code);
            assert_eq!(c["state"]["terminated"]["reason"], reason);
            assert_eq!(
                c["state"]["terminated"]["startedAt"],
                running_started(&running)
            );
            let _: k8s_openapi::api::core::v1::PodStatus =
                serde_json::from_value(s.clone()).expect("typed status");
        }
    }

    fn running_started(p: &Pod) -> String {
        container_started(p, "main", false).unwrap_or_default()
    }

    #[test]
    fn planned_ends() {
        let mut p = sample_pod();
        assert_eq!(
            planned_end(&p),
            Ok(Some((Duration::from_secs(1), Outcome::Succeeded)))
        );
        let annotate = |p: &mut Pod, v: &str| {
            p.metadata
                .annotations
                .get_or_insert_with(BTreeMap::new)
                .insert(FAIL_AFTER.into(), v.into());
        };
        annotate(&mut p, "500ms");
        assert_eq!(
            planned_end(&p),
            Ok(Some((Duration::from_millis(500), Outcome::Failed)))
        );
        annotate(&mut p, "soon");
        assert!(planned_end(&p).is_err());
        p.metadata.annotations = None;
        assert_eq!(planned_end(&p), Ok(None));
    }
}
