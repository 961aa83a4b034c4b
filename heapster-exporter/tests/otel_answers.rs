//! `OtlpExporter` against a fake collector that answers what real ones do when they struggle
//! or when the exporter is pointed at the wrong thing: retries as the OTLP specification asks
//! (429, 502, 503, 504 with `Retry-After` or backoff, never past the timeout, nothing else
//! retried), partial successes reported, and each common mistake explained in the error.
#![cfg(feature = "otel")]

mod support;

use std::time::Duration;

use heapster::Stats;
use heapster_exporter::Error;
use heapster_exporter::otel::{
    Compression, ExportError, ExportStatus, OtelInstruments, OtlpExporterBuilder, Registration,
};
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceResponse,
};
use opentelemetry_sdk::metrics::SdkMeterProvider;
use prost::Message;

use support::collector::{Collector, Reply, nobody_listening};
use support::{provider, request_metrics};

/// An exporter to `builder`'s endpoint in a provider that exports when flushed.
struct Setup {
    provider: SdkMeterProvider,
    status: ExportStatus,
    _registration: Registration,
}

impl Setup {
    fn new(configure: impl FnOnce(OtlpExporterBuilder) -> OtlpExporterBuilder) -> Self {
        let heap = OtelInstruments::new(Stats::new());
        let exporter = configure(OtlpExporterBuilder::new(&heap)).build().unwrap();
        let status = exporter.status();
        let provider = provider(exporter);
        let registration = heap.register(&provider.meter("heapster-test"));
        Self {
            provider,
            status,
            _registration: registration,
        }
    }

    fn to(url: &str, timeout: Duration) -> Self {
        Self::new(|b| b.with_endpoint(url).unwrap().with_timeout(timeout).unwrap())
    }

    /// One export; its error, if it failed.
    fn export(&self) -> Option<ExportError> {
        match self.provider.force_flush() {
            Ok(()) => None,
            Err(_) => match self.status.last_error().as_deref() {
                Some(Error::Export(e)) => Some(e.clone()),
                other => panic!("not an export error: {other:?}"),
            },
        }
    }
}

const LONG: Duration = Duration::from_secs(20);

#[test]
fn too_many_requests_is_retried_after_the_delay_the_collector_asks_for() {
    let collector = Collector::start(vec![Reply::retry_after(429, "1")]);
    let setup = Setup::to(&collector.url(), LONG);
    assert!(setup.export().is_none(), "{}", setup.status);
    let seen = collector.seen();
    assert_eq!(seen.len(), 2, "one retry");
    let waited = seen[1].at - seen[0].at;
    assert!(
        waited >= Duration::from_millis(950) && waited < LONG,
        "Retry-After: 1 honoured: {waited:?}"
    );
    assert_eq!((setup.status.succeeded(), setup.status.failed()), (1, 0));

    // An HTTP date two seconds ahead: at least one second (dates have whole seconds).
    let collector = Collector::start(vec![Reply::RetryAfterDate(503, 2)]);
    let setup = Setup::to(&collector.url(), LONG);
    assert!(setup.export().is_none(), "{}", setup.status);
    let seen = collector.seen();
    assert_eq!(seen.len(), 2);
    assert!(seen[1].at - seen[0].at >= Duration::from_millis(950));
}

#[test]
fn overload_is_retried_with_growing_delays_and_gives_up_at_the_timeout() {
    let collector = Collector::start(vec![Reply::with_body(503, "busy"); 50]);
    let setup = Setup::to(&collector.url(), Duration::from_secs(3));
    let error = setup.export().expect("fails: always 503");
    let seen = collector.seen();
    // Backoff 0.25-0.5 s, 0.5-1 s, 1-2 s, 2-4 s: three to five attempts fit in 3 s.
    assert!((3..=5).contains(&seen.len()), "{} attempts", seen.len());
    assert_eq!(error.attempts() as usize, seen.len());
    // Each delay at least half its ceiling: 0.25 s, then 0.5 s, then 1 s.
    let gaps: Vec<Duration> = seen.windows(2).map(|w| w[1].at - w[0].at).collect();
    for (gap, at_least) in gaps.iter().zip([240, 490, 990]) {
        assert!(*gap >= Duration::from_millis(at_least), "growing: {gaps:?}");
    }
    assert_eq!(
        error.to_string(),
        format!(
            "collector at {} answered HTTP 503 Service Unavailable (busy) after {} attempts",
            collector.metrics_url(),
            seen.len()
        )
    );
    assert_eq!(error.http_status(), Some(503));

    // 502 and 504 are retried too, and the export then succeeds.
    let collector = Collector::start(vec![Reply::status(502), Reply::status(504)]);
    let setup = Setup::to(&collector.url(), LONG);
    assert!(setup.export().is_none(), "{}", setup.status);
    assert_eq!(collector.seen().len(), 3);
}

#[test]
fn a_retry_after_beyond_the_timeout_is_not_waited_for() {
    let collector = Collector::start(vec![Reply::retry_after(429, "60")]);
    let setup = Setup::to(&collector.url(), Duration::from_secs(2));
    let error = setup.export().expect("fails");
    assert_eq!(collector.seen().len(), 1);
    assert_eq!(
        error.to_string(),
        format!(
            "collector at {} answered HTTP 429 Too Many Requests; it asked to retry after 60s, \
             beyond the export timeout, so the next export carries the data",
            collector.metrics_url()
        )
    );
}

#[test]
fn other_client_errors_are_not_retried() {
    for (code, text) in [
        (400, "400 Bad Request"),
        (401, "401 Unauthorized"),
        (500, "500 Internal Server Error"),
    ] {
        let collector = Collector::start(vec![Reply::with_body(code, "unknown field\n")]);
        let setup = Setup::to(&collector.url(), LONG);
        let error = setup.export().expect("fails");
        assert_eq!(collector.seen().len(), 1, "{code} is not retried");
        assert_eq!(
            error.to_string(),
            format!(
                "collector at {} answered HTTP {text} (unknown field)",
                collector.metrics_url()
            )
        );
        assert_eq!(error.attempts(), 1);
    }
}

#[test]
fn a_partial_success_is_reported_with_the_rejected_points() {
    let response = ExportMetricsServiceResponse {
        partial_success: Some(ExportMetricsPartialSuccess {
            rejected_data_points: 3,
            error_message: "unit not allowed".to_owned(),
        }),
    };
    let body = response.encode_to_vec();
    let collector = Collector::start(vec![Reply::Status(200, Vec::new(), body)]);
    let setup = Setup::to(&collector.url(), LONG);
    let error = setup.export().expect("reported as a failure");
    assert_eq!(collector.seen().len(), 1, "not retried");
    assert_eq!(error.rejected_data_points(), Some(3));
    assert_eq!(
        error.to_string(),
        format!(
            "collector at {} accepted the export but rejected 3 data points: unit not allowed",
            collector.metrics_url()
        )
    );
}

#[test]
fn an_http2_or_non_http_answer_says_it_looks_like_the_grpc_port() {
    // An HTTP/2 server's first frame (SETTINGS), as a gRPC port sends it, and plain garbage.
    // A gRPC port sends its SETTINGS frame as soon as it accepts: hyper then sees bytes before
    // it sent a request (or reads them as the answer), and either way the hint must come.
    let settings = vec![0, 0, 6, 4, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 100];
    for reply in [
        Reply::Raw(settings.clone()),
        Reply::SpeaksFirst(settings),
        Reply::Raw(b"SSH-2.0-OpenSSH_9.2\r\n".to_vec()),
    ] {
        let collector = Collector::start(vec![reply]);
        let setup = Setup::to(&collector.url(), LONG);
        let error = setup.export().expect("fails");
        assert_eq!(
            error.to_string(),
            format!(
                "collector at {} did not answer in HTTP/1.1 (this looks like an OTLP/gRPC port; \
                 heapster speaks OTLP/HTTP, usually port 4318)",
                collector.metrics_url()
            )
        );
        assert!(
            std::error::Error::source(&error).is_some(),
            "hyper's error kept"
        );
    }
}

#[test]
fn a_slow_body_times_out_with_the_timeout_in_the_message() {
    let collector = Collector::start(vec![Reply::SlowBody]);
    let setup = Setup::to(&collector.url(), Duration::from_millis(500));
    let error = setup.export().expect("fails");
    assert_eq!(
        error.to_string(),
        format!(
            "collector at {} gave no answer within 500ms",
            collector.metrics_url()
        )
    );
}

#[test]
fn a_base_endpoint_that_ends_in_the_metrics_path_gets_a_hint_on_the_404() {
    let collector = Collector::start(vec![Reply::with_body(404, "404 page not found")]);
    let setup = Setup::to(&collector.metrics_url(), LONG);
    let error = setup.export().expect("fails");
    assert_eq!(collector.seen()[0].path, "/v1/metrics/v1/metrics");
    assert_eq!(
        error.to_string(),
        format!(
            "collector at {}/v1/metrics answered HTTP 404 Not Found (404 page not found) (the URL \
             repeats /v1/metrics: endpoint is the base URL (e.g. http://localhost:4318), to \
             which /v1/metrics is appended; give the full URL in \
             OTEL_EXPORTER_OTLP_METRICS_ENDPOINT instead)",
            collector.metrics_url()
        )
    );
}

#[test]
fn nobody_listening_is_explained_and_the_status_says_since_when() {
    let url = nobody_listening();
    let setup = Setup::to(&url, LONG);
    for _ in 0..3 {
        setup.export().expect("fails");
    }
    let error = setup.status.last_error().unwrap();
    let chain = error.chain();
    assert!(
        chain.starts_with(&format!(
            "collector at {url}/v1/metrics refused the connection (is the collector running and \
             listening there? OTLP/HTTP is usually port 4318): "
        )),
        "{chain}"
    );
    let shown = setup.status.to_string();
    assert!(
        shown.starts_with(&chain)
            && shown.contains(" (3 exports failed since ")
            && shown.ends_with(" UTC)"),
        "{shown}"
    );

    // Shutting down: the cause of the final export's failure, not "Failed to shutdown".
    let error = setup.status.shutdown(&setup.provider).unwrap_err();
    assert!(
        error.chain().starts_with(&format!(
            "collector at {url}/v1/metrics refused the connection"
        )),
        "{}",
        error.chain()
    );
    assert!(matches!(error, Error::Export(_)));
}

#[test]
fn a_clean_shutdown_is_ok_and_gzip_bodies_say_so() {
    let collector = Collector::start(Vec::new());
    let setup = Setup::new(|b| {
        b.with_endpoint(&collector.url())
            .unwrap()
            .with_compression(Compression::Gzip)
    });
    assert!(setup.export().is_none());
    setup.status.shutdown(&setup.provider).unwrap();
    let seen = collector.seen();
    assert_eq!(seen.len(), 2, "the flush and the final export");
    assert_eq!(seen[0].header("content-encoding"), Some("gzip"));
    let plain = prost::Message::encoded_len(&seen[0].request());
    println!("gzip: {} of {plain} bytes", seen[0].raw.len());
    assert!(seen[0].raw.len() < plain, "compressed");
    let metrics = request_metrics(&seen[0].request());
    assert!(metrics.contains_key("heapster.allocation.size"));
    assert!(metrics.contains_key("heapster.allocations"));
    assert_eq!(
        setup.status.to_string(),
        format!(
            "exports to {} delivered: 2 (0 failed)",
            collector.metrics_url()
        )
    );
}
