use std::collections::HashMap;

use heapster::{Histogram, Stats};
use metrics::{Key, Unit as MetricsUnit};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use metrics_util::{CompositeKey, MetricKind};

use super::*;
use crate::ProcessMemory;
use crate::catalog::DEFAULT_NAMESPACE;
use crate::catalog::ProcessMemoryNames;

/// `(name, sorted labels)` of a published series, and its value.
type Published = HashMap<(String, Vec<(String, String)>), DebugValue>;

fn series(key: &Key) -> (String, Vec<(String, String)>) {
    let mut labels: Vec<_> = key
        .labels()
        .map(|l| (l.key().to_owned(), l.value().to_owned()))
        .collect();
    labels.sort();
    (key.name().to_owned(), labels)
}

fn published(snapshotter: &Snapshotter) -> Published {
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value): (CompositeKey, _, _, _)| (series(key.key()), value))
        .collect()
}

fn key(name: &str, labels: &[(&str, &str)]) -> (String, Vec<(String, String)>) {
    let mut labels: Vec<_> = labels
        .iter()
        .map(|&(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    labels.sort();
    (name.to_owned(), labels)
}

fn gauge(v: f64) -> DebugValue {
    DebugValue::Gauge(v.into())
}

/// A snapshot in which every number is different, so a value read from the wrong field shows.
fn distinct_stats() -> Stats {
    let mut s = Stats::new();
    let fields = [
        &mut s.allocations,
        &mut s.allocated_bytes,
        &mut s.zeroed_allocations,
        &mut s.zeroed_bytes,
        &mut s.deallocations,
        &mut s.deallocated_bytes,
        &mut s.realloc_grew_in_place,
        &mut s.realloc_shrank_in_place,
        &mut s.realloc_moved,
        &mut s.realloc_unchanged,
        &mut s.realloc_grown_bytes,
        &mut s.realloc_shrunk_bytes,
        &mut s.realloc_moved_bytes,
        &mut s.alloc_failures,
        &mut s.realloc_failures,
        &mut s.peak_bytes,
    ];
    // Large enough that live bytes and live allocations stay positive and distinct.
    for (i, field) in (1u64..).zip(fields) {
        *field = 1_000_000 * (17 - i) + i;
    }
    // Allocation sizes on both sides of the lowest (8) and highest (1 GiB) default bounds.
    let mut sizes = Histogram::new();
    for size in [1u64, 8, 9, 16, 17, 1000, 1 << 30, (1 << 30) + 1, 1 << 40] {
        sizes.record(size);
    }
    sizes.record(4096);
    sizes.record(4096);
    s.allocation_sizes = sizes;
    let mut grow = Histogram::new();
    grow.record(3);
    grow.record(64);
    s.realloc_grow_sizes = grow;
    s
}

/// A publisher over a sampler of its own, on `source`.
fn publisher(source: impl crate::Source) -> MetricsPublisher {
    MetricsPublisher::from_sampler(Arc::new(Sampler::new(source)))
}

/// Publishes one sample of `publisher`'s sampler to a fresh recorder: the sample, and the
/// recorder's snapshotter.
fn record_once(publisher: &MetricsPublisher) -> (Sample, Snapshotter) {
    let recorder = DebuggingRecorder::new();
    let sample = metrics::with_local_recorder(&recorder, || publisher.publish_once());
    (sample, recorder.snapshotter())
}

/// [`record_once`]: the sample, and every series the recorder then holds.
fn publish_once(publisher: &MetricsPublisher) -> (Sample, Published) {
    let (sample, recorded) = record_once(publisher);
    (sample, published(&recorded))
}

#[test]
fn counters_and_gauges_carry_the_exact_values() {
    let stats = distinct_stats();
    let (sample, got) = publish_once(&publisher(stats));

    assert_eq!(
        got[&key("heapster_allocations_total", &[])],
        DebugValue::Counter(stats.allocations)
    );
    assert_eq!(
        got[&key("heapster_reallocations_total", &[("kind", "moved")])],
        DebugValue::Counter(stats.realloc_moved)
    );
    assert_eq!(
        got[&key("heapster_failures_total", &[("operation", "realloc")])],
        DebugValue::Counter(stats.realloc_failures)
    );
    assert_eq!(
        got[&key("heapster_memory_used_bytes", &[])],
        gauge(stats.live_bytes() as f64)
    );
    assert_eq!(
        got[&key("heapster_allocations_active", &[])],
        gauge(stats.live_allocations() as f64)
    );
    assert_eq!(
        got[&key("heapster_memory_interval_peak_bytes", &[])],
        gauge(sample.interval_peak as f64)
    );
    // Every counter and gauge series of the catalog, each with its own value.
    for metric in METRICS
        .iter()
        .filter(|m| m.instrument != Instrument::Histogram)
    {
        for s in metric.series {
            let labels: Vec<_> = metric
                .attribute
                .zip(s.attribute_value)
                .into_iter()
                .collect();
            let name = metric.full_prometheus_name(DEFAULT_NAMESPACE);
            let Some(value) = s.read.value(&sample) else {
                // A fixed `Stats` has no process memory: nothing is published for it.
                assert!(metric.reads_process(), "{name}");
                assert!(!got.contains_key(&key(&name, &labels)), "{name} is absent");
                continue;
            };
            let expected = if metric.instrument == Instrument::Counter {
                DebugValue::Counter(value)
            } else {
                gauge(value as f64)
            };
            assert_eq!(got[&key(&name, &labels)], expected, "{name} {labels:?}");
        }
    }
}

#[test]
fn histograms_are_exact_cumulative_bucket_counters() {
    let stats = distinct_stats();
    let (_, got) = publish_once(&publisher(stats));
    let bucket = |le: &str| &got[&key("heapster_allocation_size_bucket_total", &[("le", le)])];

    // Sizes 1 and 8 fold into the lowest bound; 9 and 16 are (8, 16]; 17 is (16, 32].
    assert_eq!(bucket("8"), &DebugValue::Counter(2));
    assert_eq!(bucket("16"), &DebugValue::Counter(4));
    assert_eq!(bucket("32"), &DebugValue::Counter(5));
    assert_eq!(bucket("1024"), &DebugValue::Counter(6));
    assert_eq!(bucket("2048"), &DebugValue::Counter(6));
    assert_eq!(bucket("4096"), &DebugValue::Counter(8));
    // 2^30 is inside its own bound; 2^30 + 1 and 2^40 only in +Inf.
    assert_eq!(bucket("1073741824"), &DebugValue::Counter(9));
    assert_eq!(bucket("+Inf"), &DebugValue::Counter(11));
    assert!(!got.contains_key(&key(
        "heapster_allocation_size_bucket_total",
        &[("le", "4")]
    )));
    assert!(!got.contains_key(&key(
        "heapster_allocation_size_bucket_total",
        &[("le", "2147483648")]
    )));
    let series = got
        .keys()
        .filter(|(name, _)| name == "heapster_allocation_size_bucket_total")
        .count();
    assert_eq!(series, 28 + 1, "bounds 2^3..=2^30 and +Inf");

    let grow = |le: &str| {
        &got[&key(
            "heapster_reallocation_size_change_bucket_total",
            &[("direction", "grow"), ("le", le)],
        )]
    };
    assert_eq!(grow("8"), &DebugValue::Counter(1));
    assert_eq!(grow("32"), &DebugValue::Counter(1));
    assert_eq!(grow("64"), &DebugValue::Counter(2));
    assert_eq!(grow("+Inf"), &DebugValue::Counter(2));
    let shrink_inf = &got[&key(
        "heapster_reallocation_size_change_bucket_total",
        &[("direction", "shrink"), ("le", "+Inf")],
    )];
    assert_eq!(
        shrink_inf,
        &DebugValue::Counter(0),
        "empty buckets are published too"
    );
}

#[test]
fn publishing_again_sets_values_and_never_adds() {
    let stats = distinct_stats();
    let sampler = Arc::new(Sampler::new(stats));
    let publisher = MetricsPublisher::from_sampler(Arc::clone(&sampler));
    let recorder = DebuggingRecorder::new();
    metrics::with_local_recorder(&recorder, || {
        publisher.publish_once();
        publisher.publish_once();
    });
    let got = published(&recorder.snapshotter());
    assert_eq!(
        got[&key("heapster_allocations_total", &[])],
        DebugValue::Counter(stats.allocations)
    );
    assert_eq!(
        got[&key("heapster_allocation_size_bucket_total", &[("le", "+Inf")])],
        DebugValue::Counter(stats.allocation_sizes.count())
    );
    assert_eq!(
        sampler.latest().unwrap().sequence,
        2,
        "publish_once samples"
    );
}

#[test]
fn process_memory_is_published_exactly_when_present() {
    let stats = distinct_stats();
    let memory = ProcessMemory::new(3 << 30, 7 << 30);
    let (_, got) = publish_once(&publisher((stats, memory)));
    assert_eq!(
        got[&key("heapster_process_memory_usage_bytes", &[])],
        gauge((3u64 << 30) as f64)
    );
    assert_eq!(
        got[&key("heapster_process_memory_virtual_bytes", &[])],
        gauge((7u64 << 30) as f64)
    );
    assert_eq!(
        got[&key("heapster_memory_resident_beyond_heap_bytes", &[])],
        gauge(((3u64 << 30) - stats.live_bytes()) as f64)
    );
}

#[test]
fn process_memory_names_come_from_the_config() {
    let memory = ProcessMemory::new(4096, 8192);
    let sampler = Arc::new(Sampler::new((Stats::new(), memory)));
    let otel = MetricsPublisher::from_sampler(Arc::clone(&sampler))
        .with_config(Config::new().with_process_memory(ProcessMemoryNames::OpenTelemetry));
    let (_, got) = publish_once(&otel);
    assert_eq!(got[&key("process_memory_usage_bytes", &[])], gauge(4096.0));
    assert!(!got.contains_key(&key("heapster_process_memory_usage_bytes", &[])));

    let off = MetricsPublisher::from_sampler(sampler)
        .with_config(Config::new().with_process_memory(ProcessMemoryNames::Off));
    assert_eq!(off.names().count(), METRICS.len() - 3);
    let (_, got) = publish_once(&off);
    assert!(
        got.keys()
            .all(|(name, _)| !name.contains("process_memory") && !name.contains("resident"))
    );
    assert!(got.contains_key(&key("heapster_allocations_total", &[])));
}

#[test]
fn every_metric_is_described_with_the_catalogs_unit_and_help() {
    let memory = ProcessMemory::new(1, 2);
    let publisher = publisher((Stats::new(), memory));
    let (_, recorded) = record_once(&publisher);
    let snapshot = recorded.snapshot().into_vec();
    let described: HashMap<String, (MetricKind, Option<MetricsUnit>, String)> = snapshot
        .into_iter()
        .map(|(k, unit, help, _)| {
            let help = help.map(|h| h.to_string()).unwrap_or_default();
            (k.key().name().to_owned(), (k.kind(), unit, help))
        })
        .collect();
    for metric in METRICS {
        let (name, kind, unit) = match metric.instrument {
            Instrument::Histogram => (
                bucket_counter_name(metric, DEFAULT_NAMESPACE),
                MetricKind::Counter,
                MetricsUnit::Count,
            ),
            Instrument::Counter => (
                metric.full_prometheus_name(DEFAULT_NAMESPACE),
                MetricKind::Counter,
                super::unit(metric.unit),
            ),
            _ => (
                metric.full_prometheus_name(DEFAULT_NAMESPACE),
                MetricKind::Gauge,
                super::unit(metric.unit),
            ),
        };
        let (got_kind, got_unit, help) = &described[&name];
        assert_eq!((got_kind, got_unit), (&kind, &Some(unit)), "{name}");
        assert!(help.contains(metric.help), "{name}: {help}");
    }
    assert_eq!(described.len(), METRICS.len());
    assert_eq!(publisher.names().count(), METRICS.len());
}

#[test]
fn a_new_recorder_is_described_too() {
    let publisher = publisher(Stats::new());
    for _ in 0..2 {
        let (_, recorded) = record_once(&publisher);
        let snapshot = recorded.snapshot().into_vec();
        assert!(
            snapshot
                .iter()
                .all(|(_, unit, help, _)| unit.is_some() && help.is_some()),
            "every recorder gets the descriptions"
        );
    }
}

#[test]
fn namespace_bounds_and_constant_labels_come_from_the_config() {
    let config = Config::new()
        .with_namespace("myapp")
        .unwrap()
        .with_histogram_bounds(1, 4)
        .unwrap()
        .with_constant_label("service", "api")
        .unwrap();
    let (_, got) = publish_once(&publisher(distinct_stats()).with_config(config));
    assert!(got.contains_key(&key("myapp_allocations_total", &[("service", "api")])));
    assert!(got.contains_key(&key(
        "myapp_reallocations_total",
        &[("kind", "moved"), ("service", "api")]
    )));
    let mut les: Vec<_> = got
        .keys()
        .filter(|(name, _)| name == "myapp_allocation_size_bucket_total")
        .map(|(_, labels)| labels.iter().find(|(k, _)| k == "le").unwrap().1.clone())
        .collect();
    les.sort();
    assert_eq!(les, ["+Inf", "1", "2", "4"]);
    assert!(
        got.keys()
            .all(|(_, labels)| labels.contains(&("service".into(), "api".into())))
    );

    let bare = publisher(Stats::new()).with_config(Config::new().with_namespace("").unwrap());
    assert!(bare.names().any(|n| n == "allocations_total"));
}
