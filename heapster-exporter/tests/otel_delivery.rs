//! `OtlpExporter` against a fake OTLP/HTTP collector on 127.0.0.1 that is up, slow, down, then
//! back: failures are counted and explained, and the first delivered export after an outage
//! carries the histograms' change since the last delivered one.
#![cfg(feature = "otel")]

mod support;

use std::alloc::System;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use heapster::Heapster;
use heapster_exporter::otel::{OtelInstruments, OtlpExporterBuilder};
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::metrics::v1 as pm;
use opentelemetry_sdk::metrics::Temporality;
use prost::Message;

use support::{exp_points, exponential_histogram, provider, request_metrics};

#[global_allocator]
static GLOBAL: Heapster<System> = Heapster::new(System);

/// A fake OTLP/HTTP collector: decodes each request, answers 200 (or waits first when
/// `delay` is set), and can be stopped and restarted on the same port.
struct FakeCollector {
    addr: SocketAddr,
    received: Arc<Mutex<Vec<ExportMetricsServiceRequest>>>,
    delay_ms: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeCollector {
    fn start(addr: SocketAddr) -> Self {
        let listener = TcpListener::bind(addr).expect("bind the fake collector");
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let delay_ms = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (received, delay_ms, stop) = (
                Arc::clone(&received),
                Arc::clone(&delay_ms),
                Arc::clone(&stop),
            );
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let Ok((stream, _)) = listener.accept() else {
                        std::thread::sleep(Duration::from_millis(5));
                        continue;
                    };
                    stream.set_nonblocking(false).unwrap();
                    let mut reader = BufReader::new(stream);
                    let mut length = 0;
                    let mut line = String::new();
                    while reader.read_line(&mut line).unwrap_or(0) > 2 {
                        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                            length = v.trim().parse().unwrap();
                        }
                        line.clear();
                    }
                    let mut body = vec![0; length];
                    if reader.read_exact(&mut body).is_err() {
                        continue;
                    }
                    std::thread::sleep(Duration::from_millis(delay_ms.load(Ordering::Relaxed)));
                    let request = ExportMetricsServiceRequest::decode(body.as_slice()).unwrap();
                    received.lock().unwrap().push(request);
                    let _ = reader.get_mut().write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n",
                    );
                }
            })
        };
        Self {
            addr,
            received,
            delay_ms,
            stop,
            thread: Some(thread),
        }
    }

    fn received(&self) -> usize {
        self.received.lock().unwrap().len()
    }
}

impl Drop for FakeCollector {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn a_collector_that_is_down_or_slow_costs_failures_and_recovery_is_automatic() {
    let heap = OtelInstruments::new(&GLOBAL);
    let collector = FakeCollector::start("127.0.0.1:0".parse().unwrap());
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
    assert_eq!(collector.received(), 1);
    let first = request_metrics(&collector.received.lock().unwrap()[0]);
    let h = exponential_histogram(&first["heapster.allocation.size"]);
    assert_eq!(
        h.aggregation_temporality,
        pm::AggregationTemporality::Delta as i32
    );

    // Slow: each export times out, the error says so, the program goes on.
    collector.delay_ms.store(1500, Ordering::Relaxed);
    assert!(provider.force_flush().is_err(), "a timed-out export fails");
    assert_eq!(status.failed(), 1);
    let error = status.last_error().unwrap();
    assert_eq!(
        error.to_string(),
        format!("collector at http://{addr}/v1/metrics gave no answer within 300ms")
    );
    // The collector is still busy with that one: the next times out too.
    assert!(provider.force_flush().is_err());
    std::thread::sleep(Duration::from_millis(1600));
    collector.delay_ms.store(0, Ordering::Relaxed);
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
    let collector = FakeCollector::start(addr);
    provider.force_flush().unwrap();
    assert_eq!(status.consecutive_failures(), 0);
    assert_eq!(status.succeeded(), 2);
    let received = collector.received.lock().unwrap();
    let back = request_metrics(&received[0]);
    let size = &exp_points(&back["heapster.allocation.size"])[&BTreeMap::new()];
    let first_end =
        exponential_histogram(&first["heapster.allocation.size"]).data_points[0].time_unix_nano;
    assert_eq!(
        size.start_time_unix_nano, first_end,
        "the delta covers the failed exports"
    );
    assert!(size.count > 0);
    drop(received);
    provider.shutdown().unwrap();
}
