//! The accounting rules: what one allocator call adds to which table (DESIGN §3).
//!
//! A [`Call`] is what the inner allocator did; [`Call::record`] turns it into updates of a
//! [`Sink`]: "one call of this size in this table", "one move of this many bytes in this
//! direction", "one more of this plain counter". The rules are written here once. The instance
//! counters (`counters`) and the exact per-thread scopes (`scope`, through
//! [`Tally`](crate::tally::Tally)) are two sinks; what a table means in [`Stats`](crate::Stats)
//! is written once too, in [`Tally::stats`](crate::tally::Tally::stats).

use crate::index::indexed;

indexed! {
    /// A table of size-bucketed counts and byte sums.
    pub(crate) enum Table {
        /// Successful `alloc` calls, by requested size.
        Alloc,
        /// Successful `alloc_zeroed` calls, by requested size.
        Zeroed,
        /// Successful `realloc` calls that grew a block, by `new - old`.
        Grow,
        /// `dealloc` calls, by size.
        Dealloc,
        /// Successful `realloc` calls that shrank a block, by `old - new`.
        Shrink,
        /// Successful `realloc` calls that moved a block: counted by [`Direction`] instead of
        /// size, with the bytes copied, `min(old, new)`. Not part of live bytes.
        Moved,
    }
}

impl Table {
    /// Tables that add to live bytes.
    pub(crate) const ADDING: [Self; 3] = [Self::Alloc, Self::Zeroed, Self::Grow];
    /// Tables that subtract from live bytes.
    pub(crate) const SUBTRACTING: [Self; 2] = [Self::Dealloc, Self::Shrink];

    /// How a call in this table moves live bytes: `1` adds its size, `-1` subtracts it, `0`
    /// leaves them alone.
    #[inline(always)]
    pub(crate) const fn live_sign(self) -> i64 {
        match self {
            Self::Alloc | Self::Zeroed | Self::Grow => 1,
            Self::Dealloc | Self::Shrink => -1,
            Self::Moved => 0,
        }
    }
}

indexed! {
    /// The direction of a reallocation's size change: the "bucket" of [`Table::Moved`].
    pub(crate) enum Direction {
        Grow,
        Shrink,
        Same,
    }
}

indexed! {
    /// Plain counters, not bucketed by size.
    pub(crate) enum Misc {
        /// Successful `realloc` calls that kept the pointer and the size.
        Unchanged,
        /// `alloc` and `alloc_zeroed` calls that returned null.
        AllocFailures,
        /// `realloc` calls that returned null.
        ReallocFailures,
    }
}

/// One allocator call, as the inner allocator completed it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Call {
    /// `alloc` (or `alloc_zeroed`, `zeroed`) returned a block of `size` bytes.
    Alloc { size: usize, zeroed: bool },
    /// `dealloc` of a block of `size` bytes.
    Dealloc { size: usize },
    /// `realloc` from `old` to `new` bytes returned a block, at a new address if `moved`.
    Realloc { old: usize, new: usize, moved: bool },
    /// `alloc` or `alloc_zeroed` returned null.
    AllocFailed,
    /// `realloc` returned null; the old block is still live.
    ReallocFailed,
}

/// Where a call's updates go.
pub(crate) trait Sink {
    /// One call of `size` bytes in `table` (never [`Table::Moved`]), in the bucket of `size`.
    fn add(&mut self, table: Table, size: usize);
    /// One reallocation that moved its block in direction `direction`, copying `copied` bytes.
    fn moved(&mut self, direction: Direction, copied: usize);
    /// One more of counter `misc`.
    fn bump(&mut self, misc: Misc);
}

impl Call {
    /// Applies the rules of DESIGN §3 to `sink`:
    ///
    /// - `alloc` adds its size to [`Table::Alloc`], `alloc_zeroed` to [`Table::Zeroed`];
    /// - `dealloc` adds its size to [`Table::Dealloc`];
    /// - a `realloc` that moved the block adds one move of `min(old, new)` bytes in its
    ///   direction, **first** (a reader that sees the size change then also sees the move);
    ///   one that grew adds `new - old` to [`Table::Grow`], one that shrank `old - new` to
    ///   [`Table::Shrink`]; one that kept pointer and size counts [`Misc::Unchanged`];
    /// - a failure counts its failure counter and nothing else.
    #[inline(always)]
    pub(crate) fn record(self, sink: &mut impl Sink) {
        match self {
            Self::Alloc { size, zeroed } => {
                sink.add(if zeroed { Table::Zeroed } else { Table::Alloc }, size);
            }
            Self::Dealloc { size } => sink.add(Table::Dealloc, size),
            Self::Realloc { old, new, moved } => {
                if moved {
                    let direction = match new.cmp(&old) {
                        core::cmp::Ordering::Greater => Direction::Grow,
                        core::cmp::Ordering::Less => Direction::Shrink,
                        core::cmp::Ordering::Equal => Direction::Same,
                    };
                    sink.moved(direction, old.min(new));
                }
                if new > old {
                    sink.add(Table::Grow, new.wrapping_sub(old));
                } else if new < old {
                    sink.add(Table::Shrink, old.wrapping_sub(new));
                } else if !moved {
                    sink.bump(Misc::Unchanged);
                }
            }
            Self::AllocFailed => sink.bump(Misc::AllocFailures),
            Self::ReallocFailed => sink.bump(Misc::ReallocFailures),
        }
    }
}

#[cfg(test)]
mod tests {
    //! Each rule, checked against `Stats` written out by hand from DESIGN §3 (not from the
    //! rules): changing, adding or deleting any single update fails one of these.

    use super::*;
    use crate::stats::Stats;
    use crate::tally::Tally;

    /// A call, the counters it sets (by `Stats` field name) and the sizes it records (by
    /// histogram name); everything else stays zero.
    type Case = (
        Call,
        &'static [(&'static str, u64)],
        &'static [(&'static str, u64)],
    );

    const fn realloc(old: usize, new: usize, moved: bool) -> Call {
        Call::Realloc { old, new, moved }
    }

    const CASES: &[Case] = &[
        (
            Call::Alloc {
                size: 100,
                zeroed: false,
            },
            &[("allocations", 1), ("allocated_bytes", 100)],
            &[("allocation_sizes", 100)],
        ),
        (
            Call::Alloc {
                size: 300,
                zeroed: true,
            },
            &[
                ("allocations", 1),
                ("allocated_bytes", 300),
                ("zeroed_allocations", 1),
                ("zeroed_bytes", 300),
            ],
            &[("allocation_sizes", 300)],
        ),
        (
            Call::Dealloc { size: 70 },
            &[("deallocations", 1), ("deallocated_bytes", 70)],
            &[],
        ),
        (
            realloc(100, 300, false),
            &[("realloc_grew_in_place", 1), ("realloc_grown_bytes", 200)],
            &[("realloc_grow_sizes", 200)],
        ),
        (
            realloc(300, 250, false),
            &[("realloc_shrank_in_place", 1), ("realloc_shrunk_bytes", 50)],
            &[("realloc_shrink_sizes", 50)],
        ),
        (realloc(64, 64, false), &[("realloc_unchanged", 1)], &[]),
        (
            realloc(250, 1000, true),
            &[
                ("realloc_moved", 1),
                ("realloc_moved_bytes", 250),
                ("realloc_grown_bytes", 750),
            ],
            &[("realloc_grow_sizes", 750)],
        ),
        (
            realloc(1000, 10, true),
            &[
                ("realloc_moved", 1),
                ("realloc_moved_bytes", 10),
                ("realloc_shrunk_bytes", 990),
            ],
            &[("realloc_shrink_sizes", 990)],
        ),
        (
            realloc(10, 10, true),
            &[("realloc_moved", 1), ("realloc_moved_bytes", 10)],
            &[],
        ),
        (Call::AllocFailed, &[("alloc_failures", 1)], &[]),
        (Call::ReallocFailed, &[("realloc_failures", 1)], &[]),
    ];

    #[test]
    fn each_call_adds_what_design_says() {
        for &(call, counters, sizes) in CASES {
            let mut tally = Tally::new();
            call.record(&mut tally);
            let mut expected = Stats::new();
            for &(name, value) in counters {
                *expected.get_mut(name).unwrap() = value;
            }
            for &(name, size) in sizes {
                expected.histogram_mut(name).unwrap().record(size);
            }
            assert_eq!(tally.stats(), expected, "{call:?}");
        }
    }

    #[test]
    fn live_signs() {
        let signs: [i64; Table::COUNT] = [1, 1, 1, -1, -1, 0];
        for (t, sign) in Table::ALL.into_iter().zip(signs) {
            assert_eq!(t.live_sign(), sign, "{t:?}");
            assert_eq!(Table::ALL[t.index()], t);
        }
        for t in Table::ADDING {
            assert_eq!(t.live_sign(), 1);
        }
        for t in Table::SUBTRACTING {
            assert_eq!(t.live_sign(), -1);
        }
    }
}
