#!/usr/bin/env python3
"""Generates heapster.json, the Grafana dashboard for heapster's metrics.

The panels are written here once, as data, so that every panel gets the same selectors,
datasource and layout rules. Run `python3 dashboards/generate.py` after a change and commit
both files; `python3 dashboards/generate.py --check` (run by CI) fails when heapster.json
is not what this script generates.

Every query works whether Prometheus stores heapster's histograms in classic form
(`_bucket` series) or native form, or received them as heapster-exporter's OpenTelemetry
per-bucket counters: a histogram query reads the native series `or` the classic buckets `or`
the bucket counters, never a hard-coded `le` value (see the README beside this file).
"""

import json
import sys
from pathlib import Path

OUT = Path(__file__).with_name("heapster.json")

DS = {"type": "prometheus", "uid": "${datasource}"}
SEL = '{job=~"$job", instance=~"$instance"}'
RI = "$__rate_interval"
# Resident memory under either Prometheus name heapster-exporter can give it: under the namespace
# (the default, apart from process collectors) or the OpenTelemetry translation.
RESIDENT = f"heapster_process_memory_usage_bytes{SEL} or process_memory_usage_bytes{SEL}"


def rate(metric, by=None):
    """`sum by (...) (rate(metric{sel}[$__rate_interval]))`."""
    grouping = f" by ({', '.join(by)}) " if by else ""
    return f"sum{grouping}(rate({metric}{SEL}[{RI}]))"


def bucket_counter(histogram):
    """The per-bucket counter that heapster-exporter's OpenTelemetry instruments register for a
    histogram when asked to (`with_bucket_counters`), as Prometheus names it after a collector:
    `heapster.allocation.size.bucket` `{count}` becomes `heapster_allocation_size_bucket_total`."""
    return histogram.removesuffix("_bytes") + "_bucket_total"


def quantile(q, histogram, by=()):
    """A quantile that reads the native histogram, or else the classic `_bucket` series, or else
    the OpenTelemetry per-bucket counters: whichever form the data arrived in."""
    native_by = f" by ({', '.join(by)}) " if by else ""
    classic_by = ", ".join([*by, "le"])
    return (
        f"histogram_quantile({q}, sum{native_by}(rate({histogram}{SEL}[{RI}])))"
        f" or histogram_quantile({q}, sum by ({classic_by}) (rate({histogram}_bucket{SEL}[{RI}])))"
        f" or histogram_quantile({q}, sum by ({classic_by}) (rate({bucket_counter(histogram)}{SEL}[{RI}])))"
    )


def target(expr, legend, ref, fmt="time_series", instant=False):
    t = {
        "datasource": DS,
        "editorMode": "code",
        "expr": expr,
        "legendFormat": legend,
        "range": not instant,
        "instant": instant,
        "refId": ref,
    }
    if fmt != "time_series":
        t["format"] = fmt
    return t


def targets(*specs):
    return [target(expr, legend, chr(ord("A") + i)) for i, (expr, legend) in enumerate(specs)]


def negative_y(regex):
    """An override that draws matching series below the axis (deallocations, shrinking)."""
    return {
        "matcher": {"id": "byRegexp", "options": regex},
        "properties": [{"id": "custom.transform", "value": "negative-Y"}],
    }


def above_and_below(title, description, unit, above, below):
    """Per-instance rates of two counters, `above` over the axis and `below` under it (what comes
    in and what goes out): each a `(counter, legend)`."""
    return timeseries(
        title,
        description,
        unit,
        targets(*[(rate(counter, ["instance"]), "{{instance}} " + legend) for counter, legend in (above, below)]),
        overrides=[negative_y(".*" + below[1])],
    )


def timeseries(title, description, unit, tgts, stack=False, overrides=(), decimals=None, min0=False):
    defaults = {
        "unit": unit,
        "color": {"mode": "palette-classic"},
        "custom": {
            "drawStyle": "line",
            "lineWidth": 1,
            "fillOpacity": 25 if stack else 10,
            "gradientMode": "none",
            "showPoints": "never",
            "spanNulls": False,
            "axisPlacement": "auto",
            "stacking": {"mode": "normal" if stack else "none", "group": "A"},
        },
    }
    if decimals is not None:
        defaults["decimals"] = decimals
    if min0:
        defaults["min"] = 0
    return {
        "type": "timeseries",
        "title": title,
        "description": description,
        "datasource": DS,
        "fieldConfig": {"defaults": defaults, "overrides": list(overrides)},
        "options": {
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
        "targets": tgts,
    }


def stat(title, description, unit, expr, thresholds=None, instant=False):
    steps = thresholds or [{"color": "green", "value": None}]
    return {
        "type": "stat",
        "title": title,
        "description": description,
        "datasource": DS,
        "fieldConfig": {
            "defaults": {
                "unit": unit,
                "color": {"mode": "thresholds"},
                "thresholds": {"mode": "absolute", "steps": steps},
            },
            "overrides": [],
        },
        "options": {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "value",
            "graphMode": "none" if instant else "area",
            "justifyMode": "auto",
            "orientation": "auto",
            "textMode": "auto",
        },
        "targets": [target(expr, "", "A", instant=instant)],
    }


def heatmap(title, description, histogram):
    return {
        "type": "heatmap",
        "title": title,
        "description": description,
        "datasource": DS,
        "fieldConfig": {
            "defaults": {
                "unit": "bytes",
                "custom": {
                    "scaleDistribution": {"type": "linear"},
                    "hideFrom": {"legend": False, "tooltip": False, "viz": False},
                },
            },
            "overrides": [],
        },
        "options": {
            "calculate": False,
            "cellGap": 1,
            "color": {
                "mode": "scheme",
                "scheme": "Oranges",
                "scale": "exponential",
                "exponent": 0.5,
                "steps": 64,
                "fill": "dark-orange",
                "reverse": False,
            },
            "filterValues": {"le": 1e-9},
            "rowsFrame": {"layout": "le", "value": "allocations/s"},
            "yAxis": {"axisPlacement": "left", "unit": "bytes", "reverse": False},
            "cellValues": {"unit": "ops"},
            "tooltip": {"mode": "single", "yHistogram": True, "showColorScale": True},
            "legend": {"show": True},
            "showValue": "never",
            "exemplars": {"color": "rgba(255,0,255,0.7)"},
        },
        # The native histogram, or else the classic buckets (one series per `le`), or else the
        # OpenTelemetry per-bucket counters.
        "targets": [
            target(
                f"sum(rate({histogram}{SEL}[{RI}]))"
                f" or sum by (le) (rate({histogram}_bucket{SEL}[{RI}]))"
                f" or sum by (le) (rate({bucket_counter(histogram)}{SEL}[{RI}]))",
                "{{le}}",
                "A",
                fmt="heatmap",
            )
        ],
    }


def row(title):
    return {"type": "row", "title": title, "collapsed": False, "panels": []}


# Each entry: a row, or (panel, width, height). Panels flow left to right, 24 columns wide.
LAYOUT = [
    row("Overview"),
    (stat(
        "Live heap",
        "Bytes in live blocks now, summed over the selected instances (heapster_memory_used_bytes).",
        "bytes",
        f"sum(heapster_memory_used_bytes{SEL})",
    ), 4, 4),
    (stat(
        "Peak since start",
        "Highest live heap of any selected instance since its allocator was created (heapster_memory_peak_bytes).",
        "bytes",
        f"max(heapster_memory_peak_bytes{SEL})",
    ), 4, 4),
    (stat(
        "Live allocations",
        "Blocks allocated and not yet freed, summed over the selected instances (heapster_allocations_active).",
        "short",
        f"sum(heapster_allocations_active{SEL})",
    ), 4, 4),
    (stat(
        "Allocation rate",
        "alloc and alloc_zeroed calls per second, summed over the selected instances.",
        "ops",
        rate("heapster_allocations_total"),
    ), 4, 4),
    (stat(
        "Mean allocation size",
        "Bytes per allocation: the rate of allocated bytes divided by the rate of allocations.",
        "bytes",
        f"{rate('heapster_allocated_bytes_total')} / {rate('heapster_allocations_total')}",
    ), 4, 4),
    (stat(
        "Failures in range",
        "Allocator calls that returned null during the dashboard's time range; anything above 0 deserves a look.",
        "short",
        f"sum(increase(heapster_failures_total{SEL}[$__range]))",
        thresholds=[{"color": "green", "value": None}, {"color": "red", "value": 1}],
        instant=True,
    ), 4, 4),
    row("Allocations and live heap"),
    (above_and_below(
        "Allocation and deallocation rate",
        "Calls per second: alloc and alloc_zeroed above the axis, dealloc below (realloc is counted apart).",
        "ops",
        ("heapster_allocations_total", "allocations"),
        ("heapster_deallocations_total", "deallocations"),
    ), 12, 8),
    (above_and_below(
        "Allocated and deallocated bytes",
        "Bytes per second requested by allocations (above the axis) and released by deallocations (below).",
        "binBps",
        ("heapster_allocated_bytes_total", "allocated"),
        ("heapster_deallocated_bytes_total", "deallocated"),
    ), 12, 8),
    (timeseries(
        "Live heap",
        "Bytes in live blocks, with the peak since start and the highest value of the latest peak window (spikes between scrapes).",
        "bytes",
        targets(
            (f"sum by (instance) (heapster_memory_used_bytes{SEL})", "{{instance}} live"),
            (f"max by (instance) (heapster_memory_interval_peak_bytes{SEL})", "{{instance}} interval peak"),
            (f"max by (instance) (heapster_memory_peak_bytes{SEL})", "{{instance}} peak since start"),
        ),
        min0=True,
    ), 12, 8),
    (timeseries(
        "Live allocations",
        "Blocks allocated and not yet freed: allocations minus deallocations.",
        "short",
        targets(
            (f"sum by (instance) (heapster_allocations_active{SEL})", "{{instance}}"),
        ),
        min0=True,
    ), 12, 8),
    row("Heap vs resident memory"),
    (timeseries(
        "Heap vs resident",
        "The process's resident memory beside its live heap; the gap is resident memory that is not live heap (freed pages the allocator keeps, fragmentation, stacks, code, mapped files). Linux only.",
        "bytes",
        targets(
            (f"sum by (instance) ({RESIDENT})", "{{instance}} resident"),
            (f"sum by (instance) (heapster_memory_used_bytes{SEL})", "{{instance}} live heap"),
            (f"sum by (instance) (heapster_memory_resident_beyond_heap_bytes{SEL})", "{{instance}} resident, not heap"),
        ),
        min0=True,
    ), 12, 8),
    (timeseries(
        "Share of resident memory in live blocks",
        "Live heap divided by resident memory: near 100% the heap explains the memory; falling while resident stays up means freed memory the allocator keeps or fragmentation (may exceed 100%: heap never written is not resident).",
        "percentunit",
        targets((
            f"sum by (instance) (heapster_memory_used_bytes{SEL}) / sum by (instance) ({RESIDENT})",
            "{{instance}}",
        )),
        min0=True,
    ), 6, 8),
    (timeseries(
        "Virtual memory",
        "Every mapping of the process, resident or not (process.memory.virtual); large and mostly untouched is normal, a steady climb is a leak of mappings.",
        "bytes",
        targets((
            f"sum by (instance) (heapster_process_memory_virtual_bytes{SEL} or process_memory_virtual_bytes{SEL})",
            "{{instance}}",
        )),
        min0=True,
    ), 6, 8),
    row("Allocation sizes"),
    (heatmap(
        "Allocation size distribution",
        "Allocations per second by requested size, in power-of-two buckets (2^(k-1), 2^k]; native or classic histogram.",
        "heapster_allocation_size_bytes",
    ), 12, 9),
    (timeseries(
        "Allocation size quantiles",
        "p50, p90 and p99 of requested sizes, interpolated inside power-of-two buckets (exact only at bucket bounds).",
        "bytes",
        targets(
            (quantile(0.5, "heapster_allocation_size_bytes"), "p50"),
            (quantile(0.9, "heapster_allocation_size_bytes"), "p90"),
            (quantile(0.99, "heapster_allocation_size_bytes"), "p99"),
        ),
    ), 12, 9),
    (timeseries(
        "Mean allocation size",
        "Bytes per allocation: the rate of allocated bytes divided by the rate of allocations.",
        "bytes",
        targets((
            f"{rate('heapster_allocated_bytes_total', ['instance'])}"
            f" / {rate('heapster_allocations_total', ['instance'])}",
            "{{instance}}",
        )),
    ), 24, 7),
    row("Reallocations"),
    (timeseries(
        "Reallocations by kind",
        "Successful realloc calls per second: grew or shrank in place, moved (copied to a new block), unchanged.",
        "ops",
        targets((rate("heapster_reallocations_total", ["kind"]), "{{kind}}")),
        stack=True,
    ), 12, 8),
    (timeseries(
        "Bytes copied by moving reallocs",
        "Bytes per second copied by reallocs that moved a block: min(old size, new size) per moved call.",
        "binBps",
        targets((rate("heapster_reallocation_moved_bytes_total"), "copied")),
    ), 12, 8),
    (timeseries(
        "Grown and shrunk bytes",
        "Bytes per second added by reallocs that grew a block (above the axis) and removed by those that shrank one (below).",
        "binBps",
        targets((rate("heapster_reallocated_bytes_total", ["direction"]), "{{direction}}")),
        overrides=[negative_y("shrink")],
    ), 12, 8),
    (timeseries(
        "Realloc size change quantiles",
        "p50 and p90 of |new size - old size| per realloc, by direction; native or classic histogram.",
        "bytes",
        targets(
            (quantile(0.5, "heapster_reallocation_size_change_bytes", ["direction"]), "{{direction}} p50"),
            (quantile(0.9, "heapster_reallocation_size_change_bytes", ["direction"]), "{{direction}} p90"),
        ),
    ), 12, 8),
    row("Failures"),
    (timeseries(
        "Allocation failures",
        "Allocator calls per second that returned null, by operation (alloc covers alloc_zeroed); should stay at 0.",
        "ops",
        targets((rate("heapster_failures_total", ["operation"]), "{{operation}}")),
        min0=True,
    ), 24, 7),
]


def layout(entries):
    panels, x, y, row_height, next_id = [], 0, 0, 0, 1
    for entry in entries:
        if isinstance(entry, dict):  # a row starts a new line
            y += row_height
            x, row_height = 0, 0
            panel = dict(entry, id=next_id, gridPos={"h": 1, "w": 24, "x": 0, "y": y})
            y += 1
        else:
            panel, w, h = entry
            if x + w > 24:
                x, y, row_height = 0, y + row_height, 0
            panel = dict(panel, id=next_id, gridPos={"h": h, "w": w, "x": x, "y": y})
            x += w
            row_height = max(row_height, h)
        panels.append(panel)
        next_id += 1
    return panels


def variable(name, label, query, multi):
    return {
        "type": "query",
        "name": name,
        "label": label,
        "datasource": DS,
        "definition": query,
        "query": {"query": query, "refId": f"PrometheusVariableQueryEditor-{name}"},
        "refresh": 2,
        "sort": 1,
        "multi": multi,
        "includeAll": multi,
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]} if multi else {},
        "options": [],
        "regex": "",
        "hide": 0,
        "skipUrlSync": False,
    }


def dashboard():
    return {
        "__requires": [
            {"type": "grafana", "id": "grafana", "name": "Grafana", "version": "10.0.0"},
            {"type": "datasource", "id": "prometheus", "name": "Prometheus", "version": "1.0.0"},
            {"type": "panel", "id": "heatmap", "name": "Heatmap", "version": ""},
            {"type": "panel", "id": "stat", "name": "Stat", "version": ""},
            {"type": "panel", "id": "timeseries", "name": "Time series", "version": ""},
        ],
        "annotations": {
            "list": [
                {
                    "builtIn": 1,
                    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                    "enable": True,
                    "hide": True,
                    "iconColor": "rgba(0, 211, 255, 1)",
                    "name": "Annotations & Alerts",
                    "type": "dashboard",
                }
            ]
        },
        "description": "Heap telemetry from heapster: allocation rates, live heap and peaks, size distributions, reallocations and failures.",
        "editable": True,
        "fiscalYearStartMonth": 0,
        "graphTooltip": 1,
        "id": None,
        "links": [],
        "panels": layout(LAYOUT),
        "refresh": "30s",
        "schemaVersion": 39,
        "tags": ["heapster", "memory", "rust"],
        "templating": {
            "list": [
                {
                    "type": "datasource",
                    "name": "datasource",
                    "label": "Data source",
                    "query": "prometheus",
                    "current": {},
                    "options": [],
                    "refresh": 1,
                    "regex": "",
                    "hide": 0,
                    "skipUrlSync": False,
                },
                variable("job", "Job", "label_values(heapster_allocations_total, job)", False),
                variable(
                    "instance",
                    "Instance",
                    'label_values(heapster_allocations_total{job=~"$job"}, instance)',
                    True,
                ),
            ]
        },
        "time": {"from": "now-1h", "to": "now"},
        "timepicker": {},
        "timezone": "browser",
        "title": "heapster: heap telemetry",
        "uid": "heapster-heap",
        "version": 1,
        "weekStart": "",
    }


def main():
    text = json.dumps(dashboard(), indent=2) + "\n"
    if sys.argv[1:] == ["--check"]:
        if OUT.read_text() != text:
            sys.exit(f"{OUT} is not what {Path(__file__).name} generates: run it and commit both")
        print(f"{OUT.name} is up to date")
    elif sys.argv[1:]:
        sys.exit(f"usage: {sys.argv[0]} [--check]")
    else:
        OUT.write_text(text)
        print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
