//! Checks for coordination, discovery, scheduling, policy and events.k8s.io
//! kinds.

use super::access::{arr, child, index, int, opt_s, present, s};
use super::container::validate_protocol;
use super::errors::FieldError;
use super::meta::{
    sort_keys, validate_immutable, validate_label_selector, validate_not_more_than_100_percent,
    validate_positive_int_or_percent,
};
use super::names::{
    is_dns1123_label, is_dns1123_subdomain, is_ipv6, is_valid_port_num, parse_ipv4,
};
use super::pod::validate_preemption_policy;
use serde_json::Value;
use std::collections::HashSet;

static NULL: Value = Value::Null;

/// Lease spec.
pub fn validate_lease(o: &Value, errs: &mut Vec<FieldError>) {
    let sp = o.get("spec").unwrap_or(&NULL);
    if let Some(d) = int(sp, "leaseDurationSeconds") {
        if d <= 0 {
            errs.push(FieldError::invalid(
                "spec.leaseDurationSeconds",
                d,
                "must be greater than 0",
            ));
        }
    }
    if let Some(t) = int(sp, "leaseTransitions") {
        if t < 0 {
            errs.push(FieldError::invalid(
                "spec.leaseTransitions",
                t,
                "must be greater than or equal to 0",
            ));
        }
    }
    if let Some(st) = opt_s(sp, "strategy") {
        if st != "OldestEmulationVersion" {
            errs.push(FieldError::not_supported(
                "spec.strategy",
                st,
                &["OldestEmulationVersion"],
            ));
        }
    }
}

const ADDRESS_TYPES: [&str; 3] = ["FQDN", "IPv4", "IPv6"];

/// EndpointSlice: address type, endpoints and ports.
pub fn validate_endpoint_slice(o: &Value, errs: &mut Vec<FieldError>) {
    let at = s(o, "addressType");
    if at.is_empty() {
        errs.push(FieldError::required("addressType", ""));
    } else if !ADDRESS_TYPES.contains(&at) {
        errs.push(FieldError::not_supported("addressType", at, &ADDRESS_TYPES));
    }
    let eps = arr(o, "endpoints");
    if eps.len() > 1000 {
        errs.push(FieldError::too_many("endpoints", eps.len(), 1000));
    }
    for (i, ep) in eps.iter().enumerate() {
        let ap = child(&index("endpoints", i), "addresses");
        let addrs = arr(ep, "addresses");
        if addrs.is_empty() {
            errs.push(FieldError::required(
                ap.clone(),
                "must contain at least 1 address",
            ));
        } else if addrs.len() > 100 {
            errs.push(FieldError::too_many(ap.clone(), addrs.len(), 100));
        }
        for (j, a) in addrs.iter().enumerate() {
            let v = a.as_str().unwrap_or("");
            let jp = index(&ap, j);
            match at {
                "IPv4" if parse_ipv4(v).is_none() => {
                    errs.push(FieldError::invalid(jp, v, "must be a valid IPv4 address"));
                }
                "IPv6" if !is_ipv6(v) => {
                    errs.push(FieldError::invalid(jp, v, "must be a valid IPv6 address"));
                }
                "FQDN" => {
                    for m in is_dns1123_subdomain(v) {
                        errs.push(FieldError::invalid(jp.clone(), v, m));
                    }
                }
                _ => {}
            }
        }
        if let Some(h) = opt_s(ep, "hostname") {
            for m in is_dns1123_label(h) {
                errs.push(FieldError::invalid(
                    child(&index("endpoints", i), "hostname"),
                    h,
                    m,
                ));
            }
        }
    }
    let ports = arr(o, "ports");
    if ports.len() > 100 {
        errs.push(FieldError::too_many("ports", ports.len(), 100));
    }
    let mut names = HashSet::new();
    for (i, p) in ports.iter().enumerate() {
        let pp = index("ports", i);
        let name = s(p, "name");
        if !name.is_empty() {
            for m in is_dns1123_label(name) {
                errs.push(FieldError::invalid(child(&pp, "name"), name, m));
            }
        }
        if !names.insert(name.to_string()) {
            errs.push(FieldError::duplicate(child(&pp, "name"), name));
        }
        if let Some(n) = int(p, "port") {
            for m in is_valid_port_num(n) {
                errs.push(FieldError::invalid(child(&pp, "port"), n, m));
            }
        }
        if let Some(proto) = opt_s(p, "protocol") {
            validate_protocol(proto, &child(&pp, "protocol"), errs);
        }
    }
}

/// PriorityClass value range and reserved names.
pub fn validate_priority_class(o: &Value, errs: &mut Vec<FieldError>) {
    let name = o.get("metadata").map(|m| s(m, "name")).unwrap_or("");
    let value = int(o, "value").unwrap_or(0);
    let global = o
        .get("globalDefault")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if name.starts_with("system-") {
        let known = [
            ("system-node-critical", 2_000_001_000),
            ("system-cluster-critical", 2_000_000_000),
        ];
        let err = match known.iter().find(|(n, _)| *n == name) {
            None => Some(format!("{name} is not a known system priority class")),
            Some((n, v)) if *v != value => Some(format!("value of {n} PriorityClass must be {v}")),
            Some((n, _)) if global => {
                Some(format!("globalDefault of {n} PriorityClass must be false"))
            }
            _ => None,
        };
        if let Some(e) = err {
            errs.push(FieldError::forbidden(
                "metadata.name",
                format!("priority class names with 'system-' prefix are reserved for system use only. error: {e}"),
            ));
        }
    } else if value > 1_000_000_000 {
        errs.push(FieldError::forbidden(
            "value",
            "maximum allowed value of a user defined priority is 1000000000",
        ));
    }
    if let Some(pp) = present(o, "preemptionPolicy").and_then(Value::as_str) {
        validate_preemption_policy(pp, "preemptionPolicy", errs);
    }
}

/// PriorityClass update: value and preemptionPolicy are immutable (value
/// with upstream's own Forbidden text).
pub fn validate_priority_class_update(new: &Value, old: &Value, errs: &mut Vec<FieldError>) {
    if int(new, "value").unwrap_or(0) != int(old, "value").unwrap_or(0) {
        errs.push(FieldError::forbidden(
            "value",
            "may not be changed in an update.",
        ));
    }
    validate_immutable(
        new.get("preemptionPolicy"),
        old.get("preemptionPolicy"),
        "preemptionPolicy",
        errs,
    );
}

/// PodDisruptionBudget spec.
pub fn validate_pdb(o: &Value, errs: &mut Vec<FieldError>) {
    let sp = o.get("spec").unwrap_or(&NULL);
    let min = present(sp, "minAvailable");
    let max = present(sp, "maxUnavailable");
    if min.is_some() && max.is_some() {
        errs.push(FieldError::invalid(
            "spec",
            sort_keys(sp.clone()),
            "minAvailable and maxUnavailable cannot be both set",
        ));
    }
    for (f, v) in [("minAvailable", min), ("maxUnavailable", max)] {
        if v.is_some() {
            let p = child("spec", f);
            validate_positive_int_or_percent(v, &p, errs);
            validate_not_more_than_100_percent(v, &p, errs);
        }
    }
    validate_label_selector(sp.get("selector"), "spec.selector", errs);
    if let Some(pol) = opt_s(sp, "unhealthyPodEvictionPolicy") {
        let valid = ["AlwaysAllow", "IfHealthyBudget"];
        if !valid.contains(&pol) {
            errs.push(FieldError::not_supported(
                "spec.unhealthyPodEvictionPolicy",
                pol,
                &valid,
            ));
        }
    }
}

/// events.k8s.io/v1 Event (field paths in upstream's internal names).
pub fn validate_events_event(o: &Value, errs: &mut Vec<FieldError>) {
    if present(o, "eventTime").is_none() {
        errs.push(FieldError::required("eventTime", ""));
    }
    let ty = s(o, "type");
    if ty != "Normal" && ty != "Warning" {
        errs.push(FieldError::invalid(
            "type",
            "",
            format!("has invalid value: {ty}"),
        ));
    }
    for f in ["deprecatedFirstTimestamp", "deprecatedLastTimestamp"] {
        if present(o, f).is_some() {
            let internal = if f.contains("First") {
                "firstTimestamp"
            } else {
                "lastTimestamp"
            };
            errs.push(FieldError::invalid(internal, "", "needs to be unset"));
        }
    }
    if int(o, "deprecatedCount").is_some_and(|c| c != 0) {
        errs.push(FieldError::invalid("count", "", "needs to be unset"));
    }
    if let Some(src) = present(o, "deprecatedSource") {
        if !s(src, "component").is_empty() || !s(src, "host").is_empty() {
            errs.push(FieldError::invalid("source", "", "needs to be unset"));
        }
    }
    super::core::validate_reporting(o, "reportingController", "note", errs);
}
