//! What to simulate: the node shape (`SimConfig`) and the parsers behind
//! the `bosun sim` flags (`--labels`, `--taints`, `--extended-resources`,
//! durations such as `sim.bosun.dev/complete-after`).

use std::collections::BTreeMap;
use std::time::Duration;

use bosun_core::names::{is_dns1123_subdomain, is_qualified_name, is_valid_label_value};
use bosun_core::quantity::Quantity;

/// Why a configuration value is rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid label {input:?}: {reason}")]
    Label { input: String, reason: String },
    #[error("invalid taint {input:?}: {reason}")]
    Taint { input: String, reason: String },
    #[error("invalid extended resource {input:?}: {reason}")]
    ExtendedResource { input: String, reason: String },
    #[error("invalid quantity {value:?} for {field}: {reason}")]
    Quantity {
        field: String,
        value: String,
        reason: String,
    },
    #[error(
        "invalid duration {input:?}: expected a number with a unit such as 500ms, 5s, 2m or 1h"
    )]
    Duration { input: String },
    #[error("invalid node name {name:?}: {reason}")]
    NodeName { name: String, reason: String },
    #[error("{0}")]
    Range(String),
}

/// The effect of a taint, as the API spells it.
pub const TAINT_EFFECTS: [&str; 3] = ["NoSchedule", "PreferNoSchedule", "NoExecute"];

/// A node taint (`key[=value]:Effect`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taint {
    pub key: String,
    pub value: Option<String>,
    pub effect: String,
}

/// Most nodes one simulator can run: each gets a distinct 10.x.y.0/24.
pub const MAX_NODES: usize = 1 << 16;

/// The shape and timing of the simulated nodes.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// How many nodes, named `{name_prefix}{i}` for i in 0..nodes.
    pub nodes: usize,
    pub name_prefix: String,
    pub cpu: String,
    pub memory: String,
    pub pods: String,
    pub ephemeral_storage: String,
    /// Extra capacity such as `nvidia.com/gpu=8`.
    pub extended_resources: BTreeMap<String, String>,
    /// Extra node labels.
    pub labels: BTreeMap<String, String>,
    pub taints: Vec<Taint>,
    /// When set, node i gets `topology.kubernetes.io/zone=zone-{i % zones}`.
    pub zones: Option<u32>,
    pub lease_duration_seconds: i32,
    /// How often each node's Lease is renewed.
    pub lease_interval: Duration,
    /// How often each node's Ready condition heartbeat is refreshed.
    pub status_interval: Duration,
    /// Node and Lease creations in flight while registering.
    pub register_concurrency: usize,
    /// Lease renewals and node status updates in flight.
    pub heartbeat_concurrency: usize,
    /// Pod status writes and deletions in flight.
    pub pod_workers: usize,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            nodes: 1,
            name_prefix: "sim-node-".into(),
            cpu: "32".into(),
            memory: "256Gi".into(),
            pods: "110".into(),
            ephemeral_storage: "1Ti".into(),
            extended_resources: BTreeMap::new(),
            labels: BTreeMap::new(),
            taints: Vec::new(),
            zones: None,
            lease_duration_seconds: 40,
            lease_interval: Duration::from_secs(10),
            status_interval: Duration::from_secs(300),
            register_concurrency: 32,
            heartbeat_concurrency: 16,
            pod_workers: 32,
        }
    }
}

impl SimConfig {
    /// Checks everything the API server would otherwise reject node by node.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.nodes > MAX_NODES {
            return Err(ConfigError::Range(format!(
                "at most {MAX_NODES} nodes can be simulated, {} asked",
                self.nodes
            )));
        }
        if self.zones == Some(0) {
            return Err(ConfigError::Range("--zones must be at least 1".into()));
        }
        if self.lease_interval.is_zero() || self.status_interval.is_zero() {
            return Err(ConfigError::Range(
                "heartbeat intervals must be positive".into(),
            ));
        }
        if self.register_concurrency == 0
            || self.heartbeat_concurrency == 0
            || self.pod_workers == 0
        {
            return Err(ConfigError::Range("concurrency must be at least 1".into()));
        }
        if self.nodes > 0 {
            let last = format!("{}{}", self.name_prefix, self.nodes - 1);
            let errs = is_dns1123_subdomain(&last);
            if !errs.is_empty() {
                return Err(ConfigError::NodeName {
                    name: last,
                    reason: errs.join("; "),
                });
            }
        }
        for (field, value) in [
            ("cpu", &self.cpu),
            ("memory", &self.memory),
            ("pods", &self.pods),
            ("ephemeral-storage", &self.ephemeral_storage),
        ] {
            check_quantity(field, value)?;
        }
        for (name, value) in &self.extended_resources {
            check_quantity(name, value)?;
        }
        for (k, v) in &self.labels {
            check_label(k, v, &format!("{k}={v}"))?;
        }
        Ok(())
    }

    /// The capacity (and allocatable) every node reports.
    pub fn capacity(&self) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        m.insert("cpu".to_string(), self.cpu.clone());
        m.insert("memory".to_string(), self.memory.clone());
        m.insert("pods".to_string(), self.pods.clone());
        m.insert(
            "ephemeral-storage".to_string(),
            self.ephemeral_storage.clone(),
        );
        for (k, v) in &self.extended_resources {
            m.insert(k.clone(), v.clone());
        }
        m
    }
}

fn check_quantity(field: &str, value: &str) -> Result<(), ConfigError> {
    let err = |reason: String| ConfigError::Quantity {
        field: field.to_string(),
        value: value.to_string(),
        reason,
    };
    let q = Quantity::parse(value).map_err(|e| err(e.to_string()))?;
    if q.is_negative() {
        return Err(err("must not be negative".into()));
    }
    Ok(())
}

fn check_label(key: &str, value: &str, input: &str) -> Result<(), ConfigError> {
    let mut errs = is_qualified_name(key);
    errs.extend(is_valid_label_value(value));
    if errs.is_empty() {
        Ok(())
    } else {
        Err(ConfigError::Label {
            input: input.to_string(),
            reason: errs.join("; "),
        })
    }
}

/// The non-empty comma-separated items of a flag value.
fn items(s: &str) -> impl Iterator<Item = &str> {
    s.split(',').map(str::trim).filter(|i| !i.is_empty())
}

/// Parses `k=v,k2=v2` into labels, checking keys and values as the API does.
pub fn parse_labels(s: &str) -> Result<BTreeMap<String, String>, ConfigError> {
    let mut out = BTreeMap::new();
    for item in items(s) {
        let Some((k, v)) = item.split_once('=') else {
            return Err(ConfigError::Label {
                input: item.to_string(),
                reason: "expected key=value".into(),
            });
        };
        check_label(k, v, item)?;
        out.insert(k.to_string(), v.to_string());
    }
    Ok(out)
}

/// Parses `key=value:Effect,key:Effect` (kubectl taint syntax).
pub fn parse_taints(s: &str) -> Result<Vec<Taint>, ConfigError> {
    let mut out: Vec<Taint> = Vec::new();
    for item in items(s) {
        let err = |reason: String| ConfigError::Taint {
            input: item.to_string(),
            reason,
        };
        let Some((kv, effect)) = item.rsplit_once(':') else {
            return Err(err(
                "expected key=value:Effect or key:Effect (Effect one of NoSchedule, PreferNoSchedule, NoExecute)".into(),
            ));
        };
        if !TAINT_EFFECTS.contains(&effect) {
            return Err(err(format!(
                "unknown effect {effect:?}; expected one of NoSchedule, PreferNoSchedule, NoExecute"
            )));
        }
        let (key, value) = match kv.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (kv, None),
        };
        let mut errs = is_qualified_name(key);
        if let Some(v) = value {
            errs.extend(is_valid_label_value(v));
        }
        if !errs.is_empty() {
            return Err(err(errs.join("; ")));
        }
        if out.iter().any(|t| t.key == key && t.effect == effect) {
            return Err(err(format!(
                "duplicate taint for key {key:?} and effect {effect}"
            )));
        }
        out.push(Taint {
            key: key.to_string(),
            value: value.map(str::to_string),
            effect: effect.to_string(),
        });
    }
    Ok(out)
}

/// Parses `nvidia.com/gpu=8,example.com/foo=2`.
pub fn parse_extended_resources(s: &str) -> Result<BTreeMap<String, String>, ConfigError> {
    let mut out = BTreeMap::new();
    for item in items(s) {
        let err = |reason: String| ConfigError::ExtendedResource {
            input: item.to_string(),
            reason,
        };
        let Some((name, value)) = item.split_once('=') else {
            return Err(err("expected name=quantity".into()));
        };
        let errs = is_qualified_name(name);
        if !errs.is_empty() {
            return Err(err(errs.join("; ")));
        }
        if !name.contains('/') {
            return Err(err(
                "extended resource names need a domain prefix, e.g. example.com/foo".into(),
            ));
        }
        check_quantity(name, value).map_err(|e| err(e.to_string()))?;
        out.insert(name.to_string(), value.to_string());
    }
    Ok(out)
}

/// Parses a Go-style duration: one or more `<number><unit>` parts with units
/// ns, us (µs), ms, s, m, h, e.g. `5s`, `500ms`, `2m`, `1m30s`, `1.5s`.
pub fn parse_duration(input: &str) -> Result<Duration, ConfigError> {
    let err = || ConfigError::Duration {
        input: input.to_string(),
    };
    let s = input.trim();
    if s.is_empty() {
        return Err(err());
    }
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let mut rest = s;
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return Err(err());
        }
        let number: f64 = rest[..num_len].parse().map_err(|_| err())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds_per_unit = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(err()),
        };
        rest = &rest[unit_len..];
        total += number * seconds_per_unit;
    }
    Duration::try_from_secs_f64(total).map_err(|_| err())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        for bad in ["", "5", "s", "5x", "-1s", "1..2s", "5 s"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn labels() {
        let l = parse_labels("a=b, example.com/tier=gold,empty=").expect("valid labels");
        assert_eq!(l.get("a").map(String::as_str), Some("b"));
        assert_eq!(l.get("example.com/tier").map(String::as_str), Some("gold"));
        assert_eq!(l.get("empty").map(String::as_str), Some(""));
        assert!(parse_labels("").expect("empty is fine").is_empty());
        assert!(matches!(
            parse_labels("novalue"),
            Err(ConfigError::Label { .. })
        ));
        assert!(matches!(
            parse_labels("bad key=v"),
            Err(ConfigError::Label { .. })
        ));
        assert!(matches!(
            parse_labels("k=bad value!"),
            Err(ConfigError::Label { .. })
        ));
    }

    #[test]
    fn taints() {
        let t = parse_taints("dedicated=gpu:NoSchedule,spot:PreferNoSchedule").expect("valid");
        assert_eq!(
            t,
            vec![
                Taint {
                    key: "dedicated".into(),
                    value: Some("gpu".into()),
                    effect: "NoSchedule".into()
                },
                Taint {
                    key: "spot".into(),
                    value: None,
                    effect: "PreferNoSchedule".into()
                },
            ]
        );
        for bad in [
            "key=value",
            "key=value:Sometimes",
            "bad key:NoSchedule",
            "k=v!:NoExecute",
            "a:NoSchedule,a=b:NoSchedule",
        ] {
            assert!(
                matches!(parse_taints(bad), Err(ConfigError::Taint { .. })),
                "{bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn extended_resources() {
        let r = parse_extended_resources("nvidia.com/gpu=8").expect("valid");
        assert_eq!(r.get("nvidia.com/gpu").map(String::as_str), Some("8"));
        assert!(parse_extended_resources("gpu=8").is_err());
        assert!(parse_extended_resources("nvidia.com/gpu=lots").is_err());
        assert!(parse_extended_resources("nvidia.com/gpu").is_err());
    }

    #[test]
    fn validate() {
        let ok = SimConfig {
            nodes: 3,
            ..SimConfig::default()
        };
        assert!(ok.validate().is_ok());
        let too_many = SimConfig {
            nodes: MAX_NODES + 1,
            ..SimConfig::default()
        };
        assert!(matches!(too_many.validate(), Err(ConfigError::Range(_))));
        let bad_cpu = SimConfig {
            cpu: "lots".into(),
            ..SimConfig::default()
        };
        assert!(matches!(
            bad_cpu.validate(),
            Err(ConfigError::Quantity { .. })
        ));
        let bad_prefix = SimConfig {
            name_prefix: "Sim_".into(),
            ..SimConfig::default()
        };
        assert!(matches!(
            bad_prefix.validate(),
            Err(ConfigError::NodeName { .. })
        ));
        let zero_zones = SimConfig {
            zones: Some(0),
            ..SimConfig::default()
        };
        assert!(zero_zones.validate().is_err());
    }
}
