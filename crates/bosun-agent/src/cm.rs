//! Pod-level cgroups (kubelet's container manager, cgroupfs driver, cgroup
//! v1): `/kubepods` bounded by the node's allocatable memory, QoS tiers
//! `/kubepods/burstable` and `/kubepods/besteffort`, and one cgroup per
//! pod — `/kubepods/pod<uid>` (Guaranteed), `/kubepods/burstable/pod<uid>`,
//! `/kubepods/besteffort/pod<uid>` — whose limits bound all its containers
//! together. The sandbox's `cgroup_parent` names it, so runc puts every
//! container of the pod below it; runc removes only the containers'
//! leaves, so the agent creates, limits and removes the pod's own.

use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::{Container, Pod};

use crate::kuberuntime::config::{cpu_millis, memory_bytes};

/// The controllers the agent writes limits into (runc creates the rest,
/// cpuset included, below the parent it is given).
const CONTROLLERS: [&str; 4] = ["cpu", "cpuacct", "memory", "pids"];
/// kubelet's name for the node-level cgroup of all pods.
const KUBEPODS: &str = "kubepods";
/// cpu.shares of the best-effort tier and of best-effort pods (kubelet's
/// MinShares).
const MIN_SHARES: u64 = 2;
const CFS_PERIOD_US: i64 = 100_000;

/// QoS tier of a pod (upstream's classes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Qos {
    Guaranteed,
    Burstable,
    BestEffort,
}

impl Qos {
    pub fn of(pod: &Pod) -> Self {
        match crate::status::generate::qos_class(pod) {
            "Guaranteed" => Qos::Guaranteed,
            "Burstable" => Qos::Burstable,
            _ => Qos::BestEffort,
        }
    }
}

/// The pod's cgroup, relative to each controller's root.
pub fn pod_cgroup(qos: Qos, uid: &str) -> String {
    match qos {
        Qos::Guaranteed => format!("/{KUBEPODS}/pod{uid}"),
        Qos::Burstable => format!("/{KUBEPODS}/burstable/pod{uid}"),
        Qos::BestEffort => format!("/{KUBEPODS}/besteffort/pod{uid}"),
    }
}

/// A pod's limits as kubelet computes them (ResourceConfigForPod): shares
/// from the summed CPU requests, a CFS quota and a memory limit only when
/// every container has one; init containers count with their maximum;
/// the pod's overhead is added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodResources {
    pub cpu_shares: u64,
    pub cpu_quota_us: Option<i64>,
    pub memory_limit_bytes: Option<i64>,
}

fn quantity(c: &Container, limits: bool, name: &str) -> Option<String> {
    let r = c.resources.as_ref()?;
    let m = if limits {
        r.limits.as_ref()
    } else {
        r.requests.as_ref()
    }?;
    m.get(name).map(|q| q.0.clone())
}

pub fn pod_resources(pod: &Pod) -> PodResources {
    let qos = Qos::of(pod);
    let spec = pod.spec.as_ref();
    let containers: &[Container] = spec.map(|s| s.containers.as_slice()).unwrap_or(&[]);
    let inits: &[Container] = spec
        .and_then(|s| s.init_containers.as_deref())
        .unwrap_or(&[]);
    // The effective value: max(sum over app containers (+ sidecars), any
    // one-shot init container), as upstream's PodRequests/PodLimits.
    let effective = |limits: bool, name: &str, parse: fn(&str) -> Option<i64>| {
        let mut all_set = true;
        let mut sum = 0i64;
        for c in containers.iter().chain(
            inits
                .iter()
                .filter(|c| c.restart_policy.as_deref() == Some("Always")),
        ) {
            match quantity(c, limits, name).and_then(|q| parse(&q)) {
                Some(v) => sum += v,
                None => all_set = false,
            }
        }
        let init_max = inits
            .iter()
            .filter(|c| c.restart_policy.as_deref() != Some("Always"))
            .filter_map(|c| quantity(c, limits, name).and_then(|q| parse(&q)))
            .max()
            .unwrap_or(0);
        let overhead = spec
            .and_then(|s| s.overhead.as_ref())
            .and_then(|o| o.get(name))
            .and_then(|q| parse(&q.0))
            .unwrap_or(0);
        (sum.max(init_max) + overhead, all_set)
    };
    let (cpu_requests, _) = effective(false, "cpu", cpu_millis);
    let (cpu_limits, all_cpu_limited) = effective(true, "cpu", cpu_millis);
    let (mem_limits, all_mem_limited) = effective(true, "memory", memory_bytes);
    let cpu_shares = if qos == Qos::BestEffort {
        MIN_SHARES
    } else {
        ((cpu_requests as u64) * 1024 / 1000).max(MIN_SHARES)
    };
    PodResources {
        cpu_shares,
        cpu_quota_us: (all_cpu_limited && cpu_limits > 0)
            .then(|| (cpu_limits * CFS_PERIOD_US / 1000).max(1000)),
        memory_limit_bytes: (all_mem_limited && mem_limits > 0).then_some(mem_limits),
    }
}

/// Creates, limits and removes pod cgroups below a cgroup v1 hierarchy.
#[derive(Debug, Clone)]
pub struct PodCgroups {
    /// Where the controllers are mounted (`/sys/fs/cgroup`).
    root: PathBuf,
}

impl PodCgroups {
    /// `None` where the hierarchy is not cgroup v1 with the controllers
    /// the agent needs (then containers keep only their own limits).
    pub fn detect(root: &Path) -> Option<Self> {
        CONTROLLERS
            .iter()
            .all(|c| root.join(c).join("cgroup.procs").exists())
            .then(|| PodCgroups {
                root: root.to_path_buf(),
            })
    }

    fn dirs(&self, cgroup: &str) -> impl Iterator<Item = (&'static str, PathBuf)> + '_ {
        let rel = cgroup.trim_start_matches('/').to_string();
        CONTROLLERS
            .iter()
            .map(move |c| (*c, self.root.join(c).join(&rel)))
    }

    fn write(dir: &Path, file: &str, value: impl ToString) -> std::io::Result<()> {
        let path = dir.join(file);
        std::fs::write(&path, value.to_string()).map_err(|e| {
            std::io::Error::new(e.kind(), format!("cannot write {}: {e}", path.display()))
        })
    }

    /// The node-level cgroups; `/kubepods` is limited to the node's
    /// allocatable memory (kubelet's node allocatable enforcement).
    pub fn ensure_node(&self, allocatable_memory: Option<u64>) -> std::io::Result<()> {
        for cg in [
            format!("/{KUBEPODS}"),
            format!("/{KUBEPODS}/burstable"),
            format!("/{KUBEPODS}/besteffort"),
        ] {
            for (_, dir) in self.dirs(&cg) {
                std::fs::create_dir_all(&dir)?;
            }
        }
        let kubepods = self.root.join("memory").join(KUBEPODS);
        if let Some(bytes) = allocatable_memory {
            Self::write(&kubepods, "memory.limit_in_bytes", bytes)?;
        }
        let besteffort = self.root.join("cpu").join(KUBEPODS).join("besteffort");
        Self::write(&besteffort, "cpu.shares", MIN_SHARES)
    }

    /// Creates the pod's cgroup with its limits; returns its name for the
    /// sandbox's `cgroup_parent`.
    pub fn ensure_pod(&self, pod: &Pod, uid: &str) -> std::io::Result<String> {
        let name = pod_cgroup(Qos::of(pod), uid);
        let res = pod_resources(pod);
        for (controller, dir) in self.dirs(&name) {
            std::fs::create_dir_all(&dir)?;
            match controller {
                "cpu" => {
                    Self::write(&dir, "cpu.shares", res.cpu_shares)?;
                    if let Some(quota) = res.cpu_quota_us {
                        Self::write(&dir, "cpu.cfs_period_us", CFS_PERIOD_US)?;
                        Self::write(&dir, "cpu.cfs_quota_us", quota)?;
                    }
                }
                "memory" => {
                    if let Some(limit) = res.memory_limit_bytes {
                        Self::write(&dir, "memory.limit_in_bytes", limit)?;
                    }
                }
                _ => {}
            }
        }
        Ok(name)
    }

    /// Removes the pod's cgroup in every QoS tier (a pod's class cannot
    /// change, but the agent may not know it any more). Fails while
    /// processes remain in it.
    pub fn remove_pod(&self, uid: &str) -> std::io::Result<()> {
        for qos in [Qos::Guaranteed, Qos::Burstable, Qos::BestEffort] {
            for (_, dir) in self.dirs(&pod_cgroup(qos, uid)) {
                match std::fs::remove_dir(&dir) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => {
                        return Err(std::io::Error::new(
                            e.kind(),
                            format!("cannot remove {}: {e}", dir.display()),
                        ))
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(spec: serde_json::Value) -> Pod {
        serde_json::from_value(json!({"metadata": {"uid": "u1"}, "spec": spec})).unwrap()
    }

    #[test]
    fn cgroup_names_follow_the_qos_class() {
        let guaranteed = pod(json!({"containers": [{"name": "a", "resources": {
            "limits": {"cpu": "500m", "memory": "64Mi"}, "requests": {"cpu": "500m", "memory": "64Mi"}}}]}));
        let burstable =
            pod(json!({"containers": [{"name": "a", "resources": {"requests": {"cpu": "100m"}}}]}));
        let besteffort = pod(json!({"containers": [{"name": "a"}]}));
        assert_eq!(pod_cgroup(Qos::of(&guaranteed), "u1"), "/kubepods/podu1");
        assert_eq!(
            pod_cgroup(Qos::of(&burstable), "u1"),
            "/kubepods/burstable/podu1"
        );
        assert_eq!(
            pod_cgroup(Qos::of(&besteffort), "u1"),
            "/kubepods/besteffort/podu1"
        );
    }

    #[test]
    fn pod_limits_only_when_every_container_has_one() {
        let p = pod(json!({
            "initContainers": [{"name": "i", "resources": {"limits": {"cpu": "2", "memory": "1Gi"}, "requests": {"cpu": "2"}}}],
            "containers": [
                {"name": "a", "resources": {"limits": {"cpu": "500m", "memory": "64Mi"}, "requests": {"cpu": "250m"}}},
                {"name": "b", "resources": {"limits": {"cpu": "250m", "memory": "32Mi"}, "requests": {"cpu": "250m"}}},
            ],
            "overhead": {"cpu": "100m", "memory": "16Mi"},
        }));
        let r = pod_resources(&p);
        // Requests: max(250m + 250m, init 2) + 100m overhead.
        assert_eq!(r.cpu_shares, 2100 * 1024 / 1000);
        // Limits: max(750m, init 2) + 100m → 2.1 cores.
        assert_eq!(r.cpu_quota_us, Some(210_000));
        // Memory: max(96Mi, 1Gi) + 16Mi.
        assert_eq!(r.memory_limit_bytes, Some((1 << 30) + (16 << 20)));

        let open = pod(json!({"containers": [
            {"name": "a", "resources": {"limits": {"memory": "64Mi"}}},
            {"name": "b"},
        ]}));
        let r = pod_resources(&open);
        assert_eq!(r.memory_limit_bytes, None);
        assert_eq!(r.cpu_quota_us, None);
        let be = pod_resources(&pod(json!({"containers": [{"name": "a"}]})));
        assert_eq!(be.cpu_shares, MIN_SHARES);
    }

    #[test]
    fn pod_cgroups_are_written_and_removed() {
        let root = tempfile::tempdir().unwrap();
        for c in CONTROLLERS {
            std::fs::create_dir_all(root.path().join(c)).unwrap();
            std::fs::write(root.path().join(c).join("cgroup.procs"), "").unwrap();
        }
        let cg = PodCgroups::detect(root.path()).unwrap();
        cg.ensure_node(Some(1 << 30)).unwrap();
        assert_eq!(
            std::fs::read_to_string(root.path().join("memory/kubepods/memory.limit_in_bytes"))
                .unwrap(),
            (1u64 << 30).to_string()
        );
        let p = pod(json!({"containers": [{"name": "a", "resources": {
            "limits": {"cpu": "500m", "memory": "64Mi"}, "requests": {"cpu": "500m", "memory": "64Mi"}}}]}));
        assert_eq!(cg.ensure_pod(&p, "u1").unwrap(), "/kubepods/podu1");
        let mem = root
            .path()
            .join("memory/kubepods/podu1/memory.limit_in_bytes");
        assert_eq!(
            std::fs::read_to_string(mem).unwrap(),
            (64u64 << 20).to_string()
        );
        let quota = root.path().join("cpu/kubepods/podu1/cpu.cfs_quota_us");
        assert_eq!(std::fs::read_to_string(quota).unwrap(), "50000");
        // A real cgroupfs rmdir ignores the control files; a tmpfs does
        // not, so empty the directories first.
        for c in CONTROLLERS {
            let dir = root.path().join(c).join("kubepods/podu1");
            for f in std::fs::read_dir(&dir).unwrap() {
                std::fs::remove_file(f.unwrap().path()).unwrap();
            }
        }
        cg.remove_pod("u1").unwrap();
        assert!(!root.path().join("cpu/kubepods/podu1").exists());
        assert!(PodCgroups::detect(&root.path().join("none")).is_none());
    }
}
