//! The controllers' clock.
//!
//! Every controller reads time through [`now`] (wall clock, for timestamps
//! and comparisons with times other components wrote) and
//! `tokio::time::Instant` (monotonic, for deadlines and back-off). In
//! production `now` is the system clock. In this crate's unit tests it is
//! derived from tokio's clock, so a test started with
//! `#[tokio::test(start_paused = true)]` moves both clocks together with
//! `tokio::time::advance` (upstream's controllers take a `clock.Clock`
//! for the same reason).

/// The current wall-clock time.
#[cfg(not(test))]
pub fn now() -> jiff::Timestamp {
    jiff::Timestamp::now()
}

/// The current wall-clock time: a fixed epoch plus tokio's (pausable)
/// clock's progress since the test's first reading.
#[cfg(test)]
pub fn now() -> jiff::Timestamp {
    use std::cell::Cell;
    thread_local! {
        static BASE: Cell<Option<tokio::time::Instant>> = const { Cell::new(None) };
    }
    let base = BASE.with(|b| {
        if b.get().is_none() {
            b.set(Some(tokio::time::Instant::now()));
        }
        b.get().unwrap_or_else(tokio::time::Instant::now)
    });
    let elapsed = tokio::time::Instant::now().saturating_duration_since(base);
    let epoch = jiff::Timestamp::from_second(1_800_000_000).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let span = jiff::SignedDuration::try_from(elapsed).unwrap_or(jiff::SignedDuration::ZERO);
    epoch.checked_add(span).unwrap_or(epoch)
}
