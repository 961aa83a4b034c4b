//! Quickstart: install `Heapster` as the global allocator, do some work, print what the heap did.
//!
//! ```text
//! cargo run -p heapster-examples --example quickstart
//! ```

use std::alloc::System;
use std::collections::BTreeMap;

use heapster::Heapster;

#[global_allocator]
static GLOBAL: Heapster<System> = Heapster::new(System);

fn main() {
    let before = GLOBAL.stats();

    // Some ordinary work: a map of formatted strings, grown, shrunk and dropped.
    let mut map: BTreeMap<u32, String> = BTreeMap::new();
    for i in 0..20_000u32 {
        map.insert(i, format!("entry number {i}"));
    }
    let mut lengths: Vec<usize> = map.values().map(String::len).collect();
    lengths.truncate(10);
    lengths.shrink_to_fit();
    drop(map);

    // One measured step: what exactly did it allocate?
    let (total, diff) = GLOBAL.measure(|| lengths.iter().sum::<usize>().to_string());
    println!(
        "sum of ten lengths = {total}: {} allocation(s), {} bytes\n",
        diff.allocations, diff.allocated_bytes
    );

    println!("{}", GLOBAL.stats() - before);
}
