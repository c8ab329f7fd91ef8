//! Completion indexes of Indexed Jobs: the pod annotation/label that
//! carries a pod's index, and the interval strings of
//! `status.completedIndexes` / `status.failedIndexes` (`"1,3-5,7"`).

use std::fmt;

use k8s_openapi::api::core::v1::Pod;

/// Annotation (and label) with a pod's completion index.
pub const COMPLETION_INDEX: &str = "batch.kubernetes.io/job-completion-index";
/// Annotation counting the failures of an index so far (backoffLimitPerIndex).
pub const INDEX_FAILURE_COUNT: &str = "batch.kubernetes.io/job-index-failure-count";
/// Annotation counting the failures an Ignore rule skipped.
pub const INDEX_IGNORED_FAILURE_COUNT: &str = "batch.kubernetes.io/job-index-ignored-failure-count";

/// A pod's completion index, if its annotation holds a valid one.
pub fn completion_index(pod: &Pod) -> Option<i32> {
    let v = pod.metadata.annotations.as_ref()?.get(COMPLETION_INDEX)?;
    // Upstream accepts only plain decimal numbers.
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse::<i32>().ok()
}

/// A pod's index failure count annotation (0 when absent or invalid).
pub fn annotation_count(pod: &Pod, key: &str) -> i32 {
    pod.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(key))
        .and_then(|v| v.parse::<i32>().ok())
        .filter(|n| *n >= 0)
        .unwrap_or(0)
}

/// Sorted, disjoint, non-adjacent inclusive intervals of indexes
/// (upstream's orderedIntervals).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Intervals(Vec<(i32, i32)>);

impl Intervals {
    /// Parses an interval string, keeping only indexes below
    /// `completions`; malformed items are skipped (as upstream, which logs
    /// them).
    pub fn parse(s: &str, completions: i32) -> Intervals {
        let mut out = Intervals::default();
        if s.is_empty() {
            return out;
        }
        for item in s.split(',') {
            let (first, last) = match item.split_once('-') {
                Some((a, b)) => match (a.parse::<i32>(), b.parse::<i32>()) {
                    (Ok(a), Ok(b)) => (a, b),
                    _ => continue,
                },
                None => match item.parse::<i32>() {
                    Ok(a) => (a, a),
                    Err(_) => continue,
                },
            };
            if first >= completions {
                break;
            }
            let last = last.min(completions - 1);
            if first < 0 || last < first {
                continue;
            }
            out.push(first, last);
        }
        out
    }

    fn push(&mut self, first: i32, last: i32) {
        match self.0.last_mut() {
            Some(prev) if first <= prev.1 + 1 => prev.1 = prev.1.max(last),
            _ => self.0.push((first, last)),
        }
    }

    /// These intervals plus `indexes` (sorted ascending).
    pub fn with_indexes(&self, indexes: &[i32]) -> Intervals {
        let mut points: Vec<(i32, i32)> = self.0.clone();
        points.extend(indexes.iter().map(|&i| (i, i)));
        points.sort_unstable();
        let mut out = Intervals::default();
        for (a, b) in points {
            out.push(a, b);
        }
        out
    }

    pub fn has(&self, ix: i32) -> bool {
        self.0.iter().any(|&(a, b)| a <= ix && ix <= b)
    }

    /// How many indexes.
    pub fn total(&self) -> i32 {
        self.0.iter().map(|&(a, b)| b - a + 1).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many of `other`'s indexes are also here.
    pub fn overlap(&self, other: &Intervals) -> i32 {
        let mut n = 0;
        for &(a, b) in &self.0 {
            for &(c, d) in &other.0 {
                let (lo, hi) = (a.max(c), b.min(d));
                if lo <= hi {
                    n += hi - lo + 1;
                }
            }
        }
        n
    }
}

impl fmt::Display for Intervals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, &(a, b)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            match b - a {
                0 => write!(f, "{a}")?,
                // Two neighbours are written as a list, as upstream does.
                1 => write!(f, "{a},{b}")?,
                _ => write!(f, "{a}-{b}")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_format_as_upstream() {
        let cases = [
            ("", 10, ""),
            ("0", 10, "0"),
            ("1,2,3", 10, "1-3"),
            ("1,2", 10, "1,2"),
            ("0-2,5,7-9", 10, "0-2,5,7-9"),
            ("0-2,5,7-12", 10, "0-2,5,7-9"),
            ("3-5,12", 10, "3-5"),
            ("1,x,3", 10, "1,3"),
        ];
        for (input, completions, want) in cases {
            assert_eq!(
                Intervals::parse(input, completions).to_string(),
                want,
                "{input}"
            );
        }
    }

    #[test]
    fn merging_indexes() {
        let base = Intervals::parse("1,5-6", 10);
        assert_eq!(base.with_indexes(&[0, 2, 3, 8]).to_string(), "0-3,5,6,8");
        assert_eq!(base.with_indexes(&[4]).to_string(), "1,4-6");
        assert_eq!(base.with_indexes(&[4]).total(), 4);
        assert!(base.has(6) && !base.has(4));
        let rule = Intervals::parse("0-3", 10);
        assert_eq!(rule.overlap(&base.with_indexes(&[2])), 2);
    }
}
