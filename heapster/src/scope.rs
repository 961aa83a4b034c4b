//! Exact measurement of one thread or one future (feature `scoped`).
//!
//! A *scope* is a [`Frame`] that a thread installs in a thread-local slot while it runs the
//! measured code. The allocator, after its usual counting, looks at the slot: when a scope of the
//! same `Heapster` is installed, it records the call there too. Only the installing thread writes
//! to a frame, so recording is plain arithmetic, and the numbers are exact whatever other threads
//! do.
//!
//! The thread-local slot is a `Cell` holding a pointer, const-initialised: reading it never
//! allocates, never runs an initialiser and never registers a destructor, so it is safe in
//! threads that are starting or ending. (On targets without native thread-local storage the
//! standard library may allocate on first access; every tier-1 target has native TLS.)

// On the allocation path: no arithmetic that can overflow (and so panic in debug builds).
#![deny(clippy::arithmetic_side_effects)]

use core::cell::{Cell, UnsafeCell};
use core::future::Future;
use core::pin::Pin;
use core::ptr;
use core::task::{Context, Poll};

use crate::stats::Stats;

std::thread_local! {
    /// The innermost scope installed on this thread, or null.
    static CURRENT: Cell<*const Frame> = const { Cell::new(ptr::null()) };
}

/// One measurement in progress.
pub(crate) struct Frame {
    /// Identity of the `Heapster` whose calls this frame counts.
    owner: usize,
    /// The scope that was installed when this frame was, while it is installed; null otherwise.
    parent: Cell<*const Frame>,
    /// Calls recorded during the current activation (one closure run, or one poll).
    activation: UnsafeCell<Stats>,
    /// Calls recorded during earlier activations.
    total: UnsafeCell<Stats>,
    /// Net bytes since the frame was created, and their highest value.
    net: Cell<i64>,
    peak: Cell<i64>,
    /// `net` when the current activation started, and the highest `net` during it.
    activation_base: Cell<i64>,
    activation_peak: Cell<i64>,
}

// SAFETY: a frame is only ever touched by the thread that has it installed (through `CURRENT`)
// or by the code that owns it while it is not installed; a future holding a frame moves between
// threads only between polls, when it is not installed, and the executor synchronises the move.
// `parent` is null whenever the frame is not installed.
unsafe impl Send for Frame {}

impl Frame {
    pub(crate) const fn new(owner: usize) -> Self {
        Self {
            owner,
            parent: Cell::new(ptr::null()),
            activation: UnsafeCell::new(Stats::new()),
            total: UnsafeCell::new(Stats::new()),
            net: Cell::new(0),
            peak: Cell::new(0),
            activation_base: Cell::new(0),
            activation_peak: Cell::new(0),
        }
    }

    /// Installs the frame on this thread until the guard drops.
    ///
    /// The frame must stay where it is until then: the guard borrows it.
    pub(crate) fn enter(&self) -> Entered<'_> {
        let parent = CURRENT.try_with(Cell::get).unwrap_or(ptr::null());
        self.parent.set(parent);
        self.activation_base.set(self.net.get());
        self.activation_peak.set(self.net.get());
        // If the slot is gone (thread teardown), the frame is simply not installed.
        let _ = CURRENT.try_with(|c| c.set(self));
        Entered { frame: self }
    }

    /// Everything recorded so far, with `peak_bytes` the highest net bytes reached.
    pub(crate) fn stats(&self) -> Stats {
        // SAFETY: the frame is not installed (callers only read it outside activations), so no
        // allocator call on any thread can be writing `total`.
        let mut stats = unsafe { *self.total.get() };
        stats.peak_bytes = u64::try_from(self.peak.get()).unwrap_or(0);
        stats
    }

    fn record(&self, event: Event) {
        // SAFETY: called only by the thread that has this frame installed (found through its
        // own `CURRENT` chain), never re-entrantly: recording does not allocate.
        let stats = unsafe { &mut *self.activation.get() };
        let change = event.apply(stats);
        let net = self.net.get().saturating_add(change);
        self.net.set(net);
        self.peak.set(self.peak.get().max(net));
        self.activation_peak
            .set(self.activation_peak.get().max(net));
    }
}

/// Keeps a frame installed; uninstalls it and hands its activation to the enclosing scope of the
/// same `Heapster` when dropped (also when the measured code panics).
pub(crate) struct Entered<'f> {
    frame: &'f Frame,
}

impl Drop for Entered<'_> {
    fn drop(&mut self) {
        let frame = self.frame;
        let parent = frame.parent.replace(ptr::null());
        let _ = CURRENT.try_with(|c| c.set(parent));
        // SAFETY: the frame is no longer installed, so nothing else touches its cells; `parent`
        // chain frames are installed on this thread and only this thread touches them.
        let activation = unsafe { core::mem::take(&mut *frame.activation.get()) };
        // SAFETY: as above.
        #[allow(clippy::arithmetic_side_effects, reason = "`Stats` addition saturates")]
        unsafe {
            *frame.total.get() += activation;
        }
        let (base, top, net) = (
            frame.activation_base.get(),
            frame.activation_peak.get(),
            frame.net.get(),
        );
        // SAFETY: `parent` is null or a frame installed on this thread below ours, still alive
        // (its guard outlives ours).
        if let Some(outer) = unsafe { find(parent, frame.owner) } {
            // SAFETY: as in `Frame::record`: only this thread touches `outer`.
            let outer_stats = unsafe { &mut *outer.activation.get() };
            #[allow(clippy::arithmetic_side_effects, reason = "`Stats` addition saturates")]
            {
                *outer_stats += activation;
            }
            let outer_net = outer.net.get();
            let outer_top = outer_net.saturating_add(top.saturating_sub(base));
            outer.peak.set(outer.peak.get().max(outer_top));
            outer
                .activation_peak
                .set(outer.activation_peak.get().max(outer_top));
            outer
                .net
                .set(outer_net.saturating_add(net.saturating_sub(base)));
        }
    }
}

/// The innermost frame of `owner` in the chain starting at `frame`.
///
/// # Safety
/// `frame` is null or the head of a chain of frames installed on the calling thread.
unsafe fn find<'a>(mut frame: *const Frame, owner: usize) -> Option<&'a Frame> {
    // SAFETY: installed frames stay alive while installed (their guards borrow them), and
    // `parent` links only point at frames installed earlier on the same thread.
    while let Some(f) = unsafe { frame.as_ref() } {
        if f.owner == owner {
            return Some(f);
        }
        frame = f.parent.get();
    }
    None
}

/// One allocator call, as a scope records it.
#[derive(Clone, Copy)]
pub(crate) enum Event {
    Alloc { size: usize, zeroed: bool },
    Dealloc { size: usize },
    Realloc { old: usize, new: usize, moved: bool },
    AllocFailed,
    ReallocFailed,
}

fn u(size: usize) -> u64 {
    size as u64
}

impl Event {
    /// Applies the event to `s` with the crate's documented rules; returns the net bytes change.
    fn apply(self, s: &mut Stats) -> i64 {
        match self {
            Self::Alloc { size, zeroed } => {
                s.allocations = s.allocations.saturating_add(1);
                s.allocated_bytes = s.allocated_bytes.saturating_add(u(size));
                if zeroed {
                    s.zeroed_allocations = s.zeroed_allocations.saturating_add(1);
                    s.zeroed_bytes = s.zeroed_bytes.saturating_add(u(size));
                }
                s.allocation_sizes.record(u(size));
                size as i64
            }
            Self::Dealloc { size } => {
                s.deallocations = s.deallocations.saturating_add(1);
                s.deallocated_bytes = s.deallocated_bytes.saturating_add(u(size));
                (size as i64).saturating_neg()
            }
            Self::Realloc { old, new, moved } => {
                if new > old {
                    let d = u(new.wrapping_sub(old));
                    s.realloc_grown_bytes = s.realloc_grown_bytes.saturating_add(d);
                    s.realloc_grow_sizes.record(d);
                } else if new < old {
                    let d = u(old.wrapping_sub(new));
                    s.realloc_shrunk_bytes = s.realloc_shrunk_bytes.saturating_add(d);
                    s.realloc_shrink_sizes.record(d);
                }
                let kind = if moved {
                    s.realloc_moved_bytes = s.realloc_moved_bytes.saturating_add(u(old.min(new)));
                    &mut s.realloc_moved
                } else if new > old {
                    &mut s.realloc_grew_in_place
                } else if new < old {
                    &mut s.realloc_shrank_in_place
                } else {
                    &mut s.realloc_unchanged
                };
                *kind = kind.saturating_add(1);
                (new as i64).saturating_sub(old as i64)
            }
            Self::AllocFailed => {
                s.alloc_failures = s.alloc_failures.saturating_add(1);
                0
            }
            Self::ReallocFailed => {
                s.realloc_failures = s.realloc_failures.saturating_add(1);
                0
            }
        }
    }
}

/// Records `event` in the innermost scope of `owner` installed on this thread, if any.
#[inline(always)]
pub(crate) fn record(owner: usize, event: Event) {
    let head = CURRENT.try_with(Cell::get).unwrap_or(ptr::null());
    if !head.is_null() {
        record_in(head, owner, event);
    }
}

#[inline(never)]
fn record_in(head: *const Frame, owner: usize, event: Event) {
    // SAFETY: `head` was read from this thread's `CURRENT`: it heads a chain of frames
    // installed on this thread.
    if let Some(frame) = unsafe { find(head, owner) } {
        frame.record(event);
    }
}

/// A future that measures the allocator calls made while its inner future is polled, on
/// whichever thread polls it. Created by [`Heapster::measure_future`](crate::Heapster::measure_future).
///
/// Resolves to the inner future's output and the [`Stats`] of every poll.
#[must_use = "futures do nothing unless polled"]
pub struct Measured<F> {
    frame: Frame,
    inner: F,
}

impl<F> Measured<F> {
    pub(crate) const fn new(owner: usize, inner: F) -> Self {
        Self {
            frame: Frame::new(owner),
            inner,
        }
    }
}

impl<F: Future> Future for Measured<F> {
    type Output = (F::Output, Stats);

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: structural pinning: `inner` is never moved out of the pinned `Measured` (we
        // only ever hand out `Pin<&mut F>`), and `frame` is only used through `&`.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: see above; `this.inner` stays pinned because `this` is.
        let inner = unsafe { Pin::new_unchecked(&mut this.inner) };
        let entered = this.frame.enter();
        let poll = inner.poll(cx);
        drop(entered);
        poll.map(|output| (output, this.frame.stats()))
    }
}
