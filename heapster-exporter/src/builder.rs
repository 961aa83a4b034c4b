//! [`ExporterBuilder`]: the entry point. [`install`](ExporterBuilder::install) starts the
//! `/metrics` endpoint; [`build`](ExporterBuilder::build) returns the [`ExporterParts`] for
//! people who wire their own server, registry or OpenTelemetry pipeline.

use std::sync::Arc;
use std::time::Duration;

#[cfg(feature = "http")]
use std::net::{Ipv4Addr, SocketAddr, ToSocketAddrs};

#[cfg(feature = "prometheus")]
use prometheus_client::registry::Registry;

use crate::config::Config;
use crate::error::Error;
#[cfg(feature = "prometheus")]
use crate::exposition::Renderer;
#[cfg(feature = "http")]
use crate::handle::{ExporterHandle, Listen};
#[cfg(feature = "http")]
use crate::http::{HttpLimits, MetricsHandler};
#[cfg(feature = "prometheus")]
use crate::prometheus::PrometheusCollector;
use crate::sampler::Sampler;
use crate::source::Source;

/// Configures heapster's exporter: one sampler and one [`Config`] for every reader. Finish
/// with [`install`](Self::install) (start the `/metrics` endpoint) or [`build`](Self::build)
/// (get the parts). Fallible setters validate at once.
///
/// ```no_run
/// use heapster::Heapster;
/// use heapster_exporter::{Config, ExporterBuilder};
/// use std::alloc::System;
///
/// #[global_allocator]
/// static GLOBAL: Heapster<System> = Heapster::new(System);
///
/// # #[cfg(feature = "http")]
/// fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let handle = ExporterBuilder::new(&GLOBAL)
///         .with_config(Config::new().with_constant_label("service", "api")?)
///         .with_http_listener("127.0.0.1:9000")
///         .install()?;
///     println!("serving {}", handle.url());
///     Ok(())
/// }
/// # #[cfg(not(feature = "http"))]
/// # fn main() {}
/// ```
#[derive(Debug)]
#[must_use = "a builder does nothing until `install` or `build`"]
pub struct ExporterBuilder {
    sampler: Sampler,
    config: Config,
    #[cfg(feature = "prometheus")]
    registry: Option<Registry>,
    #[cfg(feature = "http")]
    listen: Listen,
    #[cfg(feature = "http")]
    limits: HttpLimits,
}

/// The builder's old name.
#[deprecated(
    since = "0.1.0",
    note = "renamed to `ExporterBuilder`; start with `ExporterBuilder::new`"
)]
pub type HeapsterExporterBuilder = ExporterBuilder;

/// What [`ExporterBuilder::build`] makes: one sampler, one configuration, and everything that
/// reads them. Cloning is cheap; clones share the sampler.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ExporterParts {
    /// The sampler every reader shares. Nothing samples on a timer until you run
    /// [`Sampler::run`](crate::Sampler::run) (or install the endpoint); scrapes sample on demand.
    pub sampler: Arc<Sampler>,
    /// The settings every reader uses.
    pub config: Config,
    /// The collector; already registered in [`registry`](Self::registry). Register a clone
    /// into another registry of yours if you serve that one.
    #[cfg(feature = "prometheus")]
    #[cfg_attr(docsrs, doc(cfg(feature = "prometheus")))]
    pub collector: PrometheusCollector,
    /// The registry holding the collector (yours, if you passed one with
    /// [`with_registry`](ExporterBuilder::with_registry)).
    #[cfg(feature = "prometheus")]
    #[cfg_attr(docsrs, doc(cfg(feature = "prometheus")))]
    pub registry: Arc<Registry>,
    /// Renders [`registry`](Self::registry) in any format, with no I/O.
    #[cfg(feature = "prometheus")]
    #[cfg_attr(docsrs, doc(cfg(feature = "prometheus")))]
    pub renderer: Renderer,
    /// Serves the renderer on whatever path your server mounts it at (a `tower::Service` with
    /// the feature `tower`, for axum). Nothing samples on a timer unless you run the sampler.
    #[cfg(feature = "http")]
    #[cfg_attr(docsrs, doc(cfg(feature = "http")))]
    pub handler: MetricsHandler,
}

impl ExporterBuilder {
    /// The default listen address: `127.0.0.1:9000`, loopback only.
    #[cfg(feature = "http")]
    #[cfg_attr(docsrs, doc(cfg(feature = "http")))]
    pub const DEFAULT_LISTEN_ADDR: SocketAddr =
        SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 9000);

    /// A builder for an exporter of `source`, usually `&GLOBAL`, the `Heapster` global
    /// allocator, with the default [`Config`].
    pub fn new(source: impl Source) -> Self {
        Self {
            sampler: Sampler::new(source),
            config: Config::new(),
            #[cfg(feature = "prometheus")]
            registry: None,
            #[cfg(feature = "http")]
            listen: Listen::resolve(Self::DEFAULT_LISTEN_ADDR),
            #[cfg(feature = "http")]
            limits: HttpLimits::new(),
        }
    }

    /// Sets the namespace, histogram bounds, constant labels and native-histogram setting
    /// that every reader uses, Prometheus and OpenTelemetry alike.
    pub fn with_config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Sets the sampling interval (default 1 s, range 10 ms to 1 h), see
    /// [`Sampler::with_interval`].
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

    /// Registers the collector into `registry` (with its prefix and labels) and serves that
    /// registry, your own metrics included, instead of a new one.
    ///
    /// That registry is served in the text formats only (classic histograms, no start
    /// timestamps): the protobuf exposition, which carries native histograms, and the
    /// OpenMetrics `_created` lines are written by heapster for its own metrics, and offered for
    /// the builder's own registry.
    #[cfg(feature = "prometheus")]
    #[cfg_attr(docsrs, doc(cfg(feature = "prometheus")))]
    pub fn with_registry(mut self, registry: Registry) -> Self {
        self.registry = Some(registry);
        self
    }

    /// Sets the address [`install`](Self::install) listens on (default `127.0.0.1:9000`):
    /// anything [`ToSocketAddrs`] takes, such as `"localhost:9000"`, `"0.0.0.0:9000"`,
    /// `("::1", 9000)` or a [`SocketAddr`]. Port 0 picks a free port: read it from
    /// [`ExporterHandle::local_addr`].
    ///
    /// A host name is resolved at once; `install` binds the first of its addresses that it can.
    /// An address that does not resolve (no port, a bad port, an unknown host) is reported by
    /// `install` as [`Error::Resolve`], naming what was given:
    ///
    /// ```
    /// use heapster_exporter::{Error, ExporterBuilder};
    ///
    /// let error = ExporterBuilder::new(heapster::Stats::new())
    ///     .with_http_listener("localhost") // no port
    ///     .install()
    ///     .unwrap_err();
    /// assert!(matches!(error, Error::Resolve { .. }));
    /// assert_eq!(
    ///     error.chain(),
    ///     r#"cannot resolve the listen address "localhost": invalid socket address"#
    /// );
    /// ```
    #[cfg(feature = "http")]
    #[cfg_attr(docsrs, doc(cfg(feature = "http")))]
    pub fn with_http_listener(mut self, addr: impl ToSocketAddrs + std::fmt::Debug) -> Self {
        self.listen = Listen::resolve(addr);
        self
    }

    /// Sets the limits of the endpoint [`install`](Self::install) starts (by default
    /// [`HttpLimits::default`]: 64 connections, a 5 s header read timeout, 8 KiB request
    /// heads).
    #[cfg(feature = "http")]
    #[cfg_attr(docsrs, doc(cfg(feature = "http")))]
    pub fn with_http_limits(mut self, limits: HttpLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The parts, for wiring your own server, registry or OpenTelemetry pipeline. Starts
    /// nothing. ([`install`](Self::install), with the feature `http`, also serves them.)
    #[cfg_attr(
        not(feature = "http"),
        doc(alias = "install", alias = "with_http_listener")
    )]
    pub fn build(self) -> ExporterParts {
        let sampler = Arc::new(self.sampler);
        #[cfg(feature = "prometheus")]
        let (collector, registry, renderer) = {
            let collector =
                PrometheusCollector::new(Arc::clone(&sampler)).with_config(self.config.clone());
            let own_registry = self.registry.is_none();
            let mut registry = self.registry.unwrap_or_default();
            collector.register(&mut registry);
            let registry = Arc::new(registry);
            let renderer = Renderer::new(Arc::clone(&registry));
            // heapster's protobuf encoder and start timestamps know its own metrics, not what a
            // registry of yours holds (or its prefix and labels).
            let renderer = if own_registry {
                renderer.with_collector(collector.clone())
            } else {
                renderer
            };
            (collector, registry, renderer)
        };
        ExporterParts {
            #[cfg(feature = "http")]
            handler: MetricsHandler::new(renderer.clone()),
            sampler,
            config: self.config,
            #[cfg(feature = "prometheus")]
            collector,
            #[cfg(feature = "prometheus")]
            registry,
            #[cfg(feature = "prometheus")]
            renderer,
        }
    }

    /// Binds the listener, then serves `/metrics` and samples every interval on a background
    /// thread of its own (`heapster-exporter`, with a single-threaded tokio runtime), whether
    /// or not the program has a runtime. Returns once the listener is bound.
    ///
    /// Dropping the returned handle leaves the endpoint running until the process exits;
    /// [`ExporterHandle::shutdown`] stops it gracefully.
    ///
    /// # Errors
    /// [`Error::Resolve`] when the address given to
    /// [`with_http_listener`](Self::with_http_listener) did not resolve, [`Error::Bind`] when
    /// it cannot be bound (in use, not local, no permission), [`Error::Runtime`] when the
    /// thread or its runtime cannot be started.
    #[cfg(feature = "http")]
    #[cfg_attr(docsrs, doc(cfg(feature = "http")))]
    pub fn install(mut self) -> Result<ExporterHandle, Error> {
        let listen = std::mem::replace(&mut self.listen, Listen::Resolved(Vec::new()));
        let limits = self.limits.clone();
        ExporterHandle::start(listen, limits, self.build())
    }
}

impl ExporterParts {
    /// OpenTelemetry instruments that read the same sampler with the same [`Config`], so both
    /// paths serve the same samples and names.
    #[cfg(feature = "otel")]
    #[cfg_attr(docsrs, doc(cfg(feature = "otel")))]
    pub fn otel_instruments(&self) -> crate::otel::OtelInstruments {
        crate::otel::OtelInstruments::from_sampler(Arc::clone(&self.sampler))
            .with_config(self.config.clone())
    }

    /// A publisher to the `metrics` facade's recorder that reads the same sampler with the
    /// same [`Config`], so every path serves the same samples and names.
    #[cfg(feature = "metrics")]
    #[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
    pub fn metrics_publisher(&self) -> crate::MetricsPublisher {
        crate::MetricsPublisher::from_sampler(Arc::clone(&self.sampler))
            .with_config(self.config.clone())
    }
}
