//! Events about pods, as kubelet records them (source component
//! `kubelet`, the node as host, `spec.containers{name}` as field path):
//! Unhealthy, Killing, FailedPostStartHook, FailedPreStopHook.

use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::Client;
use parking_lot::Mutex;

pub const NORMAL: &str = "Normal";
pub const WARNING: &str = "Warning";

/// Records events without waiting for the API (fire and forget, as
/// client-go's broadcaster).
pub trait EventRecorder: Send + Sync {
    /// `container`: the event is about this container of the pod.
    fn event(&self, pod: &Pod, container: Option<&str>, ty: &str, reason: &str, message: String);
}

/// Drops every event.
pub struct NullRecorder;

impl EventRecorder for NullRecorder {
    fn event(&self, _: &Pod, _: Option<&str>, _: &str, _: &str, _: String) {}
}

/// Posts core/v1 Events through the API. A repeat of an event (same
/// object, container, reason and message) bumps the first one's count and
/// lastTimestamp instead of creating another (client-go's correlator,
/// without its time window), so a probe failing every period does not
/// flood the API.
pub struct KubeRecorder {
    client: Client,
    node: String,
    /// Correlation key → (namespace, event name, count).
    seen: Mutex<HashMap<String, (String, String, i32)>>,
}

/// Correlated events kept before the cache starts over.
const MAX_CORRELATED: usize = 4096;

impl KubeRecorder {
    pub fn new(client: Client, node: String) -> Self {
        KubeRecorder {
            client,
            node,
            seen: Mutex::default(),
        }
    }
}

/// `spec.containers{name}` or `spec.initContainers{name}`.
fn field_path(pod: &Pod, container: &str) -> String {
    let init = pod
        .spec
        .as_ref()
        .and_then(|s| s.init_containers.as_ref())
        .is_some_and(|l| l.iter().any(|c| c.name == container));
    if init {
        format!("spec.initContainers{{{container}}}")
    } else {
        format!("spec.containers{{{container}}}")
    }
}

/// The Event object kubelet would post.
pub fn build_event(
    pod: &Pod,
    container: Option<&str>,
    ty: &str,
    reason: &str,
    message: String,
    node: &str,
) -> Event {
    let now = k8s_openapi::jiff::Timestamp::now();
    let name = pod.metadata.name.clone().unwrap_or_default();
    let namespace = pod
        .metadata
        .namespace
        .clone()
        .unwrap_or_else(|| "default".into());
    let suffix = format!("{:x}", now.as_nanosecond());
    Event {
        metadata: ObjectMeta {
            name: Some(format!("{name}.{suffix}")),
            namespace: Some(namespace.clone()),
            ..Default::default()
        },
        involved_object: ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Pod".into()),
            name: Some(name),
            namespace: Some(namespace),
            uid: pod.metadata.uid.clone(),
            resource_version: pod.metadata.resource_version.clone(),
            field_path: container.map(|c| field_path(pod, c)),
        },
        reason: Some(reason.into()),
        message: Some(message),
        type_: Some(ty.into()),
        source: Some(EventSource {
            component: Some("kubelet".into()),
            host: Some(node.into()),
        }),
        reporting_component: Some("kubelet".into()),
        reporting_instance: Some(node.into()),
        first_timestamp: Some(Time(now)),
        last_timestamp: Some(Time(now)),
        event_time: None::<MicroTime>,
        count: Some(1),
        ..Default::default()
    }
}

impl EventRecorder for KubeRecorder {
    fn event(&self, pod: &Pod, container: Option<&str>, ty: &str, reason: &str, message: String) {
        let key = format!(
            "{}/{}/{ty}/{reason}/{message}",
            pod.metadata.uid.as_deref().unwrap_or_default(),
            container.unwrap_or_default()
        );
        let ev = build_event(pod, container, ty, reason, message, &self.node);
        let ns = ev.metadata.namespace.clone().unwrap_or_default();
        let api: Api<Event> = Api::namespaced(self.client.clone(), &ns);
        let repeat = {
            let mut seen = self.seen.lock();
            if seen.len() > MAX_CORRELATED {
                seen.clear();
            }
            match seen.get_mut(&key) {
                Some((_, name, count)) => {
                    *count += 1;
                    Some((name.clone(), *count))
                }
                None => {
                    let name = ev.metadata.name.clone().unwrap_or_default();
                    seen.insert(key, (ns.clone(), name, 1));
                    None
                }
            }
        };
        tokio::spawn(async move {
            if let Some((name, count)) = repeat {
                let patch = serde_json::json!({"count": count, "lastTimestamp": ev.last_timestamp});
                match api
                    .patch(&name, &PatchParams::default(), &Patch::Merge(patch))
                    .await
                {
                    Ok(_) => return,
                    // Gone (expired or deleted): post it anew.
                    Err(e) => tracing::debug!(error = %e, "cannot update event; creating it"),
                }
            }
            if let Err(e) = api.create(&PostParams::default(), &ev).await {
                tracing::debug!(error = %e, "cannot record event");
            }
        });
    }
}

/// One recorded event: (container, type, reason, message).
pub type Recorded = (Option<String>, String, String, String);

/// Keeps events in memory (tests).
#[derive(Default)]
pub struct RecordingRecorder {
    pub events: Mutex<Vec<Recorded>>,
}

impl RecordingRecorder {
    pub fn reasons(&self) -> Vec<String> {
        self.events.lock().iter().map(|e| e.2.clone()).collect()
    }

    pub fn messages(&self, reason: &str) -> Vec<String> {
        self.events
            .lock()
            .iter()
            .filter(|e| e.2 == reason)
            .map(|e| e.3.clone())
            .collect()
    }
}

impl EventRecorder for RecordingRecorder {
    fn event(&self, _: &Pod, container: Option<&str>, ty: &str, reason: &str, message: String) {
        self.events.lock().push((
            container.map(str::to_string),
            ty.into(),
            reason.into(),
            message,
        ));
    }
}

impl<T: EventRecorder + ?Sized> EventRecorder for Arc<T> {
    fn event(&self, pod: &Pod, container: Option<&str>, ty: &str, reason: &str, message: String) {
        (**self).event(pod, container, ty, reason, message)
    }
}
