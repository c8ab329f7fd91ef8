//! Turning a stored object into a cache [`Entry`] without decoding it into
//! a tree.
//!
//! The store holds compact JSON. The cache needs that JSON with
//! `metadata.resourceVersion` stamped, plus a [`SlimMeta`]. Building and
//! dropping a full `Value` per write costs hundreds of small allocations;
//! here the object is split into its top-level members (values left
//! encoded), `metadata` likewise, and only the few values the index needs
//! are decoded: they form a small skeleton object that
//! [`SlimMeta::extract`] reads exactly as it would read the whole object.
//! The output is the members written back in order with the version
//! replaced or appended, which is what encoding the decoded object would
//! give. Anything unusual (not an object, a non-object `metadata`,
//! duplicate keys) takes the decoding path instead.

use std::borrow::Cow;
use std::fmt;

use bosun_api::registry::ResourceDef;
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::meta::SlimMeta;

/// Metadata fields [`SlimMeta::extract`] reads.
const META_FIELDS: &[&str] = &[
    "name",
    "namespace",
    "uid",
    "labels",
    "ownerReferences",
    "finalizers",
    "deletionTimestamp",
];

/// Paths outside metadata [`SlimMeta::extract`] reads besides the
/// resource's selectable fields.
const EXTRA_PATHS: &[&str] = &["spec.finalizers"];

/// A member name, borrowed from the input unless it had escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

/// The members of a JSON object in document order, values still encoded.
pub(super) struct Members<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de> Deserialize<'de> for Members<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct MembersVisitor;
        impl<'de> Visitor<'de> for MembersVisitor {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some(Key(k)) = map.next_key()? {
                    let v: &'de RawValue = map.next_value()?;
                    out.push((k, v));
                }
                Ok(Members(out))
            }
        }
        d.deserialize_map(MembersVisitor)
    }
}

impl<'a> Members<'a> {
    pub fn parse(json: &'a str) -> Option<Self> {
        serde_json::from_str(json).ok()
    }

    /// The value of `key` (the last one, as decoding keeps).
    fn get(&self, key: &str) -> Option<&'a RawValue> {
        self.0.iter().rev().find(|(k, _)| k == key).map(|(_, v)| *v)
    }

    fn has_duplicates(&self) -> bool {
        let keys = &self.0;
        keys.iter()
            .enumerate()
            .any(|(i, (k, _))| keys[..i].iter().any(|(o, _)| o == k))
    }
}

fn decode_raw(raw: &RawValue) -> Option<Value> {
    serde_json::from_str(raw.get()).ok()
}

/// The value at a dotted path below `members`, decoded; `objects` keeps
/// the first-level objects already split.
fn lookup<'a>(
    members: &Members<'a>,
    objects: &mut Vec<(&'static str, Option<Members<'a>>)>,
    path: &'static str,
) -> Option<Value> {
    let (first, rest) = match path.split_once('.') {
        None => return members.get(path).and_then(decode_raw),
        Some(split) => split,
    };
    let idx = match objects.iter().position(|(k, _)| *k == first) {
        Some(i) => i,
        None => {
            let split = members.get(first).and_then(|raw| Members::parse(raw.get()));
            objects.push((first, split));
            objects.len() - 1
        }
    };
    let mut node = objects.get(idx)?.1.as_ref()?.get(rest.split('.').next()?)?;
    for part in rest.split('.').skip(1) {
        node = Members::parse(node.get())?.get(part)?;
    }
    decode_raw(node)
}

/// Puts `value` at a dotted path inside `obj`, creating objects on the way.
fn set_path(obj: &mut Map<String, Value>, path: &str, value: Value) {
    match path.split_once('.') {
        None => {
            obj.insert(path.to_string(), value);
        }
        Some((first, rest)) => {
            let child = obj
                .entry(first.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(child) = child {
                set_path(child, rest, value);
            }
        }
    }
}

/// A stored object made ready for the cache.
pub(super) struct Scanned {
    /// The object with its resourceVersion stamped.
    pub json: Vec<u8>,
    /// Where the version's text sits in `json`.
    pub version: Option<(usize, usize)>,
    /// The bytes holding the `metadata.managedFields` member and one
    /// separating comma.
    pub managed: super::entry::Span,
    pub meta: SlimMeta,
}

/// Prepares a stored object of `def` for the cache; `None` when the object
/// needs the decoding path.
pub(super) fn scan(def: &ResourceDef, raw: &[u8], revision: &str) -> Option<Scanned> {
    let text = std::str::from_utf8(raw).ok()?;
    let top = Members::parse(text)?;
    if top.has_duplicates() {
        return None;
    }
    let metadata = match top.get("metadata") {
        None => None,
        Some(m) => {
            let m = Members::parse(m.get())?;
            if m.has_duplicates() {
                return None;
            }
            Some(m)
        }
    };

    // The skeleton: just what the index reads.
    let mut skeleton = Map::new();
    if let Some(m) = &metadata {
        let mut meta = Map::new();
        for field in META_FIELDS {
            if let Some(v) = m.get(field).and_then(decode_raw) {
                meta.insert((*field).to_string(), v);
            }
        }
        skeleton.insert("metadata".into(), Value::Object(meta));
    }
    let mut objects = Vec::new();
    for path in def.selectable_fields.iter().chain(EXTRA_PATHS) {
        if let Some(v) = lookup(&top, &mut objects, path) {
            set_path(&mut skeleton, path, v);
        }
    }
    let meta = SlimMeta::extract(def, &Value::Object(skeleton));

    // The members written back, the version replaced or appended.
    let mut out = Vec::with_capacity(raw.len() + revision.len() + 24);
    let mut span = None;
    let mut managed = None;
    out.push(b'{');
    for (i, (key, value)) in top.0.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_key(&mut out, key)?;
        match (&metadata, key.as_ref()) {
            (Some(m), "metadata") => {
                out.push(b'{');
                let mut stamped = false;
                for (j, (k, v)) in m.0.iter().enumerate() {
                    let member_start = out.len();
                    if j > 0 {
                        out.push(b',');
                    }
                    write_key(&mut out, k)?;
                    if k == "resourceVersion" {
                        span = Some(write_version(&mut out, revision));
                        stamped = true;
                    } else {
                        out.extend_from_slice(v.get().as_bytes());
                    }
                    if k == "managedFields" {
                        managed = Some((member_start, out.len(), j == 0));
                    }
                }
                if !stamped {
                    if !m.0.is_empty() {
                        out.push(b',');
                    }
                    out.extend_from_slice(b"\"resourceVersion\":");
                    span = Some(write_version(&mut out, revision));
                }
                out.push(b'}');
            }
            _ => out.extend_from_slice(value.get().as_bytes()),
        }
    }
    out.push(b'}');
    let managed =
        managed.and_then(|(start, end, first)| super::entry::member_span(&out, start, end, first));
    Some(Scanned {
        json: out,
        version: span,
        managed,
        meta,
    })
}

fn write_key(out: &mut Vec<u8>, key: &str) -> Option<()> {
    serde_json::to_writer(&mut *out, key).ok()?;
    out.push(b':');
    Some(())
}

/// Writes `"revision"`, returning where its text sits.
fn write_version(out: &mut Vec<u8>, revision: &str) -> (usize, usize) {
    out.push(b'"');
    let start = out.len();
    out.extend_from_slice(revision.as_bytes());
    let end = out.len();
    out.push(b'"');
    (start, end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::Entry;
    use bosun_api::registry;
    use serde_json::json;

    fn def(group: &str, plural: &str) -> &'static ResourceDef {
        registry::lookup(group, "v1", plural).unwrap()
    }

    /// Decoding via the scan must give what decoding into a tree gives.
    fn assert_same(def: &ResourceDef, raw: &[u8], scanned: bool) {
        assert_eq!(
            scan(def, raw, "17").is_some(),
            scanned,
            "{}",
            String::from_utf8_lossy(raw)
        );
        let fast = Entry::decode(def, raw, 17).unwrap();
        let value: Value = serde_json::from_slice(raw).unwrap();
        let slow = Entry::new(def, value, 17);
        let text = String::from_utf8_lossy(raw);
        assert_eq!(
            String::from_utf8_lossy(&fast.json),
            String::from_utf8_lossy(&slow.json),
            "{text}"
        );
        assert_eq!(fast.meta, slow.meta, "{text}");
        // The recorded version position is right: moving it works.
        assert_eq!(
            fast.with_revision(1234).json,
            slow.with_revision(1234).json,
            "{text}"
        );
    }

    #[test]
    fn scanning_matches_decoding() {
        let pods = def("", "pods");
        let cases = [
            json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "web-1", "namespace": "prod", "uid": "u1",
                    "labels": {"app": "web", "n": 3}, "annotations": {"a": "b"},
                    "ownerReferences": [{"uid": "rs", "kind": "ReplicaSet"}],
                    "finalizers": ["x/y"], "deletionTimestamp": "2024-01-01T00:00:00Z",
                    "managedFields": [{"manager": "m", "fieldsV1": {"f:spec": {".": {}}}}]},
                "spec": {"nodeName": "n1", "hostNetwork": false, "containers": [{"name": "c"}],
                    "finalizers": ["kubernetes"]},
                "status": {"phase": "Running", "podIP": "10.0.0.1"}}),
            // An old version to replace, not at the end.
            json!({"metadata": {"resourceVersion": "3", "name": "a"}, "spec": {}}),
            json!({"metadata": {}}),
            json!({"kind": "Pod"}),
            json!({}),
            json!({"metadata": {"name": "q\"uote\\é\u{1}", "labels": {"k\"": "v\n"}},
                "sp\u{e9}c": 1, "spec": "not an object", "status": {"phase": null}}),
            json!({"metadata": {"name": "n", "deletionTimestamp": null},
                "spec": {"nodeName": 7, "schedulerName": {"nested": true}},
                "status": [1, 2]}),
        ];
        for obj in &cases {
            assert_same(pods, &serde_json::to_vec(obj).unwrap(), true);
        }
        let events = def("", "events");
        let ev = json!({"metadata": {"name": "e", "namespace": "d"},
            "involvedObject": {"kind": "Pod", "name": "p", "resourceVersion": "5"},
            "reason": "Started", "type": "Normal", "source": {"component": "k"}});
        assert_same(events, &serde_json::to_vec(&ev).unwrap(), true);
        let namespaces = def("", "namespaces");
        let ns = json!({"metadata": {"name": "x", "deletionTimestamp": "t"},
            "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Terminating"}});
        assert_same(namespaces, &serde_json::to_vec(&ns).unwrap(), true);
    }

    #[test]
    fn unusual_objects_take_the_decoding_path() {
        let pods = def("", "pods");
        let cases: &[&str] = &[
            r#"{"metadata":{"name":"a"},"metadata":{"name":"b"}}"#,
            r#"{"metadata":{"name":"a","name":"b"}}"#,
            r#"{"metadata":null,"kind":"Pod"}"#,
            r#"{"metadata":"x"}"#,
            r#"[1,2]"#,
            r#""text""#,
        ];
        for raw in cases {
            assert_same(pods, raw.as_bytes(), false);
        }
        assert!(Entry::decode(pods, b"{not json", 1).is_err());
        assert!(Entry::decode(pods, b"{\"a\":1} trailing", 1).is_err());
    }

    #[test]
    fn spacing_survives_but_stays_valid() {
        let pods = def("", "pods");
        let raw = br#"{ "metadata" : { "name" : "a" , "labels" : {"app": "web"} } , "spec" : { "nodeName" : "n" } }"#;
        let e = Entry::decode(pods, raw, 9).unwrap();
        let v: Value = serde_json::from_slice(&e.json).unwrap();
        assert_eq!(v["metadata"]["resourceVersion"], "9");
        assert_eq!(v["spec"]["nodeName"], "n");
        assert_eq!(e.meta.label("app"), Some("web"));
        assert_eq!(
            e.with_revision(10).value()["metadata"]["resourceVersion"],
            "10"
        );
    }
}
