//! Assembly of the full `meta.k8s.io/v1` Table document.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};

use crate::json::{get, name, time_at};
use crate::{columns, kinds, Column};

/// What each row's `object` field carries (the `includeObject` parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IncludeObject {
    /// `includeObject=None`: rows carry `"object": null`.
    None,
    /// `includeObject=Metadata` (kubectl's default): a PartialObjectMetadata.
    #[default]
    Metadata,
    /// `includeObject=Object`: the full object as given.
    Object,
}

/// All knobs of Table generation; [`table`] covers the common case.
#[derive(Debug, Clone)]
pub struct TableOptions<'a> {
    /// What each row's `object` carries.
    pub include: IncludeObject,
    /// `metadata.resourceVersion` of the table (omitted when empty).
    pub resource_version: &'a str,
    /// `metadata.continue` of the table (omitted when `None` or empty).
    pub continue_token: Option<&'a str>,
    /// `metadata.remainingItemCount` of the table (omitted when `None`).
    pub remaining_item_count: Option<i64>,
    /// `TableOptions.noHeaders`: leave out the column definitions.
    pub no_headers: bool,
    /// apiVersion of the Table and of PartialObjectMetadata rows, normally
    /// "meta.k8s.io/v1" (kubectl may also negotiate "meta.k8s.io/v1beta1").
    pub api_version: &'a str,
    /// Current time used for ages and durations.
    pub now: DateTime<Utc>,
}

impl<'a> TableOptions<'a> {
    /// Options with defaults: metadata rows, no RV, headers, meta.k8s.io/v1.
    pub fn new(now: DateTime<Utc>) -> Self {
        TableOptions {
            include: IncludeObject::Metadata,
            resource_version: "",
            continue_token: None,
            remaining_item_count: None,
            no_headers: false,
            api_version: "meta.k8s.io/v1",
            now,
        }
    }
}

/// Cells of the generic table: the name and the creation time in RFC 3339
/// (UTC, whole seconds; the zero time when unset).
pub(crate) fn default_cells(obj: &Value) -> Vec<Value> {
    let created = time_at(obj, &["metadata", "creationTimestamp"])
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_else(|| "0001-01-01T00:00:00Z".to_string());
    vec![Value::String(name(obj).to_string()), Value::String(created)]
}

/// Builds a full `meta.k8s.io/v1` Table for a list of objects (a single GET
/// passes one object and that object's resourceVersion).
pub fn table(
    group: &str,
    kind: &str,
    objs: &[Value],
    include: IncludeObject,
    resource_version: &str,
    continue_token: Option<&str>,
    now: DateTime<Utc>,
) -> Value {
    let opts = TableOptions {
        include,
        resource_version,
        continue_token,
        ..TableOptions::new(now)
    };
    table_with_options(group, kind, objs, &opts)
}

/// Builds a Table with every option spelled out.
pub fn table_with_options(
    group: &str,
    kind: &str,
    objs: &[Value],
    opts: &TableOptions<'_>,
) -> Value {
    let printer = kinds::lookup(group, kind);
    let cols: Vec<Column> = match printer {
        Some(p) => columns::columns_for(p),
        None => columns::default_columns(),
    };

    let mut rows = Vec::with_capacity(objs.len());
    for obj in objs {
        let mut row = Map::new();
        let cells = match printer {
            Some(p) => kinds::cells(p, obj, opts.now),
            None => default_cells(obj),
        };
        row.insert("cells".into(), Value::Array(cells));
        if let Some(conds) = printer.and_then(|p| kinds::conditions(p, obj)) {
            row.insert("conditions".into(), conds);
        }
        row.insert("object".into(), row_object(obj, opts));
        rows.push(Value::Object(row));
    }

    let mut meta = Map::new();
    if !opts.resource_version.is_empty() {
        meta.insert("resourceVersion".into(), opts.resource_version.into());
    }
    if let Some(c) = opts.continue_token.filter(|c| !c.is_empty()) {
        meta.insert("continue".into(), c.into());
    }
    if let Some(n) = opts.remaining_item_count {
        meta.insert("remainingItemCount".into(), n.into());
    }

    let column_defs = if opts.no_headers {
        Value::Null
    } else {
        Value::Array(cols.iter().map(Column::to_json).collect())
    };
    // The generic convertor starts from a nil row slice, which encodes as
    // null when there is nothing to list; printers always produce a list.
    let rows = if rows.is_empty() && printer.is_none() {
        Value::Null
    } else {
        Value::Array(rows)
    };

    let mut out = Map::new();
    out.insert("kind".into(), "Table".into());
    out.insert("apiVersion".into(), opts.api_version.into());
    out.insert("metadata".into(), Value::Object(meta));
    out.insert("columnDefinitions".into(), column_defs);
    out.insert("rows".into(), rows);
    Value::Object(out)
}

fn row_object(obj: &Value, opts: &TableOptions<'_>) -> Value {
    match opts.include {
        IncludeObject::None => Value::Null,
        IncludeObject::Object => obj.clone(),
        IncludeObject::Metadata => {
            let mut m = Map::new();
            m.insert("kind".into(), "PartialObjectMetadata".into());
            m.insert("apiVersion".into(), opts.api_version.into());
            let meta = get(obj, &["metadata"])
                .cloned()
                .unwrap_or_else(|| Value::Object(Map::new()));
            m.insert("metadata".into(), meta);
            Value::Object(m)
        }
    }
}
