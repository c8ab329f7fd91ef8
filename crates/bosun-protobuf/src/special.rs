//! JSON forms of the apimachinery types that do not marshal field by field:
//! `metav1.Time`, `metav1.MicroTime`, `resource.Quantity`,
//! `intstr.IntOrString`, `runtime.RawExtension` and `metav1.FieldsV1`.

use serde_json::Value;

use crate::error::DecodeError;
use crate::wire::{self, WireValue};

/// Seconds from 0001-01-01T00:00:00Z (Go's zero time) to the Unix epoch.
const ZERO_TIME_UNIX: i64 = -62_135_596_800;

/// Renders a `Time`/`MicroTime` message. An empty message is Go's zero time,
/// which marshals as `null`; otherwise the UTC instant is formatted as RFC 3339,
/// to the second for `Time` and to the microsecond for `MicroTime`. Upstream
/// discards the `nanos` of a `Time` when decoding, so only `MicroTime` uses it.
pub(crate) fn time(bytes: &[u8], micro: bool, at: &str) -> Result<Value, DecodeError> {
    if bytes.is_empty() {
        return Ok(Value::Null);
    }
    let mut seconds: i64 = 0;
    let mut nanos: i32 = 0;
    for (number, value) in wire::fields(bytes)? {
        match (number, value) {
            // Go converts the varint with a plain integer cast.
            (1, WireValue::Varint(v)) => seconds = v as i64,
            (2, WireValue::Varint(v)) => nanos = v as i32,
            (1 | 2, other) => {
                return Err(DecodeError::WireTypeMismatch {
                    message: "Time".to_owned(),
                    field: at.to_owned(),
                    number,
                    wire_type: other.wire_type(),
                })
            }
            _ => {}
        }
    }
    // Normalise nanoseconds into [0, 1e9) the way time.Unix does.
    let mut nanos = if micro { i64::from(nanos) } else { 0 };
    let mut seconds = seconds
        .checked_add(nanos.div_euclid(1_000_000_000))
        .ok_or_else(|| DecodeError::InvalidTime(at.to_owned()))?;
    nanos = nanos.rem_euclid(1_000_000_000);
    if seconds == ZERO_TIME_UNIX && nanos == 0 {
        return Ok(Value::Null);
    }
    let days = seconds.div_euclid(86_400);
    seconds = seconds.rem_euclid(86_400);
    let (year, month, day) =
        civil_from_days(days).ok_or_else(|| DecodeError::InvalidTime(at.to_owned()))?;
    let mut out = String::with_capacity(32);
    if year < 0 {
        out.push('-');
    }
    out.push_str(&format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        year.unsigned_abs(),
        month,
        day,
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    ));
    if micro {
        out.push_str(&format!(".{:06}", nanos / 1000));
    }
    out.push('Z');
    Ok(Value::String(out))
}

/// Converts days since 1970-01-01 to a proleptic Gregorian (year, month, day).
fn civil_from_days(days: i64) -> Option<(i64, u32, u32)> {
    let z = days.checked_add(719_468)?;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe.checked_add(era.checked_mul(400)?)? + i64::from(month <= 2);
    Some((year, month, day))
}

/// Renders a `Quantity` message (its single `string` field). A message without
/// the field is the zero quantity, `"0"`; an empty string fails to parse upstream.
pub(crate) fn quantity(bytes: &[u8], at: &str) -> Result<Value, DecodeError> {
    let mut text: Option<&[u8]> = None;
    for (number, value) in wire::fields(bytes)? {
        match (number, value) {
            (1, WireValue::Len(s)) => text = Some(s),
            (1, other) => {
                return Err(DecodeError::WireTypeMismatch {
                    message: "Quantity".to_owned(),
                    field: at.to_owned(),
                    number,
                    wire_type: other.wire_type(),
                })
            }
            _ => {}
        }
    }
    match text {
        None => Ok(Value::String("0".to_owned())),
        Some(s) => {
            let s = String::from_utf8_lossy(s);
            if !is_quantity_syntax(&s) {
                return Err(DecodeError::InvalidQuantity(at.to_owned()));
            }
            Ok(Value::String(s.into_owned()))
        }
    }
}

/// Whether `s` has the shape `resource.ParseQuantity` accepts: an optionally
/// signed decimal number followed by an SI or binary suffix or an exponent.
fn is_quantity_syntax(s: &str) -> bool {
    const SUFFIXES: [&str; 16] = [
        "", "n", "u", "m", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei",
    ];
    let unsigned = s.strip_prefix(['+', '-']).unwrap_or(s);
    let number_len = unsigned
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(unsigned.len());
    let (number, suffix) = unsigned.split_at(number_len);
    let digits = number.bytes().filter(u8::is_ascii_digit).count();
    if digits == 0 || number.len() - digits > 1 {
        return false;
    }
    if SUFFIXES.contains(&suffix) {
        return true;
    }
    let Some(exponent) = suffix.strip_prefix(['e', 'E']) else {
        return false;
    };
    let exponent = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
    !exponent.is_empty() && exponent.bytes().all(|b| b.is_ascii_digit())
}

/// Renders an `IntOrString` message as a JSON number (type 0) or string (type 1).
pub(crate) fn int_or_string(bytes: &[u8], at: &str) -> Result<Value, DecodeError> {
    let mut kind: i64 = 0;
    let mut int_val: i32 = 0;
    let mut str_val: &[u8] = b"";
    for (number, value) in wire::fields(bytes)? {
        match (number, value) {
            (1, WireValue::Varint(v)) => kind = v as i64,
            (2, WireValue::Varint(v)) => int_val = v as i32,
            (3, WireValue::Len(s)) => str_val = s,
            (1..=3, other) => {
                return Err(DecodeError::WireTypeMismatch {
                    message: "IntOrString".to_owned(),
                    field: at.to_owned(),
                    number,
                    wire_type: other.wire_type(),
                })
            }
            _ => {}
        }
    }
    match kind {
        0 => Ok(Value::from(int_val)),
        1 => Ok(Value::String(String::from_utf8_lossy(str_val).into_owned())),
        value => Err(DecodeError::InvalidIntOrString {
            field: at.to_owned(),
            value,
        }),
    }
}

/// Renders a `RawExtension` or `FieldsV1` message: its bytes field (number 1)
/// holds a JSON document that is embedded as is; without it the value is `null`.
pub(crate) fn raw_json(bytes: &[u8], at: &str) -> Result<Value, DecodeError> {
    let mut raw: Option<&[u8]> = None;
    for (number, value) in wire::fields(bytes)? {
        match (number, value) {
            (1, WireValue::Len(s)) => raw = Some(s),
            (1, other) => {
                return Err(DecodeError::WireTypeMismatch {
                    message: "RawExtension".to_owned(),
                    field: at.to_owned(),
                    number,
                    wire_type: other.wire_type(),
                })
            }
            _ => {}
        }
    }
    match raw {
        None => Ok(Value::Null),
        Some(raw) => serde_json::from_slice(raw).map_err(|e| DecodeError::InvalidEmbeddedJson {
            field: at.to_owned(),
            reason: e.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn varint(mut v: u64, out: &mut Vec<u8>) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }

    fn ts(seconds: i64, nanos: i32) -> Vec<u8> {
        let mut out = vec![0x08];
        varint(seconds as u64, &mut out);
        out.push(0x10);
        varint(nanos as i64 as u64, &mut out);
        out
    }

    #[test]
    fn times_format_like_go() {
        let cases: &[(i64, i32, bool, Value)] = &[
            (1_704_164_645, 0, false, "2024-01-02T03:04:05Z".into()),
            (
                1_704_164_645,
                999_999_999,
                false,
                "2024-01-02T03:04:05Z".into(),
            ),
            (
                1_704_164_645,
                123_456_789,
                true,
                "2024-01-02T03:04:05.123456Z".into(),
            ),
            (1_704_164_645, 0, true, "2024-01-02T03:04:05.000000Z".into()),
            (0, 0, false, "1970-01-01T00:00:00Z".into()),
            (951_782_400, 0, false, "2000-02-29T00:00:00Z".into()),
            (-1, 0, false, "1969-12-31T23:59:59Z".into()),
            (253_402_300_799, 0, false, "9999-12-31T23:59:59Z".into()),
            (
                1_704_164_645,
                -1,
                true,
                "2024-01-02T03:04:04.999999Z".into(),
            ),
            (0, i32::MAX, false, "1970-01-01T00:00:00Z".into()),
            (0, -1, false, "1970-01-01T00:00:00Z".into()),
            (0, i32::MAX, true, "1970-01-01T00:00:02.147483Z".into()),
            (253_402_300_800, 0, false, "10000-01-01T00:00:00Z".into()),
            (-62_167_219_200, 0, false, "0000-01-01T00:00:00Z".into()),
            (-62_167_219_201, 0, false, "-0001-12-31T23:59:59Z".into()),
            (ZERO_TIME_UNIX, 5, false, Value::Null),
            (ZERO_TIME_UNIX, 0, false, Value::Null),
            (
                ZERO_TIME_UNIX,
                1000,
                true,
                "0001-01-01T00:00:00.000001Z".into(),
            ),
        ];
        for (s, n, micro, want) in cases {
            assert_eq!(&time(&ts(*s, *n), *micro, "t").unwrap(), want, "{s} {n}");
        }
        assert_eq!(time(&[], false, "t").unwrap(), Value::Null);
        assert_eq!(time(&[], true, "t").unwrap(), Value::Null);
        assert_eq!(
            time(&[0x0a, 0x00], false, "t").unwrap_err().to_string(),
            "field Time.t (number 1) has wire type 2, which does not fit its type"
        );
    }

    #[test]
    fn quantity_syntax() {
        let cases = [
            ("1", true),
            ("500m", true),
            ("128Mi", true),
            ("-1.5Gi", true),
            ("+.5", true),
            ("1.", true),
            ("1e3", true),
            ("1E-2", true),
            ("1e+9", true),
            ("2E", true),
            ("", false),
            (" 1", false),
            ("1 ", false),
            (".", false),
            ("1.2.3", false),
            ("1kk", false),
            ("1Ki5", false),
            ("1e", false),
            ("1x", false),
            ("--1", false),
            ("m", false),
        ];
        for (s, want) in cases {
            assert_eq!(is_quantity_syntax(s), want, "{s:?}");
        }
    }

    #[test]
    fn quantities() {
        assert_eq!(quantity(&[], "q").unwrap(), Value::from("0"));
        assert_eq!(quantity(b"\x0a\x04500m", "q").unwrap(), Value::from("500m"));
        assert_eq!(
            quantity(b"\x0a\x011\x0a\x022G", "q").unwrap(),
            Value::from("2G")
        );
        assert_eq!(
            quantity(b"\x0a\x00", "q"),
            Err(DecodeError::InvalidQuantity("q".into()))
        );
        assert_eq!(
            quantity(b"\x0a\x02 1", "q"),
            Err(DecodeError::InvalidQuantity("q".into()))
        );
    }

    #[test]
    fn int_or_strings() {
        assert_eq!(int_or_string(&[], "p").unwrap(), Value::from(0));
        assert_eq!(
            int_or_string(&[0x08, 0x00, 0x10, 0x50, 0x1a, 0x00], "p").unwrap(),
            Value::from(80)
        );
        assert_eq!(
            int_or_string(b"\x08\x01\x10\x00\x1a\x03web", "p").unwrap(),
            Value::from("web")
        );
        assert_eq!(
            int_or_string(&[0x08, 0x02], "p"),
            Err(DecodeError::InvalidIntOrString {
                field: "p".into(),
                value: 2
            })
        );
    }

    #[test]
    fn raw_documents() {
        assert_eq!(raw_json(&[], "r").unwrap(), Value::Null);
        assert_eq!(
            raw_json(b"\x0a\x07{\"a\":1}", "r").unwrap(),
            serde_json::json!({"a": 1})
        );
        assert!(matches!(
            raw_json(b"\x0a\x00", "r"),
            Err(DecodeError::InvalidEmbeddedJson { .. })
        ));
        assert!(matches!(
            raw_json(b"\x0a\x02\x08\x01", "r"),
            Err(DecodeError::InvalidEmbeddedJson { .. })
        ));
    }
}
