//! Size buckets: 64 upper-inclusive powers of two.
//!
//! Bucket `k` counts sizes `s` with `2^(k-1) < s <= 2^k`; bucket 0 counts `s <= 1`. An exact power
//! of two therefore lands in the bucket whose upper bound it is, which is how Prometheus (`le`),
//! Prometheus native histograms (schema 0) and OpenTelemetry exponential histograms (scale 0)
//! define their buckets: every bucket maps to theirs exactly.

// On the allocation path: no arithmetic that can overflow (and so panic in debug builds).
#![deny(clippy::arithmetic_side_effects)]

/// Number of buckets in every size histogram.
pub const BUCKETS: usize = 64;

/// The bucket that counts `size`: `0` for `size <= 1`, else `ceil(log2(size))`.
///
/// ```
/// use heapster::bucket_index;
/// assert_eq!(bucket_index(1), 0);
/// assert_eq!(bucket_index(2), 1);
/// assert_eq!(bucket_index(1024), 10);
/// assert_eq!(bucket_index(1025), 11);
/// ```
#[inline(always)]
#[must_use]
pub const fn bucket_index(size: usize) -> usize {
    if size <= 1 {
        0
    } else {
        // `size - 1 >= 1` here, so this cannot underflow; the result is at most `usize::BITS`,
        // and at most 63 for any size a `Layout` can hold (`<= isize::MAX`).
        usize::BITS.wrapping_sub(size.wrapping_sub(1).leading_zeros()) as usize
    }
}

/// The largest size counted by bucket `k` (inclusive): `2^k`.
///
/// # Panics
/// If `k >= BUCKETS`.
///
/// ```
/// assert_eq!(heapster::bucket_upper_bound(10), 1024);
/// ```
#[must_use]
pub const fn bucket_upper_bound(k: usize) -> u64 {
    assert!(k < BUCKETS, "bucket index out of range");
    1 << k
}

/// The largest size *not* counted by bucket `k` (exclusive lower bound): `2^(k-1)`, and 0 for
/// bucket 0.
///
/// # Panics
/// If `k >= BUCKETS`.
///
/// ```
/// assert_eq!(heapster::bucket_lower_bound(10), 512);
/// assert_eq!(heapster::bucket_lower_bound(0), 0);
/// ```
#[must_use]
pub const fn bucket_lower_bound(k: usize) -> u64 {
    assert!(k < BUCKETS, "bucket index out of range");
    (1u64 << k) >> 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries_of_every_bucket() {
        assert_eq!(bucket_index(0), 0);
        assert_eq!(bucket_index(1), 0);
        for k in 1..BUCKETS {
            let p = 1usize << k;
            assert_eq!(bucket_index(p - 1), if k == 1 { 0 } else { k }, "2^{k} - 1");
            assert_eq!(bucket_index(p), k, "2^{k}");
            if k < BUCKETS - 1 {
                assert_eq!(bucket_index(p + 1), k + 1, "2^{k} + 1");
            }
            assert_eq!(bucket_upper_bound(k), p as u64);
            assert_eq!(bucket_lower_bound(k), (p / 2) as u64);
        }
        assert_eq!(bucket_index(isize::MAX as usize), 63);
    }
}
