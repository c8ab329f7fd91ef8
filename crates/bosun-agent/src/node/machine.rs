//! Facts about the machine the agent reports in its Node: capacity,
//! addresses and nodeInfo.

use std::net::{Ipv4Addr, UdpSocket};
use std::path::Path;

/// What the machine has and is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineInfo {
    pub cpus: u64,
    pub memory_bytes: u64,
    pub ephemeral_storage_bytes: u64,
    pub hostname: String,
    pub kernel_version: String,
    pub os_image: String,
    pub machine_id: String,
    pub boot_id: String,
    pub internal_ip: Option<Ipv4Addr>,
}

/// `MemTotal` of /proc/meminfo, in bytes.
pub fn parse_meminfo(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// `PRETTY_NAME` of /etc/os-release.
pub fn parse_os_release(text: &str) -> Option<String> {
    let line = text.lines().find(|l| l.starts_with("PRETTY_NAME="))?;
    Some(line["PRETTY_NAME=".len()..].trim_matches('"').to_string())
}

fn read_trimmed(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// The source address the kernel picks for outside traffic (no packet is
/// sent: connecting a UDP socket only chooses a route).
pub fn default_ipv4() -> Option<Ipv4Addr> {
    let sock = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).ok()?;
    sock.connect((Ipv4Addr::new(10, 255, 255, 254), 9)).ok()?;
    match sock.local_addr().ok()?.ip() {
        std::net::IpAddr::V4(ip) if !ip.is_unspecified() => Some(ip),
        _ => None,
    }
}

impl MachineInfo {
    pub fn gather(data_dir: &Path) -> Self {
        let uname = rustix::system::uname();
        let storage = rustix::fs::statvfs(data_dir)
            .map(|s| s.f_blocks.saturating_mul(s.f_frsize))
            .unwrap_or(0);
        MachineInfo {
            cpus: std::thread::available_parallelism()
                .map(|n| n.get() as u64)
                .unwrap_or(1),
            memory_bytes: std::fs::read_to_string("/proc/meminfo")
                .ok()
                .and_then(|t| parse_meminfo(&t))
                .unwrap_or(0),
            ephemeral_storage_bytes: storage,
            hostname: uname.nodename().to_string_lossy().to_lowercase(),
            kernel_version: uname.release().to_string_lossy().to_string(),
            os_image: std::fs::read_to_string("/etc/os-release")
                .ok()
                .and_then(|t| parse_os_release(&t))
                .unwrap_or_else(|| "Linux".into()),
            machine_id: read_trimmed("/etc/machine-id"),
            boot_id: read_trimmed("/proc/sys/kernel/random/boot_id"),
            internal_ip: default_ipv4(),
        }
    }
}

/// `MemAvailable` of /proc/meminfo, in bytes.
pub fn parse_mem_available(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// The hard eviction thresholds that set the pressure conditions
/// (kubelet's `--eviction-hard`; defaults memory.available<100Mi,
/// nodefs.available<10%).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    pub memory_available_bytes: u64,
    pub nodefs_available_percent: u64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            memory_available_bytes: 100 * 1024 * 1024,
            nodefs_available_percent: 10,
        }
    }
}

impl Thresholds {
    /// Parses `memory.available<100Mi,nodefs.available<10%` (signals not
    /// given keep their defaults).
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut t = Thresholds::default();
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (signal, value) = item.split_once('<').ok_or_else(|| {
                format!("invalid eviction threshold {item:?} (want signal<value)")
            })?;
            match signal.trim() {
                "memory.available" => {
                    t.memory_available_bytes =
                        crate::kuberuntime::config::memory_bytes(value.trim())
                            .and_then(|b| u64::try_from(b).ok())
                            .ok_or_else(|| format!("invalid quantity {value:?}"))?;
                }
                "nodefs.available" => {
                    t.nodefs_available_percent = value
                        .trim()
                        .strip_suffix('%')
                        .and_then(|p| p.parse().ok())
                        .filter(|p| *p <= 100)
                        .ok_or_else(|| format!("invalid percentage {value:?}"))?;
                }
                other => return Err(format!("unsupported eviction signal {other:?}")),
            }
        }
        Ok(t)
    }
}

/// (memory pressure, disk pressure) of the machine now.
pub fn pressure(data_dir: &Path, t: &Thresholds) -> (bool, bool) {
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| parse_mem_available(&text))
        .is_some_and(|avail| avail < t.memory_available_bytes);
    let disk = rustix::fs::statvfs(data_dir).is_ok_and(|s| {
        s.f_blocks > 0 && s.f_bavail.saturating_mul(100) / s.f_blocks < t.nodefs_available_percent
    });
    (memory, disk)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_files() {
        assert_eq!(
            parse_meminfo("MemTotal:       16318164 kB\nMemFree: 1 kB\n"),
            Some(16318164 * 1024)
        );
        assert_eq!(parse_meminfo("MemFree: 1 kB"), None);
        assert_eq!(
            parse_os_release("NAME=\"Debian\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n")
                .as_deref(),
            Some("Debian GNU/Linux 12 (bookworm)")
        );
    }

    #[test]
    fn mem_available() {
        let text = "MemTotal: 2048 kB\nMemAvailable:      1024 kB\n";
        assert_eq!(parse_mem_available(text), Some(1024 * 1024));
        // This machine is not under pressure while the tests run.
        // Nothing is ever below a zero threshold.
        let none = Thresholds {
            memory_available_bytes: 0,
            nodefs_available_percent: 0,
        };
        assert_eq!(pressure(Path::new("/"), &none), (false, false));
        let all = Thresholds {
            memory_available_bytes: u64::MAX,
            nodefs_available_percent: 100,
        };
        assert!(pressure(Path::new("/"), &all).0);
    }

    #[test]
    fn eviction_thresholds() {
        assert_eq!(Thresholds::parse("").unwrap(), Thresholds::default());
        let t = Thresholds::parse("memory.available<1Gi, nodefs.available<5%").unwrap();
        assert_eq!(
            (t.memory_available_bytes, t.nodefs_available_percent),
            (1 << 30, 5)
        );
        assert!(Thresholds::parse("nodefs.available<5").is_err());
        assert!(Thresholds::parse("pid.available<5%").is_err());
        assert!(Thresholds::parse("memory.available=1Gi").is_err());
    }

    #[test]
    fn gathers_this_machine() {
        let m = MachineInfo::gather(Path::new("/"));
        assert!(m.cpus >= 1);
        assert!(m.memory_bytes > 0);
        assert!(m.ephemeral_storage_bytes > 0);
        assert!(!m.kernel_version.is_empty());
    }
}
