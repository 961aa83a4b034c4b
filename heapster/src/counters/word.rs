//! The packed word: one count and one byte sum in a `u64`, updated by one read-modify-write.
//!
//! A word holds `count << BYTES_BITS | bytes`. Recording a call of `size` bytes adds
//! `ONE + size`. The caller looks at the value the add returned only to ask one question:
//! did the byte sum pass a multiple of [`STEP`]? ([`step`]: an `or`, an `add`, a carry.)
//! Only such a call takes the out-of-line path, which drains the word when it is near full and
//! tells the peak tracker about the [`STEP`]s passed (see `peak`). Every call of at least
//! [`STEP`] bytes takes it, and any word takes it at least once every [`STEP`] calls, so a word
//! never gets far past its drain threshold.

// On the allocation path: no arithmetic that can overflow (and so panic in debug builds).
#![deny(clippy::arithmetic_side_effects)]

/// Width of the byte field. `ONE` fits a 32-bit displacement, so `ONE + size` is one `lea`.
pub(crate) const BYTES_BITS: u32 = 30;
pub(crate) const BYTES_MASK: u64 = (1 << BYTES_BITS) - 1;
/// One count.
pub(crate) const ONE: u64 = 1 << BYTES_BITS;
/// Buckets `0..PACKED` (sizes up to 1 MiB) are counted in packed words. A table still has a
/// word for each of the 64 buckets: the calls of larger sizes add to theirs, which nobody reads,
/// so the hot path needs no range check (such calls always take the out-of-line path, which
/// counts them in the wide totals).
pub(crate) const PACKED: usize = 21;
/// The largest size a packed word takes in one call: the top of bucket `PACKED - 1`.
pub(crate) const PACKED_MAX: usize = 1 << (PACKED - 1);
/// The out-of-line path runs when a word's byte sum passes a multiple of `STEP`.
pub(crate) const STEP_BITS: u32 = 13;
pub(crate) const STEP: u64 = 1 << STEP_BITS;
/// A word is drained once its count reaches `2^DRAIN_COUNT_BIT` or its bytes `2^29` (half the
/// field). Between two runs of the out-of-line path a word takes less than [`STEP`] bytes and
/// [`STEP`] calls from each thread, so the fields keep room for `2^29` further bytes (512
/// concurrent 1 MiB calls) and billions of calls. Unit tests drain far more often.
const DRAIN_COUNT_BIT: u32 = if cfg!(test) { 8 } else { 32 };
const TRIGGER: u64 =
    (u64::MAX << (BYTES_BITS + DRAIN_COUNT_BIT)) | (BYTES_MASK & (u64::MAX << (BYTES_BITS - 1)));

/// The word of a call of `size` bytes: its size bucket for `size >= 1`, from one `lea` and one
/// `bsr` (`ilog2(2 size - 1)`, whose argument is odd and so never zero). Size 0 gives 63.
#[inline(always)]
pub(crate) const fn index(size: usize) -> usize {
    // `(2 size - 1) | 1` is `2 size - 1` (odd) for every size >= 1; the `| 1` tells the compiler
    // that it is not zero. The result is at most 63, which bounds the index.
    (size.wrapping_shl(1).wrapping_sub(1) | 1).ilog2() as usize
}

/// What to add to a word for one call of `size` bytes.
#[inline(always)]
pub(crate) const fn delta(size: usize) -> u64 {
    ONE.wrapping_add(size as u64)
}

/// The step test of a call of `size` bytes on a word that held `old`: `old`'s bits from
/// [`STEP_BITS`] up set, plus `size`. The sum carries out of 64 bits exactly when the word's byte
/// sum passed a multiple of [`STEP`] (an `or`, an `add` and a branch on carry); always for
/// `size >= STEP`. Returns the sum and whether it carried.
#[inline(always)]
pub(crate) const fn step(old: u64, size: usize) -> (u64, bool) {
    (old | !(STEP - 1)).overflowing_add(size as u64)
}

/// The multiples of [`STEP`] passed, in bytes, by a call whose [`step`] carried with `sum`.
#[inline(always)]
pub(crate) const fn steps_passed(sum: u64) -> u64 {
    sum.wrapping_add(STEP) & !(STEP - 1)
}

/// Whether a word holding `word` is near full: it is drained.
#[inline(always)]
pub(crate) const fn full(word: u64) -> bool {
    word & TRIGGER != 0
}

/// The count of a word.
#[inline(always)]
pub(crate) const fn count(word: u64) -> u64 {
    word >> BYTES_BITS
}

/// The byte sum of a word.
#[inline(always)]
pub(crate) const fn bytes(word: u64) -> u64 {
    word & BYTES_MASK
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bucket::{BUCKETS, bucket_index};

    #[test]
    fn index_is_the_bucket() {
        for k in 1..BUCKETS {
            for size in [(1usize << k) - 1, 1 << k, (1 << k) + 1] {
                if size >= 1 && size <= isize::MAX as usize {
                    assert_eq!(index(size), bucket_index(size), "{size}");
                }
            }
        }
        assert_eq!(index(1), 0);
        assert_eq!(index(isize::MAX as usize), 63);
        assert_eq!(index(0), 63);
        assert_eq!(index(PACKED_MAX), PACKED - 1);
        assert_eq!(index(PACKED_MAX + 1), PACKED);
    }

    /// Whether adding `size` to a word that held `old` passed a multiple of [`STEP`], and how
    /// many bytes of multiples, written out the slow way.
    #[allow(
        clippy::arithmetic_side_effects,
        reason = "a test: overflow would fail it"
    )]
    fn passed(old: u64, size: u64) -> (bool, u64) {
        let before = old & BYTES_MASK;
        let after = before + size;
        let steps = (after / STEP - before / STEP) * STEP;
        (steps != 0, steps)
    }

    #[test]
    fn steps() {
        let step_ = STEP as usize;
        for old in [
            0,
            1,
            STEP - 6,
            STEP - 1,
            STEP,
            12345,
            ONE * 7 + 100,
            ONE * 7 + STEP - 6,
            BYTES_MASK - 5 * STEP,
            u64::MAX,
        ] {
            for size in [
                1,
                15,
                16,
                step_ - 1,
                step_,
                step_ + 1,
                2 * step_ - 1,
                2 * step_ + 10,
                1 << 20,
                1 << 31,
                1 << 40,
                isize::MAX as usize,
            ] {
                let (sum, carried) = step(old, size);
                let (crossed, steps) = passed(old, size as u64);
                assert_eq!(carried, crossed, "{old} {size}");
                if carried {
                    assert_eq!(steps_passed(sum), steps, "{old} {size}");
                }
                // Every size of a step or more takes the out-of-line path.
                assert!(carried || size < step_, "{old} {size}");
            }
        }
        assert!(!step(0, step_ - 1).1);
        assert!(step(STEP - 1, 1).1);
        assert!(!step(ONE * 3 + 10, 16).1);
        assert_eq!(steps_passed(step(STEP - 1, 1).0), STEP);
        assert_eq!(steps_passed(step(100, 2 * step_ + 10).0), 2 * STEP);
    }

    #[test]
    fn fields() {
        let w = delta(1000).wrapping_add(delta(24));
        assert_eq!((count(w), bytes(w)), (2, 1024));
        // The thresholds: half the byte field, and the count bit.
        assert_ne!(TRIGGER & (1 << (BYTES_BITS - 1)), 0);
        assert_eq!(TRIGGER & ((1 << (BYTES_BITS - 1)) - 1), 0);
        assert_eq!(
            count(TRIGGER & !BYTES_MASK),
            count(u64::MAX << (BYTES_BITS + 8))
        );
    }
}
