//! Pod lifecycle on the simulated nodes: watch bound pods, start the ones
//! on our nodes (status Running through `pods/{name}/status`), end them
//! when their `sim.bosun.dev/*-after` annotation says so, and finish
//! graceful deletions.
//!
//! One loop owns all state (per-pod records, the nodes' address pools, the
//! end timers); API writes run in a bounded worker pool and report back.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, Patch, PatchParams, Preconditions};
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::Client;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::config::SimConfig;
use crate::error::SimError;
use crate::ipam::IpPool;
use crate::pod_status::{finished_patch, planned_end, running_patch, Outcome};
use crate::register::SimNode;
use crate::retry::{is_conflict, is_not_found, is_transient, Backoff};

/// Where a pod on one of our nodes stands, as far as the simulator knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// The Running status write is in flight.
    Starting,
    Running,
    /// The Succeeded/Failed status write is in flight.
    Finishing,
    Finished,
    /// The final delete is in flight or done.
    Deleting,
}

#[derive(Debug)]
struct Record {
    node: usize,
    /// The address taken from the node's pool (not for hostNetwork pods).
    ip: Option<Ipv4Addr>,
    phase: Phase,
    /// Whether the end timer was armed (or the annotation was invalid).
    end_planned: bool,
    outcome: Option<Outcome>,
    /// The latest pod, kept only while an end is planned.
    pod: Option<Arc<Pod>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JobKind {
    Start,
    Finish,
    Delete,
}

#[derive(Debug)]
struct Job {
    kind: JobKind,
    namespace: String,
    name: String,
    uid: String,
    /// The status patch (Start, Finish).
    patch: Value,
}

#[derive(Debug)]
struct Done {
    uid: String,
    kind: JobKind,
    ok: bool,
}

struct State {
    node_index: HashMap<String, usize>,
    node_ips: Vec<Ipv4Addr>,
    pools: Vec<IpPool>,
    records: HashMap<String, Record>,
    timers: BinaryHeap<Reverse<(Instant, String)>>,
    jobs: mpsc::UnboundedSender<Job>,
    /// During a re-list: the uids listed so far.
    relist: Option<HashSet<String>>,
}

fn meta_of(pod: &Pod) -> Option<(String, String, String)> {
    let m = &pod.metadata;
    Some((m.namespace.clone()?, m.name.clone()?, m.uid.clone()?))
}

fn time_to_chrono(
    t: &k8s_openapi::apimachinery::pkg::apis::meta::v1::Time,
) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::from_timestamp(t.0.as_second(), t.0.subsec_nanosecond().max(0) as u32)
}

impl State {
    fn new(nodes: &[SimNode], jobs: mpsc::UnboundedSender<Job>) -> Self {
        State {
            node_index: nodes
                .iter()
                .enumerate()
                .map(|(i, n)| (n.id.name.clone(), i))
                .collect(),
            node_ips: nodes.iter().map(|n| n.id.internal_ip).collect(),
            pools: nodes.iter().map(|n| IpPool::new(n.pod_net)).collect(),
            records: HashMap::new(),
            timers: BinaryHeap::new(),
            jobs,
            relist: None,
        }
    }

    fn send(&self, kind: JobKind, pod: &Pod, patch: Value) -> bool {
        let Some((namespace, name, uid)) = meta_of(pod) else {
            return false;
        };
        self.jobs
            .send(Job {
                kind,
                namespace,
                name,
                uid,
                patch,
            })
            .is_ok()
    }

    fn release(&mut self, uid: &str) {
        if let Some(rec) = self.records.get_mut(uid) {
            if let Some(ip) = rec.ip.take() {
                if let Some(pool) = self.pools.get_mut(rec.node) {
                    pool.release(ip);
                }
            }
        }
    }

    fn forget(&mut self, uid: &str) {
        self.release(uid);
        self.records.remove(uid);
    }

    fn on_event(&mut self, event: Event<Pod>) {
        match event {
            Event::Init => self.relist = Some(HashSet::new()),
            Event::InitApply(pod) => {
                if let (Some(seen), Some(uid)) = (self.relist.as_mut(), pod.metadata.uid.as_ref()) {
                    seen.insert(uid.clone());
                }
                self.on_apply(pod);
            }
            Event::InitDone => {
                if let Some(seen) = self.relist.take() {
                    let stale: Vec<String> = self
                        .records
                        .keys()
                        .filter(|uid| !seen.contains(*uid))
                        .cloned()
                        .collect();
                    for uid in stale {
                        self.forget(&uid);
                    }
                }
            }
            Event::Apply(pod) => self.on_apply(pod),
            Event::Delete(pod) => {
                if let Some(uid) = pod.metadata.uid.as_deref() {
                    self.forget(uid);
                }
            }
        }
    }

    fn on_apply(&mut self, pod: Pod) {
        let Some(uid) = pod.metadata.uid.clone() else {
            return;
        };
        let node = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .and_then(|n| self.node_index.get(n))
            .copied();
        let Some(node) = node else {
            // Not ours (any more).
            if self.records.contains_key(&uid) {
                self.forget(&uid);
            }
            return;
        };
        let new_record = |phase| Record {
            node,
            ip: None,
            phase,
            end_planned: false,
            outcome: None,
            pod: None,
        };
        if pod.metadata.deletion_timestamp.is_some() {
            let sent = self
                .records
                .get(&uid)
                .is_some_and(|r| r.phase == Phase::Deleting);
            if !sent {
                let rec = self
                    .records
                    .entry(uid)
                    .or_insert_with(|| new_record(Phase::Deleting));
                rec.phase = Phase::Deleting;
                rec.pod = None;
                if !self.send(JobKind::Delete, &pod, Value::Null) {
                    tracing::error!("pod worker pool is gone");
                }
            }
            return;
        }
        let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
        match phase {
            Some("Succeeded") | Some("Failed") => {
                self.records
                    .entry(uid.clone())
                    .or_insert_with(|| new_record(Phase::Finished));
                self.release(&uid);
                if let Some(rec) = self.records.get_mut(&uid) {
                    if rec.phase != Phase::Deleting {
                        rec.phase = Phase::Finished;
                    }
                    rec.pod = None;
                }
            }
            Some("Running") => self.on_running(uid, node, pod),
            _ => {
                if self.records.contains_key(&uid) {
                    // Our Running write is in flight or this event is older
                    // than it: nothing to do.
                    return;
                }
                self.start(uid, node, &pod);
            }
        }
    }

    fn on_running(&mut self, uid: String, node: usize, pod: Pod) {
        let rec = self.records.entry(uid.clone()).or_insert(Record {
            node,
            ip: None,
            phase: Phase::Running,
            end_planned: false,
            outcome: None,
            pod: None,
        });
        if rec.phase == Phase::Starting {
            rec.phase = Phase::Running;
        }
        if rec.phase != Phase::Running {
            return;
        }
        if rec.ip.is_none() {
            // Seen running after a restart: its address is taken.
            let ip = pod
                .status
                .as_ref()
                .and_then(|s| s.pod_ip.as_deref())
                .and_then(|ip| ip.parse::<Ipv4Addr>().ok());
            if let (Some(ip), Some(pool)) = (ip, self.pools.get_mut(node)) {
                if pool.reserve(ip) {
                    rec.ip = Some(ip);
                }
            }
        }
        if rec.end_planned {
            if rec.outcome.is_some() {
                rec.pod = Some(Arc::new(pod));
            }
            return;
        }
        rec.end_planned = true;
        match planned_end(&pod) {
            Ok(None) => {}
            Ok(Some((after, outcome))) => {
                let started = pod
                    .status
                    .as_ref()
                    .and_then(|s| s.start_time.as_ref())
                    .and_then(time_to_chrono)
                    .unwrap_or_else(chrono::Utc::now);
                let remaining = (started + chrono::Duration::from_std(after).unwrap_or_default()
                    - chrono::Utc::now())
                .to_std()
                .unwrap_or(Duration::ZERO);
                rec.outcome = Some(outcome);
                rec.pod = Some(Arc::new(pod));
                self.timers.push(Reverse((Instant::now() + remaining, uid)));
            }
            Err(e) => {
                let name = pod.metadata.name.as_deref().unwrap_or_default();
                tracing::warn!(pod = %name, error = %e, "ignoring the pod's end annotation");
            }
        }
    }

    fn start(&mut self, uid: String, node: usize, pod: &Pod) {
        let Some(&host_ip) = self.node_ips.get(node) else {
            return;
        };
        let host_network = pod
            .spec
            .as_ref()
            .and_then(|s| s.host_network)
            .unwrap_or(false);
        let (pod_ip, pooled) = if host_network {
            (host_ip, None)
        } else {
            match self.pools.get_mut(node).and_then(IpPool::allocate) {
                Some(ip) => (ip, Some(ip)),
                None => {
                    let name = pod.metadata.name.as_deref().unwrap_or_default();
                    tracing::warn!(pod = %name, node, "no free pod address on the node; pod left pending");
                    return;
                }
            }
        };
        let patch = running_patch(pod, host_ip, pod_ip, chrono::Utc::now());
        self.records.insert(
            uid,
            Record {
                node,
                ip: pooled,
                phase: Phase::Starting,
                end_planned: false,
                outcome: None,
                pod: None,
            },
        );
        if !self.send(JobKind::Start, pod, patch) {
            tracing::error!("pod worker pool is gone");
        }
    }

    /// The earliest armed end timer.
    fn next_timer(&self) -> Option<Instant> {
        self.timers.peek().map(|Reverse((at, _))| *at)
    }

    fn fire_timers(&mut self) {
        let now = Instant::now();
        while let Some(Reverse((at, _))) = self.timers.peek() {
            if *at > now {
                break;
            }
            let Some(Reverse((_, uid))) = self.timers.pop() else {
                break;
            };
            let Some(rec) = self.records.get_mut(&uid) else {
                continue;
            };
            if rec.phase != Phase::Running {
                continue;
            }
            let (Some(outcome), Some(pod)) = (rec.outcome, rec.pod.clone()) else {
                continue;
            };
            rec.phase = Phase::Finishing;
            let patch = finished_patch(&pod, outcome, chrono::Utc::now());
            if !self.send(JobKind::Finish, &pod, patch) {
                tracing::error!("pod worker pool is gone");
            }
        }
    }

    fn on_done(&mut self, done: Done) {
        let Some(rec) = self.records.get_mut(&done.uid) else {
            return;
        };
        match (done.kind, done.ok) {
            (JobKind::Start, true) if rec.phase == Phase::Starting => rec.phase = Phase::Running,
            (JobKind::Start, false) if rec.phase == Phase::Starting => self.forget(&done.uid),
            (JobKind::Finish, true) if rec.phase == Phase::Finishing => {
                rec.phase = Phase::Finished;
                rec.pod = None;
                self.release(&done.uid);
            }
            (JobKind::Finish, false) if rec.phase == Phase::Finishing => {
                // Try again a little later.
                rec.phase = Phase::Running;
                self.timers
                    .push(Reverse((Instant::now() + Duration::from_secs(5), done.uid)));
            }
            (JobKind::Delete, false) if rec.phase == Phase::Deleting => {
                // Let the next event about the pod try again.
                self.forget(&done.uid);
            }
            _ => {}
        }
    }
}

/// Carries out one job, retrying transient failures with backoff; `true`
/// when it took effect (or was moot).
async fn run_job(pods: &Client, job: &Job) -> bool {
    let api: Api<Pod> = Api::namespaced(pods.clone(), &job.namespace);
    let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(30));
    loop {
        let result = match job.kind {
            JobKind::Start | JobKind::Finish => api
                .patch_status(
                    &job.name,
                    &PatchParams::default(),
                    &Patch::Merge(&job.patch),
                )
                .await
                .map(|_| ()),
            JobKind::Delete => {
                let dp = DeleteParams {
                    grace_period_seconds: Some(0),
                    preconditions: Some(Preconditions {
                        uid: Some(job.uid.clone()),
                        resource_version: None,
                    }),
                    ..DeleteParams::default()
                };
                api.delete(&job.name, &dp).await.map(|_| ())
            }
        };
        match result {
            Ok(()) => return true,
            // Deleted, or replaced by a pod of the same name: moot.
            Err(e) if is_not_found(&e) => return job.kind == JobKind::Delete,
            Err(e) if is_conflict(&e) => {
                let kind = job.kind;
                tracing::debug!(pod = %job.name, error = %e, ?kind, "pod replaced; job dropped");
                return false;
            }
            Err(e) if is_transient(&e) => {
                let delay = backoff.next_delay();
                let (pod, ns, kind) = (&job.name, &job.namespace, job.kind);
                tracing::warn!(%pod, %ns, error = %e, ?kind, ?delay, "pod write failed; retrying");
                tokio::time::sleep(delay).await;
            }
            Err(e) => {
                let (pod, ns, kind) = (&job.name, &job.namespace, job.kind);
                tracing::error!(%pod, %ns, error = %e, ?kind, "pod write failed");
                return false;
            }
        }
    }
}

/// Watches pods bound to nodes and runs the ones on `nodes` until dropped
/// (or the watch ends, which a `watcher` stream does not).
pub async fn run(
    client: Client,
    cfg: Arc<SimConfig>,
    nodes: Arc<Vec<SimNode>>,
) -> Result<(), SimError> {
    let (job_tx, mut job_rx) = mpsc::unbounded_channel::<Job>();
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Done>();
    let mut state = State::new(&nodes, job_tx);

    let workers = {
        let client = client.clone();
        futures::stream::poll_fn(move |cx| job_rx.poll_recv(cx)).for_each_concurrent(
            cfg.pod_workers,
            move |job| {
                let client = client.clone();
                let done_tx = done_tx.clone();
                async move {
                    let ok = run_job(&client, &job).await;
                    let _ = done_tx.send(Done {
                        uid: job.uid,
                        kind: job.kind,
                        ok,
                    });
                }
            },
        )
    };

    let api: Api<Pod> = Api::all(client);
    // Pages as large as the in-process informers': a re-list of 100,000
    // pods is 20 requests, not 200.
    let config = watcher::Config::default()
        .fields("spec.nodeName!=")
        .page_size(5000);
    let mut events = watcher::watcher(api, config)
        .default_backoff()
        .map_err(|e| {
            match &e {
                // The watch's resourceVersion left the server's history:
                // the watcher re-lists, which is routine.
                watcher::Error::WatchError(s) if s.code == 410 => {
                    tracing::info!(error = %e, "pod watch expired; re-listing");
                }
                _ => tracing::warn!(error = %e, "pod watch failed; retrying"),
            }
            e
        })
        .filter_map(|r| async move { r.ok() })
        .boxed();

    let control = async {
        loop {
            let next = state.next_timer();
            let far = Instant::now() + Duration::from_secs(3600);
            tokio::select! {
                event = events.next() => match event {
                    Some(event) => state.on_event(event),
                    None => return Err(SimError::WatchEnded),
                },
                Some(done) = done_rx.recv() => state.on_done(done),
                _ = tokio::time::sleep_until(next.unwrap_or(far)), if next.is_some() => state.fire_timers(),
            }
        }
    };
    tokio::select! {
        r = control => r,
        () = workers => Err(SimError::WatchEnded),
    }
}
