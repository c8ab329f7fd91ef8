//! Small helpers over objects in their JSON form.

use serde_json::{Map, Value};

pub fn meta(obj: &Value) -> Option<&Map<String, Value>> {
    obj.get("metadata").and_then(Value::as_object)
}

/// `metadata` as a mutable map, created if missing or not an object.
pub fn meta_mut(obj: &mut Value) -> &mut Map<String, Value> {
    if !obj.is_object() {
        *obj = Value::Object(Map::new());
    }
    let map = obj.as_object_mut().expect("just made an object");
    let entry = map
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if !entry.is_object() {
        *entry = Value::Object(Map::new());
    }
    entry.as_object_mut().expect("just made an object")
}

pub fn meta_str<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    meta(obj)?.get(field)?.as_str()
}

pub fn name(obj: &Value) -> &str {
    meta_str(obj, "name").unwrap_or("")
}

pub fn namespace(obj: &Value) -> Option<&str> {
    meta_str(obj, "namespace").filter(|s| !s.is_empty())
}

pub fn resource_version(obj: &Value) -> Option<&str> {
    meta_str(obj, "resourceVersion").filter(|s| !s.is_empty())
}

pub fn finalizers(obj: &Value) -> Vec<String> {
    meta(obj)
        .and_then(|m| m.get("finalizers"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

pub fn set_finalizers(obj: &mut Value, finalizers: Vec<String>) {
    let m = meta_mut(obj);
    if finalizers.is_empty() {
        m.remove("finalizers");
    } else {
        m.insert(
            "finalizers".into(),
            Value::Array(finalizers.into_iter().map(Value::String).collect()),
        );
    }
}

pub fn is_terminating(obj: &Value) -> bool {
    meta(obj).is_some_and(|m| m.get("deletionTimestamp").is_some_and(|v| !v.is_null()))
}

/// Looks up a dotted path such as `spec.nodeName` as a string, rendering
/// numbers and booleans as upstream's field selectors do.
pub fn field_string(obj: &Value, path: &str) -> Option<String> {
    let mut cur = obj;
    for part in path.split('.') {
        cur = cur.get(part)?;
    }
    match cur {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Null => None,
        _ => None,
    }
}

/// Everything except metadata and status: what a generation bump tracks.
pub fn spec_part(obj: &Value) -> Map<String, Value> {
    obj.as_object()
        .map(|m| {
            m.iter()
                .filter(|(k, _)| {
                    !matches!(k.as_str(), "metadata" | "status" | "apiVersion" | "kind")
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default()
}

pub fn now_rfc3339() -> String {
    // to_rfc3339_opts writes directly; format() parses its pattern per call.
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

pub fn rfc3339_after(seconds: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::seconds(seconds))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
thread_local! {
    static FORCED_SUFFIXES: std::cell::RefCell<std::collections::VecDeque<&'static str>> =
        Default::default();
}

/// Makes [`random_suffix`] return these next (on this thread), so tests
/// can make generated names collide.
#[cfg(test)]
pub fn force_next_suffixes(suffixes: &[&'static str]) {
    FORCED_SUFFIXES.with(|q| q.borrow_mut().extend(suffixes.iter().copied()));
}

/// Five characters from upstream's generateName alphabet.
pub fn random_suffix() -> String {
    #[cfg(test)]
    if let Some(forced) = FORCED_SUFFIXES.with(|q| q.borrow_mut().pop_front()) {
        return forced.to_string();
    }
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    (0..5)
        .map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// Names `obj` from its `metadata.generateName` and a fresh
/// [`random_suffix`]; false (and untouched) without a generateName.
pub fn generate_name(obj: &mut Value) -> bool {
    let Some(prefix) = meta_str(obj, "generateName").filter(|g| !g.is_empty()) else {
        return false;
    };
    let name = format!("{prefix}{}", random_suffix());
    meta_mut(obj).insert("name".into(), Value::String(name));
    true
}

/// Drops empty maps and lists from the object's metadata, as Go's
/// `omitempty` does when upstream encodes an ObjectMeta.
pub fn drop_empty_meta(obj: &mut Value) {
    const OMIT_EMPTY: [&str; 5] = [
        "labels",
        "annotations",
        "finalizers",
        "ownerReferences",
        "managedFields",
    ];
    if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        m.retain(|k, v| {
            let empty = match v {
                Value::Object(o) => o.is_empty(),
                Value::Array(a) => a.is_empty(),
                _ => false,
            };
            !(empty && OMIT_EMPTY.contains(&k.as_str()))
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn empty_metadata_collections_are_omitted_like_go_omitempty() {
        let mut obj = json!({"metadata": {
            "name": "x",
            "labels": {},
            "annotations": {},
            "finalizers": [],
            "ownerReferences": [],
            "managedFields": [],
            "generateName": "",
        }, "data": {}});
        drop_empty_meta(&mut obj);
        // Only ObjectMeta's omitempty collections go; other fields stay.
        assert_eq!(
            obj,
            json!({"metadata": {"name": "x", "generateName": ""}, "data": {}})
        );
        let mut kept = json!({"metadata": {"labels": {"a": "b"}, "finalizers": ["f"]}});
        let before = kept.clone();
        drop_empty_meta(&mut kept);
        assert_eq!(kept, before);
    }
}
