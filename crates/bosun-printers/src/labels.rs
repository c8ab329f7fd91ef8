//! Label maps and label selectors rendered the way apimachinery's
//! `labels.FormatLabels`, `metav1.FormatLabelSelector` and
//! `LabelSelectorAsSelector(..).String()` render them.

use serde_json::{Map, Value};

/// Renders a label map as sorted `k=v` pairs joined by commas, or `<none>`.
pub(crate) fn format_labels(map: Option<&Map<String, Value>>) -> String {
    let s = labels_string(map);
    if s.is_empty() {
        "<none>".to_string()
    } else {
        s
    }
}

fn labels_string(map: Option<&Map<String, Value>>) -> String {
    let Some(map) = map else {
        return String::new();
    };
    let mut pairs: Vec<(&str, String)> = map
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str().unwrap_or_default().to_string()))
        .collect();
    pairs.sort_by(|a, b| a.0.cmp(b.0));
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Outcome of converting a `metav1.LabelSelector` into a selector string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SelectorString {
    /// The selector converted; the string is empty for "everything"/"nothing".
    Ok(String),
    /// The selector holds an invalid key, value or operator.
    Invalid,
}

/// Converts a `metav1.LabelSelector` (JSON) into its selector string, like
/// `LabelSelectorAsSelector(sel).String()`. An absent selector selects
/// nothing and an empty one everything; both render as "".
pub(crate) fn selector_string(sel: Option<&Value>) -> SelectorString {
    let Some(sel) = sel.filter(|v| v.is_object()) else {
        return SelectorString::Ok(String::new());
    };
    let mut reqs: Vec<Requirement> = Vec::new();
    if let Some(ml) = sel.get("matchLabels").and_then(Value::as_object) {
        for (k, v) in ml {
            let value = v.as_str().unwrap_or_default().to_string();
            reqs.push(Requirement {
                key: k.clone(),
                op: Op::Equals,
                values: vec![value],
            });
        }
    }
    if let Some(exprs) = sel.get("matchExpressions").and_then(Value::as_array) {
        for e in exprs {
            let key = e.get("key").and_then(Value::as_str).unwrap_or_default();
            let op = match e
                .get("operator")
                .and_then(Value::as_str)
                .unwrap_or_default()
            {
                "In" => Op::In,
                "NotIn" => Op::NotIn,
                "Exists" => Op::Exists,
                "DoesNotExist" => Op::DoesNotExist,
                _ => return SelectorString::Invalid,
            };
            let values = e
                .get("values")
                .and_then(Value::as_array)
                .map(|vs| {
                    vs.iter()
                        .map(|v| v.as_str().unwrap_or_default().to_string())
                        .collect()
                })
                .unwrap_or_default();
            reqs.push(Requirement {
                key: key.to_string(),
                op,
                values,
            });
        }
    }
    if reqs.iter().any(|r| !r.is_valid()) {
        return SelectorString::Invalid;
    }
    // Requirements are ordered by key; the sort is stable so equal keys keep
    // their insertion order (matchLabels first, then matchExpressions).
    reqs.sort_by(|a, b| a.key.cmp(&b.key));
    SelectorString::Ok(
        reqs.iter()
            .map(Requirement::render)
            .collect::<Vec<_>>()
            .join(","),
    )
}

/// `metav1.FormatLabelSelector`: the selector string, `<none>` when it is
/// empty and `<error>` when the selector is invalid.
pub(crate) fn format_label_selector(sel: Option<&Value>) -> String {
    match selector_string(sel) {
        SelectorString::Invalid => "<error>".to_string(),
        SelectorString::Ok(s) if s.is_empty() => "<none>".to_string(),
        SelectorString::Ok(s) => s,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Equals,
    In,
    NotIn,
    Exists,
    DoesNotExist,
}

#[derive(Debug, Clone)]
struct Requirement {
    key: String,
    op: Op,
    values: Vec<String>,
}

impl Requirement {
    fn is_valid(&self) -> bool {
        if !is_qualified_name(&self.key) {
            return false;
        }
        let count_ok = match self.op {
            Op::In | Op::NotIn => !self.values.is_empty(),
            Op::Equals => self.values.len() == 1,
            Op::Exists | Op::DoesNotExist => self.values.is_empty(),
        };
        count_ok && self.values.iter().all(|v| is_label_value(v))
    }

    fn render(&self) -> String {
        let mut out = String::new();
        if self.op == Op::DoesNotExist {
            out.push('!');
        }
        out.push_str(&self.key);
        match self.op {
            Op::Exists | Op::DoesNotExist => return out,
            Op::Equals => out.push('='),
            Op::In => out.push_str(" in ("),
            Op::NotIn => out.push_str(" notin ("),
        }
        let mut vals = self.values.clone();
        vals.sort();
        out.push_str(&vals.join(","));
        if matches!(self.op, Op::In | Op::NotIn) {
            out.push(')');
        }
        out
    }
}

/// `[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?`, at most 63 characters.
fn is_name_part(s: &str) -> bool {
    let b = s.as_bytes();
    if b.is_empty() || b.len() > 63 {
        return false;
    }
    let alnum = |c: u8| c.is_ascii_alphanumeric();
    alnum(b[0])
        && alnum(b[b.len() - 1])
        && b.iter()
            .all(|&c| alnum(c) || c == b'-' || c == b'_' || c == b'.')
}

/// DNS-1123 subdomain: lower-case alphanumerics, '-' and '.', at most 253.
fn is_dns1123_subdomain(s: &str) -> bool {
    if s.is_empty() || s.len() > 253 {
        return false;
    }
    s.split('.').all(|label| {
        let b = label.as_bytes();
        let ok = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
        !b.is_empty() && ok(b[0]) && ok(b[b.len() - 1]) && b.iter().all(|&c| ok(c) || c == b'-')
    })
}

/// A label key: optional DNS subdomain prefix and '/', then a name part.
fn is_qualified_name(key: &str) -> bool {
    let parts: Vec<&str> = key.split('/').collect();
    match parts.as_slice() {
        [name] => is_name_part(name),
        [prefix, name] => is_dns1123_subdomain(prefix) && is_name_part(name),
        _ => false,
    }
}

/// A label value: empty, or a name part.
fn is_label_value(v: &str) -> bool {
    v.is_empty() || is_name_part(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn format_labels_sorted_or_none() {
        let m = json!({"tier": "web", "app": "nginx"});
        assert_eq!(format_labels(m.as_object()), "app=nginx,tier=web");
        assert_eq!(format_labels(json!({}).as_object()), "<none>");
        assert_eq!(format_labels(None), "<none>");
    }

    #[test]
    fn selector_strings() {
        let cases: Vec<(Value, &str)> = vec![
            (json!({"matchLabels": {"app": "web"}}), "app=web"),
            (json!({"matchLabels": {"b": "2", "a": "1"}}), "a=1,b=2"),
            (json!({}), "<none>"),
            (Value::Null, "<none>"),
            (
                json!({"matchExpressions": [
                    {"key": "env", "operator": "In", "values": ["prod", "dev"]},
                    {"key": "app", "operator": "Exists"},
                    {"key": "zone", "operator": "NotIn", "values": ["b"]},
                    {"key": "canary", "operator": "DoesNotExist"}
                ]}),
                "app,!canary,env in (dev,prod),zone notin (b)",
            ),
            (
                json!({"matchLabels": {"app": "web"},
                       "matchExpressions": [{"key": "app", "operator": "In", "values": ["web"]}]}),
                "app=web,app in (web)",
            ),
            (
                json!({"matchExpressions": [{"key": "a", "operator": "Bogus"}]}),
                "<error>",
            ),
            (
                json!({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]}),
                "<error>",
            ),
            (
                json!({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}),
                "<error>",
            ),
            (json!({"matchLabels": {"bad key": "x"}}), "<error>"),
            (json!({"matchLabels": {"k": "bad value!"}}), "<error>"),
            (
                json!({"matchLabels": {"example.com/app": "a.b-c_d"}}),
                "example.com/app=a.b-c_d",
            ),
        ];
        for (sel, want) in cases {
            let arg = if sel.is_null() { None } else { Some(&sel) };
            assert_eq!(format_label_selector(arg), want, "selector {sel}");
        }
    }

    #[test]
    fn raw_selector_string_distinguishes_invalid() {
        assert_eq!(selector_string(None), SelectorString::Ok(String::new()));
        assert_eq!(
            selector_string(Some(&json!({"matchLabels": {"-x": "y"}}))),
            SelectorString::Invalid
        );
    }

    #[test]
    fn qualified_names() {
        assert!(is_qualified_name("app"));
        assert!(is_qualified_name("kubernetes.io/role"));
        assert!(!is_qualified_name("Kubernetes.IO/role"));
        assert!(!is_qualified_name("a/b/c"));
        assert!(!is_qualified_name("/x"));
        assert!(!is_qualified_name(&"a".repeat(64)));
        assert!(is_label_value(""));
        assert!(!is_label_value("-a"));
    }
}
