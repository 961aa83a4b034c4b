//! The HTTP transport of [`OtlpExporter`](super::OtlpExporter): one `POST` per export, made
//! by hyper on a background thread with a small tokio runtime of its own, so that the SDK's
//! periodic reader (which polls exports with a plain executor) and programs without a runtime
//! work alike.
//!
//! At most one request is in flight: an export that finds the previous one unfinished fails at
//! once, so a slow collector costs one request's memory, never a queue.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HOST, HeaderName, HeaderValue, USER_AGENT};
use http::{Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use tokio::sync::oneshot;

use crate::error::Error;

/// The content type of OTLP/HTTP with protobuf bodies.
const PROTOBUF: &str = "application/x-protobuf";
/// Response bodies longer than this are cut (they only carry error details).
const MAX_RESPONSE: usize = 64 * 1024;

/// Where the metrics are posted: an `http://` URL with host and port.
#[derive(Clone, Debug)]
pub(crate) struct Endpoint {
    pub(crate) uri: Uri,
    host: String,
    port: u16,
    authority: HeaderValue,
    path: String,
}

impl Endpoint {
    /// Parses `url` (`http://host[:port]/path`).
    pub(crate) fn parse(setting: &'static str, url: &str) -> Result<Self, Error> {
        let invalid = |reason: String| Error::invalid(setting, format!("{url:?}: {reason}"));
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
        })
    }

    /// The base endpoint `url` with the metrics path `v1/metrics` appended.
    pub(crate) fn parse_base(setting: &'static str, url: &str) -> Result<Self, Error> {
        let base = url.trim().trim_end_matches('/');
        Self::parse(setting, &format!("{base}/v1/metrics"))
    }
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
}

/// The background thread and its runtime.
#[derive(Debug)]
pub(crate) struct Transport {
    handle: tokio::runtime::Handle,
    stop: Mutex<Option<oneshot::Sender<()>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    in_flight: Arc<AtomicBool>,
}

impl Transport {
    pub(crate) fn start() -> Result<Self, Error> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(Error::Runtime)?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("heapster-otlp".into())
            .spawn(move || {
                runtime.block_on(async {
                    // A dropped sender (the exporter is gone) stops the thread too.
                    let _ = stopped.await;
                });
            })
            .map_err(Error::Runtime)?;
        Ok(Self {
            handle,
            stop: Mutex::new(Some(stop)),
            thread: Mutex::new(Some(thread)),
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
        drop(self.handle.spawn(request));
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
        let stop = self
            .stop
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(stop) = stop {
            let _ = stop.send(());
        }
        let thread = self
            .thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        match thread.map(JoinHandle::join) {
            Some(Err(_)) => Err(Error::Runtime(io::Error::other(
                "the OTLP exporter thread panicked",
            ))),
            _ => Ok(()),
        }
    }

    pub(crate) fn is_shut_down(&self) -> bool {
        self.stop
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_none()
    }
}

impl Drop for Transport {
    fn drop(&mut self) {
        if let Some(stop) = self
            .stop
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            let _ = stop.send(());
        }
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
