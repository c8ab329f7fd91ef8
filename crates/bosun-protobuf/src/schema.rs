//! The built-in wire schema: which structs exist, their fields, and which
//! `apiVersion`/`kind` pairs map to which root struct.
//!
//! The schema text lives in `schema/k8s-1.32.schema` and is parsed once, on
//! first use. Its format is described at the top of that file.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::error::DecodeError;

const SCHEMA_TEXT: &str = include_str!("../schema/k8s-1.32.schema");

/// The Go shape of one field, which drives both wire decoding and JSON output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ty {
    Str,
    Bool,
    Int32,
    Int64,
    /// `[]byte`: base64 in JSON.
    Bytes,
    Time,
    MicroTime,
    Quantity,
    IntOrString,
    RawExtension,
    FieldsV1,
    /// `metav1.TypeMeta`, only ever embedded inline.
    TypeMeta,
    /// Index into [`Schema::structs`].
    Struct(usize),
    Ptr(Box<Ty>),
    Slice(Box<Ty>),
    /// Map with string keys and values of the boxed type.
    Map(Box<Ty>),
}

/// One Go struct field.
#[derive(Debug, Clone)]
pub(crate) struct Field {
    pub(crate) json: &'static str,
    /// Protobuf field number; `None` for fields not carried in protobuf.
    pub(crate) number: Option<u32>,
    pub(crate) ty: Ty,
    pub(crate) omitempty: bool,
    /// Embedded struct whose JSON fields are promoted into the parent.
    pub(crate) inline: bool,
}

/// One Go struct.
#[derive(Debug, Clone)]
pub(crate) struct StructDef {
    pub(crate) name: &'static str,
    pub(crate) fields: Vec<Field>,
}

/// A decodable root kind.
#[derive(Debug, Clone)]
pub(crate) struct KindEntry {
    /// `None` matches any apiVersion.
    pub(crate) api_version: Option<&'static str>,
    pub(crate) kind: &'static str,
    pub(crate) root: usize,
}

/// The parsed schema.
#[derive(Debug)]
pub(crate) struct Schema {
    pub(crate) structs: Vec<StructDef>,
    pub(crate) kinds: Vec<KindEntry>,
}

impl Schema {
    /// Finds the root struct for an envelope's apiVersion and kind.
    pub(crate) fn root_for(&self, api_version: &str, kind: &str) -> Option<usize> {
        self.kinds
            .iter()
            .find(|k| k.kind == kind && k.api_version.is_none_or(|v| v == api_version))
            .map(|k| k.root)
    }

    /// Looks a struct up by its schema name, e.g. `core/v1.Pod`.
    #[cfg(test)]
    pub(crate) fn struct_named(&self, name: &str) -> Option<&StructDef> {
        self.structs.iter().find(|s| s.name == name)
    }
}

/// Returns the process-wide schema, parsing it on first use.
pub(crate) fn schema() -> Result<&'static Schema, DecodeError> {
    static SCHEMA: OnceLock<Result<Schema, String>> = OnceLock::new();
    SCHEMA
        .get_or_init(|| parse(SCHEMA_TEXT))
        .as_ref()
        .map_err(|e| DecodeError::Schema(e.clone()))
}

/// Parses schema text. Errors name the offending line.
pub(crate) fn parse(text: &'static str) -> Result<Schema, String> {
    let lines: Vec<(usize, &'static str)> = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .collect();

    // First pass: assign every struct an index so fields can refer forward.
    let mut index: HashMap<&'static str, usize> = HashMap::new();
    let mut structs: Vec<StructDef> = Vec::new();
    for (no, line) in &lines {
        if let Some(name) = line.strip_prefix("struct ") {
            let name = name.trim();
            if index.insert(name, structs.len()).is_some() {
                return Err(format!("line {no}: duplicate struct {name}"));
            }
            structs.push(StructDef {
                name,
                fields: Vec::new(),
            });
        }
    }

    let mut kinds = Vec::new();
    let mut current: Option<usize> = None;
    for (no, line) in lines {
        let words: Vec<&'static str> = line.split_whitespace().collect();
        if line.starts_with("kind ") {
            let [_, api_version, kind, root] = words[..] else {
                return Err(format!(
                    "line {no}: expected `kind <apiVersion> <Kind> <struct>`"
                ));
            };
            let root = *index
                .get(root)
                .ok_or_else(|| format!("line {no}: unknown struct {root}"))?;
            kinds.push(KindEntry {
                api_version: (api_version != "*").then_some(api_version),
                kind,
                root,
            });
        } else if let Some(name) = line.strip_prefix("struct ") {
            current = index.get(name.trim()).copied();
        } else if line.starts_with(char::is_whitespace) {
            let owner = current.ok_or_else(|| format!("line {no}: field outside a struct"))?;
            let field = parse_field(&words, &index).map_err(|e| format!("line {no}: {e}"))?;
            structs[owner].fields.push(field);
        } else {
            return Err(format!("line {no}: unrecognised line"));
        }
    }
    Ok(Schema { structs, kinds })
}

fn parse_field(
    words: &[&'static str],
    index: &HashMap<&'static str, usize>,
) -> Result<Field, String> {
    let (json, number, ty, flags) = match words {
        [json, number, ty, flags @ ..] => (*json, *number, *ty, flags),
        _ => return Err("expected `<json> <number> <type> [omitempty]`".to_owned()),
    };
    let number = match number {
        "-" => None,
        n => Some(
            n.parse::<u32>()
                .map_err(|_| format!("bad field number {n}"))?,
        ),
    };
    let mut omitempty = false;
    for flag in flags {
        match *flag {
            "omitempty" => omitempty = true,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    let ty = parse_type(ty, index)?;
    let inline = json == "inline";
    if inline && !matches!(ty, Ty::Struct(_) | Ty::TypeMeta) {
        return Err("only structs can be inlined".to_owned());
    }
    if number.is_none() && ty != Ty::TypeMeta {
        return Err("only TypeMeta may lack a field number".to_owned());
    }
    Ok(Field {
        json,
        number,
        ty,
        omitempty,
        inline,
    })
}

fn parse_type(text: &str, index: &HashMap<&'static str, usize>) -> Result<Ty, String> {
    if let Some(inner) = text.strip_prefix('*') {
        return Ok(Ty::Ptr(Box::new(parse_type(inner, index)?)));
    }
    if let Some(inner) = text.strip_prefix("[]") {
        return Ok(Ty::Slice(Box::new(parse_type(inner, index)?)));
    }
    if let Some(inner) = text.strip_prefix("map[string]") {
        return Ok(Ty::Map(Box::new(parse_type(inner, index)?)));
    }
    Ok(match text {
        "string" => Ty::Str,
        "bool" => Ty::Bool,
        "int32" => Ty::Int32,
        "int64" => Ty::Int64,
        "bytes" => Ty::Bytes,
        "Time" => Ty::Time,
        "MicroTime" => Ty::MicroTime,
        "Quantity" => Ty::Quantity,
        "IntOrString" => Ty::IntOrString,
        "RawExtension" => Ty::RawExtension,
        "FieldsV1" => Ty::FieldsV1,
        "TypeMeta" => Ty::TypeMeta,
        name => Ty::Struct(
            *index
                .get(name)
                .ok_or_else(|| format!("unknown type {name}"))?,
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_schema_parses() {
        let s = schema().unwrap();
        assert!(s.structs.len() > 200);
        assert!(s.kinds.len() >= 29);
    }

    #[test]
    fn roots_resolve() {
        let s = schema().unwrap();
        let cases = [
            ("v1", "Namespace", Some("core/v1.Namespace")),
            ("apps/v1", "Deployment", Some("apps/v1.Deployment")),
            ("policy/v1", "Eviction", Some("policy/v1.Eviction")),
            ("events.k8s.io/v1", "Event", Some("events/v1.Event")),
            ("v1", "Event", Some("core/v1.Event")),
            ("v1", "DeleteOptions", Some("meta/v1.DeleteOptions")),
            ("apps/v1", "DeleteOptions", Some("meta/v1.DeleteOptions")),
            (
                "meta.k8s.io/v1",
                "DeleteOptions",
                Some("meta/v1.DeleteOptions"),
            ),
            ("autoscaling/v1", "Scale", Some("autoscaling/v1.Scale")),
            ("v1", "Binding", Some("core/v1.Binding")),
            ("apps/v1beta1", "Deployment", None),
            ("v1", "Deployment", None),
            ("rbac.authorization.k8s.io/v1", "Role", None),
        ];
        for (api_version, kind, want) in cases {
            let got = s.root_for(api_version, kind).map(|i| s.structs[i].name);
            assert_eq!(got, want, "{api_version} {kind}");
        }
    }

    #[test]
    fn known_field_facts() {
        let s = schema().unwrap();
        let spec = s.struct_named("apps/v1.DeploymentSpec").unwrap();
        let replicas = spec.fields.iter().find(|f| f.json == "replicas").unwrap();
        assert_eq!(replicas.number, Some(1));
        assert_eq!(replicas.ty, Ty::Ptr(Box::new(Ty::Int32)));
        assert!(replicas.omitempty);
        let container = s.struct_named("core/v1.Container").unwrap();
        let name = &container.fields[0];
        assert_eq!(
            (name.json, name.number, name.omitempty),
            ("name", Some(1), false)
        );
        let probe = s.struct_named("core/v1.Probe").unwrap();
        assert!(probe.fields[0].inline);
    }

    #[test]
    fn parse_errors_name_the_line() {
        let cases = [
            ("struct a.B\n  x 1 nope\n", "line 2: unknown type nope"),
            ("  x 1 string\n", "line 1: field outside a struct"),
            ("struct a.B\n  x y string\n", "line 2: bad field number y"),
            (
                "struct a.B\n  x 1 string sometimes\n",
                "line 2: unknown flag sometimes",
            ),
            (
                "struct a.B\n  inline 1 string\n",
                "line 2: only structs can be inlined",
            ),
            ("kind v1 Pod a.B\n", "line 1: unknown struct a.B"),
            ("struct a.B\nstruct a.B\n", "line 2: duplicate struct a.B"),
            ("bogus\n", "line 1: unrecognised line"),
        ];
        for (text, want) in cases {
            assert_eq!(parse(text).unwrap_err(), want);
        }
    }
}
