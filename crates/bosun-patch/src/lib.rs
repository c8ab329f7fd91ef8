//! Patch semantics of the Kubernetes API server, without IO.
//!
//! * [`apply_strategic_merge_patch`] applies
//!   `application/strategic-merge-patch+json` with the per-kind patch schema
//!   of the built-in kinds and all SMP directives kubectl emits.
//! * [`server_side_apply`] and [`update_managed_fields`] implement
//!   server-side apply (`application/apply-patch+yaml`) and field ownership
//!   tracking in `metadata.managedFields` (FieldsV1).

mod error;
mod schema;
mod smp;
mod ssa;
// mod ssa;

pub use error::PatchError;
pub use schema::{patch_meta, PatchMeta};
pub use smp::apply_strategic_merge_patch;
pub use ssa::{
    apply_with, server_side_apply, update_managed_fields, update_with, ApplyError, Conflict,
    FieldManagerContext,
};
