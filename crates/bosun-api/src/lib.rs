//! Kind registry, defaulting and validation for every served Kubernetes kind.
//!
//! Pure data: no IO. Objects are handled as `serde_json::Value` in their
//! external (versioned JSON) form.

pub mod convert;
pub mod defaults;
pub mod registry;
pub mod validation;
