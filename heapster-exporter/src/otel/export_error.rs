//! [`ExportError`]: what happened to an OTLP export that was not delivered, in words a person
//! can act on, with a hint where the mistake is a common one.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;

use super::endpoint::Endpoint;

type Source = Arc<dyn std::error::Error + Send + Sync>;

/// Why an export to the collector failed (or was only partly accepted). Its
/// [`Display`](fmt::Display) names the collector's URL and what it did, and a hint where the
/// mistake is a common one; [`source`](std::error::Error::source) is the underlying I/O or
/// HTTP error, if any.
///
/// It reaches you as [`Error::Export`](crate::Error::Export), from
/// [`ExportStatus::last_error`](super::ExportStatus::last_error) and
/// [`ExportStatus::shutdown`](super::ExportStatus::shutdown), and in the exporter's log lines.
#[derive(Clone, Debug)]
pub struct ExportError {
    endpoint: String,
    kind: Kind,
    attempts: u32,
    /// Set when the URL repeats `/v1/metrics`: the variable or setting that was given it.
    doubled_path: Option<&'static str>,
    source: Option<Source>,
}

/// What went wrong.
#[derive(Clone, Debug)]
pub(crate) enum Kind {
    /// Nothing listens there.
    Refused,
    /// No connection for another reason (unknown host, unreachable network...).
    Connect,
    /// No complete answer within the export timeout.
    TimedOut(Duration),
    /// The answer was not HTTP/1.x: an HTTP/2 (gRPC) port, or something else entirely.
    NotHttp,
    /// The HTTP exchange broke off.
    Http,
    /// An error status; `gave_up` when a retry would have gone past the export timeout.
    Status {
        status: StatusCode,
        message: String,
        gave_up: Option<Duration>,
    },
    /// The collector accepted the request but rejected some data points.
    Partial { rejected: i64, message: String },
    /// The previous export has not finished.
    Busy,
    /// The exporter was shut down.
    ShutDown,
}

impl ExportError {
    pub(crate) fn new(endpoint: &Endpoint, kind: Kind) -> Self {
        Self {
            endpoint: endpoint.to_string(),
            kind,
            attempts: 1,
            doubled_path: endpoint.doubled_path,
            source: None,
        }
    }

    pub(crate) fn with_source(
        mut self,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        self.source = Some(Arc::from(source.into()));
        self
    }

    pub(crate) fn with_attempts(mut self, attempts: u32) -> Self {
        self.attempts = attempts;
        self
    }

    /// The URL the metrics were posted to.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The collector's HTTP status, if it answered one that was not a success (200 for a
    /// partial success).
    pub fn http_status(&self) -> Option<u16> {
        match &self.kind {
            Kind::Status { status, .. } => Some(status.as_u16()),
            Kind::Partial { .. } => Some(200),
            _ => None,
        }
    }

    /// How many requests this export made: more than 1 when the collector asked to retry
    /// (429, 502, 503, 504).
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The data points the collector rejected in a partial success.
    pub fn rejected_data_points(&self) -> Option<i64> {
        match self.kind {
            Kind::Partial { rejected, .. } => Some(rejected),
            _ => None,
        }
    }

    /// What to check, for the mistakes that are common.
    pub fn hint(&self) -> Option<String> {
        match &self.kind {
            Kind::Refused => Some(
                "is the collector running and listening there? OTLP/HTTP is usually port 4318"
                    .to_owned(),
            ),
            Kind::NotHttp => Some(
                "this looks like an OTLP/gRPC port; heapster speaks OTLP/HTTP, usually port 4318"
                    .to_owned(),
            ),
            Kind::Status { status, .. } if status.is_client_error() => match self.doubled_path {
                Some(setting) => Some(format!(
                    "the URL repeats /v1/metrics: {setting} is the base URL (e.g. \
                         http://localhost:4318), to which /v1/metrics is appended; give the full \
                         URL in OTEL_EXPORTER_OTLP_METRICS_ENDPOINT instead"
                )),
                None if *status == StatusCode::NOT_FOUND
                    && !self.endpoint.ends_with("/v1/metrics") =>
                {
                    Some(
                        "OTLP/HTTP collectors take metrics at /v1/metrics, and a metrics \
                             endpoint is used as is: include the path"
                            .to_owned(),
                    )
                }
                None => None,
            },
            _ => None,
        }
    }
}

impl fmt::Display for ExportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = &self.endpoint;
        match &self.kind {
            Kind::Refused => write!(f, "collector at {at} refused the connection")?,
            Kind::Connect => write!(f, "cannot connect to the collector at {at}")?,
            Kind::TimedOut(timeout) => {
                write!(f, "collector at {at} gave no answer within {timeout:?}")?;
            }
            Kind::NotHttp => write!(f, "collector at {at} did not answer in HTTP/1.1")?,
            Kind::Http => write!(f, "HTTP exchange with the collector at {at} broke off")?,
            Kind::Status {
                status,
                message,
                gave_up,
            } => {
                write!(f, "collector at {at} answered HTTP {status}")?;
                if !message.is_empty() {
                    write!(f, " ({message})")?;
                }
                if let Some(after) = gave_up {
                    write!(
                        f,
                        "; it asked to retry after {after:?}, beyond the export timeout, so the \
                         next export carries the data"
                    )?;
                }
            }
            Kind::Partial { rejected, message } => write!(
                f,
                "collector at {at} accepted the export but rejected {rejected} data points: \
                 {message}"
            )?,
            Kind::Busy => write!(
                f,
                "collector at {at} has not answered the previous export yet; this one is dropped"
            )?,
            Kind::ShutDown => write!(f, "the exporter to {at} is shut down")?,
        }
        if self.attempts > 1 {
            write!(f, " after {} attempts", self.attempts)?;
        }
        if let Some(hint) = self.hint() {
            write!(f, " ({hint})")?;
        }
        Ok(())
    }
}

impl std::error::Error for ExportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// A collector's error body as one short line: printable text only, at most 300 characters.
pub(crate) fn short_message(body: &[u8]) -> String {
    const MAX: usize = 300;
    let text = String::from_utf8_lossy(body);
    let words: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || c.is_control() || c == '\u{fffd}')
        .filter(|w| !w.is_empty())
        .collect();
    let mut out = words.join(" ");
    if out.len() > MAX {
        let cut = (0..=MAX)
            .rev()
            .find(|&i| out.is_char_boundary(i))
            .unwrap_or(0);
        out.truncate(cut);
        out.push_str(" ...");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(setting: Option<&'static str>) -> Endpoint {
        let mut e = Endpoint::parse("endpoint", "http://127.0.0.1:4318/v1/metrics").unwrap();
        e.doubled_path = setting;
        e
    }

    #[test]
    fn messages_name_the_collector_and_the_fix() {
        let refused = ExportError::new(&endpoint(None), Kind::Refused)
            .with_source(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert_eq!(
            refused.to_string(),
            "collector at http://127.0.0.1:4318/v1/metrics refused the connection (is the \
             collector running and listening there? OTLP/HTTP is usually port 4318)"
        );
        assert!(std::error::Error::source(&refused).is_some());
        let status = |code: u16| Kind::Status {
            status: StatusCode::from_u16(code).unwrap(),
            message: "no".to_owned(),
            gave_up: None,
        };
        let doubled = ExportError::new(&endpoint(Some("OTEL_EXPORTER_OTLP_ENDPOINT")), status(404));
        assert!(
            doubled.to_string().starts_with(
                "collector at http://127.0.0.1:4318/v1/metrics answered HTTP 404 Not Found (no) \
                 (the URL repeats /v1/metrics: OTEL_EXPORTER_OTLP_ENDPOINT is the base URL"
            ),
            "{doubled}"
        );
        let root = Endpoint::parse("metrics endpoint", "http://127.0.0.1:4318").unwrap();
        assert_eq!(
            ExportError::new(&root, status(404)).to_string(),
            "collector at http://127.0.0.1:4318/ answered HTTP 404 Not Found (no) (OTLP/HTTP \
             collectors take metrics at /v1/metrics, and a metrics endpoint is used as is: \
             include the path)"
        );
        assert!(
            ExportError::new(&endpoint(None), status(404))
                .hint()
                .is_none()
        );
        let busy = ExportError::new(&endpoint(Some("x")), status(503)).with_attempts(3);
        assert_eq!(
            busy.to_string(),
            "collector at http://127.0.0.1:4318/v1/metrics answered HTTP 503 Service Unavailable \
             (no) after 3 attempts"
        );
        assert_eq!(busy.http_status(), Some(503));
    }

    #[test]
    fn error_bodies_become_one_short_line() {
        assert_eq!(short_message(b"  bad\r\n\x00request \xff "), "bad request");
        assert!(short_message(&[b'a'; 1000]).len() < 310);
    }
}
