//! The HTTP transport of [`OtlpExporter`](super::OtlpExporter): one `POST` per export, made
//! by hyper on a background thread with a small tokio runtime of its own, so that the SDK's
//! periodic reader (which polls exports with a plain executor) and programs without a runtime
//! work alike.
//!
//! At most one request is in flight: an export that finds the previous one unfinished fails at
//! once, so a slow collector costs one request's memory, never a queue.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HOST, USER_AGENT};
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use tokio::sync::oneshot;

use super::endpoint::Target;
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

impl Transport {
    pub(crate) fn start() -> Result<Self, Error> {
        // Requests are tasks on the thread's runtime; the thread only waits to be stopped.
        let background = Background::start("heapster-otlp", WhenDropped::Stop, Ok)?;
        Ok(Self {
            background,
            in_flight: Arc::new(AtomicBool::new(false)),
        })
    }

    /// Posts `body` to `target`; `Ok` with the response body when the collector answered 2xx.
    pub(crate) async fn post(&self, target: &Target, body: Vec<u8>) -> Result<Bytes, Error> {
        let failed = |source: Box<dyn std::error::Error + Send + Sync>| Error::Export {
            endpoint: target.endpoint.to_string(),
            source,
        };
        if self.in_flight.swap(true, Ordering::AcqRel) {
            return Err(failed(
                "the previous export to this collector has not finished; this one is dropped"
                    .into(),
            ));
        }
        let (done, result) = oneshot::channel();
        let in_flight = Arc::clone(&self.in_flight);
        let request = {
            let target = target.clone();
            async move {
                let outcome =
                    tokio::time::timeout(target.timeout, send(&target, Bytes::from(body))).await;
                in_flight.store(false, Ordering::Release);
                let _ = done.send(outcome);
            }
        };
        // After shutdown the runtime is gone: the task is dropped and `result` reports it.
        drop(self.background.runtime().spawn(request));
        let response = match result.await {
            Ok(Ok(Ok(response))) => response,
            Ok(Ok(Err(source))) => return Err(failed(source)),
            Ok(Err(_elapsed)) => {
                return Err(failed(Box::new(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("no answer within {:?}", target.timeout),
                ))));
            }
            Err(_) => {
                self.in_flight.store(false, Ordering::Release);
                return Err(failed("the exporter is shut down".into()));
            }
        };
        let (status, body) = response;
        if status.is_success() {
            Ok(body)
        } else {
            Err(Error::Rejected {
                endpoint: target.endpoint.to_string(),
                status: status.as_u16(),
                message: String::from_utf8_lossy(&body[..body.len().min(512)])
                    .trim()
                    .to_owned(),
            })
        }
    }

    /// Stops the background thread (a request in flight is abandoned) and waits for it.
    pub(crate) fn shutdown(&self) -> Result<(), Error> {
        self.background.stop()
    }

    pub(crate) fn is_shut_down(&self) -> bool {
        self.background.is_stopped()
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// One HTTP/1.1 request on a new connection.
async fn send(target: &Target, body: Bytes) -> Result<(StatusCode, Bytes), BoxError> {
    let endpoint = &target.endpoint;
    let stream = tokio::net::TcpStream::connect((endpoint.host.as_str(), endpoint.port)).await?;
    stream.set_nodelay(true)?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    let connection = tokio::spawn(connection);
    let mut request = Request::post(endpoint.path.as_str())
        .header(HOST, endpoint.authority.clone())
        .header(CONTENT_TYPE, PROTOBUF)
        .header(
            USER_AGENT,
            concat!("heapster-exporter/", env!("CARGO_PKG_VERSION")),
        );
    for (name, value) in &target.headers {
        request = request.header(name, value);
    }
    let response = sender.send_request(request.body(Full::new(body))?).await?;
    let status = response.status();
    let body = Limited::new(response.into_body(), MAX_RESPONSE)
        .collect()
        .await?
        .to_bytes();
    drop(sender);
    connection.abort();
    Ok((status, body))
}
