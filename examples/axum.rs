//! Serve heapster's metrics from an axum 0.8 service, beside its own routes.
//!
//! ```text
//! cargo run -p heapster-examples --example axum -- [--port PORT] [--duration SECS]
//! ```
//!
//! Prints `http://127.0.0.1:PORT/metrics` once it is listening (port 0, the default, picks a
//! free port) and serves until Ctrl-C or for `--duration` seconds:
//! - `/` is the application's own page;
//! - `/metrics` is heapster's handler as a route (`Router::route_service`);
//! - `/heap/...` is the same handler nested under a prefix (`Router::nest_service`): the
//!   handler answers on whatever path it is mounted at.
//!
//! `MetricsHandler` is a `tower::Service` with heapster-exporter's `tower` feature. No sampling
//! loop runs: each scrape takes a sample when the latest is older than the sampling interval.

use std::alloc::System;
use std::io::Write;
use std::net::Ipv4Addr;

use axum::Router;
use axum::routing::get;
use heapster::Heapster;
use heapster_exporter::{ExporterBuilder, MetricsHandler};

#[global_allocator]
static GLOBAL: Heapster<System> = Heapster::new(System);

#[path = "cli.rs"]
#[allow(
    dead_code,
    reason = "this example runs its own loop: axum's graceful shutdown"
)]
mod cli;

const USAGE: &str = "usage: axum [--port PORT] [--duration SECS]";

/// The application's router: its own page, and heapster's handler at two places.
fn app(metrics: MetricsHandler) -> Router {
    Router::new()
        .route("/", get(hello))
        .route_service("/metrics", metrics.clone())
        .nest_service("/heap", metrics)
}

async fn hello() -> String {
    format!(
        "hello; the heap holds {} bytes\n",
        GLOBAL.stats().live_bytes()
    )
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = cli::parse_args(USAGE, 0, |_, _| Ok(false))?;
    // The parts, without the built-in server: sampler, collector, renderer, handler.
    let parts = ExporterBuilder::new(&GLOBAL).build();

    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, args.port)).await?;
    // The first line is the URL alone, for scripts and tests.
    println!("http://{}/metrics", listener.local_addr()?);
    std::io::stdout().flush()?;

    let stop = async move {
        match args.duration {
            Some(duration) => tokio::time::sleep(duration).await,
            None => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    };
    axum::serve(listener, app(parts.handler))
        .with_graceful_shutdown(stop)
        .await?;
    Ok(())
}
