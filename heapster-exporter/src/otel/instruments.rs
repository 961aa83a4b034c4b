//! [`OtelInstruments`]: the catalog as observable instruments on the user's `Meter`.

use std::any::Any;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::SystemTime;

use opentelemetry::KeyValue;
use opentelemetry::metrics::{AsyncInstrumentBuilder, Meter};

use super::collection;
use crate::catalog::{Instrument, METRICS, Metric};
use crate::config::Config;
use crate::sampler::Sampler;
use crate::source::Source;

/// heapster's metrics for OpenTelemetry: [`register`](Self::register) puts the counters,
/// up-down counters and gauges of the [catalog](crate::catalog::METRICS) on your `Meter`, and
/// [`OtlpExporterBuilder`](super::OtlpExporterBuilder) sends them with the histograms.
///
/// Cloning is cheap; clones share the sampler, and an exporter built from any clone sends the
/// histograms from the same sample as the instruments registered by any other.
///
/// ```
/// use heapster::Stats;
/// use heapster_exporter::otel::OtelInstruments;
/// use opentelemetry::metrics::MeterProvider as _;
/// use opentelemetry_sdk::metrics::SdkMeterProvider;
///
/// let mut stats = Stats::new();
/// stats.allocations = 3;
/// let provider = SdkMeterProvider::builder().build(); // add your reader/exporter
/// let heap = OtelInstruments::new(stats); // usually `&GLOBAL`, the global allocator
/// let registration = heap.register(&provider.meter("heapster"));
/// assert!(registration.names().any(|n| n == "heapster.allocations"));
/// ```
#[derive(Clone, Debug)]
pub struct OtelInstruments {
    sampler: Arc<Sampler>,
    id: usize,
    config: Config,
    start: SystemTime,
    /// Whether the histograms are also registered as per-bucket counters.
    bucket_counters: bool,
}

/// The instruments made by [`OtelInstruments::register`].
///
/// As with any OpenTelemetry observable instrument, the callbacks stay registered with the
/// meter provider whether or not this value is kept; they end with the provider.
#[must_use = "the names tell what was registered; dropping it is harmless"]
pub struct Registration {
    names: Vec<String>,
    _instruments: Vec<Box<dyn Any + Send + Sync>>,
}

impl Registration {
    /// The full names of the registered instruments, in catalog order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(String::as_str)
    }
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("names", &self.names)
            .finish_non_exhaustive()
    }
}

static NEXT_ID: AtomicUsize = AtomicUsize::new(1);

impl OtelInstruments {
    /// Instruments reading `source` (usually `&GLOBAL`, the `Heapster` global allocator) through
    /// a sampler of their own with the default interval.
    ///
    /// If the process also serves `/metrics`, take the instruments from
    /// [`ExporterParts::otel_instruments`](crate::ExporterParts::otel_instruments) instead (or
    /// use [`from_sampler`](Self::from_sampler) with the Prometheus side's sampler): each
    /// sampler restarts the allocator's interval peak when it samples, so two samplers over
    /// one allocator would each see only part of the spikes.
    pub fn new(source: impl Source) -> Self {
        Self::from_sampler(Arc::new(Sampler::new(source)))
    }

    /// The old name of [`from_sampler`](Self::from_sampler).
    #[deprecated(since = "0.1.0", note = "renamed to `from_sampler`")]
    pub fn with_sampler(sampler: Arc<Sampler>) -> Self {
        Self::from_sampler(sampler)
    }

    /// Instruments reading `sampler`: share one sampler with the Prometheus collector (e.g.
    /// [`ExporterParts::sampler`](crate::ExporterParts::sampler)) so both paths serve the
    /// same samples.
    pub fn from_sampler(sampler: Arc<Sampler>) -> Self {
        Self {
            sampler,
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            config: Config::new(),
            start: SystemTime::now(),
            bucket_counters: false,
        }
    }

    /// Uses `config`'s namespace, constant labels (as attributes) and histogram bounds (for
    /// the per-bucket counters): hand the Prometheus side's [`Config`] here so both paths
    /// agree, or use [`ExporterParts::otel_instruments`](crate::ExporterParts::otel_instruments).
    #[must_use]
    pub fn with_config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Also registers the histograms as per-bucket counters, for pipelines that cannot carry
    /// exponential histograms: `<histogram>.bucket`, one cumulative count per `le` bound (the
    /// [`Config`]'s histogram bounds, and `+Inf`), so `histogram_quantile` reads them like
    /// classic Prometheus buckets. See the [module docs](super) for the trade-off.
    #[must_use]
    pub fn with_bucket_counters(mut self, enabled: bool) -> Self {
        self.bucket_counters = enabled;
        self
    }

    /// The sampler the instruments read.
    pub fn sampler(&self) -> &Arc<Sampler> {
        &self.sampler
    }

    /// The settings the instruments use.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The start time of the cumulative histograms: when these instruments were created.
    pub fn start_time(&self) -> SystemTime {
        self.start
    }

    pub(crate) fn id(&self) -> usize {
        self.id
    }

    /// Registers every counter, up-down counter and gauge of the catalog (and the per-bucket
    /// counters, if enabled) on `meter`, with the catalog's names, units, descriptions and
    /// attributes. All callbacks of one collection observe one sample.
    ///
    /// Registering twice on the same provider reports every value twice; don't.
    pub fn register(&self, meter: &Meter) -> Registration {
        let mut registration = Registration {
            names: Vec::new(),
            _instruments: Vec::new(),
        };
        let mut callback = 0u32;
        for metric in METRICS {
            let name = metric.full_otel_name(self.config.namespace());
            let (name, handle): (String, Box<dyn Any + Send + Sync>) = match metric.instrument {
                Instrument::Counter => {
                    let builder = meter.u64_observable_counter(name.clone());
                    let observe = self.observe(builder, metric, callback, |v| v);
                    (name, Box::new(observe.build()))
                }
                Instrument::UpDownCounter => {
                    let builder = meter.i64_observable_up_down_counter(name.clone());
                    let saturate = |v| i64::try_from(v).unwrap_or(i64::MAX);
                    (
                        name,
                        Box::new(self.observe(builder, metric, callback, saturate).build()),
                    )
                }
                Instrument::Gauge => {
                    let gauge = meter.u64_observable_gauge(name.clone());
                    (
                        name,
                        Box::new(self.observe(gauge, metric, callback, |v| v).build()),
                    )
                }
                Instrument::Histogram => {
                    // Native histograms travel with `OtlpExporter`; counters only on request.
                    if !self.bucket_counters {
                        continue;
                    }
                    let name = format!("{name}.bucket");
                    let handle = self.register_buckets(meter, metric, &name, callback);
                    (name, handle)
                }
            };
            registration.names.push(name);
            registration._instruments.push(handle);
            callback += 1;
        }
        registration
    }

    /// `builder` with the metric's unit and description, and a callback that observes every
    /// series of `metric` from the collection's sample, converted by `convert`.
    fn observe<'a, I, T: 'static>(
        &self,
        builder: AsyncInstrumentBuilder<'a, I, T>,
        metric: &'static Metric,
        callback: u32,
        convert: fn(u64) -> T,
    ) -> AsyncInstrumentBuilder<'a, I, T> {
        let sampler = Arc::clone(&self.sampler);
        let owner = self.id;
        let attributes: Vec<Vec<KeyValue>> = metric
            .series
            .iter()
            .map(|s| self.attributes(metric, s.attribute_value))
            .collect();
        builder
            .with_unit(metric.unit.ucum())
            .with_description(metric.help)
            .with_callback(move |observer| {
                let sample = collection::for_callback(owner, callback, &sampler);
                for (series, attributes) in metric.series.iter().zip(&attributes) {
                    if let Some(value) = series.read.value(&sample) {
                        observer.observe(convert(value), attributes);
                    }
                }
            })
    }

    fn register_buckets(
        &self,
        meter: &Meter,
        metric: &'static Metric,
        name: &str,
        callback: u32,
    ) -> Box<dyn Any + Send + Sync> {
        let sampler = Arc::clone(&self.sampler);
        let owner = self.id;
        let bounds = self.config.bounds();
        // Per series: the attribute sets of each bound, `+Inf` last.
        let attributes: Vec<Vec<Vec<KeyValue>>> = metric
            .series
            .iter()
            .map(|s| {
                bounds
                    .iter()
                    .map(|bound| bound.to_string())
                    .chain(std::iter::once("+Inf".to_owned()))
                    .map(|le| {
                        let mut a = self.attributes(metric, s.attribute_value);
                        a.push(KeyValue::new("le", le));
                        a
                    })
                    .collect()
            })
            .collect();
        let description = format!(
            "Cumulative count of {} at or below the bound le (powers of two, and +Inf): the classic buckets of {}.",
            metric.otel_name,
            metric.full_otel_name(self.config.namespace())
        );
        Box::new(
            meter
                .u64_observable_counter(name.to_owned())
                .with_unit("{count}")
                .with_description(description)
                .with_callback(move |observer| {
                    let sample = collection::for_callback(owner, callback, &sampler);
                    for (series, attributes) in metric.series.iter().zip(&attributes) {
                        let Some(histogram) = series.read.histogram(&sample) else {
                            continue;
                        };
                        for ((_, cumulative), attributes) in
                            bounds.cumulative(histogram).zip(attributes)
                        {
                            observer.observe(cumulative, attributes);
                        }
                    }
                })
                .build(),
        )
    }

    /// The constant labels and, if the metric has one, the series' attribute.
    fn attributes(&self, metric: &Metric, value: Option<&'static str>) -> Vec<KeyValue> {
        let constant = self.config.constant_labels().iter();
        let mut attributes: Vec<KeyValue> = constant
            .map(|(k, v)| KeyValue::new(k.clone(), v.clone()))
            .collect();
        if let (Some(key), Some(value)) = (metric.attribute, value) {
            attributes.push(KeyValue::new(key, value));
        }
        attributes
    }
}
