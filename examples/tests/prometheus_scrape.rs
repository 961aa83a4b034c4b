//! The `serve` example under real tools: `promtool check metrics` on its live output, and a real
//! Prometheus server (Debian's `prometheus`) that scrapes it, once with classic histograms and
//! once with `--enable-feature=native-histograms`.
//!
//! `prometheus` and `promtool` must be installed (`.ci/run` installs them); a missing tool is a
//! failure, not a skip. Everything listens on 127.0.0.1 on ports picked by the OS; waits poll
//! with generous deadlines and assert nothing about speed.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long any one wait may take before the test fails (a loaded 2-core machine is slow).
const PATIENCE: Duration = Duration::from_secs(120);

/// A child process that is killed when dropped.
struct Running {
    child: Child,
    what: &'static str,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tool(name: &str) -> PathBuf {
    for dir in ["/usr/bin", "/usr/local/bin", "/bin"] {
        let path = Path::new(dir).join(name);
        if path.exists() {
            return path;
        }
    }
    panic!(
        "`{name}` is not installed: these tests need Debian's `prometheus` package \
         (apt-get install --no-install-recommends prometheus; .ci/run does it)"
    );
}

/// The `serve` example, built by `cargo test` next to this test binary.
fn serve_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps");
    let path = profile_dir.join("examples").join("serve");
    assert!(
        path.exists(),
        "{} is missing: run these tests with `cargo test -p heapster-examples` (cargo test builds the examples)",
        path.display()
    );
    path
}

/// Starts `serve` and returns it with its metrics URL once it is listening.
fn start_serve() -> (Running, SocketAddr) {
    let mut child = Command::new(serve_binary())
        .args(["--port", "0", "--duration", "600"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the serve example");
    let stdout = child.stdout.take().expect("piped stdout");
    let running = Running {
        child,
        what: "serve",
    };
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(PATIENCE)
        .unwrap_or_else(|_| panic!("{} printed no URL", running.what));
    let line = line.trim();
    let addr = line
        .strip_prefix("http://")
        .and_then(|rest| rest.strip_suffix("/metrics"))
        .and_then(|a| a.parse::<SocketAddr>().ok())
        .unwrap_or_else(|| panic!("expected http://127.0.0.1:PORT/metrics, got {line:?}"));
    assert!(addr.ip().is_loopback() && addr.port() != 0, "{addr}");
    (running, addr)
}

/// A minimal HTTP/1.0 GET: `(status, body)`.
fn http_get(addr: SocketAddr, path_and_query: &str, accept: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    write!(
        stream,
        "GET {path_and_query} HTTP/1.0\r\nHost: {addr}\r\nAccept: {accept}\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read response");
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, body.to_owned())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < PATIENCE, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn promtool_finds_nothing_in_the_live_text_output() {
    let promtool = tool("promtool");
    let (_serve, addr) = start_serve();
    let (status, body) = http_get(addr, "/metrics", "text/plain;version=0.0.4");
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
        let binary = tool("prometheus");
        let dir = std::env::temp_dir().join(format!(
            "heapster-prometheus-{}-{}",
            std::process::id(),
            if native { "native" } else { "classic" }
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
                 scrape_configs:\n  - job_name: heapster\n    static_configs:\n      - targets: ['{target}']\n"
            ),
        )
        .unwrap();
        let addr: SocketAddr = ([127, 0, 0, 1], free_port()).into();
        let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
        let mut command = Command::new(binary);
        command
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        if native {
            command.arg("--enable-feature=native-histograms");
        }
        let process = Running {
            child: command.spawn().expect("start prometheus"),
            what: "prometheus",
        };
        let prometheus = Self {
            _process: process,
            addr,
            dir,
        };
        prometheus.wait("Prometheus to be ready", || {
            let ready =
                TcpStream::connect(addr).is_ok() && http_get(addr, "/-/ready", "*/*").0 == 200;
            ready.then_some(())
        });
        prometheus
    }

    fn wait<T>(&self, what: &str, f: impl FnMut() -> Option<T>) -> T {
        let log = self.dir.join("prometheus.log");
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| wait_for(what, f)));
        result.unwrap_or_else(|panic| {
            let log = std::fs::read_to_string(log).unwrap_or_default();
            eprintln!("prometheus log:\n{log}");
            std::panic::resume_unwind(panic)
        })
    }

    /// The values of an instant query, `None` while it has no (finite) result.
    fn query(&self, promql: &str) -> Option<Vec<f64>> {
        let path = format!("/api/v1/query?query={}", percent_encode(promql));
        let (status, body) = http_get(self.addr, &path, "application/json");
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
