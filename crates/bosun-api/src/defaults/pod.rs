//! PodSpec, container, volume and probe defaults; Pod-only defaults
//! (requests from limits, service links, host-network ports, initial
//! status); pod templates.

use super::helpers::{
    canonical_quantity, canonical_resource_list, child_obj, default_embedded_meta, default_int,
    default_ptr, default_str, each_obj, ensure_obj, str_at,
};
use crate::validation::quantity::Quantity;
use serde_json::{json, Map, Value};

const CONTAINER_LISTS: [&str; 3] = ["initContainers", "containers", "ephemeralContainers"];

/// Whether `SetDefaults_PodSpec`'s restartPolicy default applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartDefault {
    /// Default an empty restartPolicy to `Always`.
    Always,
    /// Leave restartPolicy alone (Job templates: validation then asks for
    /// `OnFailure` or `Never`, exactly as upstream reports it).
    Leave,
}

/// Defaults of a PodSpec (shared by Pods and every pod template).
pub fn default_pod_spec(spec: &mut Value, restart: RestartDefault) {
    default_str(spec, "dnsPolicy", "ClusterFirst");
    if restart == RestartDefault::Always {
        default_str(spec, "restartPolicy", "Always");
    }
    default_ptr(spec, "securityContext", json!({}));
    default_ptr(spec, "terminationGracePeriodSeconds", json!(30));
    default_str(spec, "schedulerName", "default-scheduler");
    for vol in each_obj(spec, "volumes") {
        default_volume(vol);
    }
    for list in CONTAINER_LISTS {
        for c in each_obj(spec, list) {
            default_container(c);
        }
    }
    canonical_resource_list(spec, "overhead");
}

fn image_tag_is_latest(image: &str) -> bool {
    if image.is_empty() || image.chars().any(|c| c.is_whitespace()) {
        return false;
    }
    let (name, digest) = match image.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (image, None),
    };
    let last = name.rsplit('/').next().unwrap_or(name);
    let (repo, tag) = match last.rfind(':') {
        Some(i) => (&name[..name.len() - last.len() + i], Some(&last[i + 1..])),
        None => (name, None),
    };
    // Repository paths must be lower case (a parse error means "no tag").
    let path = repo.split_once('/').map_or(repo, |(host, rest)| {
        if host.contains('.') || host.contains(':') || host == "localhost" {
            rest
        } else {
            repo
        }
    });
    if path.chars().any(|c| c.is_ascii_uppercase()) {
        return false;
    }
    match tag {
        Some(tag) => tag == "latest",
        None => digest.is_none(),
    }
}

fn default_probe(p: &mut Value) {
    default_int(p, "timeoutSeconds", 1);
    default_int(p, "periodSeconds", 10);
    default_int(p, "successThreshold", 1);
    default_int(p, "failureThreshold", 3);
    default_handler(p);
    if let Some(g) = child_obj(p, "grpc") {
        default_ptr(g, "service", json!(""));
    }
}

fn default_handler(h: &mut Value) {
    if let Some(hg) = child_obj(h, "httpGet") {
        default_str(hg, "path", "/");
        default_str(hg, "scheme", "HTTP");
    }
}

fn default_field_ref(fr: &mut Value) {
    default_str(fr, "apiVersion", "v1");
}

/// Container defaults: pull policy, termination message, port protocol,
/// fieldRef apiVersion, probes, lifecycle and canonical resources.
pub fn default_container(c: &mut Value) {
    let latest = image_tag_is_latest(str_at(c, "image"));
    default_str(
        c,
        "imagePullPolicy",
        if latest { "Always" } else { "IfNotPresent" },
    );
    default_str(c, "terminationMessagePath", "/dev/termination-log");
    default_str(c, "terminationMessagePolicy", "File");
    for port in each_obj(c, "ports") {
        default_str(port, "protocol", "TCP");
    }
    for env in each_obj(c, "env") {
        if let Some(fr) = child_obj(env, "valueFrom").and_then(|vf| child_obj(vf, "fieldRef")) {
            default_field_ref(fr);
        }
        if let Some(rr) =
            child_obj(env, "valueFrom").and_then(|vf| child_obj(vf, "resourceFieldRef"))
        {
            if let Some(d) = rr.get_mut("divisor") {
                canonical_quantity(d, false);
            }
        }
    }
    if let Some(r) = ensure_obj(c, "resources") {
        canonical_resource_list(r, "limits");
        canonical_resource_list(r, "requests");
    }
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(p) = child_obj(c, probe) {
            default_probe(p);
        }
    }
    if let Some(l) = child_obj(c, "lifecycle") {
        for hook in ["postStart", "preStop"] {
            if let Some(h) = child_obj(l, hook) {
                default_handler(h);
            }
        }
    }
}

fn default_downward_items(src: &mut Value) {
    for item in each_obj(src, "items") {
        if let Some(fr) = child_obj(item, "fieldRef") {
            default_field_ref(fr);
        }
    }
}

/// Volume defaults: emptyDir when no source, file modes, hostPath type,
/// projected token expiry, ephemeral claim template.
pub fn default_volume(v: &mut Value) {
    let has_source = v
        .as_object()
        .is_some_and(|m| m.iter().any(|(k, x)| k != "name" && !x.is_null()));
    if !has_source {
        if let Some(m) = v.as_object_mut() {
            m.insert("emptyDir".into(), json!({}));
        }
    }
    if let Some(hp) = child_obj(v, "hostPath") {
        default_ptr(hp, "type", json!(""));
    }
    for k in ["secret", "configMap"] {
        if let Some(s) = child_obj(v, k) {
            default_ptr(s, "defaultMode", json!(420));
        }
    }
    if let Some(d) = child_obj(v, "downwardAPI") {
        default_ptr(d, "defaultMode", json!(420));
        default_downward_items(d);
    }
    if let Some(p) = child_obj(v, "projected") {
        default_ptr(p, "defaultMode", json!(420));
        for src in each_obj(p, "sources") {
            if let Some(d) = child_obj(src, "downwardAPI") {
                default_downward_items(d);
            }
            if let Some(t) = child_obj(src, "serviceAccountToken") {
                default_ptr(t, "expirationSeconds", json!(3600));
            }
        }
    }
    if let Some(e) = child_obj(v, "emptyDir") {
        if let Some(sl) = e.get_mut("sizeLimit") {
            canonical_quantity(sl, false);
        }
    }
    if let Some(iscsi) = child_obj(v, "iscsi") {
        default_str(iscsi, "iscsiInterface", "default");
    }
    if let Some(tmpl) = child_obj(v, "ephemeral").and_then(|e| child_obj(e, "volumeClaimTemplate"))
    {
        if let Some(spec) = child_obj(tmpl, "spec") {
            super::core::default_pvc_spec(spec);
        }
    }
}

/// Pod template defaults (pod templates never get the Pod-only defaults).
pub fn default_pod_template(t: &mut Value, restart: RestartDefault) {
    default_embedded_meta(t);
    if let Some(spec) = ensure_obj(t, "spec") {
        default_pod_spec(spec, restart);
    }
}

/// Pod defaults: PodSpec defaults plus the Pod-only ones and the initial
/// status (`Pending` with the computed QoS class).
pub fn default_pod(pod: &mut Value) {
    if let Some(spec) = ensure_obj(pod, "spec") {
        for list in ["containers", "initContainers"] {
            for c in each_obj(spec, list) {
                requests_from_limits(c);
            }
        }
        default_ptr(spec, "enableServiceLinks", json!(true));
        if spec.get("hostNetwork").and_then(Value::as_bool) == Some(true) {
            for list in ["containers", "initContainers"] {
                for c in each_obj(spec, list) {
                    for port in each_obj(c, "ports") {
                        let cp = port.get("containerPort").cloned().unwrap_or(Value::Null);
                        default_int(port, "hostPort", cp.as_i64().unwrap_or(0));
                    }
                }
            }
        }
        default_pod_spec(spec, RestartDefault::Always);
    }
    let qos = pod_qos_class(pod);
    if let Some(status) = ensure_obj(pod, "status") {
        default_str(status, "phase", "Pending");
        default_str(status, "qosClass", qos);
    }
}

fn requests_from_limits(c: &mut Value) {
    let Some(r) = child_obj(c, "resources") else {
        return;
    };
    let Some(limits) = r.get("limits").and_then(Value::as_object).cloned() else {
        return;
    };
    let Some(req) = ensure_obj(r, "requests").and_then(Value::as_object_mut) else {
        return;
    };
    for (k, v) in limits {
        req.entry(k).or_insert(v);
    }
}

/// Upstream's QoS class of a pod: `BestEffort`, `Burstable` or
/// `Guaranteed`, from the cpu/memory requests and limits of all containers.
pub fn pod_qos_class(pod: &Value) -> &'static str {
    let mut requests: Map<String, Value> = Map::new();
    let mut limits: Map<String, Value> = Map::new();
    let mut guaranteed = true;
    let spec = pod.get("spec");
    let containers = ["containers", "initContainers"].into_iter().flat_map(|l| {
        spec.and_then(|s| s.get(l))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
    });
    let zero = Quantity::zero();
    let accumulate = |acc: &mut Map<String, Value>, list: Option<&Value>| -> Vec<String> {
        let mut found = Vec::new();
        if let Some(m) = list.and_then(Value::as_object) {
            for (k, v) in m {
                if k != "cpu" && k != "memory" {
                    continue;
                }
                let Ok(q) = Quantity::from_json(v) else {
                    continue;
                };
                if q > zero {
                    found.push(k.clone());
                    let sum = match acc.get(k).and_then(|x| Quantity::from_json(x).ok()) {
                        Some(prev) => prev.add(&q),
                        None => q,
                    };
                    acc.insert(k.clone(), Value::String(sum.canonical()));
                }
            }
        }
        found
    };
    for c in containers {
        let res = c.get("resources");
        accumulate(&mut requests, res.and_then(|r| r.get("requests")));
        let found = accumulate(&mut limits, res.and_then(|r| r.get("limits")));
        if !(found.iter().any(|f| f == "cpu") && found.iter().any(|f| f == "memory")) {
            guaranteed = false;
        }
    }
    if requests.is_empty() && limits.is_empty() {
        return "BestEffort";
    }
    if guaranteed {
        for (k, req) in &requests {
            let lim = limits.get(k).and_then(|l| Quantity::from_json(l).ok());
            let req = Quantity::from_json(req).ok();
            if lim.is_none() || lim != req {
                guaranteed = false;
                break;
            }
        }
    }
    if guaranteed && requests.len() == limits.len() {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latest_tag_detection() {
        let cases = [
            ("nginx", true),
            ("nginx:latest", true),
            ("nginx:1.25", false),
            ("registry.local:5000/app", true),
            ("registry.local:5000/app:v1", false),
            ("nginx@sha256:abcd", false),
            ("nginx:latest@sha256:abcd", true),
            ("", false),
            ("Nginx", false),
        ];
        for (img, want) in cases {
            assert_eq!(image_tag_is_latest(img), want, "{img}");
        }
    }
}
