//! Decodes request bodies captured from kubectl 1.32 and compares them with
//! the JSON kubectl prints for the same object, including key order.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use bosun_protobuf::{decode_to_json, parse_envelope};
use serde_json::{json, Value};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/kubectl-1.32")
        .join(name)
}

fn read_pb(name: &str) -> Vec<u8> {
    std::fs::read(fixture(&format!("{name}.pb"))).unwrap()
}

fn read_json(name: &str) -> Value {
    let text = std::fs::read_to_string(fixture(&format!("{name}.json"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Equal as values and in key order (serde_json keeps insertion order here).
fn assert_same(name: &str, got: &Value, want: &Value) {
    assert_eq!(got, want, "{name}: values differ");
    assert_eq!(
        serde_json::to_string(got).unwrap(),
        serde_json::to_string(want).unwrap(),
        "{name}: key order differs"
    );
}

#[test]
fn kubectl_create_bodies_match_kubectl_json() {
    let cases = [
        ("namespace", "v1", "Namespace"),
        ("deployment", "apps/v1", "Deployment"),
        ("configmap", "v1", "ConfigMap"),
        ("secret", "v1", "Secret"),
        ("service", "v1", "Service"),
        ("job", "batch/v1", "Job"),
        ("cronjob", "batch/v1", "CronJob"),
        ("serviceaccount", "v1", "ServiceAccount"),
        ("priorityclass", "scheduling.k8s.io/v1", "PriorityClass"),
        ("pdb", "policy/v1", "PodDisruptionBudget"),
        ("quota", "v1", "ResourceQuota"),
    ];
    for (name, api_version, kind) in cases {
        let body = read_pb(name);
        let envelope = parse_envelope(&body).unwrap();
        assert_eq!(
            (envelope.api_version.as_str(), envelope.kind.as_str()),
            (api_version, kind)
        );
        assert_eq!(envelope.content_encoding, "");
        assert_eq!(envelope.content_type, "");
        let got = decode_to_json(&body).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_same(name, &got, &read_json(name));
    }
}

#[test]
fn kubectl_create_token_body() {
    let got = decode_to_json(&read_pb("tokenrequest")).unwrap();
    let want = json!({
        "kind": "TokenRequest",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"creationTimestamp": null},
        "spec": {"audiences": ["api"], "expirationSeconds": 3600, "boundObjectRef": null},
        "status": {"token": "", "expirationTimestamp": null}
    });
    assert_same("tokenrequest", &got, &want);
}

#[test]
fn truncated_captures_fail_cleanly() {
    let body = read_pb("deployment");
    for cut in [5, 20, 40, body.len() - 1] {
        assert!(decode_to_json(&body[..cut]).is_err(), "cut at {cut}");
    }
}
