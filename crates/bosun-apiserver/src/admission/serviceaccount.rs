//! The `ServiceAccount` admission plugin (upstream
//! plugin/pkg/admission/serviceaccount) on pod creation: an empty
//! `serviceAccountName` becomes `default`, and unless
//! `automountServiceAccountToken` is false (on the pod, else on the
//! ServiceAccount) the pod gets the `kube-api-access-<random>` projected
//! volume (token, `kube-root-ca.crt`'s `ca.crt`, the namespace) mounted
//! read-only at `/var/run/secrets/kubernetes.io/serviceaccount` in every
//! container that has nothing mounted there yet. Mirror pods are left alone.
//!
//! Unlike upstream, a pod naming a ServiceAccount that does not exist (yet)
//! is admitted: the `default` account is created by a controller moments
//! after its namespace, and refusing pods in that window would break
//! clients that create a namespace and its pods at once.

use serde_json::{json, Value};

use crate::cache::State;
use crate::objects;

pub const DEFAULT_SERVICE_ACCOUNT: &str = "default";
pub const TOKEN_MOUNT_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
pub const VOLUME_PREFIX: &str = "kube-api-access-";
const MIRROR_ANNOTATION: &str = "kubernetes.io/config.mirror";
/// upstream's warn-after expiration of the projected token.
const TOKEN_EXPIRATION: i64 = 3607;

/// The projected volume upstream adds (`TokenVolumeSource`).
pub fn token_volume(name: &str) -> Value {
    json!({
        "name": name,
        "projected": {
            "defaultMode": 420,
            "sources": [
                {"serviceAccountToken": {"expirationSeconds": TOKEN_EXPIRATION, "path": "token"}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}
            ]
        }
    })
}

/// `automount` of the named ServiceAccount (`None` when unset or unknown).
fn account_automount(state: &State, namespace: &str, name: &str) -> Option<bool> {
    let def = bosun_api::registry::lookup("", "v1", "serviceaccounts")?;
    state
        .get(def, Some(namespace), name)?
        .get("automountServiceAccountToken")?
        .as_bool()
}

pub fn admit_pod_create(state: &State, pod: &mut Value) {
    if !pod["metadata"]["annotations"][MIRROR_ANNOTATION].is_null() {
        return;
    }
    let namespace = objects::meta_str(pod, "namespace")
        .unwrap_or("default")
        .to_string();
    let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    let account = match spec.get("serviceAccountName").and_then(Value::as_str) {
        Some(a) if !a.is_empty() => a.to_string(),
        _ => {
            spec.insert("serviceAccountName".into(), json!(DEFAULT_SERVICE_ACCOUNT));
            DEFAULT_SERVICE_ACCOUNT.to_string()
        }
    };
    let automount = spec
        .get("automountServiceAccountToken")
        .and_then(Value::as_bool)
        .or_else(|| account_automount(state, &namespace, &account))
        .unwrap_or(true);
    if !automount {
        return;
    }
    let volumes = spec.entry("volumes").or_insert_with(|| json!([]));
    if !volumes.is_array() {
        *volumes = json!([]);
    }
    let existing = volumes.as_array().and_then(|vs| {
        vs.iter()
            .filter_map(|v| v["name"].as_str())
            .find(|n| n.starts_with(VOLUME_PREFIX))
            .map(str::to_string)
    });
    let volume_name = match existing {
        Some(n) => n,
        None => {
            let name = format!("{VOLUME_PREFIX}{}", objects::random_suffix());
            if let Some(vs) = volumes.as_array_mut() {
                vs.push(token_volume(&name));
            }
            name
        }
    };
    for list in ["initContainers", "containers"] {
        let Some(containers) = spec.get_mut(list).and_then(Value::as_array_mut) else {
            continue;
        };
        for c in containers {
            let Some(c) = c.as_object_mut() else {
                continue;
            };
            let mounts = c.entry("volumeMounts").or_insert_with(|| json!([]));
            let Some(mounts) = mounts.as_array_mut() else {
                continue;
            };
            if mounts
                .iter()
                .any(|m| m["mountPath"].as_str() == Some(TOKEN_MOUNT_PATH))
            {
                continue;
            }
            mounts.push(
                json!({"name": volume_name, "readOnly": true, "mountPath": TOKEN_MOUNT_PATH}),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_the_token_volume_to_every_container() {
        let state = State::default();
        let mut pod = json!({
            "metadata": {"name": "p", "namespace": "ns"},
            "spec": {"containers": [{"name": "a"}, {"name": "b", "volumeMounts": [
                {"name": "mine", "mountPath": TOKEN_MOUNT_PATH}]}],
                     "initContainers": [{"name": "i"}]}
        });
        admit_pod_create(&state, &mut pod);
        let spec = &pod["spec"];
        assert_eq!(spec["serviceAccountName"], "default");
        let vol = spec["volumes"][0]["name"].as_str().unwrap();
        assert!(vol.starts_with(VOLUME_PREFIX) && vol.len() == VOLUME_PREFIX.len() + 5);
        assert_eq!(
            spec["volumes"][0]["projected"]["sources"][0]["serviceAccountToken"]
                ["expirationSeconds"],
            3607
        );
        let mount = &spec["containers"][0]["volumeMounts"][0];
        assert_eq!(mount["name"], vol);
        assert_eq!(mount["readOnly"], true);
        assert_eq!(
            spec["containers"][1]["volumeMounts"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        assert_eq!(spec["initContainers"][0]["volumeMounts"][0]["name"], vol);
    }

    #[test]
    fn automount_false_adds_nothing() {
        let state = State::default();
        let mut pod = json!({
            "metadata": {"name": "p", "namespace": "ns"},
            "spec": {"serviceAccountName": "robot", "automountServiceAccountToken": false,
                     "containers": [{"name": "a"}]}
        });
        admit_pod_create(&state, &mut pod);
        assert_eq!(pod["spec"]["serviceAccountName"], "robot");
        assert!(pod["spec"].get("volumes").is_none());
    }
}
