//! Heartbeats: each node's Lease renewed every `lease_interval` and its
//! conditions' lastHeartbeatTime every `status_interval`, spread evenly over
//! the interval (a time wheel of 100 ms slots, each covering a contiguous
//! run of node indexes) with a bounded number of writes in flight.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, Patch, PatchParams};
use kube::Client;
use parking_lot::Mutex;
use serde_json::json;
use tokio::sync::mpsc;

use crate::config::SimConfig;
use crate::node::{micro_time_string, node_conditions, time_string, LEASE_NAMESPACE};
use crate::register::{recreate_lease, SimNode};
use crate::retry::is_not_found;

/// The wheel's slot length for the given intervals: at most 100 ms, at
/// least 10 ms, and no more than a tenth of the shorter interval.
pub fn tick_for(lease: Duration, status: Duration) -> Duration {
    (lease.min(status) / 10).clamp(Duration::from_millis(10), Duration::from_millis(100))
}

/// How many slots of `tick` one `interval` spans (at least one).
pub fn slots_for(interval: Duration, tick: Duration) -> u64 {
    let ratio = interval.as_secs_f64() / tick.as_secs_f64();
    (ratio.round() as u64).max(1)
}

/// The node indexes handled in `slot` of `slots` when `n` nodes share the
/// interval: node i falls in slot ⌊i·slots/n⌋, so slots get ⌊n/slots⌋ or
/// ⌈n/slots⌉ nodes each, and node i beats at offset i/n of the interval.
pub fn slot_range(slot: u64, slots: u64, n: usize) -> std::ops::Range<usize> {
    let n = n as u64;
    let start = (slot * n).div_ceil(slots);
    let end = ((slot + 1) * n).div_ceil(slots);
    start as usize..end as usize
}

#[derive(Debug, Clone, Copy)]
enum Beat {
    Lease(usize),
    Status(usize),
}

struct Ctx {
    cfg: Arc<SimConfig>,
    client: Client,
    leases: Api<Lease>,
    nodes_api: Api<Node>,
    nodes: Arc<Vec<SimNode>>,
    failures: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl Ctx {
    fn failed(&self, node: &SimNode, what: &str, e: &kube::Error) {
        self.failures.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(node = %node.id.name, error = %e, "{what} failed");
        *self.last_error.lock() = Some(format!("{what} of {}: {e}", node.id.name));
    }

    async fn beat(&self, beat: Beat) {
        let (Beat::Lease(i) | Beat::Status(i)) = beat;
        let Some(node) = self.nodes.get(i).filter(|n| !n.is_gone()) else {
            return;
        };
        match beat {
            Beat::Lease(_) => self.renew_lease(node).await,
            Beat::Status(_) => self.refresh_status(node).await,
        }
    }

    async fn renew_lease(&self, node: &SimNode) {
        let name = &node.id.name;
        let patch = json!({"spec": {
            "holderIdentity": name,
            "renewTime": micro_time_string(chrono::Utc::now()),
        }});
        match self
            .leases
            .patch(name, &PatchParams::default(), &Patch::Merge(patch))
            .await
        {
            Ok(_) => {}
            Err(e) if is_not_found(&e) => self.recover_lease(node).await,
            Err(e) => self.failed(node, "lease renewal", &e),
        }
    }

    /// The Lease is gone: recreate it for the Node (which may itself have
    /// been recreated with a new uid, or deleted).
    async fn recover_lease(&self, node: &SimNode) {
        let name = &node.id.name;
        let uid = match self.nodes_api.get(name).await {
            Ok(n) => n.metadata.uid.unwrap_or_default(),
            Err(e) if is_not_found(&e) => return node.mark_gone(),
            Err(e) => return self.failed(node, "node read", &e),
        };
        *node.uid.lock() = uid.clone();
        tracing::info!(node = %name, "lease missing; recreating it");
        if let Err(e) = recreate_lease(&self.client, &self.cfg, name, &uid).await {
            self.failed(node, "lease creation", &e);
        }
    }

    async fn refresh_status(&self, node: &SimNode) {
        let now = time_string(chrono::Utc::now());
        let patch = json!({"status": {"conditions": node_conditions(&now, &node.transition)}});
        match self
            .nodes_api
            .patch_status(
                &node.id.name,
                &PatchParams::default(),
                &Patch::Strategic(patch),
            )
            .await
        {
            Ok(_) => {}
            Err(e) if is_not_found(&e) => node.mark_gone(),
            Err(e) => self.failed(node, "node status update", &e),
        }
    }

    /// Logs the failures of the last period, if any.
    fn report(&self) {
        let failures = self.failures.swap(0, Ordering::Relaxed);
        if failures > 0 {
            let last = self.last_error.lock().take().unwrap_or_default();
            tracing::warn!(failures, last_error = %last, "heartbeat writes failed");
        }
    }
}

/// Runs the heartbeats until the future is dropped.
pub async fn run(client: Client, cfg: Arc<SimConfig>, nodes: Arc<Vec<SimNode>>) {
    let ctx = Ctx {
        leases: Api::namespaced(client.clone(), LEASE_NAMESPACE),
        nodes_api: Api::all(client.clone()),
        client,
        cfg: cfg.clone(),
        nodes,
        failures: AtomicU64::new(0),
        last_error: Mutex::new(None),
    };
    let (tx, mut rx) = mpsc::channel::<Beat>(1024);
    let n = ctx.nodes.len();
    let ctx_ref = &ctx;
    let producer = async move {
        let tick = tick_for(cfg.lease_interval, cfg.status_interval);
        let lease_slots = slots_for(cfg.lease_interval, tick);
        let status_slots = slots_for(cfg.status_interval, tick);
        let mut timer = tokio::time::interval(tick);
        // A late tick is caught up (never skipped): every node keeps beating.
        timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let mut k: u64 = 0;
        let mut last_report = tokio::time::Instant::now();
        loop {
            timer.tick().await;
            if last_report.elapsed() >= cfg.lease_interval {
                last_report = tokio::time::Instant::now();
                ctx_ref.report();
            }
            let leases = slot_range(k % lease_slots, lease_slots, n).map(Beat::Lease);
            let statuses = slot_range(k % status_slots, status_slots, n).map(Beat::Status);
            for beat in leases.chain(statuses) {
                if tx.send(beat).await.is_err() {
                    return;
                }
            }
            k += 1;
        }
    };
    let consumer = futures::stream::poll_fn(|cx| rx.poll_recv(cx))
        .for_each_concurrent(ctx_ref.cfg.heartbeat_concurrency, |beat| async move {
            ctx_ref.beat(beat).await
        });
    futures::join!(producer, consumer);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_cover_every_node_once() {
        for (n, slots) in [(5000usize, 100u64), (3, 100), (0, 10), (101, 100), (7, 7)] {
            let mut seen = vec![0u32; n];
            for s in 0..slots {
                for i in slot_range(s, slots, n) {
                    seen[i] += 1;
                }
            }
            assert!(seen.iter().all(|c| *c == 1), "n={n} slots={slots}");
        }
        // Evenly spread: 5,000 nodes over 100 slots is 50 a slot.
        assert!((0..100).all(|s| slot_range(s, 100, 5000).len() == 50));
        assert_eq!(slot_range(1, 600, 5000), 9..17);
    }

    #[test]
    fn ticks() {
        let tick = tick_for(Duration::from_secs(10), Duration::from_secs(60));
        assert_eq!(tick, Duration::from_millis(100));
        assert_eq!(slots_for(Duration::from_secs(10), tick), 100);
        assert_eq!(slots_for(Duration::from_secs(60), tick), 600);
        let fast = tick_for(Duration::from_millis(200), Duration::from_secs(1));
        assert_eq!(fast, Duration::from_millis(20));
    }
}
