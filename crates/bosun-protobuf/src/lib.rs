//! Decoding of Kubernetes protobuf request bodies into JSON.
//!
//! kubectl's typed commands (`kubectl create deployment`, `create secret`, …)
//! and other client-go users send bodies as `application/vnd.kubernetes.protobuf`:
//! the bytes `k8s\0` followed by a `runtime.Unknown` message whose `raw` field
//! holds the object's own protobuf encoding. [`decode_to_json`] turns such a
//! body into the JSON object the same client would have sent as JSON, so the
//! rest of the API server only ever sees JSON.
//!
//! The field layout comes from a built-in schema (`schema/k8s-1.32.schema`)
//! covering the kinds Bosun serves plus `policy/v1` Eviction, `meta/v1`
//! DeleteOptions (under any apiVersion), `autoscaling/v1` Scale, `v1` Binding
//! and `authentication.k8s.io/v1` TokenRequest. See [`supported_kinds`].
//!
//! The same schema drives [`gojson`]: the JSON Go writes for an object
//! decoded from JSON into its typed struct (what upstream controllers hash
//! into ControllerRevisions).

mod envelope;
mod error;
pub mod gojson;
mod render;
mod schema;
mod special;
mod wire;

use serde_json::Value;

pub use envelope::{parse_envelope, Envelope, PROTOBUF_CONTENT_TYPE, PROTOBUF_MAGIC};
pub use error::DecodeError;

/// Decodes a whole protobuf request body (prefix, envelope and object) into
/// the object's JSON form, with `kind` and `apiVersion` taken from the envelope.
pub fn decode_to_json(body: &[u8]) -> Result<Value, DecodeError> {
    let envelope = parse_envelope(body)?;
    if !envelope.content_encoding.is_empty() {
        return Err(DecodeError::UnsupportedContentEncoding(
            envelope.content_encoding,
        ));
    }
    if !envelope.content_type.is_empty() && !is_protobuf_media_type(&envelope.content_type) {
        return Err(DecodeError::UnsupportedContentType(envelope.content_type));
    }
    decode_object(&envelope.api_version, &envelope.kind, envelope.raw)
}

/// Decodes an object's own protobuf bytes (the envelope's `raw`) given its
/// `apiVersion` and `kind`.
pub fn decode_object(api_version: &str, kind: &str, raw: &[u8]) -> Result<Value, DecodeError> {
    if api_version.is_empty() || kind.is_empty() {
        return Err(DecodeError::MissingTypeMeta);
    }
    let schema = schema::schema()?;
    let root = schema
        .root_for(api_version, kind)
        .ok_or_else(|| DecodeError::UnsupportedKind {
            api_version: api_version.to_owned(),
            kind: kind.to_owned(),
        })?;
    let type_meta = render::TypeMetaValues { api_version, kind };
    render::Renderer { schema }.object(root, raw, Some(type_meta), 0)
}

/// Whether [`decode_object`] has a schema for this `apiVersion` and `kind`.
pub fn is_supported_kind(api_version: &str, kind: &str) -> bool {
    schema::schema().is_ok_and(|s| s.root_for(api_version, kind).is_some())
}

/// The `(apiVersion, kind)` pairs that can be decoded. An apiVersion of `*`
/// means any apiVersion is accepted for that kind (used for DeleteOptions).
pub fn supported_kinds() -> Vec<(&'static str, &'static str)> {
    schema::schema()
        .map(|s| {
            s.kinds
                .iter()
                .map(|k| (k.api_version.unwrap_or("*"), k.kind))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether a `Content-Type` header value names Kubernetes protobuf
/// (parameters such as `;charset=` are ignored).
pub fn is_protobuf_media_type(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .is_some_and(|t| t.trim().eq_ignore_ascii_case(PROTOBUF_CONTENT_TYPE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types() {
        let cases = [
            ("application/vnd.kubernetes.protobuf", true),
            ("application/vnd.kubernetes.protobuf; charset=utf-8", true),
            ("Application/VND.Kubernetes.Protobuf", true),
            ("application/vnd.kubernetes.protobuf;stream=watch", true),
            ("application/json", false),
            ("application/vnd.kubernetes.protobuf+json", false),
            ("", false),
        ];
        for (ct, want) in cases {
            assert_eq!(is_protobuf_media_type(ct), want, "{ct}");
        }
    }

    #[test]
    fn envelope_level_rejections() {
        let cases: &[(&[u8], DecodeError)] = &[
            (b"k8s\0", DecodeError::MissingTypeMeta),
            (b"k8s\0\x0a\x04\x0a\x02v1", DecodeError::MissingTypeMeta),
            (
                b"k8s\0\x0a\x0c\x0a\x02v1\x12\x06Widget",
                DecodeError::UnsupportedKind {
                    api_version: "v1".into(),
                    kind: "Widget".into(),
                },
            ),
            (
                b"k8s\0\x0a\x0c\x0a\x02v1\x12\x06Secret\x1a\x04gzip",
                DecodeError::UnsupportedContentEncoding("gzip".into()),
            ),
            (
                b"k8s\0\x0a\x0c\x0a\x02v1\x12\x06Secret\x22\x10application/json",
                DecodeError::UnsupportedContentType("application/json".into()),
            ),
        ];
        for (body, want) in cases {
            assert_eq!(&decode_to_json(body).unwrap_err(), want);
        }
    }

    #[test]
    fn supported_kind_list() {
        let kinds = supported_kinds();
        for want in [
            ("v1", "Pod"),
            ("apps/v1", "Deployment"),
            ("policy/v1", "Eviction"),
            ("*", "DeleteOptions"),
            ("autoscaling/v1", "Scale"),
            ("v1", "Binding"),
        ] {
            assert!(kinds.contains(&want), "{want:?}");
        }
        assert!(is_supported_kind("batch/v1", "CronJob"));
        assert!(!is_supported_kind("batch/v1beta1", "CronJob"));
    }
}
