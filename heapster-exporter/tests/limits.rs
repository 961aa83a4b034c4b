//! The `/metrics` server's limits, each at its edge, with a raw TCP client: which connection
//! the cap closes, the header read timeout (for a silent and an idle keep-alive connection),
//! and the request-head limit.
#![cfg(feature = "http")]

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use heapster::Stats;
use heapster_exporter::{ExporterBuilder, ExporterHandle, HttpLimits};

/// How long a test waits for the server to close a connection it should close. Generous: a
/// liveness bound, not a speed claim; what it tells apart is "closed" from "kept open for
/// minutes" (the timeouts below are set far longer, or far shorter, than this).
const PATIENCE: Duration = Duration::from_secs(20);

/// Installs the endpoint with `limits` on a free loopback port: its handle and address.
fn install(limits: HttpLimits) -> (ExporterHandle, SocketAddr) {
    let exporter = ExporterBuilder::new(Stats::new())
        .with_http_listener(SocketAddr::from(([127, 0, 0, 1], 0)))
        .with_http_limits(limits)
        .install()
        .expect("install on a free loopback port");
    let addr = exporter.local_addr();
    (exporter, addr)
}

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream
}

/// A new connection that has sent part of a request head, and no more.
fn half_request(addr: SocketAddr) -> TcpStream {
    let mut stream = connect(addr);
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: ")
        .expect("send");
    stream
}

/// Sends a keep-alive `HEAD /metrics` on `stream` and returns the response head.
fn head_request(stream: &mut TcpStream) -> String {
    stream
        .write_all(b"HEAD /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .expect("send");
    let mut head = Vec::new();
    let mut byte = [0; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            other => panic!("no complete response head: {other:?} after {head:?}"),
        }
    }
    String::from_utf8(head).unwrap()
}

/// A whole exchange on a new connection; returns the response.
fn exchange(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = connect(addr);
    stream.write_all(request).expect("send");
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).expect("a complete answer");
    String::from_utf8_lossy(&reply).into_owned()
}

/// A `GET /metrics` on a new connection that asks to be closed after; panics unless it is
/// answered `200 OK`.
fn scrape(addr: SocketAddr) {
    let reply = exchange(
        addr,
        b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
}

/// Panics unless the server has closed `stream` (end of stream or reset) within [`PATIENCE`].
fn assert_closed(stream: &mut TcpStream, what: &str) {
    let mut rest = Vec::new();
    match stream.read_to_end(&mut rest) {
        Ok(_) => {}
        Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
        Err(e) => panic!("{what}: still open after {PATIENCE:?} ({e})"),
    }
}

#[test]
fn at_the_cap_the_connection_waiting_longest_without_a_request_is_closed() {
    let limits = HttpLimits::default()
        .with_max_connections(3)
        .unwrap()
        .with_header_read_timeout(Duration::from_secs(300))
        .unwrap();
    let (exporter, addr) = install(limits);

    // `a` opens first, then `b` sends half a request.
    let mut a = connect(addr);
    let mut b = half_request(addr);
    // The server accepts in order: once this scrape is answered, `a` and `b` are in.
    scrape(addr);
    // Now `a` sends a request and stays open: `b` has waited longest.
    assert!(head_request(&mut a).starts_with("HTTP/1.1 200 OK\r\n"));
    // A third connection fills the table; a fourth must make room.
    let _c = connect(addr);
    scrape(addr);

    assert_closed(&mut b, "the connection that waited longest");
    // `a`, which opened first but has sent a request since, is still served.
    assert!(head_request(&mut a).starts_with("HTTP/1.1 200 OK\r\n"));
    exporter.shutdown().unwrap();
}

#[test]
fn silent_and_idle_keep_alive_connections_close_after_the_header_read_timeout() {
    let limits = HttpLimits::default()
        .with_header_read_timeout(Duration::from_secs(1))
        .unwrap();
    let (exporter, addr) = install(limits);

    let mut silent = connect(addr);
    let mut half = half_request(addr);
    let mut idle = connect(addr);
    let head = head_request(&mut idle);
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(!head.contains("connection: close"), "{head}");

    // hyper's own default is 30 s, longer than the patience: only the setting closes them.
    assert_closed(&mut silent, "a connection that never sent anything");
    assert_closed(&mut half, "a connection with half a request head");
    assert_closed(&mut idle, "an idle keep-alive connection");
    exporter.shutdown().unwrap();
}

#[test]
fn a_request_head_over_the_limit_is_431() {
    let limits = HttpLimits::default()
        .with_max_request_head_bytes(1024)
        .unwrap();
    let (exporter, addr) = install(limits);

    let request = |padding: usize| {
        let mut r = b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Pad: ".to_vec();
        r.resize(r.len() + padding, b'a');
        r.extend_from_slice(b"\r\n\r\n");
        r
    };
    // Under hyper's smallest buffer (8 KiB), so only the setting can refuse it.
    let reply = exchange(addr, &request(2000));
    assert!(
        reply.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"),
        "{reply}"
    );
    let reply = exchange(addr, &request(900));
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    exporter.shutdown().unwrap();
}

#[tokio::test]
async fn serve_with_limits_runs_on_your_runtime() {
    let parts = ExporterBuilder::new(Stats::new()).build();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let limits = HttpLimits::default().with_max_connections(1).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(heapster_exporter::serve_with_limits(
        listener,
        parts.handler,
        limits,
        async {
            let _ = stopped.await;
        },
    ));
    tokio::task::spawn_blocking(move || {
        // With room for one connection, a held one is closed for each scrape.
        let mut held = half_request(addr);
        scrape(addr);
        scrape(addr);
        assert_closed(&mut held, "the held connection");
    })
    .await
    .unwrap();
    stop.send(()).unwrap();
    tokio::time::timeout(PATIENCE, server)
        .await
        .expect("serve returns after the shutdown signal")
        .unwrap();
}
