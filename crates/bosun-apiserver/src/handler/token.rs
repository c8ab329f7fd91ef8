//! The TokenRequest subresource (`POST serviceaccounts/{name}/token`,
//! upstream `pkg/registry/core/serviceaccount/storage/token.go`): a signed
//! service account token for the requested audiences and lifetime,
//! optionally bound to a Pod, Secret or Node that must exist.

use axum::response::Response;
use bosun_api::validation::FieldError;
use http::StatusCode;
use serde_json::{json, Value};

use super::{json_response, Handler, RequestContext};
use crate::error::{ApiError, Result};
use crate::serviceaccount::{Claims, Ref, ISSUER};

/// upstream's bounds on `spec.expirationSeconds`.
const MIN_EXPIRATION: i64 = 600;
const MAX_EXPIRATION: i64 = 1 << 32;
const DEFAULT_EXPIRATION: i64 = 3600;

fn invalid(name: &str, field: &str, value: Value, detail: &str) -> ApiError {
    ApiError::invalid(
        "authentication.k8s.io",
        "TokenRequest",
        name,
        &[FieldError::invalid(field, value, detail)],
    )
}

impl Handler {
    /// Reads `namespace/name` of core/v1 `plural` as of the latest revision.
    async fn lookup(&self, plural: &str, namespace: Option<&str>, name: &str) -> Result<Value> {
        let def = bosun_api::registry::lookup("", "v1", plural)
            .ok_or_else(|| ApiError::internal(format!("{plural} not registered")))?;
        self.rest
            .get_latest(def, namespace, name)
            .await?
            .map(|o| (*o).clone())
            .ok_or_else(|| ApiError::not_found("", plural, name))
    }

    pub(super) async fn create_token(&self, ctx: &RequestContext) -> Result<Response> {
        let ns = ctx.namespace().unwrap_or("default").to_string();
        let name = ctx.name().to_string();
        let sa = self.lookup("serviceaccounts", Some(&ns), &name).await?;
        let body = ctx.body_value()?;
        let spec = &body["spec"];
        let audiences: Vec<String> = spec["audiences"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .filter(|a: &Vec<String>| !a.is_empty())
            .unwrap_or_else(|| vec![ISSUER.to_string()]);
        let expiration = spec["expirationSeconds"]
            .as_i64()
            .unwrap_or(DEFAULT_EXPIRATION);
        if expiration < MIN_EXPIRATION {
            return Err(invalid(
                &name,
                "spec.expirationSeconds",
                json!(expiration),
                "may not specify a duration less than 10 minutes",
            ));
        }
        if expiration > MAX_EXPIRATION {
            return Err(invalid(
                &name,
                "spec.expirationSeconds",
                json!(expiration),
                "may not specify a duration larger than 2^32 seconds",
            ));
        }
        let now = chrono::Utc::now();
        let sa_ref = Ref {
            name: name.clone(),
            uid: sa["metadata"]["uid"].as_str().unwrap_or_default().into(),
        };
        let mut claims = Claims::new(&ns, sa_ref, audiences.clone(), now.timestamp(), expiration);
        let bound = &spec["boundObjectRef"];
        if let Some(kind) = bound["kind"].as_str() {
            let bound_name = bound["name"].as_str().unwrap_or_default();
            let (plural, namespace) = match kind {
                "Pod" => ("pods", Some(ns.as_str())),
                "Secret" => ("secrets", Some(ns.as_str())),
                "Node" => ("nodes", None),
                other => {
                    return Err(invalid(
                        &name,
                        "spec.boundObjectRef.kind",
                        json!(other),
                        "supported values: \"Pod\", \"Secret\", \"Node\"",
                    ))
                }
            };
            let obj = self.lookup(plural, namespace, bound_name).await?;
            let uid = obj["metadata"]["uid"].as_str().unwrap_or_default();
            if let Some(want) = bound["uid"].as_str().filter(|u| !u.is_empty()) {
                if want != uid {
                    return Err(ApiError::conflict(
                        "",
                        plural,
                        bound_name,
                        &format!("the UID in the bound object reference ({want}) does not match the UID in record. The object might have been deleted and then recreated"),
                    ));
                }
            }
            let this = Some(Ref {
                name: bound_name.to_string(),
                uid: uid.to_string(),
            });
            match kind {
                "Pod" => {
                    claims.kubernetes.pod = this;
                    if let Some(node) = obj["spec"]["nodeName"].as_str().filter(|n| !n.is_empty()) {
                        let node_uid = self
                            .lookup("nodes", None, node)
                            .await
                            .ok()
                            .and_then(|n| n["metadata"]["uid"].as_str().map(str::to_string))
                            .unwrap_or_default();
                        claims.kubernetes.node = Some(Ref {
                            name: node.to_string(),
                            uid: node_uid,
                        });
                    }
                }
                "Secret" => claims.kubernetes.secret = this,
                _ => claims.kubernetes.node = this,
            }
        }
        let token = self.token_keys.sign(&claims).map_err(ApiError::internal)?;
        let expires = chrono::DateTime::from_timestamp(claims.exp, 0)
            .unwrap_or(now)
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let mut out_spec = json!({"audiences": audiences, "expirationSeconds": expiration});
        if !bound.is_null() {
            out_spec["boundObjectRef"] = bound.clone();
        }
        let out = json!({
            "kind": "TokenRequest",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": {
                "name": name,
                "namespace": ns,
                "creationTimestamp": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            },
            "spec": out_spec,
            "status": {"token": token, "expirationTimestamp": expires},
        });
        Ok(json_response(StatusCode::CREATED, &out))
    }
}
