//! `measure_thread` is exact while other tests of this binary allocate in parallel (cargo's
//! default test threads) and while background threads churn.

use std::alloc::System;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use heapster::{Budget, Heapster, assert_allocations, assert_max_allocations};

#[global_allocator]
static GLOBAL: Heapster<System> = Heapster::new(System);

const ROUNDS: usize = 300;

/// Allocates and frees on `threads` threads until the returned guard is dropped.
fn noise(threads: usize) -> impl Drop {
    struct Stop(&'static AtomicBool, Vec<thread::JoinHandle<()>>);
    impl Drop for Stop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Relaxed);
            for h in self.1.drain(..) {
                h.join().unwrap();
            }
        }
    }
    let stop: &'static AtomicBool = Box::leak(Box::new(AtomicBool::new(false)));
    let handles = (0..threads)
        .map(|t| {
            thread::spawn(move || {
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let v: Vec<String> = (0..50).map(|j| format!("{t}-{i}-{j}")).collect();
                    black_box(v);
                    i += 1;
                }
            })
        })
        .collect();
    Stop(stop, handles)
}

#[test]
fn exact_while_other_threads_allocate() {
    let _noise = noise(2);
    for round in 0..ROUNDS {
        let (text_capacity, s) = GLOBAL.measure_thread(|| {
            let mut v: Vec<u64> = Vec::with_capacity(16);
            v.extend(0..16);
            let text = black_box(format!("round {round:04}"));
            let boxed = Box::new([0u8; 100]);
            black_box(&boxed);
            drop(boxed);
            text.capacity() as u64
        });
        assert!(text_capacity >= 10);
        assert_eq!(s.allocations, 3, "round {round}: {s:?}");
        assert_eq!(s.deallocations, 3, "round {round}");
        assert_eq!(
            s.allocated_bytes,
            128 + text_capacity + 100,
            "round {round}"
        );
        assert_eq!(s.live_bytes(), 0);
        assert_eq!(s.peak_bytes, 128 + text_capacity + 100);
        assert_eq!(s.reallocations(), 0);
    }
}

#[test]
fn exact_growth_in_parallel_with_other_tests() {
    for _ in 0..ROUNDS {
        let (cap, s) = GLOBAL.measure_thread(|| {
            let mut v: Vec<u32> = Vec::new();
            for i in 0..100 {
                v.push(black_box(i));
            }
            v.capacity()
        });
        assert_eq!(s.allocations, 1);
        assert_eq!(s.deallocations, 1);
        assert_eq!(s.allocated_bytes + s.realloc_grown_bytes, cap as u64 * 4);
        assert_eq!(s.reallocations(), s.realloc_grow_sizes.count());
        assert!(s.reallocations() >= 3);
    }
}

#[test]
fn macros_and_budgets_in_parallel_with_other_tests() {
    let _noise = noise(1);
    for i in 0..ROUNDS {
        let v = assert_allocations!(GLOBAL, 1, vec![i; 10]);
        let sum = assert_allocations!(GLOBAL, 0, v.iter().sum::<usize>());
        assert_eq!(sum, 10 * i);
        let s = assert_max_allocations!(GLOBAL, 1, i.to_string());
        assert_eq!(s, i.to_string());
        Budget::new()
            .max_allocations(2)
            .max_live_bytes(0)
            .max_peak_bytes(64)
            .run(&GLOBAL, || black_box(format!("{i}")).len());
    }
}

#[test]
fn failing_assertions_show_the_stats() {
    let message = std::panic::catch_unwind(|| assert_allocations!(GLOBAL, 0, vec![1u8; 3]))
        .unwrap_err()
        .downcast::<String>()
        .unwrap();
    assert!(
        message.contains("`vec![1u8; 3]` made 1 allocation(s), expected 0"),
        "{message}"
    );
    assert!(message.contains("allocations    1  3 B"), "{message}");
    let err = Budget::new()
        .max_allocated_bytes(2)
        .check(&GLOBAL.measure_thread(|| vec![1u8; 3]).1)
        .unwrap_err();
    assert!(err.to_string().contains("allocated bytes 3 > 2"), "{err}");
}

#[test]
fn frees_on_another_thread_count_there() {
    // Allocated here, handed over, freed there: the allocation counts in this thread's scope,
    // the deallocation in the scope of the thread that frees.
    let slot: std::sync::Mutex<Option<Vec<u8>>> = std::sync::Mutex::new(None);
    let ((), here) = GLOBAL.measure_thread(|| {
        let v = vec![7u8; 1000];
        *slot.lock().unwrap() = Some(v);
    });
    assert_eq!((here.allocations, here.deallocations), (1, 0));
    assert_eq!(here.live_bytes(), 1000);
    let there = thread::scope(|s| {
        s.spawn(|| {
            GLOBAL
                .measure_thread(|| drop(slot.lock().unwrap().take()))
                .1
        })
        .join()
        .unwrap()
    });
    assert_eq!((there.allocations, there.deallocations), (0, 1));
    assert_eq!(there.deallocated_bytes, 1000);
    assert_eq!(there.net_bytes(), -1000);
    assert_eq!(there.live_bytes(), 0);
}
