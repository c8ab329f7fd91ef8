//! `bosun-bench list`: fill the server with many bound pods as fast as
//! possible, then time full `LIST /api/v1/pods` requests end to end, and
//! measure the server's resident memory per 100,000 stored pods.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use http::{Method, StatusCode};
use http_body_util::BodyExt;

use crate::client::{snippet, Client};
use crate::cpu::Meter;
use crate::objects;
use crate::report::Report;
use crate::rss;
use crate::setup::{create_namespace, run_id, workers};
use crate::stats::{median, Recorder};

#[derive(Clone, Debug)]
pub struct ListArgs {
    pub pods: usize,
    pub namespaces: usize,
    pub nodes: usize,
    pub concurrency: usize,
    pub repeat: usize,
    pub server_pid: Option<u32>,
    pub etcd_pid: Option<u32>,
}

impl ListArgs {
    fn meter(&self) -> Meter {
        Meter::new(self.server_pid, self.etcd_pid)
    }
}

const MIB: f64 = 1024.0 * 1024.0;

pub async fn run(client: Arc<Client>, args: &ListArgs, report: &mut Report) -> anyhow::Result<()> {
    report.param("pods", args.pods);
    report.param("namespaces", args.namespaces);
    report.param("nodes", args.nodes);
    report.param("concurrency", args.concurrency);
    report.param("connections", client.connections());

    let before = read_memory(args)?;
    let id = run_id();
    let namespaces: Vec<String> = (0..args.namespaces.max(1))
        .map(|i| format!("bench-pods-{id}-{i}"))
        .collect();
    for ns in &namespaces {
        create_namespace(&client, ns)
            .await
            .with_context(|| format!("cannot create namespace {ns}"))?;
    }
    let created = create_pods(&client, args, &namespaces, report).await?;

    // Let in-flight background work (watch cache, allocator) settle.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = read_memory(args)?;
    memory_facts(report, "server", before.0, after.0, created);
    if let (Some(b), Some(a)) = (before.1, after.1) {
        memory_facts(report, "etcd", Some(b), Some(a), created);
    }

    list_all(&client, args, report).await
}

type Memory = (Option<u64>, Option<u64>);

fn read_memory(args: &ListArgs) -> anyhow::Result<Memory> {
    let server = match args.server_pid {
        Some(pid) => Some(rss::vm_rss(pid).context("cannot read the server's memory")?),
        None => None,
    };
    let etcd = match args.etcd_pid {
        Some(pid) => Some(rss::vm_rss(pid).context("cannot read etcd's memory")?),
        None => None,
    };
    Ok((server, etcd))
}

fn memory_facts(
    report: &mut Report,
    who: &str,
    before: Option<u64>,
    after: Option<u64>,
    pods: u64,
) {
    let (Some(before), Some(after)) = (before, after) else {
        return;
    };
    report.fact(
        &format!("{who} RSS before creating pods"),
        before as f64 / MIB,
        "MiB",
    );
    report.fact(
        &format!("{who} RSS after creating pods"),
        after as f64 / MIB,
        "MiB",
    );
    if pods > 0 {
        let per_100k = (after as f64 - before as f64) / pods as f64 * 100_000.0;
        report.fact(
            &format!("{who} RSS growth per 100k pods"),
            per_100k / MIB,
            "MiB",
        );
    }
}

async fn create_pods(
    client: &Arc<Client>,
    args: &ListArgs,
    namespaces: &[String],
    report: &mut Report,
) -> anyhow::Result<u64> {
    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let finished = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let progress = {
        let (done, finished, total) = (done.clone(), finished.clone(), args.pods);
        tokio::spawn(async move {
            let mut last = 0;
            while !finished.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_secs(10)).await;
                let now = done.load(Ordering::Relaxed);
                eprintln!(
                    "bosun-bench: {now}/{total} pods after {:.0}s ({:.0}/s over the last 10s)",
                    start.elapsed().as_secs_f64(),
                    (now - last) as f64 / 10.0
                );
                last = now;
            }
        })
    };
    let namespaces = Arc::new(namespaces.to_vec());
    let snap = args.meter().snapshot();
    let recs = workers(args.concurrency.max(1), |_| {
        let (client, next, done, namespaces) = (
            client.clone(),
            next.clone(),
            done.clone(),
            namespaces.clone(),
        );
        let (total, nodes) = (args.pods, args.nodes.max(1));
        async move {
            let mut rec = Recorder::default();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let ns = &namespaces[i % namespaces.len()];
                let node = format!("node-{:04}", i % nodes);
                let body = objects::pod(&format!("pod-{i}"), ns, &node, i as u64);
                let path = format!("/api/v1/namespaces/{ns}/pods");
                let t = Instant::now();
                if rec
                    .answered(
                        t,
                        client.call(Method::POST, &path, Some(body)).await,
                        StatusCode::CREATED,
                    )
                    .is_some()
                {
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }
            rec
        }
    })
    .await?;
    finished.store(true, Ordering::Relaxed);
    progress.abort();
    args.meter().record(report, "create pods", snap);
    let wall = start.elapsed();
    let mut rec = Recorder::merged(recs);
    let created = rec.count();
    report.record("create pods (POST)", &mut rec, wall);

    // Size of one pod as the server stores and returns it.
    let sample = format!("/api/v1/namespaces/{}/pods/pod-0", namespaces[0]);
    if let Ok(bytes) = client.call_ok(Method::GET, &sample, None).await {
        report.fact("pod size as returned (JSON)", bytes.len() as f64, "bytes");
        if let Ok(mut pod) = serde_json::from_slice::<serde_json::Value>(&bytes) {
            if let Some(meta) = pod["metadata"].as_object_mut() {
                meta.remove("managedFields");
            }
            report.fact(
                "pod size without managedFields",
                pod.to_string().len() as f64,
                "bytes",
            );
        }
    }
    let request = objects::pod("pod-0", &namespaces[0], "node-0000", 0);
    report.fact("pod request body size", request.len() as f64, "bytes");
    Ok(created)
}

async fn list_all(
    client: &Arc<Client>,
    args: &ListArgs,
    report: &mut Report,
) -> anyhow::Result<()> {
    let mut last_byte = Vec::new();
    let mut parsed = Vec::new();
    let mut first_byte = Vec::new();
    let mut peak_rss: Option<u64> = None;
    let mut rec = Recorder::default();
    let all_start = Instant::now();
    let snap = args.meter().snapshot();
    for attempt in 0..args.repeat.max(1) {
        let sampler = args.server_pid.map(rss::Sampler::start);
        let t = Instant::now();
        let response = client.send(Method::GET, "/api/v1/pods", None).await?;
        let headers_at = t.elapsed();
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        let body_at = t.elapsed();
        if status != StatusCode::OK {
            rec.err(|| format!("{status}: {}", snippet(&body)));
            continue;
        }
        let value: serde_json::Value =
            serde_json::from_slice(&body).context("LIST response is not JSON")?;
        let parsed_at = t.elapsed();
        let items = value["items"].as_array().map(Vec::len).unwrap_or(0);
        // Free the parsed list off the clock.
        drop(value);
        if let Some(sampler) = sampler {
            let peak = sampler.stop().await;
            peak_rss = peak_rss.max(Some(peak));
        }
        rec.ok(parsed_at);
        eprintln!(
            "bosun-bench: LIST #{} of {items} pods: headers {:.3}s, last byte {:.3}s, parsed {:.3}s, {:.1} MiB",
            attempt + 1,
            headers_at.as_secs_f64(),
            body_at.as_secs_f64(),
            parsed_at.as_secs_f64(),
            body.len() as f64 / MIB
        );
        if attempt == 0 {
            report.fact("LIST: items", items as f64, "pods");
            report.fact("LIST: response size", body.len() as f64 / MIB, "MiB");
        }
        first_byte.push(headers_at.as_secs_f64());
        last_byte.push(body_at.as_secs_f64());
        parsed.push(parsed_at.as_secs_f64());
    }
    let wall = all_start.elapsed();
    args.meter()
        .record(report, "LISTs (incl. client parse)", snap);
    report.record("LIST /api/v1/pods (to parsed)", &mut rec, wall);
    let min = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    if !parsed.is_empty() {
        report.fact("LIST: response headers, min", min(&first_byte), "s");
        report.fact("LIST: response headers, median", median(&first_byte), "s");
        report.fact("LIST: last byte, min", min(&last_byte), "s");
        report.fact("LIST: last byte, median", median(&last_byte), "s");
        report.fact("LIST: last byte + JSON parse, min", min(&parsed), "s");
        report.fact("LIST: last byte + JSON parse, median", median(&parsed), "s");
    }
    if let Some(peak) = peak_rss {
        report.fact("server RSS peak during LISTs", peak as f64 / MIB, "MiB");
    }
    Ok(())
}
