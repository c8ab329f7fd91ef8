//! The Endpoints controller: one `Endpoints` object per selecting Service,
//! its subsets grouped by port set, ready pods as addresses and the rest
//! as notReadyAddresses (terminating pods left out).

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use k8s_openapi::api::core::v1::{
    EndpointAddress, EndpointPort, EndpointSubset, Endpoints, ObjectReference, Pod, Service,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{DeleteParams, PostParams};
use kube::{Api, ResourceExt};

use super::{backends, selector, Backend, ResolvedPort, ServiceWatch};
use crate::informer::{Change, InformerFactory, ObjectKey, Store};
use crate::workqueue::WorkQueue;
use crate::{Reconciler, SyncError};

pub struct EndpointsController {
    client: kube::Client,
    services: Arc<Store<Service>>,
    pods: Arc<Store<Pod>>,
    endpoints: Arc<Store<Endpoints>>,
    queue: WorkQueue<ObjectKey>,
}

impl EndpointsController {
    pub fn new(client: kube::Client, factory: &InformerFactory) -> Arc<Self> {
        let watch = ServiceWatch::new(factory);
        let ep_informer = factory.informer::<Endpoints>();
        let queue = watch.queue.clone();
        ep_informer.on_change(move |change| {
            if let Change::Deleted(e) = change {
                queue.add(ObjectKey::of(e.as_ref()));
            }
        });
        Arc::new(EndpointsController {
            client,
            services: watch.services,
            pods: watch.pods,
            endpoints: ep_informer.store(),
            queue: watch.queue,
        })
    }

    pub fn queue(&self) -> WorkQueue<ObjectKey> {
        self.queue.clone()
    }
}

type PortKey = Vec<ResolvedPort>;

/// Subsets as upstream repacks them: one per distinct port set, addresses
/// sorted by IP.
pub fn subsets(backends: &[Backend]) -> Vec<EndpointSubset> {
    let mut groups: BTreeMap<PortKey, (Vec<EndpointAddress>, Vec<EndpointAddress>)> =
        BTreeMap::new();
    for b in backends.iter().filter(|b| !b.terminating || b.ready) {
        if b.terminating {
            continue;
        }
        let mut ports = b.ports.clone();
        ports.sort();
        let address = EndpointAddress {
            ip: b.ip.clone(),
            hostname: b.hostname.clone(),
            node_name: b.node.clone(),
            target_ref: Some(ObjectReference {
                kind: Some("Pod".into()),
                name: Some(b.pod.clone()),
                uid: b.uid.clone(),
                ..Default::default()
            }),
        };
        let g = groups.entry(ports).or_default();
        if b.ready {
            g.0.push(address);
        } else {
            g.1.push(address);
        }
    }
    groups
        .into_iter()
        .map(|(ports, (ready, not_ready))| EndpointSubset {
            addresses: (!ready.is_empty()).then_some(ready),
            not_ready_addresses: (!not_ready.is_empty()).then_some(not_ready),
            ports: (!ports.is_empty()).then(|| {
                ports
                    .into_iter()
                    .map(|(name, port, protocol, app_protocol)| EndpointPort {
                        name: name.filter(|n| !n.is_empty()),
                        port,
                        protocol: Some(protocol),
                        app_protocol,
                    })
                    .collect()
            }),
        })
        .collect()
}

/// Upstream's cap on addresses in one Endpoints object; beyond it the
/// object is truncated and annotated (EndpointSlices carry the rest).
pub const MAX_ADDRESSES: usize = 1000;
pub const OVER_CAPACITY: &str = "endpoints.kubernetes.io/over-capacity";

/// Keeps at most [`MAX_ADDRESSES`] addresses, ready ones first; returns
/// whether anything was dropped.
pub fn truncate(subsets: &mut [EndpointSubset]) -> bool {
    let total: usize = subsets
        .iter()
        .map(|s| {
            s.addresses.as_ref().map_or(0, Vec::len)
                + s.not_ready_addresses.as_ref().map_or(0, Vec::len)
        })
        .sum();
    if total <= MAX_ADDRESSES {
        return false;
    }
    let mut room = MAX_ADDRESSES;
    for s in subsets.iter_mut() {
        if let Some(a) = s.addresses.as_mut() {
            a.truncate(room);
            room -= a.len();
        }
    }
    for s in subsets.iter_mut() {
        if let Some(a) = s.not_ready_addresses.as_mut() {
            a.truncate(room);
            room -= a.len();
        }
    }
    for s in subsets.iter_mut() {
        if s.addresses.as_ref().is_some_and(Vec::is_empty) {
            s.addresses = None;
        }
        if s.not_ready_addresses.as_ref().is_some_and(Vec::is_empty) {
            s.not_ready_addresses = None;
        }
    }
    true
}

#[async_trait]
impl Reconciler for EndpointsController {
    const NAME: &'static str = "endpoint";

    async fn sync(&self, key: &ObjectKey) -> Result<(), SyncError> {
        let api: Api<Endpoints> = Api::namespaced(self.client.clone(), &key.namespace);
        let Some(svc) = self.services.get(key) else {
            if self.endpoints.get(key).is_some() {
                match api.delete(&key.name, &DeleteParams::default()).await {
                    Ok(_) => {}
                    Err(kube::Error::Api(s)) if s.code == 404 => {}
                    Err(e) => return Err(e.into()),
                }
            }
            return Ok(());
        };
        if selector(&svc).is_none() {
            return Ok(());
        }
        let mut pods = self.pods.list_namespace(&key.namespace);
        pods.retain(|p| p.metadata.namespace.as_deref() == Some(key.namespace.as_str()));
        let mut subsets = subsets(&backends(&svc, &pods));
        for s in subsets.iter_mut() {
            for a in s
                .addresses
                .iter_mut()
                .flatten()
                .chain(s.not_ready_addresses.iter_mut().flatten())
            {
                if let Some(r) = a.target_ref.as_mut() {
                    r.namespace = Some(key.namespace.clone());
                }
            }
        }
        let mut labels = svc.labels().clone();
        if svc.spec.as_ref().and_then(|s| s.cluster_ip.as_deref()) == Some("None") {
            labels.insert("service.kubernetes.io/headless".into(), String::new());
        }
        let truncated = truncate(&mut subsets);
        subsets.retain(|s| s.addresses.is_some() || s.not_ready_addresses.is_some());
        let subsets = (!subsets.is_empty()).then_some(subsets);
        match self.endpoints.get(key) {
            Some(current) => {
                let marked = current.annotations().get(OVER_CAPACITY).is_some();
                if current.subsets == subsets && current.labels() == &labels && marked == truncated
                {
                    return Ok(());
                }
                let mut updated = (*current).clone();
                updated.subsets = subsets;
                updated.metadata.labels = Some(labels);
                let annotations = updated
                    .metadata
                    .annotations
                    .get_or_insert_with(Default::default);
                if truncated {
                    annotations.insert(OVER_CAPACITY.into(), "truncated".into());
                } else {
                    annotations.remove(OVER_CAPACITY);
                }
                api.replace(&key.name, &PostParams::default(), &updated)
                    .await?;
            }
            None => {
                let ep = Endpoints {
                    metadata: ObjectMeta {
                        name: Some(key.name.clone()),
                        namespace: Some(key.namespace.clone()),
                        labels: Some(labels),
                        annotations: truncated
                            .then(|| [(OVER_CAPACITY.to_string(), "truncated".to_string())].into()),
                        ..Default::default()
                    },
                    subsets,
                };
                match api.create(&PostParams::default(), &ep).await {
                    Ok(_) => {}
                    Err(kube::Error::Api(s)) if s.code == 409 => {
                        // Created meanwhile (or by hand): the next sync
                        // updates it from the informer's copy.
                        self.queue.add(key.clone());
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addresses(n: usize, prefix: &str) -> Option<Vec<EndpointAddress>> {
        Some(
            (0..n)
                .map(|i| EndpointAddress {
                    ip: format!("{prefix}.{i}"),
                    ..Default::default()
                })
                .collect(),
        )
    }

    #[test]
    fn truncation_keeps_ready_addresses_first() {
        let mut subsets = vec![EndpointSubset {
            addresses: addresses(900, "r"),
            not_ready_addresses: addresses(300, "n"),
            ports: None,
        }];
        assert!(truncate(&mut subsets));
        assert_eq!(subsets[0].addresses.as_ref().map(Vec::len), Some(900));
        assert_eq!(
            subsets[0].not_ready_addresses.as_ref().map(Vec::len),
            Some(100)
        );
        let mut small = vec![EndpointSubset {
            addresses: addresses(10, "r"),
            not_ready_addresses: None,
            ports: None,
        }];
        assert!(!truncate(&mut small));
    }
}
