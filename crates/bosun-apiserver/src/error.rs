//! API errors and their `Status` form.
//!
//! Handlers return [`ApiError`]; it renders as a `meta.k8s.io/v1` `Status`
//! with upstream's HTTP code, `reason`, message and `details`.

use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde_json::{json, Value};

use bosun_api::validation::FieldError;

pub type Result<T, E = ApiError> = std::result::Result<T, E>;

#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    pub details: Option<Value>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.reason, self.code, self.message)
    }
}

impl std::error::Error for ApiError {}

fn details(group: &str, kind: &str, name: &str) -> Value {
    let mut d = json!({ "name": name, "kind": kind });
    if !group.is_empty() {
        d["group"] = json!(group);
    }
    d
}

impl ApiError {
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    pub fn unauthorized() -> Self {
        Self::new(401, "Unauthorized", "Unauthorized")
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, "Forbidden", message)
    }

    /// `pods "web" is forbidden: <why>`, as upstream's `NewForbidden`.
    /// `resource` is the plural.
    pub fn forbidden_object(group: &str, resource: &str, name: &str, why: &str) -> Self {
        let qualified = qualify(group, resource);
        ApiError {
            details: Some(details(group, resource, name)),
            ..Self::forbidden(format!("{qualified} \"{name}\" is forbidden: {why}"))
        }
    }

    /// `pods "web" not found`. `resource` is the group-qualified plural.
    pub fn not_found(group: &str, resource: &str, name: &str) -> Self {
        let qualified = qualify(group, resource);
        ApiError {
            details: Some(details(group, resource, name)),
            ..Self::new(404, "NotFound", format!("{qualified} \"{name}\" not found"))
        }
    }

    /// A URL that names no served resource.
    pub fn path_not_found() -> Self {
        Self::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
    }

    pub fn already_exists(group: &str, resource: &str, name: &str) -> Self {
        let qualified = qualify(group, resource);
        ApiError {
            details: Some(details(group, resource, name)),
            ..Self::new(
                409,
                "AlreadyExists",
                format!("{qualified} \"{name}\" already exists"),
            )
        }
    }

    /// Every name generated from `generateName` was taken (upstream's
    /// `NewGenerateNameConflict`): the client may try again in a second.
    pub fn generate_name_conflict(group: &str, resource: &str, name: &str) -> Self {
        let qualified = qualify(group, resource);
        let mut details = details(group, resource, name);
        details["retryAfterSeconds"] = serde_json::json!(1);
        ApiError {
            details: Some(details),
            ..Self::new(
                409,
                "AlreadyExists",
                format!(
                    "{qualified} \"{name}\" already exists, the server was not able to generate a unique name for the object"
                ),
            )
        }
    }

    /// The optimistic-concurrency failure kubectl retries on.
    pub fn conflict(group: &str, resource: &str, name: &str, why: &str) -> Self {
        let qualified = qualify(group, resource);
        ApiError {
            details: Some(details(group, resource, name)),
            ..Self::new(
                409,
                "Conflict",
                format!("Operation cannot be fulfilled on {qualified} \"{name}\": {why}"),
            )
        }
    }

    pub fn modified(group: &str, resource: &str, name: &str) -> Self {
        Self::conflict(
            group,
            resource,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    /// 422 with one cause per field error.
    pub fn invalid(group: &str, kind: &str, name: &str, errors: &[FieldError]) -> Self {
        let causes: Vec<Value> = errors
            .iter()
            .map(|e| json!({"reason": e.reason(), "message": e.message(), "field": e.field}))
            .collect();
        let mut d = details(group, kind, name);
        d["causes"] = Value::Array(causes);
        let qualified = if group.is_empty() {
            kind.to_string()
        } else {
            format!("{kind}.{group}")
        };
        let listed: Vec<String> = errors
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message()))
            .collect();
        let body = if listed.len() == 1 {
            listed[0].clone()
        } else {
            format!("[{}]", listed.join(", "))
        };
        ApiError {
            details: Some(d),
            ..Self::new(
                422,
                "Invalid",
                format!("{qualified} \"{name}\" is invalid: {body}"),
            )
        }
    }

    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(405, "MethodNotAllowed", message)
    }

    pub fn not_acceptable(message: impl Into<String>) -> Self {
        Self::new(406, "NotAcceptable", message)
    }

    pub fn unsupported_media_type(content_type: &str) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!("the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf (got {content_type:?})"),
        )
    }

    pub fn too_large(limit: usize) -> Self {
        Self::new(
            413,
            "RequestEntityTooLarge",
            format!("Request entity too large: limit is {limit}"),
        )
    }

    pub fn gone(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    pub fn too_many_requests(message: impl Into<String>) -> Self {
        Self::new(429, "TooManyRequests", message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "InternalError", message)
    }

    pub fn timeout(message: impl Into<String>) -> Self {
        Self::new(504, "Timeout", message)
    }

    /// The `Status` object.
    pub fn status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(d) = &self.details {
            status["details"] = d.clone();
        }
        status
    }
}

fn qualify(group: &str, resource: &str) -> String {
    if group.is_empty() {
        resource.to_string()
    } else {
        format!("{resource}.{group}")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self.status()).unwrap_or_default();
        let mut response = (
            code,
            [(http::header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response();
        // As upstream: a retry hint in the Status is also the header.
        let retry_after = self
            .details
            .as_ref()
            .and_then(|d| d.get("retryAfterSeconds"))
            .and_then(serde_json::Value::as_i64)
            .filter(|s| *s > 0);
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(http::header::RETRY_AFTER, http::HeaderValue::from(seconds));
        }
        response
    }
}

impl From<bosun_store::StoreError> for ApiError {
    fn from(err: bosun_store::StoreError) -> Self {
        match err {
            bosun_store::StoreError::Compacted { .. } => ApiError::gone(err.to_string()),
            other => ApiError::internal(other.to_string()),
        }
    }
}
