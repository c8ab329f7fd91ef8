//! Human-readable durations and ages, matching apimachinery's
//! `duration.HumanDuration` and the printers' `translateTimestampSince`.

use chrono::{DateTime, Utc};

const NANOS_PER_SECOND: i128 = 1_000_000_000;
const SECOND: i128 = NANOS_PER_SECOND;
const MINUTE: i128 = 60 * SECOND;
const HOUR: i128 = 60 * MINUTE;

/// Nanoseconds from `from` to `to` (negative when `to` is earlier).
pub(crate) fn nanos_between(from: DateTime<Utc>, to: DateTime<Utc>) -> i128 {
    let delta = to.signed_duration_since(from);
    let secs = i128::from(delta.num_seconds());
    let sub = i128::from(delta.subsec_nanos());
    secs * NANOS_PER_SECOND + sub
}

/// Renders a duration (in nanoseconds) with roughly two to three significant
/// figures: `45s`, `3m20s`, `15m`, `5h30m`, `20h`, `3d4h`, `30d`, `2y30d`, `9y`.
/// Durations more than a second into the negative render as `<invalid>`.
pub fn human_duration(nanos: i128) -> String {
    // Truncating division, like Go's int(d.Seconds()).
    let seconds = nanos / SECOND;
    if seconds < -1 {
        return "<invalid>".to_string();
    }
    if seconds < 0 {
        return "0s".to_string();
    }
    if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = nanos / MINUTE;
    if minutes < 10 {
        let s = (nanos / SECOND) % 60;
        if s == 0 {
            return format!("{minutes}m");
        }
        return format!("{minutes}m{s}s");
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = nanos / HOUR;
    if hours < 8 {
        let m = (nanos / MINUTE) % 60;
        if m == 0 {
            return format!("{hours}h");
        }
        return format!("{hours}h{m}m");
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        if h == 0 {
            return format!("{}d", hours / 24);
        }
        return format!("{}d{}h", hours / 24, h);
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        if dy == 0 {
            return format!("{}y", hours / 24 / 365);
        }
        return format!("{}y{}d", hours / 24 / 365, dy);
    }
    format!("{}y", hours / 24 / 365)
}

/// Age of a timestamp relative to `now`; `<unknown>` for an unset timestamp.
pub(crate) fn since(ts: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    match ts {
        None => "<unknown>".to_string(),
        Some(t) => human_duration(nanos_between(t, now)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(secs: i128) -> String {
        human_duration(secs * SECOND)
    }

    #[test]
    fn human_duration_table() {
        let cases: &[(i128, &str)] = &[
            (0, "0s"),
            (1, "1s"),
            (59, "59s"),
            (60, "60s"),
            (119, "119s"),
            (120, "2m"),
            (121, "2m1s"),
            (182, "3m2s"),
            (9 * 60 + 59, "9m59s"),
            (10 * 60, "10m"),
            (10 * 60 + 30, "10m"),
            (179 * 60, "179m"),
            (3 * 3600, "3h"),
            (3 * 3600 + 60 * 25, "3h25m"),
            (7 * 3600 + 59 * 60 + 59, "7h59m"),
            (8 * 3600, "8h"),
            (47 * 3600 + 3599, "47h"),
            (48 * 3600, "2d"),
            (3 * 86400 + 4 * 3600, "3d4h"),
            (7 * 86400 + 23 * 3600, "7d23h"),
            (8 * 86400, "8d"),
            (729 * 86400, "729d"),
            (730 * 86400, "2y"),
            (731 * 86400, "2y1d"),
            (8 * 365 * 86400 - 86400, "7y364d"),
            (8 * 365 * 86400, "8y"),
            (20 * 365 * 86400, "20y"),
        ];
        for (secs, want) in cases {
            assert_eq!(s(*secs), *want, "duration {secs}s");
        }
    }

    #[test]
    fn negative_durations() {
        assert_eq!(human_duration(-SECOND / 2), "0s");
        assert_eq!(human_duration(-SECOND), "0s");
        assert_eq!(human_duration(-SECOND - SECOND / 2), "0s");
        assert_eq!(human_duration(-2 * SECOND), "<invalid>");
    }

    #[test]
    fn since_unknown_for_unset() {
        assert_eq!(since(None, Utc::now()), "<unknown>");
        let now = Utc::now();
        assert_eq!(since(Some(now - chrono::Duration::seconds(5)), now), "5s");
    }
}
