//! Publish heapster's metrics through the `metrics` facade, for services that already report
//! with it (metrics-exporter-prometheus here; metrics-exporter-statsd and others work the same
//! way): install your recorder as usual, then start heapster's publisher.
//!
//! ```text
//! cargo run -p heapster-examples --example metrics_facade
//! ```
//!
//! It prints what metrics-exporter-prometheus would serve, then checks that the numbers are
//! one exact sample.

use std::alloc::System;
use std::sync::Arc;
use std::time::Duration;

use heapster::Heapster;
use heapster_exporter::{MetricsPublisher, Sampler};
use metrics_exporter_prometheus::PrometheusBuilder;

#[global_allocator]
static GLOBAL: Heapster<System> = Heapster::new(System);

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The service's recorder and one metric of its own. (With the `http-listener` feature,
    // `PrometheusBuilder::install` also serves it; here we render it ourselves.)
    let handle = PrometheusBuilder::new().install_recorder()?;
    metrics::counter!("myapp_requests_total").increment(1);

    // heapster's metrics, published from a thread of their own every 100 ms, never from the
    // allocator.
    let sampler = Arc::new(Sampler::new(&GLOBAL).with_interval(Duration::from_millis(100))?);
    let publisher = MetricsPublisher::from_sampler(Arc::clone(&sampler)).spawn()?;

    let words: Vec<String> = (0..1000).map(|i| format!("word {i}")).collect();
    drop(words);
    std::thread::sleep(Duration::from_millis(300));
    publisher.stop()?;

    // One more sample, published synchronously, so the check below reads a known sample.
    let sample = MetricsPublisher::from_sampler(sampler).publish_once();
    let text = handle.render();
    print!("{text}");

    let value = |series: &str| -> Option<u64> {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
            .and_then(|v| v.parse().ok())
    };
    assert_eq!(value("myapp_requests_total"), Some(1));
    assert_eq!(
        value("heapster_allocations_total"),
        Some(sample.stats.allocations)
    );
    assert_eq!(
        value(r#"heapster_allocation_size_bucket_total{le="+Inf"}"#),
        Some(sample.stats.allocations),
        "the size histogram's count is the allocation counter of the same sample"
    );
    assert!(sample.stats.allocations >= 1000);
    Ok(())
}
