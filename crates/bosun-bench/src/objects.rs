//! Request bodies shaped like real objects, and the few response fields the
//! benchmarks read back.
//!
//! Every generated object carries a sequence number (`data.seq` for
//! ConfigMaps, the `bench.bosun.dev/seq` annotation for Pods) so watchers
//! can match an event to the write that caused it by scanning for
//! [`SEQ_MARKER`] instead of parsing every event.

use bytes::Bytes;
use serde::Deserialize;
use serde_json::{json, Value};

/// What precedes the sequence number in an object's compact JSON. Both the
/// ConfigMap data key and the Pod annotation end in `seq`, and nothing else
/// in the generated objects does.
pub const SEQ_MARKER: &[u8] = b"seq\":\"";

const SEQ_ANNOTATION: &str = "bench.bosun.dev/seq";

/// A ConfigMap of about 1 KB, like an application's settings file.
pub fn configmap(name: &str, namespace: &str, seq: u64, resource_version: Option<&str>) -> Bytes {
    let mut metadata = json!({
        "name": name,
        "namespace": namespace,
        "labels": {"app.kubernetes.io/name": "storefront", "app.kubernetes.io/component": "settings"},
    });
    if let Some(rv) = resource_version {
        metadata["resourceVersion"] = json!(rv);
    }
    let properties = format!(
        "server.port=8080\nserver.shutdown=graceful\nlogging.level.root=INFO\n\
         spring.datasource.url=jdbc:postgresql://db.storefront.svc:5432/orders\n\
         spring.datasource.hikari.maximum-pool-size=20\ncache.ttl.seconds=300\n\
         feature.checkout.v2=true\nfeature.recommendations=false\nrevision={seq}\n"
    );
    let body = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata,
        "data": {
            "application.properties": properties,
            "nginx.conf": "worker_processes auto;\nevents { worker_connections 1024; }\nhttp {\n  server {\n    listen 80;\n    location / { proxy_pass http://127.0.0.1:8080; }\n    location /healthz { return 200; }\n  }\n}\n",
            "tracing.yaml": "exporter: otlp\nendpoint: collector.observability:4317\nsampler: parentbased_traceidratio\nratio: 0.05\n",
            "features.json": "{\"checkout\":{\"v2\":true,\"rollout\":25},\"search\":{\"engine\":\"opensearch\",\"timeoutMs\":800},\"banner\":\"spring-sale\"}",
            "seq": seq.to_string(),
        }
    });
    Bytes::from(body.to_string())
}

/// A Pod of about 1.5 KB as stored, already bound to `node`.
pub fn pod(name: &str, namespace: &str, node: &str, seq: u64) -> Bytes {
    let app = format!("web-{}", seq % 50);
    let body = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app": app, "pod-template-hash": "6d4b9c7f58", "tier": "frontend"},
            "annotations": {SEQ_ANNOTATION: seq.to_string()},
        },
        "spec": {
            "nodeName": node,
            "containers": [{
                "name": "app",
                "image": "registry.example.com/shop/web:1.27.3",
                "args": ["--port=8080", "--metrics-port=9090"],
                "ports": [
                    {"name": "http", "containerPort": 8080, "protocol": "TCP"},
                    {"name": "metrics", "containerPort": 9090, "protocol": "TCP"}
                ],
                "env": [
                    {"name": "LOG_LEVEL", "value": "info"},
                    {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}
                ],
                "resources": {
                    "requests": {"cpu": "100m", "memory": "128Mi"},
                    "limits": {"cpu": "500m", "memory": "256Mi"}
                },
                "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 10},
                "volumeMounts": [{"name": "config", "mountPath": "/etc/web", "readOnly": true}]
            }],
            "volumes": [{"name": "config", "configMap": {"name": "web-config"}}],
        }
    });
    Bytes::from(body.to_string())
}

/// A pod body padded (with a `last-applied-configuration`-like
/// annotation) to at least `size` bytes: a store value of realistic size.
pub fn pod_of_size(size: usize) -> Bytes {
    let base = pod("pod-0", "bench", "node-0001", 0);
    let Ok(mut value) = serde_json::from_slice::<Value>(&base) else {
        return base;
    };
    let key = "kubectl.kubernetes.io/last-applied-configuration";
    value["metadata"]["annotations"][key] = json!("");
    let bare = value.to_string().len();
    value["metadata"]["annotations"][key] = json!("x".repeat(size.saturating_sub(bare)));
    Bytes::from(value.to_string())
}

#[derive(Deserialize)]
struct Meta {
    #[serde(rename = "resourceVersion", default)]
    resource_version: String,
}

#[derive(Deserialize)]
struct WithMeta {
    metadata: Meta,
}

/// `metadata.resourceVersion` of an object or list.
pub fn resource_version(body: &[u8]) -> Option<String> {
    serde_json::from_slice::<WithMeta>(body)
        .ok()
        .map(|o| o.metadata.resource_version)
        .filter(|rv| !rv.is_empty())
}

#[derive(Deserialize)]
struct ItemsOnly {
    #[serde(default)]
    items: Vec<serde::de::IgnoredAny>,
}

/// How many `items` a list body holds, if it is one.
pub fn item_count(body: &[u8]) -> Option<usize> {
    serde_json::from_slice::<ItemsOnly>(body)
        .ok()
        .map(|l| l.items.len())
}

/// The sequence number in one watch event line, if any.
pub fn find_seq(line: &[u8]) -> Option<u64> {
    let start = line
        .windows(SEQ_MARKER.len())
        .position(|w| w == SEQ_MARKER)?
        + SEQ_MARKER.len();
    let digits = line[start..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    std::str::from_utf8(&line[start..start + digits])
        .ok()?
        .parse()
        .ok()
}

/// The `type` of a watch event line (`ADDED`, `ERROR`, …), by parsing it.
pub fn event_type(line: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(line).ok()?;
    v.get("type")?.as_str().map(String::from)
}

/// The namespace object to POST.
pub fn namespace(name: &str) -> Bytes {
    Bytes::from(
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}).to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_realistic() {
        let cm = configmap("cm-1-1", "bench-api-abc", 12345, Some("99"));
        assert!(
            (900..1400).contains(&cm.len()),
            "configmap {} bytes",
            cm.len()
        );
        let p = pod("pod-123456", "bench-pods-abc-7", "node-0042", 123456);
        assert!((900..1600).contains(&p.len()), "pod {} bytes", p.len());
    }

    #[test]
    fn padded_pods_reach_the_size() {
        for size in [1500, 3000] {
            assert_eq!(pod_of_size(size).len(), size);
        }
        let bare = pod("pod-0", "bench", "node-0001", 0).len();
        assert!(pod_of_size(10).len() > bare);
    }

    #[test]
    fn seq_round_trips_through_both_kinds() {
        for (body, seq) in [
            (configmap("a", "b", 42, None), 42),
            (pod("a", "b", "n", 7), 7),
        ] {
            let event = format!(
                "{{\"type\":\"ADDED\",\"object\":{}}}",
                std::str::from_utf8(&body).unwrap()
            );
            assert_eq!(find_seq(event.as_bytes()), Some(seq));
            assert_eq!(event_type(event.as_bytes()).as_deref(), Some("ADDED"));
        }
        assert_eq!(find_seq(b"{\"type\":\"BOOKMARK\"}"), None);
        assert_eq!(find_seq(b"seq\":\"x"), None);
    }

    #[test]
    fn the_marker_appears_once() {
        let body = pod("a", "b", "n", 7);
        let hits = body
            .windows(SEQ_MARKER.len())
            .filter(|w| *w == SEQ_MARKER)
            .count();
        assert_eq!(hits, 1);
        let body = configmap("a", "b", 7, None);
        let hits = body
            .windows(SEQ_MARKER.len())
            .filter(|w| *w == SEQ_MARKER)
            .count();
        assert_eq!(hits, 1);
    }

    #[test]
    fn response_fields() {
        let obj = br#"{"kind":"ConfigMap","metadata":{"name":"x","resourceVersion":"17"}}"#;
        assert_eq!(resource_version(obj).as_deref(), Some("17"));
        assert_eq!(resource_version(br#"{"metadata":{}}"#), None);
        assert_eq!(resource_version(b"not json"), None);
        let list = br#"{"kind":"PodList","metadata":{"resourceVersion":"5"},"items":[{},{"a":1}]}"#;
        assert_eq!(item_count(list), Some(2));
        assert_eq!(resource_version(list).as_deref(), Some("5"));
    }
}
