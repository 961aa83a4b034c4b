//! Benchmark configuration: `Heapster<System>` in thread-owned mode (each thread updates its own
//! counter block without locked instructions).

use heapster::Heapster;
use std::alloc::System;

heapster_bench::configuration!(
    "Heapster<System> thread-owned",
    Heapster<System> = Heapster::new_thread_owned(System),
    |g| g.stats().allocations
);
