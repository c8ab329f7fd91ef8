//! Walks protobuf bytes with the schema and produces the JSON that Go's
//! `encoding/json` would write for the same object.
//!
//! The rules mirror decoding into the Go struct and marshalling it again:
//! absent non-pointer fields hold their zero value, `omitempty` drops empty
//! strings, zero numbers, false, nil pointers and empty slices/maps (never
//! structs), nil slices/maps/pointers without `omitempty` become `null`, map
//! keys are sorted, and embedded structs have their fields promoted.

use std::borrow::Cow;
use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::{Map, Value};

use crate::error::DecodeError;
use crate::schema::{Field, Schema, Ty};
use crate::special;
use crate::wire::{self, WireValue};

/// Deepest struct nesting accepted; the schema itself needs about a dozen.
pub(crate) const MAX_DEPTH: usize = 64;

/// `kind` and `apiVersion` to place where a root struct embeds `TypeMeta`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TypeMetaValues<'a> {
    pub(crate) api_version: &'a str,
    pub(crate) kind: &'a str,
}

/// Decoding context shared by the whole walk.
pub(crate) struct Renderer<'s> {
    pub(crate) schema: &'s Schema,
}

/// Where a value sits, for error messages.
struct Site<'a> {
    message: &'a str,
    field: &'a Field,
}

impl Site<'_> {
    fn path(&self) -> String {
        format!("{}.{}", self.message, self.field.json)
    }

    fn mismatch(&self, value: &WireValue<'_>) -> DecodeError {
        DecodeError::WireTypeMismatch {
            message: self.message.to_owned(),
            field: self.field.json.to_owned(),
            number: self.field.number.unwrap_or(0),
            wire_type: value.wire_type(),
        }
    }
}

impl Renderer<'_> {
    /// Renders struct `id` from its message bytes into a JSON object.
    pub(crate) fn object(
        &self,
        id: usize,
        bytes: &[u8],
        type_meta: Option<TypeMetaValues<'_>>,
        depth: usize,
    ) -> Result<Value, DecodeError> {
        let mut out = Map::new();
        self.struct_into(id, bytes, type_meta, depth, &mut out)?;
        Ok(Value::Object(out))
    }

    fn struct_into(
        &self,
        id: usize,
        bytes: &[u8],
        type_meta: Option<TypeMetaValues<'_>>,
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
        let wire_fields = wire::fields(bytes)?;
        for field in &def.fields {
            let site = Site {
                message: def.name,
                field,
            };
            let occurrences: Vec<WireValue<'_>> = match field.number {
                Some(n) => wire_fields
                    .iter()
                    .filter(|(num, _)| *num == n)
                    .map(|(_, v)| *v)
                    .collect(),
                None => Vec::new(),
            };
            if field.inline {
                match field.ty {
                    Ty::TypeMeta => {
                        // TypeMeta's own fields are both `omitempty`.
                        if let Some(tm) = type_meta {
                            if !tm.kind.is_empty() {
                                out.insert("kind".to_owned(), Value::from(tm.kind));
                            }
                            if !tm.api_version.is_empty() {
                                out.insert("apiVersion".to_owned(), Value::from(tm.api_version));
                            }
                        }
                    }
                    Ty::Struct(inner) => {
                        let merged = merged_message(&site, &occurrences)?;
                        self.struct_into(inner, &merged, None, depth + 1, out)?;
                    }
                    _ => {
                        return Err(DecodeError::Schema(format!(
                            "{} cannot be inlined",
                            site.path()
                        )))
                    }
                }
                continue;
            }
            if let Some(value) = self.field_value(&site, &field.ty, &occurrences, depth)? {
                out.insert(field.json.to_owned(), value);
            }
        }
        Ok(())
    }

    /// The JSON for one field, or `None` when `omitempty` drops it.
    fn field_value(
        &self,
        site: &Site<'_>,
        ty: &Ty,
        occurrences: &[WireValue<'_>],
        depth: usize,
    ) -> Result<Option<Value>, DecodeError> {
        let omitempty = site.field.omitempty;
        let nil = || if omitempty { None } else { Some(Value::Null) };
        match ty {
            Ty::Ptr(inner) => {
                if occurrences.is_empty() {
                    Ok(nil())
                } else {
                    self.present_value(site, inner, occurrences, depth)
                        .map(Some)
                }
            }
            Ty::Slice(elem) => {
                let items = self.slice_items(site, elem, occurrences, depth)?;
                Ok(if items.is_empty() {
                    nil()
                } else {
                    Some(Value::Array(items))
                })
            }
            Ty::Map(value_ty) => {
                if occurrences.is_empty() {
                    return Ok(nil());
                }
                let map = self.map_entries(site, value_ty, occurrences, depth)?;
                Ok(if map.is_empty() && omitempty {
                    None
                } else {
                    Some(Value::Object(map))
                })
            }
            Ty::Bytes => match occurrences.last() {
                None => Ok(nil()),
                Some(WireValue::Len(b)) if b.is_empty() && omitempty => Ok(None),
                Some(_) => self.present_value(site, ty, occurrences, depth).map(Some),
            },
            Ty::Str | Ty::Bool | Ty::Int32 | Ty::Int64 => {
                let value = self.present_value(site, ty, occurrences, depth)?;
                Ok(if omitempty && is_zero(&value) {
                    None
                } else {
                    Some(value)
                })
            }
            // Struct-shaped values are never dropped by `omitempty`.
            _ => self.present_value(site, ty, occurrences, depth).map(Some),
        }
    }

    /// The JSON for a non-pointer value decoded from its occurrences (none
    /// means the Go zero value).
    fn present_value(
        &self,
        site: &Site<'_>,
        ty: &Ty,
        occurrences: &[WireValue<'_>],
        depth: usize,
    ) -> Result<Value, DecodeError> {
        match ty {
            Ty::Str => match occurrences.last() {
                None => Ok(Value::from("")),
                Some(WireValue::Len(b)) => Ok(Value::from(String::from_utf8_lossy(b).into_owned())),
                Some(other) => Err(site.mismatch(other)),
            },
            Ty::Bytes => match occurrences.last() {
                None => Ok(Value::from("")),
                Some(WireValue::Len(b)) => Ok(Value::from(
                    base64::engine::general_purpose::STANDARD.encode(b),
                )),
                Some(other) => Err(site.mismatch(other)),
            },
            Ty::Bool | Ty::Int32 | Ty::Int64 => {
                let raw = match occurrences.last() {
                    None => 0,
                    Some(WireValue::Varint(v)) => *v,
                    Some(other) => return Err(site.mismatch(other)),
                };
                Ok(scalar(ty, raw))
            }
            Ty::Struct(id) => {
                let merged = merged_message(site, occurrences)?;
                self.object(*id, &merged, None, depth + 1)
            }
            Ty::Time | Ty::MicroTime => {
                let bytes = last_message(site, occurrences)?;
                special::time(bytes, *ty == Ty::MicroTime, &site.path())
            }
            Ty::Quantity => special::quantity(last_message(site, occurrences)?, &site.path()),
            Ty::IntOrString => {
                special::int_or_string(&merged_message(site, occurrences)?, &site.path())
            }
            Ty::RawExtension | Ty::FieldsV1 => {
                special::raw_json(&merged_message(site, occurrences)?, &site.path())
            }
            Ty::Ptr(inner) => self.present_value(site, inner, occurrences, depth),
            Ty::Slice(_) | Ty::Map(_) | Ty::TypeMeta => Err(DecodeError::Schema(format!(
                "{} has an unsupported nested type",
                site.path()
            ))),
        }
    }

    fn slice_items(
        &self,
        site: &Site<'_>,
        elem: &Ty,
        occurrences: &[WireValue<'_>],
        depth: usize,
    ) -> Result<Vec<Value>, DecodeError> {
        let mut items = Vec::with_capacity(occurrences.len());
        for occurrence in occurrences {
            match (elem, occurrence) {
                (Ty::Bool | Ty::Int32 | Ty::Int64, WireValue::Len(packed)) => {
                    for raw in wire::packed_varints(packed)? {
                        items.push(scalar(elem, raw));
                    }
                }
                _ => items.push(self.present_value(
                    site,
                    elem,
                    std::slice::from_ref(occurrence),
                    depth,
                )?),
            }
        }
        Ok(items)
    }

    fn map_entries(
        &self,
        site: &Site<'_>,
        value_ty: &Ty,
        occurrences: &[WireValue<'_>],
        depth: usize,
    ) -> Result<Map<String, Value>, DecodeError> {
        // Go's encoding/json writes map keys in sorted order.
        let mut sorted = BTreeMap::new();
        for occurrence in occurrences {
            let WireValue::Len(entry) = occurrence else {
                return Err(site.mismatch(occurrence));
            };
            let mut key = String::new();
            let mut values = Vec::new();
            for (number, value) in wire::fields(entry)? {
                match (number, value) {
                    (1, WireValue::Len(k)) => key = String::from_utf8_lossy(k).into_owned(),
                    (1, other) => return Err(site.mismatch(&other)),
                    (2, value) => values.push(value),
                    _ => {}
                }
            }
            let value = self.present_value(site, value_ty, &values, depth)?;
            sorted.insert(key, value);
        }
        Ok(sorted.into_iter().collect())
    }
}

/// Converts a varint to the JSON value of a Go bool/int32/int64 field.
fn scalar(ty: &Ty, raw: u64) -> Value {
    match ty {
        Ty::Bool => Value::Bool(raw != 0),
        // Go truncates the varint with an integer conversion.
        Ty::Int32 => Value::from(raw as i32),
        _ => Value::from(raw as i64),
    }
}

fn is_zero(value: &Value) -> bool {
    match value {
        Value::String(s) => s.is_empty(),
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_i64() == Some(0),
        _ => false,
    }
}

/// The bytes of the last occurrence of a message field (empty if none).
fn last_message<'a>(
    site: &Site<'_>,
    occurrences: &[WireValue<'a>],
) -> Result<&'a [u8], DecodeError> {
    match occurrences.last() {
        None => Ok(&[]),
        Some(WireValue::Len(b)) => Ok(b),
        Some(other) => Err(site.mismatch(other)),
    }
}

/// All occurrences of a message field joined, which protobuf defines as
/// merging them.
fn merged_message<'a>(
    site: &Site<'_>,
    occurrences: &[WireValue<'a>],
) -> Result<Cow<'a, [u8]>, DecodeError> {
    let mut parts = Vec::with_capacity(occurrences.len());
    for occurrence in occurrences {
        match occurrence {
            WireValue::Len(b) => parts.push(*b),
            other => return Err(site.mismatch(other)),
        }
    }
    Ok(match parts.as_slice() {
        [] => Cow::Borrowed(&[]),
        [one] => Cow::Borrowed(*one),
        many => Cow::Owned(many.concat()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_detection() {
        assert!(is_zero(&Value::from("")));
        assert!(is_zero(&Value::from(0)));
        assert!(is_zero(&Value::Bool(false)));
        assert!(!is_zero(&Value::from("x")));
        assert!(!is_zero(&Value::from(-1)));
        assert!(!is_zero(&Value::Null));
    }

    #[test]
    fn scalars_truncate_like_go() {
        assert_eq!(scalar(&Ty::Int32, u64::MAX), Value::from(-1));
        assert_eq!(scalar(&Ty::Int32, 1 << 32 | 5), Value::from(5));
        assert_eq!(scalar(&Ty::Int64, u64::MAX), Value::from(-1));
        assert_eq!(scalar(&Ty::Bool, 2), Value::Bool(true));
    }
}
