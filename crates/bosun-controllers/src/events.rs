//! Events as upstream controllers record them (core/v1 Events with a
//! source component), written in the background through a bounded queue
//! that drops rather than slows a controller down, like client-go's
//! broadcaster.

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time};
use kube::{Api, Resource, ResourceExt};
use tokio::sync::mpsc;

const QUEUE: usize = 1000;

#[derive(Clone)]
pub struct Recorder {
    tx: mpsc::Sender<Event>,
    component: &'static str,
}

impl Recorder {
    /// Starts the writer task for events from `component`
    /// (e.g. `deployment-controller`).
    pub fn new(client: kube::Client, component: &'static str) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(write_events(client, rx));
        Recorder { tx, component }
    }

    /// A recorder whose events go nowhere (unit tests).
    pub fn discard() -> Self {
        let (tx, _rx) = mpsc::channel(1);
        Recorder {
            tx,
            component: "test",
        }
    }

    pub fn normal<K: Resource<DynamicType = ()>>(&self, obj: &K, reason: &str, message: String) {
        self.record(obj, "Normal", reason, message);
    }

    pub fn warning<K: Resource<DynamicType = ()>>(&self, obj: &K, reason: &str, message: String) {
        self.record(obj, "Warning", reason, message);
    }

    fn record<K: Resource<DynamicType = ()>>(
        &self,
        obj: &K,
        kind: &str,
        reason: &str,
        message: String,
    ) {
        let now = crate::clock::now();
        let involved = ObjectReference {
            api_version: Some(K::api_version(&()).into_owned()),
            kind: Some(K::kind(&()).into_owned()),
            name: Some(obj.name_any()),
            namespace: obj.namespace(),
            uid: obj.uid(),
            resource_version: obj.resource_version(),
            ..Default::default()
        };
        let name = format!("{}.{:x}", obj.name_any(), now.as_nanosecond());
        let event = Event {
            metadata: ObjectMeta {
                name: Some(name),
                namespace: Some(obj.namespace().unwrap_or_else(|| "default".into())),
                ..Default::default()
            },
            involved_object: involved,
            reason: Some(reason.into()),
            message: Some(message),
            type_: Some(kind.into()),
            source: Some(EventSource {
                component: Some(self.component.into()),
                host: None,
            }),
            first_timestamp: Some(Time(now)),
            last_timestamp: Some(Time(now)),
            event_time: None::<MicroTime>,
            count: Some(1),
            reporting_component: Some(self.component.into()),
            reporting_instance: Some(self.component.into()),
            ..Default::default()
        };
        if self.tx.try_send(event).is_err() {
            tracing::debug!(
                component = self.component,
                "event queue full; event dropped"
            );
        }
    }
}

async fn write_events(client: kube::Client, mut rx: mpsc::Receiver<Event>) {
    while let Some(event) = rx.recv().await {
        let ns = event.metadata.namespace.clone().unwrap_or_default();
        let api: Api<Event> = Api::namespaced(client.clone(), &ns);
        if let Err(err) = api.create(&Default::default(), &event).await {
            tracing::debug!(%err, "cannot write event");
        }
    }
}
