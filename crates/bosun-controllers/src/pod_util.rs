//! Pod facts controllers share (upstream's podutil): activity, readiness,
//! availability, and pods built from templates.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

/// Not terminal and not being deleted (upstream `IsPodActive`).
pub fn is_active(pod: &Pod) -> bool {
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    !matches!(phase, Some("Succeeded") | Some("Failed"))
        && pod.metadata.deletion_timestamp.is_none()
}

/// The Ready condition's status and last transition.
fn ready_condition(pod: &Pod) -> Option<(bool, Option<jiff::Timestamp>)> {
    let c = pod
        .status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready")?;
    Some((
        c.status == "True",
        c.last_transition_time.as_ref().map(|t| t.0),
    ))
}

pub fn is_ready(pod: &Pod) -> bool {
    ready_condition(pod).is_some_and(|(r, _)| r)
}

/// When the pod became ready, if it is.
pub fn ready_since(pod: &Pod) -> Option<jiff::Timestamp> {
    match ready_condition(pod) {
        Some((true, t)) => t,
        _ => None,
    }
}

/// Ready for at least `min_ready_seconds` (upstream `IsPodAvailable`).
pub fn is_available(pod: &Pod, min_ready_seconds: i32, now: jiff::Timestamp) -> bool {
    match ready_condition(pod) {
        Some((true, _)) if min_ready_seconds <= 0 => true,
        Some((true, Some(since))) => {
            let needed = jiff::SignedDuration::from_secs(i64::from(min_ready_seconds));
            since.checked_add(needed).is_ok_and(|t| t <= now)
        }
        _ => false,
    }
}

/// How long until a ready pod becomes available, if it is not yet.
pub fn until_available(
    pod: &Pod,
    min_ready_seconds: i32,
    now: jiff::Timestamp,
) -> Option<Duration> {
    let since = ready_since(pod)?;
    let at = since
        .checked_add(jiff::SignedDuration::from_secs(i64::from(
            min_ready_seconds,
        )))
        .ok()?;
    let left = at.duration_since(now);
    (left.is_positive()).then(|| left.unsigned_abs())
}

/// The highest restart count among the pod's containers.
pub fn max_restarts(pod: &Pod) -> i32 {
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .into_iter()
        .flatten()
        .map(|c| c.restart_count)
        .max()
        .unwrap_or(0)
}

/// A pod from a controller's template (upstream `GetPodFromTemplate`):
/// template labels, annotations and finalizers, a generated name from
/// `prefix`, and the controller reference.
pub fn pod_from_template(
    template: &PodTemplateSpec,
    namespace: &str,
    prefix: &str,
    owner: OwnerReference,
) -> Pod {
    let tm = template.metadata.clone().unwrap_or_default();
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(format!("{prefix}-")),
            namespace: Some(namespace.to_string()),
            labels: tm.labels,
            annotations: tm.annotations,
            finalizers: tm.finalizers,
            owner_references: Some(vec![owner]),
            ..Default::default()
        },
        spec: template.spec.clone(),
        status: None,
    }
}

/// Name of the pod store's index by `spec.nodeName` (see [`by_node`]).
pub const NODE_INDEX: &str = "spec.nodeName";

/// The node a pod is bound to, if any.
pub fn node_name(pod: &Pod) -> Option<&str> {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .filter(|n| !n.is_empty())
}

/// Index function: the node a pod is bound to.
pub fn node_name_index(pod: &Pod) -> Option<String> {
    node_name(pod).map(str::to_string)
}

/// Indexes `pods` by node (idempotent), so node-level work reads one
/// node's pods instead of scanning every pod.
pub fn index_by_node(pods: &crate::informer::Store<Pod>) {
    pods.add_index(NODE_INDEX, node_name_index);
}

/// Creates the pod encoded in `body` (JSON, see [`encode_pod`]) in
/// `namespace` and returns the created pod's name: callers need the
/// generated name, not a decoded copy of the spec they just sent (a
/// ReplicaSet scale-up creates pods by the hundred thousand). One burst
/// encodes its pod once; serde skips the answer's other members without
/// allocating them.
pub async fn create_pod(
    client: &kube::Client,
    namespace: &str,
    body: &[u8],
) -> Result<String, kube::Error> {
    use kube::Resource;
    #[derive(serde::Deserialize)]
    struct Created {
        #[serde(default)]
        metadata: CreatedMeta,
    }
    #[derive(serde::Deserialize, Default)]
    struct CreatedMeta {
        #[serde(default)]
        name: String,
    }
    let mut request = kube::core::Request::new(Pod::url_path(&(), Some(namespace)))
        .create(&kube::api::PostParams::default(), body.to_vec())
        .map_err(kube::Error::BuildRequest)?;
    request.extensions_mut().insert("create");
    // The answer is read as bytes and decoded from the slice: kube's
    // `request` first copies it into a validated String.
    let response = client.send(request.map(kube::client::Body::from)).await?;
    let status = response.status();
    let bytes = http_body_util::BodyExt::collect(response.into_body())
        .await?
        .to_bytes();
    if status.is_client_error() || status.is_server_error() {
        return Err(api_error(status, &bytes));
    }
    let created: Created = serde_json::from_slice(&bytes).map_err(kube::Error::SerdeError)?;
    Ok(created.metadata.name)
}

/// `pod` as [`create_pod`] sends it.
pub fn encode_pod(pod: &Pod) -> Result<Vec<u8>, kube::Error> {
    serde_json::to_vec(pod).map_err(kube::Error::SerdeError)
}

/// The error kube's client makes of a failed answer: its `Status` body,
/// or a failure `Status` carrying the body's text and the HTTP code.
fn api_error(code: http::StatusCode, body: &[u8]) -> kube::Error {
    use kube::core::Status;
    match serde_json::from_slice::<Status>(body) {
        Ok(status) => kube::Error::Api(status.boxed()),
        Err(_) => kube::Error::Api(
            Status::failure(&String::from_utf8_lossy(body), "Failed to parse error data")
                .with_code(code.as_u16())
                .boxed(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_creates_become_the_errors_kube_makes() {
        let body = br#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"pods \"p\" is forbidden: unable to create new content in namespace t because it is being terminated","reason":"Forbidden","code":403}"#;
        match api_error(http::StatusCode::FORBIDDEN, body) {
            kube::Error::Api(status) => {
                assert_eq!((status.code, status.reason.as_str()), (403, "Forbidden"));
                assert!(status.message.contains("being terminated"));
            }
            other => panic!("expected an API error, got {other}"),
        }
        match api_error(http::StatusCode::BAD_GATEWAY, b"upstream went away") {
            kube::Error::Api(status) => {
                assert_eq!(status.code, 502);
                assert_eq!(status.message, "upstream went away");
            }
            other => panic!("expected an API error, got {other}"),
        }
    }
}
