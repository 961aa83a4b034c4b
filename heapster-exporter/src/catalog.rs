//! The metric catalog: every exported metric defined once, in [`METRICS`].
//!
//! The Prometheus collector, the OpenTelemetry instruments, the README's metric list and the
//! dashboard tests iterate this table. Each series reads the [`Sample`] through a function
//! that the compiler checks; a [`Stats`](heapster::Stats) field that changes no metric and is
//! not listed in [`NOT_EXPORTED`] fails a test.

use heapster::Histogram;

use crate::sampler::Sample;

/// The default namespace: the first part of every metric name (`heapster.` in OpenTelemetry,
/// `heapster_` in Prometheus).
pub const DEFAULT_NAMESPACE: &str = "heapster";

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

const fn one(read: Read) -> Series {
    Series {
        attribute_value: None,
        read,
    }
}

const fn labelled(value: &'static str, read: Read) -> Series {
    Series {
        attribute_value: Some(value),
        read,
    }
}

/// Every exported metric, in exposition order. DESIGN §5 of the project fixes the heap
/// metrics' names; the process metrics follow OpenTelemetry's semantic conventions (see
/// [`Scope::Process`] for their Prometheus names).
pub static METRICS: &[Metric] = &[
    Metric {
        otel_name: "allocations",
        help: "Successful alloc and alloc_zeroed calls. Failed calls are counted as failures; realloc is never counted here.",
        unit: Unit::Count("{allocation}"),
        instrument: Instrument::Counter,
        attribute: None,
        series: &[one(Read::Value(|s| s.stats.allocations))],
        scope: Scope::Heap,
    },
    Metric {
        otel_name: "allocated",
        help: "Bytes requested (Layout size) by successful alloc and alloc_zeroed calls.",
        unit: Unit::Bytes,
        instrument: Instrument::Counter,
        attribute: None,
        series: &[one(Read::Value(|s| s.stats.allocated_bytes))],
        scope: Scope::Heap,
    },
    Metric {
        otel_name: "deallocations",
        help: "dealloc calls (realloc is never counted here).",
        unit: Unit::Count("{deallocation}"),
        instrument: Instrument::Counter,
        attribute: None,
        series: &[one(Read::Value(|s| s.stats.deallocations))],
        scope: Scope::Heap,
    },
    Metric {
        otel_name: "deallocated",
        help: "Bytes released by dealloc calls: the layout size of each block when it was freed.",
        unit: Unit::Bytes,
        instrument: Instrument::Counter,
        attribute: None,
        series: &[one(Read::Value(|s| s.stats.deallocated_bytes))],
        scope: Scope::Heap,
    },
    Metric {
        otel_name: "reallocations",
        help: "Successful realloc calls by kind: grew_in_place (same pointer, larger), shrank_in_place (same pointer, smaller), moved (new pointer, the block was copied), unchanged (same pointer and size).",
        unit: Unit::Count("{reallocation}"),
        instrument: Instrument::Counter,
        attribute: Some("kind"),
        series: &[
            labelled(
                "grew_in_place",
                Read::Value(|s| s.stats.realloc_grew_in_place),
            ),
            labelled(
                "shrank_in_place",
                Read::Value(|s| s.stats.realloc_shrank_in_place),
            ),
            labelled("moved", Read::Value(|s| s.stats.realloc_moved)),
            labelled("unchanged", Read::Value(|s| s.stats.realloc_unchanged)),
        ],
        scope: Scope::Heap,
    },
    Metric {
        otel_name: "reallocated",
        help: "Size changes of successful realloc calls, moved or not: direction=grow sums new - old over calls that grew a block, direction=shrink sums old - new over calls that shrank one.",
        unit: Unit::Bytes,
        instrument: Instrument::Counter,
        attribute: Some("direction"),
        series: &[
            labelled("grow", Read::Value(|s| s.stats.realloc_grown_bytes)),
            labelled("shrink", Read::Value(|s| s.stats.realloc_shrunk_bytes)),
        ],
        scope: Scope::Heap,
    },
    Metric {
        otel_name: "reallocation.moved",
        help: "Bytes copied by realloc calls that moved a block: min(old size, new size) per moved call.",
        unit: Unit::Bytes,
        instrument: Instrument::Counter,
        attribute: None,
        series: &[one(Read::Value(|s| s.stats.realloc_moved_bytes))],
        scope: Scope::Heap,
    },
    Metric {
        otel_name: "failures",
        help: "Allocator calls that returned null: operation=alloc for alloc and alloc_zeroed, operation=realloc for realloc (whose old block stays valid and live).",
        unit: Unit::Count("{failure}"),
        instrument: Instrument::Counter,
        attribute: Some("operation"),
        series: &[
            labelled("alloc", Read::Value(|s| s.stats.alloc_failures)),
            labelled("realloc", Read::Value(|s| s.stats.realloc_failures)),
        ],
        scope: Scope::Heap,
    },
    Metric {
        otel_name: "memory.used",
        help: "Bytes in live blocks when the sample was taken: allocated - deallocated + grown by realloc - shrunk by realloc.",
        unit: Unit::Bytes,
        instrument: Instrument::UpDownCounter,
        attribute: None,
        series: &[one(Read::Value(|s| s.stats.live_bytes()))],
        scope: Scope::Heap,
    },
    Metric {
        otel_name: "allocations.active",
        help: "Live blocks when the sample was taken: allocations - deallocations.",
        unit: Unit::Count("{allocation}"),
        instrument: Instrument::UpDownCounter,
        attribute: None,
        series: &[one(Read::Value(|s| s.stats.live_allocations()))],
        scope: Scope::Heap,
    },
    Metric {
        otel_name: "memory.peak",
        help: "High-water mark of live bytes since the allocator was created; may miss or overstate the true peak by less than 128 KiB plus 8 KiB per size class in use, per allocating thread.",
        unit: Unit::Bytes,
        instrument: Instrument::Gauge,
        attribute: None,
        series: &[one(Read::Value(|s| s.stats.peak_bytes))],
        scope: Scope::Heap,
    },
    Metric {
        otel_name: "memory.interval_peak",
        help: "Highest live bytes over the samples of the latest peak window (60 s by default, at least one sampling interval), so spikes between two scrapes show; same precision as the peak.",
        unit: Unit::Bytes,
        instrument: Instrument::Gauge,
        attribute: None,
        series: &[one(Read::Value(|s| s.interval_peak))],
        scope: Scope::Heap,
    },
    Metric {
        otel_name: "process.memory.usage",
        help: "Resident memory of the process when the sample was taken (Linux: resident pages in /proc/self/statm times the page size): live heap, freed heap pages the allocator keeps, thread stacks, code and mapped files. Absent where the platform does not report it.",
        unit: Unit::Bytes,
        instrument: Instrument::UpDownCounter,
        attribute: None,
        series: &[one(Read::Process(|s| s.process.map(|p| p.resident_bytes)))],
        scope: Scope::Process,
    },
    Metric {
        otel_name: "process.memory.virtual",
        help: "Virtual memory of the process when the sample was taken (Linux: size in /proc/self/statm times the page size): every mapping, resident or not. Absent where the platform does not report it.",
        unit: Unit::Bytes,
        instrument: Instrument::UpDownCounter,
        attribute: None,
        series: &[one(Read::Process(|s| s.process.map(|p| p.virtual_bytes)))],
        scope: Scope::Process,
    },
    Metric {
        otel_name: "memory.resident_beyond_heap",
        help: "Resident memory that is not live heap: process.memory.usage - memory.used from the same sample, 0 when the heap is larger (heap pages never written are not resident). Freed blocks whose pages the allocator keeps, fragmentation, thread stacks, code and mapped files. Absent where the platform does not report resident memory.",
        unit: Unit::Bytes,
        instrument: Instrument::Gauge,
        attribute: None,
        series: &[one(Read::Process(|s| {
            s.process
                .map(|p| p.resident_beyond_heap(s.stats.live_bytes()))
        }))],
        scope: Scope::Heap,
    },
    Metric {
        otel_name: "allocation.size",
        help: "Sizes requested by successful alloc and alloc_zeroed calls, in buckets (2^(k-1), 2^k]; the sum is the allocated bytes, the count the allocations.",
        unit: Unit::Bytes,
        instrument: Instrument::Histogram,
        attribute: None,
        series: &[one(Read::Histogram(|s| &s.stats.allocation_sizes))],
        scope: Scope::Heap,
    },
    Metric {
        otel_name: "reallocation.size_change",
        help: "Size change |new - old| of each successful realloc that grew (direction=grow) or shrank (direction=shrink) a block, in buckets (2^(k-1), 2^k].",
        unit: Unit::Bytes,
        instrument: Instrument::Histogram,
        attribute: Some("direction"),
        series: &[
            labelled("grow", Read::Histogram(|s| &s.stats.realloc_grow_sizes)),
            labelled("shrink", Read::Histogram(|s| &s.stats.realloc_shrink_sizes)),
        ],
        scope: Scope::Heap,
    },
];

/// `Stats` fields that no metric reads, each with the reason.
pub static NOT_EXPORTED: &[(&str, &str)] = &[
    (
        "zeroed_allocations",
        "a subset of allocations that DESIGN's catalog does not export; it is in Stats and the report",
    ),
    (
        "zeroed_bytes",
        "a subset of allocated bytes that DESIGN's catalog does not export; it is in Stats and the report",
    ),
];

#[cfg(test)]
mod tests;
