//! Exposition formats: [`Format`] negotiation from an `Accept` header, and [`Renderer`], which
//! renders a registry in a format with no I/O.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use prometheus_client::encoding::{prometheus_text, text};
use prometheus_client::registry::Registry;

use crate::error::Error;
use crate::prometheus::PrometheusCollector;

/// An exposition format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// Prometheus text format 0.0.4: what every tool reads; served when the `Accept` header
    /// asks for nothing else we offer.
    PrometheusText,
    /// OpenMetrics text 1.0.0.
    OpenMetrics,
    /// Length-delimited `io.prometheus.client.MetricFamily` protobuf messages: the only format
    /// that carries native histograms.
    #[cfg(feature = "protobuf")]
    #[cfg_attr(docsrs, doc(cfg(feature = "protobuf")))]
    Protobuf,
}

impl Format {
    /// The `Content-Type` of a response in this format.
    #[must_use]
    pub const fn content_type(self) -> &'static str {
        match self {
            Self::PrometheusText => prometheus_text::CONTENT_TYPE,
            Self::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            #[cfg(feature = "protobuf")]
            Self::Protobuf => crate::protobuf::CONTENT_TYPE,
        }
    }

    /// Picks the format for an `Accept` header value: the offered format of highest quality.
    /// No header, `*/*`, or one that accepts nothing we serve gives
    /// [`PrometheusText`](Self::PrometheusText).
    ///
    /// ```
    /// use heapster_exporter::Format;
    ///
    /// assert_eq!(Format::negotiate(None), Format::PrometheusText);
    /// assert_eq!(Format::negotiate(Some("application/json")), Format::PrometheusText);
    /// let prometheus = "application/openmetrics-text;version=1.0.0;q=0.8,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    /// assert_eq!(Format::negotiate(Some(prometheus)), Format::OpenMetrics);
    /// ```
    ///
    /// The rules, and the exact `Content-Type` to answer with, are [`Negotiated`]'s.
    ///
    /// [`Negotiated`]: crate::Negotiated
    #[must_use]
    pub fn negotiate(accept: Option<&str>) -> Self {
        crate::negotiation::Negotiated::from_accept(accept).format()
    }
}

/// Renders a [`Registry`] in a [`Format`], with no I/O: the part of a scrape that an HTTP
/// server (ours or yours) wraps.
///
/// Rendering the heapster collector samples once (or reuses the fresh latest sample) and
/// allocates the same few blocks on every call: the output buffer is sized from the previous
/// render.
#[derive(Clone, Debug)]
pub struct Renderer {
    registry: Arc<Registry>,
    /// Length of the previous output, to size the next buffer in one allocation.
    size_hint: Arc<AtomicUsize>,
    /// heapster's collector, when the registry holds it alone: the protobuf exposition
    /// encodes it, and OpenMetrics gets its start timestamps.
    collector: Option<PrometheusCollector>,
}

impl Renderer {
    /// A renderer of `registry`.
    pub fn new(registry: Arc<Registry>) -> Self {
        Self {
            registry,
            size_hint: Arc::new(AtomicUsize::new(0)),
            collector: None,
        }
    }

    /// Marks the registry as holding `collector` and nothing else, with no prefix or labels
    /// (what the builder makes): [`Format::Protobuf`] is then served, encoded from
    /// `collector`, and OpenMetrics carries `_created` start timestamps.
    pub(crate) fn with_collector(mut self, collector: PrometheusCollector) -> Self {
        self.collector = Some(collector);
        self
    }

    /// Whether [`render`](Self::render) serves [`Format::Protobuf`]: only for the registry the
    /// [builder](crate::ExporterBuilder) makes, which holds heapster's metrics alone
    /// (the protobuf exposition is heapster's own encoder, not `prometheus-client`'s).
    pub fn serves_protobuf(&self) -> bool {
        cfg!(feature = "protobuf") && self.collector.is_some()
    }

    /// The registry rendered.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// The format and exact `Content-Type` to answer `accept` with, among the formats this
    /// renderer serves (see [`Negotiated`](crate::Negotiated) for the rules).
    pub fn negotiate(&self, accept: Option<&str>) -> crate::Negotiated {
        crate::negotiation::Negotiated::select(accept, self.serves_protobuf())
    }

    /// The whole exposition in `format`.
    ///
    /// # Errors
    /// [`Error::Encode`] when a collector of the registry fails; [`Error::ProtobufNotServed`]
    /// for [`Format::Protobuf`] when it is not [served](Self::serves_protobuf).
    pub fn render(&self, format: Format) -> Result<Vec<u8>, Error> {
        // One buffer, sized from the previous render (the formats differ by a few KiB).
        let hint = self.size_hint.load(Ordering::Relaxed);
        let capacity = hint + hint / 4 + 1024;
        let text = |encode: fn(&mut String, &Registry) -> Result<(), std::fmt::Error>| {
            let mut out = String::with_capacity(capacity);
            encode(&mut out, &self.registry)?;
            Ok::<_, Error>(out)
        };
        let out = match (format, &self.collector) {
            (Format::PrometheusText, _) => text(prometheus_text::encode)?.into_bytes(),
            (Format::OpenMetrics, None) => text(text::encode)?.into_bytes(),
            (Format::OpenMetrics, Some(collector)) => {
                let mut out = text(text::encode)?;
                crate::openmetrics::add_created(&mut out, collector.sampler().created());
                out.into_bytes()
            }
            #[cfg(feature = "protobuf")]
            (Format::Protobuf, None) => return Err(Error::ProtobufNotServed),
            #[cfg(feature = "protobuf")]
            (Format::Protobuf, Some(collector)) => {
                let mut out = Vec::with_capacity(capacity);
                collector.encode_protobuf(&mut out);
                out
            }
        };
        self.size_hint.store(out.len(), Ordering::Relaxed);
        Ok(out)
    }
}
