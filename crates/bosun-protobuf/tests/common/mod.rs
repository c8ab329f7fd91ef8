//! A tiny protobuf writer for building test bodies by hand.

/// A protobuf message under construction.
#[derive(Default, Clone)]
pub struct Msg(Vec<u8>);

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

impl Msg {
    pub fn new() -> Self {
        Self::default()
    }

    fn key(&mut self, field: u32, wire_type: u8) {
        put_varint(&mut self.0, (u64::from(field) << 3) | u64::from(wire_type));
    }

    /// A varint field (bool, int32, int64; negative values as 10-byte varints).
    pub fn int(mut self, field: u32, v: i64) -> Self {
        self.key(field, 0);
        put_varint(&mut self.0, v as u64);
        self
    }

    /// A length-delimited field with raw bytes.
    pub fn bytes(mut self, field: u32, b: &[u8]) -> Self {
        self.key(field, 2);
        put_varint(&mut self.0, b.len() as u64);
        self.0.extend_from_slice(b);
        self
    }

    pub fn str(self, field: u32, s: &str) -> Self {
        self.bytes(field, s.as_bytes())
    }

    pub fn msg(self, field: u32, m: Msg) -> Self {
        self.bytes(field, &m.0)
    }

    /// A packed repeated varint field.
    pub fn packed(self, field: u32, values: &[i64]) -> Self {
        let mut run = Vec::new();
        for v in values {
            put_varint(&mut run, *v as u64);
        }
        self.bytes(field, &run)
    }

    /// One map entry (key 1, value 2) as a message.
    pub fn entry(self, field: u32, key: &str, value: Msg) -> Self {
        self.msg(field, Msg::new().str(1, key).msg(2, value))
    }

    /// One map entry with a string value.
    pub fn str_entry(self, field: u32, key: &str, value: &str) -> Self {
        self.msg(field, Msg::new().str(1, key).str(2, value))
    }

    /// A `resource.Quantity` message.
    pub fn quantity(s: &str) -> Msg {
        Msg::new().str(1, s)
    }

    /// A `metav1.Time`/`MicroTime` message.
    pub fn time(seconds: i64, nanos: i64) -> Msg {
        Msg::new().int(1, seconds).int(2, nanos)
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}

/// Wraps object bytes in the `k8s\0` + `runtime.Unknown` envelope.
pub fn envelope(api_version: &str, kind: &str, raw: Msg) -> Vec<u8> {
    let unknown = Msg::new()
        .msg(1, Msg::new().str(1, api_version).str(2, kind))
        .msg(2, raw);
    let mut out = b"k8s\0".to_vec();
    out.extend(unknown.into_bytes());
    out
}
