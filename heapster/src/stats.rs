//! [`Stats`]: a snapshot of every counter of a [`Heapster`](crate::Heapster).

use core::ops::{Add, AddAssign, Sub, SubAssign};

use crate::histogram::{Histogram, ratio};

/// Declares the fields of [`Stats`] once; the struct, the field tables and the arithmetic are
/// generated from this list, and the serializer iterates the tables. The terminal report (`fmt`)
/// is written by hand for readability; a test fails if it leaves a field out.
macro_rules! stats {
    (
        counters { $( $(#[$cdoc:meta])* $counter:ident, )* }
        gauges { $( $(#[$gdoc:meta])* $gauge:ident, )* }
        histograms { $( $(#[$hdoc:meta])* $histogram:ident, )* }
    ) => {
        /// A snapshot of a [`Heapster`](crate::Heapster)'s counters, from
        /// [`Heapster::stats`](crate::Heapster::stats).
        ///
        /// Every counter starts at zero when the `Heapster` is created and only goes up. A
        /// snapshot is a plain `Copy` value: `later - earlier` is what happened in between (each
        /// field saturating at zero, never panicking), `a + b` merges the numbers of two
        /// allocators. Derived values (live bytes, means, totals) are methods, computed from the
        /// raw counters.
        ///
        /// "Bytes" are the sizes that callers asked for (`Layout::size()`), not what the inner
        /// allocator rounded them up to.
        ///
        /// While other threads allocate, a snapshot may include some of their in-flight calls
        /// and not others; once they are quiet, every counter is exact and the derived values
        /// agree with them.
        ///
        /// ```
        /// use heapster::Stats;
        ///
        /// let mut before = Stats::default();
        /// before.allocations = 3;
        /// before.allocated_bytes = 300;
        /// let mut after = before;
        /// after.allocations = 5;
        /// after.allocated_bytes = 1300;
        /// after.deallocations = 1;
        /// after.deallocated_bytes = 100;
        /// let diff = after - before;
        /// assert_eq!(diff.allocations, 2);
        /// assert_eq!(diff.allocated_bytes, 1000);
        /// assert_eq!(after.live_bytes(), 1200);
        /// assert_eq!(after.live_allocations(), 4);
        /// assert_eq!((before - after).allocations, 0); // saturates, never panics
        /// ```
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
        #[non_exhaustive]
        pub struct Stats {
            $( $(#[$cdoc])* pub $counter: u64, )*
            $( $(#[$gdoc])* pub $gauge: u64, )*
            $( $(#[$hdoc])* pub $histogram: Histogram, )*
        }

        impl Default for Stats {
            fn default() -> Self {
                Self::new()
            }
        }

        impl Stats {
            /// A snapshot with every counter at zero.
            #[must_use]
            pub const fn new() -> Self {
                Self {
                    $( $counter: 0, )*
                    $( $gauge: 0, )*
                    $( $histogram: Histogram::new(), )*
                }
            }

            /// Names of the counter fields, in declaration order: the same order as
            /// [`counters`](Self::counters).
            pub const COUNTERS: &'static [&'static str] = &[$( stringify!($counter), )*];
            /// Names of the gauge fields (values that are not sums and are not subtracted).
            pub const GAUGES: &'static [&'static str] = &[$( stringify!($gauge), )*];
            /// Names of the histogram fields, in declaration order.
            pub const HISTOGRAMS: &'static [&'static str] = &[$( stringify!($histogram), )*];

            /// Every counter as `(field name, value)`, in declaration order.
            pub fn counters(&self) -> impl ExactSizeIterator<Item = (&'static str, u64)> {
                [$( (stringify!($counter), self.$counter), )*].into_iter()
            }

            /// Every gauge as `(field name, value)`.
            pub fn gauges(&self) -> impl ExactSizeIterator<Item = (&'static str, u64)> {
                [$( (stringify!($gauge), self.$gauge), )*].into_iter()
            }

            /// Every histogram as `(field name, histogram)`, in declaration order.
            pub fn histograms(&self) -> impl ExactSizeIterator<Item = (&'static str, &Histogram)> {
                [$( (stringify!($histogram), &self.$histogram), )*].into_iter()
            }

            /// The value of the counter or gauge named `name`, or `None` for an unknown name.
            #[must_use]
            pub fn get(&self, name: &str) -> Option<u64> {
                match name {
                    $( stringify!($counter) => Some(self.$counter), )*
                    $( stringify!($gauge) => Some(self.$gauge), )*
                    _ => None,
                }
            }

            /// The histogram named `name`, or `None` for an unknown name.
            #[must_use]
            pub fn histogram(&self, name: &str) -> Option<&Histogram> {
                match name {
                    $( stringify!($histogram) => Some(&self.$histogram), )*
                    _ => None,
                }
            }

            /// Every counter and gauge as `(field name, &mut value)`, counters first, each group
            /// in declaration order: set every field without naming it, e.g. to check that a
            /// consumer reads each one.
            pub fn fields_mut(&mut self) -> impl ExactSizeIterator<Item = (&'static str, &mut u64)> {
                [$( (stringify!($counter), &mut self.$counter), )* $( (stringify!($gauge), &mut self.$gauge), )*].into_iter()
            }

            /// Every histogram as `(field name, &mut histogram)`, in declaration order.
            pub fn histograms_mut(
                &mut self,
            ) -> impl ExactSizeIterator<Item = (&'static str, &mut Histogram)> {
                [$( (stringify!($histogram), &mut self.$histogram), )*].into_iter()
            }

            /// Mutable access to a counter or gauge by name (for deserializers and tests).
            #[cfg_attr(not(any(test, feature = "serde")), allow(dead_code))]
            pub(crate) fn get_mut(&mut self, name: &str) -> Option<&mut u64> {
                match name {
                    $( stringify!($counter) => Some(&mut self.$counter), )*
                    $( stringify!($gauge) => Some(&mut self.$gauge), )*
                    _ => None,
                }
            }

            /// Mutable access to a histogram by name.
            #[cfg_attr(not(any(test, feature = "serde")), allow(dead_code))]
            pub(crate) fn histogram_mut(&mut self, name: &str) -> Option<&mut Histogram> {
                match name {
                    $( stringify!($histogram) => Some(&mut self.$histogram), )*
                    _ => None,
                }
            }
        }

        /// The difference between two snapshots: counters and histograms are subtracted
        /// (saturating at zero); gauges keep the value of the left-hand (later) snapshot.
        impl SubAssign for Stats {
            fn sub_assign(&mut self, rhs: Self) {
                $( self.$counter = self.$counter.saturating_sub(rhs.$counter); )*
                $( self.$histogram -= rhs.$histogram; )*
            }
        }

        /// Merges two snapshots (e.g. of two allocators): counters, histograms and gauges are
        /// added (saturating). The merged peak is an upper bound on the peak of the sum.
        impl AddAssign for Stats {
            fn add_assign(&mut self, rhs: Self) {
                $( self.$counter = self.$counter.saturating_add(rhs.$counter); )*
                $( self.$gauge = self.$gauge.saturating_add(rhs.$gauge); )*
                $( self.$histogram += rhs.$histogram; )*
            }
        }
    };
}

stats! {
    counters {
        /// Successful `alloc` and `alloc_zeroed` calls. Failed calls (null) are not counted
        /// here but in [`alloc_failures`](Self::alloc_failures); `realloc` is never counted here.
        allocations,
        /// Bytes requested by the calls counted in [`allocations`](Self::allocations).
        allocated_bytes,
        /// Successful `alloc_zeroed` calls: a subset of [`allocations`](Self::allocations).
        zeroed_allocations,
        /// Bytes requested by the calls counted in
        /// [`zeroed_allocations`](Self::zeroed_allocations): a subset of
        /// [`allocated_bytes`](Self::allocated_bytes).
        zeroed_bytes,
        /// `dealloc` calls. (`dealloc` cannot fail; a `realloc` is never counted here.)
        deallocations,
        /// Bytes released by the calls counted in [`deallocations`](Self::deallocations): the
        /// size of each block's layout at the time it was freed.
        deallocated_bytes,
        /// Successful `realloc` calls that returned the same pointer with a larger size.
        realloc_grew_in_place,
        /// Successful `realloc` calls that returned the same pointer with a smaller size.
        realloc_shrank_in_place,
        /// Successful `realloc` calls that returned a different pointer (the inner allocator
        /// copied the block), whatever the sizes.
        realloc_moved,
        /// Successful `realloc` calls that returned the same pointer with the same size.
        realloc_unchanged,
        /// Sum of `new_size - old_size` over successful `realloc` calls that grew a block, moved
        /// or not.
        realloc_grown_bytes,
        /// Sum of `old_size - new_size` over successful `realloc` calls that shrank a block,
        /// moved or not.
        realloc_shrunk_bytes,
        /// Bytes the inner allocator copied when a `realloc` moved a block:
        /// `min(old_size, new_size)` per [`realloc_moved`](Self::realloc_moved) call.
        realloc_moved_bytes,
        /// `alloc` and `alloc_zeroed` calls that returned null.
        alloc_failures,
        /// `realloc` calls that returned null. The old block stays valid and live: nothing else
        /// changes.
        realloc_failures,
    }
    gauges {
        /// High-water mark of [`live_bytes`](Self::live_bytes) since the `Heapster` was
        /// created. Never reset. Tracked through per-shard updates published every 128 KiB of
        /// net change, so the mark can miss or overstate the true peak by less than 128 KiB plus
        /// 8 KiB per size class in use, per shard that is in use (see the crate docs, "Peak");
        /// every snapshot also folds in the exact live bytes it computed.
        peak_bytes,
    }
    histograms {
        /// Sizes requested by successful `alloc` and `alloc_zeroed` calls; its sum is
        /// [`allocated_bytes`](Self::allocated_bytes) and its count
        /// [`allocations`](Self::allocations).
        allocation_sizes,
        /// `new_size - old_size` of each successful `realloc` that grew a block; its sum is
        /// [`realloc_grown_bytes`](Self::realloc_grown_bytes).
        realloc_grow_sizes,
        /// `old_size - new_size` of each successful `realloc` that shrank a block; its sum is
        /// [`realloc_shrunk_bytes`](Self::realloc_shrunk_bytes).
        realloc_shrink_sizes,
    }
}

impl Stats {
    /// Net bytes in use: `allocated - deallocated + grown - shrunk`, as a signed number.
    ///
    /// On a snapshot this is the live heap; on a difference `after - before` it is the net
    /// change, negative when more was freed than allocated.
    #[must_use]
    pub fn net_bytes(&self) -> i128 {
        i128::from(self.allocated_bytes) - i128::from(self.deallocated_bytes)
            + i128::from(self.realloc_grown_bytes)
            - i128::from(self.realloc_shrunk_bytes)
    }

    /// Bytes in live blocks: [`net_bytes`](Self::net_bytes) clamped to `0..=u64::MAX`.
    #[must_use]
    pub fn live_bytes(&self) -> u64 {
        u64::try_from(self.net_bytes().max(0)).unwrap_or(u64::MAX)
    }

    /// Blocks allocated and not yet freed: `allocations - deallocations`, saturating at zero.
    #[must_use]
    pub const fn live_allocations(&self) -> u64 {
        self.allocations.saturating_sub(self.deallocations)
    }

    /// Successful `realloc` calls of every kind.
    #[must_use]
    pub const fn reallocations(&self) -> u64 {
        self.realloc_grew_in_place
            .saturating_add(self.realloc_shrank_in_place)
            .saturating_add(self.realloc_moved)
            .saturating_add(self.realloc_unchanged)
    }

    /// Failed calls of every kind: `alloc_failures + realloc_failures`.
    #[must_use]
    pub const fn failures(&self) -> u64 {
        self.alloc_failures.saturating_add(self.realloc_failures)
    }

    /// Mean size of an allocation in bytes, or `None` when there was none.
    #[must_use]
    pub fn mean_allocation_size(&self) -> Option<f64> {
        ratio(self.allocated_bytes, self.allocations)
    }

    /// Fraction of successful reallocations that moved the block, or `None` when there was none.
    #[must_use]
    pub fn realloc_move_ratio(&self) -> Option<f64> {
        ratio(self.realloc_moved, self.reallocations())
    }

    /// `true` when no allocator call was recorded (every counter and histogram is zero; the
    /// peak is not looked at).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.counters().all(|(_, v)| v == 0) && self.histograms().all(|(_, h)| h.is_empty())
    }
}

impl Sub for Stats {
    type Output = Self;
    fn sub(mut self, rhs: Self) -> Self {
        self -= rhs;
        self
    }
}

impl Add for Stats {
    type Output = Self;
    fn add(mut self, rhs: Self) -> Self {
        self += rhs;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_equals_default() {
        assert_eq!(Stats::new(), Stats::default());
        assert!(Stats::new().is_empty());
    }

    /// The generated tables and accessors against the struct as the compiler lays it out (the
    /// derived `Debug`, which is not generated from the tables): same fields, same order, and
    /// each name reaches its own field.
    #[test]
    fn field_tables_match_the_struct() {
        let mut s = Stats::new();
        for (i, name) in Stats::COUNTERS.iter().chain(Stats::GAUGES).enumerate() {
            *s.get_mut(name).unwrap() = 1000 + i as u64;
        }
        for (i, name) in Stats::HISTOGRAMS.iter().enumerate() {
            s.histogram_mut(name).unwrap().record(1 << (i + 1));
        }
        let debug = std::format!("{s:#?}");
        let lines: std::vec::Vec<&str> = debug.lines().collect();
        // Top-level fields are the lines indented by exactly four spaces.
        let fields: std::vec::Vec<(&str, &str)> = lines
            .iter()
            .filter(|l| l.starts_with("    ") && !l.starts_with("     "))
            .filter_map(|l| l.trim().split_once(": "))
            .collect();
        let names: std::vec::Vec<&str> = fields.iter().map(|(n, _)| *n).collect();
        let tables: std::vec::Vec<&str> = Stats::COUNTERS
            .iter()
            .chain(Stats::GAUGES)
            .chain(Stats::HISTOGRAMS)
            .copied()
            .collect();
        assert_eq!(names, tables);
        let scalars = Stats::COUNTERS.len() + Stats::GAUGES.len();
        for (i, &(name, value)) in fields[..scalars].iter().enumerate() {
            let expected = std::format!("{},", 1000 + i);
            assert_eq!(value, expected, "`{name}` was not set through its own name");
            assert_eq!(s.get(name), Some(1000 + i as u64), "`{name}`");
        }
        for (i, name) in Stats::HISTOGRAMS.iter().enumerate() {
            let start = lines
                .iter()
                .position(|l| l.starts_with(&std::format!("    {name}: ")))
                .unwrap();
            let sum = lines[start..]
                .iter()
                .find_map(|l| l.strip_prefix("        sum: "))
                .unwrap();
            assert_eq!(sum, std::format!("{},", 1u64 << (i + 1)), "`{name}`");
            assert_eq!(s.histogram(name).unwrap().sum(), 1 << (i + 1), "`{name}`");
        }
        let counters: std::vec::Vec<_> = s.counters().collect();
        let expected: std::vec::Vec<_> = Stats::COUNTERS
            .iter()
            .map(|&n| (n, s.get(n).unwrap()))
            .collect();
        assert_eq!(counters, expected);
        let gauges: std::vec::Vec<_> = s.gauges().map(|(n, _)| n).collect();
        assert_eq!(gauges, Stats::GAUGES);
        let histograms: std::vec::Vec<_> = s.histograms().map(|(n, h)| (n, h.sum())).collect();
        let expected: std::vec::Vec<_> = (0..Stats::HISTOGRAMS.len())
            .map(|i| (Stats::HISTOGRAMS[i], 1u64 << (i + 1)))
            .collect();
        assert_eq!(histograms, expected);
        assert_eq!(s.get("nope"), None);
        assert!(s.histogram("nope").is_none());
        // Arithmetic reaches every field: counters and histograms add and subtract, gauges add
        // and are kept by a subtraction.
        let double = s + s;
        let diff = double - s;
        for (name, value) in s.counters() {
            assert_eq!(double.get(name), Some(2 * value), "`{name}`");
            assert_eq!(diff.get(name), Some(value), "`{name}`");
        }
        for (name, value) in s.gauges() {
            assert_eq!(double.get(name), Some(2 * value), "`{name}`");
            assert_eq!(diff.get(name), Some(2 * value), "`{name}`");
        }
        for (name, h) in s.histograms() {
            assert_eq!(
                double.histogram(name).unwrap().sum(),
                2 * h.sum(),
                "`{name}`"
            );
            assert_eq!(diff.histogram(name), Some(h), "`{name}`");
        }
    }

    #[test]
    fn sub_saturates_and_keeps_gauges() {
        let mut a = Stats::new();
        a.allocations = 5;
        a.peak_bytes = 100;
        let mut b = Stats::new();
        b.allocations = 7;
        b.peak_bytes = 50;
        let d = a - b;
        assert_eq!(d.allocations, 0);
        assert_eq!(d.peak_bytes, 100);
        let m = a + b;
        assert_eq!(m.allocations, 12);
        assert_eq!(m.peak_bytes, 150);
        b.allocations = u64::MAX;
        assert_eq!((a + b).allocations, u64::MAX);
    }

    #[test]
    fn derived_values() {
        let mut s = Stats::new();
        s.allocations = 4;
        s.allocated_bytes = 400;
        s.deallocations = 6;
        s.deallocated_bytes = 100;
        s.realloc_grown_bytes = 50;
        s.realloc_shrunk_bytes = 500;
        s.realloc_moved = 1;
        s.realloc_unchanged = 3;
        assert_eq!(s.net_bytes(), -150);
        assert_eq!(s.live_bytes(), 0);
        assert_eq!(s.live_allocations(), 0);
        assert_eq!(s.reallocations(), 4);
        assert_eq!(s.realloc_move_ratio(), Some(0.25));
        assert_eq!(s.mean_allocation_size(), Some(100.0));
        assert_eq!(Stats::new().mean_allocation_size(), None);
    }
}
