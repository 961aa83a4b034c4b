//! The `/metrics` endpoint, exercised with a real HTTP client (hyper's).
#![cfg(feature = "http")]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use heapster::Stats;
use heapster_exporter::prometheus_client::collector::Collector;
use heapster_exporter::prometheus_client::encoding::DescriptorEncoder;
use heapster_exporter::prometheus_client::registry::Registry;
use heapster_exporter::{Error, ExporterBuilder, ExporterHandle};
use http::header::{ALLOW, CONTENT_LENGTH};
use http::{Method, StatusCode};
use hyper_util::rt::TokioIo;

#[path = "support/client.rs"]
mod client;
use client::fetch;

const TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";
const OPENMETRICS: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8; escaping=underscores";

fn stats() -> Stats {
    let mut s = Stats::new();
    s.allocations = 42;
    s.allocation_sizes.record(100);
    s
}

fn install() -> ExporterHandle {
    ExporterBuilder::new(stats())
        .with_http_listener(SocketAddr::from(([127, 0, 0, 1], 0)))
        .install()
        .expect("install on a free loopback port")
}

#[tokio::test]
async fn get_serves_text_0_0_4_by_default_and_negotiates_the_rest() {
    let handle = install();
    let addr = handle.local_addr();
    assert!(addr.ip().is_loopback() && addr.port() != 0);
    assert_eq!(handle.url(), format!("http://{addr}/metrics"));

    let plain = fetch(addr, Method::GET, "/metrics", None).await;
    assert_eq!(plain.status, StatusCode::OK);
    assert_eq!(plain.content_type(), TEXT);
    let text = std::str::from_utf8(&plain.body).unwrap();
    assert!(text.contains("\nheapster_allocations_total 42\n"), "{text}");

    let om = fetch(
        addr,
        Method::GET,
        "/metrics",
        Some(b"application/openmetrics-text; version=1.0.0"),
    )
    .await;
    assert_eq!(om.content_type(), OPENMETRICS);
    assert!(om.body.ends_with(b"# EOF\n"));

    // Prometheus 3's header: its escaping scheme is echoed.
    let accept = b"application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
    let om = fetch(addr, Method::GET, "/metrics", Some(accept)).await;
    assert_eq!(
        om.content_type(),
        "application/openmetrics-text; version=1.0.0; charset=utf-8; escaping=allow-utf-8"
    );
    assert!(om.body.ends_with(b"# EOF\n"));

    #[cfg(feature = "protobuf")]
    {
        let accept = b"application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        let pb = fetch(addr, Method::GET, "/metrics", Some(accept)).await;
        assert_eq!(
            pb.content_type(),
            "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"
        );
        // Length-delimited: the first varint is the length of the first message.
        assert!(pb.body.len() > 2 && usize::from(pb.body[0]) < pb.body.len());
    }
    handle.shutdown().unwrap();
}

#[tokio::test]
async fn head_has_the_headers_of_get_and_no_body() {
    let handle = install();
    let addr = handle.local_addr();
    let get = fetch(addr, Method::GET, "/metrics", None).await;
    let head = fetch(addr, Method::HEAD, "/metrics", None).await;
    assert_eq!(head.status, StatusCode::OK);
    assert_eq!(head.content_type(), TEXT);
    assert!(head.body.is_empty());
    assert_eq!(
        head.headers[CONTENT_LENGTH].to_str().unwrap(),
        get.body.len().to_string()
    );
    handle.shutdown().unwrap();
}

#[tokio::test]
async fn other_paths_are_404_and_other_methods_405() {
    let handle = install();
    let addr = handle.local_addr();
    for path in ["/", "/metric", "/metrics/", "/metrics/x", "/favicon.ico"] {
        let reply = fetch(addr, Method::GET, path, None).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
    }
    for method in [Method::POST, Method::PUT, Method::DELETE, Method::OPTIONS] {
        let reply = fetch(addr, method.clone(), "/metrics", None).await;
        assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED, "{method}");
        assert_eq!(reply.headers[ALLOW], "GET, HEAD");
    }
    // A query string does not change the path.
    let reply = fetch(addr, Method::GET, "/metrics?x=1", None).await;
    assert_eq!(reply.status, StatusCode::OK);
    handle.shutdown().unwrap();
}

#[tokio::test]
async fn a_bad_accept_header_gets_text_0_0_4() {
    let handle = install();
    let addr = handle.local_addr();
    let bad: [&[u8]; 6] = [
        b"application/json",
        b";;;,,q=",
        b"application/openmetrics-text;q=zero",
        b"application/openmetrics-text;version=9",
        b"\xff\xfe not ascii",
        b"",
    ];
    for accept in bad {
        let reply = fetch(addr, Method::GET, "/metrics", Some(accept)).await;
        assert_eq!(reply.status, StatusCode::OK, "{accept:?}");
        assert_eq!(reply.content_type(), TEXT, "{accept:?}");
    }
    handle.shutdown().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_scrapes_all_succeed() {
    let handle = install();
    let addr = handle.local_addr();
    let expected = fetch(addr, Method::GET, "/metrics", None).await.body;
    let clients: Vec<_> = (0..16)
        .map(|_| {
            tokio::spawn(async move {
                let mut bodies = Vec::new();
                for _ in 0..5 {
                    let reply = fetch(addr, Method::GET, "/metrics", None).await;
                    assert_eq!(reply.status, StatusCode::OK);
                    bodies.push(reply.body);
                }
                bodies
            })
        })
        .collect();
    for client in clients {
        for body in client.await.unwrap() {
            assert_eq!(
                body, expected,
                "a fixed snapshot renders the same every time"
            );
        }
    }
    handle.shutdown().unwrap();
}

/// A collector that blocks its first encode after `armed` is set, and reports that it started.
#[derive(Debug)]
struct Slow {
    armed: AtomicBool,
    started: std::sync::Mutex<mpsc::Sender<()>>,
}

impl Collector for Slow {
    fn encode(&self, _encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        if self.armed.swap(false, Ordering::SeqCst) {
            let _ = self.started.lock().unwrap().send(());
            std::thread::sleep(Duration::from_millis(500));
        }
        Ok(())
    }
}

#[test]
fn shutdown_lets_a_scrape_in_flight_finish() {
    let (started_tx, started) = mpsc::channel();
    let slow = Arc::new(Slow {
        armed: AtomicBool::new(false),
        started: std::sync::Mutex::new(started_tx),
    });
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Arc::clone(&slow)));
    let handle = ExporterBuilder::new(stats())
        .with_registry(registry)
        .with_http_listener(SocketAddr::from(([127, 0, 0, 1], 0)))
        .install()
        .unwrap();
    let addr = handle.local_addr();
    slow.armed.store(true, Ordering::SeqCst);

    let client = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(fetch(addr, Method::GET, "/metrics", None))
    });
    started
        .recv_timeout(Duration::from_secs(60))
        .expect("the scrape reached the collector");
    handle.shutdown().expect("clean shutdown");
    let reply = client.join().expect("the client got an answer");
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.body.starts_with(b"# HELP heapster_allocations_total"));

    // The listener is closed: nothing accepts any more.
    assert!(std::net::TcpStream::connect(addr).is_err());
}

#[test]
fn port_in_use_and_bad_address_are_errors_with_a_source() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let error = ExporterBuilder::new(stats())
        .with_http_listener(addr)
        .install()
        .expect_err("the port is in use");
    match &error {
        Error::Bind { addr: a, source } => {
            assert_eq!(*a, addr);
            assert_eq!(source.kind(), std::io::ErrorKind::AddrInUse);
        }
        other => panic!("expected a bind error, got {other:?}"),
    }
    assert!(std::error::Error::source(&error).is_some());
    assert!(error.to_string().contains(&addr.to_string()));

    // An address that is not this machine's (TEST-NET-1): binding fails, nothing is sent.
    let foreign = SocketAddr::from(([192, 0, 2, 1], 0));
    let error = ExporterBuilder::new(stats())
        .with_http_listener(foreign)
        .install()
        .expect_err("not a local address");
    assert!(matches!(error, Error::Bind { .. }), "{error:?}");
}

#[tokio::test]
async fn the_handler_mounts_in_your_own_hyper_server() {
    let parts = ExporterBuilder::new(stats()).build();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let handler = parts.handler.clone();
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(stream), handler)
            .await
    });
    let reply = fetch(addr, Method::GET, "/metrics", None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(
        std::str::from_utf8(&reply.body)
            .unwrap()
            .contains("heapster_allocations_total 42")
    );
    server.abort();

    // And `serve` runs on your runtime, stopping when told.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(heapster_exporter::serve(listener, parts.handler, async {
        let _ = stopped.await;
    }));
    assert_eq!(
        fetch(addr, Method::HEAD, "/metrics", None).await.status,
        StatusCode::OK
    );
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(60), server)
        .await
        .expect("serve returns after the shutdown signal")
        .unwrap();
}
