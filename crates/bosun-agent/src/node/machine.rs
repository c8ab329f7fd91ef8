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

/// kubelet's default hard eviction thresholds: memory.available < 100Mi,
/// nodefs.available < 10%.
pub const MEMORY_AVAILABLE_MIN: u64 = 100 * 1024 * 1024;
pub const NODEFS_AVAILABLE_MIN_PERCENT: u64 = 10;

/// (memory pressure, disk pressure) of the machine now.
pub fn pressure(data_dir: &Path) -> (bool, bool) {
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| parse_mem_available(&t))
        .is_some_and(|avail| avail < MEMORY_AVAILABLE_MIN);
    let disk = rustix::fs::statvfs(data_dir).is_ok_and(|s| {
        s.f_blocks > 0 && s.f_bavail.saturating_mul(100) / s.f_blocks < NODEFS_AVAILABLE_MIN_PERCENT
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
        assert!(!pressure(Path::new("/")).0);
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
