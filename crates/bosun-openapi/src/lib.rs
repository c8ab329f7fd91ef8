//! OpenAPI documents served by Bosun under `/openapi/v3` and `/openapi/v2`.
//!
//! kubectl 1.32 relies on them for:
//!
//! * `kubectl explain` — it fetches the `/openapi/v3` index, then the document
//!   of the resource's group-version, finds the kind through the
//!   `x-kubernetes-group-version-kind` extension of the resource's operations
//!   and component schemas, and renders descriptions and types by following
//!   `$ref`/`allOf` links;
//! * `--validate=strict` (the default of `apply`, `create -f`, `replace -f`) —
//!   it looks for a `fieldValidation` query parameter on the PATCH operation
//!   of the kind and, when present, leaves unknown-field rejection to the
//!   server (`fieldValidation=Strict`);
//! * client-side `kubectl apply` — strategic merge patches are computed from
//!   the v3 schemas when PATCH accepts `application/strategic-merge-patch+json`.
//!
//! Schemas (names, descriptions, types, formats, required lists) are derived
//! at runtime from the `schemars` implementations of the `k8s-openapi` types and
//! reshaped into the API server's form; see [`components`] and [`patch_meta`].
//! Documents are built lazily, once per group-version, and cached.

mod catalog;
mod components;
mod document;
mod params;
mod patch_meta;
mod paths;
mod v2;

use std::sync::Arc;

pub use v2::{v2_json, v2_protobuf, V2_PROTOBUF_CONTENT_TYPE};

/// `info.version` of the published documents (the emulated Kubernetes release).
pub const INFO_VERSION: &str = "v1.32.5";

/// The `/openapi/v3` discovery document:
/// `{"paths": {"api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=<HEX>"}, ...}}`.
///
/// The `hash` query parameter is the content hash of the document (see
/// [`document_hash`]), so clients may cache each URL indefinitely. Building the
/// index renders (and caches) every group-version document.
pub fn index() -> serde_json::Value {
    document::index()
}

/// The JSON text of the OpenAPI v3 document of a group-version, or `None` if
/// the group-version is not served.
///
/// `gv_path` is an index key such as `"api/v1"` or `"apis/apps/v1"`; a leading
/// `/` and an `openapi/v3/` prefix are tolerated, so the request path can be
/// passed as is (without its query string).
pub fn document(gv_path: &str) -> Option<Arc<str>> {
    document::document(gv_path)
}

/// The content hash used in the `serverRelativeURL` of a group-version
/// (`?hash=<this>`), or `None` if the group-version is not served. Callers can
/// compare it with a request's `hash` parameter to decide between an immutable
/// cache response and a redirect to the current URL.
pub fn document_hash(gv_path: &str) -> Option<&'static str> {
    document::document_hash(gv_path)
}

/// Index keys of all served group-versions (`"api/v1"`, `"apis/apps/v1"`, ...).
pub fn group_version_paths() -> Vec<String> {
    catalog::GROUP_VERSIONS
        .iter()
        .map(catalog::GroupVersion::path_key)
        .collect()
}

#[cfg(test)]
mod tests;
