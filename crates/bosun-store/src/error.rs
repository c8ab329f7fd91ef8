//! Errors shared by every backend.

use crate::Revision;

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("key {key:?} already exists")]
    AlreadyExists { key: String },
    #[error("key {key:?} not found")]
    NotFound { key: String },
    #[error("key {key:?} was modified: expected revision {expected}, found {actual}")]
    Conflict {
        key: String,
        expected: Revision,
        actual: Revision,
    },
    #[error("revision {requested} is compacted (compacted through {compacted})")]
    Compacted {
        requested: Revision,
        compacted: Revision,
    },
    #[error("data file {path} is corrupt or unreadable: {detail}")]
    Corrupt { path: String, detail: String },
    #[error("storage backend failed: {0}")]
    Backend(String),
    #[error("store is shut down")]
    Closed,
}
