//! The static catalog of group-versions and resources whose OpenAPI v3
//! documents this crate publishes.
//!
//! Each resource carries a function that asks a schemars generator for the
//! schema of its Rust type from `k8s-openapi`; the descriptions therefore come
//! from that dependency rather than from files in this repository.

use k8s_openapi::api::{apps, batch, coordination, core, discovery, events, policy, scheduling};
use schemars::{JsonSchema, Schema, SchemaGenerator};

/// Produces (and registers in the generator) the schema of one Rust type,
/// returning a `$ref` to it.
pub(crate) type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

fn reference<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    generator.subschema_for::<T>()
}

/// Subresources that are published for a resource besides the main object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Subresource {
    /// `/status`: read, replace and patch of the whole object (status part).
    Status,
    /// `/scale`: read, replace and patch of an `autoscaling/v1` Scale.
    Scale,
}

impl Subresource {
    pub(crate) fn path_segment(self) -> &'static str {
        match self {
            Subresource::Status => "status",
            Subresource::Scale => "scale",
        }
    }

    /// Suffix appended to operation ids, e.g. `readAppsV1NamespacedDeploymentStatus`.
    pub(crate) fn operation_suffix(self) -> &'static str {
        match self {
            Subresource::Status => "Status",
            Subresource::Scale => "Scale",
        }
    }
}

/// One served resource (REST collection).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Resource {
    pub(crate) kind: &'static str,
    pub(crate) plural: &'static str,
    pub(crate) namespaced: bool,
    /// Whether `DELETE` on the collection is served (namespaces do not have it).
    pub(crate) delete_collection: bool,
    /// Whether a single-object `DELETE` answers with the object instead of a Status.
    pub(crate) delete_returns_object: bool,
    pub(crate) subresources: &'static [Subresource],
    pub(crate) schema: SchemaFn,
}

/// One served API group-version.
#[derive(Debug)]
pub(crate) struct GroupVersion {
    /// API group; empty for the legacy core group.
    pub(crate) group: &'static str,
    pub(crate) version: &'static str,
    pub(crate) resources: &'static [Resource],
}

impl GroupVersion {
    /// Key in the `/openapi/v3` index: `api/v1` or `apis/<group>/<version>`.
    pub(crate) fn path_key(&self) -> String {
        if self.group.is_empty() {
            format!("api/{}", self.version)
        } else {
            format!("apis/{}/{}", self.group, self.version)
        }
    }

    /// URL prefix of the group-version: `/api/v1` or `/apis/<group>/<version>`.
    pub(crate) fn url_prefix(&self) -> String {
        format!("/{}", self.path_key())
    }

    /// Tag used on operations, e.g. `core_v1`, `apps_v1`, `coordination_v1`.
    pub(crate) fn tag(&self) -> String {
        format!("{}_{}", self.group_word_lower(), self.version)
    }

    /// The capitalised group/version stem used inside operation ids,
    /// e.g. `CoreV1`, `AppsV1`, `CoordinationV1`.
    pub(crate) fn operation_stem(&self) -> String {
        let word = self.group_word_lower();
        let mut chars = word.chars();
        let mut stem = String::new();
        if let Some(first) = chars.next() {
            stem.extend(first.to_uppercase());
            stem.push_str(chars.as_str());
        }
        let mut version = self.version.chars();
        if let Some(first) = version.next() {
            stem.extend(first.to_uppercase());
            stem.push_str(version.as_str());
        }
        stem
    }

    /// First label of the group (`coordination` for `coordination.k8s.io`),
    /// or `core` for the legacy group.
    fn group_word_lower(&self) -> String {
        if self.group.is_empty() {
            return "core".to_owned();
        }
        let first = self.group.split('.').next().unwrap_or(self.group);
        first.to_owned()
    }
}

const STATUS: &[Subresource] = &[Subresource::Status];
const STATUS_SCALE: &[Subresource] = &[Subresource::Status, Subresource::Scale];
const NONE: &[Subresource] = &[];

const fn resource(
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
    subresources: &'static [Subresource],
    schema: SchemaFn,
) -> Resource {
    Resource {
        kind,
        plural,
        namespaced,
        delete_collection: true,
        delete_returns_object: false,
        subresources,
        schema,
    }
}

const fn returning_object(mut r: Resource) -> Resource {
    r.delete_returns_object = true;
    r
}

const CORE_V1: &[Resource] = &[
    Resource {
        delete_collection: false,
        ..resource(
            "Namespace",
            "namespaces",
            false,
            STATUS,
            reference::<core::v1::Namespace>,
        )
    },
    returning_object(resource(
        "Pod",
        "pods",
        true,
        STATUS,
        reference::<core::v1::Pod>,
    )),
    resource("Node", "nodes", false, STATUS, reference::<core::v1::Node>),
    returning_object(resource(
        "Service",
        "services",
        true,
        STATUS,
        reference::<core::v1::Service>,
    )),
    resource(
        "Endpoints",
        "endpoints",
        true,
        NONE,
        reference::<core::v1::Endpoints>,
    ),
    resource(
        "ConfigMap",
        "configmaps",
        true,
        NONE,
        reference::<core::v1::ConfigMap>,
    ),
    resource(
        "Secret",
        "secrets",
        true,
        NONE,
        reference::<core::v1::Secret>,
    ),
    resource(
        "ServiceAccount",
        "serviceaccounts",
        true,
        NONE,
        reference::<core::v1::ServiceAccount>,
    ),
    resource("Event", "events", true, NONE, reference::<core::v1::Event>),
    resource(
        "ResourceQuota",
        "resourcequotas",
        true,
        STATUS,
        reference::<core::v1::ResourceQuota>,
    ),
    resource(
        "LimitRange",
        "limitranges",
        true,
        NONE,
        reference::<core::v1::LimitRange>,
    ),
    returning_object(resource(
        "PersistentVolumeClaim",
        "persistentvolumeclaims",
        true,
        STATUS,
        reference::<core::v1::PersistentVolumeClaim>,
    )),
    returning_object(resource(
        "PersistentVolume",
        "persistentvolumes",
        false,
        STATUS,
        reference::<core::v1::PersistentVolume>,
    )),
];

const APPS_V1: &[Resource] = &[
    resource(
        "Deployment",
        "deployments",
        true,
        STATUS_SCALE,
        reference::<apps::v1::Deployment>,
    ),
    resource(
        "ReplicaSet",
        "replicasets",
        true,
        STATUS_SCALE,
        reference::<apps::v1::ReplicaSet>,
    ),
    resource(
        "StatefulSet",
        "statefulsets",
        true,
        STATUS_SCALE,
        reference::<apps::v1::StatefulSet>,
    ),
    resource(
        "DaemonSet",
        "daemonsets",
        true,
        STATUS,
        reference::<apps::v1::DaemonSet>,
    ),
    resource(
        "ControllerRevision",
        "controllerrevisions",
        true,
        NONE,
        reference::<apps::v1::ControllerRevision>,
    ),
];

const BATCH_V1: &[Resource] = &[
    resource("Job", "jobs", true, STATUS, reference::<batch::v1::Job>),
    resource(
        "CronJob",
        "cronjobs",
        true,
        STATUS,
        reference::<batch::v1::CronJob>,
    ),
];

const COORDINATION_V1: &[Resource] = &[resource(
    "Lease",
    "leases",
    true,
    NONE,
    reference::<coordination::v1::Lease>,
)];

const DISCOVERY_V1: &[Resource] = &[resource(
    "EndpointSlice",
    "endpointslices",
    true,
    NONE,
    reference::<discovery::v1::EndpointSlice>,
)];

const SCHEDULING_V1: &[Resource] = &[resource(
    "PriorityClass",
    "priorityclasses",
    false,
    NONE,
    reference::<scheduling::v1::PriorityClass>,
)];

const POLICY_V1: &[Resource] = &[resource(
    "PodDisruptionBudget",
    "poddisruptionbudgets",
    true,
    STATUS,
    reference::<policy::v1::PodDisruptionBudget>,
)];

const EVENTS_V1: &[Resource] = &[resource(
    "Event",
    "events",
    true,
    NONE,
    reference::<events::v1::Event>,
)];

/// All served group-versions, in the order they appear in the index.
pub(crate) const GROUP_VERSIONS: &[GroupVersion] = &[
    GroupVersion {
        group: "",
        version: "v1",
        resources: CORE_V1,
    },
    GroupVersion {
        group: "apps",
        version: "v1",
        resources: APPS_V1,
    },
    GroupVersion {
        group: "batch",
        version: "v1",
        resources: BATCH_V1,
    },
    GroupVersion {
        group: "coordination.k8s.io",
        version: "v1",
        resources: COORDINATION_V1,
    },
    GroupVersion {
        group: "discovery.k8s.io",
        version: "v1",
        resources: DISCOVERY_V1,
    },
    GroupVersion {
        group: "events.k8s.io",
        version: "v1",
        resources: EVENTS_V1,
    },
    GroupVersion {
        group: "policy",
        version: "v1",
        resources: POLICY_V1,
    },
    GroupVersion {
        group: "scheduling.k8s.io",
        version: "v1",
        resources: SCHEDULING_V1,
    },
];

/// Position in [`GROUP_VERSIONS`] of the group-version with the given index
/// key (`api/v1`, `apis/apps/v1`).
pub(crate) fn position(path_key: &str) -> Option<usize> {
    GROUP_VERSIONS
        .iter()
        .position(|gv| gv.path_key() == path_key)
}

/// Looks up a group-version by its index key.
#[cfg(test)]
pub(crate) fn find(path_key: &str) -> Option<&'static GroupVersion> {
    position(path_key).and_then(|i| GROUP_VERSIONS.get(i))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn naming_helpers_follow_upstream_conventions() {
        let cases = [
            ("", "v1", "api/v1", "/api/v1", "core_v1", "CoreV1"),
            (
                "apps",
                "v1",
                "apis/apps/v1",
                "/apis/apps/v1",
                "apps_v1",
                "AppsV1",
            ),
            (
                "coordination.k8s.io",
                "v1",
                "apis/coordination.k8s.io/v1",
                "/apis/coordination.k8s.io/v1",
                "coordination_v1",
                "CoordinationV1",
            ),
            (
                "events.k8s.io",
                "v1",
                "apis/events.k8s.io/v1",
                "/apis/events.k8s.io/v1",
                "events_v1",
                "EventsV1",
            ),
        ];
        for (group, version, key, prefix, tag, stem) in cases {
            let gv = GroupVersion {
                group,
                version,
                resources: &[],
            };
            assert_eq!(gv.path_key(), key);
            assert_eq!(gv.url_prefix(), prefix);
            assert_eq!(gv.tag(), tag);
            assert_eq!(gv.operation_stem(), stem);
        }
    }

    #[test]
    fn every_served_kind_is_listed_once_per_group_version() {
        let expected: &[(&str, &[&str])] = &[
            (
                "api/v1",
                &[
                    "Namespace",
                    "Pod",
                    "Node",
                    "Service",
                    "Endpoints",
                    "ConfigMap",
                    "Secret",
                    "ServiceAccount",
                    "Event",
                    "ResourceQuota",
                    "LimitRange",
                    "PersistentVolumeClaim",
                    "PersistentVolume",
                ],
            ),
            (
                "apis/apps/v1",
                &[
                    "Deployment",
                    "ReplicaSet",
                    "StatefulSet",
                    "DaemonSet",
                    "ControllerRevision",
                ],
            ),
            ("apis/batch/v1", &["Job", "CronJob"]),
            ("apis/coordination.k8s.io/v1", &["Lease"]),
            ("apis/discovery.k8s.io/v1", &["EndpointSlice"]),
            ("apis/events.k8s.io/v1", &["Event"]),
            ("apis/policy/v1", &["PodDisruptionBudget"]),
            ("apis/scheduling.k8s.io/v1", &["PriorityClass"]),
        ];
        assert_eq!(GROUP_VERSIONS.len(), expected.len());
        for (key, kinds) in expected {
            let gv = find(key).unwrap();
            let got: Vec<&str> = gv.resources.iter().map(|r| r.kind).collect();
            assert_eq!(&got, kinds, "{key}");
        }
        assert!(find("apis/extensions/v1beta1").is_none());
    }
}
