//! Canonical rendering of resource quantities (`resource.Quantity.String()`).
//!
//! Upstream printers print quantities after they have round-tripped through
//! the Go type, so e.g. `1.5Gi` shows as `1536Mi` and `1000` as `1k`. The
//! parsing and canonical form are `bosun_core::quantity`'s; this module
//! applies them to the JSON strings (or numbers) found in stored objects.

use bosun_core::quantity::Quantity;
use serde_json::Value;

/// Canonical string for a quantity given as JSON; an absent value is the
/// zero quantity (`"0"`). Unparseable input is returned unchanged.
pub(crate) fn canonical_value(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "0".to_string(),
        Some(Value::String(s)) => canonical(s),
        Some(Value::Number(n)) => canonical(&n.to_string()),
        Some(other) => other.to_string(),
    }
}

/// Canonical string for a quantity literal; unparseable input is returned
/// unchanged.
pub fn canonical(s: &str) -> String {
    match Quantity::parse(s) {
        Ok(q) => q.canonical(),
        Err(_) => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn malformed_input_passes_through() {
        assert_eq!(canonical("abc"), "abc");
        assert_eq!(canonical("1Gb"), "1Gb");
        assert_eq!(canonical("1e"), "1e");
    }

    #[test]
    fn json_values() {
        assert_eq!(canonical_value(None), "0");
        assert_eq!(canonical_value(Some(&json!(null))), "0");
        assert_eq!(canonical_value(Some(&json!(2))), "2");
        assert_eq!(canonical_value(Some(&json!("2048Mi"))), "2Gi");
    }
}
