//! Follows a set of pods through one watch and notes when the last of
//! them was created, bound and Running: the milestones both the scheduler
//! benchmark and `bosun-bench pod-progress` (the Deployment scale-up in
//! `scripts/bench-controllers.sh`) report, so the two compare like for like.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use http::{Method, StatusCode};
use http_body_util::BodyExt;
use serde::Deserialize;

use crate::client::Client;

/// When the last of the wanted pods reached each stage (`None`: not yet).
#[derive(Clone, Copy, Debug, Default)]
pub struct Milestones {
    /// The first wanted pod seen.
    pub first: Option<Instant>,
    pub created: Option<Instant>,
    pub bound: Option<Instant>,
    pub running: Option<Instant>,
}

/// The only parts of a watch event this reads; serde skips the rest.
#[derive(Deserialize)]
struct Event {
    #[serde(rename = "type")]
    kind: String,
    object: Pod,
}

#[derive(Deserialize)]
struct Pod {
    metadata: Meta,
    #[serde(default)]
    spec: Spec,
    #[serde(default)]
    status: Status,
}

#[derive(Deserialize)]
struct Meta {
    #[serde(default)]
    name: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Spec {
    #[serde(default)]
    node_name: Option<String>,
}

#[derive(Deserialize, Default)]
struct Status {
    #[serde(default)]
    phase: Option<String>,
}

/// Distinct pods seen per stage, and when each stage reached `want`.
struct Tally {
    want: usize,
    created: HashSet<String>,
    bound: HashSet<String>,
    running: HashSet<String>,
    at: Milestones,
    /// Pods that reached each stage (created, bound, Running) per second
    /// since the first was seen.
    timeline: Vec<[u32; 3]>,
}

impl Tally {
    fn new(want: usize) -> Self {
        Tally {
            want,
            created: HashSet::with_capacity(want),
            bound: HashSet::with_capacity(want),
            running: HashSet::with_capacity(want),
            at: Milestones::default(),
            timeline: Vec::new(),
        }
    }

    fn observe(&mut self, event: Event, now: Instant) {
        if event.kind != "ADDED" && event.kind != "MODIFIED" {
            return;
        }
        let pod = event.object;
        let first = *self.at.first.get_or_insert(now);
        let second = now.duration_since(first).as_secs() as usize;
        if self.timeline.len() <= second {
            self.timeline.resize(second + 1, [0; 3]);
        }
        let counts = &mut self.timeline[second];
        let stage = |set: &mut HashSet<String>,
                     at: &mut Option<Instant>,
                     count: &mut u32,
                     name: &str,
                     want| {
            if at.is_none() && set.insert(name.to_string()) {
                *count += 1;
                if set.len() >= want {
                    *at = Some(now);
                }
            }
        };
        let name = pod.metadata.name.as_str();
        let [created, bound, running] = counts;
        stage(
            &mut self.created,
            &mut self.at.created,
            created,
            name,
            self.want,
        );
        if pod.spec.node_name.is_some_and(|n| !n.is_empty()) {
            stage(&mut self.bound, &mut self.at.bound, bound, name, self.want);
        }
        if pod.status.phase.as_deref() == Some("Running") {
            stage(
                &mut self.running,
                &mut self.at.running,
                running,
                name,
                self.want,
            );
        }
    }

    fn done(&self, until_running: bool) -> bool {
        if until_running {
            self.at.running.is_some()
        } else {
            self.at.bound.is_some()
        }
    }
}

/// Reads the watch at `path` (pods, `watch=true`) until `want` distinct
/// pods have been bound — or, with `until_running`, seen Running — and
/// returns when each stage was reached. `progress` carries the milestones
/// as they are reached, for a caller that acts on the last bind.
pub async fn follow(
    client: Arc<Client>,
    path: String,
    want: usize,
    until_running: bool,
    timeline: bool,
    progress: tokio::sync::watch::Sender<Milestones>,
) -> anyhow::Result<Milestones> {
    let response = client.send(Method::GET, &path, None).await?;
    anyhow::ensure!(
        response.status() == StatusCode::OK,
        "watch answered {}",
        response.status()
    );
    let mut body = response.into_body();
    let mut buf: Vec<u8> = Vec::new();
    let mut tally = Tally::new(want);
    while let Some(frame) = body.frame().await {
        let frame = frame?;
        let Some(data) = frame.data_ref() else {
            continue;
        };
        buf.extend_from_slice(data);
        let mut start = 0;
        while let Some(len) = buf[start..].iter().position(|b| *b == b'\n') {
            let line = &buf[start..start + len];
            start += len + 1;
            if let Ok(event) = serde_json::from_slice::<Event>(line) {
                tally.observe(event, Instant::now());
            }
        }
        buf.drain(..start);
        progress.send_if_modified(|m| {
            let changed = (m.first, m.created, m.bound, m.running)
                != (
                    tally.at.first,
                    tally.at.created,
                    tally.at.bound,
                    tally.at.running,
                );
            *m = tally.at;
            changed
        });
        if tally.done(until_running) {
            if timeline {
                print_timeline(&tally.timeline);
            }
            return Ok(tally.at);
        }
    }
    if timeline {
        print_timeline(&tally.timeline);
    }
    anyhow::bail!(
        "the watch ended after {} bound and {} Running of {want}",
        tally.bound.len(),
        tally.running.len()
    )
}

/// Prints, per second since the first pod was seen, how many pods were
/// created, bound and seen Running: a dip in one column shows which stage
/// stalled.
/// Goes to stderr, so a `--json` report on stdout stays parseable.
fn print_timeline(timeline: &[[u32; 3]]) {
    eprintln!("second   created     bound   Running");
    for (second, [created, bound, running]) in timeline.iter().enumerate() {
        eprintln!("{second:>6} {created:>9} {bound:>9} {running:>9}");
    }
}

/// [`follow`] (until every pod is Running) in the background.
pub struct Follower {
    milestones: tokio::sync::watch::Receiver<Milestones>,
    task: tokio::task::JoinHandle<anyhow::Result<Milestones>>,
}

impl Follower {
    /// With `timeline`, prints the per-second table once all are Running.
    pub fn start(client: Arc<Client>, path: String, want: usize, timeline: bool) -> Self {
        let (progress, milestones) = tokio::sync::watch::channel(Milestones::default());
        let task = tokio::spawn(follow(client, path, want, true, timeline, progress));
        Follower { milestones, task }
    }

    /// Waits until every pod has been bound; the watch's own error when it
    /// ended first. The follower keeps watching for Running.
    pub async fn bound(&mut self, timeout: std::time::Duration) -> anyhow::Result<Milestones> {
        use anyhow::Context;
        let reached =
            tokio::time::timeout(timeout, self.milestones.wait_for(|m| m.bound.is_some()))
                .await
                .context("timed out waiting for every pod to be bound")?
                .map(|m| *m);
        match reached {
            Ok(m) => Ok(m),
            Err(_) => {
                (&mut self.task).await??;
                anyhow::bail!("the pod watch ended before every pod was bound")
            }
        }
    }

    /// Waits until every pod has been seen Running.
    pub async fn running(self, timeout: std::time::Duration) -> anyhow::Result<Milestones> {
        match tokio::time::timeout(timeout, self.task).await {
            Ok(joined) => joined?,
            Err(_) => anyhow::bail!("timed out waiting for every pod to be Running"),
        }
    }
}

/// What `bosun-bench pod-progress` follows.
pub struct PodProgressArgs {
    pub namespace: String,
    pub selector: String,
    /// How many pods to wait for.
    pub want: usize,
    pub timeout: std::time::Duration,
    /// Print the per-second created/bound/Running table.
    pub timeline: bool,
}

/// `bosun-bench pod-progress`: watches the pods matching `selector` in
/// `namespace` (none exist yet) while something else creates `want` of
/// them, and reports, from the first one seen, when the last was created,
/// bound and Running.
pub async fn run_pod_progress(
    client: Arc<Client>,
    args: &PodProgressArgs,
    meter: &crate::cpu::Meter,
    report: &mut crate::report::Report,
) -> anyhow::Result<()> {
    let PodProgressArgs {
        namespace,
        selector,
        want,
        timeout,
        timeline,
    } = args;
    let (want, timeout) = (*want, *timeout);
    report.param("pods", want);
    report.param("selector", selector);
    let path = format!("/api/v1/namespaces/{namespace}/pods?labelSelector={selector}");
    let list = client.call_ok(Method::GET, &path, None).await?;
    let from = crate::objects::resource_version(&list).unwrap_or_default();
    let snap = meter.snapshot();
    let mut follower = Follower::start(
        client.clone(),
        format!("{path}&watch=true&resourceVersion={from}"),
        want,
        *timeline,
    );
    // Ready: whoever creates the pods may start.
    println!("watching");
    let at = follower.bound(timeout).await?;
    let used = meter.record(report, "until the last bind", snap);
    let reached = follower.running(timeout).await?;
    let (Some(first), Some(created), Some(bound), Some(running)) =
        (at.first, at.created, at.bound, reached.running)
    else {
        anyhow::bail!("the watch ended before every milestone");
    };
    let secs = |t: Instant| t.duration_since(first).as_secs_f64();
    report.fact("first create to last create", secs(created), "s");
    report.fact("first create to last bind", secs(bound), "s");
    report.fact("first create to all Running", secs(running), "s");
    report.fact(
        "pods/s to the last bind",
        want as f64 / secs(bound),
        "pods/s",
    );
    report.fact(
        "pods/s to all Running",
        want as f64 / secs(running),
        "pods/s",
    );
    if let Some(server) = crate::cpu::server_seconds(&used) {
        report.fact(
            "server CPU per pod (until the last bind)",
            server * 1000.0 / want as f64,
            "ms",
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: &str, name: &str, node: &str, phase: &str) -> Event {
        let text = serde_json::json!({
            "type": kind,
            "object": {
                "metadata": {"name": name},
                "spec": {"nodeName": node},
                "status": {"phase": phase},
            }
        })
        .to_string();
        serde_json::from_str(&text).expect("event")
    }

    #[test]
    fn stages_complete_when_every_pod_reached_them() {
        let t0 = Instant::now();
        let later = |ms| t0 + std::time::Duration::from_millis(ms);
        let mut tally = Tally::new(2);
        tally.observe(event("ADDED", "a", "", "Pending"), later(1));
        tally.observe(event("ADDED", "b", "", "Pending"), later(2));
        assert_eq!(tally.at.first, Some(later(1)));
        assert_eq!(tally.at.created, Some(later(2)));
        tally.observe(event("MODIFIED", "a", "n1", "Pending"), later(3));
        // The same pod again does not count twice.
        tally.observe(event("MODIFIED", "a", "n1", "Running"), later(4));
        assert!(!tally.done(false));
        tally.observe(event("MODIFIED", "b", "n2", "Pending"), later(5));
        assert_eq!(tally.at.bound, Some(later(5)));
        assert!(tally.done(false) && !tally.done(true));
        // A deletion is not a stage.
        tally.observe(event("DELETED", "b", "n2", "Running"), later(6));
        assert!(tally.at.running.is_none());
        tally.observe(event("MODIFIED", "b", "n2", "Running"), later(7));
        assert_eq!(tally.at.running, Some(later(7)));
        assert!(tally.done(true));
    }
}
