//! What one entry of the [catalog](super::METRICS) is: a [`Metric`], its kind, unit and
//! [`Series`], how each series is [`Read`] from a [`Sample`], and the names it carries.

use heapster::Histogram;

use crate::sampler::Sample;

/// The kind of instrument, in OpenTelemetry's terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Instrument {
    /// A monotonic sum: only goes up (Prometheus `counter`, name ends in `_total`).
    Counter,
    /// A non-monotonic sum: goes up and down (Prometheus `gauge`).
    UpDownCounter,
    /// A value that is not a sum (Prometheus `gauge`).
    Gauge,
    /// A distribution of sizes in power-of-two buckets (Prometheus `histogram`).
    Histogram,
}

impl Instrument {
    /// `true` for a monotonic counter: the OpenTelemetry-to-Prometheus translation appends
    /// `_total`.
    #[must_use]
    pub const fn is_monotonic(self) -> bool {
        matches!(self, Self::Counter)
    }
}

/// The unit of a metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Unit {
    /// Bytes: UCUM `By`, Prometheus suffix `_bytes`.
    Bytes,
    /// A count of things: a UCUM annotation such as `{allocation}`, no Prometheus suffix.
    Count(&'static str),
}

impl Unit {
    /// The UCUM unit string, as OpenTelemetry instruments carry it.
    #[must_use]
    pub const fn ucum(self) -> &'static str {
        match self {
            Self::Bytes => "By",
            Self::Count(annotation) => annotation,
        }
    }

    /// The Prometheus unit (name suffix without `_`), if any.
    #[must_use]
    pub const fn prometheus(self) -> Option<&'static str> {
        match self {
            Self::Bytes => Some("bytes"),
            Self::Count(_) => None,
        }
    }
}

/// How a series' value is read from a [`Sample`]: a function the compiler checks, over a
/// `Stats` field, a `Stats` method (for derived values) or a field of the `Sample`.
#[derive(Clone, Copy, Debug)]
pub enum Read {
    /// A counter or gauge value.
    Value(fn(&Sample) -> u64),
    /// A gauge of the process's memory ([`Sample::process`]): `None` where the platform does
    /// not report it, and then the series is left out, never faked.
    Process(fn(&Sample) -> Option<u64>),
    /// A size histogram.
    Histogram(fn(&Sample) -> &Histogram),
}

impl Read {
    /// The value of a [`Value`](Self::Value) or [`Process`](Self::Process) read (`None` for
    /// process memory the sample does not have), `None` for a histogram read.
    #[must_use]
    pub fn value(self, sample: &Sample) -> Option<u64> {
        match self {
            Self::Value(read) => Some(read(sample)),
            Self::Process(read) => read(sample),
            Self::Histogram(_) => None,
        }
    }

    /// The histogram of a [`Histogram`](Self::Histogram) read, `None` for a value read.
    #[must_use]
    pub fn histogram(self, sample: &Sample) -> Option<&Histogram> {
        match self {
            Self::Histogram(read) => Some(read(sample)),
            Self::Value(_) | Self::Process(_) => None,
        }
    }
}

/// Whose name a metric carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    /// heapster's own: both names under the namespace (`heapster.memory.used`,
    /// `heapster_memory_used_bytes`).
    Heap,
    /// The process's, named by OpenTelemetry's semantic conventions (`process.memory.usage`):
    /// never under the namespace on the OpenTelemetry side, where the instrumentation scope
    /// tells whose it is. Prometheus has no such scope, and process collectors already export
    /// `process_resident_memory_bytes` (client_golang and its ports) or
    /// `process_memory_usage_bytes` (another OpenTelemetry instrumentation, translated): two
    /// collectors emitting one series break a scrape. So the Prometheus name is under the
    /// namespace by default (`heapster_process_memory_usage_bytes`, which collides with
    /// nothing), and the exact OpenTelemetry translation on request: see
    /// [`ProcessMemoryNames`].
    Process,
}

/// How the process-memory metrics ([`Scope::Process`]) are named on the Prometheus side, set
/// with [`Config::with_process_memory`](crate::Config::with_process_memory).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ProcessMemoryNames {
    /// `heapster_process_memory_usage_bytes`, `heapster_process_memory_virtual_bytes`: under
    /// the namespace, so they never collide with a process collector's series in the same
    /// scrape. The default.
    #[default]
    Namespaced,
    /// `process_memory_usage_bytes`, `process_memory_virtual_bytes`: exactly what an
    /// OpenTelemetry collector makes of `process.memory.usage` and `process.memory.virtual`,
    /// so data that came by scrape and through a collector share one name. Collides with any
    /// other exporter of those OpenTelemetry metrics in the same scrape.
    OpenTelemetry,
    /// Not exported, nor `heapster_memory_resident_beyond_heap_bytes` (Prometheus and the
    /// `metrics` facade; OpenTelemetry instruments always carry them).
    Off,
}

/// One series of a metric: its attribute value (if the metric has an attribute) and its read.
#[derive(Clone, Copy, Debug)]
pub struct Series {
    /// The value of the metric's [`attribute`](Metric::attribute), `None` when it has none.
    pub attribute_value: Option<&'static str>,
    /// Where the value comes from.
    pub read: Read,
}

/// The definition of one exported metric.
#[derive(Clone, Copy, Debug)]
pub struct Metric {
    /// OpenTelemetry name without the namespace, e.g. `memory.used`.
    pub otel_name: &'static str,
    /// The exact definition, used as help text and description.
    pub help: &'static str,
    /// The unit.
    pub unit: Unit,
    /// The instrument kind.
    pub instrument: Instrument,
    /// The attribute (Prometheus label) key, if the metric has one series per value of it.
    pub attribute: Option<&'static str>,
    /// The series, one per attribute value (or exactly one without an attribute).
    pub series: &'static [Series],
    /// Whose name it carries: heapster's, or the process's (see [`Scope`]).
    pub scope: Scope,
}

impl Metric {
    /// The full OpenTelemetry name under `namespace`, e.g. `heapster.memory.used`; a
    /// [`Scope::Process`] metric's name is never under the namespace (`process.memory.usage`).
    #[must_use]
    pub fn full_otel_name(&self, namespace: &str) -> String {
        match self.scope {
            Scope::Heap => join(namespace, '.', self.otel_name),
            Scope::Process => self.otel_name.to_owned(),
        }
    }

    /// Whether the metric reads the process's memory (and is absent without it).
    #[must_use]
    pub fn reads_process(&self) -> bool {
        self.series
            .iter()
            .any(|s| matches!(s.read, Read::Process(_)))
    }

    /// Whether the metric is exported with `names`: every metric, except those that read the
    /// process's memory when they are [`Off`](ProcessMemoryNames::Off).
    #[must_use]
    pub fn is_exported(&self, names: ProcessMemoryNames) -> bool {
        names != ProcessMemoryNames::Off || !self.reads_process()
    }

    /// The Prometheus name under `namespace` without unit or `_total`, as `prometheus-client`
    /// takes it (it appends them): the OpenTelemetry name with `_` for `.`, e.g.
    /// `heapster_memory_used`, and process metrics with the default
    /// [`ProcessMemoryNames::Namespaced`] (`heapster_process_memory_usage`).
    #[must_use]
    pub fn prometheus_name(&self, namespace: &str) -> String {
        self.prometheus_name_with(namespace, ProcessMemoryNames::Namespaced)
    }

    /// [`prometheus_name`](Self::prometheus_name) with process metrics named by `names`.
    #[must_use]
    pub fn prometheus_name_with(&self, namespace: &str, names: ProcessMemoryNames) -> String {
        let base = self.otel_name.replace('.', "_");
        match (self.scope, names) {
            (Scope::Process, ProcessMemoryNames::OpenTelemetry) => base,
            _ => join(namespace, '_', &base),
        }
    }

    /// The Prometheus metric family name under `namespace` as a scrape shows it, e.g.
    /// `heapster_memory_used_bytes` or `heapster_allocations_total` (process metrics with the
    /// default [`ProcessMemoryNames::Namespaced`]).
    #[must_use]
    pub fn full_prometheus_name(&self, namespace: &str) -> String {
        self.full_prometheus_name_with(namespace, ProcessMemoryNames::Namespaced)
    }

    /// [`full_prometheus_name`](Self::full_prometheus_name) with process metrics named by
    /// `names`.
    #[must_use]
    pub fn full_prometheus_name_with(&self, namespace: &str, names: ProcessMemoryNames) -> String {
        let mut name = self.prometheus_name_with(namespace, names);
        if let Some(unit) = self.unit.prometheus() {
            name.push('_');
            name.push_str(unit);
        }
        if self.instrument.is_monotonic() {
            name.push_str("_total");
        }
        name
    }
}

fn join(namespace: &str, separator: char, name: &str) -> String {
    if namespace.is_empty() {
        name.to_owned()
    } else {
        format!("{namespace}{separator}{name}")
    }
}
