//! `bosun-bench scheduler`: upstream scheduler_perf's SchedulingBasic
//! shape. With `--through-api`, pods are created through a running
//! cluster's API (its scheduler and nodes, e.g. `bosun sim`, already up)
//! and one watch notes every binding: pods/s from the first create to the
//! last bind. Otherwise the algorithm alone: the default profile over an
//! in-memory cache of N nodes, assuming each decision.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use http::{Method, StatusCode};
use serde_json::json;

use crate::client::Client;
use crate::cpu::Meter;
use crate::objects;
use crate::progress::{Follower, Milestones};
use crate::report::Report;
use crate::rss;
use crate::setup::{create_namespace, run_id, workers};
use crate::stats::Recorder;

#[derive(Clone, Debug)]
pub struct SchedulingArgs {
    pub pods: usize,
    pub nodes: usize,
    pub concurrency: usize,
    pub meter: Meter,
    /// Processes whose memory to report: (who, pid).
    pub memory_of: Vec<(String, u32)>,
    pub timeout: Duration,
    /// Print the per-second created/bound/Running table.
    pub timeline: bool,
}

/// scheduler_perf's default pod: a pause container asking 100m / 500Mi.
fn pod(name: &str, namespace: &str) -> Bytes {
    let body = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": "sched-bench"}},
        "spec": {
            "containers": [{
                "name": "pause",
                "image": "registry.k8s.io/pause:3.10",
                "resources": {"requests": {"cpu": "100m", "memory": "500Mi"}},
            }],
        }
    });
    Bytes::from(body.to_string())
}

async fn wait_for_nodes(client: &Client, want: usize, timeout: Duration) -> anyhow::Result<usize> {
    let start = Instant::now();
    loop {
        let body = client.call_ok(Method::GET, "/api/v1/nodes", None).await?;
        let have = objects::item_count(&body).unwrap_or(0);
        if have >= want {
            return Ok(have);
        }
        anyhow::ensure!(
            start.elapsed() < timeout,
            "only {have} of {want} nodes registered after {timeout:?}"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

pub async fn run_through_api(
    client: Arc<Client>,
    args: &SchedulingArgs,
    report: &mut Report,
) -> anyhow::Result<()> {
    report.param("pods", args.pods);
    report.param("nodes", args.nodes);
    report.param("concurrency", args.concurrency);
    let nodes = wait_for_nodes(&client, args.nodes, args.timeout).await?;
    report.fact("nodes registered", nodes as f64, "nodes");
    let ns = format!("sched-bench-{}", run_id());
    create_namespace(&client, &ns)
        .await
        .with_context(|| format!("cannot create namespace {ns}"))?;
    let path = format!("/api/v1/namespaces/{ns}/pods");
    let list = client.call_ok(Method::GET, &path, None).await?;
    let from = objects::resource_version(&list).unwrap_or_default();
    let mut follower = Follower::start(
        client.clone(),
        format!("{path}?watch=true&resourceVersion={from}"),
        args.pods,
        args.timeline,
    );
    // Let the watch open before the clock starts.
    tokio::time::sleep(Duration::from_millis(200)).await;

    let snap = args.meter.snapshot();
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let recs = workers(args.concurrency.max(1), |_| {
        let (client, next, path, ns, total) = (
            client.clone(),
            next.clone(),
            path.clone(),
            ns.clone(),
            args.pods,
        );
        async move {
            let mut rec = Recorder::default();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let t = Instant::now();
                rec.answered(
                    t,
                    client
                        .call(Method::POST, &path, Some(pod(&format!("pod-{i}"), &ns)))
                        .await,
                    StatusCode::CREATED,
                );
            }
            rec
        }
    })
    .await?;
    let created_at = start.elapsed();
    let mut rec = Recorder::merged(recs);
    report.record("create pods (POST)", &mut rec, created_at);
    let bound = follower.bound(args.timeout).await;
    // The CPU meter stops at the last bind, as the rate's clock does.
    let used = args.meter.record(report, "create → bind", snap.clone());
    let last_bind = bound?
        .bound
        .context("the pod watch ended before every pod was bound")?;
    let wall = last_bind.duration_since(start);
    report.fact("first create to last bind", wall.as_secs_f64(), "s");
    // CPU per pod varies far less than wall-clock rates on a shared host:
    // the figure to compare two builds by.
    if let Some(server) = crate::cpu::server_seconds(&used) {
        report.fact(
            "server CPU per pod (create → bind)",
            server * 1000.0 / args.pods as f64,
            "ms",
        );
    }
    report.fact(
        "scheduling throughput (end to end)",
        args.pods as f64 / wall.as_secs_f64(),
        "pods/s",
    );
    for (who, pid) in &args.memory_of {
        let bytes = rss::vm_rss(*pid).with_context(|| format!("cannot read {who}'s memory"))?;
        report.fact(
            &format!("{who} RSS"),
            bytes as f64 / (1024.0 * 1024.0),
            "MiB",
        );
    }
    // The simulated nodes report Running a little later: the same
    // milestone the Deployment scale-up of the controllers benchmark ends at.
    // Optional: the bind figures above stand even if the nodes never
    // report every pod Running.
    let reached = follower.running(args.timeout).await.unwrap_or_else(|err| {
        eprintln!("not every pod was seen Running: {err:#}");
        Milestones::default()
    });
    if let Some(running) = reached.running {
        let used = args.meter.record(report, "create → all Running", snap);
        let to_running = running.duration_since(start).as_secs_f64();
        report.fact("first create to all Running", to_running, "s");
        report.fact(
            "throughput to all Running",
            args.pods as f64 / to_running,
            "pods/s",
        );
        if let Some(server) = crate::cpu::server_seconds(&used) {
            report.fact("server CPU to all Running", server, "s");
        }
    }
    Ok(())
}

/// The default profile over an in-memory cache: decisions per second.
pub fn run_algorithm(args: &SchedulingArgs, report: &mut Report) -> anyhow::Result<()> {
    use bosun_scheduler::cache::Cache;
    use bosun_scheduler::node_info::PodInfo;
    use bosun_scheduler::schedule_one::{Algorithm, Decision};
    use k8s_openapi::api::core::v1::{Node, Pod};

    report.param("pods", args.pods);
    report.param("nodes", args.nodes);
    let frameworks = bosun_scheduler::KubeSchedulerConfiguration::default().frameworks()?;
    let fw = frameworks.first().context("no default profile")?;
    let mut cache = Cache::default();
    for i in 0..args.nodes {
        let node: Node = serde_json::from_value(json!({
            "metadata": {"name": format!("node-{i}"), "labels": {
                "kubernetes.io/hostname": format!("node-{i}"),
                "topology.kubernetes.io/zone": format!("zone-{}", i % 3),
            }},
            "status": {"allocatable": {"cpu": "32", "memory": "256Gi", "pods": "110"}},
        }))?;
        cache.add_or_update_node(Arc::new(node));
    }
    let pods: Vec<Arc<PodInfo>> = (0..args.pods)
        .map(|i| {
            let mut pod: Pod = serde_json::from_slice(&pod(&format!("pod-{i}"), "bench"))?;
            pod.metadata.uid = Some(format!("uid-{i}"));
            Ok(Arc::new(PodInfo::new(Arc::new(pod))))
        })
        .collect::<anyhow::Result<_>>()?;
    let mut algorithm = Algorithm::default();
    let start = Instant::now();
    let mut placed = 0usize;
    for info in pods {
        if let Decision::Fit { node, .. } = algorithm.schedule(fw, &cache, &info) {
            cache.assume(info, &node)?;
            placed += 1;
        }
    }
    let wall = start.elapsed();
    anyhow::ensure!(
        placed == args.pods,
        "only {placed} of {} pods fit",
        args.pods
    );
    report.fact("decisions", placed as f64, "pods");
    report.fact("algorithm wall time", wall.as_secs_f64(), "s");
    report.fact(
        "scheduling throughput (algorithm alone)",
        placed as f64 / wall.as_secs_f64(),
        "pods/s",
    );
    Ok(())
}
