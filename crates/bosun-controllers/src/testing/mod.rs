//! Controller tests against an in-memory API ([`fake_api`]) with tokio's
//! paused clock: each test seeds objects, runs the real controller (its
//! informers, work queue and reconcile loop through the manager), plays
//! the other components' part by editing objects in the fake, and asserts
//! on the objects and recorded actions once the controller converged.
//!
//! `FAKE_API_TRACE=1 cargo test -p bosun-controllers testing:: -- --nocapture`
//! prints every request the fake answers and each wait's progress.

pub mod fake_api;

mod tests_batch;
mod tests_daemonset;
mod tests_deployment;
mod tests_misc;
mod tests_nodelifecycle;
mod tests_replicaset;
mod tests_statefulset;

use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;

pub use fake_api::FakeApi;

use crate::manager::{ControllerSet, ManagerOptions};

/// The manager running some controllers against a fake; aborted on drop.
pub struct Running(JoinHandle<()>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs the named controllers (upstream `--controllers` names) against
/// `api`.
pub fn run(api: &FakeApi, controllers: &[&str]) -> Running {
    run_with(api, controllers, ManagerOptions::default())
}

pub fn run_with(api: &FakeApi, controllers: &[&str], options: ManagerOptions) -> Running {
    let set = ControllerSet::parse(controllers).expect("known controllers");
    let client = api.client();
    Running(tokio::spawn(async move {
        let _ = crate::manager::run(client, set, options, std::future::pending()).await;
    }))
}

/// Waits, in (paused) tokio time, until `ready` holds; panics with
/// `what` and the recorded actions after `timeout`.
pub async fn wait_until(
    api: &FakeApi,
    what: &str,
    timeout: Duration,
    mut ready: impl FnMut(&FakeApi) -> bool,
) {
    let deadline = Instant::now() + timeout;
    loop {
        if ready(api) {
            return;
        }
        if std::env::var_os("FAKE_API_TRACE").is_some() {
            let actions = api.actions();
            eprintln!(
                "{what}: {} actions, last {:?}",
                actions.len(),
                actions.last()
            );
        }
        if Instant::now() >= deadline {
            panic!(
                "timed out after {timeout:?} waiting for {what}; actions: {:#?}",
                api.actions()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The kubelet's part: every pod not yet Ready and not being deleted is
/// put on `node` and reported Running and Ready. Returns how many changed.
pub fn kubelet_run_pods(api: &FakeApi, node: &str) -> usize {
    kubelet_run_pods_where(api, node, |_| true)
}

/// [`kubelet_run_pods`] for the pods `which` selects.
pub fn kubelet_run_pods_where(
    api: &FakeApi,
    node: &str,
    which: impl Fn(&k8s_openapi::api::core::v1::Pod) -> bool,
) -> usize {
    use k8s_openapi::api::core::v1::Pod;
    use kube::ResourceExt;
    let mut changed = 0;
    for pod in api.list::<Pod>() {
        if crate::pod_util::is_ready(&pod)
            || pod.metadata.deletion_timestamp.is_some()
            || !which(&pod)
        {
            continue;
        }
        api.modify::<Pod>(&pod.namespace().unwrap_or_default(), &pod.name_any(), |p| {
            let spec = p.spec.get_or_insert_with(Default::default);
            spec.node_name.get_or_insert_with(|| node.to_string());
            fixtures::set_running(p, true);
        });
        changed += 1;
    }
    changed
}

/// Lets the controllers run for `d` of tokio time (for asserting that
/// something does not happen).
pub async fn settle(d: Duration) {
    tokio::time::sleep(d).await;
}

/// Builders for the objects tests seed.
pub mod fixtures {
    use std::collections::BTreeMap;

    use k8s_openapi::api::core::v1::{
        Container, Namespace, Node, NodeCondition, NodeStatus, Pod, PodCondition, PodSpec,
        PodStatus, PodTemplateSpec,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, Time};

    pub const NS: &str = "default";

    pub fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    pub fn selector(pairs: &[(&str, &str)]) -> LabelSelector {
        LabelSelector {
            match_labels: Some(labels(pairs)),
            ..Default::default()
        }
    }

    pub fn meta(ns: &str, name: &str) -> ObjectMeta {
        ObjectMeta {
            namespace: (!ns.is_empty()).then(|| ns.to_string()),
            name: Some(name.to_string()),
            ..Default::default()
        }
    }

    pub fn template(pairs: &[(&str, &str)], image: &str) -> PodTemplateSpec {
        PodTemplateSpec {
            metadata: Some(ObjectMeta {
                labels: Some(labels(pairs)),
                ..Default::default()
            }),
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "c".into(),
                    image: Some(image.into()),
                    ..Default::default()
                }],
                ..Default::default()
            }),
        }
    }

    pub fn namespace(name: &str) -> Namespace {
        Namespace {
            metadata: meta("", name),
            ..Default::default()
        }
    }

    pub fn ready_node(name: &str) -> Node {
        Node {
            metadata: ObjectMeta {
                labels: Some(labels(&[("kubernetes.io/hostname", name)])),
                ..meta("", name)
            },
            status: Some(NodeStatus {
                conditions: Some(vec![NodeCondition {
                    type_: "Ready".into(),
                    status: "True".into(),
                    last_heartbeat_time: Some(Time(crate::clock::now())),
                    last_transition_time: Some(Time(crate::clock::now())),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    /// Marks a pod Running with Ready=`ready` (the kubelet's part).
    pub fn set_running(pod: &mut Pod, ready: bool) {
        let status = pod.status.get_or_insert_with(PodStatus::default);
        status.phase = Some("Running".into());
        status.conditions = Some(vec![PodCondition {
            type_: "Ready".into(),
            status: if ready { "True" } else { "False" }.into(),
            last_transition_time: Some(Time(crate::clock::now())),
            ..Default::default()
        }]);
    }

    /// Sets a terminal phase (the kubelet's part).
    pub fn set_phase(pod: &mut Pod, phase: &str) {
        pod.status.get_or_insert_with(PodStatus::default).phase = Some(phase.into());
    }
}
