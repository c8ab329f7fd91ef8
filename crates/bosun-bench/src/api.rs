//! `bosun-bench api`: request throughput and latency with many concurrent
//! clients, one phase per operation, on ~1 KB ConfigMaps in namespaces of
//! the run's own.
//!
//! Phases, each `duration` long with `clients` workers issuing requests
//! back to back:
//! 1. create — POST new ConfigMaps;
//! 2. update — PUT each worker's ConfigMaps with their resourceVersion;
//! 3. get — GET them;
//! 4. list — LIST a namespace holding `list_objects` ConfigMaps;
//! 5. watch — `clients` watches of a namespace while `watch_writers`
//!    workers update its ConfigMaps; events delivered per second and the
//!    delay from write acknowledgement to arrival;
//! 6. sustained writes — every worker churns create → update → update →
//!    delete at full speed; object writes per second and mutation latency
//!    (each write is durable before it is acknowledged).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use http::{Method, StatusCode};

use crate::client::Client;
use crate::cpu::Meter;
use crate::kubeconfig::Target;
use crate::objects;
use crate::report::{Report, Row};
use crate::setup::{create_namespace, failure, run_id, workers};
use crate::stats::{micros, Recorder};
use crate::watchers::{Delivery, WatchSet, Write};

#[derive(Clone, Debug)]
pub struct ApiArgs {
    pub clients: usize,
    pub duration: Duration,
    pub list_objects: usize,
    pub watch_writers: usize,
    pub phases: Vec<Phase>,
    pub meter: Meter,
}

/// One phase of the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Phase {
    Create,
    Update,
    Get,
    List,
    Watch,
    Sustained,
}

/// A ConfigMap a worker owns, with its latest resourceVersion.
#[derive(Clone, Debug)]
struct Owned {
    name: String,
    rv: String,
}

fn cm_path(ns: &str) -> String {
    format!("/api/v1/namespaces/{ns}/configmaps")
}

pub async fn run(
    client: Arc<Client>,
    target: &Target,
    args: &ApiArgs,
    report: &mut Report,
) -> anyhow::Result<()> {
    let id = run_id();
    let ns = format!("bench-api-{id}");
    let list_ns = format!("bench-list-{id}");
    let watch_ns = format!("bench-watch-{id}");
    for n in [&ns, &list_ns, &watch_ns] {
        create_namespace(&client, n)
            .await
            .with_context(|| format!("cannot create namespace {n}"))?;
    }
    report.param("clients", args.clients);
    report.param("duration", format!("{:?}", args.duration));
    report.param("connections", client.connections());
    report.param("namespace", &ns);

    let seq = Arc::new(AtomicU64::new(1));
    let meter = &args.meter;
    let runs = |phase: Phase| args.phases.contains(&phase);
    if runs(Phase::Create) {
        let snap = meter.snapshot();
        let mut owned = create_phase(&client, args, &ns, &seq, report).await?;
        meter.record(report, "create", snap);
        if runs(Phase::Update) {
            let snap = meter.snapshot();
            owned = update_phase(&client, args, &ns, owned, &seq, report).await?;
            meter.record(report, "update", snap);
        }
        if runs(Phase::Get) {
            let snap = meter.snapshot();
            get_phase(&client, args, &ns, &owned, report).await?;
            meter.record(report, "get", snap);
        }
    }
    if runs(Phase::List) {
        // The list phase meters itself, after filling its namespace.
        list_phase(&client, args, &list_ns, &seq, report).await?;
    }
    if runs(Phase::Watch) {
        // Watches get connections of their own (at most 100 streams each),
        // so cancelling them afterwards leaves the request connections alone.
        let watch_client = Arc::new(Client::connect(target, args.clients.div_ceil(100)).await?);
        watch_phase(&client, &watch_client, args, &watch_ns, &seq, report).await?;
        drop(watch_client);
    }
    if runs(Phase::Sustained) {
        let snap = meter.snapshot();
        churn_phase(&client, args, &ns, &seq, report).await?;
        meter.record(report, "sustained writes", snap);
    }
    Ok(())
}

async fn create_phase(
    client: &Arc<Client>,
    args: &ApiArgs,
    ns: &str,
    seq: &Arc<AtomicU64>,
    report: &mut Report,
) -> anyhow::Result<Vec<Vec<Owned>>> {
    let start = Instant::now();
    let deadline = start + args.duration;
    let results = workers(args.clients, |w| {
        let (client, ns, seq) = (client.clone(), ns.to_string(), seq.clone());
        async move {
            let path = cm_path(&ns);
            let mut rec = Recorder::default();
            let mut owned = Vec::new();
            let mut n = 0;
            while Instant::now() < deadline {
                let name = format!("cm-{w}-{n}");
                n += 1;
                let body =
                    objects::configmap(&name, &ns, seq.fetch_add(1, Ordering::Relaxed), None);
                let t = Instant::now();
                if let Some(b) = rec.answered(
                    t,
                    client.call(Method::POST, &path, Some(body)).await,
                    StatusCode::CREATED,
                ) {
                    let rv = objects::resource_version(&b).unwrap_or_default();
                    owned.push(Owned { name, rv });
                }
            }
            (rec, owned)
        }
    })
    .await?;
    let wall = start.elapsed();
    let (recs, owned): (Vec<_>, Vec<_>) = results.into_iter().unzip();
    let mut rec = Recorder::merged(recs);
    report.record("create (POST)", &mut rec, wall);
    Ok(owned)
}

async fn update_phase(
    client: &Arc<Client>,
    args: &ApiArgs,
    ns: &str,
    owned: Vec<Vec<Owned>>,
    seq: &Arc<AtomicU64>,
    report: &mut Report,
) -> anyhow::Result<Vec<Vec<Owned>>> {
    let start = Instant::now();
    let deadline = start + args.duration;
    let mut handles = Vec::new();
    for mut mine in owned {
        let (client, ns, seq) = (client.clone(), ns.to_string(), seq.clone());
        handles.push(tokio::spawn(async move {
            let path = cm_path(&ns);
            let mut rec = Recorder::default();
            if mine.is_empty() {
                rec.err(|| "worker created nothing to update".into());
                return (rec, mine);
            }
            let mut i = 0;
            while Instant::now() < deadline {
                let count = mine.len();
                let obj = &mut mine[i % count];
                i += 1;
                let body = objects::configmap(
                    &obj.name,
                    &ns,
                    seq.fetch_add(1, Ordering::Relaxed),
                    Some(&obj.rv),
                );
                let url = format!("{path}/{}", obj.name);
                let t = Instant::now();
                if let Some(b) = rec.answered(
                    t,
                    client.call(Method::PUT, &url, Some(body)).await,
                    StatusCode::OK,
                ) {
                    if let Some(rv) = objects::resource_version(&b) {
                        obj.rv = rv;
                    }
                }
            }
            (rec, mine)
        }));
    }
    let mut recs = Vec::new();
    let mut out = Vec::new();
    for h in handles {
        let (rec, mine) = h.await?;
        recs.push(rec);
        out.push(mine);
    }
    let wall = start.elapsed();
    let mut rec = Recorder::merged(recs);
    report.record("update (PUT with resourceVersion)", &mut rec, wall);
    Ok(out)
}

async fn get_phase(
    client: &Arc<Client>,
    args: &ApiArgs,
    ns: &str,
    owned: &[Vec<Owned>],
    report: &mut Report,
) -> anyhow::Result<()> {
    let start = Instant::now();
    let deadline = start + args.duration;
    let recs = workers(owned.len(), |w| {
        let (client, ns) = (client.clone(), ns.to_string());
        let names: Vec<String> = owned[w].iter().map(|o| o.name.clone()).collect();
        async move {
            let mut rec = Recorder::default();
            if names.is_empty() {
                return rec;
            }
            let mut i = 0usize;
            while Instant::now() < deadline {
                // A stride that is coprime with most set sizes spreads reads.
                let name = &names[(i * 7919) % names.len()];
                i += 1;
                let url = format!("{}/{name}", cm_path(&ns));
                let t = Instant::now();
                rec.answered(
                    t,
                    client.call(Method::GET, &url, None).await,
                    StatusCode::OK,
                );
            }
            rec
        }
    })
    .await?;
    let wall = start.elapsed();
    let mut rec = Recorder::merged(recs);
    report.record("get", &mut rec, wall);
    Ok(())
}

async fn list_phase(
    client: &Arc<Client>,
    args: &ApiArgs,
    ns: &str,
    seq: &Arc<AtomicU64>,
    report: &mut Report,
) -> anyhow::Result<()> {
    // Fill the namespace, 20 at a time.
    let count = args.list_objects;
    let fill = workers(20, |w| {
        let (client, ns, seq) = (client.clone(), ns.to_string(), seq.clone());
        async move {
            let mut i = w;
            while i < count {
                let body = objects::configmap(
                    &format!("listed-{i}"),
                    &ns,
                    seq.fetch_add(1, Ordering::Relaxed),
                    None,
                );
                client
                    .call_ok(Method::POST, &cm_path(&ns), Some(body))
                    .await?;
                i += 20;
            }
            Ok::<_, crate::client::ClientError>(())
        }
    })
    .await?;
    for r in fill {
        r.context("cannot fill the list namespace")?;
    }
    let bytes = client.call_ok(Method::GET, &cm_path(ns), None).await?;
    let items = objects::item_count(&bytes).unwrap_or(0);
    report.fact("list: items per LIST", items as f64, "objects");
    report.fact("list: bytes per LIST", bytes.len() as f64, "bytes");

    let snap = args.meter.snapshot();
    let start = Instant::now();
    let deadline = start + args.duration;
    let recs = workers(args.clients, |_| {
        let (client, path) = (client.clone(), cm_path(ns));
        async move {
            let mut rec = Recorder::default();
            while Instant::now() < deadline {
                let t = Instant::now();
                rec.answered(
                    t,
                    client.call(Method::GET, &path, None).await,
                    StatusCode::OK,
                );
            }
            rec
        }
    })
    .await?;
    let wall = start.elapsed();
    let mut rec = Recorder::merged(recs);
    let row = report.record(&format!("list (namespace of {items})"), &mut rec, wall);
    let objects_per_sec = row.per_second * items as f64;
    args.meter.record(report, "list", snap);
    report.fact(
        "list: objects returned per second",
        objects_per_sec,
        "objects/s",
    );
    Ok(())
}

async fn watch_phase(
    client: &Arc<Client>,
    watch_client: &Arc<Client>,
    args: &ApiArgs,
    ns: &str,
    seq: &Arc<AtomicU64>,
    report: &mut Report,
) -> anyhow::Result<()> {
    let writers = args.watch_writers.max(1);
    let path = cm_path(ns);
    let mut rvs = Vec::new();
    for w in 0..writers {
        let body = objects::configmap(
            &format!("watched-{w}"),
            ns,
            seq.fetch_add(1, Ordering::Relaxed),
            None,
        );
        let b = client.call_ok(Method::POST, &path, Some(body)).await?;
        rvs.push(objects::resource_version(&b).unwrap_or_default());
    }
    let list = client.call_ok(Method::GET, &path, None).await?;
    let from = objects::resource_version(&list).unwrap_or_default();
    let clock = Instant::now();
    let watch_path = format!("{path}?watch=true&resourceVersion={from}");
    let open_start = Instant::now();
    let set = WatchSet::open(watch_client.clone(), &watch_path, args.clients, clock).await;
    let open_wall = open_start.elapsed();
    report.fact("watch: streams open", set.opened as f64, "streams");
    report.fact(
        "watch: time to open all streams",
        open_wall.as_secs_f64() * 1000.0,
        "ms",
    );
    for e in set.failed.iter().take(5) {
        report.errors.push(format!("watch open: {e}"));
    }

    let snap = args.meter.snapshot();
    let start = Instant::now();
    let deadline = start + args.duration;
    let results = workers(writers, |w| {
        let (client, path, ns, seq) = (client.clone(), path.clone(), ns.to_string(), seq.clone());
        let mut rv = rvs[w].clone();
        async move {
            let name = format!("watched-{w}");
            let url = format!("{path}/{name}");
            let mut rec = Recorder::default();
            let mut writes = Vec::new();
            while Instant::now() < deadline {
                let s = seq.fetch_add(1, Ordering::Relaxed);
                let body = objects::configmap(&name, &ns, s, Some(&rv));
                let sent_us = micros(clock.elapsed());
                let t = Instant::now();
                if let Some(b) = rec.answered(
                    t,
                    client.call(Method::PUT, &url, Some(body)).await,
                    StatusCode::OK,
                ) {
                    writes.push(Write {
                        seq: s,
                        sent_us,
                        acked_us: micros(clock.elapsed()),
                    });
                    if let Some(new) = objects::resource_version(&b) {
                        rv = new;
                    }
                }
            }
            (rec, writes)
        }
    })
    .await?;
    let write_wall = start.elapsed();
    let (recs, writes): (Vec<_>, Vec<_>) = results.into_iter().unzip();
    let writes: Vec<Write> = writes.into_iter().flatten().collect();
    let seen = set
        .finish(
            writes.len() as u64,
            tokio::time::Instant::now() + Duration::from_secs(30),
        )
        .await;
    let drain_wall = start.elapsed();
    args.meter.record(report, "watch (writes + delivery)", snap);
    let mut rec = Recorder::merged(recs);
    report.record(
        &format!("watch: writes ({writers} writers, during watch)"),
        &mut rec,
        write_wall,
    );
    let mut delivery = Delivery::compute(&writes, &seen);
    let delivered = delivery.from_ack_us.len() as u64;
    report.rows.push(Row::from_latencies(
        format!("watch: events delivered ({} watchers)", args.clients),
        &mut delivery.from_ack_us,
        delivered,
        delivery.missing,
        drain_wall,
    ));
    report.fact(
        "watch: events missing (errors column above)",
        delivery.missing as f64,
        "events",
    );
    report.fact(
        "watch: events seen before the write's ack",
        delivery.before_ack as f64,
        "events",
    );
    for s in seen.iter().flat_map(|s| s.errors.iter()).take(5) {
        report.errors.push(format!("watch: {s}"));
    }
    Ok(())
}

async fn churn_phase(
    client: &Arc<Client>,
    args: &ApiArgs,
    ns: &str,
    seq: &Arc<AtomicU64>,
    report: &mut Report,
) -> anyhow::Result<()> {
    let start = Instant::now();
    let deadline = start + args.duration;
    let results = workers(args.clients, |w| {
        let (client, ns, seq) = (client.clone(), ns.to_string(), seq.clone());
        async move {
            let path = cm_path(&ns);
            let mut recs: [Recorder; 3] = Default::default();
            let mut n = 0;
            while Instant::now() < deadline {
                let name = format!("churn-{w}-{n}");
                n += 1;
                let url = format!("{path}/{name}");
                let body =
                    objects::configmap(&name, &ns, seq.fetch_add(1, Ordering::Relaxed), None);
                let t = Instant::now();
                let answer = client.call(Method::POST, &path, Some(body)).await;
                let Some(b) = recs[0].answered(t, answer, StatusCode::CREATED) else {
                    continue;
                };
                let mut rv = objects::resource_version(&b).unwrap_or_default();
                for _ in 0..2 {
                    let body = objects::configmap(
                        &name,
                        &ns,
                        seq.fetch_add(1, Ordering::Relaxed),
                        Some(&rv),
                    );
                    let t = Instant::now();
                    if let Some(b) = recs[1].answered(
                        t,
                        client.call(Method::PUT, &url, Some(body)).await,
                        StatusCode::OK,
                    ) {
                        rv = objects::resource_version(&b).unwrap_or_default();
                    }
                }
                let t = Instant::now();
                match client.call(Method::DELETE, &url, None).await {
                    Ok((s, _)) if s.is_success() => recs[2].ok(t.elapsed()),
                    Ok((s, b)) => recs[2].err(|| failure(s, &b)),
                    Err(e) => recs[2].err(|| e.to_string()),
                }
            }
            recs
        }
    })
    .await?;
    let wall = start.elapsed();
    let mut by_kind: [Recorder; 3] = Default::default();
    for recs in results {
        for (i, r) in recs.into_iter().enumerate() {
            by_kind[i].merge(r);
        }
    }
    let mut all = Recorder::merged(by_kind.iter().cloned());
    // The per-kind rows below carry the error samples.
    all.error_samples.clear();
    report.record("sustained writes: all mutations", &mut all, wall);
    for (name, rec) in ["create", "update", "delete"]
        .iter()
        .zip(by_kind.iter_mut())
    {
        report.record(&format!("sustained writes: {name}"), rec, wall);
    }
    Ok(())
}
