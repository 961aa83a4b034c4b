//! The `serve` example under real tools: `promtool check metrics` on its live output, and real
//! Prometheus servers that scrape it: Debian's 2.42 and a 3.x, in every histogram mode each has
//! (see `support::prometheus::MATRIX`), all scraping one `serve` at once.
//!
//! `prometheus`, `promtool` and the 3.x binary must be present (`.ci/run` gets them); a missing
//! tool is a failure, not a skip. Everything listens on 127.0.0.1 on ports picked by the OS; waits poll
//! with generous deadlines and assert nothing about speed.

use std::net::SocketAddr;
use std::time::Duration;

mod support;
use support::prometheus::{
    MATRIX, Mode, Options, Prometheus, Setup, Version, check_all, classic_bounds,
};
use support::{Running, http_get, promtool_check_metrics, start_example};

/// How often a wait polls.
const EVERY: Duration = Duration::from_millis(250);

/// The job name in the Prometheus config.
const JOB: &str = "heapster";

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
    let (_serve, addr) = start_serve();
    let (status, body) = get(addr, "/metrics", "text/plain;version=0.0.4");
    assert_eq!(status, 200);
    assert!(body.contains("# TYPE heapster_allocation_size_bytes histogram"));
    let (code, report) = promtool_check_metrics(&body);
    assert!(
        code == Some(0) && report.trim().is_empty(),
        "promtool check metrics: {report}\non:\n{body}"
    );
}

/// Asserts what every setup must show: the target is up, counters rise, gauges are plausible,
/// the histograms are stored in the forms the mode keeps, with the fixed bucket set, and
/// `histogram_quantile` is within one bucket of the workload's known sizes in each form.
fn check_scrape(prometheus: &Prometheus) {
    let mode = prometheus.setup.mode;
    assert_eq!(prometheus.value("up{job=\"heapster\"}"), 1.0);
    let first = prometheus.value("heapster_allocations_total");
    prometheus.wait("heapster_allocations_total to rise", EVERY, || {
        prometheus
            .query("heapster_allocations_total")
            .filter(|v| v[0] > first)
    });
    assert!(prometheus.value("heapster_allocated_bytes_total") > 0.0);
    assert!(prometheus.value("sum(heapster_reallocations_total)") > 0.0);
    assert!(prometheus.value("heapster_memory_used_bytes") > 0.0);
    assert!(prometheus.value("heapster_allocations_active") > 0.0);
    // The 8 MiB spike every 2 s shows in the interval peak although it is freed at once.
    prometheus.wait("the 8 MiB spike in the interval peak", EVERY, || {
        prometheus
            .query("max_over_time(heapster_memory_interval_peak_bytes[1m])")
            .filter(|v| v[0] >= f64::from(8u32 << 20))
    });

    let histogram = "heapster_allocation_size_bytes";
    let native_stored = |name: &str| {
        prometheus
            .query_json(name)
            .is_some_and(|r| r["data"]["result"][0]["histogram"].is_array())
    };
    if mode.native() {
        prometheus.wait("the native histogram", EVERY, || {
            native_stored(histogram).then_some(())
        });
        assert!(prometheus.value(&format!("histogram_count({histogram})")) > 0.0);
        assert!(prometheus.value(&format!("histogram_sum({histogram})")) > 0.0);
        // The labelled histogram is stored natively too.
        assert_eq!(
            prometheus.value(
                "histogram_count(heapster_reallocation_size_change_bytes{direction=\"shrink\"}) * 0"
            ),
            0.0
        );
    } else {
        assert!(
            !native_stored(histogram),
            "{histogram} is stored as a native histogram"
        );
    }
    if mode.classic() {
        // The fixed bucket set: every power of two from 8 B to 1 GiB, and +Inf, whichever
        // way this version writes `le` (`1024` or `1024.0`).
        let bounds = prometheus.wait("the classic buckets", EVERY, || {
            Some(classic_bounds(prometheus, histogram)).filter(|b| !b.is_empty())
        });
        let expected: Vec<f64> = (3..=30)
            .map(|k| f64::from(1u32 << k))
            .chain([f64::INFINITY])
            .collect();
        assert_eq!(bounds, expected);
        // `_count` equals the highest cumulative bucket (+Inf): one snapshot per scrape.
        assert_eq!(
            prometheus.value(&format!("{histogram}_count - on() max({histogram}_bucket)")),
            0.0
        );
    } else {
        assert!(
            prometheus.query(&format!("{histogram}_bucket")).is_none(),
            "classic series stored in native mode"
        );
    }

    // The workload: 19 of every 21 allocations are 100 bytes, bucket (64, 128]; about 1 in 21
    // is 5000 bytes, bucket (4096, 8192]. One bucket either side is allowed.
    // `Q` stands for the quantile.
    let native = format!("histogram_quantile(Q, sum(rate({histogram}[15s])))");
    let classic = format!("histogram_quantile(Q, sum by (le) (rate({histogram}_bucket[15s])))");
    let mut quantiles = Vec::new();
    if mode.native() {
        quantiles.push(native.clone());
    }
    if mode.classic() {
        quantiles.push(classic.clone());
    }
    // The query the docs recommend works in every mode.
    quantiles.push(format!("{native} or {classic}"));
    for quantile in quantiles {
        for (q, truth) in [(0.5, 100.0f64), (0.99, 5000.0)] {
            let promql = quantile.replace('Q', &q.to_string());
            let estimate = prometheus.wait(&promql, EVERY, || {
                prometheus.query(&promql).map(|v| v[0]).filter(|&e| e > 0.0)
            });
            let bucket_upper = 2f64.powf(truth.log2().ceil());
            assert!(
                estimate > bucket_upper / 4.0 && estimate <= bucket_upper * 2.0,
                "{promql} = {estimate}, truth {truth} is in (.., {bucket_upper}]"
            );
        }
    }
}

#[test]
fn every_prometheus_scrapes_and_stores_each_histogram_form() {
    let (_serve, target) = start_serve();
    let servers: Vec<Prometheus> = MATRIX
        .iter()
        .map(|&setup| Prometheus::start(setup, JOB, target, Options::default()))
        .collect();
    check_all(&servers, check_scrape);
}
/// Prometheus 3 with `created-timestamp-zero-ingestion` places a zero at each counter's and
/// histogram's start timestamp, before the first scraped value: from the protobuf exposition
/// (`created_timestamp`) in every mode, and from OpenMetrics (`_created` lines).
///
/// The feature makes 3.5 scrape protobuf first; without native histograms it then stores a
/// histogram that has both forms in neither (unless `always_scrape_classic_histograms`), so in
/// classic mode over protobuf only the counters are checked.
#[test]
fn prometheus_3_stores_a_zero_at_the_start_timestamp() {
    let (_serve, target) = start_serve();
    let v3 = |mode| Setup {
        version: Version::V3,
        mode,
    };
    let features = &["created-timestamp-zero-ingestion"];
    let protobuf = Options {
        features,
        ..Options::default()
    };
    let openmetrics = Options {
        features,
        scrape_protocols: &["OpenMetricsText1.0.0"],
        ..Options::default()
    };
    let servers = [
        (v3(Mode::Classic), protobuf),
        (v3(Mode::Native), protobuf),
        (v3(Mode::NativeAndClassic), protobuf),
        (v3(Mode::Classic), openmetrics),
    ]
    .map(|(setup, options)| {
        let over_openmetrics = !options.scrape_protocols.is_empty();
        (
            Prometheus::start(setup, JOB, target, options),
            over_openmetrics,
        )
    });
    let (over_protobuf, over_openmetrics): (Vec<_>, Vec<_>) =
        servers.into_iter().partition(|(_, om)| !om);
    let check = |prometheus: &Prometheus, classic_histograms: bool| {
        let mode = prometheus.setup.mode;
        // (selector, whether its samples are native histograms)
        let mut series = vec![("heapster_allocations_total", false)];
        if classic_histograms {
            series.push(("heapster_allocation_size_bytes_count", false));
            // Of the bucket series, the one that counts most: `+Inf`.
            series.push(("heapster_allocation_size_bytes_bucket", false));
        }
        if mode.native() {
            series.push(("heapster_allocation_size_bytes", true));
        }
        for (name, native) in series {
            // The first two samples of the series (the one with the highest latest value),
            // oldest first: a zero, then a count.
            let (first, second) = prometheus.wait(&format!("two samples of {name}"), EVERY, || {
                let json = prometheus.query_json(&format!("{name}[10m]"))?;
                let key = if native { "histograms" } else { "values" };
                let sample = |s: &serde_json::Value| -> Option<(f64, f64)> {
                    let value = if native { &s[1]["count"] } else { &s[1] };
                    Some((s[0].as_f64()?, value.as_str()?.parse().ok()?))
                };
                let samples: Vec<(f64, f64)> = json["data"]["result"]
                    .as_array()?
                    .iter()
                    .filter_map(|r| {
                        r[key]
                            .as_array()?
                            .iter()
                            .map(sample)
                            .collect::<Option<Vec<_>>>()
                    })
                    .max_by(|a, b| {
                        let last = |s: &Vec<(f64, f64)>| s.last().map_or(0.0, |l| l.1);
                        last(a).total_cmp(&last(b))
                    })?;
                Some((*samples.first()?, *samples.get(1)?))
            });
            assert_eq!(first.1, 0.0, "{name}: the oldest sample is not the zero");
            assert!(second.1 > 0.0, "{name}: {second:?}");
            assert!(first.0 < second.0);
        }
    };
    let over_protobuf: Vec<Prometheus> = over_protobuf.into_iter().map(|(p, _)| p).collect();
    check_all(&over_protobuf, |p| {
        check(p, p.setup.mode == Mode::NativeAndClassic);
    });
    let over_openmetrics: Vec<Prometheus> = over_openmetrics.into_iter().map(|(p, _)| p).collect();
    check_all(&over_openmetrics, |p| check(p, true));
}
