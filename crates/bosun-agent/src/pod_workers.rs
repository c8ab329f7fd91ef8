//! One worker task per pod (kubelet's pod workers): it syncs its pod on
//! every update, PLEG event or timer, serially, so one pod never has two
//! syncs in flight; it stops the pod when it is being deleted, asks the
//! API to remove it, and cleans up once the pod is gone.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::kuberuntime::config::pod_uid;
use crate::kuberuntime::manager::{grace_period, RuntimeManager};
use crate::status::generate::{generate, StatusContext};
use crate::status::manager::StatusManager;

/// Re-sync period of a pod nothing happens to.
const RESYNC: Duration = Duration::from_secs(10);
/// Retry period after a failed sync.
const RETRY: Duration = Duration::from_secs(2);

pub struct WorkerContext {
    pub manager: RuntimeManager,
    pub status: StatusManager,
}

#[derive(Clone)]
struct Work {
    /// `None`: the pod is gone from the API.
    pod: Option<Arc<Pod>>,
    /// Bumped to wake the worker without a new pod.
    wakeups: u64,
}

pub struct PodWorkers {
    ctx: Arc<WorkerContext>,
    workers: HashMap<String, watch::Sender<Work>>,
    /// Pods whose runtime objects are being removed after they left the
    /// API (by their worker or as orphans): not orphans to kill again.
    cleaning: Arc<parking_lot::Mutex<HashSet<String>>>,
}

/// Whether an update changes what the agent acts on: anything but the
/// status and the bookkeeping metadata.
pub fn needs_sync(old: &Pod, new: &Pod) -> bool {
    let (o, n) = (&old.metadata, &new.metadata);
    old.spec != new.spec
        || o.deletion_timestamp != n.deletion_timestamp
        || o.deletion_grace_period_seconds != n.deletion_grace_period_seconds
        || o.labels != n.labels
        || o.annotations != n.annotations
        || phase(old) != phase(new)
}

fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or_default()
}

fn is_terminal(phase: &str) -> bool {
    phase == "Succeeded" || phase == "Failed"
}

impl PodWorkers {
    pub fn new(ctx: Arc<WorkerContext>) -> Self {
        PodWorkers {
            ctx,
            workers: HashMap::new(),
            cleaning: Arc::default(),
        }
    }

    /// A new or changed pod.
    pub fn update_pod(&mut self, pod: Arc<Pod>) {
        let uid = pod_uid(&pod).to_string();
        if let Some(tx) = self.workers.get(&uid) {
            // A status-only change (most often our own write) is stored
            // but does not wake the worker, as kubelet reconciles rather
            // than syncs such updates.
            tx.send_if_modified(|w| {
                let wake = w.pod.as_deref().is_none_or(|old| needs_sync(old, &pod));
                w.pod = Some(pod);
                wake
            });
            return;
        }
        let (tx, rx) = watch::channel(Work {
            pod: Some(pod),
            wakeups: 0,
        });
        tokio::spawn(worker(
            self.ctx.clone(),
            uid.clone(),
            rx,
            self.cleaning.clone(),
        ));
        self.workers.insert(uid, tx);
    }

    /// The pod is gone from the API: its worker stops what is left.
    pub fn remove_pod(&mut self, uid: &str) {
        if let Some(tx) = self.workers.remove(uid) {
            self.cleaning.lock().insert(uid.to_string());
            tx.send_modify(|w| w.pod = None);
        }
    }

    /// Something changed in the runtime for this pod.
    pub fn wake(&self, uid: &str) {
        if let Some(tx) = self.workers.get(uid) {
            tx.send_modify(|w| w.wakeups += 1);
        }
    }

    pub fn uids(&self) -> impl Iterator<Item = &String> {
        self.workers.keys()
    }

    /// Pods gone from the API whose runtime objects are being removed.
    pub fn cleaning(&self) -> usize {
        self.cleaning.lock().len()
    }

    /// Whether the pod has a worker or is being cleaned up.
    pub fn knows(&self, uid: &str) -> bool {
        self.workers.contains_key(uid) || self.cleaning.lock().contains(uid)
    }

    /// Stops and removes runtime objects of a pod the API does not know
    /// (left from before the agent restarted, or deleted while it was down).
    pub fn kill_orphan(&self, uid: String) {
        if !self.cleaning.lock().insert(uid.clone()) {
            return;
        }
        let ctx = self.ctx.clone();
        let cleaning = self.cleaning.clone();
        tokio::spawn(async move {
            tracing::info!(pod = %uid, "removing the runtime objects of a pod not bound here");
            if let Err(e) = ctx.manager.kill_pod(&uid, 2, None).await {
                tracing::warn!(pod = %uid, error = %e, "cannot remove orphaned pod");
            }
            ctx.manager.forget(&uid);
            cleaning.lock().remove(&uid);
        });
    }
}

async fn worker(
    ctx: Arc<WorkerContext>,
    uid: String,
    mut rx: watch::Receiver<Work>,
    cleaning: Arc<parking_lot::Mutex<HashSet<String>>>,
) {
    let mut last_pod: Option<Arc<Pod>> = None;
    let mut deletion_requested = false;
    let mut stopped = false;
    loop {
        let work = rx.borrow_and_update().clone();
        let next = match work.pod {
            None => {
                let grace = last_pod.as_deref().map(grace_period).unwrap_or(2);
                if let Err(e) = ctx.manager.kill_pod(&uid, grace, last_pod.as_deref()).await {
                    tracing::warn!(pod = %uid, error = %e, "cannot remove a deleted pod's containers");
                }
                ctx.manager.forget(&uid);
                ctx.status.forget(&uid);
                cleaning.lock().remove(&uid);
                return;
            }
            Some(pod) => {
                last_pod = Some(pod.clone());
                sync_once(&ctx, &uid, &pod, &mut deletion_requested, &mut stopped).await
            }
        };
        let deadline = next.unwrap_or_else(|| Instant::now() + RESYNC);
        tokio::select! {
            changed = rx.changed() => if changed.is_err() {
                // The sender is gone only when the agent stops.
                return;
            },
            _ = tokio::time::sleep_until(deadline) => {}
        }
    }
}

/// After a finished pod's leftovers (its sidecars) were stopped: their
/// terminated states, under the phase the pod already has.
async fn report_final_status(ctx: &WorkerContext, uid: &str, pod: &Pod) {
    let Ok(runtime) =
        crate::kuberuntime::state::pod_runtime_status(&*ctx.manager.runtime, uid).await
    else {
        return;
    };
    let now = crate::node::time_string(chrono::Utc::now());
    let host_ip = ctx.manager.host_ip.clone();
    let none = HashMap::new();
    let status = generate(
        pod,
        &runtime,
        &StatusContext {
            host_ip: Some(host_ip.as_str()).filter(|s| !s.is_empty()),
            now: &now,
            waiting: &none,
            probed: &HashMap::new(),
        },
    );
    // A terminal phase never changes.
    if status["phase"].as_str() != Some(phase(pod)) {
        return;
    }
    if let Err(e) = ctx.status.set_pod_status(pod, status).await {
        tracing::warn!(pod = %uid, error = %e, "final pod status update failed");
    }
}

/// One pass over the pod; returns when to look again at the latest.
async fn sync_once(
    ctx: &WorkerContext,
    uid: &str,
    pod: &Pod,
    deletion_requested: &mut bool,
    stopped: &mut bool,
) -> Option<Instant> {
    if pod.metadata.deletion_timestamp.is_some() {
        if *deletion_requested {
            return None;
        }
        let grace = grace_period(pod);
        tracing::info!(pod = %uid, grace, "stopping a pod being deleted");
        if let Err(e) = ctx.manager.kill_pod(uid, grace, Some(pod)).await {
            tracing::warn!(pod = %uid, error = %e, "cannot stop pod");
            return Some(Instant::now() + RETRY);
        }
        match ctx.status.delete_pod(pod).await {
            Ok(()) => *deletion_requested = true,
            Err(e) => {
                tracing::warn!(pod = %uid, error = %e, "cannot delete pod");
                return Some(Instant::now() + RETRY);
            }
        }
        return None;
    }
    // A phase this agent already made terminal (an eviction, say) counts
    // even while the watch still delivers the older object: nothing may
    // restart then.
    let terminal =
        is_terminal(phase(pod)) || ctx.status.last_phase(uid).is_some_and(|p| is_terminal(&p));
    if terminal {
        // Nothing runs again: stop what is left, keep the records.
        if !*stopped {
            ctx.manager.probes.remove_pod(uid);
            match ctx
                .manager
                .stop_pod(uid, grace_period(pod), Some(pod))
                .await
            {
                Ok(()) => {
                    *stopped = true;
                    // kubelet unmounts a finished pod's volumes.
                    ctx.manager.volumes.tear_down_pod(uid);
                    report_final_status(ctx, uid, pod).await;
                }
                Err(e) => tracing::warn!(pod = %uid, error = %e, "cannot stop a finished pod"),
            }
        }
        return None;
    }
    let result = match ctx.manager.sync_pod(pod).await {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(pod = %uid, error = %e, "pod sync failed");
            return Some(Instant::now() + RETRY);
        }
    };
    let now = crate::node::time_string(chrono::Utc::now());
    let host_ip = ctx.manager.host_ip.clone();
    let mut status = generate(
        pod,
        &result.runtime,
        &StatusContext {
            host_ip: Some(host_ip.as_str()).filter(|s| !s.is_empty()),
            now: &now,
            waiting: &result.waiting,
            probed: &result.probed,
        },
    );
    if let Some(message) = &result.evicted {
        // kubelet's eviction manager: the pod fails and is not restarted.
        status["phase"] = serde_json::json!("Failed");
        status["reason"] = serde_json::json!("Evicted");
        status["message"] = serde_json::json!(message);
    }
    if let Err(e) = ctx.status.set_pod_status(pod, status).await {
        tracing::warn!(pod = %uid, error = %e, "pod status update failed");
        return Some(Instant::now() + RETRY);
    }
    result.next_sync
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cni::PodCidr;
    use crate::config::AgentConfig;
    use crate::cri::api::ContainerState as CriState;
    use crate::cri::fake::FakeRuntime;
    use crate::events::RecordingRecorder;
    use crate::status::manager::RecordingPodApi;
    use serde_json::json;

    fn setup() -> (Arc<FakeRuntime>, Arc<RecordingPodApi>, Arc<WorkerContext>) {
        let (rt, api, ctx, _) = setup_with_events();
        (rt, api, ctx)
    }

    fn setup_with_events() -> (
        Arc<FakeRuntime>,
        Arc<RecordingPodApi>,
        Arc<WorkerContext>,
        Arc<RecordingRecorder>,
    ) {
        setup_configured(|_| {})
    }

    fn setup_configured(
        configure: impl FnOnce(&mut AgentConfig),
    ) -> (
        Arc<FakeRuntime>,
        Arc<RecordingPodApi>,
        Arc<WorkerContext>,
        Arc<RecordingRecorder>,
    ) {
        let runtime = Arc::new(FakeRuntime::new());
        runtime.add_image("busybox:bosun");
        let mut cfg = AgentConfig::new(
            "n1".into(),
            std::env::temp_dir().join("bosun-agent-unit"),
            PodCidr::parse("10.244.0.0/24").unwrap(),
        );
        cfg.backoff_initial = Duration::from_secs(10);
        configure(&mut cfg);
        let api = Arc::new(RecordingPodApi::default());
        let events = Arc::new(RecordingRecorder::default());
        let ctx = Arc::new(WorkerContext {
            manager: RuntimeManager::new(
                runtime.clone(),
                Arc::new(cfg),
                "192.0.2.1".into(),
                Arc::new(crate::kuberuntime::env::StaticConfigSource::default()),
                Arc::new(crate::volume::host::FakeVolumeHost::default()),
            )
            .with_events(events.clone()),
            status: StatusManager::new(api.clone()),
        });
        (runtime, api, ctx, events)
    }

    fn pod(policy: &str, inits: &[&str], containers: &[&str]) -> Pod {
        let c = |n: &&str| json!({"name": n, "image": "busybox:bosun", "command": ["sleep", "1"]});
        serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "d", "uid": "u1"},
            "spec": {"restartPolicy": policy, "nodeName": "n1",
                     "initContainers": inits.iter().map(c).collect::<Vec<_>>(),
                     "containers": containers.iter().map(c).collect::<Vec<_>>()}
        }))
        .unwrap()
    }

    async fn sync(ctx: &WorkerContext, pod: &Pod) -> Option<Instant> {
        let (mut d, mut s) = (false, false);
        sync_once(ctx, "u1", pod, &mut d, &mut s).await
    }

    fn last_status(api: &RecordingPodApi) -> serde_json::Value {
        api.statuses.lock().last().unwrap().1.clone()
    }

    #[test]
    fn status_only_updates_do_not_need_a_sync() {
        let a = pod("Always", &[], &["app"]);
        let mut b = a.clone();
        b.metadata.resource_version = Some("7".into());
        b.status = Some(serde_json::from_value(json!({"podIP": "10.244.0.9"})).unwrap());
        assert!(!needs_sync(&a, &b));
        let mut c = b.clone();
        c.metadata.deletion_timestamp =
            serde_json::from_value(json!("2026-01-01T00:00:00Z")).unwrap();
        assert!(needs_sync(&b, &c));
        let mut d = b.clone();
        d.spec.as_mut().unwrap().containers[0].image = Some("other".into());
        assert!(needs_sync(&b, &d));
    }

    #[tokio::test]
    async fn a_burst_of_pods_starts_a_few_sandboxes_at_a_time() {
        let (runtime, _, ctx, _) = setup_configured(|cfg| cfg.max_parallel_sandbox_starts = 2);
        runtime.set_sandbox_delay(Duration::from_millis(30));
        let mut workers = PodWorkers::new(ctx);
        for i in 0..6 {
            let mut p = pod("Always", &[], &["app"]);
            p.metadata.name = Some(format!("p{i}"));
            p.metadata.uid = Some(format!("u{i}"));
            workers.update_pod(Arc::new(p));
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while runtime.sandbox_count() < 6 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(runtime.sandbox_count(), 6);
        assert_eq!(runtime.most_sandboxes_starting(), 2);
    }

    #[tokio::test]
    async fn runs_init_containers_in_order_then_the_app() {
        let (rt, api, ctx) = setup();
        let mut p = pod("Always", &["i1", "i2"], &["app"]);
        sync(&ctx, &p).await;
        assert_eq!(rt.sandbox_count(), 1);
        assert_eq!(
            rt.containers_in(CriState::ContainerRunning),
            [("u1".into(), "i1".into(), 0)]
        );
        let s = last_status(&api);
        assert_eq!(s["phase"], "Pending");
        assert!(s["initContainerStatuses"][0]["state"]["running"].is_object());
        assert_eq!(
            s["containerStatuses"][0]["state"]["waiting"]["reason"],
            "PodInitializing"
        );
        rt.exit_container(&rt.container_id("i1").unwrap(), 0);
        sync(&ctx, &p).await;
        assert_eq!(
            rt.containers_in(CriState::ContainerRunning),
            [("u1".into(), "i2".into(), 0)]
        );
        rt.exit_container(&rt.container_id("i2").unwrap(), 0);
        p.status = Some(serde_json::from_value(last_status(&api)).unwrap());
        sync(&ctx, &p).await;
        assert_eq!(
            rt.containers_in(CriState::ContainerRunning),
            [("u1".into(), "app".into(), 0)]
        );
        let s = last_status(&api);
        assert_eq!(s["phase"], "Running");
        assert_eq!(s["podIP"], "10.244.0.2");
        let ready = s["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == "Ready")
            .unwrap()
            .clone();
        assert_eq!(ready["status"], "True");
    }

    #[tokio::test(start_paused = true)]
    async fn crashing_container_backs_off() {
        let (rt, api, ctx) = setup();
        let p = pod("Always", &[], &["app"]);
        sync(&ctx, &p).await;
        rt.exit_container(&rt.container_id("app").unwrap(), 1);
        // First restart is immediate.
        sync(&ctx, &p).await;
        assert_eq!(
            rt.containers_in(CriState::ContainerRunning),
            [("u1".into(), "app".into(), 1)]
        );
        rt.exit_container(&rt.container_id("app").unwrap(), 1);
        let next = sync(&ctx, &p).await;
        assert!(rt.containers_in(CriState::ContainerRunning).is_empty());
        let s = last_status(&api);
        assert_eq!(
            s["containerStatuses"][0]["state"]["waiting"]["reason"],
            "CrashLoopBackOff"
        );
        assert_eq!(
            s["containerStatuses"][0]["lastState"]["terminated"]["exitCode"],
            1
        );
        assert_eq!(s["containerStatuses"][0]["restartCount"], 1);
        let next = next.expect("a back-off deadline");
        tokio::time::sleep_until(next).await;
        sync(&ctx, &p).await;
        assert_eq!(
            rt.containers_in(CriState::ContainerRunning),
            [("u1".into(), "app".into(), 2)]
        );
        assert_eq!(last_status(&api)["containerStatuses"][0]["restartCount"], 2);
    }

    #[tokio::test]
    async fn completed_pod_succeeds_and_missing_image_waits() {
        let (rt, api, ctx) = setup();
        let p = pod("Never", &[], &["app"]);
        sync(&ctx, &p).await;
        rt.exit_container(&rt.container_id("app").unwrap(), 0);
        sync(&ctx, &p).await;
        assert_eq!(last_status(&api)["phase"], "Succeeded");

        let mut q: Pod = pod("Always", &[], &["app"]);
        q.metadata.uid = Some("u2".into());
        q.spec.as_mut().unwrap().containers[0].image = Some("missing:1".into());
        q.spec.as_mut().unwrap().containers[0].image_pull_policy = Some("Never".into());
        let (mut d, mut s) = (false, false);
        sync_once(&ctx, "u2", &q, &mut d, &mut s).await;
        let st = last_status(&api);
        assert_eq!(st["phase"], "Pending");
        assert_eq!(
            st["containerStatuses"][0]["state"]["waiting"]["reason"],
            "ErrImageNeverPull"
        );
        assert!(!rt.calls().iter().any(|c| c.starts_with("PullImage")));
    }

    #[tokio::test]
    async fn orphans_are_removed_once_and_pods_gone_from_the_api_are_cleaned() {
        let (rt, _api, ctx) = setup();
        // An orphan: runtime objects of a pod the API does not know.
        let orphan = pod("Always", &[], &["app"]);
        sync(&ctx, &orphan).await;
        assert_eq!(rt.sandbox_count(), 1);
        let mut workers = PodWorkers::new(ctx.clone());
        workers.kill_orphan("u1".into());
        assert!(workers.knows("u1"));
        // A second report while the first is in progress is ignored.
        workers.kill_orphan("u1".into());
        wait(|| rt.sandbox_count() == 0).await;
        wait(|| !workers.knows("u1")).await;
        assert_eq!(
            rt.calls()
                .iter()
                .filter(|c| c.starts_with("RemovePodSandbox"))
                .count(),
            1
        );

        // A pod with a worker, then deleted from the API.
        let mut p = pod("Always", &[], &["app"]);
        p.metadata.uid = Some("u9".into());
        workers.update_pod(Arc::new(p));
        wait(|| rt.containers_in(CriState::ContainerRunning).len() == 1).await;
        workers.remove_pod("u9");
        wait(|| rt.sandbox_count() == 0).await;
        wait(|| !workers.knows("u9")).await;
    }

    async fn wait(mut f: impl FnMut() -> bool) {
        for _ in 0..200 {
            if f() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("condition not reached");
    }

    #[tokio::test]
    async fn deletion_stops_with_the_grace_period_then_deletes() {
        let (rt, api, ctx) = setup();
        let mut p = pod("Always", &[], &["app"]);
        sync(&ctx, &p).await;
        p.metadata.deletion_timestamp =
            serde_json::from_value(json!("2026-01-01T00:00:00Z")).unwrap();
        p.metadata.deletion_grace_period_seconds = Some(7);
        let (mut d, mut s) = (false, false);
        sync_once(&ctx, "u1", &p, &mut d, &mut s).await;
        assert!(d);
        let calls = rt.calls();
        let stop = calls
            .iter()
            .position(|c| c.starts_with("StopContainer") && c.ends_with(" 7"))
            .expect("StopContainer with 7 s");
        let stop_sb = calls
            .iter()
            .position(|c| c.starts_with("StopPodSandbox"))
            .unwrap();
        let rm_sb = calls
            .iter()
            .position(|c| c.starts_with("RemovePodSandbox"))
            .unwrap();
        assert!(stop < stop_sb && stop_sb < rm_sb, "{calls:?}");
        assert_eq!(rt.sandbox_count(), 0);
        assert_eq!(*api.deleted.lock(), ["p"]);
    }

    fn probed_pod(container: serde_json::Value, extra: serde_json::Value) -> Pod {
        let mut spec = json!({"restartPolicy": "Always", "nodeName": "n1",
                              "terminationGracePeriodSeconds": 5, "containers": [container]});
        if let (Some(s), Some(e)) = (spec.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                s.insert(k.clone(), v.clone());
            }
        }
        serde_json::from_value(
            json!({"metadata": {"name": "p", "namespace": "d", "uid": "u1"}, "spec": spec}),
        )
        .unwrap()
    }

    fn exec_probe(cmd: &str, extra: serde_json::Value) -> serde_json::Value {
        let mut p = json!({"exec": {"command": ["sh", "-c", cmd]}, "periodSeconds": 1});
        if let (Some(o), Some(e)) = (p.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                o.insert(k.clone(), v.clone());
            }
        }
        p
    }

    fn cstatus(s: &serde_json::Value, name: &str) -> serde_json::Value {
        s["containerStatuses"]
            .as_array()
            .into_iter()
            .flatten()
            .chain(s["initContainerStatuses"].as_array().into_iter().flatten())
            .find(|c| c["name"] == name)
            .cloned()
            .unwrap_or_default()
    }

    fn cond_status(s: &serde_json::Value, ty: &str) -> String {
        s["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == ty)
            .map(|c| c["status"].as_str().unwrap_or_default().to_string())
            .unwrap_or_default()
    }

    /// Lets probe workers run for `secs` of (paused) time.
    async fn advance(secs: u64) {
        tokio::time::sleep(Duration::from_secs(secs)).await;
    }

    #[tokio::test(start_paused = true)]
    async fn failed_liveness_probe_kills_and_restarts_with_events() {
        let (rt, api, ctx, events) = setup_with_events();
        let healthy = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let h = healthy.clone();
        rt.on_exec(move |_, _| {
            if h.load(std::sync::atomic::Ordering::SeqCst) {
                Ok((0, String::new()))
            } else {
                Ok((1, "cat: can't open '/tmp/healthy'".into()))
            }
        });
        let p = probed_pod(
            json!({"name": "app", "image": "busybox:bosun",
                   "livenessProbe": exec_probe("cat /tmp/healthy", json!({"failureThreshold": 3, "terminationGracePeriodSeconds": 1}))}),
            json!({}),
        );
        sync(&ctx, &p).await;
        advance(5).await;
        assert!(events.reasons().is_empty());
        healthy.store(false, std::sync::atomic::Ordering::SeqCst);
        // Two failures are below the threshold.
        advance(2).await;
        sync(&ctx, &p).await;
        assert_eq!(
            rt.containers_in(CriState::ContainerRunning),
            [("u1".into(), "app".into(), 0)]
        );
        advance(1).await;
        sync(&ctx, &p).await;
        assert_eq!(
            rt.containers_in(CriState::ContainerRunning),
            [("u1".into(), "app".into(), 1)]
        );
        assert!(
            rt.calls()
                .iter()
                .any(|c| c.starts_with("StopContainer") && c.ends_with(" 1")),
            "the probe's grace period"
        );
        assert_eq!(events.messages("Unhealthy").len(), 3);
        assert_eq!(
            events.messages("Unhealthy")[0],
            "Liveness probe failed: cat: can't open '/tmp/healthy'"
        );
        assert_eq!(
            events.messages("Killing"),
            ["Container app failed liveness probe, will be restarted"]
        );
        let s = last_status(&api);
        assert_eq!(cstatus(&s, "app")["restartCount"], 1);
        // The new container is probed afresh and healthy again.
        healthy.store(true, std::sync::atomic::Ordering::SeqCst);
        advance(5).await;
        sync(&ctx, &p).await;
        assert_eq!(
            rt.containers_in(CriState::ContainerRunning),
            [("u1".into(), "app".into(), 1)]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn readiness_sets_ready_and_startup_gates_the_other_probes() {
        let (rt, api, ctx, _events) = setup_with_events();
        let state = Arc::new(parking_lot::Mutex::new((false, false)));
        let st = state.clone();
        rt.on_exec(move |_, cmd| {
            let (started, ready) = *st.lock();
            let ok = match cmd.last().map(String::as_str) {
                Some("startup") => started,
                Some("ready") => ready,
                // Liveness fails until started: must not run before.
                _ => started,
            };
            Ok((if ok { 0 } else { 1 }, String::new()))
        });
        let p = probed_pod(
            json!({"name": "app", "image": "busybox:bosun",
                   "startupProbe": exec_probe("startup", json!({"failureThreshold": 100})),
                   "livenessProbe": exec_probe("live", json!({"failureThreshold": 1})),
                   "readinessProbe": exec_probe("ready", json!({}))}),
            json!({}),
        );
        sync(&ctx, &p).await;
        advance(3).await;
        sync(&ctx, &p).await;
        let s = last_status(&api);
        assert_eq!(cstatus(&s, "app")["started"], false);
        assert_eq!(cstatus(&s, "app")["ready"], false);
        assert_eq!(cond_status(&s, "Ready"), "False");
        assert!(
            !rt.calls()
                .iter()
                .any(|c| c.ends_with("sh -c live") || c.ends_with("sh -c ready")),
            "{:?}",
            rt.calls()
        );
        state.lock().0 = true;
        advance(2).await;
        sync(&ctx, &p).await;
        let s = last_status(&api);
        assert_eq!(cstatus(&s, "app")["started"], true);
        assert_eq!(cstatus(&s, "app")["ready"], false);
        state.lock().1 = true;
        advance(2).await;
        sync(&ctx, &p).await;
        let s = last_status(&api);
        assert_eq!(cstatus(&s, "app")["ready"], true);
        assert_eq!(cond_status(&s, "Ready"), "True");
        assert_eq!(cond_status(&s, "ContainersReady"), "True");
        state.lock().1 = false;
        // failureThreshold 3 (the default): still ready after two failures.
        advance(2).await;
        sync(&ctx, &p).await;
        assert_eq!(cstatus(&last_status(&api), "app")["ready"], true);
        advance(1).await;
        sync(&ctx, &p).await;
        let s = last_status(&api);
        assert_eq!(cstatus(&s, "app")["ready"], false);
        assert_eq!(cond_status(&s, "Ready"), "False");
        assert_eq!(cstatus(&s, "app")["restartCount"], 0);
    }

    #[tokio::test(start_paused = true)]
    async fn probe_results_wake_the_pod() {
        let (rt, _api, ctx, _events) = setup_with_events();
        let mut updates = ctx.manager.take_probe_updates().unwrap();
        rt.on_exec(|_, _| Ok((0, String::new())));
        let p = probed_pod(
            json!({"name": "app", "image": "busybox:bosun", "readinessProbe": exec_probe("ready", json!({"initialDelaySeconds": 5}))}),
            json!({}),
        );
        sync(&ctx, &p).await;
        // The initial (failed) readiness result, then success after the delay.
        assert_eq!(updates.recv().await.as_deref(), Some("u1"));
        let before = tokio::time::Instant::now();
        assert_eq!(updates.recv().await.as_deref(), Some("u1"));
        assert!(before.elapsed() >= Duration::from_secs(5));
    }

    #[tokio::test]
    async fn hooks_run_around_start_and_before_stop() {
        let (rt, api, ctx, events) = setup_with_events();
        rt.on_exec(|_, cmd| {
            Ok((
                if cmd.last().map(String::as_str) == Some("fail") {
                    1
                } else {
                    0
                },
                "no".into(),
            ))
        });
        let hook = |cmd: &str| json!({"exec": {"command": ["sh", "-c", cmd]}});
        let mut p = probed_pod(
            json!({"name": "app", "image": "busybox:bosun",
                   "lifecycle": {"postStart": hook("started"), "preStop": hook("stopping")}}),
            json!({}),
        );
        sync(&ctx, &p).await;
        let calls = rt.calls();
        let start = calls
            .iter()
            .position(|c| c.starts_with("StartContainer"))
            .unwrap();
        let post = calls
            .iter()
            .position(|c| c.ends_with("sh -c started"))
            .unwrap();
        assert!(start < post);
        p.metadata.deletion_timestamp =
            serde_json::from_value(json!("2026-01-01T00:00:00Z")).unwrap();
        p.metadata.deletion_grace_period_seconds = Some(9);
        sync(&ctx, &p).await;
        let calls = rt.calls();
        let pre = calls
            .iter()
            .position(|c| c.ends_with("sh -c stopping"))
            .unwrap();
        let stop = calls
            .iter()
            .position(|c| c.starts_with("StopContainer"))
            .unwrap();
        assert!(pre < stop, "{calls:?}");
        assert!(calls[stop].ends_with(" 9"), "{calls:?}");

        // A failing postStart hook: event, container killed, waiting.
        let mut q = probed_pod(
            json!({"name": "app", "image": "busybox:bosun", "lifecycle": {"postStart": hook("fail")}}),
            json!({}),
        );
        q.metadata.uid = Some("u2".into());
        let (mut d, mut s) = (false, false);
        sync_once(&ctx, "u2", &q, &mut d, &mut s).await;
        assert!(rt.containers_in(CriState::ContainerRunning).is_empty());
        let msg = &events.messages("FailedPostStartHook")[0];
        assert!(msg.starts_with("Exec lifecycle hook ([\"sh\", \"-c\", \"fail\"]) for Container \"app\" in Pod \"p_d(u2)\" failed - error: no"), "{msg}");
        let st = last_status(&api);
        assert_eq!(
            cstatus(&st, "app")["state"]["waiting"]["reason"],
            "PostStartHookError"
        );
    }

    #[tokio::test]
    async fn sidecars_start_first_keep_running_and_stop_last() {
        let (rt, api, ctx) = setup();
        let p: Pod = serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "d", "uid": "u1"},
            "spec": {"restartPolicy": "Never", "nodeName": "n1",
                     "initContainers": [
                         {"name": "side", "image": "busybox:bosun", "restartPolicy": "Always"},
                         {"name": "init", "image": "busybox:bosun"}],
                     "containers": [{"name": "main", "image": "busybox:bosun"}]}
        }))
        .unwrap();
        let mut p = p;
        sync(&ctx, &p).await;
        assert_eq!(
            rt.containers_in(CriState::ContainerRunning),
            [("u1".into(), "side".into(), 0)]
        );
        // A started sidecar lets the next init container run.
        sync(&ctx, &p).await;
        let running = rt.containers_in(CriState::ContainerRunning);
        assert!(
            running.contains(&("u1".into(), "init".into(), 0)),
            "{running:?}"
        );
        rt.exit_container(&rt.container_id("init").unwrap(), 0);
        sync(&ctx, &p).await;
        assert_eq!(
            rt.containers_in(CriState::ContainerRunning),
            [
                ("u1".into(), "main".into(), 0),
                ("u1".into(), "side".into(), 0)
            ]
        );
        let s = last_status(&api);
        assert_eq!(cond_status(&s, "Initialized"), "True");
        assert_eq!(cond_status(&s, "Ready"), "True");
        assert_eq!(cstatus(&s, "side")["ready"], true);
        // The sidecar restarts whatever the pod's policy.
        rt.exit_container(&rt.container_id("side").unwrap(), 1);
        sync(&ctx, &p).await;
        assert!(rt.containers_in(CriState::ContainerRunning).contains(&(
            "u1".into(),
            "side".into(),
            1
        )));
        // The main container ends: the pod succeeds, the sidecar is not
        // restarted and is stopped after the main containers.
        rt.exit_container(&rt.container_id("main").unwrap(), 0);
        sync(&ctx, &p).await;
        let s = last_status(&api);
        assert_eq!(s["phase"], "Succeeded");
        p.status = Some(serde_json::from_value(s).unwrap());
        sync(&ctx, &p).await;
        assert!(rt.containers_in(CriState::ContainerRunning).is_empty());
    }

    #[tokio::test]
    async fn deletion_stops_regular_containers_before_sidecars_in_reverse_order() {
        let (rt, _api, ctx) = setup();
        let mut p: Pod = serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "d", "uid": "u1"},
            "spec": {"restartPolicy": "Always", "nodeName": "n1",
                     "initContainers": [
                         {"name": "s1", "image": "busybox:bosun", "restartPolicy": "Always"},
                         {"name": "s2", "image": "busybox:bosun", "restartPolicy": "Always"}],
                     "containers": [{"name": "main", "image": "busybox:bosun"}]}
        }))
        .unwrap();
        for _ in 0..3 {
            sync(&ctx, &p).await;
        }
        assert_eq!(rt.containers_in(CriState::ContainerRunning).len(), 3);
        let ids: Vec<String> = ["main", "s2", "s1"]
            .iter()
            .map(|n| rt.container_id(n).unwrap())
            .collect();
        p.metadata.deletion_timestamp =
            serde_json::from_value(json!("2026-01-01T00:00:00Z")).unwrap();
        p.metadata.deletion_grace_period_seconds = Some(30);
        sync(&ctx, &p).await;
        let stops: Vec<String> = rt
            .calls()
            .into_iter()
            .filter(|c| c.starts_with("StopContainer"))
            .collect();
        let expected: Vec<String> = ids
            .iter()
            .map(|id| format!("StopContainer {id} 30"))
            .collect();
        assert_eq!(stops, expected);
    }
}
