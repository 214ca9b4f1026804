//! Reads counted in memory (`touch`) and written in batches, by the SQL backends: a signed read
//! is otherwise a read *and* a write (on PostgreSQL, a row lock that every edge reading one
//! popular artifact would queue on). The held reads are written by the first `touch`
//! [`TOUCH_FLUSH`] or more after the oldest one held, by the one that makes [`TOUCH_BATCH`]
//! artifacts held, before the process's own deletes and access queries, and when the backend is
//! dropped. The trade-off: while reads go on, counts and times (and PostgreSQL's read events)
//! appear up to a second late, and a process killed (not dropped) loses the reads it held.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Longest a counted read waits in memory before it is written.
pub const TOUCH_FLUSH: Duration = Duration::from_secs(1);
/// Most artifacts whose reads wait in memory before they are written.
pub const TOUCH_BATCH: usize = 1024;

/// Reads taken for writing: id → (latest time, count).
pub(crate) type Batch = HashMap<String, (i64, i64)>;

/// The reads a backend holds, and since when the oldest.
#[derive(Default)]
pub(crate) struct ReadCounts(Mutex<Held>);

#[derive(Default)]
struct Held {
    pending: Batch,
    since: Option<Instant>,
}

impl ReadCounts {
    fn held(&self) -> MutexGuard<'_, Held> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts a read of `id` at `at`; whether the held reads are now due to be written.
    pub fn count(&self, id: &str, at: i64) -> bool {
        let mut h = self.held();
        let e = h.pending.entry(id.to_string()).or_insert((at, 0));
        e.0 = e.0.max(at);
        e.1 += 1;
        let since = *h.since.get_or_insert_with(Instant::now);
        h.pending.len() >= TOUCH_BATCH || since.elapsed() >= TOUCH_FLUSH
    }

    /// The held reads, to be written; none are held after.
    pub fn take(&self) -> Batch {
        let mut h = self.held();
        h.since = None;
        std::mem::take(&mut h.pending)
    }

    /// Reads taken for a write that did not happen, merged back with any counted since; due
    /// again [`TOUCH_FLUSH`] from now.
    pub fn hold_again(&self, batch: Batch) {
        let mut h = self.held();
        for (id, (at, n)) in batch {
            let e = h.pending.entry(id).or_insert((at, 0));
            e.0 = e.0.max(at);
            e.1 += n;
        }
        h.since.get_or_insert_with(Instant::now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_due_by_count_of_artifacts_and_merge_back_without_loss() {
        let r = ReadCounts::default();
        for i in 0..TOUCH_BATCH - 1 {
            assert!(!r.count(&format!("a{i}"), 5), "due after {i} artifacts");
        }
        assert!(!r.count("a0", 9), "a second read of a held artifact is not a new one");
        assert!(r.count("last", 1));
        let batch = r.take();
        assert_eq!(batch.len(), TOUCH_BATCH);
        assert_eq!(batch["a0"], (9, 2));
        assert!(r.take().is_empty());
        assert!(!r.count("a0", 3));
        r.hold_again(batch);
        let again = r.take();
        assert_eq!((again.len(), again["a0"], again["last"]), (TOUCH_BATCH, (9, 3), (1, 1)));
    }
}
