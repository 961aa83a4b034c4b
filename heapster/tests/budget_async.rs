//! The async budget forms (`Budget::run_future`, `assert_allocations_async!`,
//! `assert_max_allocations_async!`) count exactly what a future allocates while it is polled,
//! across real suspensions and worker threads, while other tasks allocate all the time.

use std::alloc::System;
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;

use heapster::{Budget, Heapster, assert_allocations_async, assert_max_allocations_async};

#[global_allocator]
static GLOBAL: Heapster<System> = Heapster::new(System);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(3)
        .build()
        .unwrap()
}

/// Tasks that allocate until `stop` is set.
fn spawn_noise(stop: &Arc<AtomicBool>) -> Vec<tokio::task::JoinHandle<()>> {
    (0..4)
        .map(|t| {
            let stop = stop.clone();
            tokio::spawn(async move {
                let mut i = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    black_box(vec![t; i % 100 + 1]);
                    i += 1;
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect()
}

/// Makes exactly `n` allocations, through nested async calls.
async fn allocate(n: usize) -> usize {
    async fn one(i: usize) -> Box<usize> {
        Box::new(black_box(i))
    }
    let mut total = 0;
    for i in 0..n {
        total += *one(i).await;
    }
    total
}

/// Allocates one block, waits for `gate` (a real suspension: the task is parked until another
/// task notifies it, and may resume on another worker), then allocates a second block. The
/// caller keeps its own handle on `gate`, so nothing is freed here but the two blocks.
async fn allocate_around_a_wait(gate: Arc<Notify>, value: u64) -> u64 {
    let first = black_box(vec![1u64; 4]);
    gate.notified().await;
    let second = black_box(vec![value; 4]);
    first.iter().sum::<u64>() + second.iter().sum::<u64>()
}

fn panic_text(e: tokio::task::JoinError) -> String {
    let payload = e.into_panic();
    match payload.downcast::<String>() {
        Ok(s) => *s,
        Err(p) => p.downcast_ref::<&str>().unwrap_or(&"?").to_string(),
    }
}

#[test]
fn exact_while_other_tasks_allocate() {
    runtime().block_on(async {
        let stop = Arc::new(AtomicBool::new(false));
        let noise = spawn_noise(&stop);
        let budget = Budget::new().max_allocations(2).max_live_bytes(0);
        for round in 0..100u64 {
            let tasks: Vec<_> = (0..4usize)
                .map(|n| {
                    tokio::spawn(async move {
                        let total = assert_allocations_async!(GLOBAL, n as u64, allocate(n));
                        assert_eq!(total, (0..n).sum::<usize>());
                        assert_max_allocations_async!(GLOBAL, 3, allocate(n))
                    })
                })
                .collect();
            let gate = Arc::new(Notify::new());
            let waiting = tokio::spawn(
                budget.run_future(&GLOBAL, allocate_around_a_wait(gate.clone(), round)),
            );
            tokio::task::yield_now().await;
            gate.notify_one();
            assert_eq!(waiting.await.unwrap(), 4 + 4 * round);
            for t in tasks {
                t.await.unwrap();
            }
        }
        stop.store(true, Ordering::Relaxed);
        for n in noise {
            n.await.unwrap();
        }
    });
}

#[test]
fn overspending_futures_panic_with_the_measured_stats() {
    runtime().block_on(async {
        let stop = Arc::new(AtomicBool::new(false));
        let noise = spawn_noise(&stop);

        let too_many = tokio::spawn(
            Budget::new()
                .max_allocations(2)
                .run_future(&GLOBAL, allocate(3)),
        );
        let text = panic_text(too_many.await.unwrap_err());
        assert!(
            text.contains("allocation budget exceeded: allocations 3 > 2;"),
            "{text}"
        );
        assert!(
            text.contains(file!()),
            "names where the budget was set: {text}"
        );

        let gate = Arc::new(Notify::new());
        let waiting = allocate_around_a_wait(gate.clone(), 1);
        let leaky = Budget::new()
            .max_live_bytes(0)
            .run_future(&GLOBAL, async move {
                Box::leak(Box::new(waiting.await));
            });
        let leaky = tokio::spawn(leaky);
        gate.notify_one();
        let text = panic_text(leaky.await.unwrap_err());
        assert!(text.contains("live bytes 8 > 0;"), "{text}");

        let fewer = tokio::spawn(async { assert_allocations_async!(GLOBAL, 4, allocate(3)) });
        let text = panic_text(fewer.await.unwrap_err());
        assert!(text.contains("made 3 allocation(s), expected 4"), "{text}");
        assert!(text.contains("allocate(3)"), "shows the expression: {text}");

        let more = tokio::spawn(async { assert_max_allocations_async!(GLOBAL, 2, allocate(3)) });
        let text = panic_text(more.await.unwrap_err());
        assert!(
            text.contains("made 3 allocation(s), at most 2 allowed"),
            "{text}"
        );

        stop.store(true, Ordering::Relaxed);
        for n in noise {
            n.await.unwrap();
        }
    });
}
