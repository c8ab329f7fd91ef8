//! PodSpec, pod template and Pod checks.

use super::access::{arr, child, index, int, present, s};
use super::container::{
    validate_container_common, validate_init_container_extras, validate_regular_container_extras,
};
use super::errors::FieldError;
use super::meta::{validate_annotations, validate_labels};
use super::names::{
    inclusive_range_error, is_dns1123_label, is_dns1123_subdomain, is_qualified_name,
    is_valid_label_value,
};
use super::volume::validate_volumes;
use serde_json::Value;
use std::collections::HashSet;

/// Validate a PodSpec at path `p`.
pub fn validate_pod_spec(spec: &Value, p: &str, errs: &mut Vec<FieldError>) {
    let volumes = validate_volumes(arr(spec, "volumes"), &child(p, "volumes"), errs);
    let containers = arr(spec, "containers");
    let cp = child(p, "containers");
    if containers.is_empty() {
        errs.push(FieldError::required(cp.clone(), ""));
    }
    let mut names = HashSet::new();
    for (i, c) in containers.iter().enumerate() {
        let ip = index(&cp, i);
        validate_container_common(c, &volumes, &ip, errs);
        let name = s(c, "name");
        if !names.insert(name.to_string()) {
            errs.push(FieldError::duplicate(child(&ip, "name"), name));
        }
        validate_regular_container_extras(c, &ip, errs);
    }
    let ip_root = child(p, "initContainers");
    for (i, c) in arr(spec, "initContainers").iter().enumerate() {
        let ip = index(&ip_root, i);
        validate_container_common(c, &volumes, &ip, errs);
        let name = s(c, "name");
        if !names.insert(name.to_string()) {
            errs.push(FieldError::duplicate(child(&ip, "name"), name));
        }
        validate_init_container_extras(c, &ip, errs);
    }
    match s(spec, "restartPolicy") {
        "Always" | "OnFailure" | "Never" => {}
        "" => errs.push(FieldError::required(child(p, "restartPolicy"), "")),
        other => errs.push(FieldError::not_supported(
            child(p, "restartPolicy"),
            other,
            &["Always", "OnFailure", "Never"],
        )),
    }
    let dns = s(spec, "dnsPolicy");
    match dns {
        "ClusterFirstWithHostNet" | "ClusterFirst" | "Default" | "None" => {}
        "" => errs.push(FieldError::required(child(p, "dnsPolicy"), "")),
        other => errs.push(FieldError::not_supported(
            child(p, "dnsPolicy"),
            other,
            &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"],
        )),
    }
    validate_labels(spec.get("nodeSelector"), &child(p, "nodeSelector"), errs);
    for (i, sec) in arr(spec, "imagePullSecrets").iter().enumerate() {
        if s(sec, "name").is_empty() {
            errs.push(FieldError::required(
                child(&index(&child(p, "imagePullSecrets"), i), "name"),
                "",
            ));
        }
    }
    if dns == "None" && present(spec, "dnsConfig").is_none() {
        errs.push(FieldError::required(
            child(p, "dnsConfig"),
            "must provide `dnsConfig` when `dnsPolicy` is None",
        ));
    }
    for (f, subdomain) in [
        ("serviceAccountName", true),
        ("nodeName", true),
        ("hostname", false),
        ("subdomain", false),
        ("priorityClassName", true),
        ("schedulerName", true),
    ] {
        let v = s(spec, f);
        if v.is_empty() {
            continue;
        }
        let msgs = if subdomain {
            is_dns1123_subdomain(v)
        } else {
            is_dns1123_label(v)
        };
        for m in msgs {
            errs.push(FieldError::invalid(child(p, f), v, m));
        }
    }
    if let Some(ads) = int(spec, "activeDeadlineSeconds") {
        if !(1..=i64::from(u32::MAX)).contains(&ads) {
            errs.push(FieldError::invalid(
                child(p, "activeDeadlineSeconds"),
                ads,
                inclusive_range_error(1, i64::from(u32::MAX)),
            ));
        }
    }
    validate_tolerations(arr(spec, "tolerations"), &child(p, "tolerations"), errs);
    if let Some(pp) = present(spec, "preemptionPolicy").and_then(Value::as_str) {
        validate_preemption_policy(pp, &child(p, "preemptionPolicy"), errs);
    }
}

/// `PreemptLowerPriority` or `Never`.
pub fn validate_preemption_policy(v: &str, p: &str, errs: &mut Vec<FieldError>) {
    match v {
        "PreemptLowerPriority" | "Never" => {}
        "" => errs.push(FieldError::required(p, "")),
        other => errs.push(FieldError::not_supported(
            p,
            other,
            &["PreemptLowerPriority", "Never"],
        )),
    }
}

fn validate_taint_effect(effect: &str, p: &str, errs: &mut Vec<FieldError>) {
    if !matches!(effect, "NoSchedule" | "PreferNoSchedule" | "NoExecute") {
        errs.push(FieldError::not_supported(
            p,
            effect,
            &["NoSchedule", "PreferNoSchedule", "NoExecute"],
        ));
    }
}

/// Tolerations (shared with nothing else, but public for reuse).
pub fn validate_tolerations(tols: &[Value], p: &str, errs: &mut Vec<FieldError>) {
    for (i, t) in tols.iter().enumerate() {
        let ip = index(p, i);
        let k = s(t, "key");
        if !k.is_empty() {
            for m in is_qualified_name(k) {
                errs.push(FieldError::invalid(child(&ip, "key"), k, m));
            }
        }
        let op = s(t, "operator");
        if k.is_empty() && op != "Exists" {
            errs.push(FieldError::invalid(
                child(&ip, "operator"),
                op,
                "operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
            ));
        }
        let effect = s(t, "effect");
        if present(t, "tolerationSeconds").is_some() && effect != "NoExecute" {
            errs.push(FieldError::invalid(
                child(&ip, "effect"),
                effect,
                "effect must be 'NoExecute' when `tolerationSeconds` is set",
            ));
        }
        let value = s(t, "value");
        match op {
            "" | "Equal" => {
                let msgs = is_valid_label_value(value);
                if !msgs.is_empty() {
                    errs.push(FieldError::invalid(
                        child(&ip, "operator"),
                        value,
                        msgs.join(";"),
                    ));
                }
            }
            "Exists" => {
                if !value.is_empty() {
                    errs.push(FieldError::invalid(
                        child(&ip, "operator"),
                        super::meta::sort_keys(t.clone()),
                        "value must be empty when `operator` is 'Exists'",
                    ));
                }
            }
            other => errs.push(FieldError::not_supported(
                child(&ip, "operator"),
                other,
                &["Equal", "Exists"],
            )),
        }
        if !effect.is_empty() {
            validate_taint_effect(effect, &child(&ip, "effect"), errs);
        }
    }
}

/// Validate a PodTemplateSpec at `p` (labels at `p.labels`, spec at `p.spec`).
pub fn validate_pod_template(t: &Value, p: &str, errs: &mut Vec<FieldError>) {
    let meta = t.get("metadata");
    validate_labels(
        meta.and_then(|m| m.get("labels")),
        &child(p, "labels"),
        errs,
    );
    validate_annotations(
        meta.and_then(|m| m.get("annotations")),
        &child(p, "annotations"),
        errs,
    );
    static NULL: Value = Value::Null;
    let spec = t.get("spec").unwrap_or(&NULL);
    validate_pod_spec(spec, &child(p, "spec"), errs);
    if !arr(spec, "ephemeralContainers").is_empty() {
        errs.push(FieldError::forbidden(
            child(p, "spec.ephemeralContainers"),
            "ephemeral containers not allowed in pod template",
        ));
    }
}

/// Pod spec fields besides these are immutable on update.
const UPDATABLE_POD_FIELDS: &str = "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

/// Pod update: only images, activeDeadlineSeconds, added tolerations,
/// removed scheduling gates (and a few more) may change.
pub fn validate_pod_spec_update(new: &Value, old: &Value, errs: &mut Vec<FieldError>) {
    static NULL: Value = Value::Null;
    let ns = new.get("spec").unwrap_or(&NULL);
    let os = old.get("spec").unwrap_or(&NULL);
    // Build the old spec with the mutable fields taken from the new one.
    let mut munged = os.clone();
    if let (Some(m), Some(n)) = (munged.as_object_mut(), ns.as_object()) {
        for list in ["containers", "initContainers"] {
            if let (Some(Value::Array(mc)), Some(Value::Array(nc))) = (m.get_mut(list), n.get(list))
            {
                if mc.len() == nc.len() {
                    for (mc, nc) in mc.iter_mut().zip(nc) {
                        if let (Some(mo), Some(img)) = (mc.as_object_mut(), nc.get("image")) {
                            mo.insert("image".into(), img.clone());
                        }
                    }
                }
            }
        }
        for f in [
            "activeDeadlineSeconds",
            "tolerations",
            "schedulingGates",
            "ephemeralContainers",
        ] {
            match n.get(f) {
                Some(v) => {
                    m.insert(f.into(), v.clone());
                }
                None => {
                    m.remove(f);
                }
            }
        }
        if let Some(t) = n.get("terminationGracePeriodSeconds") {
            if m.get("terminationGracePeriodSeconds")
                .and_then(Value::as_i64)
                .is_some_and(|v| v < 0)
                && t.as_i64() == Some(1)
            {
                m.insert("terminationGracePeriodSeconds".into(), t.clone());
            }
        }
    }
    if &munged != ns {
        let mut changed: Vec<String> = Vec::new();
        let keys: HashSet<&String> = munged
            .as_object()
            .into_iter()
            .flat_map(|m| m.keys())
            .chain(ns.as_object().into_iter().flat_map(|m| m.keys()))
            .collect();
        for k in keys {
            if munged.get(k) != ns.get(k) {
                changed.push(format!("  spec.{k}"));
            }
        }
        changed.sort();
        errs.push(FieldError::forbidden(
            "spec",
            format!(
                "pod updates may not change fields other than {UPDATABLE_POD_FIELDS}\n{}",
                changed.join("\n")
            ),
        ));
    }
    // activeDeadlineSeconds may only be set or lowered, never removed.
    let nads = int(ns, "activeDeadlineSeconds");
    if let Some(o) = int(os, "activeDeadlineSeconds") {
        match nads {
            None => errs.push(FieldError::invalid(
                "spec.activeDeadlineSeconds",
                Value::Null,
                "must not update from a positive integer to nil value",
            )),
            Some(n) if n > o => errs.push(FieldError::invalid(
                "spec.activeDeadlineSeconds",
                n,
                "must be less than or equal to previous value",
            )),
            _ => {}
        }
    }
    // Tolerations may only be added.
    let new_t = arr(ns, "tolerations");
    for t in arr(os, "tolerations") {
        if !new_t.contains(t) {
            errs.push(FieldError::forbidden(
                "spec.tolerations",
                "existing toleration can not be modified except its tolerationSeconds",
            ));
            break;
        }
    }
}
