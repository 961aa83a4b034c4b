//! End to end through metrics-exporter-prometheus: what a Prometheus user of the `metrics`
//! facade sees has the catalog's names, types and numbers.

use std::alloc::System;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use heapster::Heapster;
use heapster_exporter::catalog::{DEFAULT_NAMESPACE, Instrument, METRICS};
use heapster_exporter::naming::otel_to_prometheus;
use heapster_exporter::{MetricsPublisher, Sample, Sampler};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusRecorder};

#[global_allocator]
static GLOBAL: Heapster<System> = Heapster::new(System);

/// The family names and types the catalog promises, with the histograms as their bucket
/// counters (as the OpenTelemetry side's bucket counters arrive in Prometheus).
fn expected_families() -> BTreeMap<String, &'static str> {
    METRICS
        .iter()
        .map(|m| match m.instrument {
            Instrument::Histogram => (
                otel_to_prometheus(
                    &format!("{}.bucket", m.full_otel_name(DEFAULT_NAMESPACE)),
                    "{count}",
                    Instrument::Counter,
                ),
                "counter",
            ),
            Instrument::Counter => (m.full_prometheus_name(DEFAULT_NAMESPACE), "counter"),
            Instrument::UpDownCounter | Instrument::Gauge => {
                (m.full_prometheus_name(DEFAULT_NAMESPACE), "gauge")
            }
        })
        .collect()
}

/// `# TYPE` lines of a text exposition: family name to type.
fn families(text: &str) -> BTreeMap<String, &str> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .map(|l| {
            let (name, kind) = l.split_once(' ').unwrap();
            (name.to_owned(), kind)
        })
        .collect()
}

/// The value of the sample line `series` (name and labels exactly as rendered).
fn value(text: &str, series: &str) -> u64 {
    let line = text
        .lines()
        .find(|l| l.strip_prefix(series).is_some_and(|v| v.starts_with(' ')))
        .unwrap_or_else(|| panic!("no {series} in\n{text}"));
    line[series.len()..].trim().parse().unwrap()
}

fn publish_and_render(
    recorder: &PrometheusRecorder,
    publisher: &MetricsPublisher,
) -> (Sample, String) {
    let sample = metrics::with_local_recorder(recorder, || publisher.publish_once());
    (sample, recorder.handle().render())
}

#[test]
fn rendered_names_types_and_help_match_the_catalog() {
    let publisher = MetricsPublisher::from_sampler(Arc::new(Sampler::new(&GLOBAL)));
    let expected = expected_families();
    for recommended in [false, true] {
        let recorder = PrometheusBuilder::new()
            .with_recommended_naming(recommended)
            .build_recorder();
        let (_, text) = publish_and_render(&recorder, &publisher);
        assert_eq!(
            families(&text),
            expected,
            "recommended naming: {recommended}\n{text}"
        );
        for m in METRICS
            .iter()
            .filter(|m| m.instrument != Instrument::Histogram)
        {
            let name = m.full_prometheus_name(DEFAULT_NAMESPACE);
            assert!(
                text.contains(&format!("# HELP {name} {}", m.help)),
                "{name} has the catalog's help"
            );
        }
    }
}

#[test]
fn rendered_numbers_are_one_exact_sample() {
    let publisher = MetricsPublisher::from_sampler(Arc::new(Sampler::new(&GLOBAL)));
    let recorder = PrometheusBuilder::new().build_recorder();
    // Allocate in known sizes so that the buckets below have something in them.
    let blocks: Vec<Vec<u8>> = (0..100).map(|_| Vec::with_capacity(3000)).collect();
    let (sample, text) = publish_and_render(&recorder, &publisher);
    drop(blocks);

    let stats = &sample.stats;
    assert_eq!(
        value(&text, "heapster_allocations_total"),
        stats.allocations
    );
    assert_eq!(
        value(&text, "heapster_allocated_bytes_total"),
        stats.allocated_bytes
    );
    assert_eq!(
        value(&text, r#"heapster_reallocations_total{kind="moved"}"#),
        stats.realloc_moved
    );
    assert_eq!(
        value(&text, "heapster_memory_used_bytes"),
        stats.live_bytes()
    );
    // The histogram's count is its +Inf bucket and equals the allocation counter: one sample.
    assert_eq!(
        value(&text, r#"heapster_allocation_size_bucket_total{le="+Inf"}"#),
        stats.allocations
    );
    let k = 12; // 3000 is in (2048, 4096]
    assert_eq!(
        value(&text, r#"heapster_allocation_size_bucket_total{le="4096"}"#)
            - value(&text, r#"heapster_allocation_size_bucket_total{le="2048"}"#),
        stats.allocation_sizes.bucket(k)
    );
    assert!(stats.allocation_sizes.bucket(k) >= 100);
    // Every bound from 8 B to 1 GiB, and +Inf.
    let les: BTreeSet<&str> = text
        .lines()
        .filter(|l| l.starts_with("heapster_allocation_size_bucket_total{"))
        .map(|l| l.split('"').nth(1).unwrap())
        .collect();
    assert_eq!(les.len(), 29, "{les:?}");
}

#[test]
fn the_publisher_thread_feeds_the_global_recorder_until_stopped() {
    let handle = PrometheusBuilder::new().install_recorder().unwrap();
    let sampler = Arc::new(
        Sampler::new(&GLOBAL)
            .with_interval(Sampler::MIN_INTERVAL)
            .unwrap(),
    );
    let thread = MetricsPublisher::from_sampler(Arc::clone(&sampler))
        .spawn()
        .unwrap();
    // Wait (no time limit of ours) until two samples have been published.
    while sampler.latest().is_none_or(|s| s.sequence < 2) {
        std::thread::sleep(Sampler::MIN_INTERVAL);
    }
    thread.stop().unwrap();
    let last = sampler.latest().unwrap();
    std::thread::sleep(Sampler::MIN_INTERVAL * 5);
    assert_eq!(sampler.latest().unwrap().sequence, last.sequence, "stopped");
    let text = handle.render();
    assert_eq!(families(&text), expected_families());
    assert_eq!(
        value(&text, "heapster_allocations_total"),
        last.stats.allocations
    );
}

#[test]
fn the_exporters_parts_give_a_publisher_on_the_same_sampler_and_config() {
    let config = heapster_exporter::Config::new()
        .with_namespace("app")
        .unwrap();
    let parts = heapster_exporter::ExporterBuilder::new(&GLOBAL)
        .with_config(config)
        .build();
    let publisher = parts.metrics_publisher();
    assert!(
        publisher
            .names()
            .all(|n| n.starts_with("app_") || n.starts_with("process_"))
    );
    let recorder = PrometheusBuilder::new().build_recorder();
    let (sample, text) = publish_and_render(&recorder, &publisher);
    assert_eq!(
        parts.sampler.latest(),
        Some(sample),
        "one sampler for every path"
    );
    assert_eq!(
        value(&text, "app_allocations_total"),
        sample.stats.allocations
    );
}
