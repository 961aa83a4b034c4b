//! [`Config`]: what every back-end shares (namespace, histogram bounds, constant labels), set
//! once and validated once.

use std::sync::Arc;

use heapster::Histogram;

use crate::catalog::{DEFAULT_NAMESPACE, METRICS, ProcessMemoryNames};
use crate::error::Error;

/// The settings that Prometheus and OpenTelemetry share: the namespace of every name, the
/// bounds of the classic histogram buckets, and labels put on every series. Set them once and
/// hand the value to every reader ([`ExporterBuilder::with_config`](crate::ExporterBuilder::with_config),
/// `PrometheusCollector::with_config`, `OtelInstruments::with_config`); each setter validates
/// at once. Cloning is cheap.
///
/// ```
/// use heapster_exporter::Config;
///
/// let config = Config::new()
///     .with_namespace("app_heap")?
///     .with_histogram_bounds(64, 1 << 20)?
///     .with_constant_label("service", "checkout")?;
/// assert_eq!(config.namespace(), "app_heap");
/// assert!(Config::new().with_namespace("1st").is_err());
/// assert!(Config::new().with_constant_label("le", "x").is_err()); // a label heapster uses
/// # Ok::<(), heapster_exporter::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    namespace: Arc<str>,
    bounds: Bounds,
    constant_labels: Arc<[(String, String)]>,
    native_histograms: bool,
    process_memory: ProcessMemoryNames,
}

/// The classic bucket bounds `le = 2^lowest ..= 2^highest`, then `+Inf`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Bounds {
    lowest: u32,
    highest: u32,
}

impl Default for Config {
    fn default() -> Self {
        Self::new()
    }
}

impl Config {
    /// The default lowest classic bucket bound: 8 bytes (sizes 1 to 8 share it).
    pub const DEFAULT_LOWEST_BOUND: u64 = 8;
    /// The default highest classic bucket bound: 1 GiB (larger sizes count only in `+Inf`).
    pub const DEFAULT_HIGHEST_BOUND: u64 = 1 << 30;

    /// The defaults: namespace `heapster`, bounds 8 B to 1 GiB (28 bounds and `+Inf`), no
    /// constant labels, native histograms on.
    #[must_use]
    pub fn new() -> Self {
        Self {
            namespace: Arc::from(DEFAULT_NAMESPACE),
            bounds: Bounds {
                lowest: Self::DEFAULT_LOWEST_BOUND.trailing_zeros(),
                highest: Self::DEFAULT_HIGHEST_BOUND.trailing_zeros(),
            },
            constant_labels: Arc::from([]),
            native_histograms: true,
            process_memory: ProcessMemoryNames::Namespaced,
        }
    }

    /// Sets the namespace, the first part of every name (`heapster_` in Prometheus,
    /// `heapster.` in OpenTelemetry); the empty string means none.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] unless it matches `[a-zA-Z_][a-zA-Z0-9_]*` (or is empty):
    /// a Prometheus name prefix, which OpenTelemetry accepts too.
    pub fn with_namespace(mut self, namespace: &str) -> Result<Self, Error> {
        if !namespace.is_empty() {
            check_name("namespace", namespace)?;
        }
        self.namespace = Arc::from(namespace);
        Ok(self)
    }

    /// Sets the classic histogram bounds: every power of two from `lowest` to `highest` is an
    /// `le` bound on every scrape, empty or not (and a per-bucket counter bound in
    /// OpenTelemetry). Sizes at or below `lowest` count in its bucket; sizes above `highest`
    /// only in `+Inf`.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] unless both are powers of two with `lowest <= highest`.
    pub fn with_histogram_bounds(mut self, lowest: u64, highest: u64) -> Result<Self, Error> {
        if !lowest.is_power_of_two() || !highest.is_power_of_two() || lowest > highest {
            return Err(Error::invalid(
                "histogram bounds",
                format!("{lowest}..={highest}: bounds must be powers of two, lowest first"),
            ));
        }
        self.bounds = Bounds {
            lowest: lowest.trailing_zeros(),
            highest: highest.trailing_zeros(),
        };
        Ok(self)
    }

    /// Adds a label to every series (a Prometheus label and an OpenTelemetry attribute),
    /// replacing one of the same name.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] unless the name matches `[a-zA-Z_][a-zA-Z0-9_]*`, does not
    /// start with `__` (reserved by Prometheus), and is none of the labels heapster's metrics
    /// use (`le` and each metric's attribute).
    pub fn with_constant_label(mut self, name: &str, value: &str) -> Result<Self, Error> {
        check_name("constant label", name)?;
        let taken = name.starts_with("__")
            || name == "le"
            || METRICS.iter().any(|m| m.attribute == Some(name));
        if taken {
            return Err(Error::invalid(
                "constant label",
                format!("{name:?} is reserved or used by heapster's metrics"),
            ));
        }
        let mut labels: Vec<_> = self
            .constant_labels
            .iter()
            .filter(|(n, _)| n != name)
            .cloned()
            .collect();
        labels.push((name.to_owned(), value.to_owned()));
        self.constant_labels = labels.into();
        Ok(self)
    }

    /// Whether Prometheus histograms also carry native buckets (default `true`). Only the
    /// protobuf exposition shows them; a Prometheus that receives both forms stores only the
    /// native one, so turn them off to keep classic series on a native-histogram-enabled
    /// server. (OpenTelemetry always sends exponential histograms.)
    #[must_use]
    pub fn with_native_histograms(mut self, native: bool) -> Self {
        self.native_histograms = native;
        self
    }

    /// How the process-memory metrics are named on the Prometheus side (and through the
    /// `metrics` facade), or [`Off`](ProcessMemoryNames::Off). The default,
    /// [`Namespaced`](ProcessMemoryNames::Namespaced) (`heapster_process_memory_usage_bytes`),
    /// never collides with a process collector in the same scrape;
    /// [`OpenTelemetry`](ProcessMemoryNames::OpenTelemetry) (`process_memory_usage_bytes`) is
    /// what a collector makes of the OpenTelemetry side's `process.memory.usage`. See
    /// [`Scope::Process`](crate::catalog::Scope::Process) for the reasons.
    #[must_use]
    pub fn with_process_memory(mut self, names: ProcessMemoryNames) -> Self {
        self.process_memory = names;
        self
    }

    /// The namespace of every name.
    #[must_use]
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The lowest and highest classic bucket bounds, in bytes.
    #[must_use]
    pub fn histogram_bounds(&self) -> (u64, u64) {
        (1 << self.bounds.lowest, 1 << self.bounds.highest)
    }

    /// The constant labels, in the order they were added.
    #[must_use]
    pub fn constant_labels(&self) -> &[(String, String)] {
        &self.constant_labels
    }

    /// Whether Prometheus histograms carry native buckets.
    #[must_use]
    pub fn native_histograms(&self) -> bool {
        self.native_histograms
    }

    /// How the process-memory metrics are named (see
    /// [`with_process_memory`](Self::with_process_memory)).
    #[must_use]
    pub fn process_memory(&self) -> ProcessMemoryNames {
        self.process_memory
    }

    #[cfg_attr(not(any(feature = "prometheus", feature = "otel")), allow(dead_code))]
    pub(crate) fn bounds(&self) -> Bounds {
        self.bounds
    }
}

#[cfg_attr(not(any(feature = "prometheus", feature = "otel")), allow(dead_code))]
impl Bounds {
    /// How many finite bounds there are (`+Inf` not counted).
    pub(crate) fn len(self) -> usize {
        (self.highest - self.lowest + 1) as usize
    }

    /// The finite bounds, `2^lowest ..= 2^highest`.
    #[cfg_attr(not(feature = "otel"), allow(dead_code))]
    pub(crate) fn iter(self) -> impl Iterator<Item = u64> {
        (self.lowest..=self.highest).map(|k| 1u64 << k)
    }

    /// `(bound, sizes <= bound)` for every finite bound, then `(u64::MAX, count)` for `+Inf`:
    /// the classic buckets of `histogram`, from [`Histogram::cumulative`].
    pub(crate) fn cumulative(self, histogram: &Histogram) -> impl Iterator<Item = (u64, u64)> {
        histogram
            .cumulative()
            .skip(self.lowest as usize)
            .take(self.len())
            .chain(std::iter::once((u64::MAX, histogram.count())))
    }
}

/// Checks `[a-zA-Z_][a-zA-Z0-9_]*`, the Prometheus rule for label names and name prefixes.
fn check_name(setting: &'static str, name: &str) -> Result<(), Error> {
    let mut chars = name.chars();
    let valid = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if valid {
        Ok(())
    } else {
        Err(Error::invalid(
            setting,
            format!("{name:?} does not match [a-zA-Z_][a-zA-Z0-9_]*"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_name_rule_for_namespace_and_labels() {
        for good in ["", "_x", "app_heap", "A1"] {
            assert!(Config::new().with_namespace(good).is_ok(), "{good:?}");
        }
        for bad in ["1x", "a-b", "a.b", "é", " "] {
            let e = Config::new().with_namespace(bad).unwrap_err();
            assert!(e.to_string().contains("namespace"), "{e}");
            assert!(
                Config::new().with_constant_label(bad, "v").is_err(),
                "{bad:?}"
            );
        }
        for taken in ["le", "kind", "direction", "operation", "__name__", ""] {
            assert!(
                Config::new().with_constant_label(taken, "v").is_err(),
                "{taken:?}"
            );
        }
        let c = Config::new()
            .with_constant_label("service", "a")
            .unwrap()
            .with_constant_label("zone", "z")
            .unwrap()
            .with_constant_label("service", "b")
            .unwrap();
        let labels: Vec<_> = c
            .constant_labels()
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        assert_eq!(labels, [("zone", "z"), ("service", "b")]);
    }

    #[test]
    fn bounds_are_powers_of_two_lowest_first() {
        for (lo, hi) in [(3, 8), (8, 4), (0, 8), (8, 0)] {
            assert!(Config::new().with_histogram_bounds(lo, hi).is_err());
        }
        let c = Config::new().with_histogram_bounds(1, 1).unwrap();
        assert_eq!(c.histogram_bounds(), (1, 1));
        assert_eq!(c.bounds().iter().collect::<Vec<_>>(), [1]);
        assert_eq!(Config::new().bounds().len(), 28);
    }

    #[test]
    fn cumulative_buckets_fold_below_the_lowest_bound_and_end_with_the_count() {
        let mut h = Histogram::new();
        for size in [1, 8, 9, 16, 17, 100, 1 << 20] {
            h.record(size);
        }
        let bounds = Config::new().with_histogram_bounds(8, 64).unwrap().bounds();
        let buckets: Vec<_> = bounds.cumulative(&h).collect();
        assert_eq!(
            buckets,
            [(8, 2), (16, 4), (32, 5), (64, 5), (u64::MAX, 7)],
            "1 and 8 in le=8, 9 and 16 in le=16, 17 in le=32, the rest only in +Inf"
        );
    }
}
