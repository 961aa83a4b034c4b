//! Content negotiation: the exposition a scraper's `Accept` header asks for, and the exact
//! `Content-Type` of the answer, by the rules of RFC 9110 (section 12.5.1) and of Prometheus's
//! own client library (`expfmt`) for the exposition media types.

mod accept;

use self::accept::{Range, parse};
use crate::exposition::Format;

/// A metric-name escaping scheme a scraper may ask for with `escaping=` (Prometheus 3).
///
/// heapster's names are plain `[a-zA-Z_:][a-zA-Z0-9_:]*`, so every scheme leaves them as they
/// are; the scheme asked for is echoed in the `Content-Type` of a text format at version 1.0.0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Escaping {
    /// `allow-utf-8`: names are sent as they are.
    AllowUtf8,
    /// `underscores`: characters outside the legacy set become `_` (the default).
    Underscores,
    /// `dots`: `.` becomes `_dot_`, other such characters `_`.
    Dots,
    /// `values`: names with such characters are sent as `U__` and their code points.
    Values,
}

impl Escaping {
    /// The parameter value, e.g. `allow-utf-8`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::AllowUtf8 => "allow-utf-8",
            Self::Underscores => "underscores",
            Self::Dots => "dots",
            Self::Values => "values",
        }
    }

    fn parse(value: &str) -> Option<Self> {
        [Self::AllowUtf8, Self::Underscores, Self::Dots, Self::Values]
            .into_iter()
            .find(|e| e.as_str() == value)
    }
}

/// A representation heapster offers, in the server's order of preference (used only to break
/// ties, such as `*/*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Offer {
    /// `text/plain; version=0.0.4`.
    Text004,
    /// `application/openmetrics-text; version=1.0.0`.
    OpenMetrics100,
    /// `application/openmetrics-text; version=0.0.1`: the same text as 1.0.0.
    OpenMetrics001,
    /// `text/plain; version=1.0.0`: the same text as 0.0.4 (heapster's names need no quoting).
    Text100,
    /// The length-delimited `io.prometheus.client.MetricFamily` protobuf stream.
    #[cfg(feature = "protobuf")]
    Protobuf,
}

impl Offer {
    const ALL: &'static [Self] = &[
        Self::Text004,
        Self::OpenMetrics100,
        Self::OpenMetrics001,
        Self::Text100,
        #[cfg(feature = "protobuf")]
        Self::Protobuf,
    ];

    /// `(type, subtype, the parameters a range must match)`.
    const fn media_type(
        self,
    ) -> (
        &'static str,
        &'static str,
        &'static [(&'static str, &'static str)],
    ) {
        match self {
            Self::Text004 => ("text", "plain", &[("version", "0.0.4")]),
            Self::Text100 => ("text", "plain", &[("version", "1.0.0")]),
            Self::OpenMetrics100 => ("application", "openmetrics-text", &[("version", "1.0.0")]),
            Self::OpenMetrics001 => ("application", "openmetrics-text", &[("version", "0.0.1")]),
            #[cfg(feature = "protobuf")]
            Self::Protobuf => (
                "application",
                "vnd.google.protobuf",
                &[
                    ("proto", "io.prometheus.client.MetricFamily"),
                    ("encoding", "delimited"),
                ],
            ),
        }
    }

    /// The version a range of this media type means when it names none (as `expfmt` reads it).
    fn default_version(kind: (&str, &str)) -> Option<&'static str> {
        match kind {
            ("text", "plain") => Some("0.0.4"),
            ("application", "openmetrics-text") => Some("0.0.1"),
            _ => None,
        }
    }

    /// Whether the answer's `Content-Type` carries `escaping=` (text formats at 1.0.0).
    const fn escapes(self) -> bool {
        matches!(self, Self::OpenMetrics100 | Self::Text100)
    }
}

/// The outcome of negotiation: the [`Format`] to render and the exact `Content-Type` of the
/// answer.
///
/// The quality of each format heapster offers is the `q` of the most specific range of the
/// `Accept` header that matches it (RFC 9110); the format of highest quality above 0 wins, a tie
/// going to the range listed first, then to text 0.0.4, OpenMetrics, text 1.0.0, protobuf in that
/// order. A range matches when its type, subtype and its `version` (`proto`, `encoding`) agree;
/// `text/plain` without a version means 0.0.4 and `application/openmetrics-text` means 0.0.1, as
/// in Prometheus's client library. Malformed ranges are ignored; no header, `*/*`, or a header
/// that accepts nothing offered gives text 0.0.4. A text format at version 1.0.0 echoes the
/// `escaping=` of its range (`underscores` when none or an unknown one was asked).
///
/// ```
/// use heapster_exporter::{Format, Negotiated};
///
/// // Prometheus 3.5 without native histograms:
/// let accept = "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,\
///     application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;\
///     escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
/// let answer = Negotiated::from_accept(Some(accept));
/// assert_eq!(answer.format(), Format::OpenMetrics);
/// assert_eq!(
///     answer.content_type(),
///     "application/openmetrics-text; version=1.0.0; charset=utf-8; escaping=allow-utf-8"
/// );
/// assert_eq!(
///     Negotiated::from_accept(None).content_type(),
///     "text/plain; version=0.0.4; charset=utf-8"
/// );
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Negotiated {
    offer: Offer,
    escaping: Escaping,
}

impl Negotiated {
    /// Negotiates over every format this build has, protobuf included; a
    /// [`Renderer`](crate::Renderer) of a registry of yours does not serve protobuf, so ask it
    /// with [`Renderer::negotiate`](crate::Renderer::negotiate).
    #[must_use]
    pub fn from_accept(accept: Option<&str>) -> Self {
        Self::select(accept, true)
    }

    /// Negotiates; `protobuf` false leaves the protobuf exposition out.
    pub(crate) fn select(accept: Option<&str>, protobuf: bool) -> Self {
        #[cfg(not(feature = "protobuf"))]
        let _ = protobuf;
        let ranges: Vec<Range<'_>> = accept.map(parse).unwrap_or_default();
        // (offer, quality, position of the deciding range); offers in the server's order.
        let mut best: Option<(Offer, u16, usize, Escaping)> = None;
        for &offer in Offer::ALL {
            #[cfg(feature = "protobuf")]
            if offer == Offer::Protobuf && !protobuf {
                continue;
            }
            let Some((position, range)) = ranges
                .iter()
                .enumerate()
                .filter(|(_, r)| r.matches(offer))
                .max_by_key(|(position, r)| (r.specificity(), std::cmp::Reverse(*position)))
            else {
                continue;
            };
            if range.quality == 0 {
                continue;
            }
            let better = best.is_none_or(|(_, quality, at, _)| {
                range.quality > quality || (range.quality == quality && position < at)
            });
            if better {
                let escaping = range.escaping.unwrap_or(Escaping::Underscores);
                best = Some((offer, range.quality, position, escaping));
            }
        }
        let (offer, _, _, escaping) =
            best.unwrap_or((Offer::Text004, 1000, 0, Escaping::Underscores));
        Self { offer, escaping }
    }

    /// The format to render.
    #[must_use]
    pub const fn format(self) -> Format {
        match self.offer {
            Offer::Text004 | Offer::Text100 => Format::PrometheusText,
            Offer::OpenMetrics100 | Offer::OpenMetrics001 => Format::OpenMetrics,
            #[cfg(feature = "protobuf")]
            Offer::Protobuf => Format::Protobuf,
        }
    }

    /// The escaping echoed in the `Content-Type`, for the text formats at version 1.0.0.
    #[must_use]
    pub const fn escaping(self) -> Option<Escaping> {
        if self.offer.escapes() {
            Some(self.escaping)
        } else {
            None
        }
    }

    /// The exact `Content-Type` of the answer.
    #[must_use]
    pub const fn content_type(self) -> &'static str {
        // Indexed by `Escaping as usize`.
        const OPENMETRICS_1_0_0: [&str; 4] = [
            "application/openmetrics-text; version=1.0.0; charset=utf-8; escaping=allow-utf-8",
            "application/openmetrics-text; version=1.0.0; charset=utf-8; escaping=underscores",
            "application/openmetrics-text; version=1.0.0; charset=utf-8; escaping=dots",
            "application/openmetrics-text; version=1.0.0; charset=utf-8; escaping=values",
        ];
        const TEXT_1_0_0: [&str; 4] = [
            "text/plain; version=1.0.0; charset=utf-8; escaping=allow-utf-8",
            "text/plain; version=1.0.0; charset=utf-8; escaping=underscores",
            "text/plain; version=1.0.0; charset=utf-8; escaping=dots",
            "text/plain; version=1.0.0; charset=utf-8; escaping=values",
        ];
        match self.offer {
            Offer::Text004 => "text/plain; version=0.0.4; charset=utf-8",
            Offer::OpenMetrics001 => "application/openmetrics-text; version=0.0.1; charset=utf-8",
            Offer::OpenMetrics100 => OPENMETRICS_1_0_0[self.escaping as usize],
            Offer::Text100 => TEXT_1_0_0[self.escaping as usize],
            #[cfg(feature = "protobuf")]
            Offer::Protobuf => crate::protobuf::CONTENT_TYPE,
        }
    }
}

#[cfg(test)]
mod tests;
