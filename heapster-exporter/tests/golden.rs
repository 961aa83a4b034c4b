//! Golden exposition text for a fixed `Stats`, in both text formats.
//!
//! The files are under `tests/golden/`. After an intended change, rewrite them with
//! `HEAPSTER_BLESS=1 cargo test -p heapster-exporter --test golden` and review the diff.
#![cfg(feature = "prometheus")]

use std::path::PathBuf;

use heapster::Stats;
use heapster_exporter::{ExporterBuilder, Format};

/// A snapshot with every kind of value: counters, labelled counters, gauges, histograms with
/// sizes below, inside and above the classic bounds, and an empty histogram.
fn fixed_stats() -> Stats {
    let mut s = Stats::new();
    (s.allocations, s.allocated_bytes) = (1_000, 123_456);
    (s.zeroed_allocations, s.zeroed_bytes) = (10, 4_096);
    (s.deallocations, s.deallocated_bytes) = (900, 100_000);
    (s.realloc_grew_in_place, s.realloc_shrank_in_place) = (5, 2);
    (s.realloc_moved, s.realloc_unchanged, s.realloc_moved_bytes) = (7, 1, 1_400);
    (s.realloc_grown_bytes, s.realloc_shrunk_bytes) = (3_000, 500);
    (s.alloc_failures, s.realloc_failures, s.peak_bytes) = (1, 0, 65_536);
    for size in [1, 3, 8, 9, 100, 1_000, 1 << 20, 1 << 31] {
        s.allocation_sizes.record(size);
    }
    for size in [16, 16, 2_000] {
        s.realloc_grow_sizes.record(size);
    }
    s
}

fn check(format: Format, file: &str) {
    let parts = ExporterBuilder::new(fixed_stats()).build();
    let rendered = String::from_utf8(parts.renderer.render(format).unwrap()).unwrap();
    // The start timestamp (`_created`, OpenMetrics) is the sampler's creation: `CREATED` in
    // the file.
    let since = parts
        .sampler
        .created()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let created = format!(" {}.{:03}\n", since.as_secs(), since.subsec_millis());
    let rendered = rendered.replace(&created, " CREATED\n");
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(file);
    if std::env::var_os("HEAPSTER_BLESS").is_some() {
        std::fs::write(&path, &rendered).unwrap();
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with HEAPSTER_BLESS=1 to create it)",
            path.display()
        )
    });
    assert!(
        rendered == expected,
        "{} differs from the rendered exposition (HEAPSTER_BLESS=1 rewrites it):\n{rendered}",
        path.display()
    );
}

#[test]
fn prometheus_text_0_0_4() {
    check(Format::PrometheusText, "prometheus-text-0.0.4.txt");
}

#[test]
fn openmetrics_text() {
    check(Format::OpenMetrics, "openmetrics.txt");
}

#[test]
fn histogram_invariants_hold_in_the_text() {
    let parts = ExporterBuilder::new(fixed_stats()).build();
    let text = String::from_utf8(parts.renderer.render(Format::PrometheusText).unwrap()).unwrap();
    let value = |series: &str| -> f64 {
        let line = text
            .lines()
            .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
            .unwrap_or_else(|| panic!("no {series}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    let stats = fixed_stats();
    assert_eq!(value("heapster_allocation_size_bytes_count"), 8.0);
    assert_eq!(
        value("heapster_allocation_size_bytes_bucket{le=\"+Inf\"}"),
        value("heapster_allocation_size_bytes_count")
    );
    assert_eq!(
        value("heapster_allocation_size_bytes_sum"),
        stats.allocation_sizes.sum() as f64
    );
    assert_eq!(
        value("heapster_memory_used_bytes"),
        stats.live_bytes() as f64
    );
    assert_eq!(value("heapster_allocations_active"), 100.0);
    assert_eq!(value("heapster_memory_interval_peak_bytes"), 65_536.0);
    assert_eq!(
        value("heapster_reallocation_size_change_bytes_count{direction=\"shrink\"}"),
        0.0
    );
}
