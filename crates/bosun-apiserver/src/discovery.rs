//! API discovery: `/api`, `/apis`, per group-version resource lists and the
//! aggregated (apidiscovery.k8s.io/v2) form, all built from the registry.

use bosun_api::registry::{self, ResourceDef, Subresource};
use serde_json::{json, Value};

pub const AGGREGATED_CONTENT_TYPE: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

/// Whether the Accept header asks for aggregated discovery v2.
pub fn wants_aggregated(accept: Option<&str>) -> bool {
    accept.is_some_and(|a| {
        a.split(',').any(|m| {
            m.contains("as=APIGroupDiscoveryList")
                && m.contains("g=apidiscovery.k8s.io")
                && m.contains("v=v2")
                && !m.contains("v=v2beta1")
        })
    })
}

fn verbs(def: &ResourceDef) -> Vec<&'static str> {
    let mut v = vec!["create", "delete"];
    if def.kind != "Namespace" {
        v.push("deletecollection");
    }
    v.extend(["get", "list", "patch", "update", "watch"]);
    v
}

struct SubInfo {
    name: &'static str,
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    verbs: &'static [&'static str],
}

fn subresources(def: &ResourceDef) -> Vec<SubInfo> {
    let mut out = Vec::new();
    for sub in def.subresources {
        out.push(match sub {
            Subresource::Status => SubInfo {
                name: "status",
                group: def.group,
                version: def.version,
                kind: def.kind,
                verbs: &["get", "patch", "update"],
            },
            Subresource::Scale => SubInfo {
                name: "scale",
                group: "autoscaling",
                version: "v1",
                kind: "Scale",
                verbs: &["get", "patch", "update"],
            },
            Subresource::Binding => SubInfo {
                name: "binding",
                group: "",
                version: "v1",
                kind: "Binding",
                verbs: &["create"],
            },
            Subresource::Eviction => SubInfo {
                name: "eviction",
                group: "policy",
                version: "v1",
                kind: "Eviction",
                verbs: &["create"],
            },
        });
    }
    if def.kind == "Pod" && def.group.is_empty() {
        // Served by the pod's node agent (handler/stream.rs).
        for (name, kind, verbs) in [
            ("attach", "PodAttachOptions", &["create", "get"][..]),
            ("exec", "PodExecOptions", &["create", "get"][..]),
            ("log", "Pod", &["get"][..]),
            (
                "portforward",
                "PodPortForwardOptions",
                &["create", "get"][..],
            ),
        ] {
            out.push(SubInfo {
                name,
                group: "",
                version: "v1",
                kind,
                verbs,
            });
        }
    }
    if def.kind == "Namespace" {
        out.push(SubInfo {
            name: "finalize",
            group: "",
            version: "v1",
            kind: "Namespace",
            verbs: &["update"],
        });
    }
    out.sort_by_key(|s| s.name);
    out
}

/// The resources of `metrics.k8s.io/v1beta1`, served outside the registry
/// (read-only, from memory): (plural, kind, namespaced).
const METRICS_RESOURCES: [(&str, &str, bool); 2] = [
    ("nodes", "NodeMetrics", false),
    ("pods", "PodMetrics", true),
];
const METRICS_GROUP: &str = crate::metrics::api::GROUP;
const METRICS_VERSION: &str = crate::metrics::api::VERSION;

fn metrics_resource_list() -> Value {
    let resources: Vec<Value> = METRICS_RESOURCES
        .iter()
        .map(|(plural, kind, namespaced)| {
            json!({"name": plural, "singularName": "", "namespaced": namespaced, "kind": kind, "verbs": ["get", "list"]})
        })
        .collect();
    json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": format!("{METRICS_GROUP}/{METRICS_VERSION}"),
        "resources": resources,
    })
}

fn metrics_aggregated_group() -> Value {
    let resources: Vec<Value> = METRICS_RESOURCES
        .iter()
        .map(|(plural, kind, namespaced)| {
            json!({
                "resource": plural,
                "responseKind": {"group": METRICS_GROUP, "version": METRICS_VERSION, "kind": kind},
                "scope": if *namespaced { "Namespaced" } else { "Cluster" },
                "verbs": ["get", "list"],
            })
        })
        .collect();
    json!({
        "metadata": {"name": METRICS_GROUP, "creationTimestamp": null},
        "versions": [{"version": METRICS_VERSION, "resources": resources, "freshness": "Current"}],
    })
}

/// `GET /api/v1` or `/apis/{group}/{version}`.
pub fn resource_list(group: &str, version: &str) -> Option<Value> {
    if group == METRICS_GROUP && version == METRICS_VERSION {
        return Some(metrics_resource_list());
    }
    let defs: Vec<&ResourceDef> = registry::all()
        .iter()
        .filter(|d| d.group == group && d.version == version)
        .collect();
    if defs.is_empty() {
        return None;
    }
    let mut resources = Vec::new();
    for def in defs {
        let mut r = json!({
            "name": def.plural,
            "singularName": def.singular,
            "namespaced": def.namespaced,
            "kind": def.kind,
            "verbs": verbs(def),
        });
        if !def.short_names.is_empty() {
            r["shortNames"] = json!(def.short_names);
        }
        if !def.categories.is_empty() {
            r["categories"] = json!(def.categories);
        }
        resources.push(r);
        for sub in subresources(def) {
            let mut s = json!({
                "name": format!("{}/{}", def.plural, sub.name),
                "singularName": "",
                "namespaced": def.namespaced,
                "kind": sub.kind,
                "verbs": sub.verbs,
            });
            if sub.group != def.group || sub.version != def.version {
                s["group"] = json!(sub.group);
                s["version"] = json!(sub.version);
            }
            resources.push(s);
        }
    }
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": gv,
        "resources": resources,
    }))
}

/// `GET /api`.
pub fn api_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    })
}

fn group_entry(group: &str, version: &str) -> Value {
    let gv = json!({"groupVersion": format!("{group}/{version}"), "version": version});
    json!({"name": group, "versions": [gv.clone()], "preferredVersion": gv})
}

/// `GET /apis`.
pub fn group_list() -> Value {
    let groups: Vec<Value> = registry::groups()
        .into_iter()
        .filter(|(g, _)| !g.is_empty())
        .chain([(METRICS_GROUP, METRICS_VERSION)])
        .map(|(g, v)| group_entry(g, v))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `GET /apis/{group}`.
pub fn group(name: &str) -> Option<Value> {
    registry::groups()
        .into_iter()
        .chain([(METRICS_GROUP, METRICS_VERSION)])
        .find(|(g, _)| *g == name && !g.is_empty())
        .map(|(g, v)| {
            let mut e = group_entry(g, v);
            e["kind"] = json!("APIGroup");
            e["apiVersion"] = json!("v1");
            e
        })
}

fn aggregated_group(group: &str, version: &str) -> Value {
    let resources: Vec<Value> = registry::all()
        .iter()
        .filter(|d| d.group == group && d.version == version)
        .map(|def| {
            let mut r = json!({
                "resource": def.plural,
                "responseKind": {"group": def.group, "version": def.version, "kind": def.kind},
                "scope": if def.namespaced { "Namespaced" } else { "Cluster" },
                "singularResource": def.singular,
                "verbs": verbs(def),
            });
            if !def.short_names.is_empty() {
                r["shortNames"] = json!(def.short_names);
            }
            if !def.categories.is_empty() {
                r["categories"] = json!(def.categories);
            }
            let subs: Vec<Value> = subresources(def)
                .into_iter()
                .map(|s| {
                    json!({
                        "subresource": s.name,
                        "responseKind": {"group": s.group, "version": s.version, "kind": s.kind},
                        "verbs": s.verbs,
                    })
                })
                .collect();
            if !subs.is_empty() {
                r["subresources"] = json!(subs);
            }
            r
        })
        .collect();
    let mut metadata = json!({"creationTimestamp": null});
    if !group.is_empty() {
        metadata["name"] = json!(group);
    }
    json!({
        "metadata": metadata,
        "versions": [{"version": version, "resources": resources, "freshness": "Current"}],
    })
}

/// Aggregated discovery for `/api` (`core == true`) or `/apis`.
pub fn aggregated(core: bool) -> Value {
    let mut items: Vec<Value> = registry::groups()
        .into_iter()
        .filter(|(g, _)| g.is_empty() == core)
        .map(|(g, v)| aggregated_group(g, v))
        .collect();
    if !core {
        items.push(metrics_aggregated_group());
    }
    json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": items,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployments_advertise_scale_as_autoscaling_v1() {
        let list = resource_list("apps", "v1").unwrap();
        let scale = list["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == "deployments/scale")
            .unwrap();
        assert_eq!(scale["group"], "autoscaling");
        assert_eq!(scale["kind"], "Scale");
        let deploy = &list["resources"][0];
        assert_eq!(deploy["shortNames"][0], "deploy");
    }

    #[test]
    fn aggregated_accept_header_is_detected() {
        let accept = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
        assert!(wants_aggregated(Some(accept)));
        assert!(!wants_aggregated(Some("application/json")));
    }
}
