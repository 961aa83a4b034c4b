//! [`Gate`]: drains in progress, seqlock style.
//!
//! A drain moves an amount from a packed word to the wide totals, so a reader could see it in
//! neither place. Every drain therefore runs between [`Gate::enter`] and [`Gate::leave`], and a
//! reader retries when a drain overlapped its read. Drains are rare (a word drains after
//! hundreds of millions of bytes or billions of calls), so a retry almost never happens.

// On the allocation path: no arithmetic that can overflow (and so panic in debug builds).
#![deny(clippy::arithmetic_side_effects)]

use core::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use core::sync::atomic::{AtomicU64, fence};

/// A read that saw `started == finished` before it and the same `started` after it overlapped no
/// drain.
#[repr(C, align(128))]
pub(crate) struct Gate {
    started: AtomicU64,
    finished: AtomicU64,
}

impl Gate {
    pub(crate) const fn new() -> Self {
        Self {
            started: AtomicU64::new(0),
            finished: AtomicU64::new(0),
        }
    }

    /// Announces a drain; what it moves afterwards is ordered after the announcement.
    pub(crate) fn enter(&self) {
        self.started.fetch_add(1, Relaxed);
        fence(Release);
    }

    /// Ends a drain.
    pub(crate) fn leave(&self) {
        self.finished.fetch_add(1, Release);
    }

    /// Runs `read` until no drain overlapped it, at most `attempts` times; returns the last result
    /// and whether it was consistent.
    pub(crate) fn read<T>(&self, attempts: usize, mut read: impl FnMut() -> T) -> (T, bool) {
        let mut attempt = 1;
        loop {
            let started = self.started.load(Acquire);
            let idle = self.finished.load(Acquire) == started;
            let value = read();
            fence(Acquire);
            let consistent = idle && self.started.load(Relaxed) == started;
            if consistent || attempt >= attempts {
                return (value, consistent);
            }
            attempt = attempt.saturating_add(1);
            core::hint::spin_loop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_overlapping_a_drain_is_inconsistent() {
        let gate = Gate::new();
        assert_eq!(gate.read(3, || 7), (7, true));
        gate.enter();
        let mut reads = 0;
        let (_, consistent) = gate.read(3, || reads += 1);
        assert!(!consistent);
        assert_eq!(reads, 3);
        gate.leave();
        // A drain that starts during the read also makes it inconsistent.
        let (_, consistent) = gate.read(1, || gate.enter());
        assert!(!consistent);
        gate.leave();
        assert!(gate.read(1, || ()).1);
    }
}
