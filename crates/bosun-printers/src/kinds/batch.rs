//! Rows for batch/v1 Job and CronJob.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{age, container_cells, n, s};
use crate::duration::{human_duration, nanos_between, since};
use crate::json::{
    arr_at, get, int_at, name, opt_bool_at, opt_int_at, opt_str_at, str_at, time_at,
};
use crate::labels::format_label_selector;

/// Status of the first condition of `type_`, compared against "True".
fn has_condition(obj: &Value, type_: &str) -> bool {
    arr_at(obj, &["status", "conditions"])
        .iter()
        .find(|c| str_at(c, &["type"]) == type_)
        .is_some_and(|c| str_at(c, &["status"]) == "True")
}

fn job_status(obj: &Value) -> &'static str {
    if has_condition(obj, "Complete") {
        "Complete"
    } else if has_condition(obj, "Failed") {
        "Failed"
    } else if get(obj, &["metadata", "deletionTimestamp"]).is_some() {
        "Terminating"
    } else if has_condition(obj, "Suspended") {
        "Suspended"
    } else if has_condition(obj, "FailureTarget") {
        "FailureTarget"
    } else {
        "Running"
    }
}

fn job_completions(obj: &Value) -> String {
    let succeeded = int_at(obj, &["status", "succeeded"]);
    match opt_int_at(obj, &["spec", "completions"]) {
        Some(c) => format!("{succeeded}/{c}"),
        None => {
            let parallelism = int_at(obj, &["spec", "parallelism"]);
            if parallelism > 1 {
                format!("{succeeded}/1 of {parallelism}")
            } else {
                format!("{succeeded}/1")
            }
        }
    }
}

fn job_duration(obj: &Value, now: DateTime<Utc>) -> String {
    let Some(start) = time_at(obj, &["status", "startTime"]) else {
        return String::new();
    };
    match time_at(obj, &["status", "completionTime"]) {
        None => human_duration(nanos_between(start, now)),
        Some(done) => human_duration(nanos_between(start, done)),
    }
}

pub(super) fn job(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (names, images) = container_cells(obj, &["spec", "template", "spec"]);
    vec![
        s(name(obj)),
        s(job_status(obj)),
        s(job_completions(obj)),
        s(job_duration(obj, now)),
        s(age(obj, now)),
        s(names),
        s(images),
        s(format_label_selector(get(obj, &["spec", "selector"]))),
    ]
}

/// Go's `printBoolPtr`: `True`, `False` or `<unset>`.
fn bool_ptr(v: Option<bool>) -> &'static str {
    match v {
        Some(true) => "True",
        Some(false) => "False",
        None => "<unset>",
    }
}

pub(super) fn cron_job(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let last_schedule = match get(obj, &["status", "lastScheduleTime"]) {
        Some(_) => since(time_at(obj, &["status", "lastScheduleTime"]), now),
        None => "<none>".to_string(),
    };
    let template_spec = ["spec", "jobTemplate", "spec", "template", "spec"];
    let (names, images) = container_cells(obj, &template_spec);
    let active = i64::try_from(arr_at(obj, &["status", "active"]).len()).unwrap_or(i64::MAX);
    vec![
        s(name(obj)),
        s(str_at(obj, &["spec", "schedule"])),
        s(opt_str_at(obj, &["spec", "timeZone"]).unwrap_or("<none>")),
        s(bool_ptr(opt_bool_at(obj, &["spec", "suspend"]))),
        n(active),
        s(last_schedule),
        s(age(obj, now)),
        s(names),
        s(images),
        s(format_label_selector(get(
            obj,
            &["spec", "jobTemplate", "spec", "selector"],
        ))),
    ]
}
