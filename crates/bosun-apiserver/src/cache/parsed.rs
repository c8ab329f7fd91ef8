//! Decoded objects lent out by reference for [`super::State::range`].
//!
//! The cache keeps only encodings, yet `State::range` hands out
//! `&Arc<Value>` for callers that walk decoded objects under the read lock.
//! Those decode into this append-only arena, which lives in the `State` and
//! is emptied by the next change the cache applies (the only time the state
//! is borrowed mutably, so no lent reference can outlive it). Slots are
//! `OnceLock`s in chunks of doubling size: shared appends need no lock and no
//! slot ever moves.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, OnceLock};

use serde_json::Value;

/// Slots in the first chunk; chunk `i` has `FIRST << i`.
const FIRST: usize = 64;
/// Enough chunks for any realistic number of objects (64 · 2³² slots).
const CHUNKS: usize = 32;

type Chunk = Box<[OnceLock<Arc<Value>>]>;

pub(super) struct Parsed {
    len: AtomicUsize,
    chunks: [OnceLock<Chunk>; CHUNKS],
}

impl Default for Parsed {
    fn default() -> Self {
        Parsed {
            len: AtomicUsize::new(0),
            chunks: std::array::from_fn(|_| OnceLock::new()),
        }
    }
}

/// Chunk index and offset within it of slot `idx`.
fn locate(idx: usize) -> (usize, usize) {
    let n = idx / FIRST + 1;
    let chunk = (usize::BITS - 1 - n.leading_zeros()) as usize;
    (chunk, idx - FIRST * ((1 << chunk) - 1))
}

static NULL: LazyLock<Arc<Value>> = LazyLock::new(|| Arc::new(Value::Null));

impl Parsed {
    /// Stores `value`, lending it for as long as the arena is borrowed.
    pub fn push(&self, value: Arc<Value>) -> &Arc<Value> {
        let idx = self.len.fetch_add(1, Ordering::Relaxed);
        let (chunk, offset) = locate(idx);
        let Some(cell) = self.chunks.get(chunk) else {
            return &NULL;
        };
        let slots = cell.get_or_init(|| (0..FIRST << chunk).map(|_| OnceLock::new()).collect());
        match slots.get(offset) {
            // Each index is handed out once, so the slot is empty.
            Some(slot) => slot.get_or_init(|| value),
            None => &NULL,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len.load(Ordering::Relaxed) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn chunks_tile_the_index_space() {
        let cases = [
            (0, (0, 0)),
            (63, (0, 63)),
            (64, (1, 0)),
            (191, (1, 127)),
            (192, (2, 0)),
            (447, (2, 255)),
            (448, (3, 0)),
        ];
        for (idx, want) in cases {
            assert_eq!(locate(idx), want, "{idx}");
        }
        for idx in 0..100_000 {
            let (c, o) = locate(idx);
            assert!(o < FIRST << c, "{idx}");
        }
    }

    #[test]
    fn lent_values_stay_put() {
        let arena = Parsed::default();
        assert!(arena.is_empty());
        let lent: Vec<&Arc<Value>> = (0..1000).map(|i| arena.push(Arc::new(json!(i)))).collect();
        assert!(!arena.is_empty());
        for (i, v) in lent.iter().enumerate() {
            assert_eq!(***v, json!(i));
        }
    }
}
