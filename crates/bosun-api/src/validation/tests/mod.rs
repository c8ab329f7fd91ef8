//! Table-driven tests per kind: a valid (defaulted) object passes; each
//! broken variant yields the expected field path and reason.

use super::*;
use crate::defaults::apply_defaults;
use serde_json::{json, Value};

mod core_kinds;
mod workloads;

/// Set (or with `None`, remove) the value at a JSON pointer, creating
/// missing parent objects.
pub fn put(v: &mut Value, ptr: &str, val: Option<Value>) {
    let parts: Vec<&str> = ptr.trim_start_matches('/').split('/').collect();
    let mut cur = v;
    for p in &parts[..parts.len() - 1] {
        cur = match cur {
            Value::Array(a) => &mut a[p.parse::<usize>().unwrap()],
            Value::Object(m) => m.entry(p.to_string()).or_insert(json!({})),
            _ => panic!("bad pointer {ptr}"),
        };
    }
    let last = parts[parts.len() - 1];
    match (cur, val) {
        (Value::Object(m), Some(x)) => {
            m.insert(last.to_string(), x);
        }
        (Value::Object(m), None) => {
            m.remove(last);
        }
        (Value::Array(a), Some(x)) => {
            let i = last.parse::<usize>().unwrap();
            if i == a.len() {
                a.push(x);
            } else {
                a[i] = x;
            }
        }
        (Value::Array(a), None) => {
            a.remove(last.parse::<usize>().unwrap());
        }
        _ => panic!("bad pointer {ptr}"),
    }
}

pub type Case<'a> = (&'a str, Option<Value>, &'a str, &'a str);

/// Run create-validation cases: the base must pass; each case must produce
/// an error with the given field and reason.
pub fn run(group: &str, kind: &str, base: Value, cases: &[Case]) {
    let mut b = base.clone();
    apply_defaults(group, kind, &mut b);
    let errs = validate_create(group, kind, &b);
    assert!(errs.is_empty(), "{kind} base invalid: {errs:#?}");
    for (ptr, val, field, reason) in cases {
        let mut o = base.clone();
        put(&mut o, ptr, val.clone());
        apply_defaults(group, kind, &mut o);
        let errs = validate_create(group, kind, &o);
        assert!(
            errs.iter()
                .any(|e| e.field == *field && e.reason() == *reason),
            "{kind} {ptr}: expected {field} {reason}, got {errs:#?}"
        );
    }
}

pub fn pod_template(labels: Value) -> Value {
    json!({
        "metadata": {"labels": labels},
        "spec": {"containers": [{"name": "app", "image": "nginx:1.25", "ports": [{"containerPort": 80}]}]}
    })
}

pub fn pod() -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "p", "namespace": "default", "labels": {"app": "web"}},
        "spec": {
            "containers": [{
                "name": "app", "image": "nginx",
                "ports": [{"name": "http", "containerPort": 80}],
                "env": [{"name": "A", "value": "1"}],
                "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}},
                "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                "livenessProbe": {"httpGet": {"port": 80}}
            }],
            "volumes": [{"name": "data"}]
        }
    })
}

pub fn deployment() -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": pod_template(json!({"app": "web"}))}
    })
}

pub fn job() -> Value {
    json!({"metadata": {"name": "pi", "namespace": "d"},
        "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "pi", "image": "perl"}]}}}})
}
