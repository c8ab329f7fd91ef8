//! Field paths and sets, their FieldsV1 encoding and printed form.
//!
//! A path element is a struct/map field (`f:name`), an associative-list key
//! (`k:{"name":"x"}`), a set value (`v:"x"`) or a list index (`i:0`). A set
//! of paths serializes to FieldsV1 as nested objects where `.` marks a path
//! that is itself a member and also has members below it.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

/// One step of a field path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum PathElement {
    Field(String),
    /// Key fields of an associative-list item, sorted by name.
    Key(Vec<(String, Value)>),
    Value(Value),
    Index(usize),
}

pub(crate) type Path = Vec<PathElement>;
pub(crate) type FieldSet = BTreeSet<Path>;

fn type_rank(v: &Value) -> u8 {
    match v {
        Value::Number(_) => 0,
        Value::String(_) => 1,
        Value::Bool(_) => 2,
        Value::Array(_) => 3,
        Value::Object(_) => 4,
        Value::Null => 5,
    }
}

/// Total order over values: numbers, strings, bools, lists, maps, null.
pub(crate) fn compare_values(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0));
            x.partial_cmp(&y).unwrap_or(Ordering::Equal)
        }
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Array(_), Value::Array(_)) | (Value::Object(_), Value::Object(_)) => {
            a.to_string().cmp(&b.to_string())
        }
        _ => type_rank(a).cmp(&type_rank(b)),
    }
}

impl PathElement {
    fn rank(&self) -> u8 {
        match self {
            PathElement::Field(_) => 0,
            PathElement::Key(_) => 1,
            PathElement::Value(_) => 2,
            PathElement::Index(_) => 3,
        }
    }
}

impl Ord for PathElement {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (PathElement::Field(a), PathElement::Field(b)) => a.cmp(b),
            (PathElement::Key(a), PathElement::Key(b)) => {
                for ((an, av), (bn, bv)) in a.iter().zip(b) {
                    let o = an.cmp(bn).then_with(|| compare_values(av, bv));
                    if o != Ordering::Equal {
                        return o;
                    }
                }
                a.len().cmp(&b.len())
            }
            (PathElement::Value(a), PathElement::Value(b)) => compare_values(a, b),
            (PathElement::Index(a), PathElement::Index(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl PartialOrd for PathElement {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Value as upstream prints it inside a path (strings quoted).
fn value_to_string(v: &Value) -> String {
    match v {
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(value_to_string).collect();
            format!("[{}]", parts.join(","))
        }
        Value::Object(m) => {
            let parts: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{k}={}", value_to_string(v)))
                .collect();
            format!("{{{}}}", parts.join(";"))
        }
        other => other.to_string(),
    }
}

impl std::fmt::Display for PathElement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PathElement::Field(name) => write!(f, ".{name}"),
            PathElement::Key(fields) => {
                let parts: Vec<String> = fields
                    .iter()
                    .map(|(k, v)| format!("{k}={}", value_to_string(v)))
                    .collect();
                write!(f, "[{}]", parts.join(","))
            }
            PathElement::Value(v) => write!(f, "[={}]", value_to_string(v)),
            PathElement::Index(i) => write!(f, "[{i}]"),
        }
    }
}

/// Upstream's printed form of a path, e.g. `.spec.containers[name="a"].image`.
pub(crate) fn path_string(path: &[PathElement]) -> String {
    path.iter().map(ToString::to_string).collect()
}

/// The FieldsV1 key of one path element (`f:name`, `k:{…}`, `v:…`, `i:N`).
pub(crate) fn element_key(pe: &PathElement) -> String {
    match pe {
        PathElement::Field(name) => format!("f:{name}"),
        PathElement::Key(fields) => {
            let mut m = Map::new();
            for (k, v) in fields {
                m.insert(k.clone(), v.clone());
            }
            format!("k:{}", Value::Object(m))
        }
        PathElement::Value(v) => format!("v:{v}"),
        PathElement::Index(i) => format!("i:{i}"),
    }
}

fn parse_element(s: &str) -> Result<PathElement, String> {
    let bad = || format!("invalid path element {s:?}");
    let (prefix, rest) = s.split_once(':').ok_or_else(bad)?;
    match prefix {
        "f" => Ok(PathElement::Field(rest.to_string())),
        "k" => match serde_json::from_str::<Value>(rest) {
            Ok(Value::Object(m)) => {
                let mut fields: Vec<(String, Value)> = m.into_iter().collect();
                fields.sort_by(|a, b| a.0.cmp(&b.0));
                Ok(PathElement::Key(fields))
            }
            _ => Err(bad()),
        },
        "v" => serde_json::from_str(rest)
            .map(PathElement::Value)
            .map_err(|_| bad()),
        "i" => rest.parse().map(PathElement::Index).map_err(|_| bad()),
        _ => Err(bad()),
    }
}

#[derive(Default)]
struct Tree {
    member: bool,
    children: BTreeMap<PathElement, Tree>,
}

impl Tree {
    fn emit(&self) -> Map<String, Value> {
        let mut out = Map::new();
        if self.member && !self.children.is_empty() {
            out.insert(".".to_string(), Value::Object(Map::new()));
        }
        for (pe, child) in &self.children {
            out.insert(element_key(pe), Value::Object(child.emit()));
        }
        out
    }
}

/// Encodes a set as a FieldsV1 object.
pub(crate) fn encode_fields_v1(set: &FieldSet) -> Value {
    let mut root = Tree::default();
    for path in set {
        let mut node = &mut root;
        for pe in path {
            node = node.children.entry(pe.clone()).or_default();
        }
        node.member = true;
    }
    Value::Object(root.emit())
}

/// Decodes a FieldsV1 object into a set.
pub(crate) fn decode_fields_v1(v: &Value) -> Result<FieldSet, String> {
    let mut set = FieldSet::new();
    let mut path = Path::new();
    decode_into(v, &mut path, &mut set)?;
    Ok(set)
}

fn decode_into(v: &Value, path: &mut Path, set: &mut FieldSet) -> Result<(), String> {
    let Value::Object(m) = v else {
        return Err("FieldsV1 entries must be objects".to_string());
    };
    for (k, child) in m {
        if k == "." {
            if !path.is_empty() {
                set.insert(path.clone());
            }
            continue;
        }
        path.push(parse_element(k)?);
        match child {
            Value::Object(cm) if cm.is_empty() => {
                set.insert(path.clone());
            }
            _ => decode_into(child, path, set)?,
        }
        path.pop();
    }
    Ok(())
}

/// Adds every ancestor that ends in a field name, so that removing a
/// struct or map field removes it whole (upstream's
/// `EnsureNamedFieldsAreMembers`).
pub(crate) fn with_named_ancestors(set: &FieldSet) -> FieldSet {
    let mut out = set.clone();
    for path in set {
        for len in 1..path.len() {
            if matches!(path[len - 1], PathElement::Field(_)) {
                out.insert(path[..len].to_vec());
            }
        }
    }
    out
}

/// Upstream's iteration order of a set: at each level, members before the
/// subtrees below that level, each group ordered by path element.
pub(crate) fn iteration_order(a: &[PathElement], b: &[PathElement]) -> Ordering {
    let common = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    if common == a.len() || common == b.len() {
        return a.len().cmp(&b.len());
    }
    let a_member = a.len() == common + 1;
    let b_member = b.len() == common + 1;
    match (a_member, b_member) {
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        _ => a[common].cmp(&b[common]),
    }
}

/// Removes `prefix` and everything below it.
pub(crate) fn remove_subtree(set: &mut FieldSet, prefix: &[PathElement]) {
    set.retain(|p| !p.starts_with(prefix));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_v1_round_trip() {
        let v = json!({
            "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
            "f:spec": {
                "f:containers": {
                    "k:{\"name\":\"nginx\"}": {".": {}, "f:image": {}, "f:name": {},
                        "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}}}
                },
                "f:finalizers": {"v:\"a\"": {}},
                "f:replicas": {}
            }
        });
        let set = decode_fields_v1(&v).unwrap();
        assert!(set.contains(&vec![
            PathElement::Field("metadata".into()),
            PathElement::Field("labels".into())
        ]));
        assert_eq!(encode_fields_v1(&set), v);
        let printed: Vec<String> = set.iter().map(|p| path_string(p)).collect();
        assert!(printed.contains(&".spec.containers[name=\"nginx\"].ports[containerPort=80,protocol=\"TCP\"].containerPort".to_string()));
        assert!(printed.contains(&".spec.finalizers[=\"a\"]".to_string()));
    }

    #[test]
    fn members_iterate_before_deeper_paths() {
        let f = |names: &[&str]| -> Path {
            names
                .iter()
                .map(|n| PathElement::Field(n.to_string()))
                .collect()
        };
        let mut paths = vec![f(&["spec", "aaa", "b"]), f(&["spec", "zzz"]), f(&["spec"])];
        paths.sort_by(|a, b| iteration_order(a, b));
        assert_eq!(
            paths,
            vec![f(&["spec"]), f(&["spec", "zzz"]), f(&["spec", "aaa", "b"])]
        );
    }

    #[test]
    fn element_order_is_fields_then_keys() {
        let mut set = FieldSet::new();
        set.insert(vec![PathElement::Field("b".into())]);
        set.insert(vec![PathElement::Key(vec![("name".into(), json!("x"))])]);
        set.insert(vec![PathElement::Field("a".into())]);
        let keys: Vec<String> = encode_fields_v1(&set)
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        assert_eq!(keys, ["f:a", "f:b", "k:{\"name\":\"x\"}"]);
    }
}
