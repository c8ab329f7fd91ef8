//! The `Priority` admission plugin (upstream
//! plugin/pkg/admission/priority): a new pod's `spec.priorityClassName`
//! (or the `globalDefault` class) decides its `spec.priority` and
//! `spec.preemptionPolicy`; updates keep both; only one PriorityClass may be
//! the global default; the built-in system classes cannot be deleted.
//!
//! Classes are read from the watch cache, as upstream reads its informer;
//! only a missing named class waits for the latest revision before the pod
//! is refused.

use bosun_api::registry::ResourceDef;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::cache::State;
use crate::error::{ApiError, Result};
use crate::objects;
use crate::rest::Rest;

/// The classes the API server creates at start (upstream
/// `SystemPriorityClasses`): name, value and description.
pub const SYSTEM_CLASSES: [(&str, i32, &str); 2] = [
    (
        "system-node-critical",
        2_000_001_000,
        "Used for system critical pods that must not be moved from their current node.",
    ),
    (
        "system-cluster-critical",
        2_000_000_000,
        "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary.",
    ),
];

/// A pod's policy when no class gives one.
const DEFAULT_PREEMPTION_POLICY: &str = "PreemptLowerPriority";

/// The served PriorityClass resource.
pub fn priority_classes() -> Result<&'static ResourceDef> {
    bosun_api::registry::lookup("scheduling.k8s.io", "v1", "priorityclasses")
        .ok_or_else(|| ApiError::internal("priorityclasses not registered"))
}

fn is_pod(def: &ResourceDef) -> bool {
    def.group.is_empty() && def.kind == "Pod"
}

fn is_priority_class(def: &ResourceDef) -> bool {
    def.group == "scheduling.k8s.io" && def.kind == "PriorityClass"
}

/// The fields of a PriorityClass admission reads.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Class {
    #[serde(default)]
    metadata: ClassMeta,
    #[serde(default)]
    value: i32,
    #[serde(default)]
    global_default: bool,
    #[serde(default)]
    preemption_policy: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
struct ClassMeta {
    #[serde(default)]
    name: String,
}

impl Class {
    fn from_json(json: &[u8]) -> Option<Class> {
        serde_json::from_slice(json).ok()
    }
}

/// One cached class.
fn cached_class(state: &State, def: &ResourceDef, name: &str) -> Option<Class> {
    state
        .get_entry(def, None, name)
        .and_then(|e| Class::from_json(&e.json))
}

/// The global default among `classes`: when several are marked (two
/// creates raced), the one with the lowest value, as upstream picks.
pub fn default_class(classes: impl IntoIterator<Item = Class>) -> Option<Class> {
    classes
        .into_iter()
        .filter(|c| c.global_default)
        .reduce(|best, c| if c.value < best.value { c } else { best })
}

fn cached_default(state: &State, def: &ResourceDef) -> Option<Class> {
    default_class(
        state
            .range_entries(def, None, None)
            .filter_map(|(_, e)| Class::from_json(&e.json)),
    )
}

/// What a new pod is given.
#[derive(Clone, Debug, PartialEq)]
pub struct Resolved {
    /// Set on the pod when it named no class (the global default's name).
    class_name: Option<String>,
    priority: i32,
    preemption_policy: Option<String>,
}

impl Resolved {
    fn named(class: &Class) -> Self {
        Resolved {
            class_name: None,
            priority: class.value,
            preemption_policy: class.preemption_policy.clone(),
        }
    }

    /// For a pod without a class: the global default's, else priority 0.
    fn by_default(class: Option<&Class>) -> Self {
        match class {
            Some(c) => Resolved {
                class_name: Some(c.metadata.name.clone()),
                ..Resolved::named(c)
            },
            None => Resolved {
                class_name: None,
                priority: 0,
                preemption_policy: Some(DEFAULT_PREEMPTION_POLICY.into()),
            },
        }
    }
}

/// Stamps `resolved` on a new pod. A pod that itself asks for another
/// priority or preemption policy is refused, with upstream's reason.
pub fn apply(pod: &mut Value, resolved: &Resolved) -> std::result::Result<(), String> {
    let spec = &mut pod["spec"];
    if let Some(name) = &resolved.class_name {
        spec["priorityClassName"] = json!(name);
    }
    if let Some(given) = spec.get("priority").filter(|v| !v.is_null()) {
        if given.as_i64() != Some(i64::from(resolved.priority)) {
            return Err(format!(
                "the integer value of priority ({given}) must not be provided in pod spec; priority admission controller computed {} from the given PriorityClass name",
                resolved.priority
            ));
        }
    }
    spec["priority"] = json!(resolved.priority);
    if let Some(policy) = &resolved.preemption_policy {
        if let Some(given) = spec.get("preemptionPolicy").and_then(Value::as_str) {
            if given != policy {
                return Err(format!(
                    "the string value of PreemptionPolicy ({given}) must not be provided in pod spec; priority admission controller computed {policy} from the given PriorityClass name"
                ));
            }
        }
        spec["preemptionPolicy"] = json!(policy);
    }
    Ok(())
}

/// The name admission errors use: the object's name, else its
/// generateName (no name is generated yet), else "Unknown", as upstream's
/// `extractResourceName`.
pub fn error_name(obj: &Value) -> String {
    let name = objects::name(obj);
    if !name.is_empty() {
        return name.to_string();
    }
    match objects::meta_str(obj, "generateName") {
        Some(g) if !g.is_empty() => g.to_string(),
        _ => "Unknown".to_string(),
    }
}

/// Resolves a new pod's priority (upstream `admitPod` on create).
/// `name` is the pod's name for errors (see [`error_name`]).
pub async fn admit_pod_create(rest: &Rest, pod: &mut Value, name: &str) -> Result<()> {
    let classes = priority_classes()?;
    let named = pod["spec"]["priorityClassName"]
        .as_str()
        .filter(|n| !n.is_empty())
        .map(str::to_string);
    let resolved = match named {
        None => Resolved::by_default(cached_default(&rest.cache.read(), classes).as_ref()),
        Some(class) => {
            let mut found = cached_class(&rest.cache.read(), classes, &class);
            if found.is_none() {
                // The class may have been written a moment ago.
                rest.wait_latest().await?;
                found = cached_class(&rest.cache.read(), classes, &class);
            }
            let found = found.ok_or_else(|| {
                ApiError::forbidden_object(
                    "",
                    "pods",
                    name,
                    &format!("no PriorityClass with name {class} was found"),
                )
            })?;
            Resolved::named(&found)
        }
    };
    apply(pod, &resolved).map_err(|why| ApiError::forbidden_object("", "pods", name, &why))
}

/// On a pod update (not a subresource), keeps the priority and preemption
/// policy the pod was given when the new form leaves them out; validation
/// refuses any other change to them (upstream `admitPod` on update).
pub fn keep_on_update(def: &ResourceDef, new: &mut Value, old: &Value) {
    if !is_pod(def) {
        return;
    }
    for field in ["priority", "preemptionPolicy"] {
        let missing = new["spec"].get(field).is_none_or(Value::is_null);
        if let Some(v) = old["spec"].get(field).filter(|v| !v.is_null()) {
            if missing {
                new["spec"][field] = v.clone();
            }
        }
    }
}

/// Upstream `validatePriorityClass`: a class marked `globalDefault` is
/// refused while another one is the default. `creating` is false for
/// updates, which may keep a class's own mark.
pub fn validate_class(state: &State, def: &ResourceDef, obj: &Value, creating: bool) -> Result<()> {
    if !is_priority_class(def) || obj["globalDefault"].as_bool() != Some(true) {
        return Ok(());
    }
    let name = objects::name(obj);
    if let Some(current) = cached_default(state, def) {
        if creating || current.metadata.name != name {
            return Err(ApiError::forbidden_object(
                def.group,
                def.plural,
                name,
                &format!(
                    "PriorityClass {} is already marked as default. Only one default can exist",
                    current.metadata.name
                ),
            ));
        }
    }
    Ok(())
}

/// A system class cannot be deleted by name (upstream's PriorityClass
/// `REST.Delete`; a collection delete is not refused, as upstream).
pub fn check_delete(def: &ResourceDef, name: &str) -> Result<()> {
    if is_priority_class(def) && SYSTEM_CLASSES.iter().any(|(n, _, _)| *n == name) {
        return Err(ApiError::forbidden_object(
            def.group,
            def.plural,
            name,
            "this is a system priority class and cannot be deleted",
        ));
    }
    Ok(())
}

/// The system classes as the API server creates them.
pub fn system_class_objects() -> impl Iterator<Item = Value> {
    SYSTEM_CLASSES.iter().map(|(name, value, description)| {
        json!({
            "apiVersion": "scheduling.k8s.io/v1",
            "kind": "PriorityClass",
            "metadata": {"name": name},
            "value": value,
            "description": description,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(name: &str, value: i32, global: bool, policy: Option<&str>) -> Class {
        Class {
            metadata: ClassMeta { name: name.into() },
            value,
            global_default: global,
            preemption_policy: policy.map(str::to_string),
        }
    }

    fn pod(spec: Value) -> Value {
        json!({"metadata": {"name": "p"}, "spec": spec})
    }

    #[test]
    fn class_decodes_from_stored_json() {
        let json = br#"{"apiVersion":"scheduling.k8s.io/v1","kind":"PriorityClass","metadata":{"name":"hi","resourceVersion":"4"},"value":1000,"globalDefault":true,"preemptionPolicy":"Never","description":"x"}"#;
        assert_eq!(
            Class::from_json(json),
            Some(class("hi", 1000, true, Some("Never")))
        );
        let bare = br#"{"metadata":{"name":"lo"},"value":-5}"#;
        assert_eq!(Class::from_json(bare), Some(class("lo", -5, false, None)));
    }

    #[test]
    fn the_lowest_global_default_wins() {
        assert_eq!(default_class(vec![class("a", 5, false, None)]), None);
        let picked = default_class(vec![
            class("a", 50, true, None),
            class("b", 10, true, None),
            class("c", 1, false, None),
        ]);
        assert_eq!(picked.map(|c| c.metadata.name), Some("b".to_string()));
    }

    #[test]
    fn a_named_class_sets_priority_and_policy() {
        let mut p = pod(json!({"priorityClassName": "hi", "containers": []}));
        let resolved = Resolved::named(&class("hi", 1000, false, Some("Never")));
        apply(&mut p, &resolved).unwrap();
        assert_eq!(p["spec"]["priority"], 1000);
        assert_eq!(p["spec"]["preemptionPolicy"], "Never");
        assert_eq!(p["spec"]["priorityClassName"], "hi");
    }

    #[test]
    fn no_class_and_no_default_gives_zero() {
        let mut p = pod(json!({"containers": []}));
        apply(&mut p, &Resolved::by_default(None)).unwrap();
        assert_eq!(p["spec"]["priority"], 0);
        assert_eq!(p["spec"]["preemptionPolicy"], "PreemptLowerPriority");
        assert!(p["spec"].get("priorityClassName").is_none());
    }

    #[test]
    fn the_default_class_names_itself_on_the_pod() {
        let mut p = pod(json!({"containers": []}));
        let default = class("dflt", 7, true, Some("PreemptLowerPriority"));
        apply(&mut p, &Resolved::by_default(Some(&default))).unwrap();
        assert_eq!(p["spec"]["priorityClassName"], "dflt");
        assert_eq!(p["spec"]["priority"], 7);
    }

    #[test]
    fn a_matching_explicit_priority_is_accepted() {
        let mut p = pod(json!({"priority": 1000, "preemptionPolicy": "Never"}));
        apply(
            &mut p,
            &Resolved::named(&class("hi", 1000, false, Some("Never"))),
        )
        .unwrap();
        assert_eq!(p["spec"]["priority"], 1000);
    }

    #[test]
    fn a_different_explicit_priority_is_refused() {
        let mut p = pod(json!({"priority": 5}));
        let err = apply(&mut p, &Resolved::by_default(None)).unwrap_err();
        assert_eq!(
            err,
            "the integer value of priority (5) must not be provided in pod spec; priority admission controller computed 0 from the given PriorityClass name"
        );
    }

    #[test]
    fn a_different_explicit_policy_is_refused() {
        let mut p = pod(json!({"preemptionPolicy": "Never"}));
        let err = apply(&mut p, &Resolved::by_default(None)).unwrap_err();
        assert_eq!(
            err,
            "the string value of PreemptionPolicy (Never) must not be provided in pod spec; priority admission controller computed PreemptLowerPriority from the given PriorityClass name"
        );
        // A class without a policy leaves the pod's own.
        let mut p = pod(json!({"preemptionPolicy": "Never"}));
        apply(&mut p, &Resolved::named(&class("x", 1, false, None))).unwrap();
        assert_eq!(p["spec"]["preemptionPolicy"], "Never");
    }

    #[test]
    fn errors_name_the_generate_name_before_a_name_exists() {
        assert_eq!(error_name(&json!({"metadata": {"name": "a"}})), "a");
        assert_eq!(
            error_name(&json!({"metadata": {"generateName": "web-"}})),
            "web-"
        );
        assert_eq!(error_name(&json!({"metadata": {}})), "Unknown");
    }

    #[test]
    fn updates_keep_the_admitted_priority() {
        let pods = bosun_api::registry::lookup("", "v1", "pods").unwrap();
        let old = pod(json!({"priority": 10, "preemptionPolicy": "Never"}));
        let mut new = pod(json!({}));
        keep_on_update(pods, &mut new, &old);
        assert_eq!(new["spec"]["priority"], 10);
        assert_eq!(new["spec"]["preemptionPolicy"], "Never");
        // A changed value is left for validation to refuse.
        let mut changed = pod(json!({"priority": 11}));
        keep_on_update(pods, &mut changed, &old);
        assert_eq!(changed["spec"]["priority"], 11);
    }

    #[test]
    fn system_classes_cannot_be_deleted() {
        let pcs = priority_classes().unwrap();
        let err = check_delete(pcs, "system-node-critical").unwrap_err();
        assert_eq!(err.code, 403);
        assert_eq!(
            err.message,
            "priorityclasses.scheduling.k8s.io \"system-node-critical\" is forbidden: this is a system priority class and cannot be deleted"
        );
        assert!(check_delete(pcs, "mine").is_ok());
    }

    #[test]
    fn system_classes_pass_validation() {
        for obj in system_class_objects() {
            let mut obj = obj;
            bosun_api::defaults::apply_defaults("scheduling.k8s.io", "PriorityClass", &mut obj);
            let errs =
                bosun_api::validation::validate_create("scheduling.k8s.io", "PriorityClass", &obj);
            assert!(errs.is_empty(), "{errs:?}");
        }
    }
}
