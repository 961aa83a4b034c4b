//! [`Source`]: where a [`Sampler`](crate::Sampler) reads its counters.

use std::sync::Arc;

use heapster::{Heapster, Stats};

/// Something that can be sampled: usually `&'static Heapster<A>`, the global allocator.
///
/// Implemented for [`Heapster`], for `&'static` references and [`Arc`]s of a source, and for a
/// fixed [`Stats`] value (tests, golden files). Implement it for anything else that produces
/// `Stats`, such as the merged numbers of several allocators.
pub trait Source: Send + Sync + 'static {
    /// A snapshot of every counter. Called first on each sample.
    fn stats(&self) -> Stats;

    /// The highest live-bytes value since the previous call, restarting the interval. Called
    /// right after [`stats`](Self::stats) on each sample, by one sampler only.
    fn take_interval_peak(&self) -> u64;
}

impl<A: Send + Sync + 'static> Source for Heapster<A> {
    fn stats(&self) -> Stats {
        Heapster::stats(self)
    }

    fn take_interval_peak(&self) -> u64 {
        Heapster::take_interval_peak(self)
    }
}

impl<S: Source + ?Sized> Source for &'static S {
    fn stats(&self) -> Stats {
        (**self).stats()
    }

    fn take_interval_peak(&self) -> u64 {
        (**self).take_interval_peak()
    }
}

impl<S: Source + ?Sized> Source for Arc<S> {
    fn stats(&self) -> Stats {
        (**self).stats()
    }

    fn take_interval_peak(&self) -> u64 {
        (**self).take_interval_peak()
    }
}

/// A fixed snapshot: every sample is this value, and its interval peak is
/// [`peak_bytes`](Stats::peak_bytes).
impl Source for Stats {
    fn stats(&self) -> Stats {
        *self
    }

    fn take_interval_peak(&self) -> u64 {
        self.peak_bytes
    }
}
