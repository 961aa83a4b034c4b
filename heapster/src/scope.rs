//! Exact measurement of one thread or one future (feature `scoped`).
//!
//! A *scope* is a [`Frame`] that a thread installs in a thread-local slot while it runs the
//! measured code. The allocator, after its usual counting, looks at the slot: every installed
//! scope of the same `Heapster` records the call too (nested scopes each see the calls of the
//! scopes inside them), with the same accounting rules as the instance counters
//! ([`Call::record`] into a [`Tally`]). Only the installing thread writes to a frame, so recording
//! is plain arithmetic, and the numbers are exact whatever other threads do.
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

use crate::rules::{Call, Direction, Misc, Sink, Table};
use crate::stats::Stats;
use crate::tally::Tally;

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
    /// Every call recorded so far, and the net bytes since the frame was created with their
    /// highest value.
    counts: UnsafeCell<Counts>,
}

/// What a frame has counted.
struct Counts {
    tally: Tally,
    net: i64,
    peak: i64,
}

impl Sink for Counts {
    fn add(&mut self, table: Table, size: usize) {
        self.tally.add(table, size);
        let change = i64::try_from(size)
            .unwrap_or(i64::MAX)
            .saturating_mul(table.live_sign());
        self.net = self.net.saturating_add(change);
        self.peak = self.peak.max(self.net);
    }

    fn moved(&mut self, direction: Direction, copied: usize) {
        self.tally.moved(direction, copied);
    }

    fn bump(&mut self, misc: Misc) {
        self.tally.bump(misc);
    }
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
            counts: UnsafeCell::new(Counts {
                tally: Tally::new(),
                net: 0,
                peak: 0,
            }),
        }
    }

    /// Installs the frame on this thread until the guard drops.
    ///
    /// The frame must stay where it is until then: the guard borrows it.
    pub(crate) fn enter(&self) -> Entered<'_> {
        let parent = CURRENT.try_with(Cell::get).unwrap_or(ptr::null());
        self.parent.set(parent);
        // If the slot is gone (thread teardown), the frame is simply not installed.
        let _ = CURRENT.try_with(|c| c.set(self));
        Entered { frame: self }
    }

    /// Everything recorded so far, with `peak_bytes` the highest net bytes reached.
    pub(crate) fn stats(&self) -> Stats {
        // SAFETY: the frame is not installed (callers only read it outside activations), so no
        // allocator call on any thread is writing its counts.
        let counts = unsafe { &*self.counts.get() };
        let mut stats = counts.tally.stats();
        stats.peak_bytes = u64::try_from(counts.peak).unwrap_or(0);
        stats
    }
}

/// Keeps a frame installed; uninstalls it when dropped (also when the measured code panics).
pub(crate) struct Entered<'f> {
    frame: &'f Frame,
}

impl Drop for Entered<'_> {
    fn drop(&mut self) {
        let parent = self.frame.parent.replace(ptr::null());
        let _ = CURRENT.try_with(|c| c.set(parent));
    }
}

/// Whether a scope is installed on this thread (of any instance).
#[inline(always)]
pub(crate) fn active() -> bool {
    !CURRENT.try_with(Cell::get).unwrap_or(ptr::null()).is_null()
}

/// Records `call` in every scope of `owner` installed on this thread.
#[inline(always)]
pub(crate) fn record(owner: usize, call: Call) {
    let head = CURRENT.try_with(Cell::get).unwrap_or(ptr::null());
    if !head.is_null() {
        // In registers: a call passed whole would need a stack slot on the allocation path.
        let (kind, a, b) = encode(call);
        record_in(head, owner, kind, a, b);
    }
}

/// Bit 3 of an encoded kind: `zeroed` or `moved`.
const FLAG: u8 = 8;

/// A call as three numbers: its kind (with `zeroed` or `moved` in bit 3), and its sizes.
#[inline(always)]
const fn encode(call: Call) -> (u8, usize, usize) {
    const fn flag(set: bool) -> u8 {
        if set { FLAG } else { 0 }
    }
    match call {
        Call::Alloc { size, zeroed } => (flag(zeroed), size, 0),
        Call::Dealloc { size } => (1, size, 0),
        Call::Realloc { old, new, moved } => (2 | flag(moved), old, new),
        Call::AllocFailed => (3, 0, 0),
        Call::ReallocFailed => (4, 0, 0),
    }
}

const fn decode(kind: u8, a: usize, b: usize) -> Call {
    let flag = kind & FLAG != 0;
    match kind & !FLAG {
        0 => Call::Alloc {
            size: a,
            zeroed: flag,
        },
        1 => Call::Dealloc { size: a },
        2 => Call::Realloc {
            old: a,
            new: b,
            moved: flag,
        },
        3 => Call::AllocFailed,
        _ => Call::ReallocFailed,
    }
}

#[cold]
#[inline(never)]
fn record_in(mut frame: *const Frame, owner: usize, kind: u8, a: usize, b: usize) {
    let call = decode(kind, a, b);
    // SAFETY: `frame` was read from this thread's `CURRENT`: it heads a chain of frames
    // installed on this thread, which stay alive while installed (their guards borrow them);
    // `parent` links only point at frames installed earlier on the same thread.
    while let Some(f) = unsafe { frame.as_ref() } {
        if f.owner == owner {
            // SAFETY: only this thread touches an installed frame, and never re-entrantly:
            // recording does not allocate.
            call.record(unsafe { &mut *f.counts.get() });
        }
        frame = f.parent.get();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_survive_encoding() {
        for call in [
            Call::Alloc {
                size: 7,
                zeroed: false,
            },
            Call::Alloc {
                size: 9,
                zeroed: true,
            },
            Call::Dealloc { size: 3 },
            Call::Realloc {
                old: 1,
                new: 2,
                moved: false,
            },
            Call::Realloc {
                old: 5,
                new: 4,
                moved: true,
            },
            Call::AllocFailed,
            Call::ReallocFailed,
        ] {
            let (kind, a, b) = encode(call);
            assert_eq!(decode(kind, a, b), call);
        }
    }
}
