//! [`OtlpExporterBuilder`]: where and how an [`OtlpExporter`] sends.

use std::time::Duration;

use http::header::{HeaderName, HeaderValue};
use opentelemetry_sdk::metrics::Temporality;

use super::compression::Compression;
use super::endpoint::{Endpoint, Target};
use super::exporter::OtlpExporter;
use super::instruments::OtelInstruments;
use crate::error::Error;

/// Configures an [`OtlpExporter`]: start with [`new`](Self::new), finish with
/// [`build`](Self::build), which starts its thread.
#[derive(Debug)]
#[must_use = "a builder does nothing until `build`"]
pub struct OtlpExporterBuilder {
    pub(super) instruments: OtelInstruments,
    pub(super) endpoint: Option<Endpoint>,
    pub(super) headers: Vec<(HeaderName, HeaderValue)>,
    pub(super) timeout: Duration,
    pub(super) temporality: Temporality,
    pub(super) compression: Compression,
    pub(super) interval: Duration,
}

impl OtlpExporterBuilder {
    /// A builder for an exporter of `instruments`' histograms (and of whatever the meter
    /// provider collects).
    pub fn new(instruments: &OtelInstruments) -> Self {
        Self {
            instruments: instruments.clone(),
            endpoint: None,
            headers: Vec::new(),
            timeout: Self::DEFAULT_TIMEOUT,
            temporality: Temporality::Cumulative,
            compression: Compression::None,
            interval: Self::DEFAULT_INTERVAL,
        }
    }

    /// The endpoint used when none is set: `http://localhost:4318/v1/metrics`.
    pub const DEFAULT_ENDPOINT: &'static str = "http://localhost:4318";
    /// How long an export may wait for the collector: 10 s, OpenTelemetry's default.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
    /// How often to export, unless set: 5 s, so that a new setup shows data at once (the
    /// SDK's own default is 60 s). See [`OtlpExporter::interval`].
    pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
    /// The longest timeout accepted: 10 minutes.
    pub const MAX_TIMEOUT: Duration = Duration::from_secs(600);

    /// Sets the base endpoint, e.g. `http://localhost:4318`; the metrics are posted to its
    /// `/v1/metrics`.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] unless it is an `http://` URL with a host (`https://` is
    /// rejected: no TLS).
    pub fn with_endpoint(mut self, url: &str) -> Result<Self, Error> {
        self.endpoint = Some(Endpoint::parse_base("endpoint", url)?);
        Ok(self)
    }

    /// Sets the full URL the metrics are posted to, used as is.
    ///
    /// # Errors
    /// As [`with_endpoint`](Self::with_endpoint).
    pub fn with_metrics_endpoint(mut self, url: &str) -> Result<Self, Error> {
        self.endpoint = Some(Endpoint::parse("metrics endpoint", url)?);
        Ok(self)
    }

    /// Adds a header to every request (e.g. an API key), replacing one of the same name.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for a name or value that HTTP does not allow.
    pub fn with_header(mut self, name: &str, value: &str) -> Result<Self, Error> {
        self.set_header("header", name, value)?;
        Ok(self)
    }

    /// Sets how long an export may wait for the collector (default 10 s).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for zero or more than [`MAX_TIMEOUT`](Self::MAX_TIMEOUT).
    pub fn with_timeout(mut self, timeout: Duration) -> Result<Self, Error> {
        self.timeout = check_timeout("timeout", timeout)?;
        Ok(self)
    }

    /// Sets the temporality the SDK aggregates for this exporter (default cumulative).
    /// heapster's histograms are deltas since the latest successful export with
    /// [`Temporality::Delta`], cumulative otherwise (they are asynchronous, like the counters
    /// that `LowMemory` keeps cumulative).
    pub fn with_temporality(mut self, temporality: Temporality) -> Self {
        self.temporality = temporality;
        self
    }

    /// Sets how the request bodies are compressed (default none).
    pub fn with_compression(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }

    /// Sets the export interval that [`OtlpExporter::interval`] returns, for the periodic
    /// reader (default [`DEFAULT_INTERVAL`](Self::DEFAULT_INTERVAL)).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for zero.
    pub fn with_interval(mut self, interval: Duration) -> Result<Self, Error> {
        if interval.is_zero() {
            return Err(Error::invalid("interval", "zero"));
        }
        self.interval = interval;
        Ok(self)
    }

    /// Starts the exporter's thread (`heapster-otlp`) and returns the exporter.
    ///
    /// # Errors
    /// [`Error::Runtime`] when the thread or its runtime cannot be started.
    pub fn build(self) -> Result<OtlpExporter, Error> {
        let endpoint = match self.endpoint {
            Some(endpoint) => endpoint,
            None => Endpoint::parse_base("endpoint", Self::DEFAULT_ENDPOINT)?,
        };
        if let Some(setting) = endpoint.doubled_path {
            super::report::doubled_path(setting, &endpoint.to_string());
        }
        let target = Target {
            endpoint,
            headers: self.headers,
            timeout: self.timeout,
            compression: self.compression,
        };
        OtlpExporter::new(self.instruments, target, self.temporality, self.interval)
    }

    pub(super) fn set_header(
        &mut self,
        setting: &'static str,
        name: &str,
        value: &str,
    ) -> Result<(), Error> {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|e| Error::invalid(setting, format!("header name {name:?}: {e}")))?;
        let value = HeaderValue::from_str(value)
            .map_err(|e| Error::invalid(setting, format!("value of {name}: {e}")))?;
        self.headers.retain(|(n, _)| *n != name);
        self.headers.push((name, value));
        Ok(())
    }
}

pub(super) fn check_timeout(setting: &'static str, timeout: Duration) -> Result<Duration, Error> {
    if timeout.is_zero() || timeout > OtlpExporterBuilder::MAX_TIMEOUT {
        return Err(Error::invalid(
            setting,
            format!("{timeout:?} is outside (0, 10 min]"),
        ));
    }
    Ok(timeout)
}
