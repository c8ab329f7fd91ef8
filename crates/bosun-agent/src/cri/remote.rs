//! CRI v1 over gRPC on a Unix socket (containerd's CRI plugin).

use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use hyper_util::rt::TokioIo;
use k8s_cri::v1::image_service_client::ImageServiceClient;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use tonic::transport::{Channel, Endpoint, Uri};

use super::{api, CriError, CriResult, ImageService, RuntimeService};

/// Deadline of ordinary calls; stops add the grace period on top.
const CALL_TIMEOUT: Duration = Duration::from_secs(120);
/// Image pulls may be slow.
const PULL_TIMEOUT: Duration = Duration::from_secs(600);

/// A CRI client for one runtime endpoint.
#[derive(Clone)]
pub struct RemoteRuntime {
    runtime: RuntimeServiceClient<Channel>,
    images: ImageServiceClient<Channel>,
}

/// The socket path of a `unix:///path` endpoint (a bare path is accepted).
pub fn socket_path(endpoint: &str) -> CriResult<PathBuf> {
    if let Some(path) = endpoint.strip_prefix("unix://") {
        if path.starts_with('/') {
            return Ok(PathBuf::from(path));
        }
    } else if endpoint.starts_with('/') {
        return Ok(PathBuf::from(endpoint));
    }
    Err(CriError::Endpoint(endpoint.to_string()))
}

fn request<T>(msg: T, timeout: Duration) -> tonic::Request<T> {
    let mut req = tonic::Request::new(msg);
    req.set_timeout(timeout);
    req
}

impl RemoteRuntime {
    /// Connects lazily: the first call dials the socket, and a restarted
    /// runtime is dialled again on the next call.
    pub fn connect(endpoint: &str) -> CriResult<Self> {
        let path = socket_path(endpoint)?;
        // The URI is a placeholder: the connector always dials the socket.
        let channel = Endpoint::try_from("http://[::1]:50051")
            .map_err(|source| CriError::Connect {
                endpoint: endpoint.to_string(),
                source,
            })?
            .connect_timeout(Duration::from_secs(5))
            .connect_with_connector_lazy(tower::service_fn(move |_: Uri| {
                let path = path.clone();
                async move {
                    let stream = tokio::net::UnixStream::connect(path).await?;
                    Ok::<_, std::io::Error>(TokioIo::new(stream))
                }
            }));
        Ok(RemoteRuntime {
            runtime: RuntimeServiceClient::new(channel.clone()),
            images: ImageServiceClient::new(channel),
        })
    }
}

#[async_trait]
impl RuntimeService for RemoteRuntime {
    async fn version(&self) -> CriResult<api::VersionResponse> {
        let req = api::VersionRequest {
            version: "v1".into(),
        };
        let resp = self
            .runtime
            .clone()
            .version(request(req, Duration::from_secs(5)))
            .await
            .map_err(|s| CriError::status("Version", s))?;
        Ok(resp.into_inner())
    }

    async fn status(&self) -> CriResult<api::RuntimeStatus> {
        let resp = self
            .runtime
            .clone()
            .status(request(
                api::StatusRequest { verbose: false },
                Duration::from_secs(5),
            ))
            .await
            .map_err(|s| CriError::status("Status", s))?;
        resp.into_inner().status.ok_or(CriError::Incomplete {
            op: "Status",
            what: "status",
        })
    }

    async fn run_pod_sandbox(&self, config: api::PodSandboxConfig) -> CriResult<String> {
        let req = api::RunPodSandboxRequest {
            config: Some(config),
            runtime_handler: String::new(),
        };
        let resp = self
            .runtime
            .clone()
            .run_pod_sandbox(request(req, CALL_TIMEOUT))
            .await
            .map_err(|s| CriError::status("RunPodSandbox", s))?;
        Ok(resp.into_inner().pod_sandbox_id)
    }

    async fn stop_pod_sandbox(&self, id: &str) -> CriResult<()> {
        let req = api::StopPodSandboxRequest {
            pod_sandbox_id: id.to_string(),
        };
        self.runtime
            .clone()
            .stop_pod_sandbox(request(req, CALL_TIMEOUT))
            .await
            .map_err(|s| CriError::status("StopPodSandbox", s))?;
        Ok(())
    }

    async fn remove_pod_sandbox(&self, id: &str) -> CriResult<()> {
        let req = api::RemovePodSandboxRequest {
            pod_sandbox_id: id.to_string(),
        };
        self.runtime
            .clone()
            .remove_pod_sandbox(request(req, CALL_TIMEOUT))
            .await
            .map_err(|s| CriError::status("RemovePodSandbox", s))?;
        Ok(())
    }

    async fn pod_sandbox_status(&self, id: &str) -> CriResult<api::PodSandboxStatus> {
        let req = api::PodSandboxStatusRequest {
            pod_sandbox_id: id.to_string(),
            verbose: false,
        };
        let resp = self
            .runtime
            .clone()
            .pod_sandbox_status(request(req, CALL_TIMEOUT))
            .await
            .map_err(|s| CriError::status("PodSandboxStatus", s))?;
        resp.into_inner().status.ok_or(CriError::Incomplete {
            op: "PodSandboxStatus",
            what: "status",
        })
    }

    async fn list_pod_sandbox(
        &self,
        filter: Option<api::PodSandboxFilter>,
    ) -> CriResult<Vec<api::PodSandbox>> {
        let req = api::ListPodSandboxRequest { filter };
        let resp = self
            .runtime
            .clone()
            .list_pod_sandbox(request(req, CALL_TIMEOUT))
            .await
            .map_err(|s| CriError::status("ListPodSandbox", s))?;
        Ok(resp.into_inner().items)
    }

    async fn create_container(
        &self,
        sandbox_id: &str,
        config: api::ContainerConfig,
        sandbox_config: api::PodSandboxConfig,
    ) -> CriResult<String> {
        let req = api::CreateContainerRequest {
            pod_sandbox_id: sandbox_id.to_string(),
            config: Some(config),
            sandbox_config: Some(sandbox_config),
        };
        let resp = self
            .runtime
            .clone()
            .create_container(request(req, CALL_TIMEOUT))
            .await
            .map_err(|s| CriError::status("CreateContainer", s))?;
        Ok(resp.into_inner().container_id)
    }

    async fn start_container(&self, id: &str) -> CriResult<()> {
        let req = api::StartContainerRequest {
            container_id: id.to_string(),
        };
        self.runtime
            .clone()
            .start_container(request(req, CALL_TIMEOUT))
            .await
            .map_err(|s| CriError::status("StartContainer", s))?;
        Ok(())
    }

    async fn stop_container(&self, id: &str, timeout_secs: i64) -> CriResult<()> {
        let req = api::StopContainerRequest {
            container_id: id.to_string(),
            timeout: timeout_secs,
        };
        // The deadline must outlast the grace period, or the call is cut
        // off before the runtime sends SIGKILL.
        let grace = Duration::from_secs(timeout_secs.max(0).unsigned_abs());
        self.runtime
            .clone()
            .stop_container(request(req, CALL_TIMEOUT + grace))
            .await
            .map_err(|s| CriError::status("StopContainer", s))?;
        Ok(())
    }

    async fn remove_container(&self, id: &str) -> CriResult<()> {
        let req = api::RemoveContainerRequest {
            container_id: id.to_string(),
        };
        self.runtime
            .clone()
            .remove_container(request(req, CALL_TIMEOUT))
            .await
            .map_err(|s| CriError::status("RemoveContainer", s))?;
        Ok(())
    }

    async fn list_containers(
        &self,
        filter: Option<api::ContainerFilter>,
    ) -> CriResult<Vec<api::Container>> {
        let req = api::ListContainersRequest { filter };
        let resp = self
            .runtime
            .clone()
            .list_containers(request(req, CALL_TIMEOUT))
            .await
            .map_err(|s| CriError::status("ListContainers", s))?;
        Ok(resp.into_inner().containers)
    }

    async fn list_container_stats(&self) -> CriResult<Vec<api::ContainerStats>> {
        let req = api::ListContainerStatsRequest { filter: None };
        let resp = self
            .runtime
            .clone()
            .list_container_stats(request(req, CALL_TIMEOUT))
            .await
            .map_err(|s| CriError::status("ListContainerStats", s))?;
        Ok(resp.into_inner().stats)
    }

    async fn container_status(&self, id: &str) -> CriResult<api::ContainerStatus> {
        let req = api::ContainerStatusRequest {
            container_id: id.to_string(),
            verbose: false,
        };
        let resp = self
            .runtime
            .clone()
            .container_status(request(req, CALL_TIMEOUT))
            .await
            .map_err(|s| CriError::status("ContainerStatus", s))?;
        resp.into_inner().status.ok_or(CriError::Incomplete {
            op: "ContainerStatus",
            what: "status",
        })
    }

    async fn exec(&self, req: api::ExecRequest) -> CriResult<String> {
        let resp = self
            .runtime
            .clone()
            .exec(request(req, CALL_TIMEOUT))
            .await
            .map_err(|s| CriError::status("Exec", s))?;
        Ok(resp.into_inner().url)
    }

    async fn attach(&self, req: api::AttachRequest) -> CriResult<String> {
        let resp = self
            .runtime
            .clone()
            .attach(request(req, CALL_TIMEOUT))
            .await
            .map_err(|s| CriError::status("Attach", s))?;
        Ok(resp.into_inner().url)
    }

    async fn port_forward(&self, req: api::PortForwardRequest) -> CriResult<String> {
        let resp = self
            .runtime
            .clone()
            .port_forward(request(req, CALL_TIMEOUT))
            .await
            .map_err(|s| CriError::status("PortForward", s))?;
        Ok(resp.into_inner().url)
    }

    async fn exec_sync(
        &self,
        id: &str,
        cmd: Vec<String>,
        timeout: Duration,
    ) -> CriResult<api::ExecSyncResponse> {
        let req = api::ExecSyncRequest {
            container_id: id.to_string(),
            cmd,
            timeout: i64::try_from(timeout.as_secs()).unwrap_or(i64::MAX),
        };
        let resp = self
            .runtime
            .clone()
            .exec_sync(request(req, exec_deadline(timeout)))
            .await
            .map_err(|s| CriError::status("ExecSync", s))?;
        Ok(resp.into_inner())
    }
}

fn exec_deadline(timeout: Duration) -> Duration {
    if timeout.is_zero() {
        CALL_TIMEOUT
    } else {
        // The runtime's own timeout must fire first, so the answer says
        // DeadlineExceeded from the runtime rather than a cut-off call.
        timeout + Duration::from_secs(2)
    }
}

fn image_spec(image: &str) -> api::ImageSpec {
    api::ImageSpec {
        image: image.to_string(),
        ..Default::default()
    }
}

#[async_trait]
impl ImageService for RemoteRuntime {
    async fn list_images(&self) -> CriResult<Vec<api::Image>> {
        let resp = self
            .images
            .clone()
            .list_images(request(
                api::ListImagesRequest { filter: None },
                CALL_TIMEOUT,
            ))
            .await
            .map_err(|s| CriError::status("ListImages", s))?;
        Ok(resp.into_inner().images)
    }

    async fn image_status(&self, image: &str) -> CriResult<Option<api::Image>> {
        let req = api::ImageStatusRequest {
            image: Some(image_spec(image)),
            verbose: false,
        };
        let resp = self
            .images
            .clone()
            .image_status(request(req, CALL_TIMEOUT))
            .await
            .map_err(|s| CriError::status("ImageStatus", s))?;
        Ok(resp.into_inner().image)
    }

    async fn pull_image(
        &self,
        image: &str,
        sandbox_config: Option<api::PodSandboxConfig>,
    ) -> CriResult<String> {
        let req = api::PullImageRequest {
            image: Some(image_spec(image)),
            auth: None,
            sandbox_config,
        };
        let resp = self
            .images
            .clone()
            .pull_image(request(req, PULL_TIMEOUT))
            .await
            .map_err(|s| CriError::status("PullImage", s))?;
        Ok(resp.into_inner().image_ref)
    }

    async fn remove_image(&self, image: &str) -> CriResult<()> {
        let req = api::RemoveImageRequest {
            image: Some(image_spec(image)),
        };
        self.images
            .clone()
            .remove_image(request(req, CALL_TIMEOUT))
            .await
            .map_err(|s| CriError::status("RemoveImage", s))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        assert_eq!(
            socket_path("unix:///run/containerd/containerd.sock").ok(),
            Some(PathBuf::from("/run/containerd/containerd.sock"))
        );
        assert_eq!(
            socket_path("/tmp/x.sock").ok(),
            Some(PathBuf::from("/tmp/x.sock"))
        );
        assert!(socket_path("tcp://127.0.0.1:1").is_err());
        assert!(socket_path("unix://relative").is_err());
    }
}
