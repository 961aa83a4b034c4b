//! Several threads hammer one instance with every kind of call, including frees of blocks that
//! other threads allocated and calls that fail. After they join, every counter, histogram and
//! derived value is exactly what the threads did.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Mutex;

use heapster::{Heapster, Stats};

const THREADS: usize = 8;
const OPS: usize = 40_000;

/// A block handed between threads: address and size.
struct Block(usize, usize);

/// xorshift64*: deterministic, no dependencies.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn size(&mut self) -> usize {
        // Mostly small, sometimes large, spread over many buckets.
        let bits = self.next() % 18;
        1 + (self.next() % (1 << bits)) as usize
    }
}

fn layout(size: usize) -> Layout {
    Layout::from_size_align(size, 8).unwrap()
}

/// What one thread expects, recorded with the same rules the crate documents.
fn run(heap: &Heapster<System>, seed: u64, shared: &Mutex<Vec<Block>>) -> Stats {
    let mut rng = Rng(seed);
    let mut expect = Stats::new();
    let mut mine: Vec<Block> = Vec::with_capacity(OPS);
    let impossible = Layout::from_size_align(isize::MAX as usize / 2, 8).unwrap();
    for i in 0..OPS {
        match rng.next() % 16 {
            0..=4 => {
                let size = rng.size();
                // SAFETY: non-zero size.
                let p = unsafe { heap.alloc(layout(size)) };
                assert!(!p.is_null());
                expect.allocations += 1;
                expect.allocated_bytes += size as u64;
                expect.allocation_sizes.record(size as u64);
                mine.push(Block(p as usize, size));
            }
            5 => {
                let size = rng.size();
                // SAFETY: non-zero size.
                let p = unsafe { heap.alloc_zeroed(layout(size)) };
                assert!(!p.is_null());
                expect.allocations += 1;
                expect.allocated_bytes += size as u64;
                expect.zeroed_allocations += 1;
                expect.zeroed_bytes += size as u64;
                expect.allocation_sizes.record(size as u64);
                mine.push(Block(p as usize, size));
            }
            6..=8 if !mine.is_empty() => {
                let idx = (rng.next() as usize) % mine.len();
                let Block(p, old) = mine.swap_remove(idx);
                let new = if rng.next().is_multiple_of(8) {
                    old
                } else {
                    rng.size()
                };
                // SAFETY: `p` is live with `layout(old)`; `new` is non-zero and small.
                let q = unsafe { heap.realloc(p as *mut u8, layout(old), new) };
                assert!(!q.is_null());
                let moved = q as usize != p;
                if new > old {
                    expect.realloc_grown_bytes += (new - old) as u64;
                    expect.realloc_grow_sizes.record((new - old) as u64);
                } else if new < old {
                    expect.realloc_shrunk_bytes += (old - new) as u64;
                    expect.realloc_shrink_sizes.record((old - new) as u64);
                }
                if moved {
                    expect.realloc_moved += 1;
                    expect.realloc_moved_bytes += old.min(new) as u64;
                } else if new > old {
                    expect.realloc_grew_in_place += 1;
                } else if new < old {
                    expect.realloc_shrank_in_place += 1;
                } else {
                    expect.realloc_unchanged += 1;
                }
                mine.push(Block(q as usize, new));
            }
            9..=12 if !mine.is_empty() => {
                let idx = (rng.next() as usize) % mine.len();
                let Block(p, size) = mine.swap_remove(idx);
                // SAFETY: `p` is live with `layout(size)`.
                unsafe { heap.dealloc(p as *mut u8, layout(size)) };
                expect.deallocations += 1;
                expect.deallocated_bytes += size as u64;
            }
            13 if !mine.is_empty() => {
                // Hand a block to whichever thread frees it.
                let idx = (rng.next() as usize) % mine.len();
                shared.lock().unwrap().push(mine.swap_remove(idx));
            }
            14 => {
                if let Some(Block(p, size)) = shared.lock().unwrap().pop() {
                    // SAFETY: a live block of this allocator, handed over with its size.
                    unsafe { heap.dealloc(p as *mut u8, layout(size)) };
                    expect.deallocations += 1;
                    expect.deallocated_bytes += size as u64;
                }
            }
            15 if i % 64 == 0 => {
                // SAFETY: non-zero size; the inner allocator refuses it.
                assert!(unsafe { heap.alloc(impossible) }.is_null());
                expect.alloc_failures += 1;
                if let Some(Block(p, size)) = mine.last() {
                    // SAFETY: live block; the new size fits `isize` and is refused.
                    let q =
                        unsafe { heap.realloc(*p as *mut u8, layout(*size), impossible.size()) };
                    assert!(q.is_null());
                    expect.realloc_failures += 1;
                }
            }
            _ => {}
        }
    }
    for Block(p, size) in mine {
        // SAFETY: live block with its layout.
        unsafe { heap.dealloc(p as *mut u8, layout(size)) };
        expect.deallocations += 1;
        expect.deallocated_bytes += size as u64;
    }
    expect
}

#[test]
fn counters_are_exact_after_threads_join() {
    exact_after_threads_join(&Heapster::new(System), THREADS);
}

/// Each thread owns a counter block and updates it without locked instructions.
#[cfg(feature = "thread-owned")]
#[test]
fn thread_owned_counters_are_exact_after_threads_join() {
    exact_after_threads_join(&Heapster::new_thread_owned(System), THREADS);
}

/// More threads than blocks: the late threads fall back to the shared shards, still exact.
#[cfg(feature = "thread-owned")]
#[test]
fn thread_owned_counters_stay_exact_past_the_last_block() {
    let heap = Box::new(Heapster::new_thread_owned(System));
    for _ in 0..20 {
        exact_after_threads_join(&heap, 8); // 160 threads in all: more than the 128 blocks
    }
}

fn exact_after_threads_join(heap: &Heapster<System>, threads: usize) {
    let before = heap.stats();
    let shared = Mutex::new(Vec::new());
    let expected = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (heap, shared) = (heap, &shared);
                s.spawn(move || run(heap, 0x9E37_79B9 + t as u64 * 7919, shared))
            })
            .collect();
        // Snapshots taken while the threads run never go backwards, and never show more live
        // bytes than the threads can hold (each holds at most OPS blocks under 2^17 bytes).
        let mut previous = heap.stats();
        for _ in 0..200 {
            let s = heap.stats();
            for ((name, now), (_, before)) in s.counters().zip(previous.counters()) {
                assert!(now >= before, "`{name}` went backwards: {before} -> {now}");
            }
            let bound = before.live_bytes() + (threads * OPS) as u64 * (1 << 17);
            assert!(s.live_bytes() <= bound, "live {} > {bound}", s.live_bytes());
            previous = s;
        }
        handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .fold(Stats::new(), |a, b| a + b)
    });
    // Blocks handed over but not yet freed are still live.
    let leftover = shared.into_inner().unwrap();
    let leftover_bytes: u64 = leftover.iter().map(|b| b.1 as u64).sum();

    let after = heap.stats();
    assert!(after.peak_bytes >= after.live_bytes());
    let mut actual = after - before;
    actual.peak_bytes = 0;
    assert_eq!(actual, expected);
    assert_eq!(actual.live_bytes(), leftover_bytes);
    assert_eq!(actual.live_allocations(), leftover.len() as u64);
    assert_eq!(actual.allocation_sizes.count(), actual.allocations);
    assert_eq!(actual.allocation_sizes.sum(), actual.allocated_bytes);
    assert_eq!(actual.realloc_grow_sizes.sum(), actual.realloc_grown_bytes);
    assert_eq!(
        actual.realloc_shrink_sizes.sum(),
        actual.realloc_shrunk_bytes
    );
    assert!(
        actual.realloc_moved > 0
            && actual.realloc_grew_in_place + actual.realloc_shrank_in_place > 0
    );
    assert!(actual.alloc_failures > 0 && actual.realloc_failures > 0);

    for Block(p, size) in leftover {
        // SAFETY: live block with its layout.
        unsafe { heap.dealloc(p as *mut u8, layout(size)) };
    }
    assert_eq!(heap.stats().live_bytes(), before.live_bytes());
}
