//! The watch cache: every stored object, encoded, in memory.
//!
//! Lists, gets and watches are served from here, never by scanning the
//! store. One feeder task follows the store's watch from the revision the
//! initial list was taken at and applies each change in revision order; a
//! bounded history of recent events lets watchers resume from any retained
//! resourceVersion. Writers wait until the cache has applied their write
//! ([`WatchCache::wait_for`]) before answering, so a client reads its own
//! writes.
//!
//! Objects are kept as their JSON encoding plus a small index
//! ([`SlimMeta`]) for selectors and lifecycles, not as decoded trees: a
//! decoded object costs several times its encoding. Lists and watches send
//! the encodings as they are; anything that needs the object decodes it.

mod entry;
mod meta;
mod parsed;
mod scan;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use bosun_api::registry::{self, ResourceDef};
use bosun_store::{EventKind, KeyValue, Revision, Store};
use futures::StreamExt;
use parking_lot::RwLock;
use serde_json::Value;
use tokio::sync::{broadcast, watch};

pub use entry::{Encoding, Entry};
pub use meta::SlimMeta;

/// Events kept for watchers resuming from an older resourceVersion.
const HISTORY: usize = 100_000;
/// Live events buffered per resource for its watchers; a watcher further
/// behind ends with 410 and re-lists. The channel keeps its last events
/// alive (beyond the history window), so only pods, which come in the
/// largest bursts, get a deep buffer: 65,536 node events kept alive was
/// ~650 MiB at 5,000 nodes.
const LIVE_CAPACITY_PODS: usize = 1 << 16;
const LIVE_CAPACITY: usize = 1 << 13;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One applied change. Shares its encodings with the cache entries (and the
/// previous event's object), so history costs no copies.
#[derive(Debug)]
pub struct CacheEvent {
    pub revision: Revision,
    pub kind: EventType,
    pub def: &'static ResourceDef,
    /// The object as sent to watchers: the new state, or for a deletion the
    /// last state with the deletion's resourceVersion.
    pub json: bytes::Bytes,
    /// Where `json` holds `metadata.managedFields`.
    pub managed: Option<(u32, u32)>,
    pub meta: Arc<SlimMeta>,
    /// The state before this change, if the object existed.
    pub prev: Option<Entry>,
}

impl CacheEvent {
    /// The object sent, with where its managed fields sit.
    pub fn encoding(&self) -> entry::Encoding<'_> {
        entry::Encoding::new(&self.json, self.managed)
    }

    pub fn prev_meta(&self) -> Option<&SlimMeta> {
        self.prev.as_ref().map(|p| &*p.meta)
    }

    /// The object's key within its resource.
    pub fn key(&self) -> String {
        object_key(self.meta.namespace(), self.meta.name())
    }
}

/// What a watcher receives from the live channel.
#[derive(Debug, Clone)]
pub enum LiveItem {
    Event(Arc<CacheEvent>),
    /// The cache was rebuilt from a fresh list; watchers must restart.
    Reset,
}

/// A storage key prefix, the resource stored under it and every resource
/// served from it (itself first, then its views).
struct Storage {
    prefix: String,
    def: &'static ResourceDef,
    served: Box<[&'static ResourceDef]>,
}

pub struct WatchCache {
    state: RwLock<State>,
    /// One live channel per served resource (by `plural_key`), so a
    /// watcher wakes only for its own resource's changes.
    live: HashMap<&'static str, broadcast::Sender<LiveItem>>,
    revision: watch::Sender<Revision>,
    /// One per storage key prefix, found once per store event.
    storages: Vec<Storage>,
    /// Earlier states rebuilt for paginated lists, newest use last.
    snapshots: parking_lot::Mutex<Vec<Arc<Snapshot>>>,
}

/// How many rebuilt earlier states [`WatchCache::snapshot_at`] keeps.
const SNAPSHOTS_KEPT: usize = 4;

/// The objects of one resource (in one namespace, or all) as they were at
/// an earlier revision, sorted by key: what the later pages of a paginated
/// list read, so a list of N objects in pages of L costs O(N) once rather
/// than O(N) per page.
pub struct Snapshot {
    def: &'static ResourceDef,
    namespace: Option<String>,
    revision: Revision,
    items: Vec<(String, Entry)>,
}

impl Snapshot {
    /// The entries after `start` (exclusive), in key order.
    pub fn after<'a>(
        &'a self,
        start: Option<&str>,
    ) -> impl Iterator<Item = (&'a String, &'a Entry)> + 'a {
        let from = start.map_or(0, |s| self.items.partition_point(|(k, _)| k.as_str() <= s));
        self.items[from..].iter().map(|(k, e)| (k, e))
    }
}

#[derive(Default)]
pub struct State {
    pub revision: Revision,
    /// key prefix of a resource → (object key within resource → object).
    objects: HashMap<&'static str, BTreeMap<String, Entry>>,
    history: VecDeque<Arc<CacheEvent>>,
    /// Watches from revisions below this fail with 410.
    pub oldest: Revision,
    /// Objects decoded for [`State::range`] since the last change.
    parsed: parsed::Parsed,
}

/// The key of an object within its resource: `ns/name` or `name`.
pub fn object_key(namespace: Option<&str>, name: &str) -> String {
    match namespace {
        Some(ns) => format!("{ns}/{name}"),
        None => name.to_string(),
    }
}

impl State {
    fn table(&self, def: &ResourceDef) -> Option<&BTreeMap<String, Entry>> {
        self.objects.get(def.plural_key())
    }

    /// One object, decoded.
    pub fn get(
        &self,
        def: &ResourceDef,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<Arc<Value>> {
        self.get_entry(def, namespace, name)
            .map(|e| Arc::new(e.value()))
    }

    pub fn get_entry(
        &self,
        def: &ResourceDef,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<Entry> {
        self.table(def)?.get(&object_key(namespace, name)).cloned()
    }

    /// Objects of `def` (in `namespace` if given) with keys after `start`,
    /// in key order, decoded. Each object is decoded as the iterator
    /// reaches it and kept until the cache next changes: meant for small
    /// resources and rare requests. Hot paths use [`State::range_entries`].
    pub fn range<'a>(
        &'a self,
        def: &ResourceDef,
        namespace: Option<&'a str>,
        start: Option<&'a str>,
    ) -> impl Iterator<Item = (&'a String, &'a Arc<Value>)> + 'a {
        self.range_entries(def, namespace, start)
            .map(|(k, e)| (k, self.parsed.push(Arc::new(e.value()))))
    }

    /// Like [`State::range`], as the cached entries (encoding and index).
    pub fn range_entries<'a>(
        &'a self,
        def: &ResourceDef,
        namespace: Option<&'a str>,
        start: Option<&'a str>,
    ) -> impl Iterator<Item = (&'a String, &'a Entry)> + 'a {
        let prefix = namespace.map(|ns| format!("{ns}/")).unwrap_or_default();
        let lower = match start {
            Some(s) if s > prefix.as_str() => std::ops::Bound::Excluded(s.to_string()),
            _ => std::ops::Bound::Included(prefix.clone()),
        };
        self.table(def)
            .into_iter()
            .flat_map(move |t| t.range((lower.clone(), std::ops::Bound::Unbounded)))
            .take_while(move |(k, _)| k.starts_with(&prefix))
    }

    pub fn count(&self, def: &ResourceDef, namespace: Option<&str>) -> usize {
        match namespace {
            None => self.table(def).map(|t| t.len()).unwrap_or(0),
            Some(ns) => self.range_entries(def, Some(ns), None).count(),
        }
    }

    /// Like [`State::range_entries`], as the objects were at an earlier
    /// `revision` (a paginated list continuing its first page's snapshot),
    /// rebuilt by undoing the retained events after it. `None` when the
    /// history no longer reaches back to `revision`.
    pub fn range_at(
        &self,
        def: &'static ResourceDef,
        namespace: Option<&str>,
        start: Option<&str>,
        revision: Revision,
    ) -> Option<Vec<(String, Entry)>> {
        let current = self
            .range_entries(def, namespace, start)
            .map(|(k, e)| (k.clone(), e.clone()));
        if revision >= self.revision {
            return Some(current.collect());
        }
        if revision < self.oldest {
            return None;
        }
        let mut view: BTreeMap<String, Option<Entry>> =
            current.map(|(k, e)| (k, Some(e))).collect();
        let prefix = namespace.map(|ns| format!("{ns}/")).unwrap_or_default();
        // Newest first, so each key ends up as it was before the oldest
        // event after `revision`.
        for event in self.events_after(def, revision).iter().rev() {
            let key = event.key();
            if !key.starts_with(&prefix) || start.is_some_and(|s| key.as_str() <= s) {
                continue;
            }
            view.insert(key, event.prev.clone());
        }
        Some(
            view.into_iter()
                .filter_map(|(k, e)| e.map(|e| (k, e)))
                .collect(),
        )
    }

    /// Events of `def` after `revision`, oldest first.
    pub fn events_after(
        &self,
        def: &'static ResourceDef,
        revision: Revision,
    ) -> Vec<Arc<CacheEvent>> {
        let start = self.history.partition_point(|e| e.revision <= revision);
        self.history
            .iter()
            .skip(start)
            .filter(|e| std::ptr::eq(e.def, def))
            .cloned()
            .collect()
    }

    /// Empties the [`State::range`] arena, handing back the old one so the
    /// caller can free it outside the lock.
    fn take_parsed(&mut self) -> Option<parsed::Parsed> {
        if self.parsed.is_empty() {
            None
        } else {
            Some(std::mem::take(&mut self.parsed))
        }
    }
}

trait PluralKey {
    fn plural_key(&self) -> &'static str;
}

impl PluralKey for ResourceDef {
    fn plural_key(&self) -> &'static str {
        // Unique per resource: group + plural, as a leaked static string
        // computed once per definition.
        static KEYS: std::sync::OnceLock<HashMap<(usize, usize), &'static str>> =
            std::sync::OnceLock::new();
        let keys = KEYS.get_or_init(|| {
            registry::all()
                .iter()
                .map(|d| {
                    // Not the storage prefix: views share their storage's.
                    let key: &'static str =
                        Box::leak(format!("{}/{}", d.group, d.plural).into_boxed_str());
                    ((d.group.as_ptr() as usize, d.plural.as_ptr() as usize), key)
                })
                .collect()
        });
        keys.get(&(self.group.as_ptr() as usize, self.plural.as_ptr() as usize))
            .copied()
            .unwrap_or("")
    }
}

impl WatchCache {
    /// Lists the store, fills the cache and starts following the store.
    pub async fn start(store: Arc<dyn Store>) -> Result<Arc<Self>, bosun_store::StoreError> {
        let live = registry::all()
            .iter()
            .map(|def| {
                let capacity = match def.plural {
                    "pods" => LIVE_CAPACITY_PODS,
                    _ => LIVE_CAPACITY,
                };
                (def.plural_key(), broadcast::channel(capacity).0)
            })
            .collect();
        let (revision, _) = watch::channel(0);
        // Views of another resource's storage are fed from that resource.
        let storages = registry::all()
            .iter()
            .filter(|d| d.stored_as.is_none())
            .map(|def| Storage {
                prefix: def.key_prefix(),
                def,
                served: std::iter::once(def)
                    .chain(registry::views_of(def))
                    .collect(),
            })
            .collect();
        let cache = Arc::new(WatchCache {
            state: RwLock::new(State::default()),
            live,
            revision,
            storages,
            snapshots: parking_lot::Mutex::default(),
        });
        let start = cache.relist(store.as_ref()).await?;
        let feeder = cache.clone();
        tokio::spawn(async move { feeder.follow(store, start).await });
        Ok(cache)
    }

    /// The storage a store key belongs to, and the object's key within it.
    fn resource_of(&self, key: &str) -> Option<(&Storage, String)> {
        self.storages
            .iter()
            .find(|s| key.starts_with(s.prefix.as_str()))
            .map(|s| (s, key[s.prefix.len()..].to_string()))
    }

    /// Decodes a stored object once: indexes it, stamps its
    /// resourceVersion and encodes it; the decoded tree is dropped.
    fn decode(def: &ResourceDef, kv: &KeyValue) -> Option<Entry> {
        match Entry::decode(def, &kv.value, kv.mod_revision) {
            Ok(entry) => Some(entry),
            Err(err) => {
                tracing::error!(key = %kv.key, %err, "stored object is not valid JSON; skipping it");
                None
            }
        }
    }

    /// Decodes a stored object of `storage` as `def` serves it: `def` is
    /// `storage` itself or one of its views (converted from the stored form).
    fn decode_as(storage: &ResourceDef, def: &'static ResourceDef, kv: &KeyValue) -> Option<Entry> {
        if std::ptr::eq(storage, def) {
            return Self::decode(def, kv);
        }
        match serde_json::from_slice::<serde_json::Value>(&kv.value) {
            Ok(value) => {
                let value = bosun_api::convert::from_storage(def, value);
                Some(Entry::new(def, value, kv.mod_revision))
            }
            Err(err) => {
                tracing::error!(key = %kv.key, %err, "stored object is not valid JSON; skipping it");
                None
            }
        }
    }

    async fn relist(&self, store: &dyn Store) -> Result<Revision, bosun_store::StoreError> {
        let (items, revision) = store.list("/registry/").await?;
        let count = items.len();
        let mut objects: HashMap<&'static str, BTreeMap<String, Entry>> = HashMap::new();
        // Consumed as it goes so raw and encoded copies do not pile up.
        for kv in items {
            let Some((storage, key)) = self.resource_of(&kv.key) else {
                continue;
            };
            for &served in storage.served.iter() {
                if let Some(entry) = Self::decode_as(storage.def, served, &kv) {
                    objects
                        .entry(served.plural_key())
                        .or_default()
                        .insert(key.clone(), entry);
                }
            }
        }
        let (old, parsed) = {
            let mut state = self.state.write();
            let old = std::mem::replace(&mut state.objects, objects);
            let parsed = state.take_parsed();
            state.history.clear();
            state.revision = revision;
            state.oldest = revision;
            for live in self.live.values() {
                let _ = live.send(LiveItem::Reset);
            }
            (old, parsed)
        };
        drop((old, parsed));
        self.revision.send_replace(revision);
        tracing::info!(objects = count, revision, "watch cache filled");
        Ok(revision)
    }

    async fn follow(self: Arc<Self>, store: Arc<dyn Store>, mut revision: Revision) {
        loop {
            match store.watch("/registry/", revision + 1).await {
                Ok(mut stream) => {
                    while let Some(item) = stream.next().await {
                        match item {
                            Ok(event) => {
                                revision = event.revision();
                                self.apply(event);
                            }
                            Err(err) => {
                                tracing::warn!(%err, "store watch ended; re-listing");
                                break;
                            }
                        }
                    }
                }
                Err(err) => tracing::warn!(%err, "store watch failed; re-listing"),
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            match self.relist(store.as_ref()).await {
                Ok(rev) => revision = rev,
                Err(err) => tracing::error!(%err, "re-list failed; retrying"),
            }
        }
    }

    fn apply(&self, event: bosun_store::Event) {
        let revision = event.revision();
        let resource = self.resource_of(&event.kv.key);
        // Decode new states before taking the lock; a deletion reuses the
        // cached last state instead. A storage with views yields one change
        // per served resource, all at the same revision.
        let changes: Vec<(&'static ResourceDef, String, Option<Entry>)> = match &resource {
            Some((storage, key)) => storage
                .served
                .iter()
                .map(|&def| {
                    let put = match event.kind {
                        EventKind::Put => Self::decode_as(storage.def, def, &event.kv),
                        EventKind::Delete => None,
                    };
                    (def, key.clone(), put)
                })
                .collect(),
            None => Vec::new(),
        };
        let storage = resource.map(|(storage, _)| storage.def);
        let mut state = self.state.write();
        let parsed = state.take_parsed();
        let mut cache_events = Vec::with_capacity(changes.len());
        for (def, key, put) in changes {
            let cache_event = match (event.kind, put) {
                (EventKind::Put, Some(entry)) => {
                    let table = state.objects.entry(def.plural_key()).or_default();
                    let prev = table.insert(key, entry.clone());
                    let kind = if prev.is_some() {
                        EventType::Modified
                    } else {
                        EventType::Added
                    };
                    Some(CacheEvent {
                        revision,
                        kind,
                        def,
                        managed: entry.managed_span(),
                        json: entry.json,
                        meta: entry.meta,
                        prev,
                    })
                }
                (EventKind::Delete, _) => {
                    let table = state.objects.entry(def.plural_key()).or_default();
                    let prev = table.remove(&key);
                    // The deleted object carries the deletion's revision.
                    let last = match (&prev, storage) {
                        (Some(p), _) => Some(p.with_revision(revision)),
                        (None, Some(storage)) => Self::decode_as(storage, def, &event.kv),
                        (None, None) => None,
                    };
                    last.map(|last| CacheEvent {
                        revision,
                        kind: EventType::Deleted,
                        def,
                        managed: last.managed_span(),
                        json: last.json,
                        meta: last.meta,
                        prev,
                    })
                }
                _ => None,
            };
            cache_events.extend(cache_event);
        }
        let mut dropped = Vec::new();
        for cache_event in cache_events {
            let cache_event = Arc::new(cache_event);
            state.history.push_back(cache_event.clone());
            while state.history.len() > HISTORY {
                if let Some(old) = state.history.pop_front() {
                    state.oldest = old.revision;
                    dropped.push(old);
                }
            }
            if let Some(live) = self.live.get(cache_event.def.plural_key()) {
                let _ = live.send(LiveItem::Event(cache_event));
            }
        }
        state.revision = revision;
        drop(state);
        drop((parsed, dropped));
        self.revision.send_replace(revision);
    }

    pub fn read(&self) -> parking_lot::RwLockReadGuard<'_, State> {
        self.state.read()
    }

    /// `def`'s objects (in `namespace`) as they were at `revision`, rebuilt
    /// from `state` once and kept for the next pages of the same list;
    /// `None` once `revision` has left the cache's history.
    pub fn snapshot_at(
        &self,
        state: &State,
        def: &'static ResourceDef,
        namespace: Option<&str>,
        revision: Revision,
    ) -> Option<Arc<Snapshot>> {
        let same = |s: &Snapshot| {
            std::ptr::eq(s.def, def)
                && s.revision == revision
                && s.namespace.as_deref() == namespace
        };
        {
            let mut kept = self.snapshots.lock();
            kept.retain(|s| s.revision >= state.oldest);
            if let Some(i) = kept.iter().position(|s| same(s)) {
                let hit = kept.remove(i);
                kept.push(hit.clone());
                return Some(hit);
            }
        }
        // Built without the lock, so lists of other snapshots need not
        // wait; two pages racing for the same one build it twice.
        let items = state.range_at(def, namespace, None, revision)?;
        let built = Arc::new(Snapshot {
            def,
            namespace: namespace.map(str::to_string),
            revision,
            items,
        });
        let mut kept = self.snapshots.lock();
        if let Some(i) = kept.iter().position(|s| same(s)) {
            kept.remove(i);
        }
        if kept.len() >= SNAPSHOTS_KEPT {
            kept.remove(0);
        }
        kept.push(built.clone());
        Some(built)
    }

    /// Live changes of `def` (a resource the registry serves; any other
    /// gets a closed channel).
    pub fn subscribe(&self, def: &ResourceDef) -> broadcast::Receiver<LiveItem> {
        match self.live.get(def.plural_key()) {
            Some(live) => live.subscribe(),
            None => broadcast::channel(1).1,
        }
    }

    /// The revision a bookmark for `rx`'s watcher may carry: the cache's,
    /// when the watcher has received every event sent to it so far (the
    /// events of a revision are sent under the same lock that sets it), so
    /// no change of its resource up to that revision is still unseen.
    pub fn settled_revision(&self, rx: &broadcast::Receiver<LiveItem>) -> Option<Revision> {
        let state = self.state.read();
        rx.is_empty().then_some(state.revision)
    }

    pub fn revision(&self) -> Revision {
        *self.revision.borrow()
    }

    /// Waits until the cache has applied `revision`; false on timeout.
    pub async fn wait_for(&self, revision: Revision, timeout: Duration) -> bool {
        let mut rx = self.revision.subscribe();
        let result =
            tokio::time::timeout(timeout, rx.wait_for(|current| *current >= revision)).await;
        matches!(result, Ok(Ok(_)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bosun_store::MemStore;
    use serde_json::json;

    fn configmap(ns: &str, name: &str, v: &str) -> bytes::Bytes {
        let obj = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": ns}, "data": {"v": v}});
        bytes::Bytes::from(serde_json::to_vec(&obj).unwrap())
    }

    fn summary(view: &[(String, Entry)]) -> Vec<(String, String)> {
        view.iter()
            .map(|(k, e)| {
                (
                    k.clone(),
                    e.value()["data"]["v"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    #[tokio::test]
    async fn watchers_get_only_their_resource_and_settle_at_the_latest_revision() {
        let store: Arc<dyn Store> = Arc::new(MemStore::new());
        let cms = registry::lookup("", "v1", "configmaps").unwrap();
        let secrets = registry::lookup("", "v1", "secrets").unwrap();
        let cache = WatchCache::start(store.clone()).await.unwrap();
        let mut rx = cache.subscribe(cms);
        let secret = bytes::Bytes::from(
            serde_json::to_vec(&json!({"apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": "s", "namespace": "n"}}))
            .unwrap(),
        );
        let cm = store
            .create(&cms.key(Some("n"), "a"), configmap("n", "a", "0"))
            .await
            .unwrap();
        let last = store
            .create(&secrets.key(Some("n"), "s"), secret)
            .await
            .unwrap()
            .mod_revision;
        assert!(cache.wait_for(last, Duration::from_secs(5)).await);
        // The ConfigMap is still queued: no bookmark past it yet.
        assert_eq!(cache.settled_revision(&rx), None);
        match rx.recv().await.unwrap() {
            LiveItem::Event(e) => {
                assert_eq!(e.revision, cm.mod_revision);
                assert!(std::ptr::eq(e.def, cms));
            }
            LiveItem::Reset => panic!("unexpected reset"),
        }
        // The Secret never reaches a ConfigMap watcher, yet its revision
        // is the one a ConfigMap bookmark may now carry.
        assert!(rx.is_empty());
        assert_eq!(cache.settled_revision(&rx), Some(last));
    }

    #[tokio::test]
    async fn range_at_rebuilds_an_earlier_snapshot() {
        let store: Arc<dyn Store> = Arc::new(MemStore::new());
        let def = registry::lookup("", "v1", "configmaps").unwrap();
        let before = store
            .create(&def.key(Some("n"), "early"), configmap("n", "early", "0"))
            .await
            .unwrap();
        let cache = WatchCache::start(store.clone()).await.unwrap();
        let mut snapshot = 0;
        for name in ["a", "b", "c"] {
            snapshot = store
                .create(&def.key(Some("n"), name), configmap("n", name, "0"))
                .await
                .unwrap()
                .mod_revision;
        }
        let current = store.get(&def.key(Some("n"), "b")).await.unwrap().unwrap();
        let b = store
            .update(
                &def.key(Some("n"), "b"),
                configmap("n", "b", "1"),
                current.mod_revision,
            )
            .await
            .unwrap();
        assert!(b.mod_revision > snapshot);
        store.delete(&def.key(Some("n"), "c"), None).await.unwrap();
        store
            .create(&def.key(Some("n"), "d"), configmap("n", "d", "0"))
            .await
            .unwrap();
        let last = store
            .create(&def.key(Some("other"), "x"), configmap("other", "x", "0"))
            .await
            .unwrap()
            .mod_revision;
        assert!(cache.wait_for(last, Duration::from_secs(5)).await);
        let state = cache.read();

        let then = state.range_at(def, Some("n"), None, snapshot).unwrap();
        let want = |names: &[(&str, &str)]| -> Vec<(String, String)> {
            names
                .iter()
                .map(|(k, v)| (format!("n/{k}"), v.to_string()))
                .collect()
        };
        assert_eq!(
            summary(&then),
            want(&[("a", "0"), ("b", "0"), ("c", "0"), ("early", "0")])
        );
        let after_a = state
            .range_at(def, Some("n"), Some("n/a"), snapshot)
            .unwrap();
        assert_eq!(
            summary(&after_a),
            want(&[("b", "0"), ("c", "0"), ("early", "0")])
        );
        let now = state.range_at(def, Some("n"), None, last).unwrap();
        assert_eq!(
            summary(&now),
            want(&[("a", "0"), ("b", "1"), ("d", "0"), ("early", "0")])
        );
        // All namespaces, as of the snapshot: nothing from "other" yet.
        let all = state.range_at(def, None, None, snapshot).unwrap();
        assert_eq!(all.len(), 4);
        // History starts where the cache did.
        assert!(state
            .range_at(def, Some("n"), None, before.mod_revision - 1)
            .is_none());

        // Later pages of one list share one rebuilt snapshot.
        let first = cache.snapshot_at(&state, def, Some("n"), snapshot).unwrap();
        let again = cache.snapshot_at(&state, def, Some("n"), snapshot).unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        let page: Vec<(String, Entry)> = first
            .after(Some("n/a"))
            .map(|(k, e)| (k.clone(), e.clone()))
            .collect();
        assert_eq!(summary(&page), summary(&after_a));
        let other = cache.snapshot_at(&state, def, None, snapshot).unwrap();
        assert!(!Arc::ptr_eq(&first, &other));
        assert_eq!(other.after(None).count(), 4);
        assert!(cache
            .snapshot_at(&state, def, Some("n"), before.mod_revision - 1)
            .is_none());
    }

    #[tokio::test]
    async fn events_share_encodings_and_deletions_carry_their_revision() {
        let store: Arc<dyn Store> = Arc::new(MemStore::new());
        let def = registry::lookup("", "v1", "configmaps").unwrap();
        let cache = WatchCache::start(store.clone()).await.unwrap();
        let key = def.key(Some("n"), "a");
        let created = store.create(&key, configmap("n", "a", "0")).await.unwrap();
        let updated = store
            .update(&key, configmap("n", "a", "1"), created.mod_revision)
            .await
            .unwrap();
        let deleted = store.delete(&key, None).await.unwrap();
        let last = deleted.mod_revision;
        assert!(cache.wait_for(last, Duration::from_secs(5)).await);
        let state = cache.read();
        let events = state.events_after(def, 0);
        let kinds: Vec<EventType> = events.iter().map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            [EventType::Added, EventType::Modified, EventType::Deleted]
        );
        // The update's previous state is the creation's encoding, not a copy.
        let prev = events[1].prev.as_ref().unwrap();
        assert_eq!(prev.json.as_ptr(), events[0].json.as_ptr());
        assert!(Arc::ptr_eq(&prev.meta, &events[0].meta));
        let deletion_prev = events[2].prev.as_ref().unwrap();
        assert_eq!(deletion_prev.json.as_ptr(), events[1].json.as_ptr());
        let rv = |json: &[u8]| -> String {
            let v: Value = serde_json::from_slice(json).unwrap();
            v["metadata"]["resourceVersion"]
                .as_str()
                .unwrap()
                .to_string()
        };
        assert_eq!(rv(&events[0].json), created.mod_revision.to_string());
        assert_eq!(rv(&events[1].json), updated.mod_revision.to_string());
        // The deleted object is the last state at the deletion's revision.
        assert_eq!(rv(&events[2].json), last.to_string());
        let gone: Value = serde_json::from_slice(&events[2].json).unwrap();
        assert_eq!(gone["data"]["v"], "1");
        assert_eq!(events[2].meta.name(), "a");
        assert_eq!(events[2].key(), "n/a");
        assert!(state.get(def, Some("n"), "a").is_none());
    }

    #[tokio::test]
    async fn entries_decode_on_demand() {
        let store: Arc<dyn Store> = Arc::new(MemStore::new());
        let def = registry::lookup("", "v1", "configmaps").unwrap();
        let mut last = 0;
        for (ns, name) in [("n", "a"), ("n", "b"), ("o", "c")] {
            last = store
                .create(&def.key(Some(ns), name), configmap(ns, name, name))
                .await
                .unwrap()
                .mod_revision;
        }
        // Filled by the initial list this time.
        let cache = WatchCache::start(store.clone()).await.unwrap();
        assert!(cache.wait_for(last, Duration::from_secs(5)).await);
        {
            let state = cache.read();
            let b = state.get(def, Some("n"), "b").unwrap();
            assert_eq!(b["data"]["v"], "b");
            assert!(b["metadata"]["resourceVersion"].is_string());
            let entry = state.get_entry(def, Some("n"), "b").unwrap();
            assert_eq!(entry.value(), *b);
            assert_eq!(
                entry.json,
                bytes::Bytes::from(serde_json::to_vec(&*b).unwrap())
            );
            let names: Vec<(String, String)> = state
                .range(def, Some("n"), None)
                .map(|(k, v)| (k.clone(), v["data"]["v"].as_str().unwrap().to_string()))
                .collect();
            assert_eq!(
                names,
                [("n/a".into(), "a".into()), ("n/b".into(), "b".into())]
            );
            assert_eq!(state.range(def, None, Some("n/b")).count(), 1);
            assert_eq!(state.count(def, None), 3);
            assert_eq!(state.count(def, Some("o")), 1);
            assert!(!state.parsed.is_empty());
        }
        // The next change frees what `range` decoded.
        let next = store
            .create(&def.key(Some("o"), "d"), configmap("o", "d", "d"))
            .await
            .unwrap();
        assert!(
            cache
                .wait_for(next.mod_revision, Duration::from_secs(5))
                .await
        );
        assert!(cache.read().parsed.is_empty());
    }
}
