//! Allocation budgets in tests: assert how many allocations (and bytes) a piece of code makes.
//!
//! `measure` counts every thread of the process, so keep measured code on a quiet process (an
//! integration-test binary with one `#[test]`, or a `harness = false` test like this one).
//!
//! ```text
//! cargo run -p heapster-examples --example alloc_budget
//! ```

use std::alloc::System;
use std::fmt::Write;

use heapster::Heapster;

#[global_allocator]
static GLOBAL: Heapster<System> = Heapster::new(System);

/// Formats `ids` into `out` without allocating once `out` has room.
fn render(ids: &[u32], out: &mut String) {
    out.clear();
    for id in ids {
        let _ = write!(out, "{id},");
    }
}

fn main() {
    let ids: Vec<u32> = (0..100).collect();
    let mut out = String::with_capacity(1024);

    // The budget: rendering into a buffer with room allocates nothing.
    let ((), diff) = GLOBAL.measure(|| render(&ids, &mut out));
    assert_eq!(diff.allocations, 0, "render allocated:\n{diff}");
    assert_eq!(diff.reallocations(), 0);

    // The naive version allocates once per id (plus the growing result).
    let (joined, diff) =
        GLOBAL.measure(|| ids.iter().map(u32::to_string).collect::<Vec<_>>().join(","));
    assert!(diff.allocations >= 100, "{diff}");
    println!(
        "render: 0 allocations; naive join: {} allocations, {} bytes ({} chars)",
        diff.allocations,
        diff.allocated_bytes,
        joined.len()
    );
}
