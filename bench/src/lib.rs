//! The workloads of heapster's overhead benchmarks, shared by one binary per allocator
//! configuration.
//!
//! A global allocator is fixed per binary, so each configuration (bare `System`,
//! `Heapster<System>`, the peers, ...) is a binary of two lines: [`configuration!`] declares its
//! `#[global_allocator]` and a `main` that calls [`run`]. The orchestrator (`bench-report`, run
//! through `bench/run.sh`) runs the binaries interleaved, several rounds, and prints the table.
//!
//! A binary prints one line per scenario, `scenario<TAB>name<TAB>ns per op`, then
//! `counted<TAB>n`, a number read from the configuration's own counters after the run (so a
//! wrapper that counted nothing shows). Its arguments:
//!
//! - `--scale F`: multiply every scenario's iteration count by `F` (default 1);
//! - `--reps N`: timed repetitions per scenario after one short warm-up; the median is printed
//!   (default 3);
//! - `--only a,b`: run only these scenarios;
//! - `--count NAME N`: run scenario `NAME` for a fixed warm-up and then exactly `N` operations,
//!   untimed (for `valgrind --tool=callgrind`: the difference between two counts is the cost of
//!   the extra operations);
//! - `--list`: print the scenarios.

pub mod ablation;

use std::alloc::{Layout, alloc, dealloc, handle_alloc_error, realloc};
use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

/// Declares a configuration's `#[global_allocator]` and its `main`.
///
/// `snapshot` reads the configuration's counters once (its `stats()` or nearest equivalent) and
/// returns one number from them; it is timed as the `snapshot` scenario.
///
/// ```ignore
/// heapster_bench::configuration!("Heapster<System>", Heapster<System> = Heapster::new(System),
///     |g| g.stats().allocations);
/// ```
#[macro_export]
macro_rules! configuration {
    ($name:literal, $ty:ty = $init:expr, |$g:ident| $snapshot:expr) => {
        #[global_allocator]
        static GLOBAL: $ty = $init;

        fn main() {
            $crate::run($name, || {
                let $g = &GLOBAL;
                #[allow(clippy::cast_possible_truncation, reason = "a number to print")]
                let n = $snapshot as u64;
                n
            });
        }
    };
}

/// One benchmark scenario.
#[derive(Debug, Clone, Copy)]
pub struct Scenario {
    /// Short name, used on the command line and in raw output.
    pub name: &'static str,
    /// Row label of the report.
    pub label: &'static str,
    /// What one operation is.
    pub op: &'static str,
    /// Operations per timed repetition at scale 1.
    pub iterations: u64,
    /// Measured under callgrind by `bench/callgrind.sh`.
    pub callgrind: bool,
    run: fn(u64) -> Duration,
}

/// Entries of the end-to-end workload's map.
pub const END_TO_END_ENTRIES: usize = 20_000;

/// Every scenario, in report order.
pub static SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "pair_16",
        label: "16 B alloc+free",
        op: "one alloc and one dealloc of 16 bytes",
        iterations: 2_000_000,
        callgrind: true,
        run: |n| pairs(16, n),
    },
    Scenario {
        name: "pair_1k",
        label: "1 KiB alloc+free",
        op: "one alloc and one dealloc of 1 KiB",
        iterations: 2_000_000,
        callgrind: true,
        run: |n| pairs(1024, n),
    },
    Scenario {
        name: "pair_64k",
        label: "64 KiB alloc+free",
        op: "one alloc and one dealloc of 64 KiB",
        iterations: 500_000,
        callgrind: true,
        run: |n| pairs(64 * 1024, n),
    },
    Scenario {
        name: "realloc_chain",
        label: "realloc chain 16 B→4 KiB",
        op: "alloc 16 B, 8 reallocs doubling to 4 KiB, dealloc (10 calls)",
        iterations: 200_000,
        callgrind: true,
        run: realloc_chains,
    },
    Scenario {
        name: "churn_2t",
        label: "2-thread churn, 16 B",
        op: "one 16 B alloc+free pair, per thread, two threads at once",
        iterations: 1_000_000,
        callgrind: false,
        run: churn,
    },
    Scenario {
        name: "xfree_2t",
        label: "cross-thread free, 64 B",
        op: "a 64 B block allocated on one thread and freed on another",
        iterations: 500_000,
        callgrind: false,
        run: cross_thread_frees,
    },
    Scenario {
        name: "end_to_end",
        label: "end to end (20k BTreeMap)",
        op: "build a 20k-entry BTreeMap<String, Vec<u32>>, clone it, drop both",
        iterations: 5,
        callgrind: true,
        run: |n| end_to_end(n, END_TO_END_ENTRIES),
    },
    Scenario {
        name: "snapshot",
        label: "snapshot (stats())",
        op: "one read of the configuration's counters (heapster: `stats()`)",
        iterations: 5_000,
        callgrind: true,
        run: snapshots,
    },
];

/// Finds a scenario by name.
#[must_use]
pub fn scenario(name: &str) -> Option<&'static Scenario> {
    SCENARIOS.iter().find(|s| s.name == name)
}

/// The configuration's snapshot function, set once by [`run`] before any scenario runs.
static SNAPSHOT: std::sync::OnceLock<Snapshot> = std::sync::OnceLock::new();

/// A configuration's counter read.
type Snapshot = Box<dyn Fn() -> u64 + Send + Sync>;

fn layout(size: usize) -> Layout {
    Layout::from_size_align(size, 8).unwrap_or_else(|_| panic!("bad size {size}"))
}

fn checked(p: *mut u8, layout: Layout) -> *mut u8 {
    if p.is_null() {
        handle_alloc_error(layout)
    }
    p
}

/// `n` alloc+free pairs of `size` bytes.
fn pairs(size: usize, n: u64) -> Duration {
    let layout = layout(black_box(size));
    let start = Instant::now();
    pair_loop(layout, n);
    start.elapsed()
}

fn pair_loop(layout: Layout, n: u64) {
    for _ in 0..n {
        // SAFETY: `layout` has a non-zero size; the block is freed once, with the same layout.
        unsafe {
            let p = black_box(checked(alloc(layout), layout));
            dealloc(p, layout);
        }
    }
}

/// `n` chains: alloc 16 B, realloc doubling up to 4 KiB, dealloc.
fn realloc_chains(n: u64) -> Duration {
    let first = black_box(16usize);
    let last = black_box(4096usize);
    let start = Instant::now();
    for _ in 0..n {
        let mut size = first;
        // SAFETY: every size is non-zero and far below `isize::MAX`; each realloc and the final
        // dealloc get the block's current layout, and the block is freed once.
        unsafe {
            let mut p = checked(alloc(layout(size)), layout(size));
            while size < last {
                let new = size * 2;
                p = checked(realloc(black_box(p), layout(size), new), layout(new));
                size = new;
            }
            dealloc(black_box(p), layout(size));
        }
    }
    start.elapsed()
}

/// Two threads, each doing `n` 16 B pairs at the same time. Returns the mean of the two
/// threads' own times, so ns/op is per pair per thread.
fn churn(n: u64) -> Duration {
    let barrier = Arc::new(Barrier::new(2));
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                let layout = layout(black_box(16));
                barrier.wait();
                let start = Instant::now();
                pair_loop(layout, n);
                start.elapsed()
            })
        })
        .collect();
    let total: Duration = workers
        .into_iter()
        .map(|w| w.join().unwrap_or_else(|_| panic!("churn thread panicked")))
        .sum();
    total / 2
}

/// A producer thread allocates `n` 64 B blocks and hands them through a ring to a consumer
/// thread that frees them. Returns the wall time from the start to the last free.
fn cross_thread_frees(n: u64) -> Duration {
    const SLOTS: usize = 256;
    let ring: Arc<Vec<AtomicPtr<u8>>> = Arc::new(
        (0..SLOTS)
            .map(|_| AtomicPtr::new(std::ptr::null_mut()))
            .collect(),
    );
    let layout = layout(black_box(64));
    let barrier = Arc::new(Barrier::new(2));
    let consumer = {
        let (ring, barrier) = (Arc::clone(&ring), Arc::clone(&barrier));
        thread::spawn(move || {
            barrier.wait();
            for i in 0..n {
                let slot = &ring[slot_index(i, SLOTS)];
                let p = wait_for(|| {
                    let p = slot.swap(std::ptr::null_mut(), Ordering::Acquire);
                    (!p.is_null()).then_some(p)
                });
                // SAFETY: the producer allocated `p` with `layout` and handed it over; it is
                // freed only here, once.
                unsafe { dealloc(p, layout) };
            }
            Instant::now()
        })
    };
    barrier.wait();
    let start = Instant::now();
    for i in 0..n {
        // SAFETY: `layout` has a non-zero size.
        let p = checked(unsafe { alloc(layout) }, layout);
        let slot = &ring[slot_index(i, SLOTS)];
        wait_for(|| slot.load(Ordering::Relaxed).is_null().then_some(()));
        slot.store(p, Ordering::Release);
    }
    let end = consumer
        .join()
        .unwrap_or_else(|_| panic!("consumer thread panicked"));
    end.duration_since(start)
}

fn slot_index(i: u64, slots: usize) -> usize {
    usize::try_from(i % slots as u64).unwrap_or(0)
}

/// Spins until `f` returns something, yielding now and then (the machine may have fewer cores
/// than busy threads).
fn wait_for<T>(mut f: impl FnMut() -> Option<T>) -> T {
    let mut spins = 0u32;
    loop {
        if let Some(t) = f() {
            return t;
        }
        spins += 1;
        if spins.is_multiple_of(64) {
            thread::yield_now();
        } else {
            std::hint::spin_loop();
        }
    }
}

/// `n` times: build a map of `entries` formatted keys to small vectors, clone it, drop both.
fn end_to_end(n: u64, entries: usize) -> Duration {
    let start = Instant::now();
    for _ in 0..n {
        black_box(map_workload(black_box(entries)));
    }
    start.elapsed()
}

/// The end-to-end workload once; returns the number of entries in both maps.
#[must_use]
pub fn map_workload(entries: usize) -> usize {
    let mut map: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    for i in 0..entries {
        // A permutation of `0..entries` (7919 is prime and does not divide 20k), so inserts
        // land all over the tree as in a real service.
        let k = (i * 7919) % entries;
        let key = format!("user:{k:06}:session");
        let len = u32::try_from(k % 16).unwrap_or(0) + 1;
        map.insert(key, (0..len).collect());
    }
    let copy = black_box(map.clone());
    let total = copy.len() + map.len();
    drop(copy);
    drop(map);
    total
}

fn snapshots(n: u64) -> Duration {
    let snapshot = SNAPSHOT
        .get()
        .unwrap_or_else(|| panic!("no snapshot function"));
    let start = Instant::now();
    for _ in 0..n {
        black_box(snapshot());
    }
    start.elapsed()
}

/// Options of a configuration binary.
#[derive(Debug)]
struct Options {
    scale: f64,
    reps: usize,
    only: Option<Vec<String>>,
    count: Option<(&'static Scenario, u64)>,
}

fn parse_args() -> Options {
    let mut o = Options {
        scale: 1.0,
        reps: 3,
        only: None,
        count: None,
    };
    let mut args = std::env::args().skip(1);
    let usage = || -> ! {
        eprintln!(
            "usage: [--scale F] [--reps N] [--only a,b] | --count SCENARIO N | --list\n\
             scenarios: {}",
            SCENARIOS
                .iter()
                .map(|s| s.name)
                .collect::<Vec<_>>()
                .join(", ")
        );
        std::process::exit(2)
    };
    while let Some(a) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--scale" => o.scale = value().parse().unwrap_or_else(|_| usage()),
            "--reps" => o.reps = value().parse().unwrap_or_else(|_| usage()),
            "--only" => o.only = Some(value().split(',').map(String::from).collect()),
            "--count" => {
                let s = scenario(&value()).unwrap_or_else(|| usage());
                o.count = Some((s, value().parse().unwrap_or_else(|_| usage())));
            }
            "--list" => {
                for s in SCENARIOS {
                    println!("{}\t{}\t{}", s.name, s.label, s.op);
                }
                std::process::exit(0)
            }
            _ => usage(),
        }
    }
    o.reps = o.reps.max(1);
    o
}

/// Iterations at `scale`, at least one.
fn scaled(iterations: u64, scale: f64) -> u64 {
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss,
        reason = "iteration counts are far below 2^52 and the product is rounded on purpose"
    )]
    let n = (iterations as f64 * scale).round() as u64;
    n.max(1)
}

/// The entry point of a configuration binary (see [`configuration!`]): parses the arguments,
/// runs the scenarios and prints their results.
pub fn run(config: &str, snapshot: impl Fn() -> u64 + Send + Sync + 'static) {
    let options = parse_args();
    if SNAPSHOT.set(Box::new(snapshot)).is_err() {
        panic!("run called twice");
    }
    if let Some((s, n)) = options.count {
        // A fixed warm-up, then exactly `n` operations: two runs with different `n` differ by
        // the cost of the extra operations only.
        (s.run)(scaled(s.iterations, 0.001));
        (s.run)(n);
        println!("counted\t{}\t{config}", SNAPSHOT.get().map_or(0, |f| f()));
        return;
    }
    for s in SCENARIOS {
        if options
            .only
            .as_ref()
            .is_some_and(|only| !only.iter().any(|o| o == s.name))
        {
            continue;
        }
        let n = scaled(s.iterations, options.scale);
        (s.run)(scaled(s.iterations, options.scale * 0.1));
        let mut times: Vec<Duration> = (0..options.reps).map(|_| (s.run)(n)).collect();
        times.sort();
        let median = times[times.len() / 2];
        #[allow(
            clippy::cast_precision_loss,
            reason = "durations and counts are far below 2^52"
        )]
        let ns = median.as_nanos() as f64 / n as f64;
        println!("scenario\t{}\t{ns:.3}", s.name);
    }
    println!("counted\t{}\t{config}", SNAPSHOT.get().map_or(0, |f| f()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenarios_have_distinct_names() {
        for (i, s) in SCENARIOS.iter().enumerate() {
            assert!(
                SCENARIOS[..i].iter().all(|t| t.name != s.name),
                "{}",
                s.name
            );
            assert!(std::ptr::eq(scenario(s.name).unwrap(), s));
        }
    }

    #[test]
    fn workloads_run() {
        assert_eq!(map_workload(100), 200);
        assert!(pairs(16, 10) > Duration::ZERO);
        realloc_chains(3);
        churn(10);
        cross_thread_frees(1000);
    }
}
