//! Push heapster's metrics to an OpenTelemetry collector over OTLP/HTTP (protobuf), the size
//! histograms as native exponential histograms, while a known workload allocates.
//!
//! ```text
//! OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 \
//!     cargo run -p heapster-examples --features otel --example otlp -- [--duration SECS]
//! ```
//!
//! The standard variables apply: `OTEL_EXPORTER_OTLP_ENDPOINT` (default
//! `http://localhost:4318`), `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_EXPORTER_OTLP_TIMEOUT` (ms),
//! `OTEL_EXPORTER_OTLP_COMPRESSION`, `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`,
//! `OTEL_METRIC_EXPORT_INTERVAL` (ms, default 5000), `OTEL_SERVICE_NAME`. Prints
//! `pushing to URL every INTERVAL` once running, and on standard error a line per export with
//! the exporter's status (why exports fail, since when) and the live heap bytes.
//!
//! The workload: per millisecond, 19 buffers of 100 bytes and 1 of 5000 bytes (a window of
//! recent ones stays live) and a vector grown by `push` (reallocations).

use std::alloc::System;
use std::collections::VecDeque;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use heapster::Heapster;
use heapster_exporter::opentelemetry::metrics::MeterProvider as _;
use heapster_exporter::opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use heapster_exporter::otel::{OtelInstruments, OtlpExporterBuilder};

#[global_allocator]
static GLOBAL: Heapster<System> = Heapster::new(System);

fn parse_args() -> Result<Option<Duration>, String> {
    let mut duration = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--duration" => {
                let v = args.next().ok_or("--duration needs a value")?;
                let secs: f64 = v.parse().map_err(|e| format!("--duration {v:?}: {e}"))?;
                duration = Some(
                    Duration::try_from_secs_f64(secs)
                        .map_err(|e| format!("--duration {v:?}: {e}"))?,
                );
            }
            "-h" | "--help" => return Err("usage: otlp [--duration SECS]".to_owned()),
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
    }
    Ok(duration)
}

/// The known workload; stops when `stop` is set.
fn workload(stop: &AtomicBool) {
    let mut live: VecDeque<Vec<u8>> = VecDeque::with_capacity(2048);
    while !stop.load(Ordering::Relaxed) {
        for i in 0..20 {
            let size = if i == 0 { 5000 } else { 100 };
            if live.len() == live.capacity() {
                live.pop_front();
            }
            live.push_back(std::hint::black_box(vec![1u8; size]));
        }
        let mut grown: Vec<u64> = Vec::new();
        for x in 0..64 {
            grown.push(x);
        }
        std::hint::black_box(grown);
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let duration = parse_args()?;

    let heap = OtelInstruments::new(&GLOBAL);
    let exporter = OtlpExporterBuilder::new(&heap).from_env()?.build()?;
    let endpoint = exporter.endpoint();
    let interval = exporter.interval();
    let status = exporter.status();
    let reader = PeriodicReader::builder(exporter)
        .with_interval(interval)
        .build();
    let provider = SdkMeterProvider::builder().with_reader(reader).build();
    let _registration = heap.register(&provider.meter("heapster"));

    let stop = Arc::new(AtomicBool::new(false));
    let worker = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || workload(&stop))
    };
    println!("pushing to {endpoint} every {interval:?}");
    std::io::stdout().flush()?;

    let started = Instant::now();
    let mut reported = (0, 0);
    while duration.is_none_or(|d| started.elapsed() < d) {
        std::thread::sleep(Duration::from_millis(100));
        let now = (status.succeeded(), status.failed());
        if now != reported {
            let live = GLOBAL.stats().live_bytes();
            let what = if now.1 != reported.1 {
                "export failed"
            } else {
                "export delivered"
            };
            eprintln!("{what}: {status} [live_bytes={live}]");
            reported = now;
        }
    }
    stop.store(true, Ordering::Relaxed);
    let _ = worker.join();
    // One last export of the final numbers; if it fails, the error says why.
    if let Err(error) = status.shutdown(&provider) {
        eprintln!("final export failed: {}", error.chain());
    }
    Ok(())
}
