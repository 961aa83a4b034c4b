//! Serve `/metrics` for Prometheus while a small workload allocates.
//!
//! ```text
//! cargo run -p heapster-examples --example serve -- [--port PORT] [--duration SECS]
//! ```
//!
//! Prints `http://127.0.0.1:PORT/metrics` once it is listening (port 0, the default, picks a
//! free port; `HEAPSTER_PORT` sets it too), and runs until Ctrl-C or for `--duration` seconds.
//!
//! The workload is known, so a scrape can be checked against it: per millisecond, 19 buffers of
//! 100 bytes, 1 of 5000 bytes and a vector grown by `push` (1 allocation of 32 bytes, then
//! reallocations); a window of the recent buffers stays live; every 2 s an 8 MiB spike is
//! allocated and freed at once, which only `heapster_memory_interval_peak_bytes` shows.

use std::alloc::System;
use std::collections::VecDeque;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use heapster::Heapster;
use heapster_exporter::ExporterBuilder;

#[global_allocator]
static GLOBAL: Heapster<System> = Heapster::new(System);

#[path = "cli.rs"]
mod cli;

const USAGE: &str = "usage: serve [--port PORT] [--duration SECS]";

/// The known workload; stops when `stop` is set.
fn workload(stop: &AtomicBool) {
    let mut live: VecDeque<Vec<u8>> = VecDeque::with_capacity(2048);
    let mut last_spike = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        for i in 0..20 {
            let size = if i == 0 { 5000 } else { 100 };
            let buffer = std::hint::black_box(vec![1u8; size]);
            if live.len() == live.capacity() {
                live.pop_front();
            }
            live.push_back(buffer);
        }
        let mut grown: Vec<u64> = Vec::new();
        for x in 0..64 {
            grown.push(x);
        }
        grown.truncate(8);
        grown.shrink_to_fit();
        std::hint::black_box(&grown);
        if last_spike.elapsed() >= Duration::from_secs(2) {
            drop(std::hint::black_box(vec![0u8; 8 << 20]));
            last_spike = Instant::now();
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port = match std::env::var("HEAPSTER_PORT") {
        Ok(p) => p.parse().map_err(|e| format!("HEAPSTER_PORT={p:?}: {e}"))?,
        Err(_) => 0,
    };
    let args = cli::parse_args(USAGE, port, |_, _| Ok(false))?;
    let handle = ExporterBuilder::new(&GLOBAL)
        .with_http_listener(SocketAddr::from((Ipv4Addr::LOCALHOST, args.port)))
        .install()?;
    println!("{}", handle.url());
    std::io::stdout().flush()?;

    let stop = Arc::new(AtomicBool::new(false));
    let worker = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || workload(&stop))
    };
    // A workload that stopped on its own panicked: stop, and report it below.
    cli::run_until_stopped(args.duration, Duration::from_secs(1), || {
        if worker.is_finished() {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })?;

    stop.store(true, Ordering::Relaxed);
    worker.join().map_err(|_| "the workload panicked")?;
    handle.shutdown()?;
    let stats = GLOBAL.stats();
    eprintln!(
        "stopped after {} allocations, {} live bytes, peak {} bytes",
        stats.allocations,
        stats.live_bytes(),
        stats.peak_bytes
    );
    Ok(())
}
