//! Allocation budgets for tests (feature `scoped`): [`Budget`] and the `assert_*` macros.

use core::fmt;
use core::future::{Future, IntoFuture};
use core::panic::Location;

use crate::stats::Stats;

/// Limits on what a piece of code may ask of the allocator, checked against measured [`Stats`].
///
/// Build one with the `max_*` methods; unset limits are not checked. [`run`](Self::run)
/// measures a closure on the current thread with
/// [`Heapster::measure_thread`](crate::Heapster::measure_thread) and panics, showing the
/// measured stats, if it overspent; [`run_future`](Self::run_future) does the same for a
/// future, on whichever threads poll it; [`check`](Self::check) returns an error instead.
///
/// ```
/// use heapster::{Budget, Heapster};
/// use std::alloc::System;
///
/// #[global_allocator]
/// static GLOBAL: Heapster<System> = Heapster::new(System);
///
/// # fn main() {
/// let budget = Budget::new().max_allocations(1).max_live_bytes(0);
/// let n = budget.run(&GLOBAL, || vec![1u32; 8].iter().sum::<u32>());
/// assert_eq!(n, 8);
///
/// let err = budget.check(&GLOBAL.measure_thread(|| Box::leak(Box::new(7u64))).1).unwrap_err();
/// assert!(err.to_string().contains("live bytes 8 > 0"));
/// # }
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[must_use]
pub struct Budget {
    allocations: Option<u64>,
    allocated_bytes: Option<u64>,
    reallocations: Option<u64>,
    live_bytes: Option<u64>,
    peak_bytes: Option<u64>,
}

impl Budget {
    /// A budget with no limits.
    pub const fn new() -> Self {
        Self {
            allocations: None,
            allocated_bytes: None,
            reallocations: None,
            live_bytes: None,
            peak_bytes: None,
        }
    }

    /// At most `n` allocations ([`Stats::allocations`]).
    pub const fn max_allocations(mut self, n: u64) -> Self {
        self.allocations = Some(n);
        self
    }

    /// At most `n` bytes allocated ([`Stats::allocated_bytes`]).
    pub const fn max_allocated_bytes(mut self, n: u64) -> Self {
        self.allocated_bytes = Some(n);
        self
    }

    /// At most `n` reallocations of any kind ([`Stats::reallocations`]).
    pub const fn max_reallocations(mut self, n: u64) -> Self {
        self.reallocations = Some(n);
        self
    }

    /// At most `n` bytes still allocated at the end ([`Stats::live_bytes`]); `0` checks for
    /// leaks.
    pub const fn max_live_bytes(mut self, n: u64) -> Self {
        self.live_bytes = Some(n);
        self
    }

    /// At most `n` bytes allocated at any one time ([`Stats::peak_bytes`] of a scoped
    /// measurement).
    pub const fn max_peak_bytes(mut self, n: u64) -> Self {
        self.peak_bytes = Some(n);
        self
    }

    /// `Ok` when `stats` is within every limit; otherwise an error naming each limit exceeded.
    ///
    /// # Errors
    /// [`BudgetExceeded`] when any limit is exceeded.
    #[allow(
        clippy::result_large_err,
        reason = "the error carries the measured stats by value: boxing would allocate inside a measurement"
    )]
    pub fn check(&self, stats: &Stats) -> Result<(), BudgetExceeded> {
        if self.overruns(stats).next().is_none() {
            Ok(())
        } else {
            Err(BudgetExceeded {
                budget: *self,
                stats: *stats,
            })
        }
    }

    /// Runs `f` under [`measure_thread`](crate::Heapster::measure_thread) and returns its
    /// result.
    ///
    /// # Panics
    /// If the calls `f` made on this thread exceed the budget; the message shows the measured
    /// stats.
    #[track_caller]
    pub fn run<A, R>(&self, heap: &crate::Heapster<A>, f: impl FnOnce() -> R) -> R {
        let (result, stats) = heap.measure_thread(f);
        if let Err(e) = self.check(&stats) {
            panic!("{e}");
        }
        result
    }

    /// Wraps `future` in [`measure_future`](crate::Heapster::measure_future): the returned
    /// future resolves to `future`'s output once the calls made while it was polled, on
    /// whichever threads polled it, are checked against the budget. Other tasks allocating
    /// meanwhile are not counted, so it holds on a busy multi-threaded runtime.
    ///
    /// This is the form for code that `.await`s, which a closure passed to
    /// [`run`](Self::run) cannot.
    ///
    /// ```
    /// use heapster::{Budget, Heapster};
    /// use std::alloc::System;
    ///
    /// #[global_allocator]
    /// static GLOBAL: Heapster<System> = Heapster::new(System);
    ///
    /// async fn handler(n: usize) -> usize {
    ///     let buf = vec![0u8; n];
    ///     buf.len()
    /// }
    ///
    /// # fn main() {
    /// let budget = Budget::new().max_allocations(1).max_live_bytes(0);
    /// let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// let len = runtime.block_on(budget.run_future(&GLOBAL, handler(512)));
    /// assert_eq!(len, 512);
    /// # }
    /// ```
    ///
    /// # Panics
    /// The returned future panics when it completes, if the calls made while it was polled
    /// exceed the budget; the message shows the measured stats and where `run_future` was
    /// called.
    #[track_caller]
    pub fn run_future<A, F: IntoFuture>(
        &self,
        heap: &crate::Heapster<A>,
        future: F,
    ) -> impl Future<Output = F::Output> + use<A, F> {
        let called_at = Location::caller();
        let budget = *self;
        let measured = heap.measure_future(future);
        async move {
            let (output, stats) = measured.await;
            if let Err(e) = budget.check(&stats) {
                panic!("{e}\nbudget set at {called_at}");
            }
            output
        }
    }

    /// The limits `stats` exceeds: `(what, measured, limit)`.
    fn overruns(&self, stats: &Stats) -> impl Iterator<Item = (&'static str, u64, u64)> {
        [
            ("allocations", stats.allocations, self.allocations),
            (
                "allocated bytes",
                stats.allocated_bytes,
                self.allocated_bytes,
            ),
            ("reallocations", stats.reallocations(), self.reallocations),
            ("live bytes", stats.live_bytes(), self.live_bytes),
            ("peak bytes", stats.peak_bytes, self.peak_bytes),
        ]
        .into_iter()
        .filter_map(|(what, measured, limit)| {
            limit
                .filter(|&limit| measured > limit)
                .map(|limit| (what, measured, limit))
        })
    }
}

/// What [`Budget::check`] returns when a limit was exceeded: the budget and the measured stats.
/// Its `Display` names each limit exceeded and shows the full report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BudgetExceeded {
    /// The budget that was exceeded.
    pub budget: Budget,
    /// What was measured.
    pub stats: Stats,
}

impl fmt::Display for BudgetExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("allocation budget exceeded:")?;
        for (what, measured, limit) in self.budget.overruns(&self.stats) {
            write!(f, " {what} {measured} > {limit};")?;
        }
        write!(f, "\nmeasured:\n{}", self.stats)
    }
}

impl core::error::Error for BudgetExceeded {}

/// The check behind the `assert_*allocations*` macros: panics with the expression and the
/// measured stats when `stats.allocations` is not `limit` (`exact`) or is above it.
#[doc(hidden)]
#[track_caller]
pub fn __assert_allocations(stats: &Stats, limit: u64, exact: bool, expression: &str) {
    let made = stats.allocations;
    if exact && made != limit {
        panic!(
            "assertion failed: `{expression}` made {made} allocation(s), expected {limit}\nmeasured:\n{stats}"
        );
    }
    if !exact && made > limit {
        panic!(
            "assertion failed: `{expression}` made {made} allocation(s), at most {limit} allowed\nmeasured:\n{stats}"
        );
    }
}

/// The expansion of the `assert_*allocations*` macros: `$measure` gives `(result, stats)` for
/// `$what`; checks `stats` against `$n` (exactly when `$exact`) and evaluates to `result`.
#[doc(hidden)]
#[macro_export]
macro_rules! __assert_measured {
    ($measure:expr, $n:expr, $exact:literal, $what:expr) => {{
        let (result, stats) = $measure;
        $crate::__assert_allocations(&stats, $n, $exact, ::core::stringify!($what));
        result
    }};
}

/// Asserts that an expression makes exactly `n` allocations on the current thread, and
/// evaluates to its value. On failure the message shows the expression and the measured stats.
///
/// Measures with [`Heapster::measure_thread`](crate::Heapster::measure_thread), so other
/// threads (other tests running in parallel) do not disturb it. For code that `.await`s, use
/// [`assert_allocations_async!`](crate::assert_allocations_async).
///
/// ```
/// use heapster::{Heapster, assert_allocations};
/// use std::alloc::System;
///
/// #[global_allocator]
/// static GLOBAL: Heapster<System> = Heapster::new(System);
///
/// # fn main() {
/// let v = assert_allocations!(GLOBAL, 1, vec![1, 2, 3]);
/// assert_allocations!(GLOBAL, 0, v.iter().sum::<i32>());
/// # }
/// ```
#[macro_export]
macro_rules! assert_allocations {
    ($heap:expr, $n:expr, $body:expr $(,)?) => {
        $crate::__assert_measured!($heap.measure_thread(|| $body), $n, true, $body)
    };
}

/// Asserts that an expression makes at most `n` allocations on the current thread, and
/// evaluates to its value. On failure the message shows the expression and the measured stats.
/// For code that `.await`s, use [`assert_max_allocations_async!`](crate::assert_max_allocations_async).
///
/// ```
/// use heapster::{Heapster, assert_max_allocations};
/// use std::alloc::System;
///
/// #[global_allocator]
/// static GLOBAL: Heapster<System> = Heapster::new(System);
///
/// # fn main() {
/// let s = assert_max_allocations!(GLOBAL, 2, format!("{}-{}", 1, 2));
/// assert_eq!(s, "1-2");
/// # }
/// ```
#[macro_export]
macro_rules! assert_max_allocations {
    ($heap:expr, $n:expr, $body:expr $(,)?) => {
        $crate::__assert_measured!($heap.measure_thread(|| $body), $n, false, $body)
    };
}

/// Awaits a future and asserts that exactly `n` allocations were made while it was polled, on
/// whichever threads polled it; evaluates to its output. Use it inside an `async` block or
/// function (it expands to an `.await`). Other tasks allocating meanwhile are not counted: it
/// measures with [`Heapster::measure_future`](crate::Heapster::measure_future).
///
/// ```
/// use heapster::{Heapster, assert_allocations_async};
/// use std::alloc::System;
///
/// #[global_allocator]
/// static GLOBAL: Heapster<System> = Heapster::new(System);
///
/// async fn fetch(id: u32) -> String {
///     format!("item-{id}")
/// }
///
/// async fn check() {
///     let item = assert_allocations_async!(GLOBAL, 1, fetch(7));
///     assert_eq!(item, "item-7");
/// }
/// # fn main() { tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(check()) }
/// ```
#[macro_export]
macro_rules! assert_allocations_async {
    ($heap:expr, $n:expr, $future:expr $(,)?) => {
        $crate::__assert_measured!($heap.measure_future($future).await, $n, true, $future)
    };
}

/// Awaits a future and asserts that at most `n` allocations were made while it was polled;
/// evaluates to its output. The async form of [`assert_max_allocations!`]; see
/// [`assert_allocations_async!`](crate::assert_allocations_async).
///
/// ```
/// use heapster::{Heapster, assert_max_allocations_async};
/// use std::alloc::System;
///
/// #[global_allocator]
/// static GLOBAL: Heapster<System> = Heapster::new(System);
///
/// # fn main() { tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let n = assert_max_allocations_async!(GLOBAL, 2, async { vec![1u8; 3].len() });
/// assert_eq!(n, 3);
/// # }) }
/// ```
#[macro_export]
macro_rules! assert_max_allocations_async {
    ($heap:expr, $n:expr, $future:expr $(,)?) => {
        $crate::__assert_measured!($heap.measure_future($future).await, $n, false, $future)
    };
}
