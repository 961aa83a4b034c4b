//! `measure_future` is exact on a multi-threaded tokio runtime while other tasks allocate, and
//! follows the task when the runtime moves it between worker threads.
//!
//! What a poll allocates is counted, including what the runtime itself allocates during the
//! poll (a task that yields may make the runtime grow a queue), and nothing else.

use std::alloc::System;
use std::collections::HashSet;
use std::hint::black_box;
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;

use heapster::Heapster;

#[global_allocator]
static GLOBAL: Heapster<System> = Heapster::new(System);

#[test]
fn exact_on_a_multi_threaded_runtime() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .build()
        .unwrap();
    let threads_seen: Arc<Mutex<HashSet<ThreadId>>> = Arc::default();
    rt.block_on(async {
        // Tasks that allocate all the time.
        let noise: Vec<_> = (0..6)
            .map(|t| {
                tokio::spawn(async move {
                    for i in 0..2_000 {
                        black_box(format!("noise {t} {i}"));
                        tokio::task::yield_now().await;
                    }
                })
            })
            .collect();
        let measured: Vec<_> = (0..8)
            .map(|task| {
                let threads_seen = threads_seen.clone();
                tokio::spawn(GLOBAL.measure_future(async move {
                    let mut kept = Vec::new();
                    for step in 0..50u64 {
                        // Zeroed vectors: the task's own allocations, told apart from the runtime's.
                        kept.push(vec![0u64; 10 + step as usize + task]);
                        threads_seen
                            .lock()
                            .unwrap()
                            .insert(std::thread::current().id());
                        tokio::task::yield_now().await;
                    }
                    kept.len()
                }))
            })
            .collect();
        for (task, handle) in measured.into_iter().enumerate() {
            let (len, s) = handle.await.unwrap();
            assert_eq!(len, 50);
            // Exactly this task's 50 zeroed vectors, wherever it was polled, whatever the other
            // tasks did meanwhile.
            let bytes: u64 = (0..50).map(|step| (10 + step + task as u64) * 8).sum();
            assert_eq!(s.zeroed_allocations, 50, "task {task}: {s:?}");
            assert_eq!(s.zeroed_bytes, bytes, "task {task}: {s:?}");
            assert!(s.allocations >= 51, "the outer vector too: {s:?}");
        }
        for n in noise {
            n.await.unwrap();
        }
    });
    assert!(!threads_seen.lock().unwrap().is_empty());
}

#[test]
fn exact_counts_with_yields_between_allocations() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(3)
        .build()
        .unwrap();
    rt.block_on(async {
        let noise: Vec<_> = (0..4)
            .map(|t| {
                tokio::spawn(async move {
                    for i in 0..3_000 {
                        black_box(vec![t; i % 100 + 1]);
                        tokio::task::yield_now().await;
                    }
                })
            })
            .collect();
        for round in 0..40usize {
            let handles: Vec<_> = (0..4)
                .map(|task| {
                    tokio::spawn(GLOBAL.measure_future(async move {
                        let mut total = 0;
                        for step in 0..20 {
                            let v = black_box(vec![0u8; 64 + step + task]);
                            tokio::task::yield_now().await;
                            total += v.len();
                        }
                        total
                    }))
                })
                .collect();
            for (task, h) in handles.into_iter().enumerate() {
                let (total, s) = h.await.unwrap();
                assert_eq!(total, (0..20).map(|s| 64 + s + task).sum::<usize>());
                // The task's own allocations are the zeroed ones (`vec![0; n]`): exactly 20,
                // whatever the other tasks and the other rounds do. The runtime may also allocate
                // while it polls the task (when the task yields, it may grow a queue): that
                // happens during a poll, so it is counted too, as plain allocations.
                assert_eq!(s.zeroed_allocations, 20, "round {round}: {s:?}");
                assert_eq!(s.zeroed_bytes, total as u64, "round {round}: {s:?}");
                assert!(s.allocations >= 20 && s.deallocations >= 20, "{s:?}");
                assert!(s.deallocated_bytes >= total as u64, "{s:?}");
                assert_eq!(s.allocation_sizes.count(), s.allocations);
            }
        }
        for n in noise {
            n.await.unwrap();
        }
    });
}
