//! One request with hyper's HTTP/1.1 client on a fresh connection: the real client that the
//! HTTP tests of heapster-exporter and of the examples (which include this file) send with.

#![allow(dead_code, reason = "each test binary uses a part of this module")]

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;

/// A whole response.
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl Reply {
    /// The body as text; panics unless it is UTF-8.
    pub(crate) fn text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("a text body")
    }

    /// The `Content-Type` header; panics without one.
    pub(crate) fn content_type(&self) -> &str {
        self.headers[CONTENT_TYPE]
            .to_str()
            .expect("a visible ASCII header")
    }
}

/// `method path` to `addr` on a new connection, with `accept` (any bytes) as the `Accept`
/// header when given.
pub(crate) async fn fetch(
    addr: SocketAddr,
    method: Method,
    path: &str,
    accept: Option<&[u8]>,
) -> Reply {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(connection);
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr.to_string());
    if let Some(accept) = accept {
        request = request.header(ACCEPT, HeaderValue::from_bytes(accept).unwrap());
    }
    let response = sender
        .send_request(request.body(Empty::<Bytes>::new()).unwrap())
        .await
        .expect("a response");
    let (parts, body) = response.into_parts();
    Reply {
        status: parts.status,
        headers: parts.headers,
        body: body.collect().await.expect("the body").to_bytes(),
    }
}
