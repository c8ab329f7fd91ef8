//! The struct-type table: only fields with non-default patch behaviour.
//!
//! Facts come from the `patchStrategy`/`patchMergeKey` struct tags and the
//! `+listType`/`+listMapKey`/`+structType`/`+mapType` markers of the
//! Kubernetes 1.32 API types.

use super::{Elem, Field, FieldKind, KeyField, ListDef, SmpList, SsaList, TypeDef};

const fn key(name: &'static str) -> KeyField {
    KeyField {
        name,
        default: None,
    }
}

const fn key_default(name: &'static str, default: &'static str) -> KeyField {
    KeyField {
        name,
        default: Some(default),
    }
}

/// Pointer struct field.
const fn ptr(name: &'static str, ty: &'static TypeDef) -> Field {
    Field {
        name,
        kind: FieldKind::Struct {
            ty,
            retain_keys: false,
        },
        always: false,
    }
}

/// Non-pointer struct field.
const fn val(name: &'static str, ty: &'static TypeDef) -> Field {
    Field {
        name,
        kind: FieldKind::Struct {
            ty,
            retain_keys: false,
        },
        always: true,
    }
}

const fn atomic(name: &'static str) -> Field {
    Field {
        name,
        kind: FieldKind::Atomic,
        always: false,
    }
}

const fn list(
    name: &'static str,
    elem: Elem,
    smp: SmpList,
    retain_keys: bool,
    ssa: SsaList,
) -> Field {
    Field {
        name,
        kind: FieldKind::List(ListDef {
            elem,
            smp,
            retain_keys,
            ssa,
        }),
        always: false,
    }
}

/// A list field Go serializes even when empty (no `omitempty`).
const fn always(f: Field) -> Field {
    Field { always: true, ..f }
}

/// `patchStrategy:"merge"` + `patchMergeKey`, and a list-map on that key.
const fn merge(
    name: &'static str,
    merge_key: &'static str,
    keys: &'static [KeyField],
    elem: Elem,
) -> Field {
    list(
        name,
        elem,
        SmpList::Merge(merge_key),
        false,
        SsaList::Map(keys),
    )
}

/// Merge by `type` (conditions and the like).
const fn by_type(name: &'static str) -> Field {
    merge(name, "type", TYPE_KEY, Elem::Untyped)
}

const NAME_KEY: &[KeyField] = &[key("name")];
const TYPE_KEY: &[KeyField] = &[key("type")];
const IP_KEY: &[KeyField] = &[key("ip")];

static EMPTY: TypeDef = TypeDef { fields: &[] };

static OBJECT_META: TypeDef = TypeDef {
    fields: &[
        list(
            "finalizers",
            Elem::Untyped,
            SmpList::MergePrimitive,
            false,
            SsaList::Set,
        ),
        merge("ownerReferences", "uid", &[key("uid")], Elem::Atomic),
    ],
};

static POD_TEMPLATE_SPEC: TypeDef = TypeDef {
    fields: &[val("metadata", &OBJECT_META), val("spec", &POD_SPEC)],
};

static POD_SPEC: TypeDef = TypeDef {
    fields: &[
        list(
            "volumes",
            Elem::Untyped,
            SmpList::Merge("name"),
            true,
            SsaList::Map(NAME_KEY),
        ),
        merge("initContainers", "name", NAME_KEY, Elem::Struct(&CONTAINER)),
        always(merge(
            "containers",
            "name",
            NAME_KEY,
            Elem::Struct(&CONTAINER),
        )),
        merge(
            "ephemeralContainers",
            "name",
            NAME_KEY,
            Elem::Struct(&CONTAINER),
        ),
        merge("imagePullSecrets", "name", NAME_KEY, Elem::Atomic),
        merge("hostAliases", "ip", IP_KEY, Elem::Untyped),
        merge(
            "topologySpreadConstraints",
            "topologyKey",
            &[key("topologyKey"), key("whenUnsatisfiable")],
            Elem::Struct(&TOPOLOGY_SPREAD_CONSTRAINT),
        ),
        list(
            "resourceClaims",
            Elem::Untyped,
            SmpList::Merge("name"),
            true,
            SsaList::Map(NAME_KEY),
        ),
        merge("schedulingGates", "name", NAME_KEY, Elem::Untyped),
        atomic("nodeSelector"),
        ptr("affinity", &AFFINITY),
        ptr("resources", &RESOURCE_REQUIREMENTS),
    ],
};

static TOPOLOGY_SPREAD_CONSTRAINT: TypeDef = TypeDef {
    fields: &[atomic("labelSelector")],
};

static AFFINITY: TypeDef = TypeDef {
    fields: &[
        ptr("nodeAffinity", &NODE_AFFINITY),
        ptr("podAffinity", &EMPTY),
        ptr("podAntiAffinity", &EMPTY),
    ],
};

static NODE_AFFINITY: TypeDef = TypeDef {
    fields: &[atomic("requiredDuringSchedulingIgnoredDuringExecution")],
};

static CONTAINER: TypeDef = TypeDef {
    fields: &[
        merge(
            "ports",
            "containerPort",
            &[key("containerPort"), key_default("protocol", "TCP")],
            Elem::Untyped,
        ),
        merge("env", "name", NAME_KEY, Elem::Struct(&ENV_VAR)),
        merge(
            "volumeMounts",
            "mountPath",
            &[key("mountPath")],
            Elem::Untyped,
        ),
        merge(
            "volumeDevices",
            "devicePath",
            &[key("devicePath")],
            Elem::Untyped,
        ),
        val("resources", &RESOURCE_REQUIREMENTS),
        ptr("securityContext", &EMPTY),
    ],
};

static ENV_VAR: TypeDef = TypeDef {
    fields: &[ptr("valueFrom", &ENV_VAR_SOURCE)],
};

static ENV_VAR_SOURCE: TypeDef = TypeDef {
    fields: &[
        atomic("fieldRef"),
        atomic("resourceFieldRef"),
        atomic("configMapKeyRef"),
        atomic("secretKeyRef"),
    ],
};

static RESOURCE_REQUIREMENTS: TypeDef = TypeDef {
    fields: &[list(
        "claims",
        Elem::Untyped,
        SmpList::Replace,
        false,
        SsaList::Map(NAME_KEY),
    )],
};

static POD_STATUS: TypeDef = TypeDef {
    fields: &[
        by_type("conditions"),
        merge("podIPs", "ip", IP_KEY, Elem::Untyped),
        list(
            "hostIPs",
            Elem::Untyped,
            SmpList::Merge("ip"),
            false,
            SsaList::Atomic,
        ),
        list(
            "resourceClaimStatuses",
            Elem::Untyped,
            SmpList::Merge("name"),
            true,
            SsaList::Map(NAME_KEY),
        ),
    ],
};

static CONDITIONS_STATUS: TypeDef = TypeDef {
    fields: &[by_type("conditions")],
};

static DEPLOYMENT_SPEC: TypeDef = TypeDef {
    fields: &[
        atomic("selector"),
        val("template", &POD_TEMPLATE_SPEC),
        Field {
            name: "strategy",
            kind: FieldKind::Struct {
                ty: &EMPTY,
                retain_keys: true,
            },
            always: true,
        },
    ],
};

static REPLICA_SET_SPEC: TypeDef = TypeDef {
    fields: &[atomic("selector"), val("template", &POD_TEMPLATE_SPEC)],
};

static STATEFUL_SET_SPEC: TypeDef = TypeDef {
    fields: &[
        atomic("selector"),
        val("template", &POD_TEMPLATE_SPEC),
        val("updateStrategy", &EMPTY),
    ],
};

static DAEMON_SET_SPEC: TypeDef = TypeDef {
    fields: &[
        atomic("selector"),
        val("template", &POD_TEMPLATE_SPEC),
        val("updateStrategy", &EMPTY),
    ],
};

static JOB_SPEC: TypeDef = TypeDef {
    fields: &[atomic("selector"), val("template", &POD_TEMPLATE_SPEC)],
};

static JOB_STATUS: TypeDef = TypeDef {
    fields: &[list(
        "conditions",
        Elem::Untyped,
        SmpList::Merge("type"),
        false,
        SsaList::Atomic,
    )],
};

static JOB_TEMPLATE_SPEC: TypeDef = TypeDef {
    fields: &[val("metadata", &OBJECT_META), val("spec", &JOB_SPEC)],
};

static CRON_JOB_SPEC: TypeDef = TypeDef {
    fields: &[val("jobTemplate", &JOB_TEMPLATE_SPEC)],
};

static SERVICE_SPEC: TypeDef = TypeDef {
    fields: &[
        merge(
            "ports",
            "port",
            &[key("port"), key_default("protocol", "TCP")],
            Elem::Untyped,
        ),
        atomic("selector"),
    ],
};

static SERVICE_STATUS: TypeDef = TypeDef {
    fields: &[val("loadBalancer", &EMPTY), by_type("conditions")],
};

static NODE_SPEC: TypeDef = TypeDef {
    fields: &[list(
        "podCIDRs",
        Elem::Untyped,
        SmpList::MergePrimitive,
        false,
        SsaList::Set,
    )],
};

static NODE_STATUS: TypeDef = TypeDef {
    fields: &[
        by_type("conditions"),
        by_type("addresses"),
        val("daemonEndpoints", &EMPTY),
        val("nodeInfo", &EMPTY),
    ],
};

static PVC_SPEC: TypeDef = TypeDef {
    fields: &[
        atomic("selector"),
        atomic("dataSource"),
        val("resources", &EMPTY),
    ],
};

static PDB_SPEC: TypeDef = TypeDef {
    fields: &[atomic("selector")],
};

static SERVICE_ACCOUNT: TypeDef = TypeDef {
    fields: &[
        val("metadata", &OBJECT_META),
        merge("secrets", "name", NAME_KEY, Elem::Atomic),
    ],
};

/// Root of a kind with `metadata`, `spec` and `status`.
macro_rules! root {
    ($name:ident, $spec:expr, $status:expr) => {
        static $name: TypeDef = TypeDef {
            fields: &[
                val("metadata", &OBJECT_META),
                val("spec", $spec),
                val("status", $status),
            ],
        };
    };
}

root!(POD, &POD_SPEC, &POD_STATUS);
root!(DEPLOYMENT, &DEPLOYMENT_SPEC, &CONDITIONS_STATUS);
root!(REPLICA_SET, &REPLICA_SET_SPEC, &CONDITIONS_STATUS);
root!(STATEFUL_SET, &STATEFUL_SET_SPEC, &CONDITIONS_STATUS);
root!(DAEMON_SET, &DAEMON_SET_SPEC, &CONDITIONS_STATUS);
root!(JOB, &JOB_SPEC, &JOB_STATUS);
root!(CRON_JOB, &CRON_JOB_SPEC, &EMPTY);
root!(SERVICE, &SERVICE_SPEC, &SERVICE_STATUS);
root!(NODE, &NODE_SPEC, &NODE_STATUS);
root!(NAMESPACE, &EMPTY, &CONDITIONS_STATUS);
root!(PVC, &PVC_SPEC, &CONDITIONS_STATUS);
root!(PV, &EMPTY, &EMPTY);
root!(RESOURCE_QUOTA, &EMPTY, &EMPTY);
root!(PDB, &PDB_SPEC, &CONDITIONS_STATUS);

/// Kinds without a status: only their metadata is special.
static METADATA_ONLY: TypeDef = TypeDef {
    fields: &[val("metadata", &OBJECT_META)],
};

static LEASE_OR_SPEC_ONLY: TypeDef = TypeDef {
    fields: &[val("metadata", &OBJECT_META), val("spec", &EMPTY)],
};

/// The root struct type of a served kind.
pub(super) fn root(group: &str, kind: &str) -> Option<&'static TypeDef> {
    let td: &'static TypeDef = match (group, kind) {
        ("", "Pod") => &POD,
        ("", "Service") => &SERVICE,
        ("", "Node") => &NODE,
        ("", "Namespace") => &NAMESPACE,
        ("", "PersistentVolumeClaim") => &PVC,
        ("", "PersistentVolume") => &PV,
        ("", "ResourceQuota") => &RESOURCE_QUOTA,
        ("", "ServiceAccount") => &SERVICE_ACCOUNT,
        ("", "LimitRange") => &LEASE_OR_SPEC_ONLY,
        ("", "PodTemplate") => &POD_TEMPLATE_ROOT,
        ("", "ConfigMap" | "Secret" | "Endpoints" | "Event") => &METADATA_ONLY,
        ("apps", "Deployment") => &DEPLOYMENT,
        ("apps", "ReplicaSet") => &REPLICA_SET,
        ("apps", "StatefulSet") => &STATEFUL_SET,
        ("apps", "DaemonSet") => &DAEMON_SET,
        ("apps", "ControllerRevision") => &METADATA_ONLY,
        ("batch", "Job") => &JOB,
        ("batch", "CronJob") => &CRON_JOB,
        ("policy", "PodDisruptionBudget") => &PDB,
        ("coordination.k8s.io", "Lease") => &LEASE_OR_SPEC_ONLY,
        ("discovery.k8s.io", "EndpointSlice") => &METADATA_ONLY,
        ("scheduling.k8s.io", "PriorityClass") => &METADATA_ONLY,
        ("events.k8s.io", "Event") => &METADATA_ONLY,
        _ => return None,
    };
    Some(td)
}

static POD_TEMPLATE_ROOT: TypeDef = TypeDef {
    fields: &[
        val("metadata", &OBJECT_META),
        val("template", &POD_TEMPLATE_SPEC),
    ],
};
