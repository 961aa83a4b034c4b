//! [`PrometheusCollector`]: the catalog encoded for `prometheus-client` from one sample.

use std::sync::Arc;

use heapster::{BUCKETS, Histogram};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit as PromUnit};

use crate::catalog::{Instrument, METRICS, Metric, Read, Unit};
use crate::config::Config;
use crate::sampler::{Sample, Sampler};

/// A `prometheus-client` [`Collector`] that encodes every metric of the
/// [catalog](crate::catalog::METRICS) from one [`Sample`] per scrape.
///
/// Register it into your own [`Registry`] (whose prefix and labels apply) or use the one the
/// [builder](crate::ExporterBuilder) creates. Cloning is cheap; clones share the
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
    config: Config,
    /// `namespace_base` for each entry of `METRICS`, in order.
    names: Arc<[String]>,
}

impl PrometheusCollector {
    /// A collector of `sampler`'s samples with the default [`Config`]: namespace `heapster`,
    /// classic buckets from 8 B to 1 GiB (28 bounds and `+Inf`), native histograms.
    pub fn new(sampler: Arc<Sampler>) -> Self {
        let config = Config::new();
        Self {
            sampler,
            names: names(&config),
            config,
        }
    }

    /// Uses `config`'s namespace, bounds, constant labels and native-histogram setting.
    #[must_use]
    pub fn with_config(mut self, config: Config) -> Self {
        self.names = names(&config);
        self.config = config;
        self
    }

    /// The settings this collector encodes with.
    pub fn config(&self) -> &Config {
        &self.config
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
        let constant = self.config.constant_labels();
        for (metric, name) in METRICS.iter().zip(self.names.iter()) {
            if !self.exports(metric, sample) {
                continue;
            }
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
                        let labels = (constant, [(key, value)]);
                        let mut encoder = family.encode_family(&labels)?;
                        self.encode_series(&mut encoder, metric.instrument, series.read, sample)?;
                    }
                    _ if !constant.is_empty() => {
                        let mut encoder = family.encode_family(&constant)?;
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
                let value = read.value(sample).unwrap_or(0);
                encoder.encode_counter::<NoLabelSet, u64, u64>(&value, None)
            }
            Instrument::UpDownCounter | Instrument::Gauge => {
                encoder.encode_gauge(&read.value(sample).unwrap_or(0))
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
        // `_count` is the sum of the buckets of this same snapshot, so it equals `+Inf`.
        let count = histogram.count();
        #[allow(
            clippy::cast_precision_loss,
            reason = "the exposition formats carry sums as f64: exact below 2^53 bytes"
        )]
        let sum = histogram.sum() as f64;

        // prometheus-client takes each bucket's own count and accumulates them itself.
        let mut classic = [(0.0f64, 0u64); BUCKETS + 1];
        let mut below = 0;
        let mut n = 0;
        for (slot, (bound, cumulative)) in classic
            .iter_mut()
            .zip(self.config.bounds().cumulative(histogram))
        {
            *slot = (as_f64(bound), cumulative.saturating_sub(below));
            below = cumulative;
            n += 1;
        }
        let classic = &classic[..n];

        // The text formats have no native form; the protobuf exposition (`crate::protobuf`)
        // carries both.
        encoder.encode_histogram::<NoLabelSet>(sum, count, classic, None)
    }

    /// Whether `metric` is in the exposition of `sample`: process memory that is turned off,
    /// or that the platform does not report, is left out, family and all, never shown as 0.
    pub(crate) fn exports(&self, metric: &Metric, sample: &Sample) -> bool {
        metric.is_exported(self.config.process_memory())
            && (!metric.reads_process() || sample.process.is_some())
    }

    /// The family name of `METRICS[index]` under the namespace, without unit or `_total`.
    #[cfg(feature = "protobuf")]
    pub(crate) fn base_name(&self, index: usize) -> &str {
        &self.names[index]
    }

    /// Appends the protobuf exposition of one sample, see [`crate::protobuf`].
    #[cfg(feature = "protobuf")]
    pub(crate) fn encode_protobuf(&self, out: &mut Vec<u8>) {
        let sample = self.sampler.current();
        crate::protobuf::encode(self, &sample, self.sampler.created(), out);
    }
}

impl Collector for PrometheusCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let sample = self.sampler.current();
        self.encode_sample(&sample, &mut encoder)
    }
}

/// A bound as f64: exact for powers of two, and `+Inf` for `u64::MAX`.
pub(crate) fn as_f64(bound: u64) -> f64 {
    #[allow(clippy::cast_precision_loss, reason = "a power of two is exact in f64")]
    let b = if bound == u64::MAX {
        f64::INFINITY
    } else {
        bound as f64
    };
    b
}

/// `namespace_base` for each entry of `METRICS`, in order.
fn names(config: &Config) -> Arc<[String]> {
    METRICS
        .iter()
        .map(|m| m.prometheus_name_with(config.namespace(), config.process_memory()))
        .collect()
}

#[cfg(test)]
mod tests;
