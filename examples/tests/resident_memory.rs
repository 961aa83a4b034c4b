//! Heap against resident memory, end to end: the demo with `--fragment` under a real Prometheus
//! (Debian's `prometheus`; `.ci/run` installs it, and a missing tool is a failure, not a skip)
//! that also loads `dashboards/heapster-rules.yml`. The heap rises and falls back while
//! resident memory stays up: the two diverge, the gap metric shows it, and the ratio rule drops.
//!
//! Linux only: elsewhere the process-memory metrics are absent by design.
#![cfg(target_os = "linux")]

use std::path::Path;
use std::time::Duration;

mod support;
use support::prometheus::{Mode, Options, Prometheus, Setup, Version};
use support::start_example;

const MIB: f64 = 1024.0 * 1024.0;
/// The demo fills 64 MiB with small blocks and keeps one in 16: well over this much of the heap
/// goes, and stays resident.
const DIVERGENCE: f64 = 40.0 * MIB;

/// The first value of `promql`, polled until there is one.
fn wait(prometheus: &Prometheus, what: &str, promql: &str) -> f64 {
    prometheus.wait(what, Duration::from_millis(500), || {
        prometheus.query(promql).map(|v| v[0])
    })
}

#[test]
fn fragmentation_keeps_resident_memory_up_while_the_heap_falls_back() {
    let (_demo, target) = start_example("demo", &["--port", "0", "--every", "1", "--fragment"]);
    let rules_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../dashboards/heapster-rules.yml");
    let rules = std::fs::read_to_string(rules_path).unwrap();
    let setup = Setup {
        version: Version::V2,
        mode: Mode::Classic,
    };
    let options = Options {
        files: &[("heapster-rules.yml", &rules)],
        rule_files: &["heapster-rules.yml"],
        ..Options::default()
    };
    let prometheus = Prometheus::start(setup, "heapster", target, options);

    let resident = wait(
        &prometheus,
        "resident memory to be scraped",
        "heapster_process_memory_usage_bytes",
    );
    let virtual_ = wait(
        &prometheus,
        "virtual memory to be scraped",
        "heapster_process_memory_virtual_bytes",
    );
    assert!(
        0.0 < resident && resident <= virtual_,
        "{resident} {virtual_}"
    );

    // Every part of the divergence at one evaluation: the heap fell back by more than
    // DIVERGENCE from its highest point, resident memory stayed within 20% of its own, and the
    // gap grew by more than DIVERGENCE from its lowest point.
    let window = "[5m]";
    let diverged = format!(
        "(max_over_time(heapster_memory_used_bytes{window}) - heapster_memory_used_bytes > {DIVERGENCE})
         and (heapster_process_memory_usage_bytes > 0.8 * max_over_time(heapster_process_memory_usage_bytes{window}))
         and (heapster_memory_resident_beyond_heap_bytes - min_over_time(heapster_memory_resident_beyond_heap_bytes{window}) > {DIVERGENCE})"
    );
    wait(
        &prometheus,
        "the heap and resident memory to diverge",
        &diverged,
    );

    let heap = wait(&prometheus, "the live heap", "heapster_memory_used_bytes");
    let heap_max = wait(
        &prometheus,
        "the highest heap",
        &format!("max_over_time(heapster_memory_used_bytes{window})"),
    );
    let resident = wait(
        &prometheus,
        "resident memory",
        "heapster_process_memory_usage_bytes",
    );
    let gap = wait(
        &prometheus,
        "the gap",
        "heapster_memory_resident_beyond_heap_bytes",
    );
    eprintln!(
        "after --fragment: resident {:.1} MiB, live heap {:.1} MiB (highest {:.1} MiB), resident beyond the heap {:.1} MiB",
        resident / MIB,
        heap / MIB,
        heap_max / MIB,
        gap / MIB
    );
    // One scrape carries one sample: there, the gap is exactly resident minus heap.
    let exact = wait(
        &prometheus,
        "resident - heap - gap",
        "heapster_process_memory_usage_bytes - heapster_memory_used_bytes - heapster_memory_resident_beyond_heap_bytes",
    );
    assert_eq!(exact, 0.0, "resident {resident}, heap {heap}, gap {gap}");

    // The recording rule, evaluated by the real Prometheus: well under half of the resident
    // memory is live heap after fragmentation, though at the heap's highest point it was more.
    let ratio = wait(
        &prometheus,
        "the ratio rule to fall",
        "instance:heapster_memory_used_per_resident:ratio < 0.5",
    );
    let highest = wait(
        &prometheus,
        "the ratio rule's highest value",
        &format!("max_over_time(instance:heapster_memory_used_per_resident:ratio{window})"),
    );
    eprintln!("live heap / resident: now {ratio:.2}, highest {highest:.2}");
    assert!(highest > ratio + 0.2, "{highest} vs {ratio}");
}
