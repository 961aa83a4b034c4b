//! [`Heapster`]: the counting `GlobalAlloc` wrapper, its constructors and its readings (the
//! allocation path itself is in `heapster/global_alloc.rs`).

// On the allocation path: no arithmetic that can overflow (and so panic in debug builds).
#![deny(clippy::arithmetic_side_effects)]

use crate::counters::{Counters, Mark};
#[cfg(feature = "scoped")]
use crate::scope::{Frame, Measured};
use crate::stats::Stats;

mod global_alloc;

/// A [`GlobalAlloc`](core::alloc::GlobalAlloc) that forwards every call to an inner allocator `A` and counts what it did.
///
/// Counters belong to the instance: two `Heapster`s count independently, and a `Heapster` can
/// be a local value as well as the `#[global_allocator]`. Recording costs one atomic
/// read-modify-write per call on a shard that the calling thread rarely shares; nothing on the
/// allocation path allocates, locks, panics or unwinds. See the crate docs for the design.
///
/// An instance is about 264 KiB (64 shards of 4 KiB, of which a thread touches one); a `static`
/// costs no startup work, as [`new`](Self::new) is `const` and the counters start as zeroes.
///
/// ```
/// use heapster::Heapster;
/// use std::alloc::{GlobalAlloc, Layout, System};
///
/// // A local instance (usually it is the `#[global_allocator]` static).
/// let heap = Box::new(Heapster::new(System));
/// let layout = Layout::from_size_align(100, 8).unwrap();
/// // SAFETY: `layout` has a non-zero size; the block is freed with the same layout.
/// unsafe {
///     let p = heap.alloc(layout);
///     assert!(!p.is_null());
///     heap.dealloc(p, layout);
/// }
/// let stats = heap.stats();
/// assert_eq!((stats.allocations, stats.allocated_bytes), (1, 100));
/// assert_eq!((stats.deallocations, stats.live_bytes()), (1, 0));
/// ```
pub struct Heapster<A> {
    counters: Counters,
    inner: A,
}

impl<A> Heapster<A> {
    /// Wraps `inner`. Usable in a `static`, and counts only if it is the `#[global_allocator]`
    /// (a `static` without the attribute is never called, and its stats stay empty):
    ///
    /// ```
    /// use heapster::Heapster;
    /// use std::alloc::System;
    ///
    /// #[global_allocator]
    /// static GLOBAL: Heapster<System> = Heapster::new(System);
    /// # fn main() {
    /// let before = GLOBAL.stats();
    /// let boxed = Box::new([0u8; 100]);
    /// let after = GLOBAL.stats();
    /// assert_eq!(after.allocations - before.allocations, 1);
    /// assert_eq!(after.allocated_bytes - before.allocated_bytes, 100);
    /// # drop(boxed);
    /// # }
    /// ```
    ///
    /// For counting with no locked instruction, see `new_thread_owned` (feature
    /// `thread-owned`).
    #[cfg_attr(not(feature = "thread-owned"), doc(alias = "new_thread_owned"))]
    #[must_use]
    pub const fn new(inner: A) -> Self {
        Self {
            counters: Counters::new(false),
            inner,
        }
    }

    /// Wraps `inner` in **thread-owned mode**: each thread claims its own block of counters on
    /// its first call and then updates it with plain stores, no locked instruction, which makes
    /// counting about as cheap as it gets (see the README's overhead table). Counts stay exact.
    ///
    /// Costs: with the feature on, the process has a pool of 128 blocks of 4 KiB (zeroed static
    /// memory, untouched until claimed), and [`stats`](Self::stats) of a thread-owned instance
    /// also reads the blocks it claimed. A block is not released when its thread ends (no
    /// thread-local destructor may run inside an allocator); after 128 threads, further threads
    /// count in the shared shards at the usual cost. A thread counts thread-owned for one
    /// instance only (normally the global allocator).
    ///
    /// ```
    /// use heapster::Heapster;
    /// use std::alloc::System;
    ///
    /// #[global_allocator]
    /// static GLOBAL: Heapster<System> = Heapster::new_thread_owned(System);
    ///
    /// # fn main() {
    /// let (_, diff) = GLOBAL.measure(|| vec![1u8; 100]);
    /// assert_eq!((diff.allocations, diff.allocated_bytes), (1, 100));
    /// # }
    /// ```
    #[cfg(feature = "thread-owned")]
    #[cfg_attr(docsrs, doc(cfg(feature = "thread-owned")))]
    #[must_use]
    pub const fn new_thread_owned(inner: A) -> Self {
        Self {
            counters: Counters::new(true),
            inner,
        }
    }

    /// The wrapped allocator.
    pub const fn inner(&self) -> &A {
        &self.inner
    }

    /// A snapshot of every counter. Never allocates; takes a few microseconds (it sums the
    /// shards).
    ///
    /// Once other threads are quiet the snapshot is exact. While they allocate it may include
    /// some of their in-flight calls and not others, and derived values saturate at zero.
    pub fn stats(&self) -> Stats {
        self.counters.stats()
    }

    /// Runs `f` and returns its result with what this allocator counted meanwhile (`after -
    /// before`).
    ///
    /// This counts every thread's calls: on a global allocator, allocations made by other
    /// threads during `f` are included. Cargo runs tests on parallel threads, so an exact count
    /// in a test wants `measure_thread` (feature `scoped`), which counts only the calls of the
    /// current thread; `measure_future` does the same for an async task, and `Budget` and
    /// `assert_allocations!` build on them. `measure` suits a `harness = false` test binary or
    /// a benchmark, where nothing else runs.
    ///
    /// ```
    /// use heapster::Heapster;
    /// use std::alloc::System;
    ///
    /// #[global_allocator]
    /// static GLOBAL: Heapster<System> = Heapster::new(System);
    ///
    /// # fn main() {
    /// let (len, diff) = GLOBAL.measure(|| vec![1u64; 10].len());
    /// assert_eq!(len, 10);
    /// assert_eq!(diff.allocations, 1);
    /// assert_eq!(diff.allocated_bytes, 80);
    /// assert_eq!(diff.live_bytes(), 0); // the vector was dropped inside `f`
    /// # }
    /// ```
    #[cfg_attr(
        not(feature = "scoped"),
        doc(
            alias = "measure_thread",
            alias = "measure_future",
            alias = "assert_allocations"
        )
    )]
    pub fn measure<R>(&self, f: impl FnOnce() -> R) -> (R, Stats) {
        let before = self.stats();
        let result = f();
        let after = self.stats();
        #[allow(
            clippy::arithmetic_side_effects,
            reason = "`Stats` subtraction saturates"
        )]
        (result, after - before)
    }

    /// The highest live-bytes value seen since the previous call (or since creation), and
    /// restarts the interval at the current live bytes. Meant for **one** periodic reader such
    /// as an exporter's sampler (two readers would each see only part of the spikes): spikes
    /// between two samples still show.
    ///
    /// Same precision as [`Stats::peak_bytes`]. Call it right after [`stats`](Self::stats), which
    /// folds the exact live bytes into every mark.
    pub fn take_interval_peak(&self) -> u64 {
        let live = self.counters.estimate();
        self.counters.restart_mark(Mark::Interval).max(live)
    }

    /// Restarts the mark read by [`peak_since_reset`](Self::peak_since_reset) at the current
    /// live bytes. The lifetime peak ([`Stats::peak_bytes`]) and the interval peak are not
    /// affected.
    pub fn reset_peak(&self) {
        self.counters.restart_mark(Mark::User);
    }

    /// The highest live-bytes value seen since [`reset_peak`](Self::reset_peak) (or since
    /// creation). Same precision as [`Stats::peak_bytes`].
    ///
    /// ```
    /// use heapster::Heapster;
    /// use std::alloc::{GlobalAlloc, Layout, System};
    ///
    /// let heap = Box::new(Heapster::new(System));
    /// let big = Layout::from_size_align(1 << 20, 8).unwrap();
    /// // SAFETY: non-zero size; freed with the same layout.
    /// unsafe {
    ///     let p = heap.alloc(big);
    ///     heap.dealloc(p, big);
    /// }
    /// assert!(heap.peak_since_reset() >= 1 << 20);
    /// heap.reset_peak();
    /// assert!(heap.peak_since_reset() < 1 << 20);
    /// assert!(heap.stats().peak_bytes >= 1 << 20); // the lifetime peak stays
    /// ```
    pub fn peak_since_reset(&self) -> u64 {
        self.counters.mark(Mark::User)
    }
}

/// Thread and task scopes (feature `scoped`).
impl<A> Heapster<A> {
    /// This instance's identity for scopes: the address of its counters.
    #[cfg(feature = "scoped")]
    fn id(&self) -> usize {
        core::ptr::from_ref(&self.counters).addr()
    }

    /// Runs `f` and returns its result with **exactly** the calls that the current thread made to
    /// this allocator meanwhile, whatever other threads do.
    ///
    /// Scopes nest: an inner scope's calls also count in the outer one. Calls made by other
    /// threads (including threads `f` spawns) are not counted; a block allocated here and freed
    /// by another thread counts as an allocation here and a deallocation there. The result's
    /// [`peak_bytes`](Stats::peak_bytes) is the exact high-water mark of the scope's net bytes
    /// (what it allocated and has not freed), relative to its start.
    ///
    /// ```
    /// use heapster::Heapster;
    /// use std::alloc::System;
    ///
    /// #[global_allocator]
    /// static GLOBAL: Heapster<System> = Heapster::new(System);
    ///
    /// # fn main() {
    /// // Other threads allocating at the same time do not disturb the measurement.
    /// let noise = std::thread::spawn(|| (0..10_000).map(|i| i.to_string()).count());
    /// let (s, stats) = GLOBAL.measure_thread(|| {
    ///     let mut s = String::with_capacity(64);
    ///     s.push_str("exact");
    ///     s
    /// });
    /// assert_eq!(stats.allocations, 1);
    /// assert_eq!(stats.allocated_bytes, 64);
    /// assert_eq!(stats.peak_bytes, 64);
    /// assert_eq!(s, "exact");
    /// noise.join().unwrap();
    /// # }
    /// ```
    #[cfg(feature = "scoped")]
    #[cfg_attr(docsrs, doc(cfg(feature = "scoped")))]
    pub fn measure_thread<R>(&self, f: impl FnOnce() -> R) -> (R, Stats) {
        let frame = Frame::new(self.id());
        let entered = frame.enter();
        let result = f();
        drop(entered);
        (result, frame.stats())
    }

    /// Wraps a future so that it resolves to its output and **exactly** the calls made to this
    /// allocator while it was being polled, on whichever threads polled it (a multi-threaded
    /// runtime may move it between workers). Other tasks are not counted, nor are tasks it
    /// spawns; futures it awaits directly are, since they are polled inside its polls.
    ///
    /// ```
    /// use heapster::Heapster;
    /// use std::alloc::System;
    ///
    /// #[global_allocator]
    /// static GLOBAL: Heapster<System> = Heapster::new(System);
    ///
    /// # fn main() {
    /// let task = GLOBAL.measure_future(async { vec![0u8; 100].len() });
    /// // Any executor; here a minimal one.
    /// let (len, stats) = block_on(task);
    /// assert_eq!((len, stats.allocations, stats.zeroed_bytes), (100, 1, 100));
    /// # }
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     let mut f = std::pin::pin!(f);
    /// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    /// #     loop {
    /// #         if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; }
    /// #     }
    /// # }
    /// ```
    #[cfg(feature = "scoped")]
    #[cfg_attr(docsrs, doc(cfg(feature = "scoped")))]
    pub fn measure_future<F: core::future::IntoFuture>(
        &self,
        future: F,
    ) -> Measured<F::IntoFuture> {
        Measured::new(self.id(), future.into_future())
    }
}

impl<A: Default> Default for Heapster<A> {
    fn default() -> Self {
        Self::new(A::default())
    }
}

impl<A: core::fmt::Debug> core::fmt::Debug for Heapster<A> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Heapster")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
