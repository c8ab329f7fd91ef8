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
    fn canonical_forms() {
        let cases = [
            ("0", "0"),
            ("0Gi", "0"),
            ("-0", "0"),
            ("1", "1"),
            ("10Gi", "10Gi"),
            ("1Gi", "1Gi"),
            ("1024Mi", "1Gi"),
            ("1.5Gi", "1536Mi"),
            ("1Ki", "1Ki"),
            ("0.5Ki", "512"),
            ("1023", "1023"),
            ("1000", "1k"),
            ("1500", "1500"),
            ("1.5k", "1500"),
            ("1200000", "1200k"),
            ("10G", "10G"),
            ("100M", "100M"),
            ("500m", "500m"),
            ("0.5", "500m"),
            ("0.1", "100m"),
            ("0.01", "10m"),
            ("1000m", "1"),
            ("250m", "250m"),
            ("1e3", "1e3"),
            ("12e6", "12e6"),
            ("1E3", "1e3"),
            ("1000e0", "1e3"),
            ("100e-3", "100e-3"),
            ("0.0000000001", "1n"),
            ("1.0000000001", "1000000001n"),
            ("+5", "5"),
            ("-5", "-5"),
            ("-1.5Gi", "-1536Mi"),
            ("2Ti", "2Ti"),
            ("3072Ki", "3Mi"),
            ("1536", "1536"),
            ("1.5", "1500m"),
            ("5.", "5"),
            ("1.G", "1G"),
        ];
        for (input, want) in cases {
            assert_eq!(canonical(input), want, "quantity {input}");
        }
    }

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
