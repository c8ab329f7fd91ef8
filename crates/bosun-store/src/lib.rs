//! The storage contract every Bosun backend implements.
//!
//! A [`Store`] is a revisioned key-value store in the shape of etcd v3: every
//! successful write bumps one cluster-wide revision, each key remembers the
//! revision that created it and the one that last modified it, and watchers
//! can replay every change after a revision until it is compacted away.
//!
//! The API server is the only user of this crate; it maps `resourceVersion`
//! to `mod_revision`. Backends live in their own crates (`bosun-store-redb`,
//! `bosun-store-etcd`); this crate holds the trait, the in-memory backend used
//! by unit tests ([`MemStore`]), the shared in-memory event log
//! ([`EventLog`]) and the [`conformance`] suite every backend must pass.

pub mod conformance;
mod error;
mod event_log;
mod mem;

use bytes::Bytes;
use futures::stream::BoxStream;

pub use error::{Result, StoreError};
pub use event_log::EventLog;
pub use mem::MemStore;

/// A store-wide, monotonically increasing write counter.
pub type Revision = i64;

/// One stored key with its value and revisions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: Bytes,
    /// Revision of the write that created this key (unchanged by updates).
    pub create_revision: Revision,
    /// Revision of the last write to this key. For a delete event, the
    /// revision of the delete.
    pub mod_revision: Revision,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    Put,
    Delete,
}

/// One change observed by a watcher.
///
/// For `Put`, `kv` is the new value and `prev` the old one when the key
/// existed before. For `Delete`, `kv` carries the last value of the key with
/// `mod_revision` set to the revision of the delete.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub kind: EventKind,
    pub kv: KeyValue,
    pub prev: Option<KeyValue>,
}

impl Event {
    pub fn revision(&self) -> Revision {
        self.kv.mod_revision
    }
}

/// A stream of changes in revision order. It ends with an `Err` when the
/// watcher fell too far behind or the backend failed; the caller must then
/// re-list and watch again.
pub type WatchStream = BoxStream<'static, Result<Event>>;

/// A revisioned key-value store.
///
/// Contract, shared by every backend and checked by [`conformance`]:
/// - A write is acknowledged (its future resolves `Ok`) only once it is
///   durable for that backend's durability promise.
/// - Revisions increase by exactly one per successful write, across keys.
///   Failed writes (conflicts, missing keys) consume no revision.
/// - `watch(prefix, from)` yields every change with revision `>= from` to a key
///   starting with `prefix`, in revision order, with no gaps, then live
///   changes. `from == 0` means "from the next write". If `from` is at or below
///   the compacted revision the call fails with [`StoreError::Compacted`].
/// - Keys are compared bytewise; `list(prefix)` returns keys in order.
#[async_trait::async_trait]
pub trait Store: Send + Sync + 'static {
    /// The revision of the latest write.
    async fn current_revision(&self) -> Result<Revision>;

    async fn get(&self, key: &str) -> Result<Option<KeyValue>>;

    /// Every key starting with `prefix`, sorted, with the revision the
    /// snapshot was taken at.
    async fn list(&self, prefix: &str) -> Result<(Vec<KeyValue>, Revision)>;

    /// Creates `key`; fails with [`StoreError::AlreadyExists`] if present.
    async fn create(&self, key: &str, value: Bytes) -> Result<KeyValue>;

    /// Replaces `key` if its `mod_revision` equals `expected`; otherwise
    /// fails with [`StoreError::Conflict`] (or [`StoreError::NotFound`]).
    async fn update(&self, key: &str, value: Bytes, expected: Revision) -> Result<KeyValue>;

    /// Deletes `key`, if `expected` is given only when its `mod_revision`
    /// matches. Returns the deleted value with `mod_revision` set to the
    /// revision of the delete.
    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<KeyValue>;

    async fn watch(&self, prefix: &str, from: Revision) -> Result<WatchStream>;

    /// Forgets history at and below `revision`; watches from there fail.
    async fn compact(&self, revision: Revision) -> Result<()>;
}
