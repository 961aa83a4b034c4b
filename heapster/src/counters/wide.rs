//! [`Wide`]: instance-wide 64-bit totals, where drained words land and where sizes above the
//! packed range are counted directly.

// On the allocation path: no arithmetic that can overflow (and so panic in debug builds).
#![deny(clippy::arithmetic_side_effects)]

use core::sync::atomic::AtomicU64;
use core::sync::atomic::Ordering::{Acquire, Release};

use super::gate::Gate;
use super::shard::Shard;
use super::word;
use crate::bucket::BUCKETS;
use crate::rules::Table;
use crate::tally::Tally;

/// Count totals per table and bucket, byte totals per table.
pub(crate) struct Wide {
    counts: [[AtomicU64; BUCKETS]; Table::COUNT],
    bytes: [AtomicU64; Table::COUNT],
}

impl Wide {
    pub(crate) const fn new() -> Self {
        Self {
            counts: [const { [const { AtomicU64::new(0) }; BUCKETS] }; Table::COUNT],
            bytes: [const { AtomicU64::new(0) }; Table::COUNT],
        }
    }

    /// Counts `count` calls and `bytes` bytes in bucket `k` of table `t`, and in `shard`'s net
    /// bytes.
    fn add(&self, shard: &Shard, t: Table, k: usize, count: u64, bytes: u64) {
        if let Some(c) = self.counts[t.index()].get(k) {
            c.fetch_add(count, Release);
        }
        self.bytes[t.index()].fetch_add(bytes, Release);
        if let Some(overflow) = shard.overflow(t) {
            overflow.fetch_add(bytes, Release);
        }
    }

    /// Counts one call of `size` bytes, in bucket `k` of table `t`, straight into the totals.
    #[cold]
    #[inline(never)]
    pub(crate) fn add_one(&self, shard: &Shard, t: Table, k: usize, size: u64) {
        self.add(shard, t, k, 1, size);
    }

    /// Moves the contents of word `k` of table `t` of `shard` into the totals. The word is
    /// swapped with zero, so whatever it held moves exactly once, whoever else drains it.
    #[cold]
    #[inline(never)]
    pub(crate) fn drain(&self, gate: &Gate, shard: &Shard, t: Table, k: usize) {
        let Some(w) = shard.words[t.index()].get(k) else {
            return; // unreachable: callers pass a packed bucket
        };
        gate.enter();
        // Leave the word first, then arrive: a reader that overlaps may miss the amount (and
        // retries), never count it twice.
        let taken = w.swap(0, Release);
        self.add(shard, t, k, word::count(taken), word::bytes(taken));
        gate.leave();
    }

    /// Adds table `t`'s totals to `tally`.
    pub(crate) fn read(&self, t: Table, tally: &mut Tally) {
        for (k, c) in self.counts[t.index()].iter().enumerate() {
            tally.count(t, k, c.load(Acquire), 0);
        }
        tally.count(t, 0, 0, self.bytes[t.index()].load(Acquire));
    }
}
