//! Upstream's slowStartBatch, without its barriers.
//!
//! Upstream issues creations in batches of 1, 2, 4, … and waits for each
//! batch to finish before starting the next, so that a quota or admission
//! error costs one call rather than hundreds. The barriers cost a round
//! trip per batch: nine of them for upstream's 500-pod burst, each as long
//! as the slowest request in its batch, which under load is most of a
//! sync's time.
//!
//! [`slow_start`] keeps the protection and drops the barriers: it starts
//! with `initial` requests in flight, lets one more start for every
//! success (so the window doubles per round trip, as in TCP slow start,
//! without waiting for the stragglers), and starts nothing new once a
//! request has failed.

use futures::stream::{FuturesUnordered, StreamExt};

/// At most this many requests of one call to [`slow_start`] are in flight.
pub const MAX_IN_FLIGHT: usize = 100;

/// What [`slow_start`] managed.
pub struct BatchResult<T> {
    /// How many calls succeeded.
    pub succeeded: usize,
    /// Their results, in completion order.
    pub pods: Vec<T>,
    /// The first failure; no call started after it was seen.
    pub error: Option<kube::Error>,
}

/// Calls `f(0)`, `f(1)`, … `f(count - 1)` with a growing window of
/// concurrent calls: `initial` (at least 1) at first, one more per
/// success, never more than [`MAX_IN_FLIGHT`]. After the first failure no
/// further call starts; the ones in flight finish. Calls never started
/// count as neither succeeded nor failed.
pub async fn slow_start<T, F, Fut>(count: usize, initial: usize, f: F) -> BatchResult<T>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Result<T, kube::Error>>,
{
    let mut result = BatchResult {
        succeeded: 0,
        pods: Vec::new(),
        error: None,
    };
    let mut window = initial.clamp(1, MAX_IN_FLIGHT);
    let mut next = 0;
    let mut in_flight = FuturesUnordered::new();
    loop {
        while result.error.is_none() && next < count && in_flight.len() < window {
            in_flight.push(f(next));
            next += 1;
        }
        let Some(outcome) = in_flight.next().await else {
            break;
        };
        match outcome {
            Ok(p) => {
                result.succeeded += 1;
                result.pods.push(p);
                window = (window + 1).min(MAX_IN_FLIGHT);
            }
            Err(e) => {
                result.error.get_or_insert(e);
            }
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    fn failure() -> kube::Error {
        kube::Error::LinesCodecMaxLineLengthExceeded
    }

    #[tokio::test]
    async fn all_succeed() {
        let r = slow_start(700, 1, |i| async move { Ok::<_, kube::Error>(i) }).await;
        assert_eq!(r.succeeded, 700);
        assert_eq!(r.pods.len(), 700);
        assert!(r.error.is_none());
    }

    #[tokio::test]
    async fn the_first_call_failing_costs_one_call() {
        let calls = AtomicUsize::new(0);
        let r = slow_start(500, 1, |_| {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err::<(), _>(failure()) }
        })
        .await;
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(r.succeeded, 0);
        assert!(r.error.is_some());
    }

    /// Counts calls and the most in flight at once; every call takes
    /// 10 ms and those from `fail_from` on fail.
    #[derive(Default)]
    struct Tracker {
        calls: AtomicUsize,
        in_flight: AtomicUsize,
        peak: AtomicUsize,
    }

    impl Tracker {
        async fn call(&self, i: usize, fail_from: usize) -> Result<usize, kube::Error> {
            tokio::time::sleep(Duration::from_millis(10)).await;
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            if i >= fail_from {
                Err(failure())
            } else {
                Ok(i)
            }
        }

        /// Counts the call as started (when `slow_start` calls `f`).
        fn start(&self) {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.peak.fetch_max(now, Ordering::SeqCst);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_window_grows_by_one_per_success_and_stops_at_a_failure() {
        let t = Tracker::default();
        let r = slow_start(500, 1, |i| {
            t.start();
            t.call(i, 7)
        })
        .await;
        // Round trips: {0}, {1,2}, {3,4,5,6}, {7..14}: the fourth round
        // fails and nothing starts after it.
        assert_eq!(r.succeeded, 7);
        assert!(r.error.is_some());
        assert_eq!(t.calls.load(Ordering::SeqCst), 15);
        assert_eq!(t.peak.load(Ordering::SeqCst), 8);
    }

    #[tokio::test(start_paused = true)]
    async fn a_warm_start_begins_wide_and_never_exceeds_the_cap() {
        let t = Tracker::default();
        let r = slow_start(1000, 5000, |i| {
            t.start();
            t.call(i, usize::MAX)
        })
        .await;
        assert_eq!(r.succeeded, 1000);
        assert_eq!(t.peak.load(Ordering::SeqCst), MAX_IN_FLIGHT);
    }
}
