//! The served resources, found through API discovery as upstream's garbage
//! collector and namespace controller find them (each group's preferred
//! version), with the verbs each supports.

use std::collections::HashMap;

use kube::discovery::{verbs, ApiResource, Discovery, Scope};

#[derive(Clone, Debug)]
pub struct ServedResource {
    pub ar: ApiResource,
    pub namespaced: bool,
    pub verbs: Vec<String>,
}

impl ServedResource {
    pub fn supports(&self, verb: &str) -> bool {
        self.verbs.iter().any(|v| v == verb)
    }

    /// `pods`, `deployments.apps`: how upstream names a group resource.
    pub fn group_resource(&self) -> String {
        if self.ar.group.is_empty() {
            self.ar.plural.clone()
        } else {
            format!("{}.{}", self.ar.plural, self.ar.group)
        }
    }

    /// Whether the garbage collector can follow it: list, watch, delete.
    pub fn collectable(&self) -> bool {
        self.supports(verbs::LIST) && self.supports(verbs::WATCH) && self.supports(verbs::DELETE)
    }
}

/// The group of an `apiVersion` (`apps/v1` → `apps`, `v1` → ``).
pub fn group_of(api_version: &str) -> &str {
    api_version.split_once('/').map_or("", |(g, _)| g)
}

/// Every served resource at its group's preferred version, with a lookup
/// by group and kind.
#[derive(Default, Debug)]
pub struct Resources {
    pub all: Vec<ServedResource>,
    by_kind: HashMap<(String, String), usize>,
}

impl Resources {
    pub fn new(all: Vec<ServedResource>) -> Self {
        let by_kind = all
            .iter()
            .enumerate()
            .map(|(i, r)| ((r.ar.group.clone(), r.ar.kind.clone()), i))
            .collect();
        Resources { all, by_kind }
    }

    /// The resource serving `kind` in the group of `api_version`.
    pub fn for_kind(&self, api_version: &str, kind: &str) -> Option<&ServedResource> {
        self.by_kind
            .get(&(group_of(api_version).to_string(), kind.to_string()))
            .map(|i| &self.all[*i])
    }

    /// Queries the API server (aggregated discovery, else per group).
    pub async fn discover(client: &kube::Client) -> Result<Self, kube::Error> {
        let discovery = match Discovery::new(client.clone()).run_aggregated().await {
            Ok(d) => d,
            Err(_) => Discovery::new(client.clone()).run().await?,
        };
        let mut all = Vec::new();
        for group in discovery.groups() {
            for (ar, caps) in group.recommended_resources() {
                all.push(ServedResource {
                    ar,
                    namespaced: caps.scope == Scope::Namespaced,
                    verbs: caps.operations.clone(),
                });
            }
        }
        Ok(Resources::new(all))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_by_group_of_api_version_and_kind() {
        let res = |group: &str, version: &str, kind: &str, plural: &str| ServedResource {
            ar: ApiResource {
                group: group.into(),
                version: version.into(),
                api_version: if group.is_empty() {
                    version.into()
                } else {
                    format!("{group}/{version}")
                },
                kind: kind.into(),
                plural: plural.into(),
            },
            namespaced: true,
            verbs: vec!["list".into(), "watch".into(), "delete".into()],
        };
        let r = Resources::new(vec![
            res("", "v1", "Pod", "pods"),
            res("apps", "v1", "ReplicaSet", "replicasets"),
        ]);
        assert_eq!(
            r.for_kind("apps/v1beta2", "ReplicaSet")
                .map(|r| r.group_resource()),
            Some("replicasets.apps".to_string())
        );
        assert_eq!(
            r.for_kind("v1", "Pod").map(|r| r.group_resource()),
            Some("pods".to_string())
        );
        assert!(r.for_kind("apps/v1", "Pod").is_none());
        assert!(r.all.iter().all(ServedResource::collectable));
    }
}
