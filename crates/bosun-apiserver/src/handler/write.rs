//! POST, PUT, PATCH and DELETE on resources.

use axum::response::Response;
use http::StatusCode;
use serde_json::{json, Value};

use super::read::{respond_object, respond_written, Filter};
use super::{add_warnings, json_response, Handler, RequestContext};
use crate::error::{ApiError, Result};
use crate::objects;
use crate::rest::{DeleteOptions, FieldValidation, WriteOptions};

/// The patch formats PATCH accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchType {
    Json,
    Merge,
    Strategic,
    Apply,
}

/// Whether `patch` changes nothing outside `metadata` and `status`, so
/// the patched object is the stored one everywhere else.
fn touches_only_metadata_and_status(patch_type: PatchType, patch: &Value) -> bool {
    const OWN: [&str; 4] = ["apiVersion", "kind", "metadata", "status"];
    let under = |path: &str| {
        ["/metadata", "/status"].iter().any(|p| {
            path.strip_prefix(p)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        })
    };
    match (patch_type, patch) {
        (PatchType::Merge | PatchType::Strategic, Value::Object(m)) => {
            m.keys().all(|k| OWN.contains(&k.as_str()))
        }
        (PatchType::Json, Value::Array(ops)) => ops.iter().all(|op| {
            ["path", "from"].iter().all(|field| match op.get(*field) {
                None => *field == "from",
                Some(Value::String(p)) => under(p),
                Some(_) => false,
            })
        }),
        _ => false,
    }
}

impl PatchType {
    fn from_content_type(ct: Option<&str>) -> Result<Self> {
        let mime = ct.unwrap_or("").split(';').next().unwrap_or("").trim();
        match mime {
            "application/json-patch+json" => Ok(PatchType::Json),
            "application/merge-patch+json" => Ok(PatchType::Merge),
            "application/strategic-merge-patch+json" => Ok(PatchType::Strategic),
            "application/apply-patch+yaml" => Ok(PatchType::Apply),
            other => Err(ApiError::unsupported_media_type(other)),
        }
    }
}

/// Applies a JSON, merge or strategic patch to `current`.
pub fn apply_patch(
    patch_type: PatchType,
    current: &Value,
    patch: &Value,
    group: &str,
    kind: &str,
) -> Result<Value> {
    match patch_type {
        PatchType::Json => {
            let ops: json_patch::Patch = serde_json::from_value(patch.clone())
                .map_err(|e| ApiError::bad_request(format!("invalid JSON Patch: {e}")))?;
            let mut doc = current.clone();
            json_patch::patch(&mut doc, &ops).map_err(|e| {
                ApiError::new(
                    422,
                    "Invalid",
                    format!("the server rejected our request due to an error in our request: {e}"),
                )
            })?;
            Ok(doc)
        }
        PatchType::Merge => {
            if !patch.is_object() {
                return Err(ApiError::bad_request("merge patch must be a JSON object"));
            }
            let mut doc = current.clone();
            json_patch::merge(&mut doc, patch);
            Ok(doc)
        }
        PatchType::Strategic => {
            if !patch.is_object() {
                return Err(ApiError::bad_request(
                    "strategic merge patch must be a JSON object",
                ));
            }
            bosun_patch::apply_strategic_merge_patch(current, patch, group, kind).map_err(|e| {
                ApiError::new(
                    e.http_status(),
                    if e.http_status() == 422 {
                        "Invalid"
                    } else {
                        "BadRequest"
                    },
                    e.to_string(),
                )
            })
        }
        PatchType::Apply => Err(ApiError::internal("apply patches are handled separately")),
    }
}

impl Handler {
    pub(super) async fn create(&self, ctx: &RequestContext) -> Result<Response> {
        let def = ctx.info.def;
        let body = ctx.body_value()?;
        let opts = ctx.write_options()?;
        let written = self
            .rest
            .create(def, ctx.namespace(), body, &opts, false)
            .await?;
        let response = respond_written(ctx, def, &written, StatusCode::CREATED)?;
        Ok(add_warnings(response, &written.warnings))
    }

    pub(super) async fn replace(&self, ctx: &RequestContext) -> Result<Response> {
        let def = ctx.info.def;
        let body = ctx.body_value()?;
        let opts = ctx.write_options()?;
        let mut warnings = Vec::new();
        let subresource = ctx.info.subresource.as_deref();
        // A PUT carries the whole object: decoded whole, also on /status.
        let decoded = self
            .rest
            .decode(def, body, opts.validation, &mut warnings)?;
        // Namespace finalize replaces spec.finalizers only.
        let written = self
            .rest
            .update(
                def,
                ctx.namespace(),
                ctx.name(),
                subresource.filter(|s| *s == "status" || *s == "finalize"),
                &opts,
                |current| {
                    let mut requested = decoded.clone();
                    if subresource == Some("finalize") {
                        let mut merged = current.clone();
                        merged["spec"]["finalizers"] = requested["spec"]["finalizers"].take();
                        if let Some(rv) = objects::resource_version(&decoded) {
                            crate::objects::meta_mut(&mut merged)
                                .insert("resourceVersion".into(), json!(rv));
                        }
                        return Ok((merged, Vec::new()));
                    }
                    keep_allocated(def.kind, current, &mut requested);
                    Ok((requested, Vec::new()))
                },
            )
            .await?;
        warnings.extend(written.warnings.iter().cloned());
        let response = respond_written(ctx, def, &written, StatusCode::OK)?;
        Ok(add_warnings(response, &warnings))
    }

    pub(super) async fn patch(&self, ctx: &RequestContext) -> Result<Response> {
        let def = ctx.info.def;
        let patch_type = PatchType::from_content_type(ctx.content_type())?;
        let patch = ctx.body_value()?;
        let mut opts = ctx.write_options()?;
        let subresource = ctx.info.subresource.as_deref();
        if patch_type == PatchType::Apply {
            return self.apply(ctx, patch, opts).await;
        }
        if ctx.query.get("force").is_some() {
            return Err(ApiError::bad_request(
                "force is only allowed for apply patches",
            ));
        }
        let validation = opts.validation;
        let written = self
            .rest
            .update(
                def,
                ctx.namespace(),
                ctx.name(),
                subresource,
                &opts.clone(),
                |current| {
                    let mut patched =
                        apply_patch(patch_type, current, &patch, def.group, def.kind)?;
                    // The patch may pin a resourceVersion; otherwise the current
                    // one is carried and conflicts are retried.
                    let pinned = patch
                        .get("metadata")
                        .and_then(|m| m.get("resourceVersion"))
                        .and_then(Value::as_str);
                    if pinned.is_none() {
                        if let Some(m) = patched.get_mut("metadata").and_then(Value::as_object_mut)
                        {
                            m.remove("resourceVersion");
                        }
                    }
                    let mut warnings = Vec::new();
                    let decoded = self.rest.decode_write(
                        def,
                        subresource,
                        touches_only_metadata_and_status(patch_type, &patch),
                        patched,
                        validation,
                        &mut warnings,
                    )?;
                    Ok((decoded, warnings))
                },
            )
            .await?;
        opts.dry_run = false;
        let response = respond_written(ctx, def, &written, StatusCode::OK)?;
        Ok(add_warnings(response, &written.warnings))
    }

    /// Server-side apply: creates the object when missing.
    async fn apply(
        &self,
        ctx: &RequestContext,
        applied: Value,
        mut opts: WriteOptions,
    ) -> Result<Response> {
        let def = ctx.info.def;
        if ctx.query.get("fieldManager").is_none() {
            return Err(ApiError::bad_request(
                "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
            ));
        }
        let force = ctx.query.flag("force");
        let mut warnings = Vec::new();
        // Validate the applied configuration's shape and fields.
        let _ = self
            .rest
            .decode(def, applied.clone(), opts.validation, &mut warnings)?;
        opts.managed_fields_done = true;
        let now = objects::now_rfc3339();
        let manager = opts.field_manager.clone();
        let subresource = ctx.info.subresource.clone().unwrap_or_default();
        let ssa = |live: Option<&Value>| -> Result<Value> {
            let fm = bosun_patch::FieldManagerContext {
                manager: &manager,
                group: def.group,
                kind: def.kind,
                now: &now,
                subresource: &subresource,
            };
            bosun_patch::apply_with(&fm, live, &applied, force).map_err(apply_error)
        };
        let existing = self
            .rest
            .get_latest(def, ctx.namespace(), ctx.name())
            .await?;
        if existing.is_none() {
            let created = ssa(None)?;
            let mut created =
                self.rest
                    .decode(def, created, FieldValidation::Ignore, &mut Vec::new())?;
            if objects::name(&created).is_empty() {
                crate::objects::meta_mut(&mut created).insert("name".into(), json!(ctx.name()));
            }
            let written = self
                .rest
                .create(def, ctx.namespace(), created, &opts, true)
                .await?;
            let response = respond_written(ctx, def, &written, StatusCode::CREATED)?;
            return Ok(add_warnings(response, &warnings));
        }
        let written = self
            .rest
            .update(
                def,
                ctx.namespace(),
                ctx.name(),
                ctx.info.subresource.as_deref(),
                &opts,
                |current| {
                    let mut merged = ssa(Some(current))?;
                    if let Some(m) = merged.get_mut("metadata").and_then(Value::as_object_mut) {
                        m.remove("resourceVersion");
                    }
                    let decoded =
                        self.rest
                            .decode(def, merged, FieldValidation::Ignore, &mut Vec::new())?;
                    Ok((decoded, Vec::new()))
                },
            )
            .await?;
        let response = respond_written(ctx, def, &written, StatusCode::OK)?;
        Ok(add_warnings(response, &warnings))
    }

    pub(super) async fn delete(&self, ctx: &RequestContext) -> Result<Response> {
        let def = ctx.info.def;
        let body = if ctx.body.is_empty() {
            None
        } else {
            Some(ctx.body_value()?)
        };
        let opts = DeleteOptions::from_parts(body.as_ref(), &ctx.query)?;
        crate::admission::priority::check_delete(def, ctx.name())?;
        let (obj, gone) = self
            .rest
            .delete(def, ctx.namespace(), ctx.name(), &opts)
            .await?;
        let code = if gone {
            StatusCode::OK
        } else {
            StatusCode::ACCEPTED
        };
        respond_object(ctx, def, &obj, code)
    }

    pub(super) async fn delete_collection(&self, ctx: &RequestContext) -> Result<Response> {
        let def = ctx.info.def;
        if def.kind == "Namespace" {
            return Err(ApiError::method_not_allowed(
                "the server does not allow this method on the requested resource",
            ));
        }
        let body = if ctx.body.is_empty() {
            None
        } else {
            Some(ctx.body_value()?)
        };
        let opts = DeleteOptions::from_parts(body.as_ref(), &ctx.query)?;
        let filter = Filter::from_request(ctx)?;
        let names: Vec<(Option<String>, String)> = {
            let state = self.rest.cache.read();
            state
                .range(def, ctx.namespace(), None)
                .filter(|(_, o)| filter.matches(o))
                .map(|(_, o)| {
                    (
                        objects::namespace(o).map(str::to_string),
                        objects::name(o).to_string(),
                    )
                })
                .collect()
        };
        let mut deleted = Vec::new();
        for (ns, name) in names {
            match self.rest.delete(def, ns.as_deref(), &name, &opts).await {
                Ok((obj, _)) => deleted.push(std::sync::Arc::unwrap_or_clone(obj)),
                Err(e) if e.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
        let list = json!({
            "kind": def.list_kind(),
            "apiVersion": def.api_version(),
            "metadata": {"resourceVersion": self.rest.cache.revision().to_string()},
            "items": deleted,
        });
        Ok(json_response(StatusCode::OK, &list))
    }
}

/// A PUT that leaves server-assigned fields empty keeps them, as upstream's
/// strategies do for Service cluster IPs and node ports.
fn keep_allocated(kind: &str, current: &Value, requested: &mut Value) {
    if kind == "Service" {
        for field in ["clusterIP", "clusterIPs"] {
            let empty = match requested["spec"].get(field) {
                None | Some(Value::Null) => true,
                Some(Value::String(s)) => s.is_empty(),
                Some(Value::Array(a)) => a.is_empty(),
                _ => false,
            };
            if empty {
                if let Some(v) = current["spec"].get(field) {
                    requested["spec"][field] = v.clone();
                }
            }
        }
    }
}

fn apply_error(e: bosun_patch::ApplyError) -> ApiError {
    match &e {
        bosun_patch::ApplyError::Conflicts(conflicts) => {
            let causes: Vec<Value> = conflicts
                .iter()
                .map(|c| json!({"reason": "FieldManagerConflict", "message": c.cause_message(), "field": c.field}))
                .collect();
            ApiError {
                details: Some(json!({"causes": causes})),
                ..ApiError::new(409, "Conflict", e.to_string())
            }
        }
        other => ApiError::new(
            other.http_status(),
            if other.http_status() == 400 {
                "BadRequest"
            } else {
                "InternalError"
            },
            other.to_string(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn status_only_patches_are_recognised() {
        let only = |t, p: Value| touches_only_metadata_and_status(t, &p);
        assert!(only(
            PatchType::Merge,
            json!({"status": {"phase": "Running"}, "metadata": {"labels": {"a": "b"}}})
        ));
        assert!(only(
            PatchType::Strategic,
            json!({"status": {"conditions": []}})
        ));
        assert!(!only(PatchType::Merge, json!({"spec": {"replicas": 1}})));
        assert!(!only(
            PatchType::Strategic,
            json!({"$patch": "replace", "status": {}})
        ));
        assert!(only(
            PatchType::Json,
            json!([{"op": "replace", "path": "/status/phase", "value": "Running"},
                   {"op": "add", "path": "/metadata/labels/x", "value": "y"}])
        ));
        assert!(!only(
            PatchType::Json,
            json!([{"op": "copy", "from": "/spec/nodeName", "path": "/status/hostIP"}])
        ));
        assert!(!only(
            PatchType::Json,
            json!([{"op": "replace", "path": "/statusx", "value": 1}])
        ));
        assert!(!only(PatchType::Json, json!([{"op": "remove"}])));
        assert!(!only(PatchType::Apply, json!({"status": {}})));
    }
}
