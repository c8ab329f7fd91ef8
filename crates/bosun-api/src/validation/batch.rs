//! batch/v1 checks: Job and CronJob.

use super::access::{boolean, child, int, opt_s, present, s};
use super::apps::check_template_matches;
use super::cron::parse_schedule;
use super::errors::FieldError;
use super::meta::{sort_keys, validate_immutable, validate_label_selector, validate_nonnegative};
use super::pod::validate_pod_template;
use serde_json::Value;

static NULL: Value = Value::Null;

const MAX_PARALLELISM_INDEXED: i64 = 100_000;

/// Checks shared by a Job spec and a CronJob's job template spec, at `p`.
fn validate_job_spec_common(sp: &Value, p: &str, errs: &mut Vec<FieldError>) {
    for f in [
        "parallelism",
        "completions",
        "activeDeadlineSeconds",
        "backoffLimit",
        "ttlSecondsAfterFinished",
        "backoffLimitPerIndex",
        "maxFailedIndexes",
    ] {
        if let Some(v) = int(sp, f) {
            validate_nonnegative(v, &child(p, f), errs);
        }
    }
    let mode = opt_s(sp, "completionMode");
    if let Some(m) = mode {
        if m != "NonIndexed" && m != "Indexed" {
            errs.push(FieldError::not_supported(
                child(p, "completionMode"),
                m,
                &["NonIndexed", "Indexed"],
            ));
        }
        if m == "Indexed" {
            if present(sp, "completions").is_none() {
                errs.push(FieldError::required(
                    child(p, "completions"),
                    "when completion mode is Indexed",
                ));
            }
            if let Some(par) = int(sp, "parallelism") {
                if par > MAX_PARALLELISM_INDEXED {
                    errs.push(FieldError::invalid(
                        child(p, "parallelism"),
                        par,
                        format!("must be less than or equal to {MAX_PARALLELISM_INDEXED} when completion mode is Indexed"),
                    ));
                }
            }
        }
    }
    if present(sp, "backoffLimitPerIndex").is_some() && mode != Some("Indexed") {
        errs.push(FieldError::invalid(
            child(p, "backoffLimitPerIndex"),
            sp.get("backoffLimitPerIndex")
                .cloned()
                .unwrap_or(Value::Null),
            "requires indexed completion mode",
        ));
    }
    if let Some(prp) = opt_s(sp, "podReplacementPolicy") {
        if prp != "TerminatingOrFailed" && prp != "Failed" {
            errs.push(FieldError::not_supported(
                child(p, "podReplacementPolicy"),
                prp,
                &["TerminatingOrFailed", "Failed"],
            ));
        } else if present(sp, "podFailurePolicy").is_some() && prp != "Failed" {
            errs.push(FieldError::not_supported(
                child(p, "podReplacementPolicy"),
                prp,
                &["Failed"],
            ));
        }
    }
    let tp = child(p, "template");
    let t = sp.get("template").unwrap_or(&NULL);
    let rpp = child(&tp, "spec.restartPolicy");
    // The generic restartPolicy check is replaced by the Job-specific one
    // below (upstream defaults an empty value to Always first, which the
    // generic check accepts).
    let mut template_errs = Vec::new();
    validate_pod_template(t, &tp, &mut template_errs);
    errs.extend(template_errs.into_iter().filter(|e| e.field != rpp));
    let rp = t.get("spec").map(|ts| s(ts, "restartPolicy")).unwrap_or("");
    match rp {
        "" | "Always" => errs.push(FieldError::required(
            rpp,
            "valid values: \"OnFailure\", \"Never\"",
        )),
        "OnFailure" | "Never" => {}
        other => errs.push(FieldError::not_supported(
            rpp,
            other,
            &["OnFailure", "Never"],
        )),
    }
}

/// Job spec (the selector is required: the server generates it before
/// validation unless `manualSelector` is true).
pub fn validate_job(o: &Value, errs: &mut Vec<FieldError>) {
    let sp = o.get("spec").unwrap_or(&NULL);
    match present(sp, "selector") {
        None => errs.push(FieldError::required("spec.selector", "")),
        Some(sel) => {
            validate_label_selector(Some(sel), "spec.selector", errs);
            if let Some(t) = sp.get("template") {
                check_template_matches(sel, t, "spec.template", errs);
            }
        }
    }
    validate_job_spec_common(sp, "spec", errs);
}

/// CronJob spec, including its job template.
pub fn validate_cron_job(o: &Value, errs: &mut Vec<FieldError>) {
    let name = o.get("metadata").map(|m| s(m, "name")).unwrap_or("");
    if name.len() > 52 {
        errs.push(FieldError::invalid(
            "metadata.name",
            name,
            "must be no more than 52 characters",
        ));
    }
    let sp = o.get("spec").unwrap_or(&NULL);
    let schedule = s(sp, "schedule");
    if schedule.is_empty() {
        errs.push(FieldError::required("spec.schedule", ""));
    } else {
        if let Err(e) = parse_schedule(schedule) {
            errs.push(FieldError::invalid("spec.schedule", schedule, e));
        }
        if schedule.contains("TZ") {
            errs.push(FieldError::invalid(
                "spec.schedule",
                schedule,
                "cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
            ));
        }
    }
    if let Some(tz) = opt_s(sp, "timeZone") {
        validate_time_zone(tz, errs);
    }
    match s(sp, "concurrencyPolicy") {
        "Allow" | "Forbid" | "Replace" => {}
        "" => errs.push(FieldError::required("spec.concurrencyPolicy", "")),
        other => errs.push(FieldError::not_supported(
            "spec.concurrencyPolicy",
            other,
            &["Allow", "Forbid", "Replace"],
        )),
    }
    for f in [
        "startingDeadlineSeconds",
        "successfulJobsHistoryLimit",
        "failedJobsHistoryLimit",
    ] {
        if let Some(v) = int(sp, f) {
            validate_nonnegative(v, &child("spec", f), errs);
        }
    }
    let jt = sp.get("jobTemplate").unwrap_or(&NULL);
    let jsp = jt.get("spec").unwrap_or(&NULL);
    validate_job_spec_common(jsp, "spec.jobTemplate.spec", errs);
    if let Some(sel) = present(jsp, "selector") {
        errs.push(FieldError::invalid(
            "spec.jobTemplate.spec.selector",
            sort_keys(sel.clone()),
            "`selector` will be auto-generated",
        ));
    }
    if boolean(jsp, "manualSelector") == Some(true) {
        errs.push(FieldError::not_supported(
            "spec.jobTemplate.spec.manualSelector",
            true,
            &["nil", "false"],
        ));
    }
}

fn validate_time_zone(tz: &str, errs: &mut Vec<FieldError>) {
    let p = "spec.timeZone";
    if tz.eq_ignore_ascii_case("local") {
        errs.push(FieldError::invalid(
            p,
            tz,
            "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones",
        ));
        return;
    }
    let element_ok = |e: &str| {
        !e.is_empty()
            && e.len() <= 14
            && e.bytes()
                .all(|c| c.is_ascii_alphanumeric() || b".-_+".contains(&c))
            && e != "."
            && e != ".."
    };
    if tz.is_empty() || tz.starts_with('/') || !tz.split('/').all(element_ok) {
        errs.push(FieldError::invalid(
            p,
            tz,
            format!("unknown time zone {tz}"),
        ));
    }
}

/// Job update: selector always immutable; the pod template only while the
/// Job is not suspended (scheduling directives may change when suspended);
/// completionMode and podFailurePolicy are immutable.
pub fn validate_job_update(new: &Value, old: &Value, errs: &mut Vec<FieldError>) {
    let ns = new.get("spec").unwrap_or(&NULL);
    let os = old.get("spec").unwrap_or(&NULL);
    validate_immutable(
        ns.get("selector"),
        os.get("selector"),
        "spec.selector",
        errs,
    );
    validate_immutable(
        ns.get("completionMode"),
        os.get("completionMode"),
        "spec.completionMode",
        errs,
    );
    validate_immutable(
        ns.get("podFailurePolicy"),
        os.get("podFailurePolicy"),
        "spec.podFailurePolicy",
        errs,
    );
    let indexed_elastic =
        s(ns, "completionMode") == "Indexed" && int(ns, "completions") == int(ns, "parallelism");
    if !indexed_elastic {
        validate_immutable(
            ns.get("completions"),
            os.get("completions"),
            "spec.completions",
            errs,
        );
    }
    let suspended = boolean(os, "suspend") == Some(true);
    let strip = |t: Option<&Value>| -> Value {
        let mut c = t.cloned().unwrap_or(Value::Null);
        if suspended {
            if let Some(m) = c.get_mut("metadata").and_then(Value::as_object_mut) {
                m.remove("labels");
                m.remove("annotations");
            }
            if let Some(sm) = c.get_mut("spec").and_then(Value::as_object_mut) {
                for f in ["nodeSelector", "affinity", "tolerations", "schedulingGates"] {
                    sm.remove(f);
                }
            }
        }
        c
    };
    let nt = strip(ns.get("template"));
    let ot = strip(os.get("template"));
    if nt != ot {
        errs.push(FieldError::invalid(
            "spec.template",
            sort_keys(ns.get("template").cloned().unwrap_or(Value::Null)),
            "field is immutable",
        ));
    }
}
