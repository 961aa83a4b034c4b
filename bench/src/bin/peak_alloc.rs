//! Benchmark configuration: the peer `peak_alloc` (always over `System`).

use peak_alloc::PeakAlloc;

heapster_bench::configuration!("peak_alloc", PeakAlloc = PeakAlloc, |g| g.peak_usage());
