//! Where the `/metrics` endpoint listens: host names and tuples as well as socket addresses, a
//! clear error for an address that does not resolve, and a URL that a client can reach.
#![cfg(feature = "http")]

use std::error::Error as _;
use std::net::SocketAddr;

use heapster::Stats;
use heapster_exporter::{Error, ExporterBuilder};
use http::{Method, StatusCode};

#[path = "support/client.rs"]
mod client;
use client::fetch;

fn stats() -> Stats {
    let mut s = Stats::new();
    s.allocations = 42;
    s
}

/// `GET url` with hyper's client: the status and the body.
async fn get(url: &str) -> (StatusCode, String) {
    let uri: http::Uri = url.parse().expect("a URL");
    let authority = uri.authority().expect("a host and port").as_str();
    let addr: SocketAddr = authority.parse().expect("an IP address and port");
    let reply = fetch(addr, Method::GET, uri.path(), None).await;
    (reply.status, reply.text().to_owned())
}

#[tokio::test]
async fn a_host_name_or_a_tuple_listens_and_the_url_answers() {
    for handle in [
        ExporterBuilder::new(stats())
            .with_http_listener("localhost:0")
            .install()
            .expect("localhost resolves to a loopback address"),
        ExporterBuilder::new(stats())
            .with_http_listener(("127.0.0.1", 0))
            .install()
            .expect("a (host, port) tuple"),
    ] {
        let addr = handle.local_addr();
        assert!(addr.ip().is_loopback() && addr.port() != 0, "{addr}");
        let (status, body) = get(&handle.url()).await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains("\nheapster_allocations_total 42\n"), "{body}");
        handle.shutdown().unwrap();
    }
}

#[test]
fn an_address_that_does_not_resolve_is_a_clear_error() {
    // None of these needs a DNS server: each fails before any lookup.
    let cases = [
        ("localhost", "invalid socket address"),
        ("localhost:99999", "invalid port value"),
        ("127.0.0.1:http", "invalid port value"),
    ];
    for (given, reason) in cases {
        let error = ExporterBuilder::new(stats())
            .with_http_listener(given)
            .install()
            .expect_err(given);
        match &error {
            Error::Resolve { addr, source } => {
                assert_eq!(addr, &format!("{given:?}"));
                assert_eq!(source.kind(), std::io::ErrorKind::InvalidInput, "{given}");
            }
            other => panic!("{given}: expected a resolve error, got {other:?}"),
        }
        assert!(error.source().is_some());
        assert_eq!(
            error.chain(),
            format!("cannot resolve the listen address {given:?}: {reason}")
        );
    }
}
