//! heapster's OpenTelemetry instruments through the SDK: every counter, up-down counter and
//! gauge of the catalog with its name, unit, kind, attributes and value for a known workload,
//! the per-bucket counters, and the shared `Config`'s namespace and constant labels.
#![cfg(feature = "otel")]

mod support;

use std::alloc::System;
use std::collections::BTreeMap;

use heapster::{Heapster, Stats};
use heapster_exporter::catalog::{Instrument, METRICS};
use heapster_exporter::otel::OtelInstruments;
use heapster_exporter::{Config, Sample};
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_sdk::metrics::InMemoryMetricExporter;

use support::{Seen, attr_map, free, provider, seen, workload};

/// What the SDK collected from `heap`'s instruments, and the sample they observed.
fn collect(heap: &OtelInstruments) -> (BTreeMap<String, Seen>, Vec<String>, Sample) {
    let memory = InMemoryMetricExporter::default();
    let provider = provider(memory.clone());
    let registration = heap.register(&provider.meter("heapster-test"));
    provider.force_flush().unwrap();
    let seen = seen(&memory.get_finished_metrics().unwrap());
    let names = registration.names().map(str::to_owned).collect();
    let sample = heap.sampler().latest().expect("the callbacks sampled");
    provider.shutdown().unwrap();
    (seen, names, sample)
}

#[test]
fn every_counter_and_gauge_arrives_with_its_name_unit_kind_attributes_and_value() {
    static LOCAL: Heapster<System> = Heapster::new(System);
    let live = workload(&LOCAL);
    let stats = LOCAL.stats();
    let (seen, names, sample) = collect(&OtelInstruments::new(&LOCAL));
    assert_eq!(sample.stats, stats, "the source was quiet");
    let expected: Vec<_> = METRICS
        .iter()
        .filter(|m| m.instrument != Instrument::Histogram)
        .map(|m| m.full_otel_name("heapster"))
        .collect();
    assert_eq!(names, expected, "registered in catalog order");
    assert_eq!(
        seen.len(),
        expected.len(),
        "nothing else: {:?}",
        seen.keys()
    );
    for metric in METRICS
        .iter()
        .filter(|m| m.instrument != Instrument::Histogram)
    {
        let name = metric.full_otel_name("heapster");
        let got = &seen[&name];
        assert_eq!(got.unit, metric.unit.ucum(), "{name}");
        assert_eq!(got.description, metric.help, "{name}");
        let kind = match metric.instrument {
            Instrument::Counter => "counter",
            Instrument::UpDownCounter => "updown",
            _ => "gauge",
        };
        assert_eq!(got.kind, kind, "{name}");
        let expected: BTreeMap<_, _> = metric
            .series
            .iter()
            .map(|s| {
                let attribute = metric.attribute.zip(s.attribute_value);
                let attributes = attr_map(attribute.as_slice());
                (attributes, s.read.value(&sample).unwrap())
            })
            .collect();
        assert_eq!(got.points, expected, "{name}");
    }
    free(&LOCAL, live);
}

#[test]
fn values_are_the_workloads_own_numbers() {
    static LOCAL: Heapster<System> = Heapster::new(System);
    let live = workload(&LOCAL);
    let (seen, _, _) = collect(&OtelInstruments::new(&LOCAL));
    let value = |name: &str, a: &[(&str, &str)]| seen[name].points[&attr_map(a)];
    assert_eq!(value("heapster.allocations", &[]), 4);
    assert_eq!(value("heapster.allocated", &[]), 16 + 16 + 64 + 1000);
    assert_eq!(value("heapster.deallocated", &[]), 64);
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
    assert_eq!(value("heapster.memory.used", &[]), 16 + 16 + 100);
    assert_eq!(value("heapster.allocations.active", &[]), 3);
    let kinds: u64 = seen["heapster.reallocations"].points.values().sum();
    assert_eq!(kinds, 2);
    free(&LOCAL, live);
}

#[test]
fn per_bucket_counters_are_cumulative_at_the_config_bounds() {
    static LOCAL: Heapster<System> = Heapster::new(System);
    let live = workload(&LOCAL);
    let heap = OtelInstruments::new(&LOCAL)
        .with_config(Config::new().with_histogram_bounds(8, 1024).unwrap())
        .with_bucket_counters(true);
    let (seen, names, _) = collect(&heap);
    assert_eq!(
        names.len(),
        METRICS.len(),
        "every histogram as bucket counters"
    );
    let buckets = &seen["heapster.allocation.size.bucket"];
    assert_eq!(
        (buckets.kind, buckets.unit.as_str()),
        ("counter", "{count}")
    );
    let le = |b: &str| buckets.points[&attr_map(&[("le", b)])];
    // Sizes 16, 16, 64 and 1000.
    assert_eq!((le("8"), le("16"), le("32"), le("64")), (0, 2, 2, 3));
    assert_eq!((le("512"), le("1024"), le("+Inf")), (3, 4, 4));
    assert_eq!(buckets.points.len(), 9, "le = 8 ..= 1024, then +Inf");
    let changes = &seen["heapster.reallocation.size_change.bucket"];
    let count = |d: &str, b: &str| changes.points[&attr_map(&[("direction", d), ("le", b)])];
    assert_eq!(
        (count("grow", "1024"), count("grow", "+Inf")),
        (0, 1),
        "2000 > 1024"
    );
    assert_eq!(
        (count("shrink", "1024"), count("shrink", "+Inf")),
        (0, 1),
        "2900 > 1024"
    );
    free(&LOCAL, live);
}

#[test]
fn the_configs_namespace_and_constant_labels_reach_every_series() {
    let config = Config::new()
        .with_namespace("app")
        .unwrap()
        .with_constant_label("service", "checkout")
        .unwrap();
    let heap = OtelInstruments::new(Stats::new())
        .with_config(config)
        .with_bucket_counters(true);
    let (seen, names, _) = collect(&heap);
    // The process's metrics keep their semantic-convention names (`process.memory.usage`).
    let namespaced = |n: &str| n.starts_with("app.") || n.starts_with("process.memory.");
    assert!(names.iter().all(|n| namespaced(n)), "{names:?}");
    for (name, got) in &seen {
        assert!(namespaced(name), "{name}");
        for attributes in got.points.keys() {
            assert_eq!(
                attributes.get("service").map(String::as_str),
                Some("checkout"),
                "{name}"
            );
        }
    }
    let kinds = &seen["app.reallocations"].points;
    assert!(kinds.contains_key(&attr_map(&[("service", "checkout"), ("kind", "moved")])));
}
