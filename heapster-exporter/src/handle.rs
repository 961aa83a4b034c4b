//! [`ExporterHandle`]: the running endpoint started by
//! [`install`](crate::HeapsterExporterBuilder::install).

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;

use tokio::sync::oneshot;

use crate::builder::ExporterParts;
use crate::error::Error;
use crate::exposition::Renderer;
use crate::http::{METRICS_PATH, serve};
use crate::sampler::Sampler;

/// The endpoint started by [`install`](crate::HeapsterExporterBuilder::install): its address,
/// and a graceful [`shutdown`](Self::shutdown).
///
/// Dropping the handle does not stop the exporter: it runs until the process exits.
#[derive(Debug)]
pub struct ExporterHandle {
    local_addr: SocketAddr,
    sampler: Arc<Sampler>,
    renderer: Renderer,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl ExporterHandle {
    pub(crate) fn start(listen: SocketAddr, parts: ExporterParts) -> Result<Self, Error> {
        let bind_error = |source| Error::Bind {
            addr: listen,
            source,
        };
        let listener = std::net::TcpListener::bind(listen).map_err(bind_error)?;
        listener.set_nonblocking(true).map_err(bind_error)?;
        let local_addr = listener.local_addr().map_err(bind_error)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(Error::Runtime)?;
        let listener = {
            let _context = runtime.enter();
            tokio::net::TcpListener::from_std(listener).map_err(bind_error)?
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let sampler = Arc::clone(&parts.sampler);
        let handler = parts.handler.clone();
        let thread = std::thread::Builder::new()
            .name("heapster-exporter".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let shutdown = async {
                        // A dropped handle (no message) leaves the exporter running.
                        if stopped.await.is_err() {
                            std::future::pending::<()>().await;
                        }
                    };
                    tokio::select! {
                        () = serve(listener, handler, shutdown) => {}
                        () = sampler.run() => {}
                    }
                });
            })
            .map_err(Error::Runtime)?;
        Ok(Self {
            local_addr,
            sampler: parts.sampler,
            renderer: parts.renderer,
            stop: Some(stop),
            thread: Some(thread),
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

    /// The sampler the endpoint serves from.
    pub fn sampler(&self) -> &Arc<Sampler> {
        &self.sampler
    }

    /// The renderer the endpoint serves: the same exposition without HTTP.
    pub fn renderer(&self) -> &Renderer {
        &self.renderer
    }

    /// Stops accepting connections, lets scrapes in flight finish (for up to 10 s), and waits
    /// for the background thread to end.
    ///
    /// # Errors
    /// [`Error::Runtime`] if the background thread panicked.
    pub fn shutdown(mut self) -> Result<(), Error> {
        if let Some(stop) = self.stop.take() {
            // The thread may be gone already (it panicked); `join` tells.
            let _ = stop.send(());
        }
        match self.thread.take().map(JoinHandle::join) {
            Some(Err(_)) => Err(Error::Runtime(io::Error::other(
                "the exporter thread panicked",
            ))),
            _ => Ok(()),
        }
    }
}
