//! The demo: a service-like workload under `Heapster`, served on `/metrics` for Prometheus.
//!
//! ```text
//! cargo run --release -p heapster-examples --example demo -- [--port PORT] [--duration SECS]
//!     [--every SECS] [--leak] [--failures] [--fragment]
//! ```
//!
//! Two worker threads handle fake requests: small strings and header maps, bodies grown by
//! `push` (reallocations), response buffers sized up front and shrunk to fit, a cache that fills
//! up and is trimmed back, and every 10 s a burst (a large batch and a 32 MiB buffer). The
//! metrics are served on `http://127.0.0.1:9000/metrics` (`--port 0` picks a free port); the URL
//! and a report of the heap are printed every `--every` seconds (5 by default; every sixth
//! report, and the last, with the size histograms). It stops on Ctrl-C or after `--duration`
//! seconds.
//!
//! - `--leak` adds a slow leak: a registry that remembers every session and never forgets,
//!   about 50 KiB per second. The dashboard's live heap and live allocations climb steadily.
//! - `--failures` adds, every 5 s, an oversized request that the allocator refuses, handled
//!   with `try_reserve`: the failures panel and the `HeapsterAllocationFailures` alert see it.
//! - `--fragment` fills 64 MiB with small blocks (64 to 512 bytes) over the first 8 s, then
//!   frees 15 of every 16. The heap drops back, but every page still holds a live block, so
//!   the allocator can return none of them: resident memory stays up. The dashboard's "Heap vs
//!   resident" panel shows the two apart, `heapster_memory_resident_beyond_heap_bytes` the gap.
//!
//! Each report also prints the process's resident memory (Linux) beside the live heap.

use std::alloc::System;
use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fastrand::Rng;
use heapster::{Heapster, Stats};
use heapster_exporter::{ExporterBuilder, ProcessMemory};

#[global_allocator]
static GLOBAL: Heapster<System> = Heapster::new(System);

const USAGE: &str =
    "usage: demo [--port PORT] [--duration SECS] [--every SECS] [--leak] [--failures] [--fragment]";

#[path = "cli.rs"]
mod cli;

struct Args {
    common: cli::Common,
    every: Duration,
    leak: bool,
    failures: bool,
    fragment: bool,
}

fn parse_args() -> Result<Args, String> {
    let (mut every, mut leak, mut failures) = (Duration::from_secs(5), false, false);
    let mut fragment = false;
    let default_port = ExporterBuilder::DEFAULT_LISTEN_ADDR.port();
    let common = cli::parse_args(USAGE, default_port, |flag, value| {
        match flag {
            "--every" => every = cli::seconds(flag, &value()?)?.max(Duration::from_millis(100)),
            "--leak" => leak = true,
            "--failures" => failures = true,
            "--fragment" => fragment = true,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(Args {
        common,
        every,
        leak,
        failures,
        fragment,
    })
}

/// A size between `lo` and `hi`, spread evenly over powers of two (log-uniform).
fn size(rng: &mut Rng, lo: usize, hi: usize) -> usize {
    let k = rng.u32(lo.ilog2()..=hi.ilog2());
    rng.usize(1 << k..(2usize << k).min(hi + 1)).max(lo)
}

/// What the workers share.
struct Shared {
    stop: AtomicBool,
    /// With `--leak`: sessions that are remembered and never forgotten.
    leaked_sessions: Mutex<Vec<String>>,
    leak: bool,
    failures: bool,
}

/// One fake request: parse, build a body, render a response.
fn handle_request(rng: &mut Rng, request: u64) -> usize {
    let path = format!("/api/v1/items/{}", rng.u64(..10_000));
    let mut headers: HashMap<String, String> = HashMap::new();
    for i in 0..rng.usize(3..12) {
        let value = "x".repeat(size(rng, 8, 256));
        headers.insert(format!("x-header-{i}"), value);
    }
    // A body read in chunks: grows by reallocation.
    let mut body: Vec<u8> = Vec::new();
    for _ in 0..rng.usize(1..64) {
        body.extend_from_slice(&[b'a'; 97][..rng.usize(1..97)]);
    }
    // A response buffer sized for the worst case, then shrunk to what was written.
    let mut response: Vec<u8> = Vec::with_capacity(size(rng, 4096, 65536));
    write!(
        response,
        "200 OK {path} request {request} headers {}",
        headers.len()
    )
    .ok();
    response.extend_from_slice(&body[..body.len() / 2]);
    response.shrink_to_fit();
    std::hint::black_box(&response);
    response.len()
}

fn worker(shared: &Shared, seed: u64) {
    let mut rng = Rng::with_seed(seed);
    let mut cache: HashMap<u64, Vec<u8>> = HashMap::new();
    let mut recent: VecDeque<u64> = VecDeque::new();
    let mut cache_limit = 64;
    let start = Instant::now();
    let mut last_failure = Instant::now();
    let mut request = 0u64;
    while !shared.stop.load(Ordering::Relaxed) {
        // A burst for 1 s out of every 10: five times the requests, a big batch, a big buffer.
        let in_burst = start.elapsed().as_secs() % 10 == 9;
        let requests = if in_burst { 10 } else { 2 };
        for _ in 0..requests {
            request += 1;
            std::hint::black_box(handle_request(&mut rng, request));
        }
        if in_burst && request.is_multiple_of(500) {
            let batch: Vec<String> = (0..5_000).map(|i| format!("row {i}")).collect();
            let buffer = vec![0u8; 32 << 20];
            std::hint::black_box((&batch, &buffer));
        }

        // The cache fills up to a limit that itself moves, and is trimmed back.
        if request.is_multiple_of(8) {
            let key = rng.u64(..);
            cache.insert(key, vec![1u8; size(&mut rng, 512, 256 << 10)]);
            recent.push_back(key);
        }
        if cache.len() > cache_limit {
            while cache.len() > cache_limit / 4 {
                if let Some(old) = recent.pop_front() {
                    cache.remove(&old);
                }
            }
            recent.shrink_to_fit();
            cache.shrink_to_fit();
            cache_limit = rng.usize(16..256);
        }

        if shared.leak && request.is_multiple_of(32) {
            let session = format!("session-{seed}-{request}-{:0>400}", rng.u64(..));
            shared
                .leaked_sessions
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(session);
        }

        if shared.failures && last_failure.elapsed() >= Duration::from_secs(5) {
            last_failure = Instant::now();
            // 4 EiB: more than any address space, so the allocator returns null and
            // try_reserve reports the error instead of aborting.
            let huge = 1usize << 62;
            let mut fresh: Vec<u8> = Vec::new();
            let refused_alloc = fresh.try_reserve_exact(huge).is_err();
            let mut existing = vec![0u8; 64];
            let refused_realloc = existing.try_reserve_exact(huge).is_err();
            std::hint::black_box((refused_alloc, refused_realloc));
        }

        std::thread::sleep(Duration::from_millis(1));
    }
}

/// With `--fragment`: bytes filled with small blocks, over this many one-second rounds, of
/// which one block in `KEEP_EVERY` stays live.
const FRAGMENT_BYTES: usize = 64 << 20;
const FRAGMENT_ROUNDS: usize = 8;
const KEEP_EVERY: usize = 16;

/// With `--fragment`: fills `FRAGMENT_BYTES` with small blocks, then frees all but one in
/// `KEEP_EVERY`, in allocation order, so that every page keeps a live block and stays resident.
/// Runs on a thread of its own, so its blocks share an allocator arena that nobody else refills.
fn fragmenter(shared: &Shared) {
    let mut rng = Rng::with_seed(0x0123_4567_89ab_cdef);
    let mut blocks: Vec<Box<[u8]>> = Vec::new();
    for _ in 0..FRAGMENT_ROUNDS {
        let mut filled = 0;
        while filled < FRAGMENT_BYTES / FRAGMENT_ROUNDS {
            let size = size(&mut rng, 64, 512);
            // Written, so that its pages are resident.
            blocks.push(vec![0xa5u8; size].into_boxed_slice());
            filled += size;
        }
        if sleep_unless_stopped(shared, Duration::from_secs(1)) {
            return;
        }
    }
    let kept: Vec<Box<[u8]>> = blocks.into_iter().step_by(KEEP_EVERY).collect();
    println!(
        "fragmented: kept {} of the small blocks, {:.1} MiB live in {:.0} MiB of pages",
        kept.len(),
        mib(kept.iter().map(|b| b.len() as u64).sum()),
        mib(FRAGMENT_BYTES as u64)
    );
    while !sleep_unless_stopped(shared, Duration::from_millis(100)) {}
    std::hint::black_box(&kept);
}

/// Sleeps for `d`; `true` if the demo is stopping.
fn sleep_unless_stopped(shared: &Shared, d: Duration) -> bool {
    std::thread::sleep(d);
    shared.stop.load(Ordering::Relaxed)
}

fn per_second(n: u64, elapsed: Duration) -> f64 {
    n as f64 / elapsed.as_secs_f64().max(1e-9)
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Every this many reports, the full report with the size histograms; the others stop before
/// them, so the terminal stays readable.
const FULL_REPORT_EVERY: u32 = 6;

fn print_report(url: &str, started: Instant, last: &mut (Instant, Stats), count: &mut u32) {
    let now = Instant::now();
    let stats = GLOBAL.stats();
    let diff = stats - last.1;
    let elapsed = now - last.0;
    println!(
        "\n--- {:.0} s --- {url} --- last {:.0} s: {:.0} allocations/s, {:.1} MiB/s allocated, {:.0} reallocations/s",
        started.elapsed().as_secs_f64(),
        elapsed.as_secs_f64(),
        per_second(diff.allocations, elapsed),
        mib(diff.allocated_bytes) / elapsed.as_secs_f64().max(1e-9),
        per_second(diff.reallocations(), elapsed),
    );
    match ProcessMemory::read() {
        Ok(memory) => println!(
            "resident {:.1} MiB, live heap {:.1} MiB, resident beyond the heap {:.1} MiB",
            mib(memory.resident_bytes),
            mib(stats.live_bytes()),
            mib(memory.resident_beyond_heap(stats.live_bytes())),
        ),
        Err(e) => println!("resident memory: not available here ({e})"),
    }
    let report = stats.to_string();
    *count += 1;
    if count.is_multiple_of(FULL_REPORT_EVERY) {
        print!("{report}");
    } else {
        // The counters: the lines before the first histogram.
        for line in report.lines().take_while(|l| !l.ends_with("sizes")) {
            println!("{line}");
        }
    }
    std::io::stdout().flush().ok();
    *last = (now, stats);
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    };
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, args.common.port));
    let handle = match ExporterBuilder::new(&GLOBAL)
        .with_http_listener(addr)
        .install()
    {
        Ok(handle) => handle,
        Err(e) => {
            eprintln!("{e} (is another program on {addr}? --port 0 picks any free port)");
            std::process::exit(1);
        }
    };
    let url = handle.url();
    // The first line is the URL alone, for scripts and tests.
    println!("{url}");
    println!(
        "heapster demo: serving metrics at {url}; {}{}{}{}",
        match args.common.duration {
            Some(d) => format!("stopping after {} s or on Ctrl-C", d.as_secs_f64()),
            None => "Ctrl-C stops".to_owned(),
        },
        if args.leak {
            "; leaking slowly (--leak)"
        } else {
            ""
        },
        if args.failures {
            "; with refused allocations (--failures)"
        } else {
            ""
        },
        if args.fragment {
            "; fragmenting 64 MiB of small blocks (--fragment)"
        } else {
            ""
        },
    );
    std::io::stdout().flush()?;

    let shared = Arc::new(Shared {
        stop: AtomicBool::new(false),
        leaked_sessions: Mutex::new(Vec::new()),
        leak: args.leak,
        failures: args.failures,
    });
    let workers: Vec<_> = (1..=2u64)
        .map(|i| {
            let shared = Arc::clone(&shared);
            std::thread::spawn(move || worker(&shared, 0x9e37_79b9_7f4a_7c15_u64.wrapping_mul(i)))
        })
        .collect();
    let fragmenter = args.fragment.then(|| {
        let shared = Arc::clone(&shared);
        std::thread::spawn(move || fragmenter(&shared))
    });

    let started = Instant::now();
    let mut last = (started, GLOBAL.stats());
    let mut reports = 0;
    cli::run_until_stopped(args.common.duration, args.every, || {
        // A worker that stopped on its own panicked: stop, and report it below.
        if workers.iter().any(|w| w.is_finished()) {
            return ControlFlow::Break(());
        }
        print_report(&url, started, &mut last, &mut reports);
        ControlFlow::Continue(())
    })?;

    shared.stop.store(true, Ordering::Relaxed);
    for worker in workers.into_iter().chain(fragmenter) {
        worker.join().map_err(|_| "a worker panicked")?;
    }
    handle.shutdown()?;
    let leaked = shared
        .leaked_sessions
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .len();
    println!(
        "\n--- stopped after {:.0} s ---",
        started.elapsed().as_secs_f64()
    );
    if args.leak {
        println!("leaked sessions: {leaked}");
    }
    print!("{}", GLOBAL.stats());
    Ok(())
}
