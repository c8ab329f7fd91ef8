//! The apply and update operations on managed fields.

use serde_json::Value;

use super::managed::{self, Entry, APPLY, UPDATE};
use super::path::{
    iteration_order, path_string, remove_subtree, with_named_ancestors, FieldSet, Path, PathElement,
};
use super::walk::{compare, deep_eq, merge, remove_at, to_field_set};
use super::{ApplyError, Conflict, FieldManagerContext};
use crate::schema::Ty;

const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";
const BEFORE_FIRST_APPLY: &str = "before-first-apply";
/// Bucket that absorbs the oldest `Update` entries past the cap.
const ANCIENT_CHANGES: &str = "ancient-changes";
/// Upstream's maximum number of `Update` entries kept separately.
const MAX_UPDATE_MANAGERS: usize = 10;

/// Metadata paths never recorded as owned.
const STRIPPED: &[&[&str]] = &[
    &["apiVersion"],
    &["kind"],
    &["metadata"],
    &["metadata", "name"],
    &["metadata", "namespace"],
    &["metadata", "creationTimestamp"],
    &["metadata", "selfLink"],
    &["metadata", "uid"],
    &["metadata", "clusterName"],
    &["metadata", "generation"],
    &["metadata", "managedFields"],
    &["metadata", "resourceVersion"],
];

fn field_path(names: &[&str]) -> Path {
    names
        .iter()
        .map(|n| PathElement::Field((*n).to_string()))
        .collect()
}

/// Per-operation facts derived from the context.
struct Scope<'a> {
    ctx: &'a FieldManagerContext<'a>,
    ty: Ty,
}

impl<'a> Scope<'a> {
    fn new(ctx: &'a FieldManagerContext<'a>) -> Self {
        Scope {
            ctx,
            ty: Ty::root(ctx.group, ctx.kind),
        }
    }

    /// Drops fields the endpoint resets (status on the main resource, spec
    /// on `/status`), with everything below them.
    fn drop_reset(&self, set: &mut FieldSet) {
        if !self.ty.has_status() {
            return;
        }
        let reset = if self.ctx.subresource.is_empty() {
            "status"
        } else if self.ctx.subresource == "status" {
            "spec"
        } else {
            return;
        };
        remove_subtree(set, &field_path(&[reset]));
    }

    fn api_version(&self, obj: &Value) -> String {
        match obj.get("apiVersion").and_then(Value::as_str) {
            Some(v) => v.to_string(),
            None if self.ctx.group.is_empty() => "v1".to_string(),
            None => format!("{}/v1", self.ctx.group),
        }
    }

    fn gvk(&self, obj: &Value) -> String {
        let api_version = self.api_version(obj);
        let (group, version) = api_version.split_once('/').unwrap_or(("", &api_version));
        format!("{group}/{version}, Kind={}", self.ctx.kind)
    }
}

fn strip_meta(set: &mut FieldSet) {
    static PATHS: std::sync::LazyLock<Vec<Path>> =
        std::sync::LazyLock::new(|| STRIPPED.iter().map(|p| field_path(p)).collect());
    for p in PATHS.iter() {
        set.remove(p);
    }
}

/// Records an `Update`-style write by `manager` from `old` to `new`.
fn record_update(
    scope: &Scope<'_>,
    manager: &str,
    operation: &str,
    old: Option<&Value>,
    new: &Value,
    entries: &mut Vec<Entry>,
) {
    let cmp = compare(old, new, scope.ty);
    let mut changed: FieldSet = cmp.added;
    changed.extend(cmp.modified);
    let mut removed = cmp.removed;
    scope.drop_reset(&mut changed);
    scope.drop_reset(&mut removed);
    for e in entries.iter_mut() {
        e.set
            .retain(|p| !changed.contains(p) && !removed.contains(p));
    }
    entries.retain(|e| !e.set.is_empty());
    strip_meta(&mut changed);
    if changed.is_empty() {
        return;
    }
    let api_version = scope.api_version(new);
    let subresource = scope.ctx.subresource;
    match entries
        .iter_mut()
        .find(|e| e.is(manager, operation, &api_version, subresource))
    {
        Some(e) => {
            e.set.extend(changed);
            e.time = Some(scope.ctx.now.to_string());
        }
        None => entries.push(Entry {
            manager: manager.to_string(),
            operation: operation.to_string(),
            api_version,
            time: Some(scope.ctx.now.to_string()),
            subresource: subresource.to_string(),
            set: changed,
        }),
    }
}

pub(super) fn update(
    ctx: &FieldManagerContext<'_>,
    old: Option<&Value>,
    new: Value,
    operation: &str,
) -> Value {
    let scope = Scope::new(ctx);
    let sent = if ctx.subresource.is_empty() {
        managed::decode(&new).ok().filter(|e| !e.is_empty())
    } else {
        None
    };
    let mut entries = match sent {
        Some(entries) => entries,
        None => match old.map(managed::decode).transpose() {
            Ok(entries) => entries.unwrap_or_default(),
            Err(_) => Vec::new(),
        },
    };
    // compare() skips metadata.managedFields, so `old` needs no stripping.
    let mut result = managed::strip_owned(new);
    record_update(&scope, ctx.manager, operation, old, &result, &mut entries);
    cap_update_managers(&mut entries);
    managed::store(&mut result, &entries);
    result
}

/// Merges the oldest `Update` entries into per-apiVersion
/// `ancient-changes` buckets until at most ten `Update` entries remain.
fn cap_update_managers(entries: &mut Vec<Entry>) {
    loop {
        let mut updaters: Vec<usize> = (0..entries.len())
            .filter(|&i| entries[i].operation == UPDATE)
            .collect();
        if updaters.len() <= MAX_UPDATE_MANAGERS {
            return;
        }
        updaters.sort_by(|&a, &b| {
            let (ea, eb) = (&entries[a], &entries[b]);
            ea.time
                .as_deref()
                .unwrap_or("")
                .cmp(eb.time.as_deref().unwrap_or(""))
                .then_with(|| ea.identifier().cmp(&eb.identifier()))
        });
        let Some(&oldest) = updaters
            .iter()
            .find(|&&i| entries[i].manager != ANCIENT_CHANGES)
        else {
            return;
        };
        let version = entries[oldest].api_version.clone();
        let bucket = entries.iter().position(|e| {
            e.manager == ANCIENT_CHANGES
                && e.operation == UPDATE
                && e.api_version == version
                && e.subresource.is_empty()
        });
        match bucket {
            Some(b) => {
                let old = entries.remove(oldest);
                let b = if b > oldest { b - 1 } else { b };
                entries[b].set.extend(old.set);
                entries[b].time = old.time;
            }
            None => {
                let e = &mut entries[oldest];
                e.manager = ANCIENT_CHANGES.to_string();
                e.subresource.clear();
            }
        }
    }
}

pub(super) fn apply(
    ctx: &FieldManagerContext<'_>,
    live: Option<&Value>,
    applied: &Value,
    force: bool,
) -> Result<Value, ApplyError> {
    let scope = Scope::new(ctx);
    match applied.pointer("/metadata/managedFields") {
        None | Some(Value::Null) => {}
        Some(Value::Array(a)) if a.is_empty() => {}
        Some(_) => return Err(ApplyError::ManagedFieldsInRequest),
    }
    let applied = managed::strip(applied);
    let live_clean = live.map(managed::strip);
    let mut entries = match live {
        Some(l) => managed::decode(l).map_err(ApplyError::BadManagedFields)?,
        None => Vec::new(),
    };
    if let (Some(lc), true) = (&live_clean, entries.is_empty()) {
        record_update(&scope, BEFORE_FIRST_APPLY, UPDATE, None, lc, &mut entries);
    }

    let mut config_set =
        to_field_set(&applied, scope.ty, true).map_err(|message| ApplyError::InvalidConfig {
            gvk: scope.gvk(&applied),
            message,
        })?;
    scope.drop_reset(&mut config_set);
    strip_meta(&mut config_set);

    let mut merged = merge(live_clean.as_ref(), &applied, scope.ty);
    let api_version = scope.api_version(&applied);
    let is_applier = |e: &Entry| e.is(ctx.manager, APPLY, "", ctx.subresource);
    let last_set = match entries.iter_mut().find(|e| is_applier(e)) {
        Some(e) => {
            e.api_version = api_version.clone();
            Some(std::mem::replace(&mut e.set, config_set))
        }
        None => {
            entries.push(Entry {
                manager: ctx.manager.to_string(),
                operation: APPLY.to_string(),
                api_version,
                time: None,
                subresource: ctx.subresource.to_string(),
                set: config_set,
            });
            None
        }
    };
    if let Some(last) = last_set.filter(|s| !s.is_empty()) {
        prune(&mut merged, &last, &entries, scope.ty);
    }

    let cmp = compare(live_clean.as_ref(), &merged, scope.ty);
    let mut changed: FieldSet = cmp.added.union(&cmp.modified).cloned().collect();
    let mut removed = cmp.removed;
    scope.drop_reset(&mut changed);
    scope.drop_reset(&mut removed);

    let mut conflicts = collect_conflicts(&entries, &changed, &is_applier);
    if !conflicts.is_empty() && !force {
        let allowed = if ctx.manager == "kubectl" {
            live_clean
                .as_ref()
                .and_then(|l| allowed_by_last_applied(l, scope.ty))
        } else {
            None
        };
        if let Some(allowed) = allowed {
            conflicts.retain(|(_, path, _)| !allowed.contains(path));
        }
        if !conflicts.is_empty() {
            return Err(ApplyError::Conflicts(
                conflicts.into_iter().map(|(_, _, c)| c).collect(),
            ));
        }
    }
    for e in entries.iter_mut().filter(|e| !is_applier(e)) {
        e.set
            .retain(|p| !changed.contains(p) && !removed.contains(p));
    }
    entries.retain(|e| !e.set.is_empty());

    let noop = live_clean.as_ref().is_some_and(|l| deep_eq(l, &merged));
    if !noop {
        if let Some(e) = entries.iter_mut().find(|e| is_applier(e)) {
            e.time = Some(ctx.now.to_string());
        }
    }
    let mut result = match (noop, live_clean) {
        (true, Some(l)) => l,
        _ => merged,
    };
    if ctx.manager == "kubectl" {
        sync_last_applied(&mut result, &applied);
    }
    cap_update_managers(&mut entries);
    managed::store(&mut result, &entries);
    Ok(result)
}

/// Removes from `merged` the fields the applier owned before (`last`) that
/// no manager owns any more.
fn prune(merged: &mut Value, last: &FieldSet, entries: &[Entry], ty: Ty) {
    let mut owned = FieldSet::new();
    for e in entries {
        owned.extend(e.set.iter().cloned());
    }
    let owned = with_named_ancestors(&owned);
    for path in with_named_ancestors(last) {
        if !owned.contains(&path) {
            remove_at(merged, &path, ty);
        }
    }
}

type Found = (String, Path, Conflict);

/// Fields of other managers that the write changes, ordered by manager
/// identifier and path.
fn collect_conflicts(
    entries: &[Entry],
    changed: &FieldSet,
    is_applier: &dyn Fn(&Entry) -> bool,
) -> Vec<Found> {
    let mut out: Vec<Found> = Vec::new();
    for e in entries.iter().filter(|e| !is_applier(e)) {
        for path in e.set.intersection(changed) {
            out.push((
                e.identifier(),
                path.clone(),
                Conflict {
                    manager: e.manager.clone(),
                    operation: e.operation.clone(),
                    api_version: e.api_version.clone(),
                    subresource: e.subresource.clone(),
                    field: path_string(path),
                    identifier: e.identifier(),
                },
            ));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| iteration_order(&a.1, &b.1)));
    out
}

/// Fields whose conflicts kubectl may override when moving from
/// client-side to server-side apply: those in the last-applied annotation
/// whose live value still matches it.
fn allowed_by_last_applied(live: &Value, ty: Ty) -> Option<FieldSet> {
    let text = live
        .pointer("/metadata/annotations")?
        .get(LAST_APPLIED)?
        .as_str()?;
    if text.is_empty() {
        return None;
    }
    let last: Value = serde_json::from_str(text).ok()?;
    let set = to_field_set(&last, ty, false).ok()?;
    let cmp = compare(Some(&last), live, ty);
    Some(set.difference(&cmp.modified).cloned().collect())
}

/// Go's `json.Marshal` of a decoded object: keys sorted, compact.
fn sorted_json(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), sorted_json(&m[k])))
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(a.iter().map(sorted_json).collect()),
        other => other.clone(),
    }
}

/// Keeps kubectl's client-side annotation in step with server-side applies
/// by `kubectl`, when the object already has one.
fn sync_last_applied(result: &mut Value, applied: &Value) {
    let has = result
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(LAST_APPLIED))
        .is_some();
    if !has {
        return;
    }
    let mut config = applied.clone();
    if let Some(Value::Object(meta)) = config.get_mut("metadata") {
        if let Some(Value::Object(ann)) = meta.get_mut("annotations") {
            ann.shift_remove(LAST_APPLIED);
            if ann.is_empty() {
                meta.shift_remove("annotations");
            }
        }
    }
    let text = sorted_json(&config).to_string();
    if let Some(Value::Object(ann)) = result.pointer_mut("/metadata/annotations") {
        ann.insert(LAST_APPLIED.to_string(), Value::String(text));
    }
}
