//! [`Source`]: where a [`Sampler`](crate::Sampler) reads its counters.

use std::sync::Arc;

use heapster::{Heapster, Stats};

use crate::process_memory::ProcessMemory;

/// Something that can be sampled: usually `&'static Heapster<A>`, the global allocator.
///
/// Implemented for [`Heapster`], for `&'static` references and [`Arc`]s of a source, and for a
/// fixed [`Stats`] value (tests, golden files). Implement it for anything else that produces
/// `Stats`, such as the merged numbers of several allocators.
///
/// # A `Heapster` that counts nothing
///
/// A `static Heapster` without `#[global_allocator]` is never called, so every metric stays at
/// zero. The global allocator, on the other hand, has always counted something by the first
/// sample (the sampler's own construction allocates), so a first sample with
/// [`Stats::is_empty`] means the source is not the global allocator. With the feature `log`,
/// the sampler then logs one warning (target `heapster_exporter`) through the `log` facade,
/// which a `tracing` subscriber receives too through `tracing-log`; without it, check
/// yourself, or alert on `heapster_allocations_total == 0`:
///
/// ```
/// use heapster::Heapster;
/// use heapster_exporter::Sampler;
/// use std::alloc::System;
///
/// static HEAP: Heapster<System> = Heapster::new(System); // no #[global_allocator]
///
/// let sampler = Sampler::new(&HEAP);
/// assert!(sampler.current().stats.is_empty()); // counted nothing: not the global allocator
/// ```
#[doc(alias = "global_allocator")]
pub trait Source: Send + Sync + 'static {
    /// A snapshot of every counter. Called first on each sample.
    fn stats(&self) -> Stats;

    /// The highest live-bytes value since the previous call, restarting the interval. Called
    /// right after [`stats`](Self::stats) on each sample, by one sampler only.
    fn take_interval_peak(&self) -> u64;

    /// The process's resident and virtual memory, read right after the heap counters; `None`
    /// where the platform does not report it. By default [`ProcessMemory::read`], which never
    /// allocates.
    fn process_memory(&self) -> Option<ProcessMemory> {
        ProcessMemory::read().ok()
    }
}

impl<A: Send + Sync + 'static> Source for Heapster<A> {
    fn stats(&self) -> Stats {
        Heapster::stats(self)
    }

    fn take_interval_peak(&self) -> u64 {
        Heapster::take_interval_peak(self)
    }
}

/// A shared reference or pointer to a source samples that source.
macro_rules! forward_to_target {
    ($($pointer:ty),+) => {$(
        impl<S: Source + ?Sized> Source for $pointer {
            fn stats(&self) -> Stats {
                (**self).stats()
            }

            fn take_interval_peak(&self) -> u64 {
                (**self).take_interval_peak()
            }

            fn process_memory(&self) -> Option<ProcessMemory> {
                (**self).process_memory()
            }
        }
    )+};
}

forward_to_target!(&'static S, Arc<S>);

/// A fixed snapshot: every sample is this value, its interval peak is
/// [`peak_bytes`](Stats::peak_bytes), and it has no process memory (so output rendered from it
/// is the same on every machine).
impl Source for Stats {
    fn stats(&self) -> Stats {
        *self
    }

    fn take_interval_peak(&self) -> u64 {
        self.peak_bytes
    }

    fn process_memory(&self) -> Option<ProcessMemory> {
        None
    }
}

/// A fixed snapshot with fixed process memory: like [`Stats`] alone, and every sample has this
/// [`ProcessMemory`] (tests, golden files).
impl Source for (Stats, ProcessMemory) {
    fn stats(&self) -> Stats {
        self.0
    }

    fn take_interval_peak(&self) -> u64 {
        self.0.peak_bytes
    }

    fn process_memory(&self) -> Option<ProcessMemory> {
        Some(self.1)
    }
}

/// Warns (feature `log`) when a source's first sample shows that it has counted nothing.
pub(crate) fn warn_if_nothing_counted(stats: &Stats) {
    #[cfg(feature = "log")]
    if stats.is_empty() {
        log::warn!(
            target: "heapster_exporter",
            "the sampled allocator has counted no allocator call at all, so every heapster \
             metric will stay at zero: if it is meant to count the program, declare it with \
             `#[global_allocator]`"
        );
    }
    #[cfg(not(feature = "log"))]
    let _ = stats;
}
