//! `metadata.managedFields` entries: decoding, identity and encoding.

use serde_json::{Map, Value};

use super::path::{decode_fields_v1, encode_fields_v1, FieldSet};

pub(crate) const APPLY: &str = "Apply";
pub(crate) const UPDATE: &str = "Update";

/// One managedFields entry with its decoded field set.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub(crate) manager: String,
    pub(crate) operation: String,
    pub(crate) api_version: String,
    pub(crate) time: Option<String>,
    pub(crate) subresource: String,
    pub(crate) set: FieldSet,
}

impl Entry {
    /// Upstream's manager identifier: the entry without fields and time,
    /// and without apiVersion for appliers, as JSON.
    pub(crate) fn identifier(&self) -> String {
        let mut m = Map::new();
        m.insert("manager".into(), Value::String(self.manager.clone()));
        m.insert("operation".into(), Value::String(self.operation.clone()));
        if self.operation != APPLY && !self.api_version.is_empty() {
            m.insert("apiVersion".into(), Value::String(self.api_version.clone()));
        }
        if !self.subresource.is_empty() {
            m.insert(
                "subresource".into(),
                Value::String(self.subresource.clone()),
            );
        }
        Value::Object(m).to_string()
    }

    /// Whether this entry belongs to the given writer.
    pub(crate) fn is(
        &self,
        manager: &str,
        operation: &str,
        api_version: &str,
        subresource: &str,
    ) -> bool {
        self.manager == manager
            && self.operation == operation
            && self.subresource == subresource
            && (operation == APPLY || self.api_version == api_version)
    }
}

fn str_field(m: &Map<String, Value>, k: &str) -> String {
    m.get(k)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// Decodes `metadata.managedFields` of `obj`; entries with the same
/// identifier are merged.
pub(crate) fn decode(obj: &Value) -> Result<Vec<Entry>, String> {
    let Some(list) = obj.pointer("/metadata/managedFields") else {
        return Ok(Vec::new());
    };
    let Value::Array(list) = list else {
        if list.is_null() {
            return Ok(Vec::new());
        }
        return Err("managedFields must be a list".to_string());
    };
    let mut out: Vec<Entry> = Vec::new();
    for item in list {
        let Value::Object(m) = item else {
            return Err("managedFields entries must be objects".to_string());
        };
        let fields_type = str_field(m, "fieldsType");
        let set = match m.get("fieldsV1") {
            Some(v) if !v.is_null() => {
                if fields_type != "FieldsV1" {
                    return Err(format!("invalid fieldsType {fields_type:?}"));
                }
                decode_fields_v1(v)?
            }
            _ => FieldSet::new(),
        };
        let entry = Entry {
            manager: str_field(m, "manager"),
            operation: str_field(m, "operation"),
            api_version: str_field(m, "apiVersion"),
            time: m.get("time").and_then(Value::as_str).map(str::to_string),
            subresource: str_field(m, "subresource"),
            set,
        };
        match out
            .iter_mut()
            .find(|e| e.identifier() == entry.identifier())
        {
            Some(existing) => existing.set.extend(entry.set),
            None => out.push(entry),
        }
    }
    Ok(out)
}

/// Upstream's order of entries: operation, time, manager, apiVersion,
/// subresource.
fn order_key(e: &Entry) -> [&str; 5] {
    [
        &e.operation,
        e.time.as_deref().unwrap_or(""),
        &e.manager,
        &e.api_version,
        &e.subresource,
    ]
}

/// [`order_key`] of an encoded entry.
fn encoded_order_key(v: &Value) -> [&str; 5] {
    let text = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("");
    [
        text("operation"),
        text("time"),
        text("manager"),
        text("apiVersion"),
        text("subresource"),
    ]
}

/// Orders encoded entries as [`encode`] does.
pub(crate) fn encoded_order(a: &Value, b: &Value) -> std::cmp::Ordering {
    encoded_order_key(a).cmp(&encoded_order_key(b))
}

/// Encodes entries in upstream's order (operation, time, manager,
/// apiVersion, subresource), dropping empty ones.
pub(crate) fn encode(entries: &[Entry]) -> Vec<Value> {
    let mut sorted: Vec<&Entry> = entries.iter().filter(|e| !e.set.is_empty()).collect();
    sorted.sort_by(|a, b| order_key(a).cmp(&order_key(b)));
    sorted.into_iter().map(encode_entry).collect()
}

/// One entry as it is stored.
pub(crate) fn encode_entry(e: &Entry) -> Value {
    let mut m = Map::new();
    m.insert("manager".into(), Value::String(e.manager.clone()));
    m.insert("operation".into(), Value::String(e.operation.clone()));
    m.insert("apiVersion".into(), Value::String(e.api_version.clone()));
    if let Some(t) = &e.time {
        m.insert("time".into(), Value::String(t.clone()));
    }
    m.insert("fieldsType".into(), Value::String("FieldsV1".into()));
    m.insert("fieldsV1".into(), encode_fields_v1(&e.set));
    if !e.subresource.is_empty() {
        m.insert("subresource".into(), Value::String(e.subresource.clone()));
    }
    Value::Object(m)
}

/// Writes `entries` into `obj.metadata.managedFields` (removing the field
/// when there are none).
pub(crate) fn store(obj: &mut Value, entries: &[Entry]) {
    store_encoded(obj, encode(entries));
}

/// [`store`] for entries already encoded.
pub(crate) fn store_encoded(obj: &mut Value, encoded: Vec<Value>) {
    let Value::Object(root) = obj else { return };
    let meta = root
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(meta) = meta else { return };
    if encoded.is_empty() {
        meta.shift_remove("managedFields");
    } else {
        meta.insert("managedFields".into(), Value::Array(encoded));
    }
}

/// Removes `metadata.managedFields` from `obj`.
pub(crate) fn strip(obj: &Value) -> Value {
    strip_owned(obj.clone())
}

/// [`strip`] on an object the caller gives up.
pub(crate) fn strip_owned(mut obj: Value) -> Value {
    if let Some(Value::Object(meta)) = obj.get_mut("metadata") {
        meta.shift_remove("managedFields");
    }
    obj
}
