//! Content negotiation: request body formats and response shapes.

use serde_json::Value;

use crate::error::{ApiError, Result};

/// Largest request body accepted, as upstream (3 MiB).
pub const MAX_BODY: usize = 3 * 1024 * 1024;

/// What shape the client asked the response in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    Object,
    Table,
    PartialMetadata,
}

/// Reads the `Accept` header. Tables and partial metadata are served when
/// asked for; everything else is answered in JSON, which every client
/// accepts as a fallback.
pub fn response_shape(accept: Option<&str>) -> Result<Shape> {
    let Some(accept) = accept else {
        return Ok(Shape::Object);
    };
    let mut json_ok = false;
    for media in accept.split(',') {
        let mut parts = media.split(';').map(str::trim);
        let mime = parts.next().unwrap_or("");
        let params: Vec<(&str, &str)> = parts.filter_map(|p| p.split_once('=')).collect();
        let param = |k: &str| params.iter().find(|(n, _)| *n == k).map(|(_, v)| *v);
        if mime == "application/json" || mime == "*/*" || mime == "application/*" || mime.is_empty()
        {
            match (param("as"), param("g")) {
                (Some("Table"), Some("meta.k8s.io")) => return Ok(Shape::Table),
                (
                    Some("PartialObjectMetadata") | Some("PartialObjectMetadataList"),
                    Some("meta.k8s.io"),
                ) => return Ok(Shape::PartialMetadata),
                (Some(_), _) => continue,
                (None, _) => json_ok = true,
            }
        }
        if mime == "application/yaml" || mime == "application/vnd.kubernetes.protobuf" {
            // We answer these in JSON only if JSON is also acceptable.
            continue;
        }
    }
    if json_ok {
        Ok(Shape::Object)
    } else {
        Err(ApiError::not_acceptable(format!(
            "only the following media types are accepted: application/json (asked for {accept:?})"
        )))
    }
}

/// Decodes a request body by its `Content-Type`.
pub fn decode_body(content_type: Option<&str>, body: &[u8]) -> Result<Value> {
    let mime = content_type
        .unwrap_or("application/json")
        .split(';')
        .next()
        .unwrap_or("")
        .trim();
    match mime {
        ""
        | "application/json"
        | "application/merge-patch+json"
        | "application/strategic-merge-patch+json"
        | "application/json-patch+json" => serde_json::from_slice(body).map_err(|e| {
            ApiError::bad_request(format!("couldn't get version/kind; json parse error: {e}"))
        }),
        "application/yaml" | "application/apply-patch+yaml" => {
            let value: Value = serde_yaml::from_slice(body).map_err(|e| {
                ApiError::bad_request(format!("error converting YAML to JSON: {e}"))
            })?;
            Ok(value)
        }
        "application/vnd.kubernetes.protobuf" => bosun_protobuf::decode_to_json(body)
            .map_err(|e| ApiError::bad_request(format!("failed to decode protobuf body: {e}"))),
        other => Err(ApiError::unsupported_media_type(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubectl_table_accept_header_selects_table() {
        let accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
        assert_eq!(response_shape(Some(accept)).unwrap(), Shape::Table);
        assert_eq!(
            response_shape(Some("application/vnd.kubernetes.protobuf,application/json")).unwrap(),
            Shape::Object
        );
        assert_eq!(
            response_shape(Some("application/vnd.kubernetes.protobuf"))
                .unwrap_err()
                .code,
            406
        );
    }

    #[test]
    fn malformed_bodies_are_bad_requests() {
        assert_eq!(
            decode_body(Some("application/json"), b"{nope")
                .unwrap_err()
                .code,
            400
        );
        assert_eq!(
            decode_body(Some("application/yaml"), b"a: [")
                .unwrap_err()
                .code,
            400
        );
        assert_eq!(
            decode_body(Some("application/vnd.kubernetes.protobuf"), b"garbage")
                .unwrap_err()
                .code,
            400
        );
        assert_eq!(decode_body(Some("text/plain"), b"x").unwrap_err().code, 415);
    }
}
