//! The scheduling queue, after upstream's `PriorityQueue`: an active heap
//! ordered by priority then arrival (PrioritySort), a backoff heap for pods
//! that failed recently, and an unschedulable set that waits for a cluster
//! event one of its rejecting plugins cares about (or a periodic flush).

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::framework::ClusterEvent;
use crate::node_info::PodInfo;

pub const INITIAL_BACKOFF: Duration = Duration::from_secs(1);
pub const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// Unschedulable pods are retried at least this often.
pub const MAX_UNSCHEDULABLE_DURATION: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Active,
    Backoff,
    Unschedulable,
    InFlight,
}

/// A pod waiting in the queue and what its past attempts left behind.
#[derive(Debug, Clone)]
pub struct QueuedPod {
    pub info: Arc<PodInfo>,
    pub attempts: u32,
    /// When it entered the queue the first time.
    pub initial: Instant,
    /// When it last entered its current place.
    pub since: Instant,
    /// Plugins that rejected it last time (empty: any event may help).
    pub rejected_by: HashSet<&'static str>,
    seq: u64,
    place: Place,
    /// Move requests seen when it was popped (to detect events that
    /// happened while it was being scheduled).
    moves_at_pop: u64,
}

impl QueuedPod {
    pub fn backoff(&self) -> Duration {
        let mut d = INITIAL_BACKOFF;
        for _ in 1..self.attempts {
            d *= 2;
            if d > MAX_BACKOFF {
                return MAX_BACKOFF;
            }
        }
        d
    }

    fn backoff_until(&self) -> Instant {
        self.since + self.backoff()
    }
}

#[derive(PartialEq, Eq)]
struct ActiveKey {
    priority: i32,
    seq: u64,
    uid: String,
}

impl Ord for ActiveKey {
    fn cmp(&self, other: &Self) -> Ordering {
        // Higher priority first, then earlier arrival.
        self.priority
            .cmp(&other.priority)
            .then_with(|| other.seq.cmp(&self.seq))
    }
}

impl PartialOrd for ActiveKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Which plugins care about which events.
pub type EventInterest = HashMap<&'static str, &'static [ClusterEvent]>;

#[derive(Default)]
pub struct SchedulingQueue {
    pods: HashMap<String, QueuedPod>,
    active: BinaryHeap<ActiveKey>,
    backoff: BinaryHeap<Reverse<(Instant, u64, String)>>,
    /// Index of the pods in the unschedulable place, so events don't scan
    /// every pending pod.
    unschedulable: HashSet<String>,
    seq: u64,
    moves: u64,
}

impl SchedulingQueue {
    pub fn len(&self) -> usize {
        self.pods.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pods.is_empty()
    }

    pub fn contains(&self, uid: &str) -> bool {
        self.pods.contains_key(uid)
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    fn push_active(&mut self, uid: &str) {
        self.unschedulable.remove(uid);
        let seq = self.next_seq();
        if let Some(p) = self.pods.get_mut(uid) {
            p.place = Place::Active;
            p.seq = seq;
            p.since = Instant::now();
            self.active.push(ActiveKey {
                priority: p.info.priority,
                seq,
                uid: uid.to_string(),
            });
        }
    }

    fn push_backoff(&mut self, uid: &str) {
        self.unschedulable.remove(uid);
        let seq = self.next_seq();
        if let Some(p) = self.pods.get_mut(uid) {
            p.place = Place::Backoff;
            p.seq = seq;
            self.backoff
                .push(Reverse((p.backoff_until(), seq, uid.to_string())));
        }
    }

    /// A new pending pod.
    pub fn add(&mut self, info: Arc<PodInfo>) {
        let uid = info.uid.clone();
        if self.pods.contains_key(&uid) {
            self.update(info);
            return;
        }
        let now = Instant::now();
        self.pods.insert(
            uid.clone(),
            QueuedPod {
                info,
                attempts: 0,
                initial: now,
                since: now,
                rejected_by: HashSet::new(),
                seq: 0,
                place: Place::Active,
                moves_at_pop: 0,
            },
        );
        self.push_active(&uid);
    }

    /// A pending pod changed. An unschedulable pod whose spec or labels
    /// changed gets another try (after its backoff).
    pub fn update(&mut self, info: Arc<PodInfo>) {
        let uid = info.uid.clone();
        let Some(p) = self.pods.get_mut(&uid) else {
            self.add(info);
            return;
        };
        let changed = p.info.pod.spec != info.pod.spec
            || p.info.pod.metadata.labels != info.pod.metadata.labels;
        p.info = info;
        if p.place == Place::Unschedulable && changed {
            if p.backoff_until() > Instant::now() {
                self.push_backoff(&uid);
            } else {
                self.push_active(&uid);
            }
        }
    }

    pub fn delete(&mut self, uid: &str) {
        // Heap entries go stale and are skipped when popped.
        self.pods.remove(uid);
        self.unschedulable.remove(uid);
    }

    /// Keeps only the pods whose uid passes `keep` (after a re-list).
    pub fn retain(&mut self, keep: impl Fn(&str) -> bool) {
        let gone: Vec<String> = self.pods.keys().filter(|u| !keep(u)).cloned().collect();
        for uid in gone {
            self.delete(&uid);
        }
    }

    /// The most important active pod, now in flight.
    pub fn pop(&mut self) -> Option<QueuedPod> {
        while let Some(key) = self.active.pop() {
            let moves = self.moves;
            let Some(p) = self.pods.get_mut(&key.uid) else {
                continue;
            };
            if p.place != Place::Active || p.seq != key.seq {
                continue;
            }
            p.place = Place::InFlight;
            p.attempts += 1;
            p.moves_at_pop = moves;
            return Some(p.clone());
        }
        None
    }

    /// Scheduled (or given up on): leaves the queue.
    pub fn done(&mut self, uid: &str) {
        if self
            .pods
            .get(uid)
            .is_some_and(|p| p.place == Place::InFlight)
        {
            self.pods.remove(uid);
        }
    }

    /// The attempt failed. With no rejecting plugins (an error), or when a
    /// cluster event arrived while it was in flight, the pod backs off;
    /// otherwise it waits for an event its rejecting plugins care about.
    pub fn requeue(&mut self, uid: &str, rejected_by: HashSet<&'static str>) {
        let moves = self.moves;
        let Some(p) = self.pods.get_mut(uid) else {
            return;
        };
        if p.place != Place::InFlight {
            return;
        }
        p.since = Instant::now();
        let error = rejected_by.is_empty();
        p.rejected_by = rejected_by;
        if error || p.moves_at_pop != moves {
            self.push_backoff(uid);
        } else {
            p.place = Place::Unschedulable;
            self.unschedulable.insert(uid.to_string());
        }
    }

    /// A cluster event: unschedulable pods that a plugin interested in it
    /// rejected move to backoff (or active, when their backoff is over).
    pub fn on_event(&mut self, event: ClusterEvent, interest: &EventInterest) {
        self.moves += 1;
        let now = Instant::now();
        let moved: Vec<(String, bool)> = self
            .unschedulable
            .iter()
            .filter_map(|uid| self.pods.get(uid).map(|p| (uid, p)))
            .filter(|(_, p)| {
                p.rejected_by.is_empty()
                    || p.rejected_by
                        .iter()
                        .any(|name| interest.get(name).is_some_and(|evs| evs.contains(&event)))
            })
            .map(|(uid, p)| (uid.clone(), p.backoff_until() > now))
            .collect();
        for (uid, backing_off) in moved {
            if backing_off {
                self.push_backoff(&uid);
            } else {
                self.push_active(&uid);
            }
        }
    }

    /// Moves pods whose backoff is over to active, and retries pods that
    /// have been unschedulable for too long. Returns when to call again.
    pub fn flush(&mut self, now: Instant) -> Option<Instant> {
        while let Some(Reverse((at, seq, uid))) = self.backoff.peek().cloned() {
            if at > now {
                break;
            }
            self.backoff.pop();
            if self
                .pods
                .get(&uid)
                .is_some_and(|p| p.place == Place::Backoff && p.seq == seq)
            {
                self.push_active(&uid);
            }
        }
        let stale: Vec<String> = self
            .unschedulable
            .iter()
            .filter_map(|uid| self.pods.get(uid).map(|p| (uid, p)))
            .filter(|(_, p)| now.duration_since(p.since) >= MAX_UNSCHEDULABLE_DURATION)
            .map(|(uid, _)| uid.clone())
            .collect();
        for uid in stale {
            self.push_active(&uid);
        }
        self.backoff.peek().map(|Reverse((at, _, _))| *at)
    }

    /// Whether `pop` may return a pod (stale heap entries aside).
    pub fn has_active(&self) -> bool {
        !self.active.is_empty()
    }

    /// Pending pods by place, for metrics and tests: (active, backoff, unschedulable).
    pub fn counts(&self) -> (usize, usize, usize) {
        let mut c = (0, 0, 0);
        for p in self.pods.values() {
            match p.place {
                Place::Active => c.0 += 1,
                Place::Backoff => c.1 += 1,
                Place::Unschedulable => c.2 += 1,
                Place::InFlight => {}
            }
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::pod;

    fn info(name: &str, priority: i32) -> Arc<PodInfo> {
        let mut p = pod(name, "", "");
        p.spec.as_mut().unwrap().priority = Some(priority);
        Arc::new(PodInfo::new(Arc::new(p)))
    }

    #[test]
    fn pops_by_priority_then_arrival() {
        let mut q = SchedulingQueue::default();
        q.add(info("low", 0));
        q.add(info("high", 100));
        q.add(info("low2", 0));
        let order: Vec<_> = std::iter::from_fn(|| q.pop().map(|p| p.info.key.clone())).collect();
        assert_eq!(order, vec!["default/high", "default/low", "default/low2"]);
    }

    #[test]
    fn unschedulable_pods_wait_for_an_event_their_plugins_care_about() {
        let mut q = SchedulingQueue::default();
        q.add(info("p", 0));
        let p = q.pop().unwrap();
        q.requeue(&p.info.uid, ["NodeResourcesFit"].into_iter().collect());
        assert_eq!(q.counts(), (0, 0, 1));
        let mut interest = EventInterest::new();
        interest.insert(
            "NodeResourcesFit",
            &[ClusterEvent::NodeAdd, ClusterEvent::AssignedPodDelete],
        );
        q.on_event(ClusterEvent::NodeLabelChange, &interest);
        assert_eq!(q.counts(), (0, 0, 1));
        q.on_event(ClusterEvent::AssignedPodDelete, &interest);
        // Still inside its 1 s backoff: waits there, then becomes active.
        assert_eq!(q.counts(), (0, 1, 0));
        q.flush(Instant::now() + Duration::from_secs(2));
        assert_eq!(q.counts(), (1, 0, 0));
        assert_eq!(q.pop().unwrap().attempts, 2);
    }

    #[test]
    fn an_event_during_the_attempt_sends_the_pod_to_backoff() {
        let mut q = SchedulingQueue::default();
        q.add(info("p", 0));
        let p = q.pop().unwrap();
        q.on_event(ClusterEvent::NodeAdd, &EventInterest::new());
        q.requeue(&p.info.uid, ["NodeResourcesFit"].into_iter().collect());
        assert_eq!(q.counts(), (0, 1, 0));
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let mut q = SchedulingQueue::default();
        q.add(info("p", 0));
        let mut p = q.pop().unwrap();
        assert_eq!(p.backoff(), Duration::from_secs(1));
        p.attempts = 3;
        assert_eq!(p.backoff(), Duration::from_secs(4));
        p.attempts = 10;
        assert_eq!(p.backoff(), MAX_BACKOFF);
    }

    #[test]
    fn deleted_pods_are_skipped() {
        let mut q = SchedulingQueue::default();
        q.add(info("a", 0));
        q.add(info("b", 0));
        q.delete("uid-a");
        assert_eq!(q.pop().unwrap().info.key, "default/b");
        assert!(q.pop().is_none());
    }
}
