//! Memory stays bounded while the collector is down, silent or overloaded for many export
//! cycles: nothing unsent is queued. Measured with heapster itself as the process's allocator,
//! so this binary has no harness (`harness = false`): the libtest harness would allocate on
//! its own threads meanwhile.

mod support;

use std::alloc::System;
use std::time::Duration;

use heapster::Heapster;
use heapster_exporter::otel::{OtelInstruments, OtlpExporterBuilder};
use opentelemetry::metrics::MeterProvider as _;

use support::collector::{Collector, Reply, nobody_listening};

#[global_allocator]
static GLOBAL: Heapster<System> = Heapster::new(System);

/// More than a queued request per failed export would stay under (each is several KiB).
const BOUND: u64 = 256 * 1024;

/// Runs `exports` exports to `url` with `timeout`, all failing; returns the live heap bytes
/// after the first tenth and after the last.
fn live_bytes_while_failing(url: &str, timeout: Duration, exports: usize) -> (u64, u64) {
    let heap = OtelInstruments::new(&GLOBAL);
    let exporter = OtlpExporterBuilder::new(&heap)
        .with_endpoint(url)
        .unwrap()
        .with_timeout(timeout)
        .unwrap()
        .build()
        .unwrap();
    let status = exporter.status();
    let provider = support::provider(exporter);
    let _registration = heap.register(&provider.meter("heapster-test"));
    let mut warm = 0;
    for i in 0..exports {
        assert!(provider.force_flush().is_err(), "export {i} should fail");
        if i == exports / 10 {
            warm = GLOBAL.stats().live_bytes();
        }
    }
    let end = GLOBAL.stats().live_bytes();
    assert_eq!(status.consecutive_failures(), exports as u64);
    (warm, end)
}

fn check(what: &str, (warm, end): (u64, u64)) {
    println!("{what}: live bytes {warm} after warm-up, {end} at the end");
    assert!(
        end < warm + BOUND,
        "{what}: the heap grew from {warm} to {end} bytes while exports failed"
    );
}

fn main() {
    // Nobody listening.
    let down = nobody_listening();
    check(
        "collector down, 1000 exports",
        live_bytes_while_failing(&down, Duration::from_secs(5), 1000),
    );

    // A collector that takes connections and never answers: every export times out.
    let silent = Collector::counting(vec![Reply::Silence(Duration::from_millis(60)); 100]);
    check(
        "collector silent, 100 exports",
        live_bytes_while_failing(&silent.url(), Duration::from_millis(50), 100),
    );
    drop(silent);

    // Overloaded, asking to retry at once: many attempts per export, none kept.
    let overloaded = Collector::counting(vec![Reply::retry_after(503, "0"); 5000]);
    check(
        "collector overloaded, 100 exports",
        live_bytes_while_failing(&overloaded.url(), Duration::from_millis(30), 100),
    );
    let requests = overloaded.count();
    println!("otel_memory: {requests} requests to the overloaded collector");
    assert!(
        requests > 100,
        "retried: {requests} requests for 100 exports"
    );
    println!("otel_memory: 1 passed, 0 failed");
}
