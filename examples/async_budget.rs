//! Allocation budgets for async code: assert what a future allocates while it is polled, on a
//! multi-threaded runtime where other tasks allocate all the time (feature `scoped`).
//!
//! ```text
//! cargo run -p heapster-examples --example async_budget
//! ```

use std::alloc::System;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use heapster::{Budget, Heapster, assert_allocations_async, assert_max_allocations_async};

#[global_allocator]
static GLOBAL: Heapster<System> = Heapster::new(System);

/// A request handler: one `String` for the answer, whatever else runs meanwhile.
///
/// (It does not yield: a task that yields lets the runtime run its own bookkeeping inside the
/// task's poll, which may allocate, and that would be counted too. heapster's own tests measure
/// futures across real suspensions.)
async fn handle(id: u32) -> String {
    format!("item-{id}")
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        // Background tasks that allocate all the time: not counted in the budgets below.
        let stop = Arc::new(AtomicBool::new(false));
        let noise: Vec<_> = (0..2)
            .map(|t| {
                let stop = stop.clone();
                tokio::spawn(async move {
                    while !stop.load(Ordering::Relaxed) {
                        std::hint::black_box(vec![t; 64]);
                        tokio::task::yield_now().await;
                    }
                })
            })
            .collect();

        // Exactly, or at most, so many allocations while the future was polled.
        let item = assert_max_allocations_async!(GLOBAL, 1, handle(7));
        assert_eq!(item, "item-7");
        let exact = assert_allocations_async!(GLOBAL, 1, async { format!("item-{}", 8) });
        assert_eq!(exact, "item-8");

        // Several limits at once, checked when the future completes.
        let budget = Budget::new().max_allocated_bytes(64).max_live_bytes(0);
        let len = tokio::spawn(budget.run_future(&GLOBAL, async { handle(9).await.len() }))
            .await
            .expect("within budget");
        assert_eq!(len, 6);

        // Over budget: the task panics with the measured stats.
        let leaky = Budget::new().max_live_bytes(0).run_future(&GLOBAL, async {
            let item = handle(10).await;
            Box::leak(Box::new(item.len() as u64)); // 8 bytes that outlive the future
        });
        let err = tokio::spawn(leaky)
            .await
            .expect_err("a leak is over budget");
        let message = err.into_panic().downcast::<String>().expect("a message");
        assert!(message.contains("live bytes 8 > 0"), "{message}");
        println!(
            "async budgets hold; a leak was caught:\n{}",
            message.lines().next().unwrap_or("")
        );

        stop.store(true, Ordering::Relaxed);
        for task in noise {
            task.await.expect("noise task");
        }
    });
}
