//! Every side effect the scheduler has on the cluster, behind one trait:
//! binding, pod status (PodScheduled condition, nominatedNodeName),
//! preemption (DisruptionTarget condition, then delete) and events. The
//! API implementation speaks plain Kubernetes REST through a kube client,
//! so this scheduler drives any conforming API server.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Binding, ObjectReference, Pod};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use serde_json::json;
use tokio::sync::mpsc;

use crate::node_info::PodInfo;

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("{0}")]
    Api(#[from] kube::Error),
    #[error("{0}")]
    Encode(#[from] serde_json::Error),
}

impl ClusterError {
    /// The pod is gone or already bound: nothing to retry.
    pub fn is_final(&self) -> bool {
        matches!(self, ClusterError::Api(kube::Error::Api(s)) if s.code == 404 || s.code == 409)
    }
}

#[async_trait::async_trait]
pub trait Cluster: Send + Sync + 'static {
    /// POST pods/{name}/binding.
    async fn bind(&self, pod: &PodInfo, node: &str) -> Result<(), ClusterError>;
    /// PodScheduled=False/Unschedulable with `message`, and the nominated
    /// node (Some("") clears it).
    async fn mark_unschedulable(
        &self,
        pod: &PodInfo,
        message: &str,
        nominated: Option<&str>,
    ) -> Result<(), ClusterError>;
    /// Marks `victim` with a DisruptionTarget condition and deletes it.
    async fn preempt(&self, victim: &PodInfo) -> Result<(), ClusterError>;
    /// Records an event; lossy under pressure, never blocks.
    fn event(&self, pod: &PodInfo, kind: &str, reason: &str, action: &str, note: String);
}

/// The scheduler's own name in events and conditions.
pub const COMPONENT: &str = "default-scheduler";

pub struct ApiCluster {
    client: kube::Client,
    events: mpsc::Sender<Event>,
}

/// Events waiting to be written; beyond this they are dropped, as
/// upstream's broadcaster drops them.
const EVENT_QUEUE: usize = 1000;
const EVENT_WRITERS: usize = 8;

impl ApiCluster {
    pub fn new(client: kube::Client) -> Arc<Self> {
        let (tx, rx) = mpsc::channel(EVENT_QUEUE);
        tokio::spawn(write_events(client.clone(), rx));
        Arc::new(ApiCluster { client, events: tx })
    }

    fn pods(&self, ns: &str) -> Api<Pod> {
        Api::namespaced(self.client.clone(), ns)
    }
}

async fn write_events(client: kube::Client, rx: mpsc::Receiver<Event>) {
    use futures::StreamExt;
    tokio_stream::wrappers::ReceiverStream::new(rx)
        .for_each_concurrent(EVENT_WRITERS, |ev| {
            let client = client.clone();
            async move {
                let ns = ev.metadata.namespace.clone().unwrap_or_default();
                let api: Api<Event> = Api::namespaced(client, &ns);
                if let Err(err) = api.create(&PostParams::default(), &ev).await {
                    tracing::debug!(%err, "event dropped");
                }
            }
        })
        .await;
}

fn now() -> k8s_openapi::apimachinery::pkg::apis::meta::v1::Time {
    k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(k8s_openapi::jiff::Timestamp::now())
}

#[async_trait::async_trait]
impl Cluster for ApiCluster {
    async fn bind(&self, pod: &PodInfo, node: &str) -> Result<(), ClusterError> {
        let binding = Binding {
            metadata: ObjectMeta {
                name: Some(pod.name().to_string()),
                namespace: Some(pod.namespace.clone()),
                uid: Some(pod.uid.clone()),
                ..Default::default()
            },
            target: ObjectReference {
                kind: Some("Node".into()),
                api_version: Some("v1".into()),
                name: Some(node.to_string()),
                ..Default::default()
            },
        };
        let _: serde_json::Value = self
            .pods(&pod.namespace)
            .create_subresource("binding", pod.name(), &PostParams::default(), &binding)
            .await?;
        Ok(())
    }

    async fn mark_unschedulable(
        &self,
        pod: &PodInfo,
        message: &str,
        nominated: Option<&str>,
    ) -> Result<(), ClusterError> {
        let current = pod
            .pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_ == "PodScheduled"));
        let unchanged_condition = current.is_some_and(|c| {
            c.status == "False"
                && c.reason.as_deref() == Some("Unschedulable")
                && c.message.as_deref() == Some(message)
        });
        let current_nominated = pod
            .pod
            .status
            .as_ref()
            .and_then(|s| s.nominated_node_name.as_deref())
            .unwrap_or("");
        let nomination_unchanged = nominated.is_none_or(|n| n == current_nominated);
        if unchanged_condition && nomination_unchanged {
            return Ok(());
        }
        let transition = match current {
            Some(c) if c.status == "False" => c.last_transition_time.clone().unwrap_or_else(now),
            _ => now(),
        };
        let mut status = json!({
            "conditions": [{
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": message,
                "lastProbeTime": null,
                "lastTransitionTime": transition,
            }]
        });
        if let Some(n) = nominated {
            status["nominatedNodeName"] = if n.is_empty() { json!(null) } else { json!(n) };
        }
        self.pods(&pod.namespace)
            .patch_status(
                pod.name(),
                &PatchParams::default(),
                &Patch::Strategic(json!({ "status": status })),
            )
            .await?;
        Ok(())
    }

    async fn preempt(&self, victim: &PodInfo) -> Result<(), ClusterError> {
        let api = self.pods(&victim.namespace);
        let condition = json!({"status": {"conditions": [{
            "type": "DisruptionTarget",
            "status": "True",
            "reason": "PreemptionByScheduler",
            "message": format!("{COMPONENT}: preempting to accommodate a higher priority pod"),
            "lastTransitionTime": now(),
        }]}});
        if let Err(err) = api
            .patch_status(
                victim.name(),
                &PatchParams::default(),
                &Patch::Strategic(condition),
            )
            .await
        {
            tracing::debug!(pod = %victim.key, %err, "cannot mark preemption victim");
        }
        let dp = DeleteParams {
            preconditions: Some(Preconditions {
                uid: Some(victim.uid.clone()),
                resource_version: None,
            }),
            ..Default::default()
        };
        match api.delete(victim.name(), &dp).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    fn event(&self, pod: &PodInfo, kind: &str, reason: &str, action: &str, note: String) {
        let now = k8s_openapi::jiff::Timestamp::now();
        let name = pod.name();
        let event = Event {
            metadata: ObjectMeta {
                name: Some(format!("{name}.{:x}", now.as_nanosecond())),
                namespace: Some(pod.namespace.clone()),
                ..Default::default()
            },
            event_time: Some(MicroTime(now)),
            reporting_controller: Some(COMPONENT.into()),
            reporting_instance: Some(format!("{COMPONENT}-bosun")),
            action: Some(action.into()),
            reason: Some(reason.into()),
            type_: Some(kind.into()),
            note: Some(note),
            regarding: Some(ObjectReference {
                kind: Some("Pod".into()),
                api_version: Some("v1".into()),
                namespace: Some(pod.namespace.clone()),
                name: Some(name.to_string()),
                uid: Some(pod.uid.clone()),
                resource_version: pod.pod.metadata.resource_version.clone(),
                ..Default::default()
            }),
            ..Default::default()
        };
        if self.events.try_send(event).is_err() {
            tracing::debug!(pod = %pod.key, reason, "event queue full; event dropped");
        }
    }
}
