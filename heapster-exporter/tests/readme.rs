//! The README's metric list is the catalog's table, and its exporter snippets (fenced as `rs`,
//! so that rustdoc does not take the fragments for doctests) are in compiled doc examples. `HEAPSTER_BLESS=1` rewrites the list.

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

/// Every line of the first `rs` snippet after `heading` in the README is in `source`'s
/// compiled doc example (ignoring `prefix`, which the example spells differently).
fn assert_snippet_is_compiled(heading: &str, source: &str, prefix: &str) {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let source_text = std::fs::read_to_string(root().join(source)).unwrap();
    let snippet = readme
        .split(heading)
        .nth(1)
        .and_then(|section| section.split("```rs\n").nth(1))
        .and_then(|rest| rest.split("```").next())
        .unwrap_or_else(|| panic!("README has a snippet under {heading:?}"));
    for line in snippet.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let line = line.trim_start_matches(prefix);
        assert!(
            source_text.contains(line),
            "README line {line:?} is not in {source}'s doc example"
        );
    }
}

#[test]
fn readme_snippets_are_compiled_doc_examples() {
    assert_snippet_is_compiled(
        "## Prometheus",
        "heapster-exporter/src/builder.rs",
        "let handle = heapster_exporter::",
    );
    assert_snippet_is_compiled("## OpenTelemetry", "heapster-exporter/src/otel.rs", "");
}
