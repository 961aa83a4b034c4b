//! Reading the process's memory never allocates, so the sampler can take it with every sample.

use std::alloc::System;

use heapster::Heapster;
use heapster_exporter::ProcessMemory;

#[global_allocator]
static GLOBAL: Heapster<System> = Heapster::new(System);

#[test]
fn reading_process_memory_never_allocates() {
    // The first read also reads the page size once; neither allocates.
    for _ in 0..3 {
        let (read, stats) = GLOBAL.measure_thread(ProcessMemory::read);
        assert_eq!(
            (stats.allocations, stats.allocated_bytes),
            (0, 0),
            "{read:?}"
        );
        if ProcessMemory::SUPPORTED {
            let memory = read.unwrap();
            assert!(memory.resident_bytes > 0, "{memory:?}");
        }
    }
}
