use heapster::Stats;
use prometheus_client::encoding::prometheus_text;

use super::*;
use crate::catalog::ProcessMemoryNames;

fn render(collector: &PrometheusCollector) -> String {
    let mut registry = Registry::default();
    collector.register(&mut registry);
    let mut out = String::new();
    prometheus_text::encode(&mut out, &registry).unwrap();
    out
}

fn collector(stats: Stats) -> PrometheusCollector {
    PrometheusCollector::new(Arc::new(Sampler::new(stats)))
}

fn lines_starting<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
    text.lines().filter(|l| l.starts_with(prefix)).collect()
}

#[test]
fn classic_buckets_fold_below_the_lowest_and_above_the_highest_bound() {
    let mut stats = Stats::new();
    for size in [1, 8, 9, 16, 1 << 30, (1 << 30) + 1, 1 << 40] {
        stats.allocation_sizes.record(size);
    }
    let text = render(&collector(stats));
    let buckets = lines_starting(&text, "heapster_allocation_size_bytes_bucket");
    assert_eq!(buckets.len(), 28 + 1, "8 B ..= 1 GiB, then +Inf");
    assert_eq!(
        buckets[0],
        "heapster_allocation_size_bytes_bucket{le=\"8\"} 2"
    );
    assert_eq!(
        buckets[1],
        "heapster_allocation_size_bytes_bucket{le=\"16\"} 4"
    );
    assert_eq!(
        buckets[27],
        "heapster_allocation_size_bytes_bucket{le=\"1.073741824e+09\"} 5"
    );
    assert_eq!(
        buckets[28],
        "heapster_allocation_size_bytes_bucket{le=\"+Inf\"} 7"
    );
    assert!(text.contains("\nheapster_allocation_size_bytes_count 7\n"));
    let sum = 1 + 8 + 9 + 16 + (1u64 << 30) + (1 << 30) + 1 + (1 << 40);
    assert!(text.contains(&format!("\nheapster_allocation_size_bytes_sum {sum}.0\n")));
}

/// `(le, cumulative count)` of every classic bucket of `metric` in `text`, `le` parsed as a
/// number (text 0.0.4 writes `le="1.048576e+06"` from 2^20 up).
fn classic_buckets(text: &str, metric: &str) -> Vec<(f64, u64)> {
    lines_starting(text, &format!("{metric}_bucket{{le=\""))
        .into_iter()
        .map(|line| {
            let (le, count) = line.split_once("\"} ").unwrap();
            let le = le.rsplit('"').next().unwrap();
            (le.parse().unwrap(), count.parse().unwrap())
        })
        .collect()
}

#[test]
fn every_power_of_two_lands_in_its_own_le_bucket() {
    let config = Config::new().with_histogram_bounds(1, 1 << 63).unwrap();
    for k in 2..63u32 {
        let p = 1u64 << k;
        let mut stats = Stats::new();
        stats.allocation_sizes.record(p - 1);
        stats.allocation_sizes.record(p);
        stats.allocation_sizes.record(p + 1);
        let text = render(&collector(stats).with_config(config.clone()));
        let buckets = classic_buckets(&text, "heapster_allocation_size_bytes");
        assert_eq!(buckets.len(), 64 + 1, "le = 1 ..= 2^63, then +Inf");
        for (j, &(le, count)) in buckets.iter().enumerate() {
            #[allow(clippy::cast_precision_loss, reason = "powers of two are exact")]
            let expected_le = if j < 64 {
                (1u64 << j) as f64
            } else {
                f64::INFINITY
            };
            assert_eq!(le, expected_le, "bucket {j} of k = {k}");
            // 2^k - 1 > 2^(k-1), so it shares bucket k with 2^k; 2^k + 1 is in bucket k + 1.
            let expected = match j {
                j if j < k as usize => 0,
                j if j == k as usize => 2,
                _ => 3,
            };
            assert_eq!(
                count, expected,
                "le={le} with sizes 2^{k} - 1, 2^{k}, 2^{k} + 1"
            );
        }
    }
}

#[test]
fn namespace_and_constant_labels_come_from_the_config() {
    let config = Config::new().with_namespace("app_heap").unwrap();
    let text = render(&collector(Stats::new()).with_config(config));
    assert!(text.contains("\napp_heap_reallocations_total{kind=\"moved\"} 0\n"));
    let bare = Config::new().with_namespace("").unwrap();
    let text = render(&collector(Stats::new()).with_config(bare));
    assert!(text.contains("\nfailures_total{operation=\"alloc\"} 0\n"));
    let labelled = Config::new()
        .with_constant_label("service", "checkout")
        .unwrap();
    let text = render(&collector(stats_with_allocations(3)).with_config(labelled));
    assert!(text.contains("\nheapster_allocations_total{service=\"checkout\"} 3\n"));
    assert!(
        text.contains("\nheapster_reallocations_total{service=\"checkout\",kind=\"moved\"} 0\n")
    );
    assert!(
        text.contains(
            "\nheapster_allocation_size_bytes_bucket{service=\"checkout\",le=\"+Inf\"} 0\n"
        ),
        "{text}"
    );
}

#[test]
fn registers_into_a_users_registry_with_its_prefix_and_labels() {
    use std::borrow::Cow;

    let mut registry = Registry::with_prefix_and_labels(
        "app",
        [(Cow::Borrowed("service"), Cow::Borrowed("checkout"))].into_iter(),
    );
    collector(stats_with_allocations(3)).register(&mut registry);
    let mut out = String::new();
    prometheus_text::encode(&mut out, &registry).unwrap();
    assert!(
        out.contains("\napp_heapster_allocations_total{service=\"checkout\"} 3\n"),
        "{out}"
    );
    assert!(
        out.contains("\napp_heapster_reallocations_total{service=\"checkout\",kind=\"moved\"} 0\n")
    );
}

fn stats_with_allocations(n: u64) -> Stats {
    let mut s = Stats::new();
    s.allocations = n;
    s
}

#[test]
fn process_memory_is_exported_under_the_chosen_names() {
    let mut stats = Stats::new();
    stats.allocations = 10;
    stats.allocated_bytes = 5000;
    let memory = crate::ProcessMemory::new(1 << 20, 1 << 30);
    let with_process = || PrometheusCollector::new(Arc::new(Sampler::new((stats, memory))));

    let text = render(&with_process());
    assert!(text.contains("# TYPE heapster_process_memory_usage_bytes gauge\n"));
    assert!(text.contains("\nheapster_process_memory_usage_bytes 1048576\n"));
    assert!(text.contains("\nheapster_process_memory_virtual_bytes 1073741824\n"));
    let beyond = (1u64 << 20) - 5000;
    assert!(text.contains(&format!(
        "\nheapster_memory_resident_beyond_heap_bytes {beyond}\n"
    )));
    assert!(
        !text.contains("\nprocess_"),
        "no unprefixed names by default"
    );

    let text = render(
        &with_process()
            .with_config(Config::new().with_process_memory(ProcessMemoryNames::OpenTelemetry)),
    );
    assert!(text.contains("\nprocess_memory_usage_bytes 1048576\n"));
    assert!(text.contains("\nprocess_memory_virtual_bytes 1073741824\n"));
    assert!(!text.contains("heapster_process_memory"));
    assert!(text.contains(&format!(
        "\nheapster_memory_resident_beyond_heap_bytes {beyond}\n"
    )));

    let text = render(
        &with_process().with_config(Config::new().with_process_memory(ProcessMemoryNames::Off)),
    );
    assert!(!text.contains("process_memory"), "{text}");
    assert!(!text.contains("resident_beyond_heap"));
    assert!(text.contains("\nheapster_allocations_total 10\n"));
}

#[test]
fn process_memory_that_the_platform_does_not_report_is_left_out() {
    // A fixed `Stats` has no process memory, as on a platform without /proc.
    let text = render(&collector(Stats::new()));
    assert!(!text.contains("process_memory"), "{text}");
    assert!(!text.contains("resident_beyond_heap"), "not faked as 0");
}
