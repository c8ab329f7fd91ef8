//! The container runtime interface as the agent sees it: two traits shaped
//! like CRI v1's `RuntimeService` and `ImageService` (same operation names,
//! CRI's own message types), a containerd client over gRPC (`remote.rs`)
//! and an in-memory runtime for unit tests (`fake.rs`).

use std::collections::HashMap;

use async_trait::async_trait;
pub use k8s_cri::v1 as api;

pub mod fake;
pub mod remote;

/// Labels the agent puts on every sandbox and container (kubelet's names,
/// so tools like crictl show the same thing).
pub const LABEL_POD_NAME: &str = "io.kubernetes.pod.name";
pub const LABEL_POD_NAMESPACE: &str = "io.kubernetes.pod.namespace";
pub const LABEL_POD_UID: &str = "io.kubernetes.pod.uid";
pub const LABEL_CONTAINER_NAME: &str = "io.kubernetes.container.name";
/// Annotations on containers: the restart count and the spec hash.
pub const ANNOTATION_RESTART_COUNT: &str = "io.kubernetes.container.restartCount";
pub const ANNOTATION_TERMINATION_GRACE: &str = "io.kubernetes.pod.terminationGracePeriod";

/// A failed CRI call.
#[derive(Debug, thiserror::Error)]
pub enum CriError {
    #[error("cannot connect to the container runtime at {endpoint}: {source}")]
    Connect {
        endpoint: String,
        #[source]
        source: tonic::transport::Error,
    },
    #[error("unsupported container runtime endpoint {0:?} (want unix:///path)")]
    Endpoint(String),
    #[error("CRI {op} failed: {}: {}", .status.code(), .status.message())]
    Status {
        op: &'static str,
        status: Box<tonic::Status>,
    },
    #[error("CRI {op}: the runtime's answer lacks {what}")]
    Incomplete {
        op: &'static str,
        what: &'static str,
    },
}

impl CriError {
    pub fn status(op: &'static str, status: tonic::Status) -> Self {
        CriError::Status {
            op,
            status: Box::new(status),
        }
    }

    /// The call ran out of time (an ExecSync past its timeout).
    pub fn is_timeout(&self) -> bool {
        matches!(self, CriError::Status { status, .. } if status.code() == tonic::Code::DeadlineExceeded)
    }

    /// The runtime answered that the object does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, CriError::Status { status, .. } if status.code() == tonic::Code::NotFound)
    }
}

pub type CriResult<T> = Result<T, CriError>;

/// CRI's RuntimeService: sandboxes and containers.
#[async_trait]
pub trait RuntimeService: Send + Sync {
    async fn version(&self) -> CriResult<api::VersionResponse>;
    async fn status(&self) -> CriResult<api::RuntimeStatus>;

    async fn run_pod_sandbox(&self, config: api::PodSandboxConfig) -> CriResult<String>;
    async fn stop_pod_sandbox(&self, id: &str) -> CriResult<()>;
    async fn remove_pod_sandbox(&self, id: &str) -> CriResult<()>;
    async fn pod_sandbox_status(&self, id: &str) -> CriResult<api::PodSandboxStatus>;
    async fn list_pod_sandbox(
        &self,
        filter: Option<api::PodSandboxFilter>,
    ) -> CriResult<Vec<api::PodSandbox>>;

    async fn create_container(
        &self,
        sandbox_id: &str,
        config: api::ContainerConfig,
        sandbox_config: api::PodSandboxConfig,
    ) -> CriResult<String>;
    async fn start_container(&self, id: &str) -> CriResult<()>;
    /// Stops a container: SIGTERM (or the image's stop signal), then
    /// SIGKILL after `timeout_secs`.
    async fn stop_container(&self, id: &str, timeout_secs: i64) -> CriResult<()>;
    async fn remove_container(&self, id: &str) -> CriResult<()>;
    async fn list_containers(
        &self,
        filter: Option<api::ContainerFilter>,
    ) -> CriResult<Vec<api::Container>>;
    async fn container_status(&self, id: &str) -> CriResult<api::ContainerStatus>;
    /// Resource usage of every container (CPU cumulative, memory working set).
    async fn list_container_stats(&self) -> CriResult<Vec<api::ContainerStats>>;

    /// Prepares a streaming exec; returns the runtime's streaming URL.
    async fn exec(&self, req: api::ExecRequest) -> CriResult<String>;
    /// Prepares a streaming attach; returns the runtime's streaming URL.
    async fn attach(&self, req: api::AttachRequest) -> CriResult<String>;
    /// Prepares a port forward into a sandbox; returns the streaming URL.
    async fn port_forward(&self, req: api::PortForwardRequest) -> CriResult<String>;

    /// Runs `cmd` in a running container and waits for it, at most
    /// `timeout` (zero: no limit of its own). A timed-out command is an
    /// error with code `DeadlineExceeded`, not an exit code.
    async fn exec_sync(
        &self,
        id: &str,
        cmd: Vec<String>,
        timeout: std::time::Duration,
    ) -> CriResult<api::ExecSyncResponse>;
}

/// CRI's ImageService.
#[async_trait]
pub trait ImageService: Send + Sync {
    async fn list_images(&self) -> CriResult<Vec<api::Image>>;
    /// `None` when the image is not present.
    async fn image_status(&self, image: &str) -> CriResult<Option<api::Image>>;
    /// Pulls an image; returns its reference (image id).
    async fn pull_image(
        &self,
        image: &str,
        sandbox_config: Option<api::PodSandboxConfig>,
    ) -> CriResult<String>;
    async fn remove_image(&self, image: &str) -> CriResult<()>;
}

/// Both services, as one object (containerd serves both on one socket).
pub trait Runtime: RuntimeService + ImageService {}
impl<T: RuntimeService + ImageService> Runtime for T {}

/// A label selector matching one pod's sandboxes or containers.
pub fn pod_selector(uid: &str) -> HashMap<String, String> {
    HashMap::from([(LABEL_POD_UID.to_string(), uid.to_string())])
}

/// The runtime condition of type `ty`, if reported.
pub fn runtime_condition<'a>(
    status: &'a api::RuntimeStatus,
    ty: &str,
) -> Option<&'a api::RuntimeCondition> {
    status.conditions.iter().find(|c| c.r#type == ty)
}
