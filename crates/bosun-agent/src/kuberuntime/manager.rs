//! Runs one pod's decided actions against the runtime (kubelet's
//! kuberuntime manager: SyncPod, KillPod, EnsureImageExists).

use std::collections::HashMap;
use std::sync::Arc;

use std::time::Duration;

use futures::future::join_all;
use k8s_openapi::api::core::v1::{Container, Pod};
use parking_lot::Mutex;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::actions::{
    compute_pod_actions, containers, init_containers, is_sidecar, regular_containers_done,
    RestartPolicy, Start,
};
use super::config::{container_config, pod_uid, sandbox_config, ContainerParams};
use super::lifecycle::run_hook;
use super::state::{pod_runtime_status, ContainerRecord, ContainerState, PodRuntimeStatus};
use crate::backoff::Backoff;
use crate::config::AgentConfig;
use crate::cri::{api, CriResult, Runtime};
use crate::events::{EventRecorder, NullRecorder, NORMAL, WARNING};
use crate::prober::manager::{Probed, ProberManager};
use crate::prober::ProbeType;
use crate::status::generate::Waiting;
use crate::volume::host::VolumeHost;
use crate::volume::{container_mounts, PodVolumes, VolumeManager};

/// kubelet's minimumGracePeriodInSeconds: what a container gets at least
/// for SIGTERM after its preStop hook.
const MINIMUM_GRACE_SECS: i64 = 2;

/// What one sync left behind: the runtime state after it, why containers
/// wait, and when the pod should be synced again at the latest.
#[derive(Debug, Default)]
pub struct SyncResult {
    pub runtime: PodRuntimeStatus,
    pub waiting: HashMap<String, Waiting>,
    pub next_sync: Option<Instant>,
    /// Probe-driven started/ready of running containers, by name.
    pub probed: HashMap<String, Probed>,
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
    pub events: Arc<dyn EventRecorder>,
    pub probes: Arc<ProberManager>,
    /// Pod uids whose probe results changed (taken by the agent loop).
    probe_updates: Mutex<Option<mpsc::UnboundedReceiver<String>>>,
    pub volumes: VolumeManager,
    /// The last FailedMount message reported per pod uid.
    mount_failures: Mutex<HashMap<String, String>>,
    /// Container restarts, keyed `<pod uid>/<container>`.
    backoff: Mutex<Backoff>,
    /// Image pulls, keyed `<pod uid>/<container>`.
    image_backoff: Mutex<Backoff>,
    /// Pod-level cgroups, where the machine has cgroup v1.
    pub pod_cgroups: Option<crate::cm::PodCgroups>,
    /// Bounds how many sandboxes start at once (see
    /// `AgentConfig::max_parallel_sandbox_starts`).
    sandbox_starts: tokio::sync::Semaphore,
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
        let events: Arc<dyn EventRecorder> = Arc::new(NullRecorder);
        let (probes, updates) = ProberManager::new(runtime.clone(), events.clone());
        let sandbox_starts = tokio::sync::Semaphore::new(cfg.max_parallel_sandbox_starts.max(1));
        RuntimeManager {
            runtime,
            cfg,
            host_ip,
            config_source,
            events,
            probes: Arc::new(probes),
            probe_updates: Mutex::new(Some(updates)),
            volumes,
            mount_failures: Mutex::default(),
            backoff: Mutex::new(backoff),
            image_backoff: Mutex::new(image_backoff),
            pod_cgroups: None,
            sandbox_starts,
        }
    }

    /// Records events (the pod's, and its probes') through `events`.
    pub fn with_events(mut self, events: Arc<dyn EventRecorder>) -> Self {
        let (probes, updates) = ProberManager::new(self.runtime.clone(), events.clone());
        self.events = events;
        self.probes = Arc::new(probes);
        *self.probe_updates.lock() = Some(updates);
        self
    }

    /// The channel of pods whose probe results changed (once).
    pub fn take_probe_updates(&self) -> Option<mpsc::UnboundedReceiver<String>> {
        self.probe_updates.lock().take()
    }

    /// The pod's IP (the node's for hostNetwork pods).
    fn pod_ip(&self, pod: Option<&Pod>, status: &PodRuntimeStatus) -> String {
        let host_network = pod
            .and_then(|p| p.spec.as_ref())
            .and_then(|s| s.host_network)
            .unwrap_or(false);
        if host_network {
            return self.host_ip.clone();
        }
        status
            .ready_sandbox()
            .and_then(|s| s.ip.clone())
            .unwrap_or_default()
    }

    /// Stops one container: its preStop hook first, within the grace
    /// period; then SIGTERM, and SIGKILL after what is left of the grace
    /// period (at least 2 s after a hook, as kubelet).
    pub async fn kill_container(
        &self,
        pod: Option<&Pod>,
        r: &ContainerRecord,
        pod_ip: &str,
        grace_secs: i64,
    ) -> CriResult<()> {
        let mut grace = grace_secs.max(0);
        let spec = pod.and_then(|p| find_container(p, &r.name).map(|c| (p, c)));
        let hook = spec.and_then(|(p, c)| {
            c.lifecycle
                .as_ref()
                .and_then(|l| l.pre_stop.as_ref())
                .map(|h| (p, c, h))
        });
        if let Some((p, c, h)) = hook.filter(|_| r.state == ContainerState::Running) {
            let started = Instant::now();
            let limit = Duration::from_secs(grace.unsigned_abs());
            let run = run_hook(&*self.runtime, p, c, h, &r.id, pod_ip, Some(limit));
            match tokio::time::timeout(limit, run).await {
                Ok(Ok(())) => {}
                Ok(Err(message)) => {
                    self.events
                        .event(p, Some(&c.name), WARNING, "FailedPreStopHook", message);
                }
                Err(_) => {
                    tracing::info!(container = %c.name, "preStop hook did not complete within the grace period")
                }
            }
            let spent = i64::try_from(started.elapsed().as_secs()).unwrap_or(i64::MAX);
            grace = (grace - spent).max(MINIMUM_GRACE_SECS);
        }
        match self.runtime.stop_container(&r.id, grace).await {
            Err(e) if !e.is_not_found() => Err(e),
            _ => Ok(()),
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
        let mut cfg = container_config(
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
        match super::termination::prepare(&self.cfg.pod_log_dir(pod_uid(pod)), c, s.attempt) {
            Ok((mount, annotations)) => {
                cfg.mounts.push(mount);
                cfg.annotations.extend(annotations);
            }
            Err(e) => {
                tracing::warn!(container = %c.name, error = %e, "cannot create the termination message file")
            }
        }
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
        if let Some(h) = c.lifecycle.as_ref().and_then(|l| l.post_start.as_ref()) {
            if let Err(message) = run_hook(&*self.runtime, pod, c, h, &id, pod_ip, None).await {
                // kubelet: a failed postStart hook kills the container,
                // which then restarts per the pod's restartPolicy.
                self.events.event(
                    pod,
                    Some(&c.name),
                    WARNING,
                    "FailedPostStartHook",
                    message.clone(),
                );
                let _ = self.runtime.stop_container(&id, pod_grace(pod)).await;
                self.backoff.lock().restarted(&key, Instant::now());
                return Err(waiting("PostStartHookError", message));
            }
        }
        Ok(())
    }

    /// Kills running containers whose liveness or startup probe failed
    /// (kubelet's computePodActions: "failed liveness probe, will be
    /// restarted"); whether any was killed.
    async fn kill_unhealthy(&self, pod: &Pod, status: &PodRuntimeStatus) -> CriResult<bool> {
        let uid = pod_uid(pod);
        let pod_ip = self.pod_ip(Some(pod), status);
        let mut killed = false;
        let probed = init_containers(pod)
            .iter()
            .filter(|c| is_sidecar(c))
            .chain(containers(pod));
        for c in probed {
            let Some(r) = status
                .latest(&c.name)
                .filter(|r| r.state == ContainerState::Running)
            else {
                continue;
            };
            let Some(ty) = self.probes.unhealthy(uid, c, r) else {
                continue;
            };
            let what = if ty == ProbeType::Startup {
                "startup"
            } else {
                "liveness"
            };
            tracing::info!(pod = %uid, container = %c.name, "container failed its {what} probe; killing it");
            self.events.event(
                pod,
                Some(&c.name),
                NORMAL,
                "Killing",
                format!(
                    "Container {} failed {what} probe, will be restarted",
                    c.name
                ),
            );
            let grace = ty
                .of(c)
                .and_then(|p| p.termination_grace_period_seconds)
                .unwrap_or_else(|| pod_grace(pod));
            self.kill_container(Some(pod), r, &pod_ip, grace).await?;
            killed = true;
        }
        Ok(killed)
    }

    fn log_dir(&self, pod: &Pod) -> String {
        self.cfg.pod_log_dir(pod_uid(pod)).display().to_string()
    }

    /// Brings the runtime in line with the pod's spec, one step.
    pub async fn sync_pod(&self, pod: &Pod) -> CriResult<SyncResult> {
        let uid = pod_uid(pod).to_string();
        let mut status = pod_runtime_status(&*self.runtime, &uid).await?;
        if self.kill_unhealthy(pod, &status).await? {
            status = pod_runtime_status(&*self.runtime, &uid).await?;
        }
        let now = Instant::now();
        let in_backoff = |name: &str| {
            self.backoff
                .lock()
                .wait_until(&format!("{uid}/{name}"), now)
                .is_some()
        };
        let started = |r: &ContainerRecord| {
            find_container(pod, &r.name).is_none_or(|c| self.probes.probed(&uid, c, r).started)
        };
        let actions = compute_pod_actions(pod, &status, &in_backoff, &started);
        let mut result = SyncResult::default();
        if actions.kill_pod {
            self.kill_pod(&uid, 2, Some(pod)).await?;
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
                    self.events
                        .event(pod, None, "Warning", "FailedMount", message.clone());
                }
                result.runtime = status;
                result.next_sync = Some(Instant::now() + std::time::Duration::from_secs(2));
                return Ok(result);
            }
        };
        if let Some(message) = self.volumes.empty_dir_over_limit(pod) {
            tracing::info!(pod = %uid, %message, "evicting pod");
            self.events
                .event(pod, None, "Warning", "Evicted", message.clone());
            self.stop_pod(&uid, 0, Some(pod)).await?;
            result.runtime = pod_runtime_status(&*self.runtime, &uid).await?;
            result.evicted = Some(message);
            return Ok(result);
        }
        let (sandbox_id, attempt, pod_ip) = match actions.create_sandbox {
            Some(attempt) => {
                let dir = self.log_dir(pod);
                let _ = std::fs::create_dir_all(&dir);
                let mut cfg = sandbox_config(pod, attempt, &dir);
                self.place_in_pod_cgroup(pod, &uid, &mut cfg, true);
                // A closed semaphore never happens; without a permit the
                // sandbox just starts unbounded.
                let _permit = self.sandbox_starts.acquire().await.ok();
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
            let mut sandbox = sandbox_config(pod, attempt, &self.log_dir(pod));
            self.place_in_pod_cgroup(pod, &uid, &mut sandbox, false);
            for s in &actions.start {
                if let Err(w) = self
                    .start_container(pod, &sandbox_id, &sandbox, &pod_ip, s, &volumes)
                    .await
                {
                    tracing::info!(pod = %uid, container = %s.name, reason = %w.reason, message = %w.message, "container not started");
                    result.waiting.insert(s.name.clone(), w);
                    // Init containers run one at a time, in order.
                    if s.init && !init_containers(pod).get(s.index).is_some_and(is_sidecar) {
                        break;
                    }
                }
            }
        }
        result.runtime = pod_runtime_status(&*self.runtime, &uid).await?;
        let pod_ip = self.pod_ip(Some(pod), &result.runtime);
        self.probes.sync_pod(pod, &result.runtime, &pod_ip);
        result.probed = self.probes.probed_all(pod, &result.runtime);
        let job_done = regular_containers_done(pod, &result.runtime);
        // Exited containers that will restart after their back-off.
        let policy = RestartPolicy::of(pod);
        let later = Instant::now();
        for c in init_containers(pod).iter().chain(containers(pod)) {
            let Some(r) = result.runtime.latest(&c.name) else {
                continue;
            };
            let is_init = init_containers(pod).iter().any(|i| i.name == c.name);
            let restarts = if is_sidecar(c) {
                !job_done
            } else if is_init {
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

    /// Stops the pod's running containers and its sandboxes; leaves the
    /// records. Regular containers stop together (preStop, SIGTERM,
    /// SIGKILL after `grace_secs`), then the sidecars one by one in
    /// reverse order with what is left of the grace period. `pod`: the
    /// spec, when known (for hooks and sidecars).
    pub async fn stop_pod(&self, uid: &str, grace_secs: i64, pod: Option<&Pod>) -> CriResult<()> {
        let status = pod_runtime_status(&*self.runtime, uid).await?;
        let pod_ip = self.pod_ip(pod, &status);
        let sidecars: Vec<&str> = pod
            .map(|p| {
                init_containers(p)
                    .iter()
                    .filter(|c| is_sidecar(c))
                    .map(|c| c.name.as_str())
                    .collect()
            })
            .unwrap_or_default();
        let started = Instant::now();
        let stops = status
            .running()
            .filter(|c| !sidecars.contains(&c.name.as_str()))
            .map(|c| self.kill_container(pod, c, &pod_ip, grace_secs));
        for r in join_all(stops).await {
            r?;
        }
        for name in sidecars.iter().rev() {
            let spent = i64::try_from(started.elapsed().as_secs()).unwrap_or(i64::MAX);
            let left = if grace_secs > 0 {
                (grace_secs - spent).max(MINIMUM_GRACE_SECS)
            } else {
                0
            };
            for c in status.running().filter(|c| c.name == *name) {
                self.kill_container(pod, c, &pod_ip, left).await?;
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
    pub async fn kill_pod(&self, uid: &str, grace_secs: i64, pod: Option<&Pod>) -> CriResult<()> {
        self.stop_pod(uid, grace_secs, pod).await?;
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

    /// Sets the sandbox's cgroup parent to the pod's cgroup, creating it
    /// (with the pod's limits) when `create`. Without pod cgroups, or when
    /// the cgroup cannot be made, containers keep only their own limits.
    fn place_in_pod_cgroup(
        &self,
        pod: &Pod,
        uid: &str,
        cfg: &mut api::PodSandboxConfig,
        create: bool,
    ) {
        let Some(cgroups) = &self.pod_cgroups else {
            return;
        };
        let parent = if create {
            match cgroups.ensure_pod(pod, uid) {
                Ok(name) => name,
                Err(e) => {
                    tracing::warn!(pod = %uid, error = %e, "cannot create the pod's cgroup");
                    return;
                }
            }
        } else {
            crate::cm::pod_cgroup(crate::cm::Qos::of(pod), uid)
        };
        if let Some(linux) = cfg.linux.as_mut() {
            linux.cgroup_parent = parent;
        }
    }

    /// Forgets the pod: back-off records, probe workers, logs and its
    /// cgroup (its containers are gone by now).
    pub fn forget(&self, uid: &str) {
        self.probes.remove_pod(uid);
        self.volumes.tear_down_pod(uid);
        self.mount_failures.lock().remove(uid);
        let prefix = format!("{uid}/");
        self.backoff.lock().forget_prefix(&prefix);
        self.image_backoff.lock().forget_prefix(&prefix);
        let _ = std::fs::remove_dir_all(self.cfg.pod_log_dir(uid));
        if let Some(cgroups) = &self.pod_cgroups {
            if let Err(e) = cgroups.remove_pod(uid) {
                tracing::warn!(pod = %uid, error = %e, "cannot remove the pod's cgroup");
            }
        }
    }
}

/// The container of that name, regular or init.
pub fn find_container<'a>(pod: &'a Pod, name: &str) -> Option<&'a Container> {
    containers(pod)
        .iter()
        .chain(init_containers(pod))
        .find(|c| c.name == name)
}

/// The spec's terminationGracePeriodSeconds (30 s by default).
pub fn pod_grace(pod: &Pod) -> i64 {
    pod.spec
        .as_ref()
        .and_then(|s| s.termination_grace_period_seconds)
        .unwrap_or(30)
        .max(0)
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
