//! Container-level checks of a PodSpec: names, images, ports, env, mounts,
//! probes, lifecycle hooks and resource requirements.

use super::access::{arr, child, index, int, key, obj, opt_s, present, s};
use super::errors::FieldError;
use super::meta::validate_nonnegative;
use super::names::{
    is_dns1123_label, is_env_var_name, is_http_header_name, is_qualified_name, is_valid_port_name,
    is_valid_port_num,
};
use super::quantity::Quantity;
use serde_json::Value;
use std::collections::HashSet;

/// Checks shared by every container. `volumes` are the names of valid pod
/// volumes.
pub fn validate_container_common(
    c: &Value,
    volumes: &HashSet<String>,
    p: &str,
    errs: &mut Vec<FieldError>,
) {
    let name = s(c, "name");
    if name.is_empty() {
        errs.push(FieldError::required(child(p, "name"), ""));
    } else {
        for msg in is_dns1123_label(name) {
            errs.push(FieldError::invalid(child(p, "name"), name, msg));
        }
    }
    if s(c, "image").is_empty() {
        errs.push(FieldError::required(child(p, "image"), ""));
    }
    match s(c, "terminationMessagePolicy") {
        "File" | "FallbackToLogsOnError" => {}
        "" => errs.push(FieldError::required(
            child(p, "terminationMessagePolicy"),
            "",
        )),
        other => errs.push(FieldError::not_supported(
            child(p, "terminationMessagePolicy"),
            other,
            &["File", "FallbackToLogsOnError"],
        )),
    }
    validate_ports(arr(c, "ports"), &child(p, "ports"), errs);
    validate_env(arr(c, "env"), &child(p, "env"), errs);
    validate_env_from(arr(c, "envFrom"), &child(p, "envFrom"), errs);
    validate_volume_mounts(
        arr(c, "volumeMounts"),
        volumes,
        &child(p, "volumeMounts"),
        errs,
    );
    match s(c, "imagePullPolicy") {
        "Always" | "IfNotPresent" | "Never" => {}
        "" => errs.push(FieldError::required(child(p, "imagePullPolicy"), "")),
        other => errs.push(FieldError::not_supported(
            child(p, "imagePullPolicy"),
            other,
            &["Always", "IfNotPresent", "Never"],
        )),
    }
    if let Some(r) = present(c, "resources") {
        validate_resource_requirements(r, &child(p, "resources"), errs);
    }
}

/// Probes, lifecycle and restartPolicy for regular containers.
pub fn validate_regular_container_extras(c: &Value, p: &str, errs: &mut Vec<FieldError>) {
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(pr) = present(c, probe) {
            let pp = child(p, probe);
            validate_probe(pr, &pp, errs);
            if probe != "readinessProbe" {
                if let Some(st) = int(pr, "successThreshold") {
                    if st != 1 {
                        errs.push(FieldError::invalid(
                            child(&pp, "successThreshold"),
                            st,
                            "must be 1",
                        ));
                    }
                }
            }
        }
    }
    validate_lifecycle(c, p, errs);
    if present(c, "restartPolicy").is_some() {
        errs.push(FieldError::forbidden(
            child(p, "restartPolicy"),
            "may not be set for non-init containers",
        ));
    }
}

/// Init-container rules: restartPolicy only `Always`; probes only for
/// restartable (sidecar) init containers.
pub fn validate_init_container_extras(c: &Value, p: &str, errs: &mut Vec<FieldError>) {
    let restartable = match opt_s(c, "restartPolicy") {
        None => false,
        Some("Always") => true,
        Some(other) => {
            errs.push(FieldError::not_supported(
                child(p, "restartPolicy"),
                other,
                &["Always"],
            ));
            false
        }
    };
    if restartable {
        validate_regular_container_extras_without_restart(c, p, errs);
    } else {
        for (probe, what) in [
            ("lifecycle", "lifecycle"),
            ("livenessProbe", "livenessProbe"),
            ("readinessProbe", "readinessProbe"),
            ("startupProbe", "startupProbe"),
        ] {
            if present(c, probe).is_some() {
                errs.push(FieldError::forbidden(
                    child(p, what),
                    "may not be set for init containers without restartPolicy=Always",
                ));
            }
        }
    }
}

fn validate_regular_container_extras_without_restart(
    c: &Value,
    p: &str,
    errs: &mut Vec<FieldError>,
) {
    // Sidecars take all three probes; their readiness counts toward the
    // pod's (KEP-753).
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(pr) = present(c, probe) {
            validate_probe(pr, &child(p, probe), errs);
        }
    }
    validate_lifecycle(c, p, errs);
}

fn validate_lifecycle(c: &Value, p: &str, errs: &mut Vec<FieldError>) {
    if let Some(l) = present(c, "lifecycle") {
        let lp = child(p, "lifecycle");
        for hook in ["postStart", "preStop"] {
            if let Some(h) = present(l, hook) {
                validate_handler(h, &child(&lp, hook), errs);
            }
        }
    }
}

fn validate_ports(ports: &[Value], p: &str, errs: &mut Vec<FieldError>) {
    let mut names = HashSet::new();
    for (i, port) in ports.iter().enumerate() {
        let ip = index(p, i);
        let name = s(port, "name");
        if !name.is_empty() {
            let msgs = is_valid_port_name(name);
            if !msgs.is_empty() {
                for m in msgs {
                    errs.push(FieldError::invalid(child(&ip, "name"), name, m));
                }
            } else if !names.insert(name.to_string()) {
                errs.push(FieldError::duplicate(child(&ip, "name"), name));
            }
        }
        match int(port, "containerPort") {
            None | Some(0) => errs.push(FieldError::required(child(&ip, "containerPort"), "")),
            Some(n) => {
                for m in is_valid_port_num(n) {
                    errs.push(FieldError::invalid(child(&ip, "containerPort"), n, m));
                }
            }
        }
        if let Some(h) = int(port, "hostPort").filter(|h| *h != 0) {
            for m in is_valid_port_num(h) {
                errs.push(FieldError::invalid(child(&ip, "hostPort"), h, m));
            }
        }
        validate_protocol(s(port, "protocol"), &child(&ip, "protocol"), errs);
    }
}

/// Protocol must be one of TCP, UDP, SCTP.
pub fn validate_protocol(proto: &str, p: &str, errs: &mut Vec<FieldError>) {
    match proto {
        "TCP" | "UDP" | "SCTP" => {}
        "" => errs.push(FieldError::required(p, "")),
        other => errs.push(FieldError::not_supported(p, other, &["SCTP", "TCP", "UDP"])),
    }
}

fn validate_env(env: &[Value], p: &str, errs: &mut Vec<FieldError>) {
    for (i, e) in env.iter().enumerate() {
        let ip = index(p, i);
        let name = s(e, "name");
        if name.is_empty() {
            errs.push(FieldError::required(child(&ip, "name"), ""));
        } else {
            for m in is_env_var_name(name) {
                errs.push(FieldError::invalid(child(&ip, "name"), name, m));
            }
        }
        let Some(vf) = present(e, "valueFrom") else {
            continue;
        };
        let vp = child(&ip, "valueFrom");
        let sources = [
            "fieldRef",
            "resourceFieldRef",
            "configMapKeyRef",
            "secretKeyRef",
        ];
        let n = sources.iter().filter(|k| present(vf, k).is_some()).count();
        if !s(e, "value").is_empty() && n > 0 {
            errs.push(FieldError::invalid(
                vp.clone(),
                "",
                "may not be specified when `value` is not empty",
            ));
        }
        if n == 0 {
            errs.push(FieldError::invalid(
                vp.clone(),
                "",
                "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
            ));
        } else if n > 1 {
            errs.push(FieldError::invalid(
                vp.clone(),
                "",
                "may not have more than one field specified at a time",
            ));
        }
        if let Some(fr) = present(vf, "fieldRef") {
            let fp = child(&vp, "fieldRef");
            if s(fr, "apiVersion").is_empty() {
                errs.push(FieldError::required(child(&fp, "apiVersion"), ""));
            }
            if s(fr, "fieldPath").is_empty() {
                errs.push(FieldError::required(child(&fp, "fieldPath"), ""));
            }
        }
        if let Some(rr) = present(vf, "resourceFieldRef") {
            if s(rr, "resource").is_empty() {
                errs.push(FieldError::required(
                    child(&child(&vp, "resourceFieldRef"), "resource"),
                    "",
                ));
            }
        }
        for r in ["configMapKeyRef", "secretKeyRef"] {
            if let Some(kr) = present(vf, r) {
                let kp = child(&vp, r);
                if s(kr, "key").is_empty() {
                    errs.push(FieldError::required(child(&kp, "key"), ""));
                } else {
                    for m in super::names::is_config_map_key(s(kr, "key")) {
                        errs.push(FieldError::invalid(child(&kp, "key"), s(kr, "key"), m));
                    }
                }
                if s(kr, "name").is_empty() {
                    errs.push(FieldError::required(child(&kp, "name"), ""));
                }
            }
        }
    }
}

fn validate_env_from(list: &[Value], p: &str, errs: &mut Vec<FieldError>) {
    for (i, e) in list.iter().enumerate() {
        let ip = index(p, i);
        let n = ["configMapRef", "secretRef"]
            .iter()
            .filter(|k| present(e, k).is_some())
            .count();
        if n == 0 {
            errs.push(FieldError::invalid(
                ip.clone(),
                "",
                "must specify one of: `configMapRef` or `secretRef`",
            ));
        } else if n > 1 {
            errs.push(FieldError::invalid(
                ip.clone(),
                "",
                "may not have more than one field specified at a time",
            ));
        }
        for r in ["configMapRef", "secretRef"] {
            if let Some(x) = present(e, r) {
                if s(x, "name").is_empty() {
                    errs.push(FieldError::required(child(&child(&ip, r), "name"), ""));
                }
            }
        }
    }
}

fn validate_volume_mounts(
    mounts: &[Value],
    volumes: &HashSet<String>,
    p: &str,
    errs: &mut Vec<FieldError>,
) {
    let mut points = HashSet::new();
    for (i, m) in mounts.iter().enumerate() {
        let ip = index(p, i);
        let name = s(m, "name");
        if name.is_empty() {
            errs.push(FieldError::required(child(&ip, "name"), ""));
        }
        if !volumes.contains(name) {
            errs.push(FieldError::not_found(child(&ip, "name"), name));
        }
        let mp = s(m, "mountPath");
        if mp.is_empty() {
            errs.push(FieldError::required(child(&ip, "mountPath"), ""));
        }
        if !points.insert(mp.to_string()) {
            errs.push(FieldError::invalid(
                child(&ip, "mountPath"),
                mp,
                "must be unique",
            ));
        }
        let sub = s(m, "subPath");
        if !sub.is_empty() {
            validate_local_descending_path(sub, &child(&ip, "subPath"), errs);
        }
    }
}

/// A relative path that does not escape its root.
pub fn validate_local_descending_path(path: &str, p: &str, errs: &mut Vec<FieldError>) {
    if path.starts_with('/') {
        errs.push(FieldError::invalid(p, path, "must be a relative path"));
    }
    if path.split(['/', '\\']).any(|seg| seg == "..") {
        errs.push(FieldError::invalid(p, path, "must not contain '..'"));
    }
}

fn validate_probe(pr: &Value, p: &str, errs: &mut Vec<FieldError>) {
    validate_handler(pr, p, errs);
    for f in [
        "initialDelaySeconds",
        "timeoutSeconds",
        "periodSeconds",
        "successThreshold",
        "failureThreshold",
    ] {
        if let Some(v) = int(pr, f) {
            validate_nonnegative(v, &child(p, f), errs);
        }
    }
    if let Some(t) = int(pr, "terminationGracePeriodSeconds") {
        if t <= 0 {
            errs.push(FieldError::invalid(
                child(p, "terminationGracePeriodSeconds"),
                t,
                "must be greater than 0",
            ));
        }
    }
}

fn validate_handler(h: &Value, p: &str, errs: &mut Vec<FieldError>) {
    let mut n = 0;
    for kind in ["exec", "httpGet", "tcpSocket", "grpc", "sleep"] {
        let Some(v) = present(h, kind) else {
            continue;
        };
        n += 1;
        if n > 1 {
            errs.push(FieldError::forbidden(
                child(p, kind),
                "may not specify more than 1 handler type",
            ));
            continue;
        }
        let kp = child(p, kind);
        match kind {
            "exec" => {
                if arr(v, "command").is_empty() {
                    errs.push(FieldError::required(child(&kp, "command"), ""));
                }
            }
            "httpGet" => {
                if s(v, "path").is_empty() {
                    errs.push(FieldError::required(child(&kp, "path"), ""));
                }
                validate_port_num_or_name(v.get("port"), &child(&kp, "port"), errs);
                let scheme = s(v, "scheme");
                if scheme != "HTTP" && scheme != "HTTPS" {
                    errs.push(FieldError::not_supported(
                        child(&kp, "scheme"),
                        scheme,
                        &["HTTP", "HTTPS"],
                    ));
                }
                for hdr in arr(v, "httpHeaders") {
                    let hn = s(hdr, "name");
                    for m in is_http_header_name(hn) {
                        errs.push(FieldError::invalid(child(&kp, "httpHeaders"), hn, m));
                    }
                }
            }
            "tcpSocket" => validate_port_num_or_name(v.get("port"), &child(&kp, "port"), errs),
            "grpc" => {
                let port = int(v, "port").unwrap_or(0);
                for m in is_valid_port_num(port) {
                    errs.push(FieldError::invalid(child(&kp, "port"), port, m));
                }
            }
            _ => {
                let secs = int(v, "seconds").unwrap_or(0);
                validate_nonnegative(secs, &child(&kp, "seconds"), errs);
            }
        }
    }
    if n == 0 {
        errs.push(FieldError::required(p, "must specify a handler type"));
    }
}

/// An int-or-string port: a number 1..=65535 or an IANA service name.
pub fn validate_port_num_or_name(v: Option<&Value>, p: &str, errs: &mut Vec<FieldError>) {
    match v {
        Some(Value::String(st)) => {
            for m in is_valid_port_name(st) {
                errs.push(FieldError::invalid(p, st.as_str(), m));
            }
        }
        Some(Value::Number(n)) => {
            let i = n.as_i64().unwrap_or(0);
            for m in is_valid_port_num(i) {
                errs.push(FieldError::invalid(p, i, m));
            }
        }
        _ => {
            for m in is_valid_port_num(0) {
                errs.push(FieldError::invalid(p, 0, m));
            }
        }
    }
}

fn is_standard_container_resource(name: &str) -> bool {
    matches!(name, "cpu" | "memory" | "ephemeral-storage") || name.starts_with("hugepages-")
}

fn is_native_resource(name: &str) -> bool {
    !name.contains('/') || name.contains("kubernetes.io/")
}

fn overcommit_allowed(name: &str) -> bool {
    is_native_resource(name) && !name.starts_with("hugepages-")
}

fn is_integer_resource(name: &str) -> bool {
    !is_native_resource(name) || name.starts_with("attachable-volumes-")
}

/// Parse a quantity field, reporting a parse failure at `p`.
pub fn quantity_at(v: &Value, p: &str, errs: &mut Vec<FieldError>) -> Option<Quantity> {
    match Quantity::from_json(v) {
        Ok(q) => Some(q),
        Err(e) => {
            errs.push(FieldError::invalid(p, v.clone(), e.to_string()));
            None
        }
    }
}

/// Non-negative (and, for integer resources, whole) quantity.
pub fn validate_resource_quantity_value(
    name: &str,
    q: &Quantity,
    p: &str,
    errs: &mut Vec<FieldError>,
) {
    if q.is_negative() {
        errs.push(FieldError::invalid(
            p,
            q.canonical(),
            "must be greater than or equal to 0",
        ));
    }
    if is_integer_resource(name) && q.milli_value().is_none_or(|m| m % 1000 != 0) {
        errs.push(FieldError::invalid(p, q.canonical(), "must be an integer"));
    }
}

fn validate_container_resource_name(name: &str, p: &str, errs: &mut Vec<FieldError>) {
    for m in is_qualified_name(name) {
        errs.push(FieldError::invalid(p, name, m));
    }
    if !name.contains('/') {
        if !is_standard_container_resource(name) {
            errs.push(FieldError::invalid(
                p,
                name,
                "must be a standard resource for containers",
            ));
        }
    } else if !is_native_resource(name) && name.starts_with("requests.") {
        errs.push(FieldError::invalid(
            p,
            name,
            "doesn't follow extended resource name standard",
        ));
    }
}

/// `resources`: names, quantities, requests <= limits.
pub fn validate_resource_requirements(r: &Value, p: &str, errs: &mut Vec<FieldError>) {
    let lim_p = child(p, "limits");
    let req_p = child(p, "requests");
    let mut limits: Vec<(String, Quantity)> = Vec::new();
    if let Some(m) = obj(r, "limits") {
        for (name, v) in m {
            let fp = key(&lim_p, name);
            validate_container_resource_name(name, &fp, errs);
            if let Some(q) = quantity_at(v, &fp, errs) {
                validate_resource_quantity_value(name, &q, &fp, errs);
                limits.push((name.clone(), q));
            }
        }
    }
    if let Some(m) = obj(r, "requests") {
        for (name, v) in m {
            let fp = key(&req_p, name);
            validate_container_resource_name(name, &fp, errs);
            let Some(q) = quantity_at(v, &fp, errs) else {
                continue;
            };
            validate_resource_quantity_value(name, &q, &fp, errs);
            match limits.iter().find(|(n, _)| n == name) {
                Some((_, lim)) => {
                    if q != *lim && !overcommit_allowed(name) {
                        errs.push(FieldError::invalid(
                            req_p.clone(),
                            q.canonical(),
                            format!("must be equal to {name} limit of {}", lim.canonical()),
                        ));
                    } else if q > *lim {
                        errs.push(FieldError::invalid(
                            req_p.clone(),
                            q.canonical(),
                            format!(
                                "must be less than or equal to {name} limit of {}",
                                lim.canonical()
                            ),
                        ));
                    }
                }
                None => {
                    if !overcommit_allowed(name) {
                        errs.push(FieldError::required(
                            lim_p.clone(),
                            "Limit must be set for non overcommitable resources",
                        ));
                    }
                }
            }
        }
    }
}
