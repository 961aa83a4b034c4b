//! `measure()` around real `Vec`, `String` and `Box` code with `Heapster<System>` installed as
//! the global allocator.
//!
//! `measure` counts every thread of the process, and the libtest harness allocates on its main
//! thread while a test starts, so this binary has no harness (`harness = false`): `main` runs
//! the checks on a process with a single thread.

use std::alloc::System;
use std::hint::black_box;

use heapster::Heapster;

#[global_allocator]
static GLOBAL: Heapster<System> = Heapster::new(System);

fn main() {
    measure_counts_real_collections_exactly();
    println!("global_measure: 1 passed, 0 failed");
}

fn measure_counts_real_collections_exactly() {
    // A boxed value: one allocation of its size, freed inside.
    let ((), d) = GLOBAL.measure(|| drop(black_box(Box::new([7u64; 4]))));
    assert_eq!((d.allocations, d.allocated_bytes), (1, 32));
    assert_eq!((d.deallocations, d.deallocated_bytes), (1, 32));
    assert_eq!(d.live_bytes(), 0);
    assert_eq!(d.allocation_sizes.bucket(5), 1);

    // Kept alive: the difference shows it as live.
    let (kept, d) = GLOBAL.measure(|| black_box(String::from("heapster")));
    assert_eq!(
        (d.allocations, d.allocated_bytes, d.deallocations),
        (1, 8, 0)
    );
    assert_eq!((d.live_bytes(), d.live_allocations()), (8, 1));
    let ((), d) = GLOBAL.measure(|| drop(kept));
    assert_eq!((d.deallocations, d.deallocated_bytes), (1, 8));
    assert_eq!(d.net_bytes(), -8);

    // `vec![0; n]` asks for zeroed memory; `vec![1; n]` does not.
    let ((), d) = GLOBAL.measure(|| drop(black_box(vec![0u8; 4096])));
    assert_eq!(
        (d.zeroed_allocations, d.zeroed_bytes, d.allocations),
        (1, 4096, 1)
    );
    let ((), d) = GLOBAL.measure(|| drop(black_box(vec![1u8; 4096])));
    assert_eq!((d.zeroed_allocations, d.allocations), (0, 1));

    // Growing a vector one push at a time: one allocation, then reallocations.
    let (cap, d) = GLOBAL.measure(|| {
        let mut v: Vec<u64> = Vec::new();
        for i in 0..1000 {
            v.push(black_box(i));
        }
        let cap = v.capacity();
        drop(v);
        cap
    });
    assert_eq!((d.allocations, d.deallocations), (1, 1));
    assert!(d.reallocations() >= 5, "{d:?}");
    assert_eq!(d.realloc_shrink_sizes.count(), 0);
    // Every byte of growth is accounted: first block + growth = the block that was freed.
    assert_eq!(d.allocated_bytes + d.realloc_grown_bytes, (cap * 8) as u64);
    assert_eq!(d.deallocated_bytes, (cap * 8) as u64);
    assert_eq!(d.reallocations(), d.realloc_grow_sizes.count());

    // Shrinking: `shrink_to_fit` reallocates to a smaller size.
    let mut v: Vec<u8> = Vec::with_capacity(10_000);
    v.extend_from_slice(&[1, 2, 3]);
    let ((), d) = GLOBAL.measure(|| v.shrink_to_fit());
    assert_eq!(d.reallocations(), 1);
    assert_eq!(d.realloc_shrunk_bytes, 10_000 - 3);
    assert_eq!(d.realloc_shrink_sizes.bucket(14), 1);
    assert_eq!(d.net_bytes(), -(10_000 - 3));
    drop(v);

    // A refused allocation (64 TiB) is a failure and nothing else; so is a refused growth, which
    // leaves the vector's block live and unchanged.
    let (result, d) = GLOBAL.measure(|| Vec::<u8>::new().try_reserve_exact(1 << 46));
    assert!(result.is_err());
    assert_eq!(
        (d.alloc_failures, d.allocations, d.live_bytes()),
        (1, 0, 0),
        "{d:?}"
    );
    let mut v = vec![1u8; 100];
    let (result, d) = GLOBAL.measure(|| v.try_reserve_exact(1 << 46));
    assert!(result.is_err());
    assert_eq!(
        (d.realloc_failures, d.reallocations(), d.net_bytes()),
        (1, 0, 0),
        "{d:?}"
    );
    drop(v);

    // Nothing allocated: an empty difference.
    let (n, d) = GLOBAL.measure(|| black_box(2) + 2);
    assert_eq!(n, 4);
    assert!(d.is_empty(), "{d:?}");
}
