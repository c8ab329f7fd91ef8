//! The EndpointSlice controller: a Service's endpoints in slices of at most
//! 100, one group of slices per port set, owned by the Service and labelled
//! as upstream's controller labels them; terminating pods stay listed with
//! their conditions.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use k8s_openapi::api::core::v1::{ObjectReference, Pod, Service};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{DeleteParams, PostParams};
use kube::{Api, ResourceExt};

use super::{backends, selector, Backend, ResolvedPort, ServiceWatch};
use crate::controller_ref::controller_reference;
use crate::informer::{Change, InformerFactory, ObjectKey, Store};
use crate::workqueue::WorkQueue;
use crate::{Reconciler, SyncError};

pub const SERVICE_NAME: &str = "kubernetes.io/service-name";
pub const MANAGED_BY: &str = "endpointslice.kubernetes.io/managed-by";
pub const CONTROLLER: &str = "endpointslice-controller.k8s.io";
/// Upstream's `--max-endpoints-per-slice` default.
pub const MAX_PER_SLICE: usize = 100;

pub struct EndpointSliceController {
    client: kube::Client,
    services: Arc<Store<Service>>,
    pods: Arc<Store<Pod>>,
    slices: Arc<Store<EndpointSlice>>,
    queue: WorkQueue<ObjectKey>,
}

impl EndpointSliceController {
    pub fn new(client: kube::Client, factory: &InformerFactory) -> Arc<Self> {
        let watch = ServiceWatch::new(factory);
        let slice_informer = factory.informer::<EndpointSlice>();
        let queue = watch.queue.clone();
        slice_informer.on_change(move |change| {
            if let Change::Deleted(s) | Change::Updated { new: s, .. } = change {
                if s.labels().get(MANAGED_BY).map(String::as_str) == Some(CONTROLLER) {
                    if let Some(svc) = s.labels().get(SERVICE_NAME) {
                        queue.add(ObjectKey::new(s.namespace().unwrap_or_default(), svc));
                    }
                }
            }
        });
        Arc::new(EndpointSliceController {
            client,
            services: watch.services,
            pods: watch.pods,
            slices: slice_informer.store(),
            queue: watch.queue,
        })
    }

    pub fn queue(&self) -> WorkQueue<ObjectKey> {
        self.queue.clone()
    }

    fn owned_slices(&self, key: &ObjectKey) -> Vec<Arc<EndpointSlice>> {
        let mut owned: Vec<Arc<EndpointSlice>> = self
            .slices
            .list_namespace(&key.namespace)
            .into_iter()
            .filter(|s| {
                s.labels().get(SERVICE_NAME) == Some(&key.name)
                    && s.labels().get(MANAGED_BY).map(String::as_str) == Some(CONTROLLER)
            })
            .collect();
        owned.sort_by_key(|s| s.name_any());
        owned
    }
}

fn endpoint(b: &Backend, namespace: &str) -> Endpoint {
    Endpoint {
        addresses: vec![b.ip.clone()],
        conditions: Some(EndpointConditions {
            ready: Some(b.ready && !b.terminating),
            serving: Some(b.ready),
            terminating: Some(b.terminating),
        }),
        hostname: b.hostname.clone(),
        node_name: b.node.clone(),
        target_ref: Some(ObjectReference {
            kind: Some("Pod".into()),
            namespace: Some(namespace.to_string()),
            name: Some(b.pod.clone()),
            uid: b.uid.clone(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The desired slices' (ports, endpoints), in a stable order.
pub fn desired(backends: &[Backend], namespace: &str) -> Vec<(Vec<EndpointPort>, Vec<Endpoint>)> {
    let mut groups: BTreeMap<Vec<ResolvedPort>, Vec<Endpoint>> = BTreeMap::new();
    for b in backends {
        let mut ports = b.ports.clone();
        ports.sort();
        groups
            .entry(ports)
            .or_default()
            .push(endpoint(b, namespace));
    }
    let mut out = Vec::new();
    for (ports, endpoints) in groups {
        let ports: Vec<EndpointPort> = ports
            .into_iter()
            .map(|(name, port, protocol, app_protocol)| EndpointPort {
                // Slices name every port, "" included, as upstream.
                name: Some(name.unwrap_or_default()),
                port: Some(port),
                protocol: Some(protocol),
                app_protocol,
            })
            .collect();
        for chunk in endpoints.chunks(MAX_PER_SLICE) {
            out.push((ports.clone(), chunk.to_vec()));
        }
    }
    out
}

#[async_trait]
impl Reconciler for EndpointSliceController {
    const NAME: &'static str = "endpointslice";

    async fn sync(&self, key: &ObjectKey) -> Result<(), SyncError> {
        let api: Api<EndpointSlice> = Api::namespaced(self.client.clone(), &key.namespace);
        let existing = self.owned_slices(key);
        let svc = self.services.get(key);
        let want = match svc.as_ref() {
            Some(svc) if selector(svc).is_some() => {
                let pods = self.pods.list_namespace(&key.namespace);
                desired(&backends(svc, &pods), &key.namespace)
            }
            // Gone or selector-less: the Service's own slices go (the
            // garbage collector would also remove them with the Service).
            _ => Vec::new(),
        };
        let mut labels = svc.as_ref().map(|s| s.labels().clone()).unwrap_or_default();
        labels.insert(SERVICE_NAME.into(), key.name.clone());
        labels.insert(MANAGED_BY.into(), CONTROLLER.into());
        for (i, (ports, endpoints)) in want.iter().enumerate() {
            let ports = (!ports.is_empty()).then(|| ports.clone());
            match existing.get(i) {
                Some(current) => {
                    if current.endpoints == *endpoints
                        && current.ports == ports
                        && current.labels() == &labels
                    {
                        continue;
                    }
                    let mut updated = (**current).clone();
                    updated.endpoints = endpoints.clone();
                    updated.ports = ports;
                    updated.metadata.labels = Some(labels.clone());
                    api.replace(&current.name_any(), &PostParams::default(), &updated)
                        .await?;
                }
                None => {
                    let Some(svc) = svc.as_ref() else { break };
                    let slice = EndpointSlice {
                        metadata: ObjectMeta {
                            generate_name: Some(format!("{}-", key.name)),
                            namespace: Some(key.namespace.clone()),
                            labels: Some(labels.clone()),
                            owner_references: Some(vec![controller_reference(svc.as_ref())]),
                            ..Default::default()
                        },
                        address_type: "IPv4".into(),
                        endpoints: endpoints.clone(),
                        ports,
                    };
                    api.create(&PostParams::default(), &slice).await?;
                }
            }
        }
        // An empty Service keeps one empty slice, as upstream.
        let keep = want.len().max(usize::from(
            svc.as_ref().is_some_and(|s| selector(s).is_some()),
        ));
        if want.is_empty() && keep == 1 && existing.is_empty() {
            if let Some(svc) = svc.as_ref() {
                let slice = EndpointSlice {
                    metadata: ObjectMeta {
                        generate_name: Some(format!("{}-", key.name)),
                        namespace: Some(key.namespace.clone()),
                        labels: Some(labels.clone()),
                        owner_references: Some(vec![controller_reference(svc.as_ref())]),
                        ..Default::default()
                    },
                    address_type: "IPv4".into(),
                    endpoints: Vec::new(),
                    ports: None,
                };
                api.create(&PostParams::default(), &slice).await?;
            }
        }
        for extra in existing.iter().skip(keep) {
            match api
                .delete(&extra.name_any(), &DeleteParams::default())
                .await
            {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(e.into()),
            }
        }
        // The one kept empty slice must really be empty.
        if want.is_empty() && keep == 1 {
            if let Some(current) = existing.first() {
                if !current.endpoints.is_empty() {
                    let mut updated = (**current).clone();
                    updated.endpoints = Vec::new();
                    updated.ports = None;
                    api.replace(&current.name_any(), &PostParams::default(), &updated)
                        .await?;
                }
            }
        }
        Ok(())
    }
}
