//! The prober manager: one worker per probed (pod, container, probe
//! type), and the results cache the pod sync reads.

use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Container, Pod};
use parking_lot::Mutex;
use tokio::sync::{mpsc, watch};

use super::worker::{self, Target, WorkerArgs};
use super::{is_sidecar, ProbeResult, ProbeType};
use crate::cri::RuntimeService;
use crate::events::EventRecorder;
use crate::kuberuntime::actions::{containers, init_containers};
use crate::kuberuntime::config::pod_uid;
use crate::kuberuntime::state::{ContainerRecord, ContainerState, PodRuntimeStatus};

/// (pod uid, container name, probe type).
pub type WorkerKey = (String, String, ProbeType);

/// The latest conclusive result per worker, for the container id it
/// was found on (kubelet's results.Manager).
#[derive(Default)]
pub struct ResultsCache {
    results: Mutex<HashMap<WorkerKey, (String, ProbeResult)>>,
}

impl ResultsCache {
    /// Stores a result; whether it differs from what was there.
    pub fn set(&self, key: &WorkerKey, container_id: &str, result: ProbeResult) -> bool {
        let mut m = self.results.lock();
        let new = (container_id.to_string(), result);
        if m.get(key) == Some(&new) {
            return false;
        }
        m.insert(key.clone(), new);
        true
    }

    /// The result for this container id, if the worker has one.
    pub fn get(&self, key: &WorkerKey, container_id: &str) -> Option<ProbeResult> {
        self.results
            .lock()
            .get(key)
            .filter(|(id, _)| id == container_id)
            .map(|(_, r)| *r)
    }

    pub fn remove(&self, key: &WorkerKey) {
        self.results.lock().remove(key);
    }

    fn remove_pod(&self, uid: &str) {
        self.results.lock().retain(|k, _| k.0 != uid);
    }
}

/// A running container's probe-driven state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probed {
    /// The startup probe succeeded (or there is none).
    pub started: bool,
    /// Started and the readiness probe succeeds (or there is none).
    pub ready: bool,
}

struct Worker {
    target: watch::Sender<Target>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub struct ProberManager {
    runtime: Arc<dyn RuntimeService>,
    events: Arc<dyn EventRecorder>,
    results: Arc<ResultsCache>,
    workers: Mutex<HashMap<WorkerKey, Worker>>,
    updates: mpsc::UnboundedSender<String>,
}

/// The containers that may be probed.
fn probed_containers(pod: &Pod) -> impl Iterator<Item = &Container> {
    init_containers(pod)
        .iter()
        .filter(|c| is_sidecar(c))
        .chain(containers(pod))
}

impl ProberManager {
    /// The receiver gets a pod uid whenever one of its probe results
    /// changes (the pod needs a sync).
    pub fn new(
        runtime: Arc<dyn RuntimeService>,
        events: Arc<dyn EventRecorder>,
    ) -> (Self, mpsc::UnboundedReceiver<String>) {
        let (updates, rx) = mpsc::unbounded_channel();
        (
            ProberManager {
                runtime,
                events,
                results: Arc::default(),
                workers: Mutex::default(),
                updates,
            },
            rx,
        )
    }

    /// Starts the workers of the pod's probes and points each at the
    /// container that runs now (kubelet's AddPod + the worker reading the
    /// pod status).
    pub fn sync_pod(&self, pod: &Pod, rt: &PodRuntimeStatus, pod_ip: &str) {
        let uid = pod_uid(pod).to_string();
        let mut shared: Option<Arc<Pod>> = None;
        let mut workers = self.workers.lock();
        let mut wanted = vec![];
        for c in probed_containers(pod) {
            let running = rt
                .latest(&c.name)
                .filter(|r| r.state == ContainerState::Running)
                .filter(|r| rt.ready_sandbox().is_some_and(|sb| sb.id == r.sandbox_id))
                .map(|r| r.id.clone());
            for ty in ProbeType::ALL {
                let Some(probe) = ty.of(c) else { continue };
                let key = (uid.clone(), c.name.clone(), ty);
                wanted.push(key.clone());
                let target = Target {
                    container_id: running.clone(),
                    pod_ip: pod_ip.to_string(),
                };
                match workers.get(&key) {
                    Some(w) => {
                        w.target.send_if_modified(|t| {
                            let changed = *t != target;
                            *t = target;
                            changed
                        });
                    }
                    None => {
                        let (tx, rx) = watch::channel(target);
                        let args = WorkerArgs {
                            key: key.clone(),
                            pod: shared.get_or_insert_with(|| Arc::new(pod.clone())).clone(),
                            container: c.clone(),
                            probe: probe.clone(),
                            has_startup: c.startup_probe.is_some(),
                            runtime: self.runtime.clone(),
                            events: self.events.clone(),
                            results: self.results.clone(),
                            updates: self.updates.clone(),
                        };
                        let task = tokio::spawn(worker::run(args, rx));
                        workers.insert(key, Worker { target: tx, task });
                    }
                }
            }
        }
        workers.retain(|k, _| k.0 != uid || wanted.contains(k));
    }

    /// Stops the pod's workers and forgets its results.
    pub fn remove_pod(&self, uid: &str) {
        self.workers.lock().retain(|k, _| k.0 != uid);
        self.results.remove_pod(uid);
    }

    fn result(
        &self,
        uid: &str,
        c: &Container,
        ty: ProbeType,
        r: &ContainerRecord,
    ) -> Option<ProbeResult> {
        self.results
            .get(&(uid.to_string(), c.name.clone(), ty), &r.id)
    }

    /// started and ready of a running container.
    pub fn probed(&self, uid: &str, c: &Container, r: &ContainerRecord) -> Probed {
        let started = c.startup_probe.is_none()
            || self.result(uid, c, ProbeType::Startup, r) == Some(ProbeResult::Success);
        let ready = started
            && (c.readiness_probe.is_none()
                || self.result(uid, c, ProbeType::Readiness, r) == Some(ProbeResult::Success));
        Probed { started, ready }
    }

    /// The probe whose failure means the container must be restarted.
    pub fn unhealthy(&self, uid: &str, c: &Container, r: &ContainerRecord) -> Option<ProbeType> {
        [ProbeType::Startup, ProbeType::Liveness]
            .into_iter()
            .find(|ty| {
                ty.of(c).is_some() && self.result(uid, c, *ty, r) == Some(ProbeResult::Failure)
            })
    }

    /// Probe-driven state of every running probed container, by name.
    pub fn probed_all(&self, pod: &Pod, rt: &PodRuntimeStatus) -> HashMap<String, Probed> {
        let uid = pod_uid(pod);
        probed_containers(pod)
            .filter_map(|c| {
                let r = rt.latest(&c.name)?;
                (r.state == ContainerState::Running)
                    .then(|| (c.name.clone(), self.probed(uid, c, r)))
            })
            .collect()
    }
}
