//! Controller expectations, as upstream's: after asking for N creations or
//! deletions, a controller does not act on its owner again until the
//! informer has shown them (or five minutes pass), so a slow watch never
//! causes a second round of creations.

use std::collections::{HashMap, HashSet};
use std::time::Duration;
use tokio::time::Instant;

use parking_lot::Mutex;

use crate::informer::ObjectKey;

/// Upstream's ExpectationsTimeout.
const TTL: Duration = Duration::from_secs(5 * 60);

struct Expected {
    adds: i64,
    /// Keys of the pods whose deletion is awaited (upstream's
    /// UIDTrackingControllerExpectations: a deletion seen twice, once as
    /// deletionTimestamp and once as the delete event, counts once).
    deletes: HashSet<ObjectKey>,
    since: Instant,
}

#[derive(Default)]
pub struct Expectations {
    map: Mutex<HashMap<ObjectKey, Expected>>,
}

impl Expectations {
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the controller may act on `owner`.
    pub fn satisfied(&self, owner: &ObjectKey) -> bool {
        match self.map.lock().get(owner) {
            None => true,
            Some(e) => (e.adds <= 0 && e.deletes.is_empty()) || e.since.elapsed() > TTL,
        }
    }

    pub fn expect_creations(&self, owner: &ObjectKey, n: usize) {
        self.map.lock().insert(
            owner.clone(),
            Expected {
                adds: n as i64,
                deletes: HashSet::new(),
                since: Instant::now(),
            },
        );
    }

    pub fn expect_deletions(&self, owner: &ObjectKey, pods: impl IntoIterator<Item = ObjectKey>) {
        self.map.lock().insert(
            owner.clone(),
            Expected {
                adds: 0,
                deletes: pods.into_iter().collect(),
                since: Instant::now(),
            },
        );
    }

    /// Both at once (upstream SetExpectations): `adds` creations and the
    /// deletion of `pods`.
    pub fn expect(
        &self,
        owner: &ObjectKey,
        adds: usize,
        pods: impl IntoIterator<Item = ObjectKey>,
    ) {
        self.map.lock().insert(
            owner.clone(),
            Expected {
                adds: adds as i64,
                deletes: pods.into_iter().collect(),
                since: Instant::now(),
            },
        );
    }

    /// One creation was seen (or will never happen because it failed).
    pub fn creation_observed(&self, owner: &ObjectKey) {
        if let Some(e) = self.map.lock().get_mut(owner) {
            e.adds -= 1;
        }
    }

    /// `pod`'s deletion was seen (or failed).
    pub fn deletion_observed(&self, owner: &ObjectKey, pod: &ObjectKey) {
        if let Some(e) = self.map.lock().get_mut(owner) {
            e.deletes.remove(pod);
        }
    }

    /// Forgets `owner` (it was deleted).
    pub fn forget(&self, owner: &ObjectKey) {
        self.map.lock().remove(owner);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creations_must_be_observed() {
        let e = Expectations::new();
        let rs = ObjectKey::new("ns", "rs");
        assert!(e.satisfied(&rs));
        e.expect_creations(&rs, 2);
        assert!(!e.satisfied(&rs));
        e.creation_observed(&rs);
        assert!(!e.satisfied(&rs));
        e.creation_observed(&rs);
        assert!(e.satisfied(&rs));
    }

    #[test]
    fn a_deletion_seen_twice_counts_once() {
        let e = Expectations::new();
        let rs = ObjectKey::new("ns", "rs");
        let (a, b) = (ObjectKey::new("ns", "a"), ObjectKey::new("ns", "b"));
        e.expect_deletions(&rs, [a.clone(), b.clone()]);
        e.deletion_observed(&rs, &a);
        e.deletion_observed(&rs, &a);
        assert!(!e.satisfied(&rs));
        e.deletion_observed(&rs, &b);
        assert!(e.satisfied(&rs));
    }
}
