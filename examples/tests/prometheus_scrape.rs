//! The `serve` example under real tools: `promtool check metrics` on its live output, and a real
//! Prometheus server (Debian's `prometheus`) that scrapes it, once with classic histograms and
//! once with `--enable-feature=native-histograms`.
//!
//! `prometheus` and `promtool` must be installed (`.ci/run` installs them); a missing tool is a
//! failure, not a skip. Everything listens on 127.0.0.1 on ports picked by the OS; waits poll
//! with generous deadlines and assert nothing about speed.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

mod support;
use support::{
    Running, http_get, percent_encode, start_example, start_prometheus, system_tool, wait_for,
};

/// How often a wait polls.
const EVERY: Duration = Duration::from_millis(250);

/// Starts `serve` and returns it with its metrics address once it is listening.
fn start_serve() -> (Running, SocketAddr) {
    start_example("serve", &["--port", "0", "--duration", "600"])
}

/// `http_get` that fails the test when the server does not answer.
fn get(addr: SocketAddr, path_and_query: &str, accept: &str) -> (u16, String) {
    http_get(addr, path_and_query, accept)
        .unwrap_or_else(|| panic!("no HTTP answer from {addr}{path_and_query}"))
}

#[test]
fn promtool_finds_nothing_in_the_live_text_output() {
    let promtool = system_tool("promtool", "prometheus");
    let (_serve, addr) = start_serve();
    let (status, body) = get(addr, "/metrics", "text/plain;version=0.0.4");
    assert_eq!(status, 200);
    assert!(body.contains("# TYPE heapster_allocation_size_bytes histogram"));
    let mut check = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool");
    check
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = check.wait_with_output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && report.trim().is_empty(),
        "promtool check metrics: {report}\non:\n{body}"
    );
}

/// A Prometheus server scraping `target` every second, with its data in a temporary folder.
struct Prometheus {
    _process: Running,
    addr: SocketAddr,
    dir: PathBuf,
}

impl Prometheus {
    fn start(target: SocketAddr, native: bool) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "heapster-prometheus-{}-{}",
            std::process::id(),
            if native { "native" } else { "classic" }
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let config = format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
             scrape_configs:\n  - job_name: heapster\n    static_configs:\n      - targets: ['{target}']\n"
        );
        let (process, addr) = start_prometheus(&dir, &config, native);
        Self {
            _process: process,
            addr,
            dir,
        }
    }

    fn wait<T>(&self, what: &str, f: impl FnMut() -> Option<T>) -> T {
        let log = self.dir.join("prometheus.log");
        let result =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| wait_for(what, EVERY, f)));
        result.unwrap_or_else(|panic| {
            let log = std::fs::read_to_string(log).unwrap_or_default();
            eprintln!("prometheus log:\n{log}");
            std::panic::resume_unwind(panic)
        })
    }

    /// The values of an instant query, `None` while it has no (finite) result.
    fn query(&self, promql: &str) -> Option<Vec<f64>> {
        let path = format!("/api/v1/query?query={}", percent_encode(promql));
        let (status, body) = get(self.addr, &path, "application/json");
        if status != 200 {
            return None;
        }
        let json: serde_json::Value = serde_json::from_str(&body).ok()?;
        let values: Vec<f64> = json["data"]["result"]
            .as_array()?
            .iter()
            .filter_map(|r| r["value"][1].as_str()?.parse().ok())
            .filter(|v: &f64| v.is_finite())
            .collect();
        (!values.is_empty()).then_some(values)
    }

    fn value(&self, promql: &str) -> f64 {
        self.wait(promql, || self.query(promql).map(|v| v[0]))
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Asserts what both runs must show: the target is up, counters rise, gauges are plausible,
/// and `histogram_quantile` is within one bucket of the workload's known sizes.
fn check_scrape(prometheus: &Prometheus, quantile: impl Fn(f64) -> String) {
    assert_eq!(prometheus.value("up{job=\"heapster\"}"), 1.0);
    let first = prometheus.value("heapster_allocations_total");
    prometheus.wait("heapster_allocations_total to rise", || {
        prometheus
            .query("heapster_allocations_total")
            .filter(|v| v[0] > first)
    });
    assert!(prometheus.value("heapster_allocated_bytes_total") > 0.0);
    assert!(prometheus.value("sum(heapster_reallocations_total)") > 0.0);
    assert!(prometheus.value("heapster_memory_used_bytes") > 0.0);
    assert!(prometheus.value("heapster_allocations_active") > 0.0);
    // The 8 MiB spike every 2 s shows in the interval peak although it is freed at once.
    prometheus.wait("the 8 MiB spike in the interval peak", || {
        prometheus
            .query("max_over_time(heapster_memory_interval_peak_bytes[1m])")
            .filter(|v| v[0] >= f64::from(8u32 << 20))
    });

    // The workload: 19 of every 21 allocations are 100 bytes, bucket (64, 128]; about 1 in 21
    // is 5000 bytes, bucket (4096, 8192]. One bucket either side is allowed.
    for (q, truth) in [(0.5, 100.0f64), (0.99, 5000.0)] {
        let promql = quantile(q);
        let estimate = prometheus.wait(&promql, || {
            prometheus.query(&promql).map(|v| v[0]).filter(|&e| e > 0.0)
        });
        let bucket_upper = 2f64.powf(truth.log2().ceil());
        assert!(
            estimate > bucket_upper / 4.0 && estimate <= bucket_upper * 2.0,
            "{promql} = {estimate}, truth {truth} is in (.., {bucket_upper}]"
        );
    }
}

#[test]
fn prometheus_scrapes_classic_histograms() {
    let (_serve, target) = start_serve();
    let prometheus = Prometheus::start(target, false);
    check_scrape(&prometheus, |q| {
        format!(
            "histogram_quantile({q}, sum by (le) (rate(heapster_allocation_size_bytes_bucket[15s])))"
        )
    });
    // The classic series are there, with the fixed bucket set (28 bounds and +Inf).
    let buckets = prometheus.wait("the classic buckets", || {
        prometheus.query("count(heapster_allocation_size_bytes_bucket)")
    });
    assert_eq!(buckets[0], 29.0);
    assert_eq!(
        prometheus.value(
            "heapster_allocation_size_bytes_count - on() heapster_allocation_size_bytes_bucket{le=\"+Inf\"}"
        ),
        0.0
    );
}

#[test]
fn prometheus_stores_native_histograms() {
    let (_serve, target) = start_serve();
    let prometheus = Prometheus::start(target, true);
    assert!(prometheus.value("histogram_count(heapster_allocation_size_bytes)") > 0.0);
    assert!(prometheus.value("histogram_sum(heapster_allocation_size_bytes)") > 0.0);
    // The labelled histogram is stored natively too.
    assert_eq!(
        prometheus.value(
            "histogram_count(heapster_reallocation_size_change_bytes{direction=\"shrink\"}) * 0"
        ),
        0.0
    );
    check_scrape(&prometheus, |q| {
        format!("histogram_quantile({q}, sum(rate(heapster_allocation_size_bytes[15s])))")
    });
    // The query the docs recommend works with either form.
    let either = "histogram_quantile(0.5, sum(rate(heapster_allocation_size_bytes[15s]))) \
                  or histogram_quantile(0.5, sum by (le) (rate(heapster_allocation_size_bytes_bucket[15s])))";
    let median = prometheus.value(either);
    assert!(median > 32.0 && median <= 256.0, "{either} = {median}");
}
