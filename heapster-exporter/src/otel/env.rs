//! `OTEL_EXPORTER_OTLP_*`: the standard exporter variables, applied to an
//! [`OtlpExporterBuilder`].

use std::time::Duration;

use opentelemetry_sdk::metrics::Temporality;

use super::builder::{OtlpExporterBuilder, check_timeout};
use super::compression::Compression;
use super::endpoint::Endpoint;
use crate::error::Error;

impl OtlpExporterBuilder {
    /// Applies the standard OpenTelemetry exporter variables, the metrics-specific one first:
    /// `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT` (used as is) or `OTEL_EXPORTER_OTLP_ENDPOINT`
    /// (`/v1/metrics` appended), `OTEL_EXPORTER_OTLP_[METRICS_]HEADERS` (`key=value,...`,
    /// values percent-decoded), `OTEL_EXPORTER_OTLP_[METRICS_]TIMEOUT` (milliseconds),
    /// `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE` (`cumulative`, `delta`,
    /// `lowmemory`), `OTEL_EXPORTER_OTLP_[METRICS_]COMPRESSION` (`gzip`, `none`),
    /// `OTEL_METRIC_EXPORT_INTERVAL` (milliseconds) and `OTEL_EXPORTER_OTLP_[METRICS_]PROTOCOL`,
    /// which must be `http/protobuf` if set. Unset variables leave the builder as it was.
    ///
    /// A base endpoint that already ends in `/v1/metrics` gets `/v1/metrics` appended all the
    /// same, as the specification says; the collector's 404 then comes with a hint.
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
            self.timeout = check_timeout(name, milliseconds(name, &ms)?)?;
        }
        if let Some(ms) = var("OTEL_METRIC_EXPORT_INTERVAL") {
            let interval = milliseconds("OTEL_METRIC_EXPORT_INTERVAL", &ms)?;
            self = self.with_interval(interval).map_err(|_| {
                Error::invalid("OTEL_METRIC_EXPORT_INTERVAL", "zero is no interval")
            })?;
        }
        if let Some((name, value)) = either(
            "OTEL_EXPORTER_OTLP_METRICS_COMPRESSION",
            "OTEL_EXPORTER_OTLP_COMPRESSION",
        ) {
            self.compression = Compression::parse(&value)
                .ok_or_else(|| Error::invalid(name, format!("{value:?} is not gzip or none")))?;
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
}

/// A duration in milliseconds, as the specification has them; a value with a unit gets an
/// error that says so.
fn milliseconds(name: &'static str, value: &str) -> Result<Duration, Error> {
    let value = value.trim();
    value.parse().map(Duration::from_millis).map_err(|e| {
        let digits = value.trim_end_matches(|c: char| c.is_ascii_alphabetic());
        let reason = match digits.trim().parse::<u64>() {
            Ok(_) if digits.len() < value.len() => format!(
                "{value:?}: the value is in milliseconds, without a unit (e.g. 10000 for 10 s)"
            ),
            _ => format!("{value:?}: not a number of milliseconds ({e})"),
        };
        Error::invalid(name, reason)
    })
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

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use heapster::Stats;

    use super::*;
    use crate::otel::OtelInstruments;

    fn builder() -> OtlpExporterBuilder {
        OtlpExporterBuilder::new(&OtelInstruments::new(Stats::new()))
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
                &[("OTEL_EXPORTER_OTLP_COMPRESSION", "zstd")][..],
                "invalid OTEL_EXPORTER_OTLP_COMPRESSION: \"zstd\" is not gzip or none",
            ),
            (&[("OTEL_METRIC_EXPORT_INTERVAL", "0")][..], "zero"),
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
        assert!(builder().with_interval(Duration::ZERO).is_err());
        assert!(builder().with_timeout(Duration::from_secs(3600)).is_err());
    }

    #[test]
    fn common_mistakes_get_errors_that_say_how_to_fix_them() {
        let error = |vars: &[(&str, &str)]| from(vars).err().unwrap().to_string();
        assert_eq!(
            error(&[("OTEL_EXPORTER_OTLP_TIMEOUT", "10s")]),
            "invalid OTEL_EXPORTER_OTLP_TIMEOUT: \"10s\": the value is in milliseconds, without \
             a unit (e.g. 10000 for 10 s)"
        );
        assert_eq!(
            error(&[("OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", "soon")]),
            "invalid OTEL_EXPORTER_OTLP_METRICS_TIMEOUT: \"soon\": not a number of milliseconds \
             (invalid digit found in string)"
        );
        assert_eq!(
            error(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "localhost:4318")]),
            "invalid OTEL_EXPORTER_OTLP_ENDPOINT: \"localhost:4318\": no scheme; add http:// in \
             front (http://localhost:4318)"
        );
        assert_eq!(
            error(&[("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "collector")]),
            "invalid OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: \"collector\": no scheme; add http:// \
             in front (http://collector)"
        );
    }

    #[test]
    fn a_base_endpoint_ending_in_the_metrics_path_is_remembered_for_the_hint() {
        let b = from(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318/v1/metrics/")]).unwrap();
        let endpoint = b.endpoint.unwrap();
        assert_eq!(endpoint.to_string(), "http://c:4318/v1/metrics/v1/metrics");
        assert_eq!(endpoint.doubled_path, Some("OTEL_EXPORTER_OTLP_ENDPOINT"));
        let b = from(&[(
            "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
            "http://c:4318/v1/metrics",
        )]);
        let endpoint = b.unwrap().endpoint.unwrap();
        assert_eq!(endpoint.to_string(), "http://c:4318/v1/metrics");
        assert_eq!(endpoint.doubled_path, None, "used as is");
        let b = from(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318")]).unwrap();
        assert_eq!(b.endpoint.unwrap().doubled_path, None);
    }

    #[test]
    fn compression_and_interval_come_from_the_environment() {
        let b = from(&[]).unwrap();
        assert_eq!(
            (b.compression, b.interval),
            (Compression::None, OtlpExporterBuilder::DEFAULT_INTERVAL)
        );
        let b = from(&[
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
            ("OTEL_METRIC_EXPORT_INTERVAL", "1500"),
        ])
        .unwrap();
        assert_eq!(
            (b.compression, b.interval),
            (Compression::Gzip, Duration::from_millis(1500))
        );
    }
}
