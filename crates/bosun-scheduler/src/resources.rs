//! Resource arithmetic as the scheduler sees it: a pod's effective requests
//! (containers, init containers, sidecars, overhead) and a node's
//! allocatable, in integer units (millicores, bytes, counts).

use std::collections::BTreeMap;

use bosun_core::quantity::Quantity;
use k8s_openapi::api::core::v1::{Container, Node, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as ApiQuantity;

pub const CPU: &str = "cpu";
pub const MEMORY: &str = "memory";
pub const EPHEMERAL_STORAGE: &str = "ephemeral-storage";
pub const PODS: &str = "pods";

/// Requests assumed for a container that sets none, for scoring only
/// (upstream's `DefaultMilliCPURequest` and `DefaultMemoryRequest`).
pub const DEFAULT_MILLI_CPU_REQUEST: i64 = 100;
pub const DEFAULT_MEMORY_REQUEST: i64 = 200 * 1024 * 1024;

/// An amount of each resource. `scalar` holds extended resources
/// (`nvidia.com/gpu`, `hugepages-2Mi`, ...) in their integer unit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resource {
    pub milli_cpu: i64,
    pub memory: i64,
    pub ephemeral_storage: i64,
    pub allowed_pod_number: i64,
    pub scalar: BTreeMap<String, i64>,
}

impl Resource {
    /// Reads a `ResourceList` (`cpu` in millicores, everything else in
    /// whole units rounded up). Unparseable quantities count as zero: the
    /// API server validated them on the way in.
    pub fn from_list(list: Option<&BTreeMap<String, ApiQuantity>>) -> Resource {
        let mut r = Resource::default();
        for (name, q) in list.into_iter().flatten() {
            r.set(name, value_of(name, q));
        }
        r
    }

    pub fn get(&self, name: &str) -> i64 {
        match name {
            CPU => self.milli_cpu,
            MEMORY => self.memory,
            EPHEMERAL_STORAGE => self.ephemeral_storage,
            PODS => self.allowed_pod_number,
            other => self.scalar.get(other).copied().unwrap_or(0),
        }
    }

    pub fn set(&mut self, name: &str, value: i64) {
        match name {
            CPU => self.milli_cpu = value,
            MEMORY => self.memory = value,
            EPHEMERAL_STORAGE => self.ephemeral_storage = value,
            PODS => self.allowed_pod_number = value,
            other => {
                self.scalar.insert(other.to_string(), value);
            }
        }
    }

    pub fn add(&mut self, other: &Resource) {
        self.milli_cpu += other.milli_cpu;
        self.memory += other.memory;
        self.ephemeral_storage += other.ephemeral_storage;
        self.allowed_pod_number += other.allowed_pod_number;
        for (k, v) in &other.scalar {
            *self.scalar.entry(k.clone()).or_default() += v;
        }
    }

    pub fn sub(&mut self, other: &Resource) {
        self.milli_cpu -= other.milli_cpu;
        self.memory -= other.memory;
        self.ephemeral_storage -= other.ephemeral_storage;
        self.allowed_pod_number -= other.allowed_pod_number;
        for (k, v) in &other.scalar {
            *self.scalar.entry(k.clone()).or_default() -= v;
        }
    }

    /// Each resource raised to at least `other`'s amount.
    pub fn set_max(&mut self, other: &Resource) {
        self.milli_cpu = self.milli_cpu.max(other.milli_cpu);
        self.memory = self.memory.max(other.memory);
        self.ephemeral_storage = self.ephemeral_storage.max(other.ephemeral_storage);
        self.allowed_pod_number = self.allowed_pod_number.max(other.allowed_pod_number);
        for (k, v) in &other.scalar {
            let e = self.scalar.entry(k.clone()).or_default();
            *e = (*e).max(*v);
        }
    }

    /// True when nothing at all is requested.
    pub fn is_zero(&self) -> bool {
        self.milli_cpu == 0
            && self.memory == 0
            && self.ephemeral_storage == 0
            && self.scalar.values().all(|v| *v == 0)
    }
}

/// One quantity in the unit the scheduler counts `name` in.
pub fn value_of(name: &str, q: &ApiQuantity) -> i64 {
    let Ok(parsed) = Quantity::parse(q.0.trim()) else {
        return 0;
    };
    let milli = parsed.milli_value().unwrap_or(i128::MAX);
    let v = if name == CPU {
        milli
    } else {
        // Whole units, rounded up as upstream's Value() does.
        (milli + 999).div_euclid(1000)
    };
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn container_requests(c: &Container) -> Resource {
    Resource::from_list(c.resources.as_ref().and_then(|r| r.requests.as_ref()))
}

/// Requests with upstream's defaults for unset cpu and memory: what the
/// scoring plugins spread, so zero-request pods still count.
fn non_zero(mut r: Resource, c: &Container) -> Resource {
    let requests = c.resources.as_ref().and_then(|r| r.requests.as_ref());
    let has = |name: &str| requests.is_some_and(|m| m.contains_key(name));
    if !has(CPU) {
        r.milli_cpu = DEFAULT_MILLI_CPU_REQUEST;
    }
    if !has(MEMORY) {
        r.memory = DEFAULT_MEMORY_REQUEST;
    }
    r
}

/// A pod's effective requests as upstream's `PodRequests` computes them:
/// the larger of (containers + sidecars) and the peak of the init phase
/// (each init container plus the sidecars started before it), plus
/// overhead. `non_zero` applies the scoring defaults per container.
pub fn pod_requests(pod: &Pod, non_zero_defaults: bool) -> Resource {
    let Some(spec) = pod.spec.as_ref() else {
        return Resource::default();
    };
    let requests = |c: &Container| {
        let r = container_requests(c);
        if non_zero_defaults {
            non_zero(r, c)
        } else {
            r
        }
    };
    let mut total = Resource::default();
    for c in &spec.containers {
        total.add(&requests(c));
    }
    let mut sidecars = Resource::default();
    let mut init_peak = Resource::default();
    for c in spec.init_containers.iter().flatten() {
        let r = requests(c);
        let step = if c.restart_policy.as_deref() == Some("Always") {
            total.add(&r);
            sidecars.add(&r);
            sidecars.clone()
        } else {
            let mut step = r;
            step.add(&sidecars);
            step
        };
        init_peak.set_max(&step);
    }
    total.set_max(&init_peak);
    if let Some(overhead) = spec.overhead.as_ref() {
        total.add(&Resource::from_list(Some(overhead)));
    }
    total
}

/// A node's allocatable resources (capacity when allocatable is unset).
pub fn node_allocatable(node: &Node) -> Resource {
    let status = node.status.as_ref();
    let list = status
        .and_then(|s| s.allocatable.as_ref())
        .or_else(|| status.and_then(|s| s.capacity.as_ref()));
    Resource::from_list(list)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodSpec, ResourceRequirements};

    fn container(name: &str, cpu: Option<&str>, mem: Option<&str>, always: bool) -> Container {
        let mut requests = BTreeMap::new();
        if let Some(c) = cpu {
            requests.insert(CPU.to_string(), ApiQuantity(c.into()));
        }
        if let Some(m) = mem {
            requests.insert(MEMORY.to_string(), ApiQuantity(m.into()));
        }
        Container {
            name: name.into(),
            resources: Some(ResourceRequirements {
                requests: Some(requests),
                ..Default::default()
            }),
            restart_policy: always.then(|| "Always".to_string()),
            ..Default::default()
        }
    }

    fn pod(containers: Vec<Container>, init: Vec<Container>) -> Pod {
        Pod {
            spec: Some(PodSpec {
                containers,
                init_containers: Some(init),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn containers_sum_and_init_containers_take_the_peak() {
        let p = pod(
            vec![
                container("a", Some("100m"), Some("1Gi"), false),
                container("b", Some("200m"), None, false),
            ],
            vec![container("init", Some("1"), Some("10Mi"), false)],
        );
        let r = pod_requests(&p, false);
        assert_eq!(r.milli_cpu, 1000);
        assert_eq!(r.memory, 1 << 30);
    }

    #[test]
    fn sidecars_add_to_the_running_pod_and_to_later_init_containers() {
        // Upstream's documented example: sidecar 100m runs alongside the
        // app (200m) and alongside the init container that follows it (500m).
        let p = pod(
            vec![container("app", Some("200m"), None, false)],
            vec![
                container("sidecar", Some("100m"), None, true),
                container("init", Some("500m"), None, false),
            ],
        );
        assert_eq!(pod_requests(&p, false).milli_cpu, 600);
        let p = pod(
            vec![container("app", Some("200m"), None, false)],
            vec![
                container("init", Some("250m"), None, false),
                container("sidecar", Some("100m"), None, true),
            ],
        );
        assert_eq!(pod_requests(&p, false).milli_cpu, 300);
    }

    #[test]
    fn non_zero_defaults_fill_unset_cpu_and_memory() {
        let p = pod(vec![container("a", None, None, false)], vec![]);
        assert!(pod_requests(&p, false).is_zero());
        let r = pod_requests(&p, true);
        assert_eq!(r.milli_cpu, DEFAULT_MILLI_CPU_REQUEST);
        assert_eq!(r.memory, DEFAULT_MEMORY_REQUEST);
    }

    #[test]
    fn quantities_convert_to_scheduler_units() {
        assert_eq!(value_of(CPU, &ApiQuantity("1.5".into())), 1500);
        assert_eq!(value_of(MEMORY, &ApiQuantity("1Ki".into())), 1024);
        assert_eq!(value_of(MEMORY, &ApiQuantity("1500m".into())), 2);
        assert_eq!(value_of("nvidia.com/gpu", &ApiQuantity("2".into())), 2);
        assert_eq!(value_of(CPU, &ApiQuantity("junk".into())), 0);
    }
}
