//! The OpenTelemetry side in process: every catalog metric through the SDK's
//! `InMemoryMetricExporter` with its name, unit, kind, attributes and value for a known
//! workload; the histograms in the OTLP request; one sample per collection; cumulative and
//! delta temporality; and a fake OTLP/HTTP collector that is down, slow, then back.
#![cfg(feature = "otel")]

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use heapster::Heapster;
use heapster_exporter::catalog::{Instrument, METRICS};
use heapster_exporter::otel::{OtelInstruments, OtlpExporter, OtlpExporterBuilder};
use heapster_exporter::{Config, Sampler};
use opentelemetry::KeyValue;
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value;
use opentelemetry_proto::tonic::metrics::v1 as pm;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::{
    InMemoryMetricExporter, InMemoryMetricExporterBuilder, PeriodicReader, SdkMeterProvider,
    Temporality,
};
use prost::Message;

/// The process's allocator, for the tests that need a live, busy source.
#[global_allocator]
static GLOBAL: Heapster<System> = Heapster::new(System);

const HOUR: Duration = Duration::from_secs(3600);

/// The tests of this binary run one at a time: one of them checks that the process's live bytes
/// stay flat, which tests allocating on other threads would disturb.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn layout(size: usize) -> Layout {
    Layout::from_size_align(size, 8).expect("valid layout")
}

/// The known workload on a private instance (nothing else touches it): 4 allocations of
/// 16, 16, 64 and 1000 bytes (one zeroed), a realloc 1000 -> 3000 and 3000 -> 100, one free
/// of 64 bytes, one failed alloc and one failed realloc. Returns the blocks still live.
fn workload(heap: &Heapster<System>) -> Vec<(usize, usize)> {
    let mut live = Vec::new();
    // SAFETY:
    // - every layout has a non-zero size and a valid alignment;
    // - each block is freed or reallocated with the layout it was allocated with, once;
    // - blocks are never read or written, so their contents do not matter.
    unsafe {
        let a = heap.alloc(layout(16));
        let b = heap.alloc_zeroed(layout(16));
        let c = heap.alloc(layout(64));
        let d = heap.alloc(layout(1000));
        assert!(!a.is_null() && !b.is_null() && !c.is_null() && !d.is_null());
        let d = heap.realloc(d, layout(1000), 3000);
        assert!(!d.is_null());
        let d = heap.realloc(d, layout(3000), 100);
        assert!(!d.is_null());
        heap.dealloc(c, layout(64));
        // Far beyond any address space: the inner allocator returns null.
        let huge = isize::MAX as usize / 2;
        assert!(heap.alloc(layout(huge)).is_null());
        assert!(heap.realloc(a, layout(16), huge).is_null());
        live.extend([(a as usize, 16), (b as usize, 16), (d as usize, 100)]);
    }
    live
}

fn free(heap: &Heapster<System>, live: Vec<(usize, usize)>) {
    for (ptr, size) in live {
        // SAFETY: each block came from `heap` with this size and alignment 8, freed once.
        unsafe { heap.dealloc(ptr as *mut u8, layout(size)) };
    }
}

/// A provider that collects only when flushed, into `exporter`.
fn provider<E: PushMetricExporter>(exporter: E) -> SdkMeterProvider {
    SdkMeterProvider::builder()
        .with_reader(
            PeriodicReader::builder(exporter)
                .with_interval(HOUR)
                .build(),
        )
        .build()
}

/// One observed series: `(name, attributes)` -> value, with the metric's kind and unit.
#[derive(Debug, PartialEq)]
struct Seen {
    unit: String,
    description: String,
    kind: &'static str,
    points: BTreeMap<BTreeSet<(String, String)>, u64>,
}

fn attrs<'a>(kvs: impl Iterator<Item = &'a KeyValue>) -> BTreeSet<(String, String)> {
    kvs.map(|kv| (kv.key.to_string(), kv.value.to_string()))
        .collect()
}

fn seen(resource_metrics: &[ResourceMetrics]) -> BTreeMap<String, Seen> {
    let mut out = BTreeMap::new();
    let last = resource_metrics.last().expect("one export");
    for scope in last.scope_metrics() {
        for m in scope.metrics() {
            let (kind, points): (&'static str, BTreeMap<_, _>) = match m.data() {
                AggregatedMetrics::U64(MetricData::Sum(s)) => (
                    if s.is_monotonic() {
                        "counter"
                    } else {
                        "updown"
                    },
                    s.data_points()
                        .map(|p| (attrs(p.attributes()), p.value()))
                        .collect(),
                ),
                AggregatedMetrics::I64(MetricData::Sum(s)) => (
                    if s.is_monotonic() {
                        "counter"
                    } else {
                        "updown"
                    },
                    s.data_points()
                        .map(|p| (attrs(p.attributes()), u64::try_from(p.value()).unwrap()))
                        .collect(),
                ),
                AggregatedMetrics::U64(MetricData::Gauge(g)) => (
                    "gauge",
                    g.data_points()
                        .map(|p| (attrs(p.attributes()), p.value()))
                        .collect(),
                ),
                other => panic!("{}: unexpected data {other:?}", m.name()),
            };
            out.insert(
                m.name().to_owned(),
                Seen {
                    unit: m.unit().to_owned(),
                    description: m.description().to_owned(),
                    kind,
                    points,
                },
            );
        }
    }
    out
}

fn set(pairs: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn every_catalog_metric_arrives_through_the_sdk_with_its_name_unit_kind_attributes_and_value() {
    let _serial = serial();
    static LOCAL: Heapster<System> = Heapster::new(System);
    let live = workload(&LOCAL);
    let stats = LOCAL.stats();
    let memory = InMemoryMetricExporter::default();
    let provider = provider(memory.clone());
    let heap = OtelInstruments::new(&LOCAL)
        .with_config(Config::new().with_histogram_bounds(8, 1024).unwrap())
        .with_bucket_counters(true);
    let registration = heap.register(&provider.meter("heapster-test"));
    provider.force_flush().unwrap();
    let seen = seen(&memory.get_finished_metrics().unwrap());
    let sample = heap.sampler().latest().expect("the callbacks sampled");
    assert_eq!(
        sample.stats, stats,
        "the source was quiet: the sample is the stats"
    );

    // The workload's own numbers, independent of the catalog.
    assert_eq!(stats.allocations, 4);
    assert_eq!(stats.allocated_bytes, 16 + 16 + 64 + 1000);
    assert_eq!((stats.deallocations, stats.deallocated_bytes), (1, 64));
    assert_eq!(
        (stats.realloc_grown_bytes, stats.realloc_shrunk_bytes),
        (2000, 2900)
    );
    assert_eq!((stats.alloc_failures, stats.realloc_failures), (1, 1));
    assert_eq!(stats.live_bytes(), 16 + 16 + 100);
    assert_eq!(stats.live_allocations(), 3);

    let mut expected_names = Vec::new();
    for metric in METRICS {
        let name = metric.full_otel_name("heapster");
        if metric.instrument == Instrument::Histogram {
            continue;
        }
        expected_names.push(name.clone());
        let got = seen.get(&name).unwrap_or_else(|| panic!("{name} missing"));
        assert_eq!(got.unit, metric.unit.ucum(), "{name}");
        assert_eq!(got.description, metric.help, "{name}");
        let kind = match metric.instrument {
            Instrument::Counter => "counter",
            Instrument::UpDownCounter => "updown",
            Instrument::Gauge => "gauge",
            Instrument::Histogram => unreachable!(),
        };
        assert_eq!(got.kind, kind, "{name}");
        let expected: BTreeMap<_, _> = metric
            .series
            .iter()
            .map(|s| {
                let attributes = match (metric.attribute, s.attribute_value) {
                    (Some(k), Some(v)) => set(&[(k, v)]),
                    _ => BTreeSet::new(),
                };
                (attributes, s.read.value(&sample).unwrap())
            })
            .collect();
        assert_eq!(got.points, expected, "{name}");
    }
    // Spot checks against the workload, not the catalog's reads.
    let value = |name: &str, a: &[(&str, &str)]| seen[name].points[&set(a)];
    assert_eq!(value("heapster.allocations", &[]), 4);
    assert_eq!(value("heapster.allocated", &[]), 1096);
    assert_eq!(
        value("heapster.reallocated", &[("direction", "grow")]),
        2000
    );
    assert_eq!(
        value("heapster.reallocated", &[("direction", "shrink")]),
        2900
    );
    assert_eq!(value("heapster.failures", &[("operation", "alloc")]), 1);
    assert_eq!(value("heapster.failures", &[("operation", "realloc")]), 1);
    assert_eq!(value("heapster.memory.used", &[]), 132);
    assert_eq!(value("heapster.allocations.active", &[]), 3);
    let kinds: u64 = seen["heapster.reallocations"].points.values().sum();
    assert_eq!(kinds, 2);

    // The fallback: cumulative per-bucket counters, le 8..=1024 and +Inf.
    let buckets = &seen["heapster.allocation.size.bucket"];
    assert_eq!(
        (buckets.kind, buckets.unit.as_str()),
        ("counter", "{count}")
    );
    let le = |b: &str| buckets.points[&set(&[("le", b)])];
    assert_eq!((le("8"), le("16"), le("32"), le("64")), (0, 2, 2, 3));
    assert_eq!((le("512"), le("1024"), le("+Inf")), (3, 4, 4));
    assert_eq!(buckets.points.len(), 9);
    let changes = &seen["heapster.reallocation.size_change.bucket"];
    let grow = |b: &str| changes.points[&set(&[("direction", "grow"), ("le", b)])];
    let shrink = |b: &str| changes.points[&set(&[("direction", "shrink"), ("le", b)])];
    assert_eq!((grow("1024"), grow("+Inf")), (0, 1), "2000 is above 1024");
    assert_eq!(
        (shrink("1024"), shrink("+Inf")),
        (0, 1),
        "2900 is above 1024"
    );

    expected_names.push("heapster.allocation.size.bucket".into());
    expected_names.push("heapster.reallocation.size_change.bucket".into());
    assert_eq!(registration.names().collect::<Vec<_>>(), expected_names);
    assert_eq!(
        seen.len(),
        expected_names.len(),
        "nothing else: {:?}",
        seen.keys()
    );

    // The histograms travel in the OTLP request, from the same sample.
    let exporter = OtlpExporterBuilder::new(&heap)
        .with_endpoint("http://127.0.0.1:9")
        .unwrap()
        .build()
        .unwrap();
    let rm = memory.get_finished_metrics().unwrap();
    let request = exporter.take_request(rm.last().unwrap());
    let metrics = request_metrics(&request);
    let size = exp_points(&metrics["heapster.allocation.size"]);
    assert_eq!(metrics["heapster.allocation.size"].unit, "By");
    let point = &size[&BTreeMap::new()];
    // 16, 16 -> (8, 16] index 3; 64 -> (32, 64] index 5; 1000 -> (512, 1024] index 9.
    assert_eq!((point.scale, point.count, point.sum), (0, 4, Some(1096.0)));
    let b = point.positive.as_ref().unwrap();
    assert_eq!(
        (b.offset, b.bucket_counts.as_slice()),
        (3, &[2, 0, 1, 0, 0, 0, 1][..])
    );
    let change = exp_points(&metrics["heapster.reallocation.size_change"]);
    let grow = &change[&attr_map(&[("direction", "grow")])];
    let shrink = &change[&attr_map(&[("direction", "shrink")])];
    // 2000 -> (1024, 2048] index 10; 2900 -> (2048, 4096] index 11.
    assert_eq!(grow.positive.as_ref().unwrap().offset, 10);
    assert_eq!(shrink.positive.as_ref().unwrap().offset, 11);
    assert_eq!(
        (grow.count, grow.sum, shrink.count, shrink.sum),
        (1, Some(2000.0), 1, Some(2900.0))
    );
    // Same scope as the instruments, and the SDK's metrics are all there too.
    let scope = request.resource_metrics[0]
        .scope_metrics
        .iter()
        .find(|s| {
            s.metrics
                .iter()
                .any(|m| m.name == "heapster.allocation.size")
        })
        .unwrap();
    assert_eq!(scope.scope.as_ref().unwrap().name, "heapster-test");
    assert!(
        scope
            .metrics
            .iter()
            .any(|m| m.name == "heapster.allocations")
    );
    for metric in METRICS {
        assert!(metrics.contains_key(&metric.full_otel_name("heapster")));
    }
    drop(exporter);
    provider.shutdown().unwrap();
    free(&LOCAL, live);
}

fn request_metrics(request: &ExportMetricsServiceRequest) -> BTreeMap<String, pm::Metric> {
    request
        .resource_metrics
        .iter()
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics)
        .map(|m| (m.name.clone(), m.clone()))
        .collect()
}

fn attr_map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn proto_attrs(
    kvs: &[opentelemetry_proto::tonic::common::v1::KeyValue],
) -> BTreeMap<String, String> {
    kvs.iter()
        .map(|kv| {
            let value = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(any_value::Value::StringValue(s)) => s.clone(),
                other => format!("{other:?}"),
            };
            (kv.key.clone(), value)
        })
        .collect()
}

fn exp_points(
    metric: &pm::Metric,
) -> BTreeMap<BTreeMap<String, String>, pm::ExponentialHistogramDataPoint> {
    match &metric.data {
        Some(pm::metric::Data::ExponentialHistogram(h)) => h
            .data_points
            .iter()
            .map(|p| (proto_attrs(&p.attributes), p.clone()))
            .collect(),
        other => panic!("{}: not an exponential histogram: {other:?}", metric.name),
    }
}

fn sum_value(metric: &pm::Metric, attributes: &[(&str, &str)]) -> u64 {
    let Some(pm::metric::Data::Sum(sum)) = &metric.data else {
        panic!("{} is not a sum", metric.name);
    };
    let point = sum
        .data_points
        .iter()
        .find(|p| proto_attrs(&p.attributes) == attr_map(attributes))
        .unwrap_or_else(|| panic!("{} {attributes:?}", metric.name));
    match point.value {
        Some(pm::number_data_point::Value::AsInt(v)) => u64::try_from(v).unwrap(),
        ref other => panic!("{other:?}"),
    }
}

/// Builds the OTLP request on the reader's thread, as `export` does, and keeps it.
#[derive(Debug)]
struct Capture {
    otlp: OtlpExporter,
    requests: Arc<Mutex<Vec<ExportMetricsServiceRequest>>>,
    temporality: Temporality,
}

impl PushMetricExporter for Capture {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        let request = self.otlp.take_request(metrics);
        self.requests.lock().unwrap().push(request);
        Ok(())
    }
    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }
    fn shutdown_with_timeout(&self, _: Duration) -> OTelSdkResult {
        Ok(())
    }
    fn temporality(&self) -> Temporality {
        self.temporality
    }
}

#[test]
fn counters_and_histograms_of_one_export_come_from_one_sample_while_threads_allocate() {
    let _serial = serial();
    // Samples of at most 10 ms age: every flush below gets a new one.
    let sampler = Sampler::new(&GLOBAL).with_interval(Sampler::MIN_INTERVAL);
    let heap = OtelInstruments::from_sampler(Arc::new(sampler.unwrap()));
    let requests = Arc::new(Mutex::new(Vec::new()));
    let otlp = OtlpExporterBuilder::new(&heap)
        .with_endpoint("http://127.0.0.1:9")
        .unwrap()
        .build()
        .unwrap();
    let provider = provider(Capture {
        otlp,
        requests: Arc::clone(&requests),
        temporality: Temporality::Cumulative,
    });
    let _registration = heap.register(&provider.meter("heapster"));
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let mut v: Vec<u64> = Vec::new();
                    for i in 0..100 {
                        v.push(i);
                    }
                    std::hint::black_box(v);
                }
            })
        })
        .collect();
    for _ in 0..20 {
        std::thread::sleep(Sampler::MIN_INTERVAL * 2);
        provider.force_flush().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    let requests = requests.lock().unwrap();
    assert_eq!(requests.len(), 20);
    let mut previous = 0;
    for request in requests.iter() {
        let metrics = request_metrics(request);
        let allocations = sum_value(&metrics["heapster.allocations"], &[]);
        let allocated = sum_value(&metrics["heapster.allocated"], &[]);
        let grown = sum_value(&metrics["heapster.reallocated"], &[("direction", "grow")]);
        let size = &exp_points(&metrics["heapster.allocation.size"])[&BTreeMap::new()];
        assert_eq!(
            size.count, allocations,
            "histogram and counter of one export"
        );
        assert_eq!(size.sum, Some(allocated as f64));
        let change = exp_points(&metrics["heapster.reallocation.size_change"]);
        assert_eq!(
            change[&attr_map(&[("direction", "grow")])].sum,
            Some(grown as f64)
        );
        assert!(allocations > previous, "the counters only go up");
        previous = allocations;
    }
    drop(requests);
    provider.shutdown().unwrap();
}

#[test]
fn cumulative_start_times_stay_and_delta_reports_the_change() {
    let _serial = serial();
    static LOCAL: Heapster<System> = Heapster::new(System);
    for temporality in [Temporality::Cumulative, Temporality::Delta] {
        let sampler = Sampler::new(&LOCAL).with_interval(Sampler::MIN_INTERVAL);
        let heap = OtelInstruments::from_sampler(Arc::new(sampler.unwrap()));
        let memory = InMemoryMetricExporterBuilder::new()
            .with_temporality(temporality)
            .build();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let otlp = OtlpExporterBuilder::new(&heap)
            .with_endpoint("http://127.0.0.1:9")
            .unwrap()
            .with_temporality(temporality)
            .build()
            .unwrap();
        assert_eq!(otlp.temporality(), temporality);
        let capture = Capture {
            otlp,
            requests: Arc::clone(&requests),
            temporality,
        };
        let provider = SdkMeterProvider::builder()
            .with_reader(
                PeriodicReader::builder(memory.clone())
                    .with_interval(HOUR)
                    .build(),
            )
            .with_reader(PeriodicReader::builder(capture).with_interval(HOUR).build())
            .build();
        let _registration = heap.register(&provider.meter("heapster"));
        let before = LOCAL.stats().allocations;
        provider.force_flush().unwrap();
        let live = workload(&LOCAL);
        std::thread::sleep(Duration::from_millis(20)); // a new sample, and a later time
        provider.force_flush().unwrap();
        free(&LOCAL, live);

        let exports = memory.get_finished_metrics().unwrap();
        assert_eq!(exports.len(), 2);
        let sum_of = |rm: &ResourceMetrics| {
            for scope in rm.scope_metrics() {
                for m in scope.metrics() {
                    if let ("heapster.allocations", AggregatedMetrics::U64(MetricData::Sum(s))) =
                        (m.name(), m.data())
                    {
                        let value = s.data_points().map(|p| p.value()).sum::<u64>();
                        return (s.start_time(), s.temporality(), value);
                    }
                }
            }
            panic!("no heapster.allocations");
        };
        let (start1, t1, v1) = sum_of(&exports[0]);
        let (start2, t2, v2) = sum_of(&exports[1]);
        assert_eq!((t1, t2), (temporality, temporality));
        // The histograms the capture saw, with their start times.
        let requests = requests.lock().unwrap();
        let hist = |i: usize| {
            let metrics = request_metrics(&requests[i]);
            let Some(pm::metric::Data::ExponentialHistogram(h)) =
                metrics["heapster.allocation.size"].data.clone()
            else {
                panic!()
            };
            (h.aggregation_temporality, h.data_points[0].clone())
        };
        let ((ht1, h1), (ht2, h2)) = (hist(0), hist(1));
        match temporality {
            Temporality::Cumulative => {
                assert_eq!(start1, start2, "a cumulative start time never moves");
                assert_eq!((v1, v2), (before, before + 4));
                assert_eq!(ht1, pm::AggregationTemporality::Cumulative as i32);
                assert_eq!(h1.start_time_unix_nano, h2.start_time_unix_nano);
                let registered = heap
                    .start_time()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos();
                assert_eq!(u128::from(h1.start_time_unix_nano), registered);
                assert_eq!((h1.count, h2.count), (before, before + 4));
            }
            _ => {
                assert!(start2 > start1, "a delta starts where the previous ended");
                assert_eq!(
                    (v1, v2),
                    (before, 4),
                    "the first delta is everything so far"
                );
                assert_eq!(ht2, pm::AggregationTemporality::Delta as i32);
                // `request` does not advance the baseline (only a delivered export does),
                // so both requests are the change since registration.
                assert_eq!((h1.count, h2.count), (before, before + 4));
            }
        }
        drop(requests);
        provider.shutdown().unwrap();
    }
}

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
fn a_collector_that_is_down_or_slow_costs_failures_not_memory_and_recovery_is_automatic() {
    let _serial = serial();
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
    let Some(pm::metric::Data::ExponentialHistogram(h)) = &first["heapster.allocation.size"].data
    else {
        panic!("no exponential histogram");
    };
    assert_eq!(
        h.aggregation_temporality,
        pm::AggregationTemporality::Delta as i32
    );

    // Slow: each export times out, the error says so, the program goes on.
    collector.delay_ms.store(1500, Ordering::Relaxed);
    assert!(provider.force_flush().is_err(), "a timed-out export fails");
    assert_eq!(status.failed(), 1);
    let error = status.last_error().unwrap();
    assert!(error.to_string().contains(&addr.to_string()), "{error}");
    let source = std::error::Error::source(error.as_ref())
        .unwrap()
        .to_string();
    assert!(source.contains("no answer within 300ms"), "{source}");
    // The collector is still busy with that one: the next times out too.
    assert!(provider.force_flush().is_err());
    std::thread::sleep(Duration::from_millis(1600));
    collector.delay_ms.store(0, Ordering::Relaxed);
    drop(collector);

    // Down: connection refused, many times; memory does not grow with the failures.
    let mut live = Vec::new();
    for round in 0..40 {
        assert!(provider.force_flush().is_err());
        live.push(GLOBAL.stats().live_bytes());
        if round == 9 {
            live.clear(); // warmed up
        }
    }
    assert!(status.consecutive_failures() >= 40);
    let (min, max) = (live.iter().min().unwrap(), live.iter().max().unwrap());
    assert!(
        max - min < 256 * 1024,
        "live bytes grew from {min} to {max} while failing"
    );
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
    let first_end = {
        let Some(pm::metric::Data::ExponentialHistogram(h)) =
            &first["heapster.allocation.size"].data
        else {
            panic!()
        };
        h.data_points[0].time_unix_nano
    };
    assert_eq!(
        size.start_time_unix_nano, first_end,
        "the delta covers the failed exports"
    );
    assert!(size.count > 0);
    drop(received);
    provider.shutdown().unwrap();
}

#[test]
fn readme_opentelemetry_snippet_is_the_compiled_module_example() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let module = std::fs::read_to_string(root.join("heapster-exporter/src/otel.rs")).unwrap();
    let section = readme
        .split("## OpenTelemetry")
        .nth(1)
        .expect("README has an OpenTelemetry section");
    let snippet = section
        .split("```rs\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("the section has a snippet");
    for line in snippet.lines().map(str::trim).filter(|l| !l.is_empty()) {
        assert!(
            module.contains(&format!("//! {line}")) || module.contains(line),
            "README line {line:?} is not in otel.rs's doc example"
        );
    }
}
