//! Container lifecycle hooks (kubelet's lifecycle handler runner):
//! postStart and preStop with exec, httpGet and sleep actions.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Container, LifecycleHandler, Pod};

use crate::cri::RuntimeService;
use crate::prober::action::{exec, http_get, Outcome};

/// Timeout of an httpGet hook when no grace period bounds it.
const HTTP_HOOK_TIMEOUT: Duration = Duration::from_secs(30);

fn pod_name(pod: &Pod) -> String {
    format!(
        "{}_{}({})",
        pod.metadata.name.as_deref().unwrap_or_default(),
        pod.metadata.namespace.as_deref().unwrap_or_default(),
        pod.metadata.uid.as_deref().unwrap_or_default()
    )
}

/// Runs a hook; the error is the event message kubelet would show.
/// `limit` bounds exec and sleep (a preStop hook's grace period).
pub async fn run_hook(
    runtime: &dyn RuntimeService,
    pod: &Pod,
    c: &Container,
    handler: &LifecycleHandler,
    container_id: &str,
    pod_ip: &str,
    limit: Option<Duration>,
) -> Result<(), String> {
    if let Some(e) = &handler.exec {
        let cmd = e.command.clone().unwrap_or_default();
        let outcome = exec(runtime, container_id, e, limit.unwrap_or_default()).await;
        return match outcome {
            Outcome::Success => Ok(()),
            Outcome::Failure(m) => Err(format!(
                "Exec lifecycle hook ({cmd:?}) for Container {:?} in Pod {:?} failed - error: {m}",
                c.name,
                pod_name(pod)
            )),
        };
    }
    if let Some(h) = &handler.http_get {
        let timeout = limit.unwrap_or(HTTP_HOOK_TIMEOUT);
        return match http_get(h, c, pod_ip, timeout).await {
            Outcome::Success => Ok(()),
            Outcome::Failure(m) => Err(format!(
                "HTTP lifecycle hook ({}) for Container {:?} in Pod {:?} failed - error: {m}",
                h.path.as_deref().unwrap_or("/"),
                c.name,
                pod_name(pod)
            )),
        };
    }
    if let Some(s) = &handler.sleep {
        let mut d = Duration::from_secs(u64::try_from(s.seconds).unwrap_or(0));
        if let Some(l) = limit {
            d = d.min(l);
        }
        tokio::time::sleep(d).await;
        return Ok(());
    }
    Err(format!(
        "lifecycle hook for Container {:?} in Pod {:?} has no supported action",
        c.name,
        pod_name(pod)
    ))
}
