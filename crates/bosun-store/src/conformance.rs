//! The behaviour every [`Store`] backend must show.
//!
//! Each backend's test suite calls [`run_all`] on a fresh, empty store. The
//! checks use distinct key prefixes so they can share one store; the
//! compaction check runs last because it affects the whole store.
//!
//! Checks panic with a message naming the violated rule, so they are meant
//! for tests only.

use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;

use crate::{EventKind, Store, StoreError, WatchStream};

/// Runs every conformance check against `store`, which must be empty.
pub async fn run_all(store: &dyn Store) {
    create_then_get(store).await;
    create_twice_fails(store).await;
    update_compares_revision(store).await;
    update_missing_key_fails(store).await;
    delete_honours_precondition(store).await;
    list_returns_only_prefix_in_order(store).await;
    revisions_increase_by_one_per_write(store).await;
    concurrent_creates_get_distinct_revisions(store).await;
    watch_replays_history_then_follows(store).await;
    watch_from_zero_sees_only_new_writes(store).await;
    watch_filters_by_prefix(store).await;
    compaction_expires_old_revisions(store).await;
}

fn val(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

async fn next_event(stream: &mut WatchStream) -> crate::Event {
    match tokio::time::timeout(Duration::from_secs(10), stream.next()).await {
        Ok(Some(Ok(event))) => event,
        Ok(Some(Err(err))) => panic!("watch stream failed: {err}"),
        Ok(None) => panic!("watch stream ended early"),
        Err(_) => panic!("no watch event within 10s"),
    }
}

pub async fn create_then_get(store: &dyn Store) {
    let kv = store.create("/c1/a", val("one")).await.expect("create");
    assert_eq!(
        kv.create_revision, kv.mod_revision,
        "new key: create == mod revision"
    );
    let got = store
        .get("/c1/a")
        .await
        .expect("get")
        .expect("created key is readable");
    assert_eq!(got, kv, "get returns what create acknowledged");
    assert!(store.get("/c1/missing").await.expect("get").is_none());
}

pub async fn create_twice_fails(store: &dyn Store) {
    let first = store.create("/c2/a", val("one")).await.expect("create");
    let err = store
        .create("/c2/a", val("two"))
        .await
        .expect_err("second create must fail");
    assert!(
        matches!(err, StoreError::AlreadyExists { .. }),
        "got {err:?}"
    );
    let got = store.get("/c2/a").await.expect("get").expect("present");
    assert_eq!(got.value, first.value, "failed create must not overwrite");
}

pub async fn update_compares_revision(store: &dyn Store) {
    let created = store.create("/c3/a", val("v1")).await.expect("create");
    let updated = store
        .update("/c3/a", val("v2"), created.mod_revision)
        .await
        .expect("update at current revision");
    assert!(updated.mod_revision > created.mod_revision);
    assert_eq!(updated.create_revision, created.create_revision);
    let err = store
        .update("/c3/a", val("v3"), created.mod_revision)
        .await
        .expect_err("stale update must fail");
    match err {
        StoreError::Conflict {
            expected, actual, ..
        } => {
            assert_eq!(expected, created.mod_revision);
            assert_eq!(actual, updated.mod_revision);
        }
        other => panic!("expected Conflict, got {other:?}"),
    }
    let got = store.get("/c3/a").await.expect("get").expect("present");
    assert_eq!(
        got.value,
        val("v2"),
        "conflicting update must not be applied"
    );
}

pub async fn update_missing_key_fails(store: &dyn Store) {
    let err = store
        .update("/c4/none", val("x"), 1)
        .await
        .expect_err("update of a missing key fails");
    assert!(matches!(err, StoreError::NotFound { .. }), "got {err:?}");
}

pub async fn delete_honours_precondition(store: &dyn Store) {
    let created = store.create("/c5/a", val("v1")).await.expect("create");
    let err = store
        .delete("/c5/a", Some(created.mod_revision + 1000))
        .await
        .expect_err("delete with wrong revision fails");
    assert!(matches!(err, StoreError::Conflict { .. }), "got {err:?}");
    assert!(store.get("/c5/a").await.expect("get").is_some());
    let deleted = store
        .delete("/c5/a", Some(created.mod_revision))
        .await
        .expect("delete");
    assert_eq!(deleted.value, val("v1"), "delete returns the last value");
    assert!(deleted.mod_revision > created.mod_revision);
    assert!(store.get("/c5/a").await.expect("get").is_none());
    let err = store
        .delete("/c5/a", None)
        .await
        .expect_err("second delete fails");
    assert!(matches!(err, StoreError::NotFound { .. }), "got {err:?}");
}

pub async fn list_returns_only_prefix_in_order(store: &dyn Store) {
    for key in ["/c6/b", "/c6/a", "/c6/c", "/c6x/z", "/c5z"] {
        store.create(key, val(key)).await.expect("create");
    }
    let (items, revision) = store.list("/c6/").await.expect("list");
    let keys: Vec<&str> = items.iter().map(|kv| kv.key.as_str()).collect();
    assert_eq!(keys, ["/c6/a", "/c6/b", "/c6/c"]);
    let current = store.current_revision().await.expect("revision");
    assert_eq!(revision, current, "list reports the snapshot revision");
    assert!(items.iter().all(|kv| kv.mod_revision <= revision));
}

pub async fn revisions_increase_by_one_per_write(store: &dyn Store) {
    let start = store.current_revision().await.expect("revision");
    let a = store.create("/c7/a", val("1")).await.expect("create");
    assert_eq!(a.mod_revision, start + 1);
    // A failed write consumes no revision.
    let _ = store.create("/c7/a", val("dup")).await;
    let b = store
        .update("/c7/a", val("2"), a.mod_revision)
        .await
        .expect("update");
    assert_eq!(b.mod_revision, start + 2);
    let c = store.delete("/c7/a", None).await.expect("delete");
    assert_eq!(c.mod_revision, start + 3);
    assert_eq!(store.current_revision().await.expect("revision"), start + 3);
}

pub async fn concurrent_creates_get_distinct_revisions(store: &dyn Store) {
    let writes = (0..64).map(|i| {
        let key = format!("/c8/{i:03}");
        async move { store.create(&key, val("x")).await }
    });
    let results = futures::future::join_all(writes).await;
    let mut revisions: Vec<i64> = results
        .into_iter()
        .map(|r| r.expect("concurrent create").mod_revision)
        .collect();
    revisions.sort_unstable();
    revisions.dedup();
    assert_eq!(revisions.len(), 64, "each write gets its own revision");
    let (items, _) = store.list("/c8/").await.expect("list");
    assert_eq!(items.len(), 64, "every acknowledged write is present");
}

pub async fn watch_replays_history_then_follows(store: &dyn Store) {
    let a = store.create("/c9/a", val("1")).await.expect("create");
    store
        .update("/c9/a", val("2"), a.mod_revision)
        .await
        .expect("update");
    let mut stream = store.watch("/c9/", a.mod_revision).await.expect("watch");
    let first = next_event(&mut stream).await;
    assert_eq!(
        (first.kind, first.kv.value.clone()),
        (EventKind::Put, val("1"))
    );
    assert_eq!(first.revision(), a.mod_revision);
    let second = next_event(&mut stream).await;
    assert_eq!(second.kv.value, val("2"));
    assert_eq!(second.prev.map(|p| p.value), Some(val("1")));
    store.delete("/c9/a", None).await.expect("delete");
    let third = next_event(&mut stream).await;
    assert_eq!(third.kind, EventKind::Delete);
    assert_eq!(third.kv.key, "/c9/a");
    assert!(third.revision() > second.kv.mod_revision);
}

pub async fn watch_from_zero_sees_only_new_writes(store: &dyn Store) {
    store.create("/c10/old", val("old")).await.expect("create");
    let mut stream = store.watch("/c10/", 0).await.expect("watch");
    let new = store.create("/c10/new", val("new")).await.expect("create");
    let event = next_event(&mut stream).await;
    assert_eq!(event.kv.key, "/c10/new");
    assert_eq!(event.revision(), new.mod_revision);
}

pub async fn watch_filters_by_prefix(store: &dyn Store) {
    let mut stream = store.watch("/c11/in/", 0).await.expect("watch");
    store.create("/c11/out/a", val("no")).await.expect("create");
    store.create("/c11/in/a", val("yes")).await.expect("create");
    let event = next_event(&mut stream).await;
    assert_eq!(event.kv.key, "/c11/in/a");
}

pub async fn compaction_expires_old_revisions(store: &dyn Store) {
    let a = store.create("/c12/a", val("1")).await.expect("create");
    let b = store
        .update("/c12/a", val("2"), a.mod_revision)
        .await
        .expect("update");
    store.compact(b.mod_revision).await.expect("compact");
    match store.watch("/c12/", a.mod_revision).await {
        Err(StoreError::Compacted { .. }) => {}
        Ok(mut stream) => {
            // Some backends (etcd) report compaction on the stream.
            match tokio::time::timeout(Duration::from_secs(10), stream.next()).await {
                Ok(Some(Err(StoreError::Compacted { .. }))) => {}
                other => panic!("watch from a compacted revision must fail, got {other:?}"),
            }
        }
        Err(other) => panic!("expected Compacted, got {other:?}"),
    }
    // Data survives compaction; only history goes.
    let got = store.get("/c12/a").await.expect("get").expect("present");
    assert_eq!(got.value, val("2"));
    let mut stream = store
        .watch("/c12/", b.mod_revision + 1)
        .await
        .expect("watch after the compacted revision works");
    let c = store
        .update("/c12/a", val("3"), b.mod_revision)
        .await
        .expect("update");
    assert_eq!(next_event(&mut stream).await.revision(), c.mod_revision);
}

#[cfg(test)]
mod tests {
    use crate::MemStore;

    #[tokio::test]
    async fn mem_store_passes_conformance() {
        super::run_all(&MemStore::new()).await;
    }
}
