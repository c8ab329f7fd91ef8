//! Events as upstream controllers record them (core/v1 Events with a
//! source component), correlated as client-go does (aggregation, count
//! bumps, a per-object spam filter: see [`correlator`]) and written in the
//! background through a bounded queue that drops rather than slows a
//! controller down, like client-go's broadcaster.

pub mod correlator;

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time};
use kube::api::{Patch, PatchParams};
use kube::{Api, Resource, ResourceExt};
use parking_lot::Mutex;
use tokio::sync::mpsc;

use correlator::{Action, Correlator};

const QUEUE: usize = 1000;

#[derive(Clone)]
pub struct Recorder {
    tx: mpsc::Sender<Action>,
    component: &'static str,
    correlator: Arc<Mutex<Correlator>>,
}

impl Recorder {
    /// Starts the writer task for events from `component`
    /// (e.g. `deployment-controller`).
    pub fn new(client: kube::Client, component: &'static str) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(write_events(client, rx));
        Recorder {
            tx,
            component,
            correlator: Arc::default(),
        }
    }

    /// A recorder whose events go nowhere (unit tests).
    pub fn discard() -> Self {
        let (tx, _rx) = mpsc::channel(1);
        Recorder {
            tx,
            component: "test",
            correlator: Arc::default(),
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
        let Some(action) = self
            .correlator
            .lock()
            .correlate(event, tokio::time::Instant::now())
        else {
            return;
        };
        if self.tx.try_send(action).is_err() {
            tracing::debug!(
                component = self.component,
                "event queue full; event dropped"
            );
        }
    }
}

async fn write_events(client: kube::Client, mut rx: mpsc::Receiver<Action>) {
    while let Some(action) = rx.recv().await {
        let (Action::Create(event) | Action::Patch(event)) = &action;
        let ns = event.metadata.namespace.clone().unwrap_or_default();
        let api: Api<Event> = Api::namespaced(client.clone(), &ns);
        let result = match &action {
            Action::Create(event) => api.create(&Default::default(), event).await.map(drop),
            Action::Patch(event) => {
                let name = event.metadata.name.clone().unwrap_or_default();
                let patch = serde_json::json!({
                    "count": event.count,
                    "message": event.message,
                    "lastTimestamp": event.last_timestamp,
                });
                match api
                    .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await
                {
                    // Gone meanwhile (TTL): write it afresh, as client-go does.
                    Err(kube::Error::Api(s)) if s.code == 404 => {
                        let mut fresh = event.clone();
                        fresh.metadata.resource_version = None;
                        api.create(&Default::default(), &fresh).await.map(drop)
                    }
                    other => other.map(drop),
                }
            }
        };
        if let Err(err) = result {
            tracing::debug!(%err, "cannot write event");
        }
    }
}
