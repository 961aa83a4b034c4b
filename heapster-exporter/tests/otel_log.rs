//! What a program with a `tracing` subscriber sees of failing exports, without any code of
//! its own: one warning when exports start failing (the causes and the hint), one line when
//! they are delivered again, nothing more at info level however many exports fail. The
//! subscriber is process-wide (exports run on the SDK's reader thread), so this binary has
//! one test.
#![cfg(feature = "otel")]

mod support;

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use heapster::Stats;
use heapster_exporter::otel::{OtelInstruments, OtlpExporterBuilder};
use opentelemetry::metrics::MeterProvider as _;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

use support::collector::{Collector, Reply, nobody_listening};
use support::provider;

/// One event: level, target, and its fields as `name=value` (the message first).
#[derive(Clone, Debug)]
struct Logged {
    level: Level,
    target: String,
    fields: String,
}

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<Logged>>>);

struct Fields(String);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, "{}={value:?} ", field.name());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        let _ = write!(self.0, "{}={value} ", field.name());
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut fields = Fields(String::new());
        event.record(&mut fields);
        self.0.lock().unwrap().push(Logged {
            level: *event.metadata().level(),
            target: event.metadata().target().to_owned(),
            fields: fields.0,
        });
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

impl Capture {
    /// heapster's events about `endpoint` at `level` or more important.
    fn about(&self, endpoint: &str, level: Level) -> Vec<Logged> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e.target == "heapster-exporter" && e.level <= level)
            .filter(|e| e.fields.contains(endpoint))
            .cloned()
            .collect()
    }
}

#[test]
fn a_subscriber_sees_one_line_when_exports_start_failing_and_one_when_they_recover() {
    let capture = Capture::default();
    tracing::subscriber::set_global_default(capture.clone()).unwrap();

    let collector = Collector::start(vec![Reply::with_body(400, "nope"); 3]);
    let endpoint = collector.metrics_url();
    let heap = OtelInstruments::new(Stats::new());
    let exporter = OtlpExporterBuilder::new(&heap)
        .with_endpoint(&collector.url())
        .unwrap()
        .build()
        .unwrap();
    let provider = provider(exporter);
    let _registration = heap.register(&provider.meter("heapster-test"));
    for _ in 0..3 {
        assert!(provider.force_flush().is_err());
    }
    // While failing: one warning, whatever the number of failures.
    let failing = capture.about(&endpoint, Level::INFO);
    assert_eq!(failing.len(), 1, "{failing:#?}");
    assert_eq!(failing[0].level, Level::WARN);
    assert!(
        failing[0].fields.starts_with(&format!(
            "message=OTLP exports are failing: collector at {endpoint} answered HTTP 400 Bad \
             Request (nope); heapster keeps exporting at every interval and logs again when an \
             export is delivered "
        )),
        "{failing:#?}"
    );
    assert!(
        failing[0]
            .fields
            .contains("name=OtlpExporter.ExportsFailing")
    );
    // Each failure is there at debug level.
    let debug = capture.about("answered HTTP 400", Level::DEBUG);
    assert_eq!(debug.len(), 1 + 3, "{debug:#?}");

    for _ in 0..3 {
        provider.force_flush().unwrap();
    }
    let logged = capture.about(&endpoint, Level::INFO);
    assert_eq!(
        logged.len(),
        2,
        "one more line, at the first success: {logged:#?}"
    );
    assert_eq!(logged[1].level, Level::INFO);
    assert!(
        logged[1].fields.starts_with(&format!(
            "message=OTLP exports to {endpoint} are delivered again, after 3 failed since "
        )),
        "{logged:#?}"
    );

    // Nobody listening: the warning carries the OS error and the hint.
    let url = nobody_listening();
    let exporter = OtlpExporterBuilder::new(&heap)
        .with_endpoint(&url)
        .unwrap()
        .with_timeout(Duration::from_secs(5))
        .unwrap()
        .build()
        .unwrap();
    let down = support::provider(exporter);
    let _registration = heap.register(&down.meter("heapster-test"));
    assert!(down.force_flush().is_err());
    assert!(down.force_flush().is_err());
    let refused = capture.about(&format!("{url}/v1/metrics"), Level::INFO);
    assert_eq!(refused.len(), 1, "{refused:#?}");
    assert!(
        refused[0].fields.contains(
            "refused the connection (is the collector running and listening there? OTLP/HTTP is \
             usually port 4318): Connection refused"
        ),
        "{refused:#?}"
    );

    // A base endpoint that ends in /v1/metrics: said once, when the exporter is built.
    let doubled = format!("{url}/v1/metrics/v1/metrics");
    let _exporter = OtlpExporterBuilder::new(&heap)
        .with_endpoint(&format!("{url}/v1/metrics"))
        .unwrap()
        .build()
        .unwrap();
    let warned = capture.about(&doubled, Level::INFO);
    assert_eq!(warned.len(), 1, "{warned:#?}");
    assert!(
        warned[0].fields.starts_with(&format!(
            "message=OTLP exports go to {doubled}: endpoint is the base URL, to which \
             /v1/metrics is appended, and it ended in /v1/metrics already; "
        )),
        "{warned:#?}"
    );
}
