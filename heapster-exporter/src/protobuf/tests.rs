//! The exposition decoded by `prost` from message types written here after Prometheus's
//! `metrics.proto`: an independent reader of the bytes.

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use heapster::Stats;
use prost::Message;

use crate::catalog::{Instrument, METRICS, ProcessMemoryNames};
use crate::config::Config;
use crate::prometheus::PrometheusCollector;
use crate::sampler::Sampler;

#[derive(Clone, PartialEq, Message)]
struct MetricFamily {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(string, tag = "2")]
    help: String,
    #[prost(int32, tag = "3")]
    r#type: i32,
    #[prost(message, repeated, tag = "4")]
    metric: Vec<Metric>,
    #[prost(string, tag = "5")]
    unit: String,
}

#[derive(Clone, PartialEq, Message)]
struct Metric {
    #[prost(message, repeated, tag = "1")]
    label: Vec<LabelPair>,
    #[prost(message, optional, tag = "2")]
    gauge: Option<Gauge>,
    #[prost(message, optional, tag = "3")]
    counter: Option<Counter>,
    #[prost(message, optional, tag = "7")]
    histogram: Option<Histogram>,
}

#[derive(Clone, PartialEq, Message)]
struct LabelPair {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(string, tag = "2")]
    value: String,
}

#[derive(Clone, PartialEq, Message)]
struct Gauge {
    #[prost(double, tag = "1")]
    value: f64,
}

#[derive(Clone, PartialEq, Message)]
struct Counter {
    #[prost(double, tag = "1")]
    value: f64,
    #[prost(message, optional, tag = "3")]
    created_timestamp: Option<Timestamp>,
}

#[derive(Clone, PartialEq, Message)]
struct Timestamp {
    #[prost(int64, tag = "1")]
    seconds: i64,
    #[prost(int32, tag = "2")]
    nanos: i32,
}

#[derive(Clone, PartialEq, Message)]
struct Histogram {
    #[prost(uint64, tag = "1")]
    sample_count: u64,
    #[prost(double, tag = "2")]
    sample_sum: f64,
    #[prost(message, repeated, tag = "3")]
    bucket: Vec<Bucket>,
    #[prost(message, optional, tag = "15")]
    created_timestamp: Option<Timestamp>,
    #[prost(sint32, tag = "5")]
    schema: i32,
    #[prost(double, tag = "6")]
    zero_threshold: f64,
    #[prost(uint64, tag = "7")]
    zero_count: u64,
    #[prost(message, repeated, tag = "12")]
    positive_span: Vec<BucketSpan>,
    #[prost(sint64, repeated, tag = "13")]
    positive_delta: Vec<i64>,
}

#[derive(Clone, PartialEq, Message)]
struct Bucket {
    #[prost(uint64, tag = "1")]
    cumulative_count: u64,
    #[prost(double, tag = "2")]
    upper_bound: f64,
}

#[derive(Clone, PartialEq, Message)]
struct BucketSpan {
    #[prost(sint32, tag = "1")]
    offset: i32,
    #[prost(uint32, tag = "2")]
    length: u32,
}

fn collector(stats: Stats) -> PrometheusCollector {
    PrometheusCollector::new(Arc::new(Sampler::new(stats)))
}

/// Every length-delimited `MetricFamily` of the exposition.
fn decode(collector: &PrometheusCollector) -> Vec<MetricFamily> {
    let mut out = Vec::new();
    collector.encode_protobuf(&mut out);
    let mut rest = out.as_slice();
    let mut families = Vec::new();
    while !rest.is_empty() {
        families.push(MetricFamily::decode_length_delimited(&mut rest).expect("a MetricFamily"));
    }
    families
}

fn family<'a>(families: &'a [MetricFamily], name: &str) -> &'a MetricFamily {
    families
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("no family {name}"))
}

/// Prometheus's protobuf parser before 3.9: a unit must be the name's suffix (before `_total`
/// for a counter).
fn unit_is_a_suffix(family: &MetricFamily) -> bool {
    let name = if family.r#type == 0 {
        family.name.strip_suffix("_total").unwrap_or(&family.name)
    } else {
        &family.name
    };
    name.strip_suffix(&family.unit)
        .is_some_and(|rest| rest.len() > 1 && rest.ends_with('_'))
}

#[test]
fn every_metric_of_the_catalog_with_its_name_help_type_and_unit() {
    let memory = crate::ProcessMemory::new(1 << 20, 1 << 30);
    let families = decode(&PrometheusCollector::new(Arc::new(Sampler::new((
        Stats::new(),
        memory,
    )))));
    assert_eq!(families.len(), METRICS.len());
    for (family, metric) in families.iter().zip(METRICS) {
        assert_eq!(family.name, metric.full_prometheus_name("heapster"));
        assert_eq!(family.help, metric.help);
        let kind = match metric.instrument {
            Instrument::Counter => 0,
            Instrument::UpDownCounter | Instrument::Gauge => 1,
            Instrument::Histogram => 4,
        };
        assert_eq!(family.r#type, kind, "{}", family.name);
        assert_eq!(family.unit, metric.unit.prometheus().unwrap_or(""));
        assert!(
            family.unit.is_empty() || unit_is_a_suffix(family),
            "{}: unit {:?} is not its suffix",
            family.name,
            family.unit
        );
        assert_eq!(family.metric.len(), metric.series.len());
    }
    // The check itself rejects what Prometheus rejects.
    let mut bad = family(&families, "heapster_allocated_bytes_total").clone();
    bad.name = "heapster_allocated_total".to_owned();
    assert!(!unit_is_a_suffix(&bad));
}

#[test]
fn values_labels_and_namespace() {
    let mut stats = Stats::new();
    stats.allocations = 7;
    stats.allocated_bytes = 700;
    stats.deallocated_bytes = 100;
    let config = Config::new()
        .with_namespace("app")
        .unwrap()
        .with_constant_label("region", "eu")
        .unwrap();
    let collector = collector(stats).with_config(config);
    let families = decode(&collector);
    let allocations = family(&families, "app_allocations_total");
    assert_eq!(allocations.metric[0].counter.as_ref().unwrap().value, 7.0);
    let used = family(&families, "app_memory_used_bytes");
    assert_eq!(used.metric[0].gauge.as_ref().unwrap().value, 600.0);
    let reallocations = family(&families, "app_reallocations_total");
    // The constant labels, then the metric's own.
    for family in &families {
        for metric in &family.metric {
            let first = &metric.label[0];
            assert_eq!(
                (first.name.as_str(), first.value.as_str()),
                ("region", "eu")
            );
        }
    }
    let kinds: Vec<(&str, &str)> = reallocations
        .metric
        .iter()
        .map(|m| (m.label[1].name.as_str(), m.label[1].value.as_str()))
        .collect();
    assert_eq!(kinds.len(), 4);
    assert!(kinds.iter().all(|(k, _)| *k == "kind"), "{kinds:?}");
    assert!(kinds.contains(&("kind", "moved")), "{kinds:?}");
}

#[test]
fn counters_and_histograms_carry_the_samplers_creation_as_start_timestamp() {
    let collector = collector(Stats::new());
    let created = collector.sampler().created();
    let since = created.duration_since(UNIX_EPOCH).unwrap();
    let expected = Timestamp {
        seconds: i64::try_from(since.as_secs()).unwrap(),
        nanos: i32::try_from(since.subsec_nanos()).unwrap(),
    };
    let families = decode(&collector);
    let (mut counters, mut histograms) = (0, 0);
    for family in &families {
        for metric in &family.metric {
            let created = match (&metric.counter, &metric.histogram) {
                (Some(c), _) => (&mut counters, c.created_timestamp.as_ref()),
                (_, Some(h)) => (&mut histograms, h.created_timestamp.as_ref()),
                _ => continue,
            };
            *created.0 += 1;
            assert_eq!(created.1, Some(&expected), "{}", family.name);
        }
    }
    assert!(counters >= 5 && histograms >= 3, "{counters} {histograms}");
    // Gauges have none (the message has no such field).
    assert!(created.elapsed().unwrap_or_default() < Duration::from_secs(3600));
}

#[test]
fn native_histograms_carry_every_bucket_with_explicit_zeros() {
    let mut stats = Stats::new();
    stats.realloc_grow_sizes.record(16);
    stats.realloc_grow_sizes.record(16);
    stats.realloc_grow_sizes.record(100);
    let families = decode(&collector(stats));
    let family = family(&families, "heapster_reallocation_size_change_bytes");
    assert_eq!(family.metric.len(), 2);
    for metric in &family.metric {
        let h = metric.histogram.as_ref().unwrap();
        assert_eq!((h.schema, h.zero_threshold, h.zero_count), (0, 0.0, 0));
        assert_eq!(h.positive_span.len(), 1);
        assert_eq!(
            (h.positive_span[0].offset, h.positive_span[0].length),
            (0, 64)
        );
        assert_eq!(h.positive_delta.len(), 64);
        let direction = &metric.label[0].value;
        let counts: Vec<i64> = h
            .positive_delta
            .iter()
            .scan(0i64, |c, d| {
                *c += d;
                Some(*c)
            })
            .collect();
        if direction == "grow" {
            let mut expected = vec![0i64; 64];
            expected[4] = 2; // 16 is native bucket 4: (8, 16]
            expected[7] = 1; // 100 is native bucket 7: (64, 128]
            assert_eq!(counts, expected);
            assert_eq!(h.sample_count, 3);
            assert_eq!(h.sample_sum, 132.0);
        } else {
            assert!(
                counts.iter().all(|&c| c == 0),
                "an empty histogram stays native"
            );
            assert_eq!(h.sample_count, 0);
        }
    }
}

#[test]
fn classic_buckets_are_cumulative_powers_of_two_ending_in_inf() {
    let mut stats = Stats::new();
    [1, 8, 9, 16, 1 << 30, (1 << 30) + 1, 1 << 40]
        .into_iter()
        .for_each(|size| stats.allocation_sizes.record(size));
    let families = decode(&collector(stats));
    let h = family(&families, "heapster_allocation_size_bytes").metric[0]
        .histogram
        .clone()
        .unwrap();
    let bounds: Vec<f64> = h.bucket.iter().map(|b| b.upper_bound).collect();
    let expected: Vec<f64> = (3..=30)
        .map(|k| f64::from(1u32 << k))
        .chain([f64::INFINITY])
        .collect();
    assert_eq!(bounds, expected);
    let counts: Vec<u64> = h.bucket.iter().map(|b| b.cumulative_count).collect();
    assert_eq!(&counts[..2], &[2, 4]);
    assert_eq!(counts[27], 5, "le 1 GiB");
    assert_eq!(counts[28], 7, "+Inf");
    assert_eq!(h.sample_count, 7);
}

#[test]
fn native_histograms_can_be_turned_off() {
    let config = Config::new().with_native_histograms(false);
    let families = decode(&collector(Stats::new()).with_config(config));
    let h = family(&families, "heapster_allocation_size_bytes").metric[0]
        .histogram
        .clone()
        .unwrap();
    assert!(h.positive_span.is_empty() && h.positive_delta.is_empty());
    assert_eq!(h.bucket.len(), 29);
}

#[test]
fn lengths_of_every_size_are_prefixed_exactly() {
    for n in [0usize, 1, 127, 128, 129, 16_383, 16_384, 300_000] {
        let mut out = Vec::new();
        let mut w = super::Writer { out: &mut out };
        w.length_delimited(|w| w.out.extend(std::iter::repeat_n(7u8, n)));
        let mut rest = out.as_slice();
        let len = prost::encoding::decode_varint(&mut rest).unwrap();
        assert_eq!(usize::try_from(len).unwrap(), n);
        assert_eq!(rest.len(), n);
        assert!(rest.iter().all(|&b| b == 7));
        assert_eq!(super::varint_len(len), out.len() - n);
    }
    for v in [0i64, 1, -1, 63, -64, 64, i64::MAX, i64::MIN] {
        assert_eq!(
            super::zigzag(v),
            ((v << 1) ^ (v >> 63)).cast_unsigned(),
            "{v}"
        );
    }
}

#[test]
fn process_memory_is_left_out_when_absent_or_off_and_named_as_configured() {
    let names = |collector: &PrometheusCollector| -> Vec<String> {
        decode(collector).into_iter().map(|f| f.name).collect()
    };
    // A fixed `Stats` has no process memory, as on a platform without /proc.
    let absent = names(&collector(Stats::new()));
    assert_eq!(absent.len(), METRICS.len() - 3);
    assert!(
        absent
            .iter()
            .all(|n| !n.contains("process") && !n.contains("resident"))
    );

    let memory = crate::ProcessMemory::new(1 << 20, 1 << 30);
    let with_process = || PrometheusCollector::new(Arc::new(Sampler::new((Stats::new(), memory))));
    let off =
        with_process().with_config(Config::new().with_process_memory(ProcessMemoryNames::Off));
    assert_eq!(names(&off), absent);

    let otel = with_process()
        .with_config(Config::new().with_process_memory(ProcessMemoryNames::OpenTelemetry));
    let families = decode(&otel);
    let usage = family(&families, "process_memory_usage_bytes");
    assert_eq!(
        usage.metric[0].gauge.as_ref().map(|g| g.value),
        Some(1_048_576.0)
    );
    assert!(unit_is_a_suffix(usage));
    family(&families, "process_memory_virtual_bytes");
    family(&families, "heapster_memory_resident_beyond_heap_bytes");
}
