//! [`MetricsHandler`] as a [`tower_service::Service`] (feature `tower`), so that axum's
//! `Router::route_service` and `Router::nest_service`, and any other tower stack, take it as
//! it is.

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;

use crate::http::MetricsHandler;

/// Always ready; each call is [`MetricsHandler::respond`].
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
impl<B> tower_service::Service<Request<B>> for MetricsHandler {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        ready(Ok(self.respond(&request)))
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::pin;
    use std::task::Waker;

    use http::{Method, StatusCode};
    use http_body_util::BodyExt;
    use tower_service::Service;

    use super::*;
    use crate::ExporterBuilder;

    fn handler() -> MetricsHandler {
        let mut stats = heapster::Stats::new();
        stats.allocations = 42;
        ExporterBuilder::new(stats).build().handler
    }

    /// Polls a future that is ready at once.
    fn now<F: Future>(future: F) -> F::Output {
        match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(v) => v,
            Poll::Pending => panic!("not ready"),
        }
    }

    fn call(service: &mut MetricsHandler, method: Method, path: &str) -> (StatusCode, Bytes) {
        let mut cx = Context::from_waker(Waker::noop());
        let ready = Service::<Request<()>>::poll_ready(service, &mut cx);
        assert!(matches!(ready, Poll::Ready(Ok(()))));
        let request = Request::builder()
            .method(method)
            .uri(path)
            .body(())
            .unwrap();
        let Ok(response) = now(service.call(request));
        let status = response.status();
        let Ok(body) = now(response.into_body().collect());
        (status, body.to_bytes())
    }

    #[test]
    fn a_tower_call_answers_as_respond_does() {
        let mut service = handler();
        for path in ["/metrics", "/heap/metrics", "/"] {
            let (status, body) = call(&mut service, Method::GET, path);
            assert_eq!(status, StatusCode::OK, "{path}");
            let text = std::str::from_utf8(&body).unwrap();
            assert!(text.contains("\nheapster_allocations_total 42\n"), "{text}");
        }
        let (status, body) = call(&mut service, Method::HEAD, "/x");
        assert_eq!((status, body.len()), (StatusCode::OK, 0));
        assert_eq!(
            call(&mut service, Method::POST, "/x").0,
            StatusCode::METHOD_NOT_ALLOWED
        );

        let mut only = handler().with_path("/heap/metrics").unwrap();
        assert_eq!(
            call(&mut only, Method::GET, "/heap/metrics").0,
            StatusCode::OK
        );
        let (status, body) = call(&mut only, Method::GET, "/metrics");
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(&body[..], b"not found: metrics are at /heap/metrics\n");
    }
}
