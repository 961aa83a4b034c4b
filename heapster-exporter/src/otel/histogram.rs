//! The catalog's histograms as OTLP `ExponentialHistogram` metrics at scale 0 (no I/O).
//!
//! heapster bucket `k` counts sizes in `(2^(k-1), 2^k]`; at scale 0 the exponential bucket
//! index `i` covers `(2^i, 2^(i+1)]`, so bucket `k` is index `k - 1`, exactly (DESIGN §2).

use heapster::Histogram;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1 as pm;
use pm::exponential_histogram_data_point::Buckets;

use crate::catalog::{Instrument, METRICS, Metric};
use crate::config::Config;
use crate::sampler::Sample;

/// The histograms of `sample` (minus `baseline` for delta temporality, where `baseline` holds
/// one histogram per series in catalog order), stamped `start..now` in Unix nanoseconds.
pub(crate) fn metrics(
    config: &Config,
    sample: &Sample,
    baseline: Option<&[Histogram]>,
    start: u64,
    now: u64,
) -> Vec<pm::Metric> {
    let temporality = if baseline.is_some() {
        pm::AggregationTemporality::Delta
    } else {
        pm::AggregationTemporality::Cumulative
    };
    let mut previous = baseline.unwrap_or_default().iter();
    histogram_metrics()
        .map(|metric| {
            let data_points = metric
                .series
                .iter()
                .map(|series| {
                    let current = series.read.histogram(sample).copied().unwrap_or_default();
                    let histogram = match previous.next() {
                        Some(before) => current.saturating_sub(before),
                        None => current,
                    };
                    data_point(
                        &histogram,
                        attributes(config, metric, series.attribute_value),
                        start,
                        now,
                    )
                })
                .collect();
            pm::Metric {
                name: metric.full_otel_name(config.namespace()),
                description: metric.help.to_owned(),
                unit: metric.unit.ucum().to_owned(),
                metadata: Vec::new(),
                data: Some(pm::metric::Data::ExponentialHistogram(
                    pm::ExponentialHistogram {
                        data_points,
                        aggregation_temporality: temporality as i32,
                    },
                )),
            }
        })
        .collect()
}

/// The histograms of `sample`, one per series in catalog order: the baseline of the next
/// delta.
pub(crate) fn snapshot(sample: &Sample) -> Vec<Histogram> {
    histogram_metrics()
        .flat_map(|m| m.series)
        .map(|s| s.read.histogram(sample).copied().unwrap_or_default())
        .collect()
}

/// Empty histograms, one per series: the baseline of the first delta.
pub(crate) fn zero() -> Vec<Histogram> {
    histogram_metrics()
        .flat_map(|m| m.series)
        .map(|_| Histogram::new())
        .collect()
}

fn histogram_metrics() -> impl Iterator<Item = &'static Metric> {
    METRICS
        .iter()
        .filter(|m| m.instrument == Instrument::Histogram)
}

/// The constant labels and, if the metric has one, the series' attribute.
fn attributes(config: &Config, metric: &Metric, value: Option<&'static str>) -> Vec<KeyValue> {
    let attribute = metric.attribute.zip(value);
    config
        .constant_labels()
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .chain(attribute)
        .map(|(key, value)| KeyValue {
            key: key.to_owned(),
            key_strindex: 0,
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue(value.to_owned())),
            }),
        })
        .collect()
}

/// One data point: non-empty buckets from the first to the last, at scale 0.
pub(crate) fn data_point(
    histogram: &Histogram,
    attributes: Vec<KeyValue>,
    start: u64,
    now: u64,
) -> pm::ExponentialHistogramDataPoint {
    let counts = histogram.counts();
    let first = counts.iter().position(|&c| c != 0);
    let last = counts.iter().rposition(|&c| c != 0);
    let positive = match (first, last) {
        (Some(first), Some(last)) => Buckets {
            // heapster bucket k is exponential index k - 1.
            offset: i32::try_from(first).unwrap_or(i32::MAX) - 1,
            bucket_counts: counts[first..=last].to_vec(),
        },
        _ => Buckets {
            offset: 0,
            bucket_counts: Vec::new(),
        },
    };
    pm::ExponentialHistogramDataPoint {
        attributes,
        start_time_unix_nano: start,
        time_unix_nano: now,
        count: histogram.count(),
        // f64 is exact up to 2^53 bytes (8 PiB) in total.
        #[allow(clippy::cast_precision_loss)]
        sum: Some(histogram.sum() as f64),
        scale: 0,
        zero_count: 0,
        positive: Some(positive),
        negative: None,
        flags: 0,
        exemplars: Vec::new(),
        min: None,
        max: None,
        zero_threshold: 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether exponential bucket `i` at scale 0, `(2^i, 2^(i+1)]`, holds `size` (exact
    /// integer arithmetic: `f64` cannot tell `2^53 + 1` from `2^53`).
    fn holds(i: i32, size: u64) -> bool {
        if i < -1 {
            return false;
        }
        let size = u128::from(size);
        let upper = 1u128 << (i + 1);
        let above_lower = i < 0 || size > 1u128 << i;
        above_lower && size <= upper
    }

    #[test]
    fn every_size_lands_in_the_exponential_bucket_that_contains_it() {
        for k in 0..64u32 {
            let power = 1u64 << k;
            for size in [
                power.saturating_sub(1).max(1),
                power,
                power.saturating_add(1),
            ] {
                if size > isize::MAX as u64 {
                    continue;
                }
                let mut h = Histogram::new();
                h.record(size);
                let p = data_point(&h, Vec::new(), 0, 1);
                let b = p.positive.unwrap();
                assert_eq!(b.bucket_counts, vec![1], "size {size}");
                assert!(
                    holds(b.offset, size),
                    "size {size} not in bucket {}",
                    b.offset
                );
                assert!(!holds(b.offset - 1, size) && !holds(b.offset + 1, size));
                assert_eq!(p.count, 1);
            }
        }
    }

    #[test]
    fn buckets_span_first_to_last_non_empty() {
        let mut h = Histogram::new();
        for size in [16, 16, 64, 1024] {
            h.record(size);
        }
        let p = data_point(&h, Vec::new(), 5, 6);
        let b = p.positive.unwrap();
        // 16 is heapster bucket 4, exponential index 3: (8, 16].
        assert_eq!(b.offset, 3);
        assert_eq!(b.bucket_counts, vec![2, 0, 1, 0, 0, 0, 1]);
        assert_eq!((p.count, p.sum, p.scale), (4, Some(1120.0), 0));
        let empty = data_point(&Histogram::new(), Vec::new(), 5, 6);
        assert_eq!(empty.count, 0);
        assert!(empty.positive.unwrap().bucket_counts.is_empty());
    }
}
