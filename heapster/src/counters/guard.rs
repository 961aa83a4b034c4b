//! [`Guard`]: every raw total reported is at least what any earlier snapshot reported.
//!
//! Reads never overstate a counter, so holding each value at its highest report keeps
//! exactness once threads are quiet, and gives exporters a monotonic series even in the rare read
//! that a drain overlapped, or when a moved `realloc` is seen half-recorded.

use core::sync::atomic::AtomicU64;
use core::sync::atomic::Ordering::Relaxed;

use crate::bucket::BUCKETS;
use crate::rules::{Misc, Table};
use crate::stats::Stats;
use crate::tally::Tally;

/// The highest value each raw total has been reported with.
pub(crate) struct Guard {
    counts: [[AtomicU64; BUCKETS]; Table::COUNT],
    bytes: [AtomicU64; Table::COUNT],
    misc: [AtomicU64; Misc::COUNT],
    /// `realloc_grew_in_place` and `realloc_shrank_in_place`, which are differences.
    in_place: [AtomicU64; 2],
}

/// Raises `value` to the highest value `cell` has held, and `cell` to `value`.
fn hold(cell: &AtomicU64, value: &mut u64) {
    *value = (*value).max(cell.fetch_max(*value, Relaxed));
}

impl Guard {
    pub(crate) const fn new() -> Self {
        Self {
            counts: [const { [const { AtomicU64::new(0) }; BUCKETS] }; Table::COUNT],
            bytes: [const { AtomicU64::new(0) }; Table::COUNT],
            misc: [const { AtomicU64::new(0) }; Misc::COUNT],
            in_place: [const { AtomicU64::new(0) }; 2],
        }
    }

    /// Raises every raw total of `tally` to the highest value it was reported with.
    pub(crate) fn hold_tally(&self, tally: &mut Tally) {
        for (values, cells) in tally.counts.iter_mut().zip(&self.counts) {
            for (value, cell) in values.iter_mut().zip(cells) {
                hold(cell, value);
            }
        }
        for (value, cell) in tally.bytes.iter_mut().zip(&self.bytes) {
            hold(cell, value);
        }
        for (value, cell) in tally.misc.iter_mut().zip(&self.misc) {
            hold(cell, value);
        }
    }

    /// Raises the derived in-place realloc counts to their highest report.
    pub(crate) fn hold_stats(&self, stats: &mut Stats) {
        hold(&self.in_place[0], &mut stats.realloc_grew_in_place);
        hold(&self.in_place[1], &mut stats.realloc_shrank_in_place);
    }
}
