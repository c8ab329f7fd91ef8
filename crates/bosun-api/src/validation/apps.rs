//! apps/v1 checks: Deployment, ReplicaSet, StatefulSet, DaemonSet,
//! ControllerRevision.

use super::access::{arr, child, index, int, present, s};
use super::core::validate_pvc_spec;
use super::errors::FieldError;
use super::meta::{
    int_or_percent_value, selector_is_empty, selector_matches, sort_keys, validate_immutable,
    validate_label_selector, validate_nonnegative, validate_not_more_than_100_percent,
    validate_positive_int_or_percent,
};
use super::pod::validate_pod_template;
use serde_json::Value;

static NULL: Value = Value::Null;

fn spec(o: &Value) -> &Value {
    o.get("spec").unwrap_or(&NULL)
}

fn nonneg_field(v: &Value, f: &str, p: &str, errs: &mut Vec<FieldError>) {
    if let Some(n) = int(v, f) {
        validate_nonnegative(n, &child(p, f), errs);
    }
}

/// Selector present, valid and non-empty; returns it when usable.
fn check_selector<'a>(sp: &'a Value, what: &str, errs: &mut Vec<FieldError>) -> Option<&'a Value> {
    let Some(sel) = present(sp, "selector") else {
        errs.push(FieldError::required("spec.selector", ""));
        return None;
    };
    validate_label_selector(Some(sel), "spec.selector", errs);
    if selector_is_empty(sel) {
        errs.push(FieldError::invalid(
            "spec.selector",
            sort_keys(sel.clone()),
            format!("empty selector is invalid for {what}"),
        ));
    }
    Some(sel)
}

/// `selector` does not match template `labels`.
pub fn check_template_matches(sel: &Value, template: &Value, p: &str, errs: &mut Vec<FieldError>) {
    if selector_is_empty(sel) {
        return;
    }
    let labels = template.get("metadata").and_then(|m| m.get("labels"));
    if selector_matches(sel, labels) == Some(false) {
        let bad = labels.cloned().map(sort_keys).unwrap_or(Value::Null);
        errs.push(FieldError::invalid(
            child(p, "metadata.labels"),
            bad,
            "`selector` does not match template `labels`",
        ));
    }
}

fn check_template_for_controller(
    sp: &Value,
    sel: Option<&Value>,
    kind_msg: &str,
    errs: &mut Vec<FieldError>,
) {
    let tp = "spec.template";
    let Some(t) = present(sp, "template") else {
        errs.push(FieldError::required(tp, ""));
        return;
    };
    if let Some(sel) = sel {
        check_template_matches(sel, t, tp, errs);
    }
    validate_pod_template(t, tp, errs);
    let ts = t.get("spec").unwrap_or(&NULL);
    let rp = s(ts, "restartPolicy");
    if rp != "Always" {
        errs.push(FieldError::not_supported(
            "spec.template.spec.restartPolicy",
            rp,
            &["Always"],
        ));
    }
    if let Some(ads) = int(ts, "activeDeadlineSeconds") {
        errs.push(FieldError::invalid(
            "spec.template.spec.activeDeadlineSeconds",
            ads,
            format!("activeDeadlineSeconds in {kind_msg} is not Supported"),
        ));
    }
}

/// Deployment spec.
pub fn validate_deployment(o: &Value, errs: &mut Vec<FieldError>) {
    let sp = spec(o);
    nonneg_field(sp, "replicas", "spec", errs);
    let Some(sel) = check_selector(sp, "deployment", errs) else {
        return;
    };
    check_template_for_controller(sp, Some(sel), "ReplicaSet", errs);
    let st = sp.get("strategy").unwrap_or(&NULL);
    let stp = "spec.strategy";
    match s(st, "type") {
        "Recreate" => {
            if present(st, "rollingUpdate").is_some() {
                errs.push(FieldError::forbidden(
                    child(stp, "rollingUpdate"),
                    "may not be specified when strategy `type` is 'Recreate'",
                ));
            }
        }
        "RollingUpdate" => match present(st, "rollingUpdate") {
            None => errs.push(FieldError::required(
                child(stp, "rollingUpdate"),
                "this should be defaulted and never be nil",
            )),
            Some(ru) => {
                let rp = child(stp, "rollingUpdate");
                let mu = ru.get("maxUnavailable");
                let ms = ru.get("maxSurge");
                validate_positive_int_or_percent(mu, &child(&rp, "maxUnavailable"), errs);
                validate_positive_int_or_percent(ms, &child(&rp, "maxSurge"), errs);
                if int_or_percent_value(mu) == 0 && int_or_percent_value(ms) == 0 {
                    errs.push(FieldError::invalid(
                        child(&rp, "maxUnavailable"),
                        mu.cloned().unwrap_or(Value::Null),
                        "may not be 0 when `maxSurge` is 0",
                    ));
                }
                validate_not_more_than_100_percent(mu, &child(&rp, "maxUnavailable"), errs);
            }
        },
        _ => errs.push(FieldError::not_supported(
            stp,
            sort_keys(st.clone()),
            &["Recreate", "RollingUpdate"],
        )),
    }
    nonneg_field(sp, "minReadySeconds", "spec", errs);
    nonneg_field(sp, "revisionHistoryLimit", "spec", errs);
    if let Some(pds) = int(sp, "progressDeadlineSeconds") {
        validate_nonnegative(pds, "spec.progressDeadlineSeconds", errs);
        if pds <= int(sp, "minReadySeconds").unwrap_or(0) {
            errs.push(FieldError::invalid(
                "spec.progressDeadlineSeconds",
                pds,
                "must be greater than minReadySeconds",
            ));
        }
    }
}

/// ReplicaSet spec.
pub fn validate_replica_set(o: &Value, errs: &mut Vec<FieldError>) {
    let sp = spec(o);
    nonneg_field(sp, "replicas", "spec", errs);
    nonneg_field(sp, "minReadySeconds", "spec", errs);
    let sel = check_selector(sp, "deployment", errs);
    check_template_for_controller(sp, sel, "ReplicaSet", errs);
}

/// StatefulSet spec.
pub fn validate_stateful_set(o: &Value, errs: &mut Vec<FieldError>) {
    let sp = spec(o);
    match s(sp, "podManagementPolicy") {
        "" => errs.push(FieldError::required("spec.podManagementPolicy", "")),
        "OrderedReady" | "Parallel" => {}
        other => errs.push(FieldError::invalid(
            "spec.podManagementPolicy",
            other,
            "must be 'OrderedReady' or 'Parallel'",
        )),
    }
    let us = sp.get("updateStrategy").unwrap_or(&NULL);
    match s(us, "type") {
        "" => errs.push(FieldError::required("spec.updateStrategy", "")),
        "OnDelete" => {
            if let Some(ru) = present(us, "rollingUpdate") {
                errs.push(FieldError::invalid(
                    "spec.updateStrategy.rollingUpdate",
                    sort_keys(ru.clone()),
                    "only allowed for updateStrategy 'RollingUpdate'",
                ));
            }
        }
        "RollingUpdate" => {
            if let Some(ru) = present(us, "rollingUpdate") {
                let rp = "spec.updateStrategy.rollingUpdate";
                nonneg_field(ru, "partition", rp, errs);
                if let Some(mu) = present(ru, "maxUnavailable") {
                    let mp = child(rp, "maxUnavailable");
                    validate_positive_int_or_percent(Some(mu), &mp, errs);
                    if int_or_percent_value(Some(mu)) == 0 {
                        errs.push(FieldError::invalid(&mp, mu.clone(), "cannot be 0"));
                    }
                    validate_not_more_than_100_percent(Some(mu), &mp, errs);
                }
            }
        }
        _ => errs.push(FieldError::invalid(
            "spec.updateStrategy",
            sort_keys(us.clone()),
            "must be 'RollingUpdate' or 'OnDelete'",
        )),
    }
    if let Some(pol) = present(sp, "persistentVolumeClaimRetentionPolicy") {
        for f in ["whenDeleted", "whenScaled"] {
            let v = s(pol, f);
            if v != "Retain" && v != "Delete" {
                errs.push(FieldError::not_supported(
                    child("spec.persistentVolumeClaimRetentionPolicy", f),
                    v,
                    &["Retain", "Delete"],
                ));
            }
        }
    }
    nonneg_field(sp, "replicas", "spec", errs);
    nonneg_field(sp, "minReadySeconds", "spec", errs);
    if let Some(ord) = present(sp, "ordinals") {
        nonneg_field(ord, "start", "spec.ordinals", errs);
    }
    let sel = check_selector(sp, "statefulset", errs);
    if let Some(t) = present(sp, "template") {
        if let Some(sel) = sel {
            check_template_matches(sel, t, "spec.template", errs);
        }
        validate_pod_template(&with_claim_volumes(t, sp), "spec.template", errs);
    }
    let ts = at_template_spec(sp);
    let rp = s(ts, "restartPolicy");
    if rp != "Always" {
        errs.push(FieldError::not_supported(
            "spec.template.spec.restartPolicy",
            rp,
            &["Always"],
        ));
    }
    if present(ts, "activeDeadlineSeconds").is_some() {
        errs.push(FieldError::forbidden(
            "spec.template.spec.activeDeadlineSeconds",
            "activeDeadlineSeconds in StatefulSet is not Supported",
        ));
    }
    for (i, vct) in arr(sp, "volumeClaimTemplates").iter().enumerate() {
        let vp = index("spec.volumeClaimTemplates", i);
        let name = vct.get("metadata").map(|m| s(m, "name")).unwrap_or("");
        if name.is_empty() {
            errs.push(FieldError::required(child(&vp, "metadata.name"), ""));
        }
        validate_pvc_spec(vct.get("spec").unwrap_or(&NULL), &child(&vp, "spec"), errs);
    }
}

/// The template as the controller makes pods from it: a
/// `persistentVolumeClaim` volume per volumeClaimTemplate (replacing a
/// volume of that name), so mounts of claim templates resolve.
fn with_claim_volumes(template: &Value, sp: &Value) -> Value {
    let mut t = template.clone();
    let claims: Vec<String> = arr(sp, "volumeClaimTemplates")
        .iter()
        .filter_map(|c| c.get("metadata").map(|m| s(m, "name").to_string()))
        .filter(|n| !n.is_empty())
        .collect();
    if claims.is_empty() {
        return t;
    }
    let Some(spec) = t.get_mut("spec").and_then(Value::as_object_mut) else {
        return t;
    };
    let mut volumes: Vec<Value> = claims
        .iter()
        .map(|n| serde_json::json!({"name": n, "persistentVolumeClaim": {"claimName": n}}))
        .collect();
    if let Some(Value::Array(existing)) = spec.get("volumes") {
        volumes.extend(
            existing
                .iter()
                .filter(|v| {
                    !claims
                        .iter()
                        .any(|n| v.get("name").and_then(Value::as_str) == Some(n))
                })
                .cloned(),
        );
    }
    spec.insert("volumes".into(), Value::Array(volumes));
    t
}

fn at_template_spec(sp: &Value) -> &Value {
    sp.get("template")
        .and_then(|t| t.get("spec"))
        .unwrap_or(&NULL)
}

/// DaemonSet spec.
pub fn validate_daemon_set(o: &Value, errs: &mut Vec<FieldError>) {
    let sp = spec(o);
    let sel = present(sp, "selector");
    validate_label_selector(sel, "spec.selector", errs);
    match sel {
        None => errs.push(FieldError::required("spec.selector", "")),
        Some(sel) if selector_is_empty(sel) => errs.push(FieldError::invalid(
            "spec.selector",
            sort_keys(sel.clone()),
            "empty selector is invalid for daemonset",
        )),
        _ => {}
    }
    check_template_for_controller(sp, sel, "DaemonSet", errs);
    nonneg_field(sp, "minReadySeconds", "spec", errs);
    nonneg_field(sp, "templateGeneration", "spec", errs);
    nonneg_field(sp, "revisionHistoryLimit", "spec", errs);
    let us = sp.get("updateStrategy").unwrap_or(&NULL);
    let up = "spec.updateStrategy";
    match s(us, "type") {
        "OnDelete" => {}
        "RollingUpdate" => match present(us, "rollingUpdate") {
            None => errs.push(FieldError::required(child(up, "rollingUpdate"), "")),
            Some(ru) => {
                let rp = child(up, "rollingUpdate");
                let mu = ru.get("maxUnavailable");
                let ms = ru.get("maxSurge");
                validate_positive_int_or_percent(mu, &child(&rp, "maxUnavailable"), errs);
                validate_positive_int_or_percent(ms, &child(&rp, "maxSurge"), errs);
                validate_not_more_than_100_percent(mu, &child(&rp, "maxUnavailable"), errs);
                validate_not_more_than_100_percent(ms, &child(&rp, "maxSurge"), errs);
                let has_u = int_or_percent_value(mu) != 0;
                let has_s = int_or_percent_value(ms) != 0;
                if has_u && has_s {
                    errs.push(FieldError::invalid(
                        child(&rp, "maxSurge"),
                        ms.cloned().unwrap_or(Value::Null),
                        "may not be set when maxUnavailable is non-zero",
                    ));
                } else if !has_u && !has_s {
                    errs.push(FieldError::required(
                        child(&rp, "maxUnavailable"),
                        "cannot be 0 when maxSurge is 0",
                    ));
                }
            }
        },
        other => errs.push(FieldError::not_supported(
            child(up, "type"),
            other,
            &["OnDelete", "RollingUpdate"],
        )),
    }
}

/// ControllerRevision: data is mandatory, revision non-negative.
pub fn validate_controller_revision(o: &Value, errs: &mut Vec<FieldError>) {
    if present(o, "data").is_none() {
        errs.push(FieldError::required("data", "data is mandatory"));
    }
    nonneg_field(o, "revision", "", errs);
}

/// Immutable parts of apps kinds on update.
pub fn validate_apps_update(kind: &str, new: &Value, old: &Value, errs: &mut Vec<FieldError>) {
    let ns = spec(new);
    let os = spec(old);
    match kind {
        "Deployment" | "ReplicaSet" | "DaemonSet" => {
            validate_immutable(
                ns.get("selector"),
                os.get("selector"),
                "spec.selector",
                errs,
            );
        }
        "StatefulSet" => {
            let strip = |v: &Value| {
                let mut c = v.clone();
                if let Some(m) = c.as_object_mut() {
                    for f in [
                        "replicas",
                        "ordinals",
                        "template",
                        "updateStrategy",
                        "persistentVolumeClaimRetentionPolicy",
                        "minReadySeconds",
                    ] {
                        m.remove(f);
                    }
                }
                c
            };
            if strip(ns) != strip(os) {
                errs.push(FieldError::forbidden(
                    "spec",
                    "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
                ));
            }
        }
        "ControllerRevision" => {
            validate_immutable(new.get("data"), old.get("data"), "data", errs);
        }
        _ => {}
    }
}
