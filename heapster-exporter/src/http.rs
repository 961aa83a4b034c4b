//! The `/metrics` endpoint: [`MetricsHandler`] to mount in any hyper or axum server, and
//! [`serve`], the small HTTP/1.1 server that [`install`](crate::ExporterBuilder::install)
//! runs, within its [`HttpLimits`].

mod connections;
mod limits;

use std::convert::Infallible;
use std::future::{Future, Ready, ready};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{ACCEPT, ALLOW, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue, VARY};
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

use crate::error::Error;
use crate::exposition::Renderer;
use crate::http::connections::{Connections, Tracked};
pub use crate::http::limits::HttpLimits;
pub(crate) use crate::http::limits::listener;

/// The path [`install`](crate::ExporterBuilder::install) serves the metrics at.
pub const METRICS_PATH: &str = "/metrics";

/// How long a graceful shutdown waits for in-flight scrapes before it drops them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Answers scrapes: `GET` and `HEAD` in the format negotiated from `Accept`, 405 (with
/// `Allow: GET, HEAD`) for other methods.
///
/// It answers on whatever path it is mounted at, so a router decides where the metrics live
/// (`/metrics`, `/heap/metrics`, a nested service...). [`with_path`](Self::with_path) makes it
/// answer at one path only, with 404 elsewhere, for a server of its own: that is what
/// [`install`](crate::ExporterBuilder::install) serves, at [`METRICS_PATH`].
///
/// It is a [`hyper::service::Service`], a `tower::Service` with the feature `tower` (so axum's
/// `Router::route_service` and `nest_service` take it as it is, see `examples/axum.rs`), and
/// [`respond`](Self::respond) takes any `http::Request`:
///
/// ```no_run
/// # async fn f(handler: heapster_exporter::MetricsHandler, stream: tokio::net::TcpStream) -> Result<(), heapster_exporter::Error> {
/// use heapster_exporter::METRICS_PATH;
/// use hyper_util::rt::TokioIo;
/// hyper::server::conn::http1::Builder::new()
///     .serve_connection(TokioIo::new(stream), handler.with_path(METRICS_PATH)?)
///     .await
///     .ok();
/// # Ok(()) }
/// // axum (feature `tower`): Router::new().route_service("/metrics", handler)
/// ```
#[doc(alias = "axum", alias = "tower", alias = "route_service")]
#[derive(Clone, Debug)]
pub struct MetricsHandler {
    renderer: Renderer,
    /// The only path answered, or `None` for every path.
    path: Option<Arc<str>>,
}

impl MetricsHandler {
    /// A handler that serves what `renderer` renders, on every path.
    pub fn new(renderer: Renderer) -> Self {
        Self {
            renderer,
            path: None,
        }
    }

    /// The same handler, answering only at `path` (compared with the request's path, the
    /// query string left out) and 404 elsewhere: for a server that serves nothing else.
    ///
    /// ```
    /// # #[cfg(feature = "http")] {
    /// use heapster_exporter::ExporterBuilder;
    ///
    /// let handler = ExporterBuilder::new(heapster::Stats::new()).build().handler;
    /// let get = |path| http::Request::get(path).body(()).unwrap();
    /// assert_eq!(handler.respond(&get("/heap/metrics")).status(), 200); // any path
    /// let only = handler.with_path("/heap/metrics")?;
    /// assert_eq!(only.respond(&get("/heap/metrics?x=1")).status(), 200);
    /// assert_eq!(only.respond(&get("/metrics")).status(), 404);
    /// assert!(only.clone().with_path("metrics").is_err());
    /// # }
    /// # Ok::<(), heapster_exporter::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] unless `path` starts with `/` and has no `?` or `#`.
    pub fn with_path(mut self, path: impl Into<Arc<str>>) -> Result<Self, Error> {
        let path = path.into();
        if !path.starts_with('/') || path.contains(['?', '#']) {
            return Err(Error::invalid(
                "metrics path",
                format!("{path:?} is not an absolute path such as \"/metrics\""),
            ));
        }
        self.path = Some(path);
        Ok(self)
    }

    /// The only path the handler answers at, or `None` when it answers on every path.
    pub fn path(&self) -> Option<&str> {
        self.path.as_deref()
    }

    /// The renderer behind the handler.
    pub fn renderer(&self) -> &Renderer {
        &self.renderer
    }

    /// The response to `request`. Rendering is synchronous and takes well under a millisecond
    /// for heapster's metrics.
    pub fn respond<B>(&self, request: &Request<B>) -> Response<Full<Bytes>> {
        match self.path.as_deref() {
            Some(path) if request.uri().path() != path => {
                return plain(
                    StatusCode::NOT_FOUND,
                    format!("not found: metrics are at {path}\n"),
                );
            }
            _ => {}
        }
        let head = request.method() == Method::HEAD;
        if !head && request.method() != Method::GET {
            let mut response = plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
            response
                .headers_mut()
                .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
            return response;
        }
        let accept = request.headers().get(ACCEPT).and_then(|v| v.to_str().ok());
        let negotiated = self.renderer.negotiate(accept);
        let body = match self.renderer.render(negotiated.format()) {
            Ok(body) => body,
            Err(e) => {
                return plain(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("cannot render the metrics: {e}\n"),
                );
            }
        };
        let length = body.len();
        let mut response = Response::new(Full::new(if head {
            Bytes::new()
        } else {
            Bytes::from(body)
        }));
        let headers = response.headers_mut();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static(negotiated.content_type()),
        );
        headers.insert(CONTENT_LENGTH, HeaderValue::from(length));
        headers.insert(VARY, HeaderValue::from_static("Accept"));
        response
    }
}

impl<B> hyper::service::Service<Request<B>> for MetricsHandler {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn call(&self, request: Request<B>) -> Self::Future {
        ready(Ok(self.respond(&request)))
    }
}

fn plain(status: StatusCode, text: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(text.into()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// Serves `handler` on `listener` (HTTP/1.1, keep-alive) within the default [`HttpLimits`]
/// until `shutdown` completes, then stops accepting and lets in-flight scrapes finish (for up
/// to 10 s). See [`serve_with_limits`].
///
/// The handler decides which paths it answers:
/// [`install`](crate::ExporterBuilder::install) serves `handler.with_path(METRICS_PATH)`.
pub async fn serve(
    listener: TcpListener,
    handler: MetricsHandler,
    shutdown: impl Future<Output = ()>,
) {
    serve_with_limits(listener, handler, HttpLimits::default(), shutdown).await;
}

/// Serves `handler` on `listener` (HTTP/1.1, keep-alive) within `limits` until `shutdown`
/// completes, then stops accepting and lets in-flight scrapes finish (for up to 10 s).
///
/// At the connection cap, each new connection closes the one that has waited longest
/// without a complete request, so a scrape is answered however many connections are held
/// open (see [`HttpLimits`]).
///
/// Run it on your own tokio runtime if you have one; [`install`](crate::ExporterBuilder::install)
/// runs it on a thread of its own. Errors accepting a connection (such as running out of file
/// descriptors) are survived: the server pauses briefly and accepts again.
pub async fn serve_with_limits(
    listener: TcpListener,
    handler: MetricsHandler,
    limits: HttpLimits,
    shutdown: impl Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    let http = limits.http1();
    let connections = Connections::new(limits.max_connections());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _peer)) => stream,
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                connections.make_room().await;
                let slot = connections.open();
                let id = slot.id();
                let service = Tracked::new(handler.clone(), slot);
                let connection = http.serve_connection(TokioIo::new(stream), service);
                let connection = graceful.watch(connection);
                let task = tokio::spawn(async move {
                    // A client that goes away mid-request is its own problem, not ours.
                    let _ = connection.await;
                });
                connections.attach(id, task.abort_handle());
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(SHUTDOWN_GRACE) => {}
    }
}
