//! Benchmark configuration: the peer `stats_alloc` over `System`.

use stats_alloc::StatsAlloc;
use std::alloc::System;

heapster_bench::configuration!(
    "stats_alloc",
    StatsAlloc<System> = StatsAlloc::system(),
    |g| g.stats().allocations
);
