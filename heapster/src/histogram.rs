//! [`Histogram`]: a snapshot of a power-of-two size histogram.

use core::ops::{Add, AddAssign, Sub, SubAssign};

use crate::bucket::{BUCKETS, bucket_index, bucket_lower_bound, bucket_upper_bound};

/// `part / whole` as a float, or `None` when `whole` is zero (means and ratios of counters).
#[allow(
    clippy::cast_precision_loss,
    reason = "a mean or a ratio is approximate by nature"
)]
pub(crate) fn ratio(part: u64, whole: u64) -> Option<f64> {
    (whole != 0).then(|| part as f64 / whole as f64)
}

/// Counts of sizes in 64 upper-inclusive power-of-two buckets, and the exact sum of the sizes.
///
/// Bucket `k` counts sizes `s` with `2^(k-1) < s <= 2^k` (bucket 0: `s <= 1`), see
/// [`bucket_index`]. Like [`Stats`](crate::Stats), a histogram is a plain value: `a - b` is the
/// difference between two snapshots (saturating, never panics) and `a + b` merges two.
///
/// ```
/// use heapster::Histogram;
///
/// let mut h = Histogram::new();
/// for size in [8, 16, 17, 1000, 1024] {
///     h.record(size);
/// }
/// assert_eq!(h.count(), 5);
/// assert_eq!(h.sum(), 2065);
/// assert_eq!(h.bucket(4), 1); // (8, 16]: 16
/// assert_eq!(h.bucket(10), 2); // (512, 1024]: 1000 and 1024
/// assert_eq!(h.quantile(0.5), Some(32)); // half of the sizes are <= 32
/// let nonempty: Vec<_> = h.buckets().map(|b| (b.upper, b.count)).collect();
/// assert_eq!(nonempty, [(8, 1), (16, 1), (32, 1), (1024, 2)]);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Histogram {
    counts: [u64; BUCKETS],
    sum: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self::new()
    }
}

/// One bucket of a [`Histogram`]: sizes in `(lower, upper]`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Bucket {
    /// The bucket's index `k`, `0..64`.
    pub index: usize,
    /// Exclusive lower bound, `2^(k-1)` (0 for bucket 0).
    pub lower: u64,
    /// Inclusive upper bound, `2^k`.
    pub upper: u64,
    /// How many sizes fell into the bucket.
    pub count: u64,
}

impl Histogram {
    /// An empty histogram.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            counts: [0; BUCKETS],
            sum: 0,
        }
    }

    /// A histogram with the given bucket counts and sum of sizes.
    ///
    /// `sum` is taken as given: it is the caller's job to keep it consistent with the counts.
    #[must_use]
    pub const fn from_parts(counts: [u64; BUCKETS], sum: u64) -> Self {
        Self { counts, sum }
    }

    /// Counts one size (saturating). Sizes above `2^63` land in the last bucket.
    pub fn record(&mut self, size: u64) {
        let k = usize::try_from(size).map_or(BUCKETS - 1, |s| bucket_index(s).min(BUCKETS - 1));
        self.counts[k] = self.counts[k].saturating_add(1);
        self.sum = self.sum.saturating_add(size);
    }

    /// The 64 bucket counts, index `k` counting sizes in `(2^(k-1), 2^k]`.
    #[must_use]
    pub const fn counts(&self) -> &[u64; BUCKETS] {
        &self.counts
    }

    /// The count of bucket `k`, or 0 when `k >= 64`.
    #[must_use]
    pub fn bucket(&self, k: usize) -> u64 {
        self.counts.get(k).copied().unwrap_or(0)
    }

    /// Total number of sizes counted: the sum of all buckets.
    #[must_use]
    pub fn count(&self) -> u64 {
        self.counts.iter().fold(0u64, |a, &c| a.saturating_add(c))
    }

    /// Exact sum of all sizes counted, in bytes.
    #[must_use]
    pub const fn sum(&self) -> u64 {
        self.sum
    }

    /// `true` when nothing was counted.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.counts.iter().all(|&c| c == 0)
    }

    /// The mean size, or `None` when empty.
    #[must_use]
    pub fn mean(&self) -> Option<f64> {
        ratio(self.sum, self.count())
    }

    /// The non-empty buckets, smallest sizes first.
    pub fn buckets(&self) -> impl DoubleEndedIterator<Item = Bucket> + '_ {
        self.counts
            .iter()
            .enumerate()
            .filter(|&(_, &count)| count != 0)
            .map(|(index, &count)| Bucket {
                index,
                lower: bucket_lower_bound(index),
                upper: bucket_upper_bound(index),
                count,
            })
    }

    /// Cumulative counts `(upper bound, sizes <= upper bound)` for every bucket, `le = 1, 2, 4, ...
    /// 2^63`: the shape of a Prometheus classic histogram.
    pub fn cumulative(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.counts.iter().enumerate().scan(0u64, |acc, (k, &c)| {
            *acc = acc.saturating_add(c);
            Some((bucket_upper_bound(k), *acc))
        })
    }

    /// An upper bound on the `q`-quantile: the smallest bucket bound `2^k` such that at least a
    /// fraction `q` of the sizes are `<= 2^k`. `None` when the histogram is empty or `q` is not in
    /// `[0, 1]`.
    ///
    /// The answer is exact as a statement ("90% of allocations are at most 64 bytes") and at most
    /// twice the true quantile.
    #[must_use]
    pub fn quantile(&self, q: f64) -> Option<u64> {
        if !(0.0..=1.0).contains(&q) {
            return None;
        }
        let total = self.count();
        if total == 0 {
            return None;
        }
        // rank = ceil(q * total), at least 1: the rank-th smallest size lies in the answer's bucket.
        #[allow(
            clippy::cast_precision_loss,
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "q in [0, 1], so the product is in [0, total] and the rank is approximate by nature"
        )]
        let rank = {
            let exact = q * total as f64;
            let floor = exact as u64;
            // ceil without `std`: round up when the product has a fractional part.
            if (floor as f64) < exact {
                floor.saturating_add(1)
            } else {
                floor
            }
        }
        .clamp(1, total);
        self.cumulative()
            .find(|&(_, cumulative)| cumulative >= rank)
            .map(|(upper, _)| upper)
    }

    /// Bucket-wise saturating difference.
    #[must_use]
    pub fn saturating_sub(&self, rhs: &Self) -> Self {
        let mut out = *self;
        out -= *rhs;
        out
    }
}

impl AddAssign for Histogram {
    fn add_assign(&mut self, rhs: Self) {
        for (a, b) in self.counts.iter_mut().zip(rhs.counts) {
            *a = a.saturating_add(b);
        }
        self.sum = self.sum.saturating_add(rhs.sum);
    }
}

impl SubAssign for Histogram {
    fn sub_assign(&mut self, rhs: Self) {
        for (a, b) in self.counts.iter_mut().zip(rhs.counts) {
            *a = a.saturating_sub(b);
        }
        self.sum = self.sum.saturating_sub(rhs.sum);
    }
}

impl Add for Histogram {
    type Output = Self;
    fn add(mut self, rhs: Self) -> Self {
        self += rhs;
        self
    }
}

impl Sub for Histogram {
    type Output = Self;
    fn sub(mut self, rhs: Self) -> Self {
        self -= rhs;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_pins_boundaries() {
        for k in 1..63u32 {
            let p = 1u64 << k;
            let k = k as usize;
            let mut h = Histogram::new();
            h.record(p - 1);
            h.record(p);
            h.record(p + 1);
            // 2^k - 1 shares bucket k with 2^k, except 1, which is bucket 0.
            let below = if k == 1 { 0 } else { k };
            let mut expected = [0u64; BUCKETS];
            expected[below] += 1;
            expected[k] += 1;
            expected[k + 1] += 1;
            assert_eq!(h.counts(), &expected, "2^{k} - 1, 2^{k}, 2^{k} + 1");
            assert_eq!(h.sum(), 3 * p);
        }
        let mut h = Histogram::new();
        h.record(u64::MAX);
        assert_eq!(h.bucket(63), 1);
    }

    #[test]
    fn arithmetic_saturates() {
        let mut a = Histogram::new();
        a.record(10);
        let mut b = Histogram::new();
        b.record(10);
        b.record(10);
        assert!((a - b).is_empty());
        assert_eq!((a - b).sum(), 0);
        assert_eq!((a + b).bucket(4), 3);
        assert_eq!((a + b).sum(), 30);
        assert_eq!(b.saturating_sub(&a), a);
    }

    #[test]
    fn quantiles_are_upper_bounds() {
        let mut h = Histogram::new();
        assert_eq!(h.quantile(0.5), None);
        for _ in 0..90 {
            h.record(16);
        }
        for _ in 0..10 {
            h.record(4096);
        }
        assert_eq!(h.quantile(0.0), Some(16));
        assert_eq!(h.quantile(0.9), Some(16));
        assert_eq!(h.quantile(0.91), Some(4096));
        assert_eq!(h.quantile(1.0), Some(4096));
        assert_eq!(h.quantile(1.5), None);
        assert_eq!(h.quantile(f64::NAN), None);
        assert_eq!(h.mean(), Some((90.0 * 16.0 + 10.0 * 4096.0) / 100.0));
    }

    #[test]
    fn cumulative_ends_at_count() {
        let mut h = Histogram::new();
        h.record(3);
        h.record(300);
        let c: [(u64, u64); BUCKETS] = {
            let mut out = [(0, 0); BUCKETS];
            for (slot, v) in out.iter_mut().zip(h.cumulative()) {
                *slot = v;
            }
            out
        };
        assert_eq!(c[1], (2, 0));
        assert_eq!(c[2], (4, 1));
        assert_eq!(c[9], (512, 2));
        assert_eq!(c[63], (1 << 63, h.count()));
    }
}
