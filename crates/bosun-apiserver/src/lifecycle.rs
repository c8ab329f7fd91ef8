//! Deletion lifecycles the API server needs to finish what it starts:
//! garbage collection of dependents (background, foreground and orphan
//! propagation through ownerReferences) and namespace finalization.
//!
//! Interim home: upstream runs these in kube-controller-manager, and they
//! move to the controllers crate with the rest of the controllers. They are
//! event-driven from the watch cache with uid and owner indexes, so no
//! periodic scan of all objects happens.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use bosun_api::registry::{self, ResourceDef};
use tokio::sync::broadcast;

use crate::cache::{EventType, LiveItem, SlimMeta};
use crate::handler::Handler;
use crate::objects;
use crate::rest::{DeleteOptions, FieldValidation, WriteOptions};

type ObjRef = (&'static ResourceDef, Option<String>, String);

#[derive(Default)]
struct Indexes {
    /// uid → object.
    by_uid: HashMap<String, ObjRef>,
    /// owner uid → dependents' uids.
    dependents: HashMap<String, HashSet<String>>,
    /// dependent uid → owner uids.
    owners: HashMap<String, Vec<String>>,
}

fn uid(meta: &SlimMeta) -> Option<String> {
    meta.uid().map(str::to_string)
}

fn owner_uids(meta: &SlimMeta) -> Vec<String> {
    meta.owner_uids().map(str::to_string).collect()
}

impl Indexes {
    fn add(&mut self, def: &'static ResourceDef, meta: &SlimMeta) {
        let Some(u) = uid(meta) else { return };
        self.remove_uid(&u);
        self.by_uid.insert(
            u.clone(),
            (
                def,
                meta.namespace().map(str::to_string),
                meta.name().to_string(),
            ),
        );
        let owners = owner_uids(meta);
        for o in &owners {
            self.dependents
                .entry(o.clone())
                .or_default()
                .insert(u.clone());
        }
        if !owners.is_empty() {
            self.owners.insert(u, owners);
        }
    }

    fn remove_uid(&mut self, u: &str) {
        self.by_uid.remove(u);
        if let Some(owners) = self.owners.remove(u) {
            for o in owners {
                if let Some(set) = self.dependents.get_mut(&o) {
                    set.remove(u);
                    if set.is_empty() {
                        self.dependents.remove(&o);
                    }
                }
            }
        }
    }
}

#[derive(Default)]
struct Pending {
    /// Owners whose finalizers (foreground/orphan) need processing.
    owners: HashSet<String>,
    /// Dependents to check for vanished owners.
    orphans: HashSet<String>,
    /// Terminating namespaces.
    namespaces: HashSet<String>,
}

pub fn spawn(handler: Arc<Handler>) {
    tokio::spawn(async move {
        loop {
            run(&handler).await;
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    });
}

/// Runs until the cache resets or this task falls behind; the caller
/// restarts it, which rebuilds the indexes.
async fn run(handler: &Handler) {
    let cache = &handler.rest.cache;
    let mut indexes = Indexes::default();
    let mut pending = Pending::default();
    let mut rx = {
        let state = cache.read();
        let rx = cache.subscribe();
        for def in registry::all().iter().filter(|d| d.stored_as.is_none()) {
            for (_, entry) in state.range_entries(def, None, None) {
                indexes.add(def, &entry.meta);
                note(def, &entry.meta, &mut pending);
            }
        }
        rx
    };
    // Dependents whose owner is already gone.
    let missing: Vec<String> = indexes
        .owners
        .iter()
        .filter(|(_, owners)| owners.iter().any(|o| !indexes.by_uid.contains_key(o)))
        .map(|(d, _)| d.clone())
        .collect();
    pending.orphans.extend(missing);
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    loop {
        work(handler, &indexes, &mut pending).await;
        tokio::select! {
            item = rx.recv() => match item {
                Ok(LiveItem::Event(event)) => {
                    apply(&mut indexes, &mut pending, event.def, event.kind, &event.meta);
                    // Take whatever else is queued before working.
                    loop {
                        match rx.try_recv() {
                            Ok(LiveItem::Event(e)) => apply(&mut indexes, &mut pending, e.def, e.kind, &e.meta),
                            Ok(LiveItem::Reset) => return,
                            Err(broadcast::error::TryRecvError::Empty) => break,
                            Err(_) => return,
                        }
                    }
                }
                Ok(LiveItem::Reset) | Err(_) => return,
            },
            _ = tick.tick() => {}
        }
    }
}

fn note(def: &'static ResourceDef, meta: &SlimMeta, pending: &mut Pending) {
    if !meta.is_terminating() {
        return;
    }
    if def.kind == "Namespace" && def.group.is_empty() {
        pending.namespaces.insert(meta.name().to_string());
    }
    if meta.has_finalizer("foregroundDeletion") || meta.has_finalizer("orphan") {
        if let Some(u) = uid(meta) {
            pending.owners.insert(u);
        }
    }
}

fn apply(
    indexes: &mut Indexes,
    pending: &mut Pending,
    def: &'static ResourceDef,
    kind: EventType,
    meta: &SlimMeta,
) {
    match kind {
        EventType::Added | EventType::Modified => {
            indexes.add(def, meta);
            note(def, meta, pending);
            // A dependent created pointing at a missing owner.
            if let Some(u) = uid(meta) {
                if meta.owner_uids().any(|o| !indexes.by_uid.contains_key(o)) {
                    pending.orphans.insert(u);
                }
            }
        }
        EventType::Deleted => {
            let Some(u) = uid(meta) else { return };
            let owners = indexes.owners.get(&u).cloned().unwrap_or_default();
            indexes.remove_uid(&u);
            // Its dependents lost an owner.
            if let Some(deps) = indexes.dependents.get(&u) {
                pending.orphans.extend(deps.iter().cloned());
            }
            // Its owners may be waiting for it (foreground deletion).
            pending.owners.extend(owners);
            if let Some(ns) = meta.namespace() {
                pending.namespaces.insert(ns.to_string());
            }
        }
    }
}

fn system_opts() -> WriteOptions {
    WriteOptions {
        dry_run: false,
        field_manager: "generic-garbage-collector".into(),
        validation: FieldValidation::Ignore,
        managed_fields_done: false,
    }
}

async fn work(handler: &Handler, indexes: &Indexes, pending: &mut Pending) {
    let rest = &handler.rest;
    for dep in std::mem::take(&mut pending.orphans) {
        let Some((def, ns, name)) = indexes.by_uid.get(&dep).cloned() else {
            continue;
        };
        let owners = indexes.owners.get(&dep).cloned().unwrap_or_default();
        let live: Vec<&String> = owners
            .iter()
            .filter(|o| indexes.by_uid.contains_key(*o))
            .collect();
        if live.is_empty() && !owners.is_empty() {
            let opts = DeleteOptions {
                propagation: Some("Background".into()),
                ..Default::default()
            };
            if let Err(e) = rest.delete(def, ns.as_deref(), &name, &opts).await {
                if e.code != 404 {
                    tracing::warn!(%e, name, "garbage collection failed");
                }
            }
        } else if live.len() < owners.len() {
            // Drop references to owners that are gone.
            let keep: HashSet<String> = live.into_iter().cloned().collect();
            let _ = rest
                .update(def, ns.as_deref(), &name, None, &system_opts(), |current| {
                    let mut next = current.clone();
                    if let Some(refs) = next["metadata"]["ownerReferences"].as_array_mut() {
                        refs.retain(|r| r["uid"].as_str().is_some_and(|u| keep.contains(u)));
                    }
                    objects::meta_mut(&mut next).remove("resourceVersion");
                    Ok((next, Vec::new()))
                })
                .await;
        }
    }
    for owner in std::mem::take(&mut pending.owners) {
        let Some((def, ns, name)) = indexes.by_uid.get(&owner).cloned() else {
            continue;
        };
        let Some(entry) = rest.cache.read().get_entry(def, ns.as_deref(), &name) else {
            continue;
        };
        let meta = entry.meta;
        if !meta.is_terminating() {
            continue;
        }
        let deps: Vec<ObjRef> = indexes
            .dependents
            .get(&owner)
            .map(|d| {
                d.iter()
                    .filter_map(|u| indexes.by_uid.get(u).cloned())
                    .collect()
            })
            .unwrap_or_default();
        if meta.has_finalizer("orphan") {
            for (ddef, dns, dname) in &deps {
                let owner = owner.clone();
                let _ = rest
                    .update(
                        ddef,
                        dns.as_deref(),
                        dname,
                        None,
                        &system_opts(),
                        move |current| {
                            let mut next = current.clone();
                            if let Some(refs) = next["metadata"]["ownerReferences"].as_array_mut() {
                                refs.retain(|r| r["uid"].as_str() != Some(owner.as_str()));
                            }
                            objects::meta_mut(&mut next).remove("resourceVersion");
                            Ok((next, Vec::new()))
                        },
                    )
                    .await;
            }
            remove_finalizer(handler, def, ns.as_deref(), &name, "orphan").await;
        } else if meta.has_finalizer("foregroundDeletion") {
            if deps.is_empty() {
                remove_finalizer(handler, def, ns.as_deref(), &name, "foregroundDeletion").await;
            } else {
                // Dependents that own others go in the foreground too; leaves
                // go in the background (as upstream's garbage collector).
                let dep_uids: Vec<String> = indexes
                    .dependents
                    .get(&owner)
                    .map(|d| d.iter().cloned().collect())
                    .unwrap_or_default();
                for dep_uid in dep_uids {
                    let Some((ddef, dns, dname)) = indexes.by_uid.get(&dep_uid) else {
                        continue;
                    };
                    let policy = if indexes.dependents.contains_key(&dep_uid) {
                        "Foreground"
                    } else {
                        "Background"
                    };
                    let opts = DeleteOptions {
                        propagation: Some(policy.into()),
                        ..Default::default()
                    };
                    let _ = rest.delete(ddef, dns.as_deref(), dname, &opts).await;
                }
            }
        }
    }
    let namespaces: Vec<String> = pending.namespaces.iter().cloned().collect();
    for ns in namespaces {
        if finalize_namespace(handler, &ns).await {
            pending.namespaces.remove(&ns);
        }
    }
}

async fn remove_finalizer(
    handler: &Handler,
    def: &'static ResourceDef,
    ns: Option<&str>,
    name: &str,
    finalizer: &str,
) {
    let result = handler
        .rest
        .update(def, ns, name, None, &system_opts(), |current| {
            let mut next = current.clone();
            let kept: Vec<String> = objects::finalizers(current)
                .into_iter()
                .filter(|f| f != finalizer)
                .collect();
            objects::set_finalizers(&mut next, kept);
            objects::meta_mut(&mut next).remove("resourceVersion");
            Ok((next, Vec::new()))
        })
        .await;
    if let Err(e) = result {
        if e.code != 404 {
            tracing::warn!(%e, name, finalizer, "removing finalizer failed");
        }
    }
}

/// Deletes everything in a terminating namespace; once it is empty, drops
/// the `kubernetes` finalizer. Returns true when nothing is left to do.
async fn finalize_namespace(handler: &Handler, ns: &str) -> bool {
    let rest = &handler.rest;
    let Some(namespaces) = registry::lookup("", "v1", "namespaces") else {
        return true;
    };
    let Some(nsobj) = rest.cache.read().get_entry(namespaces, None, ns) else {
        return true;
    };
    if !nsobj.meta.is_terminating() {
        return true;
    }
    let mut remaining: Vec<ObjRef> = Vec::new();
    {
        let state = rest.cache.read();
        // Views share their storage's objects: delete each object once.
        for def in registry::all()
            .iter()
            .filter(|d| d.namespaced && d.stored_as.is_none())
        {
            for (_, entry) in state.range_entries(def, Some(ns), None) {
                remaining.push((def, Some(ns.to_string()), entry.meta.name().to_string()));
            }
        }
    }
    if remaining.is_empty() {
        let result = rest
            .update(namespaces, None, ns, None, &system_opts(), |current| {
                let mut next = current.clone();
                if let Some(f) = next["spec"]["finalizers"].as_array_mut() {
                    f.retain(|v| v != "kubernetes");
                }
                objects::meta_mut(&mut next).remove("resourceVersion");
                Ok((next, Vec::new()))
            })
            .await;
        // With no finalizers left the namespace itself goes.
        if let Ok(written) = result {
            let spec_empty = written.object["spec"]["finalizers"]
                .as_array()
                .is_none_or(|a| a.is_empty());
            if spec_empty && objects::finalizers(&written.object).is_empty() {
                let _ = rest
                    .delete(namespaces, None, ns, &DeleteOptions::default())
                    .await;
            }
        }
        return true;
    }
    let opts = DeleteOptions {
        grace_period_seconds: None,
        propagation: Some("Background".into()),
        ..Default::default()
    };
    for (def, dns, name) in remaining {
        let _ = rest.delete(def, dns.as_deref(), &name, &opts).await;
    }
    false
}
