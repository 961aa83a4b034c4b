//! Live bytes between snapshots, and the peak marks.
//!
//! Live bytes are not kept in a shared counter (that would be a contended cache line on every
//! call). Each shard keeps a hint of its net change, fed only by the out-of-line path: a call
//! that makes a packed word's byte sum pass a multiple of `STEP` (8 KiB) adds the multiples it
//! passed, with the sign of its table. When the hint passes ±[`PUBLISH_BYTES`] the thread
//! recomputes the shard's net bytes from its words and, with a compare-and-swap against the value
//! it read first, replaces the shard's published value and adds the change to an instance-wide
//! estimate, raising the marks. Published values only ever move to a newer reading. Snapshots
//! re-publish every shard the same way, and fold the exact live bytes they computed into the
//! marks.
//!
//! The estimate differs from the true live bytes by what the shards have not published: per
//! shard in use, less than `PUBLISH_BYTES` in the hint plus less than `STEP` per word that the
//! hint has not seen yet (one word per table and size class in use): with 16 size classes in use
//! on a shard, 128 KiB + 128 KiB. Hint updates can be lost when several threads
//! share a shard at the same instant, which can delay a publication until the next snapshot.

// On the allocation path: no arithmetic that can overflow (and so panic in debug builds).
#![deny(clippy::arithmetic_side_effects)]

use core::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed};
use core::sync::atomic::{AtomicI64, AtomicU64};

use super::gate::Gate;
use super::shard::Shard;
use crate::index::indexed;

/// A shard publishes its net change once the hint passes this many bytes either way.
pub(crate) const PUBLISH_BYTES: u64 = 128 * 1024;
/// Attempts of a publication (on the allocation path, which must not wait) to read the shard
/// without a drain overlapping.
const PUBLISH_ATTEMPTS: usize = 1;

/// The hint of a shard whose net bytes have not changed since it last published. A hint is
/// kept this much above the change it stands for, so that [`due`] is one unsigned compare.
pub(crate) const UNCHANGED: i64 = PUBLISH_BYTES.cast_signed() - 1;

/// Whether a shard whose hint would be `hint` publishes: whether the change it stands for is
/// `PUBLISH_BYTES` or more either way.
#[inline(always)]
pub(crate) const fn due(hint: i64) -> bool {
    hint.cast_unsigned() >= 2 * PUBLISH_BYTES - 1
}

indexed! {
    /// The high-water marks of live bytes.
    pub(crate) enum Mark {
        /// Since the instance was created; never reset.
        Lifetime,
        /// Since the last `take_interval_peak`.
        Interval,
        /// Since the last `reset_peak`.
        User,
    }
}

#[repr(C, align(128))]
pub(crate) struct Peak {
    /// Sum of every shard's `published`.
    estimate: AtomicI64,
    marks: [AtomicU64; Mark::COUNT],
}

impl Peak {
    pub(crate) const fn new() -> Self {
        Self {
            estimate: AtomicI64::new(0),
            marks: [const { AtomicU64::new(0) }; Mark::COUNT],
        }
    }

    /// Raises every mark to `live`.
    pub(crate) fn raise(&self, live: u64) {
        for m in &self.marks {
            if live > m.load(Relaxed) {
                m.fetch_max(live, Relaxed);
            }
        }
    }

    /// The live-bytes estimate: the sum of the published values.
    pub(crate) fn estimate(&self) -> u64 {
        u64::try_from(self.estimate.load(Relaxed)).unwrap_or(0)
    }

    pub(crate) fn mark(&self, m: Mark) -> u64 {
        self.marks[m.index()].load(Relaxed)
    }

    /// Restarts mark `m` at the current estimate; returns its previous value.
    pub(crate) fn restart(&self, m: Mark) -> u64 {
        self.marks[m.index()].swap(self.estimate(), Relaxed)
    }

    /// Adds `change` to `shard`'s hint, publishing when the hint has grown large.
    #[inline]
    pub(crate) fn note(&self, gate: &Gate, shard: &Shard, change: i64) {
        let pending = shard.unpublished.load(Relaxed).wrapping_add(change);
        if due(pending) {
            self.publish(gate, shard);
        } else {
            shard.unpublished.store(pending, Relaxed);
        }
    }

    /// Recomputes `shard`'s net bytes and folds the change into the estimate and the marks.
    #[cold]
    #[inline(never)]
    pub(crate) fn publish(&self, gate: &Gate, shard: &Shard) {
        shard.unpublished.store(UNCHANGED, Relaxed);
        let ((before, net), consistent) = gate.read(PUBLISH_ATTEMPTS, || {
            (shard.published.load(Acquire), shard.net_bytes())
        });
        if consistent {
            self.republish(shard, before, net);
        }
    }

    /// Replaces `shard`'s published value, if it is still `before`, by `net` (read after
    /// `before`), and moves the estimate and the marks accordingly.
    pub(crate) fn republish(&self, shard: &Shard, before: i64, net: i64) {
        if net == before
            || shard
                .published
                .compare_exchange(before, net, AcqRel, Relaxed)
                .is_err()
        {
            return; // unchanged, or someone published a newer reading meanwhile
        }
        let change = net.wrapping_sub(before);
        let estimate = self.estimate.fetch_add(change, AcqRel).wrapping_add(change);
        if let Ok(live) = u64::try_from(estimate) {
            self.raise(live);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_is_the_absolute_value_test() {
        let p = PUBLISH_BYTES.cast_signed();
        for pending in [
            0,
            1,
            -1,
            p - 1,
            p,
            p + 1,
            -p + 1,
            -p,
            -p - 1,
            i64::MAX,
            i64::MIN,
        ] {
            assert_eq!(
                due(pending.wrapping_add(UNCHANGED)),
                pending.unsigned_abs() >= PUBLISH_BYTES,
                "{pending}"
            );
        }
    }
}
