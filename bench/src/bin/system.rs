//! Benchmark configuration: the bare `System` allocator, the baseline of every ratio.

use std::alloc::System;

heapster_bench::configuration!("System", System = System, |_g| 0);
