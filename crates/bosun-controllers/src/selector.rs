//! metav1 LabelSelector matching as controllers use it
//! (`metav1.LabelSelectorAsSelector`): an empty selector selects
//! everything, an unknown operator selects nothing.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

pub type Labels = BTreeMap<String, String>;

pub fn matches(selector: &LabelSelector, labels: Option<&Labels>) -> bool {
    let empty = Labels::new();
    let labels = labels.unwrap_or(&empty);
    let pairs_hold = selector
        .match_labels
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    pairs_hold
        && selector.match_expressions.iter().flatten().all(|e| {
            let actual = labels.get(&e.key);
            let values = e.values.as_deref().unwrap_or_default();
            match e.operator.as_str() {
                "In" => actual.is_some_and(|a| values.contains(a)),
                "NotIn" => actual.is_none_or(|a| !values.contains(a)),
                "Exists" => actual.is_some(),
                "DoesNotExist" => actual.is_none(),
                _ => false,
            }
        })
}

/// Whether a selector has no terms (upstream treats an empty workload
/// selector as a mistake and selects nothing with it).
pub fn is_empty(selector: &LabelSelector) -> bool {
    selector.match_labels.as_ref().is_none_or(|m| m.is_empty())
        && selector
            .match_expressions
            .as_ref()
            .is_none_or(|m| m.is_empty())
}
