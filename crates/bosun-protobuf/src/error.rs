//! Errors returned while decoding a Kubernetes protobuf body.

/// Why a protobuf request body could not be turned into JSON.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The body does not begin with the 4-byte `k8s\0` prefix.
    #[error("body does not start with the Kubernetes protobuf prefix")]
    MissingMagic,
    /// The protobuf bytes end in the middle of a field.
    #[error("truncated protobuf data")]
    Truncated,
    /// A varint runs past ten bytes.
    #[error("protobuf varint is too long")]
    VarintOverflow,
    /// A field key uses a wire type that is not valid protobuf, or a group
    /// ends without having started.
    #[error("unsupported protobuf wire type {wire_type} for field {field}")]
    BadWireType {
        /// Field number of the offending key.
        field: u32,
        /// Wire type found on the wire.
        wire_type: u8,
    },
    /// A known field arrived with a wire type that does not fit its schema type.
    #[error("field {message}.{field} (number {number}) has wire type {wire_type}, which does not fit its type")]
    WireTypeMismatch {
        /// Struct that owns the field.
        message: String,
        /// JSON name of the field.
        field: String,
        /// Protobuf field number.
        number: u32,
        /// Wire type found on the wire.
        wire_type: u8,
    },
    /// The envelope has an empty `apiVersion` or `kind`.
    #[error("protobuf envelope does not name an apiVersion and kind")]
    MissingTypeMeta,
    /// The envelope names a kind this crate has no schema for.
    #[error("no protobuf schema for kind {kind:?} in {api_version:?}")]
    UnsupportedKind {
        /// `apiVersion` from the envelope.
        api_version: String,
        /// `kind` from the envelope.
        kind: String,
    },
    /// The envelope says the object bytes are compressed or otherwise encoded.
    #[error("unsupported content encoding {0:?} in protobuf envelope")]
    UnsupportedContentEncoding(String),
    /// The envelope says the object bytes are not protobuf.
    #[error("unsupported content type {0:?} in protobuf envelope")]
    UnsupportedContentType(String),
    /// A `resource.Quantity` string does not parse as a quantity.
    #[error("quantity at {0} does not match the quantity syntax")]
    InvalidQuantity(String),
    /// An `IntOrString` has a type other than 0 (int) or 1 (string).
    #[error("IntOrString at {field} has impossible type {value}")]
    InvalidIntOrString {
        /// Where the value was found.
        field: String,
        /// The `type` value on the wire.
        value: i64,
    },
    /// A `RawExtension` or `FieldsV1` does not hold a JSON document.
    #[error("embedded document at {field} is not JSON: {reason}")]
    InvalidEmbeddedJson {
        /// Where the value was found.
        field: String,
        /// The JSON parser's complaint.
        reason: String,
    },
    /// A timestamp lies outside the range this crate can format.
    #[error("timestamp at {0} is out of range")]
    InvalidTime(String),
    /// Objects nest deeper than the decoder allows.
    #[error("object nesting exceeds {0} levels")]
    TooDeep(usize),
    /// The built-in schema is inconsistent (a bug in this crate).
    #[error("internal protobuf schema error: {0}")]
    Schema(String),
}
