//! The ResourceQuota controller: keeps each quota's `status.hard` and
//! `status.used` current — object counts (`pods`, `services`,
//! `count/deployments.apps`, …) and the compute and storage requests and
//! limits of the namespace's non-terminal pods and claims — so `kubectl
//! describe quota` shows what is used.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use bosun_core::quantity::{Format, Quantity};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{
    ConfigMap, PersistentVolumeClaim, Pod, ResourceQuota, ResourceQuotaStatus, Secret, Service,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as K8sQuantity;
use kube::{Resource, ResourceExt};

use crate::informer::{Change, InformerFactory, ObjectKey, Store};
use crate::metaonly::MetaOnly;
use crate::workqueue::WorkQueue;
use crate::{Reconciler, SyncError};

/// The namespace's objects, one store per counted kind.
struct Stores {
    pods: Arc<Store<Pod>>,
    services: Arc<Store<Service>>,
    // Counted only: metadata-only informers.
    configmaps: Arc<Store<MetaOnly<ConfigMap>>>,
    secrets: Arc<Store<MetaOnly<Secret>>>,
    claims: Arc<Store<PersistentVolumeClaim>>,
    quotas: Arc<Store<ResourceQuota>>,
    deployments: Arc<Store<Deployment>>,
    replicasets: Arc<Store<ReplicaSet>>,
    statefulsets: Arc<Store<StatefulSet>>,
    daemonsets: Arc<Store<DaemonSet>>,
    jobs: Arc<Store<Job>>,
    cronjobs: Arc<Store<CronJob>>,
}

pub struct ResourceQuotaController {
    client: kube::Client,
    stores: Stores,
    queue: WorkQueue<ObjectKey>,
}

/// Queues every quota of the namespace an object changed in, for changes
/// `relevant` accepts.
fn watch_kind<K>(
    factory: &InformerFactory,
    quotas: Arc<Store<ResourceQuota>>,
    queue: WorkQueue<ObjectKey>,
    relevant: fn(&Change<'_, K>) -> bool,
) -> Arc<Store<K>>
where
    K: Resource<DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    let informer = factory.informer::<K>();
    informer.on_change(move |change| {
        if !relevant(change) {
            return;
        }
        let obj = match change {
            Change::Added(o) | Change::Updated { new: o, .. } | Change::Deleted(o) => o,
        };
        for q in quotas.list_namespace(&obj.namespace().unwrap_or_default()) {
            queue.add(ObjectKey::of(q.as_ref()));
        }
    });
    informer.store()
}

fn any_change<K>(_: &Change<'_, K>) -> bool {
    true
}

/// Object counts change only on create and delete.
fn created_or_deleted<K>(change: &Change<'_, K>) -> bool {
    !matches!(change, Change::Updated { .. })
}

/// Pod updates matter to usage only when the pod becomes terminal or its
/// resources change (upstream's replenishment filter); status churn does
/// not.
fn pod_usage_changed(change: &Change<'_, Pod>) -> bool {
    match change {
        Change::Updated { old, new } => {
            terminal(old) != terminal(new)
                || old
                    .spec
                    .as_ref()
                    .map(|s| (&s.containers, &s.init_containers, &s.overhead))
                    != new
                        .spec
                        .as_ref()
                        .map(|s| (&s.containers, &s.init_containers, &s.overhead))
        }
        _ => true,
    }
}

fn terminal(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded") | Some("Failed")
    )
}

fn qty(q: Option<&K8sQuantity>) -> Quantity {
    q.and_then(|q| Quantity::parse(&q.0).ok())
        .unwrap_or_else(Quantity::zero)
}

/// Adds quantities keeping the first non-zero one's format (so `512Mi` +
/// `1Gi` prints as `1536Mi`, as upstream's quantity arithmetic does).
fn plus(a: Quantity, b: &Quantity) -> Quantity {
    if a.is_zero() {
        *b
    } else if b.is_zero() {
        a
    } else {
        a.add(b)
    }
}

fn max_q(a: Quantity, b: Quantity) -> Quantity {
    if b > a {
        b
    } else {
        a
    }
}

/// A pod's effective request or limit of `resource` (upstream's
/// PodRequests: the larger of the containers' sum and any one init
/// container, plus overhead).
fn pod_amount(pod: &Pod, limits: bool, resource: &str) -> Quantity {
    let Some(spec) = pod.spec.as_ref() else {
        return Quantity::zero();
    };
    let of = |c: &k8s_openapi::api::core::v1::Container| {
        let r = c.resources.as_ref();
        let m = if limits {
            r.and_then(|r| r.limits.as_ref())
        } else {
            r.and_then(|r| r.requests.as_ref())
        };
        qty(m.and_then(|m| m.get(resource)))
    };
    let sum = spec
        .containers
        .iter()
        .fold(Quantity::zero(), |acc, c| plus(acc, &of(c)));
    let init = spec
        .init_containers
        .iter()
        .flatten()
        .fold(Quantity::zero(), |acc, c| max_q(acc, of(c)));
    let overhead = qty(spec.overhead.as_ref().and_then(|o| o.get(resource)));
    plus(max_q(sum, init), &overhead)
}

impl ResourceQuotaController {
    pub fn new(client: kube::Client, factory: &InformerFactory) -> Arc<Self> {
        let quota_informer = factory.informer::<ResourceQuota>();
        let quotas = quota_informer.store();
        let queue = WorkQueue::new();
        let q = queue.clone();
        quota_informer.on_change(move |change| match change {
            Change::Added(o) | Change::Updated { new: o, .. } => q.add(ObjectKey::of(o.as_ref())),
            Change::Deleted(_) => {}
        });
        let stores = Stores {
            pods: watch_kind(factory, quotas.clone(), queue.clone(), pod_usage_changed),
            services: watch_kind(factory, quotas.clone(), queue.clone(), any_change),
            configmaps: watch_kind(factory, quotas.clone(), queue.clone(), created_or_deleted),
            secrets: watch_kind(factory, quotas.clone(), queue.clone(), created_or_deleted),
            claims: watch_kind(factory, quotas.clone(), queue.clone(), any_change),
            deployments: watch_kind(factory, quotas.clone(), queue.clone(), created_or_deleted),
            replicasets: watch_kind(factory, quotas.clone(), queue.clone(), created_or_deleted),
            statefulsets: watch_kind(factory, quotas.clone(), queue.clone(), created_or_deleted),
            daemonsets: watch_kind(factory, quotas.clone(), queue.clone(), created_or_deleted),
            jobs: watch_kind(factory, quotas.clone(), queue.clone(), created_or_deleted),
            cronjobs: watch_kind(factory, quotas.clone(), queue.clone(), created_or_deleted),
            quotas,
        };
        Arc::new(ResourceQuotaController {
            client,
            stores,
            queue,
        })
    }

    pub fn queue(&self) -> WorkQueue<ObjectKey> {
        self.queue.clone()
    }

    /// Usage of one quota resource name in `ns`, or None when the name is
    /// not one this controller tracks.
    fn usage(&self, ns: &str, resource: &str, pods: &[Arc<Pod>]) -> Option<Quantity> {
        let s = &self.stores;
        let count = |n: usize| Some(Quantity::from_i64(n as i64, Format::DecimalSI));
        let sum_pods = |limits: bool, r: &str| {
            Some(pods.iter().fold(Quantity::zero(), |acc, p| {
                plus(acc, &pod_amount(p, limits, r))
            }))
        };
        match resource {
            "pods" | "count/pods" => count(pods.len()),
            "services" | "count/services" => count(s.services.list_namespace(ns).len()),
            "configmaps" | "count/configmaps" => count(s.configmaps.list_namespace(ns).len()),
            "secrets" | "count/secrets" => count(s.secrets.list_namespace(ns).len()),
            "persistentvolumeclaims" | "count/persistentvolumeclaims" => {
                count(s.claims.list_namespace(ns).len())
            }
            "resourcequotas" | "count/resourcequotas" => count(s.quotas.list_namespace(ns).len()),
            "replicationcontrollers" | "count/replicationcontrollers" => count(0),
            "count/deployments.apps" => count(s.deployments.list_namespace(ns).len()),
            "count/replicasets.apps" => count(s.replicasets.list_namespace(ns).len()),
            "count/statefulsets.apps" => count(s.statefulsets.list_namespace(ns).len()),
            "count/daemonsets.apps" => count(s.daemonsets.list_namespace(ns).len()),
            "count/jobs.batch" => count(s.jobs.list_namespace(ns).len()),
            "count/cronjobs.batch" => count(s.cronjobs.list_namespace(ns).len()),
            "services.nodeports" => count(
                s.services
                    .list_namespace(ns)
                    .iter()
                    .filter_map(|svc| svc.spec.as_ref())
                    .filter(|sp| {
                        matches!(sp.type_.as_deref(), Some("NodePort") | Some("LoadBalancer"))
                    })
                    .map(|sp| sp.ports.as_ref().map_or(0, Vec::len))
                    .sum(),
            ),
            "services.loadbalancers" => count(
                s.services
                    .list_namespace(ns)
                    .iter()
                    .filter(|svc| {
                        svc.spec.as_ref().and_then(|sp| sp.type_.as_deref()) == Some("LoadBalancer")
                    })
                    .count(),
            ),
            "cpu" | "requests.cpu" => sum_pods(false, "cpu"),
            "memory" | "requests.memory" => sum_pods(false, "memory"),
            "ephemeral-storage" | "requests.ephemeral-storage" => {
                sum_pods(false, "ephemeral-storage")
            }
            "limits.cpu" => sum_pods(true, "cpu"),
            "limits.memory" => sum_pods(true, "memory"),
            "limits.ephemeral-storage" => sum_pods(true, "ephemeral-storage"),
            "requests.storage" => Some(s.claims.list_namespace(ns).iter().fold(
                Quantity::zero(),
                |acc, c| {
                    plus(
                        acc,
                        &qty(c
                            .spec
                            .as_ref()
                            .and_then(|sp| sp.resources.as_ref())
                            .and_then(|r| r.requests.as_ref())
                            .and_then(|r| r.get("storage"))),
                    )
                },
            )),
            other => other
                .strip_prefix("requests.")
                .filter(|r| r.contains('/'))
                .and_then(|r| sum_pods(false, r)),
        }
    }
}

#[async_trait]
impl Reconciler for ResourceQuotaController {
    const NAME: &'static str = "resourcequota";

    async fn sync(&self, key: &ObjectKey) -> Result<(), SyncError> {
        let Some(quota) = self.stores.quotas.get(key) else {
            return Ok(());
        };
        let hard = quota
            .spec
            .as_ref()
            .and_then(|s| s.hard.clone())
            .unwrap_or_default();
        let mut used = BTreeMap::new();
        // The namespace's live pods, listed once for every resource name.
        let pods: Vec<Arc<Pod>> = self
            .stores
            .pods
            .list_namespace(&key.namespace)
            .into_iter()
            .filter(|p| !terminal(p))
            .collect();
        for name in hard.keys() {
            if let Some(q) = self.usage(&key.namespace, name, &pods) {
                used.insert(name.clone(), K8sQuantity(q.canonical()));
            }
        }
        let status = ResourceQuotaStatus {
            hard: Some(hard),
            used: Some(used),
        };
        if quota.status.as_ref() == Some(&status) {
            return Ok(());
        }
        let mut updated = (*quota).clone();
        updated.status = Some(status);
        crate::write_status(&self.client, &updated).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Container, PodSpec, ResourceRequirements};

    fn container(cpu: &str) -> Container {
        Container {
            name: "c".into(),
            resources: Some(ResourceRequirements {
                requests: Some([("cpu".to_string(), K8sQuantity(cpu.into()))].into()),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn pod_requests_take_the_larger_of_containers_and_init() {
        let pod = Pod {
            spec: Some(PodSpec {
                containers: vec![container("250m"), container("250m")],
                init_containers: Some(vec![container("1")]),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(pod_amount(&pod, false, "cpu").canonical(), "1");
        let small_init = Pod {
            spec: Some(PodSpec {
                containers: vec![container("250m"), container("500m")],
                init_containers: Some(vec![container("100m")]),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(pod_amount(&small_init, false, "cpu").canonical(), "750m");
    }
}
