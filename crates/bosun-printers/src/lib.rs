//! Server-side `meta.k8s.io/v1` Table printing for Bosun.
//!
//! This is what `kubectl get` shows: for each served kind the same columns
//! (names, types, formats, priorities) and cell values as the upstream
//! Kubernetes 1.32 printers, and the generic `Name` / `Created At` table for
//! kinds without a printer. Like kube-apiserver, rows always carry every
//! cell, including the `priority: 1` (`-o wide`) ones; kubectl hides those
//! columns itself unless asked for wide output.
//!
//! The crate is pure: objects come in as external-form JSON and tables go
//! out as JSON. Time-dependent cells (ages, durations, "N (X ago)") are
//! computed against the caller-supplied `now`.

mod columns;
mod duration;
mod json;
mod kinds;
mod labels;
mod quantity;
mod table;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

pub use duration::human_duration;
pub use quantity::canonical as canonical_quantity;
pub use table::{table, table_with_options, IncludeObject, TableOptions};

/// One column definition of a Table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    /// Column header as upstream names it (kubectl upper-cases it).
    pub name: &'static str,
    /// OpenAPI type: "string" | "integer" | "date" | "number" | "boolean".
    pub type_: &'static str,
    /// "name" for the object-name column, otherwise "".
    pub format: &'static str,
    /// Short human description.
    pub description: &'static str,
    /// 0 for default columns, 1 for columns shown only with `-o wide`.
    pub priority: i32,
}

impl Column {
    /// The `TableColumnDefinition` JSON for this column.
    pub fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "type": self.type_,
            "format": self.format,
            "description": self.description,
            "priority": self.priority,
        })
    }
}

/// Returns true when (group, kind) has a dedicated printer; other kinds use
/// the generic `Name` / `Created At` table. The core group may be given as
/// "" or "core".
pub fn has_printer(group: &str, kind: &str) -> bool {
    kinds::lookup(group, kind).is_some()
}

/// Column definitions for (group, kind), in upstream order.
pub fn columns(group: &str, kind: &str) -> Vec<Column> {
    match kinds::lookup(group, kind) {
        Some(p) => columns::columns_for(p),
        None => columns::default_columns(),
    }
}

/// One row's cells for `obj` (JSON external form), one per column of
/// [`columns`]. `now` is the current time used for ages and durations.
pub fn row_cells(group: &str, kind: &str, obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    match kinds::lookup(group, kind) {
        Some(p) => kinds::cells(p, obj, now),
        None => table::default_cells(obj),
    }
}
