//! Shared helpers for the golden-style printer tests.
#![allow(dead_code)]

use chrono::{DateTime, Duration, SecondsFormat, TimeZone, Utc};
use serde_json::Value;

/// Fixed "current time" for every test.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0)
        .single()
        .expect("valid time")
}

/// RFC 3339 timestamp `secs` seconds before [`now`].
pub fn ago(secs: i64) -> String {
    (now() - Duration::seconds(secs)).to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Row cells of `obj` at [`now`].
pub fn cells(group: &str, kind: &str, obj: &Value) -> Vec<Value> {
    bosun_printers::row_cells(group, kind, obj, now())
}

/// Only the `priority: 0` cells (what plain `kubectl get` shows).
pub fn default_cells(group: &str, kind: &str, obj: &Value) -> Vec<Value> {
    let cols = bosun_printers::columns(group, kind);
    let row = cells(group, kind, obj);
    assert_eq!(cols.len(), row.len(), "cells must match columns for {kind}");
    cols.iter()
        .zip(row)
        .filter(|(c, _)| c.priority == 0)
        .map(|(_, v)| v)
        .collect()
}

/// The `priority: 1` cells (the extra `-o wide` columns).
pub fn wide_cells(group: &str, kind: &str, obj: &Value) -> Vec<Value> {
    let cols = bosun_printers::columns(group, kind);
    let row = cells(group, kind, obj);
    assert_eq!(cols.len(), row.len(), "cells must match columns for {kind}");
    cols.iter()
        .zip(row)
        .filter(|(c, _)| c.priority == 1)
        .map(|(_, v)| v)
        .collect()
}

/// Column headers as (name, type, format, priority) tuples.
pub fn headers(group: &str, kind: &str) -> Vec<(&'static str, &'static str, &'static str, i32)> {
    bosun_printers::columns(group, kind)
        .iter()
        .map(|c| (c.name, c.type_, c.format, c.priority))
        .collect()
}
