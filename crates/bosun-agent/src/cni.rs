//! The CNI network containerd's CRI plugin sets up for every sandbox:
//! a `cni0` bridge (gateway, hairpin) with host-local addresses from the
//! node's podCIDR, and portmap for hostPorts. containerd adds loopback
//! itself. Traffic leaving the pod range is masqueraded by one rule the
//! agent installs for the whole range (as flannel does), not by the bridge
//! plugin's `ipMasq`, which adds a chain per pod and runs iptables several
//! times per sandbox against an ever longer ruleset: measured, that was a
//! third of the CPU of starting a pod.

use std::net::Ipv4Addr;
use std::path::Path;

use serde_json::json;

use crate::error::AgentError;

/// The file name of the one conflist the agent writes.
pub const CONFLIST: &str = "10-bosun.conflist";
/// The bridge pods attach to unless `--cni-bridge` names another.
pub const DEFAULT_BRIDGE: &str = "cni0";
/// The MTU of pod interfaces (this machine's eth0 has 1400).
pub const DEFAULT_MTU: u32 = 1400;

/// An IPv4 pod range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PodCidr {
    pub network: Ipv4Addr,
    pub prefix: u8,
}

impl PodCidr {
    pub fn parse(s: &str) -> Result<Self, AgentError> {
        let bad = || AgentError::Config(format!("invalid IPv4 pod CIDR {s:?}"));
        let (addr, prefix) = s.split_once('/').ok_or_else(bad)?;
        let addr: Ipv4Addr = addr.parse().map_err(|_| bad())?;
        let prefix: u8 = prefix.parse().map_err(|_| bad())?;
        if !(8..=30).contains(&prefix) {
            return Err(bad());
        }
        let mask = u32::MAX << (32 - prefix);
        Ok(PodCidr {
            network: Ipv4Addr::from(u32::from(addr) & mask),
            prefix,
        })
    }

    /// The bridge's address: the range's first host address.
    pub fn gateway(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network) + 1)
    }
}

impl std::fmt::Display for PodCidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// The conflist for `cidr`, with host-local state under `ipam_dir`.
pub fn conflist(bridge: &str, cidr: &PodCidr, ipam_dir: &Path, mtu: u32) -> serde_json::Value {
    json!({
        "cniVersion": "1.0.0",
        "name": "bosun-pods",
        "plugins": [
            {
                "type": "bridge",
                "bridge": bridge,
                "isGateway": true,
                "ipMasq": false,
                "hairpinMode": true,
                "mtu": mtu,
                "ipam": {
                    "type": "host-local",
                    "dataDir": ipam_dir.display().to_string(),
                    "ranges": [[{"subnet": cidr.to_string(), "gateway": cidr.gateway().to_string()}]],
                    "routes": [{"dst": "0.0.0.0/0"}]
                }
            },
            {"type": "portmap", "capabilities": {"portMappings": true}}
        ]
    })
}

/// Writes the conflist into `conf_dir` (replacing an earlier one).
pub fn write(
    conf_dir: &Path,
    ipam_dir: &Path,
    bridge: &str,
    cidr: &PodCidr,
) -> Result<(), AgentError> {
    let path = conf_dir.join(CONFLIST);
    let text = serde_json::to_string_pretty(&conflist(bridge, cidr, ipam_dir, DEFAULT_MTU))
        .map_err(|e| AgentError::Config(format!("cannot encode the CNI config: {e}")))?;
    // Written beside and renamed, so containerd never reads half a file.
    let tmp = conf_dir.join(format!(".{CONFLIST}.tmp"));
    std::fs::write(&tmp, text).map_err(|source| AgentError::Io {
        what: "write CNI config",
        path: tmp.clone(),
        source,
    })?;
    std::fs::rename(&tmp, &path).map_err(|source| AgentError::Io {
        what: "write CNI config",
        path,
        source,
    })
}

/// The comment that marks the agent's masquerade rule.
const MASQUERADE_COMMENT: &str = "bosun: masquerade pod traffic leaving the pod range";

/// The POSTROUTING rule (iptables arguments after the chain) that
/// masquerades traffic from the pod range to anywhere outside it.
pub fn masquerade_rule(cidr: &PodCidr) -> Vec<String> {
    let cidr = cidr.to_string();
    [
        "-s",
        &cidr,
        "!",
        "-d",
        &cidr,
        "-m",
        "comment",
        "--comment",
        MASQUERADE_COMMENT,
        "-j",
        "MASQUERADE",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// Adds the masquerade rule unless it is there (`iptables -C` first).
pub async fn ensure_masquerade(iptables: &str, cidr: &PodCidr) -> Result<(), AgentError> {
    let rule = masquerade_rule(cidr);
    let run = |op: &'static str| {
        let mut cmd = tokio::process::Command::new(iptables);
        cmd.args(["-w", "-t", "nat", op, "POSTROUTING"]).args(&rule);
        cmd
    };
    let exists = run("-C")
        .output()
        .await
        .map_err(|e| AgentError::Config(format!("cannot run {iptables}: {e}")))?;
    if exists.status.success() {
        return Ok(());
    }
    let out = run("-A")
        .output()
        .await
        .map_err(|e| AgentError::Config(format!("cannot run {iptables}: {e}")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(AgentError::Config(format!(
            "cannot add the pod masquerade rule: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_normalises() {
        let c = PodCidr::parse("10.244.3.7/24").unwrap();
        assert_eq!(c.to_string(), "10.244.3.0/24");
        assert_eq!(c.gateway(), Ipv4Addr::new(10, 244, 3, 1));
        assert!(PodCidr::parse("10.244.0.0").is_err());
        assert!(PodCidr::parse("10.244.0.0/31").is_err());
        assert!(PodCidr::parse("fd00::/64").is_err());
    }

    #[test]
    fn conflist_shape() {
        let c = PodCidr::parse("10.244.0.0/24").unwrap();
        let v = conflist(DEFAULT_BRIDGE, &c, Path::new("/d/ipam"), 1400);
        assert_eq!(v["plugins"][0]["type"], "bridge");
        // Masquerading is one rule for the range, not the plugin's per pod.
        assert_eq!(v["plugins"][0]["ipMasq"], false);
        let rule = masquerade_rule(&c).join(" ");
        assert!(
            rule.starts_with("-s 10.244.0.0/24 ! -d 10.244.0.0/24 "),
            "{rule}"
        );
        assert!(rule.ends_with("-j MASQUERADE"));
        assert_eq!(v["plugins"][0]["ipam"]["dataDir"], "/d/ipam");
        assert_eq!(
            v["plugins"][0]["ipam"]["ranges"][0][0]["gateway"],
            "10.244.0.1"
        );
        assert_eq!(v["plugins"][1]["capabilities"]["portMappings"], true);
    }

    #[test]
    fn writes_file() {
        let dir = tempfile::tempdir().unwrap();
        let c = PodCidr::parse("10.244.0.0/24").unwrap();
        write(dir.path(), Path::new("/x"), DEFAULT_BRIDGE, &c).unwrap();
        let text = std::fs::read_to_string(dir.path().join(CONFLIST)).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            v["plugins"][0]["ipam"]["ranges"][0][0]["subnet"],
            "10.244.0.0/24"
        );
    }
}
