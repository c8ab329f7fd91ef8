//! CPU time of the processes under test (and of the benchmark itself), from
//! `/proc/PID/stat`, so a report shows which side was saturated.

use std::time::Instant;

use crate::report::Report;

/// Linux reports `/proc/PID/stat` times in USER_HZ, 100 on every
/// mainstream architecture.
const TICKS_PER_SECOND: f64 = 100.0;

/// utime + stime of a `/proc/PID/stat` line, in ticks.
pub fn parse_stat_ticks(stat: &str) -> Option<u64> {
    // The command name may hold spaces and parentheses: fields resume after
    // the last ')'. From there, field 3 (state) is index 0, so utime (14)
    // and stime (15) are indexes 11 and 12.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

fn ticks(pid: Option<u32>) -> Option<u64> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/stat"),
        None => "/proc/self/stat".to_string(),
    };
    parse_stat_ticks(&std::fs::read_to_string(path).ok()?)
}

/// The processes to account: the benchmark itself plus optional others.
#[derive(Clone, Debug, Default)]
pub struct Meter {
    others: Vec<(String, u32)>,
}

/// CPU counters at the start of a phase.
#[derive(Clone)]
pub struct Snapshot {
    at: Instant,
    ticks: Vec<Option<u64>>,
}

impl Meter {
    pub fn new(server_pid: Option<u32>, etcd_pid: Option<u32>) -> Meter {
        let mut others = Vec::new();
        if let Some(pid) = server_pid {
            others.push(("server".to_string(), pid));
        }
        if let Some(pid) = etcd_pid {
            others.push(("etcd".to_string(), pid));
        }
        Meter { others }
    }

    fn all(&self) -> impl Iterator<Item = (&str, Option<u32>)> {
        std::iter::once(("bench client", None))
            .chain(self.others.iter().map(|(n, p)| (n.as_str(), Some(*p))))
    }

    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            at: Instant::now(),
            ticks: self.all().map(|(_, pid)| ticks(pid)).collect(),
        }
    }

    /// Adds "<phase>: CPU <who>" facts, in percent of one core, and
    /// returns each process's CPU seconds over the phase.
    pub fn record(&self, report: &mut Report, phase: &str, start: Snapshot) -> Vec<(String, f64)> {
        let wall = start.at.elapsed().as_secs_f64();
        if wall <= 0.0 {
            return Vec::new();
        }
        let used: Vec<(String, f64)> = self
            .all()
            .zip(start.ticks)
            .filter_map(|((who, pid), before)| {
                let ticks = ticks(pid)?.checked_sub(before?)?;
                Some((who.to_string(), ticks as f64 / TICKS_PER_SECOND))
            })
            .collect();
        let parts: Vec<String> = used
            .iter()
            .map(|(who, secs)| format!("{who} {:.0}%", secs / wall * 100.0))
            .collect();
        if !parts.is_empty() {
            report
                .cpu
                .push(format!("{phase}: {} (100% = one core)", parts.join(", ")));
        }
        used
    }
}

/// The API server's CPU seconds among what [`Meter::record`] returned.
pub fn server_seconds(used: &[(String, f64)]) -> Option<f64> {
    used.iter()
        .find(|(who, _)| who == "server")
        .map(|(_, s)| *s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_lines() {
        let line =
            "1234 (bosun (srv) x) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 8 0 100 0 0";
        assert_eq!(parse_stat_ticks(line), Some(325));
        assert_eq!(parse_stat_ticks("1 (x) S 1 2"), None);
        assert_eq!(parse_stat_ticks("garbage"), None);
    }

    #[test]
    fn meters_own_process() {
        let meter = Meter::new(Some(std::process::id()), None);
        let snap = meter.snapshot();
        let mut x = 0u64;
        let until = Instant::now() + std::time::Duration::from_millis(30);
        while Instant::now() < until {
            x = x.wrapping_add(1);
        }
        assert!(x > 0);
        let mut report = Report::new("t", "t");
        meter.record(&mut report, "spin", snap);
        assert_eq!(report.cpu.len(), 1);
        assert!(
            report.cpu[0].starts_with("spin: bench client "),
            "{:?}",
            report.cpu
        );
        assert!(report.cpu[0].contains("server "));
    }
}
