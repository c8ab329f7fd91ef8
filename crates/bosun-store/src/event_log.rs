//! An in-memory, bounded history of store events with live fan-out.
//!
//! Backends that do not keep their own history (the in-memory and the
//! embedded store) append every committed change here, in revision order,
//! while holding their write lock. Watchers replay from the history and then
//! follow a broadcast channel; subscribing under the same lock as the history
//! read guarantees there is no gap between the two.

use std::collections::VecDeque;
use std::sync::Arc;

use futures::StreamExt;
use parking_lot::Mutex;
use tokio::sync::broadcast;

use crate::{Event, Result, Revision, StoreError, WatchStream};

/// How many committed batches fit in the live channel before a slow
/// watcher is cut off. The channel keeps its last batches (and their
/// values) alive whether or not anyone still needs them, so this bounds
/// memory too: 65,536 group commits held about a third of a 100,000-pod
/// run's writes. Its one reader in the API server (the watch cache
/// feeder) stays within the writes in flight, since every writer waits
/// for the cache to apply its write.
const LIVE_CAPACITY: usize = 1 << 12;

pub struct EventLog {
    inner: Mutex<Inner>,
    live: broadcast::Sender<Arc<[Event]>>,
}

struct Inner {
    history: VecDeque<Event>,
    /// History at and below this revision is gone.
    compacted: Revision,
    /// The newest revision appended.
    last: Revision,
    max_history: usize,
}

impl EventLog {
    /// A log whose history starts after `start` (events up to `start` are
    /// treated as compacted) and retains at most `max_history` events.
    pub fn new(start: Revision, max_history: usize) -> Self {
        let (live, _) = broadcast::channel(LIVE_CAPACITY);
        EventLog {
            inner: Mutex::new(Inner {
                history: VecDeque::new(),
                compacted: start,
                last: start,
                max_history,
            }),
            live,
        }
    }

    /// Appends events that were just committed, in revision order.
    pub fn append(&self, events: Vec<Event>) {
        if events.is_empty() {
            return;
        }
        let mut inner = self.inner.lock();
        for event in &events {
            inner.last = event.revision();
            inner.history.push_back(event.clone());
        }
        while inner.history.len() > inner.max_history {
            if let Some(old) = inner.history.pop_front() {
                inner.compacted = old.revision();
            }
        }
        // Nobody listening is fine.
        let _ = self.live.send(events.into());
    }

    /// The newest revision appended: every write acknowledged so far is at
    /// or below it.
    pub fn last(&self) -> Revision {
        self.inner.lock().last
    }

    pub fn compacted(&self) -> Revision {
        self.inner.lock().compacted
    }

    pub fn compact(&self, revision: Revision) {
        let mut inner = self.inner.lock();
        while inner
            .history
            .front()
            .is_some_and(|e| e.revision() <= revision)
        {
            inner.history.pop_front();
        }
        if revision > inner.compacted {
            inner.compacted = revision.min(inner.last);
        }
    }

    pub fn watch(&self, prefix: &str, from: Revision) -> Result<WatchStream> {
        let inner = self.inner.lock();
        let from = if from == 0 { inner.last + 1 } else { from };
        if from <= inner.compacted {
            return Err(StoreError::Compacted {
                requested: from,
                compacted: inner.compacted,
            });
        }
        let prefix: Arc<str> = prefix.into();
        let replay: Vec<Result<Event>> = inner
            .history
            .iter()
            .filter(|e| e.revision() >= from && e.kv.key.starts_with(&*prefix))
            .cloned()
            .map(Ok)
            .collect();
        let replayed_through = inner.last;
        let rx = self.live.subscribe();
        drop(inner);

        let live = futures::stream::unfold(rx, |mut rx| async move {
            match rx.recv().await {
                Ok(batch) => Some((Ok(batch), rx)),
                Err(broadcast::error::RecvError::Closed) => None,
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    Some((Err(StoreError::Backend("watcher fell behind".into())), rx))
                }
            }
        })
        .scan(false, |failed, item| {
            // After one error the stream ends.
            if *failed {
                return futures::future::ready(None);
            }
            *failed = item.is_err();
            futures::future::ready(Some(item))
        })
        .flat_map(move |item| {
            let prefix = prefix.clone();
            let events: Vec<Result<Event>> = match item {
                Ok(batch) => batch
                    .iter()
                    .filter(|e| {
                        e.revision() > replayed_through
                            && e.revision() >= from
                            && e.kv.key.starts_with(&*prefix)
                    })
                    .cloned()
                    .map(Ok)
                    .collect(),
                Err(err) => vec![Err(err)],
            };
            futures::stream::iter(events)
        });
        Ok(futures::stream::iter(replay).chain(live).boxed())
    }
}
