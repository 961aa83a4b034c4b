//! Mount heapster's `/metrics` handler in your own hyper server, beside your own routes.
//!
//! ```text
//! cargo run -p heapster-examples --example own_server -- [--serve]
//! ```
//!
//! Binds `127.0.0.1:0`, checks both routes with a plain HTTP request, and with `--serve` keeps
//! serving until Ctrl-C. (In axum, the handler is a route as it is: see `axum.rs`.)

use std::alloc::System;
use std::convert::Infallible;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use bytes::Bytes;
use heapster::Heapster;
use heapster_exporter::{ExporterBuilder, MetricsHandler};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

#[global_allocator]
static GLOBAL: Heapster<System> = Heapster::new(System);

/// The application's router: its own page, and heapster's handler on `/metrics` (it answers
/// on whatever path it is given).
fn route(metrics: &MetricsHandler, request: &Request<Incoming>) -> Response<Full<Bytes>> {
    match request.uri().path() {
        "/" => Response::new(Full::new(Bytes::from(format!(
            "hello; the heap holds {} bytes\n",
            GLOBAL.stats().live_bytes()
        )))),
        "/metrics" => metrics.respond(request),
        _ => {
            let mut response = Response::new(Full::new(Bytes::from_static(b"not found\n")));
            *response.status_mut() = StatusCode::NOT_FOUND;
            response
        }
    }
}

/// `GET path` over a fresh connection; the whole response as text.
fn get(addr: SocketAddr, path: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(addr)?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    Ok(response)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let serve = std::env::args().any(|a| a == "--serve");
    // The parts, without the built-in server: sampler, collector, renderer, handler.
    let parts = ExporterBuilder::new(&GLOBAL).build();
    let metrics = parts.handler;

    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    println!("serving http://{addr}/ and http://{addr}/metrics");
    let server = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let metrics = metrics.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request: Request<Incoming>| {
                    let response = route(&metrics, &request);
                    async move { Ok::<_, Infallible>(response) }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });

    let (home, scrape, missing) = tokio::task::spawn_blocking(move || {
        Ok::<_, std::io::Error>((get(addr, "/")?, get(addr, "/metrics")?, get(addr, "/x")?))
    })
    .await??;
    assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");
    assert!(
        home.starts_with("HTTP/1.1 200") && home.contains("hello"),
        "{home}"
    );
    assert!(scrape.starts_with("HTTP/1.1 200"), "{scrape}");
    assert!(scrape.contains("heapster_allocations_total"), "{scrape}");
    println!(
        "both routes answer: / and /metrics ({} bytes)",
        scrape.len()
    );

    if serve {
        tokio::signal::ctrl_c().await?;
    }
    server.abort();
    Ok(())
}
