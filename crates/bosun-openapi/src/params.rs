//! Inline OpenAPI v3 parameter objects used by the resource operations.
//!
//! kubectl (cli-runtime `query_param_verifier_v3.go`) decides whether it may
//! send `fieldValidation=Strict` by looking for an inline parameter named
//! `fieldValidation` with `"in": "query"` on the PATCH operation of the kind.

use serde_json::{json, Value};

/// JSON type of a query parameter.
#[derive(Clone, Copy)]
enum Kind {
    Boolean,
    Integer,
    String,
}

fn query(name: &str, kind: Kind, description: &str) -> Value {
    let schema = match kind {
        Kind::Boolean => json!({ "type": "boolean", "uniqueItems": true }),
        Kind::Integer => json!({ "type": "integer", "uniqueItems": true }),
        Kind::String => json!({ "type": "string", "uniqueItems": true }),
    };
    json!({
        "name": name,
        "in": "query",
        "description": description,
        "schema": schema,
    })
}

/// A required path parameter such as `{name}` or `{namespace}`.
pub(crate) fn path(name: &str, description: &str) -> Value {
    json!({
        "name": name,
        "in": "path",
        "description": description,
        "required": true,
        "schema": { "type": "string", "uniqueItems": true },
    })
}

pub(crate) fn pretty() -> Value {
    query(
        "pretty",
        Kind::String,
        "When 'true', the response body is indented for human readers.",
    )
}

fn allow_watch_bookmarks() -> Value {
    query(
        "allowWatchBookmarks",
        Kind::Boolean,
        "Asks the server to send BOOKMARK watch events carrying only a resourceVersion. Ignored for non-watch requests; servers may send bookmarks at their discretion.",
    )
}

fn continue_token() -> Value {
    query(
        "continue",
        Kind::String,
        "Opaque token returned in the metadata of a previous paginated list response; the server resumes the list after the last item it returned.",
    )
}

fn dry_run() -> Value {
    query(
        "dryRun",
        Kind::String,
        "When present, the request is processed fully but nothing is persisted. The only accepted value is All.",
    )
}

fn field_manager() -> Value {
    query(
        "fieldManager",
        Kind::String,
        "Name of the actor making the change, recorded in managedFields. Must be printable and at most 128 characters long. Required for apply patches.",
    )
}

fn field_validation() -> Value {
    query(
        "fieldValidation",
        Kind::String,
        "How the server treats unknown or duplicate fields in the request body: Ignore drops them silently, Warn drops them and returns a warning header per field, Strict rejects the request.",
    )
}

fn field_selector() -> Value {
    query(
        "fieldSelector",
        Kind::String,
        "Restricts the returned objects to those whose fields match the selector. Defaults to everything.",
    )
}

fn force() -> Value {
    query(
        "force",
        Kind::Boolean,
        "For apply patches only: take ownership of fields currently owned by other managers instead of failing with a conflict.",
    )
}

fn grace_period_seconds() -> Value {
    query(
        "gracePeriodSeconds",
        Kind::Integer,
        "Seconds to wait before the object is deleted; zero means immediately. Unset means the per-kind default.",
    )
}

fn ignore_store_read_error() -> Value {
    query(
        "ignoreStoreReadErrorWithClusterBreakingPotential",
        Kind::Boolean,
        "Requests unsafe deletion of an object that cannot be decoded from storage, bypassing finalizers and admission. Only for corrupt objects; defaults to false.",
    )
}

fn label_selector() -> Value {
    query(
        "labelSelector",
        Kind::String,
        "Restricts the returned objects to those whose labels match the selector. Defaults to everything.",
    )
}

fn limit() -> Value {
    query(
        "limit",
        Kind::Integer,
        "Maximum number of items to return in one list response; when more exist, the response carries a continue token.",
    )
}

fn orphan_dependents() -> Value {
    query(
        "orphanDependents",
        Kind::Boolean,
        "Deprecated in favour of propagationPolicy. Whether dependent objects are orphaned instead of garbage collected.",
    )
}

fn propagation_policy() -> Value {
    query(
        "propagationPolicy",
        Kind::String,
        "Whether and how garbage collection handles dependents: Orphan, Background or Foreground.",
    )
}

fn resource_version() -> Value {
    query(
        "resourceVersion",
        Kind::String,
        "Constrains which resource versions a list or watch may be served from; see the API concepts documentation on resource versions. Defaults to unset.",
    )
}

fn resource_version_match() -> Value {
    query(
        "resourceVersionMatch",
        Kind::String,
        "How resourceVersion is applied to a list: Exact or NotOlderThan. Only valid together with resourceVersion.",
    )
}

fn send_initial_events() -> Value {
    query(
        "sendInitialEvents",
        Kind::Boolean,
        "For watch requests with resourceVersionMatch=NotOlderThan: start the stream with synthetic ADDED events for the current state followed by a bookmark annotated with k8s.io/initial-events-end.",
    )
}

fn timeout_seconds() -> Value {
    query(
        "timeoutSeconds",
        Kind::Integer,
        "Upper bound on the duration of the list or watch call, regardless of activity.",
    )
}

fn watch() -> Value {
    query(
        "watch",
        Kind::Boolean,
        "Stream add, update and delete notifications for the described resources instead of returning a list. Requires resourceVersion semantics of watch.",
    )
}

/// Parameters of list and watch operations.
pub(crate) fn list() -> Vec<Value> {
    vec![
        allow_watch_bookmarks(),
        continue_token(),
        field_selector(),
        label_selector(),
        limit(),
        resource_version(),
        resource_version_match(),
        send_initial_events(),
        timeout_seconds(),
        watch(),
    ]
}

/// Parameters of create (POST) and replace (PUT) operations.
pub(crate) fn write() -> Vec<Value> {
    vec![dry_run(), field_manager(), field_validation()]
}

/// Parameters of PATCH operations.
pub(crate) fn patch() -> Vec<Value> {
    vec![dry_run(), field_manager(), field_validation(), force()]
}

/// Parameters of a single-object DELETE.
pub(crate) fn delete() -> Vec<Value> {
    vec![
        dry_run(),
        grace_period_seconds(),
        ignore_store_read_error(),
        orphan_dependents(),
        propagation_policy(),
    ]
}

/// Parameters of a collection DELETE.
pub(crate) fn delete_collection() -> Vec<Value> {
    vec![
        continue_token(),
        dry_run(),
        field_selector(),
        grace_period_seconds(),
        ignore_store_read_error(),
        label_selector(),
        limit(),
        orphan_dependents(),
        propagation_policy(),
        resource_version(),
        resource_version_match(),
        send_initial_events(),
        timeout_seconds(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(params: &[Value]) -> Vec<&str> {
        params.iter().map(|p| p["name"].as_str().unwrap()).collect()
    }

    #[test]
    fn parameter_sets_match_upstream_1_32() {
        assert_eq!(
            names(&list()),
            [
                "allowWatchBookmarks",
                "continue",
                "fieldSelector",
                "labelSelector",
                "limit",
                "resourceVersion",
                "resourceVersionMatch",
                "sendInitialEvents",
                "timeoutSeconds",
                "watch"
            ]
        );
        assert_eq!(
            names(&write()),
            ["dryRun", "fieldManager", "fieldValidation"]
        );
        assert_eq!(
            names(&patch()),
            ["dryRun", "fieldManager", "fieldValidation", "force"]
        );
        assert_eq!(
            names(&delete()),
            [
                "dryRun",
                "gracePeriodSeconds",
                "ignoreStoreReadErrorWithClusterBreakingPotential",
                "orphanDependents",
                "propagationPolicy"
            ]
        );
        assert_eq!(delete_collection().len(), 13);
        for p in list().iter().chain(&patch()).chain(&delete_collection()) {
            assert_eq!(p["in"], "query");
            assert!(p["schema"]["type"].is_string());
        }
        assert_eq!(path("name", "x")["required"], true);
    }
}
