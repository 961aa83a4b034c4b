//! [`otel_to_prometheus`]: how an OpenTelemetry name becomes a Prometheus name.

use crate::catalog::Instrument;

/// The OpenTelemetry-to-Prometheus name translation (as the OpenTelemetry Collector's
/// Prometheus exporter does it for heapster's names): dots to `_`, unit `By` to the suffix
/// `_bytes`, `{...}` annotations dropped, `_total` on monotonic counters. Every
/// [`Metric::full_prometheus_name`](crate::catalog::Metric::full_prometheus_name) is this
/// translation of its OpenTelemetry name, so one dashboard serves both paths; the process
/// metrics are with [`ProcessMemoryNames::OpenTelemetry`](crate::catalog::ProcessMemoryNames)
/// only (by default they are under the namespace, apart from process collectors).
///
/// ```
/// use heapster_exporter::catalog::Instrument;
/// use heapster_exporter::naming::otel_to_prometheus;
///
/// let name = otel_to_prometheus("heapster.allocated", "By", Instrument::Counter);
/// assert_eq!(name, "heapster_allocated_bytes_total");
/// ```
#[must_use]
pub fn otel_to_prometheus(otel_name: &str, ucum_unit: &str, instrument: Instrument) -> String {
    let mut name = otel_name.replace('.', "_");
    match ucum_unit {
        "By" => name.push_str("_bytes"),
        unit if unit.starts_with('{') && unit.ends_with('}') => {}
        unit => {
            name.push('_');
            name.push_str(unit);
        }
    }
    if instrument.is_monotonic() {
        name.push_str("_total");
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{DEFAULT_NAMESPACE, METRICS, ProcessMemoryNames, Scope};

    #[test]
    fn translation_rules() {
        assert_eq!(
            otel_to_prometheus("a.b", "By", Instrument::Counter),
            "a_b_bytes_total"
        );
        assert_eq!(
            otel_to_prometheus("a.b", "{thing}", Instrument::Gauge),
            "a_b"
        );
        assert_eq!(otel_to_prometheus("a", "s", Instrument::Histogram), "a_s");
    }

    #[test]
    fn prometheus_names_are_the_translation_of_the_otel_names() {
        for metric in METRICS {
            let translated = otel_to_prometheus(
                &metric.full_otel_name(DEFAULT_NAMESPACE),
                metric.unit.ucum(),
                metric.instrument,
            );
            // Process metrics: exactly with `ProcessMemoryNames::OpenTelemetry`; by default
            // they are under the namespace, apart from process collectors.
            let names = match metric.scope {
                Scope::Heap => ProcessMemoryNames::Namespaced,
                Scope::Process => ProcessMemoryNames::OpenTelemetry,
            };
            assert_eq!(
                metric.full_prometheus_name_with(DEFAULT_NAMESPACE, names),
                translated,
                "{}",
                metric.otel_name
            );
        }
    }
}
