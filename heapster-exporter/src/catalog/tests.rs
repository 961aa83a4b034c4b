use std::collections::HashSet;
use std::time::Instant;

use heapster::Stats;

use super::*;

#[test]
fn every_stats_field_is_exported_or_excluded_with_a_reason() {
    let read: HashSet<&str> = METRICS
        .iter()
        .flat_map(|m| m.series)
        .flat_map(|s| s.read.fields())
        .collect();
    let excluded: HashSet<&str> = NOT_EXPORTED.iter().map(|&(name, _)| name).collect();
    for name in Stats::COUNTERS
        .iter()
        .chain(Stats::GAUGES)
        .chain(Stats::HISTOGRAMS)
    {
        assert!(
            read.contains(name) ^ excluded.contains(name),
            "Stats field `{name}` must be read by a metric of METRICS or listed in NOT_EXPORTED (not both)"
        );
    }
    for (name, reason) in NOT_EXPORTED {
        assert!(reason.len() > 20, "`{name}` needs a reason");
    }
}

#[test]
fn every_read_names_a_real_field_of_the_right_kind() {
    let stats = Stats::new();
    for metric in METRICS {
        for series in metric.series {
            match series.read {
                Read::Field(name) => assert!(stats.get(name).is_some(), "no field `{name}`"),
                Read::Histogram(name) => {
                    assert!(stats.histogram(name).is_some(), "no histogram `{name}`");
                }
                _ => {}
            }
            for field in series.read.fields() {
                let known = stats.get(field).is_some() || stats.histogram(field).is_some();
                assert!(known, "`{field}` is not a Stats field");
            }
            let is_histogram = matches!(series.read, Read::Histogram(_));
            assert_eq!(
                is_histogram,
                metric.instrument == Instrument::Histogram,
                "{}: histogram reads exactly for histograms",
                metric.otel_name
            );
        }
    }
}

#[test]
fn prometheus_names_are_the_translation_of_the_otel_names() {
    for metric in METRICS {
        let translated = otel_to_prometheus(
            &metric.full_otel_name(DEFAULT_NAMESPACE),
            metric.unit.ucum(),
            metric.instrument,
        );
        assert_eq!(
            metric.full_prometheus_name(DEFAULT_NAMESPACE),
            translated,
            "{}",
            metric.otel_name
        );
        assert_eq!(metric.prometheus_name, metric.otel_name.replace('.', "_"));
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
fn reads_take_values_from_the_sample() {
    let mut stats = Stats::new();
    stats.allocations = 5;
    stats.deallocations = 2;
    stats.allocated_bytes = 500;
    stats.deallocated_bytes = 100;
    stats.realloc_grown_bytes = 10;
    stats.realloc_moved = 7;
    stats.allocation_sizes.record(64);
    let sample = Sample {
        stats,
        interval_peak: 999,
        taken_at: Instant::now(),
        sequence: 1,
    };
    assert_eq!(Read::Field("realloc_moved").value(&sample), 7);
    assert_eq!(Read::LiveBytes.value(&sample), 410);
    assert_eq!(Read::LiveAllocations.value(&sample), 3);
    assert_eq!(Read::IntervalPeak.value(&sample), 999);
    let h = Read::Histogram("allocation_sizes").histogram(&sample);
    assert_eq!(h.map(Histogram::count), Some(1));
    assert_eq!(Read::LiveBytes.histogram(&sample), None);
}

#[test]
fn translation_rules() {
    assert_eq!(
        otel_to_prometheus("a.b", "By", Instrument::Counter),
        "a_b_bytes_total"
    );
    assert_eq!(
        otel_to_prometheus("a.b", "{thing}", Instrument::Gauge),
        "a_b"
    );
    assert_eq!(otel_to_prometheus("a", "s", Instrument::Histogram), "a_s");
}

#[test]
fn markdown_table_has_one_row_per_metric() {
    let table = markdown_table(DEFAULT_NAMESPACE);
    assert_eq!(table.lines().count(), METRICS.len() + 2);
    assert!(table.contains("| `heapster_memory_used_bytes` | `heapster.memory.used` | gauge |"));
    assert!(table.contains("\\|new - old\\|"), "pipes are escaped");
}
