//! Real Prometheus servers for the end-to-end tests: Debian stable's 2.42 (`/usr/bin/prometheus`)
//! and a 3.x (Debian sid's, unpacked by `.ci/prometheus3`), each in the histogram modes it
//! supports, started on loopback ports with their data in a temporary folder.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use super::{Running, free_port, http_get, percent_encode, system_tool, wait_for};

/// The environment variable naming the Prometheus 3.x binary (`.ci/run` sets it).
pub(crate) const PROMETHEUS3_VAR: &str = "HEAPSTER_PROMETHEUS3";

/// A Prometheus release line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Version {
    /// Debian stable's 2.42.
    V2,
    /// Debian sid's 3.x (3.5 LTS).
    V3,
}

/// How the server stores heapster's histograms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Native histograms off: text scrapes, `_bucket`/`_sum`/`_count` series.
    Classic,
    /// `--enable-feature=native-histograms`: protobuf scrapes, only the native form stored.
    Native,
    /// Native histograms plus `always_scrape_classic_histograms: true` (3.x only): both forms.
    NativeAndClassic,
}

impl Mode {
    /// Whether the native form is stored.
    pub(crate) fn native(self) -> bool {
        self != Self::Classic
    }

    /// Whether the classic series are stored.
    pub(crate) fn classic(self) -> bool {
        self != Self::Native
    }
}

/// One server configuration of the test matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Setup {
    pub(crate) version: Version,
    pub(crate) mode: Mode,
}

/// Every configuration the real-Prometheus tests run: both release lines in every mode each
/// supports (2.42 has no option to keep the classic series of a native histogram; 2.45 added
/// `scrape_classic_histograms`).
pub(crate) const MATRIX: [Setup; 5] = [
    Setup {
        version: Version::V2,
        mode: Mode::Classic,
    },
    Setup {
        version: Version::V2,
        mode: Mode::Native,
    },
    Setup {
        version: Version::V3,
        mode: Mode::Classic,
    },
    Setup {
        version: Version::V3,
        mode: Mode::Native,
    },
    Setup {
        version: Version::V3,
        mode: Mode::NativeAndClassic,
    },
];

impl std::fmt::Display for Setup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let version = match self.version {
            Version::V2 => "prometheus 2",
            Version::V3 => "prometheus 3",
        };
        let mode = match self.mode {
            Mode::Classic => "classic",
            Mode::Native => "native",
            Mode::NativeAndClassic => "native+classic",
        };
        write!(f, "{version}, {mode}")
    }
}

/// The binary of `version`, or a failure that says how to get it.
pub(crate) fn binary(version: Version) -> PathBuf {
    match version {
        Version::V2 => system_tool("prometheus", "prometheus"),
        Version::V3 => {
            let path = std::env::var_os(PROMETHEUS3_VAR).map_or_else(
                || {
                    Path::new(env!("CARGO_MANIFEST_DIR"))
                        .join("../target/tools/prometheus-3/usr/bin/prometheus")
                },
                PathBuf::from,
            );
            assert!(
                path.exists(),
                "Prometheus 3 is missing at {}: run `.ci/prometheus3` (it unpacks Debian sid's \
                 prometheus there without installing it; .ci/run does it and sets \
                 {PROMETHEUS3_VAR})",
                path.display()
            );
            path
        }
    }
}

/// What a test asks of a server beyond its setup.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Options<'a> {
    /// Files written into the server's folder first, e.g. a rules file: `(name, contents)`.
    pub(crate) files: &'a [(&'a str, &'a str)],
    /// Rule files to load (names of `files`).
    pub(crate) rule_files: &'a [&'a str],
    /// Feature flags beyond the mode's, e.g. `created-timestamp-zero-ingestion`.
    pub(crate) features: &'a [&'a str],
    /// The job's `scrape_protocols` (3.x), e.g. `OpenMetricsText1.0.0`; empty for the default.
    pub(crate) scrape_protocols: &'a [&'a str],
    /// The path scraped; empty for `/metrics`.
    pub(crate) metrics_path: &'a str,
}

/// A Prometheus server that scrapes one target every second (job `job`), killed and its
/// folder removed when dropped.
pub(crate) struct Prometheus {
    pub(crate) setup: Setup,
    _process: Running,
    pub(crate) addr: SocketAddr,
    dir: PathBuf,
}

impl Prometheus {
    /// Starts a server with `setup` scraping `target` as job `job`, and waits until it is ready.
    /// Fails with its log if it exits or never gets ready.
    pub(crate) fn start(setup: Setup, job: &str, target: SocketAddr, options: Options<'_>) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "heapster-prometheus-{}-{job}-{:?}-{:?}",
            std::process::id(),
            setup.version,
            setup.mode
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the Prometheus folder");
        for (name, contents) in options.files {
            std::fs::write(dir.join(name), contents).expect("write a Prometheus file");
        }
        let mut config = String::from(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n",
        );
        if !options.rule_files.is_empty() {
            config.push_str("rule_files:\n");
            for file in options.rule_files {
                config.push_str(&format!("  - {file}\n"));
            }
        }
        config.push_str(&format!(
            "scrape_configs:\n  - job_name: {job}\n    static_configs:\n      - targets: ['{target}']\n"
        ));
        if setup.mode == Mode::NativeAndClassic {
            config.push_str("    always_scrape_classic_histograms: true\n");
        }
        if !options.metrics_path.is_empty() {
            config.push_str(&format!("    metrics_path: {}\n", options.metrics_path));
        }
        if !options.scrape_protocols.is_empty() {
            config.push_str(&format!(
                "    scrape_protocols: [{}]\n",
                options.scrape_protocols.join(", ")
            ));
        }
        let config_path = dir.join("prometheus.yml");
        std::fs::write(&config_path, config).expect("write the Prometheus config");

        let mut features: Vec<&str> = options.features.to_vec();
        if setup.mode.native() {
            features.push("native-histograms");
        }
        let addr: SocketAddr = ([127, 0, 0, 1], free_port()).into();
        let log_path = dir.join("prometheus.log");
        let log = std::fs::File::create(&log_path).expect("create the Prometheus log");
        let mut command = Command::new(binary(setup.version));
        command
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("share the log"))
            .stderr(log);
        if !features.is_empty() {
            command.arg(format!("--enable-feature={}", features.join(",")));
        }
        let mut process = Running(command.spawn().expect("start prometheus"));
        let prometheus_log = || std::fs::read_to_string(&log_path).unwrap_or_default();
        let ready = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            wait_for("Prometheus to be ready", Duration::from_millis(250), || {
                if let Ok(Some(status)) = process.0.try_wait() {
                    panic!("prometheus ({setup}) exited ({status})");
                }
                http_get(addr, "/-/ready", "*/*")
                    .and_then(|(status, _)| (status == 200).then_some(()))
            })
        }));
        if let Err(panic) = ready {
            eprintln!("prometheus ({setup}) log:\n{}", prometheus_log());
            std::panic::resume_unwind(panic);
        }
        Self {
            setup,
            _process: process,
            addr,
            dir,
        }
    }

    /// The server's log so far.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("prometheus.log")).unwrap_or_default()
    }

    /// Polls `f` until it answers; on failure prints the server's log.
    pub(crate) fn wait<T>(&self, what: &str, every: Duration, f: impl FnMut() -> Option<T>) -> T {
        let what = format!("{what} ({})", self.setup);
        let result =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| wait_for(&what, every, f)));
        result.unwrap_or_else(|panic| {
            eprintln!("prometheus ({}) log:\n{}", self.setup, self.log());
            std::panic::resume_unwind(panic)
        })
    }

    /// The JSON answer of an API call, `None` without one.
    pub(crate) fn api(&self, path_and_query: &str) -> Option<Value> {
        let (_, body) = http_get(self.addr, path_and_query, "application/json")?;
        serde_json::from_str(&body).ok()
    }

    /// The JSON answer of an instant query.
    pub(crate) fn query_json(&self, promql: &str) -> Option<Value> {
        self.api(&format!("/api/v1/query?query={}", percent_encode(promql)))
    }

    /// The finite values of an instant query's vector, `None` while it has none.
    pub(crate) fn query(&self, promql: &str) -> Option<Vec<f64>> {
        let json = self.query_json(promql)?;
        let values: Vec<f64> = json["data"]["result"]
            .as_array()?
            .iter()
            .filter_map(|r| r["value"][1].as_str()?.parse().ok())
            .filter(|v: &f64| v.is_finite())
            .collect();
        (!values.is_empty()).then_some(values)
    }

    /// The first value of `promql`, waiting until there is one.
    pub(crate) fn value(&self, promql: &str) -> f64 {
        self.wait(promql, Duration::from_millis(250), || {
            self.query(promql).map(|v| v[0])
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

/// Runs `check` on every server at once, each on a thread of its own, and fails naming every
/// setup whose check failed (after all have finished).
pub(crate) fn check_all(servers: &[Prometheus], check: impl Fn(&Prometheus) + Sync) {
    let failed: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = servers
            .iter()
            .map(|server| (server.setup, scope.spawn(|| check(server))))
            .collect();
        handles
            .into_iter()
            .filter_map(|(setup, handle)| {
                handle.join().err().map(|panic| {
                    let message = panic
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                        .unwrap_or_default();
                    format!("{setup}: {message}")
                })
            })
            .collect()
    });
    assert!(
        failed.is_empty(),
        "{} of {} setups failed:\n{}",
        failed.len(),
        servers.len(),
        failed.join("\n")
    );
}

/// The `le` bounds of the stored classic buckets of `metric`, parsed as numbers (so that `1024`
/// from 2.42 and `1024.0` from 3.x are the same), sorted and without duplicates.
pub(crate) fn classic_bounds(prometheus: &Prometheus, metric: &str) -> Vec<f64> {
    let json = prometheus
        .query_json(&format!("{metric}_bucket"))
        .unwrap_or_default();
    let mut bounds: Vec<f64> = json["data"]["result"]
        .as_array()
        .map(|series| {
            series
                .iter()
                .filter_map(|s| s["metric"]["le"].as_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    bounds.sort_by(f64::total_cmp);
    bounds.dedup();
    bounds
}
