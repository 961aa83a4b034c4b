//! Benchmark configuration: heapster 0.9, all features (histograms, live bytes, peak, realloc
//! moves), over `System`.

use heapster09::Heapster;
use std::alloc::System;

heapster_bench::configuration!(
    "heapster 0.9 full",
    Heapster<System> = Heapster::new(System),
    |g| g.stats().alloc_count
);
