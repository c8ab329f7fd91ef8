//! Latency recording and percentiles.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::StatusCode;

use crate::client::ClientError;
use crate::setup::failure;

/// Most error messages kept per recorder; the rest are only counted.
const ERROR_SAMPLES: usize = 5;

/// Latencies of successful operations plus a count and a few samples of the
/// failed ones.
#[derive(Clone, Debug, Default)]
pub struct Recorder {
    /// Microseconds, unsorted.
    pub latencies_us: Vec<u64>,
    pub errors: u64,
    pub error_samples: Vec<String>,
}

impl Recorder {
    pub fn ok(&mut self, elapsed: Duration) {
        self.latencies_us.push(micros(elapsed));
    }

    /// Records a request started at `start`: a success when it answered
    /// `expected` (its body is returned), an error sample otherwise.
    pub fn answered(
        &mut self,
        start: Instant,
        answer: Result<(StatusCode, Bytes), ClientError>,
        expected: StatusCode,
    ) -> Option<Bytes> {
        match answer {
            Ok((status, body)) if status == expected => {
                self.ok(start.elapsed());
                Some(body)
            }
            Ok((status, body)) => {
                self.err(|| failure(status, &body));
                None
            }
            Err(e) => {
                self.err(|| e.to_string());
                None
            }
        }
    }

    pub fn err(&mut self, message: impl FnOnce() -> String) {
        self.errors += 1;
        if self.error_samples.len() < ERROR_SAMPLES {
            self.error_samples.push(message());
        }
    }

    pub fn merge(&mut self, other: Recorder) {
        self.latencies_us.extend(other.latencies_us);
        self.errors += other.errors;
        for sample in other.error_samples {
            if self.error_samples.len() < ERROR_SAMPLES {
                self.error_samples.push(sample);
            }
        }
    }

    pub fn merged(recorders: impl IntoIterator<Item = Recorder>) -> Recorder {
        let mut all = Recorder::default();
        for r in recorders {
            all.merge(r);
        }
        all
    }

    pub fn count(&self) -> u64 {
        self.latencies_us.len() as u64
    }
}

pub fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// p50, p99 and max of a set of latencies, in microseconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Percentiles {
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
}

impl Percentiles {
    /// `None` for an empty set. Sorts `values` in place.
    pub fn of(values: &mut [u64]) -> Option<Percentiles> {
        if values.is_empty() {
            return None;
        }
        values.sort_unstable();
        Some(Percentiles {
            p50_us: nearest_rank(values, 50.0),
            p99_us: nearest_rank(values, 99.0),
            max_us: values[values.len() - 1],
        })
    }
}

/// Nearest-rank percentile of sorted, non-empty `values`.
pub fn nearest_rank(values: &[u64], pct: f64) -> u64 {
    let n = values.len();
    let rank = ((pct / 100.0) * n as f64).ceil() as usize;
    values[rank.clamp(1, n) - 1]
}

/// Median of a non-empty list of seconds (upper median for even counts).
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.get(sorted.len() / 2).copied().unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_table() {
        let values: Vec<u64> = (1..=100).collect();
        let cases = [(50.0, 50), (99.0, 99), (100.0, 100), (0.0, 1), (1.0, 1)];
        for (pct, want) in cases {
            assert_eq!(nearest_rank(&values, pct), want, "p{pct}");
        }
        assert_eq!(nearest_rank(&[7], 99.0), 7);
        assert_eq!(nearest_rank(&[1, 2, 3], 50.0), 2);
    }

    #[test]
    fn percentiles_sort_and_empty() {
        let mut v = vec![5, 1, 4, 2, 3];
        let p = Percentiles::of(&mut v).unwrap();
        assert_eq!(
            p,
            Percentiles {
                p50_us: 3,
                p99_us: 5,
                max_us: 5
            }
        );
        assert_eq!(Percentiles::of(&mut []), None);
    }

    #[test]
    fn recorder_keeps_few_samples() {
        let mut r = Recorder::default();
        for i in 0..10 {
            r.err(|| format!("e{i}"));
        }
        r.ok(Duration::from_millis(2));
        assert_eq!(r.errors, 10);
        assert_eq!(r.error_samples.len(), ERROR_SAMPLES);
        assert_eq!(r.latencies_us, vec![2000]);
        let merged = Recorder::merged([r.clone(), r]);
        assert_eq!(merged.errors, 20);
        assert_eq!(merged.count(), 2);
        assert_eq!(merged.error_samples.len(), ERROR_SAMPLES);
    }

    #[test]
    fn median_of_seconds() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0]), 4.0);
        assert_eq!(median(&[]), 0.0);
    }
}
