//! An in-memory runtime behind the same traits, for unit tests: sandboxes
//! and containers are records whose state tests drive (`exit_container`),
//! and every call is logged (`calls`).

use std::collections::HashMap;

use async_trait::async_trait;
use parking_lot::Mutex;

use super::{api, CriError, CriResult, ImageService, RuntimeService};

#[derive(Default)]
struct State {
    next_id: u64,
    clock: i64,
    sandboxes: HashMap<String, api::PodSandboxStatus>,
    containers: HashMap<String, api::ContainerStatus>,
    /// Container id → its sandbox.
    container_sandbox: HashMap<String, String>,
    /// Image name → image id.
    images: HashMap<String, String>,
    calls: Vec<String>,
    /// Per-operation injected failures (consumed once each).
    failures: HashMap<&'static str, tonic::Code>,
    /// Container id → (cumulative CPU ns, memory working set bytes).
    usage: HashMap<String, (u64, u64)>,
}

/// Answers ExecSync calls: (container name, command) → exit code and
/// output, or an error code (`DeadlineExceeded` for a timeout).
pub type ExecHandler =
    Box<dyn Fn(&str, &[String]) -> Result<(i32, String), tonic::Code> + Send + Sync>;

/// The fake runtime.
#[derive(Default)]
pub struct FakeRuntime {
    state: Mutex<State>,
    exec: Mutex<Option<ExecHandler>>,
    /// How long RunPodSandbox takes (none by default).
    sandbox_delay: Mutex<Option<std::time::Duration>>,
    /// RunPodSandbox calls in flight, and the most seen at once.
    sandboxes_starting: std::sync::atomic::AtomicUsize,
    most_sandboxes_starting: std::sync::atomic::AtomicUsize,
}

fn labels_match(labels: &HashMap<String, String>, selector: &HashMap<String, String>) -> bool {
    selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

fn not_found(op: &'static str, id: &str) -> CriError {
    CriError::status(op, tonic::Status::not_found(format!("{id} not found")))
}

impl FakeRuntime {
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes every RunPodSandbox take `delay`.
    pub fn set_sandbox_delay(&self, delay: std::time::Duration) {
        *self.sandbox_delay.lock() = Some(delay);
    }

    /// The most RunPodSandbox calls that were in flight at once.
    pub fn most_sandboxes_starting(&self) -> usize {
        self.most_sandboxes_starting
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Makes `image` present.
    pub fn add_image(&self, image: &str) {
        let mut s = self.state.lock();
        let id = format!("sha256:{:064x}", s.images.len() + 1);
        s.images.insert(image.to_string(), id);
    }

    /// How ExecSync answers from now on (default: exit 0, no output).
    pub fn on_exec(
        &self,
        f: impl Fn(&str, &[String]) -> Result<(i32, String), tonic::Code> + Send + Sync + 'static,
    ) {
        *self.exec.lock() = Some(Box::new(f));
    }

    /// The next call of `op` fails with `code`.
    pub fn fail_next(&self, op: &'static str, code: tonic::Code) {
        self.state.lock().failures.insert(op, code);
    }

    /// The running container `id` exits with `code`.
    pub fn exit_container(&self, id: &str, code: i32) {
        let mut s = self.state.lock();
        s.clock += 1;
        let now = s.clock;
        if let Some(c) = s.containers.get_mut(id) {
            c.state = api::ContainerState::ContainerExited as i32;
            c.exit_code = code;
            c.finished_at = now;
            c.reason = if code == 0 { "Completed" } else { "Error" }.into();
        }
    }

    /// What `ListContainerStats` reports for container `id`.
    pub fn set_usage(&self, id: &str, cpu_core_nanos: u64, working_set_bytes: u64) {
        self.state
            .lock()
            .usage
            .insert(id.to_string(), (cpu_core_nanos, working_set_bytes));
    }

    /// The operations called so far, as `Op name` strings.
    pub fn calls(&self) -> Vec<String> {
        self.state.lock().calls.clone()
    }

    /// Containers in the given state, as (pod uid label, name, attempt).
    pub fn containers_in(&self, state: api::ContainerState) -> Vec<(String, String, u32)> {
        let s = self.state.lock();
        let mut out: Vec<_> = s
            .containers
            .values()
            .filter(|c| c.state == state as i32)
            .map(|c| {
                let m = c.metadata.clone().unwrap_or_default();
                (
                    c.labels
                        .get(super::LABEL_POD_UID)
                        .cloned()
                        .unwrap_or_default(),
                    m.name,
                    m.attempt,
                )
            })
            .collect();
        out.sort();
        out
    }

    /// The id of the container named `name` with the highest attempt.
    pub fn container_id(&self, name: &str) -> Option<String> {
        let s = self.state.lock();
        s.containers
            .values()
            .filter(|c| c.metadata.as_ref().is_some_and(|m| m.name == name))
            .max_by_key(|c| c.metadata.as_ref().map(|m| m.attempt))
            .map(|c| c.id.clone())
    }

    pub fn sandbox_count(&self) -> usize {
        self.state.lock().sandboxes.len()
    }

    fn enter(&self, op: &'static str, what: &str) -> CriResult<parking_lot::MutexGuard<'_, State>> {
        let mut s = self.state.lock();
        s.calls.push(format!("{op} {what}"));
        if let Some(code) = s.failures.remove(op) {
            return Err(CriError::status(op, tonic::Status::new(code, "injected")));
        }
        s.clock += 1;
        Ok(s)
    }
}

#[async_trait]
impl RuntimeService for FakeRuntime {
    async fn version(&self) -> CriResult<api::VersionResponse> {
        Ok(api::VersionResponse {
            version: "0.1.0".into(),
            runtime_name: "fake".into(),
            runtime_version: "1.0".into(),
            runtime_api_version: "v1".into(),
        })
    }

    async fn status(&self) -> CriResult<api::RuntimeStatus> {
        let cond = |ty: &str| api::RuntimeCondition {
            r#type: ty.into(),
            status: true,
            ..Default::default()
        };
        Ok(api::RuntimeStatus {
            conditions: vec![cond("RuntimeReady"), cond("NetworkReady")],
        })
    }

    async fn run_pod_sandbox(&self, config: api::PodSandboxConfig) -> CriResult<String> {
        let delay = *self.sandbox_delay.lock();
        if let Some(delay) = delay {
            use std::sync::atomic::Ordering::SeqCst;
            let now = self.sandboxes_starting.fetch_add(1, SeqCst) + 1;
            self.most_sandboxes_starting.fetch_max(now, SeqCst);
            tokio::time::sleep(delay).await;
            self.sandboxes_starting.fetch_sub(1, SeqCst);
        }
        let meta = config.metadata.clone().unwrap_or_default();
        let mut s = self.enter("RunPodSandbox", &meta.name)?;
        s.next_id += 1;
        let id = format!("sb{}", s.next_id);
        let ip = format!("10.244.0.{}", s.next_id + 1);
        let status = api::PodSandboxStatus {
            id: id.clone(),
            metadata: Some(meta),
            state: api::PodSandboxState::SandboxReady as i32,
            created_at: s.clock,
            network: Some(api::PodSandboxNetworkStatus {
                ip,
                additional_ips: vec![],
            }),
            labels: config.labels,
            annotations: config.annotations,
            ..Default::default()
        };
        s.sandboxes.insert(id.clone(), status);
        Ok(id)
    }

    async fn stop_pod_sandbox(&self, id: &str) -> CriResult<()> {
        let mut s = self.enter("StopPodSandbox", id)?;
        let now = s.clock;
        let ids: Vec<String> = s
            .container_sandbox
            .iter()
            .filter(|(_, sb)| sb.as_str() == id)
            .map(|(c, _)| c.clone())
            .collect();
        for c in ids {
            if let Some(c) = s.containers.get_mut(&c) {
                if c.state == api::ContainerState::ContainerRunning as i32 {
                    c.state = api::ContainerState::ContainerExited as i32;
                    c.exit_code = 137;
                    c.finished_at = now;
                    c.reason = "Error".into();
                }
            }
        }
        match s.sandboxes.get_mut(id) {
            Some(sb) => {
                sb.state = api::PodSandboxState::SandboxNotready as i32;
                Ok(())
            }
            None => Err(not_found("StopPodSandbox", id)),
        }
    }

    async fn remove_pod_sandbox(&self, id: &str) -> CriResult<()> {
        let mut s = self.enter("RemovePodSandbox", id)?;
        s.sandboxes.remove(id);
        let ids: Vec<String> = s
            .container_sandbox
            .iter()
            .filter(|(_, sb)| sb.as_str() == id)
            .map(|(c, _)| c.clone())
            .collect();
        for c in ids {
            s.containers.remove(&c);
            s.container_sandbox.remove(&c);
        }
        Ok(())
    }

    async fn pod_sandbox_status(&self, id: &str) -> CriResult<api::PodSandboxStatus> {
        let s = self.state.lock();
        s.sandboxes
            .get(id)
            .cloned()
            .ok_or_else(|| not_found("PodSandboxStatus", id))
    }

    async fn list_pod_sandbox(
        &self,
        filter: Option<api::PodSandboxFilter>,
    ) -> CriResult<Vec<api::PodSandbox>> {
        let s = self.state.lock();
        let filter = filter.unwrap_or_default();
        Ok(s.sandboxes
            .values()
            .filter(|sb| labels_match(&sb.labels, &filter.label_selector))
            .filter(|sb| filter.id.is_empty() || sb.id == filter.id)
            .map(|sb| api::PodSandbox {
                id: sb.id.clone(),
                metadata: sb.metadata.clone(),
                state: sb.state,
                created_at: sb.created_at,
                labels: sb.labels.clone(),
                annotations: sb.annotations.clone(),
                runtime_handler: String::new(),
            })
            .collect())
    }

    async fn create_container(
        &self,
        sandbox_id: &str,
        config: api::ContainerConfig,
        sandbox_config: api::PodSandboxConfig,
    ) -> CriResult<String> {
        let meta = config.metadata.clone().unwrap_or_default();
        let log_path = if config.log_path.is_empty() {
            String::new()
        } else {
            format!("{}/{}", sandbox_config.log_directory, config.log_path)
        };
        let mut s = self.enter("CreateContainer", &meta.name)?;
        if !s.sandboxes.contains_key(sandbox_id) {
            return Err(not_found("CreateContainer", sandbox_id));
        }
        let image = config.image.clone().unwrap_or_default();
        // Kubelet passes the image id; a name works too.
        let known = s
            .images
            .get(&image.image)
            .cloned()
            .or_else(|| s.images.values().find(|id| **id == image.image).cloned());
        let Some(image_id) = known else {
            return Err(not_found("CreateContainer", &image.image));
        };
        s.next_id += 1;
        let id = format!("c{}", s.next_id);
        let status = api::ContainerStatus {
            id: id.clone(),
            metadata: Some(meta),
            state: api::ContainerState::ContainerCreated as i32,
            created_at: s.clock,
            image: Some(image),
            image_ref: image_id,
            labels: config.labels,
            annotations: config.annotations,
            mounts: config.mounts,
            log_path,
            ..Default::default()
        };
        s.containers.insert(id.clone(), status);
        s.container_sandbox
            .insert(id.clone(), sandbox_id.to_string());
        Ok(id)
    }

    async fn start_container(&self, id: &str) -> CriResult<()> {
        let mut s = self.enter("StartContainer", id)?;
        let now = s.clock;
        let c = s
            .containers
            .get_mut(id)
            .ok_or_else(|| not_found("StartContainer", id))?;
        c.state = api::ContainerState::ContainerRunning as i32;
        c.started_at = now;
        Ok(())
    }

    async fn stop_container(&self, id: &str, timeout_secs: i64) -> CriResult<()> {
        let mut s = self.enter("StopContainer", &format!("{id} {timeout_secs}"))?;
        let now = s.clock;
        let c = s
            .containers
            .get_mut(id)
            .ok_or_else(|| not_found("StopContainer", id))?;
        if c.state == api::ContainerState::ContainerRunning as i32 {
            c.state = api::ContainerState::ContainerExited as i32;
            c.exit_code = 143;
            c.finished_at = now;
            c.reason = "Error".into();
        }
        Ok(())
    }

    async fn remove_container(&self, id: &str) -> CriResult<()> {
        let mut s = self.enter("RemoveContainer", id)?;
        s.containers.remove(id);
        s.container_sandbox.remove(id);
        Ok(())
    }

    async fn list_containers(
        &self,
        filter: Option<api::ContainerFilter>,
    ) -> CriResult<Vec<api::Container>> {
        let s = self.state.lock();
        let filter = filter.unwrap_or_default();
        Ok(s.containers
            .values()
            .filter(|c| labels_match(&c.labels, &filter.label_selector))
            .map(|c| api::Container {
                id: c.id.clone(),
                pod_sandbox_id: s.container_sandbox.get(&c.id).cloned().unwrap_or_default(),
                metadata: c.metadata.clone(),
                image: c.image.clone(),
                image_ref: c.image_ref.clone(),
                state: c.state,
                created_at: c.created_at,
                labels: c.labels.clone(),
                annotations: c.annotations.clone(),
                image_id: c.image_ref.clone(),
            })
            .filter(|c| {
                filter.pod_sandbox_id.is_empty() || c.pod_sandbox_id == filter.pod_sandbox_id
            })
            .collect())
    }

    async fn container_status(&self, id: &str) -> CriResult<api::ContainerStatus> {
        let s = self.state.lock();
        s.containers
            .get(id)
            .cloned()
            .ok_or_else(|| not_found("ContainerStatus", id))
    }

    async fn list_container_stats(&self) -> CriResult<Vec<api::ContainerStats>> {
        let s = self.enter("ListContainerStats", "")?;
        let now = s.clock;
        let value = |v: u64| Some(api::UInt64Value { value: v });
        Ok(s.containers
            .values()
            .filter(|c| c.state == api::ContainerState::ContainerRunning as i32)
            .map(|c| {
                let (cpu, mem) = s.usage.get(&c.id).copied().unwrap_or_default();
                api::ContainerStats {
                    attributes: Some(api::ContainerAttributes {
                        id: c.id.clone(),
                        metadata: c.metadata.clone(),
                        labels: c.labels.clone(),
                        annotations: c.annotations.clone(),
                    }),
                    cpu: Some(api::CpuUsage {
                        timestamp: now,
                        usage_core_nano_seconds: value(cpu),
                        usage_nano_cores: None,
                    }),
                    memory: Some(api::MemoryUsage {
                        timestamp: now,
                        working_set_bytes: value(mem),
                        ..Default::default()
                    }),
                    ..Default::default()
                }
            })
            .collect())
    }

    async fn exec(&self, req: api::ExecRequest) -> CriResult<String> {
        let s = self.enter("Exec", &req.container_id)?;
        running_url(&s, "exec", &req.container_id)
    }

    async fn attach(&self, req: api::AttachRequest) -> CriResult<String> {
        let s = self.enter("Attach", &req.container_id)?;
        running_url(&s, "attach", &req.container_id)
    }

    async fn port_forward(&self, req: api::PortForwardRequest) -> CriResult<String> {
        let s = self.enter("PortForward", &req.pod_sandbox_id)?;
        if !s.sandboxes.contains_key(&req.pod_sandbox_id) {
            return Err(not_found("PortForward", &req.pod_sandbox_id));
        }
        Ok(format!(
            "http://127.0.0.1:0/portforward/{}",
            req.pod_sandbox_id
        ))
    }

    async fn exec_sync(
        &self,
        id: &str,
        cmd: Vec<String>,
        _timeout: std::time::Duration,
    ) -> CriResult<api::ExecSyncResponse> {
        let name = {
            let s = self.enter("ExecSync", &format!("{id} {}", cmd.join(" ")))?;
            let c = s
                .containers
                .get(id)
                .ok_or_else(|| not_found("ExecSync", id))?;
            if c.state != api::ContainerState::ContainerRunning as i32 {
                return Err(CriError::status(
                    "ExecSync",
                    tonic::Status::failed_precondition(format!("container {id} is not running")),
                ));
            }
            c.metadata
                .as_ref()
                .map(|m| m.name.clone())
                .unwrap_or_default()
        };
        let answer = match &*self.exec.lock() {
            Some(f) => f(&name, &cmd),
            None => Ok((0, String::new())),
        };
        match answer {
            Ok((exit_code, out)) => Ok(api::ExecSyncResponse {
                stdout: out.into_bytes(),
                stderr: vec![],
                exit_code,
            }),
            Err(code) => Err(CriError::status(
                "ExecSync",
                tonic::Status::new(code, "injected"),
            )),
        }
    }
}

/// A streaming URL for a running container, as containerd refuses others.
fn running_url(s: &State, op: &'static str, id: &str) -> CriResult<String> {
    match s.containers.get(id) {
        Some(c) if c.state == api::ContainerState::ContainerRunning as i32 => {
            Ok(format!("http://127.0.0.1:0/{op}/{id}"))
        }
        Some(_) => Err(CriError::status(
            "Exec",
            tonic::Status::failed_precondition(format!("container {id} is not running")),
        )),
        None => Err(not_found("Exec", id)),
    }
}

#[async_trait]
impl ImageService for FakeRuntime {
    async fn list_images(&self) -> CriResult<Vec<api::Image>> {
        let s = self.state.lock();
        Ok(s.images
            .iter()
            .map(|(name, id)| api::Image {
                id: id.clone(),
                repo_tags: vec![name.clone()],
                ..Default::default()
            })
            .collect())
    }

    async fn image_status(&self, image: &str) -> CriResult<Option<api::Image>> {
        let s = self.state.lock();
        Ok(s.images.get(image).map(|id| api::Image {
            id: id.clone(),
            repo_tags: vec![image.to_string()],
            ..Default::default()
        }))
    }

    async fn pull_image(
        &self,
        image: &str,
        _sandbox_config: Option<api::PodSandboxConfig>,
    ) -> CriResult<String> {
        let _s = self.enter("PullImage", image)?;
        Err(CriError::status(
            "PullImage",
            tonic::Status::not_found(format!("{image}: no registry in the fake runtime")),
        ))
    }

    async fn remove_image(&self, image: &str) -> CriResult<()> {
        self.state.lock().images.remove(image);
        Ok(())
    }
}
