//! An in-memory API server behind `kube::Client` (upstream's fake
//! clientset: an object tracker plus recorded actions).
//!
//! It serves the requests controllers and their informers send: get,
//! list, watch (JSON lines of every change after the requested
//! resourceVersion), create, update and the status subresource, patch
//! (merge, JSON and strategic merge) and delete, with the Kubernetes
//! semantics the controllers rely on: resourceVersion and uid
//! preconditions (409), AlreadyExists, generateName, generation bumped on
//! spec changes, finalizers turning a delete into a deletionTimestamp, and
//! errors as `Status` bodies so controllers see `kube::Error::Api`.
//! Anything else is out of scope (no admission, no validation, no garbage
//! collection, no defaulting).
//!
//! Tests seed and mutate objects directly ([`FakeApi::add`],
//! [`FakeApi::modify`]); those writes are not recorded as actions, so
//! [`FakeApi::actions`] holds exactly what the controllers did.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use http::{Method, Request, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use kube::Resource;
use parking_lot::Mutex;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};
use tokio::sync::broadcast;
use tokio::time::Instant;

pub type Body = UnsyncBoxBody<Bytes, Infallible>;

/// How long every request takes.
const ROUND_TRIP: Duration = Duration::from_millis(1);

/// One mutating request a controller sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    /// `create`, `update`, `patch` or `delete`.
    pub verb: &'static str,
    /// The plural resource, with `/status` for the subresource.
    pub resource: String,
    pub namespace: String,
    pub name: String,
}

#[derive(Clone)]
struct WatchEvent {
    rv: u64,
    at: Instant,
    /// `group/version/plural` (`v1/pods` for the core group).
    resource: String,
    namespace: String,
    type_: &'static str,
    object: Value,
}

type Objects = BTreeMap<(String, String), Value>;

#[derive(Default)]
struct State {
    rv: u64,
    uids: u64,
    objects: BTreeMap<String, Objects>,
    history: Vec<WatchEvent>,
    actions: Vec<Action>,
    /// Per plural resource: how late watch events are delivered.
    watch_delay: BTreeMap<String, Duration>,
}

/// The object tracker; clones share it.
#[derive(Clone)]
pub struct FakeApi {
    state: Arc<Mutex<State>>,
    events: broadcast::Sender<WatchEvent>,
}

/// A failed request, answered as a `Status` body.
struct Failure {
    code: u16,
    reason: &'static str,
    message: String,
}

fn failure(code: u16, reason: &'static str, message: impl Into<String>) -> Failure {
    Failure {
        code,
        reason,
        message: message.into(),
    }
}

/// What a request's path names.
struct Target {
    /// `group/version/plural`.
    key: String,
    group: String,
    plural: String,
    namespace: Option<String>,
    name: Option<String>,
    sub: Option<String>,
}

impl Target {
    fn parse(path: &str) -> Option<Target> {
        let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
        let (group, gv, rest) = match segs.as_slice() {
            ["api", v, rest @ ..] => (String::new(), v.to_string(), rest),
            ["apis", g, v, rest @ ..] => (g.to_string(), format!("{g}/{v}"), rest),
            _ => return None,
        };
        let (namespace, rest) = match rest {
            ["namespaces", ns, plural, more @ ..]
                if *plural != "status" && *plural != "finalize" =>
            {
                (Some(ns.to_string()), [&[*plural][..], more].concat())
            }
            _ => (None, rest.to_vec()),
        };
        let plural = rest.first()?.to_string();
        Some(Target {
            key: format!("{gv}/{plural}"),
            group,
            namespace,
            name: rest.get(1).map(|s| s.to_string()),
            sub: rest.get(2).map(|s| s.to_string()),
            plural,
        })
    }

    fn action_resource(&self) -> String {
        match &self.sub {
            Some(s) => format!("{}/{s}", self.plural),
            None => self.plural.clone(),
        }
    }
}

/// Kinds whose status is written only through the status subresource.
fn has_status_subresource(plural: &str) -> bool {
    matches!(
        plural,
        "pods"
            | "nodes"
            | "namespaces"
            | "services"
            | "persistentvolumeclaims"
            | "replicasets"
            | "deployments"
            | "statefulsets"
            | "daemonsets"
            | "jobs"
            | "cronjobs"
            | "poddisruptionbudgets"
            | "resourcequotas"
    )
}

fn resource_key<K: Resource<DynamicType = ()>>() -> String {
    format!("{}/{}", K::api_version(&()), K::plural(&()))
}

fn timestamp() -> String {
    crate::clock::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn meta_str<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    obj.pointer(&format!("/metadata/{field}"))
        .and_then(Value::as_str)
}

fn set_meta(obj: &mut Value, field: &str, value: Value) {
    if !obj.get("metadata").is_some_and(Value::is_object) {
        obj["metadata"] = json!({});
    }
    obj["metadata"][field] = value;
}

fn has_finalizers(obj: &Value) -> bool {
    obj.pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .is_some_and(|f| !f.is_empty())
}

/// RFC 7386 JSON merge patch.
fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = json!({});
    }
    if let Value::Object(t) = target {
        for (k, v) in p {
            if v.is_null() {
                t.remove(k);
            } else {
                merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
    }
}

impl Default for FakeApi {
    fn default() -> Self {
        Self::new()
    }
}

impl FakeApi {
    pub fn new() -> Self {
        FakeApi {
            state: Arc::new(Mutex::new(State::default())),
            events: broadcast::channel(1 << 16).0,
        }
    }

    /// A client whose every request this fake answers.
    pub fn client(&self) -> kube::Client {
        let api = self.clone();
        let service = tower::service_fn(move |req: Request<kube::client::Body>| {
            let api = api.clone();
            async move { Ok::<_, Infallible>(api.handle(req).await) }
        });
        kube::Client::new(service, "default")
    }

    /// Delays the delivery of watch events of `resource` (plural, e.g.
    /// `pods`) by `delay`: that informer lags behind the writes.
    pub fn set_watch_delay(&self, resource: &str, delay: Duration) {
        self.state
            .lock()
            .watch_delay
            .insert(resource.to_string(), delay);
    }

    /// The mutating requests controllers sent so far.
    pub fn actions(&self) -> Vec<Action> {
        self.state.lock().actions.clone()
    }

    /// The recorded actions with `verb` on `resource`.
    pub fn actions_on(&self, verb: &str, resource: &str) -> Vec<Action> {
        self.actions()
            .into_iter()
            .filter(|a| a.verb == verb && a.resource == resource)
            .collect()
    }

    pub fn clear_actions(&self) {
        self.state.lock().actions.clear();
    }

    /// Seeds `obj` as if created through the API (uid, resourceVersion,
    /// creationTimestamp, generateName filled in).
    pub fn add<K>(&self, obj: &K) -> K
    where
        K: Resource<DynamicType = ()> + Serialize + DeserializeOwned,
    {
        let value = serde_json::to_value(obj).expect("serializable object");
        let ns = obj.meta().namespace.clone();
        let created = self
            .state
            .lock()
            .create(&self.events, &resource_key::<K>(), ns, value, false)
            .unwrap_or_else(|f| panic!("seeding failed: {} {}", f.code, f.message));
        serde_json::from_value(created).expect("typed object")
    }

    pub fn get<K>(&self, namespace: &str, name: &str) -> Option<K>
    where
        K: Resource<DynamicType = ()> + DeserializeOwned,
    {
        let s = self.state.lock();
        let v = s
            .objects
            .get(&resource_key::<K>())?
            .get(&(namespace.to_string(), name.to_string()))?;
        Some(serde_json::from_value(v.clone()).expect("typed object"))
    }

    /// Every object of kind `K` (all namespaces), ordered by namespace
    /// and name.
    pub fn list<K>(&self) -> Vec<K>
    where
        K: Resource<DynamicType = ()> + DeserializeOwned,
    {
        let s = self.state.lock();
        s.objects
            .get(&resource_key::<K>())
            .into_iter()
            .flat_map(|m| m.values())
            .map(|v| serde_json::from_value(v.clone()).expect("typed object"))
            .collect()
    }

    /// Changes an object in place (spec, status, anything), as another
    /// component would; watchers see the update.
    pub fn modify<K>(&self, namespace: &str, name: &str, change: impl FnOnce(&mut K)) -> K
    where
        K: Resource<DynamicType = ()> + Serialize + DeserializeOwned,
    {
        let key = resource_key::<K>();
        let mut s = self.state.lock();
        let current = s
            .objects
            .get(&key)
            .and_then(|m| m.get(&(namespace.to_string(), name.to_string())))
            .cloned()
            .unwrap_or_else(|| panic!("no {key} {namespace}/{name} to modify"));
        let mut obj: K = serde_json::from_value(current.clone()).expect("typed object");
        change(&mut obj);
        let new = serde_json::to_value(&obj).expect("serializable object");
        let written = s.write(&self.events, &key, namespace, name, &current, new);
        serde_json::from_value(written).expect("typed object")
    }

    /// Removes an object at once, as another component would.
    pub fn remove<K>(&self, namespace: &str, name: &str)
    where
        K: Resource<DynamicType = ()>,
    {
        let mut s = self.state.lock();
        s.remove(&self.events, &resource_key::<K>(), namespace, name);
    }

    async fn handle(&self, req: Request<kube::client::Body>) -> Response<Body> {
        // A round trip takes (paused) time, so a controller stuck in a
        // write loop lets the clock run and the test's deadline fire
        // instead of freezing time.
        tokio::time::sleep(ROUND_TRIP).await;
        let (parts, body) = req.into_parts();
        let body = match body.collect().await {
            Ok(b) => b.to_bytes(),
            Err(e) => return status_response(&failure(400, "BadRequest", e.to_string())),
        };
        let Some(target) = Target::parse(parts.uri.path()) else {
            return status_response(&failure(404, "NotFound", parts.uri.path().to_string()));
        };
        let query: BTreeMap<&str, String> = parts
            .uri
            .query()
            .unwrap_or_default()
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k, percent_decode(v)))
            .collect();
        if parts.method == Method::GET && target.name.is_none() {
            let selector = match Selector::parse(
                query.get("labelSelector").map(String::as_str),
                query.get("fieldSelector").map(String::as_str),
            ) {
                Ok(s) => s,
                Err(f) => return status_response(&f),
            };
            if query.get("watch").is_some_and(|w| w == "true" || w == "1") {
                let rv = query.get("resourceVersion").and_then(|v| v.parse().ok());
                return self.watch(&target, rv, selector);
            }
            return json_response(StatusCode::OK, &self.list_value(&target, &selector));
        }
        let content_type = parts
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let result = self.serve(&parts.method, &target, &content_type, &body);
        match result {
            Ok((code, v)) => json_response(code, &v),
            Err(f) => status_response(&f),
        }
    }

    fn serve(
        &self,
        method: &Method,
        t: &Target,
        content_type: &str,
        body: &[u8],
    ) -> Result<(StatusCode, Value), Failure> {
        let parse = || -> Result<Value, Failure> {
            serde_json::from_slice(body).map_err(|e| failure(400, "BadRequest", e.to_string()))
        };
        let ns = t.namespace.clone().unwrap_or_default();
        let mut s = self.state.lock();
        let verb = match *method {
            Method::GET => {
                let name = t.name.clone().unwrap_or_default();
                return s
                    .objects
                    .get(&t.key)
                    .and_then(|m| m.get(&(ns, name.clone())))
                    .cloned()
                    .map(|v| (StatusCode::OK, v))
                    .ok_or_else(|| not_found(t, &name));
            }
            Method::POST => "create",
            Method::PUT => "update",
            Method::PATCH => "patch",
            Method::DELETE => "delete",
            _ => return Err(failure(405, "MethodNotAllowed", method.to_string())),
        };
        let mut action = Action {
            verb,
            resource: t.action_resource(),
            namespace: ns.clone(),
            name: t.name.clone().unwrap_or_default(),
        };
        let result = match verb {
            "create" => parse().and_then(|obj| {
                if action.name.is_empty() {
                    action.name = meta_str(&obj, "name").unwrap_or_default().to_string();
                }
                s.create(&self.events, &t.key, t.namespace.clone(), obj, true)
                    .map(|v| (StatusCode::CREATED, v))
            }),
            "update" => parse().and_then(|obj| s.update(&self.events, t, obj)),
            "patch" => parse().and_then(|patch| s.patch(&self.events, t, content_type, &patch)),
            _ => {
                let opts = if body.is_empty() {
                    Ok(Value::Null)
                } else {
                    parse()
                };
                opts.and_then(|opts| s.delete(&self.events, t, &opts))
            }
        };
        if verb == "create" {
            if let Ok((_, v)) = &result {
                action.name = meta_str(v, "name").unwrap_or_default().to_string();
            }
        }
        if std::env::var_os("FAKE_API_TRACE").is_some() {
            eprintln!(
                "{action:?} -> {}",
                match &result {
                    Ok((c, _)) => c.as_u16(),
                    Err(f) => f.code,
                }
            );
        }
        s.actions.push(action);
        result
    }

    fn list_value(&self, t: &Target, selector: &Selector) -> Value {
        let s = self.state.lock();
        let items: Vec<Value> = s
            .objects
            .get(&t.key)
            .into_iter()
            .flat_map(|m| m.iter())
            .filter(|((ns, _), v)| {
                t.namespace.as_ref().is_none_or(|want| want == ns) && selector.matches(v)
            })
            .map(|(_, v)| v.clone())
            .collect();
        json!({
            "kind": "List",
            "apiVersion": "v1",
            "metadata": {"resourceVersion": s.rv.to_string()},
            "items": items,
        })
    }

    /// Streams every change of the target's kind after `rv`, then live
    /// changes, one JSON line per event.
    /// With a selector, events of objects that match it pass (no
    /// synthetic DELETED when an object stops matching).
    fn watch(&self, t: &Target, rv: Option<u64>, selector: Selector) -> Response<Body> {
        let key = t.key.clone();
        let namespace = t.namespace.clone();
        let matches = move |e: &WatchEvent| {
            e.resource == key
                && namespace.as_ref().is_none_or(|ns| *ns == e.namespace)
                && selector.matches(&e.object)
        };
        let (backlog, rx) = {
            let s = self.state.lock();
            let backlog: Vec<WatchEvent> = match rv {
                Some(rv) if rv > 0 => s
                    .history
                    .iter()
                    .filter(|e| e.rv > rv && matches(e))
                    .cloned()
                    .collect(),
                // No resourceVersion: the current objects as additions.
                _ => s
                    .objects
                    .get(&t.key)
                    .into_iter()
                    .flat_map(|m| m.iter())
                    .map(|((ns, _), v)| WatchEvent {
                        rv: s.rv,
                        at: Instant::now(),
                        resource: t.key.clone(),
                        namespace: ns.clone(),
                        type_: "ADDED",
                        object: v.clone(),
                    })
                    .filter(|e| matches(e))
                    .collect(),
            };
            (backlog, self.events.subscribe())
        };
        // A watcher that falls behind (lagged) ends; the informer relists.
        let live =
            futures::stream::unfold(
                rx,
                |mut rx| async move { rx.recv().await.ok().map(|e| (e, rx)) },
            )
            .filter(move |e| futures::future::ready(matches(e)));
        let state = self.state.clone();
        let lines = futures::stream::iter(backlog).chain(live).then(move |e| {
            let plural = e.resource.rsplit('/').next().unwrap_or_default();
            let delay = state
                .lock()
                .watch_delay
                .get(plural)
                .copied()
                .unwrap_or_default();
            async move {
                if !delay.is_zero() {
                    tokio::time::sleep_until(e.at + delay).await;
                }
                let mut line = serde_json::to_vec(&json!({"type": e.type_, "object": e.object}))
                    .unwrap_or_default();
                line.push(b'\n');
                Ok::<_, Infallible>(http_body::Frame::data(Bytes::from(line)))
            }
        });
        Response::builder()
            .status(StatusCode::OK)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(StreamBody::new(lines).boxed_unsync())
            .unwrap_or_else(|_| Response::new(Full::new(Bytes::new()).boxed_unsync()))
    }
}

/// Decodes `%XX` escapes and `+` of a query value.
fn percent_decode(v: &str) -> String {
    let bytes = v.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Equality-based label and field selectors (`k=v`, `k==v`, `k!=v`;
/// fields `metadata.name` and `metadata.namespace`); anything else is
/// refused rather than ignored.
#[derive(Clone, Default)]
struct Selector {
    /// (JSON pointer, value, equal).
    terms: Vec<(String, String, bool)>,
}

impl Selector {
    fn parse(labels: Option<&str>, fields: Option<&str>) -> Result<Selector, Failure> {
        let mut terms = Vec::new();
        let split = |term: &str| -> Result<(String, String, bool), Failure> {
            let (k, v, eq) = if let Some((k, v)) = term.split_once("!=") {
                (k, v, false)
            } else if let Some((k, v)) = term.split_once("==") {
                (k, v, true)
            } else if let Some((k, v)) = term.split_once('=') {
                (k, v, true)
            } else {
                return Err(failure(
                    400,
                    "BadRequest",
                    format!("unsupported selector {term:?}"),
                ));
            };
            Ok((k.trim().to_string(), v.trim().to_string(), eq))
        };
        for term in labels
            .unwrap_or_default()
            .split(',')
            .filter(|t| !t.is_empty())
        {
            let (k, v, eq) = split(term)?;
            let escaped = k.replace('~', "~0").replace('/', "~1");
            terms.push((format!("/metadata/labels/{escaped}"), v, eq));
        }
        for term in fields
            .unwrap_or_default()
            .split(',')
            .filter(|t| !t.is_empty())
        {
            let (k, v, eq) = split(term)?;
            let pointer = match k.as_str() {
                "metadata.name" => "/metadata/name",
                "metadata.namespace" => "/metadata/namespace",
                _ => {
                    return Err(failure(
                        400,
                        "BadRequest",
                        format!("unsupported field {k:?}"),
                    ))
                }
            };
            terms.push((pointer.to_string(), v, eq));
        }
        Ok(Selector { terms })
    }

    fn matches(&self, obj: &Value) -> bool {
        self.terms.iter().all(|(pointer, want, eq)| {
            let have = obj
                .pointer(pointer)
                .and_then(Value::as_str)
                .unwrap_or_default();
            (have == want) == *eq
        })
    }
}

fn not_found(t: &Target, name: &str) -> Failure {
    failure(
        404,
        "NotFound",
        format!("{} \"{name}\" not found", t.plural),
    )
}

fn conflict(message: impl Into<String>) -> Failure {
    failure(409, "Conflict", message)
}

impl State {
    fn emit(
        &mut self,
        events: &broadcast::Sender<WatchEvent>,
        key: &str,
        ns: &str,
        type_: &'static str,
        object: Value,
    ) {
        let e = WatchEvent {
            rv: self.rv,
            at: Instant::now(),
            resource: key.to_string(),
            namespace: ns.to_string(),
            type_,
            object,
        };
        self.history.push(e.clone());
        let _ = events.send(e);
    }

    fn next_rv(&mut self) -> String {
        self.rv += 1;
        self.rv.to_string()
    }

    fn create(
        &mut self,
        events: &broadcast::Sender<WatchEvent>,
        key: &str,
        namespace: Option<String>,
        mut obj: Value,
        through_api: bool,
    ) -> Result<Value, Failure> {
        let ns = namespace.unwrap_or_default();
        let name = match meta_str(&obj, "name").filter(|n| !n.is_empty()) {
            Some(n) => n.to_string(),
            None => match meta_str(&obj, "generateName") {
                Some(prefix) => {
                    self.uids += 1;
                    format!("{prefix}{:05x}", self.uids)
                }
                None => return Err(failure(422, "Invalid", "name or generateName is required")),
            },
        };
        if self
            .objects
            .get(key)
            .is_some_and(|m| m.contains_key(&(ns.clone(), name.clone())))
        {
            let plural = key.rsplit('/').next().unwrap_or(key);
            return Err(failure(
                409,
                "AlreadyExists",
                format!("{plural} \"{name}\" already exists"),
            ));
        }
        self.uids += 1;
        set_meta(&mut obj, "name", json!(name));
        if !ns.is_empty() {
            set_meta(&mut obj, "namespace", json!(ns));
        }
        set_meta(&mut obj, "uid", json!(format!("uid-{:08}", self.uids)));
        if through_api || meta_str(&obj, "creationTimestamp").is_none() {
            set_meta(&mut obj, "creationTimestamp", json!(timestamp()));
        }
        set_meta(&mut obj, "generation", json!(1));
        let rv = self.next_rv();
        set_meta(&mut obj, "resourceVersion", json!(rv));
        let plural = key.rsplit('/').next().unwrap_or(key);
        if through_api {
            if let Some(m) = obj["metadata"].as_object_mut() {
                m.remove("deletionTimestamp");
            }
            if has_status_subresource(plural) {
                if let Some(o) = obj.as_object_mut() {
                    o.remove("status");
                }
            }
            if plural == "pods" {
                obj["status"] = json!({"phase": "Pending"});
            }
        }
        self.objects
            .entry(key.to_string())
            .or_default()
            .insert((ns.clone(), name), obj.clone());
        self.emit(events, key, &ns, "ADDED", obj.clone());
        Ok(obj)
    }

    fn current(&self, t: &Target) -> Result<Value, Failure> {
        let name = t.name.clone().unwrap_or_default();
        self.objects
            .get(&t.key)
            .and_then(|m| m.get(&(t.namespace.clone().unwrap_or_default(), name.clone())))
            .cloned()
            .ok_or_else(|| not_found(t, &name))
    }

    /// Stores `new` in place of `current`: identity and deletion state
    /// stay, generation follows spec changes, a no-op write changes
    /// nothing, and an object being deleted whose last finalizer went
    /// away is removed.
    fn write(
        &mut self,
        events: &broadcast::Sender<WatchEvent>,
        key: &str,
        ns: &str,
        name: &str,
        current: &Value,
        mut new: Value,
    ) -> Value {
        for field in [
            "name",
            "namespace",
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
            "resourceVersion",
        ] {
            match current.pointer(&format!("/metadata/{field}")) {
                Some(v) => set_meta(&mut new, field, v.clone()),
                None => {
                    if let Some(m) = new.get_mut("metadata").and_then(Value::as_object_mut) {
                        m.remove(field);
                    }
                }
            }
        }
        if new == *current {
            return new;
        }
        if new.get("spec") != current.get("spec") {
            let generation = current
                .pointer("/metadata/generation")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            set_meta(&mut new, "generation", json!(generation + 1));
        }
        let rv = self.next_rv();
        set_meta(&mut new, "resourceVersion", json!(rv));
        if current.pointer("/metadata/deletionTimestamp").is_some() && !has_finalizers(&new) {
            if let Some(m) = self.objects.get_mut(key) {
                m.remove(&(ns.to_string(), name.to_string()));
            }
            self.emit(events, key, ns, "DELETED", new.clone());
            return new;
        }
        self.objects
            .entry(key.to_string())
            .or_default()
            .insert((ns.to_string(), name.to_string()), new.clone());
        self.emit(events, key, ns, "MODIFIED", new.clone());
        new
    }

    /// Applies the subresource rule: a status write changes only the
    /// status, a main write keeps the stored status of kinds that have
    /// the subresource.
    fn scoped(t: &Target, current: &Value, mut new: Value) -> Value {
        match t.sub.as_deref() {
            Some("status") => {
                let mut out = current.clone();
                match new.get("status") {
                    Some(s) => out["status"] = s.clone(),
                    None => {
                        if let Some(o) = out.as_object_mut() {
                            o.remove("status");
                        }
                    }
                }
                out
            }
            _ if has_status_subresource(&t.plural) => {
                match current.get("status") {
                    Some(s) => new["status"] = s.clone(),
                    None => {
                        if let Some(o) = new.as_object_mut() {
                            o.remove("status");
                        }
                    }
                }
                new
            }
            _ => new,
        }
    }

    fn check_preconditions(
        current: &Value,
        uid: Option<&str>,
        rv: Option<&str>,
    ) -> Result<(), Failure> {
        if let Some(uid) = uid.filter(|u| !u.is_empty()) {
            if meta_str(current, "uid") != Some(uid) {
                return Err(conflict(format!(
                    "Precondition failed: UID in precondition: {uid}"
                )));
            }
        }
        if let Some(rv) = rv.filter(|r| !r.is_empty()) {
            if meta_str(current, "resourceVersion") != Some(rv) {
                return Err(conflict(
                    "the object has been modified; please apply your changes to the latest version and try again",
                ));
            }
        }
        Ok(())
    }

    fn update(
        &mut self,
        events: &broadcast::Sender<WatchEvent>,
        t: &Target,
        new: Value,
    ) -> Result<(StatusCode, Value), Failure> {
        let current = self.current(t)?;
        if meta_str(&new, "name") != t.name.as_deref() {
            return Err(failure(
                400,
                "BadRequest",
                "the name of the object does not match the URL",
            ));
        }
        Self::check_preconditions(
            &current,
            meta_str(&new, "uid"),
            meta_str(&new, "resourceVersion"),
        )?;
        let new = Self::scoped(t, &current, new);
        let ns = t.namespace.clone().unwrap_or_default();
        let name = t.name.clone().unwrap_or_default();
        Ok((
            StatusCode::OK,
            self.write(events, &t.key, &ns, &name, &current, new),
        ))
    }

    fn patch(
        &mut self,
        events: &broadcast::Sender<WatchEvent>,
        t: &Target,
        content_type: &str,
        patch: &Value,
    ) -> Result<(StatusCode, Value), Failure> {
        let current = self.current(t)?;
        let invalid = |e: String| failure(422, "Invalid", e);
        let patched = match content_type.split(';').next().unwrap_or_default().trim() {
            "application/merge-patch+json" => {
                let mut v = current.clone();
                merge_patch(&mut v, patch);
                v
            }
            "application/json-patch+json" => {
                let ops: json_patch::Patch =
                    serde_json::from_value(patch.clone()).map_err(|e| invalid(e.to_string()))?;
                let mut v = current.clone();
                json_patch::patch(&mut v, &ops).map_err(|e| invalid(e.to_string()))?;
                v
            }
            "application/strategic-merge-patch+json" => {
                let kind = current
                    .get("kind")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                bosun_patch::apply_strategic_merge_patch(&current, patch, &t.group, kind)
                    .map_err(|e| invalid(e.to_string()))?
            }
            other => {
                return Err(failure(
                    415,
                    "UnsupportedMediaType",
                    format!("patch type {other}"),
                ))
            }
        };
        // A uid or resourceVersion in the patch is a precondition.
        Self::check_preconditions(
            &current,
            meta_str(patch, "uid"),
            meta_str(patch, "resourceVersion"),
        )?;
        let new = Self::scoped(t, &current, patched);
        let ns = t.namespace.clone().unwrap_or_default();
        let name = t.name.clone().unwrap_or_default();
        Ok((
            StatusCode::OK,
            self.write(events, &t.key, &ns, &name, &current, new),
        ))
    }

    fn delete(
        &mut self,
        events: &broadcast::Sender<WatchEvent>,
        t: &Target,
        opts: &Value,
    ) -> Result<(StatusCode, Value), Failure> {
        let current = self.current(t)?;
        Self::check_preconditions(
            &current,
            opts.pointer("/preconditions/uid").and_then(Value::as_str),
            opts.pointer("/preconditions/resourceVersion")
                .and_then(Value::as_str),
        )?;
        let ns = t.namespace.clone().unwrap_or_default();
        let name = t.name.clone().unwrap_or_default();
        if has_finalizers(&current) {
            if current.pointer("/metadata/deletionTimestamp").is_some() {
                return Ok((StatusCode::OK, current));
            }
            let mut marked = current.clone();
            set_meta(&mut marked, "deletionTimestamp", json!(timestamp()));
            set_meta(&mut marked, "deletionGracePeriodSeconds", json!(0));
            let rv = self.next_rv();
            set_meta(&mut marked, "resourceVersion", json!(rv));
            if let Some(m) = self.objects.get_mut(&t.key) {
                m.insert((ns.clone(), name), marked.clone());
            }
            self.emit(events, &t.key, &ns, "MODIFIED", marked.clone());
            return Ok((StatusCode::OK, marked));
        }
        let gone = self.remove(events, &t.key, &ns, &name);
        Ok((StatusCode::OK, gone.unwrap_or(current)))
    }

    fn remove(
        &mut self,
        events: &broadcast::Sender<WatchEvent>,
        key: &str,
        ns: &str,
        name: &str,
    ) -> Option<Value> {
        let mut gone = self
            .objects
            .get_mut(key)?
            .remove(&(ns.to_string(), name.to_string()))?;
        let rv = self.next_rv();
        set_meta(&mut gone, "resourceVersion", json!(rv));
        self.emit(events, key, ns, "DELETED", gone.clone());
        Some(gone)
    }
}

fn json_response(code: StatusCode, v: &Value) -> Response<Body> {
    let bytes = serde_json::to_vec(v).unwrap_or_default();
    Response::builder()
        .status(code)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(bytes)).boxed_unsync())
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new()).boxed_unsync()))
}

fn status_response(f: &Failure) -> Response<Body> {
    let code = StatusCode::from_u16(f.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json_response(
        code,
        &json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": f.message,
            "reason": f.reason,
            "code": f.code,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::TryStreamExt;
    use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
    use k8s_openapi::api::core::v1::Pod;
    use kube::api::{
        DeleteParams, ListParams, Patch, PatchParams, PostParams, Preconditions, WatchEvent,
        WatchParams,
    };
    use kube::{Api, ResourceExt};

    fn code(e: kube::Error) -> u16 {
        match e {
            kube::Error::Api(s) => s.code,
            other => panic!("not an API error: {other}"),
        }
    }

    fn pod(name: &str) -> Pod {
        let mut p = Pod::default();
        p.metadata.name = Some(name.into());
        p
    }

    #[tokio::test(start_paused = true)]
    async fn create_fills_identity_and_refuses_duplicates() {
        let fake = FakeApi::new();
        let api: Api<Pod> = Api::namespaced(fake.client(), "ns");
        tokio::time::advance(Duration::from_secs(90)).await;
        let a = api.create(&PostParams::default(), &pod("a")).await.unwrap();
        assert!(a.uid().is_some() && a.resource_version().is_some());
        assert_eq!(a.namespace().as_deref(), Some("ns"));
        assert_eq!(
            a.creation_timestamp().map(|t| t.0.as_second()),
            Some(crate::clock::now().as_second())
        );
        assert_eq!(a.status.and_then(|s| s.phase).as_deref(), Some("Pending"));
        let dup = api
            .create(&PostParams::default(), &pod("a"))
            .await
            .unwrap_err();
        assert_eq!(code(dup), 409);
        let mut generated = Pod::default();
        generated.metadata.generate_name = Some("web-".into());
        let g = api
            .create(&PostParams::default(), &generated)
            .await
            .unwrap();
        assert!(g.name_any().starts_with("web-") && g.name_any().len() > 4);
        assert_eq!(code(api.get("nope").await.unwrap_err()), 404);
        let actions = fake.actions();
        assert_eq!(actions.len(), 3);
        assert_eq!(actions[2].name, g.name_any());
    }

    #[tokio::test(start_paused = true)]
    async fn updates_check_resource_version_and_respect_the_status_subresource() {
        let fake = FakeApi::new();
        let api: Api<Deployment> = Api::namespaced(fake.client(), "ns");
        let mut d = Deployment::default();
        d.metadata.name = Some("d".into());
        d.spec = Some(DeploymentSpec {
            replicas: Some(1),
            ..Default::default()
        });
        let created = api.create(&PostParams::default(), &d).await.unwrap();
        assert_eq!(created.metadata.generation, Some(1));
        // A spec change bumps the generation; status in a main write is dropped.
        let mut next = created.clone();
        next.spec.as_mut().unwrap().replicas = Some(2);
        next.status = Some(Default::default());
        next.status.as_mut().unwrap().replicas = Some(7);
        let updated = api
            .replace("d", &PostParams::default(), &next)
            .await
            .unwrap();
        assert_eq!(updated.metadata.generation, Some(2));
        assert!(updated.status.is_none());
        // The first copy is stale now.
        let stale = api
            .replace("d", &PostParams::default(), &created)
            .await
            .unwrap_err();
        assert_eq!(code(stale), 409);
        // A status write changes only the status.
        let mut st = updated.clone();
        st.spec.as_mut().unwrap().replicas = Some(9);
        st.status = Some(Default::default());
        st.status.as_mut().unwrap().replicas = Some(2);
        let written = api
            .replace_status("d", &PostParams::default(), &st)
            .await
            .unwrap();
        assert_eq!(written.spec.unwrap().replicas, Some(2));
        assert_eq!(written.status.unwrap().replicas, Some(2));
        assert_eq!(written.metadata.generation, Some(2));
    }

    #[tokio::test(start_paused = true)]
    async fn patches_and_deletes_follow_preconditions_and_finalizers() {
        let fake = FakeApi::new();
        let api: Api<Pod> = Api::namespaced(fake.client(), "ns");
        let mut p = pod("a");
        p.metadata.finalizers = Some(vec!["x/keep".into(), "x/other".into()]);
        let a = api.create(&PostParams::default(), &p).await.unwrap();
        let pp = PatchParams::default();
        let merged = api
            .patch(
                "a",
                &pp,
                &Patch::Merge(serde_json::json!({"metadata": {"labels": {"k": "v"}}})),
            )
            .await
            .unwrap();
        assert_eq!(merged.labels().get("k").map(String::as_str), Some("v"));
        let smp =
            serde_json::json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["x/other"]}});
        let patched = api.patch("a", &pp, &Patch::Strategic(smp)).await.unwrap();
        assert_eq!(patched.finalizers(), ["x/keep"]);
        let wrong_uid =
            serde_json::json!({"metadata": {"uid": "someone-else", "labels": {"k": "w"}}});
        let err = api
            .patch("a", &pp, &Patch::Strategic(wrong_uid))
            .await
            .unwrap_err();
        assert_eq!(code(err), 409);
        // kube's own json-patch version: inferred from Patch::Json.
        let ops = serde_json::from_value(serde_json::json!([
            {"op": "replace", "path": "/metadata/labels/k", "value": "j"}
        ]))
        .unwrap();
        let jp = api.patch("a", &pp, &Patch::<()>::Json(ops)).await.unwrap();
        assert_eq!(jp.labels().get("k").map(String::as_str), Some("j"));
        // Delete preconditions.
        let dp = DeleteParams {
            preconditions: Some(Preconditions {
                uid: Some("someone-else".into()),
                resource_version: None,
            }),
            ..Default::default()
        };
        assert_eq!(code(api.delete("a", &dp).await.unwrap_err()), 409);
        // A finalizer turns the delete into a deletionTimestamp; removing
        // the last one removes the object.
        api.delete("a", &DeleteParams::default()).await.unwrap();
        let marked = api.get("a").await.unwrap();
        assert!(marked.metadata.deletion_timestamp.is_some());
        assert_eq!(marked.uid(), a.uid());
        api.patch(
            "a",
            &pp,
            &Patch::Merge(serde_json::json!({"metadata": {"finalizers": null}})),
        )
        .await
        .unwrap();
        assert_eq!(code(api.get("a").await.unwrap_err()), 404);
        let verbs: Vec<&str> = fake.actions().iter().map(|a| a.verb).collect();
        assert_eq!(
            verbs,
            ["create", "patch", "patch", "patch", "patch", "delete", "delete", "patch"]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn lists_honour_equality_selectors_and_refuse_others() {
        let fake = FakeApi::new();
        let api: Api<Pod> = Api::namespaced(fake.client(), "ns");
        for (name, app) in [("a", "web"), ("b", "db"), ("c", "web")] {
            let mut p = pod(name);
            p.metadata.labels = Some([("app".to_string(), app.to_string())].into());
            api.create(&PostParams::default(), &p).await.unwrap();
        }
        let names = |l: kube::core::ObjectList<Pod>| -> Vec<String> {
            l.items.iter().map(|p| p.name_any()).collect()
        };
        let web = api
            .list(&ListParams::default().labels("app=web"))
            .await
            .unwrap();
        assert_eq!(names(web), ["a", "c"]);
        let not_web = api
            .list(&ListParams::default().labels("app!=web"))
            .await
            .unwrap();
        assert_eq!(names(not_web), ["b"]);
        let by_name = api
            .list(
                &ListParams::default()
                    .fields("metadata.name=c")
                    .labels("app=web"),
            )
            .await
            .unwrap();
        assert_eq!(names(by_name), ["c"]);
        let set_based = api
            .list(&ListParams::default().labels("app in (web)"))
            .await;
        assert_eq!(code(set_based.unwrap_err()), 400);
        let pods_everywhere: Api<Pod> = Api::all(fake.client());
        assert_eq!(
            pods_everywhere
                .list(&ListParams::default())
                .await
                .unwrap()
                .items
                .len(),
            3
        );
    }

    #[tokio::test(start_paused = true)]
    async fn watch_replays_changes_after_the_resource_version() {
        let fake = FakeApi::new();
        let api: Api<Pod> = Api::namespaced(fake.client(), "ns");
        let a = api.create(&PostParams::default(), &pod("a")).await.unwrap();
        let other: Api<Pod> = Api::namespaced(fake.client(), "elsewhere");
        other
            .create(&PostParams::default(), &pod("x"))
            .await
            .unwrap();
        api.create(&PostParams::default(), &pod("b")).await.unwrap();
        api.delete("a", &DeleteParams::default()).await.unwrap();
        let rv = a.resource_version().unwrap();
        let events: Vec<_> = api
            .watch(&WatchParams::default(), &rv)
            .await
            .unwrap()
            .take(2)
            .try_collect()
            .await
            .unwrap();
        let seen: Vec<String> = events
            .iter()
            .map(|e| match e {
                WatchEvent::Added(p) => format!("added {}", p.name_any()),
                WatchEvent::Deleted(p) => format!("deleted {}", p.name_any()),
                _ => "other".to_string(),
            })
            .collect();
        assert_eq!(seen, ["added b", "deleted a"]);
    }
}
