//! The allocation path: `GlobalAlloc` for [`Heapster`], and its out-of-line parts.
//!
//! Every call is forwarded unchanged to the inner allocator and recorded as what it did
//! (`Counters::record` applies the accounting rules of `rules`). `dealloc` records first and
//! forwards last, on every path, so that the inner call is a tail call; the rare paths
//! (failures, over-aligned requests, the out-of-line counting work, claiming a thread-owned
//! block, an installed scope) are cold functions of their own.

// On the allocation path: no arithmetic that can overflow (and so panic in debug builds).
#![deny(clippy::arithmetic_side_effects)]

use core::alloc::{GlobalAlloc, Layout};

use super::Heapster;
use crate::counters::{Pending, Shard};
use crate::rules::Call;
#[cfg(feature = "scoped")]
use crate::scope;

/// Recording, and the cold paths of the allocator calls.
impl<A> Heapster<A> {
    /// Counts one successful call, in the instance counters and in this thread's scopes.
    #[inline(always)]
    fn record(&self, call: Call) {
        self.counters.record(call);
        #[cfg(feature = "scoped")]
        scope::record(self.id(), call);
    }

    /// The rest of a `dealloc` whose word passed a step (`Counters::cross_dealloc`): the
    /// out-of-line counting work, then the inner call. (`ptr`, `size` and `align` come first, in
    /// the registers `__rust_dealloc` received them in, so that `dealloc` jumps here with no
    /// moves.)
    ///
    /// # Safety
    /// As [`GlobalAlloc::dealloc`], for the layout of `size` and `align`, which is valid.
    #[cold]
    #[inline(never)]
    unsafe fn dealloc_crossed(
        ptr: *mut u8,
        size: usize,
        align: usize,
        this: &Self,
        shard: &Shard,
        sum: u64,
    ) where
        A: GlobalAlloc,
    {
        if let Some(pending) = this.counters.cross_dealloc(shard, sum, size) {
            // SAFETY: the caller's `dealloc` contract, passed on unchanged.
            return unsafe { Self::dealloc_rare(ptr, size, align, this, shard, pending) };
        }
        // SAFETY: the caller's `dealloc` contract, passed on unchanged; `size` and `align` are
        // those of its valid layout.
        unsafe {
            this.inner
                .dealloc(ptr, Layout::from_size_align_unchecked(size, align))
        };
    }

    /// The rest of a `dealloc` that has rare counting work to do (`Counters::rare_dealloc`),
    /// then the inner call.
    ///
    /// # Safety
    /// As [`GlobalAlloc::dealloc`], for the layout of `size` and `align`, which is valid.
    #[cold]
    #[inline(never)]
    unsafe fn dealloc_rare(
        ptr: *mut u8,
        size: usize,
        align: usize,
        this: &Self,
        shard: &Shard,
        pending: i64,
    ) where
        A: GlobalAlloc,
    {
        this.counters.rare_dealloc(shard, pending, size);
        // SAFETY: the caller's `dealloc` contract, passed on unchanged; `size` and `align` are
        // those of its valid layout.
        unsafe {
            this.inner
                .dealloc(ptr, Layout::from_size_align_unchecked(size, align))
        };
    }

    /// A `dealloc` of a thread that has no block of this thread-owned instance yet: counts it
    /// (claiming a block), then forwards it.
    ///
    /// # Safety
    /// As [`GlobalAlloc::dealloc`].
    #[cfg(feature = "thread-owned")]
    #[cold]
    #[inline(never)]
    unsafe fn dealloc_claiming(ptr: *mut u8, layout: Layout, this: &Self)
    where
        A: GlobalAlloc,
    {
        this.counters.record(Call::Dealloc {
            size: layout.size(),
        });
        // SAFETY: the caller's `dealloc` contract, passed on unchanged.
        unsafe { this.inner.dealloc(ptr, layout) };
    }

    /// `alloc` (`zeroed`: `alloc_zeroed`), counted. Layouts with more than the usual alignment
    /// (see [`usual`]) go to a cold function.
    ///
    /// # Safety
    /// As [`GlobalAlloc::alloc`].
    #[inline(always)]
    unsafe fn alloc_counted(&self, layout: Layout, zeroed: bool) -> *mut u8
    where
        A: GlobalAlloc,
    {
        if !usual(layout) {
            // SAFETY: the caller's contract, passed on unchanged.
            return unsafe { Self::alloc_aligned(layout.size(), layout.align(), self, zeroed) };
        }
        let size = kept(layout.size());
        // SAFETY: the caller's contract, passed on unchanged.
        let ptr = unsafe { self.inner_alloc(layout, zeroed) };
        self.allocated(ptr, size, zeroed)
    }

    /// An `alloc` (`zeroed`: `alloc_zeroed`) of a layout with more than the usual alignment:
    /// the inner call, counted. (`size` and `align` come first, in the registers `__rust_alloc`
    /// received them in, so that the caller can jump here.)
    ///
    /// # Safety
    /// As [`GlobalAlloc::alloc`], for the layout of `size` and `align`, which is valid.
    #[cold]
    #[inline(never)]
    unsafe fn alloc_aligned(size: usize, align: usize, this: &Self, zeroed: bool) -> *mut u8
    where
        A: GlobalAlloc,
    {
        // SAFETY: `size` and `align` are those of a valid `Layout` (the caller's).
        let layout = unsafe { Layout::from_size_align_unchecked(size, align) };
        // SAFETY: the caller's contract, passed on unchanged.
        let ptr = unsafe { this.inner_alloc(layout, zeroed) };
        this.allocated(ptr, size, zeroed)
    }

    /// The inner allocator's `alloc` (`zeroed`: `alloc_zeroed`, which does the zeroing itself).
    ///
    /// # Safety
    /// As [`GlobalAlloc::alloc`]: the caller guarantees that `layout` has a non-zero size.
    #[inline(always)]
    unsafe fn inner_alloc(&self, layout: Layout, zeroed: bool) -> *mut u8
    where
        A: GlobalAlloc,
    {
        // SAFETY: the caller's contract, passed on unchanged.
        unsafe {
            if zeroed {
                self.inner.alloc_zeroed(layout)
            } else {
                self.inner.alloc(layout)
            }
        }
    }

    /// The inner `realloc` for a layout with more than the usual alignment.
    ///
    /// # Safety
    /// As [`GlobalAlloc::realloc`].
    #[cold]
    #[inline(never)]
    unsafe fn realloc_aligned(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8
    where
        A: GlobalAlloc,
    {
        // SAFETY: the caller's contract, passed on unchanged.
        unsafe { self.inner.realloc(ptr, layout, new_size) }
    }

    /// A `dealloc` on a thread with a scope installed: counts it there too, then forwards it.
    ///
    /// # Safety
    /// As [`GlobalAlloc::dealloc`].
    #[cfg(feature = "scoped")]
    #[cold]
    #[inline(never)]
    unsafe fn dealloc_scoped(ptr: *mut u8, layout: Layout, this: &Self)
    where
        A: GlobalAlloc,
    {
        this.record(Call::Dealloc {
            size: layout.size(),
        });
        // SAFETY: the caller's `dealloc` contract, passed on unchanged.
        unsafe { this.inner.dealloc(ptr, layout) };
    }

    /// Counts what an `alloc` (or `alloc_zeroed`) of `size` bytes returned, and returns it.
    #[inline(always)]
    fn allocated(&self, ptr: *mut u8, size: usize, zeroed: bool) -> *mut u8 {
        if ptr.is_null() {
            self.alloc_failed();
        } else {
            self.record(Call::Alloc { size, zeroed });
        }
        ptr
    }

    /// Counts a failed `alloc` or `alloc_zeroed` (out of line: failures are rare).
    #[cold]
    #[inline(never)]
    fn alloc_failed(&self) {
        self.record(Call::AllocFailed);
    }

    /// Counts a failed `realloc`.
    #[cold]
    #[inline(never)]
    fn realloc_failed(&self) {
        self.record(Call::ReallocFailed);
    }
}

/// Whether `layout` asks for no more alignment than `malloc` gives (and no more than its size).
///
/// Only a code-layout hint: the inner allocator is called the same way either way, but its
/// path for over-aligned requests (`System`'s needs a stack slot and another call) stays in a
/// cold function of its own, out of the counted path.
#[inline(always)]
const fn usual(layout: Layout) -> bool {
    usual_align(layout.align(), layout.size())
}

/// [`usual`] for an alignment and a size.
#[inline(always)]
const fn usual_align(align: usize, size: usize) -> bool {
    const MALLOC_ALIGN: usize = 2 * size_of::<usize>();
    align <= MALLOC_ALIGN && align <= size
}

/// `size`, as a value the compiler cannot trace back to the argument: taken before the inner
/// call, it is kept across it in a register of its own. (Otherwise the compiler moves the
/// argument into that register on entry, to compare it, and back for the call: one instruction
/// more per `alloc`.) Emits no instruction.
#[inline(always)]
fn kept(size: usize) -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        let mut size = size;
        // SAFETY: an empty template (a comment): touches no memory, stack or flag, and leaves
        // the register holding `size` as it was. Not `pure`, so that it stays where it is
        // written, after the alignment test.
        unsafe {
            core::arch::asm!(
                "/* {0} */",
                inout(reg) size,
                options(nomem, nostack, preserves_flags)
            );
        }
        size
    }
    #[cfg(not(target_arch = "x86_64"))]
    size
}

// SAFETY: every method forwards its arguments unchanged to the inner allocator, whose own
// `GlobalAlloc` contract is therefore upheld by our caller, and returns the inner result
// unchanged. Counting only reads sizes and compares pointers; it never touches the memory,
// allocates, panics or unwinds, so the wrapper keeps every guarantee the inner allocator gives.
unsafe impl<A: GlobalAlloc> GlobalAlloc for Heapster<A> {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's `alloc` contract, passed on.
        unsafe { self.alloc_counted(layout, false) }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's `alloc_zeroed` contract, passed on.
        unsafe { self.alloc_counted(layout, true) }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // `dealloc` cannot fail: counting first lets the inner call be the last thing done, also
        // on the out-of-line path, so that neither needs a stack frame.
        #[cfg(feature = "scoped")]
        if scope::active() {
            // SAFETY: the caller's `dealloc` contract, passed on with `ptr` and `layout`.
            return unsafe { Self::dealloc_scoped(ptr, layout, self) };
        }
        let call = Call::Dealloc {
            size: layout.size(),
        };
        match self.counters.record_deferred(call) {
            None => {}
            Some(Pending::Crossing(c)) => {
                // SAFETY: the caller's `dealloc` contract, passed on with `ptr` and `layout`.
                return unsafe {
                    Self::dealloc_crossed(ptr, layout.size(), layout.align(), self, c.shard, c.sum)
                };
            }
            #[cfg(feature = "thread-owned")]
            Some(Pending::Claim) => {
                // SAFETY: the caller's `dealloc` contract, passed on with `ptr` and `layout`.
                return unsafe { Self::dealloc_claiming(ptr, layout, self) };
            }
        }
        // SAFETY:
        // - the caller guarantees `ptr` was allocated by this allocator, i.e. by the inner one
        //   (every pointer we hand out is the inner allocator's), with this same `layout`;
        // - both are passed unchanged.
        unsafe { self.inner.dealloc(ptr, layout) };
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = if usual_align(layout.align(), new_size) {
            // SAFETY:
            // - the caller guarantees `ptr` is a live block of this (so of the inner) allocator
            //   with `layout`, and that `new_size` is non-zero and does not overflow `isize` when
            //   rounded up to `layout.align()`;
            // - all three are passed unchanged, so the inner allocator decides between growing
            //   in place and moving.
            unsafe { self.inner.realloc(ptr, layout, new_size) }
        } else {
            // SAFETY: as above.
            unsafe { self.realloc_aligned(ptr, layout, new_size) }
        };
        if new.is_null() {
            self.realloc_failed();
        } else {
            self.record(Call::Realloc {
                old: layout.size(),
                new: new_size,
                moved: new != ptr,
            });
        }
        new
    }
}
