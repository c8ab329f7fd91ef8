//! Pod spec → CRI sandbox and container configurations.

use std::collections::HashMap;

use k8s_openapi::api::core::v1::{Container, Pod};

use crate::cri::{
    api, ANNOTATION_RESTART_COUNT, ANNOTATION_TERMINATION_GRACE, LABEL_CONTAINER_NAME,
    LABEL_POD_NAME, LABEL_POD_NAMESPACE, LABEL_POD_UID,
};

pub fn pod_uid(pod: &Pod) -> &str {
    pod.metadata.uid.as_deref().unwrap_or_default()
}

fn pod_labels(pod: &Pod) -> HashMap<String, String> {
    HashMap::from([
        (
            LABEL_POD_NAME.into(),
            pod.metadata.name.clone().unwrap_or_default(),
        ),
        (
            LABEL_POD_NAMESPACE.into(),
            pod.metadata.namespace.clone().unwrap_or_default(),
        ),
        (LABEL_POD_UID.into(), pod_uid(pod).to_string()),
    ])
}

fn host_network(pod: &Pod) -> bool {
    pod.spec
        .as_ref()
        .and_then(|s| s.host_network)
        .unwrap_or(false)
}

fn namespace_options(pod: &Pod) -> api::NamespaceOption {
    let spec = pod.spec.as_ref();
    let shared_pid = spec
        .and_then(|s| s.share_process_namespace)
        .unwrap_or(false);
    let node = |on: bool, otherwise: api::NamespaceMode| {
        if on {
            api::NamespaceMode::Node as i32
        } else {
            otherwise as i32
        }
    };
    api::NamespaceOption {
        network: node(host_network(pod), api::NamespaceMode::Pod),
        // proto3's default (0) would be a shared pod PID namespace.
        pid: node(
            spec.and_then(|s| s.host_pid).unwrap_or(false),
            if shared_pid {
                api::NamespaceMode::Pod
            } else {
                api::NamespaceMode::Container
            },
        ),
        ipc: node(
            spec.and_then(|s| s.host_ipc).unwrap_or(false),
            api::NamespaceMode::Pod,
        ),
        ..Default::default()
    }
}

/// The sandbox configuration; `log_dir` is the pod's log directory.
pub fn sandbox_config(pod: &Pod, attempt: u32, log_dir: &str) -> api::PodSandboxConfig {
    let spec = pod.spec.as_ref();
    let mut labels: HashMap<String, String> = pod
        .metadata
        .labels
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    labels.extend(pod_labels(pod));
    let hostname = if host_network(pod) {
        // runc refuses a hostname of its own in the host's UTS namespace.
        String::new()
    } else {
        spec.and_then(|s| s.hostname.clone())
            .or_else(|| pod.metadata.name.clone())
            .unwrap_or_default()
    };
    let mut port_mappings = vec![];
    for c in spec.map(|s| s.containers.as_slice()).unwrap_or(&[]) {
        for p in c.ports.as_deref().unwrap_or(&[]) {
            if let Some(host_port) = p.host_port.filter(|h| *h > 0) {
                port_mappings.push(api::PortMapping {
                    protocol: match p.protocol.as_deref() {
                        Some("UDP") => api::Protocol::Udp as i32,
                        Some("SCTP") => api::Protocol::Sctp as i32,
                        _ => api::Protocol::Tcp as i32,
                    },
                    container_port: p.container_port,
                    host_port,
                    host_ip: p.host_ip.clone().unwrap_or_default(),
                });
            }
        }
    }
    let sc = spec.and_then(|s| s.security_context.as_ref());
    api::PodSandboxConfig {
        metadata: Some(api::PodSandboxMetadata {
            name: pod.metadata.name.clone().unwrap_or_default(),
            uid: pod_uid(pod).to_string(),
            namespace: pod.metadata.namespace.clone().unwrap_or_default(),
            attempt,
        }),
        hostname,
        log_directory: log_dir.to_string(),
        dns_config: None,
        port_mappings,
        labels,
        annotations: pod
            .metadata
            .annotations
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect(),
        linux: Some(api::LinuxPodSandboxConfig {
            security_context: Some(api::LinuxSandboxSecurityContext {
                namespace_options: Some(namespace_options(pod)),
                run_as_user: sc
                    .and_then(|s| s.run_as_user)
                    .map(|value| api::Int64Value { value }),
                run_as_group: sc
                    .and_then(|s| s.run_as_group)
                    .map(|value| api::Int64Value { value }),
                supplemental_groups: sc
                    .and_then(|s| s.supplemental_groups.clone())
                    .unwrap_or_default(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        windows: None,
    }
}

/// CPU quantity in millicores ("500m", "1", "1.5").
pub fn cpu_millis(q: &str) -> Option<i64> {
    if let Some(m) = q.strip_suffix('m') {
        return m.parse().ok();
    }
    let v: f64 = q.parse().ok()?;
    Some((v * 1000.0).round() as i64)
}

/// Memory quantity in bytes (plain, k/M/G/T, Ki/Mi/Gi/Ti).
pub fn memory_bytes(q: &str) -> Option<i64> {
    const UNITS: &[(&str, i64)] = &[
        ("Ki", 1 << 10),
        ("Mi", 1 << 20),
        ("Gi", 1 << 30),
        ("Ti", 1 << 40),
        ("k", 1_000),
        ("M", 1_000_000),
        ("G", 1_000_000_000),
        ("T", 1_000_000_000_000),
    ];
    for (suffix, mult) in UNITS {
        if let Some(n) = q.strip_suffix(suffix) {
            let v: f64 = n.parse().ok()?;
            return Some((v * *mult as f64) as i64);
        }
    }
    q.parse::<f64>().ok().map(|v| v as i64)
}

/// cgroup limits from requests and limits (kubelet's formulas: shares from
/// the CPU request, CFS quota from the CPU limit over a 100 ms period).
pub fn linux_resources(c: &Container) -> api::LinuxContainerResources {
    let res = c.resources.as_ref();
    let get = |which: Option<
        &std::collections::BTreeMap<
            String,
            k8s_openapi::apimachinery::pkg::api::resource::Quantity,
        >,
    >,
               k: &str| { which.and_then(|m| m.get(k)).map(|q| q.0.clone()) };
    let limits = res.and_then(|r| r.limits.as_ref());
    let requests = res.and_then(|r| r.requests.as_ref());
    let cpu_request = get(requests, "cpu")
        .or_else(|| get(limits, "cpu"))
        .and_then(|q| cpu_millis(&q));
    let cpu_limit = get(limits, "cpu").and_then(|q| cpu_millis(&q));
    let mut out = api::LinuxContainerResources {
        cpu_shares: cpu_request.map(|m| (m * 1024 / 1000).max(2)).unwrap_or(2),
        ..Default::default()
    };
    if let Some(limit) = cpu_limit {
        out.cpu_period = 100_000;
        out.cpu_quota = (limit * 100).max(1000);
    }
    if let Some(mem) = get(limits, "memory").and_then(|q| memory_bytes(&q)) {
        out.memory_limit_in_bytes = mem;
    }
    out
}

pub struct ContainerParams<'a> {
    pub attempt: u32,
    pub restart_count: i32,
    pub image_ref: &'a str,
    /// The resolved environment (`env::resolve`).
    pub env: &'a [(String, String)],
    /// The container's volume mounts (`volume::container_mounts`).
    pub mounts: &'a [api::Mount],
}

/// The container configuration.
pub fn container_config(pod: &Pod, c: &Container, p: &ContainerParams<'_>) -> api::ContainerConfig {
    let mut labels = pod_labels(pod);
    labels.insert(LABEL_CONTAINER_NAME.into(), c.name.clone());
    let grace = pod
        .spec
        .as_ref()
        .and_then(|s| s.termination_grace_period_seconds)
        .unwrap_or(30);
    let annotations = HashMap::from([
        (
            ANNOTATION_RESTART_COUNT.to_string(),
            p.restart_count.to_string(),
        ),
        (ANNOTATION_TERMINATION_GRACE.to_string(), grace.to_string()),
    ]);
    let sc = c.security_context.as_ref();
    let pod_sc = pod.spec.as_ref().and_then(|s| s.security_context.as_ref());
    let caps = sc.and_then(|s| s.capabilities.as_ref());
    let vars: HashMap<String, String> = p.env.iter().cloned().collect();
    api::ContainerConfig {
        metadata: Some(api::ContainerMetadata {
            name: c.name.clone(),
            attempt: p.attempt,
        }),
        image: Some(api::ImageSpec {
            image: p.image_ref.to_string(),
            user_specified_image: c.image.clone().unwrap_or_default(),
            ..Default::default()
        }),
        command: c
            .command
            .iter()
            .flatten()
            .map(|a| super::env::expand(a, &vars))
            .collect(),
        args: c
            .args
            .iter()
            .flatten()
            .map(|a| super::env::expand(a, &vars))
            .collect(),
        working_dir: c.working_dir.clone().unwrap_or_default(),
        envs: p
            .env
            .iter()
            .map(|(key, value)| api::KeyValue {
                key: key.clone(),
                value: value.clone(),
            })
            .collect(),
        mounts: p.mounts.to_vec(),
        labels,
        annotations,
        log_path: format!("{}/{}.log", c.name, p.attempt),
        stdin: c.stdin.unwrap_or(false),
        stdin_once: c.stdin_once.unwrap_or(false),
        tty: c.tty.unwrap_or(false),
        linux: Some(api::LinuxContainerConfig {
            resources: Some(linux_resources(c)),
            security_context: Some(api::LinuxContainerSecurityContext {
                namespace_options: Some(namespace_options(pod)),
                privileged: sc.and_then(|s| s.privileged).unwrap_or(false),
                readonly_rootfs: sc
                    .and_then(|s| s.read_only_root_filesystem)
                    .unwrap_or(false),
                run_as_user: sc
                    .and_then(|s| s.run_as_user)
                    .or_else(|| pod_sc.and_then(|s| s.run_as_user))
                    .map(|value| api::Int64Value { value }),
                run_as_group: sc
                    .and_then(|s| s.run_as_group)
                    .or_else(|| pod_sc.and_then(|s| s.run_as_group))
                    .map(|value| api::Int64Value { value }),
                capabilities: caps.map(|c| api::Capability {
                    add_capabilities: c.add.clone().unwrap_or_default(),
                    drop_capabilities: c.drop.clone().unwrap_or_default(),
                    add_ambient_capabilities: vec![],
                }),
                no_new_privs: sc.and_then(|s| s.allow_privilege_escalation) == Some(false),
                ..Default::default()
            }),
        }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod() -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "default", "uid": "u1", "labels": {"app": "web"}},
            "spec": {
                "nodeName": "n1",
                "containers": [{
                    "name": "c", "image": "busybox:bosun",
                    "command": ["httpd"], "args": ["-f"], "workingDir": "/www",
                    "env": [{"name": "A", "value": "1"}, {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                            {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}],
                    "ports": [{"containerPort": 8080, "hostPort": 18080}],
                    "resources": {"requests": {"cpu": "250m"}, "limits": {"cpu": "500m", "memory": "64Mi"}}
                }]
            }
        }))
        .unwrap()
    }

    #[test]
    fn sandbox() {
        let sb = sandbox_config(&pod(), 2, "/d/pods/u1");
        let m = sb.metadata.unwrap();
        assert_eq!(
            (m.name.as_str(), m.uid.as_str(), m.attempt),
            ("web", "u1", 2)
        );
        assert_eq!(sb.hostname, "web");
        assert_eq!(sb.labels["app"], "web");
        assert_eq!(sb.labels[LABEL_POD_UID], "u1");
        assert_eq!(sb.port_mappings[0].host_port, 18080);
        let ns = sb
            .linux
            .unwrap()
            .security_context
            .unwrap()
            .namespace_options
            .unwrap();
        assert_eq!(ns.pid, api::NamespaceMode::Container as i32);
        assert_eq!(ns.network, api::NamespaceMode::Pod as i32);
    }

    #[test]
    fn container() {
        let p = pod();
        let c = &p.spec.as_ref().unwrap().containers[0];
        let env = vec![
            ("A".to_string(), "1".to_string()),
            ("POD".to_string(), "web".to_string()),
        ];
        let mut c = c.clone();
        c.args = Some(vec!["-f".into(), "$(POD)".into()]);
        let cfg = container_config(
            &p,
            &c,
            &ContainerParams {
                attempt: 1,
                restart_count: 1,
                image_ref: "sha256:abc",
                env: &env,
                mounts: &[],
            },
        );
        assert_eq!(cfg.command, ["httpd"]);
        assert_eq!(cfg.args, ["-f", "web"]);
        assert_eq!(cfg.working_dir, "/www");
        assert_eq!(cfg.image.unwrap().image, "sha256:abc");
        assert_eq!(cfg.log_path, "c/1.log");
        assert_eq!(cfg.annotations[ANNOTATION_RESTART_COUNT], "1");
        let env: Vec<_> = cfg
            .envs
            .iter()
            .map(|e| (e.key.as_str(), e.value.as_str()))
            .collect();
        assert_eq!(env, [("A", "1"), ("POD", "web")]);
        let r = cfg.linux.unwrap().resources.unwrap();
        assert_eq!(r.cpu_shares, 256);
        assert_eq!((r.cpu_period, r.cpu_quota), (100_000, 50_000));
        assert_eq!(r.memory_limit_in_bytes, 64 << 20);
    }

    #[test]
    fn quantities() {
        assert_eq!(cpu_millis("1.5"), Some(1500));
        assert_eq!(cpu_millis("100m"), Some(100));
        assert_eq!(memory_bytes("1Gi"), Some(1 << 30));
        assert_eq!(memory_bytes("500M"), Some(500_000_000));
        assert_eq!(memory_bytes("1024"), Some(1024));
        assert_eq!(memory_bytes("x"), None);
    }
}
