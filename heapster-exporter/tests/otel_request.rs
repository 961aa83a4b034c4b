//! The OTLP request that `OtlpExporter` makes (nothing is sent here): heapster's histograms as
//! exponential histograms beside the SDK's metrics, from the same sample as the counters, with
//! cumulative or delta temporality.
#![cfg(feature = "otel")]

mod support;

use std::alloc::System;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, UNIX_EPOCH};

use heapster::Heapster;
use heapster_exporter::otel::OtelInstruments;
use heapster_exporter::{Config, Sampler};
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::metrics::v1 as pm;
use opentelemetry_sdk::metrics::Temporality;

use support::{
    Capture, attr_map, exp_points, exponential_histogram, free, provider, request_metrics,
    sum_value, workload,
};

#[global_allocator]
static GLOBAL: Heapster<System> = Heapster::new(System);

/// Instruments on `source` whose samples are at most 10 ms old, registered on a provider whose
/// flushes build the OTLP requests an exporter of `temporality` would send; each `flush`
/// returns the new request.
struct Exports {
    heap: OtelInstruments,
    provider: opentelemetry_sdk::metrics::SdkMeterProvider,
    requests: Arc<std::sync::Mutex<Vec<ExportMetricsServiceRequest>>>,
}

impl Exports {
    fn new(source: &'static Heapster<System>, temporality: Temporality) -> Self {
        Self::with_config(source, temporality, Config::new())
    }

    fn with_config(
        source: &'static Heapster<System>,
        temporality: Temporality,
        config: Config,
    ) -> Self {
        let sampler = Sampler::new(source).with_interval(Sampler::MIN_INTERVAL);
        let heap = OtelInstruments::from_sampler(Arc::new(sampler.unwrap())).with_config(config);
        let (capture, requests) = Capture::new(&heap, temporality);
        let provider = provider(capture);
        let _registration = heap.register(&provider.meter("heapster-test"));
        Self {
            heap,
            provider,
            requests,
        }
    }

    fn flush(&self) -> ExportMetricsServiceRequest {
        self.provider.force_flush().unwrap();
        self.requests.lock().unwrap().last().cloned().unwrap()
    }
}

#[test]
fn histograms_travel_as_exponential_histograms_in_the_scope_of_the_instruments() {
    static LOCAL: Heapster<System> = Heapster::new(System);
    let live = workload(&LOCAL);
    let request = Exports::new(&LOCAL, Temporality::Cumulative).flush();
    let metrics = request_metrics(&request);
    assert_eq!(metrics["heapster.allocation.size"].unit, "By");
    let point = &exp_points(&metrics["heapster.allocation.size"])[&BTreeMap::new()];
    // 16, 16 -> (8, 16] index 3; 64 -> (32, 64] index 5; 1000 -> (512, 1024] index 9.
    assert_eq!((point.scale, point.count, point.sum), (0, 4, Some(1096.0)));
    let b = point.positive.as_ref().unwrap();
    assert_eq!(
        (b.offset, b.bucket_counts.as_slice()),
        (3, &[2, 0, 1, 0, 0, 0, 1][..])
    );
    let change = exp_points(&metrics["heapster.reallocation.size_change"]);
    let (grow, shrink) = (
        &change[&attr_map(&[("direction", "grow")])],
        &change[&attr_map(&[("direction", "shrink")])],
    );
    // 2000 -> (1024, 2048] index 10; 2900 -> (2048, 4096] index 11.
    assert_eq!(
        (grow.positive.as_ref().unwrap().offset, grow.count),
        (10, 1)
    );
    assert_eq!(
        (shrink.positive.as_ref().unwrap().offset, shrink.count),
        (11, 1)
    );
    assert_eq!((grow.sum, shrink.sum), (Some(2000.0), Some(2900.0)));
    // Same scope as the instruments, next to the SDK's metrics.
    let scopes = &request.resource_metrics[0].scope_metrics;
    let scope = scopes
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
    free(&LOCAL, live);
}

#[test]
fn counters_and_histograms_of_one_export_come_from_one_sample_while_threads_allocate() {
    let exports = Exports::new(&GLOBAL, Temporality::Cumulative);
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::hint::black_box((0..100u64).collect::<Vec<_>>());
                }
            })
        })
        .collect();
    let mut previous = 0;
    for _ in 0..20 {
        std::thread::sleep(Sampler::MIN_INTERVAL * 2);
        let metrics = request_metrics(&exports.flush());
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
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    assert_eq!(exports.requests.lock().unwrap().len(), 20);
}

/// The allocation-size histogram of `request`: its temporality and single data point.
fn allocation_sizes(
    request: &ExportMetricsServiceRequest,
) -> (i32, pm::ExponentialHistogramDataPoint) {
    let h = exponential_histogram(&request_metrics(request)["heapster.allocation.size"]).clone();
    (h.aggregation_temporality, h.data_points[0].clone())
}

/// Two requests of instruments on `source`, before and after the known workload (4
/// allocations): the allocation count before, and each request's allocation-size histogram.
fn around_the_workload(
    source: &'static Heapster<System>,
    temporality: Temporality,
) -> (Exports, u64, [(i32, pm::ExponentialHistogramDataPoint); 2]) {
    let exports = Exports::new(source, temporality);
    let before = source.stats().allocations;
    let first = allocation_sizes(&exports.flush());
    let live = workload(source);
    std::thread::sleep(Duration::from_millis(20)); // a new sample, and a later time
    let second = allocation_sizes(&exports.flush());
    free(source, live);
    (exports, before, [first, second])
}

#[test]
fn cumulative_histograms_keep_their_start_time() {
    static LOCAL: Heapster<System> = Heapster::new(System);
    let (exports, before, [(t1, h1), (t2, h2)]) =
        around_the_workload(&LOCAL, Temporality::Cumulative);
    let cumulative = pm::AggregationTemporality::Cumulative as i32;
    assert_eq!((t1, t2), (cumulative, cumulative));
    assert_eq!(h1.start_time_unix_nano, h2.start_time_unix_nano);
    let created = exports.heap.start_time().duration_since(UNIX_EPOCH);
    assert_eq!(
        u128::from(h1.start_time_unix_nano),
        created.unwrap().as_nanos()
    );
    assert_eq!((h1.count, h2.count), (before, before + 4));
}

#[test]
fn a_delta_request_counts_from_the_last_delivered_export() {
    static LOCAL: Heapster<System> = Heapster::new(System);
    let (_, before, [(t1, h1), (t2, h2)]) = around_the_workload(&LOCAL, Temporality::Delta);
    let delta = pm::AggregationTemporality::Delta as i32;
    assert_eq!((t1, t2), (delta, delta));
    // Only a delivered export moves the baseline; nothing was sent here, so both requests
    // are the change since the instruments were created.
    assert_eq!(h1.start_time_unix_nano, h2.start_time_unix_nano);
    assert_eq!((h1.count, h2.count), (before, before + 4));
    assert!(h2.time_unix_nano > h1.time_unix_nano);
}

#[test]
fn histograms_carry_the_configs_namespace_and_constant_labels() {
    static LOCAL: Heapster<System> = Heapster::new(System);
    let config = Config::new()
        .with_namespace("app")
        .unwrap()
        .with_constant_label("service", "checkout")
        .unwrap();
    let request = Exports::with_config(&LOCAL, Temporality::Cumulative, config).flush();
    let metrics = request_metrics(&request);
    let sizes = exp_points(&metrics["app.allocation.size"]);
    assert_eq!(
        sizes.keys().collect::<Vec<_>>(),
        [&attr_map(&[("service", "checkout")])]
    );
    let changes = exp_points(&metrics["app.reallocation.size_change"]);
    let expected = [("service", "checkout"), ("direction", "grow")];
    assert!(
        changes.contains_key(&attr_map(&expected)),
        "{:?}",
        changes.keys()
    );
}
