//! List handling of strategic merge patch: merging lists by key, scalar
//! unions, deletion lists, `$patch` list elements and element ordering
//! (`$setElementOrder`).

use serde_json::{Map, Value};

use super::{
    clean_new_value, expected_list, expected_map, extract_key, merge_map, val_eq, DIRECTIVE,
    SET_ELEMENT_ORDER,
};
use crate::error::{go_fmt, PatchError};
use crate::schema::{SmpList, Ty};

/// Merges a patch list into an original list of type `ty`.
pub(super) fn merge_slice_handler(
    original: Vec<Value>,
    patch: Vec<Value>,
    ty: Ty,
    is_delete_list: bool,
) -> Result<Vec<Value>, PatchError> {
    match ty.smp_list() {
        SmpList::Merge(key) => merge_slice(original, patch, ty.elem(), key, is_delete_list),
        SmpList::MergePrimitive => merge_slice(original, patch, ty.elem(), "", is_delete_list),
        SmpList::Replace => Ok(patch),
    }
}

/// Whether the elements of the lists are maps; errors on nested lists or
/// mixed element types.
fn elements_are_maps(original: &[Value], patch: &[Value]) -> Result<Option<bool>, PatchError> {
    let mut kind = None;
    for v in original.iter().chain(patch) {
        if v.is_array() {
            return Err(PatchError::ListOfLists);
        }
        let k = super::json_kind(v);
        match kind {
            None => kind = Some(k),
            Some(prev) if prev != k => {
                return Err(PatchError::MixedListTypes(format!(
                    "[{} {}]",
                    go_fmt(&Value::Array(original.to_vec())),
                    go_fmt(&Value::Array(patch.to_vec()))
                )))
            }
            Some(_) => {}
        }
    }
    Ok(kind.map(|k| k == super::json_kind(&Value::Object(Map::new()))))
}

fn merge_slice(
    original: Vec<Value>,
    patch: Vec<Value>,
    elem_ty: Ty,
    merge_key: &str,
    is_delete_list: bool,
) -> Result<Vec<Value>, PatchError> {
    if original.is_empty() && patch.is_empty() {
        return Ok(original);
    }
    let is_map = elements_are_maps(&original, &patch)?.unwrap_or(false);
    let (server_order, order, merged) = if !is_map {
        if is_delete_list {
            return Ok(original
                .into_iter()
                .filter(|v| !patch.iter().any(|d| val_eq(v, d)))
                .collect());
        }
        let mut merged: Vec<Value> = Vec::with_capacity(original.len() + patch.len());
        for v in original.iter().chain(&patch) {
            if !merged.iter().any(|m| val_eq(m, v)) {
                merged.push(v.clone());
            }
        }
        (original, patch, merged)
    } else {
        if merge_key.is_empty() {
            return Err(PatchError::MergeWithoutKey);
        }
        let (original, patch) = apply_special_elements(original, patch, merge_key)?;
        let merged = merge_by_key(original.clone(), patch.clone(), merge_key, elem_ty)?;
        (original, patch, merged)
    };
    let (patch_items, server_only) = partition(merged, &order, merge_key, is_map)?;
    normalize_element_order(
        patch_items,
        server_only,
        &order,
        &server_order,
        merge_key,
        is_map,
    )
}

/// Handles list elements carrying `$patch`: `delete` removes matching
/// originals, `replace` makes the rest of the patch list replace the
/// original. Returns the new original and the patch without such elements.
fn apply_special_elements(
    mut original: Vec<Value>,
    patch: Vec<Value>,
    merge_key: &str,
) -> Result<(Vec<Value>, Vec<Value>), PatchError> {
    let mut plain = Vec::with_capacity(patch.len());
    let mut replace = false;
    for v in patch {
        let Value::Object(m) = &v else {
            return Err(expected_map(&v));
        };
        let Some(directive) = m.get(DIRECTIVE) else {
            plain.push(v);
            continue;
        };
        match directive.as_str() {
            Some("delete") => {
                let Some(key_value) = m.get(merge_key) else {
                    return Err(no_merge_key(&v, merge_key));
                };
                original.retain(|o| !o.get(merge_key).is_some_and(|ov| val_eq(ov, key_value)));
            }
            Some("replace") => replace = true,
            Some("merge") => return Err(PatchError::MergeInList),
            _ => {
                return Err(PatchError::BadPatchType {
                    patch_type: go_fmt(directive),
                    map: go_fmt(&v),
                })
            }
        }
    }
    if replace {
        Ok((plain, Vec::new()))
    } else {
        Ok((original, plain))
    }
}

fn no_merge_key(v: &Value, key: &str) -> PatchError {
    PatchError::NoMergeKey {
        map: go_fmt(v),
        key: key.to_string(),
    }
}

/// Merges each patch element into the original element with the same merge
/// key value, appending the ones without a match.
fn merge_by_key(
    mut original: Vec<Value>,
    patch: Vec<Value>,
    merge_key: &str,
    elem_ty: Ty,
) -> Result<Vec<Value>, PatchError> {
    for v in patch {
        let Some(key_value) = v.get(merge_key).cloned() else {
            return Err(no_merge_key(&v, merge_key));
        };
        let Value::Object(pm) = v else {
            return Err(expected_map(&v));
        };
        let mut found = None;
        for (i, o) in original.iter().enumerate() {
            let Value::Object(om) = o else {
                return Err(PatchError::NotAMap(i));
            };
            if om.get(merge_key).is_some_and(|ov| val_eq(ov, &key_value)) {
                found = Some(i);
                break;
            }
        }
        match found {
            Some(i) => {
                let om = match std::mem::take(&mut original[i]) {
                    Value::Object(om) => om,
                    _ => Map::new(),
                };
                original[i] = Value::Object(merge_map(om, pm, elem_ty)?);
            }
            None => {
                if let Some(v) = clean_new_value(Value::Object(pm)) {
                    original.push(v);
                }
            }
        }
    }
    Ok(original)
}

/// Position of `item` in `list`, comparing merge key values for maps.
fn index_of(list: &[Value], item: &Value, merge_key: &str, is_map: bool) -> Option<usize> {
    if is_map {
        let want = item.get(merge_key);
        list.iter().position(|v| match (v.get(merge_key), want) {
            (Some(a), Some(b)) => val_eq(a, b),
            (None, None) => true,
            _ => false,
        })
    } else {
        list.iter().position(|v| val_eq(v, item))
    }
}

/// Splits `merged` into the items present in `by` and the others.
fn partition(
    merged: Vec<Value>,
    by: &[Value],
    merge_key: &str,
    is_map: bool,
) -> Result<(Vec<Value>, Vec<Value>), PatchError> {
    let mut present = Vec::new();
    let mut rest = Vec::new();
    for v in merged {
        if is_map {
            if !v.is_object() {
                return Err(expected_map(&v));
            }
            if v.get(merge_key).is_none() {
                return Err(no_merge_key(&v, merge_key));
            }
        }
        if index_of(by, &v, merge_key, is_map).is_some() {
            present.push(v);
        } else {
            rest.push(v);
        }
    }
    Ok((present, rest))
}

fn is_delete_item(v: &Value) -> bool {
    v.get(DIRECTIVE).and_then(Value::as_str) == Some("delete")
}

/// Sorts `items` by their position in `order` (stable; items missing from
/// `order` go last, deletion directives after them).
fn normalize_slice_order(
    items: Vec<Value>,
    order: &[Value],
    merge_key: &str,
    is_map: bool,
) -> Result<Vec<Value>, PatchError> {
    let (mut keep, deletes): (Vec<Value>, Vec<Value>) = if is_map {
        for v in items.iter().chain(order) {
            if !v.is_object() {
                return Err(expected_map(v));
            }
            if v.get(merge_key).is_none() {
                return Err(no_merge_key(v, merge_key));
            }
        }
        items.into_iter().partition(|v| !is_delete_item(v))
    } else {
        (items, Vec::new())
    };
    keep.sort_by_key(|v| index_of(order, v, merge_key, is_map).unwrap_or(usize::MAX));
    keep.extend(deletes);
    Ok(keep)
}

/// Orders patch items by `patch_order` and server-only items by
/// `server_order`, then interleaves them: a server-only item goes before a
/// patch item when both appear in the server order and it came first there.
fn normalize_element_order(
    patch_items: Vec<Value>,
    server_only: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    merge_key: &str,
    is_map: bool,
) -> Result<Vec<Value>, PatchError> {
    let right = normalize_slice_order(patch_items, patch_order, merge_key, is_map)?;
    let left = normalize_slice_order(server_only, server_order, merge_key, is_map)?;
    let mut out = Vec::with_capacity(left.len() + right.len());
    let mut left = left.into_iter().peekable();
    let mut right = right.into_iter().peekable();
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(l), Some(r)) => {
                match (
                    index_of(server_order, l, merge_key, is_map),
                    index_of(server_order, r, merge_key, is_map),
                ) {
                    (Some(li), Some(ri)) => li < ri,
                    _ => false,
                }
            }
        };
        let next = if take_left { left.next() } else { right.next() };
        out.extend(next);
    }
    Ok(out)
}

fn merge_key_equal(a: &Value, b: &Value, merge_key: &str) -> Result<bool, PatchError> {
    if merge_key.is_empty() {
        return Ok(val_eq(a, b));
    }
    let (Some(ka), Some(kb)) = (a.get(merge_key), b.get(merge_key)) else {
        let missing = if a.get(merge_key).is_none() { a } else { b };
        if !missing.is_object() {
            return Err(expected_map(missing));
        }
        return Err(no_merge_key(missing, merge_key));
    };
    Ok(val_eq(ka, kb))
}

/// Checks that the patch list is ordered consistently with the
/// `$setElementOrder` list and holds no element missing from it.
fn validate_with_order(
    patch_list: &[Value],
    order: &[Value],
    merge_key: &str,
) -> Result<(), PatchError> {
    if order.is_empty() || patch_list.is_empty() {
        return Ok(());
    }
    let kept: Vec<&Value> = if merge_key.is_empty() {
        patch_list.iter().collect()
    } else {
        for v in patch_list {
            if !v.is_object() {
                return Err(expected_map(v));
            }
        }
        patch_list.iter().filter(|v| !is_delete_item(v)).collect()
    };
    let (mut pi, mut oi) = (0, 0);
    while pi < kept.len() && oi < order.len() {
        if kept[pi].get(DIRECTIVE).is_some() {
            pi += 1;
            continue;
        }
        if merge_key_equal(kept[pi], &order[oi], merge_key)? {
            pi += 1;
        }
        oi += 1;
    }
    if pi < kept.len() && oi >= order.len() {
        return Err(PatchError::SetElementOrderMismatch {
            patch: go_fmt(&Value::Array(patch_list.to_vec())),
            order: go_fmt(&Value::Array(order.to_vec())),
        });
    }
    Ok(())
}

/// Processes every `$setElementOrder/<field>` directive of `patch`: merges
/// the field's patch list (if any) into the original and orders the result
/// as the directive says, keeping server-only items near their neighbours.
pub(super) fn merge_set_element_order(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
    ty: Ty,
) -> Result<(), PatchError> {
    let keys: Vec<String> = patch
        .keys()
        .filter(|k| k.starts_with(SET_ELEMENT_ORDER))
        .cloned()
        .collect();
    for key in keys {
        let Some(order) = patch.shift_remove(&key) else {
            continue;
        };
        let Value::Array(order) = order else {
            return Err(expected_list(&order));
        };
        let name =
            extract_key(&key, SET_ELEMENT_ORDER, PatchError::BadSetElementOrder)?.to_string();
        let original_list = match original.get(&name) {
            Some(Value::Array(l)) => Some(l.clone()),
            Some(other) => return Err(expected_list(other)),
            None => None,
        };
        let patch_list = match patch.get(&name) {
            Some(Value::Array(l)) => Some(l.clone()),
            Some(other) => return Err(expected_list(other)),
            None => None,
        };
        let field_ty = ty.field(&name).ty;
        let merge_key = match field_ty.smp_list() {
            SmpList::Merge(k) => k,
            _ => "",
        };
        validate_with_order(patch_list.as_deref().unwrap_or(&[]), &order, merge_key)?;

        let merged = match (original_list.clone(), patch_list.clone()) {
            (Some(o), None) => o,
            (None, Some(p)) => match clean_new_value(Value::Array(p)) {
                Some(Value::Array(p)) => p,
                _ => Vec::new(),
            },
            (Some(o), Some(p)) => merge_slice_handler(o, p, field_ty, false)?,
            (None, None) => continue,
        };
        let server_order = original_list.unwrap_or_default();
        let Some(is_map) = elements_are_maps(&server_order, patch_list.as_deref().unwrap_or(&[]))?
        else {
            original.insert(name.clone(), Value::Array(merged));
            patch.shift_remove(&name);
            continue;
        };
        let is_map = is_map && !merge_key.is_empty();
        let (patch_items, server_only) = partition(merged, &order, merge_key, is_map)?;
        let ordered = normalize_element_order(
            patch_items,
            server_only,
            &order,
            &server_order,
            merge_key,
            is_map,
        )?;
        original.insert(name.clone(), Value::Array(ordered));
        patch.shift_remove(&name);
    }
    Ok(())
}
