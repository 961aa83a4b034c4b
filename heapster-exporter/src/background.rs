//! [`Background`]: a future run on a thread of its own, with a single-threaded tokio runtime,
//! until it is stopped.
//!
//! The `/metrics` endpoint and the OTLP transport both run this way, so that programs with or
//! without a runtime of their own (and the OpenTelemetry SDK's periodic reader, which polls
//! exports with a plain executor) work alike.

// Only the OTLP transport spawns tasks and stops on drop.
#![cfg_attr(not(feature = "otel"), allow(dead_code))]

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};
use std::task::{Context, Poll};
use std::thread::JoinHandle;

use tokio::sync::oneshot;

use crate::error::Error;

/// What dropping a [`Background`] without [`stop`](Background::stop) does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WhenDropped {
    /// The future keeps running until the process exits.
    KeepRunning,
    /// The future is told to stop, as by [`stop`](Background::stop), but nobody waits.
    Stop,
}

/// A thread running one future on its own runtime. Other tasks may be spawned on that runtime
/// through [`runtime`](Self::runtime).
#[derive(Debug)]
pub(crate) struct Background {
    name: &'static str,
    runtime: tokio::runtime::Handle,
    stop: Mutex<Option<oneshot::Sender<()>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// Completes when the [`Background`] running the future is stopped (or, with
/// [`WhenDropped::Stop`], dropped).
#[derive(Debug)]
pub(crate) struct Stopped {
    receiver: oneshot::Receiver<()>,
    when_dropped: WhenDropped,
}

impl Future for Stopped {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match Pin::new(&mut self.receiver).poll(cx) {
            Poll::Ready(Ok(())) => Poll::Ready(()),
            // The `Background` was dropped: its sender is gone and will never wake us again.
            Poll::Ready(Err(_)) if self.when_dropped == WhenDropped::KeepRunning => Poll::Pending,
            Poll::Ready(Err(_)) => Poll::Ready(()),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Background {
    /// Builds a runtime, calls `make` within it (so that `make` may register sockets with it
    /// and fail before anything runs), and runs the future `make` returns on a new thread
    /// named `name`. The future gets a [`Stopped`] to watch.
    ///
    /// # Errors
    /// What `make` returns, or [`Error::Runtime`] when the runtime or thread cannot be started.
    pub(crate) fn start<F>(
        name: &'static str,
        when_dropped: WhenDropped,
        make: impl FnOnce(Stopped) -> Result<F, Error>,
    ) -> Result<Self, Error>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(Error::Runtime)?;
        let (stop, receiver) = oneshot::channel();
        let future = {
            let _context = runtime.enter();
            make(Stopped {
                receiver,
                when_dropped,
            })?
        };
        let handle = runtime.handle().clone();
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || runtime.block_on(future))
            .map_err(Error::Runtime)?;
        Ok(Self {
            name,
            runtime: handle,
            stop: Mutex::new(Some(stop)),
            thread: Mutex::new(Some(thread)),
        })
    }

    /// The runtime the thread runs; tasks spawned on it end when the future does.
    pub(crate) fn runtime(&self) -> &tokio::runtime::Handle {
        &self.runtime
    }

    /// Whether [`stop`](Self::stop) was called.
    pub(crate) fn is_stopped(&self) -> bool {
        self.stop
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_none()
    }

    /// Completes the future's [`Stopped`] and waits for the thread to end (the future decides
    /// how long it takes). Calling it again does nothing.
    ///
    /// # Errors
    /// [`Error::Runtime`] if the thread panicked.
    pub(crate) fn stop(&self) -> Result<(), Error> {
        let stop = self
            .stop
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(stop) = stop {
            // The thread may be gone already (it panicked); `join` tells.
            let _ = stop.send(());
        }
        let thread = self
            .thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        match thread.map(JoinHandle::join) {
            Some(Err(_)) => Err(Error::Runtime(io::Error::other(format!(
                "the {} thread panicked",
                self.name
            )))),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

    fn watcher(when_dropped: WhenDropped) -> (Background, Arc<AtomicBool>) {
        let ended = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&ended);
        let background = Background::start("heapster-test", when_dropped, |stopped| {
            Ok(async move {
                stopped.await;
                flag.store(true, Ordering::SeqCst);
            })
        })
        .unwrap();
        (background, ended)
    }

    #[test]
    fn stop_ends_the_future_and_joins_the_thread() {
        let (background, ended) = watcher(WhenDropped::KeepRunning);
        assert!(!background.is_stopped());
        background.stop().unwrap();
        assert!(
            ended.load(Ordering::SeqCst),
            "stop returns after the future ended"
        );
        assert!(background.is_stopped());
        background.stop().unwrap();
    }

    #[test]
    fn dropping_stops_or_detaches_as_asked() {
        let (background, ended) = watcher(WhenDropped::Stop);
        let thread = background.thread.lock().unwrap().take().unwrap();
        drop(background);
        thread.join().unwrap();
        assert!(ended.load(Ordering::SeqCst));

        let (background, ended) = watcher(WhenDropped::KeepRunning);
        let runtime = background.runtime().clone();
        drop(background);
        // The future still runs: the runtime still takes and runs tasks.
        let (tx, rx) = std::sync::mpsc::channel();
        runtime.spawn(async move { tx.send(()).unwrap() });
        rx.recv().unwrap();
        assert!(!ended.load(Ordering::SeqCst));
    }

    #[test]
    fn a_failing_make_starts_nothing() {
        let error = Background::start("heapster-test", WhenDropped::Stop, |_| {
            Err::<std::future::Ready<()>, _>(Error::invalid("test", "no"))
        })
        .unwrap_err();
        assert!(error.to_string().contains("invalid test"), "{error}");
    }
}
