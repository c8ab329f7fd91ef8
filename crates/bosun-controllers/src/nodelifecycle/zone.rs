//! Zone disruption states and the per-zone rate limits on tainting nodes
//! for eviction, as upstream's node lifecycle controller: a healthy zone
//! loses nodes at `--node-eviction-rate`, a partly disrupted one at the
//! secondary rate (zero in small clusters), and when every zone is fully
//! disrupted the control plane assumes it is the one cut off and evicts
//! nothing.

use tokio::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZoneState {
    Normal,
    PartialDisruption,
    FullDisruption,
}

/// Upstream ComputeZoneState from counts of Ready and not-Ready nodes.
pub fn zone_state(ready: usize, not_ready: usize, unhealthy_threshold: f64) -> ZoneState {
    let total = ready + not_ready;
    if ready == 0 && not_ready > 0 {
        ZoneState::FullDisruption
    } else if not_ready > 2 && total > 0 && not_ready as f64 / total as f64 >= unhealthy_threshold {
        ZoneState::PartialDisruption
    } else {
        ZoneState::Normal
    }
}

/// A token bucket with a burst of one, like client-go's
/// `NewTokenBucketRateLimiter(qps, 1)`.
#[derive(Debug)]
pub struct TokenBucket {
    qps: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    pub fn new(qps: f64, now: Instant) -> Self {
        TokenBucket {
            qps,
            tokens: 1.0,
            last: now,
        }
    }

    pub fn set_qps(&mut self, qps: f64, now: Instant) {
        self.refill(now);
        self.qps = qps;
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.qps).min(1.0);
        self.last = now;
    }

    /// Takes a token if one is there.
    pub fn try_take(&mut self, now: Instant) -> bool {
        self.refill(now);
        if self.qps > 0.0 && self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn zone_states_as_upstream() {
        assert_eq!(zone_state(10, 0, 0.55), ZoneState::Normal);
        assert_eq!(zone_state(0, 3, 0.55), ZoneState::FullDisruption);
        // Two failures never count as a partial disruption.
        assert_eq!(zone_state(1, 2, 0.55), ZoneState::Normal);
        assert_eq!(zone_state(4, 6, 0.55), ZoneState::PartialDisruption);
        assert_eq!(zone_state(6, 4, 0.55), ZoneState::Normal);
    }

    #[test]
    fn bucket_allows_one_then_refills_at_qps() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(0.1, t0);
        assert!(b.try_take(t0));
        assert!(!b.try_take(t0 + Duration::from_secs(5)));
        assert!(b.try_take(t0 + Duration::from_secs(10)));
        let mut zero = TokenBucket::new(0.0, t0);
        assert!(!zero.try_take(t0), "a zero rate never evicts");
    }
}
