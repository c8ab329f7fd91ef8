//! The JSON Go's `encoding/json` writes for an object that was first
//! decoded from JSON into its typed Go struct, driven by the same schema as
//! the protobuf renderer.
//!
//! Controllers need this where upstream hashes or compares such bytes: a
//! StatefulSet's or DaemonSet's ControllerRevision holds
//! `json.Marshal` of the typed template, and kubectl compares those bytes
//! with its own encoding of the live object (`kubectl rollout undo`), so
//! the same rules must hold here:
//!
//! * fields come out in Go declaration order, unknown fields are dropped;
//! * an absent or `null` non-pointer field holds its Go zero value, so a
//!   struct field is always written (`"resources":{}`), an absent
//!   `metav1.Time` is `null` (`"creationTimestamp":null`), an absent
//!   Quantity `"0"`, an absent IntOrString `0`;
//! * `omitempty` drops empty strings, `0`, `false`, nil pointers and empty
//!   slices and maps (never structs); without it nil slices, maps and
//!   pointers are `null`;
//! * map keys are sorted.
//!
//! Present Time and Quantity strings are kept as they are (the API server
//! already stores them in canonical form). [`marshal_sorted`] then writes a
//! value the way `json.Marshal` writes a `map[string]interface{}`.

use std::fmt::Write as _;

use serde_json::{Map, Value};

use crate::error::DecodeError;
use crate::render::MAX_DEPTH;
use crate::schema::{self, Field, Schema, Ty};

/// Re-encodes `value` (an object of `apiVersion`/`kind`) as Go writes the
/// typed struct decoded from it. The result keeps Go's field order.
pub fn typed_json(api_version: &str, kind: &str, value: &Value) -> Result<Value, DecodeError> {
    let schema = schema::schema()?;
    let root = schema
        .root_for(api_version, kind)
        .ok_or_else(|| DecodeError::UnsupportedKind {
            api_version: api_version.to_owned(),
            kind: kind.to_owned(),
        })?;
    let mut out = Map::new();
    Encoder { schema }.struct_into(root, value, true, 0, &mut out)?;
    Ok(Value::Object(out))
}

struct Encoder<'s> {
    schema: &'s Schema,
}

impl Encoder<'_> {
    fn struct_into(
        &self,
        id: usize,
        value: &Value,
        root: bool,
        depth: usize,
        out: &mut Map<String, Value>,
    ) -> Result<(), DecodeError> {
        if depth >= MAX_DEPTH {
            return Err(DecodeError::TooDeep(MAX_DEPTH));
        }
        let def = self
            .schema
            .structs
            .get(id)
            .ok_or_else(|| DecodeError::Schema(format!("no struct #{id}")))?;
        for field in &def.fields {
            if field.inline {
                match field.ty {
                    // Only a root object carries its TypeMeta; both
                    // fields are `omitempty`.
                    Ty::TypeMeta if root => {
                        for key in ["kind", "apiVersion"] {
                            if let Some(s) = value.get(key).and_then(Value::as_str) {
                                if !s.is_empty() {
                                    out.insert(key.to_owned(), Value::from(s));
                                }
                            }
                        }
                    }
                    Ty::Struct(inner) => self.struct_into(inner, value, false, depth + 1, out)?,
                    _ => {}
                }
                continue;
            }
            if let Some(v) = self.field(field, value.get(field.json), depth)? {
                out.insert(field.json.to_owned(), v);
            }
        }
        Ok(())
    }

    /// One field's output, or `None` when Go leaves it out.
    fn field(
        &self,
        field: &Field,
        v: Option<&Value>,
        depth: usize,
    ) -> Result<Option<Value>, DecodeError> {
        let v = v.filter(|v| !v.is_null());
        let omitempty = field.omitempty;
        let nil = || if omitempty { None } else { Some(Value::Null) };
        Ok(match &field.ty {
            Ty::Ptr(inner) => match v {
                None => nil(),
                Some(v) => Some(self.value(inner, Some(v), depth)?),
            },
            Ty::Slice(_) | Ty::Map(_) | Ty::Bytes => match v {
                None => nil(),
                Some(v) => {
                    let out = self.value(&field.ty, Some(v), depth)?;
                    if omitempty && is_empty_collection(&out) {
                        None
                    } else {
                        Some(out)
                    }
                }
            },
            Ty::Str | Ty::Bool | Ty::Int32 | Ty::Int64 => {
                let out = self.value(&field.ty, v, depth)?;
                if omitempty && is_zero(&out) {
                    None
                } else {
                    Some(out)
                }
            }
            // Struct-shaped values are never dropped by `omitempty`.
            ty => Some(self.value(ty, v, depth)?),
        })
    }

    /// A value of type `ty` decoded from `v` (`None`: the Go zero value).
    fn value(&self, ty: &Ty, v: Option<&Value>, depth: usize) -> Result<Value, DecodeError> {
        let v = v.filter(|v| !v.is_null());
        Ok(match ty {
            Ty::Str | Ty::Bytes => match v {
                Some(Value::String(s)) => Value::from(s.as_str()),
                // A nil []byte; Go writes a non-nil empty one as "".
                None if *ty == Ty::Bytes => Value::Null,
                _ => Value::from(""),
            },
            Ty::Bool => Value::Bool(v.and_then(Value::as_bool).unwrap_or(false)),
            Ty::Int32 | Ty::Int64 => v
                .filter(|v| v.is_number())
                .cloned()
                .unwrap_or_else(|| Value::from(0)),
            Ty::Time | Ty::MicroTime => match v {
                Some(Value::String(s)) if !s.is_empty() => Value::from(s.as_str()),
                _ => Value::Null,
            },
            Ty::Quantity => match v {
                Some(Value::String(s)) if !s.is_empty() => Value::from(s.as_str()),
                Some(n @ Value::Number(_)) => Value::from(n.to_string()),
                _ => Value::from("0"),
            },
            Ty::IntOrString => match v {
                Some(s @ Value::String(_)) => s.clone(),
                Some(n @ Value::Number(_)) => n.clone(),
                _ => Value::from(0),
            },
            // Raw JSON, written back as it came.
            Ty::RawExtension | Ty::FieldsV1 => v.cloned().unwrap_or(Value::Null),
            Ty::TypeMeta => Value::Object(Map::new()),
            Ty::Struct(id) => {
                let mut out = Map::new();
                let empty = Value::Object(Map::new());
                let src = v.filter(|v| v.is_object()).unwrap_or(&empty);
                self.struct_into(*id, src, false, depth + 1, &mut out)?;
                Value::Object(out)
            }
            Ty::Ptr(inner) => match v {
                None => Value::Null,
                Some(v) => self.value(inner, Some(v), depth)?,
            },
            Ty::Slice(elem) => match v {
                Some(Value::Array(items)) => Value::Array(
                    items
                        .iter()
                        .map(|item| self.value(elem, Some(item), depth))
                        .collect::<Result<_, _>>()?,
                ),
                _ => Value::Null,
            },
            Ty::Map(elem) => match v {
                Some(Value::Object(entries)) => {
                    let mut keys: Vec<&String> = entries.keys().collect();
                    keys.sort();
                    let mut out = Map::new();
                    for k in keys {
                        out.insert(k.clone(), self.value(elem, entries.get(k), depth)?);
                    }
                    Value::Object(out)
                }
                _ => Value::Null,
            },
        })
    }
}

fn is_zero(value: &Value) -> bool {
    match value {
        Value::String(s) => s.is_empty(),
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        _ => false,
    }
}

fn is_empty_collection(value: &Value) -> bool {
    match value {
        Value::Array(a) => a.is_empty(),
        Value::Object(m) => m.is_empty(),
        Value::String(s) => s.is_empty(),
        Value::Null => true,
        _ => false,
    }
}

/// `json.Marshal` of `value` as Go holds it after `json.Unmarshal` into
/// `interface{}`: compact, object keys sorted bytewise, numbers as float64
/// prints them, strings escaped as Go does (including `<`, `>`, `&`,
/// U+2028 and U+2029).
pub fn marshal_sorted(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    out
}

fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => write_number(out, n),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, k);
                out.push(':');
                write_value(out, v);
            }
            out.push('}');
        }
    }
}

/// Go's float64 formatting (`strconv.FormatFloat(f, 'f' or 'e', -1, 64)`
/// with encoding/json's switch to exponent form outside [1e-6, 1e21)).
fn write_number(out: &mut String, n: &serde_json::Number) {
    let f = match n.as_f64() {
        Some(f) => f,
        None => {
            let _ = write!(out, "{n}");
            return;
        }
    };
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        // Rust writes "1e21" and "1e-7"; Go "1e+21" and (after
        // encoding/json trims "e-07") "1e-7".
        let s = format!("{f:e}");
        match s.split_once('e') {
            Some((mantissa, exp)) if !exp.starts_with('-') => {
                let _ = write!(out, "{mantissa}e+{exp}");
            }
            _ => out.push_str(&s),
        }
    } else if f.fract() == 0.0 {
        let _ = write!(out, "{f:.0}");
    } else {
        let _ = write!(out, "{f}");
    }
}

fn write_string(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{0}'..='\u{1f}' => {
                let b = c as u32 as usize;
                out.push_str("\\u00");
                out.push(HEX[b >> 4] as char);
                out.push(HEX[b & 0xf] as char);
            }
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn template_as_go_writes_it() {
        let sts = json!({
            "apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "web", "unknown": 1},
            "spec": {"template": {
                "metadata": {"labels": {"b": "2", "a": "1"}},
                "spec": {
                    "hostNetwork": false,
                    "terminationGracePeriodSeconds": 0,
                    "containers": [{
                        "name": "nginx", "image": "nginx", "args": [],
                        "ports": [{"containerPort": 80, "hostPort": 0}],
                        "env": [{"name": "E", "value": ""}],
                        "readinessProbe": {"httpGet": {"path": "/", "port": "http"}, "initialDelaySeconds": 0}
                    }]
                }
            }}
        });
        let got = typed_json("apps/v1", "StatefulSet", &sts).unwrap();
        let template = &got["spec"]["template"];
        assert_eq!(
            template["metadata"],
            json!({"creationTimestamp": null, "labels": {"a": "1", "b": "2"}})
        );
        let c = &template["spec"]["containers"][0];
        assert_eq!(
            c["resources"],
            json!({}),
            "struct fields are always written"
        );
        assert!(c.get("args").is_none(), "empty omitempty slices go");
        assert_eq!(c["ports"], json!([{"containerPort": 80}]));
        assert_eq!(c["env"], json!([{"name": "E"}]));
        assert_eq!(
            c["readinessProbe"],
            json!({"httpGet": {"path": "/", "port": "http"}})
        );
        assert!(template["spec"].get("hostNetwork").is_none());
        // A pointer to zero stays.
        assert_eq!(template["spec"]["terminationGracePeriodSeconds"], json!(0));
        assert!(got["metadata"].get("unknown").is_none());
        assert_eq!(got["status"]["replicas"], json!(0));
        assert_eq!(got["metadata"]["creationTimestamp"], Value::Null);
    }

    #[test]
    fn marshal_sorts_and_escapes_like_go() {
        let v = json!({"spec": {"template": {"spec": {"a": "x && y <z>", "n": 420}, "$patch": "replace"}}, "b\u{2028}": "\u{1}\u{8}"});
        assert_eq!(
            marshal_sorted(&v),
            r#"{"b\u2028":"\u0001\b","spec":{"template":{"$patch":"replace","spec":{"a":"x \u0026\u0026 y \u003cz\u003e","n":420}}}}"#
        );
        assert_eq!(
            marshal_sorted(&json!([1.5, 1e21, 0.0000001, -3])),
            "[1.5,1e+21,1e-7,-3]"
        );
    }
}
