//! [`PrometheusCollector`]: the catalog encoded for `prometheus-client` from one sample.

use std::sync::Arc;

use heapster::{BUCKETS, Histogram};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    DescriptorEncoder, MetricEncoder, NativeHistogram, NativeHistogramBuckets, NoLabelSet,
};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit as PromUnit};

use crate::catalog::{DEFAULT_NAMESPACE, Instrument, METRICS, Read, Unit};
use crate::error::Error;
use crate::sampler::{Sample, Sampler};

/// A `prometheus-client` [`Collector`] that encodes every metric of the
/// [catalog](crate::catalog::METRICS) from one [`Sample`] per scrape.
///
/// Register it into your own [`Registry`] (whose prefix and labels apply) or use the one the
/// [builder](crate::HeapsterExporter::builder) creates. Cloning is cheap; clones share the
/// sampler.
///
/// Histograms are encoded twice in one message: as a classic histogram with the `le` bounds
/// `2^lowest ..= 2^highest` and `+Inf` (sizes at or below the lowest bound fold into it, sizes
/// above the highest into `+Inf`), and as a native histogram of schema 0 with all 64 buckets,
/// which only the protobuf exposition carries. Each size bucket maps exactly: bucket `k`,
/// sizes in `(2^(k-1), 2^k]`, is `le="2^k"` and native bucket `k`.
///
/// ```
/// use std::sync::Arc;
/// use heapster::Stats;
/// use heapster_exporter::{PrometheusCollector, Sampler};
/// use prometheus_client::registry::Registry;
///
/// let mut stats = Stats::new();
/// stats.allocations = 2;
/// let collector = PrometheusCollector::new(Arc::new(Sampler::new(stats)));
/// let mut registry = Registry::with_prefix("myapp");
/// registry.register_collector(Box::new(collector));
/// let mut text = String::new();
/// prometheus_client::encoding::prometheus_text::encode(&mut text, &registry).unwrap();
/// assert!(text.contains("\nmyapp_heapster_allocations_total 2\n"));
/// ```
#[derive(Clone, Debug)]
pub struct PrometheusCollector {
    sampler: Arc<Sampler>,
    options: CollectorOptions,
}

/// The settings of a [`PrometheusCollector`], validated when set.
#[derive(Clone, Debug)]
pub(crate) struct CollectorOptions {
    /// `namespace_base` for each entry of `METRICS`, in order.
    names: Arc<[String]>,
    /// Classic bounds `le = 2^lowest ..= 2^highest`, then `+Inf`.
    lowest: u32,
    highest: u32,
    native: bool,
}

impl Default for CollectorOptions {
    fn default() -> Self {
        Self {
            names: names(DEFAULT_NAMESPACE),
            lowest: PrometheusCollector::DEFAULT_LOWEST_BOUND.trailing_zeros(),
            highest: PrometheusCollector::DEFAULT_HIGHEST_BOUND.trailing_zeros(),
            native: true,
        }
    }
}

impl CollectorOptions {
    pub(crate) fn namespace(&mut self, namespace: &str) -> Result<(), Error> {
        let mut chars = namespace.chars();
        let valid = chars
            .next()
            .is_none_or(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(Error::invalid(
                "namespace",
                format!("{namespace:?} does not match [a-zA-Z_][a-zA-Z0-9_]*"),
            ));
        }
        self.names = names(namespace);
        Ok(())
    }

    pub(crate) fn classic_buckets(&mut self, lowest: u64, highest: u64) -> Result<(), Error> {
        if !lowest.is_power_of_two() || !highest.is_power_of_two() || lowest > highest {
            return Err(Error::invalid(
                "classic buckets",
                format!("{lowest}..={highest}: bounds must be powers of two, lowest first"),
            ));
        }
        self.lowest = lowest.trailing_zeros();
        self.highest = highest.trailing_zeros();
        Ok(())
    }

    pub(crate) fn native_histograms(&mut self, native: bool) {
        self.native = native;
    }

    pub(crate) fn collector(self, sampler: Arc<Sampler>) -> PrometheusCollector {
        PrometheusCollector {
            sampler,
            options: self,
        }
    }
}

impl PrometheusCollector {
    /// The default lowest classic bucket bound: 8 bytes (sizes 1 to 8 share it).
    pub const DEFAULT_LOWEST_BOUND: u64 = 8;
    /// The default highest classic bucket bound: 1 GiB (larger sizes count only in `+Inf`).
    pub const DEFAULT_HIGHEST_BOUND: u64 = 1 << 30;

    /// A collector of `sampler`'s samples with the default namespace (`heapster`), classic
    /// buckets from 8 B to 1 GiB (28 bounds and `+Inf`) and native histograms.
    pub fn new(sampler: Arc<Sampler>) -> Self {
        CollectorOptions::default().collector(sampler)
    }

    /// Sets the namespace, the first part of every name (`heapster` by default); the empty
    /// string means none.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] unless the namespace matches `[a-zA-Z_][a-zA-Z0-9_]*` (or is
    /// empty).
    pub fn with_namespace(mut self, namespace: &str) -> Result<Self, Error> {
        self.options.namespace(namespace)?;
        Ok(self)
    }

    /// Sets the classic bucket bounds: every power of two from `lowest` to `highest` is an
    /// `le` bound, on every scrape, whether its bucket is empty or not.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] unless both are powers of two with `lowest <= highest`.
    pub fn with_classic_buckets(mut self, lowest: u64, highest: u64) -> Result<Self, Error> {
        self.options.classic_buckets(lowest, highest)?;
        Ok(self)
    }

    /// Whether histograms carry native buckets (default `true`). Only the protobuf
    /// exposition shows them; Prometheus stores only the native form of a histogram that has
    /// both, so turn them off to keep classic series with a native-histogram-enabled server.
    #[must_use]
    pub fn with_native_histograms(mut self, native: bool) -> Self {
        self.options.native_histograms(native);
        self
    }

    /// The sampler this collector reads.
    pub fn sampler(&self) -> &Arc<Sampler> {
        &self.sampler
    }

    /// Registers a clone of this collector into `registry`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register_collector(Box::new(self.clone()));
    }

    fn encode_sample(
        &self,
        sample: &Sample,
        encoder: &mut DescriptorEncoder<'_>,
    ) -> Result<(), std::fmt::Error> {
        let bytes = PromUnit::Bytes;
        for (metric, name) in METRICS.iter().zip(self.options.names.iter()) {
            let unit = match metric.unit {
                Unit::Bytes => Some(&bytes),
                Unit::Count(_) => None,
            };
            let metric_type = match metric.instrument {
                Instrument::Counter => MetricType::Counter,
                Instrument::UpDownCounter | Instrument::Gauge => MetricType::Gauge,
                Instrument::Histogram => MetricType::Histogram,
            };
            let mut family = encoder.encode_descriptor(name, metric.help, unit, metric_type)?;
            for series in metric.series {
                match (metric.attribute, series.attribute_value) {
                    (Some(key), Some(value)) => {
                        let labels = [(key, value)];
                        let mut encoder = family.encode_family(&labels)?;
                        self.encode_series(&mut encoder, metric.instrument, series.read, sample)?;
                    }
                    _ => self.encode_series(&mut family, metric.instrument, series.read, sample)?,
                }
            }
        }
        Ok(())
    }

    fn encode_series(
        &self,
        encoder: &mut MetricEncoder<'_>,
        instrument: Instrument,
        read: Read,
        sample: &Sample,
    ) -> Result<(), std::fmt::Error> {
        match instrument {
            Instrument::Counter => {
                encoder.encode_counter::<NoLabelSet, u64, u64>(&read.value(sample), None)
            }
            Instrument::UpDownCounter | Instrument::Gauge => {
                encoder.encode_gauge(&read.value(sample))
            }
            Instrument::Histogram => {
                let empty = Histogram::new();
                let histogram = read.histogram(sample).unwrap_or(&empty);
                self.encode_histogram(encoder, histogram)
            }
        }
    }

    fn encode_histogram(
        &self,
        encoder: &mut MetricEncoder<'_>,
        histogram: &Histogram,
    ) -> Result<(), std::fmt::Error> {
        let counts = histogram.counts();
        // `_count` is the sum of the buckets of this same snapshot, so it equals `+Inf`.
        let count = histogram.count();
        #[allow(
            clippy::cast_precision_loss,
            reason = "the exposition formats carry sums as f64: exact below 2^53 bytes"
        )]
        let sum = histogram.sum() as f64;

        let mut classic = [(0.0f64, 0u64); BUCKETS + 1];
        let (lowest, highest) = (self.options.lowest as usize, self.options.highest as usize);
        let mut n = 0;
        for k in lowest..=highest {
            let in_bucket = if k == lowest {
                counts[..=k].iter().fold(0u64, |a, &c| a.saturating_add(c))
            } else {
                counts[k]
            };
            classic[n] = (bound(k), in_bucket);
            n += 1;
        }
        let above = counts[highest + 1..]
            .iter()
            .fold(0u64, |a, &c| a.saturating_add(c));
        classic[n] = (f64::INFINITY, above);
        n += 1;
        let classic = &classic[..n];

        if !self.options.native {
            return encoder.encode_histogram::<NoLabelSet>(sum, count, classic, None);
        }
        // Native schema 0: bucket k is (2^(k-1), 2^k], the same as ours. One span over all 64
        // buckets, with explicit zeros, so that even an empty histogram is stored as native.
        let mut deltas = [0i64; BUCKETS];
        let mut previous = 0i64;
        for (delta, &c) in deltas.iter_mut().zip(counts) {
            let c = i64::try_from(c).unwrap_or(i64::MAX);
            *delta = c.saturating_sub(previous);
            previous = c;
        }
        #[allow(
            clippy::cast_possible_truncation,
            reason = "BUCKETS is 64, which fits u32"
        )]
        let spans = [(0i32, BUCKETS as u32)];
        let native = NativeHistogram {
            schema: 0,
            zero_threshold: 0.0,
            zero_count: 0,
            negative: NativeHistogramBuckets {
                spans: &[],
                deltas: &[],
            },
            positive: NativeHistogramBuckets {
                spans: &spans,
                deltas: &deltas,
            },
            created: None,
        };
        encoder.encode_histogram_with_native::<NoLabelSet>(sum, count, classic, None, native)
    }
}

impl Collector for PrometheusCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let sample = self.sampler.current();
        self.encode_sample(&sample, &mut encoder)
    }
}

/// `2^k` as f64 (exact for every k < 64).
fn bound(k: usize) -> f64 {
    #[allow(clippy::cast_precision_loss, reason = "a power of two is exact in f64")]
    let b = (1u64 << k) as f64;
    b
}

fn names(namespace: &str) -> Arc<[String]> {
    METRICS
        .iter()
        .map(|m| {
            if namespace.is_empty() {
                m.prometheus_name.to_owned()
            } else {
                format!("{namespace}_{}", m.prometheus_name)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
