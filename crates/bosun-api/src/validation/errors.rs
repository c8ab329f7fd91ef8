//! Field errors in the shape upstream reports them (`field.Error`), plus the
//! aggregate message used for a 422 `Status`.

use serde_json::Value;

/// The category of a field error; maps 1:1 to upstream `CauseType`s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldErrorKind {
    /// A value that must be present is missing.
    Required,
    /// A value is malformed or out of range.
    Invalid,
    /// A value is not one of an enumerated set.
    NotSupported,
    /// A value that must be unique is repeated.
    Duplicate,
    /// A value is well formed but not allowed here.
    Forbidden,
    /// A value is too long.
    TooLong,
    /// A list has too many items.
    TooMany,
    /// A referenced value could not be found.
    NotFound,
}

impl FieldErrorKind {
    /// The machine-readable cause type (`reason` in a `StatusCause`).
    pub fn reason(self) -> &'static str {
        match self {
            FieldErrorKind::Required => "FieldValueRequired",
            FieldErrorKind::Invalid => "FieldValueInvalid",
            FieldErrorKind::NotSupported => "FieldValueNotSupported",
            FieldErrorKind::Duplicate => "FieldValueDuplicate",
            FieldErrorKind::Forbidden => "FieldValueForbidden",
            FieldErrorKind::TooLong => "FieldValueTooLong",
            FieldErrorKind::TooMany => "FieldValueTooMany",
            FieldErrorKind::NotFound => "FieldValueNotFound",
        }
    }

    /// The human-readable prefix of the message.
    pub fn label(self) -> &'static str {
        match self {
            FieldErrorKind::Required => "Required value",
            FieldErrorKind::Invalid => "Invalid value",
            FieldErrorKind::NotSupported => "Unsupported value",
            FieldErrorKind::Duplicate => "Duplicate value",
            FieldErrorKind::Forbidden => "Forbidden",
            FieldErrorKind::TooLong => "Too long",
            FieldErrorKind::TooMany => "Too many",
            FieldErrorKind::NotFound => "Not found",
        }
    }
}

/// One validation failure at one field path.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    /// Category.
    pub kind: FieldErrorKind,
    /// Dotted/indexed path, e.g. `spec.template.spec.containers[0].name`.
    pub field: String,
    /// Extra explanation appended after the value.
    pub detail: String,
    /// The offending value, printed for the kinds that print one.
    pub bad_value: Option<Value>,
}

impl FieldError {
    /// `Required value` (with optional detail).
    pub fn required(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(FieldErrorKind::Required, field, None, detail)
    }

    /// `Invalid value: <v>: <detail>`.
    pub fn invalid(
        field: impl Into<String>,
        value: impl Into<Value>,
        detail: impl Into<String>,
    ) -> Self {
        Self::new(FieldErrorKind::Invalid, field, Some(value.into()), detail)
    }

    /// `Unsupported value: <v>: supported values: "a", "b"`.
    pub fn not_supported(
        field: impl Into<String>,
        value: impl Into<Value>,
        valid: &[&str],
    ) -> Self {
        let detail = if valid.is_empty() {
            String::new()
        } else {
            let quoted: Vec<String> = valid.iter().map(|v| go_quote(v)).collect();
            format!("supported values: {}", quoted.join(", "))
        };
        Self::new(
            FieldErrorKind::NotSupported,
            field,
            Some(value.into()),
            detail,
        )
    }

    /// `Duplicate value: <v>`.
    pub fn duplicate(field: impl Into<String>, value: impl Into<Value>) -> Self {
        Self::new(FieldErrorKind::Duplicate, field, Some(value.into()), "")
    }

    /// `Not found: <v>`.
    pub fn not_found(field: impl Into<String>, value: impl Into<Value>) -> Self {
        Self::new(FieldErrorKind::NotFound, field, Some(value.into()), "")
    }

    /// `Forbidden: <detail>`.
    pub fn forbidden(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(FieldErrorKind::Forbidden, field, None, detail)
    }

    /// `Too long: may not be more than N bytes`.
    pub fn too_long(field: impl Into<String>, max: usize) -> Self {
        let unit = if max == 1 { "byte" } else { "bytes" };
        Self::new(
            FieldErrorKind::TooLong,
            field,
            None,
            format!("may not be more than {max} {unit}"),
        )
    }

    /// `Too many: <n>: must have at most M items`.
    pub fn too_many(field: impl Into<String>, actual: usize, max: usize) -> Self {
        let unit = if max == 1 { "item" } else { "items" };
        Self::new(
            FieldErrorKind::TooMany,
            field,
            Some(Value::from(actual as u64)),
            format!("must have at most {max} {unit}"),
        )
    }

    fn new(
        kind: FieldErrorKind,
        field: impl Into<String>,
        bad_value: Option<Value>,
        detail: impl Into<String>,
    ) -> Self {
        FieldError {
            kind,
            field: field.into(),
            detail: detail.into(),
            bad_value,
        }
    }

    /// The upstream cause type, e.g. `FieldValueInvalid`.
    pub fn reason(&self) -> &'static str {
        self.kind.reason()
    }

    /// The message body without the field path (a `StatusCause.message`).
    pub fn message(&self) -> String {
        let mut s = match self.kind {
            FieldErrorKind::Required | FieldErrorKind::Forbidden | FieldErrorKind::TooLong => {
                self.kind.label().to_string()
            }
            _ => match &self.bad_value {
                None => self.kind.label().to_string(),
                Some(v) => format!("{}: {}", self.kind.label(), render_value(v)),
            },
        };
        if !self.detail.is_empty() {
            s.push_str(": ");
            s.push_str(&self.detail);
        }
        s
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message())
    }
}

/// Render a bad value the way upstream prints it: strings Go-quoted, scalars
/// plain, anything else as compact JSON with sorted map keys.
pub fn render_value(v: &Value) -> String {
    match v {
        Value::String(s) => go_quote(s),
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        _ => sorted_json(v),
    }
}

fn sorted_json(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{}:{}", Value::String(k.clone()), sorted_json(&m[k])))
                .collect();
            format!("{{{}}}", parts.join(","))
        }
        Value::Array(a) => {
            let parts: Vec<String> = a.iter().map(sorted_json).collect();
            format!("[{}]", parts.join(","))
        }
        other => other.to_string(),
    }
}

/// Quote a string like Go's `%q` / `strconv.Quote` (shared with selectors).
pub use bosun_core::names::go_quote;

/// The qualified kind upstream prints: `Kind` for the core group, else
/// `Kind.group`.
pub fn qualified_kind(group: &str, kind: &str) -> String {
    if group.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}.{group}")
    }
}

/// Upstream's 422 message: `<qualifiedKind> "<name>" is invalid: <errors>`.
///
/// `kind` is the qualified kind as upstream prints it (see
/// [`qualified_kind`]), e.g. `Deployment.apps` or `Pod`. Identical messages
/// are printed once; several errors are wrapped in `[...]`.
pub fn status_message(kind: &str, name: &str, errs: &[FieldError]) -> String {
    let mut seen = std::collections::HashSet::new();
    let mut msgs = Vec::new();
    for e in errs {
        let m = e.to_string();
        if seen.insert(m.clone()) {
            msgs.push(m);
        }
    }
    let head = format!("{kind} {} is invalid", go_quote(name));
    match msgs.len() {
        0 => head,
        1 => format!("{head}: {}", msgs[0]),
        _ => format!("{head}: [{}]", msgs.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn messages_match_upstream_shapes() {
        let cases = vec![
            (
                FieldError::required("a", ""),
                "Required value",
                "FieldValueRequired",
            ),
            (
                FieldError::required("a", "must specify a volume type"),
                "Required value: must specify a volume type",
                "FieldValueRequired",
            ),
            (
                FieldError::invalid("a", "Foo", "bad"),
                "Invalid value: \"Foo\": bad",
                "FieldValueInvalid",
            ),
            (
                FieldError::invalid("a", -1, "neg"),
                "Invalid value: -1: neg",
                "FieldValueInvalid",
            ),
            (
                FieldError::invalid("a", json!({"b":"1","a":"2"}), "x"),
                "Invalid value: {\"a\":\"2\",\"b\":\"1\"}: x",
                "FieldValueInvalid",
            ),
            (
                FieldError::not_supported("a", "X", &["Always", "Never"]),
                "Unsupported value: \"X\": supported values: \"Always\", \"Never\"",
                "FieldValueNotSupported",
            ),
            (
                FieldError::duplicate("a", "c"),
                "Duplicate value: \"c\"",
                "FieldValueDuplicate",
            ),
            (
                FieldError::forbidden("a", "nope"),
                "Forbidden: nope",
                "FieldValueForbidden",
            ),
            (
                FieldError::too_long("a", 1048576),
                "Too long: may not be more than 1048576 bytes",
                "FieldValueTooLong",
            ),
            (
                FieldError::too_many("a", 5, 3),
                "Too many: 5: must have at most 3 items",
                "FieldValueTooMany",
            ),
            (
                FieldError::not_found("a", "v"),
                "Not found: \"v\"",
                "FieldValueNotFound",
            ),
        ];
        for (e, msg, reason) in cases {
            assert_eq!(e.message(), msg);
            assert_eq!(e.reason(), reason);
        }
    }

    #[test]
    fn status_message_shapes() {
        let one = vec![FieldError::required("spec.x", "")];
        assert_eq!(
            status_message("Deployment.apps", "web", &one),
            "Deployment.apps \"web\" is invalid: spec.x: Required value"
        );
        let two = vec![
            FieldError::required("spec.x", ""),
            FieldError::required("spec.x", ""),
            FieldError::invalid("spec.y", 1, "bad"),
        ];
        assert_eq!(
            status_message("Pod", "p", &two),
            "Pod \"p\" is invalid: [spec.x: Required value, spec.y: Invalid value: 1: bad]"
        );
        assert_eq!(qualified_kind("", "Pod"), "Pod");
        assert_eq!(qualified_kind("apps", "Deployment"), "Deployment.apps");
    }

    #[test]
    fn go_quote_escapes() {
        assert_eq!(go_quote("a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
        assert_eq!(go_quote("é"), "\"é\"");
    }
}
