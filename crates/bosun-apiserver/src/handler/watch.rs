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
use crate::cache::{Encoding, EventType, LiveItem, WatchCache};
use crate::error::{ApiError, Result};
use crate::negotiate::Shape;
use crate::objects;

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);
const BOOKMARK_EVERY: Duration = Duration::from_secs(60);

pub(super) struct Encoder {
    def: &'static ResourceDef,
    shape: Shape,
    include: bosun_printers::IncludeObject,
    /// See [`super::OmitManagedFields`].
    omit_managed: bool,
}

impl Encoder {
    /// An event line for a cached object, reusing its encoding when the
    /// whole object is wanted and decoding it otherwise.
    fn event_json(&self, kind: &str, encoding: Encoding<'_>) -> Bytes {
        match self.shape {
            Shape::Object => {
                let mut out = Vec::with_capacity(encoding.json.len() + 32);
                event_head(&mut out, kind);
                encoding.write(&mut out, self.omit_managed);
                out.extend_from_slice(b"}\n");
                Bytes::from(out)
            }
            Shape::PartialMetadata => {
                wrap_event(kind, &encoding.partial_metadata_json(self.omit_managed))
            }
            Shape::Table => match serde_json::from_slice::<Value>(encoding.json) {
                Ok(obj) => self.event(kind, &obj),
                Err(_) => Bytes::new(),
            },
        }
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

/// `{"type":kind,"object":` — an event line up to its object.
fn event_head(out: &mut Vec<u8>, kind: &str) {
    out.extend_from_slice(b"{\"type\":\"");
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(b"\",\"object\":");
}

/// `{"type":kind,"object":json}` and a newline.
fn wrap_event(kind: &str, json: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(json.len() + 32);
    event_head(&mut out, kind);
    out.extend_from_slice(json);
    out.extend_from_slice(b"}\n");
    Bytes::from(out)
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
    cache: Arc<WatchCache>,
    rx: broadcast::Receiver<LiveItem>,
    from: i64,
    filter: Filter,
    def: &'static ResourceDef,
    namespace: Option<String>,
    encoder: Encoder,
    deadline: tokio::time::Instant,
    bookmarks: bool,
    last_revision: i64,
    next_bookmark: tokio::time::Instant,
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
            omit_managed: ctx.omit_managed_fields,
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
            let rx = self.rest.cache.subscribe(def);
            let from = state.revision;
            let synthetic = rv.is_empty() || rv == "0" || send_initial;
            if synthetic {
                for (_, entry) in state.range_entries(def, namespace.as_deref(), None) {
                    if filter.matches_meta(&entry.meta)
                        && name.as_deref().is_none_or(|n| entry.meta.name() == n)
                    {
                        initial.push(encoder.event_json("ADDED", entry.encoding()));
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
            cache: self.rest.cache.clone(),
            rx,
            from,
            filter,
            def,
            namespace,
            encoder,
            deadline: tokio::time::Instant::now() + timeout,
            bookmarks,
            last_revision: from,
            next_bookmark: tokio::time::Instant::now() + BOOKMARK_EVERY,
            done: false,
        };
        let live = futures::stream::unfold(state, |mut st| async move {
            if st.done {
                return None;
            }
            loop {
                // Bookmarks keep their own schedule: events (most of them
                // filtered out on a busy server) must not postpone them, or
                // an idle watcher's revision falls out of history.
                let wake = st.next_bookmark.min(st.deadline);
                tokio::select! {
                    item = st.rx.recv() => match item {
                        Ok(LiveItem::Event(event)) => {
                            if event.revision <= st.from {
                                continue;
                            }
                            st.last_revision = st.last_revision.max(event.revision);
                            // Versions of one resource share its channel.
                            if !std::ptr::eq(event.def, st.def) {
                                continue;
                            }
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
                        st.next_bookmark = tokio::time::Instant::now() + BOOKMARK_EVERY;
                        if st.bookmarks {
                            // The latest revision when nothing of this
                            // resource is still queued for the watcher, so
                            // an idle watcher's revision stays recent.
                            if let Some(settled) = st.cache.settled_revision(&st.rx) {
                                st.last_revision = st.last_revision.max(settled);
                            }
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
        if event.meta.namespace() != Some(ns) {
            return None;
        }
    }
    let now = filter.matches_meta(&event.meta);
    let before = event.prev_meta().is_some_and(|p| filter.matches_meta(p));
    let kind = match (event.kind, before, now) {
        (EventType::Added, _, true) => "ADDED",
        (EventType::Deleted, _, _) if before || now => "DELETED",
        (EventType::Modified, true, true) => "MODIFIED",
        (EventType::Modified, false, true) => "ADDED",
        (EventType::Modified, true, false) => "DELETED",
        _ => return None,
    };
    if let (EventType::Modified, Some(prev)) = (event.kind, &event.prev) {
        if kind == "DELETED" {
            // Leaving the selector: the state it was seen in, at this
            // event's revision (as upstream's cacher).
            let prev = prev.with_revision(event.revision);
            return Some(encoder.event_json(kind, prev.encoding()));
        }
    }
    // A deletion's encoding already carries the deletion's revision.
    Some(encoder.event_json(kind, event.encoding()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::{CacheEvent, Entry};
    use bosun_api::registry;
    use bosun_core::{FieldSelector, Selector};

    fn pod(app: &str, rv: i64) -> Entry {
        let def = registry::lookup("", "v1", "pods").unwrap();
        let obj = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "d", "labels": {"app": app}}});
        Entry::new(def, obj, rv)
    }

    #[test]
    fn selector_transitions_become_added_and_deleted() {
        let def = registry::lookup("", "v1", "pods").unwrap();
        let encoder = Encoder {
            def,
            shape: Shape::Object,
            include: bosun_printers::IncludeObject::Metadata,
            omit_managed: false,
        };
        let labels: Selector = "app=web".parse().unwrap();
        let filter = Filter::new(def, labels, FieldSelector::everything()).unwrap();
        // (event, previous app, current app, expected type)
        let cases: &[(EventType, Option<&str>, &str, Option<&str>)] = &[
            (EventType::Added, None, "web", Some("ADDED")),
            (EventType::Added, None, "db", None),
            (EventType::Modified, Some("web"), "web", Some("MODIFIED")),
            (EventType::Modified, Some("db"), "web", Some("ADDED")),
            (EventType::Modified, Some("web"), "db", Some("DELETED")),
            (EventType::Modified, Some("db"), "db", None),
            (EventType::Deleted, Some("web"), "web", Some("DELETED")),
            (EventType::Deleted, Some("db"), "db", None),
        ];
        for (kind, before, now, want) in cases {
            let object = pod(now, 9);
            let event = Arc::new(CacheEvent {
                revision: 9,
                kind: *kind,
                def,
                json: object.json.clone(),
                managed: object.managed_span(),
                meta: object.meta.clone(),
                prev: before.map(|b| pod(b, 5)),
            });
            let got = filter_event(&event, &filter, None, &encoder);
            let got = got.map(|line| {
                assert!(line.ends_with(b"\n"));
                let v: Value = serde_json::from_slice(&line).unwrap();
                // Leaving the selector shows the state that matched.
                let shown = if *kind == EventType::Modified && *want == Some("DELETED") {
                    before.unwrap()
                } else {
                    now
                };
                assert_eq!(v["object"]["metadata"]["labels"]["app"], *shown);
                assert_eq!(v["object"]["metadata"]["resourceVersion"], "9");
                v["type"].as_str().unwrap().to_string()
            });
            assert_eq!(got.as_deref(), *want, "{kind:?} {before:?} {now}");
            // Another namespace's watcher sees nothing.
            assert!(filter_event(&event, &filter, Some("other"), &encoder).is_none());
        }
    }

    #[test]
    fn other_shapes_decode_the_object() {
        let def = registry::lookup("", "v1", "pods").unwrap();
        let encoder = Encoder {
            def,
            shape: Shape::PartialMetadata,
            include: bosun_printers::IncludeObject::Metadata,
            omit_managed: false,
        };
        let line = encoder.event_json("ADDED", pod("web", 3).encoding());
        let v: Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(v["object"]["kind"], "PartialObjectMetadata");
        assert_eq!(v["object"]["metadata"]["resourceVersion"], "3");
    }
}
