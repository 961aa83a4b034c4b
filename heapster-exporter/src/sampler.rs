//! [`Sampler`]: one consistent [`Sample`] of the heap counters, shared by every reader.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use heapster::Stats;

use crate::error::Error;
use crate::process_memory::ProcessMemory;
use crate::source::Source;

/// One snapshot of the counters, as every reader (the Prometheus collector, the OpenTelemetry
/// instruments and exporter) sees it: all metrics of one scrape or export come from the same
/// `Sample`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Sample {
    /// Every counter, gauge and histogram, read at [`taken_at`](Self::taken_at).
    pub stats: Stats,
    /// The highest live-bytes value within the peak window that ends with this sample (see
    /// [`Sampler::with_peak_window`]): so a spike between two scrapes still shows.
    pub interval_peak: u64,
    /// The process's resident and virtual memory, read right after the heap counters; `None`
    /// where the platform does not report it (see [`ProcessMemory`]).
    pub process: Option<ProcessMemory>,
    /// When the snapshot was taken.
    pub taken_at: Instant,
    /// 1 for the first sample of a [`Sampler`], then one more for each new sample.
    pub sequence: u64,
}

/// Takes [`Sample`]s of a [`Source`] and keeps the latest one.
///
/// A sample is taken:
/// - by [`sample_once`](Self::sample_once), synchronously (tests, programs without a runtime);
/// - by [`run`](Self::run), every [`interval`](Self::interval) (feature `tokio`; the HTTP
///   endpoint started by [`install`](crate::ExporterBuilder::install) runs it);
/// - on demand by [`current`](Self::current), when the latest sample is older than the interval
///   or there is none, so a scrape works with no loop at all.
///
/// Sampling takes some tens of microseconds (the heap snapshot, and on Linux one read of
/// `/proc/self/statm`: about 15 µs measured on an AMD EPYC, 2 vCPU), holds a lock only against
/// other samplers of the same `Sampler`, and never allocates after construction.
///
/// ```
/// use heapster_exporter::Sampler;
/// use heapster::Stats;
///
/// let mut stats = Stats::new();
/// stats.allocations = 3;
/// let sampler = Sampler::new(stats); // a fixed `Stats` is a source too (for tests)
/// assert!(sampler.latest().is_none());
/// let sample = sampler.current(); // none yet: takes one
/// assert_eq!(sample.stats.allocations, 3);
/// assert_eq!(sampler.current().sequence, 1); // fresh: served again
/// assert_eq!(sampler.sample_once().sequence, 2);
/// ```
pub struct Sampler {
    source: Box<dyn Source>,
    created: SystemTime,
    interval: Duration,
    peak_window: Duration,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    latest: Option<Sample>,
    /// `(taken_at, highest live bytes since the previous sample)`, oldest first.
    peaks: VecDeque<(Instant, u64)>,
}

impl Sampler {
    /// The default sampling interval: 1 s.
    pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(1);
    /// The shortest sampling interval accepted: 10 ms.
    pub const MIN_INTERVAL: Duration = Duration::from_millis(10);
    /// The longest sampling interval accepted: 1 h.
    pub const MAX_INTERVAL: Duration = Duration::from_secs(3600);
    /// The default peak window: 60 s, Prometheus's default scrape interval.
    pub const DEFAULT_PEAK_WINDOW: Duration = Duration::from_secs(60);
    /// The longest peak window accepted: 24 h.
    pub const MAX_PEAK_WINDOW: Duration = Duration::from_secs(24 * 3600);
    /// At most this many interval peaks are kept; beyond it the oldest two are merged (their
    /// maximum is kept), so a peak is never lost, only kept a little longer.
    const MAX_PEAKS: usize = 1024;

    /// A sampler of `source` with the default interval and peak window.
    pub fn new(source: impl Source) -> Self {
        Self {
            source: Box::new(source),
            created: SystemTime::now(),
            interval: Self::DEFAULT_INTERVAL,
            peak_window: Self::DEFAULT_PEAK_WINDOW,
            state: Mutex::new(State {
                latest: None,
                peaks: VecDeque::with_capacity(Self::peaks_capacity(
                    Self::DEFAULT_INTERVAL,
                    Self::DEFAULT_PEAK_WINDOW,
                )),
            }),
        }
    }

    /// Sets the sampling interval, in [`MIN_INTERVAL`](Self::MIN_INTERVAL) ..=
    /// [`MAX_INTERVAL`](Self::MAX_INTERVAL). The peak window grows to the interval if it was
    /// shorter.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for an interval outside the range.
    pub fn with_interval(mut self, interval: Duration) -> Result<Self, Error> {
        if !(Self::MIN_INTERVAL..=Self::MAX_INTERVAL).contains(&interval) {
            return Err(Error::invalid(
                "sampling interval",
                format!("{interval:?} is outside 10ms..=1h"),
            ));
        }
        self.interval = interval;
        self.peak_window = self.peak_window.max(interval);
        self.reserve_peaks();
        Ok(self)
    }

    /// Sets the peak window: [`Sample::interval_peak`] is the highest live-bytes value over the
    /// samples taken within this window. Set it to your scrape interval or longer, so that
    /// every spike shows in at least one scrape. With a window equal to the sampling interval,
    /// the interval peak is exactly the peak of the latest sampling interval.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for a window shorter than the sampling interval or longer than
    /// [`MAX_PEAK_WINDOW`](Self::MAX_PEAK_WINDOW).
    pub fn with_peak_window(mut self, window: Duration) -> Result<Self, Error> {
        if window < self.interval || window > Self::MAX_PEAK_WINDOW {
            return Err(Error::invalid(
                "peak window",
                format!(
                    "{window:?} is outside {:?}..=24h (the sampling interval to a day)",
                    self.interval
                ),
            ));
        }
        self.peak_window = window;
        self.reserve_peaks();
        Ok(self)
    }

    /// The sampling interval: how often [`run`](Self::run) samples, and how old a sample may be
    /// before [`current`](Self::current) takes a new one.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// When this sampler was created: the start ("created") timestamp of every counter and
    /// histogram it exports, where Prometheus 3 places their zero.
    ///
    /// Heapster counts from the start of the process, so the first sample also holds what was
    /// counted before this time (for an exporter built at the top of `main`, the runtime's
    /// start-up allocations); from this time on, every increase is one that happened.
    pub fn created(&self) -> SystemTime {
        self.created
    }

    /// The peak window (see [`with_peak_window`](Self::with_peak_window)).
    pub fn peak_window(&self) -> Duration {
        self.peak_window
    }

    /// Takes a sample now, keeps it as the latest and returns it. (`run`, with the feature
    /// `tokio`, calls it on a timer.)
    #[cfg_attr(not(feature = "tokio"), doc(alias = "run"))]
    pub fn sample_once(&self) -> Sample {
        let mut state = self.lock();
        self.sample_locked(&mut state)
    }

    /// The latest sample, or `None` before the first.
    pub fn latest(&self) -> Option<Sample> {
        self.lock().latest
    }

    /// The latest sample if it is younger than the interval, else a new one. Concurrent callers
    /// that find the sample stale take one new sample between them.
    pub fn current(&self) -> Sample {
        let mut state = self.lock();
        match state.latest {
            Some(sample) if sample.taken_at.elapsed() < self.interval => sample,
            _ => self.sample_locked(&mut state),
        }
    }

    /// Samples every [`interval`](Self::interval), forever: spawn it on a tokio runtime and
    /// abort or drop the task to stop. The first sample is taken at once. Missed ticks (a
    /// stalled runtime) are skipped, not caught up.
    #[cfg(feature = "tokio")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
    pub async fn run(&self) {
        let mut ticks = tokio::time::interval(self.interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            ticks.tick().await;
            self.sample_once();
        }
    }

    fn sample_locked(&self, state: &mut State) -> Sample {
        // `stats()` folds the exact live bytes into every mark, so it comes first.
        let stats = self.source.stats();
        if state.latest.is_none() {
            crate::source::warn_if_nothing_counted(&stats);
        }
        let peak = self.source.take_interval_peak();
        let process = self.source.process_memory();
        let taken_at = Instant::now();
        let peaks = &mut state.peaks;
        while peaks
            .front()
            .is_some_and(|&(at, _)| taken_at.duration_since(at) > self.peak_window)
        {
            peaks.pop_front();
        }
        if peaks.len() >= Self::MAX_PEAKS {
            if let (Some((_, oldest)), Some((_, next))) = (peaks.pop_front(), peaks.front_mut()) {
                *next = (*next).max(oldest);
            }
        }
        peaks.push_back((taken_at, peak));
        let interval_peak = peaks.iter().map(|&(_, p)| p).max().unwrap_or(peak);
        let sample = Sample {
            stats,
            interval_peak,
            process,
            taken_at,
            sequence: state.latest.map_or(1, |s| s.sequence.saturating_add(1)),
        };
        state.latest = Some(sample);
        sample
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while the lock is held; a poisoned lock still holds a valid state.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn peaks_capacity(interval: Duration, window: Duration) -> usize {
        let per_window = window.as_nanos() / interval.as_nanos().max(1);
        usize::try_from(per_window)
            .unwrap_or(usize::MAX)
            .saturating_add(2)
            .min(Self::MAX_PEAKS)
    }

    fn reserve_peaks(&mut self) {
        let capacity = Self::peaks_capacity(self.interval, self.peak_window);
        let peaks = &mut self.lock().peaks;
        peaks.reserve(capacity.saturating_sub(peaks.len()));
    }
}

impl std::fmt::Debug for Sampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sampler")
            .field("interval", &self.interval)
            .field("peak_window", &self.peak_window)
            .field("latest", &self.latest().map(|s| s.sequence))
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;

    /// A source whose live bytes and interval peaks are scripted.
    #[derive(Default)]
    struct Scripted {
        allocations: AtomicU64,
        next_peak: AtomicU64,
    }

    impl Source for Scripted {
        fn stats(&self) -> Stats {
            let mut s = Stats::new();
            s.allocations = self.allocations.fetch_add(1, Ordering::Relaxed) + 1;
            s
        }
        fn take_interval_peak(&self) -> u64 {
            self.next_peak.swap(0, Ordering::Relaxed)
        }
    }

    /// A scripted source and a sampler of it every 10 ms with a peak window of `window`.
    fn fast(window: Duration) -> (Arc<Scripted>, Sampler) {
        let src = Arc::new(Scripted::default());
        let sampler = Sampler::new(Arc::clone(&src))
            .with_interval(Sampler::MIN_INTERVAL)
            .and_then(|s| s.with_peak_window(window))
            .unwrap();
        (src, sampler)
    }

    #[test]
    fn samples_are_numbered_and_kept() {
        let src = Arc::new(Scripted::default());
        let sampler = Sampler::new(src);
        let a = sampler.sample_once();
        let b = sampler.sample_once();
        assert_eq!((a.sequence, b.sequence), (1, 2));
        assert_eq!((a.stats.allocations, b.stats.allocations), (1, 2));
        assert_eq!(sampler.latest(), Some(b));
        assert_eq!(sampler.current(), b, "fresh sample is served again");
    }

    #[test]
    fn stale_sample_is_replaced_on_demand() {
        let (_, sampler) = fast(Sampler::MIN_INTERVAL);
        let a = sampler.current();
        std::thread::sleep(Sampler::MIN_INTERVAL * 2);
        assert_eq!(sampler.current().sequence, a.sequence + 1);
    }

    #[test]
    fn interval_peak_is_the_maximum_over_the_window() {
        let (src, sampler) = fast(Duration::from_secs(3600));
        src.next_peak.store(5000, Ordering::Relaxed);
        assert_eq!(sampler.sample_once().interval_peak, 5000);
        // The spike stays within the window although later intervals saw less.
        src.next_peak.store(10, Ordering::Relaxed);
        assert_eq!(sampler.sample_once().interval_peak, 5000);
        // More samples than kept peaks: merging keeps the maximum.
        for _ in 0..Sampler::MAX_PEAKS * 2 {
            sampler.sample_once();
        }
        assert_eq!(sampler.latest().unwrap().interval_peak, 5000);
    }

    #[test]
    fn window_equal_to_interval_forgets_old_peaks() {
        let (src, sampler) = fast(Sampler::MIN_INTERVAL);
        src.next_peak.store(5000, Ordering::Relaxed);
        assert_eq!(sampler.sample_once().interval_peak, 5000);
        std::thread::sleep(Sampler::MIN_INTERVAL * 3);
        src.next_peak.store(7, Ordering::Relaxed);
        assert_eq!(sampler.sample_once().interval_peak, 7);
    }

    #[test]
    fn invalid_settings_are_errors() {
        let s = || Sampler::new(Stats::new());
        assert!(s().with_interval(Duration::from_millis(1)).is_err());
        assert!(s().with_interval(Duration::from_secs(7200)).is_err());
        let e = s()
            .with_peak_window(Duration::from_millis(100))
            .unwrap_err();
        assert!(e.to_string().contains("peak window"), "{e}");
        let grown = s().with_interval(Duration::from_secs(120)).unwrap();
        assert_eq!(grown.peak_window(), Duration::from_secs(120));
    }
}
