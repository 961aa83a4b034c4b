//! Exports [`heapster`]'s heap telemetry: a Prometheus collector with classic and
//! native histograms, one consistent sample shared by every reader, and an optional `/metrics`
//! endpoint.
//!
//! A program that already counts with `#[global_allocator] static GLOBAL: Heapster<..>` adds
//! one line to be scraped:
//!
//! ```
//! use heapster::Heapster;
//! use std::alloc::System;
//!
//! #[global_allocator]
//! static GLOBAL: Heapster<System> = Heapster::new(System);
//!
//! # #[cfg(feature = "http")]
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     use heapster_exporter::{ExporterBuilder, Format};
//!
//!     let handle = ExporterBuilder::new(&GLOBAL)
//!         .with_http_listener("127.0.0.1:0") // port 0: any free port
//!         .install()?;
//!     println!("Prometheus can scrape {}", handle.url());
//!
//!     // The same exposition, rendered without HTTP:
//!     let text = String::from_utf8(handle.renderer().render(Format::PrometheusText)?)?;
//!     assert!(text.contains("# TYPE heapster_allocations_total counter"));
//!     handle.shutdown()?;
//!     Ok(())
//! }
//! # #[cfg(not(feature = "http"))]
//! # fn main() {}
//! ```
//!
//! # Layers
//!
//! Plug in at the level you need; each layer is built on the one before:
//!
//! | layer | what | for |
//! |---|---|---|
//! | [`catalog`] | every metric, defined once: names, help, unit, kind, how it is read | docs, dashboards, other exporters |
//! | [`Config`] | namespace, histogram bounds, constant labels: set once, honoured by every back-end | one naming for Prometheus and OpenTelemetry |
//! | [`Sampler`] | takes [`Sample`]s of a [`Source`] (every 1 s, or on demand) | one consistent snapshot per scrape |
//! | [`PrometheusCollector`] | a `prometheus-client` collector | your own `Registry`, with its prefix and labels |
//! | [`Renderer`], [`Format`], [`Negotiated`] | a scrape in OpenMetrics, text 0.0.4 or protobuf, no I/O; the format and exact `Content-Type` for an `Accept` header | your own transport |
//! | [`MetricsHandler`], [`serve`], [`HttpLimits`] | `GET`/`HEAD` with content negotiation, at whatever path it is mounted, within bounded connections | your own hyper or axum server |
//! | [`otel::OtelInstruments`], [`otel::OtlpExporter`] | instruments on your `Meter`; OTLP with exponential histograms (feature `otel`) | your OpenTelemetry pipeline |
//! | [`MetricsPublisher`] | every metric published to the `metrics` facade's recorder (feature `metrics`) | services that report through metrics-exporter-prometheus, statsd, ... |
//! | [`ProcessMemory`] | the process's resident and virtual memory (Linux `/proc/self/statm`) | heap against resident memory |
//! | [`ExporterBuilder`] | [`install`](ExporterBuilder::install) it all ([`ExporterHandle`]), or [`build`](ExporterBuilder::build) the [`ExporterParts`] | the one-line setup |
//!
//! Names follow one pattern, metrics-exporter-prometheus's: a builder is the entry point
//! (`ExporterBuilder::new(&GLOBAL)`, `otel::OtlpExporterBuilder::new(&instruments)`), every
//! setter is `with_*`, and `build()` returns the configured value; `install()` also starts the
//! `/metrics` endpoint and returns its [`ExporterHandle`]. What every back-end shares is one
//! [`Config`].
//!
//! # Metrics
//!
//! The names follow OpenTelemetry's conventions, and the Prometheus names are exactly what the
//! OpenTelemetry-to-Prometheus translation makes of them, so a dashboard works with data that
//! came by scrape or through an OpenTelemetry collector. The full list, with each metric's
//! definition, is [`catalog::METRICS`] (and the README's table).
//!
//! Beside the heap, each sample carries the process's resident and virtual memory
//! ([`ProcessMemory`], Linux; absent elsewhere, never estimated), exported as OpenTelemetry's
//! `process.memory.usage` and `process.memory.virtual`, with the gap
//! `heapster_memory_resident_beyond_heap_bytes`. Their Prometheus names are under the namespace
//! by default (`heapster_process_memory_usage_bytes`), so that a process collector in the same
//! scrape never collides with them; [`Config::with_process_memory`] picks the exact
//! OpenTelemetry translation or turns them off (see [`catalog::Scope::Process`]).
//!
//! Histograms have a classic form with a fixed set of `le` bounds, powers of two from 8 B to
//! 1 GiB by default (sizes up to 8 B fold into the first, larger than 1 GiB into `+Inf`), and
//! a native form (schema 0, all 64 buckets in one series) that Prometheus receives when it
//! asks for protobuf (`--enable-feature=native-histograms`). Both map the allocator's buckets
//! exactly: bucket `(2^(k-1), 2^k]` is `le="2^k"` and native bucket `k`. A Prometheus that
//! scrapes protobuf stores only the native form, so write queries that work with either, e.g.
//! `histogram_quantile(0.9, sum(rate(x[5m]))) or histogram_quantile(0.9, sum by (le) (rate(x_bucket[5m])))`.
//!
//! # Sampling
//!
//! Every reader serves from the latest [`Sample`]: all numbers of one scrape come from one
//! snapshot, so a histogram's `_count` equals its `+Inf` bucket and the allocation counter. The
//! installed endpoint samples every second; without a loop, a scrape samples on demand when the
//! latest sample is older than the interval. `heapster_memory_interval_peak_bytes` is the
//! highest live-bytes value over the peak window (60 s by default): set it to at least your
//! scrape interval and no spike is missed.
//!
//! # Cost
//!
//! A sample never allocates. Rendering a scrape allocates the same amount every time once
//! warmed up, measured with heapster itself (`tests/allocations.rs`, which fails if that stops
//! being true): as Prometheus text 0.0.4 or OpenMetrics, 2 blocks of 23 to 25 KiB together (the
//! output buffer, sized from the previous scrape, and `prometheus-client`'s 8 KiB staging
//! buffer); as protobuf, 1 block of about 7 KiB (the output buffer: heapster's own encoder
//! writes the wire format directly). Serving over HTTP adds about 18 KiB per open connection,
//! for at most 64 connections by default (see [`HttpLimits`]).
//!
//! # Features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `prometheus` | yes | [`PrometheusCollector`], [`Renderer`] and the text formats |
//! | `protobuf` | yes | [`Format::Protobuf`]: native histograms and start timestamps (no dependency, no protobuf compiler) |
//! | `http` | yes | [`MetricsHandler`], [`serve`] and [`install`](ExporterBuilder::install) (tokio and hyper) |
//! | `tower` | no | [`MetricsHandler`] as a `tower::Service`: axum's `route_service` and `nest_service` take it (`tower-service`, one small crate) |
//! | `log` | no | a warning through the `log` facade when the sampled allocator has counted nothing at all, the likely missing `#[global_allocator]` (see [`Source`]) |
//! | `tokio` | with `http` | [`Sampler::run`], the sampling loop |
//! | `otel` | no | [`otel`]: instruments on your OpenTelemetry `Meter`, and an OTLP/HTTP exporter with native exponential histograms |
//! | `metrics` | no | [`MetricsPublisher`]: the catalog published to the [`metrics`](https://docs.rs/metrics) facade's recorder, size histograms as exact per-bucket counters |
//!
//! Without features the crate still has the [`catalog`] and the [`Sampler`].

#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]

#[cfg(any(feature = "http", feature = "otel"))]
mod background;
mod builder;
pub mod catalog;
mod config;
mod error;
#[cfg(feature = "prometheus")]
mod exposition;
#[cfg(feature = "http")]
mod handle;
#[cfg(feature = "http")]
mod http;
#[cfg(feature = "metrics")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
pub mod metrics_facade;
pub mod naming;
#[cfg(feature = "prometheus")]
mod negotiation;
#[cfg(feature = "prometheus")]
mod openmetrics;
#[cfg(feature = "otel")]
#[cfg_attr(docsrs, doc(cfg(feature = "otel")))]
pub mod otel;
mod process_memory;
#[cfg(feature = "prometheus")]
mod prometheus;
#[cfg(feature = "protobuf")]
mod protobuf;
mod sampler;
mod source;
#[cfg(feature = "tower")]
mod tower;

#[allow(deprecated)]
pub use crate::builder::HeapsterExporterBuilder;
pub use crate::builder::{ExporterBuilder, ExporterParts};
pub use crate::config::Config;
pub use crate::error::Error;
#[cfg(feature = "metrics")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
pub use crate::metrics_facade::{MetricsPublisher, PublisherThread};
pub use crate::process_memory::ProcessMemory;
pub use crate::sampler::{Sample, Sampler};
pub use crate::source::Source;
#[cfg(feature = "prometheus")]
#[cfg_attr(docsrs, doc(cfg(feature = "prometheus")))]
pub use crate::{
    exposition::{Format, Renderer},
    negotiation::{Escaping, Negotiated},
    prometheus::PrometheusCollector,
};
#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
pub use crate::{
    handle::ExporterHandle,
    http::{HttpLimits, METRICS_PATH, MetricsHandler, serve, serve_with_limits},
};

/// Re-exported so that users name the same versions.
#[cfg(feature = "otel")]
#[cfg_attr(docsrs, doc(cfg(feature = "otel")))]
pub use {opentelemetry, opentelemetry_proto, opentelemetry_sdk};

/// Re-exported so that users name the same version.
#[cfg(feature = "prometheus")]
#[cfg_attr(docsrs, doc(cfg(feature = "prometheus")))]
pub use prometheus_client;
