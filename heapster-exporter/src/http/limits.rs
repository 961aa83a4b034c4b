//! [`HttpLimits`]: what one client of the `/metrics` server may cost, and what happens at
//! each limit.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::TokioTimer;
use tokio::net::{TcpListener, TcpSocket};

use crate::error::Error;

/// hyper's smallest read buffer: a connection's buffer never grows past the request-head
/// limit, but never starts smaller than this either.
const HYPER_MIN_BUF: usize = 8 * 1024;

/// How many connections the kernel queues for [`install`](crate::ExporterBuilder::install)'s
/// listener before it accepts them (the kernel caps it at `net.core.somaxconn`). A flood of
/// new connections fills the queue faster than the server accepts them; once it is full,
/// new connections, a scraper's too, wait a second or more for the kernel to retry. The
/// usual 128 fills in a few milliseconds; 1024 holds a burst of several hundred. Queued
/// connections cost kernel memory, not the process's.
const LISTEN_BACKLOG: u32 = 1024;

/// A listener on `addr` with a queue of [`LISTEN_BACKLOG`]. Call within a tokio runtime.
pub(crate) fn listener(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    // As `std::net::TcpListener::bind` does: a restarted program can bind its port again
    // while connections of the previous one linger in TIME_WAIT.
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// The limits of the `/metrics` server ([`serve_with_limits`](crate::serve_with_limits),
/// and [`install`](crate::ExporterBuilder::install) through
/// [`with_http_limits`](crate::ExporterBuilder::with_http_limits)): they bound what
/// the server holds, whatever its clients do, while a scrape still gets an answer.
///
/// | limit | default | at the limit |
/// |---|---|---|
/// | [connections](Self::with_max_connections) | 64 | a new connection closes the one that has waited longest without sending a request |
/// | [header read timeout](Self::with_header_read_timeout) | 5 s | a connection that has not sent a complete request head this long after it opened, or after its previous response (an idle keep-alive connection), is closed |
/// | [request head](Self::with_max_request_head_bytes) | 8 KiB | the request is answered `431` and the connection closed |
///
/// A request head may also carry at most 100 header fields (hyper's fixed limit; more is
/// `431`). Request bodies are never read: `GET` and `HEAD` have none, and other methods are
/// answered `405` and their connection closed.
///
/// Each open connection costs about 18 KiB of heap (hyper's read and write buffers, 8 KiB
/// each, its state and its task), so the default cap bounds the server at about 1.3 MiB
/// however many connections arrive (64, and up to 8 closed ones whose task has yet to be
/// dropped).
///
/// ```
/// use heapster_exporter::HttpLimits;
/// use std::time::Duration;
///
/// let limits = HttpLimits::default()
///     .with_max_connections(16)?
///     .with_header_read_timeout(Duration::from_secs(2))?;
/// assert_eq!(limits.max_connections(), 16);
/// assert_eq!(limits.max_request_head_bytes(), 8 * 1024);
/// # Ok::<(), heapster_exporter::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpLimits {
    max_connections: usize,
    header_read_timeout: Duration,
    max_request_head_bytes: usize,
}

impl HttpLimits {
    /// The default cap on open connections: room for a few scrapers (a Prometheus pair, an
    /// agent) and people with a browser or `curl`, at about 1.2 MiB of heap when all are
    /// open, well within the resident-set growth of 2 MiB that the crate's tests allow.
    pub const DEFAULT_MAX_CONNECTIONS: usize = 64;
    /// The default header read timeout: a scraper sends its request as soon as it connects,
    /// so seconds are plenty. Idle keep-alive connections are closed after it too, so a
    /// scraper with a longer interval opens a new connection per scrape.
    pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);
    /// The default limit on a request head (request line and headers): a scrape's is a few
    /// hundred bytes; a browser's, with cookies for `localhost`, a few KiB.
    pub const DEFAULT_MAX_REQUEST_HEAD_BYTES: usize = HYPER_MIN_BUF;

    /// The defaults (see the table above).
    pub const fn new() -> Self {
        Self {
            max_connections: Self::DEFAULT_MAX_CONNECTIONS,
            header_read_timeout: Self::DEFAULT_HEADER_READ_TIMEOUT,
            max_request_head_bytes: Self::DEFAULT_MAX_REQUEST_HEAD_BYTES,
        }
    }

    /// Sets the cap on open connections (default 64, range 1 to 65,536). At the cap, the
    /// server makes room for each new connection by closing the one that has waited longest
    /// without a complete request: the one whose latest request, or its opening if it has
    /// sent none, is the oldest. A scraper sends its request as soon as it connects, so it
    /// is served, while connections that send nothing, or half a request, are closed oldest
    /// first. Under a flood, a client that takes longer to send its request than the flood
    /// takes to open as many connections as the cap may be closed before it is read.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] outside the range.
    pub fn with_max_connections(mut self, max: usize) -> Result<Self, Error> {
        self.max_connections = in_range("max_connections", max, 1..=65_536)?;
        Ok(self)
    }

    /// Sets how long a connection may take to send a complete request head, counted from
    /// when it opened or from its previous response (default 5 s, range 100 ms to 5 min).
    /// The connection is closed when it runs out; idle keep-alive connections are thereby
    /// closed after this time too.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] outside the range.
    pub fn with_header_read_timeout(mut self, timeout: Duration) -> Result<Self, Error> {
        let range = Duration::from_millis(100)..=Duration::from_secs(300);
        self.header_read_timeout = in_range("header_read_timeout", timeout, range)?;
        Ok(self)
    }

    /// Sets the largest request head (request line and headers) in bytes (default 8 KiB,
    /// range 1 KiB to 64 KiB). A larger head is answered `431 Request Header Fields Too
    /// Large` and the connection closed. A connection's read buffer grows up to this size,
    /// and is 8 KiB at least.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] outside the range.
    pub fn with_max_request_head_bytes(mut self, max: usize) -> Result<Self, Error> {
        self.max_request_head_bytes = in_range("max_request_head_bytes", max, 1024..=64 * 1024)?;
        Ok(self)
    }

    /// The cap on open connections.
    pub const fn max_connections(&self) -> usize {
        self.max_connections
    }

    /// The header read timeout, which is also how long a keep-alive connection may stay idle.
    pub const fn header_read_timeout(&self) -> Duration {
        self.header_read_timeout
    }

    /// The largest request head, in bytes.
    pub const fn max_request_head_bytes(&self) -> usize {
        self.max_request_head_bytes
    }

    /// A hyper connection builder that applies the per-connection limits.
    pub(crate) fn http1(&self) -> http1::Builder {
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(self.header_read_timeout)
            .max_header_size(self.max_request_head_bytes)
            .max_buf_size(self.max_request_head_bytes.max(HYPER_MIN_BUF));
        builder
    }
}

/// `value` if `range` holds it, else the error for `setting`.
fn in_range<T: PartialOrd + fmt::Debug>(
    setting: &'static str,
    value: T,
    range: RangeInclusive<T>,
) -> Result<T, Error> {
    if range.contains(&value) {
        return Ok(value);
    }
    let (low, high) = range.into_inner();
    Err(Error::invalid(
        setting,
        format!("{value:?} is not between {low:?} and {high:?}"),
    ))
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_setter_checks_its_range() {
        let d = HttpLimits::default();
        assert_eq!(d.max_connections(), 64);
        assert_eq!(d.header_read_timeout(), Duration::from_secs(5));
        assert_eq!(d.max_request_head_bytes(), 8192);

        assert!(d.clone().with_max_connections(0).is_err());
        assert!(d.clone().with_max_connections(65_537).is_err());
        assert_eq!(
            d.clone().with_max_connections(1).unwrap().max_connections(),
            1
        );

        assert!(d.clone().with_header_read_timeout(Duration::ZERO).is_err());
        assert!(
            d.clone()
                .with_header_read_timeout(Duration::from_millis(99))
                .is_err()
        );
        assert!(
            d.clone()
                .with_header_read_timeout(Duration::from_secs(301))
                .is_err()
        );
        let t = Duration::from_millis(100);
        assert_eq!(
            d.clone()
                .with_header_read_timeout(t)
                .unwrap()
                .header_read_timeout(),
            t
        );

        assert!(d.clone().with_max_request_head_bytes(1023).is_err());
        assert!(
            d.clone()
                .with_max_request_head_bytes(64 * 1024 + 1)
                .is_err()
        );
        let e = d.clone().with_max_request_head_bytes(0).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid max_request_head_bytes: 0 is not between 1024 and 65536"
        );
    }

    #[test]
    fn a_small_head_limit_keeps_hypers_smallest_buffer() {
        // hyper panics on a buffer below 8 KiB: the builder must never ask for one.
        let limits = HttpLimits::default()
            .with_max_request_head_bytes(1024)
            .unwrap();
        let _ = limits.http1();
    }
}
