//! Label selectors with the semantics of apimachinery's `labels` package
//! (Kubernetes 1.32).
//!
//! * [`Selector::from_str`](std::str::FromStr) parses the string syntax used
//!   by `?labelSelector=` and `kubectl -l` (upstream `labels.Parse`).
//! * [`from_label_selector`] converts a `metav1.LabelSelector` JSON object
//!   (upstream `metav1.LabelSelectorAsSelector`).
//! * [`Selector`]'s `Display` is the canonical form (upstream `String()`):
//!   requirements sorted by key, set values sorted.
//!
//! Error messages reproduce upstream's wording, including the
//! `field.ErrorList` rendering (`values[0][key]: Invalid value: "x": ...`).

mod parser;

use std::fmt;
use std::str::FromStr;

use serde_json::{Map, Value};

use crate::names::{go_quote, is_qualified_name, is_valid_label_value};

/// Why a label selector could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    /// A string selector is malformed; the message is upstream's parser
    /// message (e.g. `unable to parse requirement: found '', expected: '('`).
    #[error("{0}")]
    Parse(String),
    /// A requirement failed validation (bad key, bad value, wrong number of
    /// values); the message is upstream's aggregated field-error text.
    #[error("{0}")]
    InvalidRequirement(String),
    /// A `matchExpressions` entry used an operator other than
    /// `In`/`NotIn`/`Exists`/`DoesNotExist`.
    #[error("{} is not a valid label selector operator", go_quote(.0))]
    InvalidOperator(String),
    /// The `metav1.LabelSelector` JSON does not have the expected shape.
    #[error("invalid label selector: {0}")]
    Malformed(String),
}

/// A label requirement operator (upstream `selection.Operator`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operator {
    /// `key=value`
    Equals,
    /// `key==value`
    DoubleEquals,
    /// `key!=value` (also matches when the key is absent)
    NotEquals,
    /// `key in (a,b)`
    In,
    /// `key notin (a,b)` (also matches when the key is absent)
    NotIn,
    /// `key`
    Exists,
    /// `!key`
    DoesNotExist,
    /// `key>n` (integer comparison)
    GreaterThan,
    /// `key<n` (integer comparison)
    LessThan,
}

impl Operator {
    /// Upstream's string value of the operator (`"="`, `"in"`, `"!"`, `"gt"` …).
    pub fn as_str(self) -> &'static str {
        match self {
            Operator::Equals => "=",
            Operator::DoubleEquals => "==",
            Operator::NotEquals => "!=",
            Operator::In => "in",
            Operator::NotIn => "notin",
            Operator::Exists => "exists",
            Operator::DoesNotExist => "!",
            Operator::GreaterThan => "gt",
            Operator::LessThan => "lt",
        }
    }
}

/// One `key op values` term of a selector. All terms of a selector are ANDed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    key: String,
    operator: Operator,
    values: Vec<String>,
}

/// Renders a `field.Error` of type "Invalid value" the way upstream prints it.
fn invalid(path: &str, bad_value: &str, detail: &str) -> String {
    format!("{path}: Invalid value: {bad_value}: {detail}")
}

/// Go's `%#v` rendering of a `[]string` (nil when empty).
fn go_string_slice(values: &[String]) -> String {
    if values.is_empty() {
        return "[]string(nil)".to_string();
    }
    let inner: Vec<String> = values.iter().map(|v| go_quote(v)).collect();
    format!("[]string{{{}}}", inner.join(", "))
}

/// Renders a list of messages as upstream's `utilerrors.Aggregate`.
fn aggregate(messages: Vec<String>) -> Option<String> {
    let mut unique: Vec<String> = Vec::with_capacity(messages.len());
    for m in messages {
        if !unique.contains(&m) {
            unique.push(m);
        }
    }
    match unique.len() {
        0 => None,
        1 => unique.pop(),
        _ => Some(format!("[{}]", unique.join(", "))),
    }
}

/// Validates a label key; `path` is the field path upstream reports.
pub(crate) fn validate_label_key(key: &str, path: &str) -> Option<String> {
    let errs = is_qualified_name(key);
    if errs.is_empty() {
        None
    } else {
        Some(invalid(path, &go_quote(key), &errs.join("; ")))
    }
}

impl Requirement {
    /// Builds a requirement, validating it as upstream `labels.NewRequirement`:
    /// the key must be a qualified name; `In`/`NotIn` need at least one value;
    /// `=`/`==`/`!=` exactly one; `Exists`/`DoesNotExist` none; `gt`/`lt`
    /// exactly one integer; every value must be a valid label value.
    ///
    /// Values are kept in the given order (the canonical string form sorts
    /// them on output).
    pub fn new(
        key: impl Into<String>,
        operator: Operator,
        values: Vec<String>,
    ) -> Result<Self, SelectorError> {
        let key = key.into();
        let mut errs = Vec::new();
        if let Some(e) = validate_label_key(&key, "key") {
            errs.push(e);
        }
        match operator {
            Operator::In | Operator::NotIn => {
                if values.is_empty() {
                    errs.push(invalid(
                        "values",
                        &go_string_slice(&values),
                        "for 'in', 'notin' operators, values set can't be empty",
                    ));
                }
            }
            Operator::Equals | Operator::DoubleEquals | Operator::NotEquals => {
                if values.len() != 1 {
                    errs.push(invalid(
                        "values",
                        &go_string_slice(&values),
                        "exact-match compatibility requires one single value",
                    ));
                }
            }
            Operator::Exists | Operator::DoesNotExist => {
                if !values.is_empty() {
                    errs.push(invalid(
                        "values",
                        &go_string_slice(&values),
                        "values set must be empty for exists and does not exist",
                    ));
                }
            }
            Operator::GreaterThan | Operator::LessThan => {
                if values.len() != 1 {
                    errs.push(invalid(
                        "values",
                        &go_string_slice(&values),
                        "for 'Gt', 'Lt' operators, exactly one value is required",
                    ));
                }
                for (i, v) in values.iter().enumerate() {
                    if v.parse::<i64>().is_err() {
                        errs.push(invalid(
                            &format!("values[{i}]"),
                            &go_quote(v),
                            "for 'Gt', 'Lt' operators, the value must be an integer",
                        ));
                    }
                }
            }
        }
        for (i, v) in values.iter().enumerate() {
            let verrs = is_valid_label_value(v);
            if !verrs.is_empty() {
                errs.push(invalid(
                    &format!("values[{i}][{key}]"),
                    &go_quote(v),
                    &verrs.join("; "),
                ));
            }
        }
        match aggregate(errs) {
            Some(msg) => Err(SelectorError::InvalidRequirement(msg)),
            None => Ok(Requirement {
                key,
                operator,
                values,
            }),
        }
    }

    /// The label key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The operator.
    pub fn operator(&self) -> Operator {
        self.operator
    }

    /// The values, in the order they were given (parsed selectors hold them
    /// sorted and de-duplicated).
    pub fn values(&self) -> &[String] {
        &self.values
    }

    fn has_value(&self, v: &str) -> bool {
        self.values.iter().any(|x| x == v)
    }

    /// Whether a label set satisfies this requirement; `get` looks a label up.
    pub fn matches_labels<'a>(&self, get: impl Fn(&str) -> Option<&'a str>) -> bool {
        let current = get(&self.key);
        match self.operator {
            Operator::In | Operator::Equals | Operator::DoubleEquals => {
                current.is_some_and(|v| self.has_value(v))
            }
            Operator::NotIn | Operator::NotEquals => current.is_none_or(|v| !self.has_value(v)),
            Operator::Exists => current.is_some(),
            Operator::DoesNotExist => current.is_none(),
            Operator::GreaterThan | Operator::LessThan => {
                let Some(have) = current.and_then(|v| v.parse::<i64>().ok()) else {
                    return false;
                };
                let [want] = self.values.as_slice() else {
                    return false;
                };
                let Ok(want) = want.parse::<i64>() else {
                    return false;
                };
                if self.operator == Operator::GreaterThan {
                    have > want
                } else {
                    have < want
                }
            }
        }
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = match self.operator {
            Operator::Exists => return f.write_str(&self.key),
            Operator::DoesNotExist => return write!(f, "!{}", self.key),
            Operator::Equals => "=",
            Operator::DoubleEquals => "==",
            Operator::NotEquals => "!=",
            Operator::In => " in ",
            Operator::NotIn => " notin ",
            Operator::GreaterThan => ">",
            Operator::LessThan => "<",
        };
        let set = matches!(self.operator, Operator::In | Operator::NotIn);
        f.write_str(&self.key)?;
        f.write_str(op)?;
        if set {
            f.write_str("(")?;
        }
        if let [single] = self.values.as_slice() {
            f.write_str(single)?;
        } else {
            let mut sorted: Vec<&str> = self.values.iter().map(String::as_str).collect();
            sorted.sort_unstable();
            f.write_str(&sorted.join(","))?;
        }
        if set {
            f.write_str(")")?;
        }
        Ok(())
    }
}

/// A label selector: the AND of its requirements.
///
/// The empty selector ([`Selector::everything`]) matches every object. A
/// separate [`Selector::nothing`] state matches no object (upstream
/// `labels.Nothing()`), used for a null `metav1.LabelSelector`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Selector {
    requirements: Vec<Requirement>,
    nothing: bool,
}

impl Selector {
    /// The selector that matches everything (no requirements).
    pub fn everything() -> Self {
        Selector::default()
    }

    /// The selector that matches nothing. It is not [`is_empty`](Self::is_empty)
    /// and renders as the empty string, like upstream `labels.Nothing()`.
    pub fn nothing() -> Self {
        Selector {
            requirements: Vec::new(),
            nothing: true,
        }
    }

    /// Builds a selector from requirements, ordering them by key (stable
    /// for equal keys), as upstream `Selector.Add`.
    pub fn from_requirements(mut requirements: Vec<Requirement>) -> Self {
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Selector {
            requirements,
            nothing: false,
        }
    }

    /// A selector requiring `key=value` for each pair, validated as upstream
    /// `labels.ValidatedSelectorFromSet`. No pairs gives [`Selector::everything`].
    pub fn from_set<I, K, V>(pairs: I) -> Result<Self, SelectorError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let reqs = pairs
            .into_iter()
            .map(|(k, v)| Requirement::new(k, Operator::Equals, vec![v.into()]))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Selector::from_requirements(reqs))
    }

    /// True when the selector places no restriction (matches everything).
    pub fn is_empty(&self) -> bool {
        !self.nothing && self.requirements.is_empty()
    }

    /// True for the [`Selector::nothing`] selector.
    pub fn is_nothing(&self) -> bool {
        self.nothing
    }

    /// The requirements, sorted by key.
    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// Matches a JSON `metadata.labels` object. Entries whose value is not a
    /// string are treated as absent. Pass an empty map for an object without
    /// labels.
    pub fn matches(&self, labels: &Map<String, Value>) -> bool {
        self.matches_labels(|k| labels.get(k).and_then(Value::as_str))
    }

    /// Matches a whole JSON object by its `metadata.labels` (missing labels
    /// count as an empty set).
    pub fn matches_object(&self, object: &Value) -> bool {
        match object
            .get("metadata")
            .and_then(|m| m.get("labels"))
            .and_then(Value::as_object)
        {
            Some(labels) => self.matches(labels),
            None => self.matches_labels(|_| None),
        }
    }

    /// Matches a label set given as a lookup function.
    pub fn matches_labels<'a>(&self, get: impl Fn(&str) -> Option<&'a str>) -> bool {
        !self.nothing && self.requirements.iter().all(|r| r.matches_labels(&get))
    }

    /// If the selector pins `label` to a single value (through `=`, `==` or
    /// a one-value `in`), returns it (upstream `RequiresExactMatch`).
    pub fn requires_exact_match(&self, label: &str) -> Option<&str> {
        let r = self.requirements.iter().find(|r| r.key == label)?;
        match (r.operator, r.values.as_slice()) {
            (Operator::Equals | Operator::DoubleEquals | Operator::In, [v]) => Some(v),
            _ => None,
        }
    }
}

impl FromStr for Selector {
    type Err = SelectorError;

    /// Parses the `labelSelector` string syntax (upstream `labels.Parse`).
    /// The empty string (or only whitespace) gives [`Selector::everything`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parser::parse(s).map(Selector::from_requirements)
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

fn string_list(v: Option<&Value>, what: &str) -> Result<Vec<String>, SelectorError> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|x| {
                x.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| SelectorError::Malformed(format!("{what} must be strings")))
            })
            .collect(),
        Some(_) => Err(SelectorError::Malformed(format!("{what} must be an array"))),
    }
}

fn string_field<'a>(obj: &'a Map<String, Value>, name: &str) -> Result<&'a str, SelectorError> {
    match obj.get(name) {
        None | Some(Value::Null) => Ok(""),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(SelectorError::Malformed(format!(
            "matchExpressions[].{name} must be a string"
        ))),
    }
}

/// Converts a `metav1.LabelSelector` JSON value
/// (`{"matchLabels": {...}, "matchExpressions": [{"key", "operator", "values"}]}`)
/// into a [`Selector`], as upstream `metav1.LabelSelectorAsSelector`.
///
/// * JSON `null` gives [`Selector::nothing`] (matches no object), as upstream
///   does for a nil selector. Callers whose API treats an *absent* selector
///   differently (e.g. "select everything") must handle that before calling.
/// * `{}` (no labels and no expressions) gives [`Selector::everything`].
/// * `matchLabels` entries become `key=value` requirements; expressions map
///   `In`/`NotIn`/`Exists`/`DoesNotExist` to the same operators, validated
///   as upstream (`In`/`NotIn` need values; `Exists`/`DoesNotExist` must not
///   have any). The result is sorted by key.
pub fn from_label_selector(v: &Value) -> Result<Selector, SelectorError> {
    let obj = match v {
        Value::Null => return Ok(Selector::nothing()),
        Value::Object(obj) => obj,
        _ => {
            return Err(SelectorError::Malformed(
                "a label selector must be an object".to_string(),
            ))
        }
    };
    let mut requirements = Vec::new();
    match obj.get("matchLabels") {
        None | Some(Value::Null) => {}
        Some(Value::Object(labels)) => {
            for (k, val) in labels {
                let val = val.as_str().ok_or_else(|| {
                    SelectorError::Malformed("matchLabels values must be strings".to_string())
                })?;
                requirements.push(Requirement::new(
                    k.clone(),
                    Operator::Equals,
                    vec![val.to_string()],
                )?);
            }
        }
        Some(_) => {
            return Err(SelectorError::Malformed(
                "matchLabels must be an object".to_string(),
            ))
        }
    }
    match obj.get("matchExpressions") {
        None | Some(Value::Null) => {}
        Some(Value::Array(exprs)) => {
            for expr in exprs {
                let expr = expr.as_object().ok_or_else(|| {
                    SelectorError::Malformed("matchExpressions items must be objects".to_string())
                })?;
                let key = string_field(expr, "key")?;
                let op = match string_field(expr, "operator")? {
                    "In" => Operator::In,
                    "NotIn" => Operator::NotIn,
                    "Exists" => Operator::Exists,
                    "DoesNotExist" => Operator::DoesNotExist,
                    other => return Err(SelectorError::InvalidOperator(other.to_string())),
                };
                let values = string_list(expr.get("values"), "matchExpressions[].values")?;
                requirements.push(Requirement::new(key, op, values)?);
            }
        }
        Some(_) => {
            return Err(SelectorError::Malformed(
                "matchExpressions must be an array".to_string(),
            ))
        }
    }
    Ok(Selector::from_requirements(requirements))
}

#[cfg(test)]
mod tests;
