//! The table of served resources.
//!
//! Every served kind is one [`ResourceDef`] entry: its group/version/kind,
//! URL names, scope, discovery metadata, subresources and the typed
//! (k8s-openapi) round trip used to check and normalise request bodies. The
//! API server's request path is generic over this table: serving a new kind
//! means adding an entry here.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use k8s_openapi::api::{
    apps::v1 as apps, batch::v1 as batch, coordination::v1 as coordination, core::v1 as core,
    discovery::v1 as discovery, events::v1 as events, policy::v1 as policy,
    scheduling::v1 as scheduling,
};

/// A subresource served below `/{plural}/{name}/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subresource {
    Status,
    Scale,
    Binding,
    Eviction,
}

impl Subresource {
    pub fn name(self) -> &'static str {
        match self {
            Subresource::Status => "status",
            Subresource::Scale => "scale",
            Subresource::Binding => "binding",
            Subresource::Eviction => "eviction",
        }
    }
}

/// Typed decode/encode of one kind, used to reject malformed bodies and to
/// prune fields the schema does not know.
pub type RoundTrip = fn(&Value) -> Result<Value, serde_json::Error>;

#[derive(Debug)]
pub struct ResourceDef {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
    pub singular: &'static str,
    pub namespaced: bool,
    pub short_names: &'static [&'static str],
    pub categories: &'static [&'static str],
    pub subresources: &'static [Subresource],
    /// `metadata.generation` is maintained and bumped on spec changes.
    pub tracks_generation: bool,
    /// Extra fields usable in `fieldSelector`, beyond metadata.name/namespace.
    pub selectable_fields: &'static [&'static str],
    pub round_trip: RoundTrip,
    /// Set on a view of another resource's storage: the group whose
    /// resource of the same plural stores these objects (upstream keeps
    /// `events.k8s.io` Events in the core Events storage). Objects are
    /// stored in that resource's form; see [`crate::convert`].
    pub stored_as: Option<&'static str>,
}

impl ResourceDef {
    /// `apps/v1`, or `v1` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `deployments.apps`, or `pods` for the core group: the resource name
    /// used in error messages.
    pub fn group_resource(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    pub fn has_subresource(&self, sub: Subresource) -> bool {
        self.subresources.contains(&sub)
    }

    pub fn has_status(&self) -> bool {
        self.has_subresource(Subresource::Status)
    }

    pub fn list_kind(&self) -> String {
        format!("{}List", self.kind)
    }

    /// Prefix of every storage key of this resource.
    pub fn key_prefix(&self) -> String {
        let group = self.stored_as.unwrap_or(self.group);
        let group = if group.is_empty() { "core" } else { self.group };
        format!("/registry/{group}/{}/", self.plural)
    }

    /// Storage key of one object.
    pub fn key(&self, namespace: Option<&str>, name: &str) -> String {
        match namespace {
            Some(ns) if self.namespaced => format!("{}{ns}/{name}", self.key_prefix()),
            _ => format!("{}{name}", self.key_prefix()),
        }
    }
}

fn round_trip<T: DeserializeOwned + Serialize>(value: &Value) -> Result<Value, serde_json::Error> {
    // Deserializes from the borrowed tree: no copy of the body first.
    let typed = T::deserialize(value)?;
    serde_json::to_value(typed)
}

use Subresource::{Binding, Eviction, Scale, Status};

macro_rules! def {
    ($group:expr, $version:expr, $kind:expr, $plural:expr, $singular:expr, $ns:expr,
     short: [$($short:expr),*], cat: [$($cat:expr),*], sub: [$($sub:expr),*],
     generation: $generation:expr, fields: [$($field:expr),*], $ty:ty) => {
        ResourceDef {
            group: $group,
            version: $version,
            kind: $kind,
            plural: $plural,
            singular: $singular,
            namespaced: $ns,
            short_names: &[$($short),*],
            categories: &[$($cat),*],
            subresources: &[$($sub),*],
            tracks_generation: $generation,
            selectable_fields: &[$($field),*],
            round_trip: round_trip::<$ty>,
            stored_as: None,
        }
    };
    (stored_as: $storage:expr; $($rest:tt)*) => {
        ResourceDef {
            stored_as: Some($storage),
            ..def!($($rest)*)
        }
    };
}

static RESOURCES: &[ResourceDef] = &[
    def!("", "v1", "Namespace", "namespaces", "namespace", false, short: ["ns"], cat: [], sub: [Status],
        generation: false, fields: ["status.phase"], core::Namespace),
    def!("", "v1", "Pod", "pods", "pod", true, short: ["po"], cat: ["all"], sub: [Status, Binding, Eviction],
        generation: false, fields: ["spec.nodeName", "spec.restartPolicy", "spec.schedulerName",
        "spec.serviceAccountName", "spec.hostNetwork", "status.phase", "status.podIP",
        "status.nominatedNodeName"], core::Pod),
    def!("", "v1", "Node", "nodes", "node", false, short: ["no"], cat: [], sub: [Status],
        generation: false, fields: ["spec.unschedulable"], core::Node),
    def!("", "v1", "Service", "services", "service", true, short: ["svc"], cat: ["all"], sub: [Status],
        generation: false, fields: ["spec.clusterIP", "spec.type"], core::Service),
    def!("", "v1", "Endpoints", "endpoints", "endpoints", true, short: ["ep"], cat: [], sub: [],
        generation: false, fields: [], core::Endpoints),
    def!("", "v1", "ConfigMap", "configmaps", "configmap", true, short: ["cm"], cat: [], sub: [],
        generation: false, fields: [], core::ConfigMap),
    def!("", "v1", "Secret", "secrets", "secret", true, short: [], cat: [], sub: [],
        generation: false, fields: ["type"], core::Secret),
    def!("", "v1", "ServiceAccount", "serviceaccounts", "serviceaccount", true, short: ["sa"], cat: [], sub: [],
        generation: false, fields: [], core::ServiceAccount),
    def!("", "v1", "Event", "events", "event", true, short: ["ev"], cat: [], sub: [],
        generation: false, fields: ["involvedObject.kind", "involvedObject.namespace",
        "involvedObject.name", "involvedObject.uid", "involvedObject.apiVersion",
        "involvedObject.resourceVersion", "involvedObject.fieldPath", "reason",
        "reportingComponent", "source", "type"], core::Event),
    def!("", "v1", "ResourceQuota", "resourcequotas", "resourcequota", true, short: ["quota"], cat: [], sub: [Status],
        generation: false, fields: [], core::ResourceQuota),
    def!("", "v1", "LimitRange", "limitranges", "limitrange", true, short: ["limits"], cat: [], sub: [],
        generation: false, fields: [], core::LimitRange),
    def!("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", "persistentvolumeclaim", true,
        short: ["pvc"], cat: [], sub: [Status], generation: false, fields: [], core::PersistentVolumeClaim),
    def!("", "v1", "PersistentVolume", "persistentvolumes", "persistentvolume", false,
        short: ["pv"], cat: [], sub: [Status], generation: false, fields: [], core::PersistentVolume),
    def!("apps", "v1", "Deployment", "deployments", "deployment", true, short: ["deploy"], cat: ["all"],
        sub: [Status, Scale], generation: true, fields: [], apps::Deployment),
    def!("apps", "v1", "ReplicaSet", "replicasets", "replicaset", true, short: ["rs"], cat: ["all"],
        sub: [Status, Scale], generation: true, fields: ["status.replicas"], apps::ReplicaSet),
    def!("apps", "v1", "StatefulSet", "statefulsets", "statefulset", true, short: ["sts"], cat: ["all"],
        sub: [Status, Scale], generation: true, fields: [], apps::StatefulSet),
    def!("apps", "v1", "DaemonSet", "daemonsets", "daemonset", true, short: ["ds"], cat: ["all"],
        sub: [Status], generation: true, fields: [], apps::DaemonSet),
    def!("apps", "v1", "ControllerRevision", "controllerrevisions", "controllerrevision", true, short: [],
        cat: [], sub: [], generation: false, fields: [], apps::ControllerRevision),
    def!("batch", "v1", "Job", "jobs", "job", true, short: [], cat: ["all"], sub: [Status],
        generation: true, fields: ["status.successful"], batch::Job),
    def!("batch", "v1", "CronJob", "cronjobs", "cronjob", true, short: ["cj"], cat: ["all"], sub: [Status],
        generation: true, fields: [], batch::CronJob),
    def!("coordination.k8s.io", "v1", "Lease", "leases", "lease", true, short: [], cat: [], sub: [],
        generation: false, fields: [], coordination::Lease),
    def!("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", "endpointslice", true, short: [],
        cat: [], sub: [], generation: false, fields: ["addressType"], discovery::EndpointSlice),
    def!("scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", "priorityclass", false,
        short: ["pc"], cat: [], sub: [], generation: false, fields: [], scheduling::PriorityClass),
    def!("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", "poddisruptionbudget", true,
        short: ["pdb"], cat: [], sub: [Status], generation: true, fields: [], policy::PodDisruptionBudget),
    def!(stored_as: ""; "events.k8s.io", "v1", "Event", "events", "event", true, short: ["ev"], cat: [], sub: [],
        generation: false, fields: ["regarding.kind", "regarding.namespace", "regarding.name",
        "regarding.uid", "reason", "type", "reportingController"], events::Event),
];

/// Every served resource, core group first, in discovery order.
pub fn all() -> &'static [ResourceDef] {
    RESOURCES
}

/// Views served from `storage`'s objects (other versions of one storage).
pub fn views_of(storage: &ResourceDef) -> impl Iterator<Item = &'static ResourceDef> + '_ {
    RESOURCES.iter().filter(move |d| {
        d.stored_as == Some(storage.group) && d.plural == storage.plural && d.group != storage.group
    })
}

/// Finds a resource by URL coordinates (`apps`, `v1`, `deployments`).
pub fn lookup(group: &str, version: &str, plural: &str) -> Option<&'static ResourceDef> {
    RESOURCES
        .iter()
        .find(|d| d.group == group && d.version == version && d.plural == plural)
}

/// Finds a resource by group and kind.
pub fn by_kind(group: &str, kind: &str) -> Option<&'static ResourceDef> {
    RESOURCES
        .iter()
        .find(|d| d.group == group && d.kind == kind)
}

/// Served API groups with their (single) version, in discovery order; the
/// core group is `""`.
pub fn groups() -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<(&str, &str)> = Vec::new();
    for def in RESOURCES {
        if !out.iter().any(|(g, _)| *g == def.group) {
            out.push((def.group, def.version));
        }
    }
    out
}

/// Splits `apps/v1` into (`apps`, `v1`) and `v1` into (``, `v1`).
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_kind_round_trips_a_minimal_object() {
        for def in all() {
            let obj = json!({"apiVersion": def.api_version(), "kind": def.kind, "metadata": {"name": "x"}});
            let out = (def.round_trip)(&obj)
                .unwrap_or_else(|e| panic!("{} failed to round trip: {e}", def.kind));
            assert_eq!(out["kind"], def.kind);
            assert_eq!(out["metadata"]["name"], "x");
        }
    }

    #[test]
    fn round_trip_drops_unknown_fields_and_rejects_wrong_types() {
        let def = lookup("apps", "v1", "deployments").expect("deployments served");
        let obj = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"},
            "spec": {"replicas": 2, "bogus": true}});
        let out = (def.round_trip)(&obj).expect("decodes");
        assert_eq!(out["spec"]["replicas"], 2);
        assert!(out["spec"].get("bogus").is_none());
        let bad = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"},
            "spec": {"replicas": "two"}});
        assert!((def.round_trip)(&bad).is_err());
    }

    #[test]
    fn keys_separate_namespaces_and_groups() {
        let pods = lookup("", "v1", "pods").expect("pods");
        assert_eq!(pods.key(Some("ns"), "p"), "/registry/core/pods/ns/p");
        let nodes = lookup("", "v1", "nodes").expect("nodes");
        assert_eq!(nodes.key(None, "n1"), "/registry/core/nodes/n1");
        assert_eq!(groups().first(), Some(&("", "v1")));
    }
}
