//! Watch streams that note when each write's event arrives, and the
//! write-to-delivery delays computed from those notes.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use http::{Method, StatusCode};
use http_body_util::BodyExt;
use tokio::sync::{mpsc, watch};

use crate::client::{snippet, Client};
use crate::objects;
use crate::stats::micros;

/// One acknowledged write: its sequence number and when it was sent and
/// acknowledged, in microseconds since the benchmark's clock started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Write {
    pub seq: u64,
    pub sent_us: u64,
    pub acked_us: u64,
}

/// What one watcher saw.
#[derive(Debug, Default)]
pub struct Seen {
    /// (sequence number, arrival in µs since the clock started).
    pub arrivals: Vec<(u64, u64)>,
    pub errors: Vec<String>,
}

/// Opens watchers and hands back their results when they finish.
pub struct WatchSet {
    results: Vec<tokio::task::JoinHandle<Seen>>,
    /// How many watches opened (status 200) and how many failed.
    pub opened: usize,
    pub failed: Vec<String>,
    expected: watch::Sender<u64>,
}

impl WatchSet {
    /// Opens `count` watches of `path` (which must include `watch=true`),
    /// spread over the client's connections, and waits until each has its
    /// response headers: from then on the server streams every change.
    pub async fn open(client: Arc<Client>, path: &str, count: usize, clock: Instant) -> WatchSet {
        let (expected, expected_rx) = watch::channel(u64::MAX);
        let (ready_tx, mut ready_rx) = mpsc::unbounded_channel::<Result<(), String>>();
        let mut results = Vec::with_capacity(count);
        for index in 0..count {
            let client = client.clone();
            let path = path.to_string();
            let ready = ready_tx.clone();
            let expected = expected_rx.clone();
            results.push(tokio::spawn(async move {
                run_watcher(client, index, path, clock, ready, expected).await
            }));
        }
        drop(ready_tx);
        let mut opened = 0;
        let mut failed = Vec::new();
        while let Some(result) = ready_rx.recv().await {
            match result {
                Ok(()) => opened += 1,
                Err(e) => failed.push(e),
            }
            if opened + failed.len() == count {
                break;
            }
        }
        WatchSet {
            results,
            opened,
            failed,
            expected,
        }
    }

    /// Tells the watchers how many events to wait for, then collects what
    /// they saw; a watcher gives up at `deadline`.
    pub async fn finish(self, events_each: u64, deadline: tokio::time::Instant) -> Vec<Seen> {
        let _ = self.expected.send(events_each);
        let mut seen = Vec::with_capacity(self.results.len());
        for handle in self.results {
            let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
            match tokio::time::timeout(remaining, handle).await {
                Ok(Ok(s)) => seen.push(s),
                Ok(Err(e)) => seen.push(Seen {
                    errors: vec![format!("watcher task failed: {e}")],
                    ..Seen::default()
                }),
                Err(_) => seen.push(Seen {
                    errors: vec!["watcher did not finish before the deadline".into()],
                    ..Seen::default()
                }),
            }
        }
        seen
    }
}

async fn run_watcher(
    client: Arc<Client>,
    index: usize,
    path: String,
    clock: Instant,
    ready: mpsc::UnboundedSender<Result<(), String>>,
    mut expected: watch::Receiver<u64>,
) -> Seen {
    let mut seen = Seen::default();
    let response = match client.send_on(index, Method::GET, &path, None).await {
        Ok(r) if r.status() == StatusCode::OK => r,
        Ok(r) => {
            let status = r.status();
            let body = r
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            let _ = ready.send(Err(format!("watch: {status}: {}", snippet(&body))));
            return seen;
        }
        Err(e) => {
            let _ = ready.send(Err(format!("watch: {e}")));
            return seen;
        }
    };
    let _ = ready.send(Ok(()));
    let mut body = response.into_body();
    let mut buffer: Vec<u8> = Vec::new();
    loop {
        let want = *expected.borrow();
        if seen.arrivals.len() as u64 >= want {
            break;
        }
        let frame = tokio::select! {
            frame = body.frame() => frame,
            changed = expected.changed() => {
                if changed.is_err() {
                    break;
                }
                continue;
            }
        };
        let now = micros(clock.elapsed());
        let data = match frame {
            None => {
                seen.errors.push("watch stream ended early".into());
                break;
            }
            Some(Err(e)) => {
                seen.errors.push(format!("watch stream failed: {e}"));
                break;
            }
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => data,
                Err(_) => continue,
            },
        };
        buffer.extend_from_slice(&data);
        let mut start = 0;
        while let Some(pos) = buffer[start..].iter().position(|b| *b == b'\n') {
            let line = &buffer[start..start + pos];
            match objects::find_seq(line) {
                Some(seq) => seen.arrivals.push((seq, now)),
                None => {
                    if objects::event_type(line).as_deref() == Some("ERROR") {
                        seen.errors
                            .push(format!("watch error event: {}", snippet(line)));
                    }
                }
            }
            start += pos + 1;
        }
        buffer.drain(..start);
    }
    seen
}

/// Write-to-arrival delays over every (write, watcher) pair.
#[derive(Debug, Default)]
pub struct Delivery {
    /// From the write's acknowledgement (0 when the event came first).
    pub from_ack_us: Vec<u64>,
    /// From sending the write.
    pub from_send_us: Vec<u64>,
    /// Per write: when the last watcher had it, from the acknowledgement.
    pub fanout_us: Vec<u64>,
    /// Events that arrived before the write's acknowledgement.
    pub before_ack: u64,
    /// (write, watcher) pairs with no event.
    pub missing: u64,
}

impl Delivery {
    pub fn compute(writes: &[Write], seen: &[Seen]) -> Delivery {
        let by_seq: HashMap<u64, Write> = writes.iter().map(|w| (w.seq, *w)).collect();
        let mut last: HashMap<u64, u64> = HashMap::new();
        let mut d = Delivery::default();
        let mut matched = 0u64;
        for watcher in seen {
            let mut got = std::collections::HashSet::new();
            for (seq, at) in &watcher.arrivals {
                let Some(w) = by_seq.get(seq) else { continue };
                if !got.insert(*seq) {
                    continue;
                }
                matched += 1;
                if *at < w.acked_us {
                    d.before_ack += 1;
                }
                d.from_ack_us.push(at.saturating_sub(w.acked_us));
                d.from_send_us.push(at.saturating_sub(w.sent_us));
                let entry = last.entry(*seq).or_insert(0);
                *entry = (*entry).max(at.saturating_sub(w.acked_us));
            }
        }
        d.fanout_us = last.into_values().collect();
        d.missing = (writes.len() as u64 * seen.len() as u64).saturating_sub(matched);
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_matches_writes_and_counts_gaps() {
        let writes = [
            Write {
                seq: 1,
                sent_us: 100,
                acked_us: 150,
            },
            Write {
                seq: 2,
                sent_us: 200,
                acked_us: 260,
            },
        ];
        let seen = [
            Seen {
                arrivals: vec![(1, 160), (2, 250), (2, 900), (99, 1)],
                errors: vec![],
            },
            Seen {
                arrivals: vec![(1, 400)],
                errors: vec![],
            },
        ];
        let mut d = Delivery::compute(&writes, &seen);
        d.from_ack_us.sort_unstable();
        d.from_send_us.sort_unstable();
        d.fanout_us.sort_unstable();
        assert_eq!(d.from_ack_us, vec![0, 10, 250]);
        assert_eq!(d.from_send_us, vec![50, 60, 300]);
        assert_eq!(d.fanout_us, vec![0, 250]);
        assert_eq!(d.before_ack, 1);
        assert_eq!(d.missing, 1);
    }
}
