//! Pod rows: readiness, the aggregated status reason, restarts and the wide
//! columns, following the upstream pod printer rules.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::{age, s};
use crate::duration::since;
use crate::json::{arr_at, bool_at, get, has_obj, int_at, opt_bool_at, str_at, time_at};

/// Reason the node lifecycle controller sets on pods of unreachable nodes.
const NODE_UNREACHABLE_REASON: &str = "NodeLost";

/// Keeps the latest `lastState.terminated.finishedAt` seen so far.
fn note_last_restart(latest: &mut Option<DateTime<Utc>>, status: &Value) {
    if !has_obj(status, &["lastState", "terminated"]) {
        return;
    }
    let finished = time_at(status, &["lastState", "terminated", "finishedAt"]);
    if let Some(t) = finished {
        if latest.is_none_or(|cur| cur < t) {
            *latest = Some(t);
        }
    }
}

fn is_restartable_init(spec_init: &[Value], name: &str) -> bool {
    spec_init
        .iter()
        .find(|c| str_at(c, &["name"]) == name)
        .is_some_and(|c| str_at(c, &["restartPolicy"]) == "Always")
}

fn condition_true(pod: &Value, type_: &str) -> bool {
    arr_at(pod, &["status", "conditions"])
        .iter()
        .find(|c| str_at(c, &["type"]) == type_)
        .is_some_and(|c| str_at(c, &["status"]) == "True")
}

fn has_ready_condition(pod: &Value) -> bool {
    arr_at(pod, &["status", "conditions"])
        .iter()
        .any(|c| str_at(c, &["type"]) == "Ready" && str_at(c, &["status"]) == "True")
}

/// Reason for a terminated container without an explicit reason.
fn terminated_code(status: &Value, prefix: &str) -> String {
    let signal = int_at(status, &["state", "terminated", "signal"]);
    if signal != 0 {
        format!("{prefix}Signal:{signal}")
    } else {
        let code = int_at(status, &["state", "terminated", "exitCode"]);
        format!("{prefix}ExitCode:{code}")
    }
}

pub(super) fn cells(pod: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let spec_init = arr_at(pod, &["spec", "initContainers"]);
    let mut total = arr_at(pod, &["spec", "containers"]).len();
    total += spec_init
        .iter()
        .filter(|c| str_at(c, &["restartPolicy"]) == "Always")
        .count();
    let mut ready = 0usize;
    let mut restarts: i64 = 0;
    let mut sidecar_restarts: i64 = 0;
    let mut last_restart: Option<DateTime<Utc>> = None;
    let mut last_sidecar_restart: Option<DateTime<Utc>> = None;

    let phase = str_at(pod, &["status", "phase"]);
    let mut reason = phase.to_string();
    let status_reason = str_at(pod, &["status", "reason"]);
    if !status_reason.is_empty() {
        reason = status_reason.to_string();
    }
    for cond in arr_at(pod, &["status", "conditions"]) {
        if str_at(cond, &["type"]) == "PodScheduled"
            && str_at(cond, &["reason"]) == "SchedulingGated"
        {
            reason = "SchedulingGated".to_string();
        }
    }

    let mut initializing = false;
    for (i, st) in arr_at(pod, &["status", "initContainerStatuses"])
        .iter()
        .enumerate()
    {
        restarts += int_at(st, &["restartCount"]);
        note_last_restart(&mut last_restart, st);
        let restartable = is_restartable_init(spec_init, str_at(st, &["name"]));
        if restartable {
            sidecar_restarts += int_at(st, &["restartCount"]);
            note_last_restart(&mut last_sidecar_restart, st);
        }
        let terminated = has_obj(st, &["state", "terminated"]);
        if terminated && int_at(st, &["state", "terminated", "exitCode"]) == 0 {
            continue;
        }
        if restartable && opt_bool_at(st, &["started"]) == Some(true) {
            if bool_at(st, &["ready"]) {
                ready += 1;
            }
            continue;
        }
        let waiting_reason = str_at(st, &["state", "waiting", "reason"]);
        if terminated {
            let r = str_at(st, &["state", "terminated", "reason"]);
            reason = if r.is_empty() {
                terminated_code(st, "Init:")
            } else {
                format!("Init:{r}")
            };
        } else if has_obj(st, &["state", "waiting"])
            && !waiting_reason.is_empty()
            && waiting_reason != "PodInitializing"
        {
            reason = format!("Init:{waiting_reason}");
        } else {
            reason = format!("Init:{i}/{}", spec_init.len());
        }
        initializing = true;
        break;
    }

    if !initializing || condition_true(pod, "Initialized") {
        restarts = sidecar_restarts;
        last_restart = last_sidecar_restart;
        let mut has_running = false;
        for st in arr_at(pod, &["status", "containerStatuses"]).iter().rev() {
            restarts += int_at(st, &["restartCount"]);
            note_last_restart(&mut last_restart, st);
            let waiting_reason = str_at(st, &["state", "waiting", "reason"]);
            let terminated = has_obj(st, &["state", "terminated"]);
            let terminated_reason = str_at(st, &["state", "terminated", "reason"]);
            if has_obj(st, &["state", "waiting"]) && !waiting_reason.is_empty() {
                reason = waiting_reason.to_string();
            } else if terminated && !terminated_reason.is_empty() {
                reason = terminated_reason.to_string();
            } else if terminated {
                reason = terminated_code(st, "");
            } else if bool_at(st, &["ready"]) && has_obj(st, &["state", "running"]) {
                has_running = true;
                ready += 1;
            }
        }
        if reason == "Completed" && has_running {
            reason = if has_ready_condition(pod) {
                "Running".to_string()
            } else {
                "NotReady".to_string()
            };
        }
    }

    let deleting = get(pod, &["metadata", "deletionTimestamp"]).is_some();
    if deleting && status_reason == NODE_UNREACHABLE_REASON {
        reason = "Unknown".to_string();
    } else if deleting && phase != "Succeeded" && phase != "Failed" {
        reason = "Terminating".to_string();
    }

    let restarts_str = match last_restart {
        Some(t) if restarts != 0 => format!("{restarts} ({} ago)", since(Some(t), now)),
        _ => restarts.to_string(),
    };

    // status.podIP is authoritative when set (as in the v1 -> internal
    // conversion); otherwise the first entry of status.podIPs.
    let mut pod_ip = str_at(pod, &["status", "podIP"]);
    if pod_ip.is_empty() {
        pod_ip = arr_at(pod, &["status", "podIPs"])
            .first()
            .map_or("", |ip| str_at(ip, &["ip"]));
    }
    if pod_ip.is_empty() {
        pod_ip = "<none>";
    }
    let node = non_empty_or(str_at(pod, &["spec", "nodeName"]), "<none>");
    let nominated = non_empty_or(str_at(pod, &["status", "nominatedNodeName"]), "<none>");

    vec![
        s(str_at(pod, &["metadata", "name"])),
        s(format!("{ready}/{total}")),
        s(reason),
        s(restarts_str),
        s(age(pod, now)),
        s(pod_ip),
        s(node),
        s(nominated),
        s(readiness_gates(pod)),
    ]
}

fn non_empty_or<'a>(v: &'a str, fallback: &'a str) -> &'a str {
    if v.is_empty() {
        fallback
    } else {
        v
    }
}

/// `true/total` readiness gates, or `<none>` when the pod declares none.
fn readiness_gates(pod: &Value) -> String {
    let gates = arr_at(pod, &["spec", "readinessGates"]);
    if gates.is_empty() {
        return "<none>".to_string();
    }
    let conditions = arr_at(pod, &["status", "conditions"]);
    let satisfied = gates
        .iter()
        .filter(|g| {
            let t = str_at(g, &["conditionType"]);
            conditions
                .iter()
                .find(|c| str_at(c, &["type"]) == t)
                .is_some_and(|c| str_at(c, &["status"]) == "True")
        })
        .count();
    format!("{satisfied}/{}", gates.len())
}

/// Row conditions marking pods that finished (Succeeded or Failed).
pub(super) fn row_conditions(pod: &Value) -> Option<Value> {
    match str_at(pod, &["status", "phase"]) {
        "Succeeded" => Some(json!([{
            "type": "Completed",
            "status": "True",
            "reason": "Succeeded",
            "message": "The pod has completed successfully."
        }])),
        "Failed" => Some(json!([{
            "type": "Completed",
            "status": "True",
            "reason": "Failed",
            "message": "The pod failed."
        }])),
        _ => None,
    }
}
