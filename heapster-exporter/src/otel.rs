//! OpenTelemetry: the [catalog](crate::catalog::METRICS) as instruments on your own `Meter`,
//! and [`OtlpExporter`], which carries the size histograms as native OTLP exponential
//! histograms.
//!
//! Use the OpenTelemetry crates that heapster-exporter re-exports
//! ([`crate::opentelemetry`], [`crate::opentelemetry_sdk`]):
//! another version of the SDK in your `Cargo.toml` has traits of the same name that do not
//! match.
//!
//! ```
//! use heapster::Heapster;
//! use heapster_exporter::opentelemetry::metrics::MeterProvider as _;
//! use heapster_exporter::opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
//! use heapster_exporter::otel::{OtelInstruments, OtlpExporterBuilder};
//! use std::alloc::System;
//!
//! #[global_allocator]
//! static GLOBAL: Heapster<System> = Heapster::new(System);
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let heap = OtelInstruments::new(&GLOBAL);
//!     // OTEL_EXPORTER_OTLP_ENDPOINT (default http://localhost:4318), OTEL_METRIC_EXPORT_INTERVAL...
//!     let exporter = OtlpExporterBuilder::new(&heap).from_env()?.build()?;
//!     let interval = exporter.interval(); // 5 s unless OTEL_METRIC_EXPORT_INTERVAL is set
//!     let status = exporter.status(); // how the exports go; prints as one line
//!     let reader = PeriodicReader::builder(exporter).with_interval(interval).build();
//!     let provider = SdkMeterProvider::builder().with_reader(reader).build();
//!     let _registration = heap.register(&provider.meter("heapster"));
//!
//!     // ... your program: every interval, your metrics and heapster's, histograms
//!     // included, go in one OTLP request.
//!
//!     // At exit: the final export; the error says why it failed.
//!     if let Err(error) = status.shutdown(&provider) {
//!         eprintln!("metrics: {error}");
//!     }
//!     Ok(())
//! }
//! ```
//!
//! # When exports fail
//!
//! A failed export is logged through `tracing`, as the SDK logs its own diagnostics (target
//! `heapster-exporter`): one warning when exports start failing, with the causes and a hint
//! for the common mistakes (the gRPC port 4317 instead of 4318, a base endpoint that already
//! ends in `/v1/metrics`, nobody listening), and one line when they are delivered again.
//! [`ExportStatus`] has the counts and the latest [`ExportError`]. Overloaded collectors (429,
//! 502, 503, 504) are retried within the export timeout, honouring `Retry-After`.
//!
//! # How the histograms travel, and why
//!
//! The counters, up-down counters and gauges are ordinary observable instruments
//! ([`OtelInstruments::register`]): they work with any reader and exporter you configured
//! (`opentelemetry-otlp` over gRPC or HTTP, Prometheus, stdout, in-memory).
//!
//! The two histograms cannot go that way. The OpenTelemetry metrics API has no asynchronous
//! histogram, and `opentelemetry_sdk` 0.33 offers no producer API for data that was aggregated
//! elsewhere: every field of its data model is crate-private, so nothing outside the SDK can
//! add a data point to what an exporter receives. Recording each allocation into an SDK
//! histogram would put a lock and a hash lookup on the allocation path. The options were:
//!
//! | option | what a collector receives | what a user writes |
//! |---|---|---|
//! | **[`OtlpExporter`]** (chosen): a `PushMetricExporter` that converts the SDK data with `opentelemetry-proto` and appends heapster's histograms | one OTLP/HTTP protobuf request per interval: the user's metrics and heapster's, same resource, histograms as `ExponentialHistogram` at scale 0 | `with_periodic_exporter(OtlpExporterBuilder::new(&heap).from_env()?.build()?)` instead of `opentelemetry-otlp`'s exporter |
//! | a wrapper around `opentelemetry-otlp`'s exporter that pushes the histograms separately | two requests, two transports to configure | both exporters' settings |
//! | a stand-alone push of only heapster's metrics | heapster's metrics without the user's resource and pipeline | a second pipeline |
//! | a future SDK producer API | the ideal | not available in 0.33 |
//! | per-bucket counters ([`with_bucket_counters`](OtelInstruments::with_bucket_counters)) | one cumulative counter per `le` bound, through any exporter | nothing special, but a bigger series count and fixed bounds |
//!
//! Scale 0 maps heapster's buckets exactly (DESIGN §2): heapster bucket `k`, sizes in
//! `(2^(k-1), 2^k]`, is exponential bucket index `k - 1`, which covers `(2^(k-1), 2^k]`; no
//! size is ever reported in the wrong bucket, and the histogram's `count` and `sum` are exact.
//!
//! [`OtlpExporter`] speaks OTLP/HTTP with protobuf bodies over plain HTTP (hyper, which the
//! endpoint feature uses already). It has no gRPC and no TLS: gRPC would add `tonic` and its
//! tree (about 40 s of build on two cores), TLS a crypto library; point it at a collector or
//! agent on the same host or network, as OpenTelemetry deployments usually do. If your
//! pipeline cannot carry exponential histograms (a Prometheus remote-write chain of old
//! versions, a backend without native histograms), keep your own exporter and turn on the
//! per-bucket counters instead: `heapster.allocation.size.bucket{le}` and
//! `heapster.reallocation.size_change.bucket{direction,le}`, cumulative counts of sizes at or
//! below `le`, which `histogram_quantile` reads like classic Prometheus buckets. They cost one
//! series per bound (30 by default) and lose the buckets outside the bounds.
//!
//! # One sample per collection
//!
//! Every callback of one collection reads the same [`Sample`](crate::Sample), and
//! [`OtlpExporter`] reads that sample too for the histograms: the allocation-size histogram's
//! count equals `heapster.allocations` of the same export. The first callback of a collection
//! takes the sample ([`Sampler::current`](crate::Sampler::current): a fresh one, or the
//! sampling loop's latest if it is younger than the sampling interval).
//!
//! # Temporality and start time
//!
//! Counters are cumulative since the allocator started counting; their OpenTelemetry start
//! time is the registration (the SDK's start time for asynchronous instruments, and
//! [`OtelInstruments`]' creation time for the histograms). Nothing is ever reset. With a delta
//! exporter the SDK turns the counters into deltas, and [`OtlpExporter`] sends the histograms'
//! change since its last successful export, so an export that failed is carried by the next.

mod builder;
mod collection;
mod compression;
mod endpoint;
mod env;
mod export_error;
mod exporter;
mod histogram;
mod instruments;
mod report;
mod retry;
mod status;
mod transport;

pub use self::builder::OtlpExporterBuilder;
pub use self::compression::Compression;
pub use self::export_error::ExportError;
pub use self::exporter::OtlpExporter;
pub use self::instruments::{OtelInstruments, Registration};
pub use self::status::ExportStatus;
