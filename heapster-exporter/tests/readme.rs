//! The README's metric list is the catalog's table, and its exporter snippet (fenced as `rs`, so
//! that rustdoc does not take the fragment for a doctest) is in the builder's compiled doc
//! example. `HEAPSTER_BLESS=1` rewrites the list.

use std::path::PathBuf;

use heapster_exporter::catalog::{DEFAULT_NAMESPACE, Instrument, METRICS};

const BEGIN: &str = "<!-- metrics:begin -->\n";
const END: &str = "<!-- metrics:end -->";

/// The metric list as a Markdown table, from the catalog.
fn markdown_table(namespace: &str) -> String {
    let mut out = String::from(
        "| Prometheus | OpenTelemetry | type | unit | labels | definition |\n|---|---|---|---|---|---|\n",
    );
    for m in METRICS {
        let labels = m.attribute.map_or_else(String::new, |key| {
            let values: Vec<_> = m.series.iter().filter_map(|s| s.attribute_value).collect();
            format!("`{key}`: {}", values.join(", "))
        });
        let prometheus_type = match m.instrument {
            Instrument::Counter => "counter",
            Instrument::UpDownCounter | Instrument::Gauge => "gauge",
            Instrument::Histogram => "histogram",
        };
        out.push_str(&format!(
            "| `{}` | `{}` | {prometheus_type} | `{}` | {labels} | {} |\n",
            m.full_prometheus_name(namespace),
            m.full_otel_name(namespace),
            m.unit.ucum(),
            m.help.replace('|', "\\|"),
        ));
    }
    out
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn readme_metric_list_is_the_catalog() {
    let path = root().join("README.md");
    let readme = std::fs::read_to_string(&path).unwrap();
    let start = readme
        .find(BEGIN)
        .expect("README has the metrics:begin marker")
        + BEGIN.len();
    let end = readme.find(END).expect("README has the metrics:end marker");
    let expected = markdown_table(DEFAULT_NAMESPACE);
    if std::env::var_os("HEAPSTER_BLESS").is_some() && readme[start..end] != expected {
        let updated = format!("{}{expected}{}", &readme[..start], &readme[end..]);
        std::fs::write(&path, updated).unwrap();
        return;
    }
    assert!(
        readme[start..end] == expected,
        "README.md's metric list is out of date (HEAPSTER_BLESS=1 cargo test -p heapster-exporter --test readme rewrites it); expected:\n{expected}"
    );
}

#[test]
fn readme_exporter_snippet_is_compiled_as_a_doc_example() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let builder = std::fs::read_to_string(root().join("heapster-exporter/src/builder.rs")).unwrap();
    let snippet = readme
        .split("```rs\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("README has the exporter snippet");
    for line in snippet.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let line = line.trim_start_matches("let handle = heapster_exporter::");
        assert!(
            builder.contains(line),
            "README line {line:?} is not in the builder's doc example"
        );
    }
}
