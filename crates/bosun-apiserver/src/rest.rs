//! The generic REST storage: create, update, patch and delete for any served
//! kind, as upstream's generic registry store does them.
//!
//! Writes go to the [`Store`] with compare-and-swap on the object's
//! revision; reads come from the [`WatchCache`]. Every write waits until the
//! cache has applied it, so the next read sees it.

use std::sync::Arc;
use std::time::Duration;

use bosun_api::registry::ResourceDef;
use bosun_store::{Store, StoreError};
use bytes::Bytes;
use serde_json::{json, Map, Value};

use crate::admission::{self, priority};
use crate::cache::WatchCache;
use crate::error::{ApiError, Result};
use crate::objects::{self, meta_mut};
use crate::recent::Recent;

const CACHE_WAIT: Duration = Duration::from_secs(10);
const MAX_RETRIES: usize = 16;

/// How unknown fields in a body are treated (`fieldValidation`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldValidation {
    Strict,
    Warn,
    Ignore,
}

impl FieldValidation {
    pub fn parse(value: Option<&str>) -> Result<Self> {
        match value {
            None | Some("") | Some("Warn") => Ok(FieldValidation::Warn),
            Some("Strict") => Ok(FieldValidation::Strict),
            Some("Ignore") => Ok(FieldValidation::Ignore),
            Some(other) => Err(ApiError::bad_request(format!(
                "fieldValidation parameter unsupported: {other}"
            ))),
        }
    }
}

#[derive(Clone, Debug)]
pub struct WriteOptions {
    pub dry_run: bool,
    pub field_manager: String,
    pub validation: FieldValidation,
    /// The caller (server-side apply) already recorded field ownership.
    pub managed_fields_done: bool,
}

/// A write's result: the object and warnings for the `Warning` header.
#[derive(Debug)]
pub struct Written {
    pub object: Arc<Value>,
    pub warnings: Vec<String>,
    /// `object` as the watch cache encoded it, when the cache holds exactly
    /// this revision: the response body without encoding it again.
    pub encoded: Option<crate::cache::Entry>,
}

impl Written {
    fn unstored(object: Value, warnings: Vec<String>) -> Self {
        Written {
            object: Arc::new(object),
            warnings,
            encoded: None,
        }
    }
}

/// DeleteOptions that matter to storage.
#[derive(Clone, Debug, Default)]
pub struct DeleteOptions {
    pub grace_period_seconds: Option<i64>,
    pub propagation: Option<String>,
    pub precondition_uid: Option<String>,
    pub precondition_resource_version: Option<String>,
    pub dry_run: bool,
}

impl DeleteOptions {
    /// Reads a `DeleteOptions` body and query parameters.
    pub fn from_parts(body: Option<&Value>, query: &crate::request::Query) -> Result<Self> {
        let mut opts = DeleteOptions {
            grace_period_seconds: query.int("gracePeriodSeconds")?,
            propagation: query.get("propagationPolicy").map(str::to_string),
            dry_run: query.dry_run(),
            ..Default::default()
        };
        if query.flag("orphanDependents") && opts.propagation.is_none() {
            opts.propagation = Some("Orphan".into());
        }
        if let Some(body) = body {
            if let Some(g) = body.get("gracePeriodSeconds").and_then(Value::as_i64) {
                opts.grace_period_seconds = Some(g);
            }
            if let Some(p) = body.get("propagationPolicy").and_then(Value::as_str) {
                opts.propagation = Some(p.to_string());
            }
            if body.get("orphanDependents").and_then(Value::as_bool) == Some(true)
                && opts.propagation.is_none()
            {
                opts.propagation = Some("Orphan".into());
            }
            if let Some(dry) = body.get("dryRun").and_then(Value::as_array) {
                opts.dry_run |= dry.iter().any(|v| v == "All");
            }
            let pre = &body["preconditions"];
            opts.precondition_uid = pre["uid"].as_str().map(str::to_string);
            opts.precondition_resource_version =
                pre["resourceVersion"].as_str().map(str::to_string);
        }
        if let Some(p) = &opts.propagation {
            if !matches!(p.as_str(), "Orphan" | "Background" | "Foreground") {
                return Err(ApiError::new(
                    422,
                    "Invalid",
                    format!("DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Unsupported value: \"{p}\": supported values: \"Foreground\", \"Background\", \"Orphan\""),
                ));
            }
        }
        Ok(opts)
    }
}

pub struct Rest {
    pub store: Arc<dyn Store>,
    pub cache: Arc<WatchCache>,
    recent: Recent,
}

/// How many names a create with `generateName` tries before answering
/// 409 (upstream: the first and seven retries).
const GENERATE_NAME_ATTEMPTS: u32 = 8;

/// The stored encoding of `obj`. resourceVersion is derived from the store
/// revision, never stored, so it is taken out of `obj` first.
/// A view of another resource's storage (`def.stored_as`) is stored in
/// that resource's form.
fn to_bytes(def: &ResourceDef, obj: &mut Value) -> Result<Bytes> {
    if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        m.shift_remove("resourceVersion");
    }
    let encoded = if def.stored_as.is_some() {
        serde_json::to_vec(&bosun_api::convert::to_storage(def, obj.clone()))
    } else {
        serde_json::to_vec(obj)
    };
    encoded
        .map(Bytes::from)
        .map_err(|e| ApiError::internal(e.to_string()))
}

/// Where [`Recent`] keeps an object: per served resource, since views of
/// one storage share its keys but not its form.
fn recent_key(def: &ResourceDef, namespace: Option<&str>, name: &str) -> String {
    format!("{}{}", def.group, def.key(namespace, name))
}

fn with_revision(mut obj: Value, revision: i64) -> Value {
    meta_mut(&mut obj).insert("resourceVersion".into(), json!(revision.to_string()));
    obj
}

/// Paths of fields present in `input` but dropped by the typed round trip.
fn unknown_fields(input: &Value, output: &Value, path: &str, out: &mut Vec<String>) {
    match (input, output) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in a {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match b.get(k) {
                    Some(w) => unknown_fields(v, w, &p, out),
                    None if v.is_null() => {}
                    None => out.push(p),
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            for (i, (v, w)) in a.iter().zip(b.iter()).enumerate() {
                unknown_fields(v, w, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

impl Rest {
    pub fn new(store: Arc<dyn Store>, cache: Arc<WatchCache>) -> Self {
        Rest {
            store,
            cache,
            recent: Recent::default(),
        }
    }

    /// The object as of the latest store revision.
    pub async fn get_latest(
        &self,
        def: &'static ResourceDef,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Option<Arc<Value>>> {
        let revision = self.store.current_revision().await?;
        self.wait_cache(revision).await?;
        let Some(entry) = self.cache.read().get_entry(def, namespace, name) else {
            return Ok(None);
        };
        if let Some(rv) = entry.resource_version() {
            if let Some(object) = self.recent.get(&recent_key(def, namespace, name), rv) {
                return Ok(Some(object));
            }
        }
        Ok(Some(Arc::new(entry.value())))
    }

    /// The result of a stored write of `object` at `revision`: stamps the
    /// resourceVersion, remembers the decoded object for the next
    /// read-modify-write and takes the cache's encoding for the response
    /// when the cache holds exactly this revision (a later write may
    /// already have replaced it).
    fn stored(
        &self,
        def: &ResourceDef,
        namespace: Option<&str>,
        name: &str,
        object: Value,
        revision: i64,
        warnings: Vec<String>,
    ) -> Written {
        let object = Arc::new(with_revision(object, revision));
        let rv = revision.to_string();
        let encoded = self
            .cache
            .read()
            .get_entry(def, namespace, name)
            .filter(|entry| entry.resource_version() == Some(rv.as_str()));
        self.recent
            .remember(recent_key(def, namespace, name), rv, object.clone());
        Written {
            object,
            warnings,
            encoded,
        }
    }

    /// Waits until the cache holds the store's latest revision.
    pub(crate) async fn wait_latest(&self) -> Result<()> {
        let revision = self.store.current_revision().await?;
        self.wait_cache(revision).await
    }

    async fn wait_cache(&self, revision: i64) -> Result<()> {
        if self.cache.wait_for(revision, CACHE_WAIT).await {
            Ok(())
        } else {
            Err(ApiError::timeout(format!(
                "Timeout: watch cache did not reach resource version {revision}"
            )))
        }
    }

    /// Checks kind and apiVersion against the URL and decodes into the typed
    /// form, dropping (or, with Strict, rejecting) unknown fields.
    pub fn decode(
        &self,
        def: &ResourceDef,
        mut body: Value,
        validation: FieldValidation,
        warnings: &mut Vec<String>,
    ) -> Result<Value> {
        decode_object(def, &mut body, validation, warnings)
    }

    /// [`Rest::decode`] for a write to `subresource`. A write to `/status`
    /// whose body is the stored object outside metadata and status (a
    /// patch that touches nothing else: `rest_is_stored`) decodes only
    /// those two (see [`decode_status`]): the rest was decoded when it was
    /// stored and is not taken from the request anyway, so the result,
    /// errors and warnings are the same.
    pub fn decode_write(
        &self,
        def: &ResourceDef,
        subresource: Option<&str>,
        rest_is_stored: bool,
        body: Value,
        validation: FieldValidation,
        warnings: &mut Vec<String>,
    ) -> Result<Value> {
        if rest_is_stored && subresource == Some("status") && def.has_status() {
            decode_status(def, body, validation, warnings)
        } else {
            self.decode(def, body, validation, warnings)
        }
    }

    fn validate_namespace(
        &self,
        def: &ResourceDef,
        url_namespace: Option<&str>,
        obj: &mut Value,
    ) -> Result<()> {
        if !def.namespaced {
            meta_mut(obj).remove("namespace");
            return Ok(());
        }
        let url_ns = url_namespace.unwrap_or("");
        match objects::namespace(obj) {
            None => {
                meta_mut(obj).insert("namespace".into(), json!(url_ns));
            }
            Some(ns) if ns != url_ns => {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            Some(_) => {}
        }
        Ok(())
    }

    /// NamespaceLifecycle admission: refuses creates in a missing or
    /// terminating namespace. Like upstream's plugin it answers from the
    /// cache's index, and only a miss waits for the latest revision.
    async fn admit_namespace(&self, def: &ResourceDef, ns: &str, name: &str) -> Result<()> {
        let namespaces = bosun_api::registry::lookup("", "v1", "namespaces")
            .ok_or_else(|| ApiError::internal("namespaces not registered"))?;
        let cached = |rest: &Self| {
            rest.cache
                .read()
                .get_entry(namespaces, None, ns)
                .map(|e| e.meta.is_terminating())
        };
        let terminating = match cached(self) {
            Some(t) => t,
            None => {
                self.wait_latest().await?;
                cached(self).ok_or_else(|| ApiError::not_found("", "namespaces", ns))?
            }
        };
        if terminating {
            return Err(ApiError::forbidden(format!(
                "{} \"{name}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated",
                def.group_resource(),
            ))
            .with_reason("Forbidden"));
        }
        Ok(())
    }

    /// Creates an object (POST, or a server-side apply of a missing object).
    pub async fn create(
        &self,
        def: &'static ResourceDef,
        namespace: Option<&str>,
        body: Value,
        opts: &WriteOptions,
        pre_decoded: bool,
    ) -> Result<Written> {
        let mut warnings = Vec::new();
        let mut obj = if pre_decoded {
            body
        } else {
            self.decode(def, body, opts.validation, &mut warnings)?
        };
        self.validate_namespace(def, namespace, &mut obj)?;
        if let Some(ns) = namespace.filter(|_| def.namespaced) {
            self.admit_namespace(def, ns, objects::name(&obj)).await?;
        }
        let is_pod = def.kind == "Pod" && def.group.is_empty();
        // Admission names the object before a name is generated.
        let admission_name = is_pod.then(|| priority::error_name(&obj));
        let name = objects::name(&obj).to_string();
        // Whether the server names the object (and names it again when
        // the name is taken).
        let generated = name.is_empty() && objects::generate_name(&mut obj);
        let now = objects::now_rfc3339();
        {
            let m = meta_mut(&mut obj);
            m.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
            m.insert("creationTimestamp".into(), json!(now));
            m.remove("resourceVersion");
            m.remove("deletionTimestamp");
            m.remove("deletionGracePeriodSeconds");
            m.remove("selfLink");
            if def.tracks_generation {
                m.insert("generation".into(), json!(1));
            } else {
                m.remove("generation");
            }
        }
        bosun_api::defaults::apply_defaults(def.group, def.kind, &mut obj);
        // Ownership covers what the client sent plus defaults, not what the
        // create strategy generates below (as upstream's field manager).
        let mut obj = if opts.managed_fields_done {
            obj
        } else {
            let ctx = bosun_patch::FieldManagerContext {
                manager: &opts.field_manager,
                group: def.group,
                kind: def.kind,
                now: &now,
                subresource: "",
            };
            bosun_patch::update_with(&ctx, None, obj, "Update")
        };
        // Mutating admission: after field ownership is recorded, so what it
        // sets belongs to no manager (as upstream).
        if let Some(admission_name) = &admission_name {
            priority::admit_pod_create(self, &mut obj, admission_name).await?;
            admission::tolerations::admit_pod_create(&mut obj);
            admission::serviceaccount::admit_pod_create(&self.cache.read(), &mut obj);
        }
        if def.group == "batch" && def.kind == "Job" {
            let uid = objects::meta_str(&obj, "uid").unwrap_or("").to_string();
            bosun_api::defaults::generate_job_selector(&mut obj, &uid);
        }
        admission::initial_status(def, &mut obj);
        admission::daemon_set_template_generation(def, &mut obj, None);
        let errors = bosun_api::validation::validate_create(def.group, def.kind, &obj);
        if !errors.is_empty() {
            return Err(ApiError::invalid(
                def.group,
                def.kind,
                objects::name(&obj),
                &errors,
            ));
        }
        priority::validate_class(&self.cache.read(), def, &obj, true)?;
        if def.kind == "Service" && def.group.is_empty() {
            let state = self.cache.read();
            admission::allocate_service(&mut obj, &state, def)?;
        }
        if opts.dry_run {
            return Ok(Written::unstored(obj, warnings));
        }
        // A generated name that is taken is generated again (upstream's
        // RetryGenerateName, GA in 1.32): a 5-character suffix collides
        // within a few thousand names, and a controller creating 100,000
        // pods would otherwise see hundreds of 409s.
        let mut attempts = 0;
        loop {
            let name = objects::name(&obj).to_string();
            let key = def.key(objects::namespace(&obj), &name);
            match self.store.create(&key, to_bytes(def, &mut obj)?).await {
                Ok(kv) => {
                    self.wait_cache(kv.mod_revision).await?;
                    let namespace = objects::namespace(&obj).map(str::to_string);
                    return Ok(self.stored(
                        def,
                        namespace.as_deref(),
                        &name,
                        obj,
                        kv.mod_revision,
                        warnings,
                    ));
                }
                Err(StoreError::AlreadyExists { .. }) => {
                    attempts += 1;
                    if generated && attempts < GENERATE_NAME_ATTEMPTS {
                        objects::generate_name(&mut obj);
                        continue;
                    }
                    // With a generateName the server failed to find a free
                    // name (upstream's CheckGeneratedNameError), even when
                    // the client chose this one.
                    let generate_name =
                        objects::meta_str(&obj, "generateName").is_some_and(|g| !g.is_empty());
                    return Err(if generate_name {
                        ApiError::generate_name_conflict(def.group, def.plural, &name)
                    } else {
                        ApiError::already_exists(def.group, def.plural, &name)
                    });
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Replaces an object (PUT), on the main resource or `status`.
    ///
    /// `mutate` turns the current object into the requested one; it runs
    /// again on a fresh copy when a concurrent write wins, unless the
    /// request pinned a resourceVersion.
    pub async fn update<F>(
        &self,
        def: &'static ResourceDef,
        namespace: Option<&str>,
        name: &str,
        subresource: Option<&str>,
        opts: &WriteOptions,
        mut mutate: F,
    ) -> Result<Written>
    where
        F: FnMut(&Value) -> Result<(Value, Vec<String>)>,
    {
        for _ in 0..MAX_RETRIES {
            let Some(current) = self.get_latest(def, namespace, name).await? else {
                return Err(ApiError::not_found(def.group, def.plural, name));
            };
            let current_rv = objects::resource_version(&current)
                .and_then(|rv| rv.parse::<i64>().ok())
                .unwrap_or(0);
            let (requested, warnings) = mutate(&current)?;
            // A uid in the body is a precondition on the stored object, as
            // upstream's storage checks it.
            let actual_uid = objects::meta_str(&current, "uid").unwrap_or("");
            if let Some(uid) = objects::meta_str(&requested, "uid").filter(|u| !u.is_empty()) {
                if uid != actual_uid {
                    let key = def.key(namespace, name);
                    return Err(ApiError::conflict(
                        def.group,
                        def.plural,
                        name,
                        &format!(
                            "StorageError: invalid object, Code: 4, Key: {key}, ResourceVersion: 0, AdditionalErrorMsg: Precondition failed: UID in precondition: {uid}, UID in object meta: {actual_uid}"
                        ),
                    ));
                }
            }
            let pinned = objects::resource_version(&requested).map(str::to_string);
            if let Some(rv) = &pinned {
                if rv.parse::<i64>().ok() != Some(current_rv) {
                    return Err(ApiError::modified(def.group, def.plural, name));
                }
            }
            let new =
                self.prepare_update(def, namespace, name, subresource, &current, requested, opts)?;
            if same_object(&new, &current) {
                return Ok(Written {
                    object: current,
                    warnings,
                    encoded: None,
                });
            }
            if opts.dry_run {
                return Ok(Written::unstored(new, warnings));
            }
            let key = def.key(namespace, name);
            // A terminating object whose last finalizer went away is deleted.
            let mut new = new;
            let written = if objects::is_terminating(&new)
                && objects::finalizers(&new).is_empty()
                && !namespace_finalizers_remain(def, &new)
            {
                self.store.delete(&key, Some(current_rv)).await
            } else {
                self.store
                    .update(&key, to_bytes(def, &mut new)?, current_rv)
                    .await
            };
            match written {
                Ok(kv) => {
                    self.wait_cache(kv.mod_revision).await?;
                    return Ok(self.stored(def, namespace, name, new, kv.mod_revision, warnings));
                }
                Err(StoreError::Conflict { .. }) if pinned.is_none() => continue,
                Err(StoreError::Conflict { .. }) => {
                    return Err(ApiError::modified(def.group, def.plural, name))
                }
                Err(StoreError::NotFound { .. }) => {
                    return Err(ApiError::not_found(def.group, def.plural, name))
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(ApiError::modified(def.group, def.plural, name))
    }

    /// Applies the update strategy: keeps what the caller may not change,
    /// bumps generation, validates and records field ownership.
    #[allow(clippy::too_many_arguments)]
    fn prepare_update(
        &self,
        def: &'static ResourceDef,
        namespace: Option<&str>,
        name: &str,
        subresource: Option<&str>,
        current: &Value,
        requested: Value,
        opts: &WriteOptions,
    ) -> Result<Value> {
        let mut new = requested;
        if objects::name(&new).is_empty() {
            meta_mut(&mut new).insert("name".into(), json!(name));
        }
        if objects::name(&new) != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({}) does not match the name on the URL ({name})",
                objects::name(&new)
            )));
        }
        self.validate_namespace(def, namespace, &mut new)?;
        let mut new = match subresource {
            Some("status") => {
                // Only status changes through /status.
                let mut merged = current.clone();
                merged["status"] = new.get("status").cloned().unwrap_or(json!({}));
                merged
            }
            _ => {
                bosun_api::defaults::apply_defaults(def.group, def.kind, &mut new);
                if subresource.is_none() {
                    priority::keep_on_update(def, &mut new, current);
                }
                // A Namespace's spec.finalizers change only through
                // `namespaces/{name}/finalize`.
                if def.kind == "Namespace"
                    && def.group.is_empty()
                    && subresource != Some("finalize")
                {
                    match current["spec"].get("finalizers") {
                        Some(f) => new["spec"]["finalizers"] = f.clone(),
                        None => {
                            if let Some(spec) = new.get_mut("spec").and_then(Value::as_object_mut) {
                                spec.remove("finalizers");
                            }
                        }
                    }
                }
                // A binding writes spec.nodeName and the PodScheduled
                // condition together, as upstream's binding registry does.
                if def.has_status() && subresource != Some("binding") {
                    match current.get("status") {
                        Some(s) => new["status"] = s.clone(),
                        None => {
                            if let Some(m) = new.as_object_mut() {
                                m.remove("status");
                            }
                        }
                    }
                }
                new
            }
        };
        {
            let old_meta = objects::meta(current).cloned().unwrap_or_default();
            let m = meta_mut(&mut new);
            for field in [
                "uid",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "generation",
                "namespace",
            ] {
                match old_meta.get(field) {
                    Some(v) => {
                        m.insert(field.into(), v.clone());
                    }
                    None => {
                        m.remove(field);
                    }
                }
            }
            m.remove("selfLink");
        }
        if def.tracks_generation && objects::spec_part(&new) != objects::spec_part(current) {
            let generation = current["metadata"]["generation"].as_i64().unwrap_or(0) + 1;
            meta_mut(&mut new).insert("generation".into(), json!(generation));
        }
        if subresource.is_none() {
            admission::daemon_set_template_generation(def, &mut new, Some(current));
        }
        if objects::is_terminating(current) {
            // Finalizers may be removed but not added once deletion began.
            let old: Vec<String> = objects::finalizers(current);
            let added: Vec<String> = objects::finalizers(&new)
                .into_iter()
                .filter(|f| !old.contains(f))
                .collect();
            if !added.is_empty() {
                return Err(ApiError::invalid(
                    def.group,
                    def.kind,
                    name,
                    &[bosun_api::validation::FieldError::forbidden(
                        "metadata.finalizers",
                        format!("no new finalizers can be added if the object is being deleted, found new finalizers []string{{\"{}\"}}", added.join("\", \"")),
                    )],
                ));
            }
        }
        // A binding only sets spec.nodeName, which pod updates may not
        // change; upstream writes it without the update strategy or field
        // manager.
        if subresource == Some("binding") {
            return Ok(new);
        }
        let errors = bosun_api::validation::validate_update(def.group, def.kind, &new, current);
        if !errors.is_empty() {
            return Err(ApiError::invalid(def.group, def.kind, name, &errors));
        }
        if subresource.is_none() {
            priority::validate_class(&self.cache.read(), def, &new, false)?;
        }
        if opts.managed_fields_done {
            return Ok(new);
        }
        let ctx = bosun_patch::FieldManagerContext {
            manager: &opts.field_manager,
            group: def.group,
            kind: def.kind,
            now: &objects::now_rfc3339(),
            subresource: subresource.unwrap_or(""),
        };
        Ok(bosun_patch::update_with(&ctx, Some(current), new, "Update"))
    }

    /// Deletes an object, honouring finalizers, propagation and pods'
    /// graceful deletion. Returns the object and whether it is gone now.
    pub async fn delete(
        &self,
        def: &'static ResourceDef,
        namespace: Option<&str>,
        name: &str,
        opts: &DeleteOptions,
    ) -> Result<(Arc<Value>, bool)> {
        for _ in 0..MAX_RETRIES {
            let Some(current) = self.get_latest(def, namespace, name).await? else {
                return Err(ApiError::not_found(def.group, def.plural, name));
            };
            let current_rv = objects::resource_version(&current)
                .and_then(|rv| rv.parse::<i64>().ok())
                .unwrap_or(0);
            if let Some(uid) = &opts.precondition_uid {
                let actual = objects::meta_str(&current, "uid").unwrap_or("");
                if uid != actual {
                    return Err(ApiError::conflict(
                        def.group,
                        def.plural,
                        name,
                        &format!("Precondition failed: UID in precondition: {uid}, UID in object meta: {actual}"),
                    ));
                }
            }
            if let Some(rv) = &opts.precondition_resource_version {
                if rv.parse::<i64>().ok() != Some(current_rv) {
                    return Err(ApiError::conflict(
                        def.group,
                        def.plural,
                        name,
                        &format!("Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {current_rv}"),
                    ));
                }
            }
            let finalizers =
                gc_finalizers(objects::finalizers(&current), opts.propagation.as_deref());
            let mut changed = finalizers != objects::finalizers(&current);
            let namespace_finalizers = namespace_finalizers_remain(def, &current);
            if namespace_finalizers && objects::is_terminating(&current) {
                // Upstream's answer to deleting a namespace again while it
                // is being emptied.
                return Err(ApiError::conflict(
                    def.group,
                    def.plural,
                    name,
                    "The system is ensuring all content is removed from this namespace.  Upon completion, this namespace will automatically be purged by the system.",
                ));
            }
            let graceful = if def.kind == "Pod" && def.group.is_empty() {
                pod_needs_grace(&current, opts)
            } else {
                None
            };
            let must_wait = !finalizers.is_empty() || graceful.is_some() || namespace_finalizers;
            if must_wait {
                let mut updated: Value = (*current).clone();
                if namespace_finalizers && !objects::is_terminating(&updated) {
                    updated["status"]["phase"] = json!("Terminating");
                    changed = true;
                }
                objects::set_finalizers(&mut updated, finalizers);
                let m = meta_mut(&mut updated);
                if !m.contains_key("deletionTimestamp") {
                    let grace = graceful.unwrap_or(0);
                    m.insert(
                        "deletionTimestamp".into(),
                        json!(objects::rfc3339_after(grace)),
                    );
                    m.insert("deletionGracePeriodSeconds".into(), json!(grace));
                    changed = true;
                } else if let Some(grace) = graceful {
                    // A shorter grace period than the pending one wins.
                    let pending = m
                        .get("deletionGracePeriodSeconds")
                        .and_then(Value::as_i64)
                        .unwrap_or(i64::MAX);
                    if grace < pending {
                        m.insert(
                            "deletionTimestamp".into(),
                            json!(objects::rfc3339_after(grace)),
                        );
                        m.insert("deletionGracePeriodSeconds".into(), json!(grace));
                        changed = true;
                    }
                }
                if opts.dry_run || !changed {
                    return Ok((Arc::new(updated), false));
                }
                let key = def.key(namespace, name);
                match self
                    .store
                    .update(&key, to_bytes(def, &mut updated)?, current_rv)
                    .await
                {
                    Ok(kv) => {
                        self.wait_cache(kv.mod_revision).await?;
                        return Ok((Arc::new(with_revision(updated, kv.mod_revision)), false));
                    }
                    Err(StoreError::Conflict { .. }) => continue,
                    Err(StoreError::NotFound { .. }) => {
                        return Err(ApiError::not_found(def.group, def.plural, name))
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            if opts.dry_run {
                return Ok((current, true));
            }
            let key = def.key(namespace, name);
            match self.store.delete(&key, Some(current_rv)).await {
                Ok(kv) => {
                    self.wait_cache(kv.mod_revision).await?;
                    return Ok((current, true));
                }
                Err(StoreError::Conflict { .. }) => continue,
                Err(StoreError::NotFound { .. }) => {
                    return Err(ApiError::not_found(def.group, def.plural, name))
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(ApiError::modified(def.group, def.plural, name))
    }
}

/// The garbage-collection finalizers a DELETE leaves on an object, as
/// upstream's generic registry: an explicit policy sets `orphan` (Orphan),
/// `foregroundDeletion` (Foreground) or neither (Background), dropping the
/// other; no policy keeps whichever the object already carries. Every
/// served kind defaults to background deletion (upstream orphans by
/// default only in the retired extensions/v1beta1 and apps/v1beta1/2
/// versions, which are not served).
fn gc_finalizers(mut finalizers: Vec<String>, propagation: Option<&str>) -> Vec<String> {
    const ORPHAN: &str = "orphan";
    const FOREGROUND: &str = "foregroundDeletion";
    let (orphan, foreground) = match propagation {
        Some("Orphan") => (true, false),
        Some("Foreground") => (false, true),
        Some(_) => (false, false),
        None => return finalizers,
    };
    finalizers.retain(|f| f != ORPHAN && f != FOREGROUND);
    if orphan {
        finalizers.push(ORPHAN.into());
    }
    if foreground {
        finalizers.push(FOREGROUND.into());
    }
    finalizers
}

/// A terminating Namespace stays while `spec.finalizers` lists anything:
/// only the namespace controller's `finalize` call empties it.
fn namespace_finalizers_remain(def: &ResourceDef, obj: &Value) -> bool {
    def.kind == "Namespace"
        && def.group.is_empty()
        && obj["spec"]["finalizers"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
}

/// The grace period a pod deletion must wait for, if any: only pods bound
/// to a node and not yet finished wait for the node agent.
fn pod_needs_grace(pod: &Value, opts: &DeleteOptions) -> Option<i64> {
    let bound = pod["spec"]["nodeName"]
        .as_str()
        .is_some_and(|n| !n.is_empty());
    let finished = matches!(
        pod["status"]["phase"].as_str(),
        Some("Succeeded") | Some("Failed")
    );
    let grace = opts
        .grace_period_seconds
        .or_else(|| pod["spec"]["terminationGracePeriodSeconds"].as_i64())
        .unwrap_or(30);
    if bound && !finished && grace > 0 {
        Some(grace)
    } else {
        None
    }
}

/// Equal apart from resourceVersion and managedFields timestamps: an update
/// that changes nothing is not written (upstream skips no-op updates).
/// Whether an update changes nothing but the resourceVersion and the
/// times in managedFields (a no-op write is not stored, as upstream).
fn same_object(new: &Value, current: &Value) -> bool {
    let (Value::Object(a), Value::Object(b)) = (new, current) else {
        return new == current;
    };
    same_members(a, b, &[], |key, x, y| {
        if key != "metadata" {
            return x == y;
        }
        match (x, y) {
            (Value::Object(x), Value::Object(y)) => {
                same_members(x, y, &["resourceVersion"], |key, x, y| {
                    if key == "managedFields" {
                        same_managed_fields(x, y)
                    } else {
                        x == y
                    }
                })
            }
            _ => x == y,
        }
    })
}

/// Compares two maps member by member, skipping `ignored` keys, with `eq`
/// deciding each pair.
fn same_members(
    a: &Map<String, Value>,
    b: &Map<String, Value>,
    ignored: &[&str],
    eq: impl Fn(&str, &Value, &Value) -> bool,
) -> bool {
    let counted =
        |m: &Map<String, Value>| m.keys().filter(|k| !ignored.contains(&k.as_str())).count();
    counted(a) == counted(b)
        && a.iter()
            .filter(|(k, _)| !ignored.contains(&k.as_str()))
            .all(|(k, x)| b.get(k).is_some_and(|y| eq(k, x, y)))
}

/// managedFields entries equal but for their `time`.
fn same_managed_fields(x: &Value, y: &Value) -> bool {
    match (x, y) {
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len()
                && x.iter().zip(y).all(|(e, f)| match (e, f) {
                    (Value::Object(e), Value::Object(f)) => {
                        same_members(e, f, &["time"], |_, a, b| a == b)
                    }
                    _ => e == f,
                })
        }
        _ => x == y,
    }
}

impl ApiError {
    fn with_kind_mismatch(self, got: &str, want: &str) -> Self {
        if got != want {
            ApiError::bad_request(format!(
                "the kind in the data ({got}) does not match the expected kind ({want})"
            ))
        } else {
            self
        }
    }

    fn with_reason(mut self, reason: &'static str) -> Self {
        self.reason = reason;
        self
    }
}

/// Builds a `Map` from pairs (helper for tests and callers).
pub fn map(pairs: &[(&str, Value)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

/// [`Rest::decode`] for a write to `/status`, which keeps only the
/// request's metadata and status (see `prepare_update`): the rest of the
/// object, a pod's spec above all, is not decoded. Kinds whose schema
/// requires more (a CustomResourceDefinition's spec) are decoded whole, and
/// so are bodies that fail either way, for the same error.
pub fn decode_status(
    def: &ResourceDef,
    body: Value,
    validation: FieldValidation,
    warnings: &mut Vec<String>,
) -> Result<Value> {
    const KEPT: [&str; 4] = ["apiVersion", "kind", "metadata", "status"];
    let mut map = match body {
        Value::Object(map) => map,
        mut other => return decode_object(def, &mut other, validation, warnings),
    };
    let order: Vec<String> = map.keys().cloned().collect();
    let mut dropped: serde_json::Map<String, Value> = serde_json::Map::new();
    for key in order.iter().filter(|k| !KEPT.contains(&k.as_str())) {
        if let Some(v) = map.remove(key) {
            dropped.insert(key.clone(), v);
        }
    }
    let mut body = Value::Object(map);
    let mut trimmed_warnings = Vec::new();
    match decode_object(def, &mut body, validation, &mut trimmed_warnings) {
        Ok(decoded) => {
            warnings.extend(trimmed_warnings);
            Ok(decoded)
        }
        Err(_) if !dropped.is_empty() => {
            // The whole body again, in its order (errors list fields so).
            let mut kept = match body {
                Value::Object(map) => map,
                _ => serde_json::Map::new(),
            };
            let mut whole: Value = order
                .into_iter()
                .filter_map(|k| {
                    let v = dropped.remove(&k).or_else(|| kept.remove(&k))?;
                    Some((k, v))
                })
                .collect::<serde_json::Map<_, _>>()
                .into();
            decode_object(def, &mut whole, validation, warnings)
        }
        Err(e) => Err(e),
    }
}

/// [`Rest::decode`] on a borrowed body.
fn decode_object(
    def: &ResourceDef,
    body: &mut Value,
    validation: FieldValidation,
    warnings: &mut Vec<String>,
) -> Result<Value> {
    if !body.is_object() {
        return Err(ApiError::bad_request(format!(
            "the body of the request is not a {} object",
            def.kind
        )));
    }
    // Upstream decodes with the URL's group, version and kind as
    // defaults, so a body may leave out apiVersion and kind.
    let kind = body
        .get("kind")
        .and_then(Value::as_str)
        .filter(|k| !k.is_empty())
        .unwrap_or(def.kind);
    let api_version = body.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    if kind != def.kind || (!api_version.is_empty() && api_version != def.api_version()) {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({api_version}) does not match the expected API version ({})",
            def.api_version()
        ))
        .with_kind_mismatch(kind, def.kind));
    }
    body["apiVersion"] = json!(def.api_version());
    body["kind"] = json!(def.kind);
    let decoded = (def.round_trip)(body).map_err(|e| {
        ApiError::bad_request(format!(
            "{} in version \"{}\" cannot be handled as a {}: {e}",
            def.kind, def.version, def.kind
        ))
    })?;
    let mut unknown = Vec::new();
    unknown_fields(body, &decoded, "", &mut unknown);
    let mut decoded = decoded;
    objects::drop_empty_meta(&mut decoded);
    if !unknown.is_empty() {
        match validation {
            FieldValidation::Strict => {
                let listed: Vec<String> = unknown
                    .iter()
                    .map(|f| format!("unknown field \"{f}\""))
                    .collect();
                return Err(ApiError::bad_request(format!(
                    "{} in version \"{}\" cannot be handled as a {}: strict decoding error: {}",
                    def.kind,
                    def.version,
                    def.kind,
                    listed.join(", ")
                )));
            }
            FieldValidation::Warn => {
                warnings.extend(unknown.iter().map(|f| format!("unknown field \"{f}\"")));
            }
            FieldValidation::Ignore => {}
        }
    }
    Ok(decoded)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn rest_with_namespace(ns: &str) -> Rest {
        let store: Arc<dyn Store> = Arc::new(bosun_store::MemStore::new());
        let def = bosun_api::registry::lookup("", "v1", "namespaces").expect("namespaces");
        let obj = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
        store
            .create(&def.key(None, ns), Bytes::from(obj.to_string()))
            .await
            .expect("namespace");
        let cache = WatchCache::start(store.clone()).await.expect("cache");
        Rest::new(store, cache)
    }

    fn generated_configmap() -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "cm-"}})
    }

    #[tokio::test]
    async fn a_taken_generated_name_is_generated_again() {
        let rest = rest_with_namespace("n").await;
        let def = bosun_api::registry::lookup("", "v1", "configmaps").expect("configmaps");
        let opts = WriteOptions {
            dry_run: false,
            field_manager: "test".into(),
            validation: FieldValidation::Strict,
            managed_fields_done: false,
        };
        objects::force_next_suffixes(&["bbbbb"]);
        let first = rest
            .create(def, Some("n"), generated_configmap(), &opts, false)
            .await
            .expect("first");
        assert_eq!(objects::name(&first.object), "cm-bbbbb");
        objects::force_next_suffixes(&["bbbbb", "bbbbb", "ccccc"]);
        let second = rest
            .create(def, Some("n"), generated_configmap(), &opts, false)
            .await
            .expect("second");
        assert_eq!(objects::name(&second.object), "cm-ccccc");
        // Eight taken names in a row: upstream's 409 with a retry hint.
        objects::force_next_suffixes(&["bbbbb"; 8]);
        let err = rest
            .create(def, Some("n"), generated_configmap(), &opts, false)
            .await
            .expect_err("every name taken");
        assert_eq!((err.code, err.reason), (409, "AlreadyExists"));
        assert!(err.message.contains("not able to generate a unique name"));
        assert_eq!(
            err.details.as_ref().map(|d| d["retryAfterSeconds"].clone()),
            Some(json!(1))
        );
        // A name the client chose is not replaced.
        let named =
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm-bbbbb"}});
        let err = rest
            .create(def, Some("n"), named, &opts, false)
            .await
            .expect_err("taken");
        assert_eq!(err.message, "configmaps \"cm-bbbbb\" already exists");
        // Chosen beside a generateName, it reads as upstream's conflict.
        let both = json!({"apiVersion": "v1", "kind": "ConfigMap",
                          "metadata": {"name": "cm-bbbbb", "generateName": "cm-"}});
        let err = rest
            .create(def, Some("n"), both, &opts, false)
            .await
            .expect_err("taken");
        assert!(err.message.contains("not able to generate a unique name"));
        let response = axum::response::IntoResponse::into_response(err);
        assert_eq!(response.headers()[http::header::RETRY_AFTER], "1");
    }

    #[test]
    fn propagation_policy_sets_gc_finalizers_as_upstream() {
        let f = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            gc_finalizers(f(&["x/y"]), Some("Orphan")),
            f(&["x/y", "orphan"])
        );
        assert_eq!(
            gc_finalizers(f(&["orphan"]), Some("Foreground")),
            f(&["foregroundDeletion"])
        );
        assert_eq!(
            gc_finalizers(f(&["foregroundDeletion", "x/y"]), Some("Background")),
            f(&["x/y"])
        );
        // No policy: whatever the object carries stays.
        assert_eq!(gc_finalizers(f(&["orphan"]), None), f(&["orphan"]));
        assert_eq!(gc_finalizers(f(&[]), None), f(&[]));
    }

    fn cm(rv: &str, time: &str, data: &str) -> Value {
        json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": "a",
                "resourceVersion": rv,
                "managedFields": [{"manager": "m", "operation": "Update", "time": time}],
            },
            "data": {"k": data},
        })
    }

    #[test]
    fn same_object_ignores_version_and_managed_times_only() {
        let base = cm("1", "2026-01-01T00:00:00Z", "v");
        assert!(same_object(&cm("2", "2026-01-02T00:00:00Z", "v"), &base));
        assert!(!same_object(&cm("1", "2026-01-01T00:00:00Z", "w"), &base));
        let mut extra = base.clone();
        extra["metadata"]["labels"] = json!({"x": "y"});
        assert!(!same_object(&extra, &base));
        assert!(!same_object(&base, &extra));
        let mut other_manager = base.clone();
        other_manager["metadata"]["managedFields"][0]["manager"] = json!("n");
        assert!(!same_object(&other_manager, &base));
    }

    #[test]
    fn status_writes_decode_only_metadata_and_status() {
        let pods = bosun_api::registry::lookup("", "v1", "pods").expect("pods");
        let body = json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "c", "image": "i", "bogus": 1}]},
            "status": {"phase": "Running"},
        });
        let mut warnings = Vec::new();
        let decoded = decode_status(pods, body.clone(), FieldValidation::Strict, &mut warnings)
            .expect("the spec is not decoded");
        assert_eq!(decoded["status"]["phase"], "Running");
        assert!(decoded.get("spec").is_none());
        assert!(warnings.is_empty());

        // A bad status fails as the whole decode fails.
        let mut bad = body;
        bad["status"]["bogus"] = json!(true);
        let whole = decode_object(
            pods,
            &mut bad.clone(),
            FieldValidation::Strict,
            &mut Vec::new(),
        )
        .expect_err("strict");
        let status_only =
            decode_status(pods, bad, FieldValidation::Strict, &mut Vec::new()).expect_err("strict");
        assert_eq!(status_only.to_string(), whole.to_string());
    }

    #[test]
    fn status_writes_of_kinds_that_require_a_spec_decode_whole() {
        // No served kind requires a spec today; custom resources may.
        fn spec_required(v: &Value) -> std::result::Result<Value, serde_json::Error> {
            #[derive(serde::Deserialize, serde::Serialize)]
            #[serde(rename_all = "camelCase")]
            struct Widget {
                api_version: String,
                kind: String,
                metadata: Value,
                spec: Value,
                status: Value,
            }
            serde_json::to_value(<Widget as serde::Deserialize>::deserialize(v)?)
        }
        let pods = bosun_api::registry::lookup("", "v1", "pods").expect("pods");
        let widgets = ResourceDef {
            group: "",
            version: "v1",
            kind: "Widget",
            plural: "widgets",
            singular: "widget",
            round_trip: spec_required,
            ..*pods
        };
        let body = json!({
            "apiVersion": "v1",
            "kind": "Widget",
            "metadata": {"name": "w"},
            "spec": {"size": 3},
            "status": {"ready": true},
        });
        let decoded = decode_status(&widgets, body, FieldValidation::Strict, &mut Vec::new())
            .expect("falls back to the whole object");
        assert_eq!(decoded["spec"]["size"], 3);
        assert_eq!(decoded["status"]["ready"], true);
    }
}
