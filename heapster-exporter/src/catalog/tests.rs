use std::collections::HashSet;
use std::time::Instant;

use heapster::{Histogram, Stats};

use super::*;
use crate::sampler::Sample;

fn sample(stats: Stats) -> Sample {
    Sample {
        stats,
        interval_peak: 0,
        process: None,
        taken_at: Instant::now(),
        sequence: 1,
    }
}

/// Every value and histogram the catalog reads from `sample`, in catalog order.
fn readings(sample: &Sample) -> Vec<(Option<u64>, Option<Histogram>)> {
    METRICS
        .iter()
        .flat_map(|m| m.series)
        .map(|s| (s.read.value(sample), s.read.histogram(sample).copied()))
        .collect()
}

#[test]
fn every_stats_field_changes_a_metric_or_is_excluded_with_a_reason() {
    let untouched = readings(&sample(Stats::new()));
    let changes_a_metric = |stats: Stats| readings(&sample(stats)) != untouched;
    let excluded = |name: &str| NOT_EXPORTED.iter().any(|&(n, _)| n == name);
    for i in 0..Stats::new().fields_mut().len() {
        let mut stats = Stats::new();
        let (name, value) = stats.fields_mut().nth(i).unwrap();
        *value = 1000;
        assert!(
            changes_a_metric(stats) ^ excluded(name),
            "Stats field `{name}` must change a metric of METRICS or be listed in NOT_EXPORTED (not both)"
        );
    }
    for i in 0..Stats::new().histograms_mut().len() {
        let mut stats = Stats::new();
        let (name, histogram) = stats.histograms_mut().nth(i).unwrap();
        histogram.record(64);
        assert!(
            changes_a_metric(stats) ^ excluded(name),
            "Stats histogram `{name}` must be read by a metric or listed in NOT_EXPORTED"
        );
    }
    for (name, reason) in NOT_EXPORTED {
        assert!(reason.len() > 20, "`{name}` needs a reason");
    }
}

#[test]
fn histogram_metrics_read_histograms_and_others_read_values() {
    let mut sample = sample(Stats::new());
    sample.process = Some(crate::ProcessMemory::new(1, 2));
    for metric in METRICS {
        for series in metric.series {
            let is_histogram = metric.instrument == Instrument::Histogram;
            assert_eq!(
                series.read.histogram(&sample).is_some(),
                is_histogram,
                "{}",
                metric.otel_name
            );
            assert_eq!(series.read.value(&sample).is_some(), !is_histogram);
        }
    }
}

#[test]
fn names_match_design_section_5() {
    let names: Vec<(String, String)> = METRICS
        .iter()
        .map(|m| {
            (
                m.full_otel_name(DEFAULT_NAMESPACE),
                m.full_prometheus_name(DEFAULT_NAMESPACE),
            )
        })
        .collect();
    let expected = [
        ("heapster.allocations", "heapster_allocations_total"),
        ("heapster.allocated", "heapster_allocated_bytes_total"),
        ("heapster.deallocations", "heapster_deallocations_total"),
        ("heapster.deallocated", "heapster_deallocated_bytes_total"),
        ("heapster.reallocations", "heapster_reallocations_total"),
        ("heapster.reallocated", "heapster_reallocated_bytes_total"),
        (
            "heapster.reallocation.moved",
            "heapster_reallocation_moved_bytes_total",
        ),
        ("heapster.failures", "heapster_failures_total"),
        ("heapster.memory.used", "heapster_memory_used_bytes"),
        ("heapster.allocations.active", "heapster_allocations_active"),
        ("heapster.memory.peak", "heapster_memory_peak_bytes"),
        (
            "heapster.memory.interval_peak",
            "heapster_memory_interval_peak_bytes",
        ),
        (
            "process.memory.usage",
            "heapster_process_memory_usage_bytes",
        ),
        (
            "process.memory.virtual",
            "heapster_process_memory_virtual_bytes",
        ),
        (
            "heapster.memory.resident_beyond_heap",
            "heapster_memory_resident_beyond_heap_bytes",
        ),
        ("heapster.allocation.size", "heapster_allocation_size_bytes"),
        (
            "heapster.reallocation.size_change",
            "heapster_reallocation_size_change_bytes",
        ),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|&(o, p)| (o.to_owned(), p.to_owned()))
        .collect();
    assert_eq!(names, expected);
}

#[test]
fn series_and_attributes_are_consistent() {
    for metric in METRICS {
        assert!(!metric.series.is_empty());
        if let Some(key) = metric.attribute {
            assert!(!key.contains('.'), "attribute keys have no dots");
            let values: HashSet<_> = metric.series.iter().map(|s| s.attribute_value).collect();
            assert_eq!(values.len(), metric.series.len(), "unique values");
            assert!(values.iter().all(Option::is_some));
        } else {
            assert_eq!(metric.series.len(), 1);
            assert_eq!(metric.series[0].attribute_value, None);
        }
        assert!(metric.help.ends_with('.'), "help is a sentence");
        assert!(!metric.help.contains('\n'));
    }
}

#[test]
fn reads_take_values_from_the_sample_and_derived_ones_from_stats_methods() {
    let mut stats = Stats::new();
    // Distinct values, decreasing so that live bytes and allocations stay positive.
    for (i, (_, value)) in (0..).zip(stats.fields_mut()) {
        *value = 100_000 - 1_000 * i;
    }
    stats.allocation_sizes.record(64);
    let mut sample = sample(stats);
    sample.interval_peak = 999;
    let read = |otel_name: &str, attribute: Option<&str>| {
        let metric = METRICS.iter().find(|m| m.otel_name == otel_name).unwrap();
        let series = metric
            .series
            .iter()
            .find(|s| s.attribute_value == attribute);
        series.unwrap().read
    };
    for (name, attribute, expected) in [
        ("allocations", None, stats.allocations),
        ("reallocations", Some("moved"), stats.realloc_moved),
        ("memory.used", None, stats.live_bytes()),
        ("allocations.active", None, stats.live_allocations()),
        ("memory.interval_peak", None, 999),
    ] {
        assert_ne!(expected, 0, "{name}: a value a wrong read would not give");
        assert_eq!(
            read(name, attribute).value(&sample),
            Some(expected),
            "{name}"
        );
    }
    let sizes = read("allocation.size", None).histogram(&sample);
    assert_eq!(sizes.map(Histogram::count), Some(1));
}

#[test]
fn process_memory_is_read_from_the_sample_and_absent_without_it() {
    let mut stats = Stats::new();
    stats.allocated_bytes = 500;
    stats.deallocated_bytes = 90;
    let mut sample = sample(stats);
    let read = |sample: &Sample, otel_name: &str| {
        let metric = METRICS.iter().find(|m| m.otel_name == otel_name).unwrap();
        metric.series[0].read.value(sample)
    };
    // No process memory: absent, not 0.
    for name in [
        "process.memory.usage",
        "process.memory.virtual",
        "memory.resident_beyond_heap",
    ] {
        assert_eq!(read(&sample, name), None, "{name}");
    }
    sample.process = Some(crate::ProcessMemory::new(4096, 1 << 20));
    assert_eq!(read(&sample, "process.memory.usage"), Some(4096));
    assert_eq!(read(&sample, "process.memory.virtual"), Some(1 << 20));
    assert_eq!(
        read(&sample, "memory.resident_beyond_heap"),
        Some(4096 - 410)
    );
    // A heap larger than resident memory (never written): 0, not an underflow.
    sample.process = Some(crate::ProcessMemory::new(100, 1 << 20));
    assert_eq!(read(&sample, "memory.resident_beyond_heap"), Some(0));
}

#[test]
fn process_metrics_never_take_a_process_collectors_names() {
    // client_golang-style process collectors (and the `prometheus` crate's) export these.
    let taken = [
        "process_resident_memory_bytes",
        "process_virtual_memory_bytes",
        "process_virtual_memory_max_bytes",
    ];
    for names in [
        ProcessMemoryNames::Namespaced,
        ProcessMemoryNames::OpenTelemetry,
    ] {
        for metric in METRICS {
            let name = metric.full_prometheus_name_with(DEFAULT_NAMESPACE, names);
            assert!(!taken.contains(&name.as_str()), "{name}");
        }
    }
    let process: Vec<_> = METRICS.iter().filter(|m| m.reads_process()).collect();
    assert_eq!(process.len(), 3);
    assert!(
        process
            .iter()
            .all(|m| !m.is_exported(ProcessMemoryNames::Off))
    );
    assert!(
        METRICS
            .iter()
            .filter(|m| !m.reads_process())
            .all(|m| m.is_exported(ProcessMemoryNames::Off))
    );
    // Heap metrics have one name whatever the process names; process metrics two.
    for metric in METRICS {
        let namespaced = metric.full_prometheus_name(DEFAULT_NAMESPACE);
        let otel =
            metric.full_prometheus_name_with(DEFAULT_NAMESPACE, ProcessMemoryNames::OpenTelemetry);
        assert_eq!(
            namespaced == otel,
            metric.scope == Scope::Heap,
            "{namespaced}"
        );
    }
}
