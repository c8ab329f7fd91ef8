//! Resource usage as kubelet serves it on `/metrics/resource` (Prometheus
//! text), which a metrics pipeline (metrics-server, or the API server's
//! built-in scraper behind `metrics.k8s.io`) turns into `kubectl top`:
//! the node's cumulative CPU seconds and memory working set from the root
//! cgroup, and every running container's from CRI `ListContainerStats`.

use std::fmt::Write as _;
use std::path::Path;

use crate::cri::{
    api, CriResult, RuntimeService, LABEL_CONTAINER_NAME, LABEL_POD_NAME, LABEL_POD_NAMESPACE,
};

/// One usage reading.
#[derive(Debug, Clone, PartialEq)]
pub struct Usage {
    /// Cumulative CPU time, seconds.
    pub cpu_seconds: f64,
    /// Memory working set (usage minus inactive file pages), bytes.
    pub memory_working_set_bytes: u64,
    /// When it was read, milliseconds since the epoch.
    pub timestamp_ms: i64,
}

/// A container's usage with the pod it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerUsage {
    pub namespace: String,
    pub pod: String,
    pub container: String,
    pub usage: Usage,
}

/// The machine's usage from the root cgroup (v1 `cpuacct`/`memory`, as
/// cAdvisor reads it for kubelet), falling back to /proc for cgroup v2.
pub fn node_usage(cgroup_root: &Path, proc_root: &Path) -> std::io::Result<Usage> {
    let timestamp_ms = chrono::Utc::now().timestamp_millis();
    let cpu_seconds = match read_u64(&cgroup_root.join("cpuacct/cpuacct.usage")) {
        Ok(ns) => ns as f64 / 1e9,
        Err(_) => proc_stat_cpu_seconds(&std::fs::read_to_string(proc_root.join("stat"))?),
    };
    let memory_working_set_bytes = match read_u64(&cgroup_root.join("memory/memory.usage_in_bytes"))
    {
        Ok(usage) => {
            let stat = std::fs::read_to_string(cgroup_root.join("memory/memory.stat"))?;
            usage.saturating_sub(stat_field(&stat, "total_inactive_file").unwrap_or(0))
        }
        Err(_) => meminfo_used(&std::fs::read_to_string(proc_root.join("meminfo"))?),
    };
    Ok(Usage {
        cpu_seconds,
        memory_working_set_bytes,
        timestamp_ms,
    })
}

fn read_u64(path: &Path) -> std::io::Result<u64> {
    std::fs::read_to_string(path)?
        .trim()
        .parse()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

fn stat_field(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

/// Busy CPU seconds from /proc/stat's first line (all but idle and iowait).
fn proc_stat_cpu_seconds(stat: &str) -> f64 {
    // USER_HZ is 100 on every Linux architecture the agent runs on.
    const USER_HZ: f64 = 100.0;
    let fields: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    let total: u64 = fields.iter().sum();
    let idle = fields.get(3).copied().unwrap_or(0) + fields.get(4).copied().unwrap_or(0);
    total.saturating_sub(idle) as f64 / USER_HZ
}

/// MemTotal − MemAvailable, bytes.
fn meminfo_used(meminfo: &str) -> u64 {
    let kib = |key: &str| {
        meminfo.lines().find_map(|l| {
            let rest = l.strip_prefix(key)?.strip_prefix(':')?;
            rest.split_whitespace().next()?.parse::<u64>().ok()
        })
    };
    kib("MemTotal")
        .unwrap_or(0)
        .saturating_sub(kib("MemAvailable").unwrap_or(0))
        * 1024
}

/// The running containers' usage (containers of pods the agent did not
/// create, without pod labels, are left out).
pub fn container_usage(stats: Vec<api::ContainerStats>) -> Vec<ContainerUsage> {
    let mut out: Vec<ContainerUsage> = stats
        .into_iter()
        .filter_map(|s| {
            let attrs = s.attributes?;
            let label = |k: &str| attrs.labels.get(k).cloned();
            let cpu = s.cpu?;
            let mem = s.memory?;
            Some(ContainerUsage {
                namespace: label(LABEL_POD_NAMESPACE)?,
                pod: label(LABEL_POD_NAME)?,
                container: label(LABEL_CONTAINER_NAME)
                    .or_else(|| attrs.metadata.map(|m| m.name))?,
                usage: Usage {
                    cpu_seconds: cpu.usage_core_nano_seconds?.value as f64 / 1e9,
                    memory_working_set_bytes: mem.working_set_bytes.map(|v| v.value).unwrap_or(0),
                    // CRI timestamps are nanoseconds.
                    timestamp_ms: cpu.timestamp / 1_000_000,
                },
            })
        })
        .collect();
    out.sort_by(|a, b| {
        (&a.namespace, &a.pod, &a.container).cmp(&(&b.namespace, &b.pod, &b.container))
    });
    out
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// kubelet's `/metrics/resource` in the Prometheus text format (0.0.4).
pub fn render(node: &Usage, containers: &[ContainerUsage]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# HELP node_cpu_usage_seconds_total Cumulative cpu time consumed by the node in core-seconds");
    let _ = writeln!(out, "# TYPE node_cpu_usage_seconds_total counter");
    let _ = writeln!(
        out,
        "node_cpu_usage_seconds_total {} {}",
        node.cpu_seconds, node.timestamp_ms
    );
    let _ = writeln!(
        out,
        "# HELP node_memory_working_set_bytes Current working set of the node in bytes"
    );
    let _ = writeln!(out, "# TYPE node_memory_working_set_bytes gauge");
    let _ = writeln!(
        out,
        "node_memory_working_set_bytes {} {}",
        node.memory_working_set_bytes, node.timestamp_ms
    );
    let labels = |c: &ContainerUsage| {
        format!(
            "container=\"{}\",namespace=\"{}\",pod=\"{}\"",
            escape(&c.container),
            escape(&c.namespace),
            escape(&c.pod)
        )
    };
    let _ = writeln!(out, "# HELP container_cpu_usage_seconds_total Cumulative cpu time consumed by the container in core-seconds");
    let _ = writeln!(out, "# TYPE container_cpu_usage_seconds_total counter");
    for c in containers {
        let _ = writeln!(
            out,
            "container_cpu_usage_seconds_total{{{}}} {} {}",
            labels(c),
            c.usage.cpu_seconds,
            c.usage.timestamp_ms
        );
    }
    let _ = writeln!(
        out,
        "# HELP container_memory_working_set_bytes Current working set of the container in bytes"
    );
    let _ = writeln!(out, "# TYPE container_memory_working_set_bytes gauge");
    for c in containers {
        let _ = writeln!(
            out,
            "container_memory_working_set_bytes{{{}}} {} {}",
            labels(c),
            c.usage.memory_working_set_bytes,
            c.usage.timestamp_ms
        );
    }
    let _ = writeln!(
        out,
        "# HELP scrape_error 1 if there was an error while getting container metrics, 0 otherwise"
    );
    let _ = writeln!(out, "# TYPE scrape_error gauge");
    let _ = writeln!(out, "scrape_error 0");
    out
}

/// The whole `/metrics/resource` answer for this machine.
pub async fn resource_metrics(
    runtime: &dyn RuntimeService,
) -> CriResult<(Usage, Vec<ContainerUsage>)> {
    let containers = container_usage(runtime.list_container_stats().await?);
    let node = node_usage(Path::new("/sys/fs/cgroup"), Path::new("/proc")).unwrap_or(Usage {
        cpu_seconds: 0.0,
        memory_working_set_bytes: 0,
        timestamp_ms: chrono::Utc::now().timestamp_millis(),
    });
    Ok((node, containers))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn node_usage_from_cgroup_v1_and_from_proc() {
        let dir = tempfile::tempdir().unwrap();
        let cg = dir.path().join("cg");
        std::fs::create_dir_all(cg.join("cpuacct")).unwrap();
        std::fs::create_dir_all(cg.join("memory")).unwrap();
        std::fs::write(cg.join("cpuacct/cpuacct.usage"), "2500000000\n").unwrap();
        std::fs::write(cg.join("memory/memory.usage_in_bytes"), "1000\n").unwrap();
        std::fs::write(
            cg.join("memory/memory.stat"),
            "cache 5\ntotal_inactive_file 300\n",
        )
        .unwrap();
        let u = node_usage(&cg, dir.path()).unwrap();
        assert_eq!(u.cpu_seconds, 2.5);
        assert_eq!(u.memory_working_set_bytes, 700);

        let proc = dir.path().join("proc");
        std::fs::create_dir_all(&proc).unwrap();
        std::fs::write(
            proc.join("stat"),
            "cpu  100 0 50 1000 20 0 0 0 0 0\ncpu0 1 2 3\n",
        )
        .unwrap();
        std::fs::write(
            proc.join("meminfo"),
            "MemTotal: 2048 kB\nMemFree: 10 kB\nMemAvailable: 1024 kB\n",
        )
        .unwrap();
        let u = node_usage(&dir.path().join("none"), &proc).unwrap();
        assert_eq!(u.cpu_seconds, 1.5);
        assert_eq!(u.memory_working_set_bytes, 1024 * 1024);
    }

    #[test]
    fn containers_are_rendered_with_their_pods() {
        let stats = vec![api::ContainerStats {
            attributes: Some(api::ContainerAttributes {
                id: "c1".into(),
                labels: HashMap::from([
                    (LABEL_POD_NAMESPACE.to_string(), "ns".to_string()),
                    (LABEL_POD_NAME.to_string(), "web".to_string()),
                    (LABEL_CONTAINER_NAME.to_string(), "app".to_string()),
                ]),
                ..Default::default()
            }),
            cpu: Some(api::CpuUsage {
                timestamp: 1_700_000_000_000_000_000,
                usage_core_nano_seconds: Some(api::UInt64Value {
                    value: 1_500_000_000,
                }),
                usage_nano_cores: None,
            }),
            memory: Some(api::MemoryUsage {
                working_set_bytes: Some(api::UInt64Value { value: 4096 }),
                ..Default::default()
            }),
            ..Default::default()
        }];
        let containers = container_usage(stats);
        assert_eq!(containers.len(), 1);
        let node = Usage {
            cpu_seconds: 10.0,
            memory_working_set_bytes: 1 << 20,
            timestamp_ms: 1_700_000_000_000,
        };
        let text = render(&node, &containers);
        assert!(
            text.contains("node_cpu_usage_seconds_total 10 1700000000000\n"),
            "{text}"
        );
        assert!(text.contains("node_memory_working_set_bytes 1048576 1700000000000\n"));
        assert!(text.contains(
            "container_cpu_usage_seconds_total{container=\"app\",namespace=\"ns\",pod=\"web\"} 1.5 1700000000000\n"
        ));
        assert!(text.contains(
            "container_memory_working_set_bytes{container=\"app\",namespace=\"ns\",pod=\"web\"} 4096 1700000000000\n"
        ));
    }
}
