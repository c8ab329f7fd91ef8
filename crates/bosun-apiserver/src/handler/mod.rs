//! HTTP entry point: routes a request to discovery, OpenAPI, health or the
//! generic resource handlers.

mod eviction;
mod read;
mod stream;
mod subresource;
mod token;
mod watch;
mod write;

use std::sync::Arc;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{header, HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;

use crate::discovery;
use crate::error::{ApiError, Result};
use crate::negotiate::{self, MAX_BODY};
use crate::request::{self, Query};
use crate::rest::Rest;

pub const GIT_VERSION: &str = "v1.32.5";

/// Shared state of the handlers.
pub struct Handler {
    pub rest: Rest,
    pub server_address: String,
    /// Node and pod usage behind `metrics.k8s.io` (filled by the scraper).
    pub metrics: Arc<crate::metrics::MetricsStore>,
    /// Reaches node agents for logs, exec, attach and port-forward.
    pub kubelet: crate::kubelet::KubeletClient,
    /// Service account token signing (TokenRequest, OIDC discovery).
    pub token_keys: Arc<crate::serviceaccount::TokenKeys>,
}

/// Who made the request (set by authentication).
#[derive(Clone, Debug)]
pub struct User {
    pub name: String,
    pub groups: Vec<String>,
}

impl User {
    /// A user without groups (admin token, client certificate).
    pub fn named(name: &str) -> Self {
        User {
            name: name.to_string(),
            groups: vec![],
        }
    }
}

pub fn json_response(code: StatusCode, value: &Value) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => (code, [(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(e) => ApiError::internal(e.to_string()).into_response(),
    }
}

pub(crate) fn with_warnings(mut response: Response, warnings: &[String]) -> Response {
    for w in warnings {
        let text = format!("299 - {}", Value::String(w.clone()));
        if let Ok(v) = http::HeaderValue::from_str(&text) {
            response.headers_mut().append(header::WARNING, v);
        }
    }
    response
}

pub fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Reads the whole body, refusing more than [`MAX_BODY`] bytes.
async fn read_body(body: Body) -> Result<bytes::Bytes> {
    let limited = http_body_util::Limited::new(body, MAX_BODY);
    match limited.collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) => {
            if err
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                Err(ApiError::too_large(MAX_BODY))
            } else {
                Err(ApiError::bad_request(format!(
                    "cannot read request body: {err}"
                )))
            }
        }
    }
}

impl Handler {
    pub async fn handle(self: Arc<Self>, req: Request<Body>) -> Response {
        let method = req.method().clone();
        let path = req.uri().path().to_string();
        match self.route(req).await {
            Ok(response) => response,
            Err(err) => {
                if err.code >= 500 {
                    tracing::warn!(%method, %path, %err, "request failed");
                }
                err.into_response()
            }
        }
    }

    async fn route(&self, req: Request<Body>) -> Result<Response> {
        let path = req.uri().path().trim_end_matches('/').to_string();
        let accept = header_str(req.headers(), header::ACCEPT).map(str::to_string);
        let method = req.method().clone();
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        if method == Method::GET {
            match segments.as_slice() {
                ["healthz"] | ["livez"] | ["readyz"] => {
                    return Ok((StatusCode::OK, "ok").into_response())
                }
                ["healthz" | "livez" | "readyz", _] => {
                    return Ok((StatusCode::OK, "ok").into_response())
                }
                ["version"] => return Ok(json_response(StatusCode::OK, &version())),
                [".well-known", "openid-configuration"] => {
                    return Ok(json_response(StatusCode::OK, &self.token_keys.discovery()))
                }
                ["openid", "v1", "jwks"] => {
                    return Ok(json_response(StatusCode::OK, &self.token_keys.jwks()))
                }
                ["api"] => {
                    if discovery::wants_aggregated(accept.as_deref()) {
                        return Ok(aggregated_response(discovery::aggregated(true)));
                    }
                    return Ok(json_response(
                        StatusCode::OK,
                        &discovery::api_versions(&self.server_address),
                    ));
                }
                ["apis"] => {
                    if discovery::wants_aggregated(accept.as_deref()) {
                        return Ok(aggregated_response(discovery::aggregated(false)));
                    }
                    return Ok(json_response(StatusCode::OK, &discovery::group_list()));
                }
                ["api", version] => {
                    let list = discovery::resource_list("", version)
                        .ok_or_else(ApiError::path_not_found)?;
                    return Ok(json_response(StatusCode::OK, &list));
                }
                ["apis", group] => {
                    let g = discovery::group(group).ok_or_else(ApiError::path_not_found)?;
                    return Ok(json_response(StatusCode::OK, &g));
                }
                ["apis", crate::metrics::api::GROUP, crate::metrics::api::VERSION, rest @ ..]
                    if !rest.is_empty() =>
                {
                    let query = Query::parse(req.uri().query());
                    let body =
                        crate::metrics::api::get(&self.metrics, &self.rest.cache, rest, &query)?;
                    return Ok(json_response(StatusCode::OK, &body));
                }
                ["apis", group, version] => {
                    let list = discovery::resource_list(group, version)
                        .ok_or_else(ApiError::path_not_found)?;
                    return Ok(json_response(StatusCode::OK, &list));
                }
                ["openapi", "v3"] => {
                    return Ok(json_response(StatusCode::OK, &bosun_openapi::index()))
                }
                ["openapi", "v3", rest @ ..] => {
                    let doc = bosun_openapi::document(&rest.join("/"))
                        .ok_or_else(ApiError::path_not_found)?;
                    return Ok((
                        StatusCode::OK,
                        [(header::CONTENT_TYPE, "application/json")],
                        doc.to_string(),
                    )
                        .into_response());
                }
                _ => {}
            }
        }
        if !matches!(segments.first(), Some(&"api") | Some(&"apis")) {
            return Err(ApiError::path_not_found());
        }
        let info = request::parse_path(&path)?;
        if stream::is_streaming(&info) {
            // Needs the whole request: upgrades, and no body read.
            return self.pod_stream(req, info).await;
        }
        let query = Query::parse(req.uri().query());
        let (parts, body) = req.into_parts();
        let body = match method {
            Method::POST | Method::PUT | Method::PATCH | Method::DELETE => read_body(body).await?,
            _ => bytes::Bytes::new(),
        };
        let ctx = RequestContext {
            info,
            query,
            omit_managed_fields: parts.extensions.get::<OmitManagedFields>().is_some(),
            headers: parts.headers,
            body,
        };
        let response = match (
            &method,
            ctx.info.name.is_some(),
            ctx.info.subresource.as_deref(),
        ) {
            (&Method::GET, false, None) => {
                if ctx.query.flag("watch") {
                    self.watch(&ctx).await?
                } else {
                    self.list(&ctx).await?
                }
            }
            (&Method::GET, true, None) => self.get(&ctx).await?,
            (&Method::GET, true, Some("status")) => self.get(&ctx).await?,
            (&Method::GET, true, Some("scale")) => self.get_scale(&ctx).await?,
            (&Method::POST, false, None) => self.create(&ctx).await?,
            (&Method::POST, true, Some("binding")) => self.bind(&ctx).await?,
            (&Method::POST, true, Some("eviction")) => self.evict(&ctx).await?,
            (&Method::POST, true, Some("token")) if ctx.info.def.plural == "serviceaccounts" => {
                self.create_token(&ctx).await?
            }
            (&Method::PUT, true, None | Some("status") | Some("finalize")) => {
                self.replace(&ctx).await?
            }
            (&Method::PUT, true, Some("scale")) => self.update_scale(&ctx, false).await?,
            (&Method::PATCH, true, Some("scale")) => self.update_scale(&ctx, true).await?,
            (&Method::PATCH, true, None | Some("status")) => self.patch(&ctx).await?,
            (&Method::DELETE, true, None) => self.delete(&ctx).await?,
            (&Method::DELETE, false, None) => self.delete_collection(&ctx).await?,
            _ => {
                return Err(ApiError::method_not_allowed(format!(
                "the server does not allow this method on the requested resource ({method} {path})"
            )))
            }
        };
        Ok(response)
    }
}

fn aggregated_response(value: Value) -> Response {
    match serde_json::to_vec(&value) {
        Ok(body) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, discovery::AGGREGATED_CONTENT_TYPE)],
            body,
        )
            .into_response(),
        Err(e) => ApiError::internal(e.to_string()).into_response(),
    }
}

fn version() -> Value {
    serde_json::json!({
        "major": "1",
        "minor": "32",
        "gitVersion": GIT_VERSION,
        "gitCommit": "bosun",
        "gitTreeState": "clean",
        "buildDate": "2026-11-27T00:00:00Z",
        "goVersion": "go1.23.0",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}

/// One resource request, parsed.
/// A request extension (never a header: only callers in this process can
/// set it) asking that objects served from the watch cache's encodings —
/// gets, lists, watch events, write responses — leave out
/// `metadata.managedFields`. The in-process scheduler and controllers set
/// it: their informers never read managed fields, and decoding them was a
/// large share of their CPU and memory (client-go informers strip them
/// after decoding, with `TransformStripManagedFields`). An update that
/// sends no managedFields keeps the stored ones, so writing such an object
/// back loses nothing.
#[derive(Clone, Copy, Debug)]
pub struct OmitManagedFields;

pub struct RequestContext {
    pub info: request::RequestInfo,
    pub query: Query,
    /// See [`OmitManagedFields`].
    pub omit_managed_fields: bool,
    pub headers: HeaderMap,
    pub body: bytes::Bytes,
}

impl RequestContext {
    pub fn namespace(&self) -> Option<&str> {
        self.info.namespace.as_deref()
    }

    pub fn name(&self) -> &str {
        self.info.name.as_deref().unwrap_or("")
    }

    pub fn shape(&self) -> Result<negotiate::Shape> {
        negotiate::response_shape(header_str(&self.headers, header::ACCEPT))
    }

    pub fn content_type(&self) -> Option<&str> {
        header_str(&self.headers, header::CONTENT_TYPE)
    }

    pub fn body_value(&self) -> Result<Value> {
        if self.body.is_empty() {
            return Err(ApiError::bad_request("request body is empty"));
        }
        negotiate::decode_body(self.content_type(), &self.body)
    }

    /// The field manager: the parameter, or the user agent's program name.
    pub fn field_manager(&self) -> Result<String> {
        if let Some(m) = self.query.get("fieldManager") {
            if m.len() > 128 {
                return Err(ApiError::new(
                    422,
                    "Invalid",
                    "fieldManager: Too long: may not be longer than 128",
                ));
            }
            return Ok(m.to_string());
        }
        let agent = header_str(&self.headers, header::USER_AGENT).unwrap_or("unknown");
        Ok(agent.split('/').next().unwrap_or("unknown").to_string())
    }

    pub fn write_options(&self) -> Result<crate::rest::WriteOptions> {
        Ok(crate::rest::WriteOptions {
            dry_run: self.query.dry_run(),
            field_manager: self.field_manager()?,
            validation: crate::rest::FieldValidation::parse(self.query.get("fieldValidation"))?,
            managed_fields_done: false,
        })
    }
}

pub(crate) use self::with_warnings as add_warnings;
