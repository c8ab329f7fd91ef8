//! The resource metrics API built in (`metrics.k8s.io/v1beta1`, what
//! `kubectl top` and the HorizontalPodAutoscaler read), doing
//! metrics-server's job inside the API server: [`scraper`] reads every
//! node agent's `/metrics/resource` each resolution period, this store
//! turns two consecutive readings into rates, and [`api`] answers from
//! memory (no store access, nothing scanned beyond the namespace asked
//! for).

pub mod api;
pub mod prom;
pub mod scraper;

use std::collections::{BTreeMap, HashMap};

use parking_lot::RwLock;

/// One cumulative reading.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub cpu_seconds: f64,
    pub memory_bytes: u64,
    pub timestamp_ms: i64,
}

/// (namespace, pod, container).
pub type ContainerKey = (String, String, String);

/// One scrape of one node.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeScrape {
    pub node: Option<Point>,
    pub containers: HashMap<ContainerKey, Point>,
}

impl NodeScrape {
    /// The scrape kubelet's `/metrics/resource` text describes.
    pub fn from_text(text: &str) -> Self {
        let mut node_cpu = None;
        let mut node_mem = None;
        let mut cpu: HashMap<ContainerKey, (f64, i64)> = HashMap::new();
        let mut mem: HashMap<ContainerKey, u64> = HashMap::new();
        for s in prom::parse(text) {
            let ts = s.timestamp_ms.unwrap_or(0);
            let key = || -> Option<ContainerKey> {
                Some((
                    s.labels.get("namespace")?.clone(),
                    s.labels.get("pod")?.clone(),
                    s.labels.get("container")?.clone(),
                ))
            };
            match s.name.as_str() {
                "node_cpu_usage_seconds_total" => node_cpu = Some((s.value, ts)),
                "node_memory_working_set_bytes" => node_mem = Some(s.value as u64),
                "container_cpu_usage_seconds_total" => {
                    if let Some(k) = key() {
                        cpu.insert(k, (s.value, ts));
                    }
                }
                "container_memory_working_set_bytes" => {
                    if let Some(k) = key() {
                        mem.insert(k, s.value as u64);
                    }
                }
                _ => {}
            }
        }
        NodeScrape {
            node: node_cpu.map(|(cpu_seconds, timestamp_ms)| Point {
                cpu_seconds,
                memory_bytes: node_mem.unwrap_or(0),
                timestamp_ms,
            }),
            containers: cpu
                .into_iter()
                .map(|(k, (cpu_seconds, timestamp_ms))| {
                    let memory_bytes = mem.get(&k).copied().unwrap_or(0);
                    (
                        k,
                        Point {
                            cpu_seconds,
                            memory_bytes,
                            timestamp_ms,
                        },
                    )
                })
                .collect(),
        }
    }
}

/// Usage over a window: CPU as a rate, memory as the latest reading.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Usage {
    pub cpu_nanocores: u64,
    pub memory_bytes: u64,
    /// The end of the window.
    pub timestamp_ms: i64,
    pub window_ms: i64,
}

/// The usage between two readings of the same counter; `None` when they
/// cannot give a rate (same or reversed time, counter reset).
pub fn rate(prev: &Point, cur: &Point) -> Option<Usage> {
    let window_ms = cur.timestamp_ms - prev.timestamp_ms;
    if window_ms <= 0 || cur.cpu_seconds < prev.cpu_seconds {
        return None;
    }
    let cpu_nanocores =
        ((cur.cpu_seconds - prev.cpu_seconds) * 1e9 / (window_ms as f64 / 1000.0)).round() as u64;
    Some(Usage {
        cpu_nanocores,
        memory_bytes: cur.memory_bytes,
        timestamp_ms: cur.timestamp_ms,
        window_ms,
    })
}

/// A pod's usage: its containers' (by name, sorted).
#[derive(Debug, Clone, PartialEq)]
pub struct PodUsage {
    pub containers: Vec<(String, Usage)>,
    pub timestamp_ms: i64,
    pub window_ms: i64,
}

#[derive(Default)]
struct Inner {
    last: HashMap<String, NodeScrape>,
    nodes: HashMap<String, Usage>,
    /// `namespace/name` → usage, for namespace range reads.
    pods: BTreeMap<String, PodUsage>,
    pods_of_node: HashMap<String, Vec<String>>,
}

/// The latest usage of every node and pod.
#[derive(Default)]
pub struct MetricsStore {
    inner: RwLock<Inner>,
}

fn pod_key(namespace: &str, name: &str) -> String {
    format!("{namespace}/{name}")
}

impl MetricsStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a node's scrape; usage appears from the second one on.
    pub fn ingest(&self, node: &str, scrape: NodeScrape) {
        let mut inner = self.inner.write();
        let prev = inner.last.remove(node).unwrap_or_default();
        match (prev.node.as_ref(), scrape.node.as_ref()) {
            (Some(p), Some(c)) => match rate(p, c) {
                Some(u) => {
                    inner.nodes.insert(node.to_string(), u);
                }
                None => {
                    inner.nodes.remove(node);
                }
            },
            _ => {
                inner.nodes.remove(node);
            }
        }
        let mut pods: BTreeMap<String, PodUsage> = BTreeMap::new();
        for (key, cur) in &scrape.containers {
            let Some(usage) = prev.containers.get(key).and_then(|p| rate(p, cur)) else {
                continue;
            };
            let (ns, pod, container) = key;
            let entry = pods.entry(pod_key(ns, pod)).or_insert_with(|| PodUsage {
                containers: Vec::new(),
                timestamp_ms: 0,
                window_ms: 0,
            });
            entry.containers.push((container.clone(), usage));
            entry.timestamp_ms = entry.timestamp_ms.max(usage.timestamp_ms);
            entry.window_ms = entry.window_ms.max(usage.window_ms);
        }
        for old in inner.pods_of_node.remove(node).unwrap_or_default() {
            inner.pods.remove(&old);
        }
        let keys: Vec<String> = pods.keys().cloned().collect();
        for (k, mut p) in pods {
            p.containers.sort_by(|a, b| a.0.cmp(&b.0));
            inner.pods.insert(k, p);
        }
        inner.pods_of_node.insert(node.to_string(), keys);
        inner.last.insert(node.to_string(), scrape);
    }

    /// Drops everything about nodes `keep` rejects (deleted nodes).
    pub fn retain_nodes(&self, keep: impl Fn(&str) -> bool) {
        let mut inner = self.inner.write();
        let gone: Vec<String> = inner.last.keys().filter(|n| !keep(n)).cloned().collect();
        for node in gone {
            inner.last.remove(&node);
            inner.nodes.remove(&node);
            for p in inner.pods_of_node.remove(&node).unwrap_or_default() {
                inner.pods.remove(&p);
            }
        }
    }

    pub fn node(&self, name: &str) -> Option<Usage> {
        self.inner.read().nodes.get(name).copied()
    }

    pub fn pod(&self, namespace: &str, name: &str) -> Option<PodUsage> {
        self.inner
            .read()
            .pods
            .get(&pod_key(namespace, name))
            .cloned()
    }

    /// Pods with usage, in `namespace` or everywhere, as
    /// (namespace, name, usage) in key order.
    pub fn pods(&self, namespace: Option<&str>) -> Vec<(String, String, PodUsage)> {
        let inner = self.inner.read();
        let prefix = namespace.map(|ns| format!("{ns}/")).unwrap_or_default();
        inner
            .pods
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .filter_map(|(k, v)| {
                let (ns, name) = k.split_once('/')?;
                Some((ns.to_string(), name.to_string(), v.clone()))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scrape(ts: i64, node_cpu: f64, c: &[(&str, &str, &str, f64, u64)]) -> NodeScrape {
        NodeScrape {
            node: Some(Point {
                cpu_seconds: node_cpu,
                memory_bytes: 1 << 30,
                timestamp_ms: ts,
            }),
            containers: c
                .iter()
                .map(|(ns, pod, name, cpu, mem)| {
                    (
                        (ns.to_string(), pod.to_string(), name.to_string()),
                        Point {
                            cpu_seconds: *cpu,
                            memory_bytes: *mem,
                            timestamp_ms: ts,
                        },
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn rates_come_from_two_scrapes() {
        let store = MetricsStore::new();
        store.ingest(
            "n1",
            scrape(10_000, 100.0, &[("ns", "web", "app", 1.0, 10)]),
        );
        assert_eq!(store.node("n1"), None);
        assert!(store.pods(None).is_empty());
        store.ingest(
            "n1",
            scrape(
                20_000,
                105.0,
                &[("ns", "web", "app", 1.5, 20), ("ns", "new", "app", 9.0, 5)],
            ),
        );
        let n = store.node("n1").unwrap();
        assert_eq!(n.cpu_nanocores, 500_000_000);
        assert_eq!(n.window_ms, 10_000);
        let pods = store.pods(Some("ns"));
        assert_eq!(pods.len(), 1, "a container seen once has no rate yet");
        let web = store.pod("ns", "web").unwrap();
        assert_eq!(web.containers[0].0, "app");
        assert_eq!(web.containers[0].1.cpu_nanocores, 50_000_000);
        assert_eq!(web.containers[0].1.memory_bytes, 20);
        assert!(
            store.pods(Some("n")).is_empty(),
            "namespace prefix is exact"
        );

        // A pod gone from the node's next scrape is gone from the API.
        store.ingest("n1", scrape(30_000, 106.0, &[("ns", "new", "app", 9.5, 5)]));
        assert!(store.pod("ns", "web").is_none());
        assert!(store.pod("ns", "new").is_some());
        store.retain_nodes(|n| n != "n1");
        assert!(store.node("n1").is_none());
        assert!(store.pods(None).is_empty());
    }

    #[test]
    fn counter_resets_give_no_rate() {
        let p = |cpu, ts| Point {
            cpu_seconds: cpu,
            memory_bytes: 0,
            timestamp_ms: ts,
        };
        assert!(rate(&p(5.0, 1000), &p(1.0, 2000)).is_none());
        assert!(rate(&p(1.0, 1000), &p(2.0, 1000)).is_none());
    }

    #[test]
    fn scrape_text_is_read() {
        let text = "node_cpu_usage_seconds_total 10 1000\nnode_memory_working_set_bytes 2048 1000\n\
            container_cpu_usage_seconds_total{container=\"c\",namespace=\"ns\",pod=\"p\"} 1.5 1000\n\
            container_memory_working_set_bytes{container=\"c\",namespace=\"ns\",pod=\"p\"} 4096 1000\n";
        let s = NodeScrape::from_text(text);
        assert_eq!(
            s.node,
            Some(Point {
                cpu_seconds: 10.0,
                memory_bytes: 2048,
                timestamp_ms: 1000
            })
        );
        let c = &s.containers[&("ns".into(), "p".into(), "c".into())];
        assert_eq!(c.memory_bytes, 4096);
        assert_eq!(c.cpu_seconds, 1.5);
    }
}
