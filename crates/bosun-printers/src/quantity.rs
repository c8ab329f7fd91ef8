//! Canonical rendering of resource quantities (`resource.Quantity.String()`).
//!
//! Upstream printers print quantities after they have round-tripped through
//! the Go type, so e.g. `1.5Gi` shows as `1536Mi` and `1000` as `1k`. This
//! module reproduces that canonical form for the JSON strings (or numbers)
//! found in stored objects.

use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    DecimalSI,
    BinarySI,
    DecimalExponent,
}

/// A parsed quantity: `(-1)^neg * mant * 10^exp`.
#[derive(Debug, Clone, Copy)]
struct Parsed {
    neg: bool,
    mant: u128,
    exp: i32,
    format: Format,
}

/// Canonical string for a quantity given as JSON; an absent value is the
/// zero quantity (`"0"`). Unparseable input is returned unchanged.
pub(crate) fn canonical_value(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "0".to_string(),
        Some(Value::String(s)) => canonical(s),
        Some(Value::Number(n)) => canonical(&n.to_string()),
        Some(other) => other.to_string(),
    }
}

/// Canonical string for a quantity literal; unparseable input is returned
/// unchanged.
pub fn canonical(s: &str) -> String {
    match parse(s) {
        Some(p) => render(p),
        None => s.to_string(),
    }
}

fn pow10(n: u32) -> Option<u128> {
    10u128.checked_pow(n)
}

fn parse(s: &str) -> Option<Parsed> {
    if s.is_empty() {
        return None;
    }
    let b = s.as_bytes();
    let mut pos = 0;
    let mut neg = false;
    match b.first() {
        Some(b'-') => {
            neg = true;
            pos = 1;
        }
        Some(b'+') => pos = 1,
        _ => {}
    }
    let int_start = pos;
    while pos < b.len() && b[pos].is_ascii_digit() {
        pos += 1;
    }
    let int_digits = &s[int_start..pos];
    let mut frac_digits = "";
    if pos < b.len() && b[pos] == b'.' {
        pos += 1;
        let fs = pos;
        while pos < b.len() && b[pos].is_ascii_digit() {
            pos += 1;
        }
        frac_digits = &s[fs..pos];
    }
    let suffix = &s[pos..];
    let (format, base2_pow, exp10_shift) = parse_suffix(suffix)?;

    let digits: String = format!("{int_digits}{frac_digits}");
    let digits = digits.trim_start_matches('0');
    let mut mant: u128 = if digits.is_empty() {
        0
    } else {
        if digits.len() > 36 {
            return None;
        }
        digits.parse().ok()?
    };
    let frac_len = i32::try_from(frac_digits.len()).ok()?;
    let mut exp = exp10_shift.checked_sub(frac_len)?;
    if base2_pow > 0 {
        mant = mant.checked_mul(1u128.checked_shl(base2_pow)?)?;
    }
    // Values more precise than 1n round up (away from zero) to 1n.
    if exp < -9 && mant != 0 {
        let shift = u32::try_from(-9 - exp).ok()?;
        let (q, r) = match pow10(shift) {
            Some(d) => (mant / d, mant % d),
            None => (0, mant),
        };
        mant = if r == 0 { q } else { q + 1 };
        exp = -9;
    }
    let mut format = format;
    if format == Format::BinarySI && mant != 0 && is_below_one(mant, exp) {
        format = Format::DecimalSI;
    }
    Some(Parsed {
        neg: neg && mant != 0,
        mant,
        exp,
        format,
    })
}

fn is_below_one(mant: u128, exp: i32) -> bool {
    if exp >= 0 {
        return false;
    }
    match u32::try_from(-exp).ok().and_then(pow10) {
        Some(d) => mant < d,
        None => true,
    }
}

/// Returns (format, binary exponent, decimal exponent) for a suffix.
fn parse_suffix(suffix: &str) -> Option<(Format, u32, i32)> {
    let dec = |e: i32| Some((Format::DecimalSI, 0, e));
    let bin = |p: u32| Some((Format::BinarySI, p, 0));
    match suffix {
        "" => dec(0),
        "n" => dec(-9),
        "u" => dec(-6),
        "m" => dec(-3),
        "k" => dec(3),
        "M" => dec(6),
        "G" => dec(9),
        "T" => dec(12),
        "P" => dec(15),
        "E" => dec(18),
        "Ki" => bin(10),
        "Mi" => bin(20),
        "Gi" => bin(30),
        "Ti" => bin(40),
        "Pi" => bin(50),
        "Ei" => bin(60),
        _ => {
            let rest = suffix.strip_prefix(['e', 'E'])?;
            let digits = rest.strip_prefix(['+', '-']).unwrap_or(rest);
            if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let e: i32 = rest.parse().ok()?;
            Some((Format::DecimalExponent, 0, e))
        }
    }
}

fn render(p: Parsed) -> String {
    if p.mant == 0 {
        return "0".to_string();
    }
    let sign = if p.neg { "-" } else { "" };
    let mut format = p.format;
    let mut integer: Option<u128> = None;
    if format == Format::BinarySI {
        // Magnitudes below 1024 and non-integral values print in decimal.
        integer = as_integer(p.mant, p.exp);
        match integer {
            Some(n) if n >= 1024 => {}
            _ => format = Format::DecimalSI,
        }
    }
    match (format, integer) {
        (Format::BinarySI, Some(mut n)) => {
            let mut e = 0u32;
            while n % 1024 == 0 && e < 6 {
                n /= 1024;
                e += 1;
            }
            let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"]
                .get(e as usize)
                .copied()
                .unwrap_or("");
            format!("{sign}{n}{suffix}")
        }
        _ => {
            let (mut mant, mut exp) = (p.mant, p.exp);
            while mant % 10 == 0 {
                mant /= 10;
                exp += 1;
            }
            match exp.rem_euclid(3) {
                1 => {
                    mant *= 10;
                    exp -= 1;
                }
                2 => {
                    mant *= 100;
                    exp -= 2;
                }
                _ => {}
            }
            let suffix = if format == Format::DecimalExponent {
                if exp == 0 {
                    String::new()
                } else {
                    format!("e{exp}")
                }
            } else {
                decimal_suffix(exp).to_string()
            };
            format!("{sign}{mant}{suffix}")
        }
    }
}

fn decimal_suffix(exp: i32) -> &'static str {
    match exp {
        -9 => "n",
        -6 => "u",
        -3 => "m",
        3 => "k",
        6 => "M",
        9 => "G",
        12 => "T",
        15 => "P",
        18 => "E",
        _ => "",
    }
}

/// The value as an integer when it has no fractional part.
fn as_integer(mant: u128, exp: i32) -> Option<u128> {
    if exp >= 0 {
        return mant.checked_mul(pow10(u32::try_from(exp).ok()?)?);
    }
    let d = pow10(u32::try_from(-exp).ok()?)?;
    if mant.is_multiple_of(d) {
        Some(mant / d)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_forms() {
        let cases = [
            ("0", "0"),
            ("0Gi", "0"),
            ("-0", "0"),
            ("1", "1"),
            ("10Gi", "10Gi"),
            ("1Gi", "1Gi"),
            ("1024Mi", "1Gi"),
            ("1.5Gi", "1536Mi"),
            ("1Ki", "1Ki"),
            ("0.5Ki", "512"),
            ("1023", "1023"),
            ("1000", "1k"),
            ("1500", "1500"),
            ("1.5k", "1500"),
            ("1200000", "1200k"),
            ("10G", "10G"),
            ("100M", "100M"),
            ("500m", "500m"),
            ("0.5", "500m"),
            ("0.1", "100m"),
            ("0.01", "10m"),
            ("1000m", "1"),
            ("250m", "250m"),
            ("1e3", "1e3"),
            ("12e6", "12e6"),
            ("1E3", "1e3"),
            ("1000e0", "1e3"),
            ("100e-3", "100e-3"),
            ("0.0000000001", "1n"),
            ("1.0000000001", "1000000001n"),
            ("+5", "5"),
            ("-5", "-5"),
            ("-1.5Gi", "-1536Mi"),
            ("2Ti", "2Ti"),
            ("3072Ki", "3Mi"),
            ("1536", "1536"),
            ("1.5", "1500m"),
            ("5.", "5"),
            ("1.G", "1G"),
        ];
        for (input, want) in cases {
            assert_eq!(canonical(input), want, "quantity {input}");
        }
    }

    #[test]
    fn malformed_input_passes_through() {
        assert_eq!(canonical("abc"), "abc");
        assert_eq!(canonical("1Gb"), "1Gb");
        assert_eq!(canonical("1e"), "1e");
    }

    #[test]
    fn json_values() {
        assert_eq!(canonical_value(None), "0");
        assert_eq!(canonical_value(Some(&json!(null))), "0");
        assert_eq!(canonical_value(Some(&json!(2))), "2");
        assert_eq!(canonical_value(Some(&json!("2048Mi"))), "2Gi");
    }
}
