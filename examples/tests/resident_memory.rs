//! Heap against resident memory, end to end: the demo with `--fragment` under a real Prometheus
//! (Debian's `prometheus`; `.ci/run` installs it, and a missing tool is a failure, not a skip)
//! that also loads `dashboards/heapster-rules.yml`. The heap rises and falls back while
//! resident memory stays up: the two diverge, the gap metric shows it, and the ratio rule drops.
//!
//! Linux only: elsewhere the process-memory metrics are absent by design.
#![cfg(target_os = "linux")]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

mod support;
use support::{Running, http_get, percent_encode, start_example, start_prometheus, wait_for};

const MIB: f64 = 1024.0 * 1024.0;
/// The demo fills 64 MiB with small blocks and keeps one in 16: well over this much of the heap
/// goes, and stays resident.
const DIVERGENCE: f64 = 40.0 * MIB;

struct Prometheus {
    _process: Running,
    addr: SocketAddr,
    dir: PathBuf,
}

impl Prometheus {
    fn start(target: SocketAddr) -> Self {
        let dir = std::env::temp_dir().join(format!("heapster-resident-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("../dashboards/heapster-rules.yml");
        std::fs::copy(rules, dir.join("heapster-rules.yml")).unwrap();
        let config = format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
             rule_files:\n  - heapster-rules.yml\n\
             scrape_configs:\n  - job_name: heapster\n    static_configs:\n      - targets: ['{target}']\n"
        );
        let (process, addr) = start_prometheus(&dir, &config, false);
        Self {
            _process: process,
            addr,
            dir,
        }
    }

    /// The first value of an instant query, `None` while it has no (finite) result.
    fn query(&self, promql: &str) -> Option<f64> {
        let path = format!("/api/v1/query?query={}", percent_encode(promql));
        let (status, body) = http_get(self.addr, &path, "application/json")?;
        if status != 200 {
            return None;
        }
        let json: serde_json::Value = serde_json::from_str(&body).ok()?;
        let value: f64 = json["data"]["result"].get(0)?["value"][1]
            .as_str()?
            .parse()
            .ok()?;
        value.is_finite().then_some(value)
    }

    fn wait(&self, what: &str, promql: &str) -> f64 {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            wait_for(what, Duration::from_millis(500), || self.query(promql))
        }));
        result.unwrap_or_else(|panic| {
            let log = std::fs::read_to_string(self.dir.join("prometheus.log")).unwrap_or_default();
            eprintln!("prometheus log:\n{log}");
            std::panic::resume_unwind(panic)
        })
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

#[test]
fn fragmentation_keeps_resident_memory_up_while_the_heap_falls_back() {
    let (_demo, target) = start_example("demo", &["--port", "0", "--every", "1", "--fragment"]);
    let prometheus = Prometheus::start(target);

    let resident = prometheus.wait(
        "resident memory to be scraped",
        "heapster_process_memory_usage_bytes",
    );
    let virtual_ = prometheus.wait(
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
    prometheus.wait("the heap and resident memory to diverge", &diverged);

    let heap = prometheus.wait("the live heap", "heapster_memory_used_bytes");
    let heap_max = prometheus.wait(
        "the highest heap",
        &format!("max_over_time(heapster_memory_used_bytes{window})"),
    );
    let resident = prometheus.wait("resident memory", "heapster_process_memory_usage_bytes");
    let gap = prometheus.wait("the gap", "heapster_memory_resident_beyond_heap_bytes");
    eprintln!(
        "after --fragment: resident {:.1} MiB, live heap {:.1} MiB (highest {:.1} MiB), resident beyond the heap {:.1} MiB",
        resident / MIB,
        heap / MIB,
        heap_max / MIB,
        gap / MIB
    );
    // One scrape carries one sample: there, the gap is exactly resident minus heap.
    let exact = prometheus.wait(
        "resident - heap - gap",
        "heapster_process_memory_usage_bytes - heapster_memory_used_bytes - heapster_memory_resident_beyond_heap_bytes",
    );
    assert_eq!(exact, 0.0, "resident {resident}, heap {heap}, gap {gap}");

    // The recording rule, evaluated by the real Prometheus: well under half of the resident
    // memory is live heap after fragmentation, though at the heap's highest point it was more.
    let ratio = prometheus.wait(
        "the ratio rule to fall",
        "instance:heapster_memory_used_per_resident:ratio < 0.5",
    );
    let highest = prometheus.wait(
        "the ratio rule's highest value",
        &format!("max_over_time(instance:heapster_memory_used_per_resident:ratio{window})"),
    );
    eprintln!("live heap / resident: now {ratio:.2}, highest {highest:.2}");
    assert!(highest > ratio + 0.2, "{highest} vs {ratio}");
}
