//! Register heapster's collector into the `prometheus-client` registry your service already has,
//! next to your own metrics, with your prefix and labels.
//!
//! ```text
//! cargo run -p heapster-examples --example own_registry
//! ```

use std::alloc::System;
use std::sync::Arc;

use heapster::Heapster;
use heapster_exporter::prometheus_client::encoding::text::encode;
use heapster_exporter::prometheus_client::metrics::counter::Counter;
use heapster_exporter::prometheus_client::registry::Registry;
use heapster_exporter::{PrometheusCollector, Sampler};

#[global_allocator]
static GLOBAL: Heapster<System> = Heapster::new(System);

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The service's own registry, prefix and labels, and one metric of its own.
    let mut registry = Registry::with_prefix_and_labels(
        "myapp",
        [("region".into(), "eu-west".into())].into_iter(),
    );
    let requests = Counter::<u64>::default();
    registry.register("requests", "Requests served", requests.clone());

    // heapster's metrics in the same registry: one sampler, read by the collector at scrape time.
    let sampler = Arc::new(Sampler::new(&GLOBAL));
    PrometheusCollector::new(sampler).register(&mut registry);

    requests.inc();
    let words: Vec<String> = (0..1000).map(|i| format!("word {i}")).collect();
    drop(words);

    let mut text = String::new();
    encode(&mut text, &registry)?;
    print!("{text}");
    assert!(text.contains("myapp_requests_total{region=\"eu-west\"} 1"));
    assert!(text.contains("myapp_heapster_allocations_total{region=\"eu-west\"}"));
    assert!(
        text.contains(
            "myapp_heapster_allocation_size_bytes_bucket{le=\"16.0\",region=\"eu-west\"}"
        ) || text.contains(
            "myapp_heapster_allocation_size_bytes_bucket{region=\"eu-west\",le=\"16.0\"}"
        )
    );
    Ok(())
}
