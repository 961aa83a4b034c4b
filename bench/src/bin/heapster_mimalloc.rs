//! Benchmark configuration: `Heapster<MiMalloc>`.

use heapster::Heapster;
use mimalloc::MiMalloc;

heapster_bench::configuration!(
    "Heapster<mimalloc>",
    Heapster<MiMalloc> = Heapster::new(MiMalloc),
    |g| g.stats().allocations
);
