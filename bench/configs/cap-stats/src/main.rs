//! Benchmark configuration: the peer `cap` over `System`, no limit, with its `stats` feature
//! (total allocated and the peak, besides live bytes).

use cap::Cap;
use std::alloc::System;

heapster_bench::configuration!(
    "cap +stats",
    Cap<System> = Cap::new(System, usize::MAX),
    |g| g.max_allocated()
);
