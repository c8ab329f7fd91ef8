//! `scale` and `binding` subresources (`eviction` has its own module).

use axum::response::Response;
use http::StatusCode;
use serde_json::{json, Value};

use super::write::{apply_patch, PatchType};
use super::{json_response, Handler, RequestContext};
use crate::error::{ApiError, Result};
use crate::objects;

/// The autoscaling/v1 Scale view of a scalable object.
fn to_scale(obj: &Value) -> Value {
    let selector = obj["spec"]["selector"].clone();
    let selector_string = bosun_core::from_label_selector(&selector)
        .map(|s| s.to_string())
        .unwrap_or_default();
    let meta = objects::meta(obj).cloned().unwrap_or_default();
    let mut scale_meta = serde_json::Map::new();
    for k in [
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "creationTimestamp",
    ] {
        if let Some(v) = meta.get(k) {
            scale_meta.insert(k.into(), v.clone());
        }
    }
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": scale_meta,
        "spec": {"replicas": obj["spec"]["replicas"].as_i64().unwrap_or(1)},
        "status": {
            "replicas": obj["status"]["replicas"].as_i64().unwrap_or(0),
            "selector": selector_string,
        },
    })
}

pub(super) fn status_success(code: u16) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": code})
}

impl Handler {
    pub(super) async fn get_scale(&self, ctx: &RequestContext) -> Result<Response> {
        let def = ctx.info.def;
        let obj = self
            .rest
            .get_latest(def, ctx.namespace(), ctx.name())
            .await?
            .ok_or_else(|| ApiError::not_found(def.group, def.plural, ctx.name()))?;
        Ok(json_response(StatusCode::OK, &to_scale(&obj)))
    }

    pub(super) async fn update_scale(&self, ctx: &RequestContext, patch: bool) -> Result<Response> {
        let def = ctx.info.def;
        let body = ctx.body_value()?;
        let patch_type = if patch {
            Some(
                match ctx
                    .content_type()
                    .unwrap_or("")
                    .split(';')
                    .next()
                    .unwrap_or("")
                {
                    "application/json-patch+json" => PatchType::Json,
                    "application/strategic-merge-patch+json" => PatchType::Strategic,
                    _ => PatchType::Merge,
                },
            )
        } else {
            None
        };
        let opts = ctx.write_options()?;
        let written = self
            .rest
            .update(def, ctx.namespace(), ctx.name(), None, &opts, |current| {
                let scale = to_scale(current);
                let requested = match patch_type {
                    Some(t) => apply_patch(t, &scale, &body, "autoscaling", "Scale")?,
                    None => body.clone(),
                };
                let replicas = requested["spec"]["replicas"].as_i64().ok_or_else(|| {
                    ApiError::new(422, "Invalid", format!(
                        "Scale.autoscaling \"{}\" is invalid: spec.replicas: Invalid value: must be a non-negative integer",
                        ctx.name()
                    ))
                })?;
                if replicas < 0 {
                    return Err(ApiError::new(422, "Invalid", format!(
                        "Scale.autoscaling \"{}\" is invalid: spec.replicas: Invalid value: {replicas}: must be greater than or equal to 0",
                        ctx.name()
                    )));
                }
                let mut next = current.clone();
                next["spec"]["replicas"] = json!(replicas);
                let pinned = objects::resource_version(&requested).map(str::to_string);
                let m = objects::meta_mut(&mut next);
                match pinned {
                    Some(rv) if !patch => {
                        m.insert("resourceVersion".into(), json!(rv));
                    }
                    _ => {
                        m.remove("resourceVersion");
                    }
                }
                Ok((next, Vec::new()))
            })
            .await?;
        Ok(json_response(StatusCode::OK, &to_scale(&written.object)))
    }

    /// `pods/{name}/binding`: assigns a node, once.
    pub(super) async fn bind(&self, ctx: &RequestContext) -> Result<Response> {
        let def = ctx.info.def;
        let body = ctx.body_value()?;
        let target = body["target"]["name"].as_str().unwrap_or("").to_string();
        if target.is_empty() {
            return Err(ApiError::new(
                422,
                "Invalid",
                format!(
                    "Binding \"{}\" is invalid: target.name: Required value",
                    ctx.name()
                ),
            ));
        }
        let mut opts = ctx.write_options()?;
        opts.validation = crate::rest::FieldValidation::Ignore;
        let name = ctx.name().to_string();
        // Annotations on the Binding are copied onto the pod.
        let annotations = body["metadata"]["annotations"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let now = objects::now_rfc3339();
        self.rest
            .update(
                def,
                ctx.namespace(),
                &name,
                Some("binding"),
                &opts,
                |current| {
                    if objects::is_terminating(current) {
                        return Err(ApiError::conflict(
                            "",
                            "pods/binding",
                            &name,
                            "pod is being deleted, cannot be assigned to a host",
                        ));
                    }
                    if let Some(node) = current["spec"]["nodeName"]
                        .as_str()
                        .filter(|n| !n.is_empty())
                    {
                        return Err(ApiError::conflict(
                            "",
                            "pods/binding",
                            &name,
                            &format!("pod {name} is already assigned to node \"{node}\""),
                        ));
                    }
                    let mut next = current.clone();
                    next["spec"]["nodeName"] = json!(target);
                    for (k, v) in annotations.iter() {
                        objects::meta_mut(&mut next)
                            .entry("annotations")
                            .or_insert_with(|| json!({}))[k] = v.clone();
                    }
                    let mut conditions: Vec<Value> = next["status"]["conditions"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default();
                    conditions.retain(|c| c["type"] != "PodScheduled");
                    conditions.push(json!({
                        "type": "PodScheduled",
                        "status": "True",
                        "lastProbeTime": null,
                        "lastTransitionTime": now,
                    }));
                    next["status"]["conditions"] = json!(conditions);
                    objects::meta_mut(&mut next).remove("resourceVersion");
                    Ok((next, Vec::new()))
                },
            )
            .await?;
        Ok(json_response(StatusCode::CREATED, &status_success(201)))
    }
}
