//! heapster's counting path rebuilt one step at a time, for the ablation table (`bench/README.md`).
//!
//! [`Stage<N>`] is a `GlobalAlloc` over `System` that does the first `N` steps of what
//! `Heapster<System>` does on an `alloc` or a `dealloc`, each step the same instructions as
//! heapster's (see `heapster/src/counters/`), and nothing else: no histogram reading, no
//! realloc kinds, no peak. Stage 5 is the whole hot path; the rest of heapster runs only out of
//! line. Each stage is a configuration binary (`src/bin/stage*.rs`).
//!
//! 1. the wrapper: forward to `System`, keep the size across the call, test for null;
//! 2. one locked add of `ONE + size` to a single word (everything counted in one place);
//! 3. the size bucket: the word of `bsr(2 size - 1)` in a table per call kind;
//! 4. the shard: the table of the stack's 2 MiB region, one of 64 shards of 4 KiB;
//! 5. the test of the returned value (did the byte sum pass a multiple of 8 KiB?), with a cold
//!    out-of-line call when it did (for `dealloc`, a tail call that then frees).

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed, Ordering::Release};

/// One count in a word, as in heapster.
const ONE: u64 = 1 << 30;
/// Words per table and tables per shard, as in heapster.
const WORDS: usize = 64;
const TABLES: usize = 6;
const SHARDS: usize = 64;

/// Where stage 1 stores the size of the last call.
static LAST_SIZE: AtomicUsize = AtomicUsize::new(0);

/// 4 KiB of tables, as a heapster shard.
#[repr(C, align(4096))]
pub struct Shard([[AtomicU64; WORDS]; TABLES]);

/// The first `N` steps of heapster's counting path over `System`.
pub struct Stage<const N: u8> {
    shards: [Shard; SHARDS],
}

impl<const N: u8> Stage<N> {
    /// A stage with every counter at zero.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            shards: [const { Shard([const { [const { AtomicU64::new(0) }; WORDS] }; TABLES]) };
                SHARDS],
        }
    }

    /// Calls counted so far, in the words of stages 2 to 5 (a number to print).
    pub fn counted(&self) -> u64 {
        self.shards
            .iter()
            .flat_map(|s| s.0.iter().flatten())
            .map(|w| w.load(std::sync::atomic::Ordering::Relaxed) >> 30)
            .sum()
    }

    /// Counts one call of `size` bytes in `table`; returns the step sum when the call must take
    /// the out-of-line path.
    #[inline(always)]
    fn record(&self, table: usize, size: usize) -> Option<u64> {
        if N < 2 {
            // Use the size after the inner call, as counting does: one plain store.
            LAST_SIZE.store(size, Relaxed);
            return None;
        }
        let shard = if N >= 4 {
            &self.shards[(stack_pointer() >> 21) & (SHARDS - 1)]
        } else {
            &self.shards[0]
        };
        let k = if N >= 3 {
            ((size.wrapping_shl(1).wrapping_sub(1) | 1).ilog2()) as usize
        } else {
            0
        };
        let old = shard.0[table][k].fetch_add(ONE.wrapping_add(size as u64), Release);
        // The step test: the old word's bits from 13 up set, plus the size, carries.
        let (sum, carried) = (old | !((1 << 13) - 1)).overflowing_add(size as u64);
        (N >= 5 && carried).then_some(sum)
    }
}

impl<const N: u8> Default for Stage<N> {
    fn default() -> Self {
        Self::new()
    }
}

/// The stack pointer, as heapster reads it.
#[inline(always)]
fn stack_pointer() -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        let sp: usize;
        // SAFETY: reads the stack pointer into a register; touches no memory.
        unsafe {
            std::arch::asm!("mov {}, rsp", out(reg) sp, options(nomem, nostack, preserves_flags));
        }
        sp
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let frame = 0u8;
        std::ptr::addr_of!(frame).addr()
    }
}

/// `size` in a register of its own across the inner call, as heapster's `kept`: an empty asm
/// that the compiler cannot see through, so that it does not move the argument there and back.
#[inline]
#[allow(unused_mut, reason = "written on x86-64 only")]
fn kept(mut size: usize) -> usize {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: an empty template: touches no memory, stack or flag, leaves the register as is.
    unsafe {
        std::arch::asm!("/* {} */", inout(reg) size, options(nomem, nostack));
    };
    size
}

/// Stands for heapster's out-of-line path.
#[cold]
#[inline(never)]
fn out_of_line(old: u64) {
    black_box(old);
}

/// Whether `System` serves `layout` with plain `malloc` (as heapster's `usual`).
#[inline(always)]
const fn usual(align: usize, size: usize) -> bool {
    align <= 2 * size_of::<usize>() && align <= size
}

/// The rest of a `dealloc` that takes the out-of-line path, reached by a tail call (as
/// heapster's `dealloc_crossed`).
#[cold]
#[inline(never)]
unsafe fn dealloc_out_of_line(ptr: *mut u8, layout: Layout, old: u64) {
    out_of_line(old);
    // SAFETY: the caller's `dealloc` contract, passed on.
    unsafe { System.dealloc(ptr, layout) }
}

#[cold]
#[inline(never)]
unsafe fn alloc_aligned(layout: Layout) -> *mut u8 {
    // SAFETY: the caller's `alloc` contract, passed on.
    unsafe { System.alloc(layout) }
}

// SAFETY: every call is forwarded unchanged to `System`; counting touches no memory of the
// blocks and never panics.
unsafe impl<const N: u8> GlobalAlloc for Stage<N> {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let size = kept(layout.size());
        let p = if usual(layout.align(), layout.size()) {
            // SAFETY: the caller's `alloc` contract, passed on.
            unsafe { System.alloc(layout) }
        } else {
            // SAFETY: as above.
            unsafe { alloc_aligned(layout) }
        };
        if !p.is_null() {
            if let Some(old) = self.record(0, size) {
                out_of_line(old);
            }
        }
        p
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if let Some(old) = self.record(3, layout.size()) {
            // SAFETY: the caller's `dealloc` contract, passed on.
            return unsafe { dealloc_out_of_line(ptr, layout, old) };
        }
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's `realloc` contract, passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair<const N: u8>(stage: &Stage<N>, size: usize) {
        let layout = Layout::from_size_align(size, 8).unwrap();
        // SAFETY: non-zero size; the block is freed once with its layout.
        unsafe {
            let p = stage.alloc(layout);
            assert!(!p.is_null());
            stage.dealloc(p, layout);
        }
    }

    #[test]
    fn stages_count_from_the_locked_add_on() {
        let (one, two, five) = (
            Box::new(Stage::<1>::new()),
            Box::new(Stage::<2>::new()),
            Box::new(Stage::<5>::new()),
        );
        for size in [16, 1000, 100_000] {
            pair(&one, size);
            pair(&two, size);
            pair(&five, size);
        }
        assert_eq!((one.counted(), two.counted(), five.counted()), (0, 6, 6));
    }
}
