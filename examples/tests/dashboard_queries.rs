//! Every PromQL expression of the Grafana dashboard and of the rules file, run against real
//! Prometheus servers that scrape the demo: each must parse and return data. Debian's 2.42 and a
//! 3.x, in every histogram mode each has (classic; native, under which only the native form of
//! heapster's histograms is stored; on 3.x also native+classic), all scraping one demo at once.
//!
//! The server loads the rules file, scrapes and evaluates every second. An alert's expression
//! is empty while the alert does not fire, so for alerts each operand of their comparisons must
//! return data, and the whole expression must parse. Every rule must evaluate without error,
//! and `HeapsterAllocationFailures` must fire (the demo runs with `--failures`).
//!
//! Both Prometheus binaries must be present (`.ci/run` gets them): a missing one fails the test.
//! Everything listens on 127.0.0.1 on ports picked by the OS; waits poll with generous
//! deadlines and nothing asserts on speed.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use heapster_dashboards::{
    DASHBOARD_JSON, Origin, Query, RULES_YAML, Variables, dashboard_queries, operands, rules,
};
use serde_json::Value;

mod support;
use support::prometheus::{MATRIX, Options, Prometheus, check_all};
use support::{PATIENCE, Running, start_example};

/// The job name in the generated Prometheus config.
const JOB: &str = "heapster-demo";

/// How often a wait polls.
const EVERY: Duration = Duration::from_millis(500);

/// Starts the demo with the leak and refused allocations on; returns it with its address.
fn start_demo() -> (Running, SocketAddr) {
    start_example(
        "demo",
        &[
            "--port",
            "0",
            "--duration",
            "900",
            "--every",
            "3600",
            "--leak",
            "--failures",
        ],
    )
}

/// What `/api/v1/query` said about one expression.
#[derive(Debug)]
enum Answer {
    /// It parsed and returned this many series (1 for a scalar or a string).
    Data(usize),
    /// It parsed and returned nothing.
    Empty,
    /// Prometheus rejected it.
    Error(String),
}

fn query(prometheus: &Prometheus, expr: &str) -> Answer {
    let Some(reply) = prometheus.query_json(expr) else {
        return Answer::Error("no answer".to_owned());
    };
    if reply["status"] != "success" {
        return Answer::Error(format!("{}: {}", reply["errorType"], reply["error"]));
    }
    match (
        reply["data"]["resultType"].as_str(),
        &reply["data"]["result"],
    ) {
        (Some("vector" | "matrix"), Value::Array(series)) if series.is_empty() => Answer::Empty,
        (Some("vector" | "matrix"), Value::Array(series)) => Answer::Data(series.len()),
        (Some("scalar" | "string"), _) => Answer::Data(1),
        _ => Answer::Error(format!("unexpected answer {reply}")),
    }
}

/// Polls `expr` until it returns data; `Err` with the last answer at the deadline.
fn query_until_data(
    prometheus: &Prometheus,
    expr: &str,
    deadline: Instant,
) -> Result<usize, String> {
    loop {
        match query(prometheus, expr) {
            Answer::Data(n) => return Ok(n),
            Answer::Error(e) => return Err(format!("rejected: {e}")),
            Answer::Empty if Instant::now() >= deadline => {
                return Err("no data".to_owned());
            }
            Answer::Empty => std::thread::sleep(Duration::from_millis(500)),
        }
    }
}

/// The values Grafana would put in for the dashboard's template variables.
fn variables(target: SocketAddr) -> Variables {
    Variables::new()
        .with("datasource", "prometheus")
        .with("job", JOB)
        .with("instance", &target.to_string())
        .with("__rate_interval", "15s")
        .with("__interval", "5s")
        .with("__range", "1m")
}

/// Runs every dashboard and rule expression on `prometheus`, which scrapes the demo at `target`.
fn check_queries(prometheus: &Prometheus, target: SocketAddr) {
    let mode = prometheus.setup;
    // A few scrapes and rule evaluations first.
    prometheus.wait("10 scrapes of the demo", EVERY, || {
        let reply = prometheus.query_json(&format!(
            "count_over_time(heapster_allocations_total{{job=\"{JOB}\"}}[1m])"
        ))?;
        let samples: f64 = reply["data"]["result"][0]["value"][1]
            .as_str()?
            .parse()
            .ok()?;
        (samples >= 10.0).then_some(())
    });

    // The histograms arrived in the form this mode is about.
    let histogram = "heapster_allocation_size_bytes";
    let native_stored = prometheus
        .query_json(histogram)
        .is_some_and(|r| r["data"]["result"][0]["histogram"].is_array());
    let classic_stored = matches!(
        query(prometheus, &format!("{histogram}_bucket")),
        Answer::Data(_)
    );
    assert_eq!(
        (native_stored, classic_stored),
        (mode.mode.native(), mode.mode.classic()),
        "{mode}: {histogram} stored as (native, classic)"
    );

    let vars = variables(target);
    let deadline = Instant::now() + PATIENCE;
    let mut failures = Vec::new();
    let check = |failures: &mut Vec<String>, origin: String, expr: &str| {
        if let Err(e) = query_until_data(prometheus, expr, deadline) {
            failures.push(format!("{origin}: {e}\n    {expr}"));
        }
    };

    let dashboard = dashboard_queries(DASHBOARD_JSON).expect("read the dashboard");
    for Query { origin, expr } in &dashboard {
        let expr = vars.substitute(expr);
        let left = Variables::unresolved(&expr);
        assert!(left.is_empty(), "{origin}: no value for {left:?}");
        check(&mut failures, origin.to_string(), &expr);
    }
    let dashboard_checked = dashboard.len();

    let rules = rules(RULES_YAML).expect("read the rules");
    let mut alert_operands = 0;
    for rule in &rules {
        let Query { origin, expr } = &rule.query;
        match origin {
            Origin::Alert { .. } => {
                // The whole expression parses (it may be empty: the alert does not fire) ...
                if let Answer::Error(e) = query(prometheus, expr) {
                    failures.push(format!("{origin}: rejected: {e}\n    {expr}"));
                }
                // ... and every series it compares has data.
                for operand in operands(expr) {
                    alert_operands += 1;
                    check(
                        &mut failures,
                        format!("{origin}, operand {operand:?}"),
                        &operand,
                    );
                }
            }
            _ => check(&mut failures, origin.to_string(), expr),
        }
    }
    let alerts = rules
        .iter()
        .filter(|r| matches!(r.query.origin, Origin::Alert { .. }))
        .count();
    let records = rules.len() - alerts;
    let checked = dashboard_checked + records + alerts + alert_operands;
    assert!(
        failures.is_empty(),
        "{mode}: {} of {checked} expressions failed:\n{}",
        failures.len(),
        failures.join("\n")
    );

    // Every rule evaluated without error (e.g. no many-to-many matching).
    let rule_count = rules.len();
    let unhealthy = prometheus.wait("every rule to be evaluated", EVERY, || {
        let reply = prometheus.api("/api/v1/rules")?;
        let evaluated: Vec<(String, String, String)> = reply["data"]["groups"]
            .as_array()?
            .iter()
            .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
            .map(|r| {
                (
                    r["name"].as_str().unwrap_or_default().to_owned(),
                    r["health"].as_str().unwrap_or_default().to_owned(),
                    r["lastError"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        (evaluated.len() == rule_count && evaluated.iter().all(|(_, h, _)| h != "unknown")).then(
            || {
                evaluated
                    .into_iter()
                    .filter(|(_, health, _)| health != "ok")
                    .collect::<Vec<_>>()
            },
        )
    });
    assert!(unhealthy.is_empty(), "{mode}: rules failed: {unhealthy:?}");

    // The demo's refused allocations make the failure alert fire.
    prometheus.wait("HeapsterAllocationFailures to fire", EVERY, || {
        let reply = prometheus.api("/api/v1/alerts")?;
        reply["data"]["alerts"]
            .as_array()?
            .iter()
            .any(|a| {
                a["labels"]["alertname"] == "HeapsterAllocationFailures" && a["state"] == "firing"
            })
            .then_some(())
    });

    println!(
        "{mode} histograms (native stored: {native_stored}, classic stored: {classic_stored}): \
         {checked} expressions checked: {dashboard_checked} dashboard expressions and \
         {records} recording rules returned data, {alerts} alert expressions parsed and their \
         {alert_operands} operands returned data; all {rule_count} rules evaluated without error"
    );
}

#[test]
fn every_query_returns_data_on_each_prometheus() {
    let (_demo, target) = start_demo();
    let options = Options {
        files: &[("heapster-rules.yml", RULES_YAML)],
        rule_files: &["heapster-rules.yml"],
        ..Options::default()
    };
    let servers: Vec<Prometheus> = MATRIX
        .iter()
        .map(|&setup| Prometheus::start(setup, JOB, target, options))
        .collect();
    check_all(&servers, |prometheus| check_queries(prometheus, target));
}
