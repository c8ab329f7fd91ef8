//! WATCH: newline-delimited JSON events from the watch cache.
//!
//! Without a resourceVersion (or with "0") the watcher first receives a
//! synthetic ADDED event per matching object, then live changes. With a
//! resourceVersion it receives every change after it that the cache still
//! retains, or a 410 Expired error event when that history is gone.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bosun_api::registry::ResourceDef;
use bytes::Bytes;
use futures::StreamExt;
use http::{header, StatusCode};
use serde_json::{json, Value};
use tokio::sync::broadcast;

use super::read::{include_object, to_partial, Filter};
use super::{Handler, RequestContext};
use crate::cache::{EventType, LiveItem};
use crate::error::{ApiError, Result};
use crate::negotiate::Shape;
use crate::objects;

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);
const BOOKMARK_EVERY: Duration = Duration::from_secs(60);

pub(super) struct Encoder {
    def: &'static ResourceDef,
    shape: Shape,
    include: bosun_printers::IncludeObject,
}

impl Encoder {
    /// An event line reusing the object's already encoded JSON.
    fn event_json(&self, kind: &str, obj: &Value, json: &[u8]) -> Bytes {
        if self.shape != Shape::Object || json.is_empty() {
            return self.event(kind, obj);
        }
        let mut out = Vec::with_capacity(json.len() + 32);
        out.extend_from_slice(b"{\"type\":\"");
        out.extend_from_slice(kind.as_bytes());
        out.extend_from_slice(b"\",\"object\":");
        out.extend_from_slice(json);
        out.extend_from_slice(b"}\n");
        Bytes::from(out)
    }

    fn event(&self, kind: &str, obj: &Value) -> Bytes {
        let object = match self.shape {
            Shape::Object => {
                // Serialize without cloning the object.
                let mut out = Vec::with_capacity(256);
                out.extend_from_slice(b"{\"type\":\"");
                out.extend_from_slice(kind.as_bytes());
                out.extend_from_slice(b"\",\"object\":");
                if serde_json::to_writer(&mut out, obj).is_err() {
                    return Bytes::new();
                }
                out.extend_from_slice(b"}\n");
                return Bytes::from(out);
            }
            Shape::PartialMetadata => to_partial(obj),
            Shape::Table => {
                let rv = objects::resource_version(obj).unwrap_or("").to_string();
                let mut opts = bosun_printers::TableOptions::new(chrono::Utc::now());
                opts.resource_version = &rv;
                opts.include = self.include;
                bosun_printers::table_with_options(
                    self.def.group,
                    self.def.kind,
                    std::slice::from_ref(obj),
                    &opts,
                )
            }
        };
        line(&json!({"type": kind, "object": object}))
    }

    fn bookmark(&self, revision: i64, initial_end: bool) -> Bytes {
        let mut meta = json!({"resourceVersion": revision.to_string()});
        if initial_end {
            meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let api_version = self.def.api_version();
        line(
            &json!({"type": "BOOKMARK", "object": {"kind": self.def.kind, "apiVersion": api_version, "metadata": meta}}),
        )
    }
}

fn line(v: &Value) -> Bytes {
    let mut out = serde_json::to_vec(v).unwrap_or_default();
    out.push(b'\n');
    Bytes::from(out)
}

fn error_event(err: &ApiError) -> Bytes {
    line(&json!({"type": "ERROR", "object": err.status()}))
}

struct WatchState {
    rx: broadcast::Receiver<LiveItem>,
    from: i64,
    filter: Filter,
    def: &'static ResourceDef,
    namespace: Option<String>,
    encoder: Encoder,
    deadline: tokio::time::Instant,
    bookmarks: bool,
    last_revision: i64,
    done: bool,
}

impl Handler {
    pub(super) async fn watch(&self, ctx: &RequestContext) -> Result<Response> {
        let def = ctx.info.def;
        let filter = Filter::from_request(ctx)?;
        let shape = ctx.shape()?;
        let encoder = Encoder {
            def,
            shape,
            include: include_object(ctx),
        };
        let timeout = ctx
            .query
            .int("timeoutSeconds")?
            .filter(|t| *t > 0)
            .map(|t| Duration::from_secs(t as u64))
            .unwrap_or(DEFAULT_TIMEOUT);
        let bookmarks = ctx.query.flag("allowWatchBookmarks");
        let send_initial = ctx.query.flag("sendInitialEvents");
        let rv = ctx.query.get("resourceVersion").unwrap_or("").to_string();
        let namespace = ctx.namespace().map(str::to_string);
        // A single named object: kubectl watches with a name field selector.
        let name = ctx.info.name.clone();

        if rv.is_empty() && !send_initial {
            // "Most recent": start at the latest revision.
            let latest = self.rest.store.current_revision().await?;
            self.rest
                .cache
                .wait_for(latest, Duration::from_secs(3))
                .await;
        }

        let mut initial: Vec<Bytes> = Vec::new();
        let (rx, from) = {
            let state = self.rest.cache.read();
            let rx = self.rest.cache.subscribe();
            let from = state.revision;
            let synthetic = rv.is_empty() || rv == "0" || send_initial;
            if synthetic {
                for (_, obj) in state.range(def, namespace.as_deref(), None) {
                    if filter.matches(obj)
                        && name.as_deref().is_none_or(|n| objects::name(obj) == n)
                    {
                        initial.push(encoder.event("ADDED", obj));
                    }
                }
                if send_initial && bookmarks {
                    initial.push(encoder.bookmark(from, true));
                }
                (rx, from)
            } else {
                let n: i64 = rv.parse().map_err(|_| {
                    ApiError::bad_request(format!("invalid resource version {rv:?}"))
                })?;
                if n < state.oldest {
                    let err =
                        ApiError::gone(format!("too old resource version: {n} ({})", state.oldest));
                    initial.push(error_event(&err));
                    drop(state);
                    let body = Body::from_stream(futures::stream::iter(
                        initial.into_iter().map(Ok::<_, std::convert::Infallible>),
                    ));
                    return Ok(watch_response(body));
                }
                for event in state.events_after(def, n) {
                    if let Some(bytes) =
                        filter_event(&event, &filter, namespace.as_deref(), &encoder)
                    {
                        initial.push(bytes);
                    }
                }
                (rx, from)
            }
        };

        let state = WatchState {
            rx,
            from,
            filter,
            def,
            namespace,
            encoder,
            deadline: tokio::time::Instant::now() + timeout,
            bookmarks,
            last_revision: from,
            done: false,
        };
        let live = futures::stream::unfold(state, |mut st| async move {
            if st.done {
                return None;
            }
            loop {
                let bookmark_at = tokio::time::Instant::now() + BOOKMARK_EVERY;
                let wake = bookmark_at.min(st.deadline);
                tokio::select! {
                    item = st.rx.recv() => match item {
                        Ok(LiveItem::Event(event)) => {
                            if event.revision <= st.from || !std::ptr::eq(event.def, st.def) {
                                continue;
                            }
                            st.last_revision = event.revision;
                            if let Some(bytes) = filter_event(&event, &st.filter, st.namespace.as_deref(), &st.encoder) {
                                return Some((bytes, st));
                            }
                        }
                        Ok(LiveItem::Reset) | Err(broadcast::error::RecvError::Closed) => return None,
                        Err(broadcast::error::RecvError::Lagged(_)) => {
                            // Too slow to keep up: end with 410 so the client re-lists.
                            st.done = true;
                            let err = ApiError::gone("watch fell behind; too old resource version");
                            return Some((error_event(&err), st));
                        }
                    },
                    _ = tokio::time::sleep_until(wake) => {
                        if tokio::time::Instant::now() >= st.deadline {
                            return None;
                        }
                        if st.bookmarks {
                            let bytes = st.encoder.bookmark(st.last_revision, false);
                            return Some((bytes, st));
                        }
                    }
                }
            }
        });
        let stream = futures::stream::iter(initial)
            .chain(live)
            .map(Ok::<_, std::convert::Infallible>);
        Ok(watch_response(Body::from_stream(stream)))
    }
}

fn watch_response(body: Body) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-cache, private"),
        ],
        body,
    )
        .into_response()
}

/// Turns a cache event into what this watcher sees: objects entering the
/// selector appear as ADDED, objects leaving it as DELETED.
fn filter_event(
    event: &Arc<crate::cache::CacheEvent>,
    filter: &Filter,
    namespace: Option<&str>,
    encoder: &Encoder,
) -> Option<Bytes> {
    if let Some(ns) = namespace {
        if objects::namespace(&event.object) != Some(ns) {
            return None;
        }
    }
    let now = filter.matches(&event.object);
    let before = event.prev.as_ref().is_some_and(|p| filter.matches(p));
    let kind = match (event.kind, before, now) {
        (EventType::Added, _, true) => "ADDED",
        (EventType::Deleted, _, _) if before || now => "DELETED",
        (EventType::Modified, true, true) => "MODIFIED",
        (EventType::Modified, false, true) => "ADDED",
        (EventType::Modified, true, false) => "DELETED",
        _ => return None,
    };
    let object = if event.kind == EventType::Deleted {
        // The DELETED event carries the last state at the delete revision.
        let mut obj = (*event.object).clone();
        if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            m.insert("resourceVersion".into(), json!(event.revision.to_string()));
        }
        return Some(encoder.event(kind, &obj));
    } else {
        &event.object
    };
    Some(encoder.event_json(kind, object, &event.json))
}
