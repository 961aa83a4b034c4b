//! [`OtlpExporter`]: the SDK's metrics and heapster's histograms in one OTLP/HTTP protobuf
//! request.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use heapster::Histogram;
use http::header::{HeaderName, HeaderValue};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::metrics::v1 as pm;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use prost::Message;

use super::collection;
use super::histogram;
use super::instruments::OtelInstruments;
use super::status::ExportStatus;
use super::transport::{Endpoint, Target, Transport};
use crate::catalog::{Instrument, METRICS};
use crate::error::Error;
use crate::sampler::Sample;

/// A `PushMetricExporter` that sends what the SDK collected (your metrics and heapster's
/// [instruments](OtelInstruments::register)) plus heapster's two histograms as OTLP
/// `ExponentialHistogram`s at scale 0, in one OTLP/HTTP request with a protobuf body
/// (`POST .../v1/metrics`, `Content-Type: application/x-protobuf`).
///
/// Put it in your `SdkMeterProvider` instead of `opentelemetry-otlp`'s metric exporter
/// (`with_periodic_exporter(exporter)`, or a `PeriodicReader` of your own). Plain HTTP only;
/// see the [module docs](super) for why and for the alternatives.
///
/// A failed export (collector down, slow, or answering an error) is returned to the SDK, which
/// logs it, and counted in [`status`](Self::status); nothing is queued or retried, and the
/// next export carries the cumulative totals (or, with delta temporality, heapster's
/// histograms since the last success). An export that finds the previous one still waiting
/// for its answer fails at once, so a slow collector never builds up memory.
pub struct OtlpExporter {
    instruments: OtelInstruments,
    target: Target,
    temporality: Temporality,
    transport: Transport,
    status: ExportStatus,
    /// Delta temporality: the histograms of the latest successful export and its time.
    baseline: Mutex<Option<(Vec<Histogram>, u64)>>,
}

/// Configures an [`OtlpExporter`]; [`build`](Self::build) starts its thread.
#[derive(Debug)]
#[must_use = "a builder does nothing until `build`"]
pub struct OtlpExporterBuilder {
    instruments: OtelInstruments,
    endpoint: Option<Endpoint>,
    headers: Vec<(HeaderName, HeaderValue)>,
    timeout: Duration,
    temporality: Temporality,
}

impl OtlpExporter {
    /// A builder for an exporter of `instruments`' histograms (and of whatever the meter
    /// provider collects).
    pub fn builder(instruments: &OtelInstruments) -> OtlpExporterBuilder {
        OtlpExporterBuilder {
            instruments: instruments.clone(),
            endpoint: None,
            headers: Vec::new(),
            timeout: OtlpExporterBuilder::DEFAULT_TIMEOUT,
            temporality: Temporality::Cumulative,
        }
    }

    /// Where the metrics are posted.
    pub fn endpoint(&self) -> String {
        self.target.endpoint.to_string()
    }

    /// How the exports went so far; keep a clone to watch an exporter the provider owns.
    pub fn status(&self) -> ExportStatus {
        self.status.clone()
    }

    /// The request an export of `metrics` would send now, without sending it: the SDK's data
    /// converted by `opentelemetry-proto`, with heapster's histograms appended to the scope
    /// that holds heapster's instruments (or a scope `heapster-exporter` of their own). On
    /// the thread of a collection it uses that collection's sample (and takes it, as
    /// [`export`](PushMetricExporter::export) does).
    pub fn request(&self, metrics: &ResourceMetrics) -> ExportMetricsServiceRequest {
        self.prepare(metrics).0
    }

    /// The request, with the sample and time it was made from.
    fn prepare(&self, metrics: &ResourceMetrics) -> (ExportMetricsServiceRequest, Sample, u64) {
        let sample = collection::for_export(self.instruments.id(), self.instruments.sampler());
        let now = unix_nanos(SystemTime::now());
        let baseline = self.baseline();
        let start = baseline
            .as_ref()
            .map_or(unix_nanos(self.instruments.start_time()), |(_, at)| *at);
        let histograms = histogram::metrics(
            self.instruments.namespace(),
            &sample,
            baseline.as_ref().map(|(h, _)| h.as_slice()),
            start,
            now,
        );
        let mut request = ExportMetricsServiceRequest::from(metrics);
        if request.resource_metrics.is_empty() {
            request
                .resource_metrics
                .push(pm::ResourceMetrics::default());
        }
        if let Some(resource) = request.resource_metrics.first_mut() {
            // Next to heapster's instruments, if they are in this request.
            let ours = METRICS
                .iter()
                .find(|m| m.instrument != Instrument::Histogram)
                .map(|m| m.full_otel_name(self.instruments.namespace()));
            let scope = resource
                .scope_metrics
                .iter_mut()
                .find(|scope| scope.metrics.iter().any(|m| Some(&m.name) == ours.as_ref()));
            match scope {
                Some(scope) => scope.metrics.extend(histograms),
                None => resource.scope_metrics.push(pm::ScopeMetrics {
                    scope: Some(InstrumentationScope {
                        name: "heapster-exporter".to_owned(),
                        version: env!("CARGO_PKG_VERSION").to_owned(),
                        ..InstrumentationScope::default()
                    }),
                    metrics: histograms,
                    schema_url: String::new(),
                }),
            }
        }
        (request, sample, now)
    }

    fn baseline(&self) -> Option<(Vec<Histogram>, u64)> {
        if !self.is_delta() {
            return None;
        }
        let mut baseline = self.baseline.lock().unwrap_or_else(PoisonError::into_inner);
        Some(
            baseline
                .get_or_insert_with(|| {
                    (histogram::zero(), unix_nanos(self.instruments.start_time()))
                })
                .clone(),
        )
    }

    fn is_delta(&self) -> bool {
        self.temporality == Temporality::Delta
    }

    async fn send(&self, metrics: &ResourceMetrics) -> Result<(), Error> {
        if self.transport.is_shut_down() {
            return Err(Error::Export {
                endpoint: self.endpoint(),
                source: "the exporter is shut down".into(),
            });
        }
        let (request, sample, now) = self.prepare(metrics);
        let response = self
            .transport
            .post(&self.target, request.encode_to_vec())
            .await?;
        if self.is_delta() {
            *self.baseline.lock().unwrap_or_else(PoisonError::into_inner) =
                Some((histogram::snapshot(&sample), now));
        }
        // A collector may accept the request but reject some points.
        if let Ok(response) = ExportMetricsServiceResponse::decode(response) {
            if let Some(partial) = response
                .partial_success
                .filter(|p| p.rejected_data_points > 0)
            {
                return Err(Error::Rejected {
                    endpoint: self.endpoint(),
                    status: 200,
                    message: format!(
                        "{} data points rejected: {}",
                        partial.rejected_data_points, partial.error_message
                    ),
                });
            }
        }
        Ok(())
    }
}

impl PushMetricExporter for OtlpExporter {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        match self.send(metrics).await {
            Ok(()) => {
                self.status.success();
                Ok(())
            }
            Err(error) => {
                let message = error_chain(&error);
                self.status.failure(Arc::new(error));
                Err(OTelSdkError::InternalFailure(message))
            }
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        // Nothing is buffered: every export is sent at once.
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        self.transport
            .shutdown()
            .map_err(|e| OTelSdkError::InternalFailure(error_chain(&e)))
    }

    fn temporality(&self) -> Temporality {
        self.temporality
    }
}

impl std::fmt::Debug for OtlpExporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtlpExporter")
            .field("endpoint", &self.target.endpoint.uri)
            .field("timeout", &self.target.timeout)
            .field("temporality", &self.temporality)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

impl OtlpExporterBuilder {
    /// The endpoint used when none is set: `http://localhost:4318/v1/metrics`.
    pub const DEFAULT_ENDPOINT: &'static str = "http://localhost:4318";
    /// How long an export may wait for the collector: 10 s, OpenTelemetry's default.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
    /// The longest timeout accepted: 10 minutes.
    pub const MAX_TIMEOUT: Duration = Duration::from_secs(600);

    /// Applies the standard OpenTelemetry exporter variables, the metrics-specific one first:
    /// `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT` (used as is) or `OTEL_EXPORTER_OTLP_ENDPOINT`
    /// (`/v1/metrics` appended), `OTEL_EXPORTER_OTLP_[METRICS_]HEADERS` (`key=value,...`,
    /// values percent-decoded), `OTEL_EXPORTER_OTLP_[METRICS_]TIMEOUT` (milliseconds),
    /// `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE` (`cumulative`, `delta`,
    /// `lowmemory`) and `OTEL_EXPORTER_OTLP_[METRICS_]PROTOCOL`, which must be
    /// `http/protobuf` if set. Unset variables leave the builder as it was.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the variable whose value is not usable.
    pub fn from_env(self) -> Result<Self, Error> {
        self.apply_vars(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
    }

    fn apply_vars(mut self, var: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let either = |specific: &'static str, general: &'static str| {
            var(specific)
                .map(|v| (specific, v))
                .or_else(|| var(general).map(|v| (general, v)))
        };
        if let Some((name, protocol)) = either(
            "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
            "OTEL_EXPORTER_OTLP_PROTOCOL",
        ) {
            if protocol.trim() != "http/protobuf" {
                return Err(Error::invalid(
                    name,
                    format!("{protocol:?}: heapster's exporter speaks only http/protobuf"),
                ));
            }
        }
        if let Some(url) = var("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT") {
            self.endpoint = Some(Endpoint::parse(
                "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
                &url,
            )?);
        } else if let Some(url) = var("OTEL_EXPORTER_OTLP_ENDPOINT") {
            self.endpoint = Some(Endpoint::parse_base("OTEL_EXPORTER_OTLP_ENDPOINT", &url)?);
        }
        for name in [
            "OTEL_EXPORTER_OTLP_HEADERS",
            "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
        ] {
            if let Some(headers) = var(name) {
                for pair in headers.split(',').filter(|p| !p.trim().is_empty()) {
                    let (key, value) = pair.split_once('=').ok_or_else(|| {
                        Error::invalid(name, format!("{pair:?} is not key=value"))
                    })?;
                    self.set_header(name, key.trim(), &percent_decode(value.trim()))?;
                }
            }
        }
        if let Some((name, ms)) = either(
            "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT",
            "OTEL_EXPORTER_OTLP_TIMEOUT",
        ) {
            let ms: u64 = ms
                .trim()
                .parse()
                .map_err(|e| Error::invalid(name, format!("{ms:?}: {e}")))?;
            self.timeout = check_timeout(name, Duration::from_millis(ms))?;
        }
        if let Some(preference) = var("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE") {
            self.temporality = match preference.trim().to_ascii_lowercase().as_str() {
                "cumulative" => Temporality::Cumulative,
                "delta" => Temporality::Delta,
                "lowmemory" => Temporality::LowMemory,
                other => {
                    return Err(Error::invalid(
                        "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
                        format!("{other:?} is not cumulative, delta or lowmemory"),
                    ));
                }
            };
        }
        Ok(self)
    }

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

    /// Starts the exporter's thread (`heapster-otlp`) and returns the exporter.
    ///
    /// # Errors
    /// [`Error::Runtime`] when the thread or its runtime cannot be started.
    pub fn build(self) -> Result<OtlpExporter, Error> {
        let endpoint = match self.endpoint {
            Some(endpoint) => endpoint,
            None => Endpoint::parse_base("endpoint", Self::DEFAULT_ENDPOINT)?,
        };
        Ok(OtlpExporter {
            instruments: self.instruments,
            target: Target {
                endpoint,
                headers: self.headers,
                timeout: self.timeout,
            },
            temporality: self.temporality,
            transport: Transport::start()?,
            status: ExportStatus::default(),
            baseline: Mutex::new(None),
        })
    }

    fn set_header(&mut self, setting: &'static str, name: &str, value: &str) -> Result<(), Error> {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|e| Error::invalid(setting, format!("header name {name:?}: {e}")))?;
        let value = HeaderValue::from_str(value)
            .map_err(|e| Error::invalid(setting, format!("value of {name}: {e}")))?;
        self.headers.retain(|(n, _)| *n != name);
        self.headers.push((name, value));
        Ok(())
    }
}

fn check_timeout(setting: &'static str, timeout: Duration) -> Result<Duration, Error> {
    if timeout.is_zero() || timeout > OtlpExporterBuilder::MAX_TIMEOUT {
        return Err(Error::invalid(
            setting,
            format!("{timeout:?} is outside (0, 10 min]"),
        ));
    }
    Ok(timeout)
}

fn unix_nanos(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                let (h, l) = (hex(h).unwrap_or(0), hex(l).unwrap_or(0));
                out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `error: source: source...`, for the SDK's log line.
fn error_chain(error: &Error) -> String {
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(e) = source {
        message.push_str(": ");
        message.push_str(&e.to_string());
        source = e.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use heapster::Stats;

    use super::*;

    fn builder() -> OtlpExporterBuilder {
        OtlpExporter::builder(&OtelInstruments::new(Stats::new()))
    }

    fn from(vars: &[(&str, &str)]) -> Result<OtlpExporterBuilder, Error> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        builder().apply_vars(|name| vars.get(name).cloned())
    }

    #[test]
    fn standard_variables_configure_the_exporter() {
        let b = from(&[]).unwrap();
        assert!(b.endpoint.is_none());
        let b = from(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "api-key=a%20b, x-team=heap"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"),
            ("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "Delta"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        ])
        .unwrap();
        let endpoint = b.endpoint.as_ref().unwrap();
        assert_eq!(endpoint.to_string(), "http://collector:4318/v1/metrics");
        assert_eq!(b.headers.len(), 2);
        assert_eq!(b.headers[0].1, "a b");
        assert_eq!(b.timeout, Duration::from_millis(2500));
        assert_eq!(b.temporality, Temporality::Delta);
        let b = from(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://ignored:4318"),
            (
                "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
                "http://[::1]:9999/custom",
            ),
        ])
        .unwrap();
        assert_eq!(b.endpoint.unwrap().to_string(), "http://[::1]:9999/custom");
    }

    #[test]
    fn unusable_settings_are_errors_that_name_the_variable() {
        for (vars, expected) in [
            (
                &[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")][..],
                "OTEL_EXPORTER_OTLP_PROTOCOL",
            ),
            (
                &[("OTEL_EXPORTER_OTLP_ENDPOINT", "https://x:4318")][..],
                "https is not supported",
            ),
            (
                &[("OTEL_EXPORTER_OTLP_ENDPOINT", "localhost:4318")][..],
                "OTEL_EXPORTER_OTLP_ENDPOINT",
            ),
            (
                &[("OTEL_EXPORTER_OTLP_TIMEOUT", "soon")][..],
                "OTEL_EXPORTER_OTLP_TIMEOUT",
            ),
            (&[("OTEL_EXPORTER_OTLP_TIMEOUT", "0")][..], "outside"),
            (
                &[("OTEL_EXPORTER_OTLP_HEADERS", "novalue")][..],
                "key=value",
            ),
            (
                &[("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "often")][..],
                "not cumulative",
            ),
        ] {
            let error = from(vars).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(error.contains(expected), "{vars:?}: {error:?}");
        }
        assert!(builder().with_header("bad name", "v").is_err());
        assert!(builder().with_timeout(Duration::from_secs(3600)).is_err());
    }
}
