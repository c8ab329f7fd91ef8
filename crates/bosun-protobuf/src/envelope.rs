//! The outer framing of a Kubernetes protobuf body: the `k8s\0` prefix and
//! the `runtime.Unknown` message that carries typeMeta and the object bytes.

use crate::error::DecodeError;
use crate::wire::{self, WireValue};

/// The four bytes every Kubernetes protobuf body starts with.
pub const PROTOBUF_MAGIC: [u8; 4] = *b"k8s\0";

/// The media type of Kubernetes protobuf bodies.
pub const PROTOBUF_CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// A parsed `runtime.Unknown` envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope<'a> {
    /// `typeMeta.apiVersion`, e.g. `apps/v1`.
    pub api_version: String,
    /// `typeMeta.kind`, e.g. `Deployment`.
    pub kind: String,
    /// The object's own protobuf message.
    pub raw: &'a [u8],
    /// `contentEncoding`; empty for plain bodies.
    pub content_encoding: String,
    /// `contentType`; empty (meaning protobuf) for request bodies.
    pub content_type: String,
}

/// Checks the prefix and splits a body into its envelope fields.
///
/// Only framing is checked here; [`crate::decode_to_json`] also rejects
/// encodings and content types it cannot decode.
pub fn parse_envelope(body: &[u8]) -> Result<Envelope<'_>, DecodeError> {
    let payload = body
        .strip_prefix(&PROTOBUF_MAGIC[..])
        .ok_or(DecodeError::MissingMagic)?;
    let mut envelope = Envelope {
        api_version: String::new(),
        kind: String::new(),
        raw: &[],
        content_encoding: String::new(),
        content_type: String::new(),
    };
    for (number, value) in wire::fields(payload)? {
        let bytes = match (number, value) {
            (1..=4, WireValue::Len(bytes)) => bytes,
            (1..=4, other) => return Err(mismatch("Unknown", number, &other)),
            _ => continue,
        };
        match number {
            1 => {
                for (n, v) in wire::fields(bytes)? {
                    match (n, v) {
                        (1, WireValue::Len(s)) => envelope.api_version = text(s),
                        (2, WireValue::Len(s)) => envelope.kind = text(s),
                        (1 | 2, other) => return Err(mismatch("TypeMeta", n, &other)),
                        _ => {}
                    }
                }
            }
            2 => envelope.raw = bytes,
            3 => envelope.content_encoding = text(bytes),
            _ => envelope.content_type = text(bytes),
        }
    }
    Ok(envelope)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn mismatch(message: &str, number: u32, value: &WireValue<'_>) -> DecodeError {
    let field = match (message, number) {
        ("TypeMeta", 1) => "apiVersion",
        ("TypeMeta", _) => "kind",
        (_, 1) => "typeMeta",
        (_, 2) => "raw",
        (_, 3) => "contentEncoding",
        _ => "contentType",
    };
    DecodeError::WireTypeMismatch {
        message: message.to_owned(),
        field: field.to_owned(),
        number,
        wire_type: value.wire_type(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_all_envelope_fields() {
        let body =
            b"k8s\0\x0a\x0c\x0a\x02v1\x12\x06Secret\x12\x02\x0a\x00\x1a\x04gzip\x22\x01x\x28\x01";
        let env = parse_envelope(body).unwrap();
        assert_eq!(env.api_version, "v1");
        assert_eq!(env.kind, "Secret");
        assert_eq!(env.raw, b"\x0a\x00");
        assert_eq!(env.content_encoding, "gzip");
        assert_eq!(env.content_type, "x");
    }

    #[test]
    fn rejects_bad_framing() {
        let cases: &[(&[u8], DecodeError)] = &[
            (b"", DecodeError::MissingMagic),
            (b"k8s", DecodeError::MissingMagic),
            (b"{\"kind\":\"Pod\"}", DecodeError::MissingMagic),
            (b"k8s\0\x0a\x05\x0a", DecodeError::Truncated),
            (
                b"k8s\0\x10\x01",
                DecodeError::WireTypeMismatch {
                    message: "Unknown".into(),
                    field: "raw".into(),
                    number: 2,
                    wire_type: 0,
                },
            ),
            (
                b"k8s\0\x0a\x02\x10\x01",
                DecodeError::WireTypeMismatch {
                    message: "TypeMeta".into(),
                    field: "kind".into(),
                    number: 2,
                    wire_type: 0,
                },
            ),
        ];
        for (body, want) in cases {
            assert_eq!(&parse_envelope(body).unwrap_err(), want, "{body:?}");
        }
    }

    #[test]
    fn empty_envelope_is_allowed_here() {
        let env = parse_envelope(b"k8s\0").unwrap();
        assert!(env.kind.is_empty() && env.api_version.is_empty() && env.raw.is_empty());
    }
}
