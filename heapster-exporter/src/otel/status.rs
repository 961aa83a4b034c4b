//! [`ExportStatus`]: how the exports of an [`OtlpExporter`](super::OtlpExporter) went.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry_sdk::metrics::SdkMeterProvider;

use crate::error::Error;

/// The outcome of an [`OtlpExporter`](super::OtlpExporter)'s exports so far: counts, and the
/// latest error. Cloning is cheap; clones share the numbers, so keep one to watch an exporter
/// that the meter provider owns.
///
/// Its [`Display`](fmt::Display) is one line for a person: while exports fail, the latest
/// error with its causes and `(3 exports failed since 12:00:01 UTC)`; otherwise how many were
/// delivered. The exporter also logs a line through `tracing` when exports start failing and
/// one when they recover (see [`OtlpExporter`](super::OtlpExporter)).
#[derive(Clone)]
pub struct ExportStatus {
    inner: Arc<Inner>,
}

struct Inner {
    endpoint: String,
    succeeded: AtomicU64,
    failed: AtomicU64,
    consecutive_failures: AtomicU64,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    last_error: Option<Arc<Error>>,
    /// When the current run of failures began.
    failing_since: Option<SystemTime>,
}

/// A run of failures that just ended.
#[derive(Debug)]
pub(crate) struct Recovered {
    pub(crate) failures: u64,
    pub(crate) since: SystemTime,
}

impl ExportStatus {
    pub(crate) fn new(endpoint: String) -> Self {
        Self {
            inner: Arc::new(Inner {
                endpoint,
                succeeded: AtomicU64::new(0),
                failed: AtomicU64::new(0),
                consecutive_failures: AtomicU64::new(0),
                state: Mutex::new(State::default()),
            }),
        }
    }

    /// Exports the collector accepted.
    pub fn succeeded(&self) -> u64 {
        self.inner.succeeded.load(Ordering::Relaxed)
    }

    /// Exports that failed (not sent, timed out, or rejected by the collector in whole or in
    /// part).
    pub fn failed(&self) -> u64 {
        self.inner.failed.load(Ordering::Relaxed)
    }

    /// Failures since the latest success: 0 when the latest export succeeded.
    pub fn consecutive_failures(&self) -> u64 {
        self.inner.consecutive_failures.load(Ordering::Relaxed)
    }

    /// The error of the latest failed export, kept after later successes.
    pub fn last_error(&self) -> Option<Arc<Error>> {
        self.lock().last_error.clone()
    }

    /// Shuts `provider` down, its final export included, and says why that failed.
    ///
    /// `SdkMeterProvider::shutdown` reports any failure of its periodic reader as
    /// `InternalFailure("Failed to shutdown")`, without the cause; this returns the cause:
    /// the final export's [`Error::Export`] when that export failed, else the SDK's error as
    /// [`Error::Shutdown`].
    ///
    /// # Errors
    /// As above; `Ok` when the provider shut down cleanly.
    pub fn shutdown(&self, provider: &SdkMeterProvider) -> Result<(), Error> {
        let failed_before = self.failed();
        let Err(sdk) = provider.shutdown() else {
            return Ok(());
        };
        match self.last_error().as_deref() {
            Some(Error::Export(cause)) if self.failed() > failed_before => {
                Err(Error::Export(cause.clone()))
            }
            _ => Err(Error::Shutdown(sdk)),
        }
    }

    /// Records a delivered export; returns the run of failures it ends, if any.
    pub(crate) fn success(&self) -> Option<Recovered> {
        self.inner.succeeded.fetch_add(1, Ordering::Relaxed);
        let failures = self.inner.consecutive_failures.swap(0, Ordering::Relaxed);
        let since = self.lock().failing_since.take();
        since.map(|since| Recovered { failures, since })
    }

    /// Records a failed export; returns whether it starts a run of failures.
    pub(crate) fn failure(&self, error: Arc<Error>) -> bool {
        let first = {
            let mut state = self.lock();
            state.last_error = Some(error);
            let first = state.failing_since.is_none();
            if first {
                state.failing_since = Some(SystemTime::now());
            }
            first
        };
        self.inner.failed.fetch_add(1, Ordering::Relaxed);
        self.inner
            .consecutive_failures
            .fetch_add(1, Ordering::Relaxed);
        first
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Display for ExportStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (succeeded, failed) = (self.succeeded(), self.failed());
        let state = self.lock();
        match (&state.last_error, state.failing_since) {
            (Some(error), Some(since)) => {
                let n = self.consecutive_failures();
                let exports = if n == 1 { "export" } else { "exports" };
                write!(
                    f,
                    "{} ({n} {exports} failed since {}",
                    error.chain(),
                    clock(since)
                )?;
                if succeeded > 0 {
                    write!(f, ", {succeeded} delivered before")?;
                }
                f.write_str(")")
            }
            _ if succeeded + failed == 0 => write!(f, "no export to {} yet", self.inner.endpoint),
            _ => write!(
                f,
                "exports to {} delivered: {succeeded} ({failed} failed)",
                self.inner.endpoint
            ),
        }
    }
}

impl fmt::Debug for ExportStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExportStatus")
            .field("endpoint", &self.inner.endpoint)
            .field("succeeded", &self.succeeded())
            .field("failed", &self.failed())
            .field("consecutive_failures", &self.consecutive_failures())
            .field("last_error", &self.last_error().map(|e| e.chain()))
            .finish()
    }
}

/// `hh:mm:ss UTC` of `time`.
pub(crate) fn clock(time: SystemTime) -> String {
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (h, m, s) = ((secs / 3600) % 24, (secs / 60) % 60, secs % 60);
    format!("{h:02}:{m:02}:{s:02} UTC")
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_run_of_failures_starts_once_and_ends_with_a_success() {
        let status = ExportStatus::new("http://127.0.0.1:4318/v1/metrics".to_owned());
        assert_eq!(
            status.to_string(),
            "no export to http://127.0.0.1:4318/v1/metrics yet"
        );
        assert!(status.success().is_none(), "nothing to recover from");
        let error = || Arc::new(Error::invalid("test", "refused"));
        assert!(status.failure(error()));
        assert!(!status.failure(error()));
        assert!(!status.failure(error()));
        let shown = status.to_string();
        assert!(
            shown.starts_with("invalid test: refused (3 exports failed since ")
                && shown.ends_with(" UTC, 1 delivered before)"),
            "{shown}"
        );
        let recovered = status.success().expect("the run ends");
        assert_eq!(recovered.failures, 3);
        assert_eq!(
            status.to_string(),
            "exports to http://127.0.0.1:4318/v1/metrics delivered: 2 (3 failed)"
        );
        assert!(status.failure(error()), "a new run");
        assert!(format!("{status:?}").contains("last_error: Some(\"invalid test: refused\")"));
    }

    #[test]
    fn clock_is_utc_time_of_day() {
        let t = UNIX_EPOCH + Duration::from_secs(20_000 * 86_400 + 12 * 3600 + 61);
        assert_eq!(clock(t), "12:01:01 UTC");
    }
}
