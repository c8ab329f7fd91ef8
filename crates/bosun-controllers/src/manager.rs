//! Which controllers run, and running them on shared informers.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;

use crate::daemonset::DaemonSetController;
use crate::deployment::DeploymentController;
use crate::disruption::DisruptionController;
use crate::endpoints::endpoint::EndpointsController;
use crate::endpoints::slices::EndpointSliceController;
use crate::events::Recorder;
use crate::garbagecollector::GarbageCollector;
use crate::informer::InformerFactory;
use crate::namespace::NamespaceController;
use crate::nodelifecycle::taint_eviction::TaintEvictionController;
use crate::nodelifecycle::{NodeLifecycleController, NodeLifecycleOptions};
use crate::persistentvolume::PersistentVolumeBinder;
use crate::podgc::{PodGcController, PodGcOptions};
use crate::replicaset::ReplicaSetController;
use crate::resourcequota::ResourceQuotaController;
use crate::rootcacertpublisher::RootCaCertPublisher;
use crate::serviceaccount::ServiceAccountController;
use crate::statefulset::StatefulSetController;
use crate::{run_workers, Reconciler};

/// Every controller this manager knows, by its `--controllers` name
/// (upstream's names).
pub const KNOWN_CONTROLLERS: &[&str] = &[
    "cronjob",
    "daemonset",
    "deployment",
    "disruption",
    "endpoint",
    "endpointslice",
    "garbagecollector",
    "job",
    "namespace",
    "nodelifecycle",
    "persistentvolume-binder",
    "podgc",
    "replicaset",
    "resourcequota",
    "root-ca-cert-publisher",
    "serviceaccount",
    "statefulset",
    "taint-eviction-controller",
    "ttl-after-finished",
];

/// Settings of individual controllers (kube-controller-manager's flags).
#[derive(Debug, Clone, Default)]
pub struct ManagerOptions {
    pub node_lifecycle: NodeLifecycleOptions,
    pub pod_gc: PodGcOptions,
    /// The cluster CA (PEM) the root-ca-cert-publisher publishes
    /// (kube-controller-manager's `--root-ca-file`); without it that
    /// controller does not run.
    pub root_ca: Option<String>,
}

/// Parses a flag duration such as `50s`, `5m` or `1h30m`.
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let d: jiff::SignedDuration = s
        .parse()
        .map_err(|e| format!("invalid duration {s:?}: {e}"))?;
    if d.is_negative() {
        return Err(format!("invalid duration {s:?}: must not be negative"));
    }
    Ok(d.unsigned_abs())
}

#[derive(Debug, thiserror::Error)]
pub enum ManagerError {
    #[error("unknown controller {name:?} in --controllers (known: {known})")]
    UnknownController { name: String, known: String },
}

/// The enabled controllers, from upstream's `--controllers` syntax: `*`
/// is every controller, `name` enables one, `-name` disables one.
#[derive(Debug, Clone)]
pub struct ControllerSet {
    enabled: BTreeSet<&'static str>,
}

impl Default for ControllerSet {
    fn default() -> Self {
        ControllerSet {
            enabled: KNOWN_CONTROLLERS.iter().copied().collect(),
        }
    }
}

impl ControllerSet {
    pub fn parse<S: AsRef<str>>(items: &[S]) -> Result<Self, ManagerError> {
        let known = |name: &str| {
            KNOWN_CONTROLLERS
                .iter()
                .copied()
                .find(|k| *k == name)
                .ok_or_else(|| ManagerError::UnknownController {
                    name: name.to_string(),
                    known: KNOWN_CONTROLLERS.join(", "),
                })
        };
        let items: Vec<&str> = items.iter().map(|s| s.as_ref().trim()).collect();
        let star = items.is_empty() || items.contains(&"*");
        let mut enabled: BTreeSet<&'static str> = if star {
            KNOWN_CONTROLLERS.iter().copied().collect()
        } else {
            BTreeSet::new()
        };
        for item in items {
            if item == "*" || item.is_empty() {
                continue;
            }
            if let Some(name) = item.strip_prefix('-') {
                enabled.remove(known(name)?);
            } else {
                enabled.insert(known(item)?);
            }
        }
        Ok(ControllerSet { enabled })
    }

    /// Nothing enabled: `--controllers=-*` style.
    pub fn none() -> Self {
        ControllerSet {
            enabled: BTreeSet::new(),
        }
    }

    pub fn is_enabled(&self, name: &str) -> bool {
        self.enabled.contains(name)
    }

    pub fn is_empty(&self) -> bool {
        self.enabled.is_empty()
    }
}

fn spawn<R: Reconciler>(
    r: Arc<R>,
    queue: crate::workqueue::WorkQueue<crate::ObjectKey>,
    workers: usize,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(run_workers(r, queue, workers))
}

type Start = Box<dyn FnOnce() -> tokio::task::JoinHandle<()> + Send>;

/// Workers to start once the informers have synced.
fn spawn_later<R: Reconciler>(
    r: Arc<R>,
    queue: crate::workqueue::WorkQueue<crate::ObjectKey>,
    workers: usize,
) -> Start {
    Box::new(move || spawn(r, queue, workers))
}

/// Runs the enabled controllers until `shutdown` resolves.
pub async fn run(
    client: kube::Client,
    controllers: ControllerSet,
    options: ManagerOptions,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ManagerError> {
    let factory = InformerFactory::new();
    let mut tasks = Vec::new();
    let mut pending = Vec::new();
    if controllers.is_enabled(ReplicaSetController::NAME) {
        let rec = Recorder::new(client.clone(), "replicaset-controller");
        let c = ReplicaSetController::new(client.clone(), &factory, rec);
        pending.push((c.clone(), c.queue()));
    }
    let mut deployments = Vec::new();
    if controllers.is_enabled(DeploymentController::NAME) {
        let rec = Recorder::new(client.clone(), "deployment-controller");
        let c = DeploymentController::new(client.clone(), &factory, rec);
        deployments.push((c.clone(), c.queue()));
    }
    let mut keyed = Vec::new();
    if controllers.is_enabled(ServiceAccountController::NAME) {
        let c = ServiceAccountController::new(client.clone(), &factory);
        keyed.push(spawn_later(c.clone(), c.queue(), 2));
    }
    if let Some(root_ca) = options
        .root_ca
        .clone()
        .filter(|_| controllers.is_enabled(RootCaCertPublisher::NAME))
    {
        let c = RootCaCertPublisher::new(client.clone(), &factory, root_ca);
        keyed.push(spawn_later(c.clone(), c.queue(), 2));
    }
    if controllers.is_enabled(PersistentVolumeBinder::NAME) {
        let c = PersistentVolumeBinder::new(client.clone(), &factory);
        keyed.push(spawn_later(c.clone(), c.queue(), 2));
    }
    if controllers.is_enabled(DisruptionController::NAME) {
        let c = DisruptionController::new(client.clone(), &factory);
        keyed.push(spawn_later(c.clone(), c.queue(), 2));
    }
    if controllers.is_enabled(ResourceQuotaController::NAME) {
        let c = ResourceQuotaController::new(client.clone(), &factory);
        keyed.push(spawn_later(c.clone(), c.queue(), 5));
    }
    if controllers.is_enabled(EndpointsController::NAME) {
        let c = EndpointsController::new(client.clone(), &factory);
        keyed.push(spawn_later(c.clone(), c.queue(), 5));
    }
    if controllers.is_enabled(EndpointSliceController::NAME) {
        let c = EndpointSliceController::new(client.clone(), &factory);
        keyed.push(spawn_later(c.clone(), c.queue(), 5));
    }
    let mut node_lifecycle = None;
    if controllers.is_enabled("nodelifecycle") {
        let rec = Recorder::new(client.clone(), "node-controller");
        node_lifecycle = Some(NodeLifecycleController::new(
            client.clone(),
            &factory,
            rec,
            options.node_lifecycle.clone(),
        ));
    }
    let mut pod_gc = None;
    if controllers.is_enabled("podgc") {
        pod_gc = Some(PodGcController::new(
            client.clone(),
            &factory,
            options.pod_gc.clone(),
        ));
    }
    let mut taint_eviction = None;
    if controllers.is_enabled(TaintEvictionController::NAME) {
        let rec = Recorder::new(client.clone(), "taint-eviction-controller");
        let c = TaintEvictionController::new(client.clone(), &factory, rec);
        keyed.push(spawn_later(c.clone(), c.queue(), 5));
        taint_eviction = Some(c);
    }
    let mut daemonsets = Vec::new();
    if controllers.is_enabled(DaemonSetController::NAME) {
        let rec = Recorder::new(client.clone(), "daemonset-controller");
        let c = DaemonSetController::new(client.clone(), &factory, rec);
        daemonsets.push((c.clone(), c.queue()));
    }
    let batch = crate::batch::prepare(&client, &factory, &controllers);
    let mut statefulsets = Vec::new();
    if controllers.is_enabled(StatefulSetController::NAME) {
        let rec = Recorder::new(client.clone(), "statefulset-controller");
        let c = StatefulSetController::new(client.clone(), &factory, rec);
        statefulsets.push((c.clone(), c.queue()));
    }
    if controllers.is_enabled(NamespaceController::NAME) {
        let c = NamespaceController::new(client.clone(), &factory);
        keyed.push(spawn_later(c.clone(), c.queue(), 5));
    }
    if controllers.is_enabled(GarbageCollector::NAME) {
        // Upstream's --concurrent-gc-syncs default; it waits for its own
        // metadata monitors and the shared pod informer it reads pods from.
        let gc = GarbageCollector::new(client.clone());
        gc.share_pods(&factory.informer::<k8s_openapi::api::core::v1::Pod>());
        tasks.push(tokio::spawn(gc.run(20, 5)));
    }
    tasks.extend(factory.start(&client));
    factory.wait_synced().await;
    tracing::info!(controllers = ?controllers.enabled, "controllers started");
    for (c, q) in pending {
        tasks.push(spawn(c, q, 5));
    }
    for (c, q) in deployments {
        tasks.push(spawn(c, q, 5));
    }
    for start in keyed {
        tasks.push(start());
    }
    if let Some(c) = node_lifecycle {
        tasks.push(tokio::spawn(c.run()));
    }
    if let Some(c) = pod_gc {
        tasks.push(tokio::spawn(c.run()));
    }
    if let Some(c) = taint_eviction {
        tasks.push(tokio::spawn(c.sweep_dirty_nodes()));
    }
    // Upstream's --concurrent-daemonset-syncs default.
    for (c, q) in daemonsets {
        tasks.push(spawn(c, q, 2));
    }
    tasks.extend(batch.into_iter().map(|run| run()));
    for (c, q) in statefulsets {
        tasks.push(spawn(c, q, 5));
    }
    shutdown.await;
    for t in tasks {
        t.abort();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controllers_flag_as_upstream() {
        let all = ControllerSet::parse::<&str>(&[]).expect("default");
        assert!(all.is_enabled("deployment") && all.is_enabled("replicaset"));
        assert!(all.is_enabled("daemonset"));
        let some = ControllerSet::parse(&["*", "-deployment"]).expect("valid");
        assert!(!some.is_enabled("deployment") && some.is_enabled("replicaset"));
        let one = ControllerSet::parse(&["replicaset"]).expect("valid");
        assert!(!one.is_enabled("deployment") && one.is_enabled("replicaset"));
        let err = ControllerSet::parse(&["nope"]).expect_err("unknown");
        assert!(err.to_string().contains("\"nope\""));
    }
}
