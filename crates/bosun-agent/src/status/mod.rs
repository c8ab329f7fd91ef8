//! Pod status: generated from the runtime state (`generate.rs`) and
//! written to the API by the status manager (`manager.rs`).
pub mod generate;
pub mod manager;
