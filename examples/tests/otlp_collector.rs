//! The `otlp` example under a real OpenTelemetry collector: `rotel-agent` (PyPI `rotel`), with
//! the blackhole exporter and its detailed debug log of every metric it receives.
//!
//! The example starts while the collector is down (its exports fail, it keeps running, its
//! heap stays flat), then the collector comes up (exports are delivered, gzipped), then it is
//! paused with SIGSTOP, a collector too slow to answer (exports time out), then resumed
//! (delivered again). Two more runs make the common mistakes against the real collector: its
//! gRPC port, and the full URL given as the base URL; each error carries its hint. The collector's log must show every metric of the catalog with its unit, data type
//! and attributes, and the size histogram as an `ExponentialHistogram` whose buckets are the
//! workload's sizes and whose count equals `heapster.allocations` of the same export.
//!
//! `rotel-agent` must be installed (`.ci/run` runs `pip install rotel`); a missing binary is
//! a failure, not a skip.
#![cfg(feature = "otel")]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use heapster_exporter::catalog::{Instrument, METRICS};

mod support;
use support::{Running, example_binary, free_port};

/// How long any one wait may take before the test fails (a loaded 2-core machine is slow).
const PATIENCE: Duration = Duration::from_secs(120);

/// `rotel-agent`: `$ROTEL_AGENT`, on `PATH`, or inside the `rotel` Python package.
fn rotel_agent() -> PathBuf {
    if let Some(path) = std::env::var_os("ROTEL_AGENT") {
        return PathBuf::from(path);
    }
    if let Some(path) = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("rotel-agent"))
            .find(|p| p.is_file())
    }) {
        return path;
    }
    let from_python = Command::new("python3")
        .args([
            "-c",
            "import os, rotel; print(os.path.join(os.path.dirname(rotel.__file__), 'rotel-agent'))",
        ])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
        .filter(|p| p.is_file());
    from_python.unwrap_or_else(|| {
        panic!(
            "`rotel-agent` is not installed: this test needs the OTLP collector from the PyPI \
             package `rotel` (pip install rotel; .ci/run does it), or ROTEL_AGENT=/path/to/rotel-agent"
        )
    })
}

struct Rotel {
    process: Running,
    stdout: PathBuf,
}

impl Rotel {
    fn start(dir: &Path, http: u16, grpc: u16) -> Self {
        let stdout = dir.join("rotel.stdout");
        let file = std::fs::File::create(&stdout).unwrap();
        let child = Command::new(rotel_agent())
            .args(["start", "--exporter", "blackhole"])
            .args([
                "--debug-log",
                "metrics",
                "--debug-log-verbosity",
                "detailed",
            ])
            .arg("--otlp-http-endpoint")
            .arg(format!("127.0.0.1:{http}"))
            .arg("--otlp-grpc-endpoint")
            .arg(format!("127.0.0.1:{grpc}"))
            .arg("--log-file")
            .arg(dir.join("rotel.log"))
            .arg("--pid-file")
            .arg(dir.join("rotel.pid"))
            .stdout(Stdio::from(file.try_clone().unwrap()))
            .stderr(Stdio::from(file))
            .spawn()
            .expect("start rotel-agent");
        Self {
            process: Running(child),
            stdout,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.stdout).unwrap_or_default()
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.process.0.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal}");
    }
}

/// The example's standard error, line by line (the example runs as long as this does).
struct Lines {
    lines: mpsc::Receiver<String>,
    _example: Running,
}

/// Starts the `otlp` example, exporting every 300 ms, gzipped, to `endpoint` (a base URL).
fn start_example(endpoint: &str) -> Lines {
    let mut child = Command::new(example_binary("otlp"))
        .args(["--duration", "600"])
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
        .env("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")
        .env("OTEL_METRIC_EXPORT_INTERVAL", "300")
        .env("OTEL_EXPORTER_OTLP_TIMEOUT", "1000")
        .env("OTEL_SERVICE_NAME", "heapster-otlp-test")
        .env_remove("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the otlp example");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let endpoint = endpoint.to_owned();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("otlp example to {endpoint}: {line}");
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    Lines {
        lines: rx,
        _example: Running(child),
    }
}

impl Lines {
    /// Waits for a line containing `needle`; returns it.
    fn wait_for(&self, needle: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(e) => panic!("no line with {needle:?} from the example: {e}"),
            }
        }
    }
}

fn live_bytes(line: &str) -> u64 {
    line.split("live_bytes=")
        .nth(1)
        .and_then(|rest| rest.trim_end_matches(']').parse().ok())
        .unwrap_or_else(|| panic!("no live_bytes in {line:?}"))
}

/// One metric of the collector's debug log: its descriptor lines and data lines.
#[derive(Debug, Default)]
struct Logged {
    unit: String,
    data_type: String,
    monotonic: Option<bool>,
    body: Vec<String>,
}

/// The metrics of the last complete `ResourceMetrics` block that has all of `names`.
fn last_export(log: &str, names: &[String]) -> BTreeMap<String, Logged> {
    let blocks: Vec<&str> = log.split("ResourceMetrics #0").skip(1).collect();
    // The last block may still be being written.
    for block in blocks.iter().rev().skip(1) {
        let mut metrics = BTreeMap::new();
        let mut current: Option<(String, Logged)> = None;
        for line in block.lines().map(str::trim) {
            if line.starts_with("Metric #") || line.starts_with("ScopeMetrics #") {
                metrics.extend(current.take());
            } else if let Some(name) = line.strip_prefix("-> Name: ") {
                current = Some((name.to_owned(), Logged::default()));
            } else if let Some((_, m)) = current.as_mut() {
                if let Some(unit) = line.strip_prefix("-> Unit: ") {
                    m.unit = unit.to_owned();
                } else if let Some(t) = line.strip_prefix("-> DataType: ") {
                    m.data_type = t.to_owned();
                } else if let Some(b) = line.strip_prefix("-> IsMonotonic: ") {
                    m.monotonic = Some(b == "true");
                } else {
                    m.body.push(line.to_owned());
                }
            }
        }
        metrics.extend(current);
        if names.iter().all(|n| metrics.contains_key(n)) {
            return metrics;
        }
    }
    panic!("no complete export with every metric in the collector's log:\n{log}");
}

/// `Bucket (lower, upper], Count: n` lines as (lower, upper, n), bounds rounded to integers
/// (the collector prints 8 as 7.999999999999998).
fn buckets(lines: &[String]) -> Vec<(f64, f64, u64)> {
    lines
        .iter()
        .filter_map(|l| l.strip_prefix("Bucket ("))
        .map(|l| {
            let (bounds, count) = l.split_once("], Count: ").expect("bucket line");
            let (lower, upper) = bounds.split_once(", ").expect("bucket bounds");
            let round = |s: &str| s.parse::<f64>().expect("a bound").round();
            let lower = if lower == "0.5" { 0.5 } else { round(lower) };
            (lower, round(upper), count.parse().expect("a count"))
        })
        .collect()
}

fn field(lines: &[String], key: &str) -> u64 {
    lines
        .iter()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {key:?} in {lines:?}"))
}

#[test]
fn a_real_collector_receives_every_metric_and_native_histograms_and_outages_are_survived() {
    let dir = std::env::temp_dir().join(format!("heapster-otlp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let agent = rotel_agent(); // fail early and clearly when it is missing
    let (http, grpc) = (free_port(), free_port());

    // 1. The collector is down: the example starts anyway and reports failures.
    let lines = start_example(&format!("http://127.0.0.1:{http}"));
    let first = lines.wait_for("export failed");
    assert!(
        first.contains(&format!(
            "export failed: collector at http://127.0.0.1:{http}/v1/metrics refused the \
             connection (is the collector running and listening there? OTLP/HTTP is usually port \
             4318): "
        )) && first.contains(" (1 export failed since "),
        "{first}"
    );
    let mut failing = Vec::new();
    for _ in 0..8 {
        failing.push(live_bytes(&lines.wait_for("export failed")));
    }
    let (min, max) = (failing.iter().min().unwrap(), failing.iter().max().unwrap());
    assert!(
        max - min < 1 << 20,
        "the heap grew from {min} to {max} bytes while exports failed"
    );

    // 2. The collector comes up: delivered.
    let rotel = Rotel::start(&dir, http, grpc);
    lines.wait_for("export delivered");

    // 3. The collector stops answering: exports time out; then it answers again.
    rotel.signal("STOP");
    let slow = lines.wait_for("export failed");
    assert!(
        slow.contains(&format!(
            "collector at http://127.0.0.1:{http}/v1/metrics gave no answer within 1s"
        )),
        "{slow}"
    );
    rotel.signal("CONT");
    lines.wait_for("export delivered");
    let deadline = Instant::now() + PATIENCE;
    while rotel.log().matches("ResourceMetrics #0").count() < 3 {
        assert!(
            Instant::now() < deadline,
            "the collector logged too little:\n{}",
            rotel.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // Pointed at the collector's gRPC port by mistake: the error says so.
    let wrong_port = start_example(&format!("http://127.0.0.1:{grpc}"));
    let line = wrong_port.wait_for("export failed");
    assert!(
        line.contains(&format!(
            "collector at http://127.0.0.1:{grpc}/v1/metrics did not answer in HTTP/1.1 (this \
             looks like an OTLP/gRPC port; heapster speaks OTLP/HTTP, usually port 4318)"
        )),
        "{line}"
    );
    drop(wrong_port);
    // Given the full URL as the base URL: the collector's 404 comes with the hint.
    let doubled = start_example(&format!("http://127.0.0.1:{http}/v1/metrics"));
    let line = doubled.wait_for("export failed");
    assert!(
        line.contains(&format!(
            "collector at http://127.0.0.1:{http}/v1/metrics/v1/metrics answered HTTP 404 Not \
             Found"
        )) && line
            .contains("(the URL repeats /v1/metrics: OTEL_EXPORTER_OTLP_ENDPOINT is the base URL"),
        "{line}"
    );
    drop(doubled);

    // 4. What the collector received.
    let log = rotel.log();
    assert!(
        log.contains("service.name: Str(heapster-otlp-test)"),
        "{log}"
    );
    let names: Vec<String> = METRICS
        .iter()
        .map(|m| m.full_otel_name("heapster"))
        .collect();
    let export = last_export(&log, &names);
    for (metric, name) in METRICS.iter().zip(&names) {
        let got = &export[name];
        assert_eq!(got.unit, metric.unit.ucum(), "{name}");
        let (data_type, monotonic) = match metric.instrument {
            Instrument::Counter => ("Sum", Some(true)),
            Instrument::UpDownCounter => ("Sum", Some(false)),
            Instrument::Gauge => ("Gauge", None),
            Instrument::Histogram => ("ExponentialHistogram", None),
        };
        assert_eq!(
            (got.data_type.as_str(), got.monotonic),
            (data_type, monotonic),
            "{name}"
        );
        if let Some(key) = metric.attribute {
            for series in metric.series {
                let value = series.attribute_value.unwrap();
                let attribute = format!("-> {key}: Str({value})");
                assert!(
                    got.body.contains(&attribute),
                    "{name}: no {attribute} in {:?}",
                    got.body
                );
            }
        }
    }

    // The size histogram: native buckets, exact bounds, the workload's sizes.
    let size = &export["heapster.allocation.size"].body;
    let bucket_list = buckets(size);
    assert!(!bucket_list.is_empty(), "{size:?}");
    for &(lower, upper, _) in &bucket_list {
        assert_eq!(upper, lower * 2.0, "scale 0: ({lower}, {upper}]");
        assert!((upper as u64).is_power_of_two());
    }
    let count_in = |upper: f64| bucket_list.iter().find(|b| b.1 == upper).map_or(0, |b| b.2);
    assert!(
        count_in(128.0) > 0,
        "100-byte buffers in (64, 128]: {bucket_list:?}"
    );
    assert!(
        count_in(8192.0) > 0,
        "5000-byte buffers in (4096, 8192]: {bucket_list:?}"
    );
    let count = field(size, "Count: ");
    assert_eq!(
        count,
        bucket_list.iter().map(|b| b.2).sum::<u64>(),
        "count = sum of buckets"
    );
    let allocations = field(&export["heapster.allocations"].body, "Value: ");
    assert_eq!(
        count, allocations,
        "histogram and counter come from one sample"
    );
    let allocated = field(&export["heapster.allocated"].body, "Value: ");
    assert_eq!(
        field(size, "Sum: "),
        allocated,
        "the sum is the allocated bytes"
    );
    let change = &export["heapster.reallocation.size_change"];
    assert!(
        change.body.iter().any(|l| l == "-> direction: Str(grow)")
            && buckets(&change.body).iter().any(|b| b.2 > 0),
        "the vector growth shows in the size-change histogram: {:?}",
        change.body
    );
    drop(rotel);
    let _ = agent;
    let _ = std::fs::remove_dir_all(&dir);
}
