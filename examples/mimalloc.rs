//! Wrap mimalloc (or any other `GlobalAlloc`): heapster forwards every call to it, `realloc` and
//! `alloc_zeroed` included, and counts what it did.
//!
//! ```text
//! cargo run -p heapster-examples --example mimalloc
//! ```
//!
//! jemalloc works the same way (`Heapster<tikv_jemallocator::Jemalloc>`); it is not built here
//! because compiling jemalloc from source takes minutes on a small machine.

use heapster::Heapster;
use mimalloc::MiMalloc;

#[global_allocator]
static GLOBAL: Heapster<MiMalloc> = Heapster::new(MiMalloc);

fn main() {
    let (table, diff) = GLOBAL.measure(|| {
        let mut table: Vec<Vec<u64>> = Vec::new();
        for i in 0..1000 {
            table.push(vec![i; (i % 64) as usize + 1]);
        }
        table
    });
    assert_eq!(table.len(), 1000);
    assert_eq!(diff.allocations - diff.deallocations, 1001); // 1000 rows and the table
    println!("{diff}");
    drop(table);
}
