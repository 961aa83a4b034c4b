//! The Prometheus protobuf exposition of heapster's metrics: length-delimited
//! `io.prometheus.client.MetricFamily` messages, as Prometheus's `metrics.proto` defines them,
//! written field by field in protobuf's wire format. No generated code and no protobuf compiler
//! at build time: the few messages are small and stable.

use std::time::{SystemTime, UNIX_EPOCH};

use heapster::{BUCKETS, Histogram};

use crate::catalog::{Instrument, METRICS, Metric, Read};
use crate::prometheus::{PrometheusCollector, as_f64};
use crate::sampler::Sample;

/// Field numbers and enum values of `io.prometheus.client` (Prometheus's `metrics.proto`).
mod proto {
    pub(super) const FAMILY_NAME: u32 = 1;
    pub(super) const FAMILY_HELP: u32 = 2;
    pub(super) const FAMILY_TYPE: u32 = 3;
    pub(super) const FAMILY_METRIC: u32 = 4;
    pub(super) const FAMILY_UNIT: u32 = 5;

    pub(super) const TYPE_COUNTER: u64 = 0;
    pub(super) const TYPE_GAUGE: u64 = 1;
    pub(super) const TYPE_HISTOGRAM: u64 = 4;

    pub(super) const METRIC_LABEL: u32 = 1;
    pub(super) const METRIC_GAUGE: u32 = 2;
    pub(super) const METRIC_COUNTER: u32 = 3;
    pub(super) const METRIC_HISTOGRAM: u32 = 7;

    pub(super) const LABEL_NAME: u32 = 1;
    pub(super) const LABEL_VALUE: u32 = 2;

    /// `Gauge.value` and `Counter.value`.
    pub(super) const VALUE: u32 = 1;
    pub(super) const COUNTER_CREATED: u32 = 3;

    pub(super) const HISTOGRAM_COUNT: u32 = 1;
    pub(super) const HISTOGRAM_SUM: u32 = 2;
    pub(super) const HISTOGRAM_BUCKET: u32 = 3;
    pub(super) const HISTOGRAM_POSITIVE_SPAN: u32 = 12;
    pub(super) const HISTOGRAM_POSITIVE_DELTA: u32 = 13;
    pub(super) const HISTOGRAM_CREATED: u32 = 15;

    pub(super) const BUCKET_CUMULATIVE_COUNT: u32 = 1;
    pub(super) const BUCKET_UPPER_BOUND: u32 = 2;

    pub(super) const SPAN_LENGTH: u32 = 2;

    pub(super) const TIMESTAMP_SECONDS: u32 = 1;
    pub(super) const TIMESTAMP_NANOS: u32 = 2;
}

/// The `Content-Type` of the exposition.
pub(crate) const CONTENT_TYPE: &str =
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited";

/// Appends every metric of the catalog, from `sample`, to `out`: one length-delimited
/// `MetricFamily` per metric. Counters and histograms carry `created` as their start timestamp.
pub(crate) fn encode(
    collector: &PrometheusCollector,
    sample: &Sample,
    created: SystemTime,
    out: &mut Vec<u8>,
) {
    let mut w = Writer { out };
    for (index, metric) in METRICS.iter().enumerate() {
        if collector.exports(metric, sample) {
            w.length_delimited(|w| family(w, collector, index, metric, sample, created));
        }
    }
}

fn family(
    w: &mut Writer<'_>,
    collector: &PrometheusCollector,
    index: usize,
    metric: &Metric,
    sample: &Sample,
    created: SystemTime,
) {
    let base = collector.base_name(index);
    let unit = metric.unit.prometheus();
    let counter = metric.instrument.is_monotonic();
    // The name as the text formats show it: base, unit suffix, `_total` for a counter.
    let suffix_len = unit.map_or(0, |u| u.len() + 1) + if counter { "_total".len() } else { 0 };
    w.key(proto::FAMILY_NAME, WireType::Len);
    w.varint(len(base.len() + suffix_len));
    w.out.extend_from_slice(base.as_bytes());
    if let Some(unit) = unit {
        w.out.push(b'_');
        w.out.extend_from_slice(unit.as_bytes());
    }
    if counter {
        w.out.extend_from_slice(b"_total");
    }
    w.string(proto::FAMILY_HELP, metric.help);
    let kind = match metric.instrument {
        Instrument::Counter => proto::TYPE_COUNTER,
        Instrument::UpDownCounter | Instrument::Gauge => proto::TYPE_GAUGE,
        Instrument::Histogram => proto::TYPE_HISTOGRAM,
    };
    w.uint(proto::FAMILY_TYPE, kind);
    for series in metric.series {
        w.message(proto::FAMILY_METRIC, |w| {
            for (key, value) in collector.config().constant_labels() {
                w.message(proto::METRIC_LABEL, |w| {
                    w.string(proto::LABEL_NAME, key);
                    w.string(proto::LABEL_VALUE, value);
                });
            }
            if let (Some(key), Some(value)) = (metric.attribute, series.attribute_value) {
                w.message(proto::METRIC_LABEL, |w| {
                    w.string(proto::LABEL_NAME, key);
                    w.string(proto::LABEL_VALUE, value);
                });
            }
            value(
                w,
                collector,
                metric.instrument,
                series.read,
                sample,
                created,
            );
        });
    }
    // The name ends in the unit (before `_total`), as Prometheus before 3.9 demands.
    if let Some(unit) = unit {
        w.string(proto::FAMILY_UNIT, unit);
    }
}

fn value(
    w: &mut Writer<'_>,
    collector: &PrometheusCollector,
    instrument: Instrument,
    read: Read,
    sample: &Sample,
    created: SystemTime,
) {
    #[allow(
        clippy::cast_precision_loss,
        reason = "the exposition carries values as f64: exact below 2^53"
    )]
    let float = |v: Option<u64>| v.unwrap_or(0) as f64;
    match instrument {
        Instrument::Counter => w.message(proto::METRIC_COUNTER, |w| {
            w.double(proto::VALUE, float(read.value(sample)));
            w.message(proto::COUNTER_CREATED, |w| timestamp(w, created));
        }),
        Instrument::UpDownCounter | Instrument::Gauge => w.message(proto::METRIC_GAUGE, |w| {
            w.double(proto::VALUE, float(read.value(sample)));
        }),
        Instrument::Histogram => {
            let empty = Histogram::new();
            let histogram = read.histogram(sample).unwrap_or(&empty);
            w.message(proto::METRIC_HISTOGRAM, |w| {
                histogram_fields(w, collector, histogram, created);
            });
        }
    }
}

fn histogram_fields(
    w: &mut Writer<'_>,
    collector: &PrometheusCollector,
    histogram: &Histogram,
    created: SystemTime,
) {
    // `sample_count` is the sum of the buckets of this same snapshot, so it equals `+Inf`.
    w.uint(proto::HISTOGRAM_COUNT, histogram.count());
    #[allow(
        clippy::cast_precision_loss,
        reason = "the exposition formats carry sums as f64: exact below 2^53 bytes"
    )]
    w.double(proto::HISTOGRAM_SUM, histogram.sum() as f64);
    let config = collector.config();
    for (bound, cumulative) in config.bounds().cumulative(histogram) {
        w.message(proto::HISTOGRAM_BUCKET, |w| {
            w.uint(proto::BUCKET_CUMULATIVE_COUNT, cumulative);
            w.double(proto::BUCKET_UPPER_BOUND, as_f64(bound));
        });
    }
    w.message(proto::HISTOGRAM_CREATED, |w| timestamp(w, created));
    if config.native_histograms() {
        // Schema 0 (the default, so not written), zero threshold and zero count 0: one span
        // of all 64 buckets from offset 0 (the default), explicit zeros included, so that
        // even an empty histogram is stored as native.
        w.message(proto::HISTOGRAM_POSITIVE_SPAN, |w| {
            w.uint(proto::SPAN_LENGTH, BUCKETS as u64);
        });
        let deltas = native_deltas(histogram);
        w.key(proto::HISTOGRAM_POSITIVE_DELTA, WireType::Len);
        let packed: usize = deltas.iter().map(|&d| varint_len(zigzag(d))).sum();
        w.varint(len(packed));
        for &delta in &deltas {
            w.varint(zigzag(delta));
        }
    }
}

/// The native (schema 0) bucket counts of `histogram` as deltas from the previous bucket.
fn native_deltas(histogram: &Histogram) -> [i64; BUCKETS] {
    let mut deltas = [0i64; BUCKETS];
    let mut previous = 0i64;
    for (delta, &c) in deltas.iter_mut().zip(histogram.counts()) {
        let c = i64::try_from(c).unwrap_or(i64::MAX);
        *delta = c.saturating_sub(previous);
        previous = c;
    }
    deltas
}

/// A `google.protobuf.Timestamp`; before the epoch it is the epoch.
fn timestamp(w: &mut Writer<'_>, time: SystemTime) {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    w.uint(proto::TIMESTAMP_SECONDS, since.as_secs());
    w.uint(proto::TIMESTAMP_NANOS, u64::from(since.subsec_nanos()));
}

#[derive(Clone, Copy)]
enum WireType {
    Varint = 0,
    Fixed64 = 1,
    Len = 2,
}

/// Appends protobuf fields to a buffer. Default values are written too where they are
/// written at all; nested messages get their length once written.
struct Writer<'a> {
    out: &'a mut Vec<u8>,
}

impl Writer<'_> {
    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            #[allow(clippy::cast_possible_truncation, reason = "the low 7 bits")]
            self.out.push((v as u8) | 0x80);
            v >>= 7;
        }
        #[allow(clippy::cast_possible_truncation, reason = "below 0x80")]
        self.out.push(v as u8);
    }

    fn key(&mut self, field: u32, wire: WireType) {
        self.varint(u64::from(field) << 3 | wire as u64);
    }

    fn uint(&mut self, field: u32, v: u64) {
        if v != 0 {
            self.key(field, WireType::Varint);
            self.varint(v);
        }
    }

    fn double(&mut self, field: u32, v: f64) {
        if v != 0.0 {
            self.key(field, WireType::Fixed64);
            self.out.extend_from_slice(&v.to_le_bytes());
        }
    }

    fn string(&mut self, field: u32, s: &str) {
        if !s.is_empty() {
            self.key(field, WireType::Len);
            self.varint(len(s.len()));
            self.out.extend_from_slice(s.as_bytes());
        }
    }

    /// A nested message: field key, length, then what `f` writes.
    fn message(&mut self, field: u32, f: impl FnOnce(&mut Self)) {
        self.key(field, WireType::Len);
        self.length_delimited(f);
    }

    /// What `f` writes, preceded by its length as a varint. The body is written after a
    /// one-byte length and moved right if the length needs more bytes (no second buffer).
    fn length_delimited(&mut self, f: impl FnOnce(&mut Self)) {
        let start = self.out.len();
        self.out.push(0);
        f(self);
        let body = self.out.len() - start - 1;
        let prefix = varint_len(len(body));
        if prefix > 1 {
            self.out.resize(self.out.len() + prefix - 1, 0);
            self.out
                .copy_within(start + 1..start + 1 + body, start + prefix);
        }
        let mut v = len(body);
        for byte in &mut self.out[start..start + prefix] {
            #[allow(clippy::cast_possible_truncation, reason = "the low 7 bits")]
            let low = (v as u8) & 0x7f;
            v >>= 7;
            *byte = if v == 0 { low } else { low | 0x80 };
        }
    }
}

fn len(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

fn varint_len(v: u64) -> usize {
    (64 - v.max(1).leading_zeros() as usize).div_ceil(7)
}

fn zigzag(v: i64) -> u64 {
    #[allow(
        clippy::cast_sign_loss,
        reason = "zigzag encoding maps the sign into bit 0"
    )]
    let z = ((v << 1) ^ (v >> 63)) as u64;
    z
}

#[cfg(test)]
mod tests;
