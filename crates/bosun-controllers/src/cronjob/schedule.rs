//! Cron schedules for the CronJob controller.
//!
//! This module reproduces the behaviour upstream Kubernetes gets from
//! `github.com/robfig/cron/v3` (`cron.ParseStandard` plus `Schedule.Next`) and
//! ports the schedule helpers of `pkg/controller/cronjob/utils.go`
//! (`mostRecentScheduleTime`, `nextScheduleTimeDuration`).
//!
//! # Accepted syntax
//!
//! * Five whitespace separated fields: minute (0-59), hour (0-23),
//!   day-of-month (1-31), month (1-12 or `JAN`-`DEC`), day-of-week (0-6 or
//!   `SUN`-`SAT`; `7` is rejected, exactly like robfig). Names are matched
//!   case-insensitively.
//! * Inside a field: comma separated lists of `*`, `?`, `N`, `A-B`, `*/S`,
//!   `A-B/S` and `A/S` (the latter meaning `A-<field max>/S`).
//! * Descriptors: `@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily`,
//!   `@midnight`, `@hourly` and `@every <Go duration>` (e.g. `@every 1h30m`).
//!
//! Schedules that mention a time zone (`TZ=` / `CRON_TZ=`) are rejected with
//! [`ScheduleError::TimeZoneInSchedule`]; the zone comes from the `Zoned`
//! values handed to [`Schedule::next_after`] instead (i.e. from
//! `.spec.timeZone`, or the controller's local zone).
//!
//! # Day matching
//!
//! As in robfig (and Vixie cron): when either the day-of-month or the
//! day-of-week field was written with a bare `*`/`?` (optionally `/1`), a day
//! must satisfy both fields; when both are restricted, a day matching either
//! one is enough. Since robfig v3, `*/2` (any step above one) counts as
//! restricted.
//!
//! # Known quirks kept on purpose (robfig compatibility)
//!
//! * `*-5` and `?-x` are read as `*` (text after the star is ignored).
//! * Empty list items are skipped (`1,,2` is `1,2`); a field made only of
//!   commas matches nothing, so such a schedule never fires.
//! * Numbers may carry a leading `+` and leading zeros (`+5`, `05`).
//! * `*/61` is accepted and selects only the first value of the field.
//!
//! # Deviations from upstream
//!
//! * `TZ=`/`CRON_TZ=` prefixes are rejected at parse time, using upstream
//!   validation's test (the schedule contains `TZ` anywhere). Upstream API
//!   validation rejects them since Kubernetes 1.27, but the upstream
//!   controller still honours them on legacy objects; this module does not.
//! * [`most_recent_schedule_time`] evaluates everything in `now`'s time zone;
//!   Go would use the zone of whichever of `earliest`/`now - deadline` it
//!   started from (they coincide in the real controller).
//! * Where Go would hand back its "zero time" (no activation found), this
//!   module returns `None`; see [`next_schedule_time_duration`].
//! * Error messages name the offending field and otherwise reuse robfig's
//!   wording; the one value Go quotes with `strconv.Quote` (in "failed to
//!   parse int") is quoted with Rust's `{:?}`, which only differs for
//!   non-printable characters.

use std::fmt;
use std::str::FromStr;

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, Zoned};

/// Padding upstream adds to every requeue delay to absorb small clock skews
/// (`nextScheduleDelta` in the upstream controller).
pub const NEXT_SCHEDULE_DELTA: SignedDuration = SignedDuration::from_millis(100);

/// Above this many (estimated) missed activations upstream classifies the
/// situation as [`MissedSchedules::Many`] and emits a `TooManyMissedTimes`
/// warning event.
pub const TOO_MANY_MISSED_THRESHOLD: i64 = 100;

/// Message of upstream's `TooManyMissedTimes` warning event.
pub const TOO_MANY_MISSED_MESSAGE: &str = "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew";

/// How many years past the starting point [`Schedule::next_after`] searches
/// before giving up (robfig's limit).
const SEARCH_YEARS: i64 = 5;

/// Marker bit robfig sets on a field written as a bare `*` or `?`.
const STAR_BIT: u64 = 1 << 63;

const NANOS_PER_SECOND: i128 = 1_000_000_000;
const SECONDS_PER_DAY: i64 = 86_400;

/// One of the five fields of a standard cron specification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CronField {
    /// Minute of the hour, 0-59.
    Minute,
    /// Hour of the day, 0-23.
    Hour,
    /// Day of the month, 1-31.
    DayOfMonth,
    /// Month of the year, 1-12 or `JAN`-`DEC`.
    Month,
    /// Day of the week, 0-6 (Sunday is 0) or `SUN`-`SAT`.
    DayOfWeek,
}

impl CronField {
    const ALL: [CronField; 5] = [
        CronField::Minute,
        CronField::Hour,
        CronField::DayOfMonth,
        CronField::Month,
        CronField::DayOfWeek,
    ];

    fn bounds(self) -> Bounds {
        match self {
            CronField::Minute => Bounds {
                min: 0,
                max: 59,
                names: &[],
            },
            CronField::Hour => Bounds {
                min: 0,
                max: 23,
                names: &[],
            },
            CronField::DayOfMonth => Bounds {
                min: 1,
                max: 31,
                names: &[],
            },
            CronField::Month => Bounds {
                min: 1,
                max: 12,
                names: &[
                    ("jan", 1),
                    ("feb", 2),
                    ("mar", 3),
                    ("apr", 4),
                    ("may", 5),
                    ("jun", 6),
                    ("jul", 7),
                    ("aug", 8),
                    ("sep", 9),
                    ("oct", 10),
                    ("nov", 11),
                    ("dec", 12),
                ],
            },
            CronField::DayOfWeek => Bounds {
                min: 0,
                max: 6,
                names: &[
                    ("sun", 0),
                    ("mon", 1),
                    ("tue", 2),
                    ("wed", 3),
                    ("thu", 4),
                    ("fri", 5),
                    ("sat", 6),
                ],
            },
        }
    }
}

impl fmt::Display for CronField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CronField::Minute => "minute",
            CronField::Hour => "hour",
            CronField::DayOfMonth => "day-of-month",
            CronField::Month => "month",
            CronField::DayOfWeek => "day-of-week",
        })
    }
}

/// Why one field of a cron specification was rejected. The messages follow
/// robfig/cron v3 word for word.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    /// A range such as `1-2-3` had more than one `-`.
    #[error("too many hyphens: {expr}")]
    TooManyHyphens {
        /// The offending range expression.
        expr: String,
    },
    /// A range such as `*/2/3` had more than one `/`.
    #[error("too many slashes: {expr}")]
    TooManySlashes {
        /// The offending range expression.
        expr: String,
    },
    /// A value was neither a known name nor a decimal integer.
    #[error("failed to parse int from {token}: strconv.Atoi: parsing {token:?}: {reason}")]
    NotANumber {
        /// The text that should have been a number.
        token: String,
        /// `invalid syntax` or `value out of range`, as Go reports it.
        reason: &'static str,
    },
    /// A step was negative (`*/-5`).
    #[error("negative number ({value}) not allowed: {token}")]
    Negative {
        /// The parsed (negative) value.
        value: i64,
        /// The text it was parsed from.
        token: String,
    },
    /// The start of a range lies below the field's minimum.
    #[error("beginning of range ({start}) below minimum ({min}): {expr}")]
    BelowMinimum {
        /// Start of the range.
        start: u64,
        /// Smallest value the field allows.
        min: u64,
        /// The offending range expression.
        expr: String,
    },
    /// The end of a range lies above the field's maximum.
    #[error("end of range ({end}) above maximum ({max}): {expr}")]
    AboveMaximum {
        /// End of the range.
        end: u64,
        /// Largest value the field allows.
        max: u64,
        /// The offending range expression.
        expr: String,
    },
    /// A range whose start lies after its end, such as `5-3`.
    #[error("beginning of range ({start}) beyond end of range ({end}): {expr}")]
    InvertedRange {
        /// Start of the range.
        start: u64,
        /// End of the range.
        end: u64,
        /// The offending range expression.
        expr: String,
    },
    /// A step of zero, such as `*/0`.
    #[error("step of range should be a positive number: {expr}")]
    ZeroStep {
        /// The offending range expression.
        expr: String,
    },
}

/// Errors from parsing a schedule or from the controller helpers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// The schedule string was empty.
    #[error("unparseable schedule \"\": empty spec string")]
    Empty,
    /// The schedule carries a `TZ=` or `CRON_TZ=` time zone, which Kubernetes
    /// no longer accepts; `.spec.timeZone` must be used instead.
    #[error(
        "unparseable schedule {spec:?}: cannot use TZ or CRON_TZ in schedule, use timeZone field instead"
    )]
    TimeZoneInSchedule {
        /// The full schedule string.
        spec: String,
    },
    /// The schedule did not have exactly five fields.
    #[error("unparseable schedule {spec:?}: expected exactly 5 fields, found {found}")]
    FieldCount {
        /// The full schedule string.
        spec: String,
        /// How many whitespace separated fields were found.
        found: usize,
    },
    /// One field of the schedule is invalid.
    #[error("unparseable schedule {spec:?}: {field} field {value:?}: {reason}")]
    InvalidField {
        /// The full schedule string.
        spec: String,
        /// Which field is wrong.
        field: CronField,
        /// The text of that field.
        value: String,
        /// What is wrong with it.
        reason: FieldError,
    },
    /// A string starting with `@` that is not a known descriptor.
    #[error("unparseable schedule {spec:?}: unrecognized descriptor: {spec}")]
    UnrecognizedDescriptor {
        /// The full schedule string.
        spec: String,
    },
    /// `@every` followed by something Go's `time.ParseDuration` rejects.
    #[error("unparseable schedule {spec:?}: failed to parse duration: {reason}")]
    InvalidDuration {
        /// The full schedule string.
        spec: String,
        /// Go-style description of the problem.
        reason: String,
    },
    /// The schedule parses but two consecutive activations could not be found
    /// at least one second apart (for example `59 23 31 2 *`, which never
    /// fires). Upstream reports this as an `InvalidSchedule` event.
    #[error("time difference between two schedules is less than 1 second")]
    InvalidInterval,
}

/// Allowed range and names of one cron field.
#[derive(Debug, Clone, Copy)]
struct Bounds {
    min: u64,
    max: u64,
    names: &'static [(&'static str, u64)],
}

/// The bit sets of a five-field specification (bit `n` set means value `n`
/// is selected; bit 63 is robfig's "written as star" marker). Seconds are
/// always 0 for standard specs, so they are not stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SpecBits {
    minute: u64,
    hour: u64,
    dom: u64,
    month: u64,
    dow: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    /// A crontab-style schedule.
    Spec(SpecBits),
    /// `@every <duration>`: a fixed delay of whole seconds (at least one).
    Every(SignedDuration),
}

/// A parsed cron schedule, equivalent to what `cron.ParseStandard` returns
/// upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    spec: String,
    kind: Kind,
}

impl Schedule {
    /// Parses a standard five-field cron specification or a descriptor.
    ///
    /// See the [module documentation](self) for the accepted syntax.
    pub fn parse(spec: &str) -> Result<Schedule, ScheduleError> {
        if spec.is_empty() {
            return Err(ScheduleError::Empty);
        }
        // Upstream validation refuses any schedule containing "TZ"; the only
        // way such a schedule could otherwise parse is a TZ=/CRON_TZ= prefix.
        if spec.contains("TZ") {
            return Err(ScheduleError::TimeZoneInSchedule {
                spec: spec.to_owned(),
            });
        }
        let kind = if spec.starts_with('@') {
            parse_descriptor(spec)?
        } else {
            Kind::Spec(parse_fields(spec)?)
        };
        Ok(Schedule {
            spec: spec.to_owned(),
            kind,
        })
    }

    /// The schedule text this value was parsed from.
    pub fn spec(&self) -> &str {
        &self.spec
    }

    /// Returns the first activation strictly after `t`, expressed in `t`'s
    /// time zone, or `None` if there is none within five years (for crontab
    /// schedules) or the result would leave jiff's supported range.
    ///
    /// Crontab schedules are evaluated with the exact algorithm of robfig's
    /// `SpecSchedule.Next`, including its handling of daylight saving time:
    /// local times skipped by a spring-forward transition never fire (an
    /// hourly job jumps from 01:00 to 03:00; a daily 02:30 job skips that
    /// day), and times repeated by a fall-back transition fire for both
    /// occurrences when the schedule selects that hour (an hourly or 01:00
    /// job runs at 01:00 EDT and again at 01:00 EST). Where midnight itself
    /// is skipped (São Paulo, 2018-11-04) a `0 0 * * *` job does not run that
    /// day either. Which instant a nonexistent or repeated wall-clock time
    /// maps to follows Go's `time.Date`, which depends on the zone (New York
    /// and Berlin resolve gaps in opposite directions); this is emulated
    /// exactly rather than using jiff's disambiguation. Sub-second precision
    /// of `t` is dropped; every result is on a whole second.
    ///
    /// `@every` schedules return `t` truncated to the second plus the delay;
    /// they ignore the five-year limit, exactly like robfig.
    pub fn next_after(&self, t: &Zoned) -> Option<Zoned> {
        match &self.kind {
            Kind::Spec(bits) => next_spec(bits, t),
            Kind::Every(delay) => {
                let start = t.timestamp().as_nanosecond();
                let whole = start - start.rem_euclid(NANOS_PER_SECOND);
                let next = Timestamp::from_nanosecond(whole.checked_add(delay.as_nanos())?).ok()?;
                Some(next.to_zoned(t.time_zone().clone()))
            }
        }
    }
}

impl FromStr for Schedule {
    type Err = ScheduleError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Schedule::parse(s)
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.spec)
    }
}

// ---------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------

fn parse_fields(spec: &str) -> Result<SpecBits, ScheduleError> {
    let fields: Vec<&str> = spec.split_whitespace().collect();
    if fields.len() != CronField::ALL.len() {
        return Err(ScheduleError::FieldCount {
            spec: spec.to_owned(),
            found: fields.len(),
        });
    }
    let mut bits = [0u64; 5];
    for ((slot, field), text) in bits.iter_mut().zip(CronField::ALL).zip(&fields) {
        *slot =
            parse_field(text, field.bounds()).map_err(|reason| ScheduleError::InvalidField {
                spec: spec.to_owned(),
                field,
                value: (*text).to_owned(),
                reason,
            })?;
    }
    let [minute, hour, dom, month, dow] = bits;
    Ok(SpecBits {
        minute,
        hour,
        dom,
        month,
        dow,
    })
}

/// A field is a comma separated list of ranges; empty items are skipped.
fn parse_field(field: &str, bounds: Bounds) -> Result<u64, FieldError> {
    field
        .split(',')
        .filter(|item| !item.is_empty())
        .try_fold(0u64, |acc, item| Ok(acc | parse_range(item, bounds)?))
}

/// Parses `*`, `?`, `N`, `A-B`, each optionally followed by `/STEP`.
fn parse_range(expr: &str, bounds: Bounds) -> Result<u64, FieldError> {
    let range_and_step: Vec<&str> = expr.split('/').collect();
    let low_and_high: Vec<&str> = range_and_step[0].split('-').collect();
    let single_value = low_and_high.len() == 1;

    let (start, mut end, mut extra);
    if low_and_high[0] == "*" || low_and_high[0] == "?" {
        // Anything after a leading star is ignored, as in robfig.
        start = bounds.min;
        end = bounds.max;
        extra = STAR_BIT;
    } else {
        start = parse_int_or_name(low_and_high[0], bounds.names)?;
        end = match low_and_high.len() {
            1 => start,
            2 => parse_int_or_name(low_and_high[1], bounds.names)?,
            _ => {
                return Err(FieldError::TooManyHyphens {
                    expr: expr.to_owned(),
                });
            }
        };
        extra = 0;
    }

    let step = match range_and_step.len() {
        1 => 1,
        2 => {
            let step = parse_uint(range_and_step[1])?;
            // "N/S" means "N-max/S".
            if single_value {
                end = bounds.max;
            }
            // Since robfig v3 a stepped star no longer counts as a star.
            if step > 1 {
                extra = 0;
            }
            step
        }
        _ => {
            return Err(FieldError::TooManySlashes {
                expr: expr.to_owned(),
            });
        }
    };

    if start < bounds.min {
        return Err(FieldError::BelowMinimum {
            start,
            min: bounds.min,
            expr: expr.to_owned(),
        });
    }
    if end > bounds.max {
        return Err(FieldError::AboveMaximum {
            end,
            max: bounds.max,
            expr: expr.to_owned(),
        });
    }
    if start > end {
        return Err(FieldError::InvertedRange {
            start,
            end,
            expr: expr.to_owned(),
        });
    }
    if step == 0 {
        return Err(FieldError::ZeroStep {
            expr: expr.to_owned(),
        });
    }
    Ok(range_bits(start, end, step) | extra)
}

/// Sets bits `start, start+step, ...` up to and including `end` (`end` < 64).
fn range_bits(start: u64, end: u64, step: u64) -> u64 {
    let mut bits = 0u64;
    let mut value = start;
    while value <= end {
        bits |= 1u64 << value;
        value = value.saturating_add(step);
    }
    bits
}

fn parse_int_or_name(token: &str, names: &[(&str, u64)]) -> Result<u64, FieldError> {
    if !names.is_empty() {
        let lower = token.to_lowercase();
        if let Some((_, value)) = names.iter().find(|(name, _)| *name == lower) {
            return Ok(*value);
        }
    }
    parse_uint(token)
}

/// Parses like Go's `strconv.Atoi`, then refuses negative values.
fn parse_uint(token: &str) -> Result<u64, FieldError> {
    let value = go_atoi(token)?;
    u64::try_from(value).map_err(|_| FieldError::Negative {
        value,
        token: token.to_owned(),
    })
}

/// Go's `strconv.Atoi`: optional sign, then one or more ASCII digits, the
/// value fitting an `i64`. Errors are reported in the order Go detects them.
fn go_atoi(token: &str) -> Result<i64, FieldError> {
    let not_a_number = |reason| FieldError::NotANumber {
        token: token.to_owned(),
        reason,
    };
    let (negative, digits) = match token.as_bytes() {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        rest => (false, rest),
    };
    if digits.is_empty() {
        return Err(not_a_number("invalid syntax"));
    }
    // Digits accumulate as an unsigned 64-bit value first (an overflow there
    // is reported immediately); the signed range is checked at the end.
    let mut magnitude: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return Err(not_a_number("invalid syntax"));
        }
        magnitude = magnitude
            .checked_mul(10)
            .and_then(|m| m.checked_add(u64::from(c - b'0')))
            .ok_or_else(|| not_a_number("value out of range"))?;
    }
    let magnitude = i128::from(magnitude);
    let value = if negative { -magnitude } else { magnitude };
    i64::try_from(value).map_err(|_| not_a_number("value out of range"))
}

fn parse_descriptor(spec: &str) -> Result<Kind, ScheduleError> {
    let all = |field: CronField| {
        let b = field.bounds();
        range_bits(b.min, b.max, 1) | STAR_BIT
    };
    let first = |field: CronField| 1u64 << field.bounds().min;
    let bits = match spec {
        "@yearly" | "@annually" => Some(SpecBits {
            minute: first(CronField::Minute),
            hour: first(CronField::Hour),
            dom: first(CronField::DayOfMonth),
            month: first(CronField::Month),
            dow: all(CronField::DayOfWeek),
        }),
        "@monthly" => Some(SpecBits {
            minute: first(CronField::Minute),
            hour: first(CronField::Hour),
            dom: first(CronField::DayOfMonth),
            month: all(CronField::Month),
            dow: all(CronField::DayOfWeek),
        }),
        "@weekly" => Some(SpecBits {
            minute: first(CronField::Minute),
            hour: first(CronField::Hour),
            dom: all(CronField::DayOfMonth),
            month: all(CronField::Month),
            dow: first(CronField::DayOfWeek),
        }),
        "@daily" | "@midnight" => Some(SpecBits {
            minute: first(CronField::Minute),
            hour: first(CronField::Hour),
            dom: all(CronField::DayOfMonth),
            month: all(CronField::Month),
            dow: all(CronField::DayOfWeek),
        }),
        "@hourly" => Some(SpecBits {
            minute: first(CronField::Minute),
            hour: all(CronField::Hour),
            dom: all(CronField::DayOfMonth),
            month: all(CronField::Month),
            dow: all(CronField::DayOfWeek),
        }),
        _ => None,
    };
    if let Some(bits) = bits {
        return Ok(Kind::Spec(bits));
    }
    if let Some(duration) = spec.strip_prefix("@every ") {
        let nanos =
            parse_go_duration(duration).map_err(|reason| ScheduleError::InvalidDuration {
                spec: spec.to_owned(),
                reason,
            })?;
        // robfig's Every(): at least one second, sub-second part dropped.
        let nanos = i128::from(nanos).max(NANOS_PER_SECOND);
        let delay = nanos - nanos % NANOS_PER_SECOND;
        return Ok(Kind::Every(SignedDuration::from_nanos_i128(delay)));
    }
    Err(ScheduleError::UnrecognizedDescriptor {
        spec: spec.to_owned(),
    })
}

/// Go's `time.ParseDuration`, returning nanoseconds.
///
/// Grammar: `[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+`, units `ns`, `us`/`µs`/`μs`,
/// `ms`, `s`, `m`, `h`; the bare string `0` is also accepted.
fn parse_go_duration(text: &str) -> Result<i64, String> {
    const LIMIT: u64 = 1 << 63;
    let invalid = || format!("time: invalid duration {}", go_quote(text));

    let mut rest = text.as_bytes();
    let mut negative = false;
    if let [sign @ (b'-' | b'+'), tail @ ..] = rest {
        negative = *sign == b'-';
        rest = tail;
    }
    if rest == b"0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }

    let mut total: u64 = 0;
    while let Some(&first) = rest.first() {
        if !(first == b'.' || first.is_ascii_digit()) {
            return Err(invalid());
        }

        // Integer part.
        let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
        let mut value: u64 = 0;
        for &c in &rest[..digits] {
            if value > LIMIT / 10 {
                return Err(invalid());
            }
            value = value * 10 + u64::from(c - b'0');
            if value > LIMIT {
                return Err(invalid());
            }
        }
        rest = &rest[digits..];
        let had_integer = digits > 0;

        // Fractional part: precision beyond what fits is silently dropped.
        let mut fraction: u64 = 0;
        let mut scale: f64 = 1.0;
        let mut had_fraction = false;
        if let [b'.', tail @ ..] = rest {
            let digits = tail.iter().take_while(|c| c.is_ascii_digit()).count();
            let mut overflow = false;
            for &c in &tail[..digits] {
                if overflow {
                    continue;
                }
                if fraction > (LIMIT - 1) / 10 {
                    overflow = true;
                    continue;
                }
                let next = fraction * 10 + u64::from(c - b'0');
                if next > LIMIT {
                    overflow = true;
                    continue;
                }
                fraction = next;
                scale *= 10.0;
            }
            rest = &tail[digits..];
            had_fraction = digits > 0;
        }
        if !had_integer && !had_fraction {
            return Err(invalid());
        }

        // Unit: everything up to the next digit or '.'.
        let unit_len = rest
            .iter()
            .take_while(|c| !(**c == b'.' || c.is_ascii_digit()))
            .count();
        if unit_len == 0 {
            return Err(format!("time: missing unit in duration {}", go_quote(text)));
        }
        let unit_text = &rest[..unit_len];
        rest = &rest[unit_len..];
        let unit: u64 = match unit_text {
            b"ns" => 1,
            // "us", "µs" (U+00B5) and "μs" (U+03BC).
            b"us" | b"\xc2\xb5s" | b"\xce\xbcs" => 1_000,
            b"ms" => 1_000_000,
            b"s" => 1_000_000_000,
            b"m" => 60_000_000_000,
            b"h" => 3_600_000_000_000,
            _ => {
                let unit_text = String::from_utf8_lossy(unit_text);
                return Err(format!(
                    "time: unknown unit {} in duration {}",
                    go_quote(&unit_text),
                    go_quote(text)
                ));
            }
        };
        if value > LIMIT / unit {
            return Err(invalid());
        }
        value *= unit;
        if fraction > 0 {
            // Same floating point arithmetic as Go, so rounding matches.
            let extra = (fraction as f64 * (unit as f64 / scale)) as u64;
            value = value.saturating_add(extra);
            if value > LIMIT {
                return Err(invalid());
            }
        }
        total = total.saturating_add(value);
        if total > LIMIT {
            return Err(invalid());
        }
    }
    let signed = if negative {
        -i128::from(total)
    } else {
        i128::from(total)
    };
    i64::try_from(signed).map_err(|_| invalid())
}

/// Quotes a string the way Go's `time` package does in its error messages:
/// `"` and `\\` are backslash-escaped, control and non-ASCII bytes become
/// `\xNN`.
fn go_quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for &b in text.as_bytes() {
        match b {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(char::from(b));
            }
            b' '..=0x7f => out.push(char::from(b)),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('"');
    out
}

// ---------------------------------------------------------------------------
// Evaluation: a faithful port of robfig's SpecSchedule.Next
// ---------------------------------------------------------------------------
//
// robfig works on Go `time.Time` values and relies on a few Go specifics,
// which are reproduced here on plain Unix seconds:
//
// * `time.Date` normalises out-of-range months/days (Jan 32 is Feb 1) and,
//   for local times that do not exist or exist twice, picks an offset with a
//   two-step lookup (see `go_date`). That choice decides robfig's DST
//   behaviour, so it is copied rather than replaced by jiff's disambiguation.
// * `Truncate(time.Minute)` works on absolute time, not local time.
// * `t.Add(d)` is absolute arithmetic.

/// Calendar view of an instant in some zone, as Go's accessors report it.
#[derive(Debug, Clone, Copy)]
struct Civil {
    year: i64,
    month: i64,
    day: i64,
    hour: i64,
    minute: i64,
    second: i64,
    /// Sunday is 0.
    weekday: i64,
}

/// UTC offset (seconds) of `tz` at the instant `unix`.
fn offset_at(tz: &TimeZone, unix: i64) -> Option<i64> {
    let ts = Timestamp::from_second(unix).ok()?;
    Some(i64::from(tz.to_offset(ts).seconds()))
}

fn civil_at(tz: &TimeZone, unix: i64) -> Option<Civil> {
    let local = unix.checked_add(offset_at(tz, unix)?)?;
    let days = local.div_euclid(SECONDS_PER_DAY);
    let secs = local.rem_euclid(SECONDS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    Some(Civil {
        year,
        month,
        day,
        hour: secs / 3600,
        minute: secs % 3600 / 60,
        second: secs % 60,
        // 1970-01-01 was a Thursday.
        weekday: (days + 4).rem_euclid(7),
    })
}

/// Go's `time.Date(year, month, day, hour, min, sec, 0, tz)` as Unix seconds.
///
/// Out-of-range months and days are normalised. The offset is found the way
/// Go does it: look up the zone at the local wall time read as if it were
/// UTC, then look up again at the instant that first offset implies. For
/// America/New_York this puts a skipped 02:30 at 01:30 EST and a repeated
/// 01:30 at its first (EDT) occurrence.
fn go_date(
    tz: &TimeZone,
    year: i64,
    month: i64,
    day: i64,
    hour: i64,
    minute: i64,
    second: i64,
) -> Option<i64> {
    let month0 = month.checked_sub(1)?;
    let year = year.checked_add(month0.div_euclid(12))?;
    let month = month0.rem_euclid(12) + 1;
    let days = days_from_civil(year, month, 1)?.checked_add(day.checked_sub(1)?)?;
    let local = days
        .checked_mul(SECONDS_PER_DAY)?
        .checked_add(hour.checked_mul(3600)?)?
        .checked_add(minute.checked_mul(60)?)?
        .checked_add(second)?;
    let guess = offset_at(tz, local)?;
    let offset = offset_at(tz, local.checked_sub(guess)?)?;
    local.checked_sub(offset)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (`month` in 1..=12;
/// `day` may overflow the month and is then carried forward).
fn days_from_civil(year: i64, month: i64, day: i64) -> Option<i64> {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era.checked_mul(146_097)?
        .checked_add(day_of_era)?
        .checked_sub(719_468)
}

/// Inverse of [`days_from_civil`]: `(year, month, day)`.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Whether bit `value` is set in `bits`.
fn has_bit(bits: u64, value: i64) -> bool {
    u32::try_from(value)
        .ok()
        .and_then(|shift| 1u64.checked_shl(shift))
        .is_some_and(|bit| bits & bit != 0)
}

fn day_matches(bits: &SpecBits, c: &Civil) -> bool {
    let dom_match = has_bit(bits.dom, c.day);
    let dow_match = has_bit(bits.dow, c.weekday);
    if bits.dom & STAR_BIT != 0 || bits.dow & STAR_BIT != 0 {
        dom_match && dow_match
    } else {
        dom_match || dow_match
    }
}

/// robfig's `SpecSchedule.Next` for a schedule whose location is `Local`
/// (i.e. evaluated in the zone of `t`).
fn next_spec(bits: &SpecBits, t: &Zoned) -> Option<Zoned> {
    let tz = t.time_zone();
    // Start at the next whole second.
    let start = t.timestamp().as_nanosecond().div_euclid(NANOS_PER_SECOND);
    let mut now = i64::try_from(start).ok()?.checked_add(1)?;
    // Set once any field has been moved forward; from then on the lower
    // fields start from their minimum instead of from `t`.
    let mut added = false;
    let year_limit = civil_at(tz, now)?.year + SEARCH_YEARS;

    'wrap: loop {
        if civil_at(tz, now)?.year > year_limit {
            return None;
        }

        // Month.
        loop {
            let c = civil_at(tz, now)?;
            if has_bit(bits.month, c.month) {
                break;
            }
            if !added {
                added = true;
                now = go_date(tz, c.year, c.month, 1, 0, 0, 0)?;
            }
            let c = civil_at(tz, now)?;
            now = go_date(tz, c.year, c.month + 1, c.day, c.hour, c.minute, c.second)?;
            if civil_at(tz, now)?.month == 1 {
                continue 'wrap;
            }
        }

        // Day.
        loop {
            let c = civil_at(tz, now)?;
            if day_matches(bits, &c) {
                break;
            }
            if !added {
                added = true;
                now = go_date(tz, c.year, c.month, c.day, 0, 0, 0)?;
            }
            let c = civil_at(tz, now)?;
            now = go_date(tz, c.year, c.month, c.day + 1, c.hour, c.minute, c.second)?;
            // Where midnight does not exist the day may start at 01:00 or be
            // reported as 23:00 of the day before; snap back to midnight.
            let hour = civil_at(tz, now)?.hour;
            if hour != 0 {
                let shift = if hour > 12 { 24 - hour } else { -hour };
                now = now.checked_add(shift * 3600)?;
            }
            if civil_at(tz, now)?.day == 1 {
                continue 'wrap;
            }
        }

        // Hour.
        loop {
            let c = civil_at(tz, now)?;
            if has_bit(bits.hour, c.hour) {
                break;
            }
            if !added {
                added = true;
                now = go_date(tz, c.year, c.month, c.day, c.hour, 0, 0)?;
            }
            now = now.checked_add(3600)?;
            if civil_at(tz, now)?.hour == 0 {
                continue 'wrap;
            }
        }

        // Minute.
        loop {
            let c = civil_at(tz, now)?;
            if has_bit(bits.minute, c.minute) {
                break;
            }
            if !added {
                added = true;
                now -= now.rem_euclid(60);
            }
            now = now.checked_add(60)?;
            if civil_at(tz, now)?.minute == 0 {
                continue 'wrap;
            }
        }

        // Second: standard schedules only ever select second 0.
        loop {
            let c = civil_at(tz, now)?;
            if c.second == 0 {
                break;
            }
            added = true;
            now = now.checked_add(1)?;
            if civil_at(tz, now)?.second == 0 {
                continue 'wrap;
            }
        }

        let found = Timestamp::from_second(now).ok()?;
        return Some(found.to_zoned(tz.clone()));
    }
}

// ---------------------------------------------------------------------------
// Controller helpers (pkg/controller/cronjob/utils.go)
// ---------------------------------------------------------------------------

/// Upstream's classification of how many activations were missed
/// (`missedSchedulesType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MissedSchedules {
    /// Nothing missed. Note that upstream also reports this when exactly one
    /// activation is due (the answer then carries it in `most_recent`).
    None,
    /// Between 1 and [`TOO_MANY_MISSED_THRESHOLD`] (estimated) misses.
    Few,
    /// More than [`TOO_MANY_MISSED_THRESHOLD`] (estimated) misses; upstream
    /// emits a `TooManyMissedTimes` warning ([`TOO_MANY_MISSED_MESSAGE`]).
    Many,
}

/// Result of [`most_recent_schedule_time`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MostRecent {
    /// Where the search started: the `earliest` argument, moved forward to
    /// `now - startingDeadlineSeconds` when that is later. Expressed in
    /// `now`'s time zone.
    pub earliest: Zoned,
    /// The latest activation in `(earliest, now]`, if upstream's search finds
    /// one.
    pub most_recent: Option<Zoned>,
    /// Upstream's classification of the missed activations.
    pub missed: MissedSchedules,
    /// Number of activations in `(earliest, now]`: exact when it is 0 or 1,
    /// otherwise upstream's estimate (elapsed time divided by the gap between
    /// the first two activations, plus one). `missed` is derived from it only
    /// in the estimated case, as upstream does.
    pub missed_count: i64,
}

/// Port of upstream's `mostRecentScheduleTime`.
///
/// * `earliest`: the CronJob's `.status.lastScheduleTime`, or its creation
///   timestamp when it has never been scheduled.
/// * `now`: the current time, in the zone the schedule is evaluated in
///   (`.spec.timeZone`, or the controller's local zone). `earliest` is
///   converted to that zone.
/// * `starting_deadline_seconds`: `Some(.spec.startingDeadlineSeconds)` to
///   ignore activations older than that window (upstream's
///   `includeStartingDeadlineSeconds == true` with the field set), `None`
///   otherwise.
///
/// Like upstream, the number of missed activations is not enumerated for long
/// gaps: it is estimated from the gap between the first two activations, and
/// only the tail end of the window is walked to find the most recent one. For
/// irregular schedules this estimate can overshoot, in which case
/// `most_recent` is `None` even though `missed` is not
/// [`MissedSchedules::None`]; that is upstream behaviour.
///
/// Returns [`ScheduleError::InvalidInterval`] when two consecutive activations
/// cannot be found (the schedule never fires, e.g. `0 0 30 2 *`) and `now` is
/// not before the first of them.
pub fn most_recent_schedule_time(
    earliest: &Zoned,
    now: &Zoned,
    schedule: &Schedule,
    starting_deadline_seconds: Option<i64>,
) -> Result<MostRecent, ScheduleError> {
    let tz = now.time_zone();
    let mut earliest = earliest.with_time_zone(tz.clone());
    if let Some(seconds) = starting_deadline_seconds {
        // The controller will not start anything older than this.
        let deadline = now
            .timestamp()
            .checked_sub(SignedDuration::from_secs(seconds))
            .ok();
        if let Some(deadline) = deadline.filter(|d| *d > earliest.timestamp()) {
            earliest = deadline.to_zoned(tz.clone());
        }
    }

    let first = schedule.next_after(&earliest);
    let second = first.as_ref().and_then(|t| schedule.next_after(t));
    let result = |most_recent, missed, missed_count| MostRecent {
        earliest: earliest.clone(),
        most_recent,
        missed,
        missed_count,
    };

    if let Some(first) = &first {
        if now < first {
            return Ok(result(None, MissedSchedules::None, 0));
        }
        if second.as_ref().is_some_and(|second| now < second) {
            return Ok(result(Some(first.clone()), MissedSchedules::None, 1));
        }
    }
    let (Some(first), Some(second)) = (first, second) else {
        return Err(ScheduleError::InvalidInterval);
    };

    let interval = round_to_seconds(second.duration_since(&first));
    if interval < 1 {
        return Err(ScheduleError::InvalidInterval);
    }
    // Rough count: how many intervals fit between the first activation and
    // now.
    let elapsed = now.duration_since(&first).as_secs();
    let missed_count = elapsed / interval + 1;

    // Jump close to `now` (one interval short of the estimated last
    // activation, so irregular schedules and `@every` still land right) and
    // walk forward from there.
    let jump = missed_count
        .checked_sub(2)
        .and_then(|n| n.checked_mul(interval))
        .map(SignedDuration::from_secs);
    let search_from = jump
        .and_then(|jump| first.timestamp().checked_add(jump).ok())
        .map_or_else(|| earliest.clone(), |ts| ts.to_zoned(tz.clone()));
    let mut most_recent = None;
    let mut candidate = schedule.next_after(&search_from);
    while let Some(t) = candidate {
        if t > *now {
            break;
        }
        candidate = schedule.next_after(&t);
        most_recent = Some(t);
    }

    let missed = if missed_count > TOO_MANY_MISSED_THRESHOLD {
        MissedSchedules::Many
    } else if missed_count > 0 {
        MissedSchedules::Few
    } else {
        MissedSchedules::None
    };
    Ok(result(most_recent, missed, missed_count))
}

/// Port of upstream's `nextScheduleTimeDuration`: how long the controller
/// should wait before looking at the CronJob again, i.e. the time from `now`
/// until the activation after the most recent one, plus
/// [`NEXT_SCHEDULE_DELTA`].
///
/// `earliest` is `.status.lastScheduleTime` or the creation timestamp; the
/// starting deadline is not applied (as upstream). If the schedule is
/// invalid the next activation after `now` is used.
///
/// Returns `None` when the schedule has no further activation; upstream would
/// compute a meaningless negative duration from Go's zero time in that case.
pub fn next_schedule_time_duration(
    earliest: &Zoned,
    now: &Zoned,
    schedule: &Schedule,
) -> Option<SignedDuration> {
    let base = match most_recent_schedule_time(earliest, now, schedule, None) {
        Err(_) => now.clone(),
        Ok(MostRecent {
            most_recent: Some(t),
            ..
        }) => t,
        Ok(MostRecent {
            earliest,
            missed: MissedSchedules::None,
            ..
        }) => earliest,
        // Misses were estimated but none found: aim for the next slot after
        // now.
        Ok(_) => now.clone(),
    };
    let next = schedule.next_after(&base)?;
    next.duration_since(now).checked_add(NEXT_SCHEDULE_DELTA)
}

/// Go's `Duration.Round(time.Second)` in whole seconds (halves away from
/// zero).
fn round_to_seconds(d: SignedDuration) -> i64 {
    let nanos = d.as_nanos();
    let half = NANOS_PER_SECOND / 2;
    let rounded = if nanos >= 0 {
        (nanos + half) / NANOS_PER_SECOND
    } else {
        -((-nanos + half) / NANOS_PER_SECOND)
    };
    i64::try_from(rounded).unwrap_or(if rounded > 0 { i64::MAX } else { i64::MIN })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses an RFC 9557 string such as `2012-03-11T00:00:00-05:00[America/New_York]`.
    fn z(s: &str) -> Zoned {
        s.parse()
            .unwrap_or_else(|e| panic!("bad test time {s}: {e}"))
    }

    /// A UTC time from `YYYY-MM-DDTHH:MM:SS`.
    fn utc(s: &str) -> Zoned {
        z(&format!("{s}+00:00[UTC]"))
    }

    fn sched(spec: &str) -> Schedule {
        Schedule::parse(spec).unwrap_or_else(|e| panic!("{spec}: {e}"))
    }

    fn next_str(spec: &str, from: &Zoned) -> Option<String> {
        sched(spec).next_after(from).map(|t| t.to_string())
    }

    fn bounds(min: u64, max: u64) -> Bounds {
        Bounds {
            min,
            max,
            names: &[],
        }
    }

    fn spec_bits(spec: &str) -> SpecBits {
        match sched(spec).kind {
            Kind::Spec(bits) => bits,
            Kind::Every(_) => panic!("{spec} is not a crontab spec"),
        }
    }

    // --- parsing: ranges and fields (robfig TestRange / TestField / TestAll / TestBits) ---

    #[test]
    fn parse_range_table() {
        type Check = fn(&FieldError) -> bool;
        let ok: &[(&str, u64, u64, u64)] = &[
            ("5", 0, 7, 1 << 5),
            ("0", 0, 7, 1 << 0),
            ("7", 0, 7, 1 << 7),
            ("5-5", 0, 7, 1 << 5),
            ("5-6", 0, 7, 1 << 5 | 1 << 6),
            ("5-7", 0, 7, 1 << 5 | 1 << 6 | 1 << 7),
            ("5-6/2", 0, 7, 1 << 5),
            ("5-7/2", 0, 7, 1 << 5 | 1 << 7),
            ("5-7/1", 0, 7, 1 << 5 | 1 << 6 | 1 << 7),
            ("*", 1, 3, 1 << 1 | 1 << 2 | 1 << 3 | STAR_BIT),
            ("?", 1, 3, 1 << 1 | 1 << 2 | 1 << 3 | STAR_BIT),
            ("*/1", 1, 3, 1 << 1 | 1 << 2 | 1 << 3 | STAR_BIT),
            ("*/2", 1, 3, 1 << 1 | 1 << 3),
            ("?/2", 1, 3, 1 << 1 | 1 << 3),
            ("3/2", 0, 7, 1 << 3 | 1 << 5 | 1 << 7),
            ("0/3", 0, 7, 1 << 0 | 1 << 3 | 1 << 6),
            ("*/100", 0, 59, 1 << 0),
            ("+5", 0, 7, 1 << 5),
            ("05", 0, 7, 1 << 5),
            ("*-5", 0, 7, 0xff | STAR_BIT),
        ];
        for &(expr, min, max, expected) in ok {
            assert_eq!(parse_range(expr, bounds(min, max)), Ok(expected), "{expr}");
        }
        let bad: &[(&str, u64, u64, Check)] = &[
            ("5--5", 0, 0, |e| {
                matches!(e, FieldError::TooManyHyphens { .. })
            }),
            ("1-2-3", 0, 7, |e| {
                matches!(e, FieldError::TooManyHyphens { .. })
            }),
            ("jan-x", 0, 0, |e| {
                matches!(e, FieldError::NotANumber { .. })
            }),
            ("2-x", 1, 5, |e| matches!(e, FieldError::NotANumber { .. })),
            ("-5", 0, 7, |e| matches!(e, FieldError::NotANumber { .. })),
            ("5-", 0, 7, |e| matches!(e, FieldError::NotANumber { .. })),
            ("/5", 0, 7, |e| matches!(e, FieldError::NotANumber { .. })),
            ("*/-12", 0, 0, |e| {
                matches!(e, FieldError::Negative { value: -12, .. })
            }),
            ("*//2", 0, 0, |e| {
                matches!(e, FieldError::TooManySlashes { .. })
            }),
            ("1", 3, 5, |e| {
                matches!(
                    e,
                    FieldError::BelowMinimum {
                        start: 1,
                        min: 3,
                        ..
                    }
                )
            }),
            ("6", 3, 5, |e| {
                matches!(e, FieldError::AboveMaximum { end: 6, max: 5, .. })
            }),
            ("5-3", 3, 5, |e| {
                matches!(
                    e,
                    FieldError::InvertedRange {
                        start: 5,
                        end: 3,
                        ..
                    }
                )
            }),
            ("*/0", 0, 0, |e| matches!(e, FieldError::ZeroStep { .. })),
            ("1-5/0", 0, 7, |e| matches!(e, FieldError::ZeroStep { .. })),
            // Fits u64 but not i64, then garbage: Go reports the syntax.
            ("9999999999999999999x", 0, 7, |e| {
                matches!(
                    e,
                    FieldError::NotANumber {
                        reason: "invalid syntax",
                        ..
                    }
                )
            }),
            ("9999999999999999999", 0, 7, |e| {
                matches!(
                    e,
                    FieldError::NotANumber {
                        reason: "value out of range",
                        ..
                    }
                )
            }),
            ("99999999999999999999x", 0, 7, |e| {
                matches!(
                    e,
                    FieldError::NotANumber {
                        reason: "value out of range",
                        ..
                    }
                )
            }),
            ("99999999999999999999", 0, 7, |e| {
                matches!(
                    e,
                    FieldError::NotANumber {
                        reason: "value out of range",
                        ..
                    }
                )
            }),
        ];
        for &(expr, min, max, check) in bad {
            match parse_range(expr, bounds(min, max)) {
                Err(e) => assert!(check(&e), "{expr}: unexpected error {e:?}"),
                Ok(bits) => panic!("{expr}: expected an error, got {bits:#x}"),
            }
        }
    }

    #[test]
    fn parse_field_lists() {
        let cases: &[(&str, u64)] = &[
            ("5", 1 << 5),
            ("5,6", 1 << 5 | 1 << 6),
            ("5,6,7", 1 << 5 | 1 << 6 | 1 << 7),
            ("1,5-7/2,3", 1 << 1 | 1 << 5 | 1 << 7 | 1 << 3),
            ("1,,2", 1 << 1 | 1 << 2),
            (",", 0),
        ];
        for &(expr, expected) in cases {
            assert_eq!(parse_field(expr, bounds(1, 7)), Ok(expected), "{expr}");
        }
    }

    #[test]
    fn star_covers_whole_field() {
        let cases = [
            ("* 0 1 1 0", 0x0fff_ffff_ffff_ffff_u64), // minutes 0-59
            ("0 * 1 1 0", 0x00ff_ffff),               // hours 0-23
            ("0 0 * 1 0", 0xffff_fffe),               // days 1-31
            ("0 0 1 * 0", 0x1ffe),                    // months 1-12
            ("0 0 1 1 *", 0x7f),                      // weekdays 0-6
        ];
        for (i, (spec, expected)) in cases.into_iter().enumerate() {
            let b = spec_bits(spec);
            let field = [b.minute, b.hour, b.dom, b.month, b.dow][i];
            assert_eq!(field, expected | STAR_BIT, "{spec}");
        }
    }

    #[test]
    fn range_bits_steps() {
        assert_eq!(range_bits(0, 0, 1), 0x1);
        assert_eq!(range_bits(1, 1, 1), 0x2);
        assert_eq!(range_bits(1, 5, 2), 0x2a);
        assert_eq!(range_bits(1, 4, 2), 0xa);
        assert_eq!(range_bits(0, 59, u64::MAX), 0x1);
    }

    // --- parsing: whole specs ---

    #[test]
    fn parses_every_syntax_form() {
        let cases: &[(&str, SpecBits)] = &[
            (
                "0 0 1 1 0",
                SpecBits {
                    minute: 1,
                    hour: 1,
                    dom: 1 << 1,
                    month: 1 << 1,
                    dow: 1,
                },
            ),
            (
                "1,2 3-4 5/10 */6 ?",
                SpecBits {
                    minute: 0b110,
                    hour: 0b11000,
                    dom: 1 << 5 | 1 << 15 | 1 << 25,
                    month: 1 << 1 | 1 << 7,
                    dow: 0x7f | STAR_BIT,
                },
            ),
            (
                "0-10/5 12 1-31/15 jan-MAR SUN,sat",
                SpecBits {
                    minute: 1 | 1 << 5 | 1 << 10,
                    hour: 1 << 12,
                    dom: 1 << 1 | 1 << 16 | 1 << 31,
                    month: 0b1110,
                    dow: 1 | 1 << 6,
                },
            ),
            (
                "\t59  23 31\n12 Mon-Fri ",
                SpecBits {
                    minute: 1 << 59,
                    hour: 1 << 23,
                    dom: 1 << 31,
                    month: 1 << 12,
                    dow: 0b111110,
                },
            ),
            (
                "0 0 * Jun,jul,AUG,Sep,oCt,nov,dec,Jan,FEB,mar,apr,may TUE,wed,Thu",
                SpecBits {
                    minute: 1,
                    hour: 1,
                    dom: 0xffff_fffe | STAR_BIT,
                    month: 0x1ffe,
                    dow: 0b11100,
                },
            ),
        ];
        for (spec, expected) in cases {
            assert_eq!(spec_bits(spec), *expected, "{spec:?}");
            assert_eq!(sched(spec).spec(), *spec);
        }
    }

    #[test]
    fn descriptors() {
        let from = utc("2024-05-05T10:20:30"); // a Sunday
        let cases = [
            ("@yearly", "2025-01-01T00:00:00+00:00[UTC]"),
            ("@annually", "2025-01-01T00:00:00+00:00[UTC]"),
            ("@monthly", "2024-06-01T00:00:00+00:00[UTC]"),
            ("@weekly", "2024-05-12T00:00:00+00:00[UTC]"),
            ("@daily", "2024-05-06T00:00:00+00:00[UTC]"),
            ("@midnight", "2024-05-06T00:00:00+00:00[UTC]"),
            ("@hourly", "2024-05-05T11:00:00+00:00[UTC]"),
            ("@every 1h30m", "2024-05-05T11:50:30+00:00[UTC]"),
            ("@every 90s", "2024-05-05T10:22:00+00:00[UTC]"),
        ];
        for (spec, expected) in cases {
            assert_eq!(next_str(spec, &from).as_deref(), Some(expected), "{spec}");
        }
        // Descriptors are the same bit sets as their crontab spelling.
        assert_eq!(spec_bits("@yearly"), spec_bits("0 0 1 1 *"));
        assert_eq!(spec_bits("@monthly"), spec_bits("0 0 1 * *"));
        assert_eq!(spec_bits("@weekly"), spec_bits("0 0 * * 0"));
        assert_eq!(spec_bits("@daily"), spec_bits("0 0 * * *"));
        assert_eq!(spec_bits("@hourly"), spec_bits("0 * * * *"));
    }

    #[test]
    fn every_rounds_like_robfig() {
        let from = z("2024-05-05T10:00:00.75+00:00[UTC]");
        let cases = [
            ("@every 1s", "2024-05-05T10:00:01+00:00[UTC]"),
            ("@every 500ms", "2024-05-05T10:00:01+00:00[UTC]"),
            ("@every 1.9s", "2024-05-05T10:00:01+00:00[UTC]"),
            ("@every -5m", "2024-05-05T10:00:01+00:00[UTC]"),
            ("@every 0", "2024-05-05T10:00:01+00:00[UTC]"),
            ("@every 2h0m3s", "2024-05-05T12:00:03+00:00[UTC]"),
            ("@every 1.5h", "2024-05-05T11:30:00+00:00[UTC]"),
            // No five-year limit for @every.
            ("@every 87600h", "2034-05-03T10:00:00+00:00[UTC]"),
        ];
        for (spec, expected) in cases {
            assert_eq!(next_str(spec, &from).as_deref(), Some(expected), "{spec}");
        }
    }

    #[test]
    fn go_duration_parsing() {
        let ok: &[(&str, i64)] = &[
            ("0", 0),
            ("-0", 0),
            ("+0", 0),
            ("5s", 5_000_000_000),
            ("1h30m", 5_400_000_000_000),
            ("1.5h", 5_400_000_000_000),
            ("-1.5h", -5_400_000_000_000),
            ("+3m", 180_000_000_000),
            (".5s", 500_000_000),
            ("1.s", 1_000_000_000),
            ("300ms", 300_000_000),
            ("2us", 2_000),
            ("2\u{b5}s", 2_000),
            ("2\u{3bc}s", 2_000),
            ("7ns", 7),
            ("1h1m1s1ms1us1ns", 3_661_001_001_001),
            ("9223372036854775807ns", i64::MAX),
            ("-9223372036854775808ns", i64::MIN),
            ("0.3333333333333333333h", 1_200_000_000_000),
        ];
        for &(text, expected) in ok {
            assert_eq!(parse_go_duration(text), Ok(expected), "{text}");
        }
        let bad: &[(&str, &str)] = &[
            ("", r#"time: invalid duration """#),
            ("-", r#"time: invalid duration "-""#),
            ("3", r#"time: missing unit in duration "3""#),
            ("1x", r#"time: unknown unit "x" in duration "1x""#),
            ("1h ", r#"time: unknown unit "h " in duration "1h ""#),
            (".s", r#"time: invalid duration ".s""#),
            ("Xm", r#"time: invalid duration "Xm""#),
            ("1h-2m", r#"time: unknown unit "h-" in duration "1h-2m""#),
            (
                "9223372036854775808ns",
                r#"time: invalid duration "9223372036854775808ns""#,
            ),
            ("3000000h", r#"time: invalid duration "3000000h""#),
            (
                "1\u{b5}",
                r#"time: unknown unit "\xc2\xb5" in duration "1\xc2\xb5""#,
            ),
            ("1\"s", r#"time: unknown unit "\"s" in duration "1\"s""#),
        ];
        for &(text, expected) in bad {
            assert_eq!(parse_go_duration(text), Err(expected.to_owned()), "{text}");
        }
    }

    #[test]
    fn invalid_specs() {
        type Check = fn(&ScheduleError) -> bool;
        let cases: &[(&str, Check)] = &[
            ("", |e| matches!(e, ScheduleError::Empty)),
            ("* * *", |e| {
                matches!(e, ScheduleError::FieldCount { found: 3, .. })
            }),
            ("* * * *", |e| {
                matches!(e, ScheduleError::FieldCount { found: 4, .. })
            }),
            ("* * * * * *", |e| {
                matches!(e, ScheduleError::FieldCount { found: 6, .. })
            }),
            ("   ", |e| {
                matches!(e, ScheduleError::FieldCount { found: 0, .. })
            }),
            ("xyz", |e| {
                matches!(e, ScheduleError::FieldCount { found: 1, .. })
            }),
            (" @daily", |e| {
                matches!(e, ScheduleError::FieldCount { found: 1, .. })
            }),
            ("60 * * * *", |e| field_err(e, CronField::Minute)),
            ("* 24 * * *", |e| field_err(e, CronField::Hour)),
            ("0 60 * * *", |e| field_err(e, CronField::Hour)),
            ("* * 0 * *", |e| field_err(e, CronField::DayOfMonth)),
            ("* * 32 * *", |e| field_err(e, CronField::DayOfMonth)),
            ("* * * 0 *", |e| field_err(e, CronField::Month)),
            ("* * * 13 *", |e| field_err(e, CronField::Month)),
            ("* * * * 7", |e| field_err(e, CronField::DayOfWeek)),
            ("* * * * XYZ", |e| field_err(e, CronField::DayOfWeek)),
            ("* * * * sunday", |e| field_err(e, CronField::DayOfWeek)),
            ("* * * january *", |e| field_err(e, CronField::Month)),
            ("* * jan * *", |e| field_err(e, CronField::DayOfMonth)),
            ("*/0 * * * *", |e| field_err(e, CronField::Minute)),
            ("15/0 * * * *", |e| field_err(e, CronField::Minute)),
            ("5-3 * * * *", |e| field_err(e, CronField::Minute)),
            ("* * * dec-jan *", |e| field_err(e, CronField::Month)),
            ("1-2-3 * * * *", |e| field_err(e, CronField::Minute)),
            ("*/2/3 * * * *", |e| field_err(e, CronField::Minute)),
            ("*/-1 * * * *", |e| field_err(e, CronField::Minute)),
            ("-1 * * * *", |e| field_err(e, CronField::Minute)),
            ("1.5 * * * *", |e| field_err(e, CronField::Minute)),
            ("TZ=UTC * * * * *", |e| {
                matches!(e, ScheduleError::TimeZoneInSchedule { .. })
            }),
            ("CRON_TZ=Europe/Paris 0 * * * *", |e| {
                matches!(e, ScheduleError::TimeZoneInSchedule { .. })
            }),
            ("TZ=America/New_York @daily", |e| {
                matches!(e, ScheduleError::TimeZoneInSchedule { .. })
            }),
            ("@unrecognized", |e| {
                matches!(e, ScheduleError::UnrecognizedDescriptor { .. })
            }),
            ("@DAILY", |e| {
                matches!(e, ScheduleError::UnrecognizedDescriptor { .. })
            }),
            ("@daily ", |e| {
                matches!(e, ScheduleError::UnrecognizedDescriptor { .. })
            }),
            ("@every", |e| {
                matches!(e, ScheduleError::UnrecognizedDescriptor { .. })
            }),
            ("@every Xm", |e| {
                matches!(e, ScheduleError::InvalidDuration { .. })
            }),
            ("@every 1h ", |e| {
                matches!(e, ScheduleError::InvalidDuration { .. })
            }),
            ("@every  1h", |e| {
                matches!(e, ScheduleError::InvalidDuration { .. })
            }),
        ];
        for (spec, check) in cases {
            match Schedule::parse(spec) {
                Err(e) => assert!(check(&e), "{spec:?}: unexpected error {e:?}"),
                Ok(s) => panic!("{spec:?}: expected an error, got {s:?}"),
            }
        }
    }

    fn field_err(e: &ScheduleError, expected: CronField) -> bool {
        matches!(e, ScheduleError::InvalidField { field, .. } if *field == expected)
    }

    #[test]
    fn error_messages() {
        let cases = [
            ("", r#"unparseable schedule "": empty spec string"#),
            (
                "* * *",
                r#"unparseable schedule "* * *": expected exactly 5 fields, found 3"#,
            ),
            (
                "60 * * * *",
                r#"unparseable schedule "60 * * * *": minute field "60": end of range (60) above maximum (59): 60"#,
            ),
            (
                "0 0 0 * *",
                r#"unparseable schedule "0 0 0 * *": day-of-month field "0": beginning of range (0) below minimum (1): 0"#,
            ),
            (
                "0 0 * 3-1 *",
                r#"unparseable schedule "0 0 * 3-1 *": month field "3-1": beginning of range (3) beyond end of range (1): 3-1"#,
            ),
            (
                "0 0 * * 1,x",
                r#"unparseable schedule "0 0 * * 1,x": day-of-week field "1,x": failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax"#,
            ),
            (
                "*/0 * * * *",
                r#"unparseable schedule "*/0 * * * *": minute field "*/0": step of range should be a positive number: */0"#,
            ),
            (
                "0 */-2 * * *",
                r#"unparseable schedule "0 */-2 * * *": hour field "*/-2": negative number (-2) not allowed: -2"#,
            ),
            (
                "1--2 * * * *",
                r#"unparseable schedule "1--2 * * * *": minute field "1--2": too many hyphens: 1--2"#,
            ),
            (
                "CRON_TZ=UTC 0 * * * *",
                r#"unparseable schedule "CRON_TZ=UTC 0 * * * *": cannot use TZ or CRON_TZ in schedule, use timeZone field instead"#,
            ),
            (
                "@fortnightly",
                r#"unparseable schedule "@fortnightly": unrecognized descriptor: @fortnightly"#,
            ),
            (
                "@every 5",
                r#"unparseable schedule "@every 5": failed to parse duration: time: missing unit in duration "5""#,
            ),
        ];
        for (spec, expected) in cases {
            let err = Schedule::parse(spec).expect_err(spec);
            assert_eq!(err.to_string(), expected);
        }
        assert_eq!(
            ScheduleError::InvalidInterval.to_string(),
            "time difference between two schedules is less than 1 second"
        );
    }

    #[test]
    fn from_str_and_display() {
        let s: Schedule = "*/5 * * * *".parse().unwrap();
        assert_eq!(s.to_string(), "*/5 * * * *");
        assert!("bogus".parse::<Schedule>().is_err());
    }

    // --- day-of-month / day-of-week semantics (robfig TestActivation) ---

    #[test]
    fn activation_table() {
        // (time, spec, fires at that time)
        let cases = [
            ("2012-07-09T15:00:00", "0/15 * * * *", true),
            ("2012-07-09T15:45:00", "0/15 * * * *", true),
            ("2012-07-09T15:40:00", "0/15 * * * *", false),
            ("2012-07-09T15:05:00", "5/15 * * * *", true),
            ("2012-07-09T15:20:00", "5/15 * * * *", true),
            ("2012-07-09T15:50:00", "5/15 * * * *", true),
            ("2012-07-15T15:00:00", "0/15 * * Jul *", true),
            ("2012-07-15T15:00:00", "0/15 * * Jun *", false),
            ("2012-07-15T08:30:00", "30 08 ? Jul Sun", true),
            ("2012-07-15T08:30:00", "30 08 15 Jul ?", true),
            ("2012-07-16T08:30:00", "30 08 ? Jul Sun", false),
            ("2012-07-16T08:30:00", "30 08 15 Jul ?", false),
            ("2012-07-09T15:00:00", "@hourly", true),
            ("2012-07-09T15:04:00", "@hourly", false),
            ("2012-07-09T15:00:00", "@daily", false),
            ("2012-07-09T00:00:00", "@daily", true),
            ("2012-07-09T00:00:00", "@weekly", false),
            ("2012-07-08T00:00:00", "@weekly", true),
            ("2012-07-08T01:00:00", "@weekly", false),
            ("2012-07-08T00:00:00", "@monthly", false),
            ("2012-07-01T00:00:00", "@monthly", true),
            // Both day fields restricted: either may match.
            ("2012-07-15T00:00:00", "* * 1,15 * Sun", true),
            ("2012-06-15T00:00:00", "* * 1,15 * Sun", true),
            ("2012-08-01T00:00:00", "* * 1,15 * Sun", true),
            ("2012-07-15T00:00:00", "* * */10 * Sun", true),
            ("2012-07-22T00:00:00", "* * 1,15 * Sun", true),
            ("2012-07-23T00:00:00", "* * 1,15 * Sun", false),
            // One of them is a star: both must match.
            ("2012-07-15T00:00:00", "* * * * Mon", false),
            ("2012-07-09T00:00:00", "* * 1,15 * *", false),
            ("2012-07-15T00:00:00", "* * 1,15 * *", true),
            ("2012-07-15T00:00:00", "* * */2 * Sun", true),
            ("2012-07-15T00:00:00", "* * ? * Sun", true),
            ("2012-07-16T00:00:00", "* * ? * Sun", false),
            // A stepped star is a restriction (robfig v3); a /1 star is not.
            ("2012-07-16T00:00:00", "* * * * Sun", false),
            ("2012-07-16T00:00:00", "* * */1 * Sun", false),
            ("2012-07-17T00:00:00", "* * */2 * Sun", true),
            ("2012-07-16T00:00:00", "* * */2 * Sun", false),
            ("2012-07-15T00:00:00", "* * */2 * */2", true),
        ];
        for (time, spec, fires) in cases {
            let at = utc(time);
            let before = at.checked_sub(SignedDuration::from_secs(1)).unwrap();
            let next = sched(spec).next_after(&before);
            assert_eq!(
                next.as_ref() == Some(&at),
                fires,
                "{spec} at {time}: {next:?}"
            );
        }
    }

    #[test]
    fn friday_the_thirteenth_or_rule() {
        let from = utc("2024-01-01T00:00:00");
        // Either the 13th or any Friday.
        assert_eq!(
            next_str("0 0 13 * 5", &from).as_deref(),
            Some("2024-01-05T00:00:00+00:00[UTC]")
        );
        assert_eq!(
            next_str("0 0 13 * 5", &utc("2024-01-12T00:00:00")).as_deref(),
            Some("2024-01-13T00:00:00+00:00[UTC]")
        );
        // With a star day-of-month only the weekday decides.
        assert_eq!(
            next_str("0 0 * * 5", &utc("2024-01-06T00:00:00")).as_deref(),
            Some("2024-01-12T00:00:00+00:00[UTC]")
        );
    }

    // --- next_after (robfig TestNext, adapted to five fields) ---

    #[test]
    fn next_table_utc() {
        let cases = [
            (
                "2012-07-09T14:45:00",
                "0/15 * * * *",
                Some("2012-07-09T15:00:00"),
            ),
            (
                "2012-07-09T14:59:00",
                "0/15 * * * *",
                Some("2012-07-09T15:00:00"),
            ),
            (
                "2012-07-09T14:59:59",
                "0/15 * * * *",
                Some("2012-07-09T15:00:00"),
            ),
            // Wrap around hours.
            (
                "2012-07-09T15:45:00",
                "20-35/15 * * * *",
                Some("2012-07-09T16:20:00"),
            ),
            // Wrap around days.
            (
                "2012-07-09T23:46:00",
                "*/15 * * * *",
                Some("2012-07-10T00:00:00"),
            ),
            (
                "2012-07-09T23:45:00",
                "20-35/15 * * * *",
                Some("2012-07-10T00:20:00"),
            ),
            (
                "2012-07-09T23:35:51",
                "20-35/15 * * * *",
                Some("2012-07-10T00:20:00"),
            ),
            (
                "2012-07-09T23:35:51",
                "20-35/15 1/2 * * *",
                Some("2012-07-10T01:20:00"),
            ),
            (
                "2012-07-09T23:35:51",
                "20-35/15 10-12 * * *",
                Some("2012-07-10T10:20:00"),
            ),
            (
                "2012-07-09T23:35:51",
                "20-35/15 1/2 */2 * *",
                Some("2012-07-11T01:20:00"),
            ),
            (
                "2012-07-09T23:35:51",
                "20-35/15 * 9-20 * *",
                Some("2012-07-10T00:20:00"),
            ),
            (
                "2012-07-09T23:35:51",
                "20-35/15 * 9-20 Jul *",
                Some("2012-07-10T00:20:00"),
            ),
            // Wrap around months.
            (
                "2012-07-09T23:35:00",
                "0 0 9 Apr-Oct ?",
                Some("2012-08-09T00:00:00"),
            ),
            (
                "2012-07-09T23:35:00",
                "0 0 */5 Apr,Aug,Oct Mon",
                Some("2012-08-01T00:00:00"),
            ),
            (
                "2012-07-09T23:35:00",
                "0 0 */5 Oct Mon",
                Some("2012-10-01T00:00:00"),
            ),
            // Wrap around years.
            (
                "2012-07-09T23:35:00",
                "0 0 * Feb Mon",
                Some("2013-02-04T00:00:00"),
            ),
            (
                "2012-07-09T23:35:00",
                "0 0 * Feb Mon/2",
                Some("2013-02-01T00:00:00"),
            ),
            // Wrap around minute, hour, day, month and year.
            (
                "2012-12-31T23:59:45",
                "* * * * *",
                Some("2013-01-01T00:00:00"),
            ),
            (
                "2012-12-31T23:59:00",
                "59 23 31 12 *",
                Some("2013-12-31T23:59:00"),
            ),
            // Leap years.
            (
                "2012-07-09T23:35:00",
                "0 0 29 Feb ?",
                Some("2016-02-29T00:00:00"),
            ),
            (
                "2024-02-29T00:00:00",
                "0 0 29 2 *",
                Some("2028-02-29T00:00:00"),
            ),
            (
                "2095-03-01T00:00:00",
                "0 0 29 2 *",
                Some("2096-02-29T00:00:00"),
            ),
            // 2100 is not a leap year and 2104 is past the five-year window.
            ("2097-01-01T00:00:00", "0 0 29 2 *", None),
            // Month ends.
            (
                "2024-01-31T00:00:00",
                "0 0 31 * *",
                Some("2024-03-31T00:00:00"),
            ),
            (
                "2023-01-30T12:00:00",
                "0 12 30 * *",
                Some("2023-03-30T12:00:00"),
            ),
            (
                "2023-01-31T12:00:00",
                "0 0 29-31 * *",
                Some("2023-03-29T00:00:00"),
            ),
            (
                "2024-01-31T12:00:00",
                "0 0 29-31 * *",
                Some("2024-02-29T00:00:00"),
            ),
            (
                "2024-04-30T23:59:59",
                "0 0 * * *",
                Some("2024-05-01T00:00:00"),
            ),
            // Unsatisfiable.
            ("2012-07-09T23:35:00", "0 0 30 Feb ?", None),
            ("2012-07-09T23:35:00", "0 0 31 Apr ?", None),
            ("2012-07-09T23:35:00", ", * * * *", None),
        ];
        for (from, spec, expected) in cases {
            let expected = expected.map(|e| format!("{e}+00:00[UTC]"));
            assert_eq!(next_str(spec, &utc(from)), expected, "{spec} after {from}");
        }
    }

    #[test]
    fn next_is_strictly_after_and_drops_subseconds() {
        let s = sched("0 15 * * *");
        let at = utc("2012-07-09T15:00:00");
        assert_eq!(
            s.next_after(&at).map(|t| t.to_string()).as_deref(),
            Some("2012-07-10T15:00:00+00:00[UTC]")
        );
        let just_before = z("2012-07-09T14:59:59.999999999+00:00[UTC]");
        assert_eq!(s.next_after(&just_before), Some(at.clone()));
        let just_after = z("2012-07-09T15:00:00.000000001+00:00[UTC]");
        assert_eq!(
            s.next_after(&just_after).map(|t| t.to_string()).as_deref(),
            Some("2012-07-10T15:00:00+00:00[UTC]")
        );
        // Pre-epoch instants with a fractional second.
        let old = z("1969-12-31T14:59:59.5+00:00[UTC]");
        assert_eq!(
            s.next_after(&old).map(|t| t.to_string()).as_deref(),
            Some("1969-12-31T15:00:00+00:00[UTC]")
        );
    }

    #[test]
    fn next_keeps_time_zone() {
        // Evaluated in the zone of the input: 14:14 local, not UTC.
        let cases = [
            ("2016-01-03T13:09:03+05:30[+05:30]", "14 14 * * *"),
            ("2016-01-03T04:09:03+05:30[+05:30]", "14 14 * * ?"),
            ("2016-01-03T14:09:03+05:30[+05:30]", "14 14 * * *"),
            ("2016-01-03T14:00:00+05:30[+05:30]", "14 14 * * ?"),
        ];
        for (from, spec) in cases {
            assert_eq!(
                next_str(spec, &z(from)).as_deref(),
                Some("2016-01-03T14:14:00+05:30[+05:30]"),
                "{spec} after {from}"
            );
        }
        let paris = z("2024-07-01T10:00:00+02:00[Europe/Paris]");
        assert_eq!(
            next_str("0 9 * * *", &paris).as_deref(),
            Some("2024-07-02T09:00:00+02:00[Europe/Paris]")
        );
    }

    // --- daylight saving time (robfig v3 TestNext DST cases) ---

    #[test]
    fn dst_new_york() {
        const NY: &str = "[America/New_York]";
        let cases = [
            // Spring forward 2012-03-11: 02:00 EST jumps to 03:00 EDT.
            (
                "2012-03-11T00:00:00-05:00",
                "30 2 11 Mar ?",
                "2013-03-11T02:30:00-04:00",
            ),
            (
                "2012-03-11T00:00:00-05:00",
                "0 * * * ?",
                "2012-03-11T01:00:00-05:00",
            ),
            (
                "2012-03-11T01:00:00-05:00",
                "0 * * * ?",
                "2012-03-11T03:00:00-04:00",
            ),
            (
                "2012-03-11T03:00:00-04:00",
                "0 * * * ?",
                "2012-03-11T04:00:00-04:00",
            ),
            (
                "2012-03-11T04:00:00-04:00",
                "0 * * * ?",
                "2012-03-11T05:00:00-04:00",
            ),
            (
                "2012-03-11T00:00:00-05:00",
                "0 1 * * ?",
                "2012-03-11T01:00:00-05:00",
            ),
            (
                "2012-03-11T01:00:00-05:00",
                "0 1 * * ?",
                "2012-03-12T01:00:00-04:00",
            ),
            // The skipped 02:00 does not fire that day.
            (
                "2012-03-11T00:00:00-05:00",
                "0 2 * * ?",
                "2012-03-12T02:00:00-04:00",
            ),
            (
                "2024-03-09T03:00:00-05:00",
                "30 2 * * *",
                "2024-03-11T02:30:00-04:00",
            ),
            (
                "2024-03-10T01:59:59-05:00",
                "*/15 * * * *",
                "2024-03-10T03:00:00-04:00",
            ),
            // Fall back 2012-11-04: 02:00 EDT goes back to 01:00 EST.
            (
                "2012-11-04T00:00:00-04:00",
                "30 2 04 Nov ?",
                "2012-11-04T02:30:00-05:00",
            ),
            (
                "2012-11-04T01:45:00-04:00",
                "30 1 04 Nov ?",
                "2012-11-04T01:30:00-05:00",
            ),
            (
                "2012-11-04T00:00:00-04:00",
                "0 * * * ?",
                "2012-11-04T01:00:00-04:00",
            ),
            (
                "2012-11-04T01:00:00-04:00",
                "0 * * * ?",
                "2012-11-04T01:00:00-05:00",
            ),
            (
                "2012-11-04T01:00:00-05:00",
                "0 * * * ?",
                "2012-11-04T02:00:00-05:00",
            ),
            // 01:00 exists twice and fires twice.
            (
                "2012-11-04T00:00:00-04:00",
                "0 1 * * ?",
                "2012-11-04T01:00:00-04:00",
            ),
            (
                "2012-11-04T01:00:00-04:00",
                "0 1 * * ?",
                "2012-11-04T01:00:00-05:00",
            ),
            (
                "2012-11-04T01:00:00-05:00",
                "0 1 * * ?",
                "2012-11-05T01:00:00-05:00",
            ),
            (
                "2012-11-04T00:00:00-04:00",
                "0 2 * * ?",
                "2012-11-04T02:00:00-05:00",
            ),
            (
                "2012-11-04T02:00:00-05:00",
                "0 2 * * ?",
                "2012-11-05T02:00:00-05:00",
            ),
            (
                "2012-11-04T00:00:00-04:00",
                "0 3 * * ?",
                "2012-11-04T03:00:00-05:00",
            ),
            (
                "2012-11-04T03:00:00-05:00",
                "0 3 * * ?",
                "2012-11-05T03:00:00-05:00",
            ),
            (
                "2024-11-03T00:00:00-04:00",
                "30 1 * * *",
                "2024-11-03T01:30:00-04:00",
            ),
            (
                "2024-11-03T01:30:00-04:00",
                "30 1 * * *",
                "2024-11-03T01:30:00-05:00",
            ),
            (
                "2024-11-03T01:30:00-05:00",
                "30 1 * * *",
                "2024-11-04T01:30:00-05:00",
            ),
            // Monthly job across the transition.
            (
                "2012-11-04T00:00:00-04:00",
                "0 3 3 * ?",
                "2012-12-03T03:00:00-05:00",
            ),
        ];
        for (from, spec, expected) in cases {
            let from = z(&format!("{from}{NY}"));
            assert_eq!(
                next_str(spec, &from),
                Some(format!("{expected}{NY}")),
                "{spec} after {from}"
            );
        }
    }

    #[test]
    fn dst_midnight_missing_sao_paulo() {
        // robfig issue 157: in 2018 São Paulo skipped midnight on Nov 4 and
        // repeated 23:00 on Feb 17.
        const SP: &str = "[America/Sao_Paulo]";
        let cases = [
            (
                "2018-10-17T06:00:00-03:00",
                "0 9 10 * ?",
                "2018-11-10T09:00:00-02:00",
            ),
            (
                "2018-02-14T08:00:00-02:00",
                "0 9 22 * ?",
                "2018-02-22T09:00:00-03:00",
            ),
            // The hour search does not snap back to midnight, so a midnight
            // job skips the day whose midnight does not exist.
            (
                "2018-11-03T12:00:00-03:00",
                "0 0 * * *",
                "2018-11-05T00:00:00-02:00",
            ),
            // The day search does: 01:00 is that day's first instant.
            (
                "2018-11-03T12:00:00-03:00",
                "0 * 4 11 *",
                "2018-11-04T01:00:00-02:00",
            ),
            (
                "2018-11-03T12:00:00-03:00",
                "0 12 4 * *",
                "2018-11-04T12:00:00-02:00",
            ),
        ];
        for (from, spec, expected) in cases {
            let from = z(&format!("{from}{SP}"));
            assert_eq!(
                next_str(spec, &from),
                Some(format!("{expected}{SP}")),
                "{spec} after {from}"
            );
        }
    }

    #[test]
    fn go_date_matches_go_time_date() {
        let ny = TimeZone::get("America/New_York").unwrap();
        let berlin = TimeZone::get("Europe/Berlin").unwrap();
        let at = |tz: &TimeZone, unix: i64| {
            Timestamp::from_second(unix)
                .unwrap()
                .to_zoned(tz.clone())
                .to_string()
        };
        // Gap in New York: Go lands before the gap.
        let t = go_date(&ny, 2012, 3, 11, 2, 30, 0).unwrap();
        assert_eq!(at(&ny, t), "2012-03-11T01:30:00-05:00[America/New_York]");
        // Fold in New York: Go picks the first (EDT) occurrence.
        let t = go_date(&ny, 2012, 11, 4, 1, 30, 0).unwrap();
        assert_eq!(at(&ny, t), "2012-11-04T01:30:00-04:00[America/New_York]");
        // Gap in Berlin: Go lands after the gap.
        let t = go_date(&berlin, 2024, 3, 31, 2, 30, 0).unwrap();
        assert_eq!(at(&berlin, t), "2024-03-31T03:30:00+02:00[Europe/Berlin]");
        // Fold in Berlin: Go picks the second (CET) occurrence.
        let t = go_date(&berlin, 2024, 10, 27, 2, 30, 0).unwrap();
        assert_eq!(at(&berlin, t), "2024-10-27T02:30:00+01:00[Europe/Berlin]");
        // Normalisation of out-of-range months and days.
        let t = go_date(&TimeZone::UTC, 2023, 13, 1, 0, 0, 0).unwrap();
        assert_eq!(at(&TimeZone::UTC, t), "2024-01-01T00:00:00+00:00[UTC]");
        let t = go_date(&TimeZone::UTC, 2024, 1, 31 + 29 + 1, 0, 0, 0).unwrap();
        assert_eq!(at(&TimeZone::UTC, t), "2024-03-01T00:00:00+00:00[UTC]");
        let t = go_date(&TimeZone::UTC, 2023, 1, 31, 0, 0, 0).unwrap();
        let t = {
            let c = civil_at(&TimeZone::UTC, t).unwrap();
            go_date(&TimeZone::UTC, c.year, c.month + 1, c.day, 0, 0, 0).unwrap()
        };
        assert_eq!(at(&TimeZone::UTC, t), "2023-03-03T00:00:00+00:00[UTC]");
    }

    #[test]
    fn calendar_arithmetic_matches_jiff() {
        let mut day = jiff::civil::date(1890, 1, 1);
        let end = jiff::civil::date(2110, 12, 31);
        let mut days = days_from_civil(1890, 1, 1).unwrap();
        while day <= end {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(
                (y, m, d),
                (
                    i64::from(day.year()),
                    i64::from(day.month()),
                    i64::from(day.day())
                )
            );
            assert_eq!(days_from_civil(y, m, d), Some(days));
            let c = civil_at(&TimeZone::UTC, days * SECONDS_PER_DAY).unwrap();
            assert_eq!(
                c.weekday,
                i64::from(day.weekday().to_sunday_zero_offset()),
                "{day}"
            );
            day = day.tomorrow().unwrap();
            days += 1;
        }
    }

    // --- controller helpers (upstream utils_test.go) ---

    /// Upstream's `topOfTheHour()`: Thursday 2016-05-19 10:00 UTC.
    fn top_of_the_hour() -> Zoned {
        utc("2016-05-19T10:00:00")
    }

    fn after_top(d: SignedDuration) -> Zoned {
        top_of_the_hour().checked_add(d).unwrap()
    }

    fn hours(h: i64) -> SignedDuration {
        SignedDuration::from_hours(h)
    }

    fn mins(m: i64) -> SignedDuration {
        SignedDuration::from_mins(m)
    }

    fn secs(s: i64) -> SignedDuration {
        SignedDuration::from_secs(s)
    }

    struct MostRecentCase {
        name: &'static str,
        spec: &'static str,
        earliest: Zoned,
        deadline: Option<i64>,
        now: Zoned,
        expected_earliest: Zoned,
        expected_recent: Option<Zoned>,
        expected_missed: MissedSchedules,
        expected_count: i64,
    }

    #[test]
    fn most_recent_schedule_time_table() {
        let t = top_of_the_hour;
        let cases = vec![
            MostRecentCase {
                name: "now before next schedule",
                spec: "0 * * * *",
                earliest: t(),
                deadline: None,
                now: after_top(secs(30)),
                expected_earliest: t(),
                expected_recent: None,
                expected_missed: MissedSchedules::None,
                expected_count: 0,
            },
            MostRecentCase {
                name: "now just after next schedule",
                spec: "0 * * * *",
                earliest: t(),
                deadline: None,
                now: after_top(mins(61)),
                expected_earliest: t(),
                expected_recent: Some(after_top(mins(60))),
                expected_missed: MissedSchedules::None,
                expected_count: 1,
            },
            MostRecentCase {
                name: "missed 5 schedules",
                spec: "0 * * * *",
                earliest: after_top(secs(10)),
                deadline: None,
                now: after_top(mins(301)),
                expected_earliest: after_top(secs(10)),
                expected_recent: Some(after_top(mins(300))),
                expected_missed: MissedSchedules::Few,
                expected_count: 5,
            },
            MostRecentCase {
                name: "complex schedule",
                spec: "30 6-16/4 * * 1-5",
                earliest: after_top(mins(30)),
                deadline: None,
                now: after_top(hours(24) + mins(31)),
                expected_earliest: after_top(mins(30)),
                expected_recent: Some(after_top(hours(24) + mins(30))),
                expected_missed: MissedSchedules::Few,
                expected_count: 2,
            },
            MostRecentCase {
                // Upstream's estimate overshoots here and finds nothing.
                name: "another complex schedule",
                spec: "30 10,11,12 * * 1-5",
                earliest: after_top(mins(30)),
                deadline: None,
                now: after_top(hours(30) + mins(30)),
                expected_earliest: after_top(mins(30)),
                expected_recent: None,
                expected_missed: MissedSchedules::Few,
                expected_count: 30,
            },
            MostRecentCase {
                name: "complex schedule with longer diff between executions",
                spec: "30 6-16/4 * * 1-5",
                earliest: after_top(mins(30)),
                deadline: None,
                now: after_top(hours(96) + mins(31)),
                expected_earliest: after_top(mins(30)),
                expected_recent: Some(after_top(hours(96) + mins(30))),
                expected_missed: MissedSchedules::Few,
                expected_count: 6,
            },
            MostRecentCase {
                name: "complex schedule with shorter diff between executions",
                spec: "30 6-16/4 * * 1-5",
                earliest: t(),
                deadline: None,
                now: after_top(hours(24) + mins(31)),
                expected_earliest: t(),
                expected_recent: Some(after_top(hours(24) + mins(30))),
                expected_missed: MissedSchedules::Few,
                expected_count: 7,
            },
            MostRecentCase {
                name: "@every schedule",
                spec: "@every 1h",
                earliest: after_top(mins(1)),
                deadline: None,
                now: after_top(hours(7 * 24)),
                expected_earliest: after_top(mins(1)),
                expected_recent: Some(after_top(hours(6 * 24 + 23) + mins(1))),
                expected_missed: MissedSchedules::Many,
                expected_count: 167,
            },
            MostRecentCase {
                name: "earliestTime being CreationTimestamp and LastScheduleTime",
                spec: "0 * * * *",
                earliest: t(),
                deadline: None,
                now: after_top(secs(30)),
                expected_earliest: t(),
                expected_recent: None,
                expected_missed: MissedSchedules::None,
                expected_count: 0,
            },
            MostRecentCase {
                name: "earliestTime being LastScheduleTime",
                spec: "*/5 * * * *",
                earliest: after_top(mins(30)),
                deadline: None,
                now: after_top(mins(31)),
                expected_earliest: after_top(mins(30)),
                expected_recent: None,
                expected_missed: MissedSchedules::None,
                expected_count: 0,
            },
            MostRecentCase {
                name: "earliestTime being LastScheduleTime (within StartingDeadlineSeconds)",
                spec: "*/5 * * * *",
                earliest: after_top(mins(30)),
                deadline: Some(60),
                now: after_top(mins(30) + secs(50)),
                expected_earliest: after_top(mins(30)),
                expected_recent: None,
                expected_missed: MissedSchedules::None,
                expected_count: 0,
            },
            MostRecentCase {
                name: "earliestTime being LastScheduleTime (outside StartingDeadlineSeconds)",
                spec: "*/5 * * * *",
                earliest: after_top(mins(30)),
                deadline: Some(60),
                now: after_top(mins(32)),
                expected_earliest: after_top(mins(31)),
                expected_recent: None,
                expected_missed: MissedSchedules::None,
                expected_count: 0,
            },
            MostRecentCase {
                name: "starting deadline cuts a long window",
                spec: "0 * * * ?",
                earliest: after_top(hours(-1)),
                deadline: Some(2 * 60 * 60),
                now: after_top(hours(1 + 240) + mins(5)),
                expected_earliest: after_top(hours(239) + mins(5)),
                expected_recent: Some(after_top(hours(241))),
                expected_missed: MissedSchedules::Few,
                expected_count: 2,
            },
            MostRecentCase {
                name: "without a deadline the same window is many misses",
                spec: "0 * * * ?",
                earliest: after_top(hours(-1)),
                deadline: None,
                now: after_top(hours(1 + 240) + mins(5)),
                expected_earliest: after_top(hours(-1)),
                expected_recent: Some(after_top(hours(241))),
                expected_missed: MissedSchedules::Many,
                expected_count: 242,
            },
            MostRecentCase {
                name: "exactly 100 missed is still few",
                spec: "* * * * *",
                earliest: t(),
                deadline: None,
                now: after_top(mins(100) + secs(30)),
                expected_earliest: t(),
                expected_recent: Some(after_top(mins(100))),
                expected_missed: MissedSchedules::Few,
                expected_count: 100,
            },
            MostRecentCase {
                name: "101 missed is too many",
                spec: "* * * * *",
                earliest: t(),
                deadline: None,
                now: after_top(mins(101)),
                expected_earliest: t(),
                expected_recent: Some(after_top(mins(101))),
                expected_missed: MissedSchedules::Many,
                expected_count: 101,
            },
            MostRecentCase {
                name: "clock skew of decades",
                spec: "*/5 * * * *",
                earliest: utc("1990-01-01T00:00:00"),
                deadline: None,
                now: utc("2024-06-01T12:03:00"),
                expected_earliest: utc("1990-01-01T00:00:00"),
                expected_recent: Some(utc("2024-06-01T12:00:00")),
                expected_missed: MissedSchedules::Many,
                expected_count: 3_620_304,
            },
        ];
        for c in cases {
            let got = most_recent_schedule_time(&c.earliest, &c.now, &sched(c.spec), c.deadline)
                .unwrap_or_else(|e| panic!("{}: {e}", c.name));
            assert_eq!(got.earliest, c.expected_earliest, "{}: earliest", c.name);
            assert_eq!(
                got.most_recent, c.expected_recent,
                "{}: most recent",
                c.name
            );
            assert_eq!(got.missed, c.expected_missed, "{}: missed", c.name);
            assert_eq!(got.missed_count, c.expected_count, "{}: count", c.name);
        }
    }

    #[test]
    fn most_recent_rogue_schedule_errors() {
        let err = most_recent_schedule_time(
            &after_top(secs(10)),
            &after_top(hours(1)),
            &sched("59 23 31 2 *"),
            None,
        );
        assert_eq!(err, Err(ScheduleError::InvalidInterval));
        // Even before the (nonexistent) first activation, as upstream.
        let err = most_recent_schedule_time(
            &top_of_the_hour(),
            &top_of_the_hour(),
            &sched("0 0 30 2 *"),
            Some(10),
        );
        assert_eq!(err, Err(ScheduleError::InvalidInterval));
    }

    /// Upstream `TestNextScheduleTime`: the controller's view with the
    /// starting deadline applied.
    #[test]
    fn next_schedule_time_cases() {
        let s = sched("0 * * * ?");
        let t1 = top_of_the_hour();
        let t2 = after_top(hours(1));
        let due = |earliest: Zoned, now: Zoned, deadline: Option<i64>| {
            most_recent_schedule_time(&earliest, &now, &s, deadline)
                .unwrap()
                .most_recent
                .filter(|t| *t <= now)
        };
        let before = |d| t1.checked_sub(d).unwrap();
        // 1: created before T1, now before T1: nothing due.
        assert_eq!(due(before(mins(10)), before(mins(7)), None), None);
        // 2: created before T1, now just after T1: T1 due.
        assert_eq!(
            due(before(mins(10)), after_top(secs(2)), None),
            Some(t1.clone())
        );
        // 3: last scheduled at T1, now shortly after: nothing due.
        assert_eq!(due(t1.clone(), after_top(mins(2)), None), None);
        // 4: last scheduled at T1, now after T2: T2 due.
        let now = t2.checked_add(mins(5)).unwrap();
        assert_eq!(due(t1.clone(), now.clone(), None), Some(t2.clone()));
        // 5: last scheduled an hour before T1, now after T2: T2 due.
        assert_eq!(due(before(hours(1)), now, None), Some(t2.clone()));
        // 6 and 7: ten days late, with and without a deadline.
        let late = t2.checked_add(hours(240)).unwrap();
        assert!(due(before(hours(1)), late.clone(), None).is_some());
        assert!(due(before(hours(1)), late, Some(2 * 60 * 60)).is_some());
    }

    #[test]
    fn next_schedule_time_duration_table() {
        let cases = [
            (
                "complex schedule skipping weekend",
                "30 6-16/4 * * 1-5",
                after_top(mins(30)),
                after_top(hours(24) + mins(31)),
                hours(3) + mins(59),
            ),
            (
                "another complex schedule skipping weekend",
                "30 10,11,12 * * 1-5",
                after_top(mins(30)),
                after_top(hours(30) + mins(30)),
                hours(66),
            ),
            (
                "once a week cronjob, missed two runs",
                "0 12 * * 4",
                after_top(hours(2)),
                after_top(hours(19 * 24 + 1) + mins(30)),
                hours(48) + mins(30),
            ),
            (
                "no previous run of a cronjob",
                "0 12 * * 5",
                top_of_the_hour(),
                after_top(hours(6)),
                hours(20),
            ),
            (
                "one run due now",
                "0 * * * *",
                top_of_the_hour(),
                after_top(mins(61)),
                mins(59),
            ),
        ];
        for (name, spec, earliest, now, expected) in cases {
            let got = next_schedule_time_duration(&earliest, &now, &sched(spec));
            assert_eq!(got, Some(expected + NEXT_SCHEDULE_DELTA), "{name}");
        }
        // A schedule that never fires has no next run.
        assert_eq!(
            next_schedule_time_duration(
                &top_of_the_hour(),
                &after_top(hours(1)),
                &sched("0 0 30 2 *")
            ),
            None
        );
    }

    #[test]
    fn most_recent_in_new_york_across_fall_back() {
        // Hourly job, controller down across the repeated 01:00 hour: five
        // activations (00:00, 01:00 EDT, 01:00 EST, 02:00, 03:00).
        let earliest = z("2024-11-02T23:30:00-04:00[America/New_York]");
        let now = z("2024-11-03T03:10:00-05:00[America/New_York]");
        let got = most_recent_schedule_time(&earliest, &now, &sched("0 * * * *"), None).unwrap();
        assert_eq!(
            got.most_recent.as_ref().map(|t| t.to_string()).as_deref(),
            Some("2024-11-03T03:00:00-05:00[America/New_York]")
        );
        assert_eq!(got.missed, MissedSchedules::Few);
        assert_eq!(got.missed_count, 5);
        // `earliest` is reported in `now`'s zone.
        let from_utc = most_recent_schedule_time(
            &earliest.with_time_zone(TimeZone::UTC),
            &now,
            &sched("0 * * * *"),
            None,
        )
        .unwrap();
        assert_eq!(from_utc, got);
        assert_eq!(
            from_utc.earliest.to_string(),
            "2024-11-02T23:30:00-04:00[America/New_York]"
        );
    }
}
