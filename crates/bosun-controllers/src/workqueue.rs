//! A rate-limited work queue with client-go's guarantees: a key is queued
//! at most once however often it is added, and never handed to two workers
//! at the same time (an add while it is being processed queues it again
//! once the worker is done).

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::Notify;

/// Upstream's per-item exponential failure back-off: 5 ms doubling to 1000 s.
const BASE_DELAY: Duration = Duration::from_millis(5);
const MAX_DELAY: Duration = Duration::from_secs(1000);

struct State<T> {
    queue: VecDeque<T>,
    dirty: HashSet<T>,
    processing: HashSet<T>,
    failures: HashMap<T, u32>,
    /// Delayed adds: the earliest deadline per item (one timer each).
    waiting: HashMap<T, tokio::time::Instant>,
}

struct Inner<T> {
    state: Mutex<State<T>>,
    ready: Notify,
}

/// Cheap to clone; clones share one queue.
pub struct WorkQueue<T> {
    inner: Arc<Inner<T>>,
}

impl<T> Clone for WorkQueue<T> {
    fn clone(&self) -> Self {
        WorkQueue {
            inner: self.inner.clone(),
        }
    }
}

impl<T: Hash + Eq + Clone + Send + 'static> Default for WorkQueue<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Hash + Eq + Clone + Send + 'static> WorkQueue<T> {
    pub fn new() -> Self {
        WorkQueue {
            inner: Arc::new(Inner {
                state: Mutex::new(State {
                    queue: VecDeque::new(),
                    dirty: HashSet::new(),
                    processing: HashSet::new(),
                    failures: HashMap::new(),
                    waiting: HashMap::new(),
                }),
                ready: Notify::new(),
            }),
        }
    }

    /// Queues `item` unless it is already waiting.
    pub fn add(&self, item: T) {
        let mut s = self.inner.state.lock();
        if !s.dirty.insert(item.clone()) {
            return;
        }
        if s.processing.contains(&item) {
            return;
        }
        s.queue.push_back(item);
        drop(s);
        self.inner.ready.notify_one();
    }

    /// Queues `item` after `delay`. An item already waiting for an
    /// earlier time keeps that time (one timer per item, however often it
    /// is delayed).
    pub fn add_after(&self, item: T, delay: Duration) {
        if delay.is_zero() {
            self.add(item);
            return;
        }
        let at = tokio::time::Instant::now() + delay;
        {
            let mut s = self.inner.state.lock();
            match s.waiting.get(&item) {
                Some(existing) if *existing <= at => return,
                _ => {
                    s.waiting.insert(item.clone(), at);
                }
            }
        }
        let queue = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep_until(at).await;
            let due = {
                let mut s = queue.inner.state.lock();
                // A later call may have moved the deadline earlier: that
                // timer adds the item.
                if s.waiting.get(&item) == Some(&at) {
                    s.waiting.remove(&item);
                    true
                } else {
                    false
                }
            };
            if due {
                queue.add(item);
            }
        });
    }

    /// Queues `item` after its failure back-off, which doubles per call
    /// until [`forget`](Self::forget).
    pub fn add_rate_limited(&self, item: T) {
        let delay = {
            let mut s = self.inner.state.lock();
            let n = s.failures.entry(item.clone()).or_insert(0);
            let exp = (*n).min(30);
            *n += 1;
            BASE_DELAY
                .checked_mul(1u32 << exp)
                .unwrap_or(MAX_DELAY)
                .min(MAX_DELAY)
        };
        self.add_after(item, delay);
    }

    /// Clears `item`'s failure history.
    pub fn forget(&self, item: &T) {
        self.inner.state.lock().failures.remove(item);
    }

    /// How many times `item` failed since its last [`forget`](Self::forget).
    pub fn requeues(&self, item: &T) -> u32 {
        self.inner
            .state
            .lock()
            .failures
            .get(item)
            .copied()
            .unwrap_or(0)
    }

    /// Waits for the next item; the caller must call [`done`](Self::done).
    pub async fn get(&self) -> T {
        loop {
            let notified = self.inner.ready.notified();
            {
                let mut s = self.inner.state.lock();
                if let Some(item) = s.queue.pop_front() {
                    s.dirty.remove(&item);
                    s.processing.insert(item.clone());
                    if !s.queue.is_empty() {
                        self.inner.ready.notify_one();
                    }
                    return item;
                }
            }
            notified.await;
        }
    }

    /// Marks `item` processed; queues it again if it was added meanwhile.
    pub fn done(&self, item: &T) {
        let mut s = self.inner.state.lock();
        s.processing.remove(item);
        if s.dirty.contains(item) {
            s.queue.push_back(item.clone());
            drop(s);
            self.inner.ready.notify_one();
        }
    }

    pub fn len(&self) -> usize {
        self.inner.state.lock().queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn adds_are_deduplicated() {
        let q = WorkQueue::new();
        q.add("a");
        q.add("a");
        q.add("b");
        assert_eq!(q.len(), 2);
        assert_eq!(q.get().await, "a");
        assert_eq!(q.get().await, "b");
        assert!(q.is_empty());
    }

    #[tokio::test]
    async fn an_item_in_process_is_requeued_after_done_not_before() {
        let q = WorkQueue::new();
        q.add(1);
        let item = q.get().await;
        q.add(1);
        assert!(q.is_empty(), "never handed out twice at once");
        q.done(&item);
        assert_eq!(q.len(), 1);
        assert_eq!(q.get().await, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn failures_back_off_exponentially_until_forgotten() {
        let q = WorkQueue::new();
        q.add_rate_limited("k");
        q.add_rate_limited("k");
        assert_eq!(q.requeues(&"k"), 2);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(q.get().await, "k");
        q.forget(&"k");
        assert_eq!(q.requeues(&"k"), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn repeated_delays_keep_the_earliest() {
        let q = WorkQueue::new();
        q.add_after("x", Duration::from_secs(10));
        q.add_after("x", Duration::from_secs(600));
        q.add_after("x", Duration::from_secs(2));
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(q.get().await, "x");
        q.done(&"x");
        tokio::time::sleep(Duration::from_secs(700)).await;
        assert!(q.is_empty(), "the superseded timers add nothing");
    }

    #[tokio::test(start_paused = true)]
    async fn add_after_waits() {
        let q = WorkQueue::new();
        q.add_after("x", Duration::from_secs(5));
        tokio::time::sleep(Duration::from_secs(4)).await;
        assert!(q.is_empty());
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(q.len(), 1);
    }
}
