//! Schema-guided walks over objects for server-side apply: the field set
//! of a value, the comparison of two values, merging an applied
//! configuration into a live object, and path lookup and removal.

use serde_json::{Map, Value};

use super::path::{FieldSet, Path, PathElement};
use crate::schema::{SsaList, Ty};

/// Equality of JSON values with numbers compared numerically.
pub(crate) fn deep_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| deep_eq(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| deep_eq(v, w)))
        }
        _ => a == b,
    }
}

/// The path element of an associative-list item, filling absent key
/// fields from their schema defaults. `None` when a key field is missing.
pub(crate) fn item_key(item: &Value, keys: &[crate::schema::KeyField]) -> Option<PathElement> {
    let mut fields = Vec::with_capacity(keys.len());
    for k in keys {
        let v = match item.get(k.name) {
            Some(v) => v.clone(),
            None => Value::String(k.default?.to_string()),
        };
        fields.push((k.name.to_string(), v));
    }
    fields.sort_by(|a, b| a.0.cmp(&b.0));
    Some(PathElement::Key(fields))
}

/// The path element of item `index` of a non-atomic list of type `ty`.
fn list_item_element(ty: Ty, item: &Value) -> Option<PathElement> {
    match ty.ssa_list() {
        SsaList::Map(keys) => item_key(item, keys),
        SsaList::Set => Some(PathElement::Value(item.clone())),
        SsaList::Atomic => None,
    }
}

fn is_empty_container(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// Builds the field set of `v`. With `strict`, associative lists must have
/// all key fields and no duplicate keys (required of applied configs).
pub(crate) fn to_field_set(v: &Value, ty: Ty, strict: bool) -> Result<FieldSet, String> {
    let mut set = FieldSet::new();
    let mut path = Path::new();
    walk_set(v, ty, strict, &mut path, &mut set)?;
    Ok(set)
}

fn walk_set(
    v: &Value,
    ty: Ty,
    strict: bool,
    path: &mut Path,
    set: &mut FieldSet,
) -> Result<(), String> {
    if let Ty::Atomic = ty {
        set.insert(path.clone());
        return Ok(());
    }
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                let fty = ty.field(k).ty;
                path.push(PathElement::Field(k.clone()));
                walk_set(child, fty, strict, path, set)?;
                let deduced = matches!(ty, Ty::Deduced);
                if deduced || child.is_null() || matches!(child, Value::Object(cm) if cm.is_empty())
                {
                    set.insert(path.clone());
                }
                path.pop();
            }
        }
        Value::Array(items) => match ty.ssa_list() {
            SsaList::Atomic => {
                set.insert(path.clone());
            }
            SsaList::Set | SsaList::Map(_) => {
                let mut seen: Vec<PathElement> = Vec::new();
                for item in items {
                    let Some(pe) = list_item_element(ty, item) else {
                        if strict {
                            return Err(missing_key_error(path, ty, item));
                        }
                        continue;
                    };
                    if seen.contains(&pe) {
                        if strict {
                            return Err(format!(
                                "{}: duplicate entries for key {pe}",
                                super::path::path_string(path)
                            ));
                        }
                        continue;
                    }
                    seen.push(pe.clone());
                    path.push(pe);
                    walk_set(item, ty.elem(), strict, path, set)?;
                    set.insert(path.clone());
                    path.pop();
                }
            }
        },
        _ => {
            set.insert(path.clone());
        }
    }
    Ok(())
}

fn missing_key_error(path: &Path, ty: Ty, item: &Value) -> String {
    let prefix = super::path::path_string(path);
    if let SsaList::Map(keys) = ty.ssa_list() {
        for k in keys {
            if item.get(k.name).is_none() && k.default.is_none() {
                return format!(
                    "{prefix}: associative list with keys has an element that omits key field {:?} (and doesn't have default value)",
                    k.name
                );
            }
        }
    }
    format!("{prefix}: expected an object with key fields")
}

/// Paths that differ between two values.
#[derive(Default, Debug)]
pub(crate) struct Comparison {
    pub(crate) added: FieldSet,
    pub(crate) modified: FieldSet,
    pub(crate) removed: FieldSet,
}

/// Compares `lhs` (old; `None` is a new, empty object) with `rhs` (new).
pub(crate) fn compare(lhs: Option<&Value>, rhs: &Value, ty: Ty) -> Comparison {
    let mut out = Comparison::default();
    let mut path = Path::new();
    let lhs = lhs.unwrap_or(&EMPTY_OBJECT);
    walk_compare(Some(lhs), Some(rhs), ty, &mut path, &mut out);
    out
}

fn is_leaf(lhs: Option<&Value>, rhs: Option<&Value>, ty: Ty) -> bool {
    if let Ty::Atomic = ty {
        return true;
    }
    let nothing = |v: Option<&Value>| v.is_none_or(is_empty_container);
    match (lhs, rhs) {
        (Some(Value::Object(_)) | None, Some(Value::Object(_)) | None)
        | (Some(Value::Array(_)) | None, Some(Value::Array(_)) | None) => {
            let atomic_list = matches!(lhs.or(rhs), Some(Value::Array(_)))
                && matches!(ty.ssa_list(), SsaList::Atomic);
            atomic_list || (nothing(lhs) && nothing(rhs))
        }
        _ => true,
    }
}

fn walk_compare<'a>(
    lhs: Option<&'a Value>,
    rhs: Option<&'a Value>,
    ty: Ty,
    path: &mut Path,
    out: &mut Comparison,
) {
    match (lhs, rhs) {
        (None, None) => return,
        // Nothing below two equal values differs.
        (Some(l), Some(r)) if deep_eq(l, r) => return,
        _ => {}
    }
    if is_leaf(lhs, rhs, ty) {
        match (lhs, rhs) {
            (None, Some(_)) => {
                out.added.insert(path.clone());
            }
            (Some(_), None) => {
                out.removed.insert(path.clone());
            }
            (Some(l), Some(r)) if !deep_eq(l, r) => {
                out.modified.insert(path.clone());
            }
            _ => {}
        }
        return;
    }
    match (lhs, rhs) {
        (Some(Value::Array(_)) | None, Some(Value::Array(_)) | None) => {
            let l = lhs
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            let r = rhs
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            let lkeys: Vec<Option<PathElement>> =
                l.iter().map(|i| list_item_element(ty, i)).collect();
            let rkeys: Vec<Option<PathElement>> =
                r.iter().map(|i| list_item_element(ty, i)).collect();
            let mut order: Vec<PathElement> = Vec::new();
            for pe in lkeys.iter().chain(&rkeys).flatten() {
                if !order.contains(pe) {
                    order.push(pe.clone());
                }
            }
            for pe in order {
                let find = |keys: &[Option<PathElement>], items: &'a [Value]| {
                    keys.iter()
                        .position(|k| k.as_ref() == Some(&pe))
                        .and_then(|i| items.get(i))
                };
                let li = find(&lkeys, l);
                let ri = find(&rkeys, r);
                path.push(pe);
                walk_compare(li, ri, ty.elem(), path, out);
                path.pop();
            }
        }
        _ => {
            let l = lhs.and_then(Value::as_object);
            let r = rhs.and_then(Value::as_object);
            let mut keys: Vec<&String> = l.map(|m| m.keys().collect()).unwrap_or_default();
            for k in r.into_iter().flat_map(|m| m.keys()) {
                if !l.is_some_and(|m| m.contains_key(k)) {
                    keys.push(k);
                }
            }
            // managedFields is bookkeeping, never an owned field.
            let in_metadata =
                path.len() == 1 && matches!(&path[0], PathElement::Field(f) if f == "metadata");
            for k in keys {
                if in_metadata && k == "managedFields" {
                    continue;
                }
                let info = ty.field(k);
                let mut lc = l.and_then(|m| m.get(k));
                let mut rc = r.and_then(|m| m.get(k));
                // Go always serializes some fields, so in an existing
                // parent a missing one is an empty one.
                if info.always {
                    if lc.is_none() && l.is_some() {
                        lc = rc.map(empty_like);
                    }
                    if rc.is_none() && r.is_some() {
                        rc = lc.map(empty_like);
                    }
                }
                path.push(PathElement::Field(k.clone()));
                walk_compare(lc, rc, info.ty, path, out);
                path.pop();
            }
        }
    }
    if path.is_empty() {
        return;
    }
    if lhs.is_none() {
        out.added.insert(path.clone());
    } else if rhs.is_none() {
        out.removed.insert(path.clone());
    }
}

static EMPTY_OBJECT: std::sync::LazyLock<Value> =
    std::sync::LazyLock::new(|| Value::Object(Map::new()));
static EMPTY_ARRAY: Value = Value::Array(Vec::new());

/// An empty value of the same container kind as `v`.
fn empty_like(v: &Value) -> &'static Value {
    if v.is_array() {
        &EMPTY_ARRAY
    } else {
        &EMPTY_OBJECT
    }
}

/// Drops `null` members of objects, recursively.
pub(crate) fn strip_nulls(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), strip_nulls(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(strip_nulls).collect()),
        other => other.clone(),
    }
}

/// Merges an applied configuration `rhs` into `lhs`: objects merge by
/// field, associative lists and sets merge by key, the rest is replaced.
/// A `null` in the configuration removes the field.
pub(crate) fn merge(lhs: Option<&Value>, rhs: &Value, ty: Ty) -> Value {
    let Some(lhs) = lhs else {
        return strip_nulls(rhs);
    };
    if let Ty::Atomic = ty {
        return strip_nulls(rhs);
    }
    match (lhs, rhs) {
        (Value::Object(l), Value::Object(r)) => {
            let mut out = Map::new();
            for (k, lv) in l {
                match r.get(k) {
                    Some(Value::Null) => {}
                    Some(rv) => {
                        out.insert(k.clone(), merge(Some(lv), rv, ty.field(k).ty));
                    }
                    None => {
                        out.insert(k.clone(), lv.clone());
                    }
                }
            }
            for (k, rv) in r {
                if !l.contains_key(k) && !rv.is_null() {
                    out.insert(k.clone(), strip_nulls(rv));
                }
            }
            Value::Object(out)
        }
        (Value::Array(l), Value::Array(r)) => match ty.ssa_list() {
            SsaList::Atomic => strip_nulls(rhs),
            SsaList::Set | SsaList::Map(_) => Value::Array(merge_list(l, r, ty)),
        },
        _ => strip_nulls(rhs),
    }
}

/// Merges keyed list items. Items only in `l` keep their place; items of
/// `r` keep `r`'s relative order, shared items being placed where `r`
/// wants them.
fn merge_list(l: &[Value], r: &[Value], ty: Ty) -> Vec<Value> {
    let lk: Vec<Option<PathElement>> = l.iter().map(|i| list_item_element(ty, i)).collect();
    let rk: Vec<Option<PathElement>> = r.iter().map(|i| list_item_element(ty, i)).collect();
    let in_r = |pe: &Option<PathElement>| pe.is_some() && rk.contains(pe);
    let l_item = |pe: &Option<PathElement>| {
        lk.iter()
            .position(|k| k.is_some() && k == pe)
            .map(|i| &l[i])
    };
    let mut shared: std::collections::VecDeque<&Option<PathElement>> = rk
        .iter()
        .filter(|pe| pe.is_some() && lk.contains(pe))
        .collect();
    let mut merged: Vec<&Option<PathElement>> = Vec::new();
    let mut out = Vec::with_capacity(l.len().max(r.len()));
    let (mut li, mut ri) = (0, 0);
    let elem = ty.elem();
    while li < l.len() || ri < r.len() {
        if li < l.len() && ri < r.len() {
            if lk[li].is_some() && lk[li] == rk[ri] {
                out.push(merge(Some(&l[li]), &r[ri], elem));
                merged.push(&rk[ri]);
                li += 1;
                ri += 1;
                shared.pop_front();
                continue;
            }
            if in_r(&lk[li]) && shared.front().is_some_and(|s| **s != lk[li]) {
                li += 1;
                continue;
            }
        }
        if li < l.len() {
            if !in_r(&lk[li]) {
                out.push(l[li].clone());
                li += 1;
                continue;
            }
            if merged.contains(&&lk[li]) {
                li += 1;
                continue;
            }
        }
        if ri < r.len() {
            if merged.contains(&&rk[ri]) {
                ri += 1;
                continue;
            }
            out.push(merge(l_item(&rk[ri]), &r[ri], elem));
            merged.push(&rk[ri]);
            if shared.front().is_some_and(|s| *s == &rk[ri]) {
                shared.pop_front();
            }
            ri += 1;
        }
    }
    out
}

/// Finds the position of the list item addressed by `pe` in a list of type
/// `ty`.
fn find_item(items: &[Value], pe: &PathElement, ty: Ty) -> Option<usize> {
    match pe {
        PathElement::Index(i) => (*i < items.len()).then_some(*i),
        _ => items
            .iter()
            .position(|item| list_item_element(ty, item).as_ref() == Some(pe)),
    }
}

/// Removes the value at `path` (and everything below it), if present.
pub(crate) fn remove_at(v: &mut Value, path: &[PathElement], ty: Ty) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    match (v, first) {
        (Value::Object(m), PathElement::Field(k)) => {
            if rest.is_empty() {
                m.shift_remove(k);
            } else if let Some(child) = m.get_mut(k) {
                remove_at(child, rest, ty.field(k).ty);
            }
        }
        (Value::Array(items), pe) => {
            if let Some(i) = find_item(items, pe, ty) {
                if rest.is_empty() {
                    items.remove(i);
                } else {
                    remove_at(&mut items[i], rest, ty.elem());
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn names(v: &Value) -> Vec<&str> {
        v["spec"]["containers"]
            .as_array()
            .map(|a| a.iter().filter_map(|c| c["name"].as_str()).collect())
            .unwrap_or_default()
    }

    #[test]
    fn associative_list_merge_order() {
        let ty = Ty::root("", "Pod");
        let pod = |list: &[&str]| {
            let items: Vec<Value> = list.iter().map(|n| json!({"name": n})).collect();
            json!({"spec": {"containers": items}})
        };
        let cases: &[(&[&str], &[&str], &[&str])] = &[
            (&["a", "b", "c"], &["c", "a"], &["b", "c", "a"]),
            (&["a", "b"], &["b", "x"], &["a", "b", "x"]),
            (&["a"], &["x", "a"], &["x", "a"]),
            (&[], &["x"], &["x"]),
        ];
        for (live, cfg, want) in cases {
            let merged = merge(Some(&pod(live)), &pod(cfg), ty);
            assert_eq!(names(&merged), want.to_vec(), "{live:?} + {cfg:?}");
        }
    }

    #[test]
    fn compare_reports_added_modified_removed() {
        let ty = Ty::root("apps", "Deployment");
        let old = json!({"spec": {"replicas": 1, "paused": true}});
        let new = json!({"spec": {"replicas": 2, "minReadySeconds": 5}});
        let cmp = compare(Some(&old), &new, ty);
        let f = |names: &[&str]| -> Path {
            names
                .iter()
                .map(|n| PathElement::Field(n.to_string()))
                .collect()
        };
        assert!(cmp.modified.contains(&f(&["spec", "replicas"])));
        assert!(cmp.added.contains(&f(&["spec", "minReadySeconds"])));
        assert!(cmp.removed.contains(&f(&["spec", "paused"])));
        assert!(!cmp.added.contains(&f(&["spec"])));
    }

    #[test]
    fn protocol_defaults_in_port_keys() {
        let ty = Ty::root("", "Service");
        let svc = json!({"spec": {"ports": [{"port": 80}, {"port": 80, "protocol": "UDP"}]}});
        let set = to_field_set(&svc, ty, true).unwrap();
        let printed: Vec<String> = set
            .iter()
            .map(|p| super::super::path::path_string(p))
            .collect();
        assert!(printed.contains(&".spec.ports[port=80,protocol=\"TCP\"]".to_string()));
        assert!(printed.contains(&".spec.ports[port=80,protocol=\"UDP\"]".to_string()));
    }
}
