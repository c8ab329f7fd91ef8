//! Which controllers run, and running them on shared informers.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;

use crate::deployment::DeploymentController;
use crate::events::Recorder;
use crate::informer::InformerFactory;
use crate::replicaset::ReplicaSetController;
use crate::statefulset::StatefulSetController;
use crate::{run_workers, Reconciler};

/// Every controller this manager knows, by its `--controllers` name
/// (upstream's names).
pub const KNOWN_CONTROLLERS: &[&str] = &["deployment", "replicaset", "statefulset"];

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

fn spawn<R: Reconciler>(r: Arc<R>, queue: crate::workqueue::WorkQueue<crate::ObjectKey>, workers: usize) -> tokio::task::JoinHandle<()> {
    tokio::spawn(run_workers(r, queue, workers))
}

/// Runs the enabled controllers until `shutdown` resolves.
pub async fn run(
    client: kube::Client,
    controllers: ControllerSet,
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
    let mut statefulsets = Vec::new();
    if controllers.is_enabled(StatefulSetController::NAME) {
        let rec = Recorder::new(client.clone(), "statefulset-controller");
        let c = StatefulSetController::new(client.clone(), &factory, rec);
        statefulsets.push((c.clone(), c.queue()));
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
        let some = ControllerSet::parse(&["*", "-deployment"]).expect("valid");
        assert!(!some.is_enabled("deployment") && some.is_enabled("replicaset"));
        let one = ControllerSet::parse(&["replicaset"]).expect("valid");
        assert!(!one.is_enabled("deployment") && one.is_enabled("replicaset"));
        let err = ControllerSet::parse(&["nope"]).expect_err("unknown");
        assert!(err.to_string().contains("\"nope\""));
    }
}
