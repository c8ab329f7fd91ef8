//! `bosun-bench watch`: many concurrent watches of one namespace's pods,
//! then a series of pod creations; how long after each write was
//! acknowledged did every watcher have its event.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use http::{Method, StatusCode};

use crate::client::Client;
use crate::cpu::Meter;
use crate::objects;
use crate::report::{Report, Row};
use crate::setup::{create_namespace, run_id};
use crate::stats::{micros, Recorder};
use crate::watchers::{Delivery, WatchSet, Write};

#[derive(Clone, Debug)]
pub struct WatchArgs {
    pub watchers: usize,
    pub writes: usize,
    pub interval: Duration,
    pub meter: Meter,
}

pub async fn run(client: Arc<Client>, args: &WatchArgs, report: &mut Report) -> anyhow::Result<()> {
    report.param("watchers", args.watchers);
    report.param("writes", args.writes);
    report.param("interval", format!("{:?}", args.interval));
    report.param("connections", client.connections());
    let ns = format!("bench-watchers-{}", run_id());
    create_namespace(&client, &ns)
        .await
        .with_context(|| format!("cannot create namespace {ns}"))?;
    let path = format!("/api/v1/namespaces/{ns}/pods");
    let list = client.call_ok(Method::GET, &path, None).await?;
    let from = objects::resource_version(&list).unwrap_or_default();

    let clock = Instant::now();
    let open_start = Instant::now();
    let set = WatchSet::open(
        client.clone(),
        &format!("{path}?watch=true&resourceVersion={from}"),
        args.watchers,
        clock,
    )
    .await;
    let open_wall = open_start.elapsed();
    report.fact("streams open", set.opened as f64, "streams");
    report.fact("time to open all streams", open_wall.as_secs_f64(), "s");
    for e in set.failed.iter().take(5) {
        report.errors.push(format!("watch open: {e}"));
    }

    let snap = args.meter.snapshot();
    let mut rec = Recorder::default();
    let mut writes = Vec::with_capacity(args.writes);
    let start = Instant::now();
    for seq in 1..=args.writes as u64 {
        let body = objects::pod(&format!("watched-{seq}"), &ns, "node-0001", seq);
        let sent_us = micros(clock.elapsed());
        let t = Instant::now();
        if rec
            .answered(
                t,
                client.call(Method::POST, &path, Some(body)).await,
                StatusCode::CREATED,
            )
            .is_some()
        {
            writes.push(Write {
                seq,
                sent_us,
                acked_us: micros(clock.elapsed()),
            });
        }
        tokio::time::sleep(args.interval).await;
    }
    let write_wall = start.elapsed();
    let seen = set
        .finish(
            writes.len() as u64,
            tokio::time::Instant::now() + Duration::from_secs(30),
        )
        .await;
    let drain_wall = start.elapsed();
    args.meter.record(report, "writes + delivery", snap);
    report.record("write (create pod, one at a time)", &mut rec, write_wall);

    let mut d = Delivery::compute(&writes, &seen);
    let delivered = d.from_ack_us.len() as u64;
    report.rows.push(Row::from_latencies(
        "delivery: write ack -> watcher",
        &mut d.from_ack_us,
        delivered,
        d.missing,
        drain_wall,
    ));
    report.rows.push(Row::from_latencies(
        "delivery: write sent -> watcher",
        &mut d.from_send_us,
        delivered,
        d.missing,
        drain_wall,
    ));
    let fanned = d.fanout_us.len() as u64;
    report.rows.push(Row::from_latencies(
        "fan-out: write ack -> last watcher",
        &mut d.fanout_us,
        fanned,
        0,
        drain_wall,
    ));
    report.fact("events missing", d.missing as f64, "events");
    report.fact(
        "events seen before the write's ack",
        d.before_ack as f64,
        "events",
    );
    for s in seen.iter().flat_map(|s| s.errors.iter()).take(5) {
        report.errors.push(format!("watch: {s}"));
    }
    Ok(())
}
