//! Benchmark configuration: `Heapster<System>` built with the `scoped` feature, so every call
//! also checks for an installed scope (none is): the cost of the feature when unused.

use heapster::Heapster;
use std::alloc::System;

heapster_bench::configuration!(
    "Heapster<System> +scoped",
    Heapster<System> = Heapster::new(System),
    |g| g.stats().allocations
);
