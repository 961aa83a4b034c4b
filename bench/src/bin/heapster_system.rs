//! Benchmark configuration: `Heapster<System>` (heapster counts everything, always).

use heapster::Heapster;
use std::alloc::System;

heapster_bench::configuration!(
    "Heapster<System>",
    Heapster<System> = Heapster::new(System),
    |g| g.stats().allocations
);
