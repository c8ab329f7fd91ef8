//! Container probes (kubelet's prober/): startup, liveness and readiness
//! probes with exec, httpGet, tcpSocket and grpc actions.
//!
//! `manager.rs` keeps one worker task per (pod, container, probe type)
//! (`worker.rs`), started and retargeted from each pod sync; workers run
//! their probe every periodSeconds and put results in a cache keyed by
//! container id. A result that changes wakes the pod's worker (through
//! the channel the agent's main loop reads), whose sync reads the cache:
//! readiness sets containerStatuses[].ready and the Ready conditions,
//! startup sets `started`, and a failed liveness or startup probe kills
//! the container (restarted per restartPolicy). `action.rs` runs one
//! action; lifecycle hooks use it too.

use std::fmt;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Container, Probe};

pub mod action;
pub mod grpc;
pub mod manager;
mod tls;
pub mod worker;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProbeType {
    Liveness,
    Readiness,
    Startup,
}

impl fmt::Display for ProbeType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProbeType::Liveness => "Liveness",
            ProbeType::Readiness => "Readiness",
            ProbeType::Startup => "Startup",
        })
    }
}

impl ProbeType {
    pub const ALL: [ProbeType; 3] = [
        ProbeType::Startup,
        ProbeType::Liveness,
        ProbeType::Readiness,
    ];

    /// The container's probe of this type.
    pub fn of(self, c: &Container) -> Option<&Probe> {
        match self {
            ProbeType::Liveness => c.liveness_probe.as_ref(),
            ProbeType::Readiness => c.readiness_probe.as_ref(),
            ProbeType::Startup => c.startup_probe.as_ref(),
        }
    }

    /// What a worker reports before its first conclusive run (kubelet:
    /// readiness fails, liveness passes, startup is unknown).
    pub fn initial(self) -> ProbeResult {
        match self {
            ProbeType::Liveness => ProbeResult::Success,
            ProbeType::Readiness => ProbeResult::Failure,
            ProbeType::Startup => ProbeResult::Unknown,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeResult {
    Success,
    Failure,
    Unknown,
}

/// A probe's timing with upstream's defaults applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    pub initial_delay: Duration,
    pub period: Duration,
    pub timeout: Duration,
    pub success_threshold: u32,
    pub failure_threshold: u32,
}

fn secs(v: Option<i32>, default: i32, min: i32) -> Duration {
    let s = v.filter(|s| *s > 0).unwrap_or(default).max(min);
    Duration::from_secs(u64::try_from(s).unwrap_or(0))
}

fn count(v: Option<i32>, default: u32) -> u32 {
    v.and_then(|n| u32::try_from(n).ok())
        .filter(|n| *n > 0)
        .unwrap_or(default)
}

/// initialDelaySeconds 0, periodSeconds 10, timeoutSeconds 1,
/// successThreshold 1, failureThreshold 3.
pub fn timing(p: &Probe) -> Timing {
    Timing {
        initial_delay: secs(p.initial_delay_seconds, 0, 0),
        period: secs(p.period_seconds, 10, 1),
        timeout: secs(p.timeout_seconds, 1, 1),
        success_threshold: count(p.success_threshold, 1),
        failure_threshold: count(p.failure_threshold, 3),
    }
}

/// Whether a container may carry probes: regular containers and
/// restartable (sidecar) init containers.
pub fn is_sidecar(c: &Container) -> bool {
    c.restart_policy.as_deref() == Some("Always")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn upstream_defaults() {
        let p: Probe = serde_json::from_value(json!({"exec": {"command": ["true"]}})).unwrap();
        let t = timing(&p);
        assert_eq!(t.initial_delay, Duration::ZERO);
        assert_eq!(t.period, Duration::from_secs(10));
        assert_eq!(t.timeout, Duration::from_secs(1));
        assert_eq!((t.success_threshold, t.failure_threshold), (1, 3));
        let p: Probe = serde_json::from_value(
            json!({"periodSeconds": 2, "timeoutSeconds": 5, "initialDelaySeconds": 3, "failureThreshold": 1, "successThreshold": 2}),
        )
        .unwrap();
        let t = timing(&p);
        assert_eq!(t.period, Duration::from_secs(2));
        assert_eq!(t.timeout, Duration::from_secs(5));
        assert_eq!(t.initial_delay, Duration::from_secs(3));
        assert_eq!((t.success_threshold, t.failure_threshold), (2, 1));
    }
}
