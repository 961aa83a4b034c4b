use super::accept::{quality, unquote};
use super::*;

fn answer(accept: &str) -> &'static str {
    Negotiated::from_accept(Some(accept)).content_type()
}

const TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";
const OM: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8; escaping=underscores";

/// The captured headers of Prometheus 2.42 and 3.5.3 in each mode, and their answers.
#[cfg(feature = "protobuf")]
#[test]
fn prometheus_accept_headers_get_their_answers() {
    let fixtures = include_str!("../../tests/fixtures/accept.txt");
    let mut checked = 0;
    let mut accept = None;
    for line in fixtures.lines() {
        if let Some(value) = line.strip_prefix("accept:") {
            accept = Some(value.trim());
        } else if let Some(expected) = line.strip_prefix("answer:") {
            let accept = accept.take().expect("an accept: line before each answer:");
            let header = (!accept.is_empty()).then_some(accept);
            assert_eq!(
                Negotiated::from_accept(header).content_type(),
                expected.trim(),
                "Accept: {accept}"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 7);
}

#[test]
fn no_header_and_wildcards_give_text_0_0_4() {
    assert_eq!(Negotiated::from_accept(None).content_type(), TEXT);
    for accept in ["", "*/*", "text/*", "*/*;q=0.1", " , ,*/*", "text/plain"] {
        assert_eq!(answer(accept), TEXT, "{accept:?}");
    }
    assert_eq!(
        Negotiated::from_accept(None).format(),
        Format::PrometheusText
    );
}

#[test]
fn quality_decides_then_header_order() {
    assert_eq!(
        answer("text/plain;version=0.0.4;q=0.5, application/openmetrics-text;version=1.0.0;q=0.9"),
        OM
    );
    assert_eq!(
        answer("application/openmetrics-text;version=1.0.0;q=0.5, text/plain;version=0.0.4;q=0.9"),
        TEXT
    );
    // Equal quality: the range listed first.
    assert_eq!(
        answer("application/openmetrics-text;version=1.0.0, text/plain"),
        OM
    );
    assert_eq!(
        answer("text/plain, application/openmetrics-text;version=1.0.0"),
        TEXT
    );
    // Three decimals are significant.
    assert_eq!(
        answer("text/plain;q=0.501, application/openmetrics-text;version=1.0.0;q=0.5"),
        TEXT
    );
    assert_eq!(
        answer("text/plain;q=0.5, application/openmetrics-text;version=1.0.0;q=0.501"),
        OM
    );
}

#[test]
fn the_most_specific_range_sets_a_formats_quality() {
    // text/plain is refused explicitly; */* still accepts OpenMetrics.
    assert_eq!(answer("text/plain;q=0, */*"), OM);
    assert_eq!(answer("*/*;q=0.9, text/plain;version=0.0.4;q=0.1"), OM);
    // A specific range outranks a wildcard one for the same format.
    assert_eq!(
        answer(
            "application/*;q=0.2, application/openmetrics-text;version=1.0.0;q=0.8, text/plain;q=0.5"
        ),
        OM
    );
}

#[test]
fn q_zero_and_nothing_acceptable_fall_back_to_text() {
    for accept in [
        "application/openmetrics-text;version=1.0.0;q=0",
        "*/*;q=0",
        "application/json",
        "application/openmetrics-text;version=2.0.0",
        "text/plain;version=9.9.9",
    ] {
        assert_eq!(answer(accept), TEXT, "{accept:?}");
    }
}

#[test]
fn malformed_ranges_are_ignored() {
    for bad in [
        "application/openmetrics-text;version=1.0.0;q=2",
        "application/openmetrics-text;version=1.0.0;q=0.1234",
        "application/openmetrics-text;version=1.0.0;q=1.5",
        "application/openmetrics-text;version=1.0.0;q=",
        "application/openmetrics-text;version=1.0.0;q=abc",
        "application/openmetrics-text;version",
        "application/openmetrics-text;version=\"1.0.0",
        "*/openmetrics-text;version=1.0.0",
        "application/openmetrics text;version=1.0.0",
        ";;;,,=q=,",
    ] {
        assert_eq!(answer(bad), TEXT, "{bad:?}");
    }
    // A malformed range does not spoil the well-formed ones.
    assert_eq!(
        answer("a/b;q=9, application/openmetrics-text;version=1.0.0;q=0.2"),
        OM
    );
}

#[test]
fn versions_follow_the_client_library_defaults() {
    // OpenMetrics without a version means 0.0.1, answered as such (the same text).
    assert_eq!(
        answer("application/openmetrics-text"),
        "application/openmetrics-text; version=0.0.1; charset=utf-8"
    );
    assert_eq!(
        Negotiated::from_accept(Some("application/openmetrics-text")).format(),
        Format::OpenMetrics
    );
    assert_eq!(answer("Application/OpenMetrics-Text; Version=1.0.0"), OM);
    assert_eq!(
        answer("application/openmetrics-text; version=\"1.0.0\""),
        OM
    );
    assert_eq!(
        answer("text/plain;version=1.0.0"),
        "text/plain; version=1.0.0; charset=utf-8; escaping=underscores"
    );
    assert_eq!(
        Negotiated::from_accept(Some("text/plain;version=1.0.0")).format(),
        Format::PrometheusText
    );
}

#[test]
fn escaping_is_echoed_at_version_1_0_0_only() {
    for (scheme, escaping) in [
        ("allow-utf-8", Escaping::AllowUtf8),
        ("underscores", Escaping::Underscores),
        ("dots", Escaping::Dots),
        ("values", Escaping::Values),
    ] {
        let om = Negotiated::from_accept(Some(&format!(
            "application/openmetrics-text;version=1.0.0;escaping={scheme}"
        )));
        assert_eq!(om.escaping(), Some(escaping));
        assert_eq!(
            om.content_type(),
            format!(
                "application/openmetrics-text; version=1.0.0; charset=utf-8; escaping={scheme}"
            )
        );
        let text =
            Negotiated::from_accept(Some(&format!("text/plain;version=1.0.0;escaping={scheme}")));
        assert_eq!(
            text.content_type(),
            format!("text/plain; version=1.0.0; charset=utf-8; escaping={scheme}")
        );
        // Not at 0.0.4.
        let old =
            Negotiated::from_accept(Some(&format!("text/plain;version=0.0.4;escaping={scheme}")));
        assert_eq!((old.content_type(), old.escaping()), (TEXT, None));
    }
    // An unknown scheme is ignored.
    assert_eq!(
        answer("application/openmetrics-text;version=1.0.0;escaping=rot13"),
        OM
    );
    // The escaping of the range that decided, not of another one.
    assert_eq!(
        answer(
            "text/plain;version=1.0.0;escaping=dots;q=0.1, \
             application/openmetrics-text;version=1.0.0;escaping=allow-utf-8"
        ),
        "application/openmetrics-text; version=1.0.0; charset=utf-8; escaping=allow-utf-8"
    );
}

#[test]
fn quoted_strings_may_hold_separators() {
    assert_eq!(
        answer("text/x;a=\"1,2;3\";q=1, application/openmetrics-text;version=1.0.0"),
        OM
    );
    assert_eq!(unquote("\"a\\\"b\"").as_deref(), Some("a\"b"));
    assert_eq!(unquote("\"a\"b\""), None);
}

#[cfg(feature = "protobuf")]
#[test]
fn protobuf_only_as_prometheus_asks_for_it() {
    let proto = "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited";
    assert_eq!(
        answer(
            "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"
        ),
        proto
    );
    assert_eq!(
        Negotiated::from_accept(Some(proto)).format(),
        Format::Protobuf
    );
    for other in [
        "application/vnd.google.protobuf",
        "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily",
        "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=text",
    ] {
        assert_eq!(answer(other), TEXT, "{other:?}");
    }
    // Left out when the renderer cannot serve it.
    let accept = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8";
    assert_eq!(Negotiated::select(Some(accept), false).content_type(), OM);
    assert_eq!(Negotiated::select(Some(accept), true).content_type(), proto);
}

#[test]
fn qvalues() {
    assert_eq!(quality("1"), Some(1000));
    assert_eq!(quality("1.000"), Some(1000));
    assert_eq!(quality("1."), Some(1000));
    assert_eq!(quality("0.5"), Some(500));
    assert_eq!(quality("0.05"), Some(50));
    assert_eq!(quality("0.001"), Some(1));
    assert_eq!(quality("0"), Some(0));
    assert_eq!(quality("0."), Some(0));
    for bad in ["1.001", "2", "0.0001", "-0", ".5", "", "0.a", "00.5"] {
        assert_eq!(quality(bad), None, "{bad:?}");
    }
}
