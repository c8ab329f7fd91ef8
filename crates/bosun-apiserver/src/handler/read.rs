//! GET of one object and LIST, served from the watch cache.

use std::time::Duration;

use axum::response::{IntoResponse, Response};
use base64::Engine;
use bosun_api::registry::ResourceDef;
use bosun_core::{FieldSelector, Selector};
use http::StatusCode;
use serde_json::{json, Value};

use super::{json_response, Handler, RequestContext};
use crate::cache::{Entry, SlimMeta};
use crate::error::{ApiError, Result};
use crate::negotiate::Shape;
use crate::objects;

/// Label and field selectors of a list or watch.
pub struct Filter {
    labels: Selector,
    fields: FieldSelector,
    /// Where each field requirement's value comes from, in the order of
    /// `fields.requirements()`.
    sources: Vec<FieldSource>,
}

#[derive(Clone, Copy)]
enum FieldSource {
    Name,
    Namespace,
    /// Index into the resource's `selectable_fields`.
    Selectable(usize),
}

impl Filter {
    pub fn from_request(ctx: &RequestContext) -> Result<Self> {
        let labels = match ctx.query.get("labelSelector") {
            None | Some("") => Selector::everything(),
            Some(s) => s
                .parse()
                .map_err(|e| ApiError::bad_request(format!("unable to parse requirement: {e}")))?,
        };
        let fields: FieldSelector = match ctx.query.get("fieldSelector") {
            None | Some("") => FieldSelector::everything(),
            Some(s) => s
                .parse()
                .map_err(|e| ApiError::bad_request(format!("invalid field selector: {e}")))?,
        };
        Self::new(ctx.info.def, labels, fields)
    }

    /// A filter for `def` from parsed selectors; fails for fields `def`
    /// cannot be selected by.
    pub(super) fn new(def: &ResourceDef, labels: Selector, fields: FieldSelector) -> Result<Self> {
        let mut sources = Vec::with_capacity(fields.requirements().len());
        for req in fields.requirements() {
            let f = req.field.as_str();
            let source = match f {
                "metadata.name" => FieldSource::Name,
                "metadata.namespace" => FieldSource::Namespace,
                _ => match def.selectable_fields.iter().position(|s| *s == f) {
                    Some(i) => FieldSource::Selectable(i),
                    None => {
                        return Err(ApiError::bad_request(format!(
                            "\"{f}\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\""
                        )))
                    }
                },
            };
            sources.push(source);
        }
        Ok(Filter {
            labels,
            fields,
            sources,
        })
    }

    pub fn is_everything(&self) -> bool {
        self.labels.is_empty() && self.fields.is_empty()
    }

    /// Whether a decoded object matches.
    pub fn matches(&self, obj: &Value) -> bool {
        if !self.labels.is_empty() && !self.labels.matches_object(obj) {
            return false;
        }
        if self.fields.is_empty() {
            return true;
        }
        self.fields.matches(|field| match field {
            "metadata.name" => Some(objects::name(obj).to_string()),
            "metadata.namespace" => Some(objects::namespace(obj).unwrap_or("").to_string()),
            other => objects::field_string(obj, other),
        })
    }

    /// Whether a cached object matches, by its index alone.
    pub fn matches_meta(&self, meta: &SlimMeta) -> bool {
        if !self.labels.is_empty() && !self.labels.matches_labels(|k| meta.label(k)) {
            return false;
        }
        self.fields
            .requirements()
            .iter()
            .zip(&self.sources)
            .all(|(req, source)| {
                req.matches(match source {
                    FieldSource::Name => Some(meta.name()),
                    FieldSource::Namespace => Some(meta.namespace().unwrap_or("")),
                    FieldSource::Selectable(i) => meta.field(*i),
                })
            })
    }
}

const CONTINUE_EXPIRED: &str = "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.";

#[derive(serde::Serialize, serde::Deserialize)]
struct ContinueToken {
    rv: i64,
    start: String,
}

pub fn to_partial(obj: &Value) -> Value {
    partial_metadata(obj.get("metadata").cloned().unwrap_or(json!({})))
}

/// A PartialObjectMetadata wrapping `metadata`.
pub fn partial_metadata(metadata: Value) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
    })
}

impl Handler {
    /// The cache revision a read must observe, from `resourceVersion` and
    /// `resourceVersionMatch`: unset means the latest (a consistent read),
    /// "0" means any, N means not older than N.
    async fn read_revision(&self, ctx: &RequestContext) -> Result<()> {
        let rv = ctx.query.get("resourceVersion").unwrap_or("");
        let matching = ctx.query.get("resourceVersionMatch").unwrap_or("");
        match (rv, matching) {
            ("", "") => {
                let latest = self.rest.store.current_revision().await?;
                self.wait(latest).await
            }
            ("", m) => Err(ApiError::bad_request(format!(
                "resourceVersionMatch is forbidden unless resourceVersion is provided (got {m})"
            ))),
            ("0", _) => Ok(()),
            (rv, m) => {
                let n: i64 = rv.parse().map_err(|_| {
                    ApiError::bad_request(format!("invalid resource version {rv:?}"))
                })?;
                match m {
                    "" | "NotOlderThan" => self.wait(n).await,
                    "Exact" => {
                        self.wait(n).await?;
                        if self.rest.cache.revision() != n {
                            return Err(ApiError::gone(format!(
                                "too old resource version: {n} ({})",
                                self.rest.cache.revision()
                            )));
                        }
                        Ok(())
                    }
                    other => Err(ApiError::bad_request(format!(
                        "resourceVersionMatch: Unsupported value: \"{other}\": supported values: \"Exact\", \"NotOlderThan\""
                    ))),
                }
            }
        }
    }

    async fn wait(&self, revision: i64) -> Result<()> {
        if self
            .rest
            .cache
            .wait_for(revision, Duration::from_secs(3))
            .await
        {
            Ok(())
        } else {
            Err(ApiError::timeout(format!(
                "Too large resource version: {revision}, current: {}",
                self.rest.cache.revision()
            ))
            .with_retry())
        }
    }

    pub(super) async fn get(&self, ctx: &RequestContext) -> Result<Response> {
        let def = ctx.info.def;
        self.read_revision(ctx).await?;
        let entry = self
            .rest
            .cache
            .read()
            .get_entry(def, ctx.namespace(), ctx.name())
            .ok_or_else(|| ApiError::not_found(def.group, def.plural, ctx.name()))?;
        if ctx.shape()? == Shape::Object {
            // The cached encoding is the answer.
            let body = entry.body(ctx.omit_managed_fields);
            return Ok(axum::response::IntoResponse::into_response((
                StatusCode::OK,
                [(http::header::CONTENT_TYPE, "application/json")],
                body,
            )));
        }
        respond_object(ctx, def, &entry.value(), StatusCode::OK)
    }

    pub(super) async fn list(&self, ctx: &RequestContext) -> Result<Response> {
        let def = ctx.info.def;
        let filter = Filter::from_request(ctx)?;
        let limit = ctx
            .query
            .int("limit")?
            .filter(|l| *l > 0)
            .map(|l| l as usize);
        let token = match ctx.query.get("continue") {
            None | Some("") => None,
            Some(t) => Some(decode_continue(t)?),
        };
        if token.is_none() {
            self.read_revision(ctx).await?;
        }
        let state = self.rest.cache.read();
        let revision = token.as_ref().map(|t| t.rv).unwrap_or(state.revision);
        let mut items: Vec<Entry> = Vec::new();
        let mut next = None;
        let start = token.as_ref().map(|t| t.start.as_str());
        let everything = filter.is_everything();
        // Later pages list the first page's snapshot, as upstream does.
        let snapshot = match &token {
            Some(t) if t.rv < state.revision => Some(
                self.rest
                    .cache
                    .snapshot_at(&state, def, ctx.namespace(), t.rv)
                    .ok_or_else(|| ApiError::gone(CONTINUE_EXPIRED))?,
            ),
            _ => None,
        };
        let mut iter: Box<dyn Iterator<Item = (&String, &Entry)> + '_> = match &snapshot {
            Some(view) => Box::new(view.after(start)),
            None => Box::new(state.range_entries(def, ctx.namespace(), start)),
        };
        for (key, entry) in iter.by_ref() {
            if !everything && !filter.matches_meta(&entry.meta) {
                continue;
            }
            if let Some(l) = limit {
                if items.len() == l {
                    next = Some(key.clone());
                    break;
                }
            }
            items.push(entry.clone());
        }
        let remaining = if next.is_some() && everything {
            // The one we stopped at plus whatever follows it. With a
            // selector the count is unknown without matching every
            // remaining object, and upstream leaves it unset.
            Some(1 + iter.count() as i64)
        } else {
            drop(iter);
            None
        };
        drop(state);
        let continue_token = next.map(|_| {
            let last = items
                .last()
                .map(|e| crate::cache::object_key(e.meta.namespace(), e.meta.name()))
                .unwrap_or_default();
            encode_continue(&ContinueToken {
                rv: revision,
                start: last,
            })
        });
        let rv = revision.to_string();
        let body = match ctx.shape()? {
            Shape::Table => {
                let objs: Vec<Value> = items.iter().map(Entry::value).collect();
                let mut opts = bosun_printers::TableOptions::new(chrono::Utc::now());
                opts.resource_version = &rv;
                opts.continue_token = continue_token.as_deref();
                opts.remaining_item_count = remaining;
                opts.include = include_object(ctx);
                bosun_printers::table_with_options(def.group, def.kind, &objs, &opts)
            }
            Shape::PartialMetadata => {
                let mut meta = json!({"resourceVersion": rv});
                if let Some(c) = &continue_token {
                    meta["continue"] = json!(c);
                }
                return partial_list_response(meta, &items, ctx.omit_managed_fields);
            }
            Shape::Object => {
                let mut meta = json!({"resourceVersion": rv});
                if let Some(c) = &continue_token {
                    meta["continue"] = json!(c);
                }
                if let Some(r) = remaining {
                    meta["remainingItemCount"] = json!(r);
                }
                return list_response(def, meta, items, ctx.omit_managed_fields);
            }
        };
        Ok(json_response(StatusCode::OK, &body))
    }
}

/// A PartialObjectMetadataList spliced from the items' encodings.
fn partial_list_response(meta: Value, items: &[Entry], omit_managed: bool) -> Result<Response> {
    let mut body = Vec::with_capacity(128 + items.len() * 512);
    body.extend_from_slice(
        b"{\"kind\":\"PartialObjectMetadataList\",\"apiVersion\":\"meta.k8s.io/v1\",\"metadata\":",
    );
    serde_json::to_writer(&mut body, &meta).map_err(internal)?;
    body.extend_from_slice(b",\"items\":[");
    for (i, e) in items.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(&e.encoding().partial_metadata_json(omit_managed));
    }
    body.extend_from_slice(b"]}");
    Ok((
        StatusCode::OK,
        [(http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response())
}

/// Writes a list without cloning the items into one big value.
fn list_response(
    def: &ResourceDef,
    meta: Value,
    items: Vec<Entry>,
    omit_managed: bool,
) -> Result<Response> {
    // Streamed in chunks of about CHUNK bytes straight from the cached
    // encodings: no whole-list buffer, and the first bytes leave at once.
    const CHUNK: usize = 256 * 1024;
    let mut head = Vec::with_capacity(256);
    head.extend_from_slice(b"{\"kind\":");
    serde_json::to_writer(&mut head, &def.list_kind()).map_err(internal)?;
    head.extend_from_slice(b",\"apiVersion\":");
    serde_json::to_writer(&mut head, &def.api_version()).map_err(internal)?;
    head.extend_from_slice(b",\"metadata\":");
    serde_json::to_writer(&mut head, &meta).map_err(internal)?;
    head.extend_from_slice(b",\"items\":[");
    let mut items = items.into_iter().enumerate().peekable();
    let mut head = Some(head);
    let mut finished = false;
    let chunks = std::iter::from_fn(move || {
        if finished {
            return None;
        }
        let mut out = head
            .take()
            .unwrap_or_else(|| Vec::with_capacity(CHUNK + 4096));
        while out.len() < CHUNK {
            match items.next() {
                Some((i, item)) => {
                    if i > 0 {
                        out.push(b',');
                    }
                    item.encoding().write(&mut out, omit_managed);
                }
                None => {
                    out.extend_from_slice(b"]}");
                    finished = true;
                    break;
                }
            }
        }
        Some(Ok::<_, std::convert::Infallible>(bytes::Bytes::from(out)))
    });
    let body = axum::body::Body::from_stream(futures::stream::iter(chunks));
    Ok(axum::response::IntoResponse::into_response((
        StatusCode::OK,
        [(http::header::CONTENT_TYPE, "application/json")],
        body,
    )))
}

fn internal(e: serde_json::Error) -> ApiError {
    ApiError::internal(e.to_string())
}

pub fn include_object(ctx: &RequestContext) -> bosun_printers::IncludeObject {
    match ctx.query.get("includeObject") {
        Some("None") => bosun_printers::IncludeObject::None,
        Some("Object") => bosun_printers::IncludeObject::Object,
        _ => bosun_printers::IncludeObject::Metadata,
    }
}

/// Answers with one object in the requested shape.
/// Answers with a write's result, reusing the cache's encoding when the
/// client asked for the object itself.
pub fn respond_written(
    ctx: &RequestContext,
    def: &ResourceDef,
    written: &crate::rest::Written,
    code: StatusCode,
) -> Result<Response> {
    if let (Some(entry), Shape::Object) = (&written.encoded, ctx.shape()?) {
        let body = entry.body(ctx.omit_managed_fields);
        return Ok(axum::response::IntoResponse::into_response((
            code,
            [(http::header::CONTENT_TYPE, "application/json")],
            body,
        )));
    }
    respond_object(ctx, def, &written.object, code)
}

pub fn respond_object(
    ctx: &RequestContext,
    def: &ResourceDef,
    obj: &Value,
    code: StatusCode,
) -> Result<Response> {
    let body = match ctx.shape()? {
        Shape::Object => return Ok(json_response(code, obj)),
        Shape::PartialMetadata => to_partial(obj),
        Shape::Table => {
            let rv = objects::resource_version(obj).unwrap_or("").to_string();
            let mut opts = bosun_printers::TableOptions::new(chrono::Utc::now());
            opts.resource_version = &rv;
            opts.include = include_object(ctx);
            bosun_printers::table_with_options(
                def.group,
                def.kind,
                std::slice::from_ref(obj),
                &opts,
            )
        }
    };
    Ok(json_response(code, &body))
}

fn encode_continue(token: &ContinueToken) -> String {
    let raw = serde_json::to_vec(token).unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

fn decode_continue(token: &str) -> Result<ContinueToken> {
    let invalid = || {
        ApiError::bad_request("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
    };
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| invalid())?;
    serde_json::from_slice(&raw).map_err(|_| invalid())
}

impl ApiError {
    fn with_retry(mut self) -> Self {
        self.details = Some(json!({"retryAfterSeconds": 1}));
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bosun_api::registry;

    fn filter(def: &ResourceDef, labels: &str, fields: &str) -> Result<Filter> {
        let labels = if labels.is_empty() {
            Selector::everything()
        } else {
            labels.parse().unwrap()
        };
        let fields = if fields.is_empty() {
            FieldSelector::everything()
        } else {
            fields.parse().unwrap()
        };
        Filter::new(def, labels, fields)
    }

    #[test]
    fn index_matching_agrees_with_object_matching() {
        let pods = registry::lookup("", "v1", "pods").unwrap();
        let objs = [
            json!({"metadata": {"name": "a", "namespace": "x", "labels": {"app": "web", "v": "2"}},
                   "spec": {"nodeName": "n1", "hostNetwork": true}, "status": {"phase": "Running"}}),
            json!({"metadata": {"name": "b", "namespace": "y", "labels": {"app": "db", "n": 7}},
                   "spec": {"restartPolicy": "Never"}, "status": {"phase": "Pending"}}),
            json!({"metadata": {"name": "c"}}),
        ];
        // (labels, fields, which of a, b, c match)
        let cases: &[(&str, &str, [bool; 3])] = &[
            ("", "", [true, true, true]),
            ("app=web", "", [true, false, false]),
            ("app!=web", "", [false, true, true]),
            ("app in (web,db)", "", [true, true, false]),
            ("!app", "", [false, false, true]),
            ("n", "", [false, false, false]),
            ("v>1", "", [true, false, false]),
            ("", "metadata.name=b", [false, true, false]),
            ("", "metadata.namespace=x", [true, false, false]),
            ("", "metadata.namespace=", [false, false, true]),
            ("", "spec.nodeName=n1", [true, false, false]),
            ("", "spec.nodeName=", [false, true, true]),
            ("", "spec.nodeName!=n1", [false, true, true]),
            ("", "spec.hostNetwork=true", [true, false, false]),
            (
                "",
                "status.phase!=Running,metadata.name!=c",
                [false, true, false],
            ),
            ("app", "status.phase=Pending", [false, true, false]),
        ];
        for (labels, fields, want) in cases {
            let f = filter(pods, labels, fields).unwrap();
            for (obj, want) in objs.iter().zip(want) {
                let meta = SlimMeta::extract(pods, obj);
                assert_eq!(f.matches(obj), *want, "{labels:?} {fields:?} {obj}");
                assert_eq!(f.matches_meta(&meta), *want, "{labels:?} {fields:?} {obj}");
            }
        }
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let pods = registry::lookup("", "v1", "pods").unwrap();
        let configmaps = registry::lookup("", "v1", "configmaps").unwrap();
        assert!(filter(pods, "", "spec.nodeName=a").is_ok());
        let err = filter(configmaps, "", "spec.nodeName=a").err().unwrap();
        assert_eq!(err.code, 400);
        assert!(err
            .message
            .contains("\"spec.nodeName\" is not a known field selector"));
        assert!(filter(configmaps, "", "metadata.name=a").is_ok());
    }
}
