//! Shared informers: one watch per kind for all controllers, an in-memory
//! store with the indexes controllers look things up by (namespace, owning
//! controller's uid), and change notifications to registered handlers.
//!
//! Handlers run on the informer's task and must be cheap: they enqueue
//! keys, never call the API.

use std::any::{Any, TypeId};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use kube::runtime::watcher;
use kube::{Api, Resource, ResourceExt};
use parking_lot::{Mutex, RwLock};
use serde::de::DeserializeOwned;
use tokio::sync::watch;

/// Namespace (empty for cluster-scoped objects) and name.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey {
    pub namespace: String,
    pub name: String,
}

impl ObjectKey {
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        ObjectKey {
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    pub fn of<K: Resource>(obj: &K) -> Self {
        ObjectKey {
            namespace: obj.meta().namespace.clone().unwrap_or_default(),
            name: obj.meta().name.clone().unwrap_or_default(),
        }
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.namespace.is_empty() {
            f.write_str(&self.name)
        } else {
            write!(f, "{}/{}", self.namespace, self.name)
        }
    }
}

impl fmt::Debug for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The uid of the owner reference with `controller: true`, if any.
pub fn controller_uid<K: Resource>(obj: &K) -> Option<&str> {
    obj.meta()
        .owner_references
        .iter()
        .flatten()
        .find(|r| r.controller == Some(true))
        .map(|r| r.uid.as_str())
}

/// Computes an object's value in a secondary index (client-go's
/// IndexFunc), e.g. a pod's `spec.nodeName`.
pub type IndexFn<K> = fn(&K) -> Option<String>;

/// A secondary index: value → keys of the objects with that value.
struct Index<K> {
    name: &'static str,
    func: IndexFn<K>,
    entries: HashMap<String, HashSet<ObjectKey>>,
}

struct StoreState<K> {
    objects: HashMap<ObjectKey, Arc<K>>,
    by_namespace: HashMap<String, HashSet<String>>,
    by_controller: HashMap<String, HashMap<ObjectKey, Arc<K>>>,
    /// namespace → names of objects with no controller.
    uncontrolled: HashMap<String, HashSet<String>>,
    indexes: Vec<Index<K>>,
}

impl<K: Resource> StoreState<K> {
    /// The objects of `namespace` with the given names (an index entry).
    fn named_in(&self, namespace: &str, names: Option<&HashSet<String>>) -> Vec<Arc<K>> {
        names
            .into_iter()
            .flatten()
            .filter_map(|n| {
                self.objects
                    .get(&ObjectKey::new(namespace, n.as_str()))
                    .cloned()
            })
            .collect()
    }

    fn insert(&mut self, obj: Arc<K>) -> Option<Arc<K>> {
        let key = ObjectKey::of(obj.as_ref());
        if let Some(old) = self.objects.get_mut(&key) {
            // Most updates (status, binding) keep the controller and every
            // index value: swap the object in place.
            let same_controller = controller_uid(old.as_ref()) == controller_uid(obj.as_ref());
            if same_controller
                && self
                    .indexes
                    .iter()
                    .all(|index| (index.func)(old.as_ref()) == (index.func)(obj.as_ref()))
            {
                let old = std::mem::replace(old, obj.clone());
                if let Some(uid) = controller_uid(obj.as_ref()) {
                    if let Some(slot) = self
                        .by_controller
                        .get_mut(uid)
                        .and_then(|keys| keys.get_mut(&key))
                    {
                        *slot = obj;
                    }
                }
                return Some(old);
            }
        }
        let old = self.remove(&key);
        self.by_namespace
            .entry(key.namespace.clone())
            .or_default()
            .insert(key.name.clone());
        if let Some(uid) = controller_uid(obj.as_ref()) {
            self.by_controller
                .entry(uid.to_string())
                .or_default()
                .insert(key.clone(), obj.clone());
        } else {
            self.uncontrolled
                .entry(key.namespace.clone())
                .or_default()
                .insert(key.name.clone());
        }
        for index in &mut self.indexes {
            if let Some(value) = (index.func)(obj.as_ref()) {
                index.entries.entry(value).or_default().insert(key.clone());
            }
        }
        self.objects.insert(key, obj);
        old
    }

    fn remove(&mut self, key: &ObjectKey) -> Option<Arc<K>> {
        let old = self.objects.remove(key)?;
        if let Some(names) = self.by_namespace.get_mut(&key.namespace) {
            names.remove(&key.name);
            if names.is_empty() {
                self.by_namespace.remove(&key.namespace);
            }
        }
        if let Some(uid) = controller_uid(old.as_ref()) {
            if let Some(keys) = self.by_controller.get_mut(uid) {
                keys.remove(key);
                if keys.is_empty() {
                    self.by_controller.remove(uid);
                }
            }
        } else if let Some(names) = self.uncontrolled.get_mut(&key.namespace) {
            names.remove(&key.name);
            if names.is_empty() {
                self.uncontrolled.remove(&key.namespace);
            }
        }
        for index in &mut self.indexes {
            if let Some(value) = (index.func)(old.as_ref()) {
                if let Some(keys) = index.entries.get_mut(&value) {
                    keys.remove(key);
                    if keys.is_empty() {
                        index.entries.remove(&value);
                    }
                }
            }
        }
        Some(old)
    }
}

/// The informer's view of one kind. Reads never touch the API.
pub struct Store<K> {
    state: RwLock<StoreState<K>>,
}

impl<K: Resource> Default for Store<K> {
    fn default() -> Self {
        Store {
            state: RwLock::new(StoreState {
                objects: HashMap::new(),
                by_namespace: HashMap::new(),
                by_controller: HashMap::new(),
                uncontrolled: HashMap::new(),
                indexes: Vec::new(),
            }),
        }
    }
}

impl<K: Resource> Store<K> {
    pub fn get(&self, key: &ObjectKey) -> Option<Arc<K>> {
        self.state.read().objects.get(key).cloned()
    }

    /// Every object in `namespace`.
    pub fn list_namespace(&self, namespace: &str) -> Vec<Arc<K>> {
        let s = self.state.read();
        s.named_in(namespace, s.by_namespace.get(namespace))
    }

    pub fn list(&self) -> Vec<Arc<K>> {
        self.state.read().objects.values().cloned().collect()
    }

    /// Objects whose controller owner reference names `uid`.
    pub fn controlled_by(&self, uid: &str) -> Vec<Arc<K>> {
        let s = self.state.read();
        s.by_controller
            .get(uid)
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Objects in `namespace` that no controller owns (adoption
    /// candidates).
    pub fn uncontrolled_in(&self, namespace: &str) -> Vec<Arc<K>> {
        let s = self.state.read();
        s.named_in(namespace, s.uncontrolled.get(namespace))
    }

    /// Adds the secondary index `name` (built from what the store already
    /// holds, then kept up to date); a second registration is a no-op.
    pub fn add_index(&self, name: &'static str, func: IndexFn<K>) {
        let mut s = self.state.write();
        if s.indexes.iter().any(|i| i.name == name) {
            return;
        }
        let mut entries: HashMap<String, HashSet<ObjectKey>> = HashMap::new();
        for (key, obj) in &s.objects {
            if let Some(value) = func(obj.as_ref()) {
                entries.entry(value).or_default().insert(key.clone());
            }
        }
        s.indexes.push(Index {
            name,
            func,
            entries,
        });
    }

    /// Objects whose value in index `name` is `value` (none if the index
    /// does not exist).
    pub fn by_index(&self, name: &str, value: &str) -> Vec<Arc<K>> {
        let s = self.state.read();
        let Some(index) = s.indexes.iter().find(|i| i.name == name) else {
            return Vec::new();
        };
        index
            .entries
            .get(value)
            .into_iter()
            .flatten()
            .filter_map(|k| s.objects.get(k).cloned())
            .collect()
    }

    /// The values index `name` holds objects for.
    pub fn index_values(&self, name: &str) -> Vec<String> {
        let s = self.state.read();
        s.indexes
            .iter()
            .find(|i| i.name == name)
            .map(|i| i.entries.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// How many objects `uid` controls.
    pub fn count_controlled_by(&self, uid: &str) -> usize {
        self.state
            .read()
            .by_controller
            .get(uid)
            .map_or(0, HashMap::len)
    }

    pub fn len(&self) -> usize {
        self.state.read().objects.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Test and bootstrap helper: puts `obj` into the store without
    /// notifying anyone.
    pub fn insert(&self, obj: K) {
        self.state.write().insert(Arc::new(obj));
    }

    pub fn delete(&self, key: &ObjectKey) {
        self.state.write().remove(key);
    }
}

/// What changed, as handlers see it.
pub enum Change<'a, K> {
    Added(&'a Arc<K>),
    Updated { old: &'a Arc<K>, new: &'a Arc<K> },
    Deleted(&'a Arc<K>),
}

type Handler<K> = Box<dyn Fn(&Change<'_, K>) + Send + Sync>;

/// One kind's shared informer.
pub struct Informer<K> {
    store: Arc<Store<K>>,
    handlers: RwLock<Vec<Handler<K>>>,
    synced: watch::Sender<bool>,
}

impl<K> Informer<K>
where
    K: Resource<DynamicType = ()> + Clone + fmt::Debug + DeserializeOwned + Send + Sync + 'static,
{
    fn new() -> Self {
        Informer {
            store: Arc::new(Store::default()),
            handlers: RwLock::new(Vec::new()),
            synced: watch::channel(false).0,
        }
    }

    pub fn store(&self) -> Arc<Store<K>> {
        self.store.clone()
    }

    /// Registers a handler; register before the informer starts so the
    /// initial listing reaches it as additions.
    pub fn on_change(&self, handler: impl Fn(&Change<'_, K>) + Send + Sync + 'static) {
        self.handlers.write().push(Box::new(handler));
    }

    /// Resolves once the first full listing is in the store.
    pub async fn wait_synced(&self) {
        let mut rx = self.synced.subscribe();
        let _ = rx.wait_for(|s| *s).await;
    }

    pub fn has_synced(&self) -> bool {
        *self.synced.borrow()
    }

    fn notify(&self, change: Change<'_, K>) {
        for h in self.handlers.read().iter() {
            h(&change);
        }
    }

    pub(crate) fn apply(&self, obj: K) {
        let new = Arc::new(obj);
        let old = self.store.state.write().insert(new.clone());
        match old {
            Some(old) => {
                if old.resource_version() != new.resource_version() {
                    self.notify(Change::Updated {
                        old: &old,
                        new: &new,
                    });
                }
            }
            None => self.notify(Change::Added(&new)),
        }
    }

    fn delete(&self, obj: K) {
        let key = ObjectKey::of(&obj);
        let removed = self.store.state.write().remove(&key);
        let gone = removed.unwrap_or_else(|| Arc::new(obj));
        self.notify(Change::Deleted(&gone));
    }

    /// Replaces the store with a fresh listing: objects missing from it
    /// are reported deleted, the rest added or updated.
    pub(crate) fn replace(&self, listed: Vec<K>) {
        let listed_keys: HashSet<ObjectKey> = listed.iter().map(ObjectKey::of).collect();
        let missing: Vec<Arc<K>> = self
            .store
            .state
            .read()
            .objects
            .iter()
            .filter(|(k, _)| !listed_keys.contains(k))
            .map(|(_, v)| v.clone())
            .collect();
        for obj in listed {
            self.apply(obj);
        }
        for obj in missing {
            self.store
                .state
                .write()
                .remove(&ObjectKey::of(obj.as_ref()));
            self.notify(Change::Deleted(&obj));
        }
    }

    /// Watches `api` until the task is dropped, relisting after errors.
    pub async fn run(self: Arc<Self>, api: Api<K>) {
        let config = watcher::Config::default().page_size(5000);
        let mut stream = watcher::watcher(api, config).boxed();
        let mut listing: Option<Vec<K>> = None;
        while let Some(event) = stream.next().await {
            match event {
                Ok(watcher::Event::Init) => listing = Some(Vec::new()),
                Ok(watcher::Event::InitApply(obj)) => match listing.as_mut() {
                    Some(l) => l.push(obj),
                    None => self.apply(obj),
                },
                Ok(watcher::Event::InitDone) => {
                    self.replace(listing.take().unwrap_or_default());
                    self.synced.send_replace(true);
                }
                Ok(watcher::Event::Apply(obj)) => self.apply(obj),
                Ok(watcher::Event::Delete(obj)) => self.delete(obj),
                Err(err) => {
                    tracing::warn!(kind = %K::kind(&()), %err, "watch failed; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }
}

type Starter = Box<dyn FnOnce(kube::Client) -> tokio::task::JoinHandle<()> + Send>;

/// Hands out one informer per kind; [`start`](Self::start) runs every
/// informer handed out so far.
#[derive(Default)]
pub struct InformerFactory {
    informers: Mutex<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>,
    starters: Mutex<Vec<Starter>>,
    synced: Mutex<Vec<Box<dyn Fn() -> bool + Send + Sync>>>,
}

impl InformerFactory {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn informer<K>(&self) -> Arc<Informer<K>>
    where
        K: Resource<DynamicType = ()>
            + Clone
            + fmt::Debug
            + DeserializeOwned
            + Send
            + Sync
            + 'static,
    {
        let mut informers = self.informers.lock();
        if let Some(existing) = informers.get(&TypeId::of::<K>()) {
            if let Ok(inf) = existing.clone().downcast::<Informer<K>>() {
                return inf;
            }
        }
        let inf = Arc::new(Informer::<K>::new());
        informers.insert(TypeId::of::<K>(), inf.clone());
        let run = inf.clone();
        self.starters.lock().push(Box::new(move |client| {
            tokio::spawn(run.run(Api::all(client)))
        }));
        let check = inf.clone();
        self.synced
            .lock()
            .push(Box::new(move || check.has_synced()));
        inf
    }

    /// Starts the informers handed out since the last call.
    pub fn start(&self, client: &kube::Client) -> Vec<tokio::task::JoinHandle<()>> {
        let starters = std::mem::take(&mut *self.starters.lock());
        starters.into_iter().map(|s| s(client.clone())).collect()
    }

    /// Resolves once every informer has listed once.
    pub async fn wait_synced(&self) {
        loop {
            if self.synced.lock().iter().all(|f| f()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Pod;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

    fn pod(ns: &str, name: &str, rv: &str, owner: Option<&str>) -> Pod {
        let mut p = Pod::default();
        p.metadata.namespace = Some(ns.into());
        p.metadata.name = Some(name.into());
        p.metadata.resource_version = Some(rv.into());
        if let Some(uid) = owner {
            p.metadata.owner_references = Some(vec![OwnerReference {
                uid: uid.into(),
                controller: Some(true),
                ..Default::default()
            }]);
        }
        p
    }

    #[test]
    fn secondary_index_follows_changes() {
        let store = Store::<Pod>::default();
        let on = |name: &str, node: &str| {
            let mut p = pod("a", name, "1", None);
            p.spec = Some(k8s_openapi::api::core::v1::PodSpec {
                node_name: Some(node.into()),
                ..Default::default()
            });
            p
        };
        store.insert(on("early", "n1"));
        // Built from what is there, then maintained.
        crate::pod_util::index_by_node(&store);
        store.insert(on("p1", "n1"));
        store.insert(on("p2", "n2"));
        let names = |node: &str| {
            let mut v: Vec<String> = store
                .by_index(crate::pod_util::NODE_INDEX, node)
                .iter()
                .map(|p| p.name_any())
                .collect();
            v.sort();
            v
        };
        assert_eq!(names("n1"), ["early", "p1"]);
        store.insert(on("p1", "n2"));
        assert_eq!(names("n1"), ["early"]);
        assert_eq!(names("n2"), ["p1", "p2"]);
        store.delete(&ObjectKey::new("a", "early"));
        let mut values = store.index_values(crate::pod_util::NODE_INDEX);
        values.sort();
        assert_eq!(values, ["n2"]);
        assert!(store.by_index("no-such-index", "n2").is_empty());
    }

    #[test]
    fn indexes_follow_updates_and_deletes() {
        let inf = Informer::<Pod>::new();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        inf.on_change(move |c| {
            s.lock().push(match c {
                Change::Added(p) => format!("add {}", p.name_any()),
                Change::Updated { new, .. } => format!("update {}", new.name_any()),
                Change::Deleted(p) => format!("delete {}", p.name_any()),
            })
        });
        inf.apply(pod("a", "p1", "1", Some("rs1")));
        inf.apply(pod("a", "p2", "2", None));
        inf.apply(pod("b", "p3", "3", Some("rs1")));
        assert_eq!(inf.store.controlled_by("rs1").len(), 2);
        assert_eq!(inf.store.list_namespace("a").len(), 2);
        assert_eq!(inf.store.uncontrolled_in("a").len(), 1);
        // Same resourceVersion: no update notification.
        inf.apply(pod("a", "p2", "2", None));
        // The controller changes: the index moves.
        inf.apply(pod("a", "p1", "4", Some("rs2")));
        assert_eq!(inf.store.controlled_by("rs1").len(), 1);
        assert_eq!(inf.store.controlled_by("rs2").len(), 1);
        // An update keeping controller and indexes replaces the object
        // everywhere it is read from.
        inf.apply(pod("a", "p1", "6", Some("rs2")));
        let rv = |p: &Arc<Pod>| p.metadata.resource_version.clone().unwrap_or_default();
        assert_eq!(rv(&inf.store.controlled_by("rs2")[0]), "6");
        assert_eq!(
            inf.store
                .get(&ObjectKey::new("a", "p1"))
                .as_ref()
                .map(rv)
                .as_deref(),
            Some("6")
        );
        assert_eq!(inf.store.list_namespace("a").len(), 2);
        // A relist without p3 reports it deleted.
        inf.replace(vec![
            pod("a", "p1", "6", Some("rs2")),
            pod("a", "p2", "5", None),
        ]);
        assert!(inf.store.controlled_by("rs1").is_empty());
        assert!(inf.store.list_namespace("b").is_empty());
        assert_eq!(
            *seen.lock(),
            vec![
                "add p1",
                "add p2",
                "add p3",
                "update p1",
                "update p1",
                "update p2",
                "delete p3"
            ]
        );
    }
}
