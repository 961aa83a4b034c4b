//! The HTTP transport of [`OtlpExporter`](super::OtlpExporter): one `POST` per attempt, made
//! by hyper on a background thread with a small tokio runtime of its own, so that the SDK's
//! periodic reader (which polls exports with a plain executor) and programs without a runtime
//! work alike.
//!
//! An export is retried as [`retry`](super::retry) says, all attempts within the export
//! timeout. At most one export is in flight: an export that finds the previous one unfinished
//! fails at once, so a slow or absent collector costs one request's memory, never a queue.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use http::header::{CONTENT_ENCODING, CONTENT_TYPE, HOST, RETRY_AFTER, USER_AGENT};
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use tokio::sync::oneshot;

use super::endpoint::Target;
use super::export_error::{ExportError, Kind, short_message};
use super::retry::{Backoff, is_retryable, retry_after};
use crate::background::{Background, WhenDropped};
use crate::error::Error;

/// The content type of OTLP/HTTP with protobuf bodies.
const PROTOBUF: &str = "application/x-protobuf";
/// Response bodies longer than this are cut (they only carry error details).
const MAX_RESPONSE: usize = 64 * 1024;

/// The background thread and its runtime.
#[derive(Debug)]
pub(crate) struct Transport {
    background: Background,
    in_flight: Arc<AtomicBool>,
}

/// A collector's answer.
struct Answer {
    status: StatusCode,
    retry_after: Option<std::time::Duration>,
    body: Bytes,
}

impl Transport {
    pub(crate) fn start() -> Result<Self, Error> {
        // Requests are tasks on the thread's runtime; the thread only waits to be stopped.
        let background = Background::start("heapster-otlp", WhenDropped::Stop, Ok)?;
        Ok(Self {
            background,
            in_flight: Arc::new(AtomicBool::new(false)),
        })
    }

    /// Posts `body` to `target`, retrying as the specification asks; `Ok` with the response
    /// body when the collector answered 2xx.
    pub(crate) async fn post(&self, target: &Target, body: Vec<u8>) -> Result<Bytes, ExportError> {
        let endpoint = &target.endpoint;
        if self.in_flight.swap(true, Ordering::AcqRel) {
            return Err(ExportError::new(endpoint, Kind::Busy));
        }
        let (done, result) = oneshot::channel();
        let in_flight = Arc::clone(&self.in_flight);
        let request = {
            let target = target.clone();
            async move {
                let outcome = post_with_retries(&target, body).await;
                in_flight.store(false, Ordering::Release);
                let _ = done.send(outcome);
            }
        };
        // After shutdown the runtime is gone: the task is dropped and `result` reports it.
        drop(self.background.runtime().spawn(request));
        result.await.unwrap_or_else(|_| {
            self.in_flight.store(false, Ordering::Release);
            Err(ExportError::new(endpoint, Kind::ShutDown))
        })
    }

    /// Stops the background thread (a request in flight is abandoned) and waits for it.
    pub(crate) fn shutdown(&self) -> Result<(), Error> {
        self.background.stop()
    }

    pub(crate) fn is_shut_down(&self) -> bool {
        self.background.is_stopped()
    }
}

/// Sends until the collector accepts, refuses for good, or the export timeout is near.
async fn post_with_retries(target: &Target, body: Vec<u8>) -> Result<Bytes, ExportError> {
    let endpoint = &target.endpoint;
    let deadline = tokio::time::Instant::now() + target.timeout;
    let (body, encoding) = target.compression.encode(body);
    let body = Bytes::from(body);
    let mut backoff = Backoff::new();
    let mut attempts = 0;
    loop {
        attempts += 1;
        let answer = match tokio::time::timeout_at(deadline, send(target, encoding, &body)).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(error)) => return Err(error.with_attempts(attempts)),
            Err(_elapsed) => {
                let error = ExportError::new(endpoint, Kind::TimedOut(target.timeout));
                return Err(error.with_attempts(attempts));
            }
        };
        if answer.status.is_success() {
            return Ok(answer.body);
        }
        let rejected = |gave_up| {
            let kind = Kind::Status {
                status: answer.status,
                message: short_message(&answer.body),
                gave_up,
            };
            ExportError::new(endpoint, kind).with_attempts(attempts)
        };
        if !is_retryable(answer.status) {
            return Err(rejected(None));
        }
        let delay = answer.retry_after.unwrap_or_else(|| backoff.next_delay());
        if Instant::now() + delay >= deadline.into_std() {
            return Err(rejected(answer.retry_after));
        }
        tokio::time::sleep(delay).await;
    }
}

/// One HTTP/1.1 request on a new connection.
async fn send(
    target: &Target,
    encoding: Option<&'static str>,
    body: &Bytes,
) -> Result<Answer, ExportError> {
    let endpoint = &target.endpoint;
    let stream = tokio::net::TcpStream::connect((endpoint.host.as_str(), endpoint.port))
        .await
        .map_err(|e: std::io::Error| {
            let kind = if e.kind() == std::io::ErrorKind::ConnectionRefused {
                Kind::Refused
            } else {
                Kind::Connect
            };
            ExportError::new(endpoint, kind).with_source(e)
        })?;
    // Best effort: a request is one write anyway.
    let _ = stream.set_nodelay(true);
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| exchange_failed(endpoint, e))?;
    let connection = tokio::spawn(connection);
    let mut request = Request::post(endpoint.path.as_str())
        .header(HOST, endpoint.authority.clone())
        .header(CONTENT_TYPE, PROTOBUF)
        .header(
            USER_AGENT,
            concat!("heapster-exporter/", env!("CARGO_PKG_VERSION")),
        );
    if let Some(encoding) = encoding {
        request = request.header(CONTENT_ENCODING, encoding);
    }
    for (name, value) in &target.headers {
        request = request.header(name, value);
    }
    let request = request
        .body(Full::new(body.clone()))
        .map_err(|e| ExportError::new(endpoint, Kind::Http).with_source(e))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| exchange_failed(endpoint, e))?;
    let status = response.status();
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| retry_after(v, SystemTime::now()));
    let body = Limited::new(response.into_body(), MAX_RESPONSE)
        .collect()
        .await
        .map_err(|e| ExportError::new(endpoint, Kind::Http).with_source(e))?
        .to_bytes();
    drop(sender);
    connection.abort();
    Ok(Answer {
        status,
        retry_after,
        body,
    })
}

/// A hyper error, told apart: an answer that is not HTTP/1.x (an HTTP/2 or gRPC port sends
/// a binary frame) gets the hint for it.
fn exchange_failed(endpoint: &super::endpoint::Endpoint, e: hyper::Error) -> ExportError {
    let kind = if not_http(&e) {
        Kind::NotHttp
    } else {
        Kind::Http
    };
    ExportError::new(endpoint, kind).with_source(e)
}

/// Whether the peer did not speak HTTP/1.x: its answer did not parse, or it sent bytes before
/// any request was written (an HTTP/2 or gRPC server sends its SETTINGS frame as soon as it
/// accepts), which hyper reports as a canceled request caused by an unexpected message. Which
/// of the two a gRPC port produces depends on timing.
fn not_http(e: &hyper::Error) -> bool {
    let mut error: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(current) = error {
        if let Some(hyper) = current.downcast_ref::<hyper::Error>() {
            // hyper has no predicate for this kind; its text is part of hyper 1's Display.
            if hyper.is_parse()
                || hyper.is_parse_status()
                || hyper.to_string() == "received unexpected message from connection"
            {
                return true;
            }
        }
        error = current.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use super::*;

    /// The bytes an HTTP/2 server sends first: an empty SETTINGS frame.
    const SETTINGS: [u8; 9] = [0, 0, 0, 4, 0, 0, 0, 0, 0];

    #[test]
    fn a_peer_that_speaks_first_is_not_http() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            stream.write_all(&SETTINGS).unwrap();
            // Until the client hangs up.
            let _ = stream.read(&mut [0; 1]);
        });
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let error = runtime.block_on(async {
            let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
            let (_sender, connection) =
                hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(stream))
                    .await
                    .unwrap();
            // No request is ever written: the connection reads the frame while idle.
            connection.await.expect_err("bytes before any request")
        });
        server.join().unwrap();
        assert!(not_http(&error), "{error:?}");
    }
}
