//! `OtlpExporter` against a fake OTLP/HTTP collector on 127.0.0.1 that is up, slow, down, then
//! back: failures are counted and explained, and the first delivered export after an outage
//! carries the histograms' change since the last delivered one.
#![cfg(feature = "otel")]

mod support;

use std::alloc::System;
use std::collections::BTreeMap;
use std::time::Duration;

use heapster::Heapster;
use heapster_exporter::otel::{OtelInstruments, OtlpExporterBuilder};
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_proto::tonic::metrics::v1 as pm;
use opentelemetry_sdk::metrics::Temporality;

use support::collector::{Collector, Reply};
use support::{exp_points, exponential_histogram, provider, request_metrics};

#[global_allocator]
static GLOBAL: Heapster<System> = Heapster::new(System);

#[test]
fn a_collector_that_is_down_or_slow_costs_failures_and_recovery_is_automatic() {
    let heap = OtelInstruments::new(&GLOBAL);
    // Answers at once, then twice not within the timeout, then at once.
    let slow = Reply::Silence(Duration::from_millis(1500));
    let collector = Collector::start(vec![Reply::status(200), slow.clone(), slow]);
    let addr = collector.addr;
    let exporter = OtlpExporterBuilder::new(&heap)
        .with_endpoint(&format!("http://{addr}"))
        .unwrap()
        .with_timeout(Duration::from_millis(300))
        .unwrap()
        .with_temporality(Temporality::Delta)
        .build()
        .unwrap();
    let status = exporter.status();
    let provider = provider(exporter);
    let _registration = heap.register(&provider.meter("heapster"));

    // Up: delivered, with the histograms as deltas.
    let flushed = provider.force_flush();
    assert!(flushed.is_ok(), "{flushed:?}: {:?}", status.last_error());
    assert_eq!((status.succeeded(), status.failed()), (1, 0));
    assert_eq!(collector.seen().len(), 1);
    let first = request_metrics(&collector.seen()[0].request());
    let h = exponential_histogram(&first["heapster.allocation.size"]);
    assert_eq!(
        h.aggregation_temporality,
        pm::AggregationTemporality::Delta as i32
    );

    // Slow: each export times out, the error says so, the program goes on.
    assert!(provider.force_flush().is_err(), "a timed-out export fails");
    assert_eq!(status.failed(), 1);
    let error = status.last_error().unwrap();
    assert_eq!(
        error.to_string(),
        format!("collector at http://{addr}/v1/metrics gave no answer within 300ms")
    );
    // The collector is still busy with that one: the next times out too.
    assert!(provider.force_flush().is_err());
    drop(collector);

    // Down: connection refused, several times (tests/otel_memory.rs checks the memory).
    for _ in 0..5 {
        assert!(provider.force_flush().is_err());
    }
    assert!(status.consecutive_failures() >= 5);
    let source = status.last_error().unwrap();
    assert!(
        std::error::Error::source(source.as_ref()).is_some(),
        "the I/O error is kept as the source: {source}"
    );

    // Back on the same port: the next export is delivered, carrying the histograms' change
    // since the last delivered export.
    let collector = Collector::start_at(addr, Vec::new());
    provider.force_flush().unwrap();
    assert_eq!(status.consecutive_failures(), 0);
    assert_eq!(status.succeeded(), 2);
    let back = request_metrics(&collector.seen()[0].request());
    let size = &exp_points(&back["heapster.allocation.size"])[&BTreeMap::new()];
    let first_end =
        exponential_histogram(&first["heapster.allocation.size"]).data_points[0].time_unix_nano;
    assert_eq!(
        size.start_time_unix_nano, first_end,
        "the delta covers the failed exports"
    );
    assert!(size.count > 0);
    provider.shutdown().unwrap();
}
