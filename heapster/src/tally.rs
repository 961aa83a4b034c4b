//! [`Tally`]: raw totals in table form, and what each table means in [`Stats`].
//!
//! The instance counters read their atomics into a `Tally`; an exact scope records into one
//! directly (it is a [`Sink`] for the accounting rules). Both turn it into [`Stats`] with
//! [`Tally::stats`], the only place that says which table feeds which field.

// Reached from the allocation path (scopes): no arithmetic that can overflow.
#![deny(clippy::arithmetic_side_effects)]

use crate::bucket::{BUCKETS, bucket_index};
use crate::histogram::Histogram;
use crate::rules::{Direction, Misc, Sink, Table};
use crate::stats::Stats;

/// Counts per table and size bucket ([`Table::Moved`]: per [`Direction`]), byte sums per table,
/// and the plain counters. All sums wrap (they never get near `u64::MAX`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Tally {
    pub(crate) counts: [[u64; BUCKETS]; Table::COUNT],
    pub(crate) bytes: [u64; Table::COUNT],
    pub(crate) misc: [u64; Misc::COUNT],
}

/// `usize` is at most 64 bits on every target Rust supports.
#[inline(always)]
pub(crate) const fn size_u64(size: usize) -> u64 {
    size as u64
}

impl Tally {
    pub(crate) const fn new() -> Self {
        Self {
            counts: [[0; BUCKETS]; Table::COUNT],
            bytes: [0; Table::COUNT],
            misc: [0; Misc::COUNT],
        }
    }

    /// Adds `count` calls and `bytes` bytes to bucket `k` of table `t` (`k < 64`).
    pub(crate) fn count(&mut self, t: Table, k: usize, count: u64, bytes: u64) {
        if let Some(c) = self.counts[t.index()].get_mut(k) {
            *c = c.wrapping_add(count);
        }
        self.bytes[t.index()] = self.bytes[t.index()].wrapping_add(bytes);
    }

    fn histogram(&self, tables: &[Table]) -> Histogram {
        let mut counts = [0u64; BUCKETS];
        let mut sum = 0u64;
        for &t in tables {
            for (c, n) in counts.iter_mut().zip(self.counts[t.index()]) {
                *c = c.wrapping_add(n);
            }
            sum = sum.wrapping_add(self.bytes[t.index()]);
        }
        Histogram::from_parts(counts, sum)
    }

    /// Successful reallocations that moved their block, in direction `d`.
    fn moves(&self, d: Direction) -> u64 {
        self.counts[Table::Moved.index()][d.index()]
    }

    /// The tables as [`Stats`] (without the peak, which is not a table).
    pub(crate) fn stats(&self) -> Stats {
        let sizes = self.histogram(&[Table::Alloc, Table::Zeroed]);
        let zeroed = self.histogram(&[Table::Zeroed]);
        let freed = self.histogram(&[Table::Dealloc]);
        let grow = self.histogram(&[Table::Grow]);
        let shrink = self.histogram(&[Table::Shrink]);
        let mut s = Stats::new();
        s.allocations = sizes.count();
        s.allocated_bytes = sizes.sum();
        s.zeroed_allocations = zeroed.count();
        s.zeroed_bytes = zeroed.sum();
        s.deallocations = freed.count();
        s.deallocated_bytes = freed.sum();
        // Growth and shrinkage count every realloc that changed the size; those that moved are
        // counted apart.
        s.realloc_grew_in_place = grow.count().saturating_sub(self.moves(Direction::Grow));
        s.realloc_shrank_in_place = shrink.count().saturating_sub(self.moves(Direction::Shrink));
        s.realloc_moved = self
            .moves(Direction::Grow)
            .wrapping_add(self.moves(Direction::Shrink))
            .wrapping_add(self.moves(Direction::Same));
        s.realloc_unchanged = self.misc[Misc::Unchanged.index()];
        s.realloc_grown_bytes = grow.sum();
        s.realloc_shrunk_bytes = shrink.sum();
        s.realloc_moved_bytes = self.bytes[Table::Moved.index()];
        s.alloc_failures = self.misc[Misc::AllocFailures.index()];
        s.realloc_failures = self.misc[Misc::ReallocFailures.index()];
        s.allocation_sizes = sizes;
        s.realloc_grow_sizes = grow;
        s.realloc_shrink_sizes = shrink;
        s
    }
}

impl Sink for Tally {
    /// Zero-size calls, which the `GlobalAlloc` contract rules out, are not counted, as in the
    /// instance counters.
    fn add(&mut self, table: Table, size: usize) {
        if size != 0 {
            self.count(table, bucket_index(size), 1, size_u64(size));
        }
    }

    fn moved(&mut self, direction: Direction, copied: usize) {
        self.count(Table::Moved, direction.index(), 1, size_u64(copied));
    }

    fn bump(&mut self, misc: Misc) {
        self.misc[misc.index()] = self.misc[misc.index()].wrapping_add(1);
    }
}
