//! Column definitions for every printed kind, in upstream order, with
//! upstream names, types, formats and priorities. Descriptions are short
//! summaries written for Bosun.

use crate::kinds::Printer;
use crate::Column;

const fn c(name: &'static str, type_: &'static str, description: &'static str) -> Column {
    Column {
        name,
        type_,
        format: "",
        description,
        priority: 0,
    }
}

const fn wide(name: &'static str, type_: &'static str, description: &'static str) -> Column {
    Column {
        name,
        type_,
        format: "",
        description,
        priority: 1,
    }
}

const NAME: Column = Column {
    name: "Name",
    type_: "string",
    format: "name",
    description: "Name of the object, unique within its namespace.",
    priority: 0,
};
const AGE: Column = c("Age", "string", "Time since the object was created.");
const CONTAINERS: Column = wide(
    "Containers",
    "string",
    "Container names in the pod template.",
);
const IMAGES: Column = wide("Images", "string", "Container images in the pod template.");
const SELECTOR: Column = wide("Selector", "string", "Label selector for the managed pods.");

/// Columns of the generic table used for kinds without a dedicated printer.
pub(crate) fn default_columns() -> Vec<Column> {
    vec![
        NAME,
        Column {
            name: "Created At",
            type_: "date",
            format: "",
            description: "Time the object was created.",
            priority: 0,
        },
    ]
}

/// Columns for a kind with a dedicated printer.
pub(crate) fn columns_for(p: Printer) -> Vec<Column> {
    match p {
        Printer::Pod => vec![
            NAME,
            c("Ready", "string", "Ready containers out of all containers."),
            c(
                "Status",
                "string",
                "Aggregate status of the pod's containers.",
            ),
            c(
                "Restarts",
                "string",
                "Container restarts, and how long ago the last one was.",
            ),
            AGE,
            wide("IP", "string", "Primary IP address of the pod."),
            wide("Node", "string", "Node the pod is bound to."),
            wide(
                "Nominated Node",
                "string",
                "Node nominated by preemption, if any.",
            ),
            wide(
                "Readiness Gates",
                "string",
                "Readiness gates satisfied out of all gates.",
            ),
        ],
        Printer::Node => vec![
            NAME,
            c(
                "Status",
                "string",
                "Readiness and schedulability of the node.",
            ),
            c("Roles", "string", "Roles taken from node-role labels."),
            AGE,
            c("Version", "string", "Kubelet version reported by the node."),
            wide(
                "Internal-IP",
                "string",
                "First internal address of the node.",
            ),
            wide(
                "External-IP",
                "string",
                "First external address of the node.",
            ),
            wide(
                "OS-Image",
                "string",
                "Operating system image reported by the node.",
            ),
            wide(
                "Kernel-Version",
                "string",
                "Kernel version reported by the node.",
            ),
            wide(
                "Container-Runtime",
                "string",
                "Container runtime and version.",
            ),
        ],
        Printer::Namespace => vec![
            NAME,
            c("Status", "string", "Lifecycle phase of the namespace."),
            AGE,
        ],
        Printer::Service => vec![
            NAME,
            c("Type", "string", "How the service is exposed."),
            c("Cluster-IP", "string", "Primary cluster IP of the service."),
            c(
                "External-IP",
                "string",
                "External addresses of the service.",
            ),
            c(
                "Port(s)",
                "string",
                "Service ports, with node ports where allocated.",
            ),
            AGE,
            wide(
                "Selector",
                "string",
                "Labels of the pods backing the service.",
            ),
        ],
        Printer::Endpoints => vec![
            NAME,
            c(
                "Endpoints",
                "string",
                "Ready addresses and ports, abbreviated.",
            ),
            AGE,
        ],
        Printer::ConfigMap => vec![NAME, c("Data", "string", "Number of data entries."), AGE],
        Printer::Secret => vec![
            NAME,
            c("Type", "string", "Kind of secret data."),
            c("Data", "string", "Number of data entries."),
            AGE,
        ],
        Printer::ServiceAccount => vec![
            NAME,
            c("Secrets", "string", "Number of referenced secrets."),
            AGE,
        ],
        Printer::Event | Printer::EventsV1Event => vec![
            c(
                "Last Seen",
                "string",
                "Time since the event was last observed.",
            ),
            c("Type", "string", "Event type, Normal or Warning."),
            c("Reason", "string", "Short machine-readable reason."),
            c("Object", "string", "Object the event is about."),
            wide("Subobject", "string", "Field path within the object."),
            wide(
                "Source",
                "string",
                "Component and host that reported the event.",
            ),
            c("Message", "string", "Human-readable description."),
            wide(
                "First Seen",
                "string",
                "Time since the event was first observed.",
            ),
            wide("Count", "string", "Number of occurrences."),
            Column {
                priority: 1,
                ..NAME
            },
        ],
        Printer::ResourceQuota => vec![
            NAME,
            c(
                "Request",
                "string",
                "Used and hard amounts of request quotas.",
            ),
            c("Limit", "string", "Used and hard amounts of limit quotas."),
            AGE,
        ],
        Printer::PersistentVolumeClaim => vec![
            NAME,
            c("Status", "string", "Phase of the claim."),
            c("Volume", "string", "Bound persistent volume."),
            c("Capacity", "string", "Capacity of the bound volume."),
            c(
                "Access Modes",
                "string",
                "Access modes of the bound volume.",
            ),
            c("StorageClass", "string", "Storage class of the claim."),
            c(
                "VolumeAttributesClass",
                "string",
                "Volume attributes class of the claim.",
            ),
            AGE,
            wide("VolumeMode", "string", "Filesystem or Block."),
        ],
        Printer::PersistentVolume => vec![
            NAME,
            c("Capacity", "string", "Storage capacity of the volume."),
            c("Access Modes", "string", "Access modes of the volume."),
            c(
                "Reclaim Policy",
                "string",
                "What happens when the claim is released.",
            ),
            c("Status", "string", "Phase of the volume."),
            c("Claim", "string", "Namespace and name of the bound claim."),
            c("StorageClass", "string", "Storage class of the volume."),
            c(
                "VolumeAttributesClass",
                "string",
                "Volume attributes class of the volume.",
            ),
            c("Reason", "string", "Reason for a failed phase."),
            AGE,
            wide("VolumeMode", "string", "Filesystem or Block."),
        ],
        Printer::Deployment => vec![
            NAME,
            c("Ready", "string", "Ready replicas out of desired replicas."),
            c(
                "Up-to-date",
                "string",
                "Replicas running the latest template.",
            ),
            c("Available", "string", "Replicas available to serve."),
            AGE,
            CONTAINERS,
            IMAGES,
            SELECTOR,
        ],
        Printer::ReplicaSet => vec![
            NAME,
            c("Desired", "integer", "Desired number of replicas."),
            c("Current", "integer", "Number of replicas observed."),
            c("Ready", "integer", "Number of ready replicas."),
            AGE,
            CONTAINERS,
            IMAGES,
            SELECTOR,
        ],
        Printer::StatefulSet => vec![
            NAME,
            c("Ready", "string", "Ready replicas out of desired replicas."),
            AGE,
            CONTAINERS,
            IMAGES,
        ],
        Printer::DaemonSet => vec![
            NAME,
            c(
                "Desired",
                "integer",
                "Nodes that should run the daemon pod.",
            ),
            c(
                "Current",
                "integer",
                "Nodes running at least one daemon pod.",
            ),
            c("Ready", "integer", "Nodes with a ready daemon pod."),
            c(
                "Up-to-date",
                "integer",
                "Nodes running the latest template.",
            ),
            c(
                "Available",
                "integer",
                "Nodes with an available daemon pod.",
            ),
            c(
                "Node Selector",
                "string",
                "Node selector of the pod template.",
            ),
            AGE,
            CONTAINERS,
            IMAGES,
            SELECTOR,
        ],
        Printer::ControllerRevision => vec![
            NAME,
            c("Controller", "string", "Controller that owns the revision."),
            c("Revision", "string", "Revision number."),
            AGE,
        ],
        Printer::Job => vec![
            NAME,
            c("Status", "string", "Current state of the job."),
            c(
                "Completions",
                "string",
                "Succeeded pods out of required completions.",
            ),
            c(
                "Duration",
                "string",
                "Time the job took, or has been running.",
            ),
            AGE,
            CONTAINERS,
            IMAGES,
            SELECTOR,
        ],
        Printer::CronJob => vec![
            NAME,
            c("Schedule", "string", "Cron schedule."),
            c("Timezone", "string", "Time zone of the schedule."),
            c("Suspend", "boolean", "Whether new runs are suspended."),
            c("Active", "integer", "Number of running jobs."),
            c(
                "Last Schedule",
                "string",
                "Time since a job was last scheduled.",
            ),
            AGE,
            CONTAINERS,
            IMAGES,
            wide("Selector", "string", "Label selector of the job template."),
        ],
        Printer::Lease => vec![
            NAME,
            c("Holder", "string", "Identity of the current holder."),
            AGE,
        ],
        Printer::EndpointSlice => vec![
            NAME,
            c(
                "AddressType",
                "string",
                "Type of the addresses in the slice.",
            ),
            c("Ports", "string", "Ports of the slice, abbreviated."),
            c("Endpoints", "string", "Endpoint addresses, abbreviated."),
            AGE,
        ],
        Printer::PriorityClass => vec![
            NAME,
            c("Value", "integer", "Priority value."),
            c(
                "Global-Default",
                "boolean",
                "Whether this is the default priority class.",
            ),
            AGE,
            c(
                "PreemptionPolicy",
                "string",
                "Whether pods of this class may preempt others.",
            ),
        ],
        Printer::PodDisruptionBudget => vec![
            NAME,
            c("Min Available", "string", "Pods that must stay available."),
            c("Max Unavailable", "string", "Pods that may be unavailable."),
            c(
                "Allowed Disruptions",
                "integer",
                "Disruptions allowed right now.",
            ),
            AGE,
        ],
    }
}
