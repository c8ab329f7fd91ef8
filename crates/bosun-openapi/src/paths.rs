//! Path items of one group-version document.
//!
//! Every served resource gets the same REST surface as upstream publishes:
//! list/create/deletecollection on the collection, get/replace/patch/delete on
//! the object, get/replace/patch on `status` and `scale`, the all-namespaces
//! list for namespaced resources and the (deprecated) `watch/` paths. Each
//! operation carries `x-kubernetes-action` and
//! `x-kubernetes-group-version-kind`, which is what kubectl's explain template
//! and its query-parameter verifier key on.

use serde_json::{json, Map, Value};

use crate::catalog::{GroupVersion, Resource, Subresource};
use crate::components::{
    schema_ref, Components, API_RESOURCE_LIST, DELETE_OPTIONS, PATCH, SCALE, STATUS, WATCH_EVENT,
};
use crate::params;

/// Media types an object response can be encoded in.
const OBJECT_MEDIA: &[&str] = &[
    "application/json",
    "application/yaml",
    "application/vnd.kubernetes.protobuf",
];

/// Media types of list responses, which may also be watch streams.
const STREAM_MEDIA: &[&str] = &[
    "application/json",
    "application/yaml",
    "application/vnd.kubernetes.protobuf",
    "application/json;stream=watch",
    "application/vnd.kubernetes.protobuf;stream=watch",
];

/// Patch formats accepted by PATCH operations.
const PATCH_MEDIA: &[&str] = &[
    "application/apply-patch+yaml",
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
];

fn response(schema: &str, media: &[&str]) -> Value {
    let content: Map<String, Value> = media
        .iter()
        .map(|m| ((*m).to_owned(), json!({ "schema": schema_ref(schema) })))
        .collect();
    json!({ "description": "OK", "content": content })
}

fn responses(codes: &[(&str, &str)], schema: &str, media: &[&str]) -> Value {
    let mut map = Map::new();
    for (code, description) in codes {
        let mut r = response(schema, media);
        r["description"] = Value::from(*description);
        map.insert((*code).to_owned(), r);
    }
    map.insert("401".into(), json!({ "description": "Unauthorized" }));
    Value::Object(map)
}

fn body(schema: &str, media: &[&str], required: bool) -> Value {
    let content: Map<String, Value> = media
        .iter()
        .map(|m| ((*m).to_owned(), json!({ "schema": schema_ref(schema) })))
        .collect();
    let mut body = json!({ "content": content });
    if required {
        body["required"] = Value::Bool(true);
    }
    body
}

/// Everything that differs between operations of one path.
struct Op<'a> {
    description: String,
    id: String,
    action: &'a str,
    gvk: &'a Value,
    parameters: Vec<Value>,
    request: Option<Value>,
    responses: Value,
}

impl Op<'_> {
    fn into_value(self, tag: &str) -> Value {
        let mut op = Map::new();
        op.insert("tags".into(), json!([tag]));
        op.insert("description".into(), self.description.into());
        op.insert("operationId".into(), self.id.into());
        if !self.parameters.is_empty() {
            op.insert("parameters".into(), Value::Array(self.parameters));
        }
        if let Some(request) = self.request {
            op.insert("requestBody".into(), request);
        }
        op.insert("responses".into(), self.responses);
        op.insert("x-kubernetes-action".into(), self.action.into());
        op.insert("x-kubernetes-group-version-kind".into(), self.gvk.clone());
        Value::Object(op)
    }
}

/// Builds the `paths` object of a group-version document.
pub(crate) fn build(gv: &GroupVersion, components: &Components) -> Map<String, Value> {
    let mut paths = Map::new();
    let prefix = gv.url_prefix();
    let tag = gv.tag();
    let stem = gv.operation_stem();

    paths.insert(
        format!("{prefix}/"),
        json!({
            "get": {
                "tags": [tag],
                "description": "List the resources available in this group-version.",
                "operationId": format!("get{stem}APIResources"),
                "responses": responses(&[("200", "OK")], API_RESOURCE_LIST, OBJECT_MEDIA),
            }
        }),
    );

    for (index, resource) in gv.resources.iter().enumerate() {
        let ctx = ResourcePaths {
            resource,
            prefix: &prefix,
            tag: &tag,
            stem: &stem,
            kind_schema: &components.kind_schemas[index],
            list_schema: &components.list_schema(index),
            gvk: json!({ "group": gv.group, "kind": resource.kind, "version": gv.version }),
        };
        ctx.insert_all(&mut paths);
    }

    let mut sorted: Vec<(String, Value)> = paths.into_iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    sorted.into_iter().collect()
}

struct ResourcePaths<'a> {
    resource: &'a Resource,
    prefix: &'a str,
    tag: &'a str,
    stem: &'a str,
    kind_schema: &'a str,
    list_schema: &'a str,
    gvk: Value,
}

impl ResourcePaths<'_> {
    /// `Namespaced` for namespaced resources, empty otherwise.
    fn scope(&self) -> &'static str {
        if self.resource.namespaced {
            "Namespaced"
        } else {
            ""
        }
    }

    /// Collection path below `base` (`/api/v1` or `/api/v1/watch`).
    fn collection(&self, base: &str) -> String {
        if self.resource.namespaced {
            format!("{base}/namespaces/{{namespace}}/{}", self.resource.plural)
        } else {
            format!("{base}/{}", self.resource.plural)
        }
    }

    fn scope_params(&self, with_name: bool) -> Vec<Value> {
        let kind = self.resource.kind;
        let mut out = Vec::new();
        if with_name {
            out.push(params::path("name", &format!("Name of the {kind}.")));
        }
        if self.resource.namespaced {
            out.push(params::path(
                "namespace",
                "Namespace of the objects; names are unique within a namespace.",
            ));
        }
        out.push(params::pretty());
        out
    }

    fn path_item(&self, ops: Vec<(&str, Op<'_>)>, parameters: Vec<Value>) -> Value {
        let mut item = Map::new();
        for (method, op) in ops {
            item.insert(method.to_owned(), op.into_value(self.tag));
        }
        item.insert("parameters".into(), Value::Array(parameters));
        Value::Object(item)
    }

    fn insert_all(&self, paths: &mut Map<String, Value>) {
        let collection = self.collection(self.prefix);
        let object = format!("{collection}/{{name}}");
        paths.insert(
            collection.clone(),
            self.path_item(self.collection_ops(), self.scope_params(false)),
        );
        paths.insert(
            object.clone(),
            self.path_item(self.object_ops(), self.scope_params(true)),
        );
        for sub in self.resource.subresources {
            paths.insert(
                format!("{object}/{}", sub.path_segment()),
                self.path_item(self.subresource_ops(*sub), self.scope_params(true)),
            );
        }
        self.insert_watch_paths(paths);
    }

    fn collection_ops(&self) -> Vec<(&'static str, Op<'_>)> {
        let (kind, stem, scope) = (self.resource.kind, self.stem, self.scope());
        let mut ops = vec![
            (
                "get",
                Op {
                    description: format!("List or watch {kind} objects."),
                    id: format!("list{stem}{scope}{kind}"),
                    action: "list",
                    gvk: &self.gvk,
                    parameters: params::list(),
                    request: None,
                    responses: responses(&[("200", "OK")], self.list_schema, STREAM_MEDIA),
                },
            ),
            (
                "post",
                Op {
                    description: format!("Create a {kind}."),
                    id: format!("create{stem}{scope}{kind}"),
                    action: "post",
                    gvk: &self.gvk,
                    parameters: params::write(),
                    request: Some(body(self.kind_schema, &["*/*"], true)),
                    responses: responses(
                        &[("200", "OK"), ("201", "Created"), ("202", "Accepted")],
                        self.kind_schema,
                        OBJECT_MEDIA,
                    ),
                },
            ),
        ];
        if self.resource.delete_collection {
            ops.push((
                "delete",
                Op {
                    description: format!("Delete a collection of {kind} objects."),
                    id: format!("delete{stem}Collection{scope}{kind}"),
                    action: "deletecollection",
                    gvk: &self.gvk,
                    parameters: params::delete_collection(),
                    request: Some(body(DELETE_OPTIONS, &["*/*"], false)),
                    responses: responses(&[("200", "OK")], STATUS, OBJECT_MEDIA),
                },
            ));
        }
        ops
    }

    fn object_ops(&self) -> Vec<(&'static str, Op<'_>)> {
        let (kind, stem, scope) = (self.resource.kind, self.stem, self.scope());
        let deleted = if self.resource.delete_returns_object {
            self.kind_schema
        } else {
            STATUS
        };
        vec![
            (
                "get",
                Op {
                    description: format!("Read the specified {kind}."),
                    id: format!("read{stem}{scope}{kind}"),
                    action: "get",
                    gvk: &self.gvk,
                    parameters: Vec::new(),
                    request: None,
                    responses: responses(&[("200", "OK")], self.kind_schema, OBJECT_MEDIA),
                },
            ),
            (
                "put",
                Op {
                    description: format!("Replace the specified {kind}."),
                    id: format!("replace{stem}{scope}{kind}"),
                    action: "put",
                    gvk: &self.gvk,
                    parameters: params::write(),
                    request: Some(body(self.kind_schema, &["*/*"], true)),
                    responses: responses(
                        &[("200", "OK"), ("201", "Created")],
                        self.kind_schema,
                        OBJECT_MEDIA,
                    ),
                },
            ),
            (
                "delete",
                Op {
                    description: format!("Delete a {kind}."),
                    id: format!("delete{stem}{scope}{kind}"),
                    action: "delete",
                    gvk: &self.gvk,
                    parameters: params::delete(),
                    request: Some(body(DELETE_OPTIONS, &["*/*"], false)),
                    responses: responses(
                        &[("200", "OK"), ("202", "Accepted")],
                        deleted,
                        OBJECT_MEDIA,
                    ),
                },
            ),
            (
                "patch",
                Op {
                    description: format!("Partially update the specified {kind}."),
                    id: format!("patch{stem}{scope}{kind}"),
                    action: "patch",
                    gvk: &self.gvk,
                    parameters: params::patch(),
                    request: Some(body(PATCH, PATCH_MEDIA, true)),
                    responses: responses(
                        &[("200", "OK"), ("201", "Created")],
                        self.kind_schema,
                        OBJECT_MEDIA,
                    ),
                },
            ),
        ]
    }

    fn subresource_ops(&self, sub: Subresource) -> Vec<(&'static str, Op<'_>)> {
        let (kind, stem, scope) = (self.resource.kind, self.stem, self.scope());
        let suffix = sub.operation_suffix();
        let what = sub.path_segment();
        let (schema, gvk): (&str, &Value) = match sub {
            Subresource::Status => (self.kind_schema, &self.gvk),
            Subresource::Scale => (SCALE, &SCALE_GVK),
        };
        vec![
            (
                "get",
                Op {
                    description: format!("Read the {what} of the specified {kind}."),
                    id: format!("read{stem}{scope}{kind}{suffix}"),
                    action: "get",
                    gvk,
                    parameters: Vec::new(),
                    request: None,
                    responses: responses(&[("200", "OK")], schema, OBJECT_MEDIA),
                },
            ),
            (
                "put",
                Op {
                    description: format!("Replace the {what} of the specified {kind}."),
                    id: format!("replace{stem}{scope}{kind}{suffix}"),
                    action: "put",
                    gvk,
                    parameters: params::write(),
                    request: Some(body(schema, &["*/*"], true)),
                    responses: responses(
                        &[("200", "OK"), ("201", "Created")],
                        schema,
                        OBJECT_MEDIA,
                    ),
                },
            ),
            (
                "patch",
                Op {
                    description: format!("Partially update the {what} of the specified {kind}."),
                    id: format!("patch{stem}{scope}{kind}{suffix}"),
                    action: "patch",
                    gvk,
                    parameters: params::patch(),
                    request: Some(body(PATCH, PATCH_MEDIA, true)),
                    responses: responses(
                        &[("200", "OK"), ("201", "Created")],
                        schema,
                        OBJECT_MEDIA,
                    ),
                },
            ),
        ]
    }

    fn watch_op(&self, description: String, id: String, action: &'static str) -> Op<'_> {
        Op {
            description,
            id,
            action,
            gvk: &self.gvk,
            parameters: params::list(),
            request: None,
            responses: responses(&[("200", "OK")], WATCH_EVENT, STREAM_MEDIA),
        }
    }

    fn insert_watch_paths(&self, paths: &mut Map<String, Value>) {
        let (kind, stem, scope) = (self.resource.kind, self.stem, self.scope());
        let plural = self.resource.plural;
        let watch_base = format!("{}/watch", self.prefix);
        let watch_collection = self.collection(&watch_base);

        let op = self.watch_op(
            format!("Watch changes to a list of {kind} objects. Deprecated: use the watch parameter of the list operation."),
            format!("watch{stem}{scope}{kind}List"),
            "watchlist",
        );
        paths.insert(
            watch_collection.clone(),
            self.path_item(vec![("get", op)], self.scope_params(false)),
        );

        let op = self.watch_op(
            format!("Watch changes to a {kind}. Deprecated: use the watch parameter of the list operation with a single-item field selector."),
            format!("watch{stem}{scope}{kind}"),
            "watch",
        );
        paths.insert(
            format!("{watch_collection}/{{name}}"),
            self.path_item(vec![("get", op)], self.scope_params(true)),
        );

        if self.resource.namespaced {
            let list = Op {
                description: format!("List or watch {kind} objects across all namespaces."),
                id: format!("list{stem}{kind}ForAllNamespaces"),
                action: "list",
                gvk: &self.gvk,
                parameters: params::list(),
                request: None,
                responses: responses(&[("200", "OK")], self.list_schema, STREAM_MEDIA),
            };
            paths.insert(
                format!("{}/{plural}", self.prefix),
                self.path_item(vec![("get", list)], vec![params::pretty()]),
            );
            let op = self.watch_op(
                format!("Watch changes to {kind} objects across all namespaces. Deprecated: use the watch parameter of the list operation."),
                format!("watch{stem}{kind}ListForAllNamespaces"),
                "watchlist",
            );
            paths.insert(
                format!("{watch_base}/{plural}"),
                self.path_item(vec![("get", op)], vec![params::pretty()]),
            );
        }
    }
}

static SCALE_GVK: std::sync::LazyLock<Value> = std::sync::LazyLock::new(
    || json!({ "group": "autoscaling", "kind": "Scale", "version": "v1" }),
);
