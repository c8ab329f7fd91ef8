//! Parsing a resource URL and its query into a [`RequestInfo`].
//!
//! `/api/v1/namespaces/ns/pods/web/status` → group "", version v1,
//! namespace ns, resource pods, name web, subresource status.

use std::collections::HashMap;

use bosun_api::registry::{self, ResourceDef};

use crate::error::{ApiError, Result};

#[derive(Debug)]
pub struct RequestInfo {
    pub def: &'static ResourceDef,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub subresource: Option<String>,
}

/// Parses the path of a resource request. `None` means the path is not a
/// resource path (discovery and the like are routed elsewhere).
pub fn parse_path(path: &str) -> Result<RequestInfo> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match parts.as_slice() {
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return Err(ApiError::path_not_found()),
    };
    let (namespace, rest) = match rest {
        ["namespaces", ns, plural, rest @ ..] => (Some(*ns), prepend(plural, rest)),
        _ => (None, rest.to_vec()),
    };
    let (namespace, rest) = match (namespace, rest.as_slice()) {
        // `/api/v1/namespaces/ns` and `/api/v1/namespaces/ns/status|finalize`
        // address the namespace object itself.
        (Some(ns), [sub]) if group.is_empty() && (*sub == "status" || *sub == "finalize") => {
            (None, vec!["namespaces", ns, sub])
        }
        (ns, rest) => (ns, rest.to_vec()),
    };
    let (plural, name, subresource) = match rest.as_slice() {
        [plural] => (*plural, None, None),
        [plural, name] => (*plural, Some(*name), None),
        [plural, name, sub] => (*plural, Some(*name), Some(*sub)),
        [] if namespace.is_some() => ("namespaces", namespace, None),
        _ => return Err(ApiError::path_not_found()),
    };
    // `/api/v1/namespaces/x` (no resource) addresses namespace x.
    let (namespace, plural, name) = if rest.is_empty() {
        (None, "namespaces", name)
    } else {
        (namespace, plural, name)
    };
    let def = registry::lookup(group, version, plural).ok_or_else(ApiError::path_not_found)?;
    let namespace = if def.namespaced { namespace } else { None };
    Ok(RequestInfo {
        def,
        namespace: namespace.map(str::to_string),
        name: name.map(str::to_string),
        subresource: subresource.map(str::to_string),
    })
}

fn prepend<'a>(first: &'a str, rest: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec![first];
    v.extend_from_slice(rest);
    v
}

/// The query parameters of a request.
#[derive(Debug, Default)]
pub struct Query(pub HashMap<String, String>);

impl Query {
    pub fn parse(raw: Option<&str>) -> Self {
        let mut map = HashMap::new();
        // Form decoding (`+` is a space, `%XX` a byte), as Go's url.ParseQuery.
        for (k, v) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
            map.insert(k.into_owned(), v.into_owned());
        }
        Query(map)
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// A boolean parameter as upstream converts query strings: present and
    /// not one of `0`, `f`, `false`, `n`, `no` (any case) means true, so
    /// `watch=True` from the Python client counts.
    pub fn flag(&self, key: &str) -> bool {
        self.get(key).is_some_and(|v| {
            !["0", "f", "false", "n", "no"]
                .iter()
                .any(|f| v.eq_ignore_ascii_case(f))
        })
    }

    pub fn dry_run(&self) -> bool {
        self.get("dryRun").is_some_and(|v| v == "All")
    }

    pub fn int(&self, key: &str) -> Result<Option<i64>> {
        match self.get(key) {
            None | Some("") => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| ApiError::bad_request(format!("invalid {key} {v:?}: not an integer"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_namespaced_subresource_paths() {
        let info = parse_path("/api/v1/namespaces/ns/pods/web/status").unwrap();
        assert_eq!(info.def.plural, "pods");
        assert_eq!(info.namespace.as_deref(), Some("ns"));
        assert_eq!(info.name.as_deref(), Some("web"));
        assert_eq!(info.subresource.as_deref(), Some("status"));
        let info = parse_path("/apis/apps/v1/deployments").unwrap();
        assert_eq!(
            (info.def.kind, info.namespace, info.name),
            ("Deployment", None, None)
        );
    }

    #[test]
    fn namespace_paths_address_namespaces() {
        let info = parse_path("/api/v1/namespaces/kube-system").unwrap();
        assert_eq!(info.def.plural, "namespaces");
        assert_eq!(info.name.as_deref(), Some("kube-system"));
        let info = parse_path("/api/v1/namespaces").unwrap();
        assert_eq!((info.def.plural, info.name), ("namespaces", None));
        let info = parse_path("/api/v1/namespaces/x/finalize").unwrap();
        assert_eq!(info.subresource.as_deref(), Some("finalize"));
    }

    #[test]
    fn unknown_resources_are_not_found() {
        assert_eq!(parse_path("/api/v1/widgets").unwrap_err().code, 404);
        assert_eq!(
            parse_path("/apis/apps/v2/deployments").unwrap_err().code,
            404
        );
    }

    #[test]
    fn query_decodes_percent_escapes() {
        let q = Query::parse(Some("labelSelector=app%3Dweb%2Ctier+in+%28a%29&watch=true"));
        assert_eq!(q.get("labelSelector"), Some("app=web,tier in (a)"));
        assert!(q.flag("watch"));
    }

    #[test]
    fn flags_parse_like_upstream_bool_conversion() {
        for (raw, want) in [
            ("watch=true", true),
            ("watch=True", true),
            ("watch=1", true),
            ("watch=t", true),
            ("watch=yes", true),
            ("watch=", true),
            ("watch", true),
            ("watch=false", false),
            ("watch=False", false),
            ("watch=0", false),
            ("watch=F", false),
            ("watch=no", false),
            ("watch=N", false),
            ("other=true", false),
        ] {
            assert_eq!(Query::parse(Some(raw)).flag("watch"), want, "{raw}");
        }
    }
}
