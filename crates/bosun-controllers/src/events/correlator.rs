//! What client-go's event correlator does before an event is written, so
//! a busy controller records events the way upstream's do:
//!
//! - **aggregation**: more than 10 distinct messages for the same object,
//!   reason and type within 10 minutes fold into one event whose message
//!   starts with `(combined from similar events): `;
//! - **deduplication**: an event identical to one already written bumps
//!   that event's `count` and `lastTimestamp` (a patch) instead of
//!   creating another;
//! - **spam filtering**: each source and object has a token bucket of 25
//!   events refilled at one per 5 minutes; events beyond it are dropped.
//!
//! A 100,000-replica scale-up therefore records a few dozen events on the
//! ReplicaSet, not 100,000.

use std::collections::HashSet;
use std::num::NonZeroUsize;
use std::time::Duration;

use k8s_openapi::api::core::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use lru::LruCache;
use tokio::time::Instant;

/// Keys remembered by each cache (client-go's `maxLruCacheEntries`).
const CACHE_ENTRIES: usize = 4096;
/// Distinct messages before aggregation starts (`defaultAggregateMaxEvents`).
const AGGREGATE_MAX_EVENTS: usize = 10;
/// Window in which messages count towards aggregation.
const AGGREGATE_INTERVAL: Duration = Duration::from_secs(600);
/// Spam filter bucket size and refill rate (`defaultSpamBurst`, `defaultSpamQPS`).
const SPAM_BURST: f64 = 25.0;
const SPAM_QPS: f64 = 1.0 / 300.0;

/// What to write for a recorded event.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// A new event object.
    Create(Event),
    /// An event written before: new count, message and lastTimestamp.
    Patch(Event),
}

struct Aggregate {
    messages: HashSet<String>,
    first_seen: Instant,
    /// Name of the combined event once aggregation started.
    name: Option<String>,
}

struct Logged {
    name: String,
    count: i32,
    first_timestamp: Option<Time>,
}

struct Bucket {
    tokens: f64,
    refilled: Instant,
}

pub struct Correlator {
    aggregates: LruCache<String, Aggregate>,
    logged: LruCache<String, Logged>,
    spam: LruCache<String, Bucket>,
}

impl Default for Correlator {
    fn default() -> Self {
        let n = NonZeroUsize::new(CACHE_ENTRIES).unwrap_or(NonZeroUsize::MIN);
        Correlator {
            aggregates: LruCache::new(n),
            logged: LruCache::new(n),
            spam: LruCache::new(n),
        }
    }
}

/// Source and involved object: the spam filter's key.
fn involved_key(e: &Event) -> String {
    let src = e.source.as_ref();
    let o = &e.involved_object;
    [
        src.and_then(|s| s.component.as_deref()),
        src.and_then(|s| s.host.as_deref()),
        o.kind.as_deref(),
        o.namespace.as_deref(),
        o.name.as_deref(),
        o.uid.as_deref(),
        o.api_version.as_deref(),
    ]
    .map(Option::unwrap_or_default)
    .join("\u{0}")
}

impl Correlator {
    /// Decides what to write for `event` (stamped at `now`), or `None`
    /// when the spam filter drops it.
    pub fn correlate(&mut self, mut event: Event, now: Instant) -> Option<Action> {
        let spam_key = involved_key(&event);
        let agg_key = [
            spam_key.as_str(),
            event.type_.as_deref().unwrap_or_default(),
            event.reason.as_deref().unwrap_or_default(),
            event.reporting_component.as_deref().unwrap_or_default(),
            event.reporting_instance.as_deref().unwrap_or_default(),
        ]
        .join("\u{0}");
        let message = event.message.clone().unwrap_or_default();

        // Aggregation: past the limit, every further event is the combined one.
        let agg = self
            .aggregates
            .get_or_insert_mut(agg_key.clone(), || Aggregate {
                messages: HashSet::new(),
                first_seen: now,
                name: None,
            });
        if now.duration_since(agg.first_seen) > AGGREGATE_INTERVAL {
            agg.messages.clear();
            agg.first_seen = now;
            agg.name = None;
        }
        agg.messages.insert(message.clone());
        let event_key = if agg.messages.len() > AGGREGATE_MAX_EVENTS {
            event.message = Some(format!("(combined from similar events): {message}"));
            match &agg.name {
                Some(name) => event.metadata.name = Some(name.clone()),
                None => agg.name = event.metadata.name.clone(),
            }
            agg_key
        } else {
            let field_path = event.involved_object.field_path.as_deref();
            format!(
                "{agg_key}\u{0}{}\u{0}{message}",
                field_path.unwrap_or_default()
            )
        };

        // Spam filter on the event as it would be written.
        let bucket = self.spam.get_or_insert_mut(spam_key, || Bucket {
            tokens: SPAM_BURST,
            refilled: now,
        });
        let refill = now.duration_since(bucket.refilled).as_secs_f64() * SPAM_QPS;
        bucket.tokens = (bucket.tokens + refill).min(SPAM_BURST);
        bucket.refilled = now;
        if bucket.tokens < 1.0 {
            return None;
        }
        bucket.tokens -= 1.0;

        // Deduplication: the same event again is a count bump.
        match self.logged.get_mut(&event_key) {
            Some(seen) => {
                seen.count += 1;
                event.metadata.name = Some(seen.name.clone());
                event.count = Some(seen.count);
                event.first_timestamp = seen.first_timestamp.clone();
                Some(Action::Patch(event))
            }
            None => {
                let logged = Logged {
                    name: event.metadata.name.clone().unwrap_or_default(),
                    count: 1,
                    first_timestamp: event.first_timestamp.clone(),
                };
                self.logged.put(event_key, logged);
                Some(Action::Create(event))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{EventSource, ObjectReference};

    fn event(obj: &str, reason: &str, message: &str, name: &str) -> Event {
        let mut e = Event {
            involved_object: ObjectReference {
                kind: Some("ReplicaSet".into()),
                namespace: Some("ns".into()),
                name: Some(obj.into()),
                uid: Some(format!("uid-{obj}")),
                api_version: Some("apps/v1".into()),
                ..Default::default()
            },
            reason: Some(reason.into()),
            message: Some(message.into()),
            type_: Some("Normal".into()),
            source: Some(EventSource {
                component: Some("replicaset-controller".into()),
                host: None,
            }),
            count: Some(1),
            ..Default::default()
        };
        e.metadata.name = Some(name.into());
        e
    }

    fn created(c: &mut Correlator, obj: &str, msg: &str, at: Instant) -> bool {
        matches!(
            c.correlate(event(obj, "SuccessfulCreate", msg, msg), at),
            Some(Action::Create(_))
        )
    }

    #[test]
    fn burst_of_25_per_object_then_one_per_five_minutes() {
        let mut c = Correlator::default();
        let t0 = Instant::now();
        // Distinct messages, so aggregation folds them after ten; the spam
        // filter still admits exactly 25 writes.
        let admitted = (0..100)
            .filter(|i| {
                let e = event("rs", "SuccessfulCreate", &format!("Created pod: p{i}"), "e");
                c.correlate(e, t0).is_some()
            })
            .count();
        assert_eq!(admitted, 25);
        // Another object has its own bucket.
        assert!(created(&mut c, "other", "Created pod: x", t0));
        // No new token 299 s later; one per 300 s after that.
        let later = |s| t0 + Duration::from_secs(s);
        let e = || event("rs", "FailedCreate", "m", "m");
        assert!(c.correlate(e(), later(299)).is_none());
        assert!(c.correlate(e(), later(301)).is_some());
        assert!(c.correlate(e(), later(301)).is_none());
    }

    #[test]
    fn similar_messages_combine_after_ten() {
        let mut c = Correlator::default();
        let t0 = Instant::now();
        let out: Vec<_> = (0..14)
            .map(|i| {
                let msg = format!("Deleted pod: p{i}");
                c.correlate(event("rs", "SuccessfulDelete", &msg, &format!("e{i}")), t0)
            })
            .collect();
        let creates = out
            .iter()
            .filter(|a| matches!(a, Some(Action::Create(_))))
            .count();
        // Ten distinct events, then one combined event created and patched.
        assert_eq!(creates, 11);
        let Some(Action::Create(combined)) = &out[10] else {
            panic!("the 11th creates the combined event: {:?}", out[10])
        };
        assert_eq!(
            combined.message.as_deref(),
            Some("(combined from similar events): Deleted pod: p10")
        );
        let Some(Action::Patch(last)) = &out[13] else {
            panic!("later ones patch it: {:?}", out[13])
        };
        assert_eq!(last.metadata.name, combined.metadata.name);
        assert_eq!(last.count, Some(4));
        assert_eq!(
            last.message.as_deref(),
            Some("(combined from similar events): Deleted pod: p13")
        );
    }

    #[test]
    fn identical_events_bump_the_count() {
        let mut c = Correlator::default();
        let t0 = Instant::now();
        let first = c.correlate(event("rs", "FailedCreate", "quota", "a"), t0);
        assert!(matches!(first, Some(Action::Create(_))));
        let Some(Action::Patch(e)) = c.correlate(event("rs", "FailedCreate", "quota", "b"), t0)
        else {
            panic!("a repeat is a patch")
        };
        assert_eq!((e.metadata.name.as_deref(), e.count), (Some("a"), Some(2)));
    }
}
