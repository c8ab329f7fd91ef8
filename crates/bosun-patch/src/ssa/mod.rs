//! Server-side apply and field ownership (`metadata.managedFields`).
//!
//! Ownership is tracked per manager entry (manager name, operation
//! `Apply`/`Update`, apiVersion, subresource) as a set of field paths in
//! upstream's FieldsV1 encoding. Associative lists use the same per-kind
//! schema as strategic merge patch; objects of unknown kinds use a schema
//! deduced from the value (maps granular, lists atomic).

mod managed;
mod ops;
mod path;
mod walk;

use serde_json::Value;

/// Who is writing and to what: the inputs shared by apply and update.
#[derive(Clone, Copy, Debug)]
pub struct FieldManagerContext<'a> {
    /// Field manager name (`fieldManager` parameter or user-agent default).
    pub manager: &'a str,
    /// API group of the object (`""` for core).
    pub group: &'a str,
    /// Kind of the object.
    pub kind: &'a str,
    /// Timestamp recorded for changed entries (RFC 3339, e.g.
    /// `2024-05-01T10:00:00Z`).
    pub now: &'a str,
    /// Subresource written (`""` for the main resource, `"status"`, ...).
    pub subresource: &'a str,
}

/// A field owned by another manager that the apply would change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    /// The other manager's name.
    pub manager: String,
    /// Its operation (`Apply` or `Update`).
    pub operation: String,
    /// Its apiVersion (meaningful for `Update`).
    pub api_version: String,
    /// Its subresource (`""` for the main resource).
    pub subresource: String,
    /// The field in upstream's printed form, e.g. `.spec.replicas`.
    pub field: String,
    identifier: String,
}

impl Conflict {
    /// The manager as upstream prints it, e.g.
    /// `"kubectl-client-side-apply" using apps/v1`.
    pub fn manager_display(&self) -> String {
        let mut s = Value::String(self.manager.clone()).to_string();
        if !self.subresource.is_empty() {
            s.push_str(&format!(
                " with subresource {}",
                Value::String(self.subresource.clone())
            ));
        }
        if self.operation == managed::UPDATE {
            s.push_str(&format!(" using {}", self.api_version));
        }
        s
    }

    /// The `message` of this conflict's `FieldManagerConflict` status cause.
    pub fn cause_message(&self) -> String {
        format!("conflict with {}", self.manager_display())
    }
}

/// Upstream's 409 message for a list of conflicts.
fn conflicts_message(conflicts: &[Conflict]) -> String {
    if let [only] = conflicts {
        return format!(
            "Apply failed with 1 conflict: conflict with {}: {}",
            only.manager_display(),
            only.field
        );
    }
    let mut ids: Vec<&str> = conflicts.iter().map(|c| c.identifier.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut lines = Vec::new();
    for id in ids {
        let mut group = conflicts.iter().filter(|c| c.identifier == id).peekable();
        if let Some(first) = group.peek() {
            lines.push(format!("conflicts with {}:", first.manager_display()));
        }
        lines.extend(group.map(|c| format!("- {}", c.field)));
    }
    format!(
        "Apply failed with {} conflicts: {}",
        conflicts.len(),
        lines.join("\n")
    )
}

/// Why a server-side apply was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApplyError {
    /// Fields owned by other managers would change (HTTP 409).
    #[error("{}", conflicts_message(.0))]
    Conflicts(Vec<Conflict>),
    /// The applied configuration carries `metadata.managedFields` (HTTP 400).
    #[error("metadata.managedFields must be nil")]
    ManagedFieldsInRequest,
    /// The applied configuration is not a valid object for its schema,
    /// e.g. duplicate or key-less associative list entries (HTTP 500).
    #[error("failed to create typed patch object ({gvk}): {message}")]
    InvalidConfig { gvk: String, message: String },
    /// The live object's managedFields cannot be decoded (HTTP 500).
    #[error("failed to decode managed fields: {0}")]
    BadManagedFields(String),
}

impl ApplyError {
    /// HTTP status upstream answers with.
    pub fn http_status(&self) -> u16 {
        match self {
            ApplyError::Conflicts(_) => 409,
            ApplyError::ManagedFieldsInRequest => 400,
            ApplyError::InvalidConfig { .. } | ApplyError::BadManagedFields(_) => 500,
        }
    }
}

/// Server-side apply of `applied` onto `live` (`None` creates) by
/// `manager`, on the main resource.
///
/// Returns the new object with `metadata.managedFields` updated. Fields the
/// manager applied before and omits now are removed unless another manager
/// owns them. Without `force`, changing a field owned by another manager
/// fails with [`ApplyError::Conflicts`]; with `force` ownership moves to
/// `manager`.
pub fn server_side_apply(
    live: Option<&Value>,
    applied: &Value,
    manager: &str,
    force: bool,
    group: &str,
    kind: &str,
    now: &str,
) -> Result<Value, ApplyError> {
    let ctx = FieldManagerContext {
        manager,
        group,
        kind,
        now,
        subresource: "",
    };
    apply_with(&ctx, live, applied, force)
}

/// Records ownership for a non-apply write (create, update, patch) of the
/// main resource: fields that changed from `old` (`None` on create) to
/// `new` become owned by `manager` with `operation` (normally `"Update"`)
/// and are taken away from other managers. Returns `new` with
/// `metadata.managedFields` set.
pub fn update_managed_fields(
    old: Option<&Value>,
    new: &Value,
    manager: &str,
    operation: &str,
    group: &str,
    kind: &str,
    now: &str,
) -> Value {
    let ctx = FieldManagerContext {
        manager,
        group,
        kind,
        now,
        subresource: "",
    };
    update_with(&ctx, old, new.clone(), operation)
}

/// [`server_side_apply`] with a full context (e.g. for `/status`).
pub fn apply_with(
    ctx: &FieldManagerContext<'_>,
    live: Option<&Value>,
    applied: &Value,
    force: bool,
) -> Result<Value, ApplyError> {
    ops::apply(ctx, live, applied, force)
}

/// [`update_managed_fields`] with a full context (e.g. for `/status`).
///
/// Managed fields sent in `new` replace the stored ones when they are
/// non-empty and valid (upstream lets clients edit them; a single empty
/// entry `[{}]` clears them). On internal failure the object is returned
/// without managedFields, as upstream does.
pub fn update_with(
    ctx: &FieldManagerContext<'_>,
    old: Option<&Value>,
    new: Value,
    operation: &str,
) -> Value {
    ops::update(ctx, old, new, operation)
}
