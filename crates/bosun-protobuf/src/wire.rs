//! Low-level protobuf wire format reading: varints, keys and field values.

use crate::error::DecodeError;

/// One field value as it appears on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WireValue<'a> {
    /// Wire type 0.
    Varint(u64),
    /// Wire type 1.
    Fixed64(u64),
    /// Wire type 2.
    Len(&'a [u8]),
    /// Wire type 5.
    Fixed32(u32),
    /// A skipped group (wire types 3..4); only fits unknown fields.
    Group,
}

impl WireValue<'_> {
    /// The numeric wire type of this value.
    pub(crate) fn wire_type(&self) -> u8 {
        match self {
            WireValue::Varint(_) => 0,
            WireValue::Fixed64(_) => 1,
            WireValue::Len(_) => 2,
            WireValue::Fixed32(_) => 5,
            WireValue::Group => 3,
        }
    }
}

/// Reads one varint from the front of `buf`, returning it and the rest.
pub(crate) fn read_varint(buf: &[u8]) -> Result<(u64, &[u8]), DecodeError> {
    let mut value: u64 = 0;
    for (i, byte) in buf.iter().enumerate() {
        if i >= 10 {
            return Err(DecodeError::VarintOverflow);
        }
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok((value, &buf[i + 1..]));
        }
    }
    if buf.len() >= 10 {
        Err(DecodeError::VarintOverflow)
    } else {
        Err(DecodeError::Truncated)
    }
}

fn take(buf: &[u8], n: usize) -> Result<(&[u8], &[u8]), DecodeError> {
    if buf.len() < n {
        return Err(DecodeError::Truncated);
    }
    Ok(buf.split_at(n))
}

/// Splits a message into its `(field number, value)` pairs in wire order.
pub(crate) fn fields(mut buf: &[u8]) -> Result<Vec<(u32, WireValue<'_>)>, DecodeError> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        let (key, rest) = read_varint(buf)?;
        let field = u32::try_from(key >> 3).map_err(|_| DecodeError::BadWireType {
            field: u32::MAX,
            wire_type: (key & 7) as u8,
        })?;
        let wire_type = (key & 7) as u8;
        if field == 0 {
            return Err(DecodeError::BadWireType { field, wire_type });
        }
        let (value, rest) = match wire_type {
            0 => {
                let (v, rest) = read_varint(rest)?;
                (WireValue::Varint(v), rest)
            }
            1 => {
                let (bytes, rest) = take(rest, 8)?;
                let mut arr = [0u8; 8];
                arr.copy_from_slice(bytes);
                (WireValue::Fixed64(u64::from_le_bytes(arr)), rest)
            }
            2 => {
                let (len, rest) = read_varint(rest)?;
                let len = usize::try_from(len).map_err(|_| DecodeError::Truncated)?;
                let (bytes, rest) = take(rest, len)?;
                (WireValue::Len(bytes), rest)
            }
            5 => {
                let (bytes, rest) = take(rest, 4)?;
                let mut arr = [0u8; 4];
                arr.copy_from_slice(bytes);
                (WireValue::Fixed32(u32::from_le_bytes(arr)), rest)
            }
            3 => (WireValue::Group, skip_group(field, rest)?),
            _ => return Err(DecodeError::BadWireType { field, wire_type }),
        };
        out.push((field, value));
        buf = rest;
    }
    Ok(out)
}

/// Skips the body of a group opened for `field`, returning what follows its
/// end marker. Nested groups are skipped as well.
fn skip_group(field: u32, mut buf: &[u8]) -> Result<&[u8], DecodeError> {
    loop {
        if buf.is_empty() {
            return Err(DecodeError::Truncated);
        }
        let (key, rest) = read_varint(buf)?;
        let number = u32::try_from(key >> 3).unwrap_or(u32::MAX);
        buf = match key & 7 {
            0 => read_varint(rest)?.1,
            1 => take(rest, 8)?.1,
            2 => {
                let (len, rest) = read_varint(rest)?;
                take(
                    rest,
                    usize::try_from(len).map_err(|_| DecodeError::Truncated)?,
                )?
                .1
            }
            3 => skip_group(number, rest)?,
            4 if number == field => return Ok(rest),
            5 => take(rest, 4)?.1,
            wire_type => {
                return Err(DecodeError::BadWireType {
                    field: number,
                    wire_type: wire_type as u8,
                })
            }
        };
    }
}

/// Decodes a packed run of varints (a length-delimited repeated scalar).
pub(crate) fn packed_varints(mut buf: &[u8]) -> Result<Vec<u64>, DecodeError> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        let (v, rest) = read_varint(buf)?;
        out.push(v);
        buf = rest;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_decode_per_spec() {
        let cases: &[(&[u8], u64)] = &[
            (&[0x00], 0),
            (&[0x01], 1),
            (&[0x7f], 127),
            (&[0x80, 0x01], 128),
            (&[0xac, 0x02], 300),
            (&[0xff, 0xff, 0xff, 0xff, 0x0f], 0xffff_ffff),
            (
                &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
                u64::MAX,
            ),
        ];
        for (bytes, want) in cases {
            let (got, rest) = read_varint(bytes).unwrap();
            assert_eq!(got, *want, "{bytes:?}");
            assert!(rest.is_empty());
        }
    }

    #[test]
    fn varint_errors() {
        assert_eq!(read_varint(&[0x80]), Err(DecodeError::Truncated));
        assert_eq!(read_varint(&[]), Err(DecodeError::Truncated));
        assert_eq!(read_varint(&[0xff; 11]), Err(DecodeError::VarintOverflow));
    }

    #[test]
    fn fields_split_all_wire_types() {
        let buf = [
            0x08, 0x96, 0x01, // 1: varint 150
            0x12, 0x02, b'h', b'i', // 2: "hi"
            0x19, 1, 0, 0, 0, 0, 0, 0, 0, // 3: fixed64 1
            0x25, 2, 0, 0, 0, // 4: fixed32 2
        ];
        let got = fields(&buf).unwrap();
        assert_eq!(
            got,
            vec![
                (1, WireValue::Varint(150)),
                (2, WireValue::Len(b"hi")),
                (3, WireValue::Fixed64(1)),
                (4, WireValue::Fixed32(2)),
            ]
        );
    }

    #[test]
    fn fields_reject_bad_input() {
        assert_eq!(fields(&[0x12, 0x05, b'a']), Err(DecodeError::Truncated));
        assert_eq!(fields(&[0x0b]), Err(DecodeError::Truncated));
        assert_eq!(
            fields(&[0x0c]),
            Err(DecodeError::BadWireType {
                field: 1,
                wire_type: 4
            })
        );
        // A group closed by another field's end marker.
        assert_eq!(
            fields(&[0x0b, 0x14]),
            Err(DecodeError::BadWireType {
                field: 2,
                wire_type: 4
            })
        );
        assert_eq!(
            fields(&[0x00, 0x00]),
            Err(DecodeError::BadWireType {
                field: 0,
                wire_type: 0
            })
        );
    }

    #[test]
    fn groups_are_skipped_whole() {
        // 1: group { 2: varint 5, 3: group { 4: "x" } }, then 5: varint 1
        let buf = [
            0x0b, 0x10, 0x05, 0x1b, 0x22, 0x01, b'x', 0x1c, 0x0c, 0x28, 0x01,
        ];
        assert_eq!(
            fields(&buf).unwrap(),
            vec![(1, WireValue::Group), (5, WireValue::Varint(1))]
        );
    }

    #[test]
    fn packed_runs() {
        assert_eq!(
            packed_varints(&[1, 0x80, 0x01, 3]).unwrap(),
            vec![1, 128, 3]
        );
        assert_eq!(packed_varints(&[0x80]), Err(DecodeError::Truncated));
    }
}
