//! What the runtime runs for one pod, read through CRI: its sandboxes and
//! containers, newest first (kubelet's kubecontainer.PodStatus).

use std::collections::HashMap;

use crate::cri::{
    api, pod_selector, CriResult, RuntimeService, ANNOTATION_RESTART_COUNT, LABEL_CONTAINER_NAME,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerState {
    Created,
    Running,
    Exited,
    Unknown,
}

impl ContainerState {
    fn from_cri(state: i32) -> Self {
        match api::ContainerState::try_from(state) {
            Ok(api::ContainerState::ContainerCreated) => ContainerState::Created,
            Ok(api::ContainerState::ContainerRunning) => ContainerState::Running,
            Ok(api::ContainerState::ContainerExited) => ContainerState::Exited,
            _ => ContainerState::Unknown,
        }
    }
}

/// One container as the runtime reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerRecord {
    pub id: String,
    pub sandbox_id: String,
    pub name: String,
    pub attempt: u32,
    pub state: ContainerState,
    /// Unix nanoseconds (0 when not yet).
    pub created_at: i64,
    pub started_at: i64,
    pub finished_at: i64,
    pub exit_code: i32,
    pub reason: String,
    pub message: String,
    pub image: String,
    pub image_ref: String,
    pub restart_count: i32,
}

/// One sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxRecord {
    pub id: String,
    pub attempt: u32,
    pub ready: bool,
    pub created_at: i64,
    pub ip: Option<String>,
}

/// All of one pod's runtime objects, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodRuntimeStatus {
    pub sandboxes: Vec<SandboxRecord>,
    pub containers: Vec<ContainerRecord>,
}

impl PodRuntimeStatus {
    /// The newest sandbox, if it is ready.
    pub fn ready_sandbox(&self) -> Option<&SandboxRecord> {
        self.sandboxes.first().filter(|s| s.ready)
    }

    /// The newest record of container `name` (in the newest sandbox).
    pub fn latest(&self, name: &str) -> Option<&ContainerRecord> {
        self.containers.iter().find(|c| c.name == name)
    }

    /// The record before the newest one of `name` (for lastState).
    pub fn previous(&self, name: &str) -> Option<&ContainerRecord> {
        self.containers.iter().filter(|c| c.name == name).nth(1)
    }

    pub fn running(&self) -> impl Iterator<Item = &ContainerRecord> {
        self.containers
            .iter()
            .filter(|c| matches!(c.state, ContainerState::Running | ContainerState::Created))
    }
}

fn record_from(status: api::ContainerStatus, sandbox_id: String) -> ContainerRecord {
    let state = ContainerState::from_cri(status.state);
    let message = if state == ContainerState::Exited && status.message.is_empty() {
        super::termination::read_message(&status)
    } else {
        status.message.clone()
    };
    let meta = status.metadata.unwrap_or_default();
    let name = status
        .labels
        .get(LABEL_CONTAINER_NAME)
        .cloned()
        .unwrap_or(meta.name);
    let restart_count = status
        .annotations
        .get(ANNOTATION_RESTART_COUNT)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    ContainerRecord {
        id: status.id,
        sandbox_id,
        name,
        attempt: meta.attempt,
        state,
        created_at: status.created_at,
        started_at: status.started_at,
        finished_at: status.finished_at,
        exit_code: status.exit_code,
        reason: status.reason,
        message,
        image: status.image.map(|i| i.image).unwrap_or_default(),
        image_ref: status.image_ref,
        restart_count,
    }
}

/// Reads one pod's sandboxes and containers from the runtime.
pub async fn pod_runtime_status(
    runtime: &dyn RuntimeService,
    uid: &str,
) -> CriResult<PodRuntimeStatus> {
    let sandboxes = runtime
        .list_pod_sandbox(Some(api::PodSandboxFilter {
            label_selector: pod_selector(uid),
            ..Default::default()
        }))
        .await?;
    let mut out = PodRuntimeStatus::default();
    for sb in sandboxes {
        let ready = sb.state == api::PodSandboxState::SandboxReady as i32;
        out.sandboxes.push(SandboxRecord {
            attempt: sb.metadata.as_ref().map(|m| m.attempt).unwrap_or(0),
            id: sb.id,
            ready,
            created_at: sb.created_at,
            ip: None,
        });
    }
    out.sandboxes
        .sort_by_key(|s| std::cmp::Reverse((s.created_at, s.attempt)));
    if let Some(first) = out.sandboxes.first_mut().filter(|s| s.ready) {
        match runtime.pod_sandbox_status(&first.id).await {
            Ok(st) => {
                first.ip = st.network.map(|n| n.ip).filter(|ip| !ip.is_empty());
            }
            Err(e) if e.is_not_found() => first.ready = false,
            Err(e) => return Err(e),
        }
    }
    let containers = runtime
        .list_containers(Some(api::ContainerFilter {
            label_selector: pod_selector(uid),
            ..Default::default()
        }))
        .await?;
    let order: HashMap<&str, usize> = out
        .sandboxes
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.as_str(), i))
        .collect();
    let mut records = vec![];
    for c in &containers {
        match runtime.container_status(&c.id).await {
            Ok(st) => records.push(record_from(st, c.pod_sandbox_id.clone())),
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e),
        }
    }
    // Newest sandbox first, then newest attempt first.
    records.sort_by_key(|r| {
        (
            order
                .get(r.sandbox_id.as_str())
                .copied()
                .unwrap_or(usize::MAX),
            std::cmp::Reverse((r.attempt, r.created_at)),
        )
    });
    out.containers = records;
    Ok(out)
}

/// The container ID as the API shows it.
pub fn container_id_uri(id: &str) -> String {
    format!("containerd://{id}")
}

/// Unix nanoseconds to RFC 3339 (metav1.Time), `None` for 0.
pub fn nanos_to_time(ns: i64) -> Option<String> {
    if ns <= 0 {
        return None;
    }
    let t = chrono::DateTime::from_timestamp(ns / 1_000_000_000, (ns % 1_000_000_000) as u32)?;
    Some(crate::node::time_string(t))
}
