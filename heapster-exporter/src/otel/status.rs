//! [`ExportStatus`]: how the exports of an [`OtlpExporter`](super::OtlpExporter) went.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::error::Error;

/// The outcome of an [`OtlpExporter`](super::OtlpExporter)'s exports so far: counts, and the
/// latest error. Cloning is cheap; clones share the numbers, so keep one to watch an exporter
/// that the meter provider owns.
///
/// A failed export is also returned to the SDK, whose periodic reader logs it through its
/// internal logs (`tracing`, when `opentelemetry`'s `internal-logs` feature is on).
#[derive(Clone, Debug, Default)]
pub struct ExportStatus {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    succeeded: AtomicU64,
    failed: AtomicU64,
    consecutive_failures: AtomicU64,
    last_error: Mutex<Option<Arc<Error>>>,
}

impl ExportStatus {
    /// Exports the collector accepted.
    pub fn succeeded(&self) -> u64 {
        self.inner.succeeded.load(Ordering::Relaxed)
    }

    /// Exports that failed (not sent, timed out, or rejected by the collector).
    pub fn failed(&self) -> u64 {
        self.inner.failed.load(Ordering::Relaxed)
    }

    /// Failures since the latest success: 0 when the latest export succeeded.
    pub fn consecutive_failures(&self) -> u64 {
        self.inner.consecutive_failures.load(Ordering::Relaxed)
    }

    /// The error of the latest failed export, kept after later successes.
    pub fn last_error(&self) -> Option<Arc<Error>> {
        self.lock().clone()
    }

    pub(crate) fn success(&self) {
        self.inner.succeeded.fetch_add(1, Ordering::Relaxed);
        self.inner.consecutive_failures.store(0, Ordering::Relaxed);
    }

    pub(crate) fn failure(&self, error: Arc<Error>) {
        *self.lock() = Some(error);
        self.inner.failed.fetch_add(1, Ordering::Relaxed);
        self.inner
            .consecutive_failures
            .fetch_add(1, Ordering::Relaxed);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Arc<Error>>> {
        self.inner
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}
