//! What the OpenTelemetry tests share: a known workload, a provider that collects when
//! flushed, readers of what the SDK collected and of OTLP requests, and an exporter that keeps
//! the requests it would send.
#![allow(
    dead_code,
    unreachable_pub,
    reason = "each test binary uses part of this module"
)]

pub mod collector;

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use heapster::Heapster;
use heapster_exporter::otel::{OtelInstruments, OtlpExporter, OtlpExporterBuilder};
use opentelemetry::KeyValue;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value;
use opentelemetry_proto::tonic::metrics::v1 as pm;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider, Temporality};

/// Longer than any test: readers collect only when flushed.
pub const HOUR: Duration = Duration::from_secs(3600);

pub fn layout(size: usize) -> Layout {
    Layout::from_size_align(size, 8).expect("valid layout")
}

/// The known workload on a private instance (nothing else touches it): 4 allocations of
/// 16, 16, 64 and 1000 bytes (one zeroed), a realloc 1000 -> 3000 and 3000 -> 100, one free
/// of 64 bytes, one failed alloc and one failed realloc. Returns the blocks still live.
pub fn workload(heap: &Heapster<System>) -> Vec<(usize, usize)> {
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

pub fn free(heap: &Heapster<System>, live: Vec<(usize, usize)>) {
    for (ptr, size) in live {
        // SAFETY: each block came from `heap` with this size and alignment 8, freed once.
        unsafe { heap.dealloc(ptr as *mut u8, layout(size)) };
    }
}

/// A provider that collects only when flushed, into `exporter`.
pub fn provider<E: PushMetricExporter>(exporter: E) -> SdkMeterProvider {
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
pub struct Seen {
    pub unit: String,
    pub description: String,
    pub kind: &'static str,
    pub points: BTreeMap<BTreeMap<String, String>, u64>,
}

pub fn attrs<'a>(kvs: impl Iterator<Item = &'a KeyValue>) -> BTreeMap<String, String> {
    kvs.map(|kv| (kv.key.to_string(), kv.value.to_string()))
        .collect()
}

pub fn seen(resource_metrics: &[ResourceMetrics]) -> BTreeMap<String, Seen> {
    let mut out = BTreeMap::new();
    let last = resource_metrics.last().expect("one export");
    for scope in last.scope_metrics() {
        for m in scope.metrics() {
            let sum_kind = |monotonic| if monotonic { "counter" } else { "updown" };
            let (kind, points): (&'static str, BTreeMap<_, _>) = match m.data() {
                AggregatedMetrics::U64(MetricData::Sum(s)) => (
                    sum_kind(s.is_monotonic()),
                    s.data_points()
                        .map(|p| (attrs(p.attributes()), p.value()))
                        .collect(),
                ),
                AggregatedMetrics::I64(MetricData::Sum(s)) => {
                    let value = |v: i64| u64::try_from(v).unwrap();
                    let points = s
                        .data_points()
                        .map(|p| (attrs(p.attributes()), value(p.value())));
                    (sum_kind(s.is_monotonic()), points.collect())
                }
                AggregatedMetrics::U64(MetricData::Gauge(g)) => {
                    let points = g.data_points().map(|p| (attrs(p.attributes()), p.value()));
                    ("gauge", points.collect())
                }
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

pub fn request_metrics(request: &ExportMetricsServiceRequest) -> BTreeMap<String, pm::Metric> {
    request
        .resource_metrics
        .iter()
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics)
        .map(|m| (m.name.clone(), m.clone()))
        .collect()
}

pub fn attr_map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

pub fn proto_attrs(
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

/// The exponential histogram `metric` carries.
pub fn exponential_histogram(metric: &pm::Metric) -> &pm::ExponentialHistogram {
    match &metric.data {
        Some(pm::metric::Data::ExponentialHistogram(h)) => h,
        other => panic!("{}: not an exponential histogram: {other:?}", metric.name),
    }
}

/// The data points of an exponential histogram, by attributes.
pub fn exp_points(
    metric: &pm::Metric,
) -> BTreeMap<BTreeMap<String, String>, pm::ExponentialHistogramDataPoint> {
    exponential_histogram(metric)
        .data_points
        .iter()
        .map(|p| (proto_attrs(&p.attributes), p.clone()))
        .collect()
}

pub fn sum_value(metric: &pm::Metric, attributes: &[(&str, &str)]) -> u64 {
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
pub struct Capture {
    pub otlp: OtlpExporter,
    pub requests: Arc<Mutex<Vec<ExportMetricsServiceRequest>>>,
    pub temporality: Temporality,
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

impl Capture {
    /// A capture of the requests an exporter of `heap`'s histograms would send, and where
    /// they are kept. Nothing is sent.
    pub fn new(
        heap: &OtelInstruments,
        temporality: Temporality,
    ) -> (Self, Arc<Mutex<Vec<ExportMetricsServiceRequest>>>) {
        let otlp = OtlpExporterBuilder::new(heap)
            .with_endpoint("http://127.0.0.1:9")
            .unwrap()
            .with_temporality(temporality)
            .build()
            .unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let capture = Self {
            // The SDK aggregates as the exporter asks.
            temporality: otlp.temporality(),
            otlp,
            requests: Arc::clone(&requests),
        };
        (capture, requests)
    }
}
