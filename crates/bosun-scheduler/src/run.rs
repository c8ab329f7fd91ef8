//! The scheduler process: watches pods and nodes, keeps the cache and the
//! queue current, runs one scheduling attempt at a time, binds in the
//! background, and reports failures as upstream does (pod condition,
//! FailedScheduling event, requeue on a helpful cluster event).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::runtime::watcher;
use kube::Api;
use tokio::sync::mpsc;

use crate::cache::{self, Cache};
use crate::cluster::{ApiCluster, Cluster};
use crate::config::{ConfigError, KubeSchedulerConfiguration};
use crate::framework::{ClusterEvent, Framework};
use crate::node_info::PodInfo;
use crate::queue::{EventInterest, SchedulingQueue};
use crate::schedule_one::{self, Algorithm, Decision};

#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    #[error(transparent)]
    Config(#[from] ConfigError),
}

/// How long the loop schedules before letting other tasks run.
const SCHEDULING_SLICE: Duration = Duration::from_millis(5);

enum Input {
    Pod(Box<watcher::Event<Pod>>),
    Node(Box<watcher::Event<Node>>),
    Pdb(Box<watcher::Event<PodDisruptionBudget>>),
    Namespace(Box<watcher::Event<Namespace>>),
    Bound {
        info: Arc<PodInfo>,
        node: String,
        result: Result<(), String>,
        final_error: bool,
    },
}

/// Runs until `shutdown` resolves.
pub async fn run(
    client: kube::Client,
    config: KubeSchedulerConfiguration,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), SchedulerError> {
    let frameworks = config.frameworks()?;
    let cluster = ApiCluster::new(client.clone());
    let (tx, rx) = mpsc::unbounded_channel();
    let pods = watch(Api::<Pod>::all(client.clone()), tx.clone(), |e| {
        Input::Pod(Box::new(e))
    });
    let nodes = watch(Api::<Node>::all(client.clone()), tx.clone(), |e| {
        Input::Node(Box::new(e))
    });
    let pdbs = watch(
        Api::<PodDisruptionBudget>::all(client.clone()),
        tx.clone(),
        |e| Input::Pdb(Box::new(e)),
    );
    let namespaces = watch(Api::<Namespace>::all(client), tx.clone(), |e| {
        Input::Namespace(Box::new(e))
    });
    let mut scheduler = Scheduler::new(frameworks, cluster, tx);
    tokio::select! {
        _ = scheduler.run(rx) => {}
        _ = shutdown => {}
    }
    pods.abort();
    nodes.abort();
    pdbs.abort();
    namespaces.abort();
    Ok(())
}

fn watch<K>(
    api: Api<K>,
    tx: mpsc::UnboundedSender<Input>,
    wrap: fn(watcher::Event<K>) -> Input,
) -> tokio::task::JoinHandle<()>
where
    K: kube::Resource + Clone + std::fmt::Debug + serde::de::DeserializeOwned + Send + 'static,
{
    tokio::spawn(async move {
        let config = watcher::Config::default().page_size(5000);
        let mut stream = watcher::watcher(api, config).boxed();
        while let Some(event) = stream.next().await {
            match event {
                Ok(ev) => {
                    if tx.send(wrap(ev)).is_err() {
                        return;
                    }
                }
                Err(err) => {
                    tracing::warn!(%err, "scheduler watch failed; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    })
}

/// After a re-list: the `known` keys the listing (`seen`, when one was
/// under way) no longer had, to forget.
fn unlisted(seen: Option<HashSet<String>>, known: Vec<String>) -> Vec<String> {
    match seen {
        Some(seen) => known.into_iter().filter(|k| !seen.contains(k)).collect(),
        None => Vec::new(),
    }
}

/// Relist bookkeeping: what one initial listing contained.
#[derive(Default)]
struct Relist {
    pods: Option<HashSet<String>>,
    nodes: Option<HashSet<String>>,
    pdbs: Option<HashSet<String>>,
    namespaces: Option<HashSet<String>>,
    pods_synced: bool,
    namespaces_synced: bool,
    nodes_synced: bool,
}

pub struct Scheduler<C: Cluster> {
    cache: Cache,
    queue: SchedulingQueue,
    algorithm: Algorithm,
    frameworks: HashMap<String, Arc<Framework>>,
    interest: EventInterest,
    cluster: Arc<C>,
    tx: mpsc::UnboundedSender<Input>,
    relist: Relist,
}

impl<C: Cluster> Scheduler<C> {
    fn new(frameworks: Vec<Framework>, cluster: Arc<C>, tx: mpsc::UnboundedSender<Input>) -> Self {
        let mut interest = EventInterest::new();
        for fw in &frameworks {
            for p in &fw.all {
                interest.insert(p.name(), p.events());
            }
        }
        interest.insert(schedule_one::NO_NODES, &[ClusterEvent::NodeAdd]);
        Scheduler {
            cache: Cache::default(),
            queue: SchedulingQueue::default(),
            algorithm: Algorithm::default(),
            frameworks: frameworks
                .into_iter()
                .map(|f| (f.scheduler_name.clone(), Arc::new(f)))
                .collect(),
            interest,
            cluster,
            tx,
            relist: Relist::default(),
        }
    }

    async fn run(&mut self, mut rx: mpsc::UnboundedReceiver<Input>) {
        let mut next_flush = Instant::now() + Duration::from_secs(1);
        loop {
            // Take in everything that has arrived, then schedule one pod.
            let mut taken = 0;
            while taken < 4096 {
                match rx.try_recv() {
                    Ok(input) => self.apply(input),
                    Err(_) => break,
                }
                taken += 1;
            }
            let now = Instant::now();
            if now >= next_flush {
                self.queue.flush(now);
                next_flush = now + Duration::from_secs(1);
            }
            // Namespaces too: affinity terms' namespaceSelector reads
            // their labels, and an empty view would misplace pods.
            let synced = self.relist.pods_synced
                && self.relist.nodes_synced
                && self.relist.namespaces_synced;
            if synced && self.queue.has_active() {
                // A slice of attempts between yields: yielding after every
                // pod put the loop behind every request task each time.
                let slice = Instant::now();
                while slice.elapsed() < SCHEDULING_SLICE {
                    let Some(p) = self.queue.pop() else {
                        break;
                    };
                    self.schedule_one(p.info);
                }
                tokio::task::yield_now().await;
                continue;
            }
            let wait = tokio::time::sleep_until(next_flush.into());
            tokio::select! {
                input = rx.recv() => match input {
                    Some(input) => self.apply(input),
                    None => return,
                },
                _ = wait => {}
            }
        }
    }

    fn framework_for(&self, pod: &Pod) -> Option<Arc<Framework>> {
        let name = pod
            .spec
            .as_ref()
            .and_then(|s| s.scheduler_name.as_deref())
            .unwrap_or(crate::DEFAULT_SCHEDULER_NAME);
        self.frameworks.get(name).cloned()
    }

    fn schedule_one(&mut self, info: Arc<PodInfo>) {
        let Some(fw) = self.framework_for(&info.pod) else {
            self.queue.done(&info.uid);
            return;
        };
        match self.algorithm.schedule(&fw, &self.cache, &info) {
            Decision::Fit { node, state } => {
                if let Err(err) = self.cache.assume(info.clone(), &node) {
                    tracing::warn!(pod = %info.key, %err, "cannot assume pod");
                    self.queue.requeue(&info.uid, HashSet::new());
                    return;
                }
                let reserved = fw.run_reserve(&state, &info, &node);
                let permitted = if reserved.is_success() {
                    fw.run_permit(&state, &info, &node)
                } else {
                    reserved
                };
                if !permitted.is_success() {
                    fw.run_unreserve(&state, &info, &node);
                    let _ = self.cache.forget(&info.uid);
                    let message = permitted.message();
                    self.report_failure(&info, message, None);
                    self.queue
                        .requeue(&info.uid, [permitted.plugin].into_iter().collect());
                    return;
                }
                self.queue.done(&info.uid);
                self.remove_nomination(&info.uid);
                self.spawn_bind(info, node);
            }
            Decision::NoFit(err, _) => {
                let message = err.message();
                let nominated = err.nomination.as_ref().map(|n| n.node.clone());
                if let Some(nomination) = err.nomination {
                    self.nominate(&info, &nomination.node);
                    for victim in nomination.victims {
                        let cluster = self.cluster.clone();
                        let preemptor = info.clone();
                        let node = nomination.node.clone();
                        tokio::spawn(async move {
                            match cluster.preempt(&victim).await {
                                Ok(()) => cluster.event(
                                    &victim,
                                    "Normal",
                                    "Preempted",
                                    "Preempting",
                                    format!("Preempted by pod {} on node {node}", preemptor.uid),
                                ),
                                Err(err) => {
                                    tracing::warn!(pod = %victim.key, %err, "preemption failed")
                                }
                            }
                        });
                    }
                }
                tracing::debug!(pod = %info.key, %message, "unschedulable");
                self.report_failure(&info, message, nominated);
                self.queue.requeue(&info.uid, err.rejected_by);
            }
        }
    }

    fn report_failure(&self, info: &Arc<PodInfo>, message: String, nominated: Option<String>) {
        let cluster = self.cluster.clone();
        let info = info.clone();
        tokio::spawn(async move {
            cluster.event(
                &info,
                "Warning",
                "FailedScheduling",
                "Scheduling",
                message.clone(),
            );
            if let Err(err) = cluster
                .mark_unschedulable(&info, &message, nominated.as_deref())
                .await
            {
                tracing::debug!(pod = %info.key, %err, "cannot update pod condition");
            }
        });
    }

    fn spawn_bind(&self, info: Arc<PodInfo>, node: String) {
        let cluster = self.cluster.clone();
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let result = cluster.bind(&info, &node).await;
            let final_error = result.as_ref().err().is_some_and(|e| e.is_final());
            if result.is_ok() {
                cluster.event(
                    &info,
                    "Normal",
                    "Scheduled",
                    "Binding",
                    format!("Successfully assigned {} to {node}", info.key),
                );
            }
            let _ = tx.send(Input::Bound {
                info,
                node,
                result: result.map_err(|e| e.to_string()),
                final_error,
            });
        });
    }

    fn nominate(&mut self, info: &Arc<PodInfo>, node: &str) {
        self.remove_nomination(&info.uid);
        self.algorithm
            .nominated
            .entry(node.to_string())
            .or_default()
            .push(info.clone());
    }

    fn remove_nomination(&mut self, uid: &str) {
        self.algorithm.nominated.retain(|_, pods| {
            pods.retain(|p| p.uid != uid);
            !pods.is_empty()
        });
    }

    fn event(&mut self, event: ClusterEvent) {
        self.queue.on_event(event, &self.interest);
    }

    fn apply(&mut self, input: Input) {
        match input {
            Input::Pod(ev) => self.on_pod_event(*ev),
            Input::Node(ev) => self.on_node_event(*ev),
            Input::Pdb(ev) => self.on_pdb_event(*ev),
            Input::Namespace(ev) => self.on_namespace_event(*ev),
            Input::Bound {
                info,
                node,
                result,
                final_error,
            } => match result {
                Ok(()) => {}
                Err(err) => {
                    tracing::warn!(pod = %info.key, %node, %err, "binding failed");
                    let _ = self.cache.forget(&info.uid);
                    self.event(ClusterEvent::AssignedPodDelete);
                    if !final_error {
                        self.report_failure(&info, format!("Binding rejected: {err}"), None);
                        self.queue.add(info);
                    }
                }
            },
        }
    }

    fn on_pod_event(&mut self, ev: watcher::Event<Pod>) {
        match ev {
            watcher::Event::Init => self.relist.pods = Some(HashSet::new()),
            watcher::Event::InitApply(pod) => {
                if let Some(seen) = self.relist.pods.as_mut() {
                    seen.insert(pod.metadata.uid.clone().unwrap_or_default());
                }
                self.on_pod(pod);
            }
            watcher::Event::InitDone => {
                if let Some(seen) = self.relist.pods.take() {
                    for uid in self.cache.pod_uids() {
                        if !seen.contains(&uid) && !self.cache.is_assumed(&uid) {
                            self.cache.remove_pod(&uid);
                        }
                    }
                    self.queue.retain(|uid| seen.contains(uid));
                }
                self.relist.pods_synced = true;
                self.event(ClusterEvent::AssignedPodDelete);
            }
            watcher::Event::Apply(pod) => self.on_pod(pod),
            watcher::Event::Delete(pod) => {
                let uid = pod.metadata.uid.clone().unwrap_or_default();
                self.queue.delete(&uid);
                self.remove_nomination(&uid);
                if self.cache.contains_pod(&uid) {
                    self.cache.remove_pod(&uid);
                    self.event(ClusterEvent::AssignedPodDelete);
                }
            }
        }
    }

    fn on_pod(&mut self, mut pod: Pod) {
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let assigned = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .is_some_and(|n| !n.is_empty());
        if assigned {
            self.queue.delete(&uid);
            self.remove_nomination(&uid);
            let terminal = cache::is_terminal(&pod);
            let known = self.cache.contains_pod(&uid);
            let labels_changed = known
                && self
                    .cache
                    .pod_labels(&uid)
                    .is_some_and(|l| Some(l) != pod.metadata.labels.as_ref());
            cache::slim_placed(&mut pod);
            self.cache.add_or_update_pod(Arc::new(pod));
            if terminal {
                if known {
                    self.event(ClusterEvent::AssignedPodDelete);
                }
            } else if !known {
                self.event(ClusterEvent::AssignedPodAdd);
            } else if labels_changed {
                self.event(ClusterEvent::AssignedPodUpdate);
            }
            return;
        }
        if self.cache.is_assumed(&uid) {
            // Binding in flight; the watch has not caught up.
            return;
        }
        let ours = self.framework_for(&pod).is_some();
        if !ours || pod.metadata.deletion_timestamp.is_some() || cache::is_terminal(&pod) {
            self.queue.delete(&uid);
            return;
        }
        self.queue.add(Arc::new(PodInfo::new(Arc::new(pod))));
    }

    fn on_node_event(&mut self, ev: watcher::Event<Node>) {
        match ev {
            watcher::Event::Init => self.relist.nodes = Some(HashSet::new()),
            watcher::Event::InitApply(node) => {
                if let Some(seen) = self.relist.nodes.as_mut() {
                    seen.insert(node.metadata.name.clone().unwrap_or_default());
                }
                self.on_node(node);
            }
            watcher::Event::InitDone => {
                for name in unlisted(self.relist.nodes.take(), self.cache.node_names()) {
                    self.cache.remove_node(&name);
                }
                self.relist.nodes_synced = true;
                self.event(ClusterEvent::NodeAdd);
            }
            watcher::Event::Apply(node) => self.on_node(node),
            watcher::Event::Delete(node) => {
                if let Some(name) = node.metadata.name.as_deref() {
                    self.cache.remove_node(name);
                }
            }
        }
    }

    fn on_pdb_event(&mut self, ev: watcher::Event<PodDisruptionBudget>) {
        match ev {
            watcher::Event::Init => self.relist.pdbs = Some(HashSet::new()),
            watcher::Event::InitApply(pdb) => {
                if let Some(seen) = self.relist.pdbs.as_mut() {
                    seen.insert(cache::pdb_key(&pdb));
                }
                self.cache.add_or_update_pdb(Arc::new(pdb));
            }
            watcher::Event::InitDone => {
                for key in unlisted(self.relist.pdbs.take(), self.cache.pdb_keys()) {
                    self.cache.remove_pdb_key(&key);
                }
            }
            watcher::Event::Apply(pdb) => self.cache.add_or_update_pdb(Arc::new(pdb)),
            watcher::Event::Delete(pdb) => self.cache.remove_pdb(&pdb),
        }
    }

    /// Namespaces' labels, which affinity terms' namespaceSelector reads.
    fn on_namespace_event(&mut self, ev: watcher::Event<Namespace>) {
        let name = |ns: &Namespace| ns.metadata.name.clone().unwrap_or_default();
        let labels = |ns: &Namespace| ns.metadata.labels.clone().unwrap_or_default();
        match ev {
            watcher::Event::Init => self.relist.namespaces = Some(HashSet::new()),
            watcher::Event::InitApply(ns) => {
                if let Some(seen) = self.relist.namespaces.as_mut() {
                    seen.insert(name(&ns));
                }
                self.cache.set_namespace_labels(&name(&ns), labels(&ns));
            }
            watcher::Event::InitDone => {
                for name in unlisted(self.relist.namespaces.take(), self.cache.namespace_names()) {
                    self.cache.remove_namespace(&name);
                }
                self.relist.namespaces_synced = true;
            }
            watcher::Event::Apply(ns) => self.cache.set_namespace_labels(&name(&ns), labels(&ns)),
            watcher::Event::Delete(ns) => self.cache.remove_namespace(&name(&ns)),
        }
    }

    fn on_node(&mut self, node: Node) {
        let name = node.metadata.name.clone().unwrap_or_default();
        let old = self.cache.node(&name).and_then(|n| n.node.clone());
        let events = match &old {
            None => vec![ClusterEvent::NodeAdd],
            Some(old) => node_changes(old, &node),
        };
        self.cache.add_or_update_node(Arc::new(node));
        for e in events {
            self.event(e);
        }
    }
}

/// What changed between two versions of a node, as far as scheduling
/// cares (heartbeats alone change nothing).
pub fn node_changes(old: &Node, new: &Node) -> Vec<ClusterEvent> {
    let mut out = Vec::new();
    let alloc = |n: &Node| n.status.as_ref().and_then(|s| s.allocatable.clone());
    if alloc(old) != alloc(new) {
        out.push(ClusterEvent::NodeAllocatableChange);
    }
    if old.metadata.labels != new.metadata.labels {
        out.push(ClusterEvent::NodeLabelChange);
    }
    let taints = |n: &Node| n.spec.as_ref().and_then(|s| s.taints.clone());
    if taints(old) != taints(new) {
        out.push(ClusterEvent::NodeTaintChange);
    }
    let cordon = |n: &Node| n.spec.as_ref().and_then(|s| s.unschedulable);
    if cordon(old) != cordon(new) {
        out.push(ClusterEvent::NodeSpecUnschedulableChange);
    }
    let conditions = |n: &Node| -> Vec<(String, String)> {
        n.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .into_iter()
            .flatten()
            .map(|c| (c.type_.clone(), c.status.clone()))
            .collect()
    };
    if conditions(old) != conditions(new) {
        out.push(ClusterEvent::NodeConditionChange);
    }
    out
}
