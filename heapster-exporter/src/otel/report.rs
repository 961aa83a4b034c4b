//! The exporter's log lines, through `tracing` like the OpenTelemetry SDK's own diagnostics
//! (target: the crate's name, the event named in its `name` too), and only on a change: when
//! exports start failing and when they are delivered again, never once per export (and once
//! at the start for an endpoint that repeats `/v1/metrics`).
//!
//! The message carries the error's whole chain; the fields are for filtering.
//!
//! The SDK's `otel_warn!` family is not used: those macros test `feature = "internal-logs"`
//! in the crate that calls them, so they would need a feature of that name here, and they
//! carry no message, only fields.

use super::status::{Recovered, clock};
use crate::error::Error;

/// A `tracing` event at `$level` named `$name`, both as the event's name and as its field
/// `name`, with the crate's name as target.
macro_rules! event {
    ($level:ident, $name:literal, $($fields_and_message:tt)+) => {
        tracing::$level!(
            name: $name,
            target: env!("CARGO_PKG_NAME"),
            name = $name,
            $($fields_and_message)+
        )
    };
}

/// Exports to `endpoint` just started failing with `error`.
pub(crate) fn failing(endpoint: &str, error: &Error) {
    event!(
        warn,
        "OtlpExporter.ExportsFailing",
        endpoint,
        "OTLP exports are failing: {}; heapster keeps exporting at every interval and logs \
         again when an export is delivered",
        error.chain(),
    );
}

/// Exports to `endpoint` are delivered again after `recovered`.
pub(crate) fn recovered(endpoint: &str, recovered: &Recovered) {
    event!(
        info,
        "OtlpExporter.ExportsRecovered",
        endpoint,
        failures = recovered.failures,
        "OTLP exports to {endpoint} are delivered again, after {} failed since {}",
        recovered.failures,
        clock(recovered.since),
    );
}

/// Every failure, for those who want them all (debug level).
pub(crate) fn failed(error: &Error) {
    event!(
        debug,
        "OtlpExporter.ExportFailed",
        "OTLP export failed: {}",
        error.chain(),
    );
}

/// The base endpoint given in `setting` already ended in `/v1/metrics`, and it was appended
/// again, as the specification says: almost always a mistake, said once, at the start.
pub(crate) fn doubled_path(setting: &str, endpoint: &str) {
    event!(
        warn,
        "OtlpExporter.DoubledPath",
        endpoint,
        "OTLP exports go to {endpoint}: {setting} is the base URL, to which /v1/metrics is \
         appended, and it ended in /v1/metrics already; give it without the path (e.g. \
         http://localhost:4318), or the full URL in OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    );
}
