//! Benchmark configuration: bare mimalloc.

use mimalloc::MiMalloc;

heapster_bench::configuration!("mimalloc", MiMalloc = MiMalloc, |_g| 0);
