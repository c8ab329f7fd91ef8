//! Rendering, caching and hashing of the per-group-version documents and the
//! `/openapi/v3` index.

use std::sync::{Arc, OnceLock};

use serde_json::{json, Map, Value};

use crate::catalog::{self, GroupVersion, GROUP_VERSIONS};
use crate::{components, paths};

/// A rendered group-version document and its content hash.
#[derive(Debug)]
struct Rendered {
    json: Arc<str>,
    hash: String,
}

const COUNT: usize = GROUP_VERSIONS.len();

static RENDERED: [OnceLock<Rendered>; COUNT] = [const { OnceLock::new() }; COUNT];

/// Builds the OpenAPI v3 document of one group-version as a JSON value.
pub(crate) fn build(gv: &GroupVersion) -> Value {
    let components = components::build(gv);
    let paths = paths::build(gv, &components);
    json!({
        "openapi": "3.0.0",
        "info": { "title": "Kubernetes", "version": crate::INFO_VERSION },
        "paths": paths,
        "components": { "schemas": components.schemas },
    })
}

/// Upper-case hex digest of two independent 64-bit FNV-1a passes. It only
/// has to change whenever the document changes, so that clients caching by
/// `serverRelativeURL` refetch; it is not a security boundary.
pub(crate) fn content_hash(bytes: &[u8]) -> String {
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut a: u64 = 0xcbf2_9ce4_8422_2325;
    let mut b: u64 = 0x6c62_272e_07bb_0142;
    for &byte in bytes {
        a = (a ^ u64::from(byte)).wrapping_mul(PRIME);
        b = (b ^ u64::from(byte.rotate_left(3))).wrapping_mul(PRIME);
    }
    format!("{a:016X}{b:016X}")
}

fn rendered(index: usize) -> Option<&'static Rendered> {
    let gv = GROUP_VERSIONS.get(index)?;
    let cell = RENDERED.get(index)?;
    Some(cell.get_or_init(|| {
        let text = build(gv).to_string();
        let hash = content_hash(text.as_bytes());
        Rendered {
            json: Arc::from(text),
            hash,
        }
    }))
}

fn position(gv_path: &str) -> Option<usize> {
    let key = gv_path.trim_start_matches('/');
    let key = key.strip_prefix("openapi/v3/").unwrap_or(key);
    catalog::position(key)
}

/// See [`crate::document`].
pub(crate) fn document(gv_path: &str) -> Option<Arc<str>> {
    position(gv_path)
        .and_then(rendered)
        .map(|r| Arc::clone(&r.json))
}

/// See [`crate::document_hash`].
pub(crate) fn document_hash(gv_path: &str) -> Option<&'static str> {
    position(gv_path)
        .and_then(rendered)
        .map(|r| r.hash.as_str())
}

/// See [`crate::index`].
pub(crate) fn index() -> Value {
    let mut paths = Map::new();
    for (i, gv) in GROUP_VERSIONS.iter().enumerate() {
        let key = gv.path_key();
        let url = match rendered(i) {
            Some(r) => format!("/openapi/v3/{key}?hash={}", r.hash),
            None => format!("/openapi/v3/{key}"),
        };
        paths.insert(key, json!({ "serverRelativeURL": url }));
    }
    json!({ "paths": paths })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_stable_and_content_sensitive() {
        assert_eq!(content_hash(b"abc"), content_hash(b"abc"));
        assert_ne!(content_hash(b"abc"), content_hash(b"abd"));
        assert_eq!(content_hash(b"").len(), 32);
        assert!(content_hash(b"x")
            .chars()
            .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()));
    }

    #[test]
    fn lookups_accept_index_keys_and_server_relative_paths() {
        let cases = [
            ("api/v1", true),
            ("/api/v1", true),
            ("openapi/v3/apis/apps/v1", true),
            ("/openapi/v3/apis/batch/v1", true),
            ("apis/apps/v1beta1", false),
            ("apis/apps", false),
            ("", false),
        ];
        for (path, found) in cases {
            assert_eq!(position(path).is_some(), found, "{path}");
        }
    }
}
