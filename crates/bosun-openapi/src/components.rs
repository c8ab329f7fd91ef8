//! `components.schemas` of one group-version document.
//!
//! Schemas are produced by the `schemars` implementations of the `k8s-openapi`
//! types (names such as `io.k8s.api.apps.v1.Deployment`, descriptions, types,
//! formats and required lists come from there) and then reshaped into the form
//! the Kubernetes API server publishes:
//!
//! * a `$ref` with sibling keywords (typically a field description) becomes
//!   `{"allOf": [{"$ref": ...}], ...}`, as OpenAPI 3.0 ignores `$ref` siblings;
//! * top-level kinds, their lists, `Scale`, `Status`, `DeleteOptions` and
//!   `WatchEvent` get `x-kubernetes-group-version-kind`;
//! * `IntOrString` and `Quantity` are described with `oneOf` alternatives;
//! * strategic-merge-patch extensions are attached (see [`crate::patch_meta`]);
//! * list kinds (`DeploymentList`, ...) are synthesised, as `k8s-openapi`
//!   models them with a generic type that has no schema of its own.

use k8s_openapi::api::autoscaling;
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
use schemars::generate::SchemaSettings;
use serde_json::{json, Map, Value};

use crate::catalog::{GroupVersion, Resource, Subresource, GROUP_VERSIONS};
use crate::patch_meta;

/// Prefix of every schema reference.
pub(crate) const REF_PREFIX: &str = "#/components/schemas/";

pub(crate) const STATUS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Status";
pub(crate) const DELETE_OPTIONS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions";
pub(crate) const WATCH_EVENT: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent";
pub(crate) const PATCH: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch";
pub(crate) const API_RESOURCE_LIST: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.APIResourceList";
pub(crate) const SCALE: &str = "io.k8s.api.autoscaling.v1.Scale";
const LIST_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta";
const INT_OR_STRING: &str = "io.k8s.apimachinery.pkg.util.intstr.IntOrString";
const QUANTITY: &str = "io.k8s.apimachinery.pkg.api.resource.Quantity";

/// Builds a `$ref` value pointing at a component schema.
pub(crate) fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("{REF_PREFIX}{name}") })
}

/// Schema names of the served kinds of a group-version, resolved once the
/// generator has registered them.
pub(crate) struct Components {
    pub(crate) schemas: Map<String, Value>,
    /// Component name of each resource's kind, index-aligned with `gv.resources`.
    pub(crate) kind_schemas: Vec<String>,
}

impl Components {
    pub(crate) fn list_schema(&self, index: usize) -> String {
        format!("{}List", self.kind_schemas[index])
    }
}

/// Generates the components of one group-version document.
pub(crate) fn build(gv: &GroupVersion) -> Components {
    let settings = SchemaSettings::openapi3().with(|s| {
        s.definitions_path = "/components/schemas".into();
        s.meta_schema = None;
        s.transforms.clear();
    });
    let mut generator = settings.into_generator();

    let mut kind_schemas = Vec::with_capacity(gv.resources.len());
    for resource in gv.resources {
        let reference = (resource.schema)(&mut generator);
        let name = reference
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix(REF_PREFIX))
            .unwrap_or(resource.kind)
            .to_owned();
        kind_schemas.push(name);
    }
    if gv
        .resources
        .iter()
        .any(|r| r.subresources.contains(&Subresource::Scale))
    {
        generator.subschema_for::<autoscaling::v1::Scale>();
    }
    generator.subschema_for::<meta::APIResourceList>();
    generator.subschema_for::<meta::DeleteOptions>();
    generator.subschema_for::<meta::Status>();
    generator.subschema_for::<meta::Patch>();
    generator.subschema_for::<meta::ListMeta>();
    generator.subschema_for::<meta::WatchEvent<meta::Status>>();

    let mut schemas = generator.take_definitions(false);
    for (resource, kind_schema) in gv.resources.iter().zip(&kind_schemas) {
        let list = list_schema(resource, kind_schema, schemas.get(kind_schema));
        schemas.insert(format!("{kind_schema}List"), list);
    }

    for schema in schemas.values_mut() {
        wrap_ref_siblings(schema);
    }
    reshape_int_or_string(&mut schemas);
    for name in &kind_schemas {
        relax_metadata(&mut schemas, name);
    }
    restore_required(&mut schemas);
    annotate_gvks(gv, &kind_schemas, &mut schemas);
    patch_meta::annotate(&mut schemas);

    let mut sorted: Vec<(String, Value)> = schemas.into_iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    Components {
        schemas: sorted.into_iter().collect(),
        kind_schemas,
    }
}

/// Synthesises the `<Kind>List` schema for a resource.
fn list_schema(resource: &Resource, kind_schema: &str, kind: Option<&Value>) -> Value {
    let inherited = |field: &str| {
        kind.and_then(|k| k.pointer(&format!("/properties/{field}")))
            .cloned()
            .unwrap_or_else(|| json!({ "type": "string" }))
    };
    json!({
        "description": format!("A collection of {} objects.", resource.kind),
        "type": "object",
        "properties": {
            "apiVersion": inherited("apiVersion"),
            "items": {
                "description": format!("The {} objects in this list.", resource.kind),
                "type": "array",
                "items": schema_ref(kind_schema),
            },
            "kind": inherited("kind"),
            "metadata": {
                "allOf": [schema_ref(LIST_META)],
                "description": "Metadata of the list, such as its resourceVersion and the continue token for paging.",
            },
        },
        "required": ["items"],
    })
}

/// Rewrites every `{"$ref": X, <siblings>}` into `{"allOf": [{"$ref": X}], <siblings>}`.
fn wrap_ref_siblings(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for child in map.values_mut() {
                wrap_ref_siblings(child);
            }
            if map.len() > 1 {
                if let Some(reference) = map.remove("$ref") {
                    let mut wrapped = Map::new();
                    wrapped.insert("allOf".into(), json!([{ "$ref": reference }]));
                    wrapped.extend(std::mem::take(map));
                    *map = wrapped;
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(wrap_ref_siblings),
        _ => {}
    }
}

/// Kinds whose `metadata` field is required upstream too (declared without
/// `omitempty` in the Go types).
const METADATA_REQUIRED: &[&str] = &["io.k8s.api.core.v1.Event", "io.k8s.api.events.v1.Event"];

/// `k8s-openapi` lists `metadata` as required on every top-level kind (its
/// Rust types make it non-optional); the API server does so only for events,
/// and kubectl would otherwise print `-required-` next to it.
fn relax_metadata(schemas: &mut Map<String, Value>, name: &str) {
    if METADATA_REQUIRED.contains(&name) {
        return;
    }
    let Some(schema) = schemas.get_mut(name).and_then(Value::as_object_mut) else {
        return;
    };
    let now_empty = match schema.get_mut("required").and_then(Value::as_array_mut) {
        Some(required) => {
            required.retain(|field| field != "metadata");
            required.is_empty()
        }
        None => false,
    };
    if now_empty {
        schema.remove("required");
    }
}

/// Fields that upstream marks required but `k8s-openapi` deliberately made
/// optional (because servers have been seen returning them unset).
const UPSTREAM_REQUIRED: &[(&str, &str)] = &[("io.k8s.api.events.v1.Event", "eventTime")];

fn restore_required(schemas: &mut Map<String, Value>) {
    for (name, field) in UPSTREAM_REQUIRED {
        let Some(schema) = schemas.get_mut(*name).and_then(Value::as_object_mut) else {
            continue;
        };
        let required = schema
            .entry("required")
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Some(list) = required.as_array_mut() {
            if !list.iter().any(|f| f == field) {
                list.push(Value::from(*field));
            }
        }
    }
}

/// Describes `IntOrString` and `Quantity` with `oneOf` alternatives.
fn reshape_int_or_string(schemas: &mut Map<String, Value>) {
    let shapes = [
        (INT_OR_STRING, ["integer", "string"]),
        (QUANTITY, ["string", "number"]),
    ];
    for (name, alternatives) in shapes {
        if let Some(schema) = schemas.get_mut(name).and_then(Value::as_object_mut) {
            schema.remove("x-kubernetes-int-or-string");
            let one_of: Vec<Value> = alternatives.iter().map(|t| json!({ "type": t })).collect();
            schema.insert("oneOf".into(), Value::Array(one_of));
        }
    }
}

fn gvk(group: &str, version: &str, kind: &str) -> Value {
    json!({ "group": group, "kind": kind, "version": version })
}

fn set_gvks(schemas: &mut Map<String, Value>, name: &str, gvks: Vec<Value>) {
    if let Some(schema) = schemas.get_mut(name).and_then(Value::as_object_mut) {
        schema.insert("x-kubernetes-group-version-kind".into(), Value::Array(gvks));
    }
}

fn annotate_gvks(gv: &GroupVersion, kind_schemas: &[String], schemas: &mut Map<String, Value>) {
    for (resource, name) in gv.resources.iter().zip(kind_schemas) {
        set_gvks(
            schemas,
            name,
            vec![gvk(gv.group, gv.version, resource.kind)],
        );
        let list_kind = format!("{}List", resource.kind);
        set_gvks(
            schemas,
            &format!("{name}List"),
            vec![gvk(gv.group, gv.version, &list_kind)],
        );
    }
    set_gvks(schemas, SCALE, vec![gvk("autoscaling", "v1", "Scale")]);
    set_gvks(schemas, STATUS, vec![gvk("", "v1", "Status")]);
    for (name, kind) in [
        (DELETE_OPTIONS, "DeleteOptions"),
        (WATCH_EVENT, "WatchEvent"),
    ] {
        let all = GROUP_VERSIONS
            .iter()
            .map(|g| gvk(g.group, g.version, kind))
            .collect();
        set_gvks(schemas, name, all);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_refs_that_have_siblings_only() {
        let mut value = json!({
            "properties": {
                "a": {"$ref": "#/components/schemas/A", "description": "field a"},
                "b": {"$ref": "#/components/schemas/B"},
                "c": {"type": "array", "items": {"$ref": "#/components/schemas/C", "default": {}}}
            }
        });
        wrap_ref_siblings(&mut value);
        assert_eq!(
            value.pointer("/properties/a").unwrap(),
            &json!({"allOf": [{"$ref": "#/components/schemas/A"}], "description": "field a"})
        );
        assert_eq!(
            value.pointer("/properties/b").unwrap(),
            &json!({"$ref": "#/components/schemas/B"})
        );
        assert_eq!(
            value.pointer("/properties/c/items/allOf/0/$ref").unwrap(),
            "#/components/schemas/C"
        );
    }

    #[test]
    fn apps_components_carry_names_gvks_and_lists() {
        let gv = crate::catalog::find("apis/apps/v1").unwrap();
        let components = build(gv);
        let schemas = &components.schemas;
        assert_eq!(components.kind_schemas[0], "io.k8s.api.apps.v1.Deployment");
        // `metadata` is optional on kinds, as upstream publishes it.
        assert!(schemas["io.k8s.api.apps.v1.Deployment"]
            .get("required")
            .is_none());
        assert_eq!(
            schemas["io.k8s.api.apps.v1.ControllerRevision"]["required"],
            json!(["revision"])
        );
        let core = build(crate::catalog::find("api/v1").unwrap()).schemas;
        assert_eq!(
            core["io.k8s.api.core.v1.Event"]["required"],
            json!(["involvedObject", "metadata"])
        );
        let events = build(crate::catalog::find("apis/events.k8s.io/v1").unwrap()).schemas;
        assert_eq!(
            events["io.k8s.api.events.v1.Event"]["required"],
            json!(["metadata", "eventTime"])
        );
        let cases = [
            (
                "io.k8s.api.apps.v1.Deployment",
                gvk("apps", "v1", "Deployment"),
            ),
            (
                "io.k8s.api.apps.v1.DeploymentList",
                gvk("apps", "v1", "DeploymentList"),
            ),
            (
                "io.k8s.api.apps.v1.StatefulSet",
                gvk("apps", "v1", "StatefulSet"),
            ),
            (SCALE, gvk("autoscaling", "v1", "Scale")),
            (STATUS, gvk("", "v1", "Status")),
        ];
        for (name, expected) in cases {
            let gvks = schemas[name]["x-kubernetes-group-version-kind"]
                .as_array()
                .unwrap();
            assert_eq!(gvks, &vec![expected], "{name}");
        }
        let delete_gvks = schemas[DELETE_OPTIONS]["x-kubernetes-group-version-kind"]
            .as_array()
            .unwrap();
        assert!(delete_gvks.contains(&gvk("apps", "v1", "DeleteOptions")));
        assert!(delete_gvks.contains(&gvk("", "v1", "DeleteOptions")));
        // Schema names are sorted like upstream's JSON output.
        let names: Vec<&String> = schemas.keys().collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        // No JSON-Schema-only keywords leak into the OpenAPI document.
        let text = serde_json::to_string(schemas).unwrap();
        assert!(!text.contains("$defs"));
        assert!(!text.contains("$schema"));
    }

    #[test]
    fn list_schema_references_its_items_and_list_meta() {
        let gv = crate::catalog::find("api/v1").unwrap();
        let components = build(gv);
        let list = &components.schemas["io.k8s.api.core.v1.PodList"];
        assert_eq!(
            list.pointer("/properties/items/items/$ref").unwrap(),
            "#/components/schemas/io.k8s.api.core.v1.Pod"
        );
        assert_eq!(
            list.pointer("/properties/metadata/allOf/0/$ref").unwrap(),
            "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta"
        );
        assert_eq!(list["required"], json!(["items"]));
        assert_eq!(list.pointer("/properties/kind/type").unwrap(), "string");
    }

    #[test]
    fn int_or_string_and_quantity_use_one_of() {
        let gv = crate::catalog::find("api/v1").unwrap();
        let schemas = build(gv).schemas;
        assert_eq!(
            schemas[INT_OR_STRING]["oneOf"],
            json!([{"type": "integer"}, {"type": "string"}])
        );
        assert_eq!(
            schemas[QUANTITY]["oneOf"],
            json!([{"type": "string"}, {"type": "number"}])
        );
        assert!(schemas[QUANTITY].get("type").is_none());
        assert!(schemas[QUANTITY]
            .get("x-kubernetes-int-or-string")
            .is_none());
    }
}
