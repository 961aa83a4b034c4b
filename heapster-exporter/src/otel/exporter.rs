//! [`OtlpExporter`]: the SDK's metrics and heapster's histograms in one OTLP/HTTP protobuf
//! request.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use heapster::Histogram;
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

use super::builder::OtlpExporterBuilder;
use super::collection;
use super::endpoint::Target;
use super::export_error::{ExportError, Kind};
use super::histogram;
use super::instruments::OtelInstruments;
use super::report;
use super::status::ExportStatus;
use super::transport::Transport;
use crate::catalog::{Instrument, METRICS};
use crate::error::Error;
use crate::sampler::Sample;

/// A `PushMetricExporter` that sends what the SDK collected (your metrics and heapster's
/// [instruments](OtelInstruments::register)) plus heapster's two histograms as OTLP
/// `ExponentialHistogram`s at scale 0, in one OTLP/HTTP request with a protobuf body
/// (`POST .../v1/metrics`, `Content-Type: application/x-protobuf`).
///
/// Put it in your `SdkMeterProvider` instead of `opentelemetry-otlp`'s metric exporter, in a
/// `PeriodicReader` with its [`interval`](Self::interval) (`with_periodic_exporter(exporter)`
/// works too, at the SDK's default of 60 s). Plain HTTP only; see the [module docs](super) for
/// an example, for why, and for the alternatives.
///
/// # When the collector struggles
///
/// As the OTLP specification asks, an answer of 429, 502, 503 or 504 is retried after the
/// collector's `Retry-After` (seconds or a date) or an exponential backoff with jitter (0.5 s,
/// 1 s, 2 s ... up to 8 s), every attempt within the export timeout; other errors are not
/// retried. A partial success (some data points rejected) counts as a failure and says how
/// many. A failed export is returned to the SDK, counted in [`status`](Self::status), and
/// logged through `tracing` (target `heapster-exporter`, where a subscriber shows the SDK's
/// own diagnostics): one warning when exports start failing, with the causes and a hint
/// where the mistake is a common one, and one line when they are delivered again, not one
/// per export (each failure is also logged at debug level).
///
/// Nothing is queued: the next export carries the cumulative totals (or, with delta
/// temporality, heapster's histograms since the last success). An export that finds the
/// previous one still waiting for its answer fails at once, so a collector that is down or
/// slow for minutes never builds up memory.
pub struct OtlpExporter {
    instruments: OtelInstruments,
    target: Target,
    temporality: Temporality,
    interval: Duration,
    transport: Transport,
    status: ExportStatus,
    /// Delta temporality: the histograms of the latest successful export and its time.
    baseline: Mutex<Option<(Vec<Histogram>, u64)>>,
}

impl OtlpExporter {
    /// A builder for an exporter of `instruments`' histograms.
    #[deprecated(since = "0.1.0", note = "use `OtlpExporterBuilder::new`")]
    pub fn builder(instruments: &OtelInstruments) -> OtlpExporterBuilder {
        OtlpExporterBuilder::new(instruments)
    }

    pub(crate) fn new(
        instruments: OtelInstruments,
        target: Target,
        temporality: Temporality,
        interval: Duration,
    ) -> Result<Self, Error> {
        Ok(Self {
            status: ExportStatus::new(target.endpoint.to_string()),
            instruments,
            target,
            temporality,
            interval,
            transport: Transport::start()?,
            baseline: Mutex::new(None),
        })
    }

    /// Where the metrics are posted.
    pub fn endpoint(&self) -> String {
        self.target.endpoint.to_string()
    }

    /// How often the periodic reader should export: `OTEL_METRIC_EXPORT_INTERVAL` when
    /// [`from_env`](OtlpExporterBuilder::from_env) found it, else
    /// [`with_interval`](OtlpExporterBuilder::with_interval)'s, else 5 s. Give it to
    /// `PeriodicReader::builder(exporter).with_interval(..)`: the SDK's own default is 60 s.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// How the exports went so far; keep a clone to watch an exporter the provider owns.
    pub fn status(&self) -> ExportStatus {
        self.status.clone()
    }

    /// Takes the sample of the collection that just ran on this thread (as
    /// [`export`](PushMetricExporter::export) does; a fresh one if none ran here) and makes
    /// the request an export of `metrics` would send, without sending it: the SDK's data
    /// converted by `opentelemetry-proto`, with heapster's histograms appended to the scope
    /// that holds heapster's instruments (or a scope `heapster-exporter` of their own).
    pub fn take_request(&self, metrics: &ResourceMetrics) -> ExportMetricsServiceRequest {
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
            self.instruments.config(),
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
                .map(|m| m.full_otel_name(self.instruments.config().namespace()));
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

    async fn send(&self, metrics: &ResourceMetrics) -> Result<(), ExportError> {
        let endpoint = &self.target.endpoint;
        if self.transport.is_shut_down() {
            return Err(ExportError::new(endpoint, Kind::ShutDown));
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
                let kind = Kind::Partial {
                    rejected: partial.rejected_data_points,
                    message: partial.error_message,
                };
                return Err(ExportError::new(endpoint, kind));
            }
        }
        Ok(())
    }
}

impl PushMetricExporter for OtlpExporter {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        match self.send(metrics).await {
            Ok(()) => {
                if let Some(recovered) = self.status.success() {
                    report::recovered(&self.endpoint(), &recovered);
                }
                Ok(())
            }
            Err(error) => {
                let error = Error::Export(error);
                let message = error.chain();
                report::failed(&error);
                let error = Arc::new(error);
                if self.status.failure(Arc::clone(&error)) {
                    report::failing(&self.endpoint(), &error);
                }
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
            .map_err(|e| OTelSdkError::InternalFailure(e.chain()))
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
            .field("compression", &self.target.compression)
            .field("interval", &self.interval)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

fn unix_nanos(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}
