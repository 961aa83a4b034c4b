//! The `metrics_facade` example's output, as metrics-exporter-prometheus renders it, read by a
//! parser we did not write: `promtool check metrics` (Debian's `prometheus` package; `.ci/run`
//! installs it, and a missing tool is a failure, not a skip).

use std::process::Command;

mod support;
use support::{example_binary, promtool_check_metrics};

#[test]
fn promtool_parses_the_facade_output_and_lints_only_the_bucket_counters() {
    let out = Command::new(example_binary("metrics_facade"))
        .output()
        .expect("run the metrics_facade example");
    assert!(out.status.success(), "the example's own checks failed");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("# TYPE heapster_allocation_size_bucket_total counter"));

    let (code, report) = promtool_check_metrics(&text);
    // Exit 3 is "lint problems found"; a parse error is exit 1.
    assert!(
        matches!(code, Some(0 | 3)),
        "promtool could not parse it:\n{report}"
    );
    // The one convention the bucket counters break on purpose: an `le` label outside a
    // histogram (the facade has no histogram that keeps exact counts); and the example's own
    // counter has no description.
    for line in report.lines().filter(|l| !l.trim().is_empty()) {
        let expected = line.ends_with(r#"non-histogram metrics should not have "le" label"#)
            && (line.starts_with("heapster_allocation_size_bucket_total ")
                || line.starts_with("heapster_reallocation_size_change_bucket_total "))
            || line == "myapp_requests_total no help text";
        assert!(expected, "unexpected promtool finding: {line}\n{report}");
    }
}
