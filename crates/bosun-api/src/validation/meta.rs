//! ObjectMeta, labels, annotations, label selectors and a few generic field
//! checks shared by every kind.

use super::access::{arr, child, index, int, obj, s, string_map};
use super::errors::FieldError;
use super::names::{
    is_dns1035_label, is_dns1123_label, is_dns1123_subdomain, is_qualified_name,
    is_valid_label_value, is_valid_percent, mask_trailing_dash,
};
use serde_json::Value;

/// Total size limit of all annotations.
pub const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * 1024;

/// Which syntax an object's name must follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRule {
    /// RFC 1123 subdomain (most kinds).
    Subdomain,
    /// RFC 1123 label (Namespace).
    Label,
    /// RFC 1035 label (Service).
    Dns1035,
}

impl NameRule {
    /// Problems with `name` (a `generateName` prefix when `prefix`).
    pub fn check(self, name: &str, prefix: bool) -> Vec<String> {
        let n = mask_trailing_dash(name, prefix);
        match self {
            NameRule::Subdomain => is_dns1123_subdomain(&n),
            NameRule::Label => is_dns1123_label(&n),
            NameRule::Dns1035 => is_dns1035_label(&n),
        }
    }
}

fn metadata(o: &Value) -> &Value {
    static NULL: Value = Value::Null;
    o.get("metadata").unwrap_or(&NULL)
}

/// Validate `metadata` of an object being created.
pub fn validate_object_meta(
    o: &Value,
    namespaced: bool,
    rule: NameRule,
    errs: &mut Vec<FieldError>,
) {
    let m = metadata(o);
    let p = "metadata";
    let generate = s(m, "generateName");
    if !generate.is_empty() {
        for msg in rule.check(generate, true) {
            errs.push(FieldError::invalid(child(p, "generateName"), generate, msg));
        }
    }
    let name = s(m, "name");
    if name.is_empty() {
        // The server fills the name from generateName before validating.
        if generate.is_empty() {
            errs.push(FieldError::required(
                child(p, "name"),
                "name or generateName is required",
            ));
        }
    } else {
        for msg in rule.check(name, false) {
            errs.push(FieldError::invalid(child(p, "name"), name, msg));
        }
    }
    validate_namespace_field(m, namespaced, errs);
    validate_meta_common(m, errs);
}

fn validate_namespace_field(m: &Value, namespaced: bool, errs: &mut Vec<FieldError>) {
    let ns = s(m, "namespace");
    let p = "metadata.namespace";
    if namespaced {
        if ns.is_empty() {
            errs.push(FieldError::required(p, ""));
        } else {
            for msg in is_dns1123_label(ns) {
                errs.push(FieldError::invalid(p, ns, msg));
            }
        }
    } else if !ns.is_empty() {
        errs.push(FieldError::forbidden(p, "not allowed on this type"));
    }
}

fn validate_meta_common(m: &Value, errs: &mut Vec<FieldError>) {
    if let Some(g) = int(m, "generation") {
        validate_nonnegative(g, "metadata.generation", errs);
    }
    validate_labels(m.get("labels"), "metadata.labels", errs);
    validate_annotations(m.get("annotations"), "metadata.annotations", errs);
    validate_owner_references(arr(m, "ownerReferences"), errs);
    validate_finalizers(arr(m, "finalizers"), "metadata.finalizers", errs);
}

/// Validate `metadata` on update: identity fields are immutable; labels,
/// annotations and the rest are re-checked. Empty `uid` in the new object
/// means "inherit" (the server copies it from the stored object).
pub fn validate_object_meta_update(new: &Value, old: &Value, errs: &mut Vec<FieldError>) {
    let nm = metadata(new);
    let om = metadata(old);
    if let (Some(ng), Some(og)) = (int(nm, "generation"), int(om, "generation")) {
        if ng < og {
            errs.push(FieldError::invalid(
                "metadata.generation",
                ng,
                "must not be decremented",
            ));
        }
    }
    for f in ["name", "namespace"] {
        if s(nm, f) != s(om, f) {
            errs.push(FieldError::invalid(
                child("metadata", f),
                s(nm, f),
                FIELD_IMMUTABLE,
            ));
        }
    }
    let nu = s(nm, "uid");
    if !nu.is_empty() && nu != s(om, "uid") {
        errs.push(FieldError::invalid("metadata.uid", nu, FIELD_IMMUTABLE));
    }
    if om.get("deletionTimestamp").is_some_and(|v| !v.is_null()) {
        let old_f: Vec<&str> = arr(om, "finalizers")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        for f in arr(nm, "finalizers").iter().filter_map(Value::as_str) {
            if !old_f.contains(&f) {
                errs.push(FieldError::forbidden(
                    "metadata.finalizers",
                    format!("no new finalizers can be added if the object is being deleted, found new finalizers [\"{f}\"]"),
                ));
            }
        }
    }
    validate_meta_common(nm, errs);
}

/// Upstream's text for immutable fields.
pub const FIELD_IMMUTABLE: &str = "field is immutable";

/// Report `field is immutable` when `new != old` (both may be absent).
pub fn validate_immutable(
    new: Option<&Value>,
    old: Option<&Value>,
    path: &str,
    errs: &mut Vec<FieldError>,
) {
    let n = new.filter(|v| !v.is_null());
    let o = old.filter(|v| !v.is_null());
    if n != o {
        let bad = n.cloned().map(sort_keys).unwrap_or(Value::Null);
        errs.push(FieldError::invalid(path, bad, FIELD_IMMUTABLE));
    }
}

/// Deep copy with object keys sorted (how Go prints maps and structs as JSON
/// is close enough to sorted for error texts).
pub fn sort_keys(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut entries: Vec<(String, Value)> = m.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, sort_keys(v)))
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(a.into_iter().map(sort_keys).collect()),
        other => other,
    }
}

/// `must be greater than or equal to 0`.
pub fn validate_nonnegative(v: i64, path: &str, errs: &mut Vec<FieldError>) {
    if v < 0 {
        errs.push(FieldError::invalid(
            path,
            v,
            "must be greater than or equal to 0",
        ));
    }
}

/// Label map: qualified-name keys, label-value values.
pub fn validate_labels(labels: Option<&Value>, path: &str, errs: &mut Vec<FieldError>) {
    for (k, v) in string_map(labels) {
        for msg in is_qualified_name(&k) {
            errs.push(FieldError::invalid(path, k.as_str(), msg));
        }
        for msg in is_valid_label_value(&v) {
            errs.push(FieldError::invalid(path, v.as_str(), msg));
        }
    }
}

/// Annotation map: case-insensitive qualified-name keys and a total size cap.
pub fn validate_annotations(ann: Option<&Value>, path: &str, errs: &mut Vec<FieldError>) {
    let mut total = 0usize;
    for (k, v) in string_map(ann) {
        for msg in is_qualified_name(&k.to_lowercase()) {
            errs.push(FieldError::invalid(path, k.as_str(), msg));
        }
        total += k.len() + v.len();
    }
    if total > TOTAL_ANNOTATION_SIZE_LIMIT {
        errs.push(FieldError::too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT));
    }
}

fn validate_owner_references(refs: &[Value], errs: &mut Vec<FieldError>) {
    let p = "metadata.ownerReferences";
    let mut controllers = Vec::new();
    for r in refs {
        let api_version = s(r, "apiVersion");
        let version = api_version.rsplit('/').next().unwrap_or("");
        if version.is_empty() {
            errs.push(FieldError::invalid(
                child(p, "apiVersion"),
                api_version,
                "version must not be empty",
            ));
        }
        for f in ["kind", "name", "uid"] {
            if s(r, f).is_empty() {
                errs.push(FieldError::invalid(child(p, f), "", "must not be empty"));
            }
        }
        if r.get("controller").and_then(Value::as_bool) == Some(true) {
            controllers.push(format!("{}/{}", s(r, "kind"), s(r, "name")));
        }
    }
    if controllers.len() > 1 {
        errs.push(FieldError::invalid(
            p,
            Value::Array(refs.to_vec()),
            format!(
                "Only one reference can have Controller set to true. Found \"true\" in references for {}",
                controllers.join(" and ")
            ),
        ));
    }
}

/// Finalizer names must be qualified names.
pub fn validate_finalizers(fins: &[Value], path: &str, errs: &mut Vec<FieldError>) {
    for f in fins.iter().filter_map(Value::as_str) {
        for msg in is_qualified_name(f) {
            errs.push(FieldError::invalid(path, f, msg));
        }
    }
}

/// Validate a `LabelSelector` (matchLabels / matchExpressions).
pub fn validate_label_selector(sel: Option<&Value>, path: &str, errs: &mut Vec<FieldError>) {
    let Some(sel) = sel.filter(|v| !v.is_null()) else {
        return;
    };
    validate_labels(sel.get("matchLabels"), &child(path, "matchLabels"), errs);
    for (i, e) in arr(sel, "matchExpressions").iter().enumerate() {
        let ep = index(&child(path, "matchExpressions"), i);
        let values = arr(e, "values");
        let op = s(e, "operator");
        match op {
            "In" | "NotIn" => {
                if values.is_empty() {
                    errs.push(FieldError::required(
                        child(&ep, "values"),
                        "must be specified when `operator` is 'In' or 'NotIn'",
                    ));
                }
            }
            "Exists" | "DoesNotExist" => {
                if !values.is_empty() {
                    errs.push(FieldError::forbidden(
                        child(&ep, "values"),
                        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                    ));
                }
            }
            _ => errs.push(FieldError::invalid(
                child(&ep, "operator"),
                op,
                "not a valid selector operator",
            )),
        }
        let k = s(e, "key");
        for msg in is_qualified_name(k) {
            errs.push(FieldError::invalid(child(&ep, "key"), k, msg));
        }
        for (j, v) in values.iter().enumerate() {
            let vs = v.as_str().unwrap_or("");
            for msg in is_valid_label_value(vs) {
                errs.push(FieldError::invalid(
                    index(&child(&ep, "values"), j),
                    vs,
                    msg,
                ));
            }
        }
    }
}

/// True when the selector has neither matchLabels nor matchExpressions.
pub fn selector_is_empty(sel: &Value) -> bool {
    obj(sel, "matchLabels").is_none_or(|m| m.is_empty()) && arr(sel, "matchExpressions").is_empty()
}

/// Whether `labels` satisfy `sel`; None when the selector is malformed.
pub fn selector_matches(sel: &Value, labels: Option<&Value>) -> Option<bool> {
    let labels = string_map(labels);
    let get = |k: &str| {
        labels
            .iter()
            .find(|(lk, _)| lk == k)
            .map(|(_, v)| v.as_str())
    };
    for (k, v) in string_map(sel.get("matchLabels")) {
        if get(&k) != Some(v.as_str()) {
            return Some(false);
        }
    }
    for e in arr(sel, "matchExpressions") {
        let k = s(e, "key");
        let values: Vec<&str> = arr(e, "values").iter().filter_map(Value::as_str).collect();
        let ok = match s(e, "operator") {
            "In" => get(k).is_some_and(|v| values.contains(&v)),
            "NotIn" => get(k).is_none_or(|v| !values.contains(&v)),
            "Exists" => get(k).is_some(),
            "DoesNotExist" => get(k).is_none(),
            _ => return None,
        };
        if !ok {
            return Some(false);
        }
    }
    Some(true)
}

/// An int-or-string that must be a non-negative int or a percent.
pub fn validate_positive_int_or_percent(v: Option<&Value>, path: &str, errs: &mut Vec<FieldError>) {
    match v {
        Some(Value::String(st)) => {
            for msg in is_valid_percent(st) {
                errs.push(FieldError::invalid(path, st.as_str(), msg));
            }
        }
        Some(Value::Number(n)) => {
            if let Some(i) = n.as_i64() {
                validate_nonnegative(i, path, errs);
            }
        }
        _ => {}
    }
}

/// Percent values above 100% are rejected.
pub fn validate_not_more_than_100_percent(
    v: Option<&Value>,
    path: &str,
    errs: &mut Vec<FieldError>,
) {
    if let Some(Value::String(st)) = v {
        if let Some(p) = percent_value(st) {
            if p > 100 {
                errs.push(FieldError::invalid(
                    path,
                    st.as_str(),
                    "must not be greater than 100%",
                ));
            }
        }
    }
}

fn percent_value(st: &str) -> Option<i64> {
    st.strip_suffix('%')?.parse().ok()
}

/// Numeric value of an int-or-percent (percent number for strings).
pub fn int_or_percent_value(v: Option<&Value>) -> i64 {
    match v {
        Some(Value::String(st)) => percent_value(st).unwrap_or(0),
        Some(Value::Number(n)) => n.as_i64().unwrap_or(0),
        _ => 0,
    }
}
