//! One probe of one container (kubelet's prober worker): runs it every
//! periodSeconds against the container the pod sync points it at, applies
//! initialDelaySeconds and the thresholds, records Unhealthy events and
//! stores conclusive results.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Container, Pod, Probe};
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, MissedTickBehavior};

use super::action::{run_probe, Outcome};
use super::manager::{ResultsCache, WorkerKey};
use super::{timing, ProbeResult, ProbeType};
use crate::cri::RuntimeService;
use crate::events::{EventRecorder, WARNING};

/// The container a worker probes: `None` while none runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub container_id: Option<String>,
    pub pod_ip: String,
}

pub struct WorkerArgs {
    pub key: WorkerKey,
    pub pod: Arc<Pod>,
    pub container: Container,
    pub probe: Probe,
    pub has_startup: bool,
    pub runtime: Arc<dyn RuntimeService>,
    pub events: Arc<dyn EventRecorder>,
    pub results: Arc<ResultsCache>,
    pub updates: mpsc::UnboundedSender<String>,
}

pub async fn run(w: WorkerArgs, mut target: watch::Receiver<Target>) {
    let ty = w.key.2;
    let t = timing(&w.probe);
    let mut ticker = tokio::time::interval(t.period);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut current: Option<String> = None;
    let mut seen_at = Instant::now();
    let mut last_ok: Option<bool> = None;
    let mut run_count = 0u32;
    // After a failed liveness or startup probe: wait for a new container.
    let mut on_hold = false;
    let set = |id: &str, result: ProbeResult| {
        if w.results.set(&w.key, id, result) {
            let _ = w.updates.send(w.key.0.clone());
        }
    };
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            changed = target.changed() => if changed.is_err() { return },
        }
        let now_target = target.borrow_and_update().clone();
        if now_target.container_id != current {
            current = now_target.container_id.clone();
            seen_at = Instant::now();
            last_ok = None;
            run_count = 0;
            on_hold = false;
            match &current {
                Some(id) => set(id, ty.initial()),
                None => w.results.remove(&w.key),
            }
        }
        let Some(id) = current.clone() else { continue };
        if on_hold {
            continue;
        }
        let startup_key = (w.key.0.clone(), w.key.1.clone(), ProbeType::Startup);
        let started = w.results.get(&startup_key, &id) == Some(ProbeResult::Success);
        match ty {
            // Liveness and readiness wait for the startup probe.
            ProbeType::Liveness | ProbeType::Readiness if w.has_startup && !started => continue,
            // A startup probe is done once it succeeded.
            ProbeType::Startup if started => continue,
            _ => {}
        }
        if seen_at.elapsed() < t.initial_delay {
            continue;
        }
        let outcome = run_probe(&*w.runtime, &w.probe, &w.container, &id, &now_target.pod_ip).await;
        if let Outcome::Failure(m) = &outcome {
            tracing::info!(pod = %w.key.0, container = %w.key.1, probe = %ty, message = %m, "probe failed");
            w.events.event(
                &w.pod,
                Some(&w.key.1),
                WARNING,
                "Unhealthy",
                format!("{ty} probe failed: {m}"),
            );
        }
        let ok = outcome.is_success();
        if last_ok == Some(ok) {
            run_count = run_count.saturating_add(1);
        } else {
            last_ok = Some(ok);
            run_count = 1;
        }
        if (!ok && run_count < t.failure_threshold) || (ok && run_count < t.success_threshold) {
            continue;
        }
        set(
            &id,
            if ok {
                ProbeResult::Success
            } else {
                ProbeResult::Failure
            },
        );
        if !ok && ty != ProbeType::Readiness {
            on_hold = true;
        }
    }
}
