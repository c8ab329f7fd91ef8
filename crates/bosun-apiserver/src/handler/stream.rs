//! The pod subresources served by the pod's node agent (upstream's
//! `pkg/registry/core/pod/rest/{log,subresources}.go`): `pods/log` is
//! streamed from the agent's `/containerLogs`, and `pods/exec`,
//! `pods/attach` and `pods/portforward` are upgrade requests forwarded to
//! the agent's `/exec`, `/attach` and `/portForward`, whose 101 answer
//! joins the two connections byte for byte.
//!
//! ATTENTION: the agent passes streams on to containerd, which speaks
//! SPDY/3.1 and websocket `v4.channel.k8s.io` (and older) only. kubectl
//! 1.30+ first tries websocket `v5.channel.k8s.io` (exec/attach) and
//! `SPDY/3.1+portforward.k8s.io` tunnelling (port-forward), then falls back
//! to SPDY when the upgrade is refused; such requests are refused here
//! with a non-101 answer instead of being translated.

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, StatusCode};
use serde_json::Value;

use super::Handler;
use crate::error::{ApiError, Result};
use crate::request::{Query, RequestInfo};

/// Websocket subprotocols containerd's streaming server accepts.
const RUNTIME_WEBSOCKET_PROTOCOLS: &[&str] = &[
    "v4.channel.k8s.io",
    "v3.channel.k8s.io",
    "v2.channel.k8s.io",
    "channel.k8s.io",
    "base64.channel.k8s.io",
    "v4.base64.channel.k8s.io",
    "portforward.k8s.io",
];

/// The subresources this module serves.
pub fn is_streaming(info: &RequestInfo) -> bool {
    info.def.group.is_empty()
        && info.def.plural == "pods"
        && info.name.is_some()
        && matches!(
            info.subresource.as_deref(),
            Some("log" | "exec" | "attach" | "portforward")
        )
}

impl Handler {
    pub(super) async fn pod_stream(
        &self,
        req: Request<Body>,
        info: RequestInfo,
    ) -> Result<Response> {
        let sub = info.subresource.as_deref().unwrap_or("");
        let method = req.method().clone();
        let allowed = match sub {
            "log" => method == Method::GET,
            _ => method == Method::GET || method == Method::POST,
        };
        if !allowed {
            return Err(ApiError::method_not_allowed(format!(
                "the server does not allow this method on the requested resource ({method} pods/{sub})"
            )));
        }
        let ns = info.namespace.as_deref().unwrap_or("default");
        let name = info.name.as_deref().unwrap_or("");
        let pod = self
            .rest
            .get_latest(info.def, Some(ns), name)
            .await?
            .ok_or_else(|| ApiError::not_found("", "pods", name))?;
        let query = Query::parse(req.uri().query());
        let raw_query = req.uri().query().unwrap_or("").to_string();
        let agent_path = if sub == "portforward" {
            format!("/portForward/{ns}/{name}")
        } else {
            let container = resolve_container(&pod, name, query.get("container"))?;
            let prefix = match sub {
                "log" => "containerLogs",
                other => other,
            };
            format!("/{prefix}/{ns}/{name}/{container}")
        };
        let node_name = pod["spec"]["nodeName"].as_str().unwrap_or("");
        if node_name.is_empty() {
            return Err(ApiError::bad_request(format!(
                "pod {name} does not have a host assigned"
            )));
        }
        let (host, port) = self.node_endpoint(node_name).await?;
        let uri = if raw_query.is_empty() {
            agent_path
        } else {
            format!("{agent_path}?{raw_query}")
        };
        if sub == "log" {
            return self.proxy_log(&host, port, uri, name).await;
        }
        check_upgrade(&req, sub)?;
        self.proxy_upgrade(req, &host, port, uri, sub, name).await
    }

    /// The agent's address: the Node's InternalIP and kubelet port.
    async fn node_endpoint(&self, node_name: &str) -> Result<(String, u16)> {
        let def = bosun_api::registry::lookup("", "v1", "nodes")
            .ok_or_else(|| ApiError::internal("nodes are not served"))?;
        let node = self
            .rest
            .get_latest(def, None, node_name)
            .await?
            .ok_or_else(|| ApiError::not_found("", "nodes", node_name))?;
        let addresses = node["status"]["addresses"].as_array();
        let address = ["InternalIP", "ExternalIP", "Hostname"]
            .iter()
            .find_map(|ty| {
                addresses?
                    .iter()
                    .find(|a| a["type"] == *ty)
                    .and_then(|a| a["address"].as_str())
            })
            .ok_or_else(|| ApiError::bad_request(format!("node {node_name} reports no address")))?;
        let port = node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"]
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .filter(|p| *p != 0)
            .unwrap_or(10250);
        Ok((address.to_string(), port))
    }

    async fn proxy_log(&self, host: &str, port: u16, uri: String, pod: &str) -> Result<Response> {
        let req = Request::get(uri)
            .header(header::HOST, format!("{host}:{port}"))
            .body(http_body_util::Empty::<Bytes>::new())
            .map_err(|e| ApiError::internal(e.to_string()))?;
        let resp = self
            .kubelet
            .send(host, port, req)
            .await
            .map_err(|e| ApiError::internal(e.to_string()))?;
        if resp.status() != StatusCode::OK {
            return Err(agent_error(resp, "pods/log", pod).await);
        }
        let mut out = Response::new(Body::new(resp.into_body()));
        out.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        Ok(out)
    }

    async fn proxy_upgrade(
        &self,
        mut req: Request<Body>,
        host: &str,
        port: u16,
        uri: String,
        sub: &str,
        pod: &str,
    ) -> Result<Response> {
        let mut upstream = Request::builder().method(req.method().clone()).uri(uri);
        for (name, value) in req.headers() {
            if name != header::HOST
                && name != header::AUTHORIZATION
                && name != header::CONTENT_LENGTH
                && !name.as_str().starts_with("impersonate-")
            {
                upstream = upstream.header(name, value);
            }
        }
        let upstream = upstream
            .header(header::HOST, format!("{host}:{port}"))
            .body(http_body_util::Empty::<Bytes>::new())
            .map_err(|e| ApiError::internal(e.to_string()))?;
        let client_upgrade = hyper::upgrade::on(&mut req);
        let mut resp = self
            .kubelet
            .send(host, port, upstream)
            .await
            .map_err(|e| ApiError::internal(e.to_string()))?;
        if resp.status() != StatusCode::SWITCHING_PROTOCOLS {
            return Err(agent_error(resp, &format!("pods/{sub}"), pod).await);
        }
        let agent_upgrade = hyper::upgrade::on(&mut resp);
        tokio::spawn(async move {
            match tokio::try_join!(client_upgrade, agent_upgrade) {
                Ok((client, agent)) => {
                    let mut client = hyper_util::rt::TokioIo::new(client);
                    let mut agent = hyper_util::rt::TokioIo::new(agent);
                    if let Err(err) = tokio::io::copy_bidirectional(&mut client, &mut agent).await {
                        tracing::debug!(%err, "stream copy ended");
                    }
                }
                Err(err) => tracing::debug!(%err, "upgrade failed"),
            }
        });
        let mut out = StatusCode::SWITCHING_PROTOCOLS.into_response();
        *out.headers_mut() = resp.headers().clone();
        Ok(out)
    }
}

/// The container a request addresses: the `container` parameter, else
/// the `kubectl.kubernetes.io/default-container` annotation, else the only
/// container (upstream's `validateContainer`).
fn resolve_container(pod: &Value, name: &str, requested: Option<&str>) -> Result<String> {
    let names = |field: &str| -> Vec<String> {
        pod["spec"][field]
            .as_array()
            .map(|cs| {
                cs.iter()
                    .filter_map(|c| c["name"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let containers = names("containers");
    let init = names("initContainers");
    let ephemeral = names("ephemeralContainers");
    let container = match requested.filter(|c| !c.is_empty()) {
        Some(c) => c.to_string(),
        None => {
            let annotated = pod["metadata"]["annotations"]
                ["kubectl.kubernetes.io/default-container"]
                .as_str()
                .filter(|c| containers.iter().any(|n| n == c));
            match (annotated, containers.as_slice()) {
                (Some(c), _) => c.to_string(),
                (None, [only]) => only.clone(),
                _ => {
                    let mut message = format!(
                        "a container name must be specified for pod {name}, choose one of: [{}]",
                        containers.join(" ")
                    );
                    if !init.is_empty() {
                        message.push_str(&format!(
                            " or one of the init containers: [{}]",
                            init.join(" ")
                        ));
                    }
                    return Err(ApiError::bad_request(message));
                }
            }
        }
    };
    if !containers
        .iter()
        .chain(&init)
        .chain(&ephemeral)
        .any(|c| *c == container)
    {
        return Err(ApiError::bad_request(format!(
            "container {container} is not valid for pod {name}"
        )));
    }
    Ok(container)
}

/// Refuses requests that are not upgrades, and websocket upgrades asking
/// only for protocols the runtime cannot speak (so clients fall back).
fn check_upgrade(req: &Request<Body>, sub: &str) -> Result<()> {
    let headers = req.headers();
    let upgrade = headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if upgrade.is_empty() {
        return Err(ApiError::bad_request("Upgrade request required"));
    }
    if !upgrade.eq_ignore_ascii_case("websocket") {
        return Ok(());
    }
    let offered: Vec<&str> = headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    if offered
        .iter()
        .any(|p| RUNTIME_WEBSOCKET_PROTOCOLS.contains(p))
    {
        return Ok(());
    }
    Err(ApiError::bad_request(format!(
        "pods/{sub}: websocket subprotocols {offered:?} are not supported (supported: {RUNTIME_WEBSOCKET_PROTOCOLS:?}); use SPDY/3.1"
    )))
}

/// An agent's error answer as an API error (upstream's
/// `GenericHttpResponseChecker`: the status code and the agent's text).
async fn agent_error(
    resp: http::Response<hyper::body::Incoming>,
    resource: &str,
    pod: &str,
) -> ApiError {
    let code = resp.status().as_u16();
    let body =
        http_body_util::BodyExt::collect(http_body_util::Limited::new(resp.into_body(), 4096))
            .await
            .map(|c| c.to_bytes())
            .unwrap_or_default();
    let text = String::from_utf8_lossy(&body).trim().to_string();
    let reason = match code {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        _ => "InternalError",
    };
    let message = if text.is_empty() {
        format!("the agent answered {code} for {resource} of pod {pod}")
    } else {
        text
    };
    ApiError::new(code, reason, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(containers: &[&str], annotation: Option<&str>) -> Value {
        let mut p = json!({"metadata": {"name": "p"}, "spec": {"containers":
            containers.iter().map(|c| json!({"name": c})).collect::<Vec<_>>()}});
        if let Some(a) = annotation {
            p["metadata"]["annotations"] = json!({"kubectl.kubernetes.io/default-container": a});
        }
        p
    }

    #[test]
    fn container_defaults_to_the_only_one_or_the_annotation() {
        assert_eq!(
            resolve_container(&pod(&["a"], None), "p", None)
                .ok()
                .as_deref(),
            Some("a")
        );
        assert_eq!(
            resolve_container(&pod(&["a", "b"], Some("b")), "p", None)
                .ok()
                .as_deref(),
            Some("b")
        );
        let err = resolve_container(&pod(&["a", "b"], None), "p", None).unwrap_err();
        assert_eq!(err.code, 400);
        assert_eq!(
            err.message,
            "a container name must be specified for pod p, choose one of: [a b]"
        );
        let err = resolve_container(&pod(&["a"], None), "p", Some("zz")).unwrap_err();
        assert_eq!(err.message, "container zz is not valid for pod p");
    }
}
