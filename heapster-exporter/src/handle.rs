//! [`ExporterHandle`]: the running endpoint started by
//! [`install`](crate::ExporterBuilder::install).

use std::net::SocketAddr;
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
        listen: SocketAddr,
        limits: HttpLimits,
        parts: ExporterParts,
    ) -> Result<Self, Error> {
        let bind_error = |source| Error::Bind {
            addr: listen,
            source,
        };
        let sampler = Arc::clone(&parts.sampler);
        let handler = parts.handler.clone().with_path(METRICS_PATH)?;
        let mut local_addr = listen;
        let background =
            Background::start("heapster-exporter", WhenDropped::KeepRunning, |stopped| {
                let listener = listener(listen).map_err(bind_error)?;
                local_addr = listener.local_addr().map_err(bind_error)?;
                Ok(async move {
                    tokio::select! {
                        () = serve_with_limits(listener, handler, limits, stopped) => {}
                        () = sampler.run() => {}
                    }
                })
            })?;
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

    /// The full URL of the metrics, e.g. `http://127.0.0.1:9000/metrics`.
    pub fn url(&self) -> String {
        format!("http://{}{METRICS_PATH}", self.local_addr)
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
