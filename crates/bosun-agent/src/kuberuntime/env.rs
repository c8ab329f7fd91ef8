//! A container's environment as kubelet builds it: `envFrom` sources in
//! order (with their prefix), then `env` entries (literal values with
//! `$(VAR)` expansion over the variables defined before them, the
//! downward API, resource fields, ConfigMap and Secret keys); later
//! definitions win. Command and args are expanded with the result.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use k8s_openapi::api::core::v1::{ConfigMap, Container, Pod, Secret};
use kube::api::Api;
use kube::Client;

use super::config::{cpu_millis, memory_bytes};

/// Where ConfigMaps and Secrets come from (the API; a map in tests).
#[async_trait]
pub trait ConfigSource: Send + Sync {
    /// `Ok(None)` when the object does not exist.
    async fn config_map(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<BTreeMap<String, String>>, String>;
    async fn secret(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<BTreeMap<String, String>>, String>;
}

pub struct KubeConfigSource(pub Client);

fn not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404)
}

#[async_trait]
impl ConfigSource for KubeConfigSource {
    async fn config_map(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<BTreeMap<String, String>>, String> {
        let api: Api<ConfigMap> = Api::namespaced(self.0.clone(), namespace);
        match api.get(name).await {
            Ok(cm) => Ok(Some(cm.data.unwrap_or_default())),
            Err(e) if not_found(&e) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }

    async fn secret(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<BTreeMap<String, String>>, String> {
        let api: Api<Secret> = Api::namespaced(self.0.clone(), namespace);
        match api.get(name).await {
            Ok(s) => Ok(Some(
                s.data
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(k, v)| (k, String::from_utf8_lossy(&v.0).into_owned()))
                    .chain(s.string_data.unwrap_or_default())
                    .collect(),
            )),
            Err(e) if not_found(&e) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// Fixed objects (tests): (namespace, name) → data.
#[derive(Default)]
pub struct StaticConfigSource {
    pub config_maps: HashMap<(String, String), BTreeMap<String, String>>,
    pub secrets: HashMap<(String, String), BTreeMap<String, String>>,
}

#[async_trait]
impl ConfigSource for StaticConfigSource {
    async fn config_map(
        &self,
        ns: &str,
        name: &str,
    ) -> Result<Option<BTreeMap<String, String>>, String> {
        Ok(self
            .config_maps
            .get(&(ns.to_string(), name.to_string()))
            .cloned())
    }
    async fn secret(
        &self,
        ns: &str,
        name: &str,
    ) -> Result<Option<BTreeMap<String, String>>, String> {
        Ok(self
            .secrets
            .get(&(ns.to_string(), name.to_string()))
            .cloned())
    }
}

/// Expands `$(NAME)` from `vars`; `$$` escapes a `$`; unknown names stay.
pub fn expand(input: &str, vars: &HashMap<String, String>) -> String {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(stripped) = after.strip_prefix('$') {
            out.push('$');
            rest = stripped;
        } else if let Some(inner) = after.strip_prefix('(') {
            match inner.find(')') {
                Some(end) => {
                    let name = &inner[..end];
                    match vars.get(name) {
                        Some(v) => out.push_str(v),
                        None => {
                            out.push_str("$(");
                            out.push_str(name);
                            out.push(')');
                        }
                    }
                    rest = &inner[end + 1..];
                }
                None => {
                    out.push('$');
                    rest = after;
                }
            }
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// An ordered environment where a later definition replaces an earlier one.
#[derive(Default)]
struct Env {
    order: Vec<String>,
    values: HashMap<String, String>,
}

impl Env {
    fn set(&mut self, k: String, v: String) {
        if !self.values.contains_key(&k) {
            self.order.push(k.clone());
        }
        self.values.insert(k, v);
    }
}

/// `a / b` rounded up (b > 0, a ≥ 0 for quantities).
fn ceil_div(a: i64, b: i64) -> i64 {
    (a + b - 1) / b
}

pub(crate) fn resource_field(
    c: &Container,
    resource: &str,
    divisor: Option<&str>,
) -> Option<String> {
    let (which, name) = resource.split_once('.')?;
    let r = c.resources.as_ref()?;
    let map = if which == "limits" {
        r.limits.as_ref()
    } else {
        r.requests.as_ref()
    }?;
    let q = &map.get(name)?.0;
    if name == "cpu" {
        let div = divisor
            .and_then(cpu_millis)
            .filter(|d| *d > 0)
            .unwrap_or(1000);
        Some(ceil_div(cpu_millis(q)?, div).to_string())
    } else {
        let div = divisor
            .and_then(memory_bytes)
            .filter(|d| *d > 0)
            .unwrap_or(1);
        Some(ceil_div(memory_bytes(q)?, div).to_string())
    }
}

/// The resolved environment, in definition order; `Err` is the message of
/// a CreateContainerConfigError (a missing, non-optional source).
pub async fn resolve(
    pod: &Pod,
    c: &Container,
    pod_ip: &str,
    host_ip: &str,
    source: &dyn ConfigSource,
) -> Result<Vec<(String, String)>, String> {
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    let mut env = Env::default();
    for from in c.env_from.as_deref().unwrap_or(&[]) {
        let prefix = from.prefix.as_deref().unwrap_or_default();
        let (data, what, name, optional) = if let Some(cm) = &from.config_map_ref {
            (
                source.config_map(ns, &cm.name).await?,
                "configmap",
                cm.name.clone(),
                cm.optional.unwrap_or(false),
            )
        } else if let Some(s) = &from.secret_ref {
            (
                source.secret(ns, &s.name).await?,
                "secret",
                s.name.clone(),
                s.optional.unwrap_or(false),
            )
        } else {
            continue;
        };
        match data {
            Some(d) => {
                for (k, v) in d {
                    env.set(format!("{prefix}{k}"), v);
                }
            }
            None if optional => {}
            None => return Err(format!("{what} \"{name}\" not found")),
        }
    }
    let spec = pod.spec.as_ref();
    for e in c.env.as_deref().unwrap_or(&[]) {
        let value = if let Some(v) = &e.value {
            Some(expand(v, &env.values))
        } else if let Some(vf) = &e.value_from {
            if let Some(f) = &vf.field_ref {
                match f.field_path.as_str() {
                    "metadata.name" => pod.metadata.name.clone(),
                    "metadata.namespace" => pod.metadata.namespace.clone(),
                    "metadata.uid" => pod.metadata.uid.clone(),
                    "spec.nodeName" => spec.and_then(|s| s.node_name.clone()),
                    "spec.serviceAccountName" => spec.and_then(|s| s.service_account_name.clone()),
                    "status.podIP" => Some(pod_ip.to_string()),
                    "status.podIPs" => Some(pod_ip.to_string()),
                    "status.hostIP" | "status.hostIPs" => Some(host_ip.to_string()),
                    path => {
                        let label = |p: &str, m: Option<&BTreeMap<String, String>>| {
                            p.strip_suffix("']")
                                .and_then(|k| m.and_then(|m| m.get(k)).cloned())
                        };
                        if let Some(k) = path.strip_prefix("metadata.labels['") {
                            label(k, pod.metadata.labels.as_ref()).or_else(|| Some(String::new()))
                        } else if let Some(k) = path.strip_prefix("metadata.annotations['") {
                            label(k, pod.metadata.annotations.as_ref())
                                .or_else(|| Some(String::new()))
                        } else {
                            return Err(format!("unsupported fieldPath {path:?}"));
                        }
                    }
                }
            } else if let Some(r) = &vf.resource_field_ref {
                let target = r
                    .container_name
                    .as_deref()
                    .and_then(|n| spec.and_then(|s| s.containers.iter().find(|c| c.name == n)))
                    .unwrap_or(c);
                Some(
                    resource_field(
                        target,
                        &r.resource,
                        r.divisor.as_ref().map(|d| d.0.as_str()),
                    )
                    .unwrap_or_default(),
                )
            } else if let Some(k) = &vf.config_map_key_ref {
                let data = source.config_map(ns, &k.name).await?;
                keyed_value(data, &k.key, k.optional, "ConfigMap", ns, &k.name)?
            } else if let Some(k) = &vf.secret_key_ref {
                let data = source.secret(ns, &k.name).await?;
                keyed_value(data, &k.key, k.optional, "Secret", ns, &k.name)?
            } else {
                None
            }
        } else {
            Some(String::new())
        };
        if let Some(v) = value {
            env.set(e.name.clone(), v);
        }
    }
    Ok(env
        .order
        .into_iter()
        .map(|k| {
            let v = env.values.get(&k).cloned().unwrap_or_default();
            (k, v)
        })
        .collect())
}

/// The value of `key` in a ConfigMap's or Secret's data: `None` when it is
/// missing but optional, an error (CreateContainerConfigError's message)
/// when it is missing and required.
fn keyed_value(
    data: Option<BTreeMap<String, String>>,
    key: &str,
    optional: Option<bool>,
    kind: &str,
    ns: &str,
    name: &str,
) -> Result<Option<String>, String> {
    match data.and_then(|d| d.get(key).cloned()) {
        Some(v) => Ok(Some(v)),
        None if optional.unwrap_or(false) => Ok(None),
        None => Err(format!("couldn't find key {key} in {kind} {ns}/{name}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn expansion() {
        let v = vars(&[("A", "1"), ("B", "two")]);
        assert_eq!(expand("x$(A)y$(B)", &v), "x1ytwo");
        assert_eq!(expand("$(MISSING)", &v), "$(MISSING)");
        assert_eq!(expand("$$(A)", &v), "$(A)");
        assert_eq!(expand("cost $5 $(A", &v), "cost $5 $(A");
    }

    #[tokio::test]
    async fn sources_in_order_later_wins() {
        let mut src = StaticConfigSource::default();
        src.config_maps.insert(
            ("d".into(), "cm".into()),
            [
                ("K".to_string(), "from-cm".to_string()),
                ("X".to_string(), "x".to_string()),
            ]
            .into(),
        );
        src.secrets.insert(
            ("d".into(), "s".into()),
            [("pw".to_string(), "hunter2".to_string())].into(),
        );
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "d", "labels": {"app": "web"}},
            "spec": {"nodeName": "n1", "containers": [{
                "name": "c",
                "resources": {"limits": {"memory": "64Mi", "cpu": "1500m"}},
                "envFrom": [{"configMapRef": {"name": "cm"}, "prefix": "CM_"}, {"configMapRef": {"name": "nope", "optional": true}}],
                "env": [
                    {"name": "CM_K", "value": "override-$(CM_X)"},
                    {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "s", "key": "pw"}}},
                    {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
                    {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
                    {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}},
                    {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}},
                    {"name": "OPT", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "absent", "optional": true}}}
                ]
            }]}
        }))
        .unwrap();
        let c = &pod.spec.as_ref().unwrap().containers[0];
        let env = resolve(&pod, c, "10.0.0.1", "192.0.2.1", &src)
            .await
            .unwrap();
        let got: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            got,
            [
                ("CM_K", "override-x"),
                ("CM_X", "x"),
                ("PW", "hunter2"),
                ("NODE", "n1"),
                ("APP", "web"),
                ("MEM", "64"),
                ("CPU", "2")
            ]
        );
    }

    #[tokio::test]
    async fn missing_sources_are_config_errors() {
        let src = StaticConfigSource::default();
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "d"},
            "spec": {"containers": [{"name": "c", "envFrom": [{"secretRef": {"name": "gone"}}]}]}
        }))
        .unwrap();
        let c = &pod.spec.as_ref().unwrap().containers[0];
        assert_eq!(
            resolve(&pod, c, "", "", &src).await.unwrap_err(),
            "secret \"gone\" not found"
        );
    }
}
