//! What the handler answers each real Prometheus `Accept` header (the fixtures in
//! `tests/fixtures/accept.txt`), for the builder's own registry and for a registry of yours, and
//! that each body is in the format its `Content-Type` names.
#![cfg(feature = "http")]

use heapster::Stats;
use heapster_exporter::ExporterBuilder;
use heapster_exporter::prometheus_client::registry::Registry;
use http::Request;
use http::header::{ACCEPT, CONTENT_TYPE};
use http_body_util::BodyExt;

/// `(who, accept, answer)` of every fixture.
fn fixtures() -> Vec<(String, String, String)> {
    let text = include_str!("fixtures/accept.txt");
    let mut out = Vec::new();
    let (mut who, mut accept) = (String::new(), String::new());
    for line in text.lines() {
        if let Some(w) = line.strip_prefix("# ") {
            who = w.to_owned();
        } else if let Some(a) = line.strip_prefix("accept:") {
            accept = a.trim().to_owned();
        } else if let Some(answer) = line.strip_prefix("answer:") {
            out.push((who.clone(), accept.clone(), answer.trim().to_owned()));
        }
    }
    assert_eq!(out.len(), 7);
    out
}

/// `(Content-Type, body)` of a GET /metrics with `accept` (none when empty).
async fn get(handler: &heapster_exporter::MetricsHandler, accept: &str) -> (String, Vec<u8>) {
    let mut request = Request::get("/metrics");
    if !accept.is_empty() {
        request = request.header(ACCEPT, accept);
    }
    let response = handler.respond(&request.body(()).unwrap());
    assert_eq!(response.status(), 200);
    let content_type = response.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_owned();
    let body = response
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    (content_type, body)
}

fn check_body(content_type: &str, body: &[u8]) {
    if content_type.starts_with("application/vnd.google.protobuf") {
        // Length-delimited messages: the first varint is the length of the first family.
        assert!(body.len() > 2 && usize::from(body[0] & 0x7f) < body.len());
        assert!(!body.starts_with(b"#"));
    } else {
        let text = std::str::from_utf8(body).unwrap();
        assert!(text.starts_with("# HELP "), "{text}");
        assert_eq!(
            content_type.starts_with("application/openmetrics-text"),
            text.ends_with("# EOF\n"),
            "{content_type}"
        );
    }
}

#[tokio::test]
async fn the_builders_registry_answers_every_prometheus_as_the_fixtures_say() {
    let parts = ExporterBuilder::new(Stats::new()).build();
    assert_eq!(parts.renderer.serves_protobuf(), cfg!(feature = "protobuf"));
    for (who, accept, answer) in fixtures() {
        let (content_type, body) = get(&parts.handler, &accept).await;
        if cfg!(feature = "protobuf") || !answer.contains("protobuf") {
            assert_eq!(content_type, answer, "{who}");
        }
        check_body(&content_type, &body);
        // Start timestamps in OpenMetrics.
        let openmetrics = content_type.starts_with("application/openmetrics-text");
        let created = String::from_utf8_lossy(&body).contains("\nheapster_allocations_created ");
        assert_eq!(openmetrics, created, "{who}: {content_type}");
    }
}

#[tokio::test]
async fn a_registry_of_yours_is_never_answered_in_protobuf() {
    let parts = ExporterBuilder::new(Stats::new())
        .with_registry(Registry::with_prefix("app"))
        .build();
    assert!(!parts.renderer.serves_protobuf());
    for (who, accept, answer) in fixtures() {
        let (content_type, body) = get(&parts.handler, &accept).await;
        assert!(!content_type.contains("protobuf"), "{who}: {content_type}");
        if !answer.contains("protobuf") {
            assert_eq!(content_type, answer, "{who}");
        } else {
            // Native histograms asked: the next choice of the header, OpenMetrics.
            assert!(content_type.starts_with("application/openmetrics-text; version=1.0.0"));
        }
        check_body(&content_type, &body);
        // Yours has no start timestamps: heapster cannot tell its series from yours.
        assert!(
            !String::from_utf8_lossy(&body).contains("_created"),
            "{who}"
        );
    }
}
