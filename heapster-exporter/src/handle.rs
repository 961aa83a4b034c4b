//! [`ExporterHandle`]: the running endpoint started by
//! [`install`](crate::ExporterBuilder::install).

use std::fmt::Debug;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;

use crate::background::{Background, WhenDropped};
use crate::builder::ExporterParts;
use crate::error::Error;
use crate::exposition::Renderer;
use crate::http::{HttpLimits, METRICS_PATH, listener, serve_with_limits};

/// The endpoint started by [`install`](crate::ExporterBuilder::install): its address,
/// and a graceful [`shutdown`](Self::shutdown).
///
/// Dropping the handle does not stop the exporter: it runs until the process exits.
#[derive(Debug)]
pub struct ExporterHandle {
    local_addr: SocketAddr,
    parts: ExporterParts,
    background: Background,
}

impl ExporterHandle {
    pub(crate) fn start(
        listen: Listen,
        limits: HttpLimits,
        parts: ExporterParts,
    ) -> Result<Self, Error> {
        let sampler = Arc::clone(&parts.sampler);
        let handler = parts.handler.clone().with_path(METRICS_PATH)?;
        let mut local_addr = None;
        let background =
            Background::start("heapster-exporter", WhenDropped::KeepRunning, |stopped| {
                let (listener, bound) = listen.bind(listener)?;
                let addr = listener.local_addr().map_err(|source| Error::Bind {
                    addr: bound,
                    source,
                })?;
                local_addr = Some(addr);
                Ok(async move {
                    tokio::select! {
                        () = serve_with_limits(listener, handler, limits, stopped) => {}
                        () = sampler.run() => {}
                    }
                })
            })?;
        let local_addr = local_addr
            .ok_or_else(|| Error::Runtime(io::Error::other("the listener was not started")))?;
        Ok(Self {
            local_addr,
            parts,
            background,
        })
    }

    /// The address the endpoint listens on (with the actual port when port 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The full URL of the metrics, e.g. `http://127.0.0.1:9000/metrics`. Bound to an
    /// unspecified address (`0.0.0.0` or `[::]`, every interface), it names the loopback
    /// address of the same family, where the endpoint answers too (`local_addr` still says
    /// what was bound).
    pub fn url(&self) -> String {
        format!("http://{}{METRICS_PATH}", reachable(self.local_addr))
    }

    /// The parts the endpoint serves: the sampler, the collector, the renderer (the same
    /// exposition without HTTP)...
    pub fn parts(&self) -> &ExporterParts {
        &self.parts
    }

    /// The renderer the endpoint serves: the same exposition without HTTP.
    pub fn renderer(&self) -> &Renderer {
        &self.parts.renderer
    }

    /// Stops accepting connections, lets scrapes in flight finish (for up to 10 s), and waits
    /// for the background thread to end.
    ///
    /// # Errors
    /// [`Error::Runtime`] if the background thread panicked.
    pub fn shutdown(self) -> Result<(), Error> {
        self.background.stop()
    }
}

/// `addr`, with an unspecified IP (which only a listener can use) replaced by the loopback
/// address of the same family, where a listener on every interface answers too.
fn reachable(addr: SocketAddr) -> SocketAddr {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, addr.port())
}

/// Where the endpoint is to listen: what [`ToSocketAddrs`] resolved, or why it did not.
#[derive(Debug)]
pub(crate) enum Listen {
    /// At least one address, in the resolver's order.
    Resolved(Vec<SocketAddr>),
    /// The address as given (its `Debug` form) and the resolver's error.
    Unresolved(String, io::Error),
}

impl Listen {
    /// Resolves `addr` now (a host name with the system's resolver).
    pub(crate) fn resolve(addr: impl ToSocketAddrs + Debug) -> Self {
        match addr.to_socket_addrs().map(Iterator::collect::<Vec<_>>) {
            Ok(addrs) if !addrs.is_empty() => Self::Resolved(addrs),
            Ok(_) => Self::Unresolved(
                format!("{addr:?}"),
                io::Error::new(io::ErrorKind::InvalidInput, "it resolves to no address"),
            ),
            Err(source) => Self::Unresolved(format!("{addr:?}"), source),
        }
    }

    /// Binds the first address that `bind` can bind; the error of the last one otherwise.
    fn bind<L>(self, bind: impl Fn(SocketAddr) -> io::Result<L>) -> Result<(L, SocketAddr), Error> {
        let addrs = match self {
            Self::Resolved(addrs) => addrs,
            Self::Unresolved(addr, source) => return Err(Error::Resolve { addr, source }),
        };
        // `resolve` keeps at least one address, so this is replaced.
        let mut error = Error::Resolve {
            addr: "[]".into(),
            source: io::Error::new(io::ErrorKind::InvalidInput, "it resolves to no address"),
        };
        for addr in addrs {
            match bind(addr) {
                Ok(listener) => return Ok((listener, addr)),
                Err(source) => error = Error::Bind { addr, source },
            }
        }
        Err(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unspecified_address_is_reached_at_loopback() {
        let cases = [
            ("0.0.0.0:9000", "127.0.0.1:9000"),
            ("[::]:9000", "[::1]:9000"),
            ("127.0.0.1:9000", "127.0.0.1:9000"),
            ("192.0.2.7:80", "192.0.2.7:80"),
            ("[2001:db8::1]:80", "[2001:db8::1]:80"),
        ];
        for (bound, url) in cases {
            let bound: SocketAddr = bound.parse().unwrap();
            assert_eq!(reachable(bound).to_string(), url, "{bound}");
        }
    }

    #[test]
    fn resolution_keeps_every_address_or_the_error() {
        let two = [
            SocketAddr::from(([127, 0, 0, 1], 1)),
            SocketAddr::from(([127, 0, 0, 1], 2)),
        ];
        assert!(matches!(Listen::resolve(&two[..]), Listen::Resolved(a) if a == two));
        let none: &[SocketAddr] = &[];
        match Listen::resolve(none) {
            Listen::Unresolved(given, e) => {
                assert_eq!(
                    (given.as_str(), e.kind()),
                    ("[]", io::ErrorKind::InvalidInput)
                );
            }
            other => panic!("{other:?}"),
        }
        match Listen::resolve("127.0.0.1:http") {
            Listen::Unresolved(given, _) => assert_eq!(given, r#""127.0.0.1:http""#),
            other => panic!("{other:?}"),
        }
    }
}
