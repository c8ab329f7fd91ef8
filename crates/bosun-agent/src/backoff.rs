//! Container restart back-off (kubelet's CrashLoopBackOff): the first
//! restart is immediate, then each one waits twice as long as the last,
//! from `initial` up to `max`; a container that ran for twice `max`
//! starts over.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

#[derive(Debug)]
struct Entry {
    delay: Duration,
    last: Instant,
}

#[derive(Debug)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    entries: HashMap<String, Entry>,
}

impl Backoff {
    pub fn new(initial: Duration, max: Duration) -> Self {
        Backoff {
            initial,
            max,
            entries: HashMap::new(),
        }
    }

    /// When `key` may restart, if it must still wait at `now`.
    pub fn wait_until(&self, key: &str, now: Instant) -> Option<Instant> {
        let e = self.entries.get(key)?;
        let until = e.last + e.delay;
        (now < until).then_some(until)
    }

    /// Records a restart of `key` at `now`.
    pub fn restarted(&mut self, key: &str, now: Instant) {
        let (initial, max) = (self.initial, self.max);
        match self.entries.get_mut(key) {
            Some(e) if now.duration_since(e.last) < max * 2 => {
                e.delay = (e.delay * 2).min(max);
                e.last = now;
            }
            _ => {
                self.entries.insert(
                    key.to_string(),
                    Entry {
                        delay: initial,
                        last: now,
                    },
                );
            }
        }
    }

    /// Forgets every key starting with `prefix` (a pod that is gone).
    pub fn forget_prefix(&mut self, prefix: &str) {
        self.entries.retain(|k, _| !k.starts_with(prefix));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_and_resets() {
        let mut b = Backoff::new(Duration::from_secs(10), Duration::from_secs(40));
        let t0 = Instant::now();
        assert_eq!(b.wait_until("c", t0), None);
        b.restarted("c", t0);
        assert_eq!(b.wait_until("c", t0), Some(t0 + Duration::from_secs(10)));
        assert_eq!(b.wait_until("c", t0 + Duration::from_secs(10)), None);
        let t1 = t0 + Duration::from_secs(10);
        b.restarted("c", t1);
        assert_eq!(b.wait_until("c", t1), Some(t1 + Duration::from_secs(20)));
        let t2 = t1 + Duration::from_secs(20);
        b.restarted("c", t2);
        let t3 = t2 + Duration::from_secs(40);
        b.restarted("c", t3);
        // Capped at 40 s.
        assert_eq!(b.wait_until("c", t3), Some(t3 + Duration::from_secs(40)));
        // Ran longer than twice the cap: starts over at the initial delay.
        let t4 = t3 + Duration::from_secs(100);
        b.restarted("c", t4);
        assert_eq!(b.wait_until("c", t4), Some(t4 + Duration::from_secs(10)));
        b.forget_prefix("c");
        assert_eq!(b.wait_until("c", t4), None);
    }
}
