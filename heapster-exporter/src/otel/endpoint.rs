//! [`Endpoint`] and [`Target`]: where an OTLP export is posted, with which headers, and how
//! long it may take.

use std::time::Duration;

use http::Uri;
use http::header::{HeaderName, HeaderValue};

use super::compression::Compression;
use crate::error::Error;

/// Where the metrics are posted: an `http://` URL with host and port.
#[derive(Clone, Debug)]
pub(crate) struct Endpoint {
    pub(crate) uri: Uri,
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) authority: HeaderValue,
    pub(crate) path: String,
    /// The setting whose base URL already ended in `/v1/metrics`, which was appended again.
    pub(crate) doubled_path: Option<&'static str>,
}

impl Endpoint {
    /// Parses `url` (`http://host[:port]/path`).
    pub(crate) fn parse(setting: &'static str, url: &str) -> Result<Self, Error> {
        let invalid = |reason: String| Error::invalid(setting, format!("{url:?}: {reason}"));
        check_scheme(setting, url)?;
        let uri: Uri = url.trim().parse().map_err(|e| invalid(format!("{e}")))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some("https") => {
                return Err(invalid(
                    "https is not supported (no TLS in heapster-exporter): send to a local collector or agent over http".to_owned(),
                ));
            }
            _ => return Err(invalid("an http:// URL is needed".to_owned())),
        }
        let authority = uri
            .authority()
            .ok_or_else(|| invalid("no host".to_owned()))?;
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        if host.is_empty() {
            return Err(invalid("no host".to_owned()));
        }
        let port = authority.port_u16().unwrap_or(80);
        let authority =
            HeaderValue::from_str(authority.as_str()).map_err(|e| invalid(format!("host: {e}")))?;
        let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
        Ok(Self {
            uri,
            host,
            port,
            authority,
            path,
            doubled_path: None,
        })
    }

    /// The base endpoint `url` with the metrics path `v1/metrics` appended, as the
    /// specification says, even when `url` ends in it already (a common mistake, which
    /// [`doubled_path`](Self::doubled_path) remembers for the hint).
    pub(crate) fn parse_base(setting: &'static str, url: &str) -> Result<Self, Error> {
        check_scheme(setting, url)?;
        let base = url.trim().trim_end_matches('/');
        let mut endpoint = Self::parse(setting, &format!("{base}/v1/metrics"))?;
        if base.ends_with("/v1/metrics") {
            endpoint.doubled_path = Some(setting);
        }
        Ok(endpoint)
    }
}

/// `host:port` is the most common mistake: say to add the scheme.
fn check_scheme(setting: &'static str, url: &str) -> Result<(), Error> {
    if url.contains("://") {
        return Ok(());
    }
    let url = url.trim();
    Err(Error::invalid(
        setting,
        format!("{url:?}: no scheme; add http:// in front (http://{url})"),
    ))
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.uri.fmt(f)
    }
}

/// A request: where, with which extra headers, how long it may take.
#[derive(Clone, Debug)]
pub(crate) struct Target {
    pub(crate) endpoint: Endpoint,
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
    pub(crate) timeout: Duration,
    pub(crate) compression: Compression,
}
