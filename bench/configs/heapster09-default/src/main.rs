//! Benchmark configuration: heapster 0.9, default features (counts and sums only), over
//! `System`.

use heapster09::Heapster;
use std::alloc::System;

heapster_bench::configuration!(
    "heapster 0.9 default",
    Heapster<System> = Heapster::new(System),
    |g| g.stats().alloc_count
);
