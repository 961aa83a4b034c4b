//! The exporter's log lines, through `tracing` like the OpenTelemetry SDK's own diagnostics
//! (target: the crate's name, a `name` field for the event), and only on a change: when
//! exports start failing and when they are delivered again, never once per export.
//!
//! The SDK's `otel_warn!` family is not used: those macros test `feature = "internal-logs"`
//! in the crate that calls them, so they would need a feature of that name here, and they
//! carry no message, only fields.

use super::status::{Recovered, clock};
use crate::error::Error;

/// Exports to `endpoint` just started failing with `error`.
pub(crate) fn failing(endpoint: &str, error: &Error) {
    tracing::warn!(
        target: env!("CARGO_PKG_NAME"),
        name = "OtlpExporter.ExportsFailing",
        endpoint,
        error = %error.chain(),
        "OTLP exports are failing: {}; heapster keeps exporting at every interval and logs \
         again when an export is delivered",
        error.chain(),
    );
}

/// Exports to `endpoint` are delivered again after `recovered`.
pub(crate) fn recovered(endpoint: &str, recovered: &Recovered) {
    tracing::info!(
        target: env!("CARGO_PKG_NAME"),
        name = "OtlpExporter.ExportsRecovered",
        endpoint,
        failures = recovered.failures,
        "OTLP exports to {endpoint} are delivered again, after {} failed since {}",
        recovered.failures,
        clock(recovered.since),
    );
}

/// Every failure, for those who want them all (debug level).
pub(crate) fn failed(error: &Error) {
    tracing::debug!(
        target: env!("CARGO_PKG_NAME"),
        name = "OtlpExporter.ExportFailed",
        error = %error.chain(),
    );
}
