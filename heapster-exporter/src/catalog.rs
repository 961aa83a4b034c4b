//! The metric catalog: every exported metric defined once, in [`METRICS`].
//!
//! The Prometheus collector, the OpenTelemetry instruments, the README's metric list and the
//! dashboard tests iterate this table. Each series reads the [`Sample`](crate::Sample) through a function
//! that the compiler checks; a [`Stats`](heapster::Stats) field that changes no metric and is
//! not listed in [`NOT_EXPORTED`] fails a test.

mod metric;

pub use metric::{Instrument, Metric, ProcessMemoryNames, Read, Scope, Series, Unit};

/// The default namespace: the first part of every metric name (`heapster.` in OpenTelemetry,
/// `heapster_` in Prometheus).
pub const DEFAULT_NAMESPACE: &str = "heapster";

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
