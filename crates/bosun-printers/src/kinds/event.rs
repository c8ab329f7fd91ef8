//! Rows for core/v1 Event and events.k8s.io/v1 Event.
//!
//! Both are printed from the same internal representation upstream; an
//! events.k8s.io/v1 object is first mapped onto the core field names.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{n, s};
use crate::duration::since;
use crate::json::{has_obj, int_at, name, str_at, time_at};

/// Field accessors over either event flavour.
struct EventView<'a> {
    obj: &'a Value,
    v1: bool,
}

impl<'a> EventView<'a> {
    fn field(&self, core: &'static str, events_v1: &'static str) -> &'a str {
        str_at(self.obj, &[if self.v1 { events_v1 } else { core }])
    }

    fn involved(&self) -> &'a str {
        if self.v1 {
            "regarding"
        } else {
            "involvedObject"
        }
    }
}

fn cells(ev: &EventView<'_>, now: DateTime<Utc>) -> Vec<Value> {
    let obj = ev.obj;
    let (first_key, last_key, count_key, source_key, message_key, component_key) = if ev.v1 {
        (
            "deprecatedFirstTimestamp",
            "deprecatedLastTimestamp",
            "deprecatedCount",
            "deprecatedSource",
            "note",
            "reportingController",
        )
    } else {
        (
            "firstTimestamp",
            "lastTimestamp",
            "count",
            "source",
            "message",
            "reportingComponent",
        )
    };

    let first_ts = time_at(obj, &[first_key]);
    let first = match first_ts {
        Some(t) => since(Some(t), now),
        None => since(time_at(obj, &["eventTime"]), now),
    };
    let mut last = match time_at(obj, &[last_key]) {
        Some(t) => since(Some(t), now),
        None => first.clone(),
    };
    let mut occurrences = int_at(obj, &[count_key]);
    if has_obj(obj, &["series"]) {
        last = since(time_at(obj, &["series", "lastObservedTime"]), now);
        occurrences = int_at(obj, &["series", "count"]);
    } else if occurrences == 0 {
        // Singleton events from the new API carry no count.
        occurrences = 1;
    }

    let involved = ev.involved();
    let kind = str_at(obj, &[involved, "kind"]).to_lowercase();
    let target_name = str_at(obj, &[involved, "name"]);
    let target = if target_name.is_empty() {
        kind
    } else {
        format!("{kind}/{target_name}")
    };

    let component = first_non_empty(
        str_at(obj, &[source_key, "component"]),
        str_at(obj, &[component_key]),
    );
    let instance = first_non_empty(
        str_at(obj, &[source_key, "host"]),
        str_at(obj, &["reportingInstance"]),
    );
    let source = if instance.is_empty() {
        component.to_string()
    } else {
        format!("{component}, {instance}")
    };

    vec![
        s(last),
        s(ev.field("type", "type")),
        s(ev.field("reason", "reason")),
        s(target),
        s(str_at(obj, &[involved, "fieldPath"])),
        s(source),
        s(str_at(obj, &[message_key]).trim()),
        s(first),
        n(occurrences),
        s(name(obj)),
    ]
}

fn first_non_empty<'a>(a: &'a str, b: &'a str) -> &'a str {
    if a.is_empty() {
        b
    } else {
        a
    }
}

pub(super) fn core_event(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    cells(&EventView { obj, v1: false }, now)
}

pub(super) fn events_v1_event(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    cells(&EventView { obj, v1: true }, now)
}
