//! Errors of strategic merge patch, with upstream's wording.

use serde_json::Value;

/// Why a strategic merge patch could not be applied.
///
/// The `Display` text follows apimachinery's `mergepatch` errors so the API
/// server can return the same messages.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PatchError {
    /// The original or the patch is not a JSON object.
    #[error("invalid JSON document")]
    BadJsonDoc,
    /// `$patch` holds an unknown value.
    #[error("unknown patch type: {patch_type} in map: {map}")]
    BadPatchType { patch_type: String, map: String },
    /// `$retainKeys` is not a list or does not cover the patched keys.
    #[error("invalid patch format of retainKeys")]
    BadRetainKeys,
    /// A `$setElementOrder` directive is malformed or inconsistent.
    #[error("invalid patch format of setElementOrder list")]
    BadSetElementOrder,
    /// The patch list disagrees with its `$setElementOrder` list.
    #[error("The order in patch list:\n{patch}\n doesn't match $setElementOrder list:\n{order}\n")]
    SetElementOrderMismatch { patch: String, order: String },
    /// A `$deleteFromPrimitiveList` directive is malformed.
    #[error("invalid patch format of primitive list")]
    BadPrimitiveList,
    /// A list holds lists.
    #[error("lists of lists are not supported")]
    ListOfLists,
    /// A value has an unexpected JSON type.
    #[error("expected a {expected}, but received a {actual}")]
    BadArgType {
        expected: &'static str,
        actual: &'static str,
    },
    /// A merging-list element lacks its merge key.
    #[error("map: {map} does not contain declared merge key: {key}")]
    NoMergeKey { map: String, key: String },
    /// `$patch: merge` inside a list.
    #[error("merging lists cannot yet be specified in the patch")]
    MergeInList,
    /// Elements of one list have different JSON types.
    #[error("list element types are not identical: {0}")]
    MixedListTypes(String),
    /// A list of objects is declared mergeable without a merge key.
    #[error("cannot merge lists without merge key for type map")]
    MergeWithoutKey,
    /// A merging list holds a non-object where objects were expected.
    #[error("value for key {0} is not a map.")]
    NotAMap(usize),
}

impl PatchError {
    /// The HTTP status upstream answers with for this error: 400 for
    /// malformed patches, 422 for lists of lists, 500 otherwise.
    pub fn http_status(&self) -> u16 {
        match self {
            PatchError::BadJsonDoc
            | PatchError::BadPrimitiveList
            | PatchError::BadRetainKeys
            | PatchError::BadSetElementOrder => 400,
            PatchError::ListOfLists => 422,
            _ => 500,
        }
    }
}

/// Go's name of the dynamic type of a decoded JSON value.
pub(crate) fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(_) => "float64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

/// Formats a value as Go's `%v` prints decoded JSON.
pub(crate) fn go_fmt(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 1e21 => format!("{}", f as i64),
            Some(f) => f.to_string(),
            None => n.to_string(),
        },
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(go_fmt).collect();
            format!("[{}]", parts.join(" "))
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{k}:{}", go_fmt(&map[k])))
                .collect();
            format!("map[{}]", parts.join(" "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn go_formatting() {
        assert_eq!(go_fmt(&json!({"b": 1, "a": "x"})), "map[a:x b:1]");
        assert_eq!(go_fmt(&json!([1, "a", null])), "[1 a <nil>]");
        assert_eq!(go_fmt(&json!(1.5)), "1.5");
    }
}
