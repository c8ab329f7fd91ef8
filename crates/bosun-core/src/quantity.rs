//! Kubernetes resource quantities (`100m`, `1Gi`, `1e3`, ...): parsing,
//! comparison, rounding and the canonical string form the API server emits.
//!
//! A quantity is held as an exact decimal `mantissa × 10^scale`, so no
//! precision is lost; like upstream, parsing keeps precision down to nano
//! (finer non-zero values round away from zero) and caps binary-suffixed
//! values at 2^63-1.

use std::cmp::Ordering;
use std::fmt;

/// The suffix family a quantity was written with; it is kept for output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `12e6` style.
    DecimalExponent,
    /// `12Mi` style (powers of 1024).
    BinarySI,
    /// `12M` style (powers of 1000).
    DecimalSI,
}

/// Why a string is not a quantity; texts as upstream reports them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    /// The string does not have the shape of a quantity.
    #[error("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")]
    FormatWrong,
    /// The number part could not be parsed (or is too precise to hold).
    #[error("unable to parse numeric part of quantity")]
    Numeric,
    /// The suffix is not a known one.
    #[error("unable to parse quantity's suffix")]
    Suffix,
}

/// An exact fixed-point quantity.
#[derive(Debug, Clone, Copy)]
pub struct Quantity {
    negative: bool,
    /// Absolute value of the mantissa.
    mantissa: u128,
    /// Power of ten the mantissa is multiplied by.
    scale: i32,
    /// Suffix family used for output.
    pub format: Format,
}

/// Most significant digits we hold; leaves headroom for ×100 in canonical form.
const MAX_DIGITS: usize = 36;
const NANO: i32 = -9;
const MAX_INT64: u128 = i64::MAX as u128;

/// Parse a quantity string.
pub fn parse_quantity(s: &str) -> Result<Quantity, QuantityError> {
    Quantity::parse(s)
}

impl Quantity {
    /// Zero, in DecimalSI.
    pub fn zero() -> Self {
        Quantity {
            negative: false,
            mantissa: 0,
            scale: 0,
            format: Format::DecimalSI,
        }
    }

    /// Build from an integer with the given format.
    pub fn from_i64(v: i64, format: Format) -> Self {
        Quantity {
            negative: v < 0,
            mantissa: u128::from(v.unsigned_abs()),
            scale: 0,
            format,
        }
    }

    /// Parse a quantity string (see module docs).
    pub fn parse(s: &str) -> Result<Quantity, QuantityError> {
        if s.is_empty() {
            return Err(QuantityError::FormatWrong);
        }
        let parts = scan(s)?;
        let (base2, exponent, mut format) = interpret_suffix(parts.suffix)?;
        let digits = format!("{}{}", parts.num, parts.denom);
        let trimmed = digits.trim_start_matches('0');
        if trimmed.len() > MAX_DIGITS {
            return Err(QuantityError::Numeric);
        }
        let mut mantissa: u128 = if trimmed.is_empty() {
            0
        } else {
            trimmed.parse().map_err(|_| QuantityError::Numeric)?
        };
        let mut scale = -(parts.denom.len() as i32);
        if base2 {
            let factor = 1u128.checked_shl(exponent as u32).unwrap_or(0);
            match mantissa.checked_mul(factor) {
                Some(m) if factor != 0 => mantissa = m,
                _ => {
                    mantissa = MAX_INT64;
                    scale = 0;
                }
            }
        } else {
            scale += exponent;
        }
        let mut q = Quantity {
            negative: !parts.positive,
            mantissa,
            scale,
            format,
        };
        q.normalize_zero();
        if q.scale < NANO {
            q.round_up(NANO);
        }
        if format == Format::BinarySI {
            let cap = Quantity::from_i64(i64::MAX, Format::BinarySI);
            if q.abs_cmp(&cap) == Ordering::Greater {
                q.mantissa = MAX_INT64;
                q.scale = 0;
            }
            if !q.is_zero() && q.abs_cmp(&Quantity::from_i64(1, format)) == Ordering::Less {
                format = Format::DecimalSI;
            }
        }
        q.format = format;
        Ok(q)
    }

    /// Parse a JSON value the way upstream's `Quantity` unmarshals: strings
    /// and numbers are accepted.
    pub fn from_json(v: &serde_json::Value) -> Result<Quantity, QuantityError> {
        match v {
            serde_json::Value::String(s) => Quantity::parse(s.trim()),
            serde_json::Value::Number(n) => Quantity::parse(&n.to_string()),
            _ => Err(QuantityError::FormatWrong),
        }
    }

    fn normalize_zero(&mut self) {
        if self.mantissa == 0 {
            self.negative = false;
            self.scale = 0;
        }
    }

    /// True when the value is zero.
    pub fn is_zero(&self) -> bool {
        self.mantissa == 0
    }

    /// True when the value is below zero.
    pub fn is_negative(&self) -> bool {
        self.negative && self.mantissa != 0
    }

    /// Round to `scale` (a power of ten, e.g. -3 for milli), away from zero.
    /// Returns whether the value was already exact at that scale.
    pub fn round_up(&mut self, scale: i32) -> bool {
        if self.scale >= scale {
            return true;
        }
        let shift = (scale - self.scale) as u32;
        let (q, rem) = match 10u128.checked_pow(shift) {
            Some(div) => (self.mantissa / div, self.mantissa % div),
            None => (0, self.mantissa),
        };
        self.mantissa = if rem != 0 { q + 1 } else { q };
        self.scale = scale;
        self.normalize_zero();
        rem == 0
    }

    /// The value in thousandths, rounded away from zero (None on overflow).
    pub fn milli_value(&self) -> Option<i128> {
        let mut c = *self;
        c.round_up(-3);
        let exp = c.scale + 3;
        let m = i128::try_from(c.mantissa).ok()?;
        let v = if exp >= 0 {
            m.checked_mul(10i128.checked_pow(exp as u32)?)?
        } else {
            m
        };
        Some(if c.negative { -v } else { v })
    }

    /// Sum of two quantities (keeps `self`'s format). Saturates on overflow.
    pub fn add(&self, other: &Quantity) -> Quantity {
        let scale = self.scale.min(other.scale);
        let widen = |q: &Quantity| -> i128 {
            let shift = (q.scale - scale) as u32;
            let m = i128::try_from(q.mantissa).unwrap_or(i128::MAX);
            let v = 10i128
                .checked_pow(shift)
                .and_then(|f| m.checked_mul(f))
                .unwrap_or(i128::MAX);
            if q.negative {
                -v
            } else {
                v
            }
        };
        let sum = widen(self).saturating_add(widen(other));
        let mut q = Quantity {
            negative: sum < 0,
            mantissa: sum.unsigned_abs(),
            scale,
            format: self.format,
        };
        q.normalize_zero();
        q
    }

    /// True when the value has no fractional part.
    pub fn is_integer(&self) -> bool {
        let mut c = *self;
        c.round_up(0)
    }

    fn stripped(&self) -> (u128, i32) {
        let mut m = self.mantissa;
        let mut s = self.scale;
        if m == 0 {
            return (0, 0);
        }
        while m.is_multiple_of(10) {
            m /= 10;
            s += 1;
        }
        (m, s)
    }

    fn abs_cmp(&self, other: &Quantity) -> Ordering {
        let (m1, s1) = self.stripped();
        let (m2, s2) = other.stripped();
        match (m1 == 0, m2 == 0) {
            (true, true) => return Ordering::Equal,
            (true, false) => return Ordering::Less,
            (false, true) => return Ordering::Greater,
            _ => {}
        }
        let mag1 = digits(m1) as i64 + i64::from(s1);
        let mag2 = digits(m2) as i64 + i64::from(s2);
        if mag1 != mag2 {
            return mag1.cmp(&mag2);
        }
        // Same order of magnitude: align to the smaller scale (fits in u128
        // because both have at most MAX_DIGITS significant digits).
        let (a, b) = if s1 > s2 {
            (m1 * 10u128.pow((s1 - s2) as u32), m2)
        } else {
            (m1, m2 * 10u128.pow((s2 - s1) as u32))
        };
        a.cmp(&b)
    }

    /// The canonical string upstream serializes (e.g. `1.5` → `1500m`,
    /// `1024Mi` → `1Gi`, `1000` → `1k`).
    pub fn canonical(&self) -> String {
        if self.is_zero() {
            return "0".to_string();
        }
        let sign = if self.negative { "-" } else { "" };
        let mut format = self.format;
        if format == Format::BinarySI {
            let limit = Quantity::from_i64(1024, Format::DecimalSI);
            if self.abs_cmp(&limit) == Ordering::Less || !self.is_integer() {
                format = Format::DecimalSI;
            }
        }
        if format == Format::BinarySI {
            let (m, s) = self.stripped();
            let mut value = m * 10u128.pow(s.max(0) as u32);
            let mut exp = 0;
            while value.is_multiple_of(1024) && exp < 6 {
                value /= 1024;
                exp += 1;
            }
            let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][exp];
            return format!("{sign}{value}{suffix}");
        }
        let (mut m, mut e) = self.stripped();
        match e.rem_euclid(3) {
            1 => {
                m *= 10;
                e -= 1;
            }
            2 => {
                m *= 100;
                e -= 2;
            }
            _ => {}
        }
        let suffix = match format {
            Format::DecimalSI => match e {
                -9 => Some("n"),
                -6 => Some("u"),
                -3 => Some("m"),
                0 => Some(""),
                3 => Some("k"),
                6 => Some("M"),
                9 => Some("G"),
                12 => Some("T"),
                15 => Some("P"),
                18 => Some("E"),
                _ => None,
            }
            .map(str::to_string),
            _ => None,
        };
        let suffix = suffix.unwrap_or_else(|| {
            if e == 0 {
                String::new()
            } else {
                format!("e{e}")
            }
        });
        format!("{sign}{m}{suffix}")
    }
}

fn digits(mut m: u128) -> usize {
    let mut n = 0;
    while m > 0 {
        m /= 10;
        n += 1;
    }
    n
}

impl PartialEq for Quantity {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Quantity {}

impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Quantity {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self.is_negative(), other.is_negative()) {
            (false, true) => Ordering::Greater,
            (true, false) => Ordering::Less,
            (false, false) => self.abs_cmp(other),
            (true, true) => other.abs_cmp(self),
        }
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.canonical())
    }
}

impl std::str::FromStr for Quantity {
    type Err = QuantityError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Quantity::parse(s)
    }
}

struct Parts<'a> {
    positive: bool,
    num: &'a str,
    denom: &'a str,
    suffix: &'a str,
}

/// Split a quantity into sign, integer digits, fraction digits and suffix,
/// with the same permissiveness as upstream's scanner.
fn scan(s: &str) -> Result<Parts<'_>, QuantityError> {
    let b = s.as_bytes();
    let end = b.len();
    let mut pos = 0;
    let mut positive = true;
    match b.first() {
        Some(b'-') => {
            positive = false;
            pos = 1;
        }
        Some(b'+') => pos = 1,
        _ => {}
    }
    while pos < end && b[pos] == b'0' {
        pos += 1;
    }
    if pos >= end {
        return Ok(Parts {
            positive,
            num: "0",
            denom: "",
            suffix: "",
        });
    }
    let start = pos;
    while pos < end && b[pos].is_ascii_digit() {
        pos += 1;
    }
    let num = if pos == start { "0" } else { &s[start..pos] };
    let mut denom = "";
    if pos < end && b[pos] == b'.' {
        pos += 1;
        let ds = pos;
        while pos < end && b[pos].is_ascii_digit() {
            pos += 1;
        }
        denom = &s[ds..pos];
    }
    let suffix_start = pos;
    while pos < end && b"eEinumkKMGTP".contains(&b[pos]) {
        pos += 1;
    }
    if pos < end && (b[pos] == b'-' || b[pos] == b'+') {
        pos += 1;
    }
    while pos < end && b[pos].is_ascii_digit() {
        pos += 1;
    }
    if pos < end {
        return Err(QuantityError::FormatWrong);
    }
    Ok(Parts {
        positive,
        num,
        denom,
        suffix: &s[suffix_start..],
    })
}

/// Returns (is_base_2, exponent, format).
fn interpret_suffix(s: &str) -> Result<(bool, i32, Format), QuantityError> {
    let dec = match s {
        "n" => Some(-9),
        "u" => Some(-6),
        "m" => Some(-3),
        "" => Some(0),
        "k" => Some(3),
        "M" => Some(6),
        "G" => Some(9),
        "T" => Some(12),
        "P" => Some(15),
        "E" => Some(18),
        _ => None,
    };
    if let Some(e) = dec {
        return Ok((false, e, Format::DecimalSI));
    }
    let bin = match s {
        "Ki" => Some(10),
        "Mi" => Some(20),
        "Gi" => Some(30),
        "Ti" => Some(40),
        "Pi" => Some(50),
        "Ei" => Some(60),
        _ => None,
    };
    if let Some(e) = bin {
        return Ok((true, e, Format::BinarySI));
    }
    if s.len() > 1 && (s.starts_with('e') || s.starts_with('E')) {
        if let Ok(e) = s[1..].parse::<i32>() {
            return Ok((false, e, Format::DecimalExponent));
        }
    }
    Err(QuantityError::Suffix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_forms() {
        let cases = [
            ("0", "0"),
            ("0Gi", "0"),
            ("100m", "100m"),
            ("0.5", "500m"),
            ("1.5", "1500m"),
            ("1000m", "1"),
            ("1000", "1k"),
            ("1", "1"),
            ("1Gi", "1Gi"),
            ("1024Mi", "1Gi"),
            ("1.5Gi", "1536Mi"),
            ("0.5Gi", "512Mi"),
            ("1536", "1536"),
            ("1e3", "1e3"),
            ("1E3", "1e3"),
            ("12e6", "12e6"),
            ("100M", "100M"),
            ("10k", "10k"),
            ("-1", "-1"),
            ("-100m", "-100m"),
            ("1.1Ki", "1126400m"),
            ("512Ki", "512Ki"),
            ("100Ki", "100Ki"),
            ("0.9n", "1n"),
            ("1.2345", "1234500u"),
            ("8Ei", "9223372036854775807"),
            ("1000E", "1e21"),
            (".5", "500m"),
            ("5.", "5"),
            ("1E", "1E"),
            ("m", "0"),
            ("-0", "0"),
            ("10Gi", "10Gi"),
            ("1Ki", "1Ki"),
            ("0.5Ki", "512"),
            ("1023", "1023"),
            ("1500", "1500"),
            ("1.5k", "1500"),
            ("1200000", "1200k"),
            ("10G", "10G"),
            ("500m", "500m"),
            ("0.1", "100m"),
            ("0.01", "10m"),
            ("250m", "250m"),
            ("1000e0", "1e3"),
            ("100e-3", "100e-3"),
            ("0.0000000001", "1n"),
            ("1.0000000001", "1000000001n"),
            ("+5", "5"),
            ("-5", "-5"),
            ("-1.5Gi", "-1536Mi"),
            ("2Ti", "2Ti"),
            ("3072Ki", "3Mi"),
            ("1.G", "1G"),
        ];
        for (input, want) in cases {
            let q = parse_quantity(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(q.canonical(), want, "input {input}");
        }
    }

    #[test]
    fn parse_errors() {
        let cases = [
            ("", QuantityError::FormatWrong),
            ("abc", QuantityError::FormatWrong),
            ("1.2.3", QuantityError::FormatWrong),
            ("1K", QuantityError::Suffix),
            ("1Gb", QuantityError::FormatWrong),
            ("1Ki2", QuantityError::Suffix),
            ("1 Gi", QuantityError::FormatWrong),
        ];
        for (input, want) in cases {
            assert_eq!(parse_quantity(input).err(), Some(want), "input {input}");
        }
    }

    #[test]
    fn comparison_and_rounding() {
        let q = |s: &str| parse_quantity(s).unwrap();
        assert!(q("500m") < q("1"));
        assert!(q("1Gi") > q("1G"));
        assert_eq!(q("1000m"), q("1"));
        assert_eq!(q("1Ki"), q("1024"));
        assert!(q("-1") < q("0"));
        assert!(q("-2") < q("-1"));
        assert!(q("1e100") > q("999999999999E"));
        let mut r = q("1n");
        assert!(!r.round_up(-3));
        assert_eq!(r.canonical(), "1m");
        assert_eq!(q("1.5").milli_value(), Some(1500));
        assert_eq!(q("1").add(&q("500m")).canonical(), "1500m");
        assert_eq!(q("1Gi").add(&q("1Gi")).canonical(), "2Gi");
        assert!(q("2").is_integer());
        assert!(!q("2.5").is_integer());
        assert_eq!(
            Quantity::from_json(&serde_json::json!(0.5))
                .unwrap()
                .canonical(),
            "500m"
        );
        assert_eq!(
            Quantity::from_json(&serde_json::json!(2))
                .unwrap()
                .canonical(),
            "2"
        );
    }
}
