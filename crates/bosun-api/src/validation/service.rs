//! Service checks (create and update).

use super::access::{arr, child, index, int, s};
use super::container::{validate_port_num_or_name, validate_protocol};
use super::errors::FieldError;
use super::meta::validate_labels;
use super::names::{is_dns1123_label, is_dns1123_subdomain, is_ip, is_valid_port_num};
use serde_json::{json, Value};
use std::collections::HashSet;

fn is_headless(spec: &Value) -> bool {
    s(spec, "clusterIP") == "None"
}

/// Validate a Service's spec.
pub fn validate_service_spec(o: &Value, errs: &mut Vec<FieldError>) {
    static NULL: Value = Value::Null;
    let spec = o.get("spec").unwrap_or(&NULL);
    let sp = "spec";
    let ty = s(spec, "type");
    let ports = arr(spec, "ports");
    if ports.is_empty() && !is_headless(spec) && ty != "ExternalName" {
        errs.push(FieldError::required("spec.ports", ""));
    }
    if ty == "ExternalName" {
        if !arr(spec, "clusterIPs").is_empty() {
            errs.push(FieldError::forbidden(
                "spec.clusterIPs",
                "may not be set for ExternalName services",
            ));
        }
        let cname = s(spec, "externalName").trim_end_matches('.');
        if cname.is_empty() {
            errs.push(FieldError::required("spec.externalName", ""));
        } else {
            for m in is_dns1123_subdomain(cname) {
                errs.push(FieldError::invalid("spec.externalName", cname, m));
            }
        }
    }
    let cip = s(spec, "clusterIP");
    if !cip.is_empty() && cip != "None" && !is_ip(cip) {
        errs.push(FieldError::invalid(
            "spec.clusterIPs[0]",
            cip,
            "must be empty, 'None', or a valid IP address",
        ));
    }
    let mut names = HashSet::new();
    let multi = ports.len() > 1;
    for (i, port) in ports.iter().enumerate() {
        let pp = index("spec.ports", i);
        let name = s(port, "name");
        if multi && name.is_empty() {
            errs.push(FieldError::required(child(&pp, "name"), ""));
        } else if !name.is_empty() {
            for m in is_dns1123_label(name) {
                errs.push(FieldError::invalid(child(&pp, "name"), name, m));
            }
            if !names.insert(name.to_string()) {
                errs.push(FieldError::duplicate(child(&pp, "name"), name));
            }
        }
        let pn = int(port, "port").unwrap_or(0);
        for m in is_valid_port_num(pn) {
            errs.push(FieldError::invalid(child(&pp, "port"), pn, m));
        }
        validate_protocol(s(port, "protocol"), &child(&pp, "protocol"), errs);
        validate_port_num_or_name(port.get("targetPort"), &child(&pp, "targetPort"), errs);
        if let Some(np) = int(port, "nodePort").filter(|n| *n != 0) {
            for m in is_valid_port_num(np) {
                errs.push(FieldError::invalid(child(&pp, "nodePort"), np, m));
            }
        }
    }
    if spec.get("selector").is_some() {
        validate_labels(spec.get("selector"), &child(sp, "selector"), errs);
    }
    match s(spec, "sessionAffinity") {
        "ClientIP" | "None" => {}
        "" => errs.push(FieldError::required("spec.sessionAffinity", "")),
        other => errs.push(FieldError::not_supported(
            "spec.sessionAffinity",
            other,
            &["ClientIP", "None"],
        )),
    }
    if s(spec, "sessionAffinity") == "ClientIP" {
        if let Some(t) = spec
            .get("sessionAffinityConfig")
            .and_then(|c| c.get("clientIP"))
            .and_then(|c| c.get("timeoutSeconds"))
            .and_then(Value::as_i64)
        {
            if !(1..=86400).contains(&t) {
                errs.push(FieldError::invalid(
                    "spec.sessionAffinityConfig.clientIP.timeoutSeconds",
                    t,
                    "must be greater than 0 and less than 86400",
                ));
            }
        }
    }
    match ty {
        "ClusterIP" | "ExternalName" | "LoadBalancer" | "NodePort" => {}
        "" => errs.push(FieldError::required("spec.type", "")),
        other => errs.push(FieldError::not_supported(
            "spec.type",
            other,
            &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"],
        )),
    }
    if ty == "ClusterIP" {
        for (i, port) in ports.iter().enumerate() {
            if int(port, "nodePort").is_some_and(|n| n != 0) {
                errs.push(FieldError::forbidden(
                    child(&index("spec.ports", i), "nodePort"),
                    "may not be used when `type` is 'ClusterIP'",
                ));
            }
        }
    }
    let mut node_ports = HashSet::new();
    let mut seen = HashSet::new();
    for (i, port) in ports.iter().enumerate() {
        let proto = s(port, "protocol").to_string();
        if let Some(np) = int(port, "nodePort").filter(|n| *n != 0) {
            if !node_ports.insert((proto.clone(), np)) {
                errs.push(FieldError::duplicate(
                    child(&index("spec.ports", i), "nodePort"),
                    np,
                ));
            }
        }
        let pn = int(port, "port").unwrap_or(0);
        if !seen.insert((proto.clone(), pn)) {
            errs.push(FieldError::duplicate(
                index("spec.ports", i),
                json!({"port": pn, "protocol": proto}),
            ));
        }
    }
    for (f, valid) in [
        ("externalTrafficPolicy", &["Cluster", "Local"]),
        ("internalTrafficPolicy", &["Cluster", "Local"]),
    ] {
        if let Some(v) = spec.get(f).and_then(Value::as_str) {
            if !valid.contains(&v) {
                errs.push(FieldError::not_supported(child(sp, f), v, valid));
            }
        }
    }
    if let Some(v) = spec.get("externalTrafficPolicy").and_then(Value::as_str) {
        if !v.is_empty()
            && !matches!(ty, "NodePort" | "LoadBalancer")
            && arr(spec, "externalIPs").is_empty()
        {
            errs.push(FieldError::invalid(
                "spec.externalTrafficPolicy",
                v,
                "may only be set for externally-accessible services",
            ));
        }
    }
    if let Some(v) = spec.get("ipFamilyPolicy").and_then(Value::as_str) {
        let valid = ["PreferDualStack", "RequireDualStack", "SingleStack"];
        if !valid.contains(&v) {
            errs.push(FieldError::not_supported("spec.ipFamilyPolicy", v, &valid));
        }
    }
    for (i, fam) in arr(spec, "ipFamilies").iter().enumerate() {
        let f = fam.as_str().unwrap_or("");
        if f != "IPv4" && f != "IPv6" {
            errs.push(FieldError::not_supported(
                index("spec.ipFamilies", i),
                f,
                &["IPv4", "IPv6"],
            ));
        }
    }
    for (i, ip) in arr(spec, "externalIPs").iter().enumerate() {
        let v = ip.as_str().unwrap_or("");
        if !is_ip(v) {
            errs.push(FieldError::invalid(
                index("spec.externalIPs", i),
                v,
                "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
            ));
        }
    }
}

/// Service update: an allocated clusterIP may not change. An empty new
/// clusterIP means "keep the allocated one" and is not an error.
pub fn validate_service_update(new: &Value, old: &Value, errs: &mut Vec<FieldError>) {
    static NULL: Value = Value::Null;
    let ns = new.get("spec").unwrap_or(&NULL);
    let os = old.get("spec").unwrap_or(&NULL);
    if s(os, "type") == "ExternalName" || s(ns, "type") == "ExternalName" {
        return;
    }
    let oc = s(os, "clusterIP");
    let nc = s(ns, "clusterIP");
    if !oc.is_empty() && !nc.is_empty() && oc != nc {
        let ips = ns.get("clusterIPs").cloned().unwrap_or_else(|| json!([nc]));
        errs.push(FieldError::invalid(
            "spec.clusterIPs[0]",
            ips,
            "may not change once set",
        ));
    }
}
