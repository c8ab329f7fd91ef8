//! The watch cache: every stored object, decoded, in memory.
//!
//! Lists, gets and watches are served from here, never by scanning the
//! store. One feeder task follows the store's watch from the revision the
//! initial list was taken at and applies each change in revision order; a
//! bounded history of recent events lets watchers resume from any retained
//! resourceVersion. Writers wait until the cache has applied their write
//! ([`WatchCache::wait_for`]) before answering, so a client reads its own
//! writes.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use bosun_api::registry::{self, ResourceDef};
use bosun_store::{EventKind, KeyValue, Revision, Store};
use futures::StreamExt;
use parking_lot::RwLock;
use serde_json::Value;
use tokio::sync::{broadcast, watch};

/// Events kept for watchers resuming from an older resourceVersion.
const HISTORY: usize = 100_000;
const LIVE_CAPACITY: usize = 1 << 16;

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

#[derive(Debug)]
pub struct CacheEvent {
    pub revision: Revision,
    pub kind: EventType,
    pub def: &'static ResourceDef,
    pub object: Arc<Value>,
    /// `object` encoded once for every watcher.
    pub json: bytes::Bytes,
    pub prev: Option<Arc<Value>>,
}

/// What a watcher receives from the live channel.
#[derive(Debug, Clone)]
pub enum LiveItem {
    Event(Arc<CacheEvent>),
    /// The cache was rebuilt from a fresh list; watchers must restart.
    Reset,
}

pub struct WatchCache {
    state: RwLock<State>,
    live: broadcast::Sender<LiveItem>,
    revision: watch::Sender<Revision>,
    prefixes: Vec<(String, &'static ResourceDef)>,
}

/// One cached object, decoded and encoded: the JSON is produced once per
/// write and shared by every list and watch that sends it.
#[derive(Clone, Debug)]
pub struct Entry {
    pub value: Arc<Value>,
    pub json: bytes::Bytes,
}

impl Entry {
    fn new(value: Value) -> Self {
        Self::from_arc(Arc::new(value))
    }

    fn from_arc(value: Arc<Value>) -> Self {
        let json = serde_json::to_vec(&*value)
            .map(bytes::Bytes::from)
            .unwrap_or_default();
        Entry { value, json }
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

    pub fn get(
        &self,
        def: &ResourceDef,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<Arc<Value>> {
        self.get_entry(def, namespace, name).map(|e| e.value)
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
    /// in key order.
    pub fn range<'a>(
        &'a self,
        def: &ResourceDef,
        namespace: Option<&'a str>,
        start: Option<&'a str>,
    ) -> impl Iterator<Item = (&'a String, &'a Arc<Value>)> + 'a {
        self.range_entries(def, namespace, start)
            .map(|(k, e)| (k, &e.value))
    }

    /// Like [`State::range`], with each object's encoded JSON.
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
            Some(ns) => self.range(def, Some(ns), None).count(),
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
            let key = object_key(
                event.object["metadata"]["namespace"].as_str(),
                event.object["metadata"]["name"].as_str().unwrap_or(""),
            );
            if !key.starts_with(&prefix) || start.is_some_and(|s| key.as_str() <= s) {
                continue;
            }
            view.insert(key, event.prev.clone().map(Entry::from_arc));
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
                    let key: &'static str = Box::leak(d.key_prefix().into_boxed_str());
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
        let (live, _) = broadcast::channel(LIVE_CAPACITY);
        let (revision, _) = watch::channel(0);
        let prefixes = registry::all()
            .iter()
            .map(|d| (d.key_prefix(), d))
            .collect();
        let cache = Arc::new(WatchCache {
            state: RwLock::new(State::default()),
            live,
            revision,
            prefixes,
        });
        let start = cache.relist(store.as_ref()).await?;
        let feeder = cache.clone();
        tokio::spawn(async move { feeder.follow(store, start).await });
        Ok(cache)
    }

    fn resource_of(&self, key: &str) -> Option<(&'static ResourceDef, String)> {
        self.prefixes
            .iter()
            .find(|(prefix, _)| key.starts_with(prefix.as_str()))
            .map(|(prefix, def)| (*def, key[prefix.len()..].to_string()))
    }

    fn decode(&self, kv: &KeyValue) -> Option<(&'static ResourceDef, String, Entry)> {
        let (def, object_key) = self.resource_of(&kv.key)?;
        let mut value: Value = match serde_json::from_slice(&kv.value) {
            Ok(v) => v,
            Err(err) => {
                tracing::error!(key = %kv.key, %err, "stored object is not valid JSON; skipping it");
                return None;
            }
        };
        if let Some(meta) = value.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.insert(
                "resourceVersion".into(),
                Value::String(kv.mod_revision.to_string()),
            );
        }
        Some((def, object_key, Entry::new(value)))
    }

    async fn relist(&self, store: &dyn Store) -> Result<Revision, bosun_store::StoreError> {
        let (items, revision) = store.list("/registry/").await?;
        let mut objects: HashMap<&'static str, BTreeMap<String, Entry>> = HashMap::new();
        for kv in &items {
            if let Some((def, key, value)) = self.decode(kv) {
                objects
                    .entry(def.plural_key())
                    .or_default()
                    .insert(key, value);
            }
        }
        {
            let mut state = self.state.write();
            state.objects = objects;
            state.history.clear();
            state.revision = revision;
            state.oldest = revision;
            let _ = self.live.send(LiveItem::Reset);
        }
        self.revision.send_replace(revision);
        tracing::info!(objects = items.len(), revision, "watch cache filled");
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
        let Some((def, key, entry)) = self.decode(&event.kv) else {
            let mut state = self.state.write();
            state.revision = revision;
            drop(state);
            self.revision.send_replace(revision);
            return;
        };
        let mut state = self.state.write();
        let table = state.objects.entry(def.plural_key()).or_default();
        let (kind, prev) = match event.kind {
            EventKind::Put => {
                let prev = table.insert(key, entry.clone()).map(|e| e.value);
                let kind = if prev.is_some() {
                    EventType::Modified
                } else {
                    EventType::Added
                };
                (kind, prev)
            }
            EventKind::Delete => (EventType::Deleted, table.remove(&key).map(|e| e.value)),
        };
        let cache_event = Arc::new(CacheEvent {
            revision,
            kind,
            def,
            object: entry.value,
            json: entry.json,
            prev,
        });
        state.history.push_back(cache_event.clone());
        while state.history.len() > HISTORY {
            if let Some(old) = state.history.pop_front() {
                state.oldest = old.revision;
            }
        }
        state.revision = revision;
        let _ = self.live.send(LiveItem::Event(cache_event));
        drop(state);
        self.revision.send_replace(revision);
    }

    pub fn read(&self) -> parking_lot::RwLockReadGuard<'_, State> {
        self.state.read()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<LiveItem> {
        self.live.subscribe()
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
                    e.value["data"]["v"].as_str().unwrap().to_string(),
                )
            })
            .collect()
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
    }
}
