//! One cached object: its JSON encoding plus a [`SlimMeta`] index.
//!
//! The encoding is produced once per write, with `metadata.resourceVersion`
//! set, and shared by every list, watch and history event that sends it.
//! Decoded trees are built only on demand, one object at a time.

use std::sync::Arc;

use bosun_api::registry::ResourceDef;
use bytes::Bytes;
use serde_json::Value;

use super::meta::SlimMeta;
use super::scan;

/// An object as the cache keeps it.
#[derive(Clone, Debug)]
pub struct Entry {
    /// The object, compact JSON, with its resourceVersion.
    pub json: Bytes,
    pub meta: Arc<SlimMeta>,
    /// Where the text of `metadata.resourceVersion` sits in `json`.
    rv: Option<(u32, u32)>,
    /// The bytes of `json` that hold the `metadata.managedFields` member
    /// (with one separating comma): what an informer that drops managed
    /// fields skips.
    managed: Option<(u32, u32)>,
}

/// A cached encoding, and where its `metadata.managedFields` member sits.
#[derive(Clone, Copy, Debug)]
pub struct Encoding<'a> {
    pub json: &'a [u8],
    managed: Option<(u32, u32)>,
}

impl<'a> Encoding<'a> {
    pub fn new(json: &'a [u8], managed: Option<(u32, u32)>) -> Self {
        Encoding { json, managed }
    }

    /// Appends the object to `out`, without `metadata.managedFields` when
    /// `omit_managed` is set (as client-go informers strip them with
    /// `TransformStripManagedFields`, only here they are never sent).
    pub fn write(&self, out: &mut Vec<u8>, omit_managed: bool) {
        match self.managed.filter(|_| omit_managed) {
            Some((start, end)) => {
                out.extend_from_slice(&self.json[..start as usize]);
                out.extend_from_slice(&self.json[end as usize..]);
            }
            None => out.extend_from_slice(self.json),
        }
    }

    /// The object as PartialObjectMetadata, spliced from the encoding:
    /// the metadata is borrowed as raw JSON (less the managed fields when
    /// `omit_managed` is set) and the rest of the object is skipped, never
    /// decoded into values.
    pub fn partial_metadata_json(&self, omit_managed: bool) -> Vec<u8> {
        #[derive(serde::Deserialize)]
        struct OnlyMeta<'a> {
            #[serde(borrow, default)]
            metadata: Option<&'a serde_json::value::RawValue>,
        }
        let meta = serde_json::from_slice::<OnlyMeta>(self.json)
            .ok()
            .and_then(|m| m.metadata)
            .map_or("{}", |m| m.get())
            .as_bytes();
        // The managed span as offsets into `meta`, which borrows `json`.
        let skip = self
            .managed
            .filter(|_| omit_managed)
            .and_then(|(start, end)| {
                let base = (meta.as_ptr() as usize).checked_sub(self.json.as_ptr() as usize)?;
                let (start, end) = (
                    (start as usize).checked_sub(base)?,
                    (end as usize).checked_sub(base)?,
                );
                (end <= meta.len()).then_some((start, end))
            });
        let mut out = Vec::with_capacity(meta.len() + 80);
        out.extend_from_slice(
            b"{\"kind\":\"PartialObjectMetadata\",\"apiVersion\":\"meta.k8s.io/v1\",\"metadata\":",
        );
        match skip {
            Some((start, end)) => {
                out.extend_from_slice(&meta[..start]);
                out.extend_from_slice(&meta[end..]);
            }
            None => out.extend_from_slice(meta),
        }
        out.push(b'}');
        out
    }
}

impl Entry {
    /// Builds the entry for `value`, a decoded object of `def`, stamping
    /// `revision` as its resourceVersion.
    pub fn new(def: &ResourceDef, value: Value, revision: i64) -> Self {
        Self::build(def, value, revision, 0)
    }

    /// Decodes a stored object of `def` once: indexes it, stamps
    /// `revision` as its resourceVersion and encodes it again.
    pub fn decode(def: &ResourceDef, raw: &[u8], revision: i64) -> serde_json::Result<Self> {
        if let Some(mut scanned) = scan::scan(def, raw, &revision.to_string()) {
            scanned.json.shrink_to_fit();
            return Ok(Entry {
                json: Bytes::from(scanned.json),
                meta: Arc::new(scanned.meta),
                rv: scanned.version.and_then(|(start, end)| span(start, end)),
                managed: scanned.managed,
            });
        }
        let value: Value = serde_json::from_slice(raw)?;
        // Room for the stamped version, so the buffer never grows.
        Ok(Self::build(def, value, revision, raw.len() + 48))
    }

    fn build(def: &ResourceDef, mut value: Value, revision: i64, size_hint: usize) -> Self {
        let meta = Arc::new(SlimMeta::extract(def, &value));
        if let Some(m) = value.get_mut("metadata").and_then(Value::as_object_mut) {
            m.insert(
                "resourceVersion".into(),
                Value::String(revision.to_string()),
            );
        }
        let (json, rv, managed) = encode(&value, size_hint);
        Entry {
            json,
            meta,
            rv,
            managed,
        }
    }

    /// The encoding, with where its managed fields sit.
    pub fn encoding(&self) -> Encoding<'_> {
        Encoding::new(&self.json, self.managed)
    }

    /// Where the `metadata.managedFields` member sits in `json`.
    pub fn managed_span(&self) -> Option<(u32, u32)> {
        self.managed
    }

    /// The text of `metadata.resourceVersion`, when its place is known.
    pub fn resource_version(&self) -> Option<&str> {
        let (start, end) = self.rv?;
        let text = self.json.get(start as usize..end as usize)?;
        std::str::from_utf8(text).ok()
    }

    /// Decodes the object.
    pub fn value(&self) -> Value {
        match serde_json::from_slice(&self.json) {
            Ok(v) => v,
            Err(err) => {
                // The bytes were encoded from a Value by this module.
                tracing::error!(%err, "cached object does not decode");
                Value::Null
            }
        }
    }

    /// The encoded object as a response body, without
    /// `metadata.managedFields` when `omit_managed` is set; shared, not
    /// copied, otherwise.
    pub fn body(&self, omit_managed: bool) -> Bytes {
        if !omit_managed || self.managed.is_none() {
            return self.json.clone();
        }
        let mut out = Vec::with_capacity(self.json.len());
        self.encoding().write(&mut out, true);
        Bytes::from(out)
    }

    /// The same object with another resourceVersion, e.g. the revision of
    /// its deletion. Splices the encoding instead of decoding it.
    pub fn with_revision(&self, revision: i64) -> Entry {
        let rv = revision.to_string();
        let Some((start, end)) = self.rv else {
            let mut value = self.value();
            if let Some(m) = value.get_mut("metadata").and_then(Value::as_object_mut) {
                m.insert("resourceVersion".into(), Value::String(rv));
            }
            let (json, rv, managed) = encode(&value, self.json.len() + 24);
            return Entry {
                json,
                meta: self.meta.clone(),
                rv,
                managed,
            };
        };
        let (start, end) = (start as usize, end as usize);
        let mut out = Vec::with_capacity(self.json.len() - (end - start) + rv.len());
        out.extend_from_slice(&self.json[..start]);
        out.extend_from_slice(rv.as_bytes());
        out.extend_from_slice(&self.json[end..]);
        // A managedFields member after the version moves with its length.
        let managed = self.managed.and_then(|(m_start, m_end)| {
            if m_start as usize >= end {
                let shift = |p: u32| (p as usize + rv.len()).checked_sub(end - start);
                span(shift(m_start)?, shift(m_end)?)
            } else {
                Some((m_start, m_end))
            }
        });
        Entry {
            json: Bytes::from(out),
            meta: self.meta.clone(),
            rv: span(start, start + rv.len()),
            managed,
        }
    }
}

fn span(start: usize, end: usize) -> Option<(u32, u32)> {
    Some((u32::try_from(start).ok()?, u32::try_from(end).ok()?))
}

pub(super) type Span = Option<(u32, u32)>;

/// Encodes `value` exactly as `serde_json::to_vec` does, noting where the
/// text of `metadata.resourceVersion` and the `metadata.managedFields`
/// member land. The buffer starts at `size_hint` bytes and is trimmed to
/// fit, so the cache keeps no spare capacity.
fn encode(value: &Value, size_hint: usize) -> (Bytes, Span, Span) {
    let mut out = Vec::with_capacity(size_hint);
    let mut rv = None;
    let mut managed = None;
    let written = match value {
        Value::Object(top) => encode_top(&mut out, top, &mut rv, &mut managed),
        other => serde_json::to_writer(&mut out, other),
    };
    if let Err(err) = written {
        // Writing a Value into memory does not fail.
        tracing::error!(%err, "cannot encode object");
        return (Bytes::new(), None, None);
    }
    if out.capacity() > out.len() {
        out.shrink_to_fit();
    }
    (Bytes::from(out), rv, managed)
}

/// The bytes to skip to drop one metadata member: from the comma before
/// it, or, for the first member, through the comma after it. `start` is
/// where the member's comma or (first member) key begins, `end` where its
/// value ends, in the finished `out`.
pub(super) fn member_span(out: &[u8], start: usize, end: usize, first: bool) -> Span {
    let end = if first && out.get(end) == Some(&b',') {
        end + 1
    } else {
        end
    };
    span(start, end)
}

fn encode_top(
    out: &mut Vec<u8>,
    top: &serde_json::Map<String, Value>,
    rv: &mut Span,
    managed: &mut Span,
) -> serde_json::Result<()> {
    let mut member = None;
    out.push(b'{');
    for (i, (key, value)) in top.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        serde_json::to_writer(&mut *out, key)?;
        out.push(b':');
        match value {
            Value::Object(meta) if key == "metadata" => {
                out.push(b'{');
                for (j, (k, v)) in meta.iter().enumerate() {
                    let member_start = out.len();
                    if j > 0 {
                        out.push(b',');
                    }
                    serde_json::to_writer(&mut *out, k)?;
                    out.push(b':');
                    let start = out.len();
                    serde_json::to_writer(&mut *out, v)?;
                    if k == "resourceVersion" && v.is_string() {
                        // Inside the quotes; versions need no escaping.
                        *rv = span(start + 1, out.len() - 1);
                    }
                    if k == "managedFields" {
                        member = Some((member_start, out.len(), j == 0));
                    }
                }
                out.push(b'}');
            }
            _ => serde_json::to_writer(&mut *out, value)?,
        }
    }
    out.push(b'}');
    *managed = member.and_then(|(start, end, first)| member_span(out, start, end, first));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bosun_api::registry;

    fn metadata_of(e: &Entry) -> Value {
        let partial: Value =
            serde_json::from_slice(&e.encoding().partial_metadata_json(false)).unwrap();
        partial["metadata"].clone()
    }
    use serde_json::json;

    fn pods() -> &'static ResourceDef {
        registry::lookup("", "v1", "pods").unwrap()
    }

    #[test]
    fn encoding_matches_serde_json() {
        let cases = [
            json!({"kind": "Pod", "metadata": {"name": "a", "resourceVersion": "1"}}),
            json!({"metadata": {}, "spec": {"x": [1, 2.5, null, "q\"uote"]}}),
            json!({"metadata": {"resourceVersion": 7}}),
            json!({"metadata": "odd"}),
            json!([1, 2]),
            json!({}),
            json!({"z": 1, "a": {"metadata": {"resourceVersion": "9"}}, "metadata": {"ü": "ß"}}),
        ];
        for v in cases {
            let (json, _, _) = encode(&v, 0);
            assert_eq!(
                json.as_ref(),
                serde_json::to_vec(&v).unwrap().as_slice(),
                "{v}"
            );
        }
    }

    #[test]
    fn stamps_revision_and_keeps_key_order() {
        let obj = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "d", "resourceVersion": "3", "uid": "u"},
            "spec": {"nodeName": "n"}});
        let e = Entry::new(pods(), obj.clone(), 42);
        let mut want = obj;
        want["metadata"]["resourceVersion"] = json!("42");
        assert_eq!(
            e.json.as_ref(),
            serde_json::to_vec(&want).unwrap().as_slice()
        );
        assert_eq!(e.value(), want);
        assert_eq!(metadata_of(&e), want["metadata"]);
        assert_eq!(e.meta.name(), "p");
        assert_eq!(e.meta.namespace(), Some("d"));
    }

    #[test]
    fn with_revision_splices_the_version() {
        let obj = json!({"metadata": {"name": "p", "annotations": {"resourceVersion": "5"}},
            "involvedObject": {"resourceVersion": "5"}});
        // Before and after the digit count changes, and without metadata.
        for (rev, next) in [(5, 6), (9, 10), (100, 7)] {
            let e = Entry::new(pods(), obj.clone(), rev);
            let moved = e.with_revision(next);
            let mut want = obj.clone();
            want["metadata"]["resourceVersion"] = json!(next.to_string());
            assert_eq!(moved.value(), want);
            assert_eq!(
                moved.json.as_ref(),
                serde_json::to_vec(&want).unwrap().as_slice()
            );
            // And again from the spliced one.
            let again = moved.with_revision(rev);
            assert_eq!(again.json, e.json);
            assert!(Arc::ptr_eq(&again.meta, &e.meta));
        }
        let bare = Entry::new(pods(), json!({"kind": "Pod"}), 4);
        assert_eq!(bare.value(), json!({"kind": "Pod"}));
        assert_eq!(bare.with_revision(8).value(), json!({"kind": "Pod"}));
        assert_eq!(metadata_of(&bare), json!({}));
    }

    /// `obj` with metadata.managedFields removed and the version stamped.
    fn without_managed(obj: &Value, rev: i64) -> Value {
        let mut want = obj.clone();
        let meta = want["metadata"].as_object_mut().unwrap();
        meta.shift_remove("managedFields");
        meta.insert("resourceVersion".into(), json!(rev.to_string()));
        want
    }

    fn omitted(e: &Entry) -> Value {
        let mut out = Vec::new();
        e.encoding().write(&mut out, true);
        serde_json::from_slice(&out).expect("valid JSON without managedFields")
    }

    #[test]
    fn managed_fields_can_be_left_out_of_the_encoding() {
        let mf = json!([{"manager": "m", "operation": "Update", "fieldsV1": {"f:data": {}}}]);
        let cases = [
            // First, middle, last and only member; after the version;
            // absent; a nested key of the same name stays.
            json!({"kind": "Pod", "metadata": {"managedFields": mf, "name": "a"}}),
            json!({"metadata": {"name": "a", "managedFields": mf, "uid": "u"}, "spec": {}}),
            json!({"metadata": {"name": "a", "managedFields": mf}}),
            json!({"metadata": {"managedFields": mf}}),
            json!({"metadata": {"resourceVersion": "1", "managedFields": mf}, "x": 1}),
            json!({"metadata": {"name": "a"}, "data": {"managedFields": "[]"}}),
            json!({"metadata": {"name": "a"}, "spec": {"metadata": {"managedFields": mf}}}),
        ];
        for obj in cases {
            let raw = serde_json::to_vec(&obj).unwrap();
            let scanned = Entry::decode(pods(), &raw, 7).unwrap();
            let built = Entry::new(pods(), obj.clone(), 7);
            for e in [&scanned, &built] {
                assert_eq!(omitted(e), without_managed(&obj, 7), "{obj}");
                let partial: Value =
                    serde_json::from_slice(&e.encoding().partial_metadata_json(true)).unwrap();
                assert_eq!(
                    partial["metadata"],
                    without_managed(&obj, 7)["metadata"],
                    "{obj}"
                );
                // Kept when not asked to leave them out.
                let mut all = Vec::new();
                e.encoding().write(&mut all, false);
                assert_eq!(all, e.json.as_ref());
                // The span follows the version when it moves.
                for next in [8, 1234567] {
                    let moved = e.with_revision(next);
                    assert_eq!(omitted(&moved), without_managed(&obj, next), "{obj}");
                }
            }
        }
    }

    #[test]
    fn partial_metadata_is_spliced_from_the_encoding() {
        let json = br#"{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"a","managedFields":[{"manager":"m"}]},"data":{"k":"{\"metadata\":1}"}}"#;
        let out: Value =
            serde_json::from_slice(&Encoding::new(json, None).partial_metadata_json(false))
                .expect("json");
        assert_eq!(
            out,
            serde_json::json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                "metadata": {"name": "a", "managedFields": [{"manager": "m"}]}})
        );
        let out: Value =
            serde_json::from_slice(&Encoding::new(b"{}", None).partial_metadata_json(false))
                .expect("json");
        assert_eq!(out["metadata"], serde_json::json!({}));
    }
}
