//! The apply and update operations on managed fields.

use serde_json::Value;

use super::managed::{self, Entry, APPLY, UPDATE};
use super::path::{
    decode_fields_v1, element_key, encode_fields_v1, iteration_order, path_string, remove_subtree,
    with_named_ancestors, FieldSet, Path, PathElement,
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

/// Whether `path` is one of the [`STRIPPED`] metadata paths.
fn never_owned(path: &[PathElement]) -> bool {
    STRIPPED.iter().any(|names| {
        names.len() == path.len()
            && names
                .iter()
                .zip(path)
                .all(|(n, pe)| matches!(pe, PathElement::Field(f) if f == n))
    })
}

fn strip_meta(set: &mut FieldSet) {
    set.retain(|p| !never_owned(p));
}

/// The fields an `Update`-style write changed, as ownership sees them.
struct Changes {
    /// Added or modified: taken from other managers.
    changed: FieldSet,
    /// Removed: no longer owned by anyone.
    removed: FieldSet,
}

impl Changes {
    fn between(scope: &Scope<'_>, old: Option<&Value>, new: &Value) -> Self {
        let cmp = compare(old, new, scope.ty);
        let mut changed: FieldSet = cmp.added;
        changed.extend(cmp.modified);
        let mut removed = cmp.removed;
        scope.drop_reset(&mut changed);
        scope.drop_reset(&mut removed);
        Changes { changed, removed }
    }

    /// `changed` without the metadata paths never recorded: what the
    /// writer comes to own.
    fn owned(&self) -> impl Iterator<Item = &Path> {
        self.changed.iter().filter(|p| !never_owned(p))
    }

    /// Records the write by `manager` into `entries`.
    fn record(
        self,
        scope: &Scope<'_>,
        manager: &str,
        operation: &str,
        new: &Value,
        entries: &mut Vec<Entry>,
    ) {
        let Changes { changed, removed } = self;
        for e in entries.iter_mut() {
            e.set
                .retain(|p| !changed.contains(p) && !removed.contains(p));
        }
        entries.retain(|e| !e.set.is_empty());
        let owned: FieldSet = changed.into_iter().filter(|p| !never_owned(p)).collect();
        if owned.is_empty() {
            return;
        }
        let api_version = scope.api_version(new);
        let subresource = scope.ctx.subresource;
        match entries
            .iter_mut()
            .find(|e| e.is(manager, operation, &api_version, subresource))
        {
            Some(e) => {
                e.set.extend(owned);
                e.time = Some(scope.ctx.now.to_string());
            }
            None => entries.push(Entry {
                manager: manager.to_string(),
                operation: operation.to_string(),
                api_version,
                time: Some(scope.ctx.now.to_string()),
                subresource: subresource.to_string(),
                set: owned,
            }),
        }
    }

    /// The stored managedFields of `old` updated for this write without
    /// decoding or re-encoding any other manager's entry, when the write
    /// takes no field from anybody: no other entry holds a field it
    /// changed, and no entry holds a field it removed. Then only the
    /// writer's entry changes (its time, plus the fields it comes to own,
    /// or a new entry): the common cases of a controller rewriting its own
    /// fields and of a first status write (a kubelet starting a pod the
    /// ReplicaSet controller created). `None` sends the write down the
    /// general path.
    fn kept_ownership(
        &self,
        ctx: &FieldManagerContext<'_>,
        operation: &str,
        old: &Value,
    ) -> Option<Vec<Value>> {
        let list = old.pointer("/metadata/managedFields")?.as_array()?;
        if self.changed.contains(&field_path(&["apiVersion"])) {
            // The writer's entry is keyed by the new apiVersion.
            return None;
        }
        let api_version = Scope::new(ctx).api_version(old);
        let mut mine = None;
        let mut updaters = 0;
        for (i, item) in list.iter().enumerate() {
            let fields = item.get("fieldsV1").filter(|f| {
                f.as_object().is_some_and(|m| !m.is_empty())
                    && item.get("fieldsType").and_then(Value::as_str) == Some("FieldsV1")
            })?;
            let text = |k: &str| item.get(k).and_then(Value::as_str).unwrap_or_default();
            if text("operation") == UPDATE {
                updaters += 1;
            }
            let is_mine = text("manager") == ctx.manager
                && text("operation") == operation
                && text("subresource") == ctx.subresource
                && (operation == APPLY || text("apiVersion") == api_version);
            // Fields this entry must not hold: every change but the
            // writer's own, and every removal.
            let untouched = self
                .changed
                .iter()
                .filter(|p| !is_mine || never_owned(p))
                .chain(&self.removed)
                .all(|p| !fields_v1_contains(fields, p));
            if !untouched {
                return None;
            }
            if is_mine {
                if mine.is_some() {
                    return None;
                }
                mine = Some(i);
            }
        }
        let owned: FieldSet = self.owned().cloned().collect();
        let mut kept = list.clone();
        if owned.is_empty() {
            return Some(kept);
        }
        match mine {
            Some(i) => {
                let Value::Object(entry) = &mut kept[i] else {
                    return None;
                };
                let fields = entry.get("fieldsV1")?;
                if !owned.iter().all(|p| fields_v1_contains(fields, p)) {
                    // Only the writer's own entry is decoded and grown.
                    let mut set = decode_fields_v1(fields).ok()?;
                    set.extend(owned);
                    entry.insert("fieldsV1".into(), encode_fields_v1(&set));
                }
                entry.insert("time".into(), Value::String(ctx.now.to_string()));
            }
            None => {
                if operation == UPDATE {
                    updaters += 1;
                }
                kept.push(managed::encode_entry(&Entry {
                    manager: ctx.manager.to_string(),
                    operation: operation.to_string(),
                    api_version,
                    time: Some(ctx.now.to_string()),
                    subresource: ctx.subresource.to_string(),
                    set: owned,
                }));
            }
        }
        if updaters > MAX_UPDATE_MANAGERS {
            return None;
        }
        kept.sort_by(managed::encoded_order);
        Some(kept)
    }
}

fn fields_v1_contains(fields: &Value, path: &Path) -> bool {
    let mut node = fields;
    for pe in path {
        match node.get(element_key(pe)) {
            Some(child) => node = child,
            None => return false,
        }
    }
    node.as_object()
        .is_some_and(|m| m.is_empty() || m.contains_key("."))
}

pub(super) fn update(
    ctx: &FieldManagerContext<'_>,
    old: Option<&Value>,
    new: Value,
    operation: &str,
) -> Value {
    let write = UpdateWrite::new(ctx, old, new);
    if write.sent.is_none() {
        if let Some(kept) = old.and_then(|old| write.changes.kept_ownership(ctx, operation, old)) {
            let mut result = write.result;
            managed::store_encoded(&mut result, kept);
            return result;
        }
    }
    write.record(old, operation)
}

/// An `Update`-style write, ready to be recorded.
struct UpdateWrite<'a> {
    scope: Scope<'a>,
    /// Entries the client sent in the object, when it sent any.
    sent: Option<Vec<Entry>>,
    /// The new object without managedFields.
    result: Value,
    changes: Changes,
}

impl<'a> UpdateWrite<'a> {
    fn new(ctx: &'a FieldManagerContext<'a>, old: Option<&Value>, new: Value) -> Self {
        let scope = Scope::new(ctx);
        const MANAGED: &str = "/metadata/managedFields";
        // Entries sent back exactly as stored (a read-modify-write) are
        // the stored ones: nothing was sent.
        let resent = old.and_then(|o| o.pointer(MANAGED)) == new.pointer(MANAGED);
        let sent = if ctx.subresource.is_empty() && !resent {
            managed::decode(&new).ok().filter(|e| !e.is_empty())
        } else {
            None
        };
        // compare() skips metadata.managedFields, so `old` needs no stripping.
        let result = managed::strip_owned(new);
        let changes = Changes::between(&scope, old, &result);
        UpdateWrite {
            scope,
            sent,
            result,
            changes,
        }
    }

    /// The general path: decodes every entry, moves ownership, encodes.
    fn record(self, old: Option<&Value>, operation: &str) -> Value {
        let UpdateWrite {
            scope,
            sent,
            mut result,
            changes,
        } = self;
        let mut entries = match sent {
            Some(entries) => entries,
            None => match old.map(managed::decode).transpose() {
                Ok(entries) => entries.unwrap_or_default(),
                Err(_) => Vec::new(),
            },
        };
        changes.record(&scope, scope.ctx.manager, operation, &result, &mut entries);
        cap_update_managers(&mut entries);
        managed::store(&mut result, &entries);
        result
    }
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
        Changes::between(&scope, None, lc).record(
            &scope,
            BEFORE_FIRST_APPLY,
            UPDATE,
            lc,
            &mut entries,
        );
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn ctx<'a>(
        manager: &'a str,
        kind: &'a str,
        now: &'a str,
        sub: &'a str,
    ) -> FieldManagerContext<'a> {
        FieldManagerContext {
            manager,
            group: "",
            kind,
            now,
            subresource: sub,
        }
    }

    /// Runs `update` and the general path on the same write; they must
    /// agree, and the shortcut must be taken exactly when `shortcut`.
    fn check(ctx: &FieldManagerContext<'_>, old: &Value, new: Value, shortcut: bool) -> Value {
        let write = UpdateWrite::new(ctx, Some(old), new.clone());
        let took = write.sent.is_none() && write.changes.kept_ownership(ctx, UPDATE, old).is_some();
        assert_eq!(took, shortcut, "shortcut taken");
        let general = write.record(Some(old), UPDATE);
        let fast = update(ctx, Some(old), new, UPDATE);
        assert_eq!(fast, general);
        fast
    }

    /// A ConfigMap with data `a` and `b`, created by manager `writer`.
    fn created_by_writer() -> Value {
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "c", "namespace": "d", "labels": {"app": "a"}},
               "data": {"a": "1", "b": "2"}});
        update(&ctx("writer", "ConfigMap", "T1", ""), None, cm, UPDATE)
    }

    #[test]
    fn rewriting_own_fields_keeps_ownership_and_moves_time() {
        let created = created_by_writer();
        let other = check(
            &ctx("labeler", "ConfigMap", "T2", ""),
            &created,
            {
                let mut o = created.clone();
                o["metadata"]["annotations"] = json!({"note": "x"});
                o
            },
            true,
        );
        let mut next = other.clone();
        next["data"]["a"] = json!("changed");
        let out = check(&ctx("writer", "ConfigMap", "T3", ""), &other, next, true);
        let list = out["metadata"]["managedFields"].as_array().unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[1]["manager"], "writer", "entries stay in time order");
        assert_eq!(list[1]["time"], "T3");
        // A write that changes nothing keeps everything, time included.
        let same = check(
            &ctx("writer", "ConfigMap", "T4", ""),
            &out,
            out.clone(),
            true,
        );
        assert_eq!(
            same["metadata"]["managedFields"],
            out["metadata"]["managedFields"]
        );
    }

    #[test]
    fn writes_that_move_ownership_take_the_general_path() {
        let created = created_by_writer();
        // Another manager changes a field the writer owns.
        let mut taken = created.clone();
        taken["data"]["a"] = json!("mine now");
        check(&ctx("other", "ConfigMap", "T2", ""), &created, taken, false);
        // The writer removes an owned field.
        let mut removed = created.clone();
        removed["data"].as_object_mut().unwrap().remove("b");
        check(
            &ctx("writer", "ConfigMap", "T2", ""),
            &created,
            removed,
            false,
        );
    }

    #[test]
    fn writes_that_take_nothing_from_others_touch_only_the_writers_entry() {
        let created = created_by_writer();
        // The writer adds a field nobody owned: its entry grows.
        let mut added = created.clone();
        added["data"]["c"] = json!("3");
        let grown = check(&ctx("writer", "ConfigMap", "T2", ""), &created, added, true);
        let list = grown["metadata"]["managedFields"].as_array().unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0]["time"], "T2");
        assert!(list[0]["fieldsV1"]["f:data"]["f:c"].is_object());
        // A first status write by another manager: a new entry, the
        // creator's left as it was.
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                         "spec": {"containers": [{"name": "app", "image": "a:1"}]}});
        let pod = update(&ctx("rs-controller", "Pod", "T1", ""), None, pod, UPDATE);
        let mut running = pod.clone();
        running["status"] = json!({"phase": "Running",
                                   "conditions": [{"type": "Ready", "status": "True"}]});
        let out = check(&ctx("kubelet", "Pod", "T2", "status"), &pod, running, true);
        let list = out["metadata"]["managedFields"].as_array().unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0], pod["metadata"]["managedFields"][0]);
        assert_eq!(list[1]["manager"], "kubelet");
        assert_eq!(list[1]["subresource"], "status");
    }

    #[test]
    fn keyed_lists_and_status_writes_take_the_shortcut_when_owned() {
        let pod = |image: &str, ready: &str| {
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                   "spec": {"containers": [{"name": "app", "image": image}]},
                   "status": {"conditions": [{"type": "Ready", "status": ready}]}})
        };
        let created = update(
            &ctx("kubectl", "Pod", "T1", ""),
            None,
            pod("a:1", "False"),
            UPDATE,
        );
        check(
            &ctx("kubectl", "Pod", "T2", ""),
            &created,
            pod("a:2", "False"),
            true,
        );
        let status = ctx("kubelet", "Pod", "T2", "status");
        let first = update(&status, Some(&created), pod("a:1", "True"), UPDATE);
        let status = ctx("kubelet", "Pod", "T3", "status");
        check(&status, &first, pod("a:1", "False"), true);
    }

    #[test]
    fn fields_v1_membership() {
        let fields = json!({"f:data": {".": {}, "f:a": {}}, "f:spec": {"f:containers": {"k:{\"name\":\"x\"}": {"f:image": {}}}}});
        let f = |names: &[&str]| -> Path {
            names
                .iter()
                .map(|n| PathElement::Field(n.to_string()))
                .collect()
        };
        assert!(fields_v1_contains(&fields, &f(&["data"])));
        assert!(fields_v1_contains(&fields, &f(&["data", "a"])));
        assert!(!fields_v1_contains(&fields, &f(&["data", "b"])));
        assert!(
            !fields_v1_contains(&fields, &f(&["spec"])),
            "a parent without '.' is not a member"
        );
        let mut keyed = f(&["spec", "containers"]);
        keyed.push(PathElement::Key(vec![("name".into(), json!("x"))]));
        keyed.push(PathElement::Field("image".into()));
        assert!(fields_v1_contains(&fields, &keyed));
    }
}
