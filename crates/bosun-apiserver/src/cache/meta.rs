//! The little of each object the server needs without decoding it.
//!
//! The watch cache keeps objects as encoded JSON only; filtering lists and
//! watches by selectors and following deletion lifecycles needs just a few
//! metadata fields and the resource's selectable fields. [`SlimMeta`] holds
//! those, extracted once when the object enters the cache, in two
//! allocations: one string holding every text and one table of spans into
//! it.

use bosun_api::registry::ResourceDef;
use serde_json::Value;

use crate::objects;

/// A byte range of [`SlimMeta::text`]; `NONE` marks an absent value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Span {
    start: u32,
    end: u32,
}

impl Span {
    const NONE: Span = Span {
        start: u32::MAX,
        end: u32::MAX,
    };
}

const TERMINATING: u8 = 1;
const SPEC_FINALIZERS: u8 = 2;

/// Name, namespace, uid, labels, selectable field values, owner uids and
/// finalizers of one object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlimMeta {
    text: Box<str>,
    /// name, namespace, uid, then `labels` key/value pairs, then one per
    /// selectable field of the resource, then owner uids, then finalizers.
    spans: Box<[Span]>,
    labels: u16,
    fields: u16,
    owners: u16,
    flags: u8,
}

/// Collects texts into one string while recording their spans.
#[derive(Default)]
struct Builder {
    text: String,
    spans: Vec<Span>,
}

impl Builder {
    fn push(&mut self, s: Option<&str>) {
        let span = match s {
            Some(s) => {
                let start = self.text.len();
                self.text.push_str(s);
                Span {
                    start: u32::try_from(start).unwrap_or(u32::MAX),
                    end: u32::try_from(self.text.len()).unwrap_or(u32::MAX),
                }
            }
            None => Span::NONE,
        };
        self.spans.push(span);
    }
}

fn count(n: usize) -> u16 {
    u16::try_from(n).unwrap_or(u16::MAX)
}

impl SlimMeta {
    /// Extracts what the cache indexes from a decoded object of `def`.
    pub fn extract(def: &ResourceDef, obj: &Value) -> SlimMeta {
        let meta = objects::meta(obj);
        let mut b = Builder::default();
        b.push(Some(objects::name(obj)));
        b.push(objects::namespace(obj));
        b.push(objects::meta_str(obj, "uid"));

        let mut labels = 0;
        if let Some(map) = meta
            .and_then(|m| m.get("labels"))
            .and_then(Value::as_object)
        {
            // Entries that are not strings count as absent, as in selectors.
            for (k, v) in map.iter().take(usize::from(u16::MAX)) {
                if let Some(v) = v.as_str() {
                    b.push(Some(k));
                    b.push(Some(v));
                    labels += 1;
                }
            }
        }
        for field in def.selectable_fields {
            let value = objects::field_string(obj, field);
            b.push(value.as_deref());
        }
        let mut owners = 0;
        let refs = meta
            .and_then(|m| m.get("ownerReferences"))
            .and_then(Value::as_array);
        for r in refs.into_iter().flatten().take(usize::from(u16::MAX)) {
            if let Some(uid) = r.get("uid").and_then(Value::as_str) {
                b.push(Some(uid));
                owners += 1;
            }
        }
        for f in objects::finalizers(obj).iter().take(usize::from(u16::MAX)) {
            b.push(Some(f));
        }

        let mut flags = 0;
        if objects::is_terminating(obj) {
            flags |= TERMINATING;
        }
        if obj
            .get("spec")
            .and_then(|s| s.get("finalizers"))
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty())
        {
            flags |= SPEC_FINALIZERS;
        }
        SlimMeta {
            text: b.text.into_boxed_str(),
            spans: b.spans.into_boxed_slice(),
            labels,
            fields: count(def.selectable_fields.len()),
            owners,
            flags,
        }
    }

    fn text(&self, span: Span) -> Option<&str> {
        if span == Span::NONE {
            return None;
        }
        self.text.get(span.start as usize..span.end as usize)
    }

    fn at(&self, i: usize) -> Option<&str> {
        self.spans.get(i).and_then(|s| self.text(*s))
    }

    fn labels_start(&self) -> usize {
        3
    }

    fn fields_start(&self) -> usize {
        self.labels_start() + 2 * usize::from(self.labels)
    }

    fn owners_start(&self) -> usize {
        self.fields_start() + usize::from(self.fields)
    }

    fn finalizers_start(&self) -> usize {
        self.owners_start() + usize::from(self.owners)
    }

    /// `metadata.name` ("" when missing).
    pub fn name(&self) -> &str {
        self.at(0).unwrap_or("")
    }

    /// `metadata.namespace`, `None` when missing or empty.
    pub fn namespace(&self) -> Option<&str> {
        self.at(1)
    }

    pub fn uid(&self) -> Option<&str> {
        self.at(2)
    }

    /// The value of one label (labels with non-string values are absent).
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    pub fn labels(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        (0..usize::from(self.labels)).filter_map(move |i| {
            let at = self.labels_start() + 2 * i;
            Some((self.at(at)?, self.at(at + 1)?))
        })
    }

    /// The value of the resource's `index`th selectable field
    /// ([`ResourceDef::selectable_fields`]), rendered as field selectors
    /// compare it; `None` when the object lacks it.
    pub fn field(&self, index: usize) -> Option<&str> {
        if index >= usize::from(self.fields) {
            return None;
        }
        self.at(self.fields_start() + index)
    }

    /// uids of `metadata.ownerReferences`.
    pub fn owner_uids(&self) -> impl Iterator<Item = &str> + '_ {
        (self.owners_start()..self.finalizers_start()).filter_map(move |i| self.at(i))
    }

    /// `metadata.finalizers`.
    pub fn finalizers(&self) -> impl Iterator<Item = &str> + '_ {
        (self.finalizers_start()..self.spans.len()).filter_map(move |i| self.at(i))
    }

    pub fn has_finalizer(&self, finalizer: &str) -> bool {
        self.finalizers().any(|f| f == finalizer)
    }

    /// `metadata.deletionTimestamp` is set.
    pub fn is_terminating(&self) -> bool {
        self.flags & TERMINATING != 0
    }

    /// `spec.finalizers` is a non-empty list (what keeps a Namespace).
    pub fn has_spec_finalizers(&self) -> bool {
        self.flags & SPEC_FINALIZERS != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bosun_api::registry;
    use serde_json::json;

    fn def(group: &str, plural: &str) -> &'static ResourceDef {
        registry::lookup(group, "v1", plural).unwrap()
    }

    #[test]
    fn extracts_metadata_and_selectable_fields() {
        let pods = def("", "pods");
        let pod = json!({
            "metadata": {
                "name": "web-1", "namespace": "prod", "uid": "u-1",
                "labels": {"app": "web", "tier": "front", "bad": 3},
                "ownerReferences": [{"uid": "rs-1"}, {"name": "no-uid"}, {"uid": "rs-2"}],
                "finalizers": ["a/b", "foregroundDeletion"],
                "deletionTimestamp": "2024-01-01T00:00:00Z"
            },
            "spec": {"nodeName": "n1", "hostNetwork": true},
            "status": {"phase": "Running"}
        });
        let m = SlimMeta::extract(pods, &pod);
        assert_eq!(m.name(), "web-1");
        assert_eq!(m.namespace(), Some("prod"));
        assert_eq!(m.uid(), Some("u-1"));
        assert_eq!(
            m.labels().collect::<Vec<_>>(),
            vec![("app", "web"), ("tier", "front")]
        );
        assert_eq!(m.label("tier"), Some("front"));
        assert_eq!(m.label("bad"), None);
        for (i, field) in pods.selectable_fields.iter().enumerate() {
            assert_eq!(
                m.field(i),
                objects::field_string(&pod, field).as_deref(),
                "{field}"
            );
        }
        let node = pods
            .selectable_fields
            .iter()
            .position(|f| *f == "spec.nodeName")
            .unwrap();
        assert_eq!(m.field(node), Some("n1"));
        assert_eq!(m.field(pods.selectable_fields.len()), None);
        assert_eq!(m.owner_uids().collect::<Vec<_>>(), vec!["rs-1", "rs-2"]);
        assert_eq!(
            m.finalizers().collect::<Vec<_>>(),
            vec!["a/b", "foregroundDeletion"]
        );
        assert!(m.has_finalizer("foregroundDeletion"));
        assert!(!m.has_finalizer("orphan"));
        assert!(m.is_terminating());
        assert!(!m.has_spec_finalizers());
    }

    #[test]
    fn missing_and_empty_values() {
        let cases: &[(Value, Option<&str>, bool, bool)] = &[
            (json!({}), None, false, false),
            (json!({"metadata": {"namespace": ""}}), None, false, false),
            (
                json!({"metadata": {"deletionTimestamp": null}, "spec": {"finalizers": []}}),
                None,
                false,
                false,
            ),
            (
                json!({"metadata": {"namespace": "x", "deletionTimestamp": "t"},
                       "spec": {"finalizers": ["kubernetes"]}}),
                Some("x"),
                true,
                true,
            ),
        ];
        let namespaces = def("", "namespaces");
        for (obj, ns, terminating, spec_finalizers) in cases {
            let m = SlimMeta::extract(namespaces, obj);
            assert_eq!(m.name(), "", "{obj}");
            assert_eq!(m.namespace(), *ns, "{obj}");
            assert_eq!(m.uid(), None, "{obj}");
            assert_eq!(m.labels().count(), 0, "{obj}");
            assert_eq!(m.owner_uids().count(), 0, "{obj}");
            assert_eq!(m.finalizers().count(), 0, "{obj}");
            assert_eq!(m.field(0), None, "{obj}");
            assert_eq!(m.is_terminating(), *terminating, "{obj}");
            assert_eq!(m.has_spec_finalizers(), *spec_finalizers, "{obj}");
        }
    }

    #[test]
    fn events_keep_involved_object_fields() {
        let events = def("", "events");
        let ev = json!({"metadata": {"name": "e", "namespace": "d"},
            "involvedObject": {"kind": "Pod", "name": "p", "namespace": "d"}});
        let m = SlimMeta::extract(events, &ev);
        let get = |f: &str| {
            let i = events
                .selectable_fields
                .iter()
                .position(|x| *x == f)
                .unwrap();
            m.field(i)
        };
        assert_eq!(get("involvedObject.kind"), Some("Pod"));
        assert_eq!(get("involvedObject.name"), Some("p"));
    }
}
