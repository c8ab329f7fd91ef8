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
#[derive(Debug)]
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

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::cni::PodCidr;
    use crate::cri::fake::FakeRuntime;
    use crate::cri::LABEL_CONTAINER_NAME;

    const IMAGE: &str = "busybox:bosun";

    fn cfg() -> AgentConfig {
        let cidr = PodCidr::parse("10.244.0.0/24").expect("cidr");
        AgentConfig::new("n".into(), PathBuf::from("/data"), cidr)
    }

    async fn sandbox(rt: &FakeRuntime) -> String {
        let labels = HashMap::from([
            (LABEL_POD_NAME.to_string(), "web".to_string()),
            (LABEL_POD_NAMESPACE.to_string(), "ns".to_string()),
            (LABEL_POD_UID.to_string(), "u1".to_string()),
        ]);
        rt.run_pod_sandbox(api::PodSandboxConfig {
            metadata: Some(api::PodSandboxMetadata {
                name: "web".into(),
                namespace: "ns".into(),
                uid: "u1".into(),
                attempt: 0,
            }),
            labels,
            ..Default::default()
        })
        .await
        .expect("sandbox")
    }

    async fn container(rt: &FakeRuntime, sandbox: &str, attempt: u32) -> String {
        let labels = HashMap::from([
            (LABEL_POD_UID.to_string(), "u1".to_string()),
            (LABEL_CONTAINER_NAME.to_string(), "c".to_string()),
        ]);
        let id = rt
            .create_container(
                sandbox,
                api::ContainerConfig {
                    metadata: Some(api::ContainerMetadata {
                        name: "c".into(),
                        attempt,
                    }),
                    image: Some(api::ImageSpec {
                        image: IMAGE.into(),
                        ..Default::default()
                    }),
                    labels,
                    ..Default::default()
                },
                api::PodSandboxConfig::default(),
            )
            .await
            .expect("container");
        rt.start_container(&id).await.expect("start");
        id
    }

    fn runtime() -> FakeRuntime {
        let rt = FakeRuntime::new();
        rt.add_image(IMAGE);
        rt
    }

    #[tokio::test]
    async fn logs_read_the_current_attempt_and_previous_needs_a_restart() {
        let rt = runtime();
        let sb = sandbox(&rt).await;
        let first = container(&rt, &sb, 0).await;
        let target = log_target(&rt, &cfg(), "ns", "web", "c", false)
            .await
            .expect("current");
        assert_eq!(target.path, PathBuf::from("/data/pods/u1/c/0.log"));
        let err = log_target(&rt, &cfg(), "ns", "web", "c", true)
            .await
            .expect_err("no previous");
        assert_eq!(
            err.to_string(),
            r#"previous terminated container "c" in pod "web" not found"#
        );
        assert_eq!(err.into_response().status(), StatusCode::BAD_REQUEST);

        rt.exit_container(&first, 1);
        let second = container(&rt, &sb, 1).await;
        let current = log_target(&rt, &cfg(), "ns", "web", "c", false)
            .await
            .expect("current");
        assert_eq!(
            (current.path.clone(), current.container_id),
            (PathBuf::from("/data/pods/u1/c/1.log"), second)
        );
        let previous = log_target(&rt, &cfg(), "ns", "web", "c", true)
            .await
            .expect("previous");
        assert_eq!(
            (previous.path, previous.container_id),
            (PathBuf::from("/data/pods/u1/c/0.log"), first)
        );
    }

    #[tokio::test]
    async fn streams_need_a_running_container_of_a_known_pod() {
        let rt = runtime();
        let sb = sandbox(&rt).await;
        let id = container(&rt, &sb, 0).await;
        let query = Query::parse(Some("command=sh&stdin=true&stdout=true"));
        let url = exec_url(&rt, "ns", "web", "c", &query).await.expect("url");
        assert_eq!(url, format!("http://127.0.0.1:0/exec/{id}"));
        let err = exec_url(&rt, "ns", "other", "c", &query)
            .await
            .expect_err("unknown pod");
        assert_eq!(err.into_response().status(), StatusCode::NOT_FOUND);
        let err = exec_url(&rt, "ns", "web", "zz", &query)
            .await
            .expect_err("unknown container");
        assert_eq!(err.into_response().status(), StatusCode::NOT_FOUND);
        let err = exec_url(&rt, "ns", "web", "c", &Query::parse(None))
            .await
            .expect_err("no command");
        assert_eq!(err.into_response().status(), StatusCode::BAD_REQUEST);
        rt.exit_container(&id, 0);
        let err = attach_url(&rt, "ns", "web", "c", &query)
            .await
            .expect_err("exited");
        assert_eq!(
            err.to_string(),
            r#"container "c" in pod "web" is not running"#
        );
    }

    #[tokio::test]
    async fn port_forward_targets_the_sandbox_and_checks_ports() {
        let rt = runtime();
        let sb = sandbox(&rt).await;
        let url = port_forward_url(&rt, "ns", "web", &Query::parse(Some("ports=8080,80")))
            .await
            .expect("url");
        assert_eq!(url, format!("http://127.0.0.1:0/portforward/{sb}"));
        let err = port_forward_url(&rt, "ns", "web", &Query::parse(Some("ports=70000")))
            .await
            .expect_err("bad port");
        assert_eq!(err.into_response().status(), StatusCode::BAD_REQUEST);
    }
}
