//! Resident memory of another process, from `/proc/PID/status`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum RssError {
    #[error("cannot read /proc/{pid}/status: {source}")]
    Read {
        pid: u32,
        #[source]
        source: std::io::Error,
    },
    #[error("/proc/{pid}/status has no VmRSS line")]
    Missing { pid: u32 },
}

/// `VmRSS` of a `/proc/PID/status` text, in bytes.
pub fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let mut fields = line["VmRSS:".len()..].split_whitespace();
    let value: u64 = fields.next()?.parse().ok()?;
    let unit = match fields.next() {
        Some("kB") | None => 1024,
        Some("mB") => 1024 * 1024,
        Some(_) => return None,
    };
    Some(value * unit)
}

/// The process's resident set size in bytes.
pub fn vm_rss(pid: u32) -> Result<u64, RssError> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|source| RssError::Read { pid, source })?;
    parse_vm_rss(&status).ok_or(RssError::Missing { pid })
}

/// Samples a process's RSS every 20 ms until stopped; reports the peak.
pub struct Sampler {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
    peak: Arc<AtomicU64>,
}

impl Sampler {
    pub fn start(pid: u32) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(AtomicU64::new(0));
        let task = {
            let (stop, peak) = (stop.clone(), peak.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    if let Ok(rss) = vm_rss(pid) {
                        peak.fetch_max(rss, Ordering::Relaxed);
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            })
        };
        Sampler { stop, task, peak }
    }

    pub async fn stop(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.task.await;
        self.peak.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_status_lines() {
        let cases = [
            (
                "Name:\tbosun\nVmPeak:\t  999 kB\nVmRSS:\t  123456 kB\n",
                Some(123456 * 1024),
            ),
            ("VmRSS: 7\n", Some(7 * 1024)),
            ("Name: x\n", None),
            ("VmRSS: lots kB\n", None),
            ("VmRSS: 1 GB\n", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_vm_rss(text), want, "{text:?}");
        }
    }

    #[tokio::test]
    async fn reads_own_process() {
        let pid = std::process::id();
        assert!(vm_rss(pid).unwrap() > 0);
        let sampler = Sampler::start(pid);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(sampler.stop().await > 0);
        assert!(matches!(vm_rss(u32::MAX), Err(RssError::Read { .. })));
    }
}
