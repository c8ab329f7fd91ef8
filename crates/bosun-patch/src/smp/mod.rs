//! Strategic merge patch (`application/strategic-merge-patch+json`).
//!
//! Applies a patch the way the API server does for built-in kinds: maps
//! merge recursively, `null` deletes a key, lists merge or are replaced
//! according to the kind's patch schema, and the directives `$patch`,
//! `$retainKeys`, `$setElementOrder/<field>` and
//! `$deleteFromPrimitiveList/<field>` are honoured. Unmatched `null`s are
//! dropped and parallel deletion lists are applied, as upstream does for
//! patches received by the server.

mod list;

use serde_json::{Map, Value};

use crate::error::{go_fmt, go_type, PatchError};
use crate::schema::Ty;

pub(crate) const DIRECTIVE: &str = "$patch";
pub(crate) const RETAIN_KEYS: &str = "$retainKeys";
pub(crate) const SET_ELEMENT_ORDER: &str = "$setElementOrder";
pub(crate) const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList";

/// Applies a strategic merge patch to `original` for kind `(group, kind)`.
///
/// Unknown kinds have no patch schema: maps merge, lists are replaced, and
/// directives still apply.
pub fn apply_strategic_merge_patch(
    original: &Value,
    patch: &Value,
    group: &str,
    kind: &str,
) -> Result<Value, PatchError> {
    let (Value::Object(original), Value::Object(patch)) = (original, patch) else {
        return Err(PatchError::BadJsonDoc);
    };
    let ty = Ty::root(group, kind);
    merge_map(original.clone(), patch.clone(), ty).map(Value::Object)
}

/// Coarse JSON type, standing in for Go's dynamic type comparison.
pub(crate) fn json_kind(v: &Value) -> u8 {
    match v {
        Value::Null => 0,
        Value::Bool(_) => 1,
        Value::Number(_) => 2,
        Value::String(_) => 3,
        Value::Array(_) => 4,
        Value::Object(_) => 5,
    }
}

/// Equality of decoded JSON values as Go compares them (all numbers are
/// float64).
pub(crate) fn val_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => x == y,
            _ => x == y,
        },
        _ => a == b,
    }
}

/// Splits a directive key `<prefix>/<field>` into the field name.
fn extract_key<'a>(key: &'a str, prefix: &str, err: PatchError) -> Result<&'a str, PatchError> {
    match key.split_once('/') {
        Some((p, rest)) if p == prefix => Ok(rest),
        _ => Err(err),
    }
}

/// Merges `patch` into `original`, whose type is `ty`.
pub(crate) fn merge_map(
    mut original: Map<String, Value>,
    mut patch: Map<String, Value>,
    ty: Ty,
) -> Result<Map<String, Value>, PatchError> {
    if let Some(directive) = patch.get(DIRECTIVE) {
        return map_directive(directive.clone(), patch);
    }
    apply_retain_keys(&mut original, &mut patch)?;
    list::merge_set_element_order(&mut original, &mut patch, ty)?;

    for (key, patch_v) in patch {
        let mut is_delete_list = false;
        let name: String = if key.starts_with(DELETE_FROM_PRIMITIVE_LIST) {
            is_delete_list = true;
            extract_key(
                &key,
                DELETE_FROM_PRIMITIVE_LIST,
                PatchError::BadPrimitiveList,
            )?
            .to_string()
        } else {
            key
        };

        if patch_v.is_null() {
            original.shift_remove(&name);
            continue;
        }
        let Some(slot) = original.get_mut(&name) else {
            if !is_delete_list {
                if let Some(v) = clean_new_value(patch_v) {
                    original.insert(name, v);
                }
            }
            continue;
        };
        if json_kind(slot) != json_kind(&patch_v) {
            if !is_delete_list {
                match clean_new_value(patch_v) {
                    Some(v) => *slot = v,
                    None => {
                        original.shift_remove(&name);
                    }
                }
            }
            continue;
        }
        let field_ty = ty.field(&name).ty;
        match (&mut *slot, patch_v) {
            (Value::Object(o), Value::Object(p)) => {
                let o = std::mem::take(o);
                *slot = Value::Object(merge_map(o, p, field_ty)?);
            }
            (Value::Array(o), Value::Array(p)) => {
                let o = std::mem::take(o);
                *slot = Value::Array(list::merge_slice_handler(o, p, field_ty, is_delete_list)?);
            }
            (_, p) => *slot = p,
        }
    }
    Ok(original)
}

/// Handles `$patch` found in a map.
fn map_directive(
    directive: Value,
    mut patch: Map<String, Value>,
) -> Result<Map<String, Value>, PatchError> {
    match directive.as_str() {
        Some("replace") => {
            patch.shift_remove(DIRECTIVE);
            Ok(patch)
        }
        Some("delete") => Ok(Map::new()),
        _ => Err(PatchError::BadPatchType {
            patch_type: go_fmt(&directive),
            map: go_fmt(&Value::Object(patch)),
        }),
    }
}

/// Applies `$retainKeys`: drops keys of `original` not listed, after
/// checking that every patched key is listed.
fn apply_retain_keys(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
) -> Result<(), PatchError> {
    let Some(retain) = patch.shift_remove(RETAIN_KEYS) else {
        return Ok(());
    };
    let Value::Array(retain) = retain else {
        return Err(PatchError::BadRetainKeys);
    };
    let listed = |k: &str| retain.iter().any(|v| v.as_str() == Some(k));
    for (k, v) in patch.iter() {
        if v.is_null()
            || k.starts_with(DELETE_FROM_PRIMITIVE_LIST)
            || k.starts_with(SET_ELEMENT_ORDER)
        {
            continue;
        }
        if !listed(k) {
            return Err(PatchError::BadRetainKeys);
        }
    }
    original.retain(|k, _| listed(k));
    Ok(())
}

/// Prepares a patch value that is taken as is (no original to merge
/// with): drops `null`s and directive markers. Returns `None` when the value
/// itself is a `$patch` directive map and must not be kept.
pub(crate) fn clean_new_value(v: Value) -> Option<Value> {
    match v {
        Value::Object(map) => {
            if map.contains_key(DIRECTIVE) {
                return None;
            }
            let mut out = Map::new();
            for (k, v) in map {
                if v.is_null()
                    || k == RETAIN_KEYS
                    || k.starts_with(SET_ELEMENT_ORDER)
                    || k.starts_with(DELETE_FROM_PRIMITIVE_LIST)
                {
                    continue;
                }
                if let Some(v) = clean_new_value(v) {
                    out.insert(k, v);
                }
            }
            Some(Value::Object(out))
        }
        Value::Array(items) => Some(Value::Array(
            items
                .into_iter()
                .filter_map(|item| match item {
                    Value::Null => Some(Value::Null),
                    other => clean_new_value(other),
                })
                .collect(),
        )),
        other => Some(other),
    }
}

/// Error for a value that should have been a list.
pub(crate) fn expected_list(actual: &Value) -> PatchError {
    PatchError::BadArgType {
        expected: "[]interface {}",
        actual: go_type(actual),
    }
}

/// Error for a value that should have been a map.
pub(crate) fn expected_map(actual: &Value) -> PatchError {
    PatchError::BadArgType {
        expected: "map[string]interface {}",
        actual: go_type(actual),
    }
}
