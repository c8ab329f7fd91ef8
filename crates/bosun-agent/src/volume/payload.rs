//! The files of configMap, secret and downwardAPI volumes (and of the same
//! sources inside a projected volume), as kubelet's `makePayload`
//! functions build them. Pure: objects in, payload or error message out.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ConfigMap, DownwardAPIVolumeFile, KeyToPath, Pod, Secret};

use super::atomic_writer::{FileProjection, Payload};
use crate::kuberuntime::env::resource_field;

/// kubelet's default file mode (`0644`).
pub const DEFAULT_MODE: i32 = 0o644;

fn mode(item: Option<i32>, default_mode: Option<i32>) -> u32 {
    item.or(default_mode).unwrap_or(DEFAULT_MODE) as u32 & 0o7777
}

/// Keys to files: every key, or the listed items (a missing listed key is
/// an error unless the source is optional).
fn key_payload(
    data: &BTreeMap<String, Vec<u8>>,
    items: Option<&[KeyToPath]>,
    default_mode: Option<i32>,
    optional: bool,
    missing_key: impl Fn(&str) -> String,
) -> Result<Payload, String> {
    let mut out = Payload::new();
    match items.filter(|i| !i.is_empty()) {
        None => {
            for (k, v) in data {
                out.insert(
                    k.clone(),
                    FileProjection {
                        data: v.clone(),
                        mode: mode(None, default_mode),
                    },
                );
            }
        }
        Some(items) => {
            for item in items {
                match data.get(&item.key) {
                    Some(v) => {
                        out.insert(
                            item.path.clone(),
                            FileProjection {
                                data: v.clone(),
                                mode: mode(item.mode, default_mode),
                            },
                        );
                    }
                    None if optional => {}
                    None => return Err(missing_key(&item.key)),
                }
            }
        }
    }
    Ok(out)
}

/// A configMap volume (or projection); `cm` is `None` when it does not
/// exist.
pub fn config_map(
    cm: Option<&ConfigMap>,
    name: &str,
    items: Option<&[KeyToPath]>,
    default_mode: Option<i32>,
    optional: bool,
) -> Result<Payload, String> {
    let Some(cm) = cm else {
        return if optional {
            Ok(Payload::new())
        } else {
            Err(format!("configmap \"{name}\" not found"))
        };
    };
    let mut data: BTreeMap<String, Vec<u8>> = cm
        .data
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.as_bytes().to_vec()))
        .collect();
    for (k, v) in cm.binary_data.iter().flatten() {
        data.insert(k.clone(), v.0.clone());
    }
    key_payload(&data, items, default_mode, optional, |k| {
        format!("configmap references non-existent config key: {k}")
    })
}

/// A secret volume (or projection).
pub fn secret(
    secret: Option<&Secret>,
    name: &str,
    items: Option<&[KeyToPath]>,
    default_mode: Option<i32>,
    optional: bool,
) -> Result<Payload, String> {
    let Some(secret) = secret else {
        return if optional {
            Ok(Payload::new())
        } else {
            Err(format!("secret \"{name}\" not found"))
        };
    };
    let mut data: BTreeMap<String, Vec<u8>> = secret
        .data
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.0.clone()))
        .collect();
    // The API server merges stringData into data; a raw object may not.
    for (k, v) in secret.string_data.iter().flatten() {
        data.entry(k.clone())
            .or_insert_with(|| v.as_bytes().to_vec());
    }
    key_payload(&data, items, default_mode, optional, |k| {
        format!("references non-existent secret key: {k}")
    })
}

/// Go's `%q` for the label and annotation files.
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// upstream `fieldpath.FormatMap`: sorted `key="value"` lines, no final
/// newline.
pub fn format_map(m: Option<&BTreeMap<String, String>>) -> String {
    m.into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", go_quote(v)))
        .collect::<Vec<_>>()
        .join("\n")
}

fn field_value(pod: &Pod, path: &str) -> Result<String, String> {
    let meta = &pod.metadata;
    let keyed = |prefix: &str, m: Option<&BTreeMap<String, String>>| {
        path.strip_prefix(prefix)
            .and_then(|r| r.strip_suffix("']"))
            .map(|k| m.and_then(|m| m.get(k)).cloned().unwrap_or_default())
    };
    Ok(match path {
        "metadata.name" => meta.name.clone().unwrap_or_default(),
        "metadata.namespace" => meta.namespace.clone().unwrap_or_default(),
        "metadata.uid" => meta.uid.clone().unwrap_or_default(),
        "metadata.labels" => format_map(meta.labels.as_ref()),
        "metadata.annotations" => format_map(meta.annotations.as_ref()),
        _ => keyed("metadata.labels['", meta.labels.as_ref())
            .or_else(|| keyed("metadata.annotations['", meta.annotations.as_ref()))
            .ok_or_else(|| format!("unsupported fieldPath: {path}"))?,
    })
}

/// A downwardAPI volume (or projection).
pub fn downward_api(
    pod: &Pod,
    items: &[DownwardAPIVolumeFile],
    default_mode: Option<i32>,
) -> Result<Payload, String> {
    let mut out = Payload::new();
    let containers = pod
        .spec
        .as_ref()
        .map(|s| s.containers.as_slice())
        .unwrap_or(&[]);
    for item in items {
        let value = if let Some(f) = &item.field_ref {
            field_value(pod, &f.field_path)?
        } else if let Some(r) = &item.resource_field_ref {
            let name = r.container_name.as_deref().unwrap_or_default();
            let c = containers
                .iter()
                .find(|c| c.name == name)
                .ok_or_else(|| format!("container {name} not found"))?;
            resource_field(c, &r.resource, r.divisor.as_ref().map(|d| d.0.as_str()))
                .unwrap_or_else(|| "0".into())
        } else {
            continue;
        };
        out.insert(
            item.path.clone(),
            FileProjection {
                data: value.into_bytes(),
                mode: mode(item.mode, default_mode),
            },
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn text(p: &Payload, k: &str) -> String {
        String::from_utf8(p[k].data.clone()).unwrap()
    }

    #[test]
    fn config_map_items_modes_and_optional() {
        let cm: ConfigMap = serde_json::from_value(json!({
            "metadata": {"name": "cm"},
            "data": {"a": "1", "b": "2"}, "binaryData": {"bin": "AAE="}
        }))
        .unwrap();
        let all = config_map(Some(&cm), "cm", None, None, false).unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(all["bin"].data, [0, 1]);
        assert_eq!(all["a"].mode, 0o644);
        let items: Vec<KeyToPath> = serde_json::from_value(json!([
            {"key": "a", "path": "dir/x"}, {"key": "b", "path": "y", "mode": 0o400}
        ]))
        .unwrap();
        let some = config_map(Some(&cm), "cm", Some(&items), Some(0o600), false).unwrap();
        assert_eq!(text(&some, "dir/x"), "1");
        assert_eq!(some["dir/x"].mode, 0o600);
        assert_eq!(some["y"].mode, 0o400);
        assert_eq!(
            config_map(None, "cm", None, None, false).unwrap_err(),
            "configmap \"cm\" not found"
        );
        assert!(config_map(None, "cm", None, None, true).unwrap().is_empty());
        let missing: Vec<KeyToPath> =
            serde_json::from_value(json!([{"key": "zz", "path": "z"}])).unwrap();
        assert_eq!(
            config_map(Some(&cm), "cm", Some(&missing), None, false).unwrap_err(),
            "configmap references non-existent config key: zz"
        );
        assert!(config_map(Some(&cm), "cm", Some(&missing), None, true)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn secret_data_is_decoded_bytes() {
        let s: Secret = serde_json::from_value(json!({
            "metadata": {"name": "s"}, "data": {"password": "aHVudGVyMg=="}
        }))
        .unwrap();
        let p = secret(Some(&s), "s", None, Some(0o400), false).unwrap();
        assert_eq!(text(&p, "password"), "hunter2");
        assert_eq!(p["password"].mode, 0o400);
        assert_eq!(
            secret(None, "s", None, None, false).unwrap_err(),
            "secret \"s\" not found"
        );
    }

    #[test]
    fn downward_api_renders_fields_as_kubelet() {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "ns", "uid": "u1",
                         "labels": {"b": "two", "a": "say \"hi\"\n"},
                         "annotations": {"note": "x"}},
            "spec": {"containers": [{"name": "c", "image": "i",
                     "resources": {"limits": {"memory": "64Mi", "cpu": "250m"},
                                   "requests": {"cpu": "100m"}}}]}
        }))
        .unwrap();
        let items: Vec<DownwardAPIVolumeFile> = serde_json::from_value(json!([
            {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
            {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}},
            {"path": "ns", "fieldRef": {"fieldPath": "metadata.namespace"}},
            {"path": "uid", "fieldRef": {"fieldPath": "metadata.uid"}},
            {"path": "b", "fieldRef": {"fieldPath": "metadata.labels['b']"}},
            {"path": "ann", "fieldRef": {"fieldPath": "metadata.annotations"}},
            {"path": "mem", "resourceFieldRef": {"containerName": "c", "resource": "limits.memory", "divisor": "1Mi"}},
            {"path": "cpu", "resourceFieldRef": {"containerName": "c", "resource": "requests.cpu", "divisor": "1m"}},
            {"path": "cpulimit", "resourceFieldRef": {"containerName": "c", "resource": "limits.cpu"}, "mode": 0o600}
        ]))
        .unwrap();
        let p = downward_api(&pod, &items, None).unwrap();
        assert_eq!(text(&p, "labels"), "a=\"say \\\"hi\\\"\\n\"\nb=\"two\"");
        assert_eq!(text(&p, "name"), "p");
        assert_eq!(text(&p, "ns"), "ns");
        assert_eq!(text(&p, "uid"), "u1");
        assert_eq!(text(&p, "b"), "two");
        assert_eq!(text(&p, "ann"), "note=\"x\"");
        assert_eq!(text(&p, "mem"), "64");
        assert_eq!(text(&p, "cpu"), "100");
        assert_eq!(text(&p, "cpulimit"), "1");
        assert_eq!(p["cpulimit"].mode, 0o600);
    }
}
