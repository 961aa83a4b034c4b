//! The `/metrics` endpoint: [`MetricsHandler`] to mount in any hyper or axum server, and
//! [`serve`], the small HTTP/1.1 server that [`install`](crate::ExporterBuilder::install)
//! runs, within its [`HttpLimits`].

mod connections;
mod limits;

use std::convert::Infallible;
use std::future::{Future, Ready, ready};
use std::time::Duration;

use bytes::Bytes;
use http::header::{ACCEPT, ALLOW, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue, VARY};
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

use crate::exposition::Renderer;
use crate::http::connections::{Connections, Tracked};
pub use crate::http::limits::HttpLimits;
pub(crate) use crate::http::limits::listener;

/// The path the handler serves.
pub const METRICS_PATH: &str = "/metrics";

/// How long a graceful shutdown waits for in-flight scrapes before it drops them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Answers scrapes: `GET` and `HEAD` on `/metrics` in the format negotiated from `Accept`,
/// 404 on other paths, 405 (with `Allow: GET, HEAD`) for other methods.
///
/// It is a [`hyper::service::Service`], and [`respond`](Self::respond) takes any
/// `http::Request`, so it mounts in your own server:
///
/// ```no_run
/// # async fn f(handler: heapster_exporter::MetricsHandler, stream: tokio::net::TcpStream) {
/// use hyper_util::rt::TokioIo;
/// hyper::server::conn::http1::Builder::new()
///     .serve_connection(TokioIo::new(stream), handler)
///     .await
///     .ok();
/// # }
/// // axum: .route("/metrics", get(move |req: Request| async move { handler.respond(&req) }))
/// ```
#[derive(Clone, Debug)]
pub struct MetricsHandler {
    renderer: Renderer,
}

impl MetricsHandler {
    /// A handler that serves what `renderer` renders.
    pub fn new(renderer: Renderer) -> Self {
        Self { renderer }
    }

    /// The renderer behind the handler.
    pub fn renderer(&self) -> &Renderer {
        &self.renderer
    }

    /// The response to `request`. Rendering is synchronous and takes well under a millisecond
    /// for heapster's metrics.
    pub fn respond<B>(&self, request: &Request<B>) -> Response<Full<Bytes>> {
        if request.uri().path() != METRICS_PATH {
            return plain(
                StatusCode::NOT_FOUND,
                "not found: metrics are at /metrics\n",
            );
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
