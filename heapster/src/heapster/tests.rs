//! Unit tests over a scripted inner allocator: every realloc kind, failure path and bucket
//! boundary, asserted exactly on a local instance.

#![allow(clippy::arithmetic_side_effects, reason = "test arithmetic")]

use core::alloc::{GlobalAlloc, Layout};
use core::sync::atomic::{AtomicU8, AtomicUsize, Ordering::Relaxed};
use std::boxed::Box;

use super::Heapster;
use crate::bucket::BUCKETS;
use crate::counters::{PUBLISH_BYTES, STEP};
use crate::stats::Stats;

/// What the scripted allocator does on its next call.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
enum Next {
    /// Succeed; a `realloc` keeps the pointer.
    InPlace = 0,
    /// Succeed; a `realloc` returns a new pointer.
    Move = 1,
    /// Return null.
    Fail = 2,
}

/// An inner allocator that never touches memory: it hands out distinct fake addresses and does
/// what it is told. (`Heapster` never dereferences a pointer, so none of them is ever read.)
struct Script {
    next_address: AtomicUsize,
    next: AtomicU8,
    calls: AtomicUsize,
}

impl Script {
    fn new() -> Self {
        Self {
            next_address: AtomicUsize::new(1 << 40),
            next: AtomicU8::new(Next::InPlace as u8),
            calls: AtomicUsize::new(0),
        }
    }

    fn then(&self, next: Next) {
        self.next.store(next as u8, Relaxed);
    }

    fn take(&self) -> Next {
        self.calls.fetch_add(1, Relaxed);
        match self.next.swap(Next::InPlace as u8, Relaxed) {
            0 => Next::InPlace,
            1 => Next::Move,
            _ => Next::Fail,
        }
    }

    fn fresh(&self) -> *mut u8 {
        self.next_address.fetch_add(4096, Relaxed) as *mut u8
    }
}

// SAFETY: test-only allocator whose pointers are never dereferenced by anyone: `Heapster` only
// compares them, and the tests only pass them back.
unsafe impl GlobalAlloc for Script {
    unsafe fn alloc(&self, _: Layout) -> *mut u8 {
        match self.take() {
            Next::Fail => core::ptr::null_mut(),
            _ => self.fresh(),
        }
    }

    unsafe fn dealloc(&self, _: *mut u8, _: Layout) {
        self.take();
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        unsafe { self.alloc(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, _: Layout, _: usize) -> *mut u8 {
        match self.take() {
            Next::InPlace => ptr,
            Next::Move => self.fresh(),
            Next::Fail => core::ptr::null_mut(),
        }
    }
}

fn heap() -> Box<Heapster<Script>> {
    Box::new(Heapster::new(Script::new()))
}

fn layout(size: usize) -> Layout {
    Layout::from_size_align(size, 1).unwrap()
}

fn alloc(h: &Heapster<Script>, size: usize) -> *mut u8 {
    // SAFETY: scripted allocator, pointers never dereferenced.
    unsafe { h.alloc(layout(size)) }
}

fn alloc_zeroed(h: &Heapster<Script>, size: usize) -> *mut u8 {
    // SAFETY: as above.
    unsafe { h.alloc_zeroed(layout(size)) }
}

fn dealloc(h: &Heapster<Script>, p: *mut u8, size: usize) {
    // SAFETY: as above.
    unsafe { h.dealloc(p, layout(size)) }
}

fn realloc(h: &Heapster<Script>, p: *mut u8, old: usize, new: usize) -> *mut u8 {
    // SAFETY: as above.
    unsafe { h.realloc(p, layout(old), new) }
}

#[test]
fn allocations_and_deallocations() {
    let h = heap();
    let a = alloc(&h, 100);
    let b = alloc_zeroed(&h, 4096);
    let _c = alloc(&h, 1);
    dealloc(&h, a, 100);
    let s = h.stats();
    assert_eq!(s.allocations, 3);
    assert_eq!(s.allocated_bytes, 4197);
    assert_eq!(s.zeroed_allocations, 1);
    assert_eq!(s.zeroed_bytes, 4096);
    assert_eq!(s.deallocations, 1);
    assert_eq!(s.deallocated_bytes, 100);
    assert_eq!(s.live_allocations(), 2);
    assert_eq!(s.live_bytes(), 4097);
    assert_eq!(s.allocation_sizes.count(), 3);
    assert_eq!(s.allocation_sizes.sum(), 4197);
    assert_eq!(s.allocation_sizes.bucket(0), 1);
    assert_eq!(s.allocation_sizes.bucket(7), 1);
    assert_eq!(s.allocation_sizes.bucket(12), 1);
    assert_eq!(s.reallocations(), 0);
    // The true peak (4197) came and went between snapshots, under the publication threshold.
    assert!((4097..=4197).contains(&s.peak_bytes));
    dealloc(&h, b, 4096);
    assert_eq!(h.stats().live_bytes(), 1);
    assert_eq!(h.inner().calls.load(Relaxed), 5);
}

#[test]
fn every_realloc_kind() {
    let h = heap();
    let p = alloc(&h, 100);

    let p2 = realloc(&h, p, 100, 300); // grew in place
    assert_eq!(p2, p);
    let d = h.measure(|| ()).1;
    assert!(d.is_empty());

    let (p3, d) = h.measure(|| realloc(&h, p2, 300, 250)); // shrank in place
    assert_eq!(p3, p);
    assert_eq!((d.realloc_shrank_in_place, d.realloc_shrunk_bytes), (1, 50));
    assert_eq!(d.realloc_shrink_sizes.bucket(6), 1);
    assert_eq!(d.net_bytes(), -50);

    let (p4, d) = h.measure(|| realloc(&h, p3, 250, 250)); // unchanged
    assert_eq!(p4, p);
    assert_eq!(d.realloc_unchanged, 1);
    assert_eq!(d.reallocations(), 1);
    assert_eq!(d.net_bytes(), 0);
    assert!(d.realloc_grow_sizes.is_empty() && d.realloc_shrink_sizes.is_empty());

    h.inner().then(Next::Move);
    let (p5, d) = h.measure(|| realloc(&h, p4, 250, 1000)); // moved, growing
    assert_ne!(p5, p4);
    assert_eq!((d.realloc_moved, d.realloc_moved_bytes), (1, 250));
    assert_eq!((d.realloc_grown_bytes, d.realloc_grew_in_place), (750, 0));
    assert_eq!(d.realloc_grow_sizes.bucket(10), 1);

    h.inner().then(Next::Move);
    let (p6, d) = h.measure(|| realloc(&h, p5, 1000, 10)); // moved, shrinking
    assert_eq!((d.realloc_moved, d.realloc_moved_bytes), (1, 10));
    assert_eq!(
        (d.realloc_shrunk_bytes, d.realloc_shrank_in_place),
        (990, 0)
    );
    assert_eq!(d.realloc_shrink_sizes.bucket(10), 1);

    h.inner().then(Next::Move);
    let (p7, d) = h.measure(|| realloc(&h, p6, 10, 10)); // moved, same size
    assert_eq!((d.realloc_moved, d.realloc_moved_bytes), (1, 10));
    assert_eq!((d.realloc_unchanged, d.net_bytes()), (0, 0));

    let s = h.stats();
    assert_eq!(s.realloc_grew_in_place, 1);
    assert_eq!(s.realloc_shrank_in_place, 1);
    assert_eq!(s.realloc_moved, 3);
    assert_eq!(s.realloc_unchanged, 1);
    assert_eq!(s.reallocations(), 6);
    assert_eq!(s.realloc_grown_bytes, 200 + 750);
    assert_eq!(s.realloc_shrunk_bytes, 50 + 990);
    assert_eq!(s.realloc_moved_bytes, 250 + 10 + 10);
    assert_eq!(s.realloc_grow_sizes.count(), 2);
    assert_eq!(s.realloc_grow_sizes.sum(), 950);
    assert_eq!(s.realloc_shrink_sizes.count(), 2);
    // A realloc is neither an allocation nor a deallocation.
    assert_eq!((s.allocations, s.deallocations), (1, 0));
    assert_eq!(s.live_bytes(), 10);
    assert_eq!(s.live_allocations(), 1);
    dealloc(&h, p7, 10);
    assert_eq!(h.stats().live_bytes(), 0);
}

#[test]
fn failures_change_nothing_else() {
    let h = heap();
    let p = alloc(&h, 64);
    let before = h.stats();

    h.inner().then(Next::Fail);
    assert!(alloc(&h, 128).is_null());
    h.inner().then(Next::Fail);
    assert!(alloc_zeroed(&h, 128).is_null());
    h.inner().then(Next::Fail);
    assert!(realloc(&h, p, 64, 1 << 20).is_null());

    let d = h.stats() - before;
    assert_eq!(d.alloc_failures, 2);
    assert_eq!(d.realloc_failures, 1);
    assert_eq!(d.failures(), 3);
    let mut only_failures = Stats::new();
    only_failures.alloc_failures = 2;
    only_failures.realloc_failures = 1;
    only_failures.peak_bytes = d.peak_bytes;
    assert_eq!(d, only_failures);
    // The old block is still live.
    assert_eq!(h.stats().live_bytes(), 64);
}

#[test]
fn bucket_boundaries_through_the_allocator() {
    let h = heap();
    let mut expected = [0u64; BUCKETS];
    let mut sum = 0u64;
    for k in 1..BUCKETS {
        let p = 1usize << k;
        let sizes = if k == 63 {
            [p - 1, p - 1, p - 1] // 2^63 is not a valid `Layout` size
        } else {
            [p - 1, p, p + 1]
        };
        for size in sizes {
            let ptr = alloc(&h, size);
            dealloc(&h, ptr, size);
            expected[crate::bucket_index(size)] += 1;
            sum = sum.wrapping_add(size as u64);
        }
        // The boundaries: 2^k - 1 and 2^k in bucket k (k > 1), 2^k + 1 in bucket k + 1.
        if k > 1 && k < 63 {
            assert_eq!(crate::bucket_index(p - 1), k);
            assert_eq!(crate::bucket_index(p), k);
            assert_eq!(crate::bucket_index(p + 1), k + 1);
        }
    }
    let s = h.stats();
    assert_eq!(s.allocation_sizes.counts(), &expected);
    assert_eq!(s.allocation_sizes.sum(), sum);
    assert_eq!(s.deallocated_bytes, sum);
    assert_eq!(s.allocations, s.deallocations);
    assert_eq!(s.live_bytes(), 0);
    assert_eq!(s.allocation_sizes.bucket(1), 1); // 2
    assert_eq!(s.allocation_sizes.bucket(0), 1); // 1
}

#[test]
fn huge_sizes_and_byte_drains_stay_exact() {
    let h = heap();
    // 1 MiB is the largest packed size: a word drains once it holds 512 MiB, and its byte field
    // would overflow at 1 GiB, so 1100 of them need a drain; 2 GiB and 1 TiB are counted in the
    // wide totals directly.
    let size = 1usize << 20;
    let ptrs: std::vec::Vec<_> = (0..1100).map(|_| alloc(&h, size)).collect();
    let (two_gib, huge) = (1usize << 31, (1usize << 40) + 3);
    let (p2, big) = (alloc(&h, two_gib), alloc(&h, huge));
    let s = h.stats();
    assert_eq!(s.allocations, 1102);
    let total = 1100 * size as u64 + two_gib as u64 + huge as u64;
    assert_eq!(s.allocated_bytes, total);
    assert_eq!(s.allocation_sizes.bucket(20), 1100);
    assert_eq!(s.allocation_sizes.bucket(31), 1);
    assert_eq!(s.allocation_sizes.bucket(41), 1);
    assert_eq!(s.live_bytes(), total);
    assert!(s.peak_bytes >= total);
    for p in ptrs {
        dealloc(&h, p, size);
    }
    dealloc(&h, p2, two_gib);
    dealloc(&h, big, huge);
    let s = h.stats();
    assert_eq!((s.deallocations, s.deallocated_bytes), (1102, total));
    assert_eq!(s.live_bytes(), 0);
}

#[test]
fn count_drains_stay_exact() {
    let h = heap();
    // Unit tests drain a word once its count reaches 2^8 (`word::TRIGGER`), checked at least
    // every 1024 calls of 8 bytes: 200 000 calls of two sizes drain each word hundreds of times.
    let n = 200_000u64;
    for i in 0..n {
        let size = if i % 2 == 0 { 8 } else { 9 };
        let p = alloc(&h, size);
        dealloc(&h, p, size);
    }
    let s = h.stats();
    assert_eq!(s.allocations, n);
    assert_eq!(s.deallocations, n);
    assert_eq!(s.allocated_bytes, n / 2 * 8 + n / 2 * 9);
    assert_eq!(s.allocation_sizes.bucket(3), n / 2);
    assert_eq!(s.allocation_sizes.bucket(4), n / 2);
    assert_eq!(s.live_bytes(), 0);
}

#[test]
fn two_instances_count_independently() {
    let (a, b) = (heap(), heap());
    let p = alloc(&a, 10);
    let s = b.stats();
    assert!(s.is_empty());
    assert_eq!(s.peak_bytes, 0);
    assert_eq!(a.stats().allocations, 1);
    dealloc(&a, p, 10);
}

#[test]
fn peaks() {
    let h = heap();
    let mb = 1 << 20;
    let p = alloc(&h, mb);
    dealloc(&h, p, mb);
    // Published on the way: the peak saw the megabyte even though no snapshot did.
    assert!(h.peak_since_reset() >= mb as u64);
    assert!(h.take_interval_peak() >= mb as u64);
    let s = h.stats();
    assert!(s.peak_bytes >= mb as u64);
    assert!(s.peak_bytes < mb as u64 + PUBLISH_BYTES);
    // The interval restarted at the current live bytes (0).
    assert_eq!(h.take_interval_peak(), 0);
    let q = alloc(&h, 100);
    h.reset_peak();
    assert!(h.peak_since_reset() < PUBLISH_BYTES);
    h.stats(); // folds the exact live bytes into every mark
    assert_eq!(h.peak_since_reset(), 100);
    assert_eq!(h.take_interval_peak(), 100);
    assert!(h.stats().peak_bytes >= mb as u64);
    dealloc(&h, q, 100);
}

#[test]
fn small_allocations_reach_the_peak_within_the_bound() {
    let h = heap();
    let ptrs: std::vec::Vec<_> = (0..100_000).map(|_| alloc(&h, 16)).collect();
    let live = 16 * 100_000u64;
    // One size class on one shard: the bound is the hint's threshold plus one step.
    let bound = PUBLISH_BYTES + STEP;
    // No snapshot taken yet: the marks come from publications alone.
    let marked = h.peak_since_reset();
    assert!(marked <= live && marked + bound > live, "{marked}");
    for p in ptrs {
        dealloc(&h, p, 16);
    }
    let s = h.stats();
    assert!(s.peak_bytes + bound > live && s.peak_bytes <= live);
    assert_eq!(s.live_bytes(), 0);
}

/// Every counter of `Stats` is filled in by a snapshot: a new field that the snapshot forgets
/// fails here.
#[test]
fn every_counter_is_recorded() {
    let h = heap();
    let p = alloc(&h, 10);
    let z = alloc_zeroed(&h, 20);
    let p = realloc(&h, p, 10, 30); // grew in place
    let p = realloc(&h, p, 30, 5); // shrank in place
    let p = realloc(&h, p, 5, 5); // unchanged
    h.inner().then(Next::Move);
    let p = realloc(&h, p, 5, 7); // moved
    h.inner().then(Next::Fail);
    assert!(alloc(&h, 1).is_null());
    h.inner().then(Next::Fail);
    assert!(realloc(&h, p, 7, 8).is_null());
    h.stats(); // the peak: folded in by a snapshot while the blocks are live
    dealloc(&h, p, 7);
    dealloc(&h, z, 20);
    let s = h.stats();
    for (name, value) in s.counters().chain(s.gauges()) {
        assert_ne!(value, 0, "`{name}` is never recorded");
    }
    for (name, histogram) in s.histograms() {
        assert!(!histogram.is_empty(), "`{name}` is never recorded");
    }
}

/// Zero-size layouts break the `GlobalAlloc` contract; they are passed on but not counted, by
/// the instance and by scopes alike.
#[test]
fn zero_size_calls_are_not_counted() {
    let h = heap();
    let p = alloc(&h, 0);
    dealloc(&h, p, 0);
    assert!(h.stats().is_empty());
    assert_eq!(h.inner().calls.load(Relaxed), 2);
    #[cfg(feature = "scoped")]
    {
        let ((), s) = h.measure_thread(|| {
            let p = alloc(&h, 0);
            dealloc(&h, p, 0);
        });
        assert!(s.is_empty());
    }
}

#[cfg(feature = "scoped")]
mod scoped {
    use super::*;

    #[test]
    fn scopes_nest_and_count_only_their_instance() {
        let (h, other) = (heap(), heap());
        let ((), outer) = h.measure_thread(|| {
            let p = alloc(&h, 100);
            let q = alloc(&other, 5000); // another instance: not counted here
            let (r, inner) = h.measure_thread(|| {
                let r = alloc(&h, 1000);
                dealloc(&h, p, 100);
                r
            });
            assert_eq!((inner.allocations, inner.deallocations), (1, 1));
            assert_eq!(inner.net_bytes(), 900);
            assert_eq!(inner.peak_bytes, 1000);
            h.inner().then(Next::Move);
            let r = realloc(&h, r, 1000, 2000);
            h.inner().then(Next::Fail);
            assert!(alloc(&h, 1).is_null());
            dealloc(&h, r, 2000);
            dealloc(&other, q, 5000);
        });
        assert_eq!(outer.allocations, 2);
        assert_eq!(outer.allocated_bytes, 1100);
        assert_eq!(outer.deallocations, 2);
        assert_eq!(outer.deallocated_bytes, 2100);
        assert_eq!((outer.realloc_moved, outer.realloc_moved_bytes), (1, 1000));
        assert_eq!(outer.realloc_grown_bytes, 1000);
        assert_eq!(outer.alloc_failures, 1);
        assert_eq!(outer.net_bytes(), 0);
        // 100 live, then the inner scope's 1000 on top, then the realloc to 2000 (the 100 was
        // freed inside the inner scope).
        assert_eq!(outer.peak_bytes, 2000);
        // The instance-wide counters saw everything, as usual.
        assert_eq!(h.stats().allocations, 2);
        assert_eq!(other.stats().allocations, 1);
    }

    #[test]
    fn scope_of_other_instance_in_between() {
        let (h, other) = (heap(), heap());
        let ((), outer) = h.measure_thread(|| {
            let ((), middle) = other.measure_thread(|| {
                let p = alloc(&h, 10); // counted by `h`'s outer scope, not `other`'s
                dealloc(&h, p, 10);
            });
            assert!(middle.is_empty());
        });
        assert_eq!((outer.allocations, outer.deallocations), (1, 1));
        assert_eq!(outer.peak_bytes, 10);
    }

    #[test]
    fn a_panicking_scope_uninstalls_itself() {
        let h = heap();
        let caught = std::panic::catch_unwind(core::panic::AssertUnwindSafe(|| {
            h.measure_thread(|| {
                let _ = alloc(&h, 10);
                panic!("measured code panicked");
            })
        }));
        assert!(caught.is_err());
        // No scope is left installed: a new one starts from zero and works.
        let ((), s) = h.measure_thread(|| {
            let _ = alloc(&h, 20);
        });
        assert_eq!((s.allocations, s.allocated_bytes), (1, 20));
    }

    #[test]
    fn futures_count_their_polls_only() {
        use core::task::{Context, Poll, Waker};
        let h = heap();
        let mut step = 0;
        let fut = core::future::poll_fn(|_| {
            step += 1;
            let _ = alloc(&h, step * 100);
            if step < 3 {
                Poll::Pending
            } else {
                Poll::Ready(step)
            }
        });
        let mut measured = core::pin::pin!(h.measure_future(fut));
        let mut cx = Context::from_waker(Waker::noop());
        let mut polls = 0;
        let (out, s) = loop {
            polls += 1;
            if let Poll::Ready(v) = measured.as_mut().poll(&mut cx) {
                break v;
            }
            let _ = alloc(&h, 7); // between polls: not the future's
        };
        assert_eq!((out, polls), (3, 3));
        assert_eq!((s.allocations, s.allocated_bytes), (3, 600));
        assert_eq!(s.peak_bytes, 600);
        assert_eq!(h.stats().allocations, 5);
    }
}

#[cfg(feature = "thread-owned")]
mod thread_owned {
    use super::*;

    fn owned() -> Box<Heapster<Script>> {
        Box::new(Heapster::new_thread_owned(Script::new()))
    }

    #[test]
    fn every_kind_of_call_counts_as_in_shared_mode() {
        let (shared, own) = (heap(), owned());
        for h in [&shared, &own] {
            let p = alloc(h, 100);
            let z = alloc_zeroed(h, 3000);
            h.inner().then(Next::Move);
            let p = realloc(h, p, 100, 5000);
            let p = realloc(h, p, 5000, 10);
            h.inner().then(Next::Fail);
            assert!(alloc(h, 1).is_null());
            dealloc(h, p, 10);
            dealloc(h, z, 3000);
        }
        let (a, b) = (shared.stats(), own.stats());
        assert_eq!(a, b);
        assert_eq!(
            (b.allocations, b.realloc_moved, b.alloc_failures),
            (2, 1, 1)
        );
    }

    #[test]
    fn drains_stay_exact() {
        let h = owned();
        let n = 200_000u64;
        for _ in 0..n {
            let p = alloc(&h, 24);
            dealloc(&h, p, 24);
        }
        let big: std::vec::Vec<_> = (0..40).map(|_| alloc(&h, 1 << 31)).collect();
        let s = h.stats();
        assert_eq!((s.allocations, s.deallocations), (n + 40, n));
        assert_eq!(s.allocated_bytes, n * 24 + (40 << 31));
        assert_eq!(s.live_bytes(), 40 << 31);
        assert!(s.peak_bytes >= 40 << 31);
        for p in big {
            dealloc(&h, p, 1 << 31);
        }
    }

    #[test]
    fn moving_an_instance_keeps_its_blocks() {
        let h = owned();
        let p = alloc(&h, 10);
        let moved: Box<Heapster<Script>> = Box::new(*h); // a new address, same instance
        dealloc(&moved, p, 10);
        let fresh = owned(); // may land at the old address: must not reuse this thread's block
        let q = alloc(&fresh, 7);
        assert_eq!(fresh.stats().allocated_bytes, 7);
        assert_eq!(moved.stats().live_bytes(), 0);
        assert_eq!(moved.stats().allocations, 1);
        dealloc(&fresh, q, 7);
    }
}

/// Snapshots taken while threads allocate never go backwards, never overstate live bytes, and
/// the totals are exact once the threads stop. Unit tests drain a word every 256 calls, so
/// drains overlap the reads all the time here.
#[test]
fn concurrent_snapshots_are_monotonic_and_exact() {
    use core::sync::atomic::AtomicBool;
    let h = heap();
    let stop = AtomicBool::new(false);
    const THREADS: usize = 2;
    // (The scripted allocator's next-call plan is shared, so threads may take each other's
    // "move": each thread counts the moves it actually saw.)
    const HELD: usize = 64;
    const OPS: usize = 200_000;
    let moved = std::thread::scope(|s| {
        let workers: std::vec::Vec<_> = (0..THREADS)
            .map(|t| {
                let h = &h;
                s.spawn(move || {
                    let mut moved = 0u64;
                    let mut held = std::collections::VecDeque::new();
                    for i in 0..OPS {
                        let size = 1 + (i * 7 + t * 13) % 3000;
                        held.push_back((alloc(h, size), size));
                        if i % 5 == 0 {
                            let (p, old) = held.pop_front().unwrap();
                            let new = 1 + (i * 11) % 5000;
                            h.inner().then(if i % 2 == 0 {
                                Next::Move
                            } else {
                                Next::InPlace
                            });
                            let q = realloc(h, p, old, new);
                            moved += u64::from(q != p);
                            held.push_back((q, new));
                        }
                        if held.len() > HELD {
                            let (p, size) = held.pop_front().unwrap();
                            dealloc(h, p, size);
                        }
                    }
                    for (p, size) in held {
                        dealloc(h, p, size);
                    }
                    moved
                })
            })
            .collect();
        let reader = s.spawn(|| {
            let mut previous = Stats::new();
            let mut reads = 0u32;
            while !stop.load(Relaxed) {
                let now = h.stats();
                for ((name, a), (_, b)) in now.counters().zip(previous.counters()) {
                    assert!(a >= b, "`{name}` went backwards: {b} -> {a}");
                }
                for ((name, a), (_, b)) in now.histograms().zip(previous.histograms()) {
                    for (k, (x, y)) in a.counts().iter().zip(b.counts()).enumerate() {
                        assert!(x >= y, "`{name}` bucket {k} went backwards: {y} -> {x}");
                    }
                }
                // At most HELD + 1 blocks of at most 5000 bytes per thread are ever live.
                let bound = (THREADS * (HELD + 1) * 5000) as u64;
                assert!(
                    now.live_bytes() <= bound,
                    "live {} > {bound}",
                    now.live_bytes()
                );
                previous = now;
                reads += 1;
            }
            reads
        });
        let moved: u64 = workers.into_iter().map(|w| w.join().unwrap()).sum();
        stop.store(true, Relaxed);
        assert!(reader.join().unwrap() > 0);
        moved
    });
    let s = h.stats();
    assert_eq!(s.allocations, (THREADS * OPS) as u64);
    assert_eq!(s.deallocations, s.allocations);
    assert_eq!(s.live_bytes(), 0);
    assert_eq!(s.reallocations(), (THREADS * OPS / 5) as u64);
    assert_eq!(s.realloc_moved, moved);
    let expected: u64 = (0..THREADS)
        .flat_map(|t| (0..OPS).map(move |i| (1 + (i * 7 + t * 13) % 3000) as u64))
        .sum();
    assert_eq!(s.allocated_bytes, expected);
}

#[test]
fn huge_moves_are_counted_apart_from_live_bytes() {
    let h = heap();
    let (three, four) = (3usize << 30, 4usize << 30);
    let p = alloc(&h, three);
    h.inner().then(Next::Move);
    let q = realloc(&h, p, three, four); // copies 3 GiB: above the packed range
    h.inner().then(Next::Move);
    let r = realloc(&h, q, four, 100); // copies 100 bytes
    let s = h.stats();
    assert_eq!(
        (s.realloc_moved, s.realloc_moved_bytes),
        (2, three as u64 + 100)
    );
    assert_eq!((s.realloc_grew_in_place, s.realloc_shrank_in_place), (0, 0));
    assert_eq!(s.live_bytes(), 100);
    assert!(s.peak_bytes >= four as u64);
    dealloc(&h, r, 100);
    assert_eq!(h.stats().live_bytes(), 0);
}
