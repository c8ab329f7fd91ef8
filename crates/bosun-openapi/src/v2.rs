//! A minimal `/openapi/v2` document.
//!
//! kubectl 1.32 still fetches `/openapi/v2` eagerly in two flows we care about:
//! `kubectl explain` (its `Complete` step parses the v2 schema before it ever
//! switches to the v3 renderer) and the validator behind `--validate=strict`
//! for `apply`/`create`/`replace`. In both, a failed fetch or a body that is
//! not a protobuf `openapi.v2.Document` aborts the command. The actual
//! decisions (field descriptions, `fieldValidation` support, strategic-merge
//! metadata) are then taken from the v3 documents, or from kubectl's compiled-in
//! types, so an empty-but-valid v2 document is sufficient: it declares
//! `swagger: "2.0"`, an `info` block and no paths or definitions.
//!
//! The protobuf encoding follows gnostic's `openapi_v2.Document`:
//! `swagger` = field 1, `info` = field 2 (`title` = 1, `version` = 2),
//! `paths` = field 8.

use std::sync::OnceLock;

use serde_json::{json, Value};

/// Media type kubectl/client-go sends in `Accept` for the v2 document.
pub const V2_PROTOBUF_CONTENT_TYPE: &str =
    "application/com.github.proto-openapi.spec.v2@v1.0+protobuf";

const TITLE: &str = "Kubernetes";

/// Appends a length-delimited field (wire type 2).
fn put_bytes(out: &mut Vec<u8>, field: u32, payload: &[u8]) {
    put_varint(out, u64::from(field << 3 | 2));
    put_varint(out, payload.len() as u64);
    out.extend_from_slice(payload);
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn encode() -> Vec<u8> {
    let mut info = Vec::new();
    put_bytes(&mut info, 1, TITLE.as_bytes());
    put_bytes(&mut info, 2, crate::INFO_VERSION.as_bytes());

    let mut document = Vec::new();
    put_bytes(&mut document, 1, b"2.0");
    put_bytes(&mut document, 2, &info);
    put_bytes(&mut document, 8, &[]);
    document
}

/// The v2 document encoded as protobuf (`openapi.v2.Document`), to be served
/// with [`V2_PROTOBUF_CONTENT_TYPE`].
pub fn v2_protobuf() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(encode)
}

/// The same v2 document as JSON, for clients asking for `application/json`.
pub fn v2_json() -> Value {
    json!({
        "swagger": "2.0",
        "info": { "title": TITLE, "version": crate::INFO_VERSION },
        "paths": {},
        "definitions": {},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes one level of (field, payload) pairs of length-delimited fields.
    fn fields(mut bytes: &[u8]) -> Vec<(u32, Vec<u8>)> {
        fn varint(bytes: &mut &[u8]) -> u64 {
            let mut value = 0u64;
            let mut shift = 0;
            loop {
                let b = bytes[0];
                *bytes = &bytes[1..];
                value |= u64::from(b & 0x7f) << shift;
                if b & 0x80 == 0 {
                    return value;
                }
                shift += 7;
            }
        }
        let mut out = Vec::new();
        while !bytes.is_empty() {
            let key = varint(&mut bytes);
            assert_eq!(key & 7, 2, "only length-delimited fields are emitted");
            let len = varint(&mut bytes) as usize;
            out.push(((key >> 3) as u32, bytes[..len].to_vec()));
            bytes = &bytes[len..];
        }
        out
    }

    #[test]
    fn protobuf_document_has_swagger_info_and_empty_paths() {
        let top = fields(v2_protobuf());
        assert_eq!(top.len(), 3);
        assert_eq!(top[0], (1, b"2.0".to_vec()));
        assert_eq!(top[2], (8, Vec::new()));
        assert_eq!(top[1].0, 2);
        let info = fields(&top[1].1);
        assert_eq!(info[0], (1, b"Kubernetes".to_vec()));
        assert_eq!(info[1], (2, crate::INFO_VERSION.as_bytes().to_vec()));
    }

    #[test]
    fn varints_use_seven_bit_groups() {
        let cases: [(u64, &[u8]); 4] = [
            (0, &[0]),
            (127, &[0x7f]),
            (128, &[0x80, 0x01]),
            (300, &[0xac, 0x02]),
        ];
        for (value, expected) in cases {
            let mut out = Vec::new();
            put_varint(&mut out, value);
            assert_eq!(out, expected, "{value}");
        }
    }

    #[test]
    fn json_document_mirrors_protobuf() {
        let doc = v2_json();
        assert_eq!(doc["swagger"], "2.0");
        assert_eq!(doc["info"]["version"], crate::INFO_VERSION);
    }
}
