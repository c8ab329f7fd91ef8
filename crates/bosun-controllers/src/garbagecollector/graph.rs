//! The garbage collector's dependency graph: one node per uid with its
//! identity, owner references and dependents. It never holds whole
//! objects, and every change costs only the owners (and, on deletion, the
//! dependents) of the changed object.
//!
//! A node is *virtual* when only an owner reference names it: the object
//! has not been observed (yet). The collector checks virtual nodes against
//! the API and removes the ones that do not exist, which releases their
//! dependents for collection.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

pub const FOREGROUND: &str = "foregroundDeletion";
pub const ORPHAN: &str = "orphan";

/// One owner reference, as much of it as the collector needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnerRef {
    pub uid: String,
    pub api_version: String,
    pub kind: String,
    pub name: String,
    pub block_owner_deletion: bool,
}

/// What a watch event says about one object.
#[derive(Clone, Debug)]
pub struct Observed {
    pub uid: String,
    pub api_version: Arc<str>,
    pub kind: Arc<str>,
    pub namespace: Option<String>,
    pub name: String,
    pub owners: Vec<OwnerRef>,
    pub being_deleted: bool,
    pub orphan_finalizer: bool,
    pub foreground_finalizer: bool,
}

#[derive(Clone, Debug)]
pub struct Node {
    pub api_version: Arc<str>,
    pub kind: Arc<str>,
    /// For a virtual node: the namespace of the dependent that named it
    /// (used when the owner's kind turns out to be namespaced).
    pub namespace: Option<String>,
    pub name: String,
    pub owners: Vec<OwnerRef>,
    pub dependents: HashSet<String>,
    pub observed: bool,
    pub being_deleted: bool,
    /// Being deleted with the `foregroundDeletion` finalizer.
    pub deleting_dependents: bool,
}

/// Work the graph asks for after a change: uids for the attempt-to-delete
/// and attempt-to-orphan queues.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Work {
    pub attempt_to_delete: Vec<String>,
    pub attempt_to_orphan: Vec<String>,
}

impl Work {
    pub fn is_empty(&self) -> bool {
        self.attempt_to_delete.is_empty() && self.attempt_to_orphan.is_empty()
    }
}

/// How many confirmed-absent owner uids are remembered.
const ABSENT_CAPACITY: usize = 10_000;

#[derive(Default)]
pub struct Graph {
    nodes: HashMap<String, Node>,
    /// Owner uids confirmed not to exist (upstream's absentOwnerCache).
    absent: HashSet<String>,
}

impl Graph {
    pub fn get(&self, uid: &str) -> Option<&Node> {
        self.nodes.get(uid)
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    pub fn is_absent(&self, uid: &str) -> bool {
        self.absent.contains(uid)
    }

    pub fn mark_absent(&mut self, uid: &str) {
        if self.absent.len() >= ABSENT_CAPACITY {
            self.absent.clear();
        }
        self.absent.insert(uid.to_string());
    }

    /// The uids of observed nodes of one kind (to reconcile a relist).
    pub fn observed_of(&self, api_version: &str, kind: &str) -> Vec<String> {
        self.nodes
            .iter()
            .filter(|(_, n)| n.observed && &*n.api_version == api_version && &*n.kind == kind)
            .map(|(u, _)| u.clone())
            .collect()
    }

    /// An object was added or changed. An unchanged identity and owner
    /// list (most updates: status, labels) costs one lookup.
    pub fn observe(&mut self, obj: Observed, work: &mut Work) {
        if !self.absent.is_empty() {
            self.absent.remove(&obj.uid);
        }
        let deleting_dependents = obj.being_deleted && obj.foreground_finalizer;
        let Observed {
            uid,
            api_version,
            kind,
            namespace,
            name,
            owners,
            being_deleted,
            orphan_finalizer,
            ..
        } = obj;
        let (old_owners, was_deleting_dependents, is_new) = match self.nodes.get_mut(&uid) {
            Some(n) => {
                let was = n.observed && n.deleting_dependents;
                let is_new = !n.observed;
                if is_new {
                    n.api_version = api_version;
                    n.kind = kind;
                    n.namespace = namespace;
                    n.name = name;
                    n.observed = true;
                }
                n.being_deleted = being_deleted;
                n.deleting_dependents = deleting_dependents;
                if n.owners == owners {
                    (None, was, is_new)
                } else {
                    (Some(std::mem::replace(&mut n.owners, owners)), was, is_new)
                }
            }
            None => {
                let node = Node {
                    api_version,
                    kind,
                    namespace,
                    name,
                    owners,
                    dependents: HashSet::new(),
                    observed: true,
                    being_deleted,
                    deleting_dependents,
                };
                // Every owner is new to this dependent.
                self.nodes.insert(uid.clone(), node);
                (Some(Vec::new()), false, true)
            }
        };
        if let Some(old_owners) = old_owners {
            self.relink(&uid, &old_owners, work);
        }
        if being_deleted && orphan_finalizer {
            work.attempt_to_orphan.push(uid.clone());
        }
        if deleting_dependents && !was_deleting_dependents {
            // Foreground deletion starts: every dependent goes, the owner
            // waits for the blocking ones.
            if let Some(n) = self.nodes.get(&uid) {
                work.attempt_to_delete.extend(n.dependents.iter().cloned());
            }
            work.attempt_to_delete.push(uid);
        } else if is_new && self.has_owner_deleting_dependents(&uid) {
            // Created under an owner that is already deleting its dependents.
            work.attempt_to_delete.push(uid);
        }
    }

    fn has_owner_deleting_dependents(&self, uid: &str) -> bool {
        self.nodes.get(uid).is_some_and(|n| {
            n.owners.iter().any(|o| {
                self.nodes
                    .get(&o.uid)
                    .is_some_and(|on| on.deleting_dependents)
            })
        })
    }

    /// Moves `uid`'s edges from `old` owners to its current ones.
    fn relink(&mut self, uid: &str, old: &[OwnerRef], work: &mut Work) {
        let (namespace, new) = match self.nodes.get(uid) {
            Some(n) => (n.namespace.clone(), n.owners.clone()),
            None => return,
        };
        // Owners no longer named let go of this dependent.
        for o in old {
            if !new.iter().any(|n| n.uid == o.uid) {
                self.unlink(&o.uid, uid, work);
            }
        }
        for n in &new {
            match old.iter().find(|o| o.uid == n.uid) {
                None => self.link(n, namespace.as_deref(), uid, work),
                // An unblocked reference may be what a foreground owner
                // waits for.
                Some(o) if o.block_owner_deletion != n.block_owner_deletion => {
                    if self
                        .nodes
                        .get(&n.uid)
                        .is_some_and(|on| on.deleting_dependents)
                    {
                        work.attempt_to_delete.push(n.uid.clone());
                    }
                }
                Some(_) => {}
            }
        }
    }

    /// An object was deleted.
    pub fn remove(&mut self, uid: &str, work: &mut Work) {
        let Some(node) = self.nodes.remove(uid) else {
            return;
        };
        for owner in &node.owners {
            self.unlink(&owner.uid, uid, work);
        }
        if !node.dependents.is_empty() {
            self.mark_absent(uid);
            work.attempt_to_delete.extend(node.dependents);
        }
    }

    /// A virtual node whose object was confirmed absent goes; its
    /// dependents are checked. An observed node is left alone.
    pub fn remove_virtual(&mut self, uid: &str, work: &mut Work) {
        self.mark_absent(uid);
        if self.nodes.get(uid).is_some_and(|n| !n.observed) {
            self.remove(uid, work);
        }
    }

    /// Whether a dependent's reference to `uid` blocks its deletion.
    /// Stops at the first one found: a foreground owner with many
    /// dependents is checked once per dependent that goes.
    pub fn has_blocking_dependent(&self, uid: &str) -> bool {
        self.nodes.get(uid).is_some_and(|node| {
            node.dependents.iter().any(|d| {
                self.nodes.get(d).is_some_and(|dep| {
                    dep.owners
                        .iter()
                        .any(|o| o.uid == uid && o.block_owner_deletion)
                })
            })
        })
    }

    fn link(
        &mut self,
        owner: &OwnerRef,
        namespace: Option<&str>,
        dependent: &str,
        work: &mut Work,
    ) {
        let node = self.nodes.entry(owner.uid.clone()).or_insert_with(|| {
            // First heard of through this reference: check it exists.
            work.attempt_to_delete.push(owner.uid.clone());
            Node {
                api_version: Arc::from(owner.api_version.as_str()),
                kind: Arc::from(owner.kind.as_str()),
                namespace: namespace.map(str::to_string),
                name: owner.name.clone(),
                owners: Vec::new(),
                dependents: HashSet::new(),
                observed: false,
                being_deleted: false,
                deleting_dependents: false,
            }
        });
        node.dependents.insert(dependent.to_string());
    }

    fn unlink(&mut self, owner: &str, dependent: &str, work: &mut Work) {
        let Some(node) = self.nodes.get_mut(owner) else {
            return;
        };
        node.dependents.remove(dependent);
        if node.deleting_dependents {
            work.attempt_to_delete.push(owner.to_string());
        }
        if !node.observed && node.dependents.is_empty() {
            self.nodes.remove(owner);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(uid: &str, block: bool) -> OwnerRef {
        OwnerRef {
            uid: uid.into(),
            api_version: "apps/v1".into(),
            kind: "ReplicaSet".into(),
            name: format!("name-{uid}"),
            block_owner_deletion: block,
        }
    }

    fn obj(uid: &str, owners: Vec<OwnerRef>) -> Observed {
        Observed {
            uid: uid.into(),
            api_version: Arc::from("v1"),
            kind: Arc::from("Pod"),
            namespace: Some("ns".into()),
            name: format!("name-{uid}"),
            owners,
            being_deleted: false,
            orphan_finalizer: false,
            foreground_finalizer: false,
        }
    }

    fn observe(g: &mut Graph, o: Observed) -> Work {
        let mut w = Work::default();
        g.observe(o, &mut w);
        w
    }

    fn sorted(mut v: Vec<String>) -> Vec<String> {
        v.sort();
        v.dedup();
        v
    }

    #[test]
    fn owner_seen_first_needs_no_work_and_links_dependents() {
        let mut g = Graph::default();
        assert!(observe(&mut g, obj("rs", vec![])).is_empty());
        assert!(observe(&mut g, obj("p1", vec![owner("rs", true)])).is_empty());
        assert!(observe(&mut g, obj("p2", vec![owner("rs", false)])).is_empty());
        let rs = g.get("rs").expect("rs");
        assert_eq!(rs.dependents.len(), 2);
        assert!(g.has_blocking_dependent("rs"));
        let mut w = Work::default();
        g.remove("p1", &mut w);
        assert!(!g.has_blocking_dependent("rs"), "p2 does not block");
        // A status-only update changes nothing.
        assert!(observe(&mut g, obj("p1", vec![owner("rs", true)])).is_empty());
    }

    #[test]
    fn dependent_seen_first_makes_a_virtual_owner_to_verify() {
        let mut g = Graph::default();
        let w = observe(&mut g, obj("p1", vec![owner("gone", true)]));
        assert_eq!(w.attempt_to_delete, vec!["gone".to_string()]);
        assert!(!g.get("gone").expect("virtual").observed);
        // Confirmed absent: the virtual node goes and its dependent is checked.
        let mut w = Work::default();
        g.remove_virtual("gone", &mut w);
        assert_eq!(w.attempt_to_delete, vec!["p1".to_string()]);
        assert!(g.get("gone").is_none() && g.is_absent("gone"));
        // Observing the real owner later makes it a plain node.
        let mut g = Graph::default();
        observe(&mut g, obj("p1", vec![owner("rs", true)]));
        assert!(observe(&mut g, obj("rs", vec![])).is_empty());
        let rs = g.get("rs").expect("rs");
        assert!(rs.observed && rs.dependents.contains("p1"));
        let mut w = Work::default();
        g.remove_virtual("rs", &mut w);
        assert!(g.get("rs").is_some(), "observed nodes stay");
    }

    #[test]
    fn deleting_an_owner_queues_its_dependents() {
        let mut g = Graph::default();
        observe(&mut g, obj("rs", vec![]));
        observe(&mut g, obj("p1", vec![owner("rs", true)]));
        observe(&mut g, obj("p2", vec![owner("rs", true)]));
        let mut w = Work::default();
        g.remove("rs", &mut w);
        assert_eq!(sorted(w.attempt_to_delete), vec!["p1", "p2"]);
        assert!(g.is_absent("rs"));
        // A leaf's deletion only unlinks it.
        let mut w = Work::default();
        g.remove("p1", &mut w);
        assert!(w.is_empty());
    }

    #[test]
    fn foreground_deletion_queues_dependents_then_the_owner_on_each_loss() {
        let mut g = Graph::default();
        observe(&mut g, obj("rs", vec![]));
        observe(&mut g, obj("p1", vec![owner("rs", true)]));
        observe(&mut g, obj("p2", vec![owner("rs", false)]));
        let mut rs = obj("rs", vec![]);
        rs.being_deleted = true;
        rs.foreground_finalizer = true;
        let w = observe(&mut g, rs.clone());
        assert_eq!(sorted(w.attempt_to_delete), vec!["p1", "p2", "rs"]);
        // Seen again in the same state: no repeat fan-out.
        assert!(observe(&mut g, rs).is_empty());
        // A dependent going away wakes the waiting owner.
        let mut w = Work::default();
        g.remove("p1", &mut w);
        assert_eq!(w.attempt_to_delete, vec!["rs".to_string()]);
        assert!(!g.has_blocking_dependent("rs"));
        // So does unblocking a reference.
        observe(&mut g, obj("p3", vec![owner("rs", true)]));
        let w = observe(&mut g, obj("p3", vec![owner("rs", false)]));
        assert_eq!(w.attempt_to_delete, vec!["rs".to_string()]);
    }

    #[test]
    fn dependent_created_under_a_foreground_owner_is_queued() {
        let mut g = Graph::default();
        let mut rs = obj("rs", vec![]);
        rs.being_deleted = true;
        rs.foreground_finalizer = true;
        observe(&mut g, rs);
        let w = observe(&mut g, obj("late", vec![owner("rs", true)]));
        assert_eq!(w.attempt_to_delete, vec!["late".to_string()]);
    }

    #[test]
    fn orphan_finalizer_queues_the_owner_for_orphaning() {
        let mut g = Graph::default();
        let mut rs = obj("rs", vec![]);
        assert!(observe(&mut g, rs.clone()).is_empty());
        rs.orphan_finalizer = true;
        assert!(
            observe(&mut g, rs.clone()).is_empty(),
            "not being deleted yet"
        );
        rs.being_deleted = true;
        let w = observe(&mut g, rs);
        assert_eq!(w.attempt_to_orphan, vec!["rs".to_string()]);
    }

    #[test]
    fn owner_changes_move_edges() {
        let mut g = Graph::default();
        observe(&mut g, obj("a", vec![]));
        observe(&mut g, obj("b", vec![]));
        observe(&mut g, obj("p", vec![owner("a", true)]));
        observe(&mut g, obj("p", vec![owner("b", true)]));
        assert!(g.get("a").expect("a").dependents.is_empty());
        assert!(g.get("b").expect("b").dependents.contains("p"));
        // Dropping the last reference to a virtual owner removes it.
        observe(&mut g, obj("q", vec![owner("v", true)]));
        assert!(g.get("v").is_some());
        observe(&mut g, obj("q", vec![]));
        assert!(g.get("v").is_none());
        assert_eq!(g.observed_of("v1", "Pod").len(), 4);
    }

    #[test]
    fn cycles_terminate() {
        // a owns b, b owns a: both deleted in the foreground; each
        // removal wakes the other once and nothing loops.
        let mut g = Graph::default();
        observe(&mut g, obj("a", vec![owner("b", true)]));
        observe(&mut g, obj("b", vec![owner("a", true)]));
        assert!(g.get("a").expect("a").observed && g.get("b").expect("b").observed);
        assert!(g.has_blocking_dependent("a"));
        let mut a = obj("a", vec![owner("b", true)]);
        a.being_deleted = true;
        a.foreground_finalizer = true;
        let w = observe(&mut g, a);
        assert_eq!(sorted(w.attempt_to_delete), vec!["a", "b"]);
        let mut w = Work::default();
        g.remove("b", &mut w);
        assert_eq!(sorted(w.attempt_to_delete), vec!["a"]);
        let mut w = Work::default();
        g.remove("a", &mut w);
        assert!(w.is_empty() && g.is_empty());
    }
}
