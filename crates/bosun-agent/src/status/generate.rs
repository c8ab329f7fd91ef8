//! The pod's API status from what the runtime runs (kubelet's
//! generateAPIPodStatus): phase, conditions, container statuses, IPs,
//! start time and QoS class. Pure.

use std::collections::HashMap;

use k8s_openapi::api::core::v1::{Container, Pod};
use serde_json::{json, Value};

use crate::kuberuntime::actions::{
    containers, init_containers, init_progress, is_sidecar, InitProgress, RestartPolicy,
};
use crate::kuberuntime::state::{
    container_id_uri, nanos_to_time, ContainerRecord, ContainerState, PodRuntimeStatus,
};
use crate::prober::manager::Probed;

/// Why a container is waiting, as the last sync found (ErrImagePull,
/// CrashLoopBackOff, CreateContainerError, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    pub reason: String,
    pub message: String,
}

/// Inputs besides the pod and the runtime state.
pub struct StatusContext<'a> {
    pub host_ip: Option<&'a str>,
    pub now: &'a str,
    /// Container name → why it waits.
    pub waiting: &'a HashMap<String, Waiting>,
    /// Container name → probe-driven started/ready of running containers
    /// (absent: no probes, both true).
    pub probed: &'a HashMap<String, Probed>,
}

impl StatusContext<'_> {
    fn probed(&self, name: &str) -> Probed {
        self.probed.get(name).copied().unwrap_or(Probed {
            started: true,
            ready: true,
        })
    }

    fn started(&self, r: &ContainerRecord) -> bool {
        self.probed(&r.name).started
    }
}

fn terminated(r: &ContainerRecord) -> Value {
    let reason = if !r.reason.is_empty() {
        r.reason.clone()
    } else if r.exit_code == 0 {
        "Completed".into()
    } else {
        "Error".into()
    };
    let mut t = json!({
        "exitCode": r.exit_code,
        "reason": reason,
        "containerID": container_id_uri(&r.id),
    });
    if let Some(s) = nanos_to_time(r.started_at) {
        t["startedAt"] = json!(s);
    }
    if let Some(f) = nanos_to_time(r.finished_at) {
        t["finishedAt"] = json!(f);
    }
    if !r.message.is_empty() {
        t["message"] = json!(r.message);
    }
    json!({ "terminated": t })
}

fn waiting(reason: &str, message: &str) -> Value {
    let mut w = json!({ "reason": reason });
    if !message.is_empty() {
        w["message"] = json!(message);
    }
    json!({ "waiting": w })
}

/// One containerStatuses entry.
fn container_status(
    c: &Container,
    rt: &PodRuntimeStatus,
    ctx: &StatusContext<'_>,
    init: bool,
    default_waiting: &str,
) -> Value {
    let latest = rt.latest(&c.name);
    let mut s = json!({
        "name": c.name,
        "image": c.image.clone().unwrap_or_default(),
        "imageID": "",
        "ready": false,
        "restartCount": 0,
        "started": false,
        "lastState": {},
    });
    let Some(r) = latest else {
        let (reason, message) = match ctx.waiting.get(&c.name) {
            Some(w) => (w.reason.as_str(), w.message.as_str()),
            None => (default_waiting, ""),
        };
        s["state"] = waiting(reason, message);
        return s;
    };
    s["imageID"] = json!(r.image_ref);
    s["containerID"] = json!(container_id_uri(&r.id));
    s["restartCount"] = json!(r.restart_count);
    let previous_terminated = rt
        .previous(&c.name)
        .filter(|p| p.state == ContainerState::Exited)
        .map(terminated);
    match r.state {
        ContainerState::Running => {
            let mut running = json!({});
            if let Some(t) = nanos_to_time(r.started_at) {
                running["startedAt"] = json!(t);
            }
            s["state"] = json!({ "running": running });
            // Readiness and startup probes decide (a classic init
            // container is ready only once it completed).
            let probed = ctx.probed(&c.name);
            s["ready"] = json!((!init || is_sidecar(c)) && probed.ready);
            s["started"] = json!(probed.started);
            if let Some(p) = previous_terminated {
                s["lastState"] = p;
            }
        }
        ContainerState::Exited => match ctx.waiting.get(&c.name) {
            // Waiting to run again: the exit is the last state.
            Some(w) => {
                s["state"] = waiting(&w.reason, &w.message);
                s["lastState"] = terminated(r);
            }
            None => {
                s["state"] = terminated(r);
                s["ready"] = json!(init && !is_sidecar(c) && r.exit_code == 0);
                if let Some(p) = previous_terminated {
                    s["lastState"] = p;
                }
            }
        },
        ContainerState::Created | ContainerState::Unknown => {
            let (reason, message) = match ctx.waiting.get(&c.name) {
                Some(w) => (w.reason.as_str(), w.message.as_str()),
                None => ("ContainerCreating", ""),
            };
            s["state"] = waiting(reason, message);
            if let Some(p) = previous_terminated {
                s["lastState"] = p;
            }
        }
    }
    s
}

/// The pod phase (kubelet's getPhase).
pub fn pod_phase(
    pod: &Pod,
    rt: &PodRuntimeStatus,
    started: &dyn Fn(&ContainerRecord) -> bool,
) -> &'static str {
    let policy = RestartPolicy::of(pod);
    match init_progress(pod, rt, started) {
        InitProgress::Failed(_) => return "Failed",
        InitProgress::Done => {}
        _ => return "Pending",
    }
    let (mut running, mut waiting_fresh, mut succeeded, mut failed) = (0, 0, 0, 0);
    for c in containers(pod) {
        match rt.latest(&c.name) {
            None => waiting_fresh += 1,
            Some(r) => match r.state {
                ContainerState::Running => running += 1,
                ContainerState::Exited if r.exit_code == 0 => succeeded += 1,
                ContainerState::Exited => failed += 1,
                // Created again after an exit: it has run before.
                ContainerState::Created | ContainerState::Unknown if r.restart_count > 0 => {
                    running += 1
                }
                ContainerState::Created | ContainerState::Unknown => waiting_fresh += 1,
            },
        }
    }
    if waiting_fresh > 0 {
        return "Pending";
    }
    if running > 0 {
        return "Running";
    }
    // Every container has exited.
    match policy {
        RestartPolicy::Always => "Running",
        RestartPolicy::OnFailure if failed > 0 => "Running",
        RestartPolicy::OnFailure => "Succeeded",
        RestartPolicy::Never if failed > 0 => "Failed",
        RestartPolicy::Never => {
            let _ = succeeded;
            "Succeeded"
        }
    }
}

/// The QoS class (upstream's GetPodQOS): the API server's computation,
/// which compares quantities by value and ignores zero ones.
pub fn qos_class(pod: &Pod) -> &'static str {
    match serde_json::to_value(pod) {
        Ok(v) => bosun_api::defaults::pod_qos_class(&v),
        Err(_) => "BestEffort",
    }
}

fn condition(old: &[Value], ty: &str, status: bool, reason: Option<&str>, now: &str) -> Value {
    let status = if status { "True" } else { "False" };
    let since = old
        .iter()
        .find(|c| c["type"] == ty && c["status"] == status)
        .and_then(|c| c["lastTransitionTime"].as_str())
        .unwrap_or(now);
    let mut c =
        json!({"type": ty, "status": status, "lastProbeTime": null, "lastTransitionTime": since});
    if let Some(r) = reason {
        c["reason"] = json!(r);
    }
    c
}

/// The status to write for `pod`.
pub fn generate(pod: &Pod, rt: &PodRuntimeStatus, ctx: &StatusContext<'_>) -> Value {
    let old = serde_json::to_value(pod.status.clone().unwrap_or_default()).unwrap_or_default();
    let old_conditions: Vec<Value> = old["conditions"].as_array().cloned().unwrap_or_default();
    let started = |r: &ContainerRecord| ctx.started(r);
    let phase = pod_phase(pod, rt, &started);
    let terminal = phase == "Succeeded" || phase == "Failed";
    let init_done = init_progress(pod, rt, &started) == InitProgress::Done;
    let has_inits = !init_containers(pod).is_empty();
    let init_statuses: Vec<Value> = init_containers(pod)
        .iter()
        .map(|c| container_status(c, rt, ctx, true, "PodInitializing"))
        .collect();
    let default_waiting = if init_done {
        "ContainerCreating"
    } else {
        "PodInitializing"
    };
    let statuses: Vec<Value> = containers(pod)
        .iter()
        .map(|c| container_status(c, rt, ctx, false, default_waiting))
        .collect();
    // Sidecars' readiness counts too.
    let sidecars_ready = init_containers(pod)
        .iter()
        .zip(&init_statuses)
        .filter(|(c, _)| is_sidecar(c))
        .all(|(_, s)| s["ready"] == true);
    let containers_ready =
        !terminal && sidecars_ready && statuses.iter().all(|s| s["ready"] == true);
    let sandbox_ready = rt.ready_sandbox().is_some();
    let completed = terminal.then_some("PodCompleted");
    let not_ready = if terminal {
        completed
    } else {
        Some("ContainersNotReady")
    };
    let mut conditions = vec![
        condition(
            &old_conditions,
            "PodReadyToStartContainers",
            sandbox_ready,
            None,
            ctx.now,
        ),
        condition(
            &old_conditions,
            "Initialized",
            init_done,
            if init_done {
                completed.filter(|_| phase == "Succeeded")
            } else {
                Some("ContainersNotInitialized")
            },
            ctx.now,
        ),
        condition(
            &old_conditions,
            "Ready",
            containers_ready,
            if containers_ready { None } else { not_ready },
            ctx.now,
        ),
        condition(
            &old_conditions,
            "ContainersReady",
            containers_ready,
            if containers_ready { None } else { not_ready },
            ctx.now,
        ),
    ];
    // Conditions the agent does not own (PodScheduled, DisruptionTarget,
    // readiness gates) are kept as they are.
    for c in &old_conditions {
        let ty = c["type"].as_str().unwrap_or_default();
        if !matches!(
            ty,
            "PodReadyToStartContainers" | "Initialized" | "Ready" | "ContainersReady"
        ) {
            conditions.push(c.clone());
        }
    }
    let mut status = json!({
        "phase": phase,
        "conditions": conditions,
        "containerStatuses": statuses,
        "qosClass": qos_class(pod),
        "startTime": old["startTime"].as_str().unwrap_or(ctx.now),
    });
    if has_inits {
        status["initContainerStatuses"] = json!(init_statuses);
    }
    if let Some(ip) = ctx.host_ip {
        status["hostIP"] = json!(ip);
        status["hostIPs"] = json!([{"ip": ip}]);
    }
    let host_network = pod
        .spec
        .as_ref()
        .and_then(|s| s.host_network)
        .unwrap_or(false);
    let pod_ip = if host_network {
        ctx.host_ip.map(str::to_string)
    } else {
        rt.sandboxes
            .first()
            .and_then(|s| s.ip.clone())
            .or_else(|| old["podIP"].as_str().map(str::to_string))
    };
    if let Some(ip) = pod_ip {
        status["podIP"] = json!(ip);
        status["podIPs"] = json!([{"ip": ip}]);
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kuberuntime::state::SandboxRecord;

    fn pod(v: Value) -> Pod {
        serde_json::from_value(v).unwrap()
    }

    fn simple(policy: &str) -> Pod {
        pod(json!({
            "metadata": {"name": "p", "uid": "u"},
            "spec": {"restartPolicy": policy, "containers": [{"name": "a", "image": "busybox"}]},
            "status": {"conditions": [{"type": "PodScheduled", "status": "True"}]}
        }))
    }

    fn rec(state: ContainerState, exit: i32, attempt: u32) -> ContainerRecord {
        ContainerRecord {
            id: format!("id{attempt}"),
            sandbox_id: "sb".into(),
            name: "a".into(),
            attempt,
            state,
            created_at: 1,
            started_at: 1_700_000_000_000_000_000,
            finished_at: if state == ContainerState::Exited {
                1_700_000_001_000_000_000
            } else {
                0
            },
            exit_code: exit,
            reason: String::new(),
            message: String::new(),
            image: "busybox".into(),
            image_ref: "sha256:abc".into(),
            restart_count: attempt as i32,
        }
    }

    fn rt(containers: Vec<ContainerRecord>) -> PodRuntimeStatus {
        PodRuntimeStatus {
            sandboxes: vec![SandboxRecord {
                id: "sb".into(),
                attempt: 0,
                ready: true,
                created_at: 1,
                ip: Some("10.244.0.5".into()),
            }],
            containers,
        }
    }

    static NO_PROBES: std::sync::LazyLock<HashMap<String, Probed>> =
        std::sync::LazyLock::new(HashMap::new);

    fn ctx<'a>(waiting: &'a HashMap<String, Waiting>) -> StatusContext<'a> {
        StatusContext {
            host_ip: Some("192.0.2.1"),
            now: "2026-01-01T00:00:00Z",
            waiting,
            probed: &NO_PROBES,
        }
    }

    fn cond<'a>(s: &'a Value, ty: &str) -> &'a Value {
        s["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == ty)
            .unwrap()
    }

    #[test]
    fn running_pod() {
        let w = HashMap::new();
        let s = generate(
            &simple("Always"),
            &rt(vec![rec(ContainerState::Running, 0, 0)]),
            &ctx(&w),
        );
        assert_eq!(s["phase"], "Running");
        assert_eq!(s["podIP"], "10.244.0.5");
        assert_eq!(s["hostIP"], "192.0.2.1");
        assert_eq!(s["qosClass"], "BestEffort");
        assert_eq!(cond(&s, "Ready")["status"], "True");
        assert_eq!(cond(&s, "PodScheduled")["status"], "True");
        assert_eq!(cond(&s, "PodReadyToStartContainers")["status"], "True");
        let c = &s["containerStatuses"][0];
        assert_eq!(c["containerID"], "containerd://id0");
        assert_eq!(c["started"], true);
        assert_eq!(c["state"]["running"]["startedAt"], "2023-11-14T22:13:20Z");
        // The result is a valid PodStatus.
        let _: k8s_openapi::api::core::v1::PodStatus = serde_json::from_value(s).unwrap();
    }

    #[test]
    fn phases_by_restart_policy() {
        let done = |code| rt(vec![rec(ContainerState::Exited, code, 0)]);
        assert_eq!(
            pod_phase(&simple("Never"), &done(0), &|_| true),
            "Succeeded"
        );
        assert_eq!(pod_phase(&simple("Never"), &done(1), &|_| true), "Failed");
        assert_eq!(
            pod_phase(&simple("OnFailure"), &done(0), &|_| true),
            "Succeeded"
        );
        assert_eq!(
            pod_phase(&simple("OnFailure"), &done(1), &|_| true),
            "Running"
        );
        assert_eq!(pod_phase(&simple("Always"), &done(0), &|_| true), "Running");
        assert_eq!(
            pod_phase(&simple("Always"), &rt(vec![]), &|_| true),
            "Pending"
        );
        let w = HashMap::new();
        let s = generate(&simple("Never"), &done(0), &ctx(&w));
        assert_eq!(
            s["containerStatuses"][0]["state"]["terminated"]["reason"],
            "Completed"
        );
        assert_eq!(cond(&s, "Ready")["reason"], "PodCompleted");
    }

    #[test]
    fn crash_loop_shows_waiting_with_last_state() {
        let mut w = HashMap::new();
        w.insert(
            "a".to_string(),
            Waiting {
                reason: "CrashLoopBackOff".into(),
                message: "back-off 10s".into(),
            },
        );
        let s = generate(
            &simple("Always"),
            &rt(vec![rec(ContainerState::Exited, 2, 1)]),
            &ctx(&w),
        );
        let c = &s["containerStatuses"][0];
        assert_eq!(c["state"]["waiting"]["reason"], "CrashLoopBackOff");
        assert_eq!(c["lastState"]["terminated"]["exitCode"], 2);
        assert_eq!(c["restartCount"], 1);
    }

    #[test]
    fn image_errors_and_pending() {
        let mut w = HashMap::new();
        w.insert(
            "a".to_string(),
            Waiting {
                reason: "ErrImageNeverPull".into(),
                message: "m".into(),
            },
        );
        let s = generate(&simple("Always"), &rt(vec![]), &ctx(&w));
        assert_eq!(s["phase"], "Pending");
        assert_eq!(
            s["containerStatuses"][0]["state"]["waiting"]["reason"],
            "ErrImageNeverPull"
        );
    }

    #[test]
    fn qos_classes() {
        let with = |res: Value| {
            pod(
                json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "a", "resources": res}]}}),
            )
        };
        assert_eq!(qos_class(&with(json!({}))), "BestEffort");
        // Pods come from the API server, whose defaulting copies limits
        // into missing requests; quantities compare by value.
        assert_eq!(
            qos_class(&with(json!({
                "limits": {"cpu": "1", "memory": "1Gi"},
                "requests": {"cpu": "1000m", "memory": "1024Mi"}
            }))),
            "Guaranteed"
        );
        assert_eq!(
            qos_class(&with(json!({"requests": {"cpu": "0"}}))),
            "BestEffort"
        );
        assert_eq!(
            qos_class(&with(json!({"requests": {"cpu": "1"}}))),
            "Burstable"
        );
        assert_eq!(
            qos_class(&with(
                json!({"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}})
            )),
            "Burstable"
        );
    }

    #[test]
    fn transition_times_are_kept_while_unchanged() {
        let mut p = simple("Always");
        let w = HashMap::new();
        let first = generate(&p, &rt(vec![rec(ContainerState::Running, 0, 0)]), &ctx(&w));
        p.status = Some(serde_json::from_value(first).unwrap());
        let later = StatusContext {
            host_ip: None,
            now: "2026-02-02T00:00:00Z",
            waiting: &w,
            probed: &NO_PROBES,
        };
        let second = generate(&p, &rt(vec![rec(ContainerState::Running, 0, 0)]), &later);
        assert_eq!(
            cond(&second, "Ready")["lastTransitionTime"],
            "2026-01-01T00:00:00Z"
        );
        assert_eq!(second["startTime"], "2026-01-01T00:00:00Z");
        let third = generate(&p, &rt(vec![rec(ContainerState::Exited, 1, 0)]), &later);
        assert_eq!(
            cond(&third, "Ready")["lastTransitionTime"],
            "2026-02-02T00:00:00Z"
        );
    }
}
