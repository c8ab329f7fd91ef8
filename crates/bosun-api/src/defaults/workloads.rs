//! apps/v1 and batch/v1 defaults, and the Job selector generation the Job
//! create strategy performs.

use super::helpers::{
    default_embedded_meta, default_ptr, default_status, default_str, each_obj, ensure_obj, str_at,
};
use super::pod::{default_pod_template, RestartDefault};
use serde_json::{json, Value};

fn default_template(spec: &mut Value, restart: RestartDefault) {
    if let Some(t) = ensure_obj(spec, "template") {
        default_pod_template(t, restart);
    }
}

/// Deployment: replicas, RollingUpdate 25%/25%, history and deadline.
pub fn default_deployment(d: &mut Value) {
    if let Some(spec) = ensure_obj(d, "spec") {
        default_ptr(spec, "replicas", json!(1));
        if let Some(st) = ensure_obj(spec, "strategy") {
            default_str(st, "type", "RollingUpdate");
            if str_at(st, "type") == "RollingUpdate" {
                if let Some(ru) = ensure_obj(st, "rollingUpdate") {
                    default_ptr(ru, "maxUnavailable", json!("25%"));
                    default_ptr(ru, "maxSurge", json!("25%"));
                }
            }
        }
        default_ptr(spec, "revisionHistoryLimit", json!(10));
        default_ptr(spec, "progressDeadlineSeconds", json!(600));
        default_template(spec, RestartDefault::Always);
    }
    default_status(d, json!({}));
}

/// ReplicaSet: replicas 1.
pub fn default_replica_set(rs: &mut Value) {
    if let Some(spec) = ensure_obj(rs, "spec") {
        default_ptr(spec, "replicas", json!(1));
        default_template(spec, RestartDefault::Always);
    }
    default_status(rs, json!({"replicas": 0}));
}

/// StatefulSet: pod management, update strategy, PVC retention, replicas,
/// history, and volume claim templates.
pub fn default_stateful_set(s: &mut Value) {
    if let Some(spec) = ensure_obj(s, "spec") {
        default_str(spec, "podManagementPolicy", "OrderedReady");
        if let Some(us) = ensure_obj(spec, "updateStrategy") {
            if str_at(us, "type").is_empty() {
                default_str(us, "type", "RollingUpdate");
                default_ptr(us, "rollingUpdate", json!({}));
            }
            if str_at(us, "type") == "RollingUpdate" {
                if let Some(ru) = us.get_mut("rollingUpdate").filter(|r| r.is_object()) {
                    default_ptr(ru, "partition", json!(0));
                }
            }
        }
        if let Some(p) = ensure_obj(spec, "persistentVolumeClaimRetentionPolicy") {
            default_str(p, "whenDeleted", "Retain");
            default_str(p, "whenScaled", "Retain");
        }
        default_ptr(spec, "replicas", json!(1));
        default_ptr(spec, "revisionHistoryLimit", json!(10));
        default_template(spec, RestartDefault::Always);
        for vct in each_obj(spec, "volumeClaimTemplates") {
            default_embedded_meta(vct);
            if let Some(vs) = ensure_obj(vct, "spec") {
                super::core::default_pvc_spec(vs);
            }
            if let Some(st) = ensure_obj(vct, "status") {
                default_str(st, "phase", "Pending");
            }
        }
    }
    default_status(s, json!({"replicas": 0, "availableReplicas": 0}));
}

/// DaemonSet: RollingUpdate maxUnavailable 1 / maxSurge 0, history 10.
pub fn default_daemon_set(d: &mut Value) {
    if let Some(spec) = ensure_obj(d, "spec") {
        if let Some(us) = ensure_obj(spec, "updateStrategy") {
            default_str(us, "type", "RollingUpdate");
            if str_at(us, "type") == "RollingUpdate" {
                if let Some(ru) = ensure_obj(us, "rollingUpdate") {
                    default_ptr(ru, "maxUnavailable", json!(1));
                    default_ptr(ru, "maxSurge", json!(0));
                }
            }
        }
        default_ptr(spec, "revisionHistoryLimit", json!(10));
        default_template(spec, RestartDefault::Always);
    }
    default_status(
        d,
        json!({
            "currentNumberScheduled": 0,
            "numberMisscheduled": 0,
            "desiredNumberScheduled": 0,
            "numberReady": 0
        }),
    );
}

/// A Job spec (also a CronJob's job template spec).
fn default_job_spec(spec: &mut Value) {
    let completions_unset = spec.get("completions").is_none_or(Value::is_null);
    let parallelism_unset = spec.get("parallelism").is_none_or(Value::is_null);
    if completions_unset && parallelism_unset {
        default_ptr(spec, "completions", json!(1));
    }
    default_ptr(spec, "parallelism", json!(1));
    let per_index = spec
        .get("backoffLimitPerIndex")
        .is_some_and(|v| !v.is_null());
    default_ptr(
        spec,
        "backoffLimit",
        json!(if per_index { i32::MAX } else { 6 }),
    );
    default_ptr(spec, "completionMode", json!("NonIndexed"));
    default_ptr(spec, "suspend", json!(false));
    let has_pfp = spec.get("podFailurePolicy").is_some_and(|v| !v.is_null());
    default_pod_failure_patterns(spec);
    default_ptr(
        spec,
        "podReplacementPolicy",
        json!(if has_pfp {
            "Failed"
        } else {
            "TerminatingOrFailed"
        }),
    );
    default_ptr(spec, "manualSelector", json!(false));
    default_template(spec, RestartDefault::Leave);
}

fn default_pod_failure_patterns(spec: &mut Value) {
    if let Some(pfp) = spec.get_mut("podFailurePolicy").filter(|v| v.is_object()) {
        for rule in each_obj(pfp, "rules") {
            for pat in each_obj(rule, "onPodConditions") {
                default_str(pat, "status", "True");
            }
        }
    }
}

/// Job: completions/parallelism, backoffLimit, completion mode, suspend,
/// podReplacementPolicy, manualSelector; object labels from the template.
pub fn default_job(job: &mut Value) {
    let template_labels = job
        .get("spec")
        .and_then(|s| s.get("template"))
        .and_then(|t| t.get("metadata"))
        .and_then(|m| m.get("labels"))
        .filter(|l| l.is_object())
        .cloned();
    if let (Some(labels), Some(meta)) = (template_labels, ensure_obj(job, "metadata")) {
        let empty = meta
            .get("labels")
            .and_then(Value::as_object)
            .is_none_or(|m| m.is_empty());
        if empty {
            if let Some(m) = meta.as_object_mut() {
                m.insert("labels".into(), labels);
            }
        }
    }
    if let Some(spec) = ensure_obj(job, "spec") {
        default_job_spec(spec);
    }
    default_status(job, json!({}));
}

/// CronJob: concurrency Allow, suspend false, history limits 3/1.
pub fn default_cron_job(cj: &mut Value) {
    if let Some(spec) = ensure_obj(cj, "spec") {
        default_str(spec, "concurrencyPolicy", "Allow");
        default_ptr(spec, "suspend", json!(false));
        default_ptr(spec, "successfulJobsHistoryLimit", json!(3));
        default_ptr(spec, "failedJobsHistoryLimit", json!(1));
        if let Some(jt) = ensure_obj(spec, "jobTemplate") {
            default_embedded_meta(jt);
            if let Some(js) = ensure_obj(jt, "spec") {
                // Only the pod template (and pod failure patterns) are
                // defaulted inside a job template; Job-level defaults are
                // applied to the Jobs created from it.
                default_pod_failure_patterns(js);
                default_template(js, RestartDefault::Leave);
            }
        }
    }
    default_status(cj, json!({}));
}

/// What the Job create strategy does before validation when
/// `manualSelector` is not true: add the job-name and controller-uid labels
/// to the pod template and select on `batch.kubernetes.io/controller-uid`.
pub fn generate_job_selector(job: &mut Value, uid: &str) {
    let manual = job
        .get("spec")
        .and_then(|s| s.get("manualSelector"))
        .and_then(Value::as_bool)
        == Some(true);
    if manual {
        return;
    }
    let name = job
        .get("metadata")
        .map(|m| str_at(m, "name").to_string())
        .unwrap_or_default();
    let Some(spec) = ensure_obj(job, "spec") else {
        return;
    };
    if let Some(labels) = ensure_obj(spec, "template")
        .and_then(|t| ensure_obj(t, "metadata"))
        .and_then(|m| ensure_obj(m, "labels"))
        .and_then(Value::as_object_mut)
    {
        for k in ["job-name", "batch.kubernetes.io/job-name"] {
            labels.entry(k).or_insert(json!(name));
        }
        for k in ["controller-uid", "batch.kubernetes.io/controller-uid"] {
            labels.entry(k).or_insert(json!(uid));
        }
    }
    if let Some(ml) = ensure_obj(spec, "selector")
        .and_then(|s| ensure_obj(s, "matchLabels"))
        .and_then(Value::as_object_mut)
    {
        ml.entry("batch.kubernetes.io/controller-uid")
            .or_insert(json!(uid));
    }
}
