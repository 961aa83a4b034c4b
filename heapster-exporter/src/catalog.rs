//! The metric catalog: every exported metric defined once, in [`METRICS`].
//!
//! The Prometheus collector, the README's metric list and the tests iterate this table; the
//! OpenTelemetry instruments will too. A [`Stats`](heapster::Stats) field that is neither read
//! by a metric nor listed in [`NOT_EXPORTED`] fails a test.

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

    /// The Prometheus type name.
    #[must_use]
    pub const fn prometheus_type(self) -> &'static str {
        match self {
            Self::Counter => "counter",
            Self::UpDownCounter | Self::Gauge => "gauge",
            Self::Histogram => "histogram",
        }
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

/// How a series' value is read from a [`Sample`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Read {
    /// A counter or gauge field of [`Stats`](heapster::Stats), by name.
    Field(&'static str),
    /// [`Stats::live_bytes`](heapster::Stats::live_bytes).
    LiveBytes,
    /// [`Stats::live_allocations`](heapster::Stats::live_allocations).
    LiveAllocations,
    /// [`Sample::interval_peak`].
    IntervalPeak,
    /// A histogram field of [`Stats`](heapster::Stats), by name.
    Histogram(&'static str),
}

impl Read {
    /// The `Stats` fields this read depends on.
    pub fn fields(self) -> impl Iterator<Item = &'static str> {
        let (field, derived): (Option<&'static str>, &'static [&'static str]) = match self {
            Self::Field(name) | Self::Histogram(name) => (Some(name), &[]),
            Self::LiveBytes => (
                None,
                &[
                    "allocated_bytes",
                    "deallocated_bytes",
                    "realloc_grown_bytes",
                    "realloc_shrunk_bytes",
                ],
            ),
            Self::LiveAllocations => (None, &["allocations", "deallocations"]),
            Self::IntervalPeak => (None, &[]),
        };
        field.into_iter().chain(derived.iter().copied())
    }

    /// The value of a counter or gauge read (0 for a histogram read or an unknown field name;
    /// the catalog's tests rule both out).
    #[must_use]
    pub fn value(self, sample: &Sample) -> u64 {
        match self {
            Self::Field(name) => sample.stats.get(name).unwrap_or(0),
            Self::LiveBytes => sample.stats.live_bytes(),
            Self::LiveAllocations => sample.stats.live_allocations(),
            Self::IntervalPeak => sample.interval_peak,
            Self::Histogram(_) => 0,
        }
    }

    /// The histogram of a histogram read, `None` for any other read.
    #[must_use]
    pub fn histogram(self, sample: &Sample) -> Option<&Histogram> {
        match self {
            Self::Histogram(name) => sample.stats.histogram(name),
            _ => None,
        }
    }
}

/// One series of a metric: its attribute value (if the metric has an attribute) and its read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Series {
    /// The value of the metric's [`attribute`](Metric::attribute), `None` when it has none.
    pub attribute_value: Option<&'static str>,
    /// Where the value comes from.
    pub read: Read,
}

/// The definition of one exported metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Metric {
    /// OpenTelemetry name without the namespace, e.g. `memory.used`.
    pub otel_name: &'static str,
    /// Prometheus base name without namespace, unit or `_total`, e.g. `memory_used`
    /// (`prometheus-client` appends the unit and `_total`).
    pub prometheus_name: &'static str,
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
}

impl Metric {
    /// The full OpenTelemetry name under `namespace`, e.g. `heapster.memory.used`.
    #[must_use]
    pub fn full_otel_name(&self, namespace: &str) -> String {
        join(namespace, '.', self.otel_name)
    }

    /// The Prometheus metric family name under `namespace` as a scrape shows it, e.g.
    /// `heapster_memory_used_bytes` or `heapster_allocations_total`.
    #[must_use]
    pub fn full_prometheus_name(&self, namespace: &str) -> String {
        let mut name = join(namespace, '_', self.prometheus_name);
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

/// Every exported metric, in exposition order. DESIGN §5 of the project fixes the names.
pub static METRICS: &[Metric] = &[
    Metric {
        otel_name: "allocations",
        prometheus_name: "allocations",
        help: "Successful alloc and alloc_zeroed calls. Failed calls are counted as failures; realloc is never counted here.",
        unit: Unit::Count("{allocation}"),
        instrument: Instrument::Counter,
        attribute: None,
        series: &[one(Read::Field("allocations"))],
    },
    Metric {
        otel_name: "allocated",
        prometheus_name: "allocated",
        help: "Bytes requested (Layout size) by successful alloc and alloc_zeroed calls.",
        unit: Unit::Bytes,
        instrument: Instrument::Counter,
        attribute: None,
        series: &[one(Read::Field("allocated_bytes"))],
    },
    Metric {
        otel_name: "deallocations",
        prometheus_name: "deallocations",
        help: "dealloc calls (realloc is never counted here).",
        unit: Unit::Count("{deallocation}"),
        instrument: Instrument::Counter,
        attribute: None,
        series: &[one(Read::Field("deallocations"))],
    },
    Metric {
        otel_name: "deallocated",
        prometheus_name: "deallocated",
        help: "Bytes released by dealloc calls: the layout size of each block when it was freed.",
        unit: Unit::Bytes,
        instrument: Instrument::Counter,
        attribute: None,
        series: &[one(Read::Field("deallocated_bytes"))],
    },
    Metric {
        otel_name: "reallocations",
        prometheus_name: "reallocations",
        help: "Successful realloc calls by kind: grew_in_place (same pointer, larger), shrank_in_place (same pointer, smaller), moved (new pointer, the block was copied), unchanged (same pointer and size).",
        unit: Unit::Count("{reallocation}"),
        instrument: Instrument::Counter,
        attribute: Some("kind"),
        series: &[
            labelled("grew_in_place", Read::Field("realloc_grew_in_place")),
            labelled("shrank_in_place", Read::Field("realloc_shrank_in_place")),
            labelled("moved", Read::Field("realloc_moved")),
            labelled("unchanged", Read::Field("realloc_unchanged")),
        ],
    },
    Metric {
        otel_name: "reallocated",
        prometheus_name: "reallocated",
        help: "Size changes of successful realloc calls, moved or not: direction=grow sums new - old over calls that grew a block, direction=shrink sums old - new over calls that shrank one.",
        unit: Unit::Bytes,
        instrument: Instrument::Counter,
        attribute: Some("direction"),
        series: &[
            labelled("grow", Read::Field("realloc_grown_bytes")),
            labelled("shrink", Read::Field("realloc_shrunk_bytes")),
        ],
    },
    Metric {
        otel_name: "reallocation.moved",
        prometheus_name: "reallocation_moved",
        help: "Bytes copied by realloc calls that moved a block: min(old size, new size) per moved call.",
        unit: Unit::Bytes,
        instrument: Instrument::Counter,
        attribute: None,
        series: &[one(Read::Field("realloc_moved_bytes"))],
    },
    Metric {
        otel_name: "failures",
        prometheus_name: "failures",
        help: "Allocator calls that returned null: operation=alloc for alloc and alloc_zeroed, operation=realloc for realloc (whose old block stays valid and live).",
        unit: Unit::Count("{failure}"),
        instrument: Instrument::Counter,
        attribute: Some("operation"),
        series: &[
            labelled("alloc", Read::Field("alloc_failures")),
            labelled("realloc", Read::Field("realloc_failures")),
        ],
    },
    Metric {
        otel_name: "memory.used",
        prometheus_name: "memory_used",
        help: "Bytes in live blocks when the sample was taken: allocated - deallocated + grown by realloc - shrunk by realloc.",
        unit: Unit::Bytes,
        instrument: Instrument::UpDownCounter,
        attribute: None,
        series: &[one(Read::LiveBytes)],
    },
    Metric {
        otel_name: "allocations.active",
        prometheus_name: "allocations_active",
        help: "Live blocks when the sample was taken: allocations - deallocations.",
        unit: Unit::Count("{allocation}"),
        instrument: Instrument::UpDownCounter,
        attribute: None,
        series: &[one(Read::LiveAllocations)],
    },
    Metric {
        otel_name: "memory.peak",
        prometheus_name: "memory_peak",
        help: "High-water mark of live bytes since the allocator was created; may miss or overstate the true peak by less than 256 KiB per allocating thread.",
        unit: Unit::Bytes,
        instrument: Instrument::Gauge,
        attribute: None,
        series: &[one(Read::Field("peak_bytes"))],
    },
    Metric {
        otel_name: "memory.interval_peak",
        prometheus_name: "memory_interval_peak",
        help: "Highest live bytes over the samples of the latest peak window (60 s by default, at least one sampling interval), so spikes between two scrapes show; same precision as the peak.",
        unit: Unit::Bytes,
        instrument: Instrument::Gauge,
        attribute: None,
        series: &[one(Read::IntervalPeak)],
    },
    Metric {
        otel_name: "allocation.size",
        prometheus_name: "allocation_size",
        help: "Sizes requested by successful alloc and alloc_zeroed calls, in buckets (2^(k-1), 2^k]; the sum is the allocated bytes, the count the allocations.",
        unit: Unit::Bytes,
        instrument: Instrument::Histogram,
        attribute: None,
        series: &[one(Read::Histogram("allocation_sizes"))],
    },
    Metric {
        otel_name: "reallocation.size_change",
        prometheus_name: "reallocation_size_change",
        help: "Size change |new - old| of each successful realloc that grew (direction=grow) or shrank (direction=shrink) a block, in buckets (2^(k-1), 2^k].",
        unit: Unit::Bytes,
        instrument: Instrument::Histogram,
        attribute: Some("direction"),
        series: &[
            labelled("grow", Read::Histogram("realloc_grow_sizes")),
            labelled("shrink", Read::Histogram("realloc_shrink_sizes")),
        ],
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

/// The OpenTelemetry-to-Prometheus name translation (as the OpenTelemetry Collector's
/// Prometheus exporter does it for these names): dots to `_`, unit `By` to the suffix
/// `_bytes`, `{...}` annotations dropped, `_total` on monotonic counters.
#[must_use]
pub fn otel_to_prometheus(otel_name: &str, ucum_unit: &str, instrument: Instrument) -> String {
    let mut name = otel_name.replace('.', "_");
    match ucum_unit {
        "By" => name.push_str("_bytes"),
        unit if unit.starts_with('{') && unit.ends_with('}') => {}
        unit => {
            name.push('_');
            name.push_str(unit);
        }
    }
    if instrument.is_monotonic() {
        name.push_str("_total");
    }
    name
}

/// The metric list as a Markdown table (the README's list is this text).
#[must_use]
pub fn markdown_table(namespace: &str) -> String {
    let mut out = String::from(
        "| Prometheus | OpenTelemetry | type | unit | labels | definition |\n|---|---|---|---|---|---|\n",
    );
    for m in METRICS {
        let labels = m.attribute.map_or_else(String::new, |key| {
            let values: Vec<_> = m.series.iter().filter_map(|s| s.attribute_value).collect();
            format!("`{key}`: {}", values.join(", "))
        });
        out.push_str(&format!(
            "| `{}` | `{}` | {} | `{}` | {} | {} |\n",
            m.full_prometheus_name(namespace),
            m.full_otel_name(namespace),
            m.instrument.prometheus_type(),
            m.unit.ucum(),
            labels,
            m.help.replace('|', "\\|"),
        ));
    }
    out
}

#[cfg(test)]
mod tests;
