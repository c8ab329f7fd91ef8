//! Checks for the smaller core/v1 kinds: Namespace, ConfigMap, Secret,
//! Node, PersistentVolumeClaim, PersistentVolume, Endpoints, LimitRange,
//! ResourceQuota and Event.

use super::access::{arr, child, index, int, key, obj, present, s};
use super::base64;
use super::container::{quantity_at, validate_protocol, validate_resource_quantity_value};
use super::errors::FieldError;
use super::meta::{validate_label_selector, FIELD_IMMUTABLE};
use super::names::{
    is_config_map_key, is_dns1123_label, is_dns1123_subdomain, is_ip, is_qualified_name,
    is_valid_port_num,
};
use super::quantity::Quantity;
use serde_json::Value;

/// ConfigMap and Secret payload cap.
pub const MAX_SECRET_SIZE: usize = 1024 * 1024;

/// Namespace spec: finalizers are qualified names.
pub fn validate_namespace(o: &Value, errs: &mut Vec<FieldError>) {
    if let Some(spec) = o.get("spec") {
        for f in arr(spec, "finalizers").iter().filter_map(Value::as_str) {
            let msgs = is_qualified_name(f);
            for m in &msgs {
                errs.push(FieldError::invalid("spec.finalizers", f, m.clone()));
            }
            if msgs.is_empty() && !f.contains('/') && f != "kubernetes" {
                errs.push(FieldError::invalid(
                    "spec.finalizers",
                    f,
                    "name is neither a standard finalizer name nor is it fully qualified",
                ));
            }
        }
    }
}

/// ConfigMap keys and size.
pub fn validate_config_map(o: &Value, errs: &mut Vec<FieldError>) {
    let mut total = 0usize;
    let binary = obj(o, "binaryData");
    if let Some(data) = obj(o, "data") {
        for (k, v) in data {
            for m in is_config_map_key(k) {
                errs.push(FieldError::invalid(key("data", k), k.as_str(), m));
            }
            if binary.is_some_and(|b| b.contains_key(k)) {
                errs.push(FieldError::invalid(
                    key("data", k),
                    k.as_str(),
                    "duplicate of key present in binaryData",
                ));
            }
            total += v.as_str().map_or(0, str::len);
        }
    }
    if let Some(b) = binary {
        for (k, v) in b {
            for m in is_config_map_key(k) {
                errs.push(FieldError::invalid(key("binaryData", k), k.as_str(), m));
            }
            match v.as_str().map(base64::decode) {
                Some(Ok(bytes)) => total += bytes.len(),
                _ => errs.push(FieldError::invalid(
                    key("binaryData", k),
                    v.clone(),
                    "must be base64-encoded bytes",
                )),
            }
        }
    }
    if total > MAX_SECRET_SIZE {
        errs.push(FieldError::too_long("", MAX_SECRET_SIZE));
    }
}

/// Secret keys, size and per-type required keys.
pub fn validate_secret(o: &Value, errs: &mut Vec<FieldError>) {
    let mut total = 0usize;
    let data = obj(o, "data");
    if let Some(d) = data {
        for (k, v) in d {
            for m in is_config_map_key(k) {
                errs.push(FieldError::invalid(key("data", k), k.as_str(), m));
            }
            match v.as_str().map(base64::decode) {
                Some(Ok(bytes)) => total += bytes.len(),
                None if v.is_null() => {}
                _ => errs.push(FieldError::invalid(
                    key("data", k),
                    v.clone(),
                    "must be base64-encoded bytes",
                )),
            }
        }
    }
    if total > MAX_SECRET_SIZE {
        errs.push(FieldError::too_long("data", MAX_SECRET_SIZE));
    }
    let has = |k: &str| data.is_some_and(|d| d.contains_key(k));
    let required_keys: &[&str] = match s(o, "type") {
        "kubernetes.io/dockercfg" => &[".dockercfg"],
        "kubernetes.io/dockerconfigjson" => &[".dockerconfigjson"],
        "kubernetes.io/ssh-auth" => &["ssh-privatekey"],
        "kubernetes.io/tls" => &["tls.crt", "tls.key"],
        _ => &[],
    };
    for k in required_keys {
        if !has(k) {
            errs.push(FieldError::required(key("data", k), ""));
        }
    }
    match s(o, "type") {
        "kubernetes.io/service-account-token" => {
            let ann = o.get("metadata").and_then(|m| m.get("annotations"));
            let name = ann
                .and_then(|a| a.get("kubernetes.io/service-account.name"))
                .and_then(Value::as_str)
                .unwrap_or("");
            if name.is_empty() {
                errs.push(FieldError::required(
                    "metadata.annotations[kubernetes.io/service-account.name]",
                    "",
                ));
            }
        }
        "kubernetes.io/basic-auth" if !has("username") && !has("password") => {
            errs.push(FieldError::required(
                "data[username]",
                "either username or password or both must be provided",
            ));
        }
        "" => errs.push(FieldError::required("type", "")),
        _ => {}
    }
}

/// ConfigMap / Secret update: everything frozen once `immutable` was true.
pub fn validate_immutable_payload(
    new: &Value,
    old: &Value,
    fields: &[&str],
    errs: &mut Vec<FieldError>,
) {
    if old.get("immutable").and_then(Value::as_bool) == Some(true) {
        if new.get("immutable").and_then(Value::as_bool) != Some(true) {
            errs.push(FieldError::forbidden(
                "immutable",
                "field is immutable when `immutable` is set",
            ));
        }
        for f in fields {
            let n = present(new, f).filter(|v| v.as_object().is_none_or(|m| !m.is_empty()));
            let o = present(old, f).filter(|v| v.as_object().is_none_or(|m| !m.is_empty()));
            if n != o {
                errs.push(FieldError::forbidden(
                    *f,
                    "field is immutable when `immutable` is set",
                ));
            }
        }
    }
}

/// Secret type never changes.
pub fn validate_secret_update(new: &Value, old: &Value, errs: &mut Vec<FieldError>) {
    validate_immutable_payload(new, old, &["data"], errs);
    if s(new, "type") != s(old, "type") {
        errs.push(FieldError::invalid("type", s(new, "type"), FIELD_IMMUTABLE));
    }
}

/// Node spec: podCIDR syntax and taints.
pub fn validate_node(o: &Value, errs: &mut Vec<FieldError>) {
    static NULL: Value = Value::Null;
    let spec = o.get("spec").unwrap_or(&NULL);
    let cidr = s(spec, "podCIDR");
    if !cidr.is_empty() && !is_cidr(cidr) {
        errs.push(FieldError::invalid(
            "spec.podCIDR",
            cidr,
            "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
        ));
    }
    for (i, c) in arr(spec, "podCIDRs").iter().enumerate() {
        let v = c.as_str().unwrap_or("");
        if !is_cidr(v) {
            errs.push(FieldError::invalid(
                index("spec.podCIDRs", i),
                v,
                "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
            ));
        }
    }
    for (i, t) in arr(spec, "taints").iter().enumerate() {
        let tp = index("spec.taints", i);
        let k = s(t, "key");
        if k.is_empty() {
            errs.push(FieldError::required(child(&tp, "key"), ""));
        } else {
            for m in is_qualified_name(k) {
                errs.push(FieldError::invalid(child(&tp, "key"), k, m));
            }
        }
        let v = s(t, "value");
        for m in super::names::is_valid_label_value(v) {
            errs.push(FieldError::invalid(child(&tp, "value"), v, m));
        }
        let e = s(t, "effect");
        if e.is_empty() {
            errs.push(FieldError::required(child(&tp, "effect"), ""));
        } else if !matches!(e, "NoSchedule" | "PreferNoSchedule" | "NoExecute") {
            errs.push(FieldError::not_supported(
                child(&tp, "effect"),
                e,
                &["NoSchedule", "PreferNoSchedule", "NoExecute"],
            ));
        }
    }
    if let Some(status) = o.get("status") {
        for f in ["capacity", "allocatable"] {
            if let Some(m) = obj(status, f) {
                for (k, v) in m {
                    let fp = key(&child("status", f), k);
                    if let Some(q) = quantity_at(v, &fp, errs) {
                        validate_resource_quantity_value(k, &q, &fp, errs);
                    }
                }
            }
        }
    }
}

fn is_cidr(v: &str) -> bool {
    let Some((ip, bits)) = v.split_once('/') else {
        return false;
    };
    let Ok(b) = bits.parse::<u8>() else {
        return false;
    };
    if super::names::parse_ipv4(ip).is_some() {
        b <= 32
    } else {
        super::names::is_ipv6(ip) && b <= 128
    }
}

const ACCESS_MODES: [&str; 4] = [
    "ReadOnlyMany",
    "ReadWriteMany",
    "ReadWriteOnce",
    "ReadWriteOncePod",
];

fn validate_access_modes(spec: &Value, p: &str, errs: &mut Vec<FieldError>) {
    let modes = arr(spec, "accessModes");
    let ap = child(p, "accessModes");
    if modes.is_empty() {
        errs.push(FieldError::required(
            ap.clone(),
            "at least 1 access mode is required",
        ));
    }
    let mut rwop = false;
    for m in modes {
        let v = m.as_str().unwrap_or("");
        if v == "ReadWriteOncePod" {
            rwop = true;
        }
        if !ACCESS_MODES.contains(&v) {
            errs.push(FieldError::not_supported(ap.clone(), v, &ACCESS_MODES));
        }
    }
    if rwop && modes.len() > 1 {
        errs.push(FieldError::forbidden(
            ap,
            "may not use ReadWriteOncePod with other access modes",
        ));
    }
}

/// A PVC spec at `p` (also used for StatefulSet volumeClaimTemplates).
pub fn validate_pvc_spec(spec: &Value, p: &str, errs: &mut Vec<FieldError>) {
    validate_access_modes(spec, p, errs);
    validate_label_selector(spec.get("selector"), &child(p, "selector"), errs);
    let sp = key(&child(p, "resources"), "storage");
    match spec
        .get("resources")
        .and_then(|r| r.get("requests"))
        .and_then(|r| r.get("storage"))
    {
        None => errs.push(FieldError::required(sp, "")),
        Some(v) => {
            if let Some(q) = quantity_at(v, &sp, errs) {
                if q <= Quantity::zero() {
                    errs.push(FieldError::invalid(
                        sp,
                        q.canonical(),
                        "must be greater than zero",
                    ));
                } else {
                    validate_resource_quantity_value("storage", &q, &sp, errs);
                }
            }
        }
    }
    if let Some(sc) = spec.get("storageClassName").and_then(Value::as_str) {
        if !sc.is_empty() {
            for m in is_dns1123_subdomain(sc) {
                errs.push(FieldError::invalid(child(p, "storageClassName"), sc, m));
            }
        }
    }
    if let Some(vm) = spec.get("volumeMode").and_then(Value::as_str) {
        if vm != "Block" && vm != "Filesystem" {
            errs.push(FieldError::not_supported(
                child(p, "volumeMode"),
                vm,
                &["Block", "Filesystem"],
            ));
        }
    }
}

/// PVC update: the spec is frozen except for a storage request increase
/// (and setting volumeName on an unbound claim).
pub fn validate_pvc_update(new: &Value, old: &Value, errs: &mut Vec<FieldError>) {
    static NULL: Value = Value::Null;
    let ns = new.get("spec").unwrap_or(&NULL);
    let os = old.get("spec").unwrap_or(&NULL);
    let mut a = ns.clone();
    let mut b = os.clone();
    for v in [&mut a, &mut b] {
        if let Some(m) = v.as_object_mut() {
            m.remove("resources");
            if s(os, "volumeName").is_empty() {
                m.remove("volumeName");
            }
        }
    }
    if a != b {
        errs.push(FieldError::forbidden(
            "spec",
            "spec is immutable after creation except resources.requests for bound claims",
        ));
    }
    let req = |v: &Value| {
        v.get("resources")
            .and_then(|r| r.get("requests"))
            .and_then(|r| r.get("storage"))
            .and_then(|q| Quantity::from_json(q).ok())
    };
    if let (Some(n), Some(o)) = (req(ns), req(os)) {
        if n < o && s(old.get("status").unwrap_or(&NULL), "phase") == "Bound" {
            errs.push(FieldError::forbidden(
                "spec.resources.requests.storage",
                "field can not be less than previous value",
            ));
        }
    }
}

/// PersistentVolume spec.
pub fn validate_pv(o: &Value, errs: &mut Vec<FieldError>) {
    static NULL: Value = Value::Null;
    let spec = o.get("spec").unwrap_or(&NULL);
    validate_access_modes(spec, "spec", errs);
    match spec.get("capacity").and_then(|c| c.get("storage")) {
        None => errs.push(FieldError::required("spec.capacity", "")),
        Some(v) => {
            let p = key("spec.capacity", "storage");
            if let Some(q) = quantity_at(v, &p, errs) {
                if q <= Quantity::zero() {
                    errs.push(FieldError::invalid(
                        p,
                        q.canonical(),
                        "must be greater than zero",
                    ));
                }
            }
        }
    }
    let sources = [
        "hostPath",
        "nfs",
        "csi",
        "local",
        "iscsi",
        "fc",
        "gcePersistentDisk",
        "awsElasticBlockStore",
        "azureDisk",
        "azureFile",
        "cephfs",
        "cinder",
        "flexVolume",
        "flocker",
        "glusterfs",
        "photonPersistentDisk",
        "portworxVolume",
        "quobyte",
        "rbd",
        "scaleIO",
        "storageos",
        "vsphereVolume",
    ];
    let n = sources
        .iter()
        .filter(|k| present(spec, k).is_some())
        .count();
    if n == 0 {
        errs.push(FieldError::required("spec", "must specify a volume type"));
    } else if n > 1 {
        errs.push(FieldError::forbidden(
            "spec",
            "may not specify more than 1 volume type",
        ));
    }
    if let Some(r) = spec
        .get("persistentVolumeReclaimPolicy")
        .and_then(Value::as_str)
    {
        let valid = ["Delete", "Recycle", "Retain"];
        if !valid.contains(&r) {
            errs.push(FieldError::not_supported(
                "spec.persistentVolumeReclaimPolicy",
                r,
                &valid,
            ));
        }
    }
    if let Some(vm) = spec.get("volumeMode").and_then(Value::as_str) {
        if vm != "Block" && vm != "Filesystem" {
            errs.push(FieldError::not_supported(
                "spec.volumeMode",
                vm,
                &["Block", "Filesystem"],
            ));
        }
    }
}

/// Endpoints subsets.
pub fn validate_endpoints(o: &Value, errs: &mut Vec<FieldError>) {
    for (i, ss) in arr(o, "subsets").iter().enumerate() {
        let sp = index("subsets", i);
        if arr(ss, "addresses").is_empty() && arr(ss, "notReadyAddresses").is_empty() {
            errs.push(FieldError::required(
                sp.clone(),
                "must specify `addresses` or `notReadyAddresses`",
            ));
        }
        for list in ["addresses", "notReadyAddresses"] {
            for (j, a) in arr(ss, list).iter().enumerate() {
                let ap = child(&index(&child(&sp, list), j), "ip");
                let ip = s(a, "ip");
                if !is_ip(ip) {
                    errs.push(FieldError::invalid(
                        ap,
                        ip,
                        "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
                    ));
                }
            }
        }
        let multi = arr(ss, "ports").len() > 1;
        for (j, port) in arr(ss, "ports").iter().enumerate() {
            let pp = index(&child(&sp, "ports"), j);
            let name = s(port, "name");
            if multi && name.is_empty() {
                errs.push(FieldError::required(child(&pp, "name"), ""));
            } else if !name.is_empty() {
                for m in is_dns1123_label(name) {
                    errs.push(FieldError::invalid(child(&pp, "name"), name, m));
                }
            }
            let pn = int(port, "port").unwrap_or(0);
            for m in is_valid_port_num(pn) {
                errs.push(FieldError::invalid(child(&pp, "port"), pn, m));
            }
            validate_protocol(s(port, "protocol"), &child(&pp, "protocol"), errs);
        }
    }
}

/// LimitRange items.
pub fn validate_limit_range(o: &Value, errs: &mut Vec<FieldError>) {
    static NULL: Value = Value::Null;
    let spec = o.get("spec").unwrap_or(&NULL);
    for (i, item) in arr(spec, "limits").iter().enumerate() {
        let ip = index("spec.limits", i);
        let ty = s(item, "type");
        if !matches!(ty, "Pod" | "Container" | "PersistentVolumeClaim") && !ty.contains('/') {
            errs.push(FieldError::invalid(
                child(&ip, "type"),
                ty,
                "must be a standard limit type or fully qualified",
            ));
        }
        let get = |f: &str, k: &str| {
            item.get(f)
                .and_then(|m| m.get(k))
                .and_then(|v| Quantity::from_json(v).ok())
        };
        for f in [
            "max",
            "min",
            "default",
            "defaultRequest",
            "maxLimitRequestRatio",
        ] {
            if let Some(m) = obj(item, f) {
                for (k, v) in m {
                    let fp = key(&child(&ip, f), k);
                    if let Some(q) = quantity_at(v, &fp, errs) {
                        validate_resource_quantity_value(k, &q, &fp, errs);
                    }
                }
            }
        }
        let keys: Vec<String> = ["max", "min", "default", "defaultRequest"]
            .iter()
            .filter_map(|f| obj(item, f))
            .flat_map(|m| m.keys().cloned())
            .collect();
        for k in keys {
            let (min, max, def, req) = (
                get("min", &k),
                get("max", &k),
                get("default", &k),
                get("defaultRequest", &k),
            );
            if let (Some(mn), Some(mx)) = (min, max) {
                if mn > mx {
                    errs.push(FieldError::invalid(
                        key(&child(&ip, "min"), &k),
                        mn.canonical(),
                        format!(
                            "min value {} is greater than max value {}",
                            mn.canonical(),
                            mx.canonical()
                        ),
                    ));
                }
            }
            if let (Some(r), Some(d)) = (req, def) {
                if r > d {
                    errs.push(FieldError::invalid(
                        key(&child(&ip, "defaultRequest"), &k),
                        r.canonical(),
                        format!(
                            "default request value {} is greater than default limit value {}",
                            r.canonical(),
                            d.canonical()
                        ),
                    ));
                }
            }
            if let (Some(d), Some(mx)) = (def, max) {
                if d > mx {
                    errs.push(FieldError::invalid(
                        key(&child(&ip, "default"), &k),
                        d.canonical(),
                        format!(
                            "default value {} is greater than max value {}",
                            d.canonical(),
                            mx.canonical()
                        ),
                    ));
                }
            }
        }
    }
}

/// ResourceQuota hard limits and scopes.
pub fn validate_resource_quota(o: &Value, errs: &mut Vec<FieldError>) {
    static NULL: Value = Value::Null;
    let spec = o.get("spec").unwrap_or(&NULL);
    if let Some(hard) = obj(spec, "hard") {
        for (k, v) in hard {
            let fp = key("spec.hard", k);
            for m in is_qualified_name(k) {
                errs.push(FieldError::invalid(fp.clone(), k.as_str(), m));
            }
            if let Some(q) = quantity_at(v, &fp, errs) {
                validate_resource_quantity_value(k, &q, &fp, errs);
            }
        }
    }
    let valid = [
        "BestEffort",
        "CrossNamespacePodAffinity",
        "NotBestEffort",
        "NotTerminating",
        "PriorityClass",
        "Terminating",
    ];
    for sc in arr(spec, "scopes") {
        let v = sc.as_str().unwrap_or("");
        if !valid.contains(&v) {
            errs.push(FieldError::not_supported("spec.scopes", v, &valid));
        }
    }
}

/// core/v1 Event: involvedObject namespace must agree with the event's.
pub fn validate_core_event(o: &Value, errs: &mut Vec<FieldError>) {
    static NULL: Value = Value::Null;
    let ns = o.get("metadata").map(|m| s(m, "namespace")).unwrap_or("");
    let inv = o.get("involvedObject").unwrap_or(&NULL);
    let ins = s(inv, "namespace");
    let has_event_time = present(o, "eventTime").is_some();
    if !has_event_time {
        let mismatch = if ins.is_empty() {
            !ns.is_empty() && ns != "default"
        } else {
            ns != ins
        };
        if mismatch {
            errs.push(FieldError::invalid(
                "involvedObject.namespace",
                ins,
                "does not match event.namespace",
            ));
        }
    } else {
        if ins.is_empty() && ns != "default" && ns != "kube-system" {
            errs.push(FieldError::invalid(
                "involvedObject.namespace",
                ins,
                "does not match event.namespace",
            ));
        }
        validate_reporting(o, "reportingComponent", "message", errs);
    }
    for m in is_dns1123_subdomain(ns) {
        errs.push(FieldError::invalid("namespace", ns, m));
    }
}

/// Reporting controller/instance, action, reason and note limits of
/// "new style" events.
pub fn validate_reporting(
    o: &Value,
    controller_field: &str,
    note_field: &str,
    errs: &mut Vec<FieldError>,
) {
    let rc = s(o, controller_field);
    if rc.is_empty() {
        errs.push(FieldError::required(controller_field, ""));
    }
    for m in is_qualified_name(rc) {
        errs.push(FieldError::invalid(controller_field, rc, m));
    }
    for (f, limit) in [("reportingInstance", 128), ("action", 128), ("reason", 128)] {
        let v = s(o, f);
        if v.is_empty() {
            errs.push(FieldError::required(f, ""));
        }
        if v.len() > limit {
            errs.push(FieldError::invalid(
                f,
                "",
                format!("can have at most {limit} characters"),
            ));
        }
    }
    if s(o, note_field).len() > 1024 {
        errs.push(FieldError::invalid(
            note_field,
            "",
            "can have at most 1024 characters",
        ));
    }
}
