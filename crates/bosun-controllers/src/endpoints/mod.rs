//! Service endpoints: which pods back a Service and on which ports, shared
//! by the Endpoints controller ([`endpoint`]) and the EndpointSlice
//! controller ([`slices`]). Services without a selector are left to their
//! users, as upstream.

pub mod endpoint;
pub mod slices;

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Pod, Service, ServicePort};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::ResourceExt;

use crate::informer::{Change, ObjectKey, Store};
use crate::selector::Labels;
use crate::workqueue::WorkQueue;

/// A resolved service port: (service port name, target port number,
/// protocol, appProtocol).
pub type ResolvedPort = (Option<String>, i32, String, Option<String>);

/// One pod as a Service endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct Backend {
    pub ip: String,
    pub pod: String,
    pub uid: Option<String>,
    pub node: Option<String>,
    pub hostname: Option<String>,
    pub ready: bool,
    pub terminating: bool,
    pub ports: Vec<ResolvedPort>,
}

/// The Service's selector, if it selects pods at all.
pub fn selector(svc: &Service) -> Option<&Labels> {
    svc.spec
        .as_ref()?
        .selector
        .as_ref()
        .filter(|s| !s.is_empty())
}

fn matches(selector: &Labels, pod: &Pod) -> bool {
    let labels = pod.metadata.labels.as_ref();
    selector
        .iter()
        .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
}

/// The container port a service port targets on this pod (a named
/// targetPort resolves per pod; a missing one means the port number).
fn target_port(port: &ServicePort, pod: &Pod) -> Option<i32> {
    match &port.target_port {
        None => Some(port.port),
        Some(IntOrString::Int(n)) => Some(*n),
        Some(IntOrString::String(name)) => {
            let protocol = port.protocol.as_deref().unwrap_or("TCP");
            pod.spec.as_ref()?.containers.iter().find_map(|c| {
                c.ports.iter().flatten().find_map(|p| {
                    (p.name.as_deref() == Some(name.as_str())
                        && p.protocol.as_deref().unwrap_or("TCP") == protocol)
                        .then_some(p.container_port)
                })
            })
        }
    }
}

/// The pods backing `svc`, as upstream's endpoints controllers see them:
/// with an IP, not terminal; terminating ones only as not ready (and only
/// when the Service publishes not-ready addresses, for Endpoints).
pub fn backends(svc: &Service, pods: &[Arc<Pod>]) -> Vec<Backend> {
    let Some(sel) = selector(svc) else {
        return Vec::new();
    };
    let spec = svc.spec.clone().unwrap_or_default();
    let publish_not_ready = spec.publish_not_ready_addresses.unwrap_or(false);
    let mut out: Vec<Backend> = pods
        .iter()
        .filter(|p| matches(sel, p))
        .filter_map(|pod| {
            let status = pod.status.as_ref()?;
            let ip = status.pod_ip.clone().filter(|ip| !ip.is_empty())?;
            if matches!(status.phase.as_deref(), Some("Succeeded") | Some("Failed")) {
                return None;
            }
            let pspec = pod.spec.as_ref();
            let hostname = pspec.and_then(|s| {
                (s.subdomain.as_deref() == Some(svc.name_any().as_str()))
                    .then(|| s.hostname.clone())
                    .flatten()
            });
            let ports = spec
                .ports
                .iter()
                .flatten()
                .filter_map(|p| {
                    Some((
                        p.name.clone(),
                        target_port(p, pod)?,
                        p.protocol.clone().unwrap_or_else(|| "TCP".into()),
                        p.app_protocol.clone(),
                    ))
                })
                .collect();
            Some(Backend {
                ip,
                pod: pod.name_any(),
                uid: pod.metadata.uid.clone(),
                node: pspec.and_then(|s| s.node_name.clone()),
                hostname,
                ready: publish_not_ready || crate::pod_util::is_ready(pod),
                terminating: pod.metadata.deletion_timestamp.is_some(),
                ports,
            })
        })
        .collect();
    out.sort_by(|a, b| a.ip.cmp(&b.ip).then_with(|| a.pod.cmp(&b.pod)));
    out
}

/// What both endpoint controllers watch: Services (each change queues the
/// Service) and pods (a change queues the Services selecting the pod).
pub struct ServiceWatch {
    pub services: Arc<Store<Service>>,
    pub pods: Arc<Store<Pod>>,
    pub queue: WorkQueue<ObjectKey>,
}

impl ServiceWatch {
    pub fn new(factory: &crate::informer::InformerFactory) -> Self {
        let svc_informer = factory.informer::<Service>();
        let pod_informer = factory.informer::<Pod>();
        let queue = WorkQueue::new();
        let q = queue.clone();
        svc_informer.on_change(move |change| match change {
            Change::Added(s) | Change::Updated { new: s, .. } | Change::Deleted(s) => {
                q.add(ObjectKey::of(s.as_ref()))
            }
        });
        let services = svc_informer.store();
        pod_informer.on_change(pod_handler(services.clone(), queue.clone()));
        ServiceWatch {
            services,
            pods: pod_informer.store(),
            queue,
        }
    }
}

/// Queues the Services a pod change concerns (old and new labels).
fn pod_handler(
    services: Arc<Store<Service>>,
    queue: WorkQueue<ObjectKey>,
) -> impl Fn(&Change<'_, Pod>) + Send + Sync {
    move |change| {
        let (old, new) = match change {
            Change::Added(p) | Change::Deleted(p) => (None, p),
            Change::Updated { old, new } => (Some(old), new),
        };
        let ns = new.namespace().unwrap_or_default();
        for svc in services.list_namespace(&ns) {
            let Some(sel) = selector(&svc) else { continue };
            if matches(sel, new) || old.is_some_and(|o| matches(sel, o)) {
                queue.add(ObjectKey::of(svc.as_ref()));
            }
        }
    }
}
