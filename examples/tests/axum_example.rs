//! The `axum` example end to end: its routes over HTTP/1.1 with hyper's client, and real
//! Prometheus servers (2.42 and 3.x) scraping heapster's handler nested under `/heap`.
//!
//! Everything listens on 127.0.0.1 on ports picked by the OS; waits poll with generous
//! deadlines and assert nothing about speed.

use std::net::SocketAddr;

use hyper::header::{ALLOW, CONTENT_LENGTH};
use hyper::{Method, StatusCode};

/// The hyper client of heapster-exporter's HTTP tests: one way to send a request.
#[path = "../../heapster-exporter/tests/support/client.rs"]
mod client;
mod support;
use client::fetch;
use support::prometheus::{Mode, Options, Prometheus, Setup, Version, check_all};
use support::{Running, start_example};

fn start_axum() -> (Running, SocketAddr) {
    start_example("axum", &["--port", "0", "--duration", "600"])
}

/// The value of the unlabelled sample `name` in a text exposition.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test(flavor = "current_thread")]
async fn every_route_answers_a_real_client() {
    let (_axum, addr) = start_axum();

    let home = fetch(addr, Method::GET, "/", None).await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(
        home.text().starts_with("hello; the heap holds "),
        "{}",
        home.text()
    );

    // The route and the nested service answer alike, whatever the path under the prefix.
    for path in ["/metrics", "/heap/metrics", "/heap", "/heap/anything?x=1"] {
        let reply = fetch(addr, Method::GET, path, None).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.text());
        assert!(
            reply
                .content_type()
                .starts_with("text/plain; version=0.0.4"),
            "{path}: {}",
            reply.content_type()
        );
        // The global allocator counts: the example's own allocations are there.
        let allocations = sample(reply.text(), "heapster_allocations_total");
        assert!(allocations > Some(0.0), "{path}: {allocations:?}");
    }

    // Negotiation goes through the router untouched.
    let om = fetch(
        addr,
        Method::GET,
        "/heap/metrics",
        Some(b"application/openmetrics-text;version=1.0.0"),
    )
    .await;
    assert!(
        om.content_type()
            .starts_with("application/openmetrics-text; version=1.0.0"),
        "{}",
        om.content_type()
    );
    assert!(om.text().ends_with("# EOF\n"), "{}", om.text());

    let get = fetch(addr, Method::GET, "/metrics", None).await;
    let head = fetch(addr, Method::HEAD, "/metrics", None).await;
    assert_eq!(head.status, StatusCode::OK);
    assert!(head.body.is_empty());
    let length: usize = head.headers[CONTENT_LENGTH]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    // Two renders of a live heap differ a little; the header is the length of a full body.
    assert!(
        length > get.body.len() / 2,
        "{length} vs {}",
        get.body.len()
    );

    let post = fetch(addr, Method::POST, "/metrics", None).await;
    assert_eq!(post.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(post.headers[ALLOW], "GET, HEAD");

    // Paths the application does not route stay axum's 404.
    let missing = fetch(addr, Method::GET, "/nowhere", None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

/// Prometheus 2.42 and 3.x (the one that fails a scrape without an exact `Content-Type`),
/// scraping the handler nested under `/heap`: as text, and as protobuf with native histograms.
#[test]
fn prometheus_scrapes_the_nested_handler() {
    let (_axum, target) = start_axum();
    let setups = [
        Setup {
            version: Version::V2,
            mode: Mode::Classic,
        },
        Setup {
            version: Version::V3,
            mode: Mode::Native,
        },
    ];
    let options = Options {
        metrics_path: "/heap/metrics",
        ..Options::default()
    };
    let servers: Vec<Prometheus> = setups
        .into_iter()
        .map(|setup| Prometheus::start(setup, "axum", target, options))
        .collect();
    check_all(&servers, |prometheus| {
        assert_eq!(
            prometheus.value("up{job=\"axum\"}"),
            1.0,
            "the scrape of /heap/metrics failed"
        );
        assert!(prometheus.value("heapster_allocations_total{job=\"axum\"}") > 0.0);
        if prometheus.setup.mode.native() {
            let count = "histogram_count(heapster_allocation_size_bytes{job=\"axum\"})";
            assert!(prometheus.value(count) > 0.0);
        }
    });
}
