//! Benchmark configuration: the peer `cap` over `System`, with no limit.

use cap::Cap;
use std::alloc::System;

heapster_bench::configuration!(
    "cap",
    Cap<System> = Cap::new(System, usize::MAX),
    |g| g.allocated()
);
