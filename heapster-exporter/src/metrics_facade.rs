//! [`MetricsPublisher`]: the catalog published to the [`metrics`] facade's recorder
//! (metrics-exporter-prometheus, metrics-exporter-statsd, ... whatever the program installed).
//!
//! # How each instrument goes out
//!
//! - Counters: [`Counter::absolute`](metrics::Counter::absolute) with the sample's value. The
//!   recorder keeps the number itself, so it is exact, and publishing the same sample twice
//!   changes nothing.
//! - Up-down counters and gauges: [`Gauge::set`](metrics::Gauge::set), exact up to 2^53 (8 PiB).
//! - Size histograms: **one cumulative counter per bucket bound**, `<histogram>_bucket_total`
//!   with an `le` label (every power of two from the lowest to the highest bound, and `+Inf`),
//!   each set with `absolute`. These are the same series as the OpenTelemetry side's bucket
//!   counters (`OtelInstruments::with_bucket_counters`, feature `otel`), so the dashboards'
//!   bucket-counter queries read them unchanged. The histogram's sum is the `allocated` (or
//!   `reallocated`) counter and its count the `+Inf` bucket.
//!
//! Why not a `metrics` histogram: the facade's histogram takes observations one at a time.
//! `record_many(bound, n)` at each bucket's bound would report every size as its bucket's
//! bound (so the sum is wrong), and recorders store or forward each observation: the default
//! `record_many` calls `record` `n` times, so a million allocations a second would mean a
//! million stored samples a second. metrics-exporter-prometheus would also summarise them as
//! quantiles unless buckets were configured. Per-bucket counters carry the allocator's exact
//! integer counts at a fixed cost of one counter per bound.
//!
//! # Names
//!
//! The metric names are the catalog's Prometheus names, `_total` and unit suffix included
//! (`heapster_allocations_total`, `heapster_memory_used_bytes`), so metrics-exporter-prometheus
//! shows exactly the names of heapster's own endpoint, with or without its
//! `with_recommended_naming` (which adds a suffix only where it is missing). Units and help
//! texts go with `describe_counter`/`describe_gauge` on every publish, so a recorder installed
//! late gets them too.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::Instant;

use metrics::{Key, KeyName, Label, Level, Metadata, Recorder, SharedString, Unit as MetricsUnit};

use crate::catalog::{Instrument, METRICS, Metric, Read, Unit};
use crate::config::Config;
use crate::error::Error;
use crate::naming::otel_to_prometheus;
use crate::sampler::{Sample, Sampler};
use crate::source::Source;

static METADATA: Metadata<'static> =
    Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

/// Publishes every metric of the [catalog](crate::catalog::METRICS) to the recorder installed
/// in the [`metrics`] facade, from a [`Sample`] of a [`Sampler`]: never from the allocator.
///
/// Call [`publish_once`](Self::publish_once) from your own loop, or
/// [`spawn`](Self::spawn) a thread that does it every sampling interval. Share the sampler
/// with the Prometheus or OpenTelemetry side if the program has one (see
/// [`ExporterParts::metrics_publisher`](crate::ExporterParts::metrics_publisher)).
///
/// See the [module docs](self) for how each instrument goes out and why it stays exact.
///
/// ```
/// use heapster::Stats;
/// use heapster_exporter::MetricsPublisher;
/// use metrics_util::debugging::{DebugValue, DebuggingRecorder};
///
/// let mut stats = Stats::new();
/// stats.allocations = 3;
/// let publisher = MetricsPublisher::new(stats); // usually `&GLOBAL`, the global allocator
///
/// let recorder = DebuggingRecorder::new();
/// metrics::with_local_recorder(&recorder, || publisher.publish_once());
/// let published = recorder.snapshotter().snapshot().into_vec();
/// let (_, _, _, value) = published
///     .iter()
///     .find(|(key, ..)| key.key().name() == "heapster_allocations_total")
///     .unwrap();
/// assert_eq!(value, &DebugValue::Counter(3));
/// ```
pub struct MetricsPublisher {
    sampler: Arc<Sampler>,
    config: Config,
    entries: Vec<Entry>,
    descriptions: Vec<Description>,
}

/// One series: its key and where its value comes from.
struct Entry {
    key: Key,
    value: Value,
}

#[derive(Clone, Copy)]
enum Value {
    Counter(Read),
    Gauge(Read),
    /// The `index`-th classic bucket of a histogram (cumulative; the last is `+Inf`).
    Bucket {
        read: Read,
        index: usize,
    },
}

struct Description {
    name: KeyName,
    counter: bool,
    unit: MetricsUnit,
    help: SharedString,
}

impl MetricsPublisher {
    /// A publisher of `source` (usually `&GLOBAL`, the `Heapster` global allocator) through a
    /// sampler of its own, with the default [`Config`]: namespace `heapster`, bucket counters
    /// from 8 B to 1 GiB (28 bounds and `+Inf`), no constant labels.
    ///
    /// If the process also serves `/metrics` or sends OpenTelemetry, take the publisher from
    /// [`ExporterParts::metrics_publisher`](crate::ExporterParts::metrics_publisher) instead
    /// (or use [`from_sampler`](Self::from_sampler)): each sampler restarts the allocator's
    /// interval peak when it samples, so two samplers over one allocator would each see only
    /// part of the spikes.
    pub fn new(source: impl Source) -> Self {
        Self::from_sampler(Arc::new(Sampler::new(source)))
    }

    /// A publisher of `sampler`'s samples, with the default [`Config`].
    pub fn from_sampler(sampler: Arc<Sampler>) -> Self {
        Self::with_config_of(sampler, Config::new())
    }

    /// Uses `config`'s namespace, histogram bounds (the `le` values of the bucket counters),
    /// constant labels and process-memory names: hand it the Prometheus side's [`Config`] so
    /// that both agree.
    #[must_use]
    pub fn with_config(self, config: Config) -> Self {
        Self::with_config_of(self.sampler, config)
    }

    fn with_config_of(sampler: Arc<Sampler>, config: Config) -> Self {
        let mut publisher = Self {
            sampler,
            config,
            entries: Vec::new(),
            descriptions: Vec::new(),
        };
        publisher.rebuild();
        publisher
    }

    /// The settings this publisher names and labels with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The sampler this publisher reads.
    pub fn sampler(&self) -> &Arc<Sampler> {
        &self.sampler
    }

    /// The metric names this publisher sends, one per metric (bucket counters included), in
    /// catalog order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.descriptions.iter().map(|d| d.name.as_str())
    }

    /// Takes a sample and publishes it to the current recorder (the local one of
    /// [`metrics::with_local_recorder`], else the global one). Returns the sample.
    pub fn publish_once(&self) -> Sample {
        let sample = self.sampler.sample_once();
        self.publish(&sample);
        sample
    }

    /// Describes every metric (unit and help) to the current recorder and publishes `sample`
    /// to it. Describing each time costs little (names and help texts are shared, not copied)
    /// and reaches a recorder installed after the first publish.
    pub fn publish(&self, sample: &Sample) {
        metrics::with_recorder(|recorder| {
            self.describe(recorder);
            for entry in &self.entries {
                match entry.value {
                    Value::Counter(read) => {
                        if let Some(value) = read.value(sample) {
                            recorder
                                .register_counter(&entry.key, &METADATA)
                                .absolute(value);
                        }
                    }
                    // Process memory the platform does not report is not published at all.
                    Value::Gauge(read) => {
                        if let Some(value) = read.value(sample) {
                            #[allow(
                                clippy::cast_precision_loss,
                                reason = "the facade's gauges are f64: exact below 2^53"
                            )]
                            recorder
                                .register_gauge(&entry.key, &METADATA)
                                .set(value as f64);
                        }
                    }
                    Value::Bucket { read, index } => {
                        let Some(histogram) = read.histogram(sample) else {
                            continue;
                        };
                        // Sizes up to the lowest bound share it; `+Inf` is the count.
                        let mut buckets = self.config.bounds().cumulative(histogram);
                        if let Some((_, cumulative)) = buckets.nth(index) {
                            recorder
                                .register_counter(&entry.key, &METADATA)
                                .absolute(cumulative);
                        }
                    }
                }
            }
        });
    }

    /// Starts a thread (`heapster-metrics`) that publishes a new sample at once and then
    /// every [sampling interval](Sampler::interval), to the global recorder.
    ///
    /// Dropping the returned handle leaves the thread running until the process exits;
    /// [`PublisherThread::stop`] stops it.
    ///
    /// # Errors
    /// [`Error::Runtime`] when the thread cannot be started.
    pub fn spawn(self) -> Result<PublisherThread, Error> {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let thread = thread::Builder::new()
            .name("heapster-metrics".to_owned())
            .spawn(move || {
                let interval = self.sampler.interval();
                while !stopped.load(Ordering::Acquire) {
                    self.publish_once();
                    let deadline = Instant::now() + interval;
                    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
                        if stopped.load(Ordering::Acquire) || left.is_zero() {
                            break;
                        }
                        thread::park_timeout(left);
                    }
                }
            })
            .map_err(Error::Runtime)?;
        Ok(PublisherThread { stop, thread })
    }

    fn describe(&self, recorder: &dyn Recorder) {
        for d in &self.descriptions {
            let (name, unit, help) = (d.name.clone(), Some(d.unit), d.help.clone());
            if d.counter {
                recorder.describe_counter(name, unit, help);
            } else {
                recorder.describe_gauge(name, unit, help);
            }
        }
    }

    /// Builds the keys and descriptions from the catalog and the settings.
    fn rebuild(&mut self) {
        self.entries.clear();
        self.descriptions.clear();
        let namespace = self.config.namespace();
        let constant: Vec<Label> = self
            .config
            .constant_labels()
            .iter()
            .map(|(k, v)| Label::new(k.clone(), v.clone()))
            .collect();
        // `le` values of the bucket counters: every finite bound, then `+Inf`.
        let bounds = self.config.bounds();
        let les: Vec<String> = bounds
            .iter()
            .map(|bound| bound.to_string())
            .chain(std::iter::once("+Inf".to_owned()))
            .collect();
        let process = self.config.process_memory();
        for metric in METRICS.iter().filter(|m| m.is_exported(process)) {
            let (name, unit, help) = match metric.instrument {
                Instrument::Histogram => (
                    bucket_counter_name(metric, namespace),
                    MetricsUnit::Count,
                    format!(
                        "Cumulative count at or below the bound le (powers of two, and +Inf): the classic buckets of {}. {}",
                        metric.full_prometheus_name(namespace),
                        metric.help
                    ),
                ),
                _ => (
                    metric.full_prometheus_name_with(namespace, process),
                    unit(metric.unit),
                    metric.help.to_owned(),
                ),
            };
            for series in metric.series {
                let mut labels = constant.clone();
                if let (Some(key), Some(value)) = (metric.attribute, series.attribute_value) {
                    labels.push(Label::from_static_parts(key, value));
                }
                let read = series.read;
                let mut push = |labels: Vec<Label>, value| {
                    // Retained once: the recorder's lookups then clone without allocating.
                    let key = Key::from_parts(name.clone(), labels).to_retained();
                    self.entries.push(Entry { key, value });
                };
                match metric.instrument {
                    Instrument::Counter => push(labels, Value::Counter(read)),
                    Instrument::UpDownCounter | Instrument::Gauge => {
                        push(labels, Value::Gauge(read));
                    }
                    Instrument::Histogram => {
                        for (index, le) in les.iter().enumerate() {
                            let mut labels = labels.clone();
                            labels.push(Label::new("le", le.clone()));
                            push(labels, Value::Bucket { read, index });
                        }
                    }
                }
            }
            self.descriptions.push(Description {
                name: KeyName::from(name).to_retained(),
                counter: matches!(
                    metric.instrument,
                    Instrument::Counter | Instrument::Histogram
                ),
                unit,
                help: SharedString::from(Arc::<str>::from(help)),
            });
        }
    }
}

impl fmt::Debug for MetricsPublisher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetricsPublisher")
            .field("config", &self.config)
            .field("series", &self.entries.len())
            .finish_non_exhaustive()
    }
}

/// The name of a histogram's bucket counters in Prometheus: what the OpenTelemetry-to-Prometheus
/// translation makes of the OpenTelemetry side's `<histogram>.bucket` counter of unit `{count}`,
/// e.g. `heapster_allocation_size_bucket_total`.
pub(crate) fn bucket_counter_name(metric: &Metric, namespace: &str) -> String {
    otel_to_prometheus(
        &format!("{}.bucket", metric.full_otel_name(namespace)),
        "{count}",
        Instrument::Counter,
    )
}

const fn unit(unit: Unit) -> MetricsUnit {
    match unit {
        Unit::Bytes => MetricsUnit::Bytes,
        Unit::Count(_) => MetricsUnit::Count,
    }
}

/// The thread started by [`MetricsPublisher::spawn`].
#[derive(Debug)]
pub struct PublisherThread {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl PublisherThread {
    /// Stops publishing and waits for the thread to end (at most one publish).
    ///
    /// # Errors
    /// [`Error::Runtime`] if the thread panicked (a recorder that panics).
    pub fn stop(self) -> Result<(), Error> {
        self.stop.store(true, Ordering::Release);
        self.thread.thread().unpark();
        self.thread
            .join()
            .map_err(|_| Error::Runtime(std::io::Error::other("the metrics publisher panicked")))
    }
}

#[cfg(test)]
mod tests;
