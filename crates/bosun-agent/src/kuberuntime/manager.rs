//! Runs one pod's decided actions against the runtime (kubelet's
//! kuberuntime manager: SyncPod, KillPod, EnsureImageExists).

use std::collections::HashMap;
use std::sync::Arc;

use futures::future::join_all;
use k8s_openapi::api::core::v1::{Container, Pod};
use parking_lot::Mutex;
use tokio::time::Instant;

use super::actions::{compute_pod_actions, containers, init_containers, RestartPolicy, Start};
use super::config::{container_config, pod_uid, sandbox_config, ContainerParams};
use super::state::{pod_runtime_status, ContainerState, PodRuntimeStatus};
use crate::backoff::Backoff;
use crate::config::AgentConfig;
use crate::cri::{api, CriResult, Runtime};
use crate::status::generate::Waiting;
use crate::volume::host::VolumeHost;
use crate::volume::{container_mounts, PodVolumes, VolumeManager};

/// What one sync left behind: the runtime state after it, why containers
/// wait, and when the pod should be synced again at the latest.
#[derive(Debug, Default)]
pub struct SyncResult {
    pub runtime: PodRuntimeStatus,
    pub waiting: HashMap<String, Waiting>,
    pub next_sync: Option<Instant>,
    /// The pod was evicted (its containers stopped): the message for its
    /// Failed status with reason Evicted.
    pub evicted: Option<String>,
}

pub struct RuntimeManager {
    pub runtime: Arc<dyn Runtime>,
    pub cfg: Arc<AgentConfig>,
    pub host_ip: String,
    /// ConfigMaps and Secrets for the environment.
    pub config_source: Arc<dyn super::env::ConfigSource>,
    pub volumes: VolumeManager,
    /// The last FailedMount message reported per pod uid.
    mount_failures: Mutex<HashMap<String, String>>,
    /// Container restarts, keyed `<pod uid>/<container>`.
    backoff: Mutex<Backoff>,
    /// Image pulls, keyed `<pod uid>/<container>`.
    image_backoff: Mutex<Backoff>,
}

/// upstream's default: `Always` for `:latest` or no tag, else `IfNotPresent`.
pub fn pull_policy(c: &Container) -> String {
    if let Some(p) = c.image_pull_policy.as_deref().filter(|p| !p.is_empty()) {
        return p.to_string();
    }
    let image = c.image.as_deref().unwrap_or_default();
    let name = image.rsplit('/').next().unwrap_or(image);
    if image.contains('@') {
        return "IfNotPresent".into();
    }
    match name.split_once(':') {
        Some((_, "latest")) | None => "Always".into(),
        Some(_) => "IfNotPresent".into(),
    }
}

fn waiting(reason: &str, message: String) -> Waiting {
    Waiting {
        reason: reason.into(),
        message,
    }
}

impl RuntimeManager {
    pub fn new(
        runtime: Arc<dyn Runtime>,
        cfg: Arc<AgentConfig>,
        host_ip: String,
        config_source: Arc<dyn super::env::ConfigSource>,
        volume_host: Arc<dyn VolumeHost>,
    ) -> Self {
        let volumes = VolumeManager::new(&cfg.data_dir, volume_host);
        let backoff = Backoff::new(cfg.backoff_initial, cfg.backoff_max);
        let image_backoff = Backoff::new(cfg.backoff_initial, cfg.backoff_max);
        RuntimeManager {
            runtime,
            cfg,
            host_ip,
            config_source,
            volumes,
            mount_failures: Mutex::default(),
            backoff: Mutex::new(backoff),
            image_backoff: Mutex::new(image_backoff),
        }
    }

    /// The image's id, pulling it when the policy says so.
    async fn ensure_image(
        &self,
        key: &str,
        c: &Container,
        sandbox: &api::PodSandboxConfig,
    ) -> Result<String, Waiting> {
        let image = c.image.clone().unwrap_or_default();
        let policy = pull_policy(c);
        let present = match self.runtime.image_status(&image).await {
            Ok(img) => img.map(|i| i.id),
            Err(e) => return Err(waiting("ErrImageInspect", e.to_string())),
        };
        match (policy.as_str(), present) {
            ("Never", Some(id)) | ("IfNotPresent", Some(id)) => return Ok(id),
            ("Never", None) => {
                return Err(waiting(
                    "ErrImageNeverPull",
                    format!("Container image \"{image}\" is not present with pull policy of Never"),
                ))
            }
            _ => {}
        }
        let now = Instant::now();
        if self.image_backoff.lock().wait_until(key, now).is_some() {
            return Err(waiting(
                "ImagePullBackOff",
                format!("Back-off pulling image \"{image}\""),
            ));
        }
        match self.runtime.pull_image(&image, Some(sandbox.clone())).await {
            Ok(_) => match self.runtime.image_status(&image).await {
                Ok(Some(img)) => Ok(img.id),
                Ok(None) => Err(waiting(
                    "ErrImagePull",
                    format!("image \"{image}\" missing after pull"),
                )),
                Err(e) => Err(waiting("ErrImagePull", e.to_string())),
            },
            Err(e) => {
                self.image_backoff.lock().restarted(key, now);
                Err(waiting("ErrImagePull", e.to_string()))
            }
        }
    }

    async fn start_container(
        &self,
        pod: &Pod,
        sandbox_id: &str,
        sandbox: &api::PodSandboxConfig,
        pod_ip: &str,
        s: &Start,
        volumes: &PodVolumes,
    ) -> Result<(), Waiting> {
        let list = if s.init {
            init_containers(pod)
        } else {
            containers(pod)
        };
        let Some(c) = list.get(s.index) else {
            return Ok(());
        };
        let key = format!("{}/{}", pod_uid(pod), c.name);
        let image_ref = self.ensure_image(&key, c, sandbox).await?;
        let env = super::env::resolve(pod, c, pod_ip, &self.host_ip, &*self.config_source)
            .await
            .map_err(|m| waiting("CreateContainerConfigError", m))?;
        let vars: HashMap<String, String> = env.iter().cloned().collect();
        let mounts = container_mounts(c, volumes, &vars)
            .map_err(|m| waiting("CreateContainerConfigError", m))?;
        let cfg = container_config(
            pod,
            c,
            &ContainerParams {
                attempt: s.attempt,
                restart_count: s.restart_count,
                image_ref: &image_ref,
                env: &env,
                mounts: &mounts,
            },
        );
        if s.restart_count > 0 {
            self.backoff.lock().restarted(&key, Instant::now());
        }
        let id = self
            .runtime
            .create_container(sandbox_id, cfg, sandbox.clone())
            .await
            .map_err(|e| waiting("CreateContainerError", e.to_string()))?;
        if let Err(e) = self.runtime.start_container(&id).await {
            // Never started: remove it, so the next sync tries afresh.
            let _ = self.runtime.remove_container(&id).await;
            self.backoff.lock().restarted(&key, Instant::now());
            return Err(waiting("RunContainerError", e.to_string()));
        }
        Ok(())
    }

    fn log_dir(&self, pod: &Pod) -> String {
        self.cfg.pod_log_dir(pod_uid(pod)).display().to_string()
    }

    /// Brings the runtime in line with the pod's spec, one step.
    pub async fn sync_pod(&self, pod: &Pod) -> CriResult<SyncResult> {
        let uid = pod_uid(pod).to_string();
        let status = pod_runtime_status(&*self.runtime, &uid).await?;
        let now = Instant::now();
        let in_backoff = |name: &str| {
            self.backoff
                .lock()
                .wait_until(&format!("{uid}/{name}"), now)
                .is_some()
        };
        let actions = compute_pod_actions(pod, &status, &in_backoff);
        let mut result = SyncResult::default();
        if actions.kill_pod {
            self.kill_pod(&uid, 2).await?;
        }
        for id in &actions.kill {
            self.runtime.stop_container(id, 2).await?;
        }
        // Volumes before the sandbox and its containers (kubelet's
        // WaitForAttachAndMount); refreshed on every sync.
        let volumes = match self.volumes.set_up_pod(pod).await {
            Ok(v) => {
                self.mount_failures.lock().remove(&uid);
                v
            }
            Err(e) => {
                let message = e.to_string();
                let new = self
                    .mount_failures
                    .lock()
                    .insert(uid.clone(), message.clone())
                    != Some(message.clone());
                if new {
                    tracing::info!(pod = %uid, %message, "volumes not ready");
                    self.volumes.host().warn(pod, "FailedMount", &message).await;
                }
                result.runtime = status;
                result.next_sync = Some(Instant::now() + std::time::Duration::from_secs(2));
                return Ok(result);
            }
        };
        if let Some(message) = self.volumes.empty_dir_over_limit(pod) {
            tracing::info!(pod = %uid, %message, "evicting pod");
            self.volumes.host().warn(pod, "Evicted", &message).await;
            self.stop_pod(&uid, 0).await?;
            result.runtime = pod_runtime_status(&*self.runtime, &uid).await?;
            result.evicted = Some(message);
            return Ok(result);
        }
        let (sandbox_id, attempt, pod_ip) = match actions.create_sandbox {
            Some(attempt) => {
                let dir = self.log_dir(pod);
                let _ = std::fs::create_dir_all(&dir);
                let cfg = sandbox_config(pod, attempt, &dir);
                let id = self.runtime.run_pod_sandbox(cfg).await?;
                let ip = self
                    .runtime
                    .pod_sandbox_status(&id)
                    .await?
                    .network
                    .map(|n| n.ip)
                    .unwrap_or_default();
                (id, attempt, ip)
            }
            None => match status.ready_sandbox() {
                Some(sb) => (sb.id.clone(), sb.attempt, sb.ip.clone().unwrap_or_default()),
                None => (String::new(), 0, String::new()),
            },
        };
        if !sandbox_id.is_empty() {
            let sandbox = sandbox_config(pod, attempt, &self.log_dir(pod));
            for s in &actions.start {
                if let Err(w) = self
                    .start_container(pod, &sandbox_id, &sandbox, &pod_ip, s, &volumes)
                    .await
                {
                    tracing::info!(pod = %uid, container = %s.name, reason = %w.reason, message = %w.message, "container not started");
                    result.waiting.insert(s.name.clone(), w);
                    // Init containers run one at a time, in order.
                    if s.init {
                        break;
                    }
                }
            }
        }
        result.runtime = pod_runtime_status(&*self.runtime, &uid).await?;
        // Exited containers that will restart after their back-off.
        let policy = RestartPolicy::of(pod);
        let later = Instant::now();
        for c in init_containers(pod).iter().chain(containers(pod)) {
            let Some(r) = result.runtime.latest(&c.name) else {
                continue;
            };
            let is_init = init_containers(pod).iter().any(|i| i.name == c.name);
            let restarts = if is_init {
                r.exit_code != 0 && policy != RestartPolicy::Never
            } else {
                policy.restarts(r.exit_code)
            };
            if r.state != ContainerState::Exited
                || !restarts
                || result.runtime.ready_sandbox().is_none()
            {
                continue;
            }
            let key = format!("{uid}/{}", c.name);
            if let Some(until) = self.backoff.lock().wait_until(&key, later) {
                let secs = until.duration_since(later).as_secs().max(1);
                result.waiting.entry(c.name.clone()).or_insert_with(|| {
                    waiting(
                        "CrashLoopBackOff",
                        format!(
                            "back-off {secs}s restarting failed container={} pod={}_{}({uid})",
                            c.name,
                            pod.metadata.name.as_deref().unwrap_or_default(),
                            pod.metadata.namespace.as_deref().unwrap_or_default()
                        ),
                    )
                });
                result.next_sync = Some(result.next_sync.map_or(until, |n| n.min(until)));
            }
        }
        if result
            .waiting
            .values()
            .any(|w| w.reason == "ImagePullBackOff" || w.reason == "ErrImagePull")
        {
            let retry = later + self.cfg.backoff_initial;
            result.next_sync = Some(result.next_sync.map_or(retry, |n| n.min(retry)));
        }
        Ok(result)
    }

    /// Stops the pod's running containers (SIGTERM, then SIGKILL after
    /// `grace_secs`) and its sandboxes; leaves the records.
    pub async fn stop_pod(&self, uid: &str, grace_secs: i64) -> CriResult<()> {
        let status = pod_runtime_status(&*self.runtime, uid).await?;
        let stops = status
            .running()
            .map(|c| self.runtime.stop_container(&c.id, grace_secs));
        for r in join_all(stops).await {
            match r {
                Err(e) if !e.is_not_found() => return Err(e),
                _ => {}
            }
        }
        for sb in status.sandboxes.iter().filter(|s| s.ready) {
            match self.runtime.stop_pod_sandbox(&sb.id).await {
                Err(e) if !e.is_not_found() => return Err(e),
                _ => {}
            }
        }
        Ok(())
    }

    /// Stops and removes everything of the pod.
    pub async fn kill_pod(&self, uid: &str, grace_secs: i64) -> CriResult<()> {
        self.stop_pod(uid, grace_secs).await?;
        let status = pod_runtime_status(&*self.runtime, uid).await?;
        for c in &status.containers {
            match self.runtime.remove_container(&c.id).await {
                Err(e) if !e.is_not_found() => return Err(e),
                _ => {}
            }
        }
        for sb in &status.sandboxes {
            match self.runtime.remove_pod_sandbox(&sb.id).await {
                Err(e) if !e.is_not_found() => return Err(e),
                _ => {}
            }
        }
        Ok(())
    }

    /// Forgets the pod's back-off records.
    pub fn forget(&self, uid: &str) {
        self.volumes.tear_down_pod(uid);
        self.mount_failures.lock().remove(uid);
        let prefix = format!("{uid}/");
        self.backoff.lock().forget_prefix(&prefix);
        self.image_backoff.lock().forget_prefix(&prefix);
        let _ = std::fs::remove_dir_all(self.cfg.pod_log_dir(uid));
    }
}

/// The grace period for stopping a pod being deleted (the deletion's, else
/// the spec's, else 30 s).
pub fn grace_period(pod: &Pod) -> i64 {
    pod.metadata
        .deletion_grace_period_seconds
        .or_else(|| {
            pod.spec
                .as_ref()
                .and_then(|s| s.termination_grace_period_seconds)
        })
        .unwrap_or(30)
        .max(0)
}
