//! Finding a pod's sandbox and containers in the runtime by namespace and
//! name, and asking the runtime for streaming URLs.

use std::path::PathBuf;

use http::{Response, StatusCode};

use super::{text_response, Query, ResponseBody};
use crate::config::AgentConfig;
use crate::cri::{
    api, CriError, RuntimeService, LABEL_POD_NAME, LABEL_POD_NAMESPACE, LABEL_POD_UID,
};
use crate::kuberuntime::state::{
    pod_runtime_status, ContainerRecord, ContainerState, PodRuntimeStatus,
};

/// Why a request cannot be served; each maps to kubelet's status code.
#[derive(Debug, thiserror::Error)]
pub enum PodError {
    #[error("pod {namespace}/{name} does not exist on this node")]
    PodNotFound { namespace: String, name: String },
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error(transparent)]
    Cri(#[from] CriError),
}

impl PodError {
    pub fn into_response(self) -> Response<ResponseBody> {
        let code = match &self {
            PodError::PodNotFound { .. } | PodError::NotFound(_) => StatusCode::NOT_FOUND,
            PodError::BadRequest(_) => StatusCode::BAD_REQUEST,
            PodError::Cri(e) if e.is_not_found() => StatusCode::NOT_FOUND,
            PodError::Cri(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        text_response(code, self.to_string())
    }
}

/// The log file of one container attempt.
pub struct LogTarget {
    pub path: PathBuf,
    pub container_id: String,
}

/// The uid and runtime state of pod `ns/name` (its newest sandbox).
async fn find_pod(
    runtime: &dyn RuntimeService,
    ns: &str,
    name: &str,
) -> Result<(String, PodRuntimeStatus), PodError> {
    let selector = [
        (LABEL_POD_NAMESPACE.to_string(), ns.to_string()),
        (LABEL_POD_NAME.to_string(), name.to_string()),
    ];
    let mut sandboxes = runtime
        .list_pod_sandbox(Some(api::PodSandboxFilter {
            label_selector: selector.into_iter().collect(),
            ..Default::default()
        }))
        .await?;
    sandboxes.sort_by_key(|s| std::cmp::Reverse(s.created_at));
    let uid = sandboxes
        .first()
        .and_then(|s| s.labels.get(LABEL_POD_UID))
        .cloned()
        .ok_or_else(|| PodError::PodNotFound {
            namespace: ns.to_string(),
            name: name.to_string(),
        })?;
    let status = pod_runtime_status(runtime, &uid).await?;
    Ok((uid, status))
}

/// The log file `kubectl logs` (or `--previous`) reads.
pub async fn log_target(
    runtime: &dyn RuntimeService,
    cfg: &AgentConfig,
    ns: &str,
    pod: &str,
    container: &str,
    previous: bool,
) -> Result<LogTarget, PodError> {
    let (uid, status) = match find_pod(runtime, ns, pod).await {
        Ok(found) => found,
        Err(PodError::PodNotFound { .. }) => {
            return Err(PodError::BadRequest(format!(
                "container {container:?} in pod {pod:?} is waiting to start: ContainerCreating"
            )))
        }
        Err(e) => return Err(e),
    };
    let record: Option<&ContainerRecord> = if previous {
        status.previous(container)
    } else {
        status.latest(container)
    };
    let Some(record) = record else {
        return Err(PodError::BadRequest(if previous {
            format!("previous terminated container {container:?} in pod {pod:?} not found")
        } else {
            format!("container {container:?} in pod {pod:?} is waiting to start: ContainerCreating")
        }));
    };
    Ok(LogTarget {
        path: cfg
            .pod_log_dir(&uid)
            .join(container)
            .join(format!("{}.log", record.attempt)),
        container_id: record.id.clone(),
    })
}

/// Whether container `id` still runs (follow stops when it does not).
pub async fn is_running(runtime: &dyn RuntimeService, id: &str) -> bool {
    match runtime.container_status(id).await {
        Ok(st) => st.state == api::ContainerState::ContainerRunning as i32,
        Err(_) => false,
    }
}

/// The newest running container `name` of the pod.
async fn running_container(
    runtime: &dyn RuntimeService,
    ns: &str,
    pod: &str,
    name: &str,
) -> Result<String, PodError> {
    let (_, status) = find_pod(runtime, ns, pod).await?;
    match status.latest(name) {
        Some(c) if c.state == ContainerState::Running => Ok(c.id.clone()),
        Some(_) => Err(PodError::BadRequest(format!(
            "container {name:?} in pod {pod:?} is not running"
        ))),
        None => Err(PodError::NotFound(format!(
            "container {name:?} not found in pod {pod:?}"
        ))),
    }
}

pub async fn exec_url(
    runtime: &dyn RuntimeService,
    ns: &str,
    pod: &str,
    container: &str,
    q: &Query,
) -> Result<String, PodError> {
    let cmd = q.all("command").to_vec();
    if cmd.is_empty() {
        return Err(PodError::BadRequest(
            "you must specify at least 1 command".into(),
        ));
    }
    let container_id = running_container(runtime, ns, pod, container).await?;
    Ok(runtime
        .exec(api::ExecRequest {
            container_id,
            cmd,
            tty: q.flag("tty"),
            stdin: q.flag("stdin"),
            stdout: q.flag("stdout"),
            stderr: q.flag("stderr"),
        })
        .await?)
}

pub async fn attach_url(
    runtime: &dyn RuntimeService,
    ns: &str,
    pod: &str,
    container: &str,
    q: &Query,
) -> Result<String, PodError> {
    let container_id = running_container(runtime, ns, pod, container).await?;
    Ok(runtime
        .attach(api::AttachRequest {
            container_id,
            stdin: q.flag("stdin"),
            tty: q.flag("tty"),
            stdout: q.flag("stdout"),
            stderr: q.flag("stderr"),
        })
        .await?)
}

pub async fn port_forward_url(
    runtime: &dyn RuntimeService,
    ns: &str,
    pod: &str,
    q: &Query,
) -> Result<String, PodError> {
    let (_, status) = find_pod(runtime, ns, pod).await?;
    let sandbox = status
        .ready_sandbox()
        .ok_or_else(|| PodError::BadRequest(format!("pod {pod:?} has no running sandbox")))?;
    // `ports=80,8080` or repeated `ports=` (websocket clients); SPDY
    // clients name ports per stream instead.
    let mut port = Vec::new();
    for value in q.all("ports") {
        for p in value.split(',').filter(|p| !p.is_empty()) {
            let n: i32 = p
                .trim()
                .parse()
                .ok()
                .filter(|n| (1..=65535).contains(n))
                .ok_or_else(|| PodError::BadRequest(format!("invalid port {p:?}")))?;
            port.push(n);
        }
    }
    Ok(runtime
        .port_forward(api::PortForwardRequest {
            pod_sandbox_id: sandbox.id.clone(),
            port,
        })
        .await?)
}
