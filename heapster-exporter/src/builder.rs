//! [`HeapsterExporter::builder`]: the one-line setup, and the parts for people who wire their own.

use std::sync::Arc;
use std::time::Duration;

#[cfg(feature = "http")]
use std::net::{Ipv4Addr, SocketAddr};

#[cfg(feature = "prometheus")]
use prometheus_client::registry::Registry;

use crate::error::Error;
#[cfg(feature = "prometheus")]
use crate::exposition::Renderer;
#[cfg(feature = "http")]
use crate::handle::ExporterHandle;
#[cfg(feature = "http")]
use crate::http::MetricsHandler;
#[cfg(feature = "prometheus")]
use crate::prometheus::{CollectorOptions, PrometheusCollector};
use crate::sampler::Sampler;
use crate::source::Source;

/// The entry point: [`HeapsterExporter::builder`].
///
/// ```no_run
/// use heapster::Heapster;
/// use heapster_exporter::HeapsterExporter;
/// use std::alloc::System;
///
/// #[global_allocator]
/// static GLOBAL: Heapster<System> = Heapster::new(System);
///
/// # #[cfg(feature = "http")]
/// fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let exporter = HeapsterExporter::builder(&GLOBAL)
///         .with_http_listener("127.0.0.1:9000".parse()?)
///         .install()?;
///     println!("serving {}", exporter.url());
///     Ok(())
/// }
/// # #[cfg(not(feature = "http"))]
/// # fn main() {}
/// ```
#[derive(Debug)]
pub struct HeapsterExporter(());

impl HeapsterExporter {
    /// A builder for an exporter of `source`, usually `&GLOBAL`, the `Heapster` global allocator.
    pub fn builder(source: impl Source) -> HeapsterExporterBuilder {
        HeapsterExporterBuilder {
            sampler: Sampler::new(source),
            #[cfg(feature = "prometheus")]
            collector: CollectorOptions::default(),
            #[cfg(feature = "prometheus")]
            registry: None,
            #[cfg(feature = "http")]
            listen: HeapsterExporterBuilder::DEFAULT_LISTEN_ADDR,
        }
    }
}

/// Configures an exporter; finish with [`install`](Self::install) (start the endpoint) or
/// [`build`](Self::build) (get the parts). Fallible setters validate at once.
#[derive(Debug)]
#[must_use = "a builder does nothing until `install` or `build`"]
pub struct HeapsterExporterBuilder {
    sampler: Sampler,
    #[cfg(feature = "prometheus")]
    collector: CollectorOptions,
    #[cfg(feature = "prometheus")]
    registry: Option<Registry>,
    #[cfg(feature = "http")]
    listen: SocketAddr,
}

/// What [`HeapsterExporterBuilder::build`] makes: one sampler and everything that reads it.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ExporterParts {
    /// The sampler every reader shares. Nothing samples on a timer until you run
    /// [`Sampler::run`](crate::Sampler::run) (or install the endpoint); scrapes sample on demand.
    pub sampler: Arc<Sampler>,
    /// The collector; already registered in [`registry`](Self::registry). Register a clone
    /// into another registry of yours if you serve that one.
    #[cfg(feature = "prometheus")]
    #[cfg_attr(docsrs, doc(cfg(feature = "prometheus")))]
    pub collector: PrometheusCollector,
    /// The registry holding the collector (yours, if you passed one with
    /// [`with_registry`](HeapsterExporterBuilder::with_registry)).
    #[cfg(feature = "prometheus")]
    #[cfg_attr(docsrs, doc(cfg(feature = "prometheus")))]
    pub registry: Arc<Registry>,
    /// Renders [`registry`](Self::registry) in any format, with no I/O.
    #[cfg(feature = "prometheus")]
    #[cfg_attr(docsrs, doc(cfg(feature = "prometheus")))]
    pub renderer: Renderer,
    /// Serves the renderer at `/metrics`; mount it in your own server.
    #[cfg(feature = "http")]
    #[cfg_attr(docsrs, doc(cfg(feature = "http")))]
    pub handler: MetricsHandler,
}

impl HeapsterExporterBuilder {
    /// The default listen address: `127.0.0.1:9000`, loopback only.
    #[cfg(feature = "http")]
    #[cfg_attr(docsrs, doc(cfg(feature = "http")))]
    pub const DEFAULT_LISTEN_ADDR: SocketAddr =
        SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 9000);

    /// Sets the sampling interval (default 1 s, range 10 ms to 1 h), see [`Sampler`].
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] outside the range.
    pub fn with_sampling_interval(mut self, interval: Duration) -> Result<Self, Error> {
        self.sampler = self.sampler.with_interval(interval)?;
        Ok(self)
    }

    /// Sets the window of the interval peak (default 60 s): set it to your scrape interval or
    /// longer. See [`Sampler::with_peak_window`].
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] when shorter than the sampling interval or longer than a day.
    pub fn with_peak_window(mut self, window: Duration) -> Result<Self, Error> {
        self.sampler = self.sampler.with_peak_window(window)?;
        Ok(self)
    }

    /// Sets the metric namespace (default `heapster`), see
    /// [`PrometheusCollector::with_namespace`].
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for a name Prometheus does not accept.
    #[cfg(feature = "prometheus")]
    #[cfg_attr(docsrs, doc(cfg(feature = "prometheus")))]
    pub fn with_namespace(mut self, namespace: &str) -> Result<Self, Error> {
        self.collector.namespace(namespace)?;
        Ok(self)
    }

    /// Sets the classic histogram bounds (default 8 B to 1 GiB), see
    /// [`PrometheusCollector::with_classic_buckets`].
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] unless both are powers of two, lowest first.
    #[cfg(feature = "prometheus")]
    #[cfg_attr(docsrs, doc(cfg(feature = "prometheus")))]
    pub fn with_classic_buckets(mut self, lowest: u64, highest: u64) -> Result<Self, Error> {
        self.collector.classic_buckets(lowest, highest)?;
        Ok(self)
    }

    /// Whether histograms carry native buckets (default `true`), see
    /// [`PrometheusCollector::with_native_histograms`].
    #[cfg(feature = "prometheus")]
    #[cfg_attr(docsrs, doc(cfg(feature = "prometheus")))]
    pub fn with_native_histograms(mut self, native: bool) -> Self {
        self.collector.native_histograms(native);
        self
    }

    /// Registers the collector into `registry` (with its prefix and labels) and serves that
    /// registry, your own metrics included, instead of a new one.
    #[cfg(feature = "prometheus")]
    #[cfg_attr(docsrs, doc(cfg(feature = "prometheus")))]
    pub fn with_registry(mut self, registry: Registry) -> Self {
        self.registry = Some(registry);
        self
    }

    /// Sets the address [`install`](Self::install) listens on (default `127.0.0.1:9000`).
    /// Port 0 picks a free port: read it from [`ExporterHandle::local_addr`].
    #[cfg(feature = "http")]
    #[cfg_attr(docsrs, doc(cfg(feature = "http")))]
    pub fn with_http_listener(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// The parts, for wiring your own server or registry. Starts nothing.
    ///
    /// # Errors
    /// None today; the signature leaves room for settings checked only here.
    pub fn build(self) -> Result<ExporterParts, Error> {
        let sampler = Arc::new(self.sampler);
        #[cfg(feature = "prometheus")]
        let (collector, registry, renderer) = {
            let collector = self.collector.collector(Arc::clone(&sampler));
            let mut registry = self.registry.unwrap_or_default();
            collector.register(&mut registry);
            let registry = Arc::new(registry);
            let renderer = Renderer::new(Arc::clone(&registry));
            (collector, registry, renderer)
        };
        Ok(ExporterParts {
            #[cfg(feature = "http")]
            handler: MetricsHandler::new(renderer.clone()),
            sampler,
            #[cfg(feature = "prometheus")]
            collector,
            #[cfg(feature = "prometheus")]
            registry,
            #[cfg(feature = "prometheus")]
            renderer,
        })
    }

    /// Binds the listener, then serves `/metrics` and samples every interval on a background
    /// thread of its own (`heapster-exporter`, with a single-threaded tokio runtime), whether
    /// or not the program has a runtime. Returns once the listener is bound.
    ///
    /// Dropping the returned handle leaves the exporter running until the process exits;
    /// [`ExporterHandle::shutdown`] stops it gracefully.
    ///
    /// # Errors
    /// [`Error::Bind`] when the address cannot be bound (in use, not local, no permission),
    /// [`Error::Runtime`] when the thread or its runtime cannot be started.
    #[cfg(feature = "http")]
    #[cfg_attr(docsrs, doc(cfg(feature = "http")))]
    pub fn install(self) -> Result<ExporterHandle, Error> {
        let listen = self.listen;
        let parts = self.build()?;
        ExporterHandle::start(listen, parts)
    }
}
